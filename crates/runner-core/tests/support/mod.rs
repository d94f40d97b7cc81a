//! Test harness: run a flow written inline, with the core tasks plus the test kit's test-only
//! tasks (`runner_testkit::mock`), which synchronise through signals, never sleeps.

#![allow(dead_code, unreachable_pub)]

use runner_core::{ExecutionBuilder, Level, LogFormat, Registry, State, validate};
use runner_template::Renderer;
use serde_json::Map;
use std::io::Write;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

#[allow(unused_imports)]
pub use runner_testkit::mock::*;

pub fn registry() -> Registry {
    Registry::new(&[
        runner_core::TASKS,
        runner_core_tasks::TASKS,
        runner_testkit::mock::TASKS,
    ])
}

/// A log destination a test can read, and be told about: `lines` is notified on every write.
#[derive(Clone, Default)]
pub struct Buf(pub Arc<Mutex<Vec<u8>>>, pub Arc<Notify>);

impl Buf {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// Waits until the log holds `needle`.
    pub async fn wait_for(&self, needle: &str) {
        runner_testkit::mock::wait_for(&self.1, || self.text().contains(needle), needle)
            .await
            .unwrap_or_else(|e| panic!("{e}: {}", self.text()));
    }
}

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        self.1.notify_waiters();
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub struct Run {
    pub state: State,
    pub record: serde_json::Value,
    pub logs: String,
    pub storage: std::path::PathBuf,
}

/// A run's storage is the test's own temporary folder: it goes with the run.
impl Drop for Run {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.storage);
    }
}

impl Run {
    /// Task runs of `task_id`, in creation order.
    pub fn runs(&self, task_id: &str) -> Vec<serde_json::Value> {
        self.record["taskRunList"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["taskId"] == task_id)
            .cloned()
            .collect()
    }

    pub fn state_of(&self, task_id: &str) -> String {
        let runs = self.runs(task_id);
        assert_eq!(
            runs.len(),
            1,
            "expected one task run of `{task_id}`: {runs:?}"
        );
        runs[0]["state"]["current"].as_str().unwrap().to_string()
    }

    pub fn task_ids(&self) -> Vec<String> {
        self.record["taskRunList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["taskId"].as_str().unwrap().to_string())
            .collect()
    }
}

pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "runner-test-{tag}-{}",
        runner_core::ids::friendly_id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn plan(yaml: &str) -> runner_core::Plan {
    let doc = runner_model::load_str(yaml).unwrap().remove(0);
    let v = validate(&doc, &registry(), &Renderer::new());
    let errors: Vec<String> = v
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.problem.to_string())
        .collect();
    v.plan
        .unwrap_or_else(|| panic!("flow is invalid: {errors:?}"))
}

/// An execution of `yaml` whose logs go to `buf`, ready to run.
pub async fn start(
    yaml: &str,
    inputs: Map<String, serde_json::Value>,
    buf: &Buf,
) -> Result<(runner_core::Execution, std::path::PathBuf), runner_core::StartError> {
    let dir = temp_dir("run");
    let execution = ExecutionBuilder::new(Arc::new(plan(yaml)))
        .storage(&dir)
        .log(Box::new(buf.clone()), LogFormat::Text, Level::Debug)
        .inputs(inputs)
        .start()
        .await;
    match execution {
        Ok(execution) => Ok((execution, dir)),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            Err(e)
        }
    }
}

pub async fn run(yaml: &str) -> Run {
    run_with(yaml, Map::new()).await.unwrap()
}

pub async fn run_with(
    yaml: &str,
    inputs: Map<String, serde_json::Value>,
) -> Result<Run, runner_core::StartError> {
    let buf = Buf::default();
    let (execution, storage) = start(yaml, inputs, &buf).await?;
    let state = execution.run().await;
    Ok(Run {
        state,
        record: execution.record(),
        logs: buf.text(),
        storage,
    })
}

/// A flow with the given tasks (YAML list items, indented by two spaces).
pub fn flow(tasks: &str) -> String {
    format!("id: test\nnamespace: company.team\ntasks:\n{tasks}")
}
