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

/// One run of one task (one per ForEach value), as in Kestra's `taskRunList` (where each also
/// names its execution, namespace and flow: added when it is written, see [`TaskRunEntry`]).
#[derive(Clone, Debug)]
pub(crate) struct TaskRun {
    pub id: String,
    pub task_id: String,
    pub parent_task_run_id: Option<String>,
    pub value: Option<String>,
    pub iteration: Option<usize>,
    pub state: StateRecord,
    pub outputs: Option<Map<String, Json>>,
    pub attempts: Vec<Attempt>,
}

/// A task run as the record writes it, with the names of its execution.
pub(crate) struct TaskRunEntry<'a> {
    pub run: &'a TaskRun,
    pub execution_id: &'a str,
    pub namespace: &'a str,
    pub flow_id: &'a str,
}

impl Serialize for TaskRunEntry<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let r = self.run;
        let mut m = s.serialize_struct("TaskRun", 11)?;
        m.serialize_field("id", &r.id)?;
        m.serialize_field("executionId", self.execution_id)?;
        m.serialize_field("namespace", self.namespace)?;
        m.serialize_field("flowId", self.flow_id)?;
        m.serialize_field("taskId", &r.task_id)?;
        if let Some(p) = &r.parent_task_run_id {
            m.serialize_field("parentTaskRunId", p)?;
        }
        if let Some(v) = &r.value {
            m.serialize_field("value", v)?;
        }
        if let Some(i) = &r.iteration {
            m.serialize_field("iteration", i)?;
        }
        m.serialize_field("state", &r.state)?;
        if let Some(o) = &r.outputs {
            m.serialize_field("outputs", o)?;
        }
        m.serialize_field("attempts", &r.attempts)?;
        m.end()
    }
}

/// What the end-of-run summary shows of a task run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskRunSummary {
    pub task_id: String,
    pub value: Option<String>,
    pub state: State,
    /// Kestra's ISO duration, once it ended.
    pub duration: Option<String>,
    /// The execution a Subflow started.
    pub child_execution: Option<String>,
}

/// Every task run of an execution, in creation order. A task run that has ended is kept as the
/// JSON text the record writes (masked then), not as a structure, and that text goes to a
/// spill file beside the record (unlinked at once: it is gone with the process): a ForEach of
/// 100,000 values keeps 100,000 small summaries in memory, and the record is written from the
/// texts without building it whole.
#[derive(Default)]
pub(crate) struct TaskRunList {
    slots: Vec<Slot>,
    /// Where each running task run is, by id.
    live: std::collections::HashMap<String, usize>,
    /// Where ended task runs' texts go (none: they stay in memory).
    spill: Option<Spill>,
}

/// An append-only file of ended task runs' texts.
struct Spill {
    file: std::fs::File,
    len: u64,
}

impl TaskRunList {
    /// A list whose ended task runs' texts go to a file in `dir` (kept in memory when the file
    /// cannot be made).
    pub(crate) fn spilling_into(dir: &std::path::Path) -> TaskRunList {
        TaskRunList {
            spill: Spill::open(dir),
            ..TaskRunList::default()
        }
    }
}

impl Spill {
    fn open(dir: &std::path::Path) -> Option<Spill> {
        #[cfg(unix)]
        {
            std::fs::create_dir_all(dir).ok()?;
            let path = dir.join(format!(".taskruns-{}.spill", crate::ids::friendly_id()));
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
                .ok()?;
            // Unlinked at once: readable through the handle, gone when the process ends.
            std::fs::remove_file(&path).ok()?;
            Some(Spill { file, len: 0 })
        }
        #[cfg(not(unix))]
        {
            let _ = dir;
            None
        }
    }

    fn append(&mut self, text: &str) -> Option<Place> {
        use std::io::Write;
        let offset = self.len;
        (&self.file).write_all(text.as_bytes()).ok()?;
        self.len += text.len() as u64;
        Some(Place::Spilled {
            offset,
            len: u32::try_from(text.len()).ok()?,
        })
    }

    fn read(&self, offset: u64, len: u32) -> std::io::Result<String> {
        let mut buf = vec![0u8; len as usize];
        #[cfg(unix)]
        std::os::unix::fs::FileExt::read_exact_at(&self.file, &mut buf, offset)?;
        #[cfg(not(unix))]
        let _ = offset;
        String::from_utf8(buf).map_err(std::io::Error::other)
    }
}

/// Where an ended task run's text is.
enum Place {
    Memory(Box<str>),
    Spilled { offset: u64, len: u32 },
}

enum Slot {
    Live(Box<TaskRun>),
    Done(Box<DoneRun>),
}

struct DoneRun {
    /// The record's JSON of this task run, compact, masked when it ended.
    json: Place,
    /// The masker's generation when `json` was masked: a secret met later is masked when the
    /// record is written.
    masked_at: u64,
    summary: TaskRunSummary,
}

impl TaskRunList {
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn push(&mut self, run: TaskRun) {
        self.live.insert(run.id.clone(), self.slots.len());
        self.slots.push(Slot::Live(Box::new(run)));
    }

    /// The running task run `id`.
    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut TaskRun> {
        let i = *self.live.get(id)?;
        match &mut self.slots[i] {
            Slot::Live(run) => Some(run),
            Slot::Done(_) => None,
        }
    }

    /// The running task runs, in creation order.
    pub(crate) fn live_mut(&mut self) -> impl Iterator<Item = &mut TaskRun> {
        self.slots.iter_mut().filter_map(|s| match s {
            Slot::Live(run) => Some(&mut **run),
            Slot::Done(_) => None,
        })
    }

    /// Task run `id` has ended: kept from now on as its record's text, masked.
    pub(crate) fn seal(
        &mut self,
        id: &str,
        names: &RecordNames<'_>,
        masker: &runner_secrets::Masker,
    ) {
        let Some(i) = self.live.remove(id) else {
            return;
        };
        let Slot::Live(run) = &self.slots[i] else {
            return;
        };
        let masked_at = masker.generation();
        let mut json = serde_json::to_value(names.entry(run)).unwrap_or(Json::Null);
        masker.mask_json_in_place(&mut json, crate::execution::RECORD_STRUCTURE);
        let text = json.to_string();
        let place = match self.spill.as_mut().and_then(|s| s.append(&text)) {
            Some(place) => place,
            None => Place::Memory(text.into_boxed_str()),
        };
        let done = DoneRun {
            json: place,
            masked_at,
            summary: summary_of(run),
        };
        self.slots[i] = Slot::Done(Box::new(done));
    }

    /// Each task run's record JSON, in order, masked with every secret known now.
    pub(crate) fn write_entries(
        &self,
        names: &RecordNames<'_>,
        masker: &runner_secrets::Masker,
        mut each: impl FnMut(&str) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let now = masker.generation();
        for slot in &self.slots {
            match slot {
                Slot::Done(d) => {
                    let spilled;
                    let text = match &d.json {
                        Place::Memory(text) => &**text,
                        Place::Spilled { offset, len } => {
                            let spill = self.spill.as_ref().ok_or_else(|| {
                                std::io::Error::other("the task runs' spill file is gone")
                            })?;
                            spilled = spill.read(*offset, *len)?;
                            &spilled
                        }
                    };
                    if d.masked_at == now {
                        each(text)?
                    } else {
                        // A secret met after this task run ended: masked now.
                        let mut json: Json = serde_json::from_str(text).unwrap_or(Json::Null);
                        masker.mask_json_in_place(&mut json, crate::execution::RECORD_STRUCTURE);
                        each(&json.to_string())?
                    }
                }
                Slot::Live(run) => {
                    let mut json = serde_json::to_value(names.entry(run)).unwrap_or(Json::Null);
                    masker.mask_json_in_place(&mut json, crate::execution::RECORD_STRUCTURE);
                    each(&json.to_string())?
                }
            }
        }
        Ok(())
    }

    /// What the summary shows of each task run, in order.
    pub(crate) fn summaries(&self) -> Vec<TaskRunSummary> {
        self.slots
            .iter()
            .map(|s| match s {
                Slot::Live(run) => summary_of(run),
                Slot::Done(d) => d.summary.clone(),
            })
            .collect()
    }
}

fn summary_of(run: &TaskRun) -> TaskRunSummary {
    TaskRunSummary {
        task_id: run.task_id.clone(),
        value: run.value.clone(),
        state: run.state.current,
        duration: run.state.duration.clone(),
        child_execution: run
            .outputs
            .as_ref()
            .and_then(|o| o.get("executionId"))
            .and_then(Json::as_str)
            .map(str::to_string),
    }
}

/// The names every task run of an execution carries in the record.
pub(crate) struct RecordNames<'a> {
    pub execution_id: &'a str,
    pub namespace: &'a str,
    pub flow_id: &'a str,
}

impl<'a> RecordNames<'a> {
    pub(crate) fn entry<'r>(&'r self, run: &'r TaskRun) -> TaskRunEntry<'r> {
        TaskRunEntry {
            run,
            execution_id: self.execution_id,
            namespace: self.namespace,
            flow_id: self.flow_id,
        }
    }
}
