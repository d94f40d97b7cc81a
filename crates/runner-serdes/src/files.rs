//! What every serdes task does with files: read the execution's Ion file one value at a time,
//! and write a new output file of this task run.

use runner_core::plugin::*;
use runner_ion::{BinaryReader, IonValue};
use serde::Deserialize;
use std::collections::VecDeque;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};

/// What a conversion does with a row it cannot convert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum OnBadLines {
    Error,
    Warn,
    Skip,
}

const BUFFER: usize = 256 * 1024;

/// The longest line of text Ion read: one value per line, so a line is a value held in memory.
const MAX_LINE: usize = 256 * 1024 * 1024;

/// An Ion file of the execution, one top-level value at a time: text Ion line by line (runner
/// and Kestra 1.x put one value per line), binary Ion (Kestra 2.0) value by value. Memory holds
/// one value whatever the file size.
pub(crate) struct IonRecords {
    from: String,
    reader: BufReader<tokio::fs::File>,
    /// `None` until the first bytes say which encoding this is.
    binary: Option<Option<BinaryReader>>,
    /// The line last read is the first this many bytes of the reader's buffer (most lines: no
    /// copy), consumed before the next read; or, when None, `line` (one that crossed the
    /// buffer's end).
    in_buffer: Option<usize>,
    line: Vec<u8>,
    /// The line (text) or value (binary) last read, for errors.
    number: usize,
    pending: VecDeque<IonValue>,
}

impl IonRecords {
    pub(crate) async fn open(ctx: &RunContext, from: &str) -> Result<Self, TaskError> {
        let file = ctx.open_execution_file(from).await?;
        Ok(IonRecords {
            from: from.to_string(),
            reader: BufReader::with_capacity(BUFFER, file),
            binary: None,
            in_buffer: None,
            line: Vec::new(),
            number: 0,
            pending: VecDeque::new(),
        })
    }

    /// Which encoding this is, from the first bytes.
    async fn detect(&mut self) -> Result<(), TaskError> {
        if self.binary.is_none() {
            let binary = match self.reader.fill_buf().await {
                Ok(head) => head.starts_with(&runner_ion::VERSION_MARKER),
                Err(e) => return Err(self.io(e)),
            };
            self.binary = Some(binary.then(BinaryReader::default));
        }
        Ok(())
    }

    /// Text Ion: reads the next line that holds something, for [`Self::line`], and returns
    /// true. False at the end, for binary Ion, or while values of the last line wait: then
    /// [`Self::next`] gives what there is.
    pub(crate) async fn next_line(&mut self) -> Result<bool, TaskError> {
        self.detect().await?;
        if matches!(self.binary, Some(Some(_))) || !self.pending.is_empty() {
            return Ok(false);
        }
        loop {
            if !self.advance().await? {
                return Ok(false);
            }
            if std::str::from_utf8(self.line()).is_err() {
                return Err(self.not_utf8());
            }
            if !self.line().iter().all(u8::is_ascii_whitespace) {
                return Ok(true);
            }
        }
    }

    /// The line [`Self::next_line`] read, UTF-8.
    pub(crate) fn line(&self) -> &[u8] {
        match self.in_buffer {
            Some(n) => &self.reader.buffer()[..n],
            None => &self.line,
        }
    }

    /// Parses the line [`Self::next_line`] read: [`Self::next`] then gives its values.
    pub(crate) fn parse_line(&mut self) -> Result<(), TaskError> {
        let parsed = match std::str::from_utf8(self.line()) {
            Ok(text) => runner_ion::parse_values(text).map_err(|e| e.to_string()),
            Err(_) => return Err(self.not_utf8()),
        };
        self.pending = parsed.map_err(|e| self.error(self.number, &e))?.into();
        Ok(())
    }

    /// The next top-level value and where it is (line of text Ion, value number of binary).
    pub(crate) async fn next(&mut self) -> Result<Option<(usize, IonValue)>, TaskError> {
        self.detect().await?;
        if matches!(self.binary, Some(Some(_))) {
            return self.next_binary().await;
        }
        loop {
            if let Some(v) = self.pending.pop_front() {
                return Ok(Some((self.number, v)));
            }
            if !self.advance().await? {
                return Ok(None);
            }
            if self.line().iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            self.parse_line()?;
        }
    }

    /// Moves to the next line of text: false at the end of the file.
    async fn advance(&mut self) -> Result<bool, TaskError> {
        if let Some(n) = self.in_buffer.take() {
            self.reader.consume(n);
        }
        self.line.clear();
        loop {
            let buf = match self.reader.fill_buf().await {
                Ok(buf) => buf,
                Err(e) => return Err(self.io(e)),
            };
            if buf.is_empty() {
                if self.line.is_empty() {
                    return Ok(false);
                }
                break;
            }
            match memchr::memchr(b'\n', buf) {
                Some(at) if self.line.is_empty() => {
                    self.in_buffer = Some(at + 1);
                    break;
                }
                Some(at) => {
                    self.line.extend_from_slice(&buf[..=at]);
                    self.reader.consume(at + 1);
                    break;
                }
                None => {
                    let n = buf.len();
                    self.line.extend_from_slice(buf);
                    self.reader.consume(n);
                    if self.line.len() > MAX_LINE {
                        return Err(self.error(
                            self.number + 1,
                            "a line of over 256 MiB: text Ion holds one value per line, and \
                             runner reads a value into memory; split the value or use binary Ion",
                        ));
                    }
                }
            }
        }
        self.number += 1;
        Ok(true)
    }

    fn not_utf8(&self) -> TaskError {
        self.error(
            self.number,
            "neither text nor binary Ion (not UTF-8, no binary version marker)",
        )
    }

    async fn next_binary(&mut self) -> Result<Option<(usize, IonValue)>, TaskError> {
        let mut value = Vec::new();
        loop {
            value.clear();
            let mut byte = [0u8; 1];
            if self.reader.read(&mut byte).await.map_err(|e| self.io(e))? == 0 {
                return Ok(None);
            }
            value.push(byte[0]);
            let total = loop {
                if let Some(n) = runner_ion::value_length(&value) {
                    break n;
                }
                let at = value.len();
                value.push(0);
                self.read_exact_at(&mut value, at).await?;
            };
            let start = value.len();
            value.resize(total, 0);
            self.read_exact_at(&mut value, start).await?;
            let Some(Some(reader)) = &mut self.binary else {
                unreachable!("binary mode")
            };
            match reader.read(&value) {
                Ok(Some(v)) => {
                    self.number += 1;
                    return Ok(Some((self.number, v)));
                }
                Ok(None) => continue,
                Err(e) => return Err(self.error(self.number + 1, &e.to_string())),
            }
        }
    }

    async fn read_exact_at(&mut self, buf: &mut [u8], start: usize) -> Result<(), TaskError> {
        match self.reader.read_exact(&mut buf[start..]).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(TaskError::new(
                ErrorKind::BadData,
                format!(
                    "{}, value {}: the file ends inside a binary Ion value (truncated?)",
                    self.from,
                    self.number + 1
                ),
            )),
            Err(e) => Err(self.io(e)),
        }
    }

    /// An error at a line (text Ion) or value number (binary Ion) of the file.
    pub(crate) fn error(&self, at: usize, what: &str) -> TaskError {
        let unit = if matches!(self.binary, Some(Some(_))) {
            "value"
        } else {
            "line"
        };
        TaskError::new(
            ErrorKind::BadData,
            format!("{}, {unit} {at}: {what}", self.from),
        )
    }

    fn io(&self, e: std::io::Error) -> TaskError {
        TaskError::new(ErrorKind::Io, format!("cannot read {}", self.from)).caused_by(e)
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
        self.write_bytes(text.as_bytes()).await
    }

    pub(crate) async fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), TaskError> {
        let result = self.out.write_all(bytes).await;
        result.map_err(|e| self.io(e))
    }

    /// Flushes and returns the file's URI.
    pub(crate) async fn finish(mut self) -> Result<String, TaskError> {
        let result = self.out.flush().await;
        result.map_err(|e| self.io(e))?;
        Ok(self.uri)
    }

    fn io(&self, e: std::io::Error) -> TaskError {
        TaskError::new(ErrorKind::Io, format!("cannot write {}", self.uri)).caused_by(e)
    }
}

/// A one-character property (`fieldSeparator`, `textDelimiter`), `default` when unset.
pub(crate) fn one_char(
    ctx: &RunContext,
    prop: &Option<Property<String>>,
    property: &str,
    default: char,
) -> Result<char, TaskError> {
    match ctx.render_opt(prop, property)? {
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
