//! `io.kestra.plugin.core.runner.Process`: the command runs on this machine, in the working
//! directory, with the variables of runner's environment that say how to run a program (never
//! its credentials: see `RunContext::process_environment`) plus the task's `env`.
//! Its process group is killed when the task ends, times out or is cancelled.

use super::{Collected, Launch, Ran, relay};
use runner_core::plugin::*;
use std::process::Stdio;
use std::sync::Mutex;

pub(crate) async fn run(ctx: &RunContext, launch: Launch) -> Result<Ran, TaskError> {
    let Some((program, args)) = launch.argv.split_first() else {
        return Err(TaskError::failed("the command to run is empty"));
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .current_dir(&launch.dir)
        .env_clear()
        .envs(ctx.process_environment())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !launch.path_prefix.is_empty() {
        let host = ctx
            .env_var("PATH")
            .unwrap_or("/usr/local/bin:/usr/bin:/bin");
        let mut parts: Vec<std::path::PathBuf> = launch.path_prefix.clone();
        parts.extend(std::env::split_paths(host));
        if let Ok(path) = std::env::join_paths(parts) {
            command.env("PATH", path);
        }
    }
    command.envs(launch.env.iter().map(|(k, v)| (k, v)));
    let mut child = ctx.spawn(command).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            format!("install `{program}` on this machine, or set `interpreter` to a program that is installed")
        } else {
            "check that the program can be run by this user".to_string()
        };
        TaskError::new(ErrorKind::NotFound, format!("cannot start `{program}`"))
            .hint(hint)
            .caused_by(e)
    })?;
    ctx.log(
        Level::Debug,
        &format!(
            "Starting command with pid {} [{}]",
            child.id().unwrap_or(0),
            launch.argv.join(", ")
        ),
    );
    let stdout = child.child().stdout.take();
    let stderr = child.child().stderr.take();
    let collected = Mutex::new(Collected::default());
    let out = async {
        match stdout {
            Some(s) => relay(ctx, s, false, &collected).await,
            None => Ok(()),
        }
    };
    let err = async {
        match stderr {
            Some(s) => relay(ctx, s, true, &collected).await,
            None => Ok(()),
        }
    };
    let waited = async {
        let status = child.wait().await;
        // Background jobs the script left would hold its output open: they go with it.
        child.kill_group();
        status
    };
    let (status, out, err) = tokio::join!(waited, out, err);
    let read_error = |e: std::io::Error| {
        TaskError::new(ErrorKind::Io, "cannot read the command's output").caused_by(e)
    };
    out.map_err(read_error)?;
    err.map_err(read_error)?;
    let status = status.map_err(|e| {
        TaskError::new(ErrorKind::Other, "cannot wait for the command").caused_by(e)
    })?;
    Ok(Ran {
        exit_code: exit_code(status),
        collected: collected.into_inner().expect("relay state"),
        runner_output: None,
    })
}

/// The exit code, or 128 + the signal that killed the process, as a shell reports it.
fn exit_code(status: std::process::ExitStatus) -> i32 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return 128 + sig;
        }
    }
    status.code().unwrap_or(-1)
}
