//! `io.kestra.plugin.serdes.csv.IonToCsv`: Ion rows to CSV, streamed. Values render as Kestra
//! renders them, except where Kestra is plainly wrong: rows are aligned to the header by field
//! name, and blobs are written as base64 rather than a Java object address.

use crate::files::{IonRecords, OutputFile, one_char, utf8_only};
use crate::java::{java_decimal, java_double};
use base64::Engine;
use jiff::tz::TimeZone;
use runner_core::plugin::*;
use runner_ion::IonValue;
use serde::Deserialize;
use serde_json::Value as Json;
use std::borrow::Cow;

pub(crate) const ION_TO_CSV: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.serdes.csv.IonToCsv",
    aliases: &["io.kestra.plugin.serdes.csv.CsvWriter"],
    doc: "Convert an Ion file of the execution (one value per line, as Query STORE writes) to CSV. Outputs: `uri`, `size`.",
    example: "id: to_csv\ntype: io.kestra.plugin.serdes.csv.IonToCsv\nfrom: \"{{ outputs.fetch.uri }}\"",
    shape: runnable::<IonToCsv>(),
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum QuoteMode {
    Always,
    Required,
    NonNumeric,
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct IonToCsv {
    /// The kestra:/// Ion file.
    from: Property<String>,
    /// The first row holds the field names (default true).
    header: Option<Property<bool>>,
    /// Between fields (default `,`).
    #[prop(type = "character")]
    field_separator: Option<Property<String>>,
    /// Around quoted fields (default `"`).
    #[prop(type = "character")]
    text_delimiter: Option<Property<String>>,
    /// `\n` (default), `\r\n` or `\r`.
    line_delimiter: Option<Property<String>>,
    /// When to quote fields (default: when required).
    quote_mode: Option<Property<QuoteMode>>,
    /// Deprecated: quoteMode ALWAYS.
    always_delimit_text: Option<Property<bool>>,
    /// Output encoding: UTF-8.
    charset: Option<Property<String>>,
    /// Java pattern for dates (default yyyy-MM-dd).
    date_format: Option<Property<String>>,
    /// Java pattern for times (default HH:mm:ss[XXX]).
    time_format: Option<Property<String>>,
    /// Java pattern for date-times (default yyyy-MM-dd'T'HH:mm:ss.SSS[XXX]).
    date_time_format: Option<Property<String>>,
    /// Zone for zoned date-times (default: the machine's).
    time_zone_id: Option<Property<String>>,
}

/// Everything that decides how one value is written.
pub(crate) struct Style {
    pub(crate) separator: char,
    pub(crate) delimiter: char,
    pub(crate) quote: QuoteMode,
    pub(crate) date: String,
    pub(crate) time: String,
    pub(crate) date_time: String,
    pub(crate) zone: TimeZone,
}

/// CSV gathered before it is written: one write per block, not per row.
const WRITE_AT: usize = 256 * 1024;

impl RunnableTask for IonToCsv {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            let header = ctx.render_opt(&self.header, "header")?.unwrap_or(true);
            let line_end = match ctx
                .render_opt(&self.line_delimiter, "lineDelimiter")?
                .as_deref()
            {
                None | Some("\n") => "\n",
                Some("\r\n") => "\r\n",
                Some("\r") => "\r",
                Some(other) => {
                    return Err(TaskError::property(
                        "lineDelimiter",
                        format!("{other:?} is not one of \\n, \\r\\n, \\r"),
                    ));
                }
            };
            utf8_only(ctx.render_opt(&self.charset, "charset")?)?;
            let quote = match (
                ctx.render_opt(&self.quote_mode, "quoteMode")?,
                ctx.render_opt(&self.always_delimit_text, "alwaysDelimitText")?,
            ) {
                (Some(q), _) => q,
                (None, Some(true)) => QuoteMode::Always,
                _ => QuoteMode::Required,
            };
            let zone = ctx.render_time_zone(&self.time_zone_id, "timeZoneId")?;
            let style = Style {
                separator: one_char(ctx, &self.field_separator, "fieldSeparator", ',')?,
                delimiter: one_char(ctx, &self.text_delimiter, "textDelimiter", '"')?,
                quote,
                date: ctx
                    .render_opt(&self.date_format, "dateFormat")?
                    .unwrap_or_else(|| "yyyy-MM-dd".into()),
                time: ctx
                    .render_opt(&self.time_format, "timeFormat")?
                    .unwrap_or_else(|| "HH:mm:ss[XXX]".into()),
                date_time: ctx
                    .render_opt(&self.date_time_format, "dateTimeFormat")?
                    .unwrap_or_else(|| "yyyy-MM-dd'T'HH:mm:ss.SSS[XXX]".into()),
                zone,
            };
            let mut rows = IonRecords::open(ctx, &from).await?;
            let mut out = OutputFile::create(ctx, "csv").await?;
            let mut columns: Option<Vec<String>> = None;
            let mut size: u64 = 0;
            let mut text: Vec<u8> = Vec::with_capacity(WRITE_AT + 4096);
            let mut scratch = Vec::new();
            let progress = ctx.progress("converting", ProgressUnit::Rows, None);
            let mut fast_rows: Option<crate::ion_to_csv_fast::Fast> = None;
            loop {
                // Once the header is known, most lines convert without building their values.
                let fast = fast_rows.is_some() && rows.next_line().await?;
                let next = match &fast_rows {
                    Some(f) if fast => {
                        let start = text.len();
                        if f.row(rows.line(), &mut scratch, &mut text) {
                            text.extend_from_slice(line_end.as_bytes());
                            size += 1;
                            if size.is_multiple_of(crate::PROGRESS_EVERY) {
                                progress.set(size);
                            }
                            if text.len() >= WRITE_AT {
                                out.write_bytes(&text).await?;
                                text.clear();
                            }
                            continue;
                        }
                        text.truncate(start);
                        rows.parse_line()?;
                        rows.next().await?
                    }
                    _ => rows.next().await?,
                };
                let Some((number, value)) = next else {
                    break;
                };
                size += 1;
                if size.is_multiple_of(crate::PROGRESS_EVERY) {
                    progress.set(size);
                }
                let fields: Vec<(String, IonValue)> = match value {
                    IonValue::Struct(f) => f,
                    IonValue::Annotated(_, v) if matches!(*v, IonValue::Struct(_)) => match *v {
                        IonValue::Struct(f) => f,
                        _ => unreachable!("checked above"),
                    },
                    IonValue::List(items) if !header => items
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| (i.to_string(), v))
                        .collect(),
                    IonValue::List(_) => {
                        return Err(rows.error(number, "Invalid data of type List with header"));
                    }
                    // Kestra skips other values (still counted).
                    _ => continue,
                };
                let cols = match &columns {
                    Some(c) => c,
                    None => {
                        let c: Vec<String> = fields.iter().map(|(k, _)| k.clone()).collect();
                        if header {
                            for (i, name) in c.iter().enumerate() {
                                if i > 0 {
                                    push_separator(&mut text, &style);
                                }
                                push_field(&mut text, name.as_bytes(), &style);
                            }
                            text.extend_from_slice(line_end.as_bytes());
                        }
                        fast_rows = crate::ion_to_csv_fast::Fast::new(&style, &c);
                        columns = Some(c);
                        columns.as_ref().expect("just set")
                    }
                };
                // Rows usually carry the header's fields in its order: then no lookup by name.
                let aligned =
                    fields.len() == cols.len() && fields.iter().zip(cols).all(|((k, _), c)| k == c);
                if let Some((extra, _)) = fields.iter().find(|(k, _)| !aligned && !cols.contains(k))
                {
                    return Err(rows.error(
                        number,
                        &format!(
                            "field `{extra}` is not in the header, which comes from the first row ({})",
                            cols.join(", ")
                        ),
                    ));
                }
                for (i, name) in cols.iter().enumerate() {
                    if i > 0 {
                        push_separator(&mut text, &style);
                    }
                    let field = if aligned {
                        fields.get(i)
                    } else {
                        fields.iter().find(|(k, _)| k == name)
                    };
                    let value = field
                        .map(|(_, v)| render(v, &style))
                        .transpose()?
                        .unwrap_or_default();
                    push_field(&mut text, value.as_bytes(), &style);
                }
                text.extend_from_slice(line_end.as_bytes());
                if text.len() >= WRITE_AT {
                    out.write_bytes(&text).await?;
                    text.clear();
                }
            }
            out.write_bytes(&text).await?;
            let out_uri = out.finish().await?;
            Ok(Outputs::from_iter([
                ("uri".to_string(), Json::String(out_uri)),
                ("size".to_string(), Json::from(size)),
            ]))
        })
    }
}

fn is_numeric(s: &[u8]) -> bool {
    let body = s
        .strip_prefix(b"+")
        .or_else(|| s.strip_prefix(b"-"))
        .unwrap_or(s);
    !body.is_empty()
        && body.iter().filter(|c| **c == b'.').count() <= 1
        && body.iter().all(|c| c.is_ascii_digit() || *c == b'.')
}

/// Whether `value` holds `sep` (one character's UTF-8 bytes).
fn holds(value: &[u8], sep: &[u8]) -> bool {
    match sep {
        [one] => value.contains(one),
        _ => value.windows(sep.len()).any(|w| w == sep),
    }
}

/// Appends one field, quoted as `style` says, its delimiters doubled.
pub(crate) fn push_field(out: &mut Vec<u8>, value: &[u8], style: &Style) {
    let (mut s, mut d) = ([0u8; 4], [0u8; 4]);
    let sep = style.separator.encode_utf8(&mut s).as_bytes();
    let delim = style.delimiter.encode_utf8(&mut d).as_bytes();
    let quote = match style.quote {
        QuoteMode::Always => true,
        QuoteMode::NonNumeric => !is_numeric(value),
        // One pass over the bytes when both are ASCII (always, in practice): this runs per field.
        QuoteMode::Required => match (sep, delim) {
            ([s], [d]) => value
                .iter()
                .any(|b| *b == *s || *b == *d || *b == b'\n' || *b == b'\r'),
            _ => {
                holds(value, sep)
                    || holds(value, delim)
                    || value.contains(&b'\n')
                    || value.contains(&b'\r')
            }
        },
    };
    if !quote {
        out.extend_from_slice(value);
        return;
    }
    out.extend_from_slice(delim);
    let mut rest = value;
    while let Some(at) = find(rest, delim) {
        let end = at + delim.len();
        out.extend_from_slice(&rest[..end]);
        out.extend_from_slice(delim);
        rest = &rest[end..];
    }
    out.extend_from_slice(rest);
    out.extend_from_slice(delim);
}

fn find(value: &[u8], delim: &[u8]) -> Option<usize> {
    match delim {
        [one] => memchr::memchr(*one, value),
        _ => value.windows(delim.len()).position(|w| w == delim),
    }
}

/// Appends a separator.
pub(crate) fn push_separator(out: &mut Vec<u8>, style: &Style) {
    let mut s = [0u8; 4];
    out.extend_from_slice(style.separator.encode_utf8(&mut s).as_bytes());
}

/// A pattern without its optional `[...]` sections, for values with no offset.
fn without_optional(pattern: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    let mut quoted = false;
    for c in pattern.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                if depth == 0 {
                    out.push(c);
                }
            }
            '[' if !quoted => depth += 1,
            ']' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Formats with the pattern of `property`, which names the property when the pattern is bad.
fn fmt(z: &jiff::ZonedDateTime, pattern: &str, property: &str) -> Result<String, TaskError> {
    runner_template::format_java_date(z, pattern)
        .map_err(|e| TaskError::property(property, e.to_string()))
}

fn local(dt: jiff::civil::DateTime) -> jiff::ZonedDateTime {
    dt.to_zoned_datetime(TimeZone::UTC)
        .unwrap_or_else(|_| jiff::Timestamp::UNIX_EPOCH.to_zoned_datetime(TimeZone::UTC))
}

/// One value as Kestra writes it in CSV (Java's `toString`, dates in the task's formats);
/// text, the common case, is borrowed rather than copied.
pub(crate) fn render<'v>(v: &'v IonValue, s: &Style) -> Result<Cow<'v, str>, TaskError> {
    match v {
        IonValue::String(t) | IonValue::Symbol(t) | IonValue::Clob(t) => Ok(Cow::Borrowed(t)),
        other => render_owned(other, s).map(Cow::Owned),
    }
}

fn render_owned(v: &IonValue, s: &Style) -> Result<String, TaskError> {
    Ok(match v {
        IonValue::Null => String::new(),
        IonValue::Bool(b) => b.to_string(),
        IonValue::Int(i) => i.to_string(),
        IonValue::Decimal(d) => java_decimal(d),
        IonValue::Float(f) => java_double(*f),
        IonValue::String(t) | IonValue::Symbol(t) | IonValue::Clob(t) => t.clone(),
        IonValue::Blob(b) => base64::engine::general_purpose::STANDARD.encode(b),
        IonValue::Timestamp(t) => {
            let t = t.trim_end_matches('T');
            // Only a timestamp of day precision is a date: jiff would also read the date of
            // `2024-06-01T10:00:00+02:00` and drop its time.
            let date = if t.contains('T') {
                None
            } else {
                t.parse::<jiff::civil::Date>().ok()
            };
            if let Some(d) = date {
                fmt(
                    &local(d.to_datetime(jiff::civil::Time::midnight())),
                    &without_optional(&s.date),
                    "dateFormat",
                )?
            } else if let Ok(ts) = t.parse::<jiff::Timestamp>() {
                // Kestra reads a UTC timestamp as an Instant (printed in UTC), others as zoned.
                let utc = t.ends_with('Z') || t.ends_with("+00:00") || t.ends_with("-00:00");
                let zone = if utc { TimeZone::UTC } else { s.zone.clone() };
                fmt(&ts.to_zoned_datetime(zone), &s.date_time, "dateTimeFormat")?
            } else {
                t.to_string()
            }
        }
        IonValue::Annotated(names, inner) => {
            let text = match inner.as_ref() {
                IonValue::String(t) => t.as_str(),
                other => return render_owned(other, s),
            };
            match names.first().map(String::as_str) {
                Some("LocalTime") => match text.parse::<jiff::civil::Time>() {
                    Ok(t) => fmt(
                        &local(jiff::civil::Date::constant(1970, 1, 1).to_datetime(t)),
                        &without_optional(&s.time),
                        "timeFormat",
                    )?,
                    Err(_) => text.to_string(),
                },
                Some("LocalDateTime") => match text.parse::<jiff::civil::DateTime>() {
                    Ok(dt) => fmt(
                        &local(dt),
                        &without_optional(&s.date_time),
                        "dateTimeFormat",
                    )?,
                    Err(_) => text.to_string(),
                },
                Some("LocalDate") => match text.parse::<jiff::civil::Date>() {
                    Ok(d) => fmt(
                        &local(d.to_datetime(jiff::civil::Time::midnight())),
                        &without_optional(&s.date),
                        "dateFormat",
                    )?,
                    Err(_) => text.to_string(),
                },
                Some("ZonedDateTime" | "OffsetDateTime") => match text
                    .parse::<jiff::ZonedDateTime>()
                    .map(|z| z.timestamp())
                    .or_else(|_| text.parse::<jiff::Timestamp>())
                {
                    Ok(ts) => fmt(
                        &ts.to_zoned_datetime(s.zone.clone()),
                        &s.date_time,
                        "dateTimeFormat",
                    )?,
                    Err(_) => text.to_string(),
                },
                _ => text.to_string(),
            }
        }
        IonValue::List(items) | IonValue::SExp(items) => {
            let parts: Result<Vec<String>, TaskError> =
                items.iter().map(|i| render_owned(i, s)).collect();
            format!("[{}]", parts?.join(", "))
        }
        IonValue::Struct(fields) => {
            let parts: Result<Vec<String>, TaskError> = fields
                .iter()
                .map(|(k, v)| Ok(format!("{k}={}", render_owned(v, s)?)))
                .collect();
            format!("{{{}}}", parts?.join(", "))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn style(zone: &str) -> Style {
        Style {
            separator: ',',
            delimiter: '"',
            quote: QuoteMode::Required,
            date: "yyyy-MM-dd".into(),
            time: "HH:mm:ss[XXX]".into(),
            date_time: "yyyy-MM-dd'T'HH:mm:ss.SSS[XXX]".into(),
            zone: TimeZone::get(zone).unwrap(),
        }
    }

    #[test]
    fn values_render_as_kestra_writes_them() {
        let row = "{s:\"string\",i:2,f:3.200000047683716e0,d:3.2,instant:2021-05-05T10:21:12.123Z,zoned:ZonedDateTime::\"2021-05-05T12:21:12.123+02:00[Europe/Paris]\",ldt:LocalDateTime::\"2021-05-05T12:21:00\",date:2021-05-05,time:LocalTime::\"12:21:12\",big:9.223372036854776e18,n:null,list:[100,200],m:{color:\"red\",value:\"#f00\"},b:{{3q2+7w==}},dec:5.}";
        let IonValue::Struct(fields) = runner_ion::parse_values(row).unwrap().remove(0) else {
            panic!()
        };
        let s = style("Europe/Lisbon");
        let got: Vec<String> = fields
            .iter()
            .map(|(_, v)| render(v, &s).unwrap().into_owned())
            .collect();
        assert_eq!(
            got,
            [
                "string",
                "2",
                "3.200000047683716",
                "3.2",
                "2021-05-05T10:21:12.123Z",
                "2021-05-05T11:21:12.123+01:00",
                "2021-05-05T12:21:00.000",
                "2021-05-05",
                "12:21:12",
                "9.223372036854776E18",
                "",
                "[100, 200]",
                "{color=red, value=#f00}",
                "3q2+7w==",
                "5",
            ]
        );
    }

    #[test]
    fn a_timestamp_with_an_offset_keeps_its_time() {
        let s = style("Europe/Lisbon");
        let v = runner_ion::parse_values("2024-06-01T10:00:00+02:00")
            .unwrap()
            .remove(0);
        assert_eq!(render(&v, &s).unwrap(), "2024-06-01T09:00:00.000+01:00");
        let v = runner_ion::parse_values("2024-06-01T10:00:00-00:00")
            .unwrap()
            .remove(0);
        assert_eq!(render(&v, &s).unwrap(), "2024-06-01T10:00:00.000Z");
        let v = runner_ion::parse_values("2024-06-01").unwrap().remove(0);
        assert_eq!(render(&v, &s).unwrap(), "2024-06-01");
    }

    #[test]
    fn fields_are_quoted_when_needed() {
        let mut out = Vec::new();
        push_field(&mut out, b"a,\"b\"\nc", &style("UTC"));
        assert_eq!(out, b"\"a,\"\"b\"\"\nc\"");
        let mut s = style("UTC");
        s.quote = QuoteMode::NonNumeric;
        let mut out = Vec::new();
        push_field(&mut out, b"12.5", &s);
        push_field(&mut out, b"x", &s);
        assert_eq!(out, b"12.5\"x\"");
        // A separator and delimiter beyond ASCII are searched as their UTF-8 bytes.
        let mut s = style("UTC");
        s.separator = '§';
        s.delimiter = '«';
        let mut out = Vec::new();
        push_field(&mut out, "a§b«c".as_bytes(), &s);
        push_field(&mut out, "é".as_bytes(), &s);
        assert_eq!(String::from_utf8(out).unwrap(), "«a§b««c«é");
    }
}
