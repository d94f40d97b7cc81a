//! Cutting a stored file into smaller files by rows, bytes, partitions or a regex, as Kestra's
//! `Split` and `ForEachItem` do: line by line, streamed, so memory stays flat with the size.

use crate::context::RunContext;
use crate::error::{ErrorKind, TaskError};
use crate::property::Property;
use crate::registry::PropType;
use runner_derive::Properties;
use serde::Deserialize;
use std::collections::HashMap;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};

/// The longest line a split reads: a file without line breaks is not split in memory.
pub(crate) const MAX_LINE: usize = 64 << 20;

/// The most files one split writes at once (partitions, distinct regex keys).
/// The most files a split writes (and keeps open) at once.
pub const MAX_OPEN: usize = 10_000;

/// How to cut.
#[derive(Clone, Debug)]
pub enum SplitBy {
    /// So many lines per file.
    Rows(u64),
    /// A new file once one reaches this many bytes.
    Bytes(u64),
    /// This many files, lines dealt round-robin.
    Partitions(usize),
    /// One file per value of the pattern's first group; other lines are dropped.
    Regex(regex::Regex),
}

/// Kestra's readable sizes: `1024`, `10KB`, `5MB`, `1GB` (powers of 1024).
pub fn parse_bytes(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_uppercase();
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t.as_str(), ""),
    };
    let n: u64 = digits.parse().ok()?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "K" => 1 << 10,
        "MB" | "M" => 1 << 20,
        "GB" | "G" => 1 << 30,
        "TB" | "T" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(factor).filter(|&b| b > 0)
}

struct Piece {
    uri: String,
    out: BufWriter<tokio::fs::File>,
    rows: u64,
    bytes: u64,
}

impl RunContext {
    /// Cuts `from` (a `kestra://` file of this execution) into files of this task run, each
    /// line followed by `separator`; their URIs, in order. Empty pieces are left out. On
    /// error nothing written is kept.
    pub async fn split_file(
        &self,
        from: &str,
        by: &SplitBy,
        separator: &str,
    ) -> Result<Vec<String>, TaskError> {
        let mut written: Vec<String> = Vec::new();
        let result = self.split_into(from, by, separator, &mut written).await;
        if result.is_err() {
            for uri in &written {
                if let Ok(path) = self.storage().path(uri) {
                    let _ = tokio::fs::remove_file(path).await;
                }
            }
        }
        result.map(|()| written)
    }

    async fn split_into(
        &self,
        from: &str,
        by: &SplitBy,
        separator: &str,
        written: &mut Vec<String>,
    ) -> Result<(), TaskError> {
        let file = self.open_execution_file(from).await?;
        let mut reader = BufReader::with_capacity(256 << 10, file);
        let head = reader.fill_buf().await.map_err(|e| read_error(from, e))?;
        if head.starts_with(&[0xE0, 0x01, 0x00, 0xEA]) {
            return Err(TaskError::new(
                ErrorKind::BadData,
                format!("{from} is binary Ion, which runner cannot split by lines"),
            )
            .hint("convert it with IonToJson (or write it as text Ion) first"));
        }
        let extension = extension_of(from);
        let io = |uri: &str, e: std::io::Error| {
            TaskError::new(ErrorKind::Io, format!("cannot write {uri}")).caused_by(e)
        };
        // The pieces being written, and for `Regex` which key each is for.
        let mut open: Vec<Piece> = Vec::new();
        let mut by_key: HashMap<String, usize> = HashMap::new();
        let mut line = Vec::new();
        let mut row_index: usize = 0;
        loop {
            line.clear();
            let n = (&mut reader)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut line)
                .await
                .map_err(|e| read_error(from, e))?;
            if n == 0 {
                break;
            }
            if line.len() > MAX_LINE && !line.ends_with(b"\n") {
                return Err(TaskError::new(
                    ErrorKind::BadData,
                    format!(
                        "{from} has a line longer than {} MiB: it cannot be split by lines",
                        MAX_LINE >> 20
                    ),
                ));
            }
            while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                line.pop();
            }
            let target = match by {
                SplitBy::Rows(rows) => {
                    if open.last().is_none_or(|p| p.rows >= *rows) {
                        self.new_piece(&mut open, written, &extension).await?;
                    }
                    open.len() - 1
                }
                SplitBy::Bytes(bytes) => {
                    if open.last().is_none_or(|p| p.bytes >= *bytes) {
                        self.new_piece(&mut open, written, &extension).await?;
                    }
                    open.len() - 1
                }
                SplitBy::Partitions(count) => {
                    if open.is_empty() {
                        for _ in 0..*count {
                            self.new_piece(&mut open, written, &extension).await?;
                        }
                    }
                    let i = row_index % count;
                    row_index += 1;
                    i
                }
                SplitBy::Regex(pattern) => {
                    let text = String::from_utf8_lossy(&line);
                    let Some(key) = pattern
                        .captures(&text)
                        .and_then(|c| c.get(1))
                        .map(|m| m.as_str().to_string())
                    else {
                        continue;
                    };
                    match by_key.get(&key) {
                        Some(&i) => i,
                        None => {
                            if by_key.len() >= MAX_OPEN {
                                return Err(TaskError::new(
                                    ErrorKind::BadData,
                                    format!(
                                        "regexPattern gives more than {MAX_OPEN} different values in {from}: runner writes at most {MAX_OPEN} files"
                                    ),
                                ));
                            }
                            self.new_piece(&mut open, written, &extension).await?;
                            by_key.insert(key, open.len() - 1);
                            open.len() - 1
                        }
                    }
                }
            };
            let piece = &mut open[target];
            piece
                .out
                .write_all(&line)
                .await
                .map_err(|e| io(&piece.uri, e))?;
            piece
                .out
                .write_all(separator.as_bytes())
                .await
                .map_err(|e| io(&piece.uri, e))?;
            piece.rows += 1;
            piece.bytes += (line.len() + separator.len()) as u64;
            // Finished pieces are flushed and closed as soon as the next one starts.
            if matches!(by, SplitBy::Rows(_) | SplitBy::Bytes(_)) && open.len() > 1 {
                let done = open.remove(0);
                finish(done).await.map_err(|(uri, e)| io(&uri, e))?;
            }
        }
        let mut empty = Vec::new();
        for piece in open {
            if piece.rows == 0 {
                empty.push(piece.uri.clone());
            }
            finish(piece).await.map_err(|(uri, e)| io(&uri, e))?;
        }
        for uri in empty {
            if let Ok(path) = self.storage().path(&uri) {
                let _ = tokio::fs::remove_file(path).await;
            }
            written.retain(|u| u != &uri);
        }
        Ok(())
    }

    async fn new_piece(
        &self,
        open: &mut Vec<Piece>,
        written: &mut Vec<String>,
        extension: &str,
    ) -> Result<(), TaskError> {
        if open.len() >= MAX_OPEN {
            return Err(TaskError::new(
                ErrorKind::BadData,
                format!("a split writes at most {MAX_OPEN} files at once"),
            ));
        }
        let uri = self.output_file_uri(&format!("{}{extension}", crate::ids::random_u64()));
        let file = self.storage().create(&uri).await?;
        written.push(uri.clone());
        open.push(Piece {
            uri,
            out: BufWriter::with_capacity(64 << 10, file),
            rows: 0,
            bytes: 0,
        });
        Ok(())
    }
}

async fn finish(mut piece: Piece) -> Result<(), (String, std::io::Error)> {
    piece.out.flush().await.map_err(|e| (piece.uri.clone(), e))
}

fn read_error(uri: &str, e: std::io::Error) -> TaskError {
    TaskError::new(ErrorKind::Io, format!("cannot read {uri}")).caused_by(e)
}

/// The extension of the file a URI names (`.csv`), `.tmp` without one.
fn extension_of(uri: &str) -> String {
    let name = uri.rsplit('/').next().unwrap_or("");
    match name.rfind('.') {
        Some(i) if i > 0 => name[i..].to_string(),
        _ => ".tmp".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_kestra_reads_them() {
        assert_eq!(parse_bytes("1024"), Some(1024));
        assert_eq!(parse_bytes("10KB"), Some(10 << 10));
        assert_eq!(parse_bytes("5mb"), Some(5 << 20));
        assert_eq!(parse_bytes("1GB"), Some(1 << 30));
        assert_eq!(parse_bytes("0"), None);
        assert_eq!(parse_bytes("ten"), None);
        assert_eq!(parse_bytes("99999999999999999TB"), None);
        assert_eq!(extension_of("kestra:///a/b/c.csv"), ".csv");
        assert_eq!(extension_of("kestra:///a/b/c"), ".tmp");
    }
}

/// How Split and ForEachItem cut a file; exactly one way, `rows: 1` when none is given by
/// ForEachItem.
#[derive(Clone, Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub struct Batch {
    /// Lines per file.
    pub rows: Option<Property<u64>>,
    /// Bytes per file, as `10MB`.
    pub bytes: Option<Property<String>>,
    /// How many files, lines dealt round-robin.
    pub partitions: Option<Property<u64>>,
    /// One file per value of this pattern's first group; other lines are dropped.
    pub regex_pattern: Option<Property<String>>,
    /// Written after each line (default a newline).
    pub separator: Option<Property<String>>,
}

impl PropType for Batch {
    const NAME: &'static str = "{rows, bytes, partitions, regexPattern, separator}";
}

impl Batch {
    /// Kestra's order: regexPattern, then bytes, partitions, rows.
    pub fn check(&self, default_rows: bool) -> Result<(), String> {
        let given = [
            self.rows.is_some(),
            self.bytes.is_some(),
            self.partitions.is_some(),
            self.regex_pattern.is_some(),
        ];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err("give one of `rows`, `bytes`, `partitions` and `regexPattern`".into());
        }
        if !default_rows && !given.contains(&true) {
            return Err("Invalid configuration with no size, count, rows, nor regexPattern".into());
        }
        Ok(())
    }

    pub fn render(&self, ctx: &RunContext) -> Result<(SplitBy, String), TaskError> {
        let separator = ctx
            .render_opt(&self.separator, "separator")?
            .unwrap_or_else(|| "\n".into());
        let by = if let Some(p) = ctx.render_opt(&self.regex_pattern, "regexPattern")? {
            SplitBy::Regex(regex::Regex::new(&p).map_err(|e| {
                TaskError::property(
                    "regexPattern",
                    format!("`{p}` is not a regular expression: {e}"),
                )
            })?)
        } else if let Some(b) = ctx.render_opt(&self.bytes, "bytes")? {
            SplitBy::Bytes(parse_bytes(&b).ok_or_else(|| {
                TaskError::property("bytes", format!("Invalid size with value '{b}'"))
            })?)
        } else if let Some(n) = ctx.render_opt(&self.partitions, "partitions")? {
            if n == 0 || n > MAX_OPEN as u64 {
                return Err(TaskError::property(
                    "partitions",
                    format!("between 1 and {}", MAX_OPEN),
                ));
            }
            SplitBy::Partitions(n as usize)
        } else {
            let rows = ctx.render_opt(&self.rows, "rows")?.unwrap_or(1);
            if rows == 0 {
                return Err(TaskError::property("rows", "at least 1"));
            }
            SplitBy::Rows(rows)
        };
        Ok((by, separator))
    }
}
