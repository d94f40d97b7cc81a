//! `io.kestra.plugin.core.execution.Assert`: every condition must render truthy.

use runner_core::plugin::*;
use serde::Deserialize;

pub(crate) const ASSERT: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.execution.Assert",
    aliases: &[],
    doc: "Fail when any of `conditions` is not true, logging each that failed.",
    example: "id: check\ntype: io.kestra.plugin.core.execution.Assert\nconditions:\n  - \"{{ 1 + 1 == 2 }}\"\nerrorMessage: arithmetic is broken",
    shape: runnable::<Assert>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Assert {
    /// Expressions, each rendered and tested for truth.
    #[prop(dynamic)]
    conditions: Vec<String>,
    /// Added to the failure when an assertion fails.
    error_message: Option<Property<String>>,
}

impl RunnableTask for Assert {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let mut failed = 0u64;
            for (i, condition) in self.conditions.iter().enumerate() {
                let value = ctx.render_str(condition, &format!("conditions[{i}]"))?;
                if !is_truthy(&value) {
                    failed += 1;
                    ctx.log(Level::Error, &format!("Assertion `{condition}` failed!"));
                }
            }
            let success = self.conditions.len() as u64 - failed;
            for (name, value) in [("success", success), ("failed", failed)] {
                ctx.metric(Metric {
                    name: name.into(),
                    kind: MetricKind::Counter,
                    value: value as f64,
                    tags: Default::default(),
                });
            }
            if failed > 0 {
                let mut message = format!("{failed} assertion(s) failed!");
                if let Some(m) = ctx.render_opt(&self.error_message, "errorMessage")? {
                    message.push('\n');
                    message.push_str(&m);
                }
                return Err(TaskError::failed(message));
            }
            Ok(Outputs::new())
        })
    }
}
