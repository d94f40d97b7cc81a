//! What the four tasks share: the bounded, cancellable copy on a blocking thread, the limits
//! that stop a decompression bomb, and the errors said with the task's words.

use runner_core::plugin::*;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whatever the ratio, this much output is allowed (a small, very repetitive file is common).
const FLOOR: u64 = 256 << 20;
/// Beyond the floor, output may be this many times the input's size: real data compresses
/// 3-20 times, a bomb thousands of times.
const RATIO: u64 = 200;
/// The most entries an archive may have.
pub(crate) const MAX_ENTRIES: usize = 100_000;

const CHUNK: usize = 256 << 10;

/// Set when the task's future is dropped (a timeout, Ctrl-C, a failed sibling): the blocking
/// copy stops at its next chunk instead of running on.
pub(crate) struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub(crate) fn new() -> (Cancel, Arc<AtomicBool>) {
        let flag = Arc::new(AtomicBool::new(false));
        (Cancel(flag.clone()), flag)
    }
}

impl Drop for Cancel {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// How much a decompression may still write.
pub(crate) struct Budget {
    pub(crate) input: u64,
    pub(crate) limit: u64,
    pub(crate) written: u64,
}

impl Budget {
    /// The allowance for an input of `input` bytes.
    pub(crate) fn for_input(input: u64) -> Budget {
        Budget {
            input,
            limit: FLOOR.max(input.saturating_mul(RATIO)),
            written: 0,
        }
    }

    /// No limit (compression writes less than it reads).
    pub(crate) fn unlimited() -> Budget {
        Budget {
            input: 0,
            limit: u64::MAX,
            written: 0,
        }
    }
}

/// Why a blocking job stopped.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The input (`what`) could not be read or decoded: corrupt, truncated, or not this format.
    Read(String, io::Error),
    Write(PathBuf, io::Error),
    Bomb {
        input: u64,
        limit: u64,
    },
    TooManyEntries,
    /// Kestra's words for a zip-slip entry.
    Traversal(String),
    /// An entry runner cannot read (encrypted, an unknown method).
    Entry(String, String),
    Cancelled,
}

impl Failure {
    pub(crate) fn into_task_error(self, from: &str) -> TaskError {
        match self {
            Failure::Read(what, e) if e.kind() == io::ErrorKind::Unsupported => {
                TaskError::new(ErrorKind::Unsupported, format!("{what}: {e}"))
            }
            Failure::Read(what, e) => TaskError::new(
                ErrorKind::BadData,
                format!("cannot read {what} `{from}`: {e}"),
            )
            .hint("check that `algorithm` and `compression` are the file's formats, and that the file is complete"),
            Failure::Write(path, e) => TaskError::new(
                ErrorKind::Io,
                format!("cannot write {}", path.display()),
            )
            .caused_by(e),
            Failure::Bomb { input, limit } => TaskError::new(
                ErrorKind::BadData,
                format!(
                    "`{from}` ({input} bytes) expands to more than {limit} bytes: refused as a decompression bomb"
                ),
            )
            .hint("runner allows 256 MiB, or 200 times the compressed size when that is more; nothing was kept"),
            Failure::TooManyEntries => TaskError::new(
                ErrorKind::BadData,
                format!("`{from}` has more than {MAX_ENTRIES} entries: refused as a decompression bomb"),
            ),
            Failure::Traversal(name) => TaskError::new(
                ErrorKind::BadData,
                format!("Path traversal attempt detected in archive entry: {name}"),
            )
            .hint("the archive names a file outside the folder it unpacks into (zip-slip); nothing was kept"),
            Failure::Entry(name, why) => TaskError::new(
                ErrorKind::Unsupported,
                format!("Unable to read entry '{name}': {why}"),
            ),
            Failure::Cancelled => TaskError::failed("cancelled"),
        }
    }
}

/// Copies `from` into `to` chunk by chunk, counting against `budget`, until the end, a
/// failure or cancellation. `what` names the input in errors.
pub(crate) fn copy(
    from: &mut dyn Read,
    to: &mut dyn Write,
    to_path: &Path,
    what: &str,
    budget: &mut Budget,
    stop: &AtomicBool,
) -> Result<u64, Failure> {
    let mut buffer = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err(Failure::Cancelled);
        }
        let n = match from.read(&mut buffer) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::Read(what.to_string(), e)),
        };
        budget.written += n as u64;
        if budget.written > budget.limit {
            return Err(Failure::Bomb {
                input: budget.input,
                limit: budget.limit,
            });
        }
        to.write_all(&buffer[..n])
            .map_err(|e| Failure::Write(to_path.to_path_buf(), e))?;
        total += n as u64;
    }
}

/// Runs `job` on a blocking thread; dropping the returned future stops it at its next chunk.
pub(crate) async fn blocking<T: Send + 'static>(
    from: &str,
    job: impl FnOnce(&AtomicBool) -> Result<T, Failure> + Send + 'static,
) -> Result<T, TaskError> {
    let (cancel, flag) = Cancel::new();
    let joined = tokio::task::spawn_blocking(move || job(&flag)).await;
    drop(cancel);
    match joined {
        Ok(result) => result.map_err(|f| f.into_task_error(from)),
        Err(e) => {
            Err(TaskError::new(ErrorKind::Other, "the compression thread failed").caused_by(e))
        }
    }
}

/// A new storage file of this task run, named `<digits>.<ext>`: its URI and local path.
pub(crate) fn output_file(ctx: &RunContext, ext: &str) -> Result<(String, PathBuf), TaskError> {
    let uri = ctx.output_file_uri(&format!("{}.{ext}", runner_core::ids::random_u64()));
    let path = ctx.storage().path(&uri)?;
    Ok((uri, path))
}

/// Creates `path` (and its folders) for writing.
pub(crate) fn create(path: &Path) -> Result<std::fs::File, Failure> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Failure::Write(dir.to_path_buf(), e))?;
    }
    std::fs::File::create(path).map_err(|e| Failure::Write(path.to_path_buf(), e))
}
