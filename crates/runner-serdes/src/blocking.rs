//! The conversions built on synchronous libraries (Avro, Excel) run on a blocking thread: they
//! read the execution's Ion file with [`IonFile`], write their output through a
//! [`PartialFile`] (removed unless the conversion finished), and stop when the task is
//! cancelled.

use runner_core::plugin::*;
use runner_ion::{BinaryReader, IonValue};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The longest line of text Ion read into memory (see `files::MAX_LINE`).
const MAX_LINE: usize = 256 * 1024 * 1024;

/// A blocking conversion's cancellation flag: set when the task's future is dropped.
pub(crate) struct Stop(Arc<AtomicBool>);

impl Stop {
    /// A flag nothing sets (for tests of a conversion alone).
    #[cfg(test)]
    pub(crate) fn never() -> Stop {
        Stop(Arc::default())
    }

    pub(crate) fn stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn check(&self) -> Result<(), TaskError> {
        if self.0.load(Ordering::Relaxed) {
            return Err(TaskError::failed("cancelled"));
        }
        Ok(())
    }
}

struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs `job` on a blocking thread; dropping the returned future (a cancelled or timed-out
/// task) tells the job to stop at its next row.
pub(crate) async fn run<T: Send + 'static>(
    job: impl FnOnce(&Stop) -> Result<T, TaskError> + Send + 'static,
) -> Result<T, TaskError> {
    let flag = Arc::new(AtomicBool::new(false));
    let guard = SetOnDrop(flag.clone());
    let joined = tokio::task::spawn_blocking(move || job(&Stop(flag))).await;
    drop(guard);
    joined.map_err(|e| {
        TaskError::new(ErrorKind::Other, "the conversion thread failed").caused_by(e)
    })?
}

/// A new output file of this task run, `<random>.<extension>`: its URI and local path.
pub(crate) fn output_file(
    ctx: &RunContext,
    extension: &str,
) -> Result<(String, PathBuf), TaskError> {
    let uri = ctx.output_file_uri(&format!("{}.{extension}", runner_core::ids::random_u64()));
    let path = ctx.storage().path(&uri)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| write_error(&uri, e))?;
    }
    Ok((uri, path))
}

pub(crate) fn write_error(
    uri: &str,
    e: impl std::error::Error + Send + Sync + 'static,
) -> TaskError {
    TaskError::new(ErrorKind::Io, format!("cannot write {uri}")).caused_by(e)
}

/// An execution's Ion file read on a blocking thread, one top-level value at a time (text Ion
/// line by line, binary Ion value by value), like `files::IonRecords`.
pub(crate) struct IonFile {
    from: String,
    reader: BufReader<std::fs::File>,
    binary: Option<BinaryReader>,
    line: Vec<u8>,
    number: usize,
    pending: VecDeque<IonValue>,
}

impl IonFile {
    pub(crate) fn open(from: &str, path: &Path) -> Result<Self, TaskError> {
        let file = std::fs::File::open(path).map_err(|e| {
            TaskError::new(ErrorKind::Io, format!("cannot read {from}")).caused_by(e)
        })?;
        let mut reader = BufReader::with_capacity(256 * 1024, file);
        let binary = match reader.fill_buf() {
            Ok(head) => head.starts_with(&runner_ion::VERSION_MARKER),
            Err(e) => {
                return Err(
                    TaskError::new(ErrorKind::Io, format!("cannot read {from}")).caused_by(e)
                );
            }
        };
        Ok(IonFile {
            from: from.to_string(),
            reader,
            binary: binary.then(BinaryReader::default),
            line: Vec::new(),
            number: 0,
            pending: VecDeque::new(),
        })
    }

    /// The next top-level value and its line (text) or value number (binary).
    pub(crate) fn next_value(&mut self) -> Result<Option<(usize, IonValue)>, TaskError> {
        if self.binary.is_some() {
            return self.next_binary();
        }
        loop {
            if let Some(v) = self.pending.pop_front() {
                return Ok(Some((self.number, v)));
            }
            self.line.clear();
            let n = (&mut self.reader)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut self.line)
                .map_err(|e| self.io(e))?;
            if n == 0 {
                return Ok(None);
            }
            self.number += 1;
            if self.line.len() > MAX_LINE {
                return Err(self.error(
                    self.number,
                    "a line of over 256 MiB: text Ion holds one value per line, and runner reads \
                     a value into memory; split the value or use binary Ion",
                ));
            }
            let Ok(text) = std::str::from_utf8(&self.line) else {
                return Err(self.error(
                    self.number,
                    "neither text nor binary Ion (not UTF-8, no binary version marker)",
                ));
            };
            if text.trim().is_empty() {
                continue;
            }
            let values = runner_ion::parse_values(text).map_err(|e| e.to_string());
            self.pending = values.map_err(|e| self.error(self.number, &e))?.into();
        }
    }

    fn next_binary(&mut self) -> Result<Option<(usize, IonValue)>, TaskError> {
        let mut value = Vec::new();
        loop {
            value.clear();
            let mut byte = [0u8; 1];
            if self.reader.read(&mut byte).map_err(|e| self.io(e))? == 0 {
                return Ok(None);
            }
            value.push(byte[0]);
            let total = loop {
                if let Some(n) = runner_ion::value_length(&value) {
                    break n;
                }
                value.push(0);
                let at = value.len() - 1;
                self.read_exact(&mut value[at..])?;
            };
            let start = value.len();
            value.resize(total, 0);
            self.read_exact(&mut value[start..])?;
            let Some(reader) = &mut self.binary else {
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

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), TaskError> {
        match self.reader.read_exact(buf) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(self.error(
                self.number + 1,
                "the file ends inside a binary Ion value (truncated?)",
            )),
            Err(e) => Err(self.io(e)),
        }
    }

    /// An error at a line (text Ion) or value number (binary Ion) of the file.
    pub(crate) fn error(&self, at: usize, what: &str) -> TaskError {
        let unit = if self.binary.is_some() {
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
