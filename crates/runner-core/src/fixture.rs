//! Test fixtures (`runner test`): a task run with a fixture does not run; its state and
//! rendered outputs are posted as Kestra's executor posts them. Fixture files are written into
//! the execution's storage before it starts and named by the `files` variable.

use crate::plugin::*;
use serde_json::{Map, Value as Json};

/// A fixture for the runs of task `id` (only the run of loop value `value` when given).
#[derive(Clone, Debug)]
pub struct TaskFixture {
    pub id: String,
    pub value: Option<String>,
    pub state: State,
    /// Rendered when the task run would start.
    pub outputs: Option<Map<String, Json>>,
}

/// What a test case gives its execution; with one, the given input values are rendered
/// (with `files` and `secret()`) before they are typed.
#[derive(Clone, Debug)]
pub(crate) struct TestSetup {
    pub(crate) tasks: Vec<TaskFixture>,
    /// File name to content, written under the execution's `files/` folder.
    pub(crate) files: Vec<(String, String)>,
}

/// The fixture for a run of `task_id` at loop value `value`: one for that value first, then
/// one for every run.
pub(crate) fn find<'a>(
    fixtures: &'a [TaskFixture],
    task_id: &str,
    value: Option<&str>,
) -> Option<&'a TaskFixture> {
    let of_task = || fixtures.iter().filter(move |f| f.id == task_id);
    of_task()
        .find(|f| f.value.is_some() && f.value.as_deref() == value)
        .or_else(|| of_task().find(|f| f.value.is_none()))
}

/// A fixture file's name made safe as a file name inside the execution's folder.
pub(crate) fn check_file_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.starts_with('/')
        || name
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
    {
        return Err(format!(
            "fixture file `{name}`: a name is a relative path without `..`"
        ));
    }
    Ok(())
}

/// What runs in place of a task of a type runner does not know, accepted because a fixture
/// names it: a run no fixture covers fails, saying so.
pub(crate) struct StandIn {
    pub(crate) type_name: String,
}

impl RunnableTask for StandIn {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let which = match ctx.value() {
                Some(v) => format!(" for value '{v}'"),
                None => String::new(),
            };
            Err(TaskError::new(
                ErrorKind::Unsupported,
                format!(
                    "task `{}` is of type {}, which runner does not support, and no fixture covers this run{which}",
                    ctx.task_id(),
                    self.type_name
                ),
            )
            .hint("give the test case a fixture for it (`fixtures.tasks` with this id, and `value` for a loop's runs)"))
        })
    }
}
