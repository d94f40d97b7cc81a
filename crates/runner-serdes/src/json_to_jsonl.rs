//! `io.kestra.plugin.serdes.json.JsonToJsonl`: one JSON document to JSON Lines, streamed: a
//! top-level array gives one line per element (read element by element), a top-level object
//! that object and every further top-level object after it.

use crate::files::utf8_only;
use crate::json_to_ion::Records;
use runner_core::plugin::*;
use serde::Deserialize;
use serde::de::DeserializeSeed;
use serde_json::Value as Json;
use std::io::{BufRead, Write};

pub(crate) const JSON_TO_JSONL: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.serdes.json.JsonToJsonl",
    aliases: &[],
    doc: "Convert a JSON document to JSON Lines: an array's elements, or a sequence of objects, one per line. Outputs: `uri`, `size`.",
    example: "id: to_jsonl\ntype: io.kestra.plugin.serdes.json.JsonToJsonl\nfrom: \"{{ outputs.fetch.uri }}\"",
    shape: runnable::<JsonToJsonl>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct JsonToJsonl {
    /// The kestra:/// JSON file.
    from: Property<String>,
    /// Input encoding: UTF-8.
    charset: Option<Property<String>>,
}

fn invalid(from: &str, e: &serde_json::Error) -> TaskError {
    TaskError::new(
        ErrorKind::BadData,
        format!(
            "{from}, line {}, column {}: Invalid JSON format: {e}",
            e.line(),
            e.column()
        ),
    )
}

impl RunnableTask for JsonToJsonl {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            utf8_only(ctx.render_opt(&self.charset, "charset")?)?;
            let input = ctx.execution_file_path(&from)?;
            let (uri, path) = crate::blocking::output_file(ctx, "jsonl")?;
            let job_uri = uri.clone();
            let size = crate::blocking::run(move |stop| {
                let read_error = |e: std::io::Error| TaskError::new(ErrorKind::Io, format!("cannot read {from}")).caused_by(e);
                let file = std::fs::File::open(&input).map_err(read_error)?;
                let partial = PartialFile::new(&path);
                let target = std::fs::File::create(&path).map_err(|e| crate::blocking::write_error(&job_uri, e))?;
                let mut out = std::io::BufWriter::with_capacity(256 * 1024, target);
                let mut reader = std::io::BufReader::with_capacity(256 * 1024, file);
                // The first byte that is not blank (nor a byte order mark) says what follows.
                let first = loop {
                    let head = reader.fill_buf().map_err(read_error)?;
                    if head.is_empty() {
                        break None;
                    }
                    let skip = head.iter().take_while(|b| b.is_ascii_whitespace() || matches!(b, 0xEF | 0xBB | 0xBF)).count();
                    if skip < head.len() {
                        let b = head[skip];
                        reader.consume(skip);
                        break Some(b);
                    }
                    let n = head.len();
                    reader.consume(n);
                };
                let mut size = 0u64;
                let mut line = Vec::new();
                let mut write_line = |v: &Json| -> Result<(), String> {
                    line.clear();
                    serde_json::to_writer(&mut line, v).map_err(|e| e.to_string())?;
                    line.push(b'\n');
                    out.write_all(&line).map_err(|e| format!("cannot write the output file: {e}"))
                };
                match first {
                    None => {}
                    Some(b'[') => {
                        let mut de = serde_json::Deserializer::from_reader(reader);
                        Records { emit: &mut write_line, size: &mut size }
                            .deserialize(&mut de)
                            .and_then(|()| de.end())
                            .map_err(|e| invalid(&from, &e))?;
                    }
                    Some(b'{') => {
                        // Kestra keeps the top-level objects and passes over anything else.
                        for value in serde_json::Deserializer::from_reader(reader).into_iter::<Json>() {
                            let value = value.map_err(|e| invalid(&from, &e))?;
                            if value.is_object() {
                                size += 1;
                                write_line(&value).map_err(|e| TaskError::new(ErrorKind::Io, e))?;
                            }
                            if size.is_multiple_of(1024) {
                                stop.check()?;
                            }
                        }
                    }
                    Some(other) => {
                        return Err(TaskError::new(
                            ErrorKind::BadData,
                            format!(
                                "{from}: Invalid JSON format. Expected JSON array or object, but found: {}",
                                token(other)
                            ),
                        ));
                    }
                }
                out.flush().map_err(|e| crate::blocking::write_error(&job_uri, e))?;
                partial.keep();
                Ok(size)
            })
            .await?;
            crate::avro::records_metric(ctx, size);
            Ok(Outputs::from_iter([
                ("uri".to_string(), Json::String(uri)),
                ("size".to_string(), Json::from(size)),
            ]))
        })
    }
}

/// Jackson's name of the token a document starts with.
fn token(b: u8) -> &'static str {
    match b {
        b'"' => "VALUE_STRING",
        b'-' | b'0'..=b'9' => "VALUE_NUMBER",
        b't' => "VALUE_TRUE",
        b'f' => "VALUE_FALSE",
        b'n' => "VALUE_NULL",
        _ => "an invalid character",
    }
}
