//! `io.kestra.plugin.core.namespace.DeleteFiles`: uploaded namespace files matching globs are
//! deleted. Files of the project's folder are listed in a warning and kept: runner never
//! changes the user's project.

use super::nsfile_uri;
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::{Map, Value as Json};

pub(crate) const DELETE_FILES: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.namespace.DeleteFiles",
    aliases: &[],
    doc: "Delete the namespace files matching `files` (a glob or a list of globs) that flows uploaded; the project folder's files are kept, with a warning.",
    example: "id: delete\ntype: io.kestra.plugin.core.namespace.DeleteFiles\nnamespace: company.team\nfiles:\n  - \"**.upl\"",
    shape: runnable::<DeleteFiles>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct DeleteFiles {
    /// The namespace whose files are deleted.
    namespace: Property<String>,
    /// A glob or a list of globs of the files to delete.
    #[prop(type = "string or list of globs")]
    files: Property<Json>,
    /// Also remove the folders the deletions leave empty (default false).
    delete_parent_folder: Option<Property<bool>>,
}

impl RunnableTask for DeleteFiles {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let namespace = ctx.render(&self.namespace, "namespace")?;
            let patterns = super::globs(ctx, &self.files)?;
            let parents = ctx
                .render_opt(&self.delete_parent_folder, "deleteParentFolder")?
                .unwrap_or(false);
            let matched = ctx
                .namespace_files_matching(&namespace, &patterns, "files")
                .await?;
            let mut files = Map::new();
            let mut kept = Vec::new();
            for file in matched {
                if file.uploaded {
                    ctx.delete_uploaded_file(&namespace, &file, parents).await?;
                    ctx.log(Level::Debug, &format!("Deleted {}", file.path));
                    files.insert(file.path.clone(), nsfile_uri(&namespace, &file.path));
                } else {
                    kept.push(file.path);
                }
            }
            if !kept.is_empty() {
                ctx.log(
                    Level::Warn,
                    &format!(
                        "{} namespace file(s) of {namespace} are files of the project folder and were kept (runner never changes the project; delete them there): {}",
                        kept.len(),
                        kept.join(", ")
                    ),
                );
            }
            ctx.metric(Metric {
                name: "deleted".into(),
                kind: MetricKind::Counter,
                value: files.len() as f64,
                tags: Map::new(),
            });
            let mut outputs = Outputs::new();
            outputs.insert("files".into(), Json::Object(files));
            Ok(outputs)
        })
    }
}
