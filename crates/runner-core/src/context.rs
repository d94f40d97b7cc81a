//! The run context: a task's only door to the world (rendering, storage, logs).

use crate::cleanup::Cleanup;
use crate::error::TaskError;
use crate::log::{Level, LogEvent, LogSink};
use crate::pipe::{FileProgress, GrowingFile, Prepared};
use crate::plan::FlowInfo;
use crate::property::{Property, convert};
use crate::resume::{Continuation, Prior, PriorKey, PriorRun};
use crate::state::{RecordNames, StateRecord, TaskRun, TaskRunList, TaskRunSummary};
use crate::storage::{ExecutionPrefix, Storage, StorageError};
use jiff::Timestamp;
use runner_template::{Context, Renderer, Vars};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value as Json, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{oneshot, watch};

/// What one execution shares between its task runs.
pub(crate) struct ExecutionShared {
    pub(crate) id: String,
    pub(crate) flow: FlowInfo,
    pub(crate) start_date: Timestamp,
    pub(crate) prefix: ExecutionPrefix,
    pub(crate) renderer: Arc<Renderer>,
    pub(crate) storage: Storage,
    pub(crate) log: Arc<LogSink>,
    pub(crate) labels: Json,
    /// The variables of the process and of `--env-file`s; tasks read them through
    /// [`RunContext::env_var`] (the AWS credential chain, endpoints...).
    pub(crate) environment: std::collections::BTreeMap<String, String>,
    /// `flow`, `vars`, `labels`, `envs`: converted once for rendering.
    fixed_vars: Vec<(String, Vars)>,
    /// The flow's `variables`, as written.
    pub(crate) initial_vars: Json,
    state: Mutex<ExecutionState>,
    pub(crate) cleanup: Cleanup,
    /// Set when the execution is killed: no task starts after it.
    pub(crate) killed: Arc<std::sync::atomic::AtomicBool>,
    /// Set once the execution reached its most task runs (said once, not per refused task).
    pub(crate) task_runs_exceeded: std::sync::atomic::AtomicBool,
    /// A test case's task fixtures (`runner test`).
    pub(crate) fixtures: Vec<crate::fixture::TaskFixture>,
    /// Woken by an Exit task with state KILLED: the run stops as on Ctrl-C.
    pub(crate) kill_request: tokio::sync::Notify,
    /// Where task runs' working directories are made.
    pub(crate) work_root: std::path::PathBuf,
    /// The folder of each namespace's files.
    pub(crate) namespace_files: crate::namespace_files::NamespaceFolders,
    /// Where tasks keep what outlives an execution (Python environments).
    pub(crate) cache_dir: std::path::PathBuf,
    /// The run's services for task families, by type.
    pub(crate) services: crate::services::Services,
    /// The KV store, when the run has one.
    pub(crate) kv: Option<Arc<dyn crate::kv::KvStore>>,
    /// How this execution was started, to start its subflows the same way.
    pub(crate) launch: Arc<crate::execution::Launch>,
    /// `trigger` of an execution a Subflow started (shown in its record).
    pub(crate) trigger: Option<Json>,
    /// Subflow executions still running; the execution ends only after them.
    pub(crate) children: Mutex<Vec<crate::subflow::ChildRun>>,
    /// Going on from a record: its task runs the executor meets again (see [`crate::resume`]).
    pub(crate) prior_runs: Mutex<HashMap<PriorKey, PriorRun>>,
    /// The `onResume` answer of each Pause that waited, by task id.
    pub(crate) resumed: HashMap<String, Json>,
    /// The resume's answers as given: a subflow that paused gets them for its own Pause.
    pub(crate) resume_given: Map<String, Json>,
    /// Set when a Pause waits for a resume: no task starts after it.
    pub(crate) paused: std::sync::atomic::AtomicBool,
    /// Each Pause's `onResume` inputs, by task id (the plan's).
    pub(crate) on_resume: HashMap<String, Vec<crate::inputs::InputSpec>>,
}

/// What an execution is made of, gathered by [`crate::ExecutionBuilder`].
pub(crate) struct ExecutionParts {
    pub(crate) id: String,
    pub(crate) flow: FlowInfo,
    pub(crate) renderer: Arc<Renderer>,
    pub(crate) storage: Storage,
    pub(crate) log: Arc<LogSink>,
    pub(crate) labels: Json,
    pub(crate) vars: Json,
    /// `envs.x` for every `ENV_X` the caller passed in; tasks never read the environment.
    pub(crate) envs: Json,
    pub(crate) environment: std::collections::BTreeMap<String, String>,
    pub(crate) inputs: Json,
    pub(crate) work_root: std::path::PathBuf,
    pub(crate) namespace_files: crate::namespace_files::NamespaceFolders,
    pub(crate) cache_dir: std::path::PathBuf,
    pub(crate) services: crate::services::Services,
    pub(crate) kv: Option<Arc<dyn crate::kv::KvStore>>,
    pub(crate) fixtures: Vec<crate::fixture::TaskFixture>,
    /// The `files` variable of a test case (fixture files by name).
    pub(crate) files: Option<Json>,
    /// `trigger`, for an execution a Subflow task started.
    pub(crate) trigger: Option<Json>,
    pub(crate) launch: Arc<crate::execution::Launch>,
}

/// The mutable part of an execution.
/// `inputs`, `outputs` and `tasks` are shared with the expressions being rendered (see
/// [`Vars::lazy`]); a change copies them only while a render still holds the old version.
pub(crate) struct ExecutionState {
    pub(crate) record: StateRecord,
    pub(crate) inputs: Arc<Json>,
    pub(crate) task_runs: TaskRunList,
    /// `outputs.<taskId>[.<value>...].<name>`
    pub(crate) outputs: Arc<Json>,
    /// `tasks.<taskId>[.<value>...].state`
    pub(crate) tasks: Arc<Json>,
    pub(crate) flow_outputs: Option<Json>,
    /// Kestra's metric entries, in the order tasks reported them.
    pub(crate) metrics: Vec<Json>,
    /// The execution's labels: the flow's, then what Labels tasks set.
    pub(crate) labels: Map<String, Json>,
    /// `vars` once a SetVariables or UnsetVariables task changed them.
    pub(crate) vars: Option<Json>,
    /// The state an Exit task ended the execution with: no task starts after it.
    pub(crate) exited: Option<crate::state::State>,
}

/// How to reach a task run's place among its valued parents (ForEach values), outermost first.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scope {
    pub(crate) parent_taskrun_id: Option<String>,
    pub(crate) values: Vec<String>,
    /// `parents`, closest first: `{taskrun: {value}, outputs}`.
    pub(crate) parents: Vec<Json>,
    pub(crate) iteration: Option<usize>,
    /// The folder a WorkingDirectory shares with the task runs under it.
    pub(crate) working_dir: Option<Arc<crate::workdir::WorkingDir>>,
}

impl ExecutionShared {
    pub(crate) fn new(parts: ExecutionParts) -> Self {
        let ExecutionParts {
            id,
            flow,
            renderer,
            storage,
            log,
            labels,
            vars,
            envs,
            environment,
            inputs,
            work_root,
            namespace_files,
            cache_dir,
            services,
            kv,
            trigger,
            fixtures,
            files,
            launch,
        } = parts;
        let now = Timestamp::now();
        let initial_labels = labels.as_object().cloned().unwrap_or_default();
        let prefix = ExecutionPrefix::new(&flow.namespace, &flow.id, &id);
        // Ended task runs' texts wait in the execution's folder until the record is written.
        let spill_dir = storage.path(&prefix.root()).ok();
        let fixed_vars = vec![
            (
                "flow".to_string(),
                Vars::from_json(
                    &json!({"id": flow.id, "namespace": flow.namespace, "revision": flow.revision}),
                ),
            ),
            ("vars".to_string(), Vars::from_json(&vars)),
            ("labels".to_string(), Vars::from_json(&labels)),
            ("envs".to_string(), Vars::from_json(&envs)),
        ];
        let mut fixed_vars = fixed_vars;
        if let Some(t) = &trigger {
            fixed_vars.push(("trigger".to_string(), Vars::from_json(t)));
        }
        if let Some(f) = &files {
            fixed_vars.push(("files".to_string(), Vars::from_json(f)));
        }
        ExecutionShared {
            fixtures,
            environment,
            work_root,
            namespace_files,
            cache_dir,
            services,
            kv,
            launch,
            trigger,
            initial_vars: vars.clone(),
            children: Mutex::new(Vec::new()),
            prior_runs: Mutex::new(HashMap::new()),
            resumed: HashMap::new(),
            resume_given: Map::new(),
            paused: Default::default(),
            on_resume: HashMap::new(),
            cleanup: Cleanup::default(),
            killed: Default::default(),
            task_runs_exceeded: Default::default(),
            kill_request: tokio::sync::Notify::new(),
            fixed_vars,
            id,
            flow,
            start_date: now,
            prefix,
            renderer,
            storage,
            log,
            labels,
            state: Mutex::new(ExecutionState {
                record: StateRecord::new(now),
                inputs: Arc::new(inputs),
                task_runs: spill_dir
                    .as_deref()
                    .map(TaskRunList::spilling_into)
                    .unwrap_or_default(),
                outputs: Arc::new(Json::Object(Map::new())),
                tasks: Arc::new(Json::Object(Map::new())),
                flow_outputs: None,
                metrics: Vec::new(),
                labels: initial_labels,
                vars: None,
                exited: None,
            }),
        }
    }

    /// Takes up the recorded execution `prior` (see [`crate::resume`]): its dates and
    /// states, the task runs that ended well (their outputs and states seen by expressions),
    /// and the others for the executor to meet again.
    pub(crate) fn carry_on(
        &mut self,
        prior: Prior,
        how: &Continuation,
        handlers: &std::collections::HashSet<String>,
        resumed: HashMap<String, Json>,
    ) {
        let (runs, index) = crate::resume::carried(&prior.task_runs, how, handlers);
        let now = Timestamp::now();
        self.start_date = prior.record.start_date;
        let mut record = prior.record;
        record.end_date = None;
        record.duration = None;
        if matches!(how, Continuation::Restart) {
            record.set(crate::state::State::Restarted, now);
        }
        let names = RecordNames {
            execution_id: &self.id,
            namespace: &self.flow.namespace,
            flow_id: &self.flow.id,
        };
        let masker = self.log.masker();
        let st = self.state.get_mut().expect("execution state lock");
        st.record = record;
        let by_id: HashMap<&str, &TaskRun> = runs.iter().map(|r| (r.id.as_str(), r)).collect();
        let (outputs, tasks) = (Arc::make_mut(&mut st.outputs), Arc::make_mut(&mut st.tasks));
        for run in runs.iter().filter(|r| crate::resume::is_kept(r, how)) {
            let values = crate::resume::values_of(run, &by_id);
            if let Some(o) = &run.outputs {
                crate::executor::insert_outputs(outputs, &run.task_id, &values, o);
            }
            crate::executor::insert_state(tasks, &run.task_id, &values, run.state.current);
        }
        for run in runs {
            let kept = crate::resume::is_kept(&run, how);
            let id = run.id.clone();
            st.task_runs.push(run);
            if kept {
                st.task_runs.seal(&id, &names, masker);
            }
        }
        self.prior_runs = Mutex::new(index);
        self.resumed = resumed;
        if let Continuation::Resume(given) = how {
            self.resume_given = given.clone();
        }
    }

    /// The recorded task run met again at `key`, if any: once only (a loop's next round
    /// makes new ones).
    pub(crate) fn take_prior(&self, key: &PriorKey) -> Option<PriorRun> {
        let mut prior = self.prior_runs.lock().expect("prior runs lock");
        if prior.is_empty() {
            return None;
        }
        prior.remove(key)
    }

    /// Types `given` as the answer to a Pause's `onResume` inputs (a FILE goes to storage);
    /// the message, masked, says what is wrong.
    pub(crate) async fn resume_inputs(
        &self,
        specs: &[crate::inputs::InputSpec],
        given: &Map<String, Json>,
    ) -> Result<Map<String, Json>, String> {
        let base = json!({
            "flow": {"id": self.flow.id, "namespace": self.flow.namespace},
            "execution": {"id": self.id},
        });
        let base = base.as_object().cloned().unwrap_or_default();
        crate::inputs::resolve_inputs(
            specs,
            given,
            &self.storage,
            &self.prefix,
            &self.renderer,
            &base,
        )
        .await
        .map(|r| {
            // A SECRET answer is masked like a SECRET input.
            for (_, value) in &r.secrets {
                self.log.masker().add(value);
            }
            r.values.as_object().cloned().unwrap_or_default()
        })
        .map_err(|error| {
            crate::execution::StartError::Inputs {
                text: self.log.masker().mask(&error.to_string()),
                error,
            }
            .plain()
        })
    }

    /// A task ends the execution KILLED (a person answered a Pause so): nothing else starts.
    pub(crate) fn kill_from_task(&self) {
        self.killed.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub(crate) fn is_killed(&self) -> bool {
        self.killed.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The state an Exit task chose, once one ran.
    pub(crate) fn exited(&self) -> Option<crate::state::State> {
        self.state().exited
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, ExecutionState> {
        self.state.lock().expect("execution state lock")
    }

    /// The variables every expression of this execution sees, before task-specific ones.
    pub(crate) fn base_variables(&self) -> Vec<(String, Vars)> {
        let state = self.state();
        let mut execution = json!({
            "id": self.id,
            "startDate": self.start_date.to_string(),
            "originalId": self.id,
            "state": state.record.current,
        });
        // Set once the flow's `outputs:` are rendered (for `afterExecution` tasks).
        if let Some(o) = &state.flow_outputs {
            execution["outputs"] = o.clone();
        }
        let mut vars = self.fixed_vars.clone();
        if let Some(v) = &state.vars {
            vars.retain(|(name, _)| name != "vars");
            vars.push(("vars".to_string(), Vars::from_json(v)));
        }
        if Some(&state.labels) != self.labels.as_object() {
            // A Labels task changed them: later expressions see the execution's.
            vars.retain(|(name, _)| name != "labels");
            vars.push((
                "labels".to_string(),
                Vars::from_json(&Json::Object(state.labels.clone())),
            ));
        }
        vars.extend([
            ("execution".to_string(), Vars::from_json(&execution)),
            ("inputs".to_string(), Vars::lazy(state.inputs.clone())),
            ("outputs".to_string(), Vars::lazy(state.outputs.clone())),
            ("tasks".to_string(), Vars::lazy(state.tasks.clone())),
        ]);
        vars
    }

    /// The names each task run of this execution carries in the record.
    pub(crate) fn names(&self) -> RecordNames<'_> {
        RecordNames {
            execution_id: &self.id,
            namespace: &self.flow.namespace,
            flow_id: &self.flow.id,
        }
    }

    /// The record but its task runs (it is small), masked.
    fn record_head(&self, state: &ExecutionState, masker: &runner_secrets::Masker) -> Json {
        let labels: Vec<Json> = state
            .labels
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        let mut out = json!({
            "id": self.id,
            "namespace": self.flow.namespace,
            "flowId": self.flow.id,
            "flowRevision": self.flow.revision,
            "labels": labels,
            "inputs": *state.inputs,
            "state": state.record,
        });
        if let Some(o) = &state.flow_outputs {
            out["outputs"] = o.clone();
        }
        if !state.metrics.is_empty() {
            out["metrics"] = Json::Array(state.metrics.clone());
        }
        if let Some(t) = &self.trigger {
            out["trigger"] = t.clone();
        }
        masker.mask_json_in_place(&mut out, crate::execution::RECORD_STRUCTURE);
        out
    }

    /// The execution as Kestra's API returns it, masked, as one value (small executions:
    /// tests, `runner test`, the notification tasks; the record file is written by
    /// [`Self::write_record`] without building this).
    pub(crate) fn record(&self, masker: &runner_secrets::Masker) -> Json {
        let state = self.state();
        let mut out = self.record_head(&state, masker);
        let mut runs = Vec::with_capacity(state.task_runs.len());
        let _ = state
            .task_runs
            .write_entries(&self.names(), masker, |entry| {
                runs.push(serde_json::from_str(entry).unwrap_or(Json::Null));
                Ok(())
            });
        out["taskRunList"] = Json::Array(runs);
        out
    }

    /// Writes the record as pretty JSON, masked: its fields, then `taskRunList` with one task
    /// run per line, written from what each ended as (memory stays flat with the number of
    /// task runs).
    pub(crate) fn write_record(
        &self,
        masker: &runner_secrets::Masker,
        out: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        let state = self.state();
        let head = self.record_head(&state, masker);
        let text = serde_json::to_string_pretty(&head).map_err(std::io::Error::other)?;
        let open = text.strip_suffix("\n}").unwrap_or(&text);
        out.write_all(open.as_bytes())?;
        out.write_all(b",\n  \"taskRunList\": [")?;
        let mut first = true;
        state
            .task_runs
            .write_entries(&self.names(), masker, |entry| {
                out.write_all(if first { b"\n    " } else { b",\n    " })?;
                first = false;
                out.write_all(entry.as_bytes())
            })?;
        out.write_all(if first { b"]\n}" } else { b"\n  ]\n}" })?;
        Ok(())
    }

    /// What the summary shows of each task run, in order.
    pub(crate) fn summaries(&self) -> Vec<TaskRunSummary> {
        self.state().task_runs.summaries()
    }

    /// Whether a task of this execution may read `uri`: its own files and those of the
    /// executions that started it.
    pub(crate) fn can_read(&self, uri: &str) -> bool {
        self.prefix.owns(uri) || self.launch.ancestors.iter().any(|p| p.owns(uri))
    }

    pub(crate) fn log(&self, level: Level, task_id: Option<&str>, message: &str) {
        self.log.emit(LogEvent {
            level,
            task_id,
            taskrun_id: None,
            message,
        });
    }
}

/// One task run's view of the execution.
pub struct RunContext {
    pub(crate) exec: Arc<ExecutionShared>,
    pub(crate) task_id: String,
    pub(crate) task_type: String,
    pub(crate) taskrun_id: String,
    pub(crate) taskrun_start: Timestamp,
    pub(crate) scope: Scope,
    pub(crate) attempt: u32,
    pub(crate) min_level: Option<Level>,
    /// With `logToFile`, where this task run's lines are also written.
    pub(crate) log_file: Option<Mutex<std::fs::File>>,
    /// Where to offer the file this task run writes to the next task (see [`crate::pipe`]).
    pub(crate) pipe: Mutex<Option<oneshot::Sender<GrowingFile>>>,
    /// What this task prepared while the previous task wrote its file.
    pub(crate) prepared: Mutex<Option<Prepared>>,
    /// Set on the preview of a task run that prepares (see [`crate::pipe`]): the `outputs`
    /// its expressions see; it logs nothing.
    pub(crate) preview_outputs: Option<Json>,
    /// This task run's own working directory, made on first use (see [`Self::working_dir`]).
    pub(crate) own_working_dir: std::sync::OnceLock<Arc<crate::workdir::WorkingDir>>,
    /// When this attempt's `timeout` ends it: a render that waits (`http()`) stops then.
    pub(crate) deadline: Mutex<Option<std::time::Instant>>,
    /// This task run waited for a resume (a Pause) and goes on now.
    pub(crate) resumed: Option<Resumed>,
    /// The task's `timeout`, rendered for this attempt.
    pub(crate) timeout: Mutex<Option<std::time::Duration>>,
}

/// A Pause's task run going on after its resume.
#[derive(Clone, Debug)]
pub struct Resumed {
    /// The `onResume` inputs, typed.
    pub inputs: Json,
    /// When it began to wait.
    pub paused_at: Option<Timestamp>,
    /// The outputs it had (a Subflow's `executionId`: the child that paused).
    pub(crate) outputs: Option<Map<String, Json>>,
}

impl RunContext {
    /// Runs a render with this task run's interrupt in force: its deadline, and the
    /// execution's kill.
    fn rendering<R>(&self, f: impl FnOnce(&Renderer) -> R) -> R {
        let interrupt = runner_template::Interrupt {
            deadline: *self.deadline.lock().expect("deadline lock"),
            cancelled: Some(self.exec.killed.clone()),
        };
        runner_template::with_interrupt(interrupt, || f(&self.exec.renderer))
    }

    /// When this attempt's `timeout` ends it, if the task has one: a task with a default
    /// timeout of its own (an AI provider's call) keeps it only without this.
    pub fn deadline(&self) -> Option<std::time::Instant> {
        *self.deadline.lock().expect("deadline lock")
    }

    /// Sets the attempt's timeout, and so when it ends the attempt.
    pub(crate) fn set_timeout(&self, timeout: Option<std::time::Duration>) {
        *self.timeout.lock().expect("timeout lock") = timeout;
        *self.deadline.lock().expect("deadline lock") =
            timeout.map(|t| std::time::Instant::now() + t);
    }

    /// The task's `timeout` for this attempt, if it has one.
    pub(crate) fn timeout(&self) -> Option<std::time::Duration> {
        *self.timeout.lock().expect("timeout lock")
    }

    pub fn task_id(&self) -> &str {
        &self.task_id
    }

    /// When this task run started.
    pub fn started(&self) -> jiff::Timestamp {
        self.taskrun_start
    }

    pub fn taskrun_id(&self) -> &str {
        &self.taskrun_id
    }

    pub fn execution_id(&self) -> &str {
        &self.exec.id
    }

    /// The ForEach value this task run belongs to, if any.
    pub fn value(&self) -> Option<&str> {
        self.scope.values.last().map(String::as_str)
    }

    /// The variables expressions of this task run see.
    pub fn variables(&self) -> Context {
        Context::from_vars(self.variable_list())
    }

    fn variable_list(&self) -> Vec<(String, Vars)> {
        let mut vars = self.exec.base_variables();
        if let Some(outputs) = &self.preview_outputs
            && let Some(slot) = vars.iter_mut().find(|(name, _)| name == "outputs")
        {
            slot.1 = Vars::from_json(outputs);
        }
        vars.push((
            "task".into(),
            Vars::from_json(&json!({"id": self.task_id, "type": self.task_type})),
        ));
        vars.push(("taskrun".into(), Vars::from_json(&self.taskrun_variable())));
        if !self.scope.parents.is_empty() {
            vars.push(("parent".into(), Vars::from_json(&self.scope.parents[0])));
            vars.push((
                "parents".into(),
                Vars::from_json(&Json::Array(self.scope.parents.clone())),
            ));
        }
        vars
    }

    /// Renders `template` with `vars` as the only variables (an item's fields, as FilterItems
    /// and DeduplicateItems render their expression per item).
    pub fn render_str_in(
        &self,
        template: &str,
        property: &str,
        vars: Json,
    ) -> Result<String, TaskError> {
        self.rendering(|r| r.render_str(template, &Context::new(vars)))
            .map_err(|source| TaskError::Render {
                property: property.to_string(),
                source,
            })
    }

    /// `taskrun` as expressions of this task run see it.
    pub fn taskrun_variable(&self) -> Json {
        let mut taskrun = json!({
            "id": self.taskrun_id,
            "startDate": self.taskrun_start.to_string(),
            "attemptsCount": self.attempt.saturating_sub(1),
            "parentId": self.scope.parent_taskrun_id,
        });
        if let Some(v) = self.value() {
            taskrun["value"] = Json::String(v.to_string());
        }
        if let Some(i) = self.scope.iteration {
            taskrun["iteration"] = json!(i);
        }
        taskrun
    }

    /// Renders every string inside `value` with this task run's variables and `extra` ones
    /// (which replace variables of the same name).
    pub fn render_json_with(
        &self,
        value: &Json,
        property: &str,
        extra: &Map<String, Json>,
    ) -> Result<Json, TaskError> {
        self.rendering(|r| r.render_json(value, &self.variables_with(extra)))
            .map_err(|source| TaskError::Render {
                property: property.to_string(),
                source,
            })
    }

    /// [`Self::variables`] plus `extra` (a script task's `workingDir`, `outputDir`).
    fn variables_with(&self, extra: &Map<String, Json>) -> Context {
        let mut vars = self.variable_list();
        vars.extend(
            extra
                .iter()
                .map(|(name, value)| (name.clone(), Vars::from_json(value))),
        );
        Context::from_vars(vars)
    }

    /// Renders `template` with this task run's variables and `extra` ones.
    pub fn render_str_with(
        &self,
        template: &str,
        property: &str,
        extra: &Map<String, Json>,
    ) -> Result<String, TaskError> {
        self.rendering(|r| r.render_str(template, &self.variables_with(extra)))
            .map_err(|source| TaskError::Render {
                property: property.to_string(),
                source,
            })
    }

    /// Renders a dynamic property with this task run's variables and `extra` ones.
    pub fn render_with<T: DeserializeOwned>(
        &self,
        prop: &Property<T>,
        property: &str,
        extra: &Map<String, Json>,
    ) -> Result<T, TaskError> {
        let rendered = if prop.is_dynamic() {
            self.rendering(|r| r.render_json(prop.raw(), &self.variables_with(extra)))
                .map_err(|source| TaskError::Render {
                    property: property.to_string(),
                    source,
                })?
        } else {
            prop.raw().clone()
        };
        self.mask_if_secret(prop, &rendered);
        convert::<T>(rendered).map_err(|reason| TaskError::property(property, reason))
    }

    /// A credential's rendered value is masked from here on, before anything can print it.
    fn mask_if_secret<T>(&self, prop: &Property<T>, rendered: &Json)
    where
        T: DeserializeOwned,
    {
        if prop.is_secret() {
            let mut values = Vec::new();
            crate::property::strings_of(rendered, &mut values);
            for v in values {
                self.mask(&v);
            }
        }
    }

    /// Renders one template string read from property `property`.
    pub fn render_str(&self, template: &str, property: &str) -> Result<String, TaskError> {
        self.rendering(|r| r.render_str(template, &self.variables()))
            .map_err(|source| TaskError::Render {
                property: property.to_string(),
                source,
            })
    }

    /// Renders every string inside a JSON value.
    pub fn render_json(&self, value: &Json, property: &str) -> Result<Json, TaskError> {
        self.rendering(|r| r.render_json(value, &self.variables()))
            .map_err(|source| TaskError::Render {
                property: property.to_string(),
                source,
            })
    }

    /// Renders a string keeping the type of a lone expression (Kestra's `renderTyped`):
    /// `"{{ outputs.q.rows }}"` stays a list, `"n={{ x }}"` is a string.
    pub fn render_typed(&self, source: &str, property: &str) -> Result<Json, TaskError> {
        self.rendering(|r| r.render_typed(source, &self.variables()))
            .map_err(|source| TaskError::Render {
                property: property.to_string(),
                source,
            })
    }

    /// The run's KV store (`--state`); a run without one fails the task saying so.
    pub fn kv(&self) -> Result<&dyn crate::kv::KvStore, TaskError> {
        self.exec.kv.as_deref().ok_or_else(|| {
            TaskError::new(
                crate::error::ErrorKind::Unsupported,
                "the KV store is not open in this run",
            )
            .hint("`runner run` opens it in its state directory (--state)")
        })
    }

    /// Renders a dynamic property and converts it to its type.
    pub fn render<T: DeserializeOwned>(
        &self,
        prop: &Property<T>,
        property: &str,
    ) -> Result<T, TaskError> {
        let rendered = if prop.is_dynamic() {
            self.render_json(prop.raw(), property)?
        } else {
            prop.raw().clone()
        };
        self.mask_if_secret(prop, &rendered);
        convert::<T>(rendered).map_err(|reason| TaskError::property(property, reason))
    }

    /// Renders an optional property.
    pub fn render_opt<T: DeserializeOwned>(
        &self,
        prop: &Option<Property<T>>,
        property: &str,
    ) -> Result<Option<T>, TaskError> {
        prop.as_ref().map(|p| self.render(p, property)).transpose()
    }

    /// Renders a `timeZoneId`-style property: the named zone, or the machine's when unset.
    pub fn render_time_zone(
        &self,
        prop: &Option<Property<String>>,
        property: &str,
    ) -> Result<jiff::tz::TimeZone, TaskError> {
        match self.render_opt(prop, property)? {
            Some(z) => jiff::tz::TimeZone::get(&z).map_err(|_| {
                TaskError::property(
                    property,
                    format!("`{z}` is not a time zone (for example Europe/Paris or UTC)"),
                )
            }),
            None => Ok(jiff::tz::TimeZone::system()),
        }
    }

    pub fn log(&self, level: Level, message: &str) {
        if self.preview_outputs.is_some() || self.min_level.is_some_and(|min| level < min) {
            return;
        }
        self.exec.log.emit(LogEvent {
            level,
            task_id: Some(&self.task_id),
            taskrun_id: Some(&self.taskrun_id),
            message,
        });
        if let Some(file) = &self.log_file {
            use std::io::Write;
            let line = format!(
                "{} {:<5} {}\n",
                Timestamp::now(),
                level.as_str(),
                self.exec.log.masker().mask(message)
            );
            // A log file that cannot be written must not fail the task; the line is on stderr.
            let _ = file
                .lock()
                .expect("log file lock")
                .write_all(line.as_bytes());
        }
    }

    /// Opens `{taskRunId}.log` beside the task run's files (for `logToFile`).
    pub(crate) fn open_log_file(&mut self) -> Result<(), StorageError> {
        let uri = self.output_file_uri(&format!("{}.log", self.taskrun_id));
        let path = self.exec.storage.path(&uri)?;
        let io = |source| StorageError::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        self.log_file = Some(Mutex::new(std::fs::File::create(&path).map_err(io)?));
        Ok(())
    }

    pub fn info(&self, message: &str) {
        self.log(Level::Info, message);
    }

    /// Registers a value that must never be printed (a secret, a password).
    pub fn mask(&self, value: &str) {
        self.exec.log.masker().add(value);
    }

    /// What a process a task starts gets from runner's environment: only the variables that
    /// say how to run a program on this machine (PATH, HOME, the user, locale, time zone,
    /// temporary folder, terminal, trusted certificates, proxies, package-manager settings),
    /// never runner's credentials (`SECRET_*`, `ENV_*`, `AWS_*`, `RUNNER_*`, `KESTRA_*`) nor
    /// anything else. A flow passes more with the task's `env` (`{{ envs.x }}`, `{{ secret('X') }}`).
    pub fn process_environment(&self) -> impl Iterator<Item = (&str, &str)> {
        self.exec
            .environment
            .iter()
            .filter(|(k, _)| is_process_variable(k))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The run's service of type `T` (a family's settings or shared client), if it has one.
    pub fn service<T: std::any::Any + Send + Sync>(&self) -> Option<&T> {
        self.exec.services.get::<T>()
    }

    /// Where this run's tasks may connect: link-local addresses are refused unless the run
    /// allows them (`--allow-link-local`).
    pub fn network(&self) -> crate::net::NetworkPolicy {
        self.service::<crate::net::NetworkPolicy>()
            .copied()
            .unwrap_or_default()
    }

    /// Where tasks keep what outlives an execution (Python environments), by purpose.
    pub fn cache_dir(&self, purpose: &str) -> std::path::PathBuf {
        self.exec.cache_dir.join(purpose)
    }

    /// The namespace of the flow.
    pub fn namespace(&self) -> &str {
        &self.exec.flow.namespace
    }

    /// The flow's id.
    pub fn flow_id(&self) -> &str {
        &self.exec.flow.id
    }

    /// This task run's attempt, from 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Masks `text` with every secret this execution knows (outputs a task builds from text
    /// that may hold one).
    pub fn masked(&self, text: &str) -> String {
        self.exec.log.masker().mask(text)
    }

    /// A variable of the run's environment (process and `--env-file`s).
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.exec
            .environment
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn storage(&self) -> &Storage {
        &self.exec.storage
    }

    /// This execution as it stands, in the shape of Kestra's API (the notification tasks that
    /// describe an execution read it), masked as the record is.
    pub fn execution_record(&self) -> Json {
        self.exec.record(self.exec.log.masker())
    }

    /// Starts a process for this task run, in its own process group: when the returned value
    /// is dropped (the task ended, timed out or was cancelled) the group is killed and the
    /// execution's cleanup reaps it.
    pub fn spawn(
        &self,
        command: tokio::process::Command,
    ) -> std::io::Result<crate::process::ChildProcess> {
        crate::process::ChildProcess::spawn(command, self.exec.cleanup.clone())
    }

    /// Where work that must outlive a dropped task (aborting an upload) is handed.
    pub fn cleanup(&self) -> &Cleanup {
        &self.exec.cleanup
    }

    /// A progress line for this task run's long work (`what`: a fixed verb, as "uploading"):
    /// drawn on the terminal of the run, if it has one; gone when the handle is dropped.
    pub fn progress(
        &self,
        what: &str,
        unit: crate::progress::Unit,
        total: Option<u64>,
    ) -> crate::progress::Progress {
        let label = match self.value() {
            Some(v) => format!("{} [{v}] {what}", self.task_id),
            None => format!("{} {what}", self.task_id),
        };
        // A loop value could come from a secret: the terminal sees it masked too.
        crate::progress::Progress::new(
            self.exec.launch.progress.as_ref(),
            &self.masked(&label),
            unit,
            total,
        )
    }

    /// A new `kestra://` URI for a file this task run writes.
    pub fn output_file_uri(&self, file_name: &str) -> String {
        self.exec
            .prefix
            .task_file(&self.task_id, &self.taskrun_id, file_name)
    }

    /// The local path of a file of this execution; files of other executions are refused.
    pub fn execution_file_path(&self, uri: &str) -> Result<std::path::PathBuf, StorageError> {
        let path = self.exec.storage.path(uri)?;
        if !self.exec.can_read(uri) {
            return Err(StorageError::NotOfThisExecution {
                uri: uri.to_string(),
            });
        }
        if !path.exists() {
            return Err(StorageError::NotFound {
                uri: uri.to_string(),
            });
        }
        Ok(path)
    }

    /// Opens a file of this execution for reading; files of other executions are refused.
    pub async fn open_execution_file(&self, uri: &str) -> Result<tokio::fs::File, StorageError> {
        if !self.exec.can_read(uri) {
            self.exec.storage.path(uri)?;
            return Err(StorageError::NotOfThisExecution {
                uri: uri.to_string(),
            });
        }
        self.exec.storage.open(uri).await
    }
}

impl RunContext {
    /// Offers the file at `uri`, which this task run is about to write, to the next task of
    /// its sequence when that task can start on it early. Report progress on the result as
    /// parts of the file become final; offering is a no-op when no task follows it.
    pub fn share_growing_file(&self, uri: &str) -> FileProgress {
        let Some(pipe) = self.pipe.lock().expect("pipe lock").take() else {
            return FileProgress(None);
        };
        let Ok(path) = self.exec.storage.path(uri) else {
            return FileProgress(None);
        };
        let (sender, written) = watch::channel(0);
        let file = GrowingFile {
            uri: uri.to_string(),
            path,
            written,
            writing: true,
        };
        match pipe.send(file) {
            Ok(()) => FileProgress(Some(sender)),
            Err(_) => FileProgress(None),
        }
    }

    /// What this task prepared while the previous task wrote its file, if it is a `T`.
    pub fn take_prepared<T: std::any::Any>(&self) -> Option<Box<T>> {
        let prepared = self.prepared.lock().expect("prepared lock").take()?;
        prepared.downcast::<T>().ok()
    }

    /// A new task run of `task_id` in `scope`, on its first attempt.
    pub(crate) fn new(
        exec: Arc<ExecutionShared>,
        task_id: &str,
        task_type: &str,
        scope: Scope,
    ) -> RunContext {
        RunContext {
            exec,
            task_id: task_id.to_string(),
            task_type: task_type.to_string(),
            taskrun_id: crate::ids::friendly_id(),
            taskrun_start: Timestamp::now(),
            scope,
            attempt: 1,
            min_level: None,
            log_file: None,
            pipe: Mutex::new(None),
            prepared: Mutex::new(None),
            preview_outputs: None,
            own_working_dir: Default::default(),
            deadline: Mutex::new(None),
            resumed: None,
            timeout: Mutex::new(None),
        }
    }

    /// Set when this task run waited for a resume and goes on now (see [`Resumed`]).
    pub fn resumed(&self) -> Option<&Resumed> {
        self.resumed.as_ref()
    }

    /// Who can be asked to resume a Pause now (a person at the terminal), if anyone.
    pub(crate) fn resume_desk(&self) -> Option<Arc<dyn crate::resume::ResumeDesk>> {
        self.exec
            .services
            .get::<Arc<dyn crate::resume::ResumeDesk>>()
            .cloned()
    }

    /// A context for expressions of the flow itself (flow outputs), outside any task.
    pub(crate) fn for_flow(exec: Arc<ExecutionShared>) -> RunContext {
        let start = exec.start_date;
        RunContext {
            taskrun_id: String::new(),
            taskrun_start: start,
            ..RunContext::new(exec, "", "", Scope::default())
        }
    }
}

/// The variables of runner's environment that a task's processes get.
const PROCESS_VARIABLES: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TMPDIR",
    "TMP",
    "TEMP",
    "TERM",
    "HOSTNAME",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
];

/// Prefixes of the variables a task's processes get: locale categories and the package
/// managers' settings (pip, uv, npm).
const PROCESS_PREFIXES: &[&str] = &["LC_", "PIP_", "UV_", "npm_config_", "NPM_CONFIG_"];

fn is_process_variable(name: &str) -> bool {
    PROCESS_VARIABLES.contains(&name) || PROCESS_PREFIXES.iter().any(|p| name.starts_with(p))
}

#[cfg(test)]
mod process_environment_tests {
    use super::is_process_variable;

    #[test]
    fn processes_get_how_to_run_never_credentials() {
        for name in [
            "PATH",
            "HOME",
            "LANG",
            "LC_ALL",
            "TZ",
            "TMPDIR",
            "PIP_INDEX_URL",
            "SSL_CERT_FILE",
        ] {
            assert!(is_process_variable(name), "{name}");
        }
        for name in [
            "SECRET_X",
            "ENV_Y",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ACCESS_KEY_ID",
            "RUNNER_AGE_IDENTITY",
            "RUNNER_STORAGE",
            "KESTRA_API_TOKEN",
            "DATABASE_URL",
            "GITHUB_TOKEN",
        ] {
            assert!(!is_process_variable(name), "{name}");
        }
    }
}
