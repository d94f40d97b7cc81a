//! Going on with an execution from its record, as Kestra's executor does: `resume` (a PAUSED
//! execution goes past its Pause with the `onResume` inputs) and `restart` (a FAILED or KILLED
//! one runs its failed task runs again). Task runs that ended well keep their ids, states and
//! outputs and do not run again; the executor finds the others by task, parent task run and
//! value, and runs them under their own ids. The tasks of `errors`, `finally` and
//! `afterExecution` lists start afresh on a restart: they ran because of the failure.

use crate::state::{Attempt, State, StateHistory, StateRecord, TaskRun};
use jiff::Timestamp;
use serde_json::{Map, Value as Json};
use std::collections::HashMap;

/// Someone who can answer a Pause while the run waits (a person at a terminal), given to
/// the run as a service (`Arc<dyn ResumeDesk>`); without one, a Pause with no duration ends
/// the run PAUSED and `runner resume` goes on later.
pub trait ResumeDesk: Send + Sync {
    /// Asks whether the execution goes on past `task_id`, with values for its `onResume`
    /// inputs (given as text, a FILE as a local path); `problem` says what was wrong with the
    /// last answer. `None` when nobody can answer (the terminal closed).
    fn ask<'a>(
        &'a self,
        execution_id: &'a str,
        task_id: &'a str,
        inputs: &'a [crate::inputs::InputSpec],
        problem: Option<&'a str>,
    ) -> crate::task::BoxFuture<'a, Option<Answer>>;
}

/// What the person at the desk said.
#[derive(Clone, Debug)]
pub enum Answer {
    /// Go on, with these `onResume` values.
    Resume(Map<String, Json>),
    /// Kill the execution.
    Kill,
    /// Leave it PAUSED, for `runner resume` later.
    Leave,
}

/// How a recorded execution goes on.
#[derive(Clone, Debug)]
pub enum Continuation {
    /// Past its Pause, with these `onResume` inputs (a FILE input as a local path).
    Resume(Map<String, Json>),
    /// From its failed task runs.
    Restart,
}

/// What a record says of an execution, enough to go on with it.
#[derive(Debug)]
pub struct Prior {
    pub(crate) id: String,
    pub(crate) namespace: String,
    pub(crate) flow_id: String,
    pub(crate) record: StateRecord,
    pub(crate) inputs: Json,
    pub(crate) labels: Map<String, Json>,
    pub(crate) trigger: Option<Json>,
    pub(crate) task_runs: Vec<TaskRun>,
}

impl Prior {
    /// Reads an execution record (`execution.json`); what is wrong with it, else.
    pub fn read(record: &Json) -> Result<Prior, String> {
        let text = |key: &str| {
            record
                .get(key)
                .and_then(Json::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("the record has no `{key}`"))
        };
        let labels = record
            .get("labels")
            .and_then(Json::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(|e| {
                        Some((e.get("key")?.as_str()?.to_string(), e.get("value")?.clone()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let task_runs = record
            .get("taskRunList")
            .and_then(Json::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, r)| task_run(r).map_err(|e| format!("taskRunList[{i}]: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Prior {
            id: text("id")?,
            namespace: text("namespace")?,
            flow_id: text("flowId")?,
            record: state_record(record.get("state").unwrap_or(&Json::Null))
                .map_err(|e| format!("state: {e}"))?,
            inputs: record
                .get("inputs")
                .cloned()
                .unwrap_or(Json::Object(Map::new())),
            labels,
            trigger: record.get("trigger").cloned(),
            task_runs,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The namespace and id of the flow.
    pub fn flow(&self) -> (&str, &str) {
        (&self.namespace, &self.flow_id)
    }

    /// The execution's state as recorded.
    pub fn state(&self) -> State {
        self.record.current
    }

    /// The tasks whose runs wait for a resume.
    pub fn paused_tasks(&self) -> Vec<&str> {
        self.task_runs
            .iter()
            .filter(|r| r.state.current == State::Paused)
            .map(|r| r.task_id.as_str())
            .collect()
    }

    /// Whether a task run that waits started an execution of its own (a Subflow whose child
    /// paused): the resume's answers are then for the child's Pause.
    pub(crate) fn paused_subflows(&self) -> bool {
        self.task_runs.iter().any(|r| {
            r.state.current == State::Paused
                && r.outputs
                    .as_ref()
                    .is_some_and(|o| o.contains_key("executionId"))
        })
    }

    /// Why this execution cannot go on as `how` says, in Kestra's words where it has them.
    pub fn refusal(&self, how: &Continuation) -> Option<String> {
        let state = self.state();
        match how {
            Continuation::Resume(_) if state != State::Paused => Some(format!(
                "execution {} is {state}, not PAUSED: only a paused execution can be resumed",
                self.id
            )),
            Continuation::Restart if !matches!(state, State::Failed | State::Killed) => {
                Some(format!(
                    "execution {} is {state}: only a FAILED or KILLED execution can be restarted",
                    self.id
                ))
            }
            _ => None,
        }
    }
}

/// A task run of the record that the executor meets again.
#[derive(Clone, Debug)]
pub(crate) struct PriorRun {
    pub(crate) id: String,
    pub(crate) state: State,
    /// When it paused (a Pause waiting for its resume).
    pub(crate) paused_at: Option<Timestamp>,
    /// It stays as it ended and does not run again.
    pub(crate) kept: bool,
}

impl PriorRun {
    pub(crate) fn kept(&self) -> bool {
        self.kept
    }
}

/// Whether a task run that ended in `state` stays as it is: a resume goes on past the Pause
/// only (what ended, failed included, stays: an `errors` branch may be where the Pause is); a
/// restart runs again what did not end well.
pub(crate) fn kept(state: State, how: &Continuation) -> bool {
    match how {
        Continuation::Resume(_) => state.is_terminal(),
        Continuation::Restart => matches!(
            state,
            State::Success | State::Warning | State::Skipped | State::Retried
        ),
    }
}

/// Where a task run is met again: its task, its parent task run, its value and iteration.
pub(crate) type PriorKey = (String, Option<String>, Option<String>, Option<usize>);

pub(crate) fn key_of(run: &TaskRun) -> PriorKey {
    (
        run.task_id.clone(),
        run.parent_task_run_id.clone(),
        run.value.clone(),
        run.iteration,
    )
}

/// The task runs of `prior` that the executor meets again, by key, and those it keeps: the
/// record's order is kept; on a restart the runs of `handlers` tasks go.
pub(crate) fn carried(
    prior: &[TaskRun],
    how: &Continuation,
    handlers: &std::collections::HashSet<String>,
) -> (Vec<TaskRun>, HashMap<PriorKey, PriorRun>) {
    let mut runs = Vec::with_capacity(prior.len());
    let mut index = HashMap::new();
    for run in prior {
        if matches!(how, Continuation::Restart) && handlers.contains(&run.task_id) {
            continue;
        }
        let paused_at = (run.state.current == State::Paused)
            .then(|| run.state.histories.last().map(|h| h.date))
            .flatten();
        index.insert(
            key_of(run),
            PriorRun {
                id: run.id.clone(),
                state: run.state.current,
                paused_at,
                kept: kept(run.state.current, how),
            },
        );
        runs.push(run.clone());
    }
    (runs, index)
}

/// The values a task run's ForEach parents gave it, outermost first: the task runs directly
/// in a valued branch carry its value and their iteration (those below carry the value only).
pub(crate) fn values_of(run: &TaskRun, by_id: &HashMap<&str, &TaskRun>) -> Vec<String> {
    let mut chain = Vec::new();
    let mut current = Some(run);
    // Bounded by the runs themselves: a record whose parents loop stops here.
    let mut steps = 0;
    while let Some(r) = current {
        let parent = r
            .parent_task_run_id
            .as_deref()
            .and_then(|p| by_id.get(p).copied());
        if let (Some(v), Some(_)) = (&r.value, r.iteration) {
            chain.push(v.clone());
        }
        current = parent;
        steps += 1;
        if steps > by_id.len() {
            break;
        }
    }
    chain.reverse();
    chain
}

pub(crate) fn is_kept(run: &TaskRun, how: &Continuation) -> bool {
    kept(run.state.current, how)
}

fn task_run(r: &Json) -> Result<TaskRun, String> {
    let text = |key: &str| r.get(key).and_then(Json::as_str).map(str::to_string);
    let attempts = r
        .get("attempts")
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|a| {
            Ok(Attempt {
                state: state_record(a.get("state").unwrap_or(&Json::Null))?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(TaskRun {
        id: text("id").ok_or("no `id`")?,
        task_id: text("taskId").ok_or("no `taskId`")?,
        parent_task_run_id: text("parentTaskRunId"),
        value: text("value"),
        iteration: r
            .get("iteration")
            .and_then(Json::as_u64)
            .map(|i| i as usize),
        state: state_record(r.get("state").unwrap_or(&Json::Null))?,
        outputs: r.get("outputs").and_then(Json::as_object).cloned(),
        attempts,
    })
}

fn state_record(s: &Json) -> Result<StateRecord, String> {
    let state = |v: Option<&Json>| {
        let name = v.and_then(Json::as_str).unwrap_or_default();
        State::parse(name).ok_or_else(|| format!("`{name}` is not a state"))
    };
    let date = |v: Option<&Json>| -> Result<Timestamp, String> {
        let text = v.and_then(Json::as_str).unwrap_or_default();
        text.parse()
            .map_err(|e| format!("`{text}` is not a date: {e}"))
    };
    let histories = s
        .get("histories")
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|h| {
            Ok(StateHistory {
                state: state(h.get("state"))?,
                date: date(h.get("date"))?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(StateRecord {
        current: state(s.get("current"))?,
        histories,
        start_date: date(s.get("startDate"))?,
        end_date: s.get("endDate").map(|d| date(Some(d))).transpose()?,
        duration: s.get("duration").and_then(Json::as_str).map(str::to_string),
    })
}

/// Ends a PAUSED execution's record as KILLED (`runner kill`): its waiting task runs too.
pub fn kill_paused(record: &mut Json) -> Result<(), String> {
    let prior = Prior::read(record)?;
    if prior.state() != State::Paused {
        return Err(format!(
            "execution {} is {}: only a PAUSED execution is ended this way",
            prior.id,
            prior.state()
        ));
    }
    let now = Timestamp::now();
    let end = |value: &mut Json| -> Result<(), String> {
        let mut rec = state_record(value)?;
        if !rec.current.is_terminal() {
            rec.set(State::Killed, now);
            *value = serde_json::to_value(&rec).map_err(|e| e.to_string())?;
        }
        Ok(())
    };
    if let Some(runs) = record.get_mut("taskRunList").and_then(Json::as_array_mut) {
        for run in runs {
            if let Some(attempts) = run.get_mut("attempts").and_then(Json::as_array_mut) {
                for a in attempts {
                    if let Some(s) = a.get_mut("state") {
                        end(s)?;
                    }
                }
            }
            if let Some(s) = run.get_mut("state") {
                end(s)?;
            }
        }
    }
    if let Some(s) = record.get_mut("state") {
        end(s)?;
    }
    Ok(())
}
