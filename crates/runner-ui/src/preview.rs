//! `kestra://` files in place: Ion, CSV and JSON lines as a table of their first rows, JSON
//! and text as text, anything else by its size; and the file itself, masked, as a download.

use crate::Ui;
use crate::html::{esc, layout};
use crate::server::{Reply, ReplyBody, Req, percent_encode};
use crate::store;
use hyper::StatusCode;
use serde_json::Value as Json;
use std::fmt::Write;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Rows a table preview shows.
const PREVIEW_ROWS: usize = 100;
/// Bytes read for a preview, at most: the first rows of a large file, never all of it.
const PREVIEW_BYTES: u64 = 1024 * 1024;

/// The `?uri=` of a request and the file in storage it names, or the page saying why not.
fn requested<'r>(ui: &Ui, req: &'r Req) -> Result<(&'r str, std::path::PathBuf), Reply> {
    let Some(uri) = req.param("uri") else {
        return Err(Reply::problem(
            StatusCode::BAD_REQUEST,
            "No file",
            "give the file as ?uri=kestra:///...",
        ));
    };
    store::resolve(&ui.storage, uri)
        .map(|path| (uri, path))
        .map_err(|e| Reply::problem(StatusCode::NOT_FOUND, "File not found", &e))
}

pub(crate) fn preview(ui: &Ui, execution: &str, req: &Req) -> Reply {
    let (uri, path) = match requested(ui, req) {
        Ok(found) => found,
        Err(reply) => return reply,
    };
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut body = format!(
        "<p><a href=\"/executions/{ex}\">← Execution {ex}</a></p><h1 id=\"file-name\">{}</h1><p class=\"facts\"><code>{}</code> · <span id=\"file-size\">{}</span> · <a id=\"file-download\" href=\"/executions/{ex}/download?uri={}\">Download</a></p>",
        esc(&name),
        esc(uri),
        size_text(size),
        percent_encode(uri),
        ex = esc(execution),
    );
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let shown = match extension.as_str() {
        "ion" => table_of(&path, size, ion_rows),
        "csv" => table_of(&path, size, csv_rows),
        "jsonl" | "ndjson" => table_of(&path, size, json_lines_rows),
        "json" => json_text(&path, size),
        _ => text(&path, size),
    };
    match shown {
        Ok(html) => body.push_str(&html),
        Err(e) => {
            let _ = write!(
                body,
                "<p class=\"problem-text\" id=\"preview-problem\">{}</p>",
                esc(&e)
            );
            // Still show what the file holds, as text.
            if let Ok(t) = text(&path, size) {
                body.push_str(&t);
            }
        }
    }
    Reply::html(layout(&name, &format!("<div id=\"preview\">{body}</div>")))
}

pub(crate) fn download(ui: &Ui, req: &Req) -> Reply {
    let path = match requested(ui, req) {
        Ok((_, path)) => path,
        Err(reply) => return reply,
    };
    let name: String = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
        .collect();
    let mut reply = Reply::of(StatusCode::OK, "application/octet-stream", Vec::new());
    reply.headers.push((
        "content-disposition",
        format!("attachment; filename=\"{name}\""),
    ));
    reply.body = ReplyBody::Stream(Box::new(move |out| {
        let mut file = std::fs::File::open(&path)?;
        std::io::copy(&mut file, out).map(|_| ())
    }));
    reply
}

fn size_text(n: u64) -> String {
    match n {
        n if n < 1024 => format!("{n} bytes"),
        n if n < 1024 * 1024 => format!("{:.1} KiB", n as f64 / 1024.0),
        n if n < 1024 * 1024 * 1024 => format!("{:.1} MiB", n as f64 / 1048576.0),
        n => format!("{:.2} GiB", n as f64 / 1073741824.0),
    }
}

/// The first lines of a file, each whole (the last partial line of the bytes read is left).
fn first_lines(path: &Path, max: usize) -> Result<Vec<String>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("the file cannot be read: {e}"))?;
    let mut reader = BufReader::new(file.take(PREVIEW_BYTES));
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while out.len() < max {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| format!("the file cannot be read: {e}"))?;
        if n == 0 {
            break;
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        let line = String::from_utf8(buf.clone())
            .map_err(|_| format!("line {} is not UTF-8 text", out.len() + 1))?;
        out.push(line);
    }
    Ok(out)
}

/// Rows read from the start of a file: each a list of (column, value).
type Rows = Vec<Vec<(String, String)>>;

fn table_of(
    path: &Path,
    size: u64,
    read: fn(&Path) -> Result<Rows, String>,
) -> Result<String, String> {
    let rows = read(path)?;
    let mut columns: Vec<String> = Vec::new();
    for r in &rows {
        for (c, _) in r {
            if !columns.contains(c) {
                columns.push(c.clone());
            }
        }
    }
    let mut out = format!(
        "<p class=\"notice\" id=\"preview-rows\">{} {}{}</p><div class=\"scroll\"><table class=\"preview\" id=\"preview-table\"><thead><tr>",
        rows.len(),
        if rows.len() == 1 { "row" } else { "rows" },
        if rows.len() == PREVIEW_ROWS && size > 0 {
            " (the first ones)"
        } else {
            ""
        }
    );
    for c in &columns {
        let _ = write!(out, "<th>{}</th>", esc(c));
    }
    out.push_str("</tr></thead><tbody>");
    for r in &rows {
        out.push_str("<tr>");
        for c in &columns {
            let v = r
                .iter()
                .find(|(k, _)| k == c)
                .map_or("", |(_, v)| v.as_str());
            let _ = write!(out, "<td>{}</td>", esc(v));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    Ok(out)
}

fn cell(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

fn record_row(v: Json) -> Vec<(String, String)> {
    match v {
        Json::Object(m) => m.into_iter().map(|(k, v)| (k, cell(&v))).collect(),
        other => vec![("value".to_string(), cell(&other))],
    }
}

/// Kestra's Ion files hold one value per line.
fn ion_rows(path: &Path) -> Result<Rows, String> {
    let mut rows = Vec::new();
    for (i, line) in first_lines(path, PREVIEW_ROWS)?.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let values = runner_ion::parse(line)
            .map_err(|e| format!("this is not valid Ion: line {}: {e}", i + 1))?;
        rows.extend(values.into_iter().map(record_row));
    }
    Ok(rows)
}

fn json_lines_rows(path: &Path) -> Result<Rows, String> {
    let mut rows = Vec::new();
    for (i, line) in first_lines(path, PREVIEW_ROWS)?.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Json = serde_json::from_str(line)
            .map_err(|e| format!("this is not JSON lines: line {}: {e}", i + 1))?;
        rows.push(record_row(v));
    }
    Ok(rows)
}

/// CSV with a header line; quoted fields may hold separators, quotes and line breaks.
fn csv_rows(path: &Path) -> Result<Rows, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("the file cannot be read: {e}"))?;
    let mut bytes = Vec::new();
    file.take(PREVIEW_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("the file cannot be read: {e}"))?;
    let text = String::from_utf8_lossy(&bytes);
    let records = parse_csv(&text, PREVIEW_ROWS + 1)?;
    let mut it = records.into_iter();
    let header = it.next().unwrap_or_default();
    Ok(it
        .map(|r| {
            r.into_iter()
                .enumerate()
                .map(|(i, v)| {
                    let name = header
                        .get(i)
                        .cloned()
                        .unwrap_or_else(|| format!("column {}", i + 1));
                    (name, v)
                })
                .collect()
        })
        .collect())
}

fn parse_csv(text: &str, max: usize) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut line = 1;
    let mut chars = text.chars().peekable();
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if records.len() >= max {
            break;
        }
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => {
                    if c == '\n' {
                        line += 1;
                    }
                    field.push(c)
                }
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                at_field_start = false;
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                at_field_start = true;
                line += 1;
            }
            '"' => {
                return Err(format!(
                    "this is not valid CSV: a quote inside an unquoted field at line {line}"
                ));
            }
            c => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if (!field.is_empty() || !record.is_empty()) && records.len() < max {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

fn json_text(path: &Path, size: u64) -> Result<String, String> {
    if size <= PREVIEW_BYTES {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("the file cannot be read: {e}"))?;
        let v: Json =
            serde_json::from_str(&text).map_err(|e| format!("this is not valid JSON: {e}"))?;
        return Ok(format!(
            "<pre class=\"file-text\" id=\"preview-text\">{}</pre>",
            esc(&serde_json::to_string_pretty(&v).unwrap_or_default())
        ));
    }
    text(path, size)
}

fn text(path: &Path, size: u64) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("the file cannot be read: {e}"))?;
    let mut bytes = Vec::new();
    file.take(64 * 1024)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("the file cannot be read: {e}"))?;
    // A multi-byte character cut at the end of what was read is not a reason to call it binary.
    let valid = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or("")
        }
        Err(_) => {
            return Ok(format!(
                "<p class=\"notice\" id=\"preview-binary\">A binary file of {}: download it to open it.</p>",
                size_text(size)
            ));
        }
    };
    Ok(format!(
        "<pre class=\"file-text\" id=\"preview-text\">{}</pre>{}",
        esc(valid),
        if size > bytes.len() as u64 {
            "<p class=\"notice\">The first 64 KiB; the download has it all.</p>"
        } else {
            ""
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_may_hold_quotes_commas_and_lines() {
        let r = parse_csv("id,name\n1,\"a, \"\"b\"\"\nc\"\n2,x\n", 10).unwrap();
        assert_eq!(
            r,
            vec![vec!["id", "name"], vec!["1", "a, \"b\"\nc"], vec!["2", "x"]]
        );
        assert!(parse_csv("a,b\"c\n", 10).unwrap_err().contains("line 1"));
        assert_eq!(parse_csv("a\nb\nc\n", 2).unwrap().len(), 2);
    }
}
