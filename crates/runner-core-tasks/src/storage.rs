//! Storage tasks: `Write` (a rendered text kept as a file), `PurgeCurrentExecutionFiles`
//! (this execution's files deleted), `Size` and `Delete` (one file of this execution), and
//! the deprecated `LocalFiles` (files into and out of the working directory).

use runner_core::control::ExecutionControl;
use runner_core::plugin::*;
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

pub(crate) const PURGE: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles",
    aliases: &["io.kestra.core.tasks.storages.PurgeExecution"],
    doc: "Delete every file this execution has stored so far; `uris` lists them.",
    example: "id: purge\ntype: io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles",
    shape: runnable::<Purge>(),
};

pub(crate) const SIZE: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.storage.Size",
    aliases: &["io.kestra.core.tasks.storages.Size"],
    doc: "The size in bytes of a file of this execution.",
    example: "id: size\ntype: io.kestra.plugin.core.storage.Size\nuri: \"{{ outputs.write.uri }}\"",
    shape: runnable::<Size>(),
};

pub(crate) const DELETE: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.storage.Delete",
    aliases: &["io.kestra.core.tasks.storages.Delete"],
    doc: "Delete a file of this execution; `errorOnMissing` fails when there is none.",
    example: "id: delete\ntype: io.kestra.plugin.core.storage.Delete\nuri: \"{{ outputs.write.uri }}\"",
    shape: runnable::<Delete>(),
};

pub(crate) const CONCAT: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.storage.Concat",
    aliases: &["io.kestra.core.tasks.storages.Concat"],
    doc: "Join files of this execution into one (streamed), with an optional `separator` between them.",
    example: "id: concat\ntype: io.kestra.plugin.core.storage.Concat\nfiles:\n  - \"{{ outputs.a.uri }}\"\n  - \"{{ outputs.b.uri }}\"\nseparator: \"\\n\"",
    shape: runnable::<Concat>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub(crate) struct Concat {
    /// The files: a list of `kestra://` URIs, or a JSON string of one.
    files: Property<Json>,
    /// Written between two files.
    separator: Option<Property<String>>,
    /// The result's extension (default `.tmp`).
    extension: Option<Property<String>>,
}

impl RunnableTask for Concat {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let mut files: Json = ctx.render(&self.files, "files")?;
            if let Json::String(s) = &files {
                files = serde_json::from_str(s).map_err(|e| {
                    TaskError::property(
                        "files",
                        format!("a string of files must be a JSON list: {e}"),
                    )
                })?;
            }
            let Json::Array(items) = files else {
                return Err(TaskError::property("files", "a list of kestra:// URIs"));
            };
            let uris: Vec<String> = items
                .into_iter()
                .map(|v| match v {
                    Json::String(s) => Ok(s),
                    other => Err(TaskError::property(
                        "files",
                        format!("`{other}` is not a kestra:// URI"),
                    )),
                })
                .collect::<Result<_, _>>()?;
            let separator = ctx.render_opt(&self.separator, "separator")?;
            let extension = ctx
                .render_opt(&self.extension, "extension")?
                .unwrap_or_else(|| ".tmp".into());
            if extension.contains(['/', '\\']) {
                return Err(TaskError::property(
                    "extension",
                    format!("`{extension}` is not a file extension"),
                ));
            }
            let uri =
                ctx.output_file_uri(&format!("{}{extension}", runner_core::ids::random_u64()));
            let path = ctx.storage().path(&uri).map_err(|e| {
                TaskError::new(ErrorKind::Io, format!("cannot place {uri}")).caused_by(e)
            })?;
            let mut out = ctx.storage().create(&uri).await.map_err(|e| {
                TaskError::new(ErrorKind::Io, format!("cannot create {uri}")).caused_by(e)
            })?;
            let written: Result<(), TaskError> = async {
                for (i, source) in uris.iter().enumerate() {
                    if i > 0
                        && let Some(sep) = &separator
                    {
                        out.write_all(sep.as_bytes()).await.map_err(|e| {
                            TaskError::new(ErrorKind::Io, format!("cannot write {uri}"))
                                .caused_by(e)
                        })?;
                    }
                    let file = ctx.open_execution_file(source).await.map_err(|e| {
                        TaskError::new(ErrorKind::NotFound, format!("cannot read {source}"))
                            .caused_by(e)
                    })?;
                    // Large reads: tokio's copy would hand 8 KiB at a time between threads.
                    let mut file = tokio::io::BufReader::with_capacity(256 * 1024, file);
                    tokio::io::copy_buf(&mut file, &mut out)
                        .await
                        .map_err(|e| {
                            TaskError::new(
                                ErrorKind::Io,
                                format!("cannot copy {source} into {uri}"),
                            )
                            .caused_by(e)
                        })?;
                }
                out.flush().await.map_err(|e| {
                    TaskError::new(ErrorKind::Io, format!("cannot write {uri}")).caused_by(e)
                })
            }
            .await;
            if let Err(e) = written {
                // No half-joined file is left behind.
                drop(out);
                let _ = tokio::fs::remove_file(&path).await;
                return Err(e);
            }
            let mut outputs = Outputs::new();
            outputs.insert("uri".into(), Json::String(uri));
            Ok(outputs)
        })
    }
}

pub(crate) const LOCAL_FILES: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.storage.LocalFiles",
    aliases: &["io.kestra.core.tasks.storages.LocalFiles"],
    doc: "Deprecated (use a script's inputFiles/outputFiles): write `inputs` into the working directory, keep `outputs` files in storage.",
    example: "id: files\ntype: io.kestra.plugin.core.storage.LocalFiles\ninputs:\n  query.sql: select 1\n",
    shape: runnable::<LocalFiles>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub(crate) struct LocalFiles {
    /// Files to create: name to text, or to a `kestra://` file.
    inputs: Option<Property<Json>>,
    /// Globs of working-directory files to keep in storage (`uris`).
    outputs: Option<Property<Vec<String>>>,
}

impl RunnableTask for LocalFiles {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            // Inside a WorkingDirectory this is its folder, which the next tasks share.
            let dir = ctx.working_dir()?;
            if let Some(inputs) = &self.inputs {
                let files = ctx.render(inputs, "inputs")?;
                ctx.write_input_files(&dir, &files, "inputs").await?;
            }
            let mut out = Outputs::new();
            if let Some(patterns) = ctx.render_opt(&self.outputs, "outputs")? {
                let uris = ctx
                    .upload_output_files(dir.path(), &patterns, "outputs")
                    .await?;
                out.insert("uris".into(), Json::Object(uris));
            }
            Ok(out)
        })
    }
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub(crate) struct Purge {}

impl RunnableTask for Purge {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let uris = ctx.purge_execution_files().await?;
            ctx.info(&format!("Purged {} file(s) of this execution", uris.len()));
            let mut out = Outputs::new();
            out.insert(
                "uris".into(),
                Json::Array(uris.into_iter().map(Json::String).collect()),
            );
            Ok(out)
        })
    }
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub(crate) struct Size {
    /// The `kestra://` file.
    uri: Property<String>,
}

impl RunnableTask for Size {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let uri = ctx.render(&self.uri, "uri")?;
            let path = ctx.execution_file_path(&uri).map_err(|e| {
                TaskError::new(ErrorKind::NotFound, format!("cannot read {uri}")).caused_by(e)
            })?;
            let size = tokio::fs::metadata(&path)
                .await
                .map_err(|e| {
                    TaskError::new(ErrorKind::Io, format!("cannot read {uri}")).caused_by(e)
                })?
                .len();
            let mut out = Outputs::new();
            out.insert("size".into(), Json::from(size));
            Ok(out)
        })
    }
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Delete {
    /// The `kestra://` file.
    uri: Property<String>,
    /// Fail when the file does not exist (default false).
    error_on_missing: Option<Property<bool>>,
}

impl RunnableTask for Delete {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let uri = ctx.render(&self.uri, "uri")?;
            let strict = ctx
                .render_opt(&self.error_on_missing, "errorOnMissing")?
                .unwrap_or(false);
            let deleted = match ctx.execution_file_path(&uri) {
                Ok(path) => {
                    tokio::fs::remove_file(&path).await.map_err(|e| {
                        TaskError::new(ErrorKind::Io, format!("cannot delete {uri}")).caused_by(e)
                    })?;
                    true
                }
                Err(StorageError::NotFound { .. }) if !strict => false,
                Err(e) => {
                    return Err(TaskError::new(
                        ErrorKind::NotFound,
                        format!("cannot delete {uri}"),
                    )
                    .caused_by(e));
                }
            };
            let mut out = Outputs::new();
            out.insert("uri".into(), Json::String(uri));
            out.insert("deleted".into(), Json::Bool(deleted));
            Ok(out)
        })
    }
}

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
            let name = format!("{}{extension}", runner_core::ids::random_u64());
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

pub(crate) const SPLIT: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.storage.Split",
    aliases: &["io.kestra.core.tasks.storages.Split"],
    doc: "Cut a file of this execution into smaller files (`uris`) by `rows`, `bytes` (`10MB`), `partitions` or `regexPattern` (one file per value of its first group), streamed line by line.",
    example: "id: split\ntype: io.kestra.plugin.core.storage.Split\nfrom: \"{{ outputs.write.uri }}\"\nrows: 1000",
    shape: runnable::<Split>(),
};

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Split {
    /// The `kestra://` file to cut.
    from: Property<String>,
    #[serde(flatten)]
    batch: Batch,
}

impl RunnableTask for Split {
    fn check(&self) -> Result<(), String> {
        self.batch.check(false)
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            let (by, separator) = self.batch.render(ctx)?;
            let uris = ctx.split_file(&from, &by, &separator).await?;
            let mut out = Outputs::new();
            out.insert(
                "uris".into(),
                Json::Array(uris.into_iter().map(Json::String).collect()),
            );
            Ok(out)
        })
    }
}
