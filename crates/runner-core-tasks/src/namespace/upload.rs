//! `io.kestra.plugin.core.namespace.UploadFiles`: files of storage or of the working
//! directory become namespace files, kept in the state directory.

use super::nsfile_uri;
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::{Map, Value as Json};
use std::path::PathBuf;

pub(crate) const UPLOAD_FILES: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.namespace.UploadFiles",
    aliases: &[],
    doc: "Upload files as namespace files: `filesMap` (namespace path to kestra:// URI) and `files` (globs of the working directory), under `destination`.",
    example: "id: upload\ntype: io.kestra.plugin.core.namespace.UploadFiles\nnamespace: company.team\nfilesMap:\n  scripts/main.py: \"{{ outputs.write.uri }}\"",
    shape: runnable::<UploadFiles>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct UploadFiles {
    /// The namespace the files are uploaded to (default the flow's).
    namespace: Option<Property<String>>,
    /// Globs of the working directory's files (and, as older Kestra versions took them,
    /// kestra:// URIs, or a map of namespace path to kestra:// URI).
    #[prop(type = "list or map")]
    files: Option<Property<Json>>,
    /// A map (or a JSON string of one) of namespace path, under `destination`, to the
    /// kestra:// URI of the file to upload.
    #[prop(type = "map or JSON string")]
    files_map: Option<Property<Json>>,
    /// The folder a list's files go to (default `/`).
    destination: Option<Property<String>>,
    /// What to do with a file that exists: OVERWRITE (default), ERROR or SKIP.
    conflict: Option<Property<Conflict>>,
}

impl RunnableTask for UploadFiles {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let namespace = ctx
                .render_opt(&self.namespace, "namespace")?
                .unwrap_or_else(|| ctx.namespace().to_string());
            if self.files.is_none() && self.files_map.is_none() {
                return Err(TaskError::property(
                    "files",
                    "files or filesMap is required",
                ));
            }
            let conflict = ctx
                .render_opt(&self.conflict, "conflict")?
                .unwrap_or(Conflict::Overwrite);
            let destination = ctx
                .render_opt(&self.destination, "destination")?
                .unwrap_or_else(|| "/".into());
            let destination = destination.trim_matches('/');
            // (namespace path, local source) pairs, in the order given.
            let mut sources: Vec<(String, PathBuf)> = Vec::new();
            if let Some(map) = ctx.render_opt(&self.files_map, "filesMap")? {
                let map = match map {
                    Json::String(text) => serde_json::from_str(&text).map_err(|_| {
                        TaskError::property("filesMap", "filesMap must be a Map<String, String>")
                    })?,
                    other => other,
                };
                let Json::Object(map) = map else {
                    return Err(TaskError::property(
                        "filesMap",
                        "filesMap must be a Map<String, String>",
                    ));
                };
                for (target, value) in map {
                    let Json::String(uri) = value else {
                        return Err(TaskError::property(
                            "filesMap",
                            "filesMap must be a Map<String, String>",
                        ));
                    };
                    if let Some(local) = storage_source(ctx, &uri, "filesMap")? {
                        sources.push((format!("{destination}/{target}"), local));
                    }
                }
            }
            let files = match &self.files {
                Some(f) => ctx.render(f, "files")?,
                None => Json::Array(Vec::new()),
            };
            match files {
                Json::Object(map) => {
                    for (target, value) in map {
                        let Json::String(uri) = value else {
                            return Err(TaskError::property(
                                "files",
                                "files must be a List<String> or a Map<String, String>",
                            ));
                        };
                        if let Some(local) = storage_source(ctx, &uri, "files")? {
                            sources.push((target, local));
                        }
                    }
                }
                Json::Array(items) => {
                    let mut globs = Vec::new();
                    for item in items {
                        let Json::String(s) = item else {
                            return Err(TaskError::property(
                                "files",
                                "files must be a List<String> or a Map<String, String>",
                            ));
                        };
                        if s.starts_with("kestra://") {
                            if let Some(local) = storage_source(ctx, &s, "files")? {
                                let name = s.rsplit('/').next().unwrap_or(&s);
                                sources.push((format!("{destination}/{name}"), local));
                            }
                        } else {
                            globs.push(s);
                        }
                    }
                    if !globs.is_empty() {
                        let found = working_dir_matches(ctx, &globs).await?;
                        if found.is_empty() {
                            ctx.log(
                                Level::Warn,
                                &format!(
                                    "no file of the working directory matches {}: globs select files a WorkingDirectory's earlier tasks wrote",
                                    globs.join(", ")
                                ),
                            );
                        }
                        for (rel, local) in found {
                            sources.push((format!("{destination}/{rel}"), local));
                        }
                    }
                }
                other => {
                    return Err(TaskError::property(
                        "files",
                        format!(
                            "files must be a List<String> or a Map<String, String>, not `{other}`"
                        ),
                    ));
                }
            }
            let mut files = Map::new();
            let mut skipped = 0;
            for (target, local) in &sources {
                let path = normalize_namespace_path(target)
                    .map_err(|why| TaskError::property("files", why))?;
                if ctx
                    .put_namespace_file(&namespace, &path, local, conflict)
                    .await?
                {
                    files.insert(path.clone(), nsfile_uri(&namespace, &path));
                } else {
                    skipped += 1;
                    ctx.log(
                        Level::Debug,
                        &format!("File '{path}' already exists in namespace '{namespace}' and conflict is set to SKIP. Skipping."),
                    );
                }
            }
            ctx.info(&format!(
                "Uploaded {} namespace file(s) to {namespace}{}",
                files.len(),
                if skipped > 0 {
                    format!(" ({skipped} skipped: they exist)")
                } else {
                    String::new()
                }
            ));
            let mut outputs = Outputs::new();
            outputs.insert("files".into(), Json::Object(files));
            Ok(outputs)
        })
    }
}

/// The local file of `uri`, a file of this execution; `None` (with a warning, where Kestra
/// skips it silently) when it does not exist.
fn storage_source(
    ctx: &RunContext,
    uri: &str,
    property: &str,
) -> Result<Option<PathBuf>, TaskError> {
    if !uri.starts_with("kestra://") {
        return Err(TaskError::property(
            property,
            format!("`{uri}` is not a kestra:// URI (a map's values name files of storage)"),
        ));
    }
    match ctx.execution_file_path(uri) {
        Ok(path) => Ok(Some(path)),
        Err(StorageError::NotFound { .. }) => {
            ctx.log(
                Level::Warn,
                &format!("{uri} does not exist in storage: it was not uploaded"),
            );
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// The files of this task run's working directory whose `/path` matches `globs`, as
/// (relative path, local path).
async fn working_dir_matches(
    ctx: &RunContext,
    globs: &[String],
) -> Result<Vec<(String, PathBuf)>, TaskError> {
    let compiled = namespace_globs(globs, "files")?;
    let dir = ctx.working_dir()?;
    let files = list_files(dir.path()).await.map_err(|e| {
        TaskError::new(ErrorKind::Io, "cannot list the working directory").caused_by(e)
    })?;
    Ok(files
        .into_iter()
        .filter(|rel| compiled.iter().any(|p| p.matches(&format!("/{rel}"))))
        .map(|rel| {
            let local = dir.path().join(&rel);
            (rel, local)
        })
        .collect())
}
