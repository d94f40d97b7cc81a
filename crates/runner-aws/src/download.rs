//! `io.kestra.plugin.aws.s3.Download`: one object (by `key`) or the objects a listing selects,
//! streamed into the execution's storage.

use crate::connection::{Connection, S3, describe};
use crate::list::{Filter, Selection};
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::{Map, json};
use tokio::io::AsyncWriteExt;

pub(crate) const DOWNLOAD: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.aws.s3.Download",
    aliases: &[],
    doc: "Download one object (`key`) or every object selected by prefix/delimiter/regexp (multi mode) into the execution's storage.",
    example: "id: get\ntype: io.kestra.plugin.aws.s3.Download\nbucket: my-bucket\nkey: data/users.csv",
    shape: runnable::<Download>(),
};

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Download {
    #[serde(flatten)]
    connection: Connection,
    /// The object to download (single mode).
    key: Option<Property<String>>,
    /// A version of the object.
    version_id: Option<Property<String>>,
    #[serde(flatten)]
    selection: Selection,
    /// Accepted.
    #[allow(dead_code)]
    validate_checksum: Option<Property<bool>>,
}

/// Streams one object into a new file of this task run; returns Kestra's file info.
async fn fetch(
    ctx: &RunContext,
    s3: &S3,
    key: &str,
    version: Option<String>,
) -> Result<Map<String, Json>, TaskError> {
    let what = format!("`{key}`");
    let mut object = s3
        .client
        .get_object()
        .bucket(&s3.bucket)
        .key(key)
        .set_version_id(version)
        .send()
        .await
        .map_err(|e| describe(&e, s3, &what))?;
    let ext = key
        .rsplit('/')
        .next()
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| format!(".{e}"))
        .unwrap_or_default();
    let uri = ctx.output_file_uri(&format!("{}{ext}", runner_core::ids::random_u64()));
    let mut file = tokio::io::BufWriter::new(ctx.storage().create(&uri).await?);
    let io = |e: std::io::Error| {
        TaskError::new(ErrorKind::Io, format!("cannot write {uri}")).caused_by(e)
    };
    let total = object.content_length.and_then(|l| u64::try_from(l).ok());
    let progress = ctx.progress("downloading", ProgressUnit::Bytes, total);
    while let Some(chunk) = object.body.try_next().await.map_err(|e| {
        TaskError::new(
            ErrorKind::Unreachable,
            format!("reading {what} from {} failed", s3.endpoint),
        )
        .caused_by(e)
    })? {
        file.write_all(&chunk).await.map_err(io)?;
        progress.add(chunk.len() as u64);
    }
    drop(progress);
    file.flush().await.map_err(io)?;
    let mut info = Map::new();
    info.insert("uri".into(), Json::String(uri.clone()));
    info.insert("contentLength".into(), json!(object.content_length));
    info.insert("contentType".into(), json!(object.content_type));
    info.insert(
        "metadata".into(),
        json!(object.metadata.unwrap_or_default()),
    );
    info.insert("eTag".into(), json!(object.e_tag));
    info.insert("versionId".into(), json!(object.version_id));
    Ok(info)
}

impl RunnableTask for Download {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let key = ctx.render_opt(&self.key, "key")?;
            let s3 = self.connection.connect(ctx).await?;
            match (key, self.selection.is_set()) {
                (Some(key), false) => {
                    fetch(
                        ctx,
                        &s3,
                        &key,
                        ctx.render_opt(&self.version_id, "versionId")?,
                    )
                    .await
                }
                (_, true) => {
                    let mut files = Map::new();
                    for object in self
                        .selection
                        .objects(ctx, &s3, Some(Filter::Files))
                        .await?
                    {
                        let key = object["key"].as_str().unwrap_or_default().to_string();
                        files.insert(
                            key.clone(),
                            Json::Object(fetch(ctx, &s3, &key, None).await?),
                        );
                    }
                    Ok(Outputs::from_iter([(
                        "files".to_string(),
                        Json::Object(files),
                    )]))
                }
                (None, false) => Err(TaskError::failed(
                    "Invalid configuration: either specify 'key' for single file download or at least one filtering parameter (prefix, delimiter, regexp) for multiple files download",
                )),
            }
        })
    }
}
