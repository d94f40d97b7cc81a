//! `io.kestra.plugin.core.output.OutputValues`: renders a map of values as outputs.

use crate::context::RunContext;
use crate::error::TaskError;
use crate::registry::{PropDoc, TaskDescriptor};
use crate::task::{BoxFuture, Outputs, RunnableTask, TaskKind};
use serde::Deserialize;
use serde_json::{Map, Value as Json};

pub(crate) const OUTPUT_VALUES: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.output.OutputValues",
    aliases: &[],
    doc: "Render a map of values (recursively) and expose it as the output `values`.",
    properties: &[PropDoc::value("values", "map", "The values to render.")],
    example: "id: out\ntype: io.kestra.plugin.core.output.OutputValues\nvalues:\n  greeting: hello",
    flowable: false,
    build: |b| {
        Some(TaskKind::Runnable(Box::new(
            b.properties::<OutputValues>()?,
        )))
    },
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutputValues {
    #[serde(default)]
    values: Map<String, Json>,
}

impl RunnableTask for OutputValues {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let values = ctx.render_json(&Json::Object(self.values.clone()), "values")?;
            let mut out = Outputs::new();
            out.insert("values".into(), values);
            Ok(out)
        })
    }
}
