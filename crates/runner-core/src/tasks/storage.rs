//! `io.kestra.plugin.core.storage.Write`: a rendered text kept as a file in storage.

use crate::plugin::*;
use serde::Deserialize;
use serde_json::Value as Json;
use tokio::io::AsyncWriteExt;

pub(crate) const WRITE: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.storage.Write",
    aliases: &[],
    doc: "Write a rendered text to a file in internal storage; `uri` is the file.",
    example: "id: write\ntype: io.kestra.plugin.core.storage.Write\ncontent: \"id,name\\n1,{{ flow.id }}\\n\"\nextension: .csv",
    shape: runnable::<Write>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub(crate) struct Write {
    /// The text to write.
    content: Property<String>,
    /// The file's extension (default `.ion`, as Kestra's).
    extension: Option<Property<String>>,
}

impl RunnableTask for Write {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let content = ctx.render(&self.content, "content")?;
            let extension = ctx
                .render_opt(&self.extension, "extension")?
                .unwrap_or_else(|| ".ion".into());
            if extension.contains(['/', '\\']) {
                return Err(TaskError::property(
                    "extension",
                    format!("`{extension}` is not a file extension"),
                ));
            }
            let name = format!("{}{extension}", crate::ids::random_u64());
            let uri = ctx.output_file_uri(&name);
            let io = |e: std::io::Error| {
                TaskError::new(ErrorKind::Io, format!("cannot write {uri}")).caused_by(e)
            };
            let mut file = ctx.storage().create(&uri).await.map_err(|e| {
                TaskError::new(ErrorKind::Io, format!("cannot create {uri}")).caused_by(e)
            })?;
            file.write_all(content.as_bytes()).await.map_err(io)?;
            file.flush().await.map_err(io)?;
            let mut out = Outputs::new();
            out.insert("uri".into(), Json::String(uri));
            Ok(out)
        })
    }
}
