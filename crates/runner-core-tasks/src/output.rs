//! `io.kestra.plugin.core.output.OutputValues`: renders a map of values as outputs.

use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::{Map, Value as Json};

pub(crate) const OUTPUT_VALUES: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.output.OutputValues",
    aliases: &[],
    doc: "Render a map of values (recursively) and expose it as the output `values`.",
    example: "id: out\ntype: io.kestra.plugin.core.output.OutputValues\nvalues:\n  greeting: hello",
    shape: runnable::<OutputValues>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutputValues {
    /// The values to render.
    #[serde(default)]
    #[prop(dynamic)]
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
