//! `io.kestra.plugin.core.execution.Fail`: fails the task, always or on a condition.

use runner_core::plugin::*;
use serde::Deserialize;

pub(crate) const FAIL: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.execution.Fail",
    aliases: &["io.kestra.core.tasks.executions.Fail"],
    doc: "Fail the task run: always, or when `condition` renders to a truthy value.",
    example: "id: fail\ntype: io.kestra.plugin.core.execution.Fail\nerrorMessage: stop here",
    shape: runnable::<Fail>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Fail {
    /// Fail only when this renders truthy.
    condition: Option<Property<String>>,
    /// The error message, `Task failure` by default.
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
                Some(c) if is_truthy(&c) => {
                    ctx.log(Level::Error, &message);
                    Err(TaskError::failed("Fail on a condition"))
                }
                Some(_) => Ok(Outputs::new()),
            }
        })
    }
}
