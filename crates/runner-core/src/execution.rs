//! Starting an execution: the one path from a validated [`Plan`] to a finished, recorded run,
//! used by `runner run`, the test kit and the engine's tests alike.
//!
//! ```ignore
//! let execution = ExecutionBuilder::new(plan)
//!     .storage(".runner/storage")
//!     .environment(Environment::load(std::env::vars(), &env_files)?)
//!     .log(Box::new(std::io::stderr()), LogFormat::Text, Level::Info)
//!     .inputs(given)
//!     .start()
//!     .await?;                       // inputs checked, nothing run yet
//! let state = execution.run_until(ctrl_c).await;
//! execution.write_record()?;
//! ```

use crate::context::{ExecutionParts, ExecutionShared};
use crate::environment::Environment;
use crate::executor::Executor;
use crate::fixture::TaskFixture;
use crate::inputs::{InputError, resolve_inputs};
use crate::log::{Level, LogEvent, LogFormat, LogSink};
use crate::plan::Plan;
use crate::state::State;
use crate::storage::{Storage, StorageFiles};
use runner_secrets::Masker;
use runner_template::{Hooks, Limits, Renderer};
use serde_json::{Map, Value as Json};
use std::collections::HashMap;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Record fields that are structure, not data: ids runner made, states, dates, and names
/// from the flow file. A secret never reaches them, and masking them would break the record.
pub(crate) const RECORD_STRUCTURE: &[&str] = &[
    "id",
    "executionId",
    "parentTaskRunId",
    "taskId",
    "namespace",
    "flowId",
    "flowRevision",
    "state",
    "iteration",
];

/// How long a killed run may take to be dropped.
const DROP_LIMIT: Duration = Duration::from_secs(10);

/// How long an ended execution waits for its cleanup (aborting uploads, cancelling queries).
const CLEANUP_LIMIT: Duration = Duration::from_secs(15);

/// How much one run may make: a flow is untrusted code, and a ForEach of subflows that call
/// themselves, or ForEach loops nested twenty deep, would otherwise grow without end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunLimits {
    /// Task runs in one execution (a ForEach's iterations count, each one).
    pub max_task_runs: usize,
    /// Executions one run starts, the first included (every subflow counts, at any depth).
    pub max_executions: usize,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            max_task_runs: 200_000,
            max_executions: 1_000,
        }
    }
}

/// Gathers what an execution needs; [`Self::start`] checks the inputs and makes it.
pub struct ExecutionBuilder {
    plan: Arc<Plan>,
    id: Option<String>,
    storage: PathBuf,
    environment: Environment,
    log: Option<(Box<dyn Write + Send>, LogFormat, Level)>,
    inputs: Map<String, Json>,
    limits: Limits,
    work_root: PathBuf,
    namespace_files: crate::namespace_files::NamespaceFolders,
    cache_dir: PathBuf,
    services: crate::services::Services,
    http: Option<Arc<dyn runner_template::HttpAccess>>,
    kv: Option<Arc<dyn crate::kv::KvStore>>,
    flows: Option<Arc<dyn FlowSource>>,
    trigger: Option<Json>,
    registry: Option<Arc<crate::Registry>>,
    test: Option<crate::fixture::TestSetup>,
    progress: Option<Arc<dyn crate::progress::ProgressSink>>,
    run_limits: RunLimits,
    prior: Option<(crate::resume::Prior, crate::resume::Continuation)>,
}

impl ExecutionBuilder {
    /// An execution of `plan` with no secrets, no inputs, logs dropped, and storage in
    /// `.runner/storage`.
    pub fn new(plan: Arc<Plan>) -> Self {
        ExecutionBuilder {
            plan,
            id: None,
            storage: PathBuf::from(".runner/storage"),
            environment: Environment::default(),
            log: None,
            inputs: Map::new(),
            limits: Limits::default(),
            http: None,
            kv: None,
            flows: None,
            trigger: None,
            registry: None,
            test: None,
            progress: None,
            run_limits: RunLimits::default(),
            prior: None,
            work_root: std::env::temp_dir(),
            namespace_files: Default::default(),
            cache_dir: PathBuf::from(".runner/cache"),
            services: Default::default(),
        }
    }

    /// Where working directories are made (default: the system's temporary folder).
    pub fn work_root(mut self, dir: impl Into<PathBuf>) -> Self {
        self.work_root = dir.into();
        self
    }

    /// The folder holding the namespace files of `namespace` (`namespaceFiles`, `nsfile://`).
    pub fn namespace_files(
        mut self,
        namespace: impl Into<String>,
        dir: impl Into<PathBuf>,
    ) -> Self {
        self.namespace_files
            .folders
            .insert(namespace.into(), dir.into());
        self
    }

    /// Where files flows upload as namespace files are kept (`namespace.UploadFiles`), one
    /// folder per namespace; none: uploads are refused.
    pub fn namespace_uploads(mut self, dir: impl Into<PathBuf>) -> Self {
        self.namespace_files.uploads = Some(dir.into());
        self
    }

    /// Where tasks keep what outlives an execution (default `.runner/cache`).
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = dir.into();
        self
    }

    /// A service for task families, found by its type (`RunContext::service`); one value
    /// per type, a later one replacing an earlier. Subflows get the same services.
    pub fn service<T: std::any::Any + Send + Sync>(mut self, value: T) -> Self {
        self.services.insert(value);
        self
    }

    /// Replaces every service with `services` (a test harness that gathered them).
    pub fn services(mut self, services: crate::services::Services) -> Self {
        self.services = services;
        self
    }

    /// Where the `http()` expression function sends its requests (none: it says so).
    pub fn http(mut self, http: Arc<dyn runner_template::HttpAccess>) -> Self {
        self.http = Some(http);
        self
    }

    /// The KV store the kv tasks and `kv()` use (none: they say it is not open).
    pub fn kv(mut self, store: Arc<dyn crate::kv::KvStore>) -> Self {
        self.kv = Some(store);
        self
    }

    /// The task types a TemplatedTask may build at run time (none: it says so).
    pub fn registry(mut self, registry: Arc<crate::Registry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// The `trigger` variable, as the flow's trigger would give it (a manual run has none).
    pub fn trigger(mut self, trigger: Json) -> Self {
        self.trigger = Some(trigger);
        self
    }

    /// Where Subflow tasks find the flows they call (none: they say so).
    pub fn flows(mut self, flows: Arc<dyn FlowSource>) -> Self {
        self.flows = Some(flows);
        self
    }

    /// How many task runs an execution, and executions the run, may make.
    pub fn run_limits(mut self, limits: RunLimits) -> Self {
        self.run_limits = limits;
        self
    }

    /// How much each expression of the run may do, and where jq runs.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Where `kestra://` files and the record are kept.
    pub fn storage(mut self, dir: impl Into<PathBuf>) -> Self {
        self.storage = dir.into();
        self
    }

    /// The secrets and variables the run can read.
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    /// Where log lines go, in which format, from which level; every line is masked.
    pub fn log(mut self, out: Box<dyn Write + Send>, format: LogFormat, min_level: Level) -> Self {
        self.log = Some((out, format, min_level));
        self
    }

    /// The input values given for this run (checked against the flow's inputs by `start`).
    pub fn inputs(mut self, given: Map<String, Json>) -> Self {
        self.inputs = given;
        self
    }

    /// A test case's fixtures (`runner test`): task runs with a fixture do not run, `files`
    /// are written into the execution's storage (the `files` variable names their URIs), and
    /// the given input values are rendered first (they may use `files` and `secret()`).
    pub fn test_fixtures(mut self, tasks: Vec<TaskFixture>, files: Vec<(String, String)>) -> Self {
        self.test = Some(crate::fixture::TestSetup { tasks, files });
        self
    }

    /// Where tasks' progress is drawn (a terminal view); none: tasks report nothing.
    pub fn progress(mut self, sink: Arc<dyn crate::progress::ProgressSink>) -> Self {
        self.progress = Some(sink);
        self
    }

    /// A fixed execution id instead of a new random one.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Goes on with the recorded execution `prior` (its id, inputs and the task runs that
    /// ended well) as `how` says, instead of starting a new one; `prior` must be an execution
    /// of this builder's flow (see [`crate::resume`]).
    pub fn continuing(
        mut self,
        prior: crate::resume::Prior,
        how: crate::resume::Continuation,
    ) -> Self {
        self.id = Some(prior.id.clone());
        self.prior = Some((prior, how));
        self
    }

    /// Checks and types the inputs (FILE inputs are copied into storage) and prepares the
    /// execution. Nothing has run yet.
    pub async fn start(self) -> Result<Execution, StartError> {
        check_writable(&self.storage).map_err(|source| StartError::Storage {
            path: self.storage.clone(),
            source,
        })?;
        let masker = Arc::new(Masker::default());
        let undecodable = self.environment.mask_all(&masker);
        let (out, format, min_level) = self.log.unwrap_or_else(|| {
            (
                Box::new(std::io::sink()) as Box<dyn Write + Send>,
                LogFormat::Text,
                Level::Error,
            )
        });
        let log = Arc::new(LogSink::new(format, min_level, out, masker.clone()));
        for problem in &undecodable {
            log.emit(LogEvent {
                level: Level::Warn,
                task_id: None,
                taskrun_id: None,
                message: problem,
            });
        }
        let Environment {
            secrets,
            variables,
            envs,
        } = self.environment;
        let launch = Launch {
            storage: self.storage,
            secrets: Arc::new(secrets),
            variables,
            envs,
            masker,
            log,
            limits: self.limits,
            work_root: self.work_root,
            namespace_files: self.namespace_files,
            cache_dir: self.cache_dir,
            services: self.services,
            http: self.http,
            kv: self.kv,
            flows: self.flows,
            registry: self.registry,
            progress: self.progress,
            run_limits: self.run_limits,
            executions: Arc::new(std::sync::atomic::AtomicUsize::new(1)),
            depth: 0,
            ancestors: Vec::new(),
        };
        launch
            .start(
                self.plan,
                self.id,
                &self.inputs,
                Map::new(),
                self.trigger,
                Setup {
                    test: self.test,
                    prior: self.prior,
                },
            )
            .await
    }
}

/// Where flows called as subflows are found (the flows folder).
pub trait FlowSource: Send + Sync {
    /// The validated flow `namespace.flow_id`, or Kestra's message: `Unable to find flow
    /// 'ns'.'id' with revision '0'`, `Cannot execute an invalid flow: ...`.
    fn find(&self, namespace: &str, flow_id: &str) -> Result<Arc<Plan>, String>;
}

/// What an execution starts from beyond its plan and inputs: a test case's fixtures, or the
/// recorded execution it goes on with.
#[derive(Default)]
pub(crate) struct Setup {
    pub(crate) test: Option<crate::fixture::TestSetup>,
    pub(crate) prior: Option<(crate::resume::Prior, crate::resume::Continuation)>,
}

/// What every execution of a run is started with, the parent's and its subflows' alike:
/// they share the storage, the secrets and masker, the log and the stores.
#[derive(Clone)]
pub(crate) struct Launch {
    /// Where tasks' progress is drawn, for this execution and its subflows.
    pub(crate) progress: Option<Arc<dyn crate::progress::ProgressSink>>,
    pub(crate) storage: PathBuf,
    pub(crate) secrets: Arc<runner_secrets::SecretStore>,
    pub(crate) variables: std::collections::BTreeMap<String, String>,
    pub(crate) envs: Map<String, Json>,
    pub(crate) masker: Arc<Masker>,
    pub(crate) log: Arc<LogSink>,
    pub(crate) limits: Limits,
    pub(crate) work_root: PathBuf,
    pub(crate) namespace_files: crate::namespace_files::NamespaceFolders,
    pub(crate) cache_dir: PathBuf,
    pub(crate) services: crate::services::Services,
    pub(crate) http: Option<Arc<dyn runner_template::HttpAccess>>,
    pub(crate) kv: Option<Arc<dyn crate::kv::KvStore>>,
    pub(crate) flows: Option<Arc<dyn FlowSource>>,
    /// The task types of the run, for tasks built at run time (TemplatedTask).
    pub(crate) registry: Option<Arc<crate::Registry>>,
    /// How many subflow calls lead to this execution (0 for the one the user started).
    pub(crate) depth: usize,
    pub(crate) run_limits: RunLimits,
    /// Executions this run has started so far, subflows at any depth included.
    pub(crate) executions: Arc<std::sync::atomic::AtomicUsize>,
    /// The executions that led to this one: their files are readable here.
    pub(crate) ancestors: Vec<crate::storage::ExecutionPrefix>,
}

impl Launch {
    /// Checks and types the inputs and prepares an execution of `plan`.
    pub(crate) async fn start(
        self,
        plan: Arc<Plan>,
        id: Option<String>,
        inputs: &Map<String, Json>,
        extra_labels: Map<String, Json>,
        trigger: Option<Json>,
        setup: Setup,
    ) -> Result<Execution, StartError> {
        let Setup { test, prior } = setup;
        if let Some((p, how)) = &prior {
            let (namespace, flow_id) = p.flow();
            if (namespace, flow_id) != (plan.flow.namespace.as_str(), plan.flow.id.as_str()) {
                return Err(StartError::Continue(format!(
                    "execution {} is of flow {namespace}.{flow_id}, not {}.{}",
                    p.id, plan.flow.namespace, plan.flow.id
                )));
            }
            if let Some(why) = p.refusal(how) {
                return Err(StartError::Continue(why));
            }
            // The record masks a SECRET input: going on would hand the tasks the mask.
            if let Some(secret) = plan.inputs.iter().find(|i| i.type_name == "SECRET") {
                return Err(StartError::Continue(format!(
                    "input `{}` is SECRET and the record does not keep its value, so execution {} cannot go on: run the flow again",
                    secret.id, p.id
                )));
            }
        }
        let masker = self.masker.clone();
        let log = self.log.clone();
        let id = id.unwrap_or_else(crate::ids::friendly_id);
        let error_logs = Arc::new(crate::log::ErrorLogs::new(
            &plan.flow.namespace,
            &plan.flow.id,
            &id,
        ));
        let renderer = Arc::new(Renderer::with_hooks(Hooks {
            secrets: Some(self.secrets.clone()),
            masker: Some(masker.clone()),
            files: Some(Arc::new(StorageFiles(
                Storage::new(&self.storage),
                self.ancestors.clone(),
                self.namespace_files.clone(),
            ))),
            http: self.http.clone(),
            kv: self
                .kv
                .clone()
                .map(|s| s as Arc<dyn runner_template::KvRead>),
            error_logs: Some(error_logs.clone()),
            limits: self.limits.clone(),
        }));
        let storage = Storage::new(&self.storage);
        let prefix = crate::storage::ExecutionPrefix::new(&plan.flow.namespace, &plan.flow.id, &id);
        // What a start that fails writes (fixture and FILE input copies) goes with it: a
        // folder with no record would be listed forever as an execution that never ended.
        let folder = storage.path(&prefix.root()).ok();
        let unstarted = RemoveUnless::new(folder.filter(|f| !f.exists()));
        let mut files = None;
        let rendered_inputs;
        let mut inputs = inputs;
        // A test case's files are written first; its inputs may name them, and secrets.
        if let Some(test) = &test {
            let written = write_fixture_files(&storage, &prefix, &test.files)
                .await
                .map_err(StartError::Fixture)?;
            let context = runner_template::Context::from_vars([(
                "files".to_string(),
                runner_template::Vars::from_json(&written),
            )]);
            let mut given = Map::new();
            for (name, value) in inputs {
                let value = renderer.render_json(value, &context).map_err(|e| {
                    StartError::Fixture(
                        masker.mask(&format!("fixtures.inputs.{name}: {}", e.message())),
                    )
                })?;
                given.insert(name.clone(), value);
            }
            rendered_inputs = given;
            inputs = &rendered_inputs;
            files = Some(written);
        }
        let base = serde_json::json!({
            "flow": {"id": plan.flow.id, "namespace": plan.flow.namespace},
            "execution": {"id": id},
        });
        let base = base.as_object().cloned().unwrap_or_default();
        let input_error = |error: InputError| StartError::Inputs {
            text: masker.mask(&error.to_string()),
            error,
        };
        let (resolved, resumed) = match &prior {
            None => (
                resolve_inputs(&plan.inputs, inputs, &storage, &prefix, &renderer, &base)
                    .await
                    .map_err(input_error)?,
                HashMap::new(),
            ),
            Some((p, how)) => {
                let mut resumed = HashMap::new();
                if let crate::resume::Continuation::Resume(given) = how {
                    // Each waiting Pause takes the answers it declares (several may wait: in
                    // parallel branches, in a ForEach); an answer none declares is an error.
                    let mut waiting: Vec<&str> = p.paused_tasks();
                    waiting.sort_unstable();
                    waiting.dedup();
                    let declared: Vec<String> = waiting
                        .iter()
                        .filter_map(|t| plan.on_resume.get(*t))
                        .flatten()
                        .map(|d| d.id.clone())
                        .collect();
                    // A Subflow that waits passes the answers to its child, which checks them.
                    let delegated = p.paused_subflows();
                    if let Some(id) = given.keys().find(|k| !delegated && !declared.contains(k)) {
                        return Err(StartError::Continue(if declared.is_empty() {
                            format!(
                                "`{id}` is no onResume input: the waiting Pause ({}) takes none",
                                waiting.join(", ")
                            )
                        } else {
                            format!(
                                "`{id}` is no onResume input of the waiting Pause ({}): it takes {}",
                                waiting.join(", "),
                                declared.join(", ")
                            )
                        }));
                    }
                    for task in waiting {
                        // Only a Pause has `onResume`; its waiting parents are PAUSED too.
                        let Some(defs) = plan.on_resume.get(task) else {
                            continue;
                        };
                        let mine: Map<String, Json> = given
                            .iter()
                            .filter(|(k, _)| defs.iter().any(|d| &d.id == *k))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect();
                        let answer =
                            resolve_inputs(defs, &mine, &storage, &prefix, &renderer, &base)
                                .await
                                .map_err(input_error)?;
                        // A SECRET answer is masked like a SECRET input.
                        for (_, value) in &answer.secrets {
                            masker.add(value);
                        }
                        resumed.insert(task.to_string(), answer.values);
                    }
                }
                (
                    crate::inputs::ResolvedInputs {
                        values: p.inputs.clone(),
                        secrets: Vec::new(),
                    },
                    resumed,
                )
            }
        };
        unstarted.keep();
        let log = Arc::new(
            log.with_file(
                open_log(&storage, &prefix)
                    .map_err(|(path, source)| StartError::Storage { path, source })?,
            )
            .with_error_logs(error_logs),
        );
        for (id, value) in &resolved.secrets {
            if masker.add(value) == runner_secrets::Added::TooShort {
                log.emit(LogEvent {
                    level: Level::Warn,
                    task_id: None,
                    taskrun_id: None,
                    message: &format!(
                        "input `{id}` holds fewer than {} characters: it is not masked in logs and records",
                        runner_secrets::MIN_MASKED_LENGTH
                    ),
                });
            }
        }
        let mut labels: Map<String, Json> = match &prior {
            Some((p, _)) => p.labels.clone(),
            None => extra_labels,
        };
        for l in &plan.labels {
            labels
                .entry(l.key.clone())
                .or_insert_with(|| Json::String(l.value.clone()));
        }
        let trigger = match &prior {
            Some((p, _)) => p.trigger.clone(),
            None => trigger,
        };
        let handlers = plan.handlers.clone();
        let mut shared = ExecutionShared::new(ExecutionParts {
            id,
            flow: plan.flow.clone(),
            renderer,
            storage,
            log,
            labels: Json::Object(labels),
            vars: plan.variables.clone(),
            envs: Json::Object(self.envs.clone()),
            environment: self.variables.clone(),
            inputs: resolved.values,
            work_root: self.work_root.clone(),
            namespace_files: self.namespace_files.clone(),
            cache_dir: self.cache_dir.clone(),
            services: self.services.clone(),
            kv: self.kv.clone(),
            trigger,
            fixtures: test.map(|t| t.tasks).unwrap_or_default(),
            files,
            launch: Arc::new(self),
        });
        shared.on_resume = plan.on_resume.clone();
        if let Some((p, how)) = prior {
            shared.carry_on(p, &how, &handlers, resumed);
        }
        let shared = Arc::new(shared);
        Ok(Execution {
            plan,
            shared,
            masker,
        })
    }
}

/// An execution ready to run, then its record.
pub struct Execution {
    plan: Arc<Plan>,
    pub(crate) shared: Arc<ExecutionShared>,
    masker: Arc<Masker>,
}

impl Execution {
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// Runs the flow to its final state, then waits for its cleanup.
    pub async fn run(&self) -> State {
        self.run_until(std::future::pending()).await
    }

    /// Runs the flow until it ends or `stop` resolves (a signal, a test's deadline). On stop,
    /// running tasks are dropped (their cleanup aborts uploads, cancels queries) and every
    /// unfinished task run and the execution are KILLED; `stop`'s reason is logged. Either
    /// way the execution's cleanup gets to finish before this returns.
    pub async fn run_until(&self, stop: impl Future<Output = String>) -> State {
        // The run is a task of its own: a render busy in synchronous code (bounded by its
        // fuel) cannot delay the reaction to `stop`, which is polled here.
        let (shared, plan) = (self.shared.clone(), self.plan.clone());
        let live = tokio::spawn(live_record(self.shared.clone(), self.masker.clone()));
        let mut run = tokio::spawn(async move { Executor::new(shared).run(&plan).await });
        let mut stopped: Option<String> = None;
        const EXIT_KILLED: &str = "An Exit task ended the execution with state KILLED";
        let stop = async {
            tokio::select! {
                reason = stop => reason,
                () = self.shared.kill_request.notified() => EXIT_KILLED.to_string(),
            }
        };
        let state = tokio::select! {
            s = &mut run => {
                let state = s.unwrap_or_else(|_| {
                    self.shared.log(
                        Level::Error,
                        None,
                        "The execution stopped on an internal error (a bug in runner: please report it)",
                    );
                    State::Failed
                });
                // An Exit KILLED whose run ended before the kill was seen (its siblings already
                // stopped): the same outcome either way, subflows still running included.
                if self.shared.exited() == Some(State::Killed) {
                    self.shared.log(
                        Level::Warn,
                        None,
                        &format!("{EXIT_KILLED}: the execution was killed"),
                    );
                    stopped = Some(EXIT_KILLED.to_string());
                }
                state
            }
            reason = stop => {
                // Dropping the run is what hands its cleanup (aborting uploads, cancelling
                // queries) to the execution: wait until it is dropped. A render busy in
                // synchronous code delays that by at most its fuel.
                self.shared.killed.store(true, std::sync::atomic::Ordering::SeqCst);
                run.abort();
                if tokio::time::timeout(DROP_LIMIT, &mut run).await.is_err() {
                    self.shared.log(
                        Level::Warn,
                        None,
                        "A task did not stop within 10s of being killed",
                    );
                }
                Executor::new(self.shared.clone()).kill();
                self.shared.log(
                    Level::Warn,
                    None,
                    &format!("{reason}: the execution was killed"),
                );
                stopped = Some(reason);
                State::Killed
            }
        };
        // Subflows started without `wait` run on; the execution (and the process) waits for
        // them, and a killed parent takes them with it.
        crate::subflow::wait_for_children(&self.shared, stopped.as_deref()).await;
        // Awaited after the abort, so no write of a running state lands after the final one.
        live.abort();
        let _ = live.await;
        if !self.shared.cleanup.wait(CLEANUP_LIMIT).await {
            self.shared.log(
                Level::Warn,
                None,
                "Some cleanup (aborting uploads, cancelling queries) did not finish within 15s",
            );
        }
        state
    }

    /// The execution as Kestra's API returns it, masked string by string (so it stays valid
    /// JSON); its structure (ids, states, dates) is never masked. Built whole: for a large
    /// execution, [`Self::write_record`] and [`Self::print_record`] write it without that.
    pub fn record(&self) -> Json {
        self.shared.record(&self.masker)
    }

    /// A record as pretty JSON, as the record file holds it.
    pub fn record_text(record: &Json) -> String {
        serde_json::to_string_pretty(record).unwrap_or_default()
    }

    /// Writes the record, masked, to `.../executions/{id}/execution.json` (through a temporary
    /// file, so a reader never sees half of one); returns its path. Memory stays flat: each
    /// task run is written from what it ended as.
    pub fn write_record(&self) -> Result<PathBuf, RecordError> {
        let uri = self.shared.prefix.record();
        let path = self
            .shared
            .storage
            .path(&uri)
            .map_err(|e| RecordError::Path(e.to_string()))?;
        let io = |source| RecordError::Write {
            path: path.clone(),
            source,
        };
        write_record_file(&self.shared, &self.masker, &path).map_err(io)?;
        Ok(path)
    }

    /// Writes the record, masked, as `--json` prints it (the record file's text).
    pub fn print_record(&self, out: &mut dyn Write) -> std::io::Result<()> {
        self.shared.write_record(&self.masker, out)
    }

    /// What the summary shows: each task run, in order.
    pub fn task_runs(&self) -> Vec<crate::state::TaskRunSummary> {
        self.shared.summaries()
    }

    /// The execution's state as it stands and how long it took (Kestra's ISO duration, once
    /// it ended).
    pub fn state(&self) -> (State, Option<String>) {
        let st = self.shared.state();
        (st.record.current, st.record.duration.clone())
    }

    /// The namespace and id of the flow this is an execution of.
    pub fn flow(&self) -> (&str, &str) {
        (&self.shared.flow.namespace, &self.shared.flow.id)
    }

    /// The flow's outputs (once rendered) and the task outputs (`outputs.<task>[.<value>]`),
    /// masked: what a Subflow gives back to its parent.
    pub fn outputs(&self) -> (Option<Json>, Json) {
        let st = self.shared.state();
        let mut flow = st.flow_outputs.clone();
        let mut tasks = (*st.outputs).clone();
        drop(st);
        if let Some(f) = flow.as_mut() {
            self.masker.mask_json_in_place(f, RECORD_STRUCTURE);
        }
        self.masker.mask_json_in_place(&mut tasks, RECORD_STRUCTURE);
        (flow, tasks)
    }

    /// Renders `value` with the variables the execution ended with (a test case's
    /// assertions): a string that is one expression keeps its type. Errors are masked.
    pub fn render_final(&self, value: &Json) -> Result<Json, String> {
        let ctx = runner_template::Context::from_vars(self.shared.base_variables());
        let rendered = match value {
            Json::String(s) => self.shared.renderer.render_typed(s, &ctx),
            other => self.shared.renderer.render_json(other, &ctx),
        };
        rendered.map_err(|e| self.masker.mask(&e.message()))
    }

    /// Masks `text` with every secret this execution knows.
    pub fn mask(&self, text: &str) -> String {
        self.masker.mask(text)
    }

    /// The execution's folder in storage (its record, log and files).
    pub fn folder(&self) -> PathBuf {
        self.shared
            .storage
            .path(&self.shared.prefix.root())
            .unwrap_or_else(|_| self.shared.storage.root().to_path_buf())
    }

    /// The storage directory's path of a `kestra:///` URI of this execution.
    pub fn storage_root(&self) -> &Path {
        self.shared.storage.root()
    }
}

/// Why an execution could not start; nothing ran.
#[derive(Debug)]
pub enum StartError {
    /// An input is missing or wrong. `text` is the message masked: a given value may hold a
    /// secret.
    Inputs { error: InputError, text: String },
    /// The storage directory cannot be written, so no task could keep a file or the record.
    Storage {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A test fixture (a file or an input) could not be prepared; the text is masked.
    Fixture(String),
    /// A recorded execution cannot go on (resume, restart) as asked.
    Continue(String),
}

/// A folder removed when dropped, unless kept.
struct RemoveUnless(Option<std::path::PathBuf>);

impl RemoveUnless {
    fn new(folder: Option<std::path::PathBuf>) -> Self {
        RemoveUnless(folder)
    }

    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveUnless {
    fn drop(&mut self) {
        if let Some(folder) = self.0.take() {
            let _ = std::fs::remove_dir_all(folder);
        }
    }
}

impl StartError {
    /// The error as one line for a person at a terminal: Kestra's input wording (kept in JSON
    /// output) quotes the value twice and fences the cause in markdown.
    pub fn plain(&self) -> String {
        let text = self.to_string();
        let StartError::Inputs { .. } = self else {
            return text;
        };
        let fence = " with errors:\n```\n";
        let Some((head, rest)) = text.split_once(fence) else {
            return text;
        };
        let why = rest.split_once("\n```").map_or(rest, |(why, _)| why);
        let head = head.replacen("`, Expected `", "`: expected `", 1);
        format!("{head}: {}", why.trim())
    }
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Inputs { text, .. } => f.write_str(text),
            StartError::Storage { path, source } => write!(
                f,
                "the storage directory `{}` cannot be written ({source}): give a writable one with --storage or RUNNER_STORAGE",
                path.display()
            ),
            StartError::Fixture(text) | StartError::Continue(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Inputs { error, .. } => Some(error),
            StartError::Storage { source, .. } => Some(source),
            StartError::Fixture(_) | StartError::Continue(_) => None,
        }
    }
}

/// Writes a test case's fixture files under the execution's `files/` folder; the `files`
/// variable: each name to its `kestra://` URI.
async fn write_fixture_files(
    storage: &Storage,
    prefix: &crate::storage::ExecutionPrefix,
    files: &[(String, String)],
) -> Result<Json, String> {
    use tokio::io::AsyncWriteExt;
    let mut out = Map::new();
    for (name, content) in files {
        crate::fixture::check_file_name(name)?;
        let uri = format!("{}/files/{name}", prefix.root());
        let fail = |e: &dyn std::fmt::Display| format!("fixture file `{name}`: {e}");
        let mut f = storage.create(&uri).await.map_err(|e| fail(&e))?;
        f.write_all(content.as_bytes())
            .await
            .map_err(|e| fail(&e))?;
        f.flush().await.map_err(|e| fail(&e))?;
        out.insert(name.clone(), Json::String(uri));
    }
    Ok(Json::Object(out))
}

/// How often a running execution's record is rewritten, at least: `runner ui` shows it live.
const LIVE_RECORD_EVERY: Duration = Duration::from_millis(250);

/// Rewrites the record while the execution runs, when it changed (a digest of its text is
/// compared, so a large record is never held in memory). A large record takes longer to write;
/// the pause grows with it so the run never spends more than a fifth of a core on it.
async fn live_record(shared: Arc<ExecutionShared>, masker: Arc<Masker>) {
    let Ok(path) = shared.storage.path(&shared.prefix.record()) else {
        return;
    };
    let mut last = None;
    let mut pause = LIVE_RECORD_EVERY;
    loop {
        // A run shorter than the first pause writes only its final record: a cold start
        // pays for no record it does not need.
        tokio::time::sleep(pause).await;
        let began = std::time::Instant::now();
        let mut digest = Digest::default();
        if shared.write_record(&masker, &mut digest).is_ok() && Some(digest.0) != last {
            // Not written is not fatal: the final record says how the run ended.
            let _ = write_record_file(&shared, &masker, &path);
            last = Some(digest.0);
        }
        pause = LIVE_RECORD_EVERY.max(began.elapsed() * 4);
    }
}

/// A 64-bit digest of what is written to it (FNV-1a): enough to tell a record changed.
struct Digest(u64);

impl Default for Digest {
    fn default() -> Self {
        Digest(0xcbf2_9ce4_8422_2325)
    }
}

impl Write for Digest {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for b in buf {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes the record to a file beside `path`, then renames it: a reader sees the old record
/// or the new one, never half of one.
fn write_record_file(
    shared: &ExecutionShared,
    masker: &Masker,
    path: &Path,
) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temporary = path.with_extension("json.writing");
    let mut file =
        std::io::BufWriter::with_capacity(256 * 1024, std::fs::File::create(&temporary)?);
    shared.write_record(masker, &mut file)?;
    file.into_inner().map_err(|e| e.into_error())?;
    std::fs::rename(&temporary, path)
}

/// The execution's log file in storage, made with its folder.
fn open_log(
    storage: &Storage,
    prefix: &crate::storage::ExecutionPrefix,
) -> Result<std::fs::File, (PathBuf, std::io::Error)> {
    let path = storage.path(&prefix.log()).map_err(|e| {
        (
            PathBuf::from(prefix.log()),
            std::io::Error::other(e.to_string()),
        )
    })?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| (dir.to_path_buf(), e))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| (path, e))
}

/// Creates `dir` if needed and writes and removes a probe file in it.
fn check_writable(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(format!(".runner-probe-{}", crate::ids::friendly_id()));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(&probe)
}

/// Why the record could not be written.
#[derive(Debug)]
pub enum RecordError {
    Path(String),
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordError::Path(e) => write!(f, "cannot place the execution record: {e}"),
            RecordError::Write { path, source } => write!(
                f,
                "cannot write the execution record to {}: {source}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for RecordError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecordError::Write { source, .. } => Some(source),
            RecordError::Path(_) => None,
        }
    }
}
