//! Working directories: the folder a script task (or a WorkingDirectory and its tasks) works
//! in, with the files a flow puts there (`inputFiles`, namespace files) and takes back
//! (`outputFiles`). One per task run, or one shared by a WorkingDirectory's tasks; removed
//! when its last user ends. Paths a flow names stay inside it: no `..`, no absolute path, no
//! symlink followed out of it.

use crate::context::RunContext;
use crate::error::{ErrorKind, TaskError};
use crate::glob::PathPattern;
use crate::log::Level;
use crate::namespace_files::namespace_globs;
use crate::property::Property;
use crate::registry::PropType;
use serde::Deserialize;
use serde_json::{Map, Value as Json};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// A task run's folder; removed when dropped.
#[derive(Debug)]
pub struct WorkingDir {
    path: PathBuf,
}

impl WorkingDir {
    /// A new, empty folder under `root`, readable by its owner only.
    pub(crate) fn create(root: &Path) -> std::io::Result<Arc<WorkingDir>> {
        let path = root.join(format!("runner-wd-{}", crate::ids::friendly_id()));
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&path)?;
        // Canonical, so the paths given to scripts and compared for containment agree.
        let path = path.canonicalize()?;
        Ok(Arc::new(WorkingDir { path }))
    }

    /// Its absolute path (`{{ workingDir }}`, `WORKING_DIR`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The local path of `relative`, a path the flow named (see [`join_inside`]).
    pub fn join(&self, relative: &str) -> Result<PathBuf, String> {
        join_inside(&self.path, relative)
    }

    /// Creates the folders of `file` (a path from [`Self::join`]) and checks that none of
    /// them leads out of the working directory through a symlink a script made.
    fn prepare_parent(&self, file: &Path, shown: &str) -> Result<(), TaskError> {
        let Some(parent) = file.parent() else {
            return Ok(());
        };
        std::fs::create_dir_all(parent).map_err(|e| io_error(shown, e))?;
        let real = parent.canonicalize().map_err(|e| io_error(shown, e))?;
        if !real.starts_with(&self.path) {
            return Err(TaskError::new(
                ErrorKind::Io,
                format!("`{shown}` leads out of the working directory through a symbolic link"),
            ));
        }
        Ok(())
    }
}

impl Drop for WorkingDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// `root` joined with `relative`, a path a flow named: refused when it is absolute, holds
/// `..`, or is empty.
fn join_inside(root: &Path, relative: &str) -> Result<PathBuf, String> {
    let mut clean = PathBuf::new();
    for c in Path::new(relative).components() {
        match c {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "`{relative}` is not a path inside the folder (only relative paths without `..` are)"
                ));
            }
        }
    }
    if clean.as_os_str().is_empty() {
        return Err(format!("`{relative}` names no file"));
    }
    Ok(root.join(clean))
}

fn io_error(shown: &str, e: std::io::Error) -> TaskError {
    TaskError::new(ErrorKind::Io, format!("cannot write `{shown}`")).caused_by(e)
}

/// Kestra's `namespaceFiles`: which files of which namespaces are copied into the working
/// directory before the task runs.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespaceFiles {
    /// Load the files (default true once `namespaceFiles` is set).
    pub enabled: Option<Property<bool>>,
    /// Globs of the files to load (all when unset); a pattern starting with a letter or digit
    /// matches at any depth.
    pub include: Option<Property<Vec<String>>>,
    /// Globs of the files to leave out.
    pub exclude: Option<Property<Vec<String>>>,
    /// The namespaces to read, later ones winning (default: the flow's).
    pub namespaces: Option<Property<Vec<String>>>,
    /// What to do when a file is already in the working directory: OVERWRITE (default), FAIL,
    /// WARN or IGNORE.
    pub if_exists: Option<Property<IfExists>>,
    /// Put each namespace's files in a folder named after it.
    pub folder_per_namespace: Option<Property<bool>>,
}

impl PropType for NamespaceFiles {
    const NAME: &'static str = "object";
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, runner_derive::PropType)]
#[serde(rename_all = "UPPERCASE")]
pub enum IfExists {
    Overwrite,
    Fail,
    Warn,
    Ignore,
}

/// A metric a task reports (Kestra's counter and timer), kept in the execution record.
#[derive(Clone, Debug)]
pub struct Metric {
    pub name: String,
    pub kind: MetricKind,
    /// The count, or the duration in seconds.
    pub value: f64,
    pub tags: Map<String, Json>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Timer,
}

impl MetricKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Timer => "timer",
        }
    }
}

impl RunContext {
    /// The working directory of this task run: the one its WorkingDirectory shares, or its
    /// own, made on first use and removed when the task run ends.
    pub fn working_dir(&self) -> Result<Arc<WorkingDir>, TaskError> {
        if let Some(shared) = &self.scope.working_dir {
            return Ok(shared.clone());
        }
        if let Some(own) = self.own_working_dir.get() {
            return Ok(own.clone());
        }
        let made = WorkingDir::create(&self.exec.work_root).map_err(|e| {
            TaskError::new(
                ErrorKind::Io,
                format!(
                    "cannot create a working directory in `{}`",
                    self.exec.work_root.display()
                ),
            )
            .hint("set TMPDIR to a writable folder")
            .caused_by(e)
        })?;
        Ok(self.own_working_dir.get_or_init(|| made).clone())
    }

    /// Whether this task run works in a folder a WorkingDirectory shares.
    pub fn shares_working_dir(&self) -> bool {
        self.scope.working_dir.is_some()
    }

    /// Records a metric of this task run.
    pub fn metric(&self, metric: Metric) {
        let entry = serde_json::json!({
            "namespace": self.exec.flow.namespace,
            "flowId": self.exec.flow.id,
            "executionId": self.exec.id,
            "taskId": self.task_id,
            "taskRunId": self.taskrun_id,
            "type": metric.kind.as_str(),
            "name": metric.name,
            "value": metric.value,
            "tags": metric.tags,
            "timestamp": jiff::Timestamp::now().to_string(),
        });
        self.exec.state().metrics.push(entry);
    }

    /// Copies `uri`, a `kestra://` file of this execution, to `dest`, streaming it.
    pub async fn copy_execution_file(&self, uri: &str, dest: &Path) -> Result<u64, TaskError> {
        let from = self.open_execution_file(uri).await?;
        let to = tokio::fs::File::create(dest)
            .await
            .map_err(|e| io_error(&dest.display().to_string(), e))?;
        let (n, _) = crate::storage::copy_file(from, to)
            .await
            .map_err(|e| io_error(&dest.display().to_string(), e))?;
        Ok(n)
    }

    /// Writes `inputFiles` (a map, or a string holding a JSON map, already rendered) into
    /// `dir`: each value is literal text, or a `kestra://`/`nsfile://` file streamed in.
    pub async fn write_input_files(
        &self,
        dir: &WorkingDir,
        files: &Json,
        property: &str,
    ) -> Result<Vec<PathBuf>, TaskError> {
        let map = match files {
            Json::Null => return Ok(Vec::new()),
            Json::Object(m) => m.clone(),
            Json::String(s) => match serde_json::from_str::<Json>(s) {
                Ok(Json::Object(m)) => m,
                _ => {
                    return Err(TaskError::property(
                        property,
                        "must be a map of file names to contents, or a string holding such a map as JSON",
                    ));
                }
            },
            other => {
                return Err(TaskError::property(
                    property,
                    format!(
                        "Invalid `files` properties with type '{}': give a map of file names to contents",
                        json_type(other)
                    ),
                ));
            }
        };
        let mut written = Vec::with_capacity(map.len());
        for (name, value) in &map {
            let content = match value {
                Json::Null => continue,
                Json::String(s) => s,
                other => {
                    return Err(TaskError::property(
                        property,
                        format!(
                            "Invalid `files` properties with type '{}' for `{name}`: a file's content is a string",
                            json_type(other)
                        ),
                    ));
                }
            };
            let path = dir
                .join(name)
                .map_err(|why| TaskError::property(property, why))?;
            dir.prepare_parent(&path, name)?;
            remove_symlink(&path);
            if content.starts_with("kestra://") {
                self.copy_execution_file(content, &path).await?;
            } else if let Some(rest) = content.strip_prefix("nsfile://") {
                let source = self.namespace_file_path(rest)?;
                tokio::fs::copy(&source, &path)
                    .await
                    .map_err(|e| io_error(name, e))?;
            } else if content.starts_with("file://") {
                return Err(TaskError::new(
                    ErrorKind::Unsupported,
                    format!("input file `{name}`: `file://` files of the host are not given to flows"),
                )
                .hint("put the file among the namespace files and use `nsfile:///path`, or pass it as a FILE input"));
            } else {
                tokio::fs::write(&path, content.as_bytes())
                    .await
                    .map_err(|e| io_error(name, e))?;
            }
            written.push(path);
        }
        Ok(written)
    }

    /// Copies the namespace files `spec` selects into `dir`; returns how many. Logs and
    /// measures it as Kestra does.
    pub async fn load_namespace_files(
        &self,
        dir: &WorkingDir,
        spec: &NamespaceFiles,
    ) -> Result<usize, TaskError> {
        if !self
            .render_opt(&spec.enabled, "namespaceFiles.enabled")?
            .unwrap_or(true)
        {
            return Ok(0);
        }
        let include = self
            .render_opt(&spec.include, "namespaceFiles.include")?
            .unwrap_or_default();
        let exclude = self
            .render_opt(&spec.exclude, "namespaceFiles.exclude")?
            .unwrap_or_default();
        let namespaces = match self.render_opt(&spec.namespaces, "namespaceFiles.namespaces")? {
            Some(list) => list,
            None => vec![self.exec.flow.namespace.clone()],
        };
        let if_exists = self
            .render_opt(&spec.if_exists, "namespaceFiles.ifExists")?
            .unwrap_or(IfExists::Overwrite);
        let per_namespace = self
            .render_opt(
                &spec.folder_per_namespace,
                "namespaceFiles.folderPerNamespace",
            )?
            .unwrap_or(false);
        let include_p = namespace_globs(&include, "namespaceFiles.include")?;
        let exclude_p = namespace_globs(&exclude, "namespaceFiles.exclude")?;
        let mut total = 0;
        for namespace in &namespaces {
            let started = Instant::now();
            let files = self.namespace_listing(namespace).await?;
            if files.is_empty()
                && let Some(folder) = self.missing_namespace_folder(namespace)
            {
                self.log(
                    Level::Warn,
                    &format!(
                        "namespace files of `{namespace}` are read from `{}`, which is not a folder: no file was loaded (give one with --namespace-files)",
                        folder.display()
                    ),
                );
                continue;
            }
            let mut loaded = 0;
            for file in files {
                let slashed = &file.path;
                let rel = &slashed[1..];
                let selected = (include_p.is_empty()
                    || include_p.iter().any(|p| p.matches(slashed)))
                    && !exclude_p.iter().any(|p| p.matches(slashed));
                if !selected {
                    continue;
                }
                let target_rel = if per_namespace {
                    format!("{namespace}/{rel}")
                } else {
                    rel.to_string()
                };
                let target = dir.join(&target_rel).map_err(TaskError::failed)?;
                if target.exists() {
                    match if_exists {
                        IfExists::Overwrite => {}
                        IfExists::Fail => {
                            return Err(TaskError::failed(format!(
                                "File '{target_rel}' already exists in the working directory (namespaceFiles.ifExists is FAIL)"
                            )));
                        }
                        IfExists::Warn => {
                            self.log(
                                Level::Warn,
                                &format!("File '{target_rel}' already exists in the working directory: the namespace file was not copied"),
                            );
                            continue;
                        }
                        IfExists::Ignore => continue,
                    }
                }
                dir.prepare_parent(&target, &target_rel)?;
                remove_symlink(&target);
                tokio::fs::copy(&file.local, &target)
                    .await
                    .map_err(|e| io_error(&target_rel, e))?;
                loaded += 1;
            }
            if loaded == 0 && !include.is_empty() {
                self.log(
                    Level::Warn,
                    &format!(
                        "namespaceFiles.include matched no file of `{namespace}`: patterns match paths that start with `/` (`/data/*.csv`), a pattern starting with a letter matches at any depth (`data.csv`), and `*` stays within one folder"
                    ),
                );
            }
            let took = started.elapsed();
            self.info(&format!(
                "Loaded {loaded} namespace files from '{namespace}' in {}",
                hms_millis(took)
            ));
            self.metric(Metric {
                name: "namespacefiles.count".into(),
                kind: MetricKind::Counter,
                value: loaded as f64,
                tags: Map::new(),
            });
            self.metric(Metric {
                name: "namespacefiles.duration".into(),
                kind: MetricKind::Timer,
                value: took.as_secs_f64(),
                tags: Map::new(),
            });
            total += loaded;
        }
        Ok(total)
    }

    /// Moves the files of `dir` that `patterns` select into this task run's storage; returns
    /// Kestra's `outputFiles` map (path relative to `dir` → `kestra://` URI). A pattern that
    /// selects nothing is not an error.
    pub async fn upload_output_files(
        &self,
        dir: &Path,
        patterns: &[String],
        property: &str,
    ) -> Result<Map<String, Json>, TaskError> {
        let mut out = Map::new();
        if patterns.is_empty() {
            return Ok(out);
        }
        let compiled = patterns
            .iter()
            .map(|p| {
                let absolute = PathPattern::has_syntax(p);
                let p = if absolute {
                    p.clone()
                } else {
                    p.trim_start_matches('/').to_string()
                };
                PathPattern::new(&p)
                    .map(|c| (c, absolute))
                    .map_err(|why| TaskError::property(property, why))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let files = list_files(dir).await.map_err(|e| {
            TaskError::new(ErrorKind::Io, "cannot list the working directory").caused_by(e)
        })?;
        for rel in files {
            let abs = dir.join(&rel);
            let abs_text = abs.to_string_lossy();
            let selected = compiled.iter().any(|(p, absolute)| {
                if *absolute {
                    p.matches(&abs_text)
                } else {
                    p.matches(&rel)
                }
            });
            if !selected {
                continue;
            }
            let file_name = rel.rsplit('/').next().unwrap_or(&rel).replace(' ', "+");
            let uri = self.output_file_uri(&format!("{}-{file_name}", crate::ids::friendly_id()));
            self.store_file(&abs, &uri).await?;
            out.insert(rel, Json::String(uri));
        }
        // What is never kept, said rather than dropped in silence: links (they could lead out
        // of the working directory) and paths outside it.
        for link in list_links(dir).await.unwrap_or_default() {
            let abs_text = dir.join(&link).to_string_lossy().into_owned();
            if compiled
                .iter()
                .any(|(p, absolute)| p.matches(if *absolute { &abs_text } else { &link }))
            {
                self.log(
                    crate::log::Level::Warn,
                    &format!("{property}: `{link}` is a symbolic link: it is not kept (copy the file into the working directory)"),
                );
            }
        }
        for p in patterns {
            let outside = p.split('/').any(|part| part == "..")
                || (Path::new(p).is_absolute() && !Path::new(p).starts_with(dir));
            if outside {
                self.log(
                    crate::log::Level::Warn,
                    &format!("{property}: `{p}` is outside the working directory: it is not kept (write the file into the working directory)"),
                );
            }
        }
        Ok(out)
    }

    /// Moves (or, across file systems, copies then removes) a local file to `uri`.
    pub async fn store_file(&self, local: &Path, uri: &str) -> Result<(), TaskError> {
        let dest = self.storage().path(uri)?;
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| io_error(uri, e))?;
        }
        if tokio::fs::rename(local, &dest).await.is_err() {
            let copied = tokio::fs::copy(local, &dest).await;
            if let Err(e) = copied {
                let _ = tokio::fs::remove_file(&dest).await;
                return Err(io_error(uri, e));
            }
            let _ = tokio::fs::remove_file(local).await;
        }
        Ok(())
    }
}

/// A symlink where a file is about to be written is replaced, not written through.
fn remove_symlink(path: &Path) {
    if path
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
    {
        let _ = std::fs::remove_file(path);
    }
}

/// Every regular file under `root` (symlinks not followed), as sorted `/`-separated paths
/// relative to it.
pub async fn list_files(root: &Path) -> std::io::Result<Vec<String>> {
    let root = root.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let mut stack = vec![(root.clone(), String::new())];
        while let Some((dir, prefix)) = stack.pop() {
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let kind = entry.file_type()?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let rel = if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix}/{name}")
                };
                if kind.is_dir() {
                    stack.push((entry.path(), rel));
                } else if kind.is_file() {
                    out.push(rel);
                }
            }
        }
        out.sort();
        Ok(out)
    })
    .await
    .map_err(std::io::Error::other)?
}

/// Every symbolic link under `root` (not followed), as `/`-separated paths relative to it.
async fn list_links(root: &Path) -> std::io::Result<Vec<String>> {
    let root = root.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let mut stack = vec![(root, String::new())];
        while let Some((dir, prefix)) = stack.pop() {
            for entry in std::fs::read_dir(&dir)?.flatten() {
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                let name = entry.file_name().to_string_lossy().into_owned();
                let rel = if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix}/{name}")
                };
                if kind.is_symlink() {
                    out.push(rel);
                } else if kind.is_dir() {
                    stack.push((entry.path(), rel));
                }
            }
        }
        out.sort();
        Ok(out)
    })
    .await
    .map_err(std::io::Error::other)?
}

fn json_type(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "Boolean",
        Json::Number(_) => "Number",
        Json::String(_) => "String",
        Json::Array(_) => "ArrayList",
        Json::Object(_) => "LinkedHashMap",
    }
}

/// `HH:mm:ss.SSS`, as Kestra's namespace-file log line shows durations.
fn hms_millis(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        (ms / 60_000) % 60,
        (ms / 1000) % 60,
        ms % 1000
    )
}
