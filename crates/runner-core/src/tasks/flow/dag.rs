//! `io.kestra.plugin.core.flow.Dag`: tasks with `dependsOn`, run so that each starts after
//! what it depends on.

use crate::plugin::*;
use serde::Deserialize;

pub(crate) const DAG: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.Dag",
    aliases: &["io.kestra.core.tasks.flows.Dag"],
    doc: "Run `tasks` (each `{task, dependsOn}`) so that every task starts after those it depends on; runner runs them one at a time in that order.",
    example: "id: dag\ntype: io.kestra.plugin.core.flow.Dag\ntasks:\n  - task:\n      id: extract\n      type: io.kestra.plugin.core.log.Log\n      message: extract\n  - task:\n      id: load\n      type: io.kestra.plugin.core.log.Log\n      message: load\n    dependsOn: [extract]",
    shape: flowable::<Dag>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub(crate) struct Dag {
    /// The tasks, each `{task, dependsOn: [ids]}`.
    #[serde(skip)]
    #[prop(dag, required)]
    tasks: TaskList,
    /// Accepted; runner runs the tasks one at a time, in an order that honours `dependsOn`.
    #[allow(dead_code)] // read for validation, never used
    concurrent: Option<Property<u32>>,
}

impl FlowableTask for Dag {
    fn resolve<'a>(
        &'a self,
        _ctx: &'a RunContext,
    ) -> BoxFuture<'a, Result<Resolution<'a>, TaskError>> {
        Box::pin(async move { Ok(Resolution::sequence(&self.tasks, Outputs::new())) })
    }
}
