//! Task runners: where a script's command runs (this machine, or a container), and the
//! relay of its output to the task's log and outputs, which is the same for both.

pub(crate) mod docker;
pub(crate) mod engine;
pub(crate) mod process;
pub(crate) mod tar;

use crate::lines::{LineReader, PROTOCOL_LINE_MAX};
use crate::protocol::{self, Line};
use runner_core::plugin::*;
use serde_json::Map;
use std::path::PathBuf;
use std::sync::Mutex;
use tokio::io::AsyncRead;

/// What to run: the final argv, the variables the task sets, and the working directory.
pub(crate) struct Launch {
    pub(crate) argv: Vec<String>,
    /// The task's `env` and the runner variables (`WORKING_DIR`...), not the host's.
    pub(crate) env: Vec<(String, String)>,
    pub(crate) dir: PathBuf,
    /// Folders put first on `PATH` (a Python environment's `bin`), Process runner only.
    pub(crate) path_prefix: Vec<PathBuf>,
}

/// How the command ended.
pub(crate) struct Ran {
    pub(crate) exit_code: i32,
    pub(crate) collected: Collected,
    /// `outputs.<id>.taskRunner` (Docker: the container id).
    pub(crate) runner_output: Option<Json>,
}

/// What the relay gathered from the output.
#[derive(Default)]
pub struct Collected {
    /// The `outputs` of the protocol lines, merged (a later line wins, stderr over stdout): Kestra's `vars`.
    pub vars: Map<String, Json>,
    pub stdout_lines: u64,
    pub stderr_lines: u64,
    /// The `vars` keys stderr set: on a clash stderr wins whichever stream was read first, so
    /// the result does not depend on how the two streams interleave.
    stderr_keys: std::collections::HashSet<String>,
}

/// Reads one stream to its end: protocol lines become outputs, metrics and log lines;
/// others are logged, stdout at INFO and stderr at ERROR (Kestra 0.21 and later).
pub async fn relay<R: AsyncRead + Unpin>(
    ctx: &RunContext,
    stream: R,
    stderr: bool,
    collected: &Mutex<Collected>,
) -> std::io::Result<()> {
    let mut lines = LineReader::new(stream);
    let level = if stderr { Level::Error } else { Level::Info };
    while let Some(line) = lines.next_line().await? {
        {
            let mut c = collected.lock().expect("relay state");
            if stderr {
                c.stderr_lines += 1;
            } else {
                c.stdout_lines += 1;
            }
        }
        if line.dropped > 0 {
            let what = if line.text.starts_with("::{") {
                format!(
                    "Invalid outputs 'the line is longer than {} MiB'",
                    PROTOCOL_LINE_MAX >> 20
                )
            } else {
                format!(
                    "{}\n(line cut: {} more bytes without a line break were not logged)",
                    line.text, line.dropped
                )
            };
            ctx.log(if stderr { Level::Error } else { Level::Warn }, &what);
            continue;
        }
        match protocol::parse(&line.text) {
            Line::Text => ctx.log(level, &line.text),
            Line::Invalid(why) => ctx.log(Level::Warn, &format!("Invalid outputs '{why}'")),
            Line::Message(m) => {
                for (lvl, message) in &m.logs {
                    ctx.log(*lvl, message);
                }
                for metric in m.metrics {
                    ctx.metric(metric.into());
                }
                let mut c = collected.lock().expect("relay state");
                for (key, value) in m.outputs {
                    if stderr {
                        c.stderr_keys.insert(key.clone());
                    } else if c.stderr_keys.contains(&key) {
                        continue;
                    }
                    c.vars.insert(key, value);
                }
            }
        }
    }
    Ok(())
}
