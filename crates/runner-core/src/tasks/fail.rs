//! `io.kestra.plugin.core.execution.Fail`: fails the task, always or on a condition.

use crate::context::RunContext;
use crate::error::TaskError;
use crate::log::Level;
use crate::property::Property;
use crate::registry::{PropDoc, TaskDescriptor};
use crate::task::{BoxFuture, Outputs, RunnableTask, TaskKind};
use serde::Deserialize;

pub(crate) const FAIL: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.execution.Fail",
    aliases: &["io.kestra.core.tasks.executions.Fail"],
    doc: "Fail the task run: always, or when `condition` renders to a truthy value.",
    properties: &[
        PropDoc::value("condition", "string", "Fail only when this renders truthy."),
        PropDoc::value(
            "errorMessage",
            "string",
            "The error message, `Task failure` by default.",
        ),
    ],
    example: "id: fail\ntype: io.kestra.plugin.core.execution.Fail\nerrorMessage: stop here",
    flowable: false,
    build: |b| Some(TaskKind::Runnable(Box::new(b.properties::<Fail>()?))),
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Fail {
    condition: Option<Property<String>>,
    error_message: Option<Property<String>>,
}

impl RunnableTask for Fail {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let message = ctx
                .render_opt(&self.error_message, "errorMessage")?
                .unwrap_or_else(|| "Task failure".into());
            match ctx.render_opt(&self.condition, "condition")? {
                None => Err(TaskError::failed(message)),
                Some(c) if super::is_truthy(&c) => {
                    ctx.log(Level::Error, &message);
                    Err(TaskError::failed("Fail on a condition"))
                }
                Some(_) => Ok(Outputs::new()),
            }
        })
    }
}
