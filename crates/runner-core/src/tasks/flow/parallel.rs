//! `io.kestra.plugin.core.flow.Parallel`: runs its tasks concurrently, `concurrent` at a time.

use crate::context::RunContext;
use crate::error::TaskError;
use crate::plan::TaskList;
use crate::registry::{PropDoc, TaskDescriptor};
use crate::task::{BoxFuture, Branch, FlowableTask, Outputs, Resolution, TaskKind};
use serde::Deserialize;

pub(crate) const PARALLEL: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.Parallel",
    aliases: &["io.kestra.core.tasks.flows.Parallel"],
    doc: "Run tasks concurrently; `concurrent` limits how many at once (0 = all).",
    properties: &[
        PropDoc::tasks("tasks", "The tasks to run concurrently.").required(),
        PropDoc::value(
            "concurrent",
            "integer",
            "How many tasks run at once; 0 means all.",
        )
        .fixed(),
    ],
    example: "id: par\ntype: io.kestra.plugin.core.flow.Parallel\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: a\n  - id: b\n    type: io.kestra.plugin.core.log.Log\n    message: b",
    flowable: true,
    build: |b| {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Props {
            #[serde(default)]
            concurrent: usize,
        }
        let props = b.properties::<Props>();
        let tasks = b.tasks("tasks", true);
        Some(TaskKind::Flowable(Box::new(Parallel {
            concurrent: props?.concurrent,
            branches: tasks.into_iter().map(|t| vec![t]).collect(),
        })))
    },
};

pub(crate) struct Parallel {
    concurrent: usize,
    /// One single-task list per child, so each child is its own branch.
    branches: Vec<TaskList>,
}

impl FlowableTask for Parallel {
    fn resolve<'a>(
        &'a self,
        _ctx: &'a RunContext,
    ) -> BoxFuture<'a, Result<Resolution<'a>, TaskError>> {
        Box::pin(async move {
            Ok(Resolution {
                branches: self
                    .branches
                    .iter()
                    .map(|tasks| Branch { value: None, tasks })
                    .collect(),
                concurrency: self.concurrent,
                outputs: Outputs::new(),
            })
        })
    }
}
