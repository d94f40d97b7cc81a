//! `io.kestra.plugin.core.flow.Sequential`: runs its tasks one after the other.

use crate::plugin::*;
use serde::Deserialize;

pub(crate) const SEQUENTIAL: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.Sequential",
    aliases: &["io.kestra.core.tasks.flows.Sequential"],
    doc: "Run tasks one after the other (a group with its own errors and finally).",
    example: "id: seq\ntype: io.kestra.plugin.core.flow.Sequential\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: a",
    shape: flowable::<Sequential>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub(crate) struct Sequential {
    /// The tasks to run.
    #[serde(skip)]
    #[prop(tasks, required)]
    tasks: TaskList,
}

impl FlowableTask for Sequential {
    fn resolve<'a>(
        &'a self,
        _ctx: &'a RunContext,
    ) -> BoxFuture<'a, Result<Resolution<'a>, TaskError>> {
        Box::pin(async move { Ok(Resolution::sequence(&self.tasks, Outputs::new())) })
    }
}
