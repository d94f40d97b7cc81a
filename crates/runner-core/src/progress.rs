//! Progress of long work, for a person at a terminal: a task says how many bytes or rows it
//! has moved, and whoever started the run draws it (the CLI, on a terminal only) or nothing.
//! Progress is never a log line and never part of a record; its labels hold the task id and
//! a fixed verb only, never a rendered value (which could hold a secret).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a progress line counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Bytes,
    Rows,
    /// Nothing to count: only the time the work has taken (a running script).
    Elapsed,
}

/// Draws progress lines (the CLI's terminal view).
pub trait ProgressSink: Send + Sync {
    /// A new line for `label`; `total` when the work's size is known.
    fn start(&self, label: &str, unit: Unit, total: Option<u64>) -> Box<dyn ProgressLine>;
}

/// One live line; removed when dropped.
pub trait ProgressLine: Send + Sync {
    fn set(&self, done: u64);
    fn set_total(&self, total: u64);
}

/// A task run's progress handle: a no-op when the run draws none; the line goes when it is
/// dropped (the task ended).
pub struct Progress {
    line: Option<Box<dyn ProgressLine>>,
    done: AtomicU64,
}

impl Progress {
    pub(crate) fn new(
        sink: Option<&Arc<dyn ProgressSink>>,
        label: &str,
        unit: Unit,
        total: Option<u64>,
    ) -> Self {
        Progress {
            line: sink.map(|s| s.start(label, unit, total)),
            done: AtomicU64::new(0),
        }
    }

    /// A handle that draws nothing.
    pub fn none() -> Self {
        Progress {
            line: None,
            done: AtomicU64::new(0),
        }
    }

    /// `n` more bytes or rows.
    pub fn add(&self, n: u64) {
        if let Some(line) = &self.line {
            line.set(self.done.fetch_add(n, Ordering::Relaxed) + n);
        }
    }

    /// The count so far.
    pub fn set(&self, done: u64) {
        if let Some(line) = &self.line {
            self.done.store(done, Ordering::Relaxed);
            line.set(done);
        }
    }

    pub fn set_total(&self, total: u64) {
        if let Some(line) = &self.line {
            line.set_total(total);
        }
    }
}
