//! `io.kestra.plugin.core.flow.AllowFailure`: a group whose failure only makes it WARNING.

use crate::context::RunContext;
use crate::error::TaskError;
use crate::plan::TaskList;
use crate::registry::{PropDoc, TaskDescriptor};
use crate::state::State;
use crate::task::{BoxFuture, FlowableTask, Outputs, Resolution, TaskKind};

pub(crate) const ALLOW_FAILURE: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.AllowFailure",
    aliases: &["io.kestra.core.tasks.flows.AllowFailure"],
    doc: "Run tasks in sequence; if one fails, this group ends WARNING and the flow goes on.",
    properties: &[PropDoc::tasks("tasks", "The tasks to run.").required()],
    example: "id: tolerant\ntype: io.kestra.plugin.core.flow.AllowFailure\ntasks:\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail",
    flowable: true,
    build: |b| {
        Some(TaskKind::Flowable(Box::new(AllowFailure {
            tasks: b.tasks("tasks", true),
        })))
    },
};

pub(crate) struct AllowFailure {
    tasks: TaskList,
}

impl FlowableTask for AllowFailure {
    fn resolve<'a>(
        &'a self,
        _ctx: &'a RunContext,
    ) -> BoxFuture<'a, Result<Resolution<'a>, TaskError>> {
        Box::pin(async move { Ok(Resolution::sequence(&self.tasks, Outputs::new())) })
    }

    fn final_state(&self, children: State) -> State {
        if children == State::Failed {
            State::Warning
        } else {
            children
        }
    }
}
