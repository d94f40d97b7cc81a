//! `io.kestra.plugin.core.flow.WorkingDirectory`: runs its tasks one after the other in one
//! shared folder, with namespace files and `inputFiles` put there first, `outputFiles` taken
//! back after, and an optional cache of some of its files between executions.

use crate::plugin::*;
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub(crate) const WORKING_DIRECTORY: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.WorkingDirectory",
    aliases: &[
        "io.kestra.core.tasks.flows.WorkingDirectory",
        "io.kestra.core.tasks.flows.Worker",
    ],
    doc: "Run tasks one after the other in one shared working directory: a script can read \
          the files an earlier one wrote.",
    example: "id: wd\ntype: io.kestra.plugin.core.flow.WorkingDirectory\ninputFiles:\n  hello.txt: hi\noutputFiles:\n  - \"*.txt\"\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: in a shared folder",
    shape: flowable::<WorkingDirectory>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct WorkingDirectory {
    /// The tasks to run in the directory (runnable tasks only).
    #[serde(skip)]
    #[prop(tasks, required)]
    tasks: TaskList,
    /// Namespace files to copy into the directory first.
    namespace_files: Option<NamespaceFiles>,
    /// Files to write into the directory first: a map of paths to contents or `kestra://`
    /// URIs, or a string holding that map as JSON.
    input_files: Option<Property<Json>>,
    /// Globs of the files to keep after the tasks ran (`outputs.<id>.outputFiles`).
    output_files: Option<Property<Vec<String>>>,
    /// Files kept between executions of this task: `patterns` (globs) and `ttl`.
    cache: Option<Cache>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Cache {
    patterns: Property<Vec<String>>,
    ttl: Option<Property<IsoDuration>>,
}

impl PropType for Cache {
    const NAME: &'static str = "object";
}

impl FlowableTask for WorkingDirectory {
    fn check(&self) -> Result<(), String> {
        // An empty or missing `tasks` is reported by the validator, as for every flowable.
        if self
            .tasks
            .iter()
            .any(|t| !matches!(t.kind, TaskKind::Runnable(_)))
        {
            return Err(
                "Only runnable tasks are allowed as children of a WorkingDirectory task".into(),
            );
        }
        Ok(())
    }

    fn resolve<'a>(
        &'a self,
        ctx: &'a RunContext,
    ) -> BoxFuture<'a, Result<Resolution<'a>, TaskError>> {
        Box::pin(async move {
            let dir = ctx.working_dir()?;
            let prepared = async {
                if let Some(cache) = &self.cache {
                    restore_cache(ctx, cache, dir.path()).await?;
                }
                if let Some(spec) = &self.namespace_files {
                    ctx.load_namespace_files(&dir, spec).await?;
                }
                if let Some(files) = &self.input_files {
                    let files = ctx.render(files, "inputFiles")?;
                    ctx.write_input_files(&dir, &files, "inputFiles").await?;
                }
                Ok::<_, TaskError>(())
            };
            if let Err(e) = prepared.await {
                return Err(TaskError::failed(format!(
                    "Failed preExecuteTasks on WorkingDirectory: {e}"
                )));
            }
            let mut resolution = Resolution::sequence(&self.tasks, Outputs::new());
            resolution.working_dir = Some(dir);
            Ok(resolution)
        })
    }

    fn after<'a>(
        &'a self,
        ctx: &'a RunContext,
        _children: State,
    ) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let dir = ctx.working_dir()?;
            let mut outputs = Outputs::new();
            if let Some(patterns) = &self.output_files {
                let patterns = ctx.render(patterns, "outputFiles")?;
                let files = ctx
                    .upload_output_files(dir.path(), &patterns, "outputFiles")
                    .await
                    .map_err(|e| {
                        TaskError::failed(format!(
                            "Unable to capture WorkingDirectory output files: {e}"
                        ))
                    })?;
                outputs.insert("outputFiles".into(), Json::Object(files));
            }
            if let Some(cache) = &self.cache
                && let Err(e) = save_cache(ctx, cache, dir.path()).await
            {
                ctx.log(
                    Level::Warn,
                    &format!("Unable to execute WorkingDirectory post actions: {e}"),
                );
            }
            Ok(outputs)
        })
    }
}

/// Where this task's cache lives: per flow, task and ForEach value.
fn cache_folder(ctx: &RunContext) -> PathBuf {
    let value = ctx.value().map(crate::ids::slugify).unwrap_or_default();
    ctx.cache_dir("working-directory")
        .join(ctx.namespace())
        .join(crate::ids::slugify(ctx.flow_id()))
        .join(format!(
            "{}{}{value}",
            ctx.task_id(),
            if value.is_empty() { "" } else { "-" }
        ))
}

/// Copies the cached files back, unless the cache is older than its `ttl`.
async fn restore_cache(ctx: &RunContext, cache: &Cache, dir: &Path) -> Result<(), TaskError> {
    let folder = cache_folder(ctx);
    let files = folder.join("files");
    let Ok(meta) = tokio::fs::metadata(folder.join("saved")).await else {
        return Ok(());
    };
    if let Some(ttl) = ctx.render_opt(&cache.ttl, "cache.ttl")? {
        let age = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .unwrap_or_default();
        if age > ttl.0 {
            ctx.info("The cache is older than its ttl: it is not restored");
            let _ = tokio::fs::remove_dir_all(&folder).await;
            return Ok(());
        }
    }
    let n = copy_tree(&files, dir, &|_| true).await.map_err(|e| {
        TaskError::new(ErrorKind::Io, "cannot restore the WorkingDirectory cache").caused_by(e)
    })?;
    ctx.info(&format!("Restored {n} cached files"));
    Ok(())
}

/// Replaces the cache with the files of `dir` its patterns select.
async fn save_cache(ctx: &RunContext, cache: &Cache, dir: &Path) -> Result<(), TaskError> {
    let patterns = ctx.render(&cache.patterns, "cache.patterns")?;
    let compiled = patterns
        .iter()
        .map(|p| PathPattern::new(p).map_err(|why| TaskError::property("cache.patterns", why)))
        .collect::<Result<Vec<_>, _>>()?;
    let folder = cache_folder(ctx);
    let fresh = folder.with_extension(format!("new-{}", crate::ids::friendly_id()));
    let io = |e: std::io::Error| {
        TaskError::new(ErrorKind::Io, "cannot save the WorkingDirectory cache").caused_by(e)
    };
    let select = |rel: &str| compiled.iter().any(|p| p.matches(rel));
    let result = async {
        copy_tree(dir, &fresh.join("files"), &select).await?;
        tokio::fs::write(fresh.join("saved"), b"").await?;
        let _ = tokio::fs::remove_dir_all(&folder).await;
        tokio::fs::rename(&fresh, &folder).await
    }
    .await;
    if let Err(e) = result {
        let _ = tokio::fs::remove_dir_all(&fresh).await;
        return Err(io(e));
    }
    Ok(())
}

/// Copies the regular files under `from` that `select` keeps (by relative path) to `to`.
async fn copy_tree(
    from: &Path,
    to: &Path,
    select: &(dyn Fn(&str) -> bool + Sync),
) -> std::io::Result<usize> {
    let mut count = 0;
    let mut stack = vec![(from.to_path_buf(), String::new())];
    tokio::fs::create_dir_all(to).await?;
    while let Some((folder, prefix)) = stack.pop() {
        let mut entries = tokio::fs::read_dir(&folder).await?;
        while let Some(entry) = entries.next_entry().await? {
            let kind = entry.file_type().await?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            if kind.is_dir() {
                stack.push((entry.path(), rel));
            } else if kind.is_file() && select(&rel) {
                let target = to.join(&rel);
                if let Some(parent) = target.parent() {
                    tokio::fs::create_dir_all(parent).await?;
                }
                tokio::fs::copy(entry.path(), &target).await?;
                count += 1;
            }
        }
    }
    Ok(count)
}
