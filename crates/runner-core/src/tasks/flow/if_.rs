//! `io.kestra.plugin.core.flow.If`: runs `then` or `else` depending on a condition.

use crate::plugin::*;
use serde::Deserialize;

pub(crate) const IF: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.If",
    aliases: &["io.kestra.core.tasks.flows.If"],
    doc: "Run `then` when `condition` renders truthy, else `else`. Output: `evaluationResult`.",
    example: "id: check\ntype: io.kestra.plugin.core.flow.If\ncondition: \"{{ 1 == 1 }}\"\nthen:\n  - id: yes\n    type: io.kestra.plugin.core.log.Log\n    message: yes",
    shape: flowable::<If>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub(crate) struct If {
    /// The condition; falsy values are false, 0, -0 and the empty string.
    condition: Property<String>,
    /// Tasks to run when the condition is true.
    #[serde(skip)]
    #[prop(tasks, required)]
    then: TaskList,
    /// Tasks to run when the condition is false.
    #[serde(skip, rename = "else")]
    #[prop(tasks)]
    otherwise: TaskList,
}

impl FlowableTask for If {
    fn resolve<'a>(
        &'a self,
        ctx: &'a RunContext,
    ) -> BoxFuture<'a, Result<Resolution<'a>, TaskError>> {
        Box::pin(async move {
            let result = super::super::is_truthy(&ctx.render(&self.condition, "condition")?);
            let mut outputs = Outputs::new();
            outputs.insert("evaluationResult".into(), result.into());
            let tasks = if result { &self.then } else { &self.otherwise };
            Ok(Resolution::sequence(tasks, outputs))
        })
    }
}
