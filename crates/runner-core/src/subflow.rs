//! Subflow executions: a task starts another flow as an execution of its own (own id, storage
//! folder, record), sharing the run's storage, secrets, masker, log and stores. The parent
//! execution ends only after every child it started.

use crate::context::RunContext;
use crate::error::{ErrorKind, TaskError};
use crate::log::Level;
use crate::state::State;
use serde_json::{Map, Value as Json, json};
use std::sync::Arc;
use tokio::sync::oneshot;

/// How deep subflows may call subflows: past it, a flow is most likely calling itself.
pub(crate) const MAX_DEPTH: usize = 10;

/// What a Subflow task asks for.
#[derive(Clone, Debug, Default)]
pub struct SubflowCall {
    pub namespace: String,
    pub flow_id: String,
    pub inputs: Map<String, Json>,
    /// Labels of the child, beyond its flow's own.
    pub labels: Map<String, Json>,
    /// Wait for the child to end (its state and outputs come back).
    pub wait: bool,
}

/// A started child: its id, and when waited for, how it ended and its flow outputs.
#[derive(Clone, Debug)]
pub struct SubflowRun {
    pub execution_id: String,
    pub state: Option<State>,
    pub outputs: Option<Json>,
    /// The child's task outputs as its expressions saw them (`outputs.<task>...`), for the
    /// deprecated task-level `outputs` of Subflow.
    pub task_outputs: Option<Json>,
}

/// A child execution still running, as its parent keeps it.
pub(crate) struct ChildRun {
    /// Ends the child (KILLED, record written); none when a waiting task run holds it.
    pub(crate) stop: Option<oneshot::Sender<String>>,
    pub(crate) done: tokio::task::JoinHandle<()>,
}

/// Sends the stop when dropped: a Subflow task run that is killed or times out takes its
/// child with it.
struct StopOnDrop(Option<oneshot::Sender<String>>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(stop) = self.0.take() {
            let _ = stop.send("The Subflow task that started it ended".into());
        }
    }
}

impl RunContext {
    /// Starts flow `call.namespace`.`call.flow_id` from the flows folder as a child execution.
    pub async fn run_subflow(&self, call: SubflowCall) -> Result<SubflowRun, TaskError> {
        let exec = &self.exec;
        let launch = &exec.launch;
        let Some(flows) = &launch.flows else {
            return Err(TaskError::new(
                ErrorKind::Unsupported,
                format!(
                    "Unable to find flow '{}'.'{}': this run has no flows folder",
                    call.namespace, call.flow_id
                ),
            )
            .hint(
                "`runner run` finds subflows beside the flow file and below (or in --flows DIR)",
            ));
        };
        if launch.depth >= MAX_DEPTH {
            return Err(TaskError::failed(format!(
                "Subflows are nested more than {MAX_DEPTH} deep ({}.{} calls {}.{}): does a flow call itself?",
                exec.flow.namespace, exec.flow.id, call.namespace, call.flow_id
            )));
        }
        let started = launch
            .executions
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        let most = launch.run_limits.max_executions;
        if started > most {
            return Err(TaskError::new(
                ErrorKind::Denied,
                format!(
                    "This run has started {most} executions, subflows included, the most one run may ({}.{} calls {}.{}): a flow is probably calling itself, through a rendered flowId",
                    exec.flow.namespace, exec.flow.id, call.namespace, call.flow_id
                ),
            )
            .hint("if so many are meant, raise RUNNER_MAX_EXECUTIONS"));
        }
        let plan = flows
            .find(&call.namespace, &call.flow_id)
            .map_err(TaskError::failed)?;
        if plan.disabled {
            return Err(TaskError::failed("Cannot execute a flow which is disabled"));
        }
        let mut inputs = Map::new();
        for (k, v) in call.inputs {
            if plan.inputs.iter().any(|i| i.id == k) {
                inputs.insert(k, v);
            } else {
                self.log(
                    Level::Warn,
                    &format!(
                        "Input {k} was provided by parent execution {} for subflow {}.{} but isn't declared at the subflow inputs",
                        exec.id, call.namespace, call.flow_id
                    ),
                );
            }
        }
        let mut child = (**launch).clone();
        child.depth += 1;
        child.ancestors.push(exec.prefix.clone());
        child.log = Arc::new(launch.log.for_subflow(&call.namespace, &call.flow_id));
        let trigger = json!({
            "id": self.task_id,
            "type": self.task_type,
            "variables": {
                "executionId": exec.id,
                "namespace": exec.flow.namespace,
                "flowId": exec.flow.id,
                "flowRevision": exec.flow.revision,
                "taskRunId": self.taskrun_id,
                "taskId": self.task_id,
            },
        });
        // Going on from a record: the child that paused goes on too (the resume's answers
        // are for its Pause), rather than a new one.
        let mut setup = crate::execution::Setup::default();
        let mut id = None;
        if let Some(child_id) = self
            .resumed
            .as_ref()
            .and_then(|r| r.outputs.as_ref())
            .and_then(|o| o.get("executionId"))
            .and_then(Json::as_str)
        {
            let record = child_record(exec, &call.namespace, &call.flow_id, child_id)?;
            let prior = crate::resume::Prior::read(&record).map_err(|e| {
                TaskError::failed(format!(
                    "cannot go on with subflow execution {child_id}: its record {e}"
                ))
            })?;
            // Resumed on its own meanwhile: how it ended is this task's outcome.
            if prior.state().is_terminal() {
                return Ok(SubflowRun {
                    execution_id: child_id.to_string(),
                    state: Some(prior.state()),
                    outputs: record.get("outputs").cloned(),
                    task_outputs: None,
                });
            }
            id = Some(child_id.to_string());
            setup.prior = Some((
                prior,
                crate::resume::Continuation::Resume(exec.resume_given.clone()),
            ));
        }
        let execution = child
            .start(plan, id, &inputs, call.labels, Some(trigger), setup)
            .await
            .map_err(|e| TaskError::failed(e.to_string()))?;
        let execution_id = execution.id().to_string();
        let link = format!(
            "[[link execution=\"{execution_id}\" flowId=\"{}\" namespace=\"{}\"]]",
            call.flow_id, call.namespace
        );
        self.info(&format!("Subflow execution {link} started"));
        let (stop_tx, stop_rx) = oneshot::channel::<String>();
        let (done_tx, done_rx) = oneshot::channel::<(State, Option<Json>, Json)>();
        let done = tokio::spawn(async move {
            let stop = async {
                match stop_rx.await {
                    Ok(reason) => reason,
                    // Nobody can stop it any more: it runs to its end.
                    Err(_) => std::future::pending().await,
                }
            };
            let state = execution.run_until(stop).await;
            if let Err(e) = execution.write_record() {
                execution.shared.log(Level::Error, None, &e.to_string());
            }
            let (flow_outputs, task_outputs) = execution.outputs();
            let _ = done_tx.send((state, flow_outputs, task_outputs));
        });
        if !call.wait {
            exec.children.lock().expect("children lock").push(ChildRun {
                stop: Some(stop_tx),
                done,
            });
            return Ok(SubflowRun {
                execution_id,
                state: None,
                outputs: None,
                task_outputs: None,
            });
        }
        let guard = StopOnDrop(Some(stop_tx));
        exec.children
            .lock()
            .expect("children lock")
            .push(ChildRun { stop: None, done });
        let (state, outputs, task_outputs) = done_rx.await.map_err(|_| {
            TaskError::failed(format!(
                "Subflow execution {link} stopped on an internal error"
            ))
        })?;
        drop(guard);
        match state {
            State::Failed | State::Killed => self.log(
                Level::Error,
                &format!("Subflow execution {link} ends in {} state", state.as_str()),
            ),
            State::Warning => self.log(
                Level::Warn,
                &format!("Subflow execution {link} ends in WARNING state"),
            ),
            _ => {}
        }
        Ok(SubflowRun {
            execution_id,
            state: Some(state),
            outputs,
            task_outputs: Some(task_outputs),
        })
    }
}

/// The record of a child execution that paused, to go on with it.
fn child_record(
    exec: &crate::context::ExecutionShared,
    namespace: &str,
    flow_id: &str,
    id: &str,
) -> Result<Json, TaskError> {
    let uri = crate::storage::ExecutionPrefix::new(namespace, flow_id, id).record();
    let unreadable = |why: String| {
        TaskError::failed(format!(
            "cannot go on with subflow execution {id}: its record {why}"
        ))
    };
    let path = exec
        .storage
        .path(&uri)
        .map_err(|e| unreadable(e.to_string()))?;
    let text =
        std::fs::read_to_string(&path).map_err(|e| unreadable(format!("cannot be read ({e})")))?;
    serde_json::from_str(&text).map_err(|e| unreadable(format!("is not JSON ({e})")))
}

/// `outputs.<task>[.<value>]` of an ended execution, from its record.
/// Waits for every child of `exec`, stopping them first when `stop` says why (the parent
/// was killed). Children may start children meanwhile: it waits until none is left.
pub(crate) async fn wait_for_children(exec: &crate::context::ExecutionShared, stop: Option<&str>) {
    loop {
        let children: Vec<ChildRun> =
            std::mem::take(&mut *exec.children.lock().expect("children lock"));
        if children.is_empty() {
            return;
        }
        for ChildRun { stop: tx, done } in children {
            if let (Some(reason), Some(tx)) = (stop, tx) {
                let _ = tx.send(reason.to_string());
            }
            let _ = done.await;
        }
    }
}
