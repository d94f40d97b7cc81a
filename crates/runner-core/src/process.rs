//! Processes a task starts (scripts, commands). Each runs in its own process group, and every
//! process it starts carries a mark in its environment (`RUNNER_TASK_PROCESS`, a random value
//! per task process). When the task's process exits, ends, times out or is cancelled, its group
//! is killed and then every process that still carries the mark, wherever it went (`setsid`, a
//! double fork): a task leaves no process behind, and none can hold its output open. The
//! execution's cleanup reaps what it killed.

use crate::cleanup::Cleanup;
use std::io;
use std::process::ExitStatus;
use tokio::process::{Child, Command};

/// The variable that marks a task's processes; inherited by everything they start.
pub const PROCESS_MARK: &str = "RUNNER_TASK_PROCESS";

/// A running child process of a task run.
pub struct ChildProcess {
    child: Option<Child>,
    group: Option<u32>,
    mark: String,
    cleanup: Cleanup,
}

impl ChildProcess {
    pub(crate) fn spawn(mut command: Command, cleanup: Cleanup) -> io::Result<ChildProcess> {
        #[cfg(unix)]
        command.process_group(0);
        command.kill_on_drop(true);
        let mark = format!(
            "{:016x}{:016x}",
            crate::ids::random_u64(),
            crate::ids::random_u64()
        );
        command.env(PROCESS_MARK, &mark);
        let child = command.spawn()?;
        let group = child.id();
        Ok(ChildProcess {
            child: Some(child),
            group,
            mark,
            cleanup,
        })
    }

    /// The process, to take its stdin, stdout or stderr.
    pub fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("the child is held until drop")
    }

    pub fn id(&self) -> Option<u32> {
        self.group
    }

    /// Kills what is left of the process's group and every process that carries its mark (a
    /// script's background jobs, daemons it started, once the script itself exited).
    pub fn kill_group(&self) {
        kill_group(self.group);
        let killed = kill_marked(&self.mark);
        reap_later(&self.cleanup, killed);
    }

    /// Waits for the process to exit.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.child().wait().await
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        kill_group(self.group);
        let killed = kill_marked(&self.mark);
        reap_later(&self.cleanup, killed);
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            // Reap it, so no zombie outlives the execution.
            self.cleanup.spawn(async move {
                let _ = child.wait().await;
            });
        }
    }
}

/// SIGKILL to every process of the group (the leader may be gone, its jobs not).
fn kill_group(group: Option<u32>) {
    #[cfg(unix)]
    if let Some(pid) = group
        .and_then(|g| i32::try_from(g).ok())
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    #[cfg(not(unix))]
    let _ = group;
}

/// SIGKILL to every live process whose environment carries `mark`, until none is left (a
/// process may fork while the first ones are killed); returns those killed.
fn kill_marked(mark: &str) -> Vec<i32> {
    let mut killed = Vec::new();
    #[cfg(target_os = "linux")]
    {
        let needle = format!("{PROCESS_MARK}={mark}");
        // Bounded: a fork bomb cannot keep this busy for ever.
        for _ in 0..50 {
            let found = marked(needle.as_bytes());
            if found.is_empty() {
                break;
            }
            for pid in &found {
                if let Some(p) = rustix::process::Pid::from_raw(*pid) {
                    let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
                }
            }
            killed.extend(found);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = mark;
    killed
}

/// The live processes whose environment holds `needle`. A zombie's environment cannot be read,
/// so it is not found again once killed.
#[cfg(target_os = "linux")]
fn marked(needle: &[u8]) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == needle))
        })
        .collect()
}

/// Reaps the killed processes that became runner's children (runner is their subreaper), by
/// pid, so no child another part of runner waits for is taken from it. A killed process takes
/// a moment to die: the execution's cleanup keeps trying for a little while.
fn reap_later(cleanup: &Cleanup, killed: Vec<i32>) {
    #[cfg(target_os = "linux")]
    if !killed.is_empty() {
        cleanup.spawn(async move {
            let mut left = killed;
            for _ in 0..100 {
                left.retain(|pid| {
                    let Some(p) = rustix::process::Pid::from_raw(*pid) else {
                        return false;
                    };
                    // Not (or no longer) our child: ECHILD, nothing to reap here.
                    !matches!(
                        rustix::process::waitpid(Some(p), rustix::process::WaitOptions::NOHANG),
                        Ok(Some(_)) | Err(_)
                    )
                });
                if left.is_empty() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        });
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (cleanup, killed);
}

/// Makes runner the subreaper of the processes its tasks start: one that outlives its parent
/// (a daemon, a `setsid` job) becomes runner's child instead of init's, so runner can still
/// kill and reap it. Linux only; elsewhere they go to init and are still killed by their mark.
pub fn adopt_orphans() {
    #[cfg(target_os = "linux")]
    {
        let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
    }
}
