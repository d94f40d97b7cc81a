//! `io.kestra.plugin.core.debug.Return` (renders a value as output) and the deprecated `Echo`.

use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::Value as Json;

pub(crate) const RETURN: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.debug.Return",
    aliases: &["io.kestra.core.tasks.debugs.Return"],
    doc: "Render a value and return it as the output `value`.",
    example: "id: ret\ntype: io.kestra.plugin.core.debug.Return\nformat: \"{{ execution.id }}\"",
    shape: runnable::<Return>(),
};

pub(crate) const ECHO: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.debug.Echo",
    aliases: &["io.kestra.core.tasks.debugs.Echo"],
    doc: "Deprecated: log a rendered message (use Log).",
    example: "id: echo\ntype: io.kestra.plugin.core.debug.Echo\nformat: hello",
    shape: runnable::<Echo>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub(crate) struct Return {
    /// The value to render.
    format: Option<Property<String>>,
}

impl RunnableTask for Return {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let value = ctx.render_opt(&self.format, "format")?;
            if let Some(v) = &value {
                ctx.log(Level::Debug, v);
            }
            let mut out = Outputs::new();
            out.insert("value".into(), value.map_or(Json::Null, Json::String));
            Ok(out)
        })
    }
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub(crate) struct Echo {
    /// The message to log.
    format: Property<String>,
    /// The log level, INFO by default.
    level: Option<Property<Level>>,
}

impl RunnableTask for Echo {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let level = ctx.render_opt(&self.level, "level")?.unwrap_or(Level::Info);
            ctx.log(level, &ctx.render(&self.format, "format")?);
            Ok(Outputs::new())
        })
    }
}
