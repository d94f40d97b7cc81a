//! `io.kestra.plugin.core.flow.Sequential`: runs its tasks one after the other.

use crate::context::RunContext;
use crate::error::TaskError;
use crate::plan::TaskList;
use crate::registry::{PropDoc, TaskDescriptor};
use crate::task::{BoxFuture, FlowableTask, Outputs, Resolution, TaskKind};

pub(crate) const SEQUENTIAL: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.Sequential",
    aliases: &["io.kestra.core.tasks.flows.Sequential"],
    doc: "Run tasks one after the other (a group with its own errors and finally).",
    properties: &[PropDoc::tasks("tasks", "The tasks to run.").required()],
    example: "id: seq\ntype: io.kestra.plugin.core.flow.Sequential\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: a",
    flowable: true,
    build: |b| {
        Some(TaskKind::Flowable(Box::new(Sequential {
            tasks: b.tasks("tasks", true),
        })))
    },
};

pub(crate) struct Sequential {
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
