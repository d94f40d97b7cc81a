//! `io.kestra.plugin.core.flow.AllowFailure`: a group whose failure only makes it WARNING.

use crate::plugin::*;
use crate::state::State;
use serde::Deserialize;

pub(crate) const ALLOW_FAILURE: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.AllowFailure",
    aliases: &["io.kestra.core.tasks.flows.AllowFailure"],
    doc: "Run tasks in sequence; if one fails, this group ends WARNING and the flow goes on.",
    example: "id: tolerant\ntype: io.kestra.plugin.core.flow.AllowFailure\ntasks:\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail",
    shape: flowable::<AllowFailure>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub(crate) struct AllowFailure {
    /// The tasks to run.
    #[serde(skip)]
    #[prop(tasks, required)]
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
