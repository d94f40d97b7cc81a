//! `io.kestra.plugin.serdes.csv.CsvToIon`: CSV records to Ion, streamed. Every value is a
//! string (`\N` is null), as in Kestra; rows become structs keyed by the header, or lists.

use crate::files::{OnBadLines, OutputFile, one_char, utf8_only};
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::Value as Json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

pub(crate) const CSV_TO_ION: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.serdes.csv.CsvToIon",
    aliases: &["io.kestra.plugin.serdes.csv.CsvReader"],
    doc: "Convert a CSV file of the execution to Ion: a struct per row keyed by the header, or a list per row without one. Values are strings; `\\N` is null. Outputs: `uri`, `size`.",
    example: "id: to_ion\ntype: io.kestra.plugin.serdes.csv.CsvToIon\nfrom: \"{{ outputs.download.uri }}\"",
    shape: runnable::<CsvToIon>(),
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum OnEmptyHeader {
    Drop,
    Rename,
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct CsvToIon {
    /// The kestra:/// CSV file.
    from: Property<String>,
    /// The first row holds the field names (default true).
    header: Option<Property<bool>>,
    /// Between fields (default `,`).
    #[prop(type = "character")]
    field_separator: Option<Property<String>>,
    /// Around quoted fields (default `"`).
    #[prop(type = "character")]
    text_delimiter: Option<Property<String>>,
    /// Ignore empty lines (default false).
    skip_empty_rows: Option<Property<bool>>,
    /// Rows to skip before the header (default 0).
    skip_rows: Option<Property<u64>>,
    /// A row whose field count differs from the header (default ERROR).
    on_bad_lines: Option<Property<OnBadLines>>,
    /// Trailing empty header names: dropped with their column (default), or named col_<i>.
    on_empty_header: Option<Property<OnEmptyHeader>>,
    /// Input encoding: UTF-8 (a byte order mark is skipped).
    charset: Option<Property<String>>,
    /// Longest field in characters (default 16777216).
    max_field_size: Option<Property<usize>>,
    /// Longest line read at once, in bytes (default 16777216).
    max_buffer_size: Option<Property<usize>>,
    /// Keep text after a closing quote instead of failing (default false).
    allow_extra_chars_after_closing_quote: Option<Property<bool>>,
    /// Deprecated; ignored.
    #[allow(dead_code)]
    error_on_different_field_count: Option<Property<bool>>,
}

impl RunnableTask for CsvToIon {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            let header = ctx.render_opt(&self.header, "header")?.unwrap_or(true);
            let skip_empty = ctx
                .render_opt(&self.skip_empty_rows, "skipEmptyRows")?
                .unwrap_or(false);
            let skip_rows = ctx.render_opt(&self.skip_rows, "skipRows")?.unwrap_or(0);
            let on_bad = ctx
                .render_opt(&self.on_bad_lines, "onBadLines")?
                .unwrap_or(OnBadLines::Error);
            let on_empty = ctx
                .render_opt(&self.on_empty_header, "onEmptyHeader")?
                .unwrap_or(OnEmptyHeader::Drop);
            utf8_only(ctx.render_opt(&self.charset, "charset")?)?;
            let syntax = Syntax {
                separator: one_char(ctx, &self.field_separator, "fieldSeparator", ',')?,
                delimiter: one_char(ctx, &self.text_delimiter, "textDelimiter", '"')?,
                max_buffer: ctx
                    .render_opt(&self.max_buffer_size, "maxBufferSize")?
                    .unwrap_or(16 * 1024 * 1024),
                max_field: ctx
                    .render_opt(&self.max_field_size, "maxFieldSize")?
                    .unwrap_or(16 * 1024 * 1024),
                extra_after_quote: ctx
                    .render_opt(
                        &self.allow_extra_chars_after_closing_quote,
                        "allowExtraCharsAfterClosingQuote",
                    )?
                    .unwrap_or(false),
            };

            let file = ctx.open_execution_file(&from).await?;
            let mut records = Records {
                from: from.clone(),
                reader: BufReader::with_capacity(256 * 1024, file),
                syntax,
                line: String::new(),
                pos: 0,
                lines: 0,
                blank: false,
            };
            let mut out = OutputFile::create(ctx, "ion").await?;
            let mut fields: Vec<String> = Vec::new();
            let mut names: Option<(Vec<String>, usize)> = None;
            let (mut skipped, mut size) = (0u64, 0u64);
            let progress = ctx.progress("converting", ProgressUnit::Rows, None);
            let mut text = String::with_capacity(1024);
            while let Some(line) = records.next(&mut fields).await? {
                if skip_empty && records.blank {
                    continue;
                }
                if skipped < skip_rows {
                    skipped += 1;
                    continue;
                }
                text.clear();
                if !header {
                    text.push('[');
                    for (i, f) in fields.iter().enumerate() {
                        if i > 0 {
                            text.push(',');
                        }
                        write_cell(f, &mut text);
                    }
                    text.push(']');
                } else if let Some((names, width)) = &names {
                    if fields.len() != *width {
                        let message = format!(
                            "Bad line encountered (field count mismatch): Expected {width}, got {} fields.",
                            fields.len()
                        );
                        match on_bad {
                            OnBadLines::Error => {
                                return Err(TaskError::new(
                                    ErrorKind::BadData,
                                    format!("{from}, line {line}: {message}"),
                                ));
                            }
                            OnBadLines::Warn => {
                                ctx.log(Level::Warn, &format!("{from}, line {line}: {message}"));
                                continue;
                            }
                            OnBadLines::Skip => continue,
                        }
                    }
                    text.push('{');
                    for (i, (name, f)) in names.iter().zip(&fields).enumerate() {
                        if i > 0 {
                            text.push(',');
                        }
                        runner_ion::write_field_name(name, &mut text);
                        text.push(':');
                        write_cell(f, &mut text);
                    }
                    text.push('}');
                } else {
                    names = Some((header_names(&fields, on_empty), fields.len()));
                    continue;
                }
                text.push('\n');
                size += 1;
                if size.is_multiple_of(crate::PROGRESS_EVERY) {
                    progress.set(size);
                }
                out.write(&text).await?;
            }
            let uri = out.finish().await?;
            Ok(Outputs::from_iter([
                ("uri".to_string(), Json::String(uri)),
                ("size".to_string(), Json::from(size)),
            ]))
        })
    }
}

fn write_cell(field: &str, out: &mut String) {
    if field == "\\N" {
        out.push_str("null");
    } else {
        runner_ion::write_string(field, out);
    }
}

/// The field names: trailing empty names dropped with their column, or named `col_<i>`
/// (`col_<i>_<n>` when that name is taken).
fn header_names(fields: &[String], on_empty: OnEmptyHeader) -> Vec<String> {
    let trailing = fields.iter().rev().take_while(|f| f.is_empty()).count();
    let kept = fields.len() - trailing;
    let mut names: Vec<String> = fields[..kept].to_vec();
    if on_empty == OnEmptyHeader::Rename {
        for i in kept..fields.len() {
            let mut name = format!("col_{i}");
            let mut n = 0;
            while names.contains(&name) || fields.contains(&name) {
                n += 1;
                name = format!("col_{i}_{n}");
            }
            names.push(name);
        }
    }
    names
}

struct Syntax {
    separator: char,
    delimiter: char,
    max_buffer: usize,
    max_field: usize,
    extra_after_quote: bool,
}

/// CSV records read line by line; a quoted field may span lines.
struct Records<R> {
    from: String,
    reader: R,
    syntax: Syntax,
    line: String,
    /// Where the next record starts in `line`: a bare `\r` ends a record mid-line.
    pos: usize,
    lines: usize,
    /// Whether the record last read was a blank line.
    blank: bool,
}

impl<R: tokio::io::AsyncBufRead + Unpin> Records<R> {
    fn error(&self, line: usize, what: &str) -> TaskError {
        TaskError::new(
            ErrorKind::BadData,
            format!("{}, line {line}: {what}", self.from),
        )
    }

    async fn read_line(&mut self) -> Result<bool, TaskError> {
        self.line.clear();
        self.pos = 0;
        // Bounded, so a file without `\n` (bare `\r` line ends) is never read whole.
        let limit = self.syntax.max_buffer as u64 + 1;
        let n = match (&mut self.reader)
            .take(limit)
            .read_line(&mut self.line)
            .await
        {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(self.error(self.lines + 1, "not UTF-8 text; runner reads UTF-8 CSV"));
            }
            Err(e) => {
                return Err(
                    TaskError::new(ErrorKind::Io, format!("cannot read {}", self.from))
                        .caused_by(e),
                );
            }
        };
        if n == 0 {
            return Ok(false);
        }
        if n as u64 == limit && !self.line.ends_with('\n') {
            return Err(self.error(
                self.lines + 1,
                &format!(
                    "a line is longer than maxBufferSize ({} bytes); raise maxBufferSize if the file is CSV",
                    self.syntax.max_buffer
                ),
            ));
        }
        self.lines += 1;
        if self.lines == 1 && self.line.starts_with('\u{feff}') {
            self.line.drain(..'\u{feff}'.len_utf8());
        }
        Ok(true)
    }

    /// The next record into `fields`; returns the line it starts on. Records end at `\n`,
    /// `\r\n` or a bare `\r`, outside quotes.
    async fn next(&mut self, fields: &mut Vec<String>) -> Result<Option<usize>, TaskError> {
        fields.clear();
        if self.pos >= self.line.len() && !self.read_line().await? {
            return Ok(None);
        }
        let start = self.lines;
        let (sep, quote) = (self.syntax.separator, self.syntax.delimiter);
        let mut field = String::new();
        let mut quoted = false;
        let mut at_start = true;
        let mut after_quote = false;
        // A blank line (nothing before its end) is what skipEmptyRows skips; `""` is a value.
        let mut blank = true;
        loop {
            let rest = &self.line[self.pos..];
            let mut consumed = rest.len();
            let mut ended = false;
            let mut chars = rest.char_indices().peekable();
            while let Some((at, c)) = chars.next() {
                if quoted || (c != '\n' && c != '\r') {
                    blank = false;
                }
                if quoted {
                    if c == quote {
                        if chars.peek().map(|(_, n)| *n) == Some(quote) {
                            chars.next();
                            field.push(quote);
                        } else {
                            quoted = false;
                            after_quote = true;
                        }
                    } else {
                        field.push(c);
                    }
                } else if c == sep {
                    fields.push(std::mem::take(&mut field));
                    at_start = true;
                    after_quote = false;
                    continue;
                } else if c == '\n' || c == '\r' {
                    let crlf = c == '\r' && chars.peek().map(|(_, n)| *n) == Some('\n');
                    consumed = at + if crlf { 2 } else { 1 };
                    ended = true;
                    break;
                } else if c == quote && at_start {
                    quoted = true;
                } else if after_quote && !self.syntax.extra_after_quote {
                    return Err(self.error(
                        self.lines,
                        &format!(
                            "unexpected `{c}` after a closing {quote}; double a quote inside a quoted field, or set allowExtraCharsAfterClosingQuote"
                        ),
                    ));
                } else {
                    field.push(c);
                }
                at_start = false;
                if field.len() > self.syntax.max_field {
                    return Err(self.error(
                        start,
                        &format!(
                            "a field is longer than maxFieldSize ({} characters)",
                            self.syntax.max_field
                        ),
                    ));
                }
            }
            self.pos += consumed;
            if ended && self.pos < self.line.len() {
                // A bare `\r` ended this record; the rest of the buffer is the next line.
                self.lines += 1;
            }
            if !quoted {
                break;
            }
            // The quoted field goes on: its line break is part of the value.
            if !self.read_line().await? {
                return Err(self.error(
                    start,
                    &format!("a quoted field is not closed: no {quote} before the end of the file"),
                ));
            }
        }
        fields.push(field);
        self.blank = blank;
        Ok(Some(start))
    }
}

/// The CSV reader alone, over bytes in memory: every record of `bytes`, or the error a task
/// would report. For the fuzz targets; not part of runner's interface.
#[doc(hidden)]
pub fn read_all(
    bytes: &[u8],
    separator: char,
    delimiter: char,
    max: usize,
) -> Result<Vec<Vec<String>>, String> {
    use futures_util::FutureExt;
    let mut records = Records {
        from: "input".into(),
        reader: bytes,
        syntax: Syntax {
            separator,
            delimiter,
            max_buffer: max,
            max_field: max,
            extra_after_quote: false,
        },
        line: String::new(),
        pos: 0,
        lines: 0,
        blank: false,
    };
    let mut out = Vec::new();
    let mut fields = Vec::new();
    loop {
        // Reading from memory never waits.
        let next = records
            .next(&mut fields)
            .now_or_never()
            .ok_or("the reader waited on memory")?;
        match next {
            Ok(Some(_)) => out.push(std::mem::take(&mut fields)),
            Ok(None) => return Ok(out),
            Err(e) => return Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_header_names_are_dropped_or_renamed() {
        let fields: Vec<String> = ["a", "col_2", "", ""].map(String::from).to_vec();
        assert_eq!(header_names(&fields, OnEmptyHeader::Drop), ["a", "col_2"]);
        assert_eq!(
            header_names(&fields, OnEmptyHeader::Rename),
            ["a", "col_2", "col_2_1", "col_3"]
        );
    }
}
