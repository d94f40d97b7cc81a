//! `runner kill ID`: a PAUSED execution ends KILLED (its record is rewritten); a running one
//! is stopped through the process that runs it, which kills it as on Ctrl-C and writes the
//! record.

use crate::exit;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a running execution's process gets to write its KILLED record.
const STOP_LIMIT: Duration = Duration::from_secs(30);

pub(crate) fn kill(id: &str, storage: Option<&Path>) -> u8 {
    match stop(id, storage) {
        Ok(message) => {
            crate::say!("{message}");
            exit::SUCCESS
        }
        Err(e) => crate::report(e, exit::INVALID),
    }
}

fn stop(id: &str, storage: Option<&Path>) -> Result<String, String> {
    let places = crate::launch::Places::new(storage, None, None);
    let folder = runner_ui::execution_folder(&places.storage, id).ok_or_else(|| {
        format!(
            "no execution {id} in `{}`: give the storage it ran with (--storage)",
            crate::launch::shown(&places.storage).display()
        )
    })?;
    if let Some(parent) = crate::resume::parent_of(&folder) {
        return Err(format!(
            "execution {id} is a subflow of execution {parent}, which runs it: `runner kill {parent}`"
        ));
    }
    let path = folder.join("execution.json");
    // A run writes its first record a moment after it starts: it is running.
    let mut record = if !path.exists() && crate::resume::running_pid(&folder).is_some() {
        serde_json::json!({"state": {"current": "CREATED"}})
    } else {
        read(&path)?
    };
    let state = state_of(&record);
    match state.as_str() {
        "PAUSED" => {
            runner_core::resume::kill_paused(&mut record)?;
            let text = serde_json::to_string_pretty(&record).map_err(|e| e.to_string())?;
            let temporary = path.with_extension("json.writing");
            std::fs::write(&temporary, text)
                .and_then(|()| std::fs::rename(&temporary, &path))
                .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
            Ok(format!("execution {id}: KILLED (it was PAUSED)"))
        }
        "CREATED" | "RUNNING" | "RESTARTED" | "RETRYING" | "KILLING" => {
            let pid = crate::resume::running_pid(&folder)
                .filter(|pid| runs_this_program(*pid))
                .ok_or_else(|| {
                    format!(
                        "execution {id} is {state}, but no runner process runs it any more (it was stopped without writing its record)"
                    )
                })?;
            signal(pid)?;
            // The process kills the execution and writes the record: wait for that.
            let began = Instant::now();
            while began.elapsed() < STOP_LIMIT {
                if let Ok(r) = read(&path) {
                    let now = state_of(&r);
                    if !matches!(
                        now.as_str(),
                        "CREATED" | "RUNNING" | "RESTARTED" | "RETRYING" | "KILLING"
                    ) {
                        return Ok(format!("execution {id}: {now}"));
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(format!(
                "execution {id}: its process ({pid}) was asked to stop, and its record still says {state} after {}s",
                STOP_LIMIT.as_secs()
            ))
        }
        ended => Err(format!("execution {id} already ended ({ended})")),
    }
}

fn read(path: &Path) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("`{}` is not JSON: {e}", path.display()))
}

fn state_of(record: &serde_json::Value) -> String {
    record["state"]["current"]
        .as_str()
        .unwrap_or("UNKNOWN")
        .to_string()
}

/// Whether `pid` is a process of this program (a pid is reused once its process ended).
fn runs_this_program(pid: u32) -> bool {
    let (Ok(theirs), Ok(ours)) = (
        std::fs::read_link(format!("/proc/{pid}/exe")),
        std::env::current_exe(),
    ) else {
        return false;
    };
    theirs == ours
}

#[cfg(target_os = "linux")]
fn signal(pid: u32) -> Result<(), String> {
    use rustix::process::{Pid, Signal, kill_process};
    let target = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| format!("{pid} is not a process id"))?;
    kill_process(target, Signal::TERM).map_err(|e| format!("cannot signal process {pid}: {e}"))
}

#[cfg(not(target_os = "linux"))]
fn signal(pid: u32) -> Result<(), String> {
    Err(format!(
        "stopping a running execution is done from its terminal here (process {pid}): press Ctrl-C there"
    ))
}
