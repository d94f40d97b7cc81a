//! `io.kestra.plugin.core.namespace.DownloadFiles`: namespace files copied into this task
//! run's storage.

use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::{Map, Value as Json};

pub(crate) const DOWNLOAD_FILES: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.namespace.DownloadFiles",
    aliases: &[],
    doc: "Copy namespace files matching `files` (globs) into storage; `files` maps each path to its kestra:// URI.",
    example: "id: get\ntype: io.kestra.plugin.core.namespace.DownloadFiles\nnamespace: company.team\nfiles:\n  - \"scripts/**\"",
    shape: runnable::<DownloadFiles>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct DownloadFiles {
    /// The namespace whose files are read.
    namespace: Property<String>,
    /// A glob or a list of globs of the files to copy.
    #[prop(type = "string or list of globs")]
    files: Property<Json>,
    /// A folder prefix for the copies (default none).
    destination: Option<Property<String>>,
}

impl RunnableTask for DownloadFiles {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let namespace = ctx.render(&self.namespace, "namespace")?;
            let patterns = super::globs(ctx, &self.files)?;
            let destination = ctx
                .render_opt(&self.destination, "destination")?
                .unwrap_or_default();
            let destination = destination.trim_matches('/');
            if destination.split('/').any(|p| p == "..") {
                return Err(TaskError::property("destination", "must not contain `..`"));
            }
            let found = ctx
                .namespace_files_matching(&namespace, &patterns, "files")
                .await?;
            let mut files = Map::new();
            for NamespaceFile { path, local, .. } in found {
                let name = if destination.is_empty() {
                    path.trim_start_matches('/').to_string()
                } else {
                    format!("{destination}{path}")
                };
                let uri = ctx.output_file_uri(&name);
                let out = ctx.storage().create(&uri).await?;
                let src = tokio::fs::File::open(&local).await.map_err(|e| {
                    TaskError::new(ErrorKind::Io, format!("cannot read namespace file {path}"))
                        .caused_by(e)
                })?;
                copy_file(src, out).await.map_err(|e| {
                    TaskError::new(ErrorKind::Io, format!("cannot copy {path} into {uri}"))
                        .caused_by(e)
                })?;
                files.insert(path, Json::String(uri));
            }
            ctx.info(&format!(
                "Downloaded {} namespace file(s) of {namespace}",
                files.len()
            ));
            let mut outputs = Outputs::new();
            outputs.insert("files".into(), Json::Object(files));
            Ok(outputs)
        })
    }
}
