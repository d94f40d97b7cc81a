//! Kestra's namespace files tasks. Reads see the project's folders and the files flows
//! uploaded; writes and deletes touch only the uploads (see runner-core's `namespace_files`).

mod delete;
mod download;
mod upload;

pub(crate) use delete::DELETE_FILES;
pub(crate) use download::DOWNLOAD_FILES;
pub(crate) use upload::UPLOAD_FILES;

use runner_core::plugin::*;
use serde_json::Value as Json;

/// `files` as one glob or a list of them, rendered.
fn globs(ctx: &RunContext, files: &Property<Json>) -> Result<Vec<String>, TaskError> {
    match ctx.render(files, "files")? {
        Json::String(s) => Ok(vec![s]),
        Json::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Json::String(s) => Ok(s),
                other => Err(TaskError::property(
                    "files",
                    format!("`{other}` is not a glob"),
                )),
            })
            .collect(),
        other => Err(TaskError::property(
            "files",
            format!("Files must be a String or a list of String, not `{other}`"),
        )),
    }
}

/// How a namespace file is named in outputs: `nsfile://namespace/path`.
fn nsfile_uri(namespace: &str, path: &str) -> Json {
    Json::String(format!("nsfile://{namespace}{path}"))
}
