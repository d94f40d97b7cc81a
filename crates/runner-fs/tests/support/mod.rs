//! Running remote-task flows in-process, with secrets and variables given as a run gets them.

#![allow(dead_code, unreachable_pub)]

use runner_testkit::{Run, RunOptions, run_flow_opts};
use serde_json::Value as Json;

pub const TASKS: &[&[runner_core::TaskDescriptor]] = &[
    runner_core::TASKS,
    runner_core_tasks::TASKS,
    runner_fs::TASKS,
];

/// A flow of the given tasks (indented as list items under `tasks:`), and what its run gets.
pub struct Flow {
    yaml: String,
    environment: Vec<(String, String)>,
    inputs: Vec<(String, String)>,
}

impl Flow {
    pub fn new(tasks: &str) -> Flow {
        Flow {
            yaml: format!("id: remote\nnamespace: company.team\ntasks:\n{tasks}"),
            environment: Vec::new(),
            inputs: Vec::new(),
        }
    }

    /// A flow with a FILE input `file`, given the local file `path`.
    pub fn with_file(tasks: &str, path: &std::path::Path) -> Flow {
        Flow {
            yaml: format!(
                "id: remote\nnamespace: company.team\ninputs:\n  - id: file\n    type: FILE\ntasks:\n{tasks}"
            ),
            environment: Vec::new(),
            inputs: vec![("file".into(), path.display().to_string())],
        }
    }

    /// A secret, as `SECRET_<NAME>` (base64) gives it.
    pub fn secret(mut self, name: &str, value: &str) -> Flow {
        use base64::Engine;
        self.environment.push((
            format!("SECRET_{name}"),
            base64::engine::general_purpose::STANDARD.encode(value),
        ));
        self
    }

    /// A variable of the run's environment.
    pub fn env(mut self, name: &str, value: &str) -> Flow {
        self.environment.push((name.into(), value.into()));
        self
    }
}

pub struct Ran(pub Run);

impl std::ops::Deref for Ran {
    type Target = Run;
    fn deref(&self) -> &Run {
        &self.0
    }
}

impl Ran {
    pub fn state(&self) -> &'static str {
        self.0.state.as_str()
    }

    pub fn state_of(&self, task: &str) -> String {
        self.0.record["taskRunList"]
            .as_array()
            .and_then(|r| r.iter().find(|t| t["taskId"] == task))
            .map(|t| {
                t["state"]["current"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .unwrap_or_default()
    }

    /// Log lines of `task` at `level` (`INFO`, `ERROR`...), message only.
    pub fn lines(&self, task: &str, level: &str) -> Vec<String> {
        let marker = format!(" {level:<5} [{task}] ");
        self.0
            .logs
            .lines()
            .filter_map(|l| l.split_once(&marker).map(|(_, m)| m.to_string()))
            .collect()
    }

    /// The first line of the last ERROR `task` logged: why it failed.
    pub fn error_of(&self, task: &str) -> String {
        self.lines(task, "ERROR").pop().unwrap_or_default()
    }

    /// The bytes of a `kestra://` file of this run.
    pub fn bytes(&self, uri: &Json) -> Vec<u8> {
        std::fs::read(self.0.file(uri.as_str().expect("a URI"))).expect("stored file")
    }
}

pub async fn run(flow: Flow) -> Ran {
    run_until(flow, None).await
}

/// [`run`], killed (as by Ctrl-C) when `stop` ends.
pub async fn run_until(
    flow: Flow,
    stop: Option<std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send>>>,
) -> Ran {
    Ran(run_flow_opts(
        TASKS,
        &flow.yaml,
        RunOptions {
            environment: flow.environment,
            inputs: flow.inputs,
            stop,
            ..RunOptions::default()
        },
    )
    .await)
}
