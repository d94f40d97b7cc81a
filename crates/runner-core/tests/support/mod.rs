//! Test harness: run a flow written inline, with the core tasks plus two test-only tasks.

#![allow(dead_code, unreachable_pub)]

use runner_core::context::ExecutionShared;
use runner_core::inputs::resolve_inputs;
use runner_core::log::{Level, LogFormat, LogSink, Masker};
use runner_core::registry::{PropDoc, TaskDescriptor};
use runner_core::task::{BoxFuture, Outputs, RunnableTask, TaskKind};
use runner_core::{Executor, Registry, RunContext, State, Storage, TaskError, validate};
use runner_template::Renderer;
use serde::Deserialize;
use serde_json::{Map, Value as Json};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Fails its first `failures` attempts, then succeeds with output `attempt`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Flaky {
    failures: usize,
    #[serde(skip)]
    calls: AtomicUsize,
}

impl RunnableTask for Flaky {
    fn run<'a>(&'a self, _ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if n <= self.failures {
                return Err(TaskError::failed(format!("flaky failure {n}")));
            }
            let mut out = Outputs::new();
            out.insert("attempt".into(), n.into());
            Ok(out)
        })
    }
}

/// Counts how many gates run at the same time (the maximum is in `GATE_MAX`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Gate {
    millis: u64,
}

pub static GATE_NOW: AtomicUsize = AtomicUsize::new(0);
pub static GATE_MAX: AtomicUsize = AtomicUsize::new(0);
/// Tests that use gates take this lock, so their counts do not mix.
pub static GATE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl RunnableTask for Gate {
    fn run<'a>(&'a self, _ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let now = GATE_NOW.fetch_add(1, Ordering::SeqCst) + 1;
            GATE_MAX.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(self.millis)).await;
            GATE_NOW.fetch_sub(1, Ordering::SeqCst);
            Ok(Outputs::new())
        })
    }
}

/// Writes `chunks` lines to a file it shares with the next task, reporting each; then fails
/// when `fail` is set. Output `uri`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Writer {
    chunks: u64,
    #[serde(default)]
    fail: bool,
}

impl RunnableTask for Writer {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            use tokio::io::AsyncWriteExt;
            let uri = ctx.output_file_uri("written.txt");
            let mut file = ctx.storage().create(&uri).await?;
            let progress = ctx.share_growing_file(&uri);
            for i in 0..self.chunks {
                file.write_all(b"0123456789\n").await.unwrap();
                file.flush().await.unwrap();
                progress.written((i + 1) * 11);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if self.fail {
                return Err(TaskError::failed("the writer failed"));
            }
            let mut out = Outputs::new();
            out.insert("uri".into(), uri.into());
            Ok(out)
        })
    }
}

/// Prepares on the file its predecessor writes when `from` names it; its run reports whether
/// it adopted what was prepared.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Follower {
    from: runner_core::Property<String>,
}

/// What a Follower prepared; dropped without being adopted, it counts in `PIPE_UNDONE`.
struct FollowerPrep {
    from: String,
    seen: u64,
    updates: u64,
    adopted: bool,
}

pub static PIPE_UNDONE: AtomicUsize = AtomicUsize::new(0);
/// Tests that count undone preparations take this lock.
pub static PIPE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl Drop for FollowerPrep {
    fn drop(&mut self) {
        if !self.adopted {
            PIPE_UNDONE.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl RunnableTask for Follower {
    fn can_prepare(&self) -> bool {
        true
    }

    fn prepare<'a>(
        &'a self,
        ctx: &'a RunContext,
        mut file: runner_core::pipe::GrowingFile,
    ) -> BoxFuture<'a, Option<runner_core::pipe::Prepared>> {
        Box::pin(async move {
            ctx.info("a preview never logs");
            let from = ctx.render(&self.from, "from").ok()?;
            if from != file.uri() {
                return None;
            }
            // Held from the start, as an upload's abort guard is: dropping this future
            // midway undoes the work too.
            let mut prep = FollowerPrep {
                from,
                seen: 0,
                updates: 0,
                adopted: false,
            };
            while file.changed().await {
                prep.updates += 1;
            }
            prep.seen = file.written();
            Some(Box::new(prep) as runner_core::pipe::Prepared)
        })
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            let mut out = Outputs::new();
            match ctx.take_prepared::<FollowerPrep>() {
                Some(mut p) => {
                    p.adopted = p.from == from;
                    out.insert("adopted".into(), p.adopted.into());
                    out.insert("seen".into(), p.seen.into());
                    out.insert("updates".into(), p.updates.into());
                }
                None => {
                    out.insert("adopted".into(), false.into());
                }
            }
            Ok(out)
        })
    }
}

const TEST_TASKS: &[TaskDescriptor] = &[
    TaskDescriptor {
        type_name: "test.Writer",
        aliases: &[],
        doc: "test only",
        properties: &[
            PropDoc::value("chunks", "integer", "").fixed(),
            PropDoc::value("fail", "boolean", "").fixed(),
        ],
        example: "",
        flowable: false,
        build: |b| Some(TaskKind::Runnable(Box::new(b.properties::<Writer>()?))),
    },
    TaskDescriptor {
        type_name: "test.Follower",
        aliases: &[],
        doc: "test only",
        properties: &[PropDoc::value("from", "string", "")],
        example: "",
        flowable: false,
        build: |b| Some(TaskKind::Runnable(Box::new(b.properties::<Follower>()?))),
    },
    TaskDescriptor {
        type_name: "test.Flaky",
        aliases: &[],
        doc: "test only",
        properties: &[PropDoc::value("failures", "integer", "").fixed()],
        example: "",
        flowable: false,
        build: |b| Some(TaskKind::Runnable(Box::new(b.properties::<Flaky>()?))),
    },
    TaskDescriptor {
        type_name: "test.Gate",
        aliases: &[],
        doc: "test only",
        properties: &[PropDoc::value("millis", "integer", "").fixed()],
        example: "",
        flowable: false,
        build: |b| Some(TaskKind::Runnable(Box::new(b.properties::<Gate>()?))),
    },
];

pub fn registry() -> Registry {
    Registry::new(&[runner_core::tasks::TASKS, TEST_TASKS])
}

#[derive(Clone, Default)]
pub struct Buf(pub Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub struct Run {
    pub state: State,
    pub record: Json,
    pub logs: String,
    pub storage: std::path::PathBuf,
}

impl Run {
    /// Task runs of `task_id`, in creation order.
    pub fn runs(&self, task_id: &str) -> Vec<Json> {
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

pub async fn run(yaml: &str) -> Run {
    run_with(yaml, Map::new()).await.unwrap()
}

pub async fn run_with(
    yaml: &str,
    inputs: Map<String, Json>,
) -> Result<Run, runner_core::inputs::InputError> {
    let plan = plan(yaml);
    let buf = Buf::default();
    let dir = temp_dir("run");
    let sink = Arc::new(LogSink::new(
        LogFormat::Text,
        Level::Debug,
        Box::new(buf.clone()),
        Arc::new(Masker::default()),
    ));
    let exec = Arc::new(ExecutionShared::new(
        runner_core::ids::friendly_id(),
        plan.flow.clone(),
        Arc::new(Renderer::new()),
        Storage::new(&dir),
        sink,
        Json::Object(Map::new()),
        plan.variables.clone(),
        Json::Object(Map::new()),
    ));
    let resolved = resolve_inputs(&plan.inputs, &inputs, &exec.storage, &exec.prefix).await?;
    exec.set_inputs(resolved.values);
    let state = Executor::new(exec.clone()).run(&plan).await;
    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    Ok(Run {
        state,
        record: exec.record(),
        logs,
        storage: dir,
    })
}

/// A flow with the given tasks (YAML list items, indented by two spaces).
pub fn flow(tasks: &str) -> String {
    format!("id: test\nnamespace: company.team\ntasks:\n{tasks}")
}
