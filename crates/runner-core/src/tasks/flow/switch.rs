//! `io.kestra.plugin.core.flow.Switch`: runs the tasks of the case matching `value`.

use crate::plugin::*;
use serde::Deserialize;

pub(crate) const SWITCH: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.Switch",
    aliases: &["io.kestra.core.tasks.flows.Switch"],
    doc: "Run the tasks of the case equal to `value`, or `defaults`. Outputs: `value`, `defaults`.",
    example: "id: sw\ntype: io.kestra.plugin.core.flow.Switch\nvalue: b\ncases:\n  b:\n    - id: hit\n      type: io.kestra.plugin.core.log.Log\n      message: b",
    shape: flowable::<Switch>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub(crate) struct Switch {
    /// The value to match against the case keys.
    value: Property<String>,
    /// A map from a value to the tasks to run.
    #[serde(skip)]
    #[prop(task_map)]
    cases: Vec<(String, TaskList)>,
    /// Tasks to run when no case matches.
    #[serde(skip)]
    #[prop(tasks)]
    defaults: TaskList,
}

impl FlowableTask for Switch {
    fn check(&self) -> Result<(), String> {
        if self.cases.iter().all(|(_, t)| t.is_empty()) && self.defaults.is_empty() {
            return Err("No task defined, neither cases or default have any tasks".into());
        }
        Ok(())
    }

    fn resolve<'a>(
        &'a self,
        ctx: &'a RunContext,
    ) -> BoxFuture<'a, Result<Resolution<'a>, TaskError>> {
        Box::pin(async move {
            let value = ctx.render(&self.value, "value")?;
            let case = self.cases.iter().find(|(k, _)| *k == value).map(|(_, t)| t);
            let mut outputs = Outputs::new();
            outputs.insert("value".into(), value.clone().into());
            outputs.insert("defaults".into(), case.is_none().into());
            let tasks = case.unwrap_or(&self.defaults);
            Ok(Resolution::sequence(tasks, outputs))
        })
    }
}
