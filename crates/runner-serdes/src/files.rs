//! What every serdes task does with files: read the execution's Ion file one value at a time,
//! and write a new output file of this task run.

use runner_core::registry::PropDoc;
use runner_core::{RunContext, TaskError};
use runner_ion::IonValue;
use std::collections::VecDeque;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};

const BUFFER: usize = 256 * 1024;

/// Text Ion read line by line (runner and Kestra's text writer put one value per line), so
/// memory holds one line whatever the file size.
pub(crate) struct IonLines {
    from: String,
    reader: BufReader<tokio::fs::File>,
    line: String,
    number: usize,
    pending: VecDeque<IonValue>,
}

impl IonLines {
    pub(crate) async fn open(ctx: &RunContext, from: &str) -> Result<Self, TaskError> {
        let file = ctx.open_execution_file(from).await?;
        Ok(IonLines {
            from: from.to_string(),
            reader: BufReader::with_capacity(BUFFER, file),
            line: String::new(),
            number: 0,
            pending: VecDeque::new(),
        })
    }

    /// The next top-level value and the line it is on.
    pub(crate) async fn next(&mut self) -> Result<Option<(usize, IonValue)>, TaskError> {
        loop {
            if let Some(v) = self.pending.pop_front() {
                return Ok(Some((self.number, v)));
            }
            self.line.clear();
            let n = self.read_line().await?;
            if n == 0 {
                return Ok(None);
            }
            self.number += 1;
            if self.line.trim().is_empty() {
                continue;
            }
            self.pending = runner_ion::parse_values(&self.line)
                .map_err(|e| self.error(self.number, &e.to_string()))?
                .into();
        }
    }

    async fn read_line(&mut self) -> Result<usize, TaskError> {
        // Binary Ion starts with its version marker, which is not UTF-8: check before reading
        // text so the error says what the file is.
        if self.number == 0 {
            let binary = match self.reader.fill_buf().await {
                Ok(head) => head.starts_with(&[0xE0, 0x01, 0x00, 0xEA]),
                Err(e) => return Err(self.io(e)),
            };
            if binary {
                return Err(TaskError::failed(format!(
                    "{} is binary Ion, which runner cannot read yet; Query STORE in runner writes text Ion",
                    self.from
                )));
            }
        }
        match self.reader.read_line(&mut self.line).await {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Err(self.error(
                self.number + 1,
                "not UTF-8 text; expected text Ion as Query STORE writes it",
            )),
            Err(e) => Err(self.io(e)),
        }
    }

    pub(crate) fn error(&self, line: usize, what: &str) -> TaskError {
        TaskError::failed(format!("{}, line {line}: {what}", self.from))
    }

    fn io(&self, e: std::io::Error) -> TaskError {
        TaskError::Plugin {
            message: format!("cannot read {}: {e}", self.from),
            source: None,
        }
    }
}

/// A new file of this task run, written through a buffer.
pub(crate) struct OutputFile {
    pub(crate) uri: String,
    out: BufWriter<tokio::fs::File>,
}

impl OutputFile {
    /// A file named `<random>.<extension>` in the task run's directory.
    pub(crate) async fn create(ctx: &RunContext, extension: &str) -> Result<Self, TaskError> {
        let uri = ctx.output_file_uri(&format!("{}.{extension}", runner_core::ids::random_u64()));
        let file = ctx.storage().create(&uri).await?;
        Ok(OutputFile {
            uri,
            out: BufWriter::with_capacity(BUFFER, file),
        })
    }

    pub(crate) async fn write(&mut self, text: &str) -> Result<(), TaskError> {
        let result = self.out.write_all(text.as_bytes()).await;
        result.map_err(|e| self.io(e))
    }

    /// Flushes and returns the file's URI.
    pub(crate) async fn finish(mut self) -> Result<String, TaskError> {
        let result = self.out.flush().await;
        result.map_err(|e| self.io(e))?;
        Ok(self.uri)
    }

    fn io(&self, e: std::io::Error) -> TaskError {
        TaskError::Plugin {
            message: format!("cannot write {}: {e}", self.uri),
            source: None,
        }
    }
}

/// A one-character property (`fieldSeparator`, `textDelimiter`).
pub(crate) fn one_char(
    value: Option<String>,
    property: &str,
    default: char,
) -> Result<char, TaskError> {
    match value {
        None => Ok(default),
        Some(v) => {
            let mut chars = v.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Ok(c),
                _ => Err(TaskError::property(
                    property,
                    format!("`{v}` must be exactly one character"),
                )),
            }
        }
    }
}

/// The `charset` property: runner reads and writes UTF-8 only.
pub(crate) fn utf8_only(charset: Option<String>) -> Result<(), TaskError> {
    match charset {
        Some(cs) if !cs.eq_ignore_ascii_case("UTF-8") && !cs.eq_ignore_ascii_case("UTF8") => {
            Err(TaskError::property(
                "charset",
                format!("`{cs}`: runner reads and writes UTF-8 only for now"),
            ))
        }
        _ => Ok(()),
    }
}

/// The CSV properties IonToCsv and CsvToIon share.
pub(crate) const HEADER: PropDoc = PropDoc::value(
    "header",
    "boolean",
    "The first row holds the field names (default true).",
);
pub(crate) const FIELD_SEPARATOR: PropDoc = PropDoc::value(
    "fieldSeparator",
    "character",
    "Between fields (default `,`).",
);
pub(crate) const TEXT_DELIMITER: PropDoc = PropDoc::value(
    "textDelimiter",
    "character",
    "Around quoted fields (default `\"`).",
);
