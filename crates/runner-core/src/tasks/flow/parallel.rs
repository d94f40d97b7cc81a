//! `io.kestra.plugin.core.flow.Parallel`: runs its tasks concurrently, `concurrent` at a time.

use crate::plugin::*;
use serde::Deserialize;

pub(crate) const PARALLEL: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.Parallel",
    aliases: &["io.kestra.core.tasks.flows.Parallel"],
    doc: "Run tasks concurrently; `concurrent` limits how many at once (0 = all).",
    example: "id: par\ntype: io.kestra.plugin.core.flow.Parallel\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: a\n  - id: b\n    type: io.kestra.plugin.core.log.Log\n    message: b",
    shape: flowable::<Parallel>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub(crate) struct Parallel {
    /// The tasks to run concurrently.
    #[serde(skip)]
    #[prop(tasks, required)]
    tasks: TaskList,
    /// How many tasks run at once; 0 means all.
    #[serde(default)]
    concurrent: usize,
}

impl FlowableTask for Parallel {
    fn resolve<'a>(
        &'a self,
        _ctx: &'a RunContext,
    ) -> BoxFuture<'a, Result<Resolution<'a>, TaskError>> {
        Box::pin(async move {
            Ok(Resolution {
                // Each child is its own branch.
                branches: self
                    .tasks
                    .iter()
                    .map(|task| Branch {
                        value: None,
                        tasks: std::slice::from_ref(task),
                    })
                    .collect(),
                concurrency: self.concurrent,
                outputs: Outputs::new(),
                working_dir: None,
            })
        })
    }
}
