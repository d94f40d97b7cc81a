//! The terminal view of long work (`--progress`): one live line per task run that reports
//! progress (bytes or rows, rate, elapsed time), drawn on stderr with indicatif and cleared
//! when the task ends. Only on a terminal: never in a pipe, a file, CI or `--log-format json`
//! (off a terminal indicatif draws nothing). Log lines are printed above the live lines.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use runner_core::{ProgressLine, ProgressSink, ProgressUnit};
use std::io::{IsTerminal, Write};
use std::time::Duration;

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum ProgressArg {
    /// On a terminal, with text logs, outside CI
    Auto,
    /// On a terminal, whatever the log format or CI says
    Always,
    Never,
}

/// The view for this run, when one is drawn.
pub(crate) fn view(choice: ProgressArg, json_logs: bool) -> Option<Terminal> {
    let terminal = std::io::stderr().is_terminal();
    let on = match choice {
        ProgressArg::Never => false,
        ProgressArg::Always => terminal,
        ProgressArg::Auto => terminal && !json_logs && std::env::var_os("CI").is_none(),
    };
    on.then(|| Terminal {
        multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10)),
    })
}

#[derive(Clone)]
pub(crate) struct Terminal {
    multi: MultiProgress,
}

impl Terminal {
    /// A writer for log lines that prints them above the live lines.
    pub(crate) fn log_writer(&self) -> Box<dyn Write + Send> {
        Box::new(Above(self.multi.clone()))
    }
}

struct Above(MultiProgress);

impl Write for Above {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.suspend(|| std::io::stderr().write_all(buf))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl ProgressSink for Terminal {
    fn start(&self, label: &str, unit: ProgressUnit, total: Option<u64>) -> Box<dyn ProgressLine> {
        let bar = match total {
            Some(t) => ProgressBar::new(t),
            None => ProgressBar::new_spinner(),
        };
        let template = match (unit, total.is_some()) {
            (ProgressUnit::Bytes, true) => {
                "{spinner} {prefix} {bytes}/{total_bytes} ({bytes_per_sec}) {elapsed}"
            }
            (ProgressUnit::Bytes, false) => {
                "{spinner} {prefix} {bytes} ({bytes_per_sec}) {elapsed}"
            }
            (ProgressUnit::Rows, true) => {
                "{spinner} {prefix} {human_pos}/{human_len} rows ({per_sec}) {elapsed}"
            }
            (ProgressUnit::Rows, false) => {
                "{spinner} {prefix} {human_pos} rows ({per_sec}) {elapsed}"
            }
            (ProgressUnit::Elapsed, _) => "{spinner} {prefix} {elapsed}",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_prefix(label.to_string());
        let bar = self.multi.add(bar);
        bar.enable_steady_tick(Duration::from_millis(200));
        Box::new(Line(bar))
    }
}

struct Line(ProgressBar);

impl ProgressLine for Line {
    fn set(&self, done: u64) {
        self.0.set_position(done);
    }
    fn set_total(&self, total: u64) {
        self.0.set_length(total);
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
