//! `io.kestra.plugin.core.flow.Switch`: runs the tasks of the case matching `value`.

use crate::context::RunContext;
use crate::error::TaskError;
use crate::plan::TaskList;
use crate::property::Property;
use crate::registry::{PropDoc, TaskDescriptor};
use crate::task::{BoxFuture, FlowableTask, Outputs, Resolution, TaskKind};
use serde::Deserialize;

pub(crate) const SWITCH: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.Switch",
    aliases: &["io.kestra.core.tasks.flows.Switch"],
    doc: "Run the tasks of the case equal to `value`, or `defaults`. Outputs: `value`, `defaults`.",
    properties: &[
        PropDoc::value(
            "value",
            "string",
            "The value to match against the case keys.",
        )
        .required(),
        PropDoc::task_map("cases", "A map from a value to the tasks to run."),
        PropDoc::tasks("defaults", "Tasks to run when no case matches."),
    ],
    example: "id: sw\ntype: io.kestra.plugin.core.flow.Switch\nvalue: b\ncases:\n  b:\n    - id: hit\n      type: io.kestra.plugin.core.log.Log\n      message: b",
    flowable: true,
    build: |b| {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Props {
            value: Property<String>,
        }
        let props = b.properties::<Props>();
        let cases = b.task_map("cases");
        let defaults = b.tasks("defaults", false);
        if cases.iter().all(|(_, t)| t.is_empty()) && defaults.is_empty() {
            b.rule("No task defined, neither cases or default have any tasks");
            return None;
        }
        Some(TaskKind::Flowable(Box::new(Switch {
            value: props?.value,
            cases,
            defaults,
        })))
    },
};

pub(crate) struct Switch {
    value: Property<String>,
    cases: Vec<(String, TaskList)>,
    defaults: TaskList,
}

impl FlowableTask for Switch {
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
