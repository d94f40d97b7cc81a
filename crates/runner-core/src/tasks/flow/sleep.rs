//! `io.kestra.plugin.core.flow.Sleep`: waits for a duration.

use crate::plugin::*;
use serde::Deserialize;

pub(crate) const SLEEP: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.Sleep",
    aliases: &[],
    doc: "Wait for `duration` (ISO-8601, e.g. PT5S).",
    example: "id: wait\ntype: io.kestra.plugin.core.flow.Sleep\nduration: PT0.1S",
    shape: runnable::<Sleep>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub(crate) struct Sleep {
    /// How long to wait, e.g. PT5S.
    duration: Property<IsoDuration>,
}

impl RunnableTask for Sleep {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let d = ctx.render(&self.duration, "duration")?.0;
            ctx.info(&format!("Waiting for {}", runner_model::format_iso(d)));
            tokio::time::sleep(d).await;
            Ok(Outputs::new())
        })
    }
}
