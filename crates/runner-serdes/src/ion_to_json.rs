//! `io.kestra.plugin.serdes.json.IonToJson`: Ion values to JSON Lines or one JSON document,
//! streamed. Decimals keep their digits (written as numbers, never through a double).

use crate::files::{IonRecords, OutputFile, utf8_only};
use crate::java::{java_decimal, java_double};
use base64::Engine;
use jiff::tz::TimeZone;
use runner_core::plugin::*;
use runner_ion::IonValue;
use serde::Deserialize;
use serde_json::Value as Json;

pub(crate) const ION_TO_JSON: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.serdes.json.IonToJson",
    aliases: &["io.kestra.plugin.serdes.json.JsonWriter"],
    doc: "Convert an Ion file of the execution to JSON Lines (`.jsonl`) or one JSON document (`.json`). Outputs: `uri`, `size`.",
    example: "id: to_json\ntype: io.kestra.plugin.serdes.json.IonToJson\nfrom: \"{{ outputs.fetch.uri }}\"",
    shape: runnable::<IonToJson>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct IonToJson {
    /// The kestra:/// Ion file.
    from: Property<String>,
    /// One JSON value per line (default true); false writes one document: the value when there is one record, else an array.
    new_line: Option<Property<bool>>,
    /// Output encoding: UTF-8.
    charset: Option<Property<String>>,
    /// Zone for timestamps when annotations are kept (default: the machine's).
    time_zone_id: Option<Property<String>>,
    /// Write annotated values as {"ion_annotations": [...], "value": ...} (default false).
    should_keep_annotations: Option<Property<bool>>,
}

/// `None`: Kestra's default path, which drops annotations and keeps timestamps as written.
type Annotations = Option<TimeZone>;

impl RunnableTask for IonToJson {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            let new_line = ctx.render_opt(&self.new_line, "newLine")?.unwrap_or(true);
            utf8_only(ctx.render_opt(&self.charset, "charset")?)?;
            let zone = ctx.render_time_zone(&self.time_zone_id, "timeZoneId")?;
            let keep = ctx
                .render_opt(&self.should_keep_annotations, "shouldKeepAnnotations")?
                .unwrap_or(false);
            let annotations: Annotations = keep.then_some(zone);

            let mut values = IonRecords::open(ctx, &from).await?;
            let mut out = OutputFile::create(ctx, if new_line { "jsonl" } else { "json" }).await?;
            let mut size: u64 = 0;
            let mut text = String::with_capacity(1024);
            // One document: the first value waits until a second one says an array is needed.
            let mut first: Option<String> = None;
            let progress = ctx.progress("converting", ProgressUnit::Rows, None);
            while let Some((_, value)) = values.next().await? {
                size += 1;
                if size.is_multiple_of(crate::PROGRESS_EVERY) {
                    progress.set(size);
                }
                text.clear();
                write_value(&value, &annotations, &mut text);
                if new_line {
                    text.push('\n');
                    out.write(&text).await?;
                } else if size == 1 {
                    first = Some(std::mem::take(&mut text));
                } else {
                    if let Some(f) = first.take() {
                        out.write("[").await?;
                        out.write(&f).await?;
                    }
                    out.write(",").await?;
                    out.write(&text).await?;
                }
            }
            if !new_line {
                match (size, first) {
                    (0, _) => out.write("[]").await?,
                    (1, Some(f)) => out.write(&f).await?,
                    _ => out.write("]").await?,
                }
            }
            let uri = out.finish().await?;
            Ok(Outputs::from_iter([
                ("uri".to_string(), Json::String(uri)),
                ("size".to_string(), Json::from(size)),
            ]))
        })
    }
}

fn write_str(s: &str, out: &mut String) {
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// One Ion value as JSON text, the way Kestra's Jackson mapper writes it.
fn write_value(v: &IonValue, annotations: &Annotations, out: &mut String) {
    match v {
        IonValue::Null => out.push_str("null"),
        IonValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        IonValue::Int(i) => out.push_str(&i.to_string()),
        IonValue::Decimal(d) => out.push_str(&java_decimal(d)),
        // Jackson quotes the numbers JSON cannot hold.
        IonValue::Float(f) if !f.is_finite() => write_str(&java_double(*f), out),
        IonValue::Float(f) => out.push_str(&java_double(*f)),
        IonValue::Timestamp(t) => match annotations {
            Some(zone) => write_str(&zoned(t, zone), out),
            None => write_str(t, out),
        },
        IonValue::String(t) | IonValue::Symbol(t) | IonValue::Clob(t) => write_str(t, out),
        IonValue::Blob(b) => write_str(&base64::engine::general_purpose::STANDARD.encode(b), out),
        IonValue::List(items) | IonValue::SExp(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, annotations, out);
            }
            out.push(']');
        }
        IonValue::Struct(fields) => {
            out.push('{');
            for (i, (k, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(k, out);
                out.push(':');
                write_value(item, annotations, out);
            }
            out.push('}');
        }
        IonValue::Annotated(names, inner) => {
            if annotations.is_none() {
                return write_value(inner, annotations, out);
            }
            out.push_str("{\"ion_annotations\":[");
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(name, out);
            }
            out.push_str("],\"value\":");
            write_value(inner, annotations, out);
            out.push('}');
        }
    }
}

/// An Ion timestamp as Java's `ZonedDateTime.toString()` in `zone`; a date alone is its
/// midnight there.
fn zoned(t: &str, zone: &TimeZone) -> String {
    let t = t.trim_end_matches('T');
    let z = if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        ts.to_zoned_datetime(zone.clone())
    } else if let Ok(d) = t.parse::<jiff::civil::Date>() {
        match d
            .to_datetime(jiff::civil::Time::midnight())
            .to_zoned_datetime(zone.clone())
        {
            Ok(z) => z,
            Err(_) => return t.to_string(),
        }
    } else {
        return t.to_string();
    };
    z.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(ion: &str, annotations: &Annotations) -> String {
        let mut out = String::new();
        for v in runner_ion::parse_values(ion).unwrap() {
            write_value(&v, annotations, &mut out);
        }
        out
    }

    #[test]
    fn values_are_written_as_jackson_writes_them() {
        let row = r#"{s:"a\"b\n",i:-2,d:2147483645.1234,e:1d3,f:3.2e0,n:null,l:[1,null],b:{{3q2+7w==}},t:2021-05-05T10:21:12.123Z,z:ZonedDateTime::"2021-05-05T12:21:12+02:00[Europe/Paris]",inf:+inf}"#;
        assert_eq!(
            json(row, &None),
            r#"{"s":"a\"b\n","i":-2,"d":2147483645.1234,"e":1E+3,"f":3.2,"n":null,"l":[1,null],"b":"3q2+7w==","t":"2021-05-05T10:21:12.123Z","z":"2021-05-05T12:21:12+02:00[Europe/Paris]","inf":"Infinity"}"#
        );
        let paris = Some(TimeZone::get("Europe/Paris").unwrap());
        assert_eq!(
            json(
                r#"{t:2021-05-05T10:21:12.123Z,z:ZonedDateTime::"x"}"#,
                &paris
            ),
            r#"{"t":"2021-05-05T12:21:12.123+02:00[Europe/Paris]","z":{"ion_annotations":["ZonedDateTime"],"value":"x"}}"#
        );
    }
}
