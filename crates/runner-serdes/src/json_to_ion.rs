//! `io.kestra.plugin.serdes.json.JsonToIon`: JSON Lines, or one JSON document whose array
//! elements are the records, to Ion, streamed. JSON decimals become Ion floats, as Kestra's
//! mapper reads them as doubles; strings stay strings.

use crate::files::{OutputFile, utf8_only};
use runner_core::plugin::*;
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value as Json;
use std::io::Write;
use tokio::io::{AsyncBufReadExt, BufReader};

pub(crate) const JSON_TO_ION: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.serdes.json.JsonToIon",
    aliases: &["io.kestra.plugin.serdes.json.JsonReader"],
    doc: "Convert a JSON file of the execution to Ion, one record per line. Outputs: `uri`, `size`.",
    example: "id: to_ion\ntype: io.kestra.plugin.serdes.json.JsonToIon\nfrom: \"{{ outputs.download.uri }}\"",
    shape: runnable::<JsonToIon>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct JsonToIon {
    /// The kestra:/// JSON file.
    from: Property<String>,
    /// JSON Lines, one record per line (default true); false reads one document, whose array elements are the records.
    new_line: Option<Property<bool>>,
    /// Input encoding: UTF-8.
    charset: Option<Property<String>>,
}

impl RunnableTask for JsonToIon {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            let new_line = ctx.render_opt(&self.new_line, "newLine")?.unwrap_or(true);
            utf8_only(ctx.render_opt(&self.charset, "charset")?)?;
            let (uri, size) = if new_line {
                json_lines(ctx, &from).await?
            } else {
                document(ctx, &from).await?
            };
            Ok(Outputs::from_iter([
                ("uri".to_string(), Json::String(uri)),
                ("size".to_string(), Json::from(size)),
            ]))
        })
    }
}

fn bad_json(from: &str, line: usize, e: &serde_json::Error) -> TaskError {
    TaskError::new(
        ErrorKind::BadData,
        format!("{from}, line {line}, column {}: not JSON: {e}", e.column()),
    )
}

async fn json_lines(ctx: &RunContext, from: &str) -> Result<(String, u64), TaskError> {
    let file = ctx.open_execution_file(from).await?;
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let mut out = OutputFile::create(ctx, "ion").await?;
    let (mut line, mut text) = (String::new(), String::new());
    let (mut number, mut size) = (0usize, 0u64);
    loop {
        line.clear();
        let n = reader.read_line(&mut line).await.map_err(|e| {
            TaskError::new(
                ErrorKind::Io,
                format!("{from}, line {}: cannot read", number + 1),
            )
            .caused_by(e)
        })?;
        if n == 0 {
            break;
        }
        number += 1;
        let body = line.trim_start_matches('\u{feff}').trim();
        if body.is_empty() {
            continue;
        }
        let value: Json = serde_json::from_str(body).map_err(|e| bad_json(from, number, &e))?;
        size += 1;
        text.clear();
        runner_ion::write_json(&value, &mut text);
        text.push('\n');
        out.write(&text).await?;
    }
    Ok((out.finish().await?, size))
}

/// One document, parsed on a blocking thread so an array is read element by element rather
/// than built in memory.
async fn document(ctx: &RunContext, from: &str) -> Result<(String, u64), TaskError> {
    let input = ctx.execution_file_path(from)?;
    let uri = ctx.output_file_uri(&format!("{}.ion", runner_core::ids::random_u64()));
    let target = ctx.storage().create(&uri).await?.into_std().await;
    let from = from.to_string();
    let size = tokio::task::spawn_blocking(move || -> Result<u64, TaskError> {
        let cannot = |what: &str, e: std::io::Error| {
            TaskError::new(ErrorKind::Io, format!("cannot {what}")).caused_by(e)
        };
        let file = std::fs::File::open(&input).map_err(|e| cannot(&format!("read {from}"), e))?;
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, target);
        let mut reader = std::io::BufReader::with_capacity(256 * 1024, file);
        // A UTF-8 byte order mark is not JSON; skip it.
        let head = std::io::BufRead::fill_buf(&mut reader).map_err(|e| cannot("read", e))?;
        if head.starts_with(b"\xEF\xBB\xBF") {
            std::io::BufRead::consume(&mut reader, 3);
        }
        let mut de = serde_json::Deserializer::from_reader(reader);
        let mut size = 0u64;
        let mut text = String::new();
        let mut emit = |value: &Json| -> Result<(), String> {
            text.clear();
            runner_ion::write_json(value, &mut text);
            text.push('\n');
            out.write_all(text.as_bytes())
                .map_err(|e| format!("cannot write the output file: {e}"))
        };
        Records {
            emit: &mut emit,
            size: &mut size,
        }
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| bad_json(&from, e.line(), &e))?;
        out.flush()
            .map_err(|e| cannot("write the output file", e))?;
        Ok(size)
    })
    .await
    .map_err(|e| TaskError::new(ErrorKind::Other, "the JSON reader stopped").caused_by(e))??;
    Ok((uri, size))
}

/// The top-level value: an array's elements are records, anything else is one record; each
/// record goes to `emit` as it is read.
pub(crate) struct Records<'a> {
    pub(crate) emit: &'a mut dyn FnMut(&Json) -> Result<(), String>,
    pub(crate) size: &'a mut u64,
}

impl Records<'_> {
    fn record<E: serde::de::Error>(&mut self, value: &Json) -> Result<(), E> {
        *self.size += 1;
        (self.emit)(value).map_err(E::custom)
    }
}

impl<'de> DeserializeSeed<'de> for Records<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Records<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Json>()? {
            self.record(&v)?;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, map: A) -> Result<(), A::Error> {
        let v = Json::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        self.record(&v)
    }

    fn visit_bool<E: serde::de::Error>(mut self, v: bool) -> Result<(), E> {
        self.record(&Json::Bool(v))
    }

    fn visit_i64<E: serde::de::Error>(mut self, v: i64) -> Result<(), E> {
        self.record(&Json::from(v))
    }

    fn visit_u64<E: serde::de::Error>(mut self, v: u64) -> Result<(), E> {
        self.record(&Json::from(v))
    }

    fn visit_f64<E: serde::de::Error>(mut self, v: f64) -> Result<(), E> {
        let n = serde_json::Number::from_f64(v).ok_or_else(|| E::custom("not a finite number"))?;
        self.record(&Json::Number(n))
    }

    fn visit_str<E: serde::de::Error>(mut self, v: &str) -> Result<(), E> {
        self.record(&Json::String(v.to_string()))
    }

    fn visit_unit<E: serde::de::Error>(mut self) -> Result<(), E> {
        self.record(&Json::Null)
    }
}
