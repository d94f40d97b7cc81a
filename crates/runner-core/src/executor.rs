//! The executor walks a [`Plan`] as Kestra's executor does: sequential by default, flowable tasks
//! choose their branches, and runIf, timeout, retry, allowFailure, errors and finally wrap every
//! task the same way.

use crate::context::{ExecutionShared, RunContext, Scope};
use crate::error::TaskError;
use crate::log::Level;
use crate::pipe::{GrowingFile, Prepared};
use crate::plan::{Plan, TaskNode};
use crate::state::{Attempt, State, StateRecord, TaskRun};
use crate::task::{BoxFuture, FlowableTask, Outputs, TaskKind};
use futures_util::StreamExt;
use futures_util::future::{Either, select};
use futures_util::stream::FuturesUnordered;
use jiff::Timestamp;
use serde_json::{Map, Value as Json, json};
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::oneshot;

/// Runs one execution of a plan.
pub(crate) struct Executor {
    exec: Arc<ExecutionShared>,
}

/// Whether `next` may prepare on a file `task` writes: both do work themselves and `next`
/// says it can.
fn follows(task: &TaskNode, next: &TaskNode) -> bool {
    matches!(task.kind, TaskKind::Runnable(_))
        && matches!(&next.kind, TaskKind::Runnable(r) if r.can_prepare())
}

/// Puts a task run's outputs where expressions find them: `outputs.<taskId>[.<value>...]`.
pub(crate) fn insert_outputs(root: &mut Json, task_id: &str, values: &[String], outputs: &Outputs) {
    let target = ensure_object(slot_of(root, task_id, values));
    for (k, v) in outputs {
        target.insert(k.clone(), v.clone());
    }
}

/// Puts a task run's final state where expressions find it: `tasks.<taskId>[.<value>...].state`.
pub(crate) fn insert_state(root: &mut Json, task_id: &str, values: &[String], state: State) {
    ensure_object(slot_of(root, task_id, values))
        .insert("state".into(), Json::String(state.as_str().into()));
}

fn slot_of<'j>(root: &'j mut Json, task_id: &str, values: &[String]) -> &'j mut Json {
    let mut slot = root;
    for key in std::iter::once(task_id).chain(values.iter().map(String::as_str)) {
        slot = ensure_object(slot)
            .entry(key.to_string())
            .or_insert_with(|| Json::Object(Map::new()));
    }
    slot
}

/// Kestra's falsy runIf values.
fn is_falsy(s: &str) -> bool {
    matches!(s.trim(), "false" | "0" | "-0" | "")
}

impl Executor {
    pub(crate) fn new(exec: Arc<ExecutionShared>) -> Self {
        Executor { exec }
    }

    /// Runs the flow to its final state: tasks, then errors when they failed, then finally,
    /// then the flow outputs, then afterExecution.
    pub(crate) async fn run(&self, plan: &Plan) -> State {
        let started = Instant::now();
        self.set_execution_state(State::Running);
        if plan.trigger_count > 0 {
            self.exec.log(
                Level::Info,
                None,
                &format!(
                    "{} trigger(s) ignored: runner runs the flow once, now",
                    plan.trigger_count
                ),
            );
        }
        let root = Scope::default();
        let mut state = self
            .run_block(&plan.tasks, &plan.errors, &plan.finally, &root)
            .await;
        if self.exec.is_killed() {
            // Killed from inside (a person's answer to a Pause): mark what did not end.
            self.kill();
            return State::Killed;
        }
        if self.exec.is_paused() {
            // Kestra renders outputs and runs finally and afterExecution once it ends.
            self.set_execution_state(State::Paused);
            self.exec.log(
                Level::Info,
                None,
                &format!(
                    "Execution paused: resume it with `runner resume {}`",
                    self.exec.id
                ),
            );
            return State::Paused;
        }
        if let Some(exit) = self.exec.exited() {
            state = exit;
        }
        // Kestra renders them once at the end, whatever the state.
        if !plan.outputs.is_empty() {
            match self.flow_outputs(plan) {
                Ok(outputs) => self.exec.state().flow_outputs = Some(outputs),
                Err(e) => {
                    self.exec.log(
                        Level::Error,
                        None,
                        &format!("Failed to render output values: {e}"),
                    );
                    state = State::Failed;
                }
            }
        }
        self.set_execution_state(state);
        if !plan.after_execution.is_empty() {
            self.run_sequence(&plan.after_execution, &root).await;
        }
        // The record keeps Kestra's ISO duration; a line is read by a person.
        let took = runner_model::format_human(started.elapsed());
        self.exec.log(
            Level::Info,
            None,
            &format!("Flow completed with state {state} in {took}"),
        );
        state
    }

    /// Marks every unfinished task run and the execution KILLED (after Ctrl-C).
    pub(crate) fn kill(&self) {
        let now = Timestamp::now();
        let mut st = self.exec.state();
        for tr in st
            .task_runs
            .live_mut()
            .filter(|t| !t.state.current.is_terminal())
        {
            tr.state.set(State::Killed, now);
            for a in tr
                .attempts
                .iter_mut()
                .filter(|a| !a.state.current.is_terminal())
            {
                a.state.set(State::Killed, now);
            }
        }
        if !st.record.current.is_terminal() {
            st.record.set(State::Killed, now);
        }
    }

    fn set_execution_state(&self, state: State) {
        self.exec.state().record.set(state, Timestamp::now());
    }

    fn flow_outputs(&self, plan: &Plan) -> Result<Json, String> {
        let ctx = RunContext::for_flow(self.exec.clone());
        let mut out = Map::new();
        let one = |o: &runner_model::RawOutput| -> Result<Json, String> {
            let rendered = ctx
                .render_json(&o.value.to_json(), &format!("outputs.{}", o.id))
                .map_err(|e| e.to_string())?;
            match &o.type_name {
                Some(t) => {
                    let def = crate::inputs::InputSpec::of_type(&o.id, t);
                    crate::inputs::coerce(&def, &rendered)
                        .map_err(|r| format!("output `{}`: {r}", o.id))
                }
                None => Ok(rendered),
            }
        };
        for o in &plan.outputs {
            let typed = match one(o) {
                Ok(v) => v,
                Err(e) if o.required => return Err(e),
                Err(e) => {
                    self.exec.log(
                        Level::Warn,
                        None,
                        &format!(
                            "Failed to render optional flow output '{}'. Output is ignored. ({e})",
                            o.id
                        ),
                    );
                    Json::Null
                }
            };
            out.insert(o.id.clone(), typed);
        }
        Ok(Json::Object(out))
    }

    fn run_block<'a>(
        &'a self,
        tasks: &'a [TaskNode],
        errors: &'a [TaskNode],
        finally: &'a [TaskNode],
        scope: &'a Scope,
    ) -> BoxFuture<'a, State> {
        Box::pin(async move {
            let state = self.run_sequence(tasks, scope).await;
            // A Pause waits below (a sibling's WARNING may outrank it in the merged state).
            if state == State::Paused || self.exec.is_paused() {
                return State::Paused;
            }
            if state.is_failed() && !errors.is_empty() {
                self.run_sequence(errors, scope).await;
            }
            if !finally.is_empty() {
                self.run_sequence(finally, scope).await;
            }
            state
        })
    }

    /// Runs tasks one after the other; a failed task stops the sequence. A task that can
    /// start on the file its predecessor writes (see [`crate::pipe`]) prepares meanwhile.
    fn run_sequence<'a>(&'a self, tasks: &'a [TaskNode], scope: &'a Scope) -> BoxFuture<'a, State> {
        Box::pin(async move {
            let mut states = Vec::with_capacity(tasks.len());
            let mut prepared = None;
            for (i, task) in tasks.iter().enumerate() {
                if self.exec.is_killed() {
                    states.push(State::Killed);
                    break;
                }
                // An Exit task ended the execution, or a Pause waits: nothing else starts.
                if self.exec.exited().is_some() || self.exec.is_paused() {
                    break;
                }
                let state = match tasks.get(i + 1).filter(|next| follows(task, next)) {
                    Some(next) => {
                        let (state, next_prepared) = self
                            .run_task_feeding(task, prepared.take(), next, scope)
                            .await;
                        prepared = next_prepared;
                        state
                    }
                    None => self.run_task_with(task, scope, None, prepared.take()).await,
                };
                states.push(state);
                if state.is_failed() || state == State::Paused {
                    break;
                }
            }
            State::merge(states)
        })
    }

    /// Runs `task` while `next` prepares on the file it writes; returns `task`'s state and,
    /// when it succeeded, what `next` prepared (dropped, and so undone, otherwise).
    async fn run_task_feeding(
        &self,
        task: &TaskNode,
        prepared: Option<Prepared>,
        next: &TaskNode,
        scope: &Scope,
    ) -> (State, Option<Prepared>) {
        let (pipe, shared) = oneshot::channel();
        let writer = self.run_task_with(task, scope, Some(pipe), prepared);
        let follower = async {
            // No file offered: the writer ended (and dropped the pipe) without one.
            let file = shared.await.ok()?;
            let TaskKind::Runnable(runnable) = &next.kind else {
                return None;
            };
            let ctx = self.preview(next, scope, &task.id, file.uri());
            // A panic while preparing only means nothing was prepared.
            caught(runnable.prepare(&ctx, file)).await.ok().flatten()
        };
        let (writer, follower) = (pin!(writer), pin!(follower));
        match select(writer, follower).await {
            Either::Left((state, follower)) if state == State::Success => (state, follower.await),
            Either::Left((state, _)) => (state, None),
            Either::Right((prepared, writer)) => {
                let state = writer.await;
                (state, prepared.filter(|_| state == State::Success))
            }
        }
    }

    /// The context `next` prepares in: `outputs.<writer>` holds only the file's `uri`.
    fn preview(&self, next: &TaskNode, scope: &Scope, writer: &str, uri: &str) -> RunContext {
        let mut outputs = (*self.exec.state().outputs).clone();
        let uri = Outputs::from_iter([("uri".to_string(), json!(uri))]);
        insert_outputs(&mut outputs, writer, &scope.values, &uri);
        RunContext {
            preview_outputs: Some(outputs),
            ..RunContext::new(self.exec.clone(), &next.id, &next.type_name, scope.clone())
        }
    }

    fn run_task_with<'a>(
        &'a self,
        task: &'a TaskNode,
        scope: &'a Scope,
        pipe: Option<oneshot::Sender<GrowingFile>>,
        prepared: Option<Prepared>,
    ) -> BoxFuture<'a, State> {
        Box::pin(async move {
            // A bound on the task runs of one execution: nested loops multiply them.
            let most = self.exec.launch.run_limits.max_task_runs;
            if self.exec.state().task_runs.len() >= most {
                if !self
                    .exec
                    .task_runs_exceeded
                    .swap(true, std::sync::atomic::Ordering::SeqCst)
                {
                    self.exec.log(
                        Level::Error,
                        Some(&task.id),
                        &format!(
                            "This execution has {most} task runs, the most one execution may (a ForEach's iterations count, each): task {} was not started. Nested loops multiply their values; if so many are meant, raise RUNNER_MAX_TASK_RUNS",
                            task.id
                        ),
                    );
                }
                return State::Failed;
            }
            let prior = self.exec.take_prior(&(
                task.id.clone(),
                scope.parent_taskrun_id.clone(),
                scope.values.last().cloned(),
                scope.iteration,
            ));
            // Going on from a record: what ended well stays as it ended.
            if let Some(p) = prior.as_ref().filter(|p| p.kept()) {
                return p.state;
            }
            let mut ctx = RunContext {
                min_level: task.common.log_level,
                pipe: Mutex::new(pipe),
                prepared: Mutex::new(prepared),
                ..RunContext::new(self.exec.clone(), &task.id, &task.type_name, scope.clone())
            };
            let now = ctx.taskrun_start;
            match prior {
                // It runs again under its own id, so its children are met again too.
                Some(p) => {
                    ctx.taskrun_id = p.id;
                    if p.state == State::Paused {
                        let outputs = self
                            .exec
                            .state()
                            .task_runs
                            .get_mut(&ctx.taskrun_id)
                            .and_then(|r| r.outputs.clone());
                        ctx.resumed = Some(crate::context::Resumed {
                            inputs: self
                                .exec
                                .resumed
                                .get(&task.id)
                                .cloned()
                                .unwrap_or_else(|| Json::Object(Map::new())),
                            paused_at: p.paused_at,
                            outputs,
                        });
                    } else if p.state.is_failed() {
                        self.set_taskrun_state(&ctx, State::Restarted);
                    }
                }
                None => self.exec.state().task_runs.push(TaskRun {
                    id: ctx.taskrun_id.clone(),
                    task_id: task.id.clone(),
                    parent_task_run_id: scope.parent_taskrun_id.clone(),
                    value: scope.values.last().cloned(),
                    iteration: scope.iteration,
                    state: StateRecord::new(now),
                    outputs: None,
                    attempts: Vec::new(),
                }),
            }
            // After the id is settled: a task run met again logs under its own id.
            if task.common.log_to_file
                && let Err(e) = ctx.open_log_file()
            {
                ctx.log(
                    Level::Warn,
                    &format!("logToFile: cannot open the log file: {e}"),
                );
            }

            if let Some(condition) = &task.common.run_if {
                match ctx.render_str(condition, "runIf") {
                    Ok(v) if is_falsy(&v) => {
                        self.finish(&ctx, State::Skipped);
                        return State::Skipped;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        ctx.log(
                            Level::Error,
                            &format!(
                                "Unable to evaluate the runIf condition for task {}: {e}",
                                task.id
                            ),
                        );
                        let state = self.after_policies(task, State::Failed, 1);
                        self.finish(&ctx, state);
                        return state;
                    }
                }
            }

            if let Some(fixture) = crate::fixture::find(
                &self.exec.fixtures,
                &task.id,
                scope.values.last().map(String::as_str),
            ) {
                return self.post_fixture(&ctx, fixture);
            }
            self.set_taskrun_state(&ctx, State::Running);
            let started = Instant::now();
            let state = loop {
                self.push_attempt(&ctx);
                let outcome = self.attempt(task, &ctx, scope).await;
                let (state, error) = match outcome {
                    Ok(state) => (state, None),
                    Err(e) => (State::Failed, Some(e)),
                };
                if let Some(e) = &error {
                    ctx.log(Level::Error, &error_chain(e));
                }
                self.end_attempt(&ctx, state);
                if state != State::Failed {
                    break state;
                }
                let next = ctx.attempt + 1;
                let delay = task
                    .common
                    .retry
                    .as_ref()
                    .and_then(|r| r.delay_before(next, started.elapsed()));
                let Some(delay) = delay else { break state };
                self.set_taskrun_state(&ctx, State::Retrying);
                ctx.log(
                    Level::Warn,
                    &format!(
                        "Attempt {} failed, retrying in {}",
                        ctx.attempt,
                        runner_model::format_iso(delay)
                    ),
                );
                tokio::time::sleep(delay).await;
                ctx.attempt = next;
                self.set_taskrun_state(&ctx, State::Running);
            };
            let state = self.after_policies(task, state, ctx.attempt);
            if state == State::Paused {
                self.exec
                    .paused
                    .store(true, std::sync::atomic::Ordering::SeqCst);
            }
            self.finish(&ctx, state);
            state
        })
    }

    /// A test fixture instead of the task: its outputs rendered and its state posted as they
    /// are (no retry, no allowFailure), as Kestra's executor posts them.
    fn post_fixture(&self, ctx: &RunContext, fixture: &crate::fixture::TaskFixture) -> State {
        self.set_taskrun_state(ctx, State::Running);
        self.push_attempt(ctx);
        let mut state = fixture.state;
        if let Some(outputs) = &fixture.outputs {
            match ctx.render_json(&Json::Object(outputs.clone()), "fixtures.outputs") {
                Ok(Json::Object(rendered)) => self.save_outputs(ctx, rendered),
                Ok(_) => unreachable!("a rendered map stays a map"),
                Err(e) => {
                    ctx.log(Level::Error, &error_chain(&e));
                    state = State::Failed;
                }
            }
        }
        ctx.info(&format!(
            "Task replaced by its test fixture (state {}): it did not run",
            state.as_str()
        ));
        self.end_attempt(ctx, state);
        self.finish(ctx, state);
        state
    }

    /// Kestra's worker post-processing: warningOnRetry, then allowFailure, then allowWarning.
    fn after_policies(&self, task: &TaskNode, mut state: State, attempts: u32) -> State {
        if state == State::Success
            && attempts > 1
            && task
                .common
                .retry
                .as_ref()
                .is_some_and(|r| r.warning_on_retry)
        {
            state = State::Warning;
        }
        if state == State::Failed && task.common.allow_failure {
            state = State::Warning;
        }
        if state == State::Warning && task.common.allow_warning {
            state = State::Success;
        }
        state
    }

    /// One attempt, under the task's timeout.
    async fn attempt(
        &self,
        task: &TaskNode,
        ctx: &RunContext,
        scope: &Scope,
    ) -> Result<State, TaskError> {
        let timeout = ctx
            .render_opt(&task.common.timeout, "timeout")?
            .map(|d| d.0);
        ctx.set_timeout(timeout);
        let work = async {
            match &task.kind {
                TaskKind::Runnable(r) => match caught(r.run(ctx)).await? {
                    Ok(outputs) => {
                        self.save_outputs(ctx, outputs);
                        Ok(State::Success)
                    }
                    Err(TaskError::Ended { state, outputs }) => {
                        self.save_outputs(ctx, outputs);
                        Ok(state)
                    }
                    Err(TaskError::WithOutputs { error, outputs }) => {
                        self.save_outputs(ctx, outputs);
                        Err(*error)
                    }
                    Err(e) => Err(e),
                },
                TaskKind::Flowable(f) => {
                    match self.run_flowable(task, f.as_ref(), ctx, scope).await {
                        // A Pause that waits for its resume, or that a person killed.
                        Err(TaskError::Ended { state, outputs }) => {
                            self.save_outputs(ctx, outputs);
                            Ok(state)
                        }
                        other => other,
                    }
                }
            }
        };
        match timeout {
            Some(after) => tokio::time::timeout(after, work)
                .await
                .unwrap_or(Err(TaskError::Timeout { after })),
            None => work.await,
        }
    }

    async fn run_flowable(
        &self,
        task: &TaskNode,
        flowable: &dyn FlowableTask,
        ctx: &RunContext,
        scope: &Scope,
    ) -> Result<State, TaskError> {
        let resolution = caught(flowable.resolve(ctx)).await??;
        let working_dir = resolution
            .working_dir
            .clone()
            .or_else(|| scope.working_dir.clone());
        let parent_outputs = Json::Object(resolution.outputs.clone());
        if !resolution.outputs.is_empty() {
            self.save_outputs(ctx, resolution.outputs);
        }
        let child_scope = |value: Option<String>, iteration: Option<usize>| {
            let mut s = Scope {
                parent_taskrun_id: Some(ctx.taskrun_id.clone()),
                values: scope.values.clone(),
                parents: scope.parents.clone(),
                iteration,
                working_dir: working_dir.clone(),
            };
            let current_value = value.clone().or_else(|| scope.values.last().cloned());
            let mut frame = serde_json::json!({"taskrun": {"value": current_value}});
            if parent_outputs.as_object().is_some_and(|o| !o.is_empty()) {
                frame["outputs"] = parent_outputs.clone();
            }
            s.parents.insert(0, frame);
            if let Some(v) = value {
                s.values.push(v);
            }
            s
        };
        let valued = resolution.branches.iter().any(|b| b.value.is_some());
        let mut rounds = 1;
        let mut merged = loop {
            // Made as they start, not all at once: a ForEach may have 100,000 values.
            let branches = resolution
                .branches
                .iter()
                .enumerate()
                .map(|(i, b)| (child_scope(b.value.clone(), valued.then_some(i)), b.tasks));
            let states = self
                .run_branches(&ctx.taskrun_id, branches, resolution.concurrency)
                .await;
            let merged = State::merge(states);
            if merged.is_failed()
                || merged == State::Paused
                || self.exec.is_paused()
                || self.exec.is_killed()
                || self.exec.exited().is_some()
            {
                break merged;
            }
            // A loop (LoopUntil) decides whether its tasks run once more.
            match caught(flowable.again(ctx, rounds)).await.and_then(|r| r) {
                Ok(Some(outputs)) => {
                    self.save_outputs(ctx, outputs);
                    rounds += 1;
                }
                Ok(None) => break merged,
                Err(e) => {
                    ctx.log(Level::Error, &error_chain(&e));
                    break State::merge([merged, State::Failed]);
                }
            }
        };
        // A Pause below waits: the rest of this flowable comes when it is resumed.
        if merged == State::Paused || self.exec.is_paused() {
            return Ok(State::Paused);
        }
        if !self.exec.is_killed() {
            match caught(flowable.after(ctx, merged)).await.and_then(|r| r) {
                Ok(outputs) if outputs.is_empty() => {}
                Ok(outputs) => self.save_outputs(ctx, outputs),
                Err(e) => {
                    ctx.log(Level::Error, &error_chain(&e));
                    merged = State::merge([merged, State::Failed]);
                }
            }
        }
        let local = child_scope(None, None);
        if merged.is_failed() && !task.errors.is_empty() {
            self.run_sequence(&task.errors, &local).await;
        }
        if !task.finally.is_empty() {
            self.run_sequence(&task.finally, &local).await;
        }
        Ok(flowable.final_state(merged))
    }

    /// Runs branches, at most `limit` at once (0 = no limit). Once one fails no new one starts
    /// and the running ones are cancelled (their processes and containers go with them) and
    /// marked KILLED: a failed sibling ends the group, as a timeout does.
    async fn run_branches<'t>(
        &self,
        parent: &str,
        branches: impl Iterator<Item = (Scope, &'t [TaskNode])>,
        limit: usize,
    ) -> Vec<State> {
        let limit = if limit == 0 { usize::MAX } else { limit };
        let mut pending = branches;
        let mut running = FuturesUnordered::new();
        let mut states = Vec::new();
        let mut stop = false;
        loop {
            while !stop && running.len() < limit {
                let Some((scope, tasks)) = pending.next() else {
                    break;
                };
                running.push(async move { self.run_sequence(tasks, &scope).await });
            }
            match running.next().await {
                Some(state) => {
                    stop |= state.is_failed();
                    states.push(state);
                    if stop && !running.is_empty() {
                        drop(running);
                        self.kill_descendants(parent);
                        break;
                    }
                }
                None => break,
            }
        }
        states
    }

    /// Marks every unfinished task run below `parent` KILLED (their futures were dropped).
    fn kill_descendants(&self, parent: &str) {
        let now = Timestamp::now();
        let mut st = self.exec.state();
        let mut below = std::collections::HashSet::from([parent.to_string()]);
        // A task run is recorded after its parent, so one pass finds every descendant. Those
        // that ended are kept as text, and need nothing: a running one has running ancestors.
        for tr in st.task_runs.live_mut() {
            if !tr
                .parent_task_run_id
                .as_ref()
                .is_some_and(|p| below.contains(p))
            {
                continue;
            }
            below.insert(tr.id.clone());
            if !tr.state.current.is_terminal() {
                tr.state.set(State::Killed, now);
                for a in tr
                    .attempts
                    .iter_mut()
                    .filter(|a| !a.state.current.is_terminal())
                {
                    a.state.set(State::Killed, now);
                }
            }
        }
    }

    fn save_outputs(&self, ctx: &RunContext, outputs: Outputs) {
        let mut st = self.exec.state();
        insert_outputs(
            Arc::make_mut(&mut st.outputs),
            &ctx.task_id,
            &ctx.scope.values,
            &outputs,
        );
        if let Some(tr) = st.task_runs.get_mut(&ctx.taskrun_id) {
            tr.outputs.get_or_insert_with(Map::new).extend(outputs);
        }
    }

    fn push_attempt(&self, ctx: &RunContext) {
        let now = Timestamp::now();
        let mut record = StateRecord::new(now);
        record.set(State::Running, now);
        self.update_taskrun(ctx, |tr| tr.attempts.push(Attempt { state: record }));
    }

    fn end_attempt(&self, ctx: &RunContext, state: State) {
        let now = Timestamp::now();
        self.update_taskrun(ctx, |tr| {
            if let Some(a) = tr.attempts.last_mut() {
                a.state.set(state, now);
            }
        });
    }

    fn set_taskrun_state(&self, ctx: &RunContext, state: State) {
        let now = Timestamp::now();
        self.update_taskrun(ctx, |tr| tr.state.set(state, now));
    }

    /// Changes the record of `ctx`'s task run (the latest with its id).
    fn update_taskrun(&self, ctx: &RunContext, update: impl FnOnce(&mut TaskRun)) {
        if let Some(tr) = self.exec.state().task_runs.get_mut(&ctx.taskrun_id) {
            update(tr);
        }
    }

    /// Records the final state of a task run, also as `tasks.<id>[.<value>].state`.
    fn finish(&self, ctx: &RunContext, state: State) {
        self.set_taskrun_state(ctx, state);
        let mut st = self.exec.state();
        insert_state(
            Arc::make_mut(&mut st.tasks),
            &ctx.task_id,
            &ctx.scope.values,
            state,
        );
        // Nothing changes it any more: kept as its record's text from now on.
        let names = self.exec.names();
        st.task_runs
            .seal(&ctx.taskrun_id, &names, self.exec.log.masker());
    }
}

/// Runs a task's own code so that a panic in it (a bug) fails that task run, with its message,
/// instead of ending the process and losing the record.
async fn caught<T>(work: impl std::future::Future<Output = T>) -> Result<T, TaskError> {
    use futures_util::FutureExt;
    std::panic::AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .map_err(|payload| {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            TaskError::new(
                crate::error::ErrorKind::Other,
                format!("the task stopped on an internal error (a panic: {what})"),
            )
            .hint("this is a bug in runner: please report it with the flow that shows it")
        })
}

fn ensure_object(v: &mut Json) -> &mut Map<String, Json> {
    if !v.is_object() {
        *v = Json::Object(Map::new());
    }
    v.as_object_mut().expect("made an object above")
}

/// The error and its causes, one per line, as the task log shows them.
fn error_chain(e: &TaskError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(&format!("\ncaused by: {line}"));
        }
        source = cause.source();
    }
    if let Some(hint) = e.help() {
        text.push_str(&format!("\nhelp: {hint}"));
    }
    text
}
