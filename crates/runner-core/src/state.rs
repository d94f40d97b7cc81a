//! Execution and task-run states, and the records Kestra's API shows for them.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value as Json};

/// Kestra's `State.Type`.
const ALL: [State; 14] = [
    State::Created,
    State::Running,
    State::Paused,
    State::Restarted,
    State::Killing,
    State::Success,
    State::Warning,
    State::Failed,
    State::Killed,
    State::Cancelled,
    State::Queued,
    State::Retrying,
    State::Retried,
    State::Skipped,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    Created,
    Running,
    Paused,
    Restarted,
    Killing,
    Success,
    Warning,
    Failed,
    Killed,
    Cancelled,
    Queued,
    Retrying,
    Retried,
    Skipped,
}

impl State {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            State::Failed
                | State::Warning
                | State::Success
                | State::Killed
                | State::Cancelled
                | State::Retried
                | State::Skipped
        )
    }

    pub fn is_failed(self) -> bool {
        matches!(self, State::Failed | State::Killed)
    }

    /// The state named `name` (Kestra's upper-case name).
    pub fn parse(name: &str) -> Option<State> {
        ALL.iter().copied().find(|s| s.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Created => "CREATED",
            State::Running => "RUNNING",
            State::Paused => "PAUSED",
            State::Restarted => "RESTARTED",
            State::Killing => "KILLING",
            State::Success => "SUCCESS",
            State::Warning => "WARNING",
            State::Failed => "FAILED",
            State::Killed => "KILLED",
            State::Cancelled => "CANCELLED",
            State::Queued => "QUEUED",
            State::Retrying => "RETRYING",
            State::Retried => "RETRIED",
            State::Skipped => "SKIPPED",
        }
    }

    /// Kestra's final-state priority over sibling task runs: KILLED > FAILED > WARNING > PAUSED >
    /// SUCCESS; SKIPPED counts as success.
    pub fn merge(states: impl IntoIterator<Item = State>) -> State {
        let rank = |s: State| match s {
            State::Killed => 5,
            State::Failed => 4,
            State::Warning => 3,
            State::Paused => 2,
            _ => 1,
        };
        states
            .into_iter()
            .max_by_key(|s| rank(*s))
            .filter(|s| rank(*s) > 1)
            .unwrap_or(State::Success)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state with its history, as Kestra's API shows it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StateRecord {
    pub current: State,
    pub histories: Vec<StateHistory>,
    pub start_date: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct StateHistory {
    pub state: State,
    pub date: Timestamp,
}

impl StateRecord {
    pub(crate) fn new(now: Timestamp) -> Self {
        StateRecord {
            current: State::Created,
            histories: vec![StateHistory {
                state: State::Created,
                date: now,
            }],
            start_date: now,
            end_date: None,
            duration: None,
        }
    }

    pub(crate) fn set(&mut self, state: State, now: Timestamp) {
        self.current = state;
        self.histories.push(StateHistory { state, date: now });
        if state.is_terminal() {
            self.end_date = Some(now);
            let elapsed = now.duration_since(self.start_date).unsigned_abs();
            self.duration = Some(runner_model::format_iso(elapsed));
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct Attempt {
    pub state: StateRecord,
}

/// One run of one task (one per ForEach value), as in Kestra's `taskRunList`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskRun {
    pub id: String,
    pub execution_id: String,
    pub namespace: String,
    pub flow_id: String,
    pub task_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_task_run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iteration: Option<usize>,
    pub state: StateRecord,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Map<String, Json>>,
    pub attempts: Vec<Attempt>,
}
