//! Processes a task starts (scripts, commands). Each runs in its own process group, so that
//! when the task ends, times out or is cancelled, the whole group is killed (a script's
//! background jobs too) and the execution's cleanup reaps it: a task leaves no process behind.

use crate::cleanup::Cleanup;
use std::io;
use std::process::ExitStatus;
use tokio::process::{Child, Command};

/// A running child process of a task run.
pub struct ChildProcess {
    child: Option<Child>,
    group: Option<u32>,
    cleanup: Cleanup,
}

impl ChildProcess {
    pub(crate) fn spawn(mut command: Command, cleanup: Cleanup) -> io::Result<ChildProcess> {
        #[cfg(unix)]
        command.process_group(0);
        command.kill_on_drop(true);
        let child = command.spawn()?;
        let group = child.id();
        Ok(ChildProcess {
            child: Some(child),
            group,
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

    /// Kills what is left of the process's group (a script's background jobs, once the
    /// script itself exited).
    pub fn kill_group(&self) {
        kill_group(self.group);
    }

    /// Waits for the process to exit.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.child().wait().await
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        kill_group(self.group);
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
