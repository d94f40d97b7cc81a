//! The limits on what a flow may make runner do, from `RUNNER_*` variables (README, "Limits").
//! A flow is untrusted code; these bound one expression's time and memory, jq's sandbox, and
//! the size of the files given on the command line.

use runner_core::{JqSandbox, Limits};
use std::time::Duration;

/// Files read whole from the command line (flows, `--vars`, `--inputs-file`, env files).
pub(crate) const DEFAULT_MAX_FILE_MB: u64 = 16;

fn var(name: &str) -> Result<Option<u64>, String> {
    match std::env::var(name) {
        Err(_) => Ok(None),
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| format!("{name}={v}: expected a whole number above 0")),
    }
}

const MIB: u64 = 1024 * 1024;

/// The expression limits, with jq in a sandbox of this very binary.
pub(crate) fn expressions() -> Result<Limits, String> {
    let mut limits = Limits::default();
    if let Some(fuel) = var("RUNNER_RENDER_FUEL")? {
        limits.fuel = fuel;
    }
    if let Some(mb) = var("RUNNER_MAX_RENDER_MB")? {
        limits.max_output = usize::try_from(mb.saturating_mul(MIB)).unwrap_or(usize::MAX);
    }
    let program = std::env::current_exe()
        .map_err(|e| format!("cannot find runner's own binary, which runs jq: {e}"))?;
    limits.jq = Some(JqSandbox {
        program,
        timeout: Duration::from_secs(var("RUNNER_JQ_TIMEOUT")?.unwrap_or(10)),
        memory: var("RUNNER_JQ_MEMORY_MB")?
            .unwrap_or(256)
            .saturating_mul(MIB),
        max_output: usize::try_from(
            var("RUNNER_JQ_MAX_OUTPUT_MB")?
                .unwrap_or(64)
                .saturating_mul(MIB),
        )
        .unwrap_or(usize::MAX),
    });
    Ok(limits)
}

/// How many task runs an execution, and executions a run, may make
/// (`RUNNER_MAX_TASK_RUNS`, `RUNNER_MAX_EXECUTIONS`).
pub(crate) fn run() -> Result<runner_core::RunLimits, String> {
    let mut limits = runner_core::RunLimits::default();
    if let Some(n) = var("RUNNER_MAX_TASK_RUNS")? {
        limits.max_task_runs = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if let Some(n) = var("RUNNER_MAX_EXECUTIONS")? {
        limits.max_executions = usize::try_from(n).unwrap_or(usize::MAX);
    }
    Ok(limits)
}

/// The largest file read whole from the command line, in bytes.
pub(crate) fn max_file() -> Result<u64, String> {
    Ok(var("RUNNER_MAX_FILE_MB")?
        .unwrap_or(DEFAULT_MAX_FILE_MB)
        .saturating_mul(MIB))
}
