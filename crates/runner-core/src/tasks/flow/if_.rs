//! `io.kestra.plugin.core.flow.If`: runs `then` or `else` depending on a condition.

use crate::context::RunContext;
use crate::error::TaskError;
use crate::plan::TaskList;
use crate::property::Property;
use crate::registry::{PropDoc, TaskDescriptor};
use crate::task::{BoxFuture, FlowableTask, Outputs, Resolution, TaskKind};
use serde::Deserialize;

pub(crate) const IF: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.If",
    aliases: &["io.kestra.core.tasks.flows.If"],
    doc: "Run `then` when `condition` renders truthy, else `else`. Output: `evaluationResult`.",
    properties: &[
        PropDoc::value(
            "condition",
            "string",
            "The condition; falsy values are false, 0, -0 and the empty string.",
        )
        .required(),
        PropDoc::tasks("then", "Tasks to run when the condition is true.").required(),
        PropDoc::tasks("else", "Tasks to run when the condition is false."),
    ],
    example: "id: check\ntype: io.kestra.plugin.core.flow.If\ncondition: \"{{ 1 == 1 }}\"\nthen:\n  - id: yes\n    type: io.kestra.plugin.core.log.Log\n    message: yes",
    flowable: true,
    build: |b| {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Props {
            condition: Property<String>,
        }
        let props = b.properties::<Props>();
        let then = b.tasks("then", true);
        let otherwise = b.tasks("else", false);
        Some(TaskKind::Flowable(Box::new(If {
            condition: props?.condition,
            then,
            otherwise,
        })))
    },
};

pub(crate) struct If {
    condition: Property<String>,
    then: TaskList,
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
