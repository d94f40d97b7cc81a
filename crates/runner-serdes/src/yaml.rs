//! `io.kestra.plugin.serdes.yaml`: YAML documents to and from Ion and JSON. A YAML file is read
//! whole (bounded: YAML's anchors and documents are not a stream runner can cut), Ion and
//! JSON Lines one record at a time.

use crate::files::{IonRecords, OutputFile, utf8_only};
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::Value as Json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// The largest YAML file read into memory.
const MAX_YAML: u64 = 64 * 1024 * 1024;

pub(crate) const YAML_TO_ION: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.serdes.yaml.YamlToIon",
    aliases: &[],
    doc: "Convert a YAML file of the execution to Ion: one record per document (a top-level list gives one record per item). Outputs: `uri`, `size`.",
    example: "id: to_ion\ntype: io.kestra.plugin.serdes.yaml.YamlToIon\nfrom: \"{{ outputs.download.uri }}\"",
    shape: runnable::<YamlToIon>(),
};

pub(crate) const ION_TO_YAML: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.serdes.yaml.IonToYaml",
    aliases: &[],
    doc: "Convert an Ion file of the execution to YAML: one record is one document, several are `---` documents. Outputs: `uri`, `size`.",
    example: "id: to_yaml\ntype: io.kestra.plugin.serdes.yaml.IonToYaml\nfrom: \"{{ outputs.query.uri }}\"",
    shape: runnable::<IonToYaml>(),
};

pub(crate) const JSON_TO_YAML: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.serdes.yaml.JsonToYaml",
    aliases: &[],
    doc: "Convert a JSON file (one document, or JSON Lines with `jsonl: true`) to YAML: an array gives one document per item. Outputs: `uri`, `size`.",
    example: "id: to_yaml\ntype: io.kestra.plugin.serdes.yaml.JsonToYaml\nfrom: \"{{ outputs.fetch.uri }}\"",
    shape: runnable::<JsonToYaml>(),
};

pub(crate) const YAML_TO_JSON: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.serdes.yaml.YamlToJson",
    aliases: &[],
    doc: "Convert a YAML file to JSON: one document is that value, several (or a top-level list) an array; `jsonl: true` writes one line per document. Outputs: `uri`, `size`.",
    example: "id: to_json\ntype: io.kestra.plugin.serdes.yaml.YamlToJson\nfrom: \"{{ outputs.download.uri }}\"",
    shape: runnable::<YamlToJson>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct YamlToIon {
    /// The kestra:/// YAML file.
    from: Property<String>,
    /// Input encoding: UTF-8.
    charset: Option<Property<String>>,
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct IonToYaml {
    /// The kestra:/// Ion file.
    from: Property<String>,
    /// Output encoding: UTF-8.
    charset: Option<Property<String>>,
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct JsonToYaml {
    /// The kestra:/// JSON file.
    from: Property<String>,
    /// The input is JSON Lines, one document per line (default false).
    jsonl: Option<Property<bool>>,
    /// Input encoding: UTF-8.
    charset: Option<Property<String>>,
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct YamlToJson {
    /// The kestra:/// YAML file.
    from: Property<String>,
    /// Write JSON Lines, one document per line (default false).
    jsonl: Option<Property<bool>>,
    /// Input encoding: UTF-8.
    charset: Option<Property<String>>,
}

/// The documents of a YAML file, as JSON values; a top-level list's items when `unwrap_lists`.
async fn yaml_documents(ctx: &RunContext, from: &str) -> Result<Vec<Json>, TaskError> {
    let file = ctx.open_execution_file(from).await?;
    let mut text = String::new();
    let read = file.take(MAX_YAML + 1).read_to_string(&mut text).await;
    read.map_err(|e| {
        TaskError::new(
            ErrorKind::BadData,
            format!("cannot read {from} as UTF-8 text"),
        )
        .caused_by(e)
    })?;
    if text.len() as u64 > MAX_YAML {
        return Err(TaskError::new(
            ErrorKind::BadData,
            format!("{from} is larger than 64 MiB: runner reads a YAML file into memory"),
        )
        .hint("convert it to JSON Lines first, or split it"));
    }
    let text = text.trim_start_matches('\u{feff}');
    let docs = runner_model::load_str(text).map_err(|e| {
        TaskError::new(
            ErrorKind::BadData,
            format!(
                "{from}, line {}, column {}: {}",
                e.span.line, e.span.col, e.message
            ),
        )
    })?;
    Ok(docs.iter().map(runner_model::Node::to_json).collect())
}

fn records(docs: Vec<Json>) -> impl Iterator<Item = Json> {
    docs.into_iter().flat_map(|d| match d {
        Json::Array(items) => items,
        other => vec![other],
    })
}

impl RunnableTask for YamlToIon {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            utf8_only(ctx.render_opt(&self.charset, "charset")?)?;
            let docs = yaml_documents(ctx, &from).await?;
            let mut out = OutputFile::create(ctx, "ion").await?;
            let (mut size, mut text) = (0u64, String::new());
            for record in records(docs) {
                text.clear();
                runner_ion::write_json(&record, &mut text);
                text.push('\n');
                out.write(&text).await?;
                size += 1;
            }
            finish(ctx, out, size).await
        })
    }
}

async fn finish(ctx: &RunContext, out: OutputFile, size: u64) -> Result<Outputs, TaskError> {
    let uri = out.finish().await?;
    crate::avro::records_metric(ctx, size);
    Ok(Outputs::from_iter([
        ("uri".to_string(), Json::String(uri)),
        ("size".to_string(), Json::from(size)),
    ]))
}

/// Writes YAML documents: the first waits, so that one record is written without `---`.
struct Documents {
    out: OutputFile,
    first: Option<String>,
    size: u64,
}

impl Documents {
    fn new(out: OutputFile) -> Self {
        Documents {
            out,
            first: None,
            size: 0,
        }
    }

    async fn push(&mut self, v: &Json) -> Result<(), TaskError> {
        let doc = runner_template::to_yaml(v);
        self.size += 1;
        if self.size == 1 {
            self.first = Some(doc);
            return Ok(());
        }
        if let Some(first) = self.first.take() {
            self.out.write("---\n").await?;
            self.out.write(&first).await?;
        }
        self.out.write("---\n").await?;
        self.out.write(&doc).await
    }

    async fn finish(mut self, ctx: &RunContext) -> Result<Outputs, TaskError> {
        if let Some(first) = self.first.take() {
            self.out.write(&first).await?;
        }
        finish(ctx, self.out, self.size).await
    }
}

impl RunnableTask for IonToYaml {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            utf8_only(ctx.render_opt(&self.charset, "charset")?)?;
            let mut values = IonRecords::open(ctx, &from).await?;
            let mut docs = Documents::new(OutputFile::create(ctx, "yml").await?);
            while let Some((_, value)) = values.next().await? {
                docs.push(&value.to_json()).await?;
            }
            docs.finish(ctx).await
        })
    }
}

/// Drops null values from maps, as Kestra's YAML writer does for JSON input.
fn without_nulls(v: Json) -> Json {
    match v {
        Json::Object(map) => Json::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Json::Array(items) => Json::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

impl RunnableTask for JsonToYaml {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            let jsonl = ctx.render_opt(&self.jsonl, "jsonl")?.unwrap_or(false);
            utf8_only(ctx.render_opt(&self.charset, "charset")?)?;
            let mut docs = Documents::new(OutputFile::create(ctx, "yml").await?);
            let file = ctx.open_execution_file(&from).await?;
            if jsonl {
                let mut lines = BufReader::with_capacity(256 * 1024, file).lines();
                let mut number = 0usize;
                while let Some(line) = lines.next_line().await.map_err(|e| {
                    TaskError::new(
                        ErrorKind::BadData,
                        format!("cannot read {from} as UTF-8 text"),
                    )
                    .caused_by(e)
                })? {
                    number += 1;
                    if line.trim().is_empty() {
                        continue;
                    }
                    let v: Json = serde_json::from_str(line.trim_start_matches('\u{feff}'))
                        .map_err(|e| {
                            TaskError::new(
                                ErrorKind::BadData,
                                format!(
                                    "{from}, line {number}, column {}: not JSON: {e}",
                                    e.column()
                                ),
                            )
                        })?;
                    docs.push(&without_nulls(v)).await?;
                }
            } else {
                let mut text = String::new();
                let read = file.take(MAX_YAML + 1).read_to_string(&mut text).await;
                read.map_err(|e| {
                    TaskError::new(
                        ErrorKind::BadData,
                        format!("cannot read {from} as UTF-8 text"),
                    )
                    .caused_by(e)
                })?;
                if text.len() as u64 > MAX_YAML {
                    return Err(TaskError::new(
                        ErrorKind::BadData,
                        format!(
                            "{from} is larger than 64 MiB: one JSON document is read into memory"
                        ),
                    )
                    .hint("write it as JSON Lines and set `jsonl: true`"));
                }
                let v: Json =
                    serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| {
                        TaskError::new(
                            ErrorKind::BadData,
                            format!(
                                "{from}, line {}, column {}: not JSON: {e}",
                                e.line(),
                                e.column()
                            ),
                        )
                    })?;
                match without_nulls(v) {
                    Json::Array(items) => {
                        for item in items {
                            docs.push(&item).await?;
                        }
                    }
                    one => docs.push(&one).await?,
                }
            }
            docs.finish(ctx).await
        })
    }
}

impl RunnableTask for YamlToJson {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            let jsonl = ctx.render_opt(&self.jsonl, "jsonl")?.unwrap_or(false);
            utf8_only(ctx.render_opt(&self.charset, "charset")?)?;
            let docs = yaml_documents(ctx, &from).await?;
            let mut out = OutputFile::create(ctx, if jsonl { "jsonl" } else { "json" }).await?;
            let size = if jsonl {
                let mut size = 0u64;
                for doc in &docs {
                    out.write(&doc.to_string()).await?;
                    out.write("\n").await?;
                    size += 1;
                }
                size
            } else {
                let (value, size) = match docs.len() {
                    0 => (Json::Object(Default::default()), 0),
                    1 => {
                        let doc = docs.into_iter().next().unwrap_or_default();
                        let n = doc.as_array().map_or(1, |a| a.len() as u64);
                        (doc, n)
                    }
                    n => (Json::Array(docs), n as u64),
                };
                out.write(&value.to_string()).await?;
                size
            };
            finish(ctx, out, size).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_lists_are_unwrapped_and_nulls_dropped() {
        let docs = vec![
            serde_json::json!([1, {"a": 2}]),
            serde_json::json!({"b": null}),
        ];
        assert_eq!(records(docs).count(), 3);
        assert_eq!(
            without_nulls(serde_json::json!({"a": null, "b": [{"c": null}]})),
            serde_json::json!({"b": [{}]})
        );
    }
}
