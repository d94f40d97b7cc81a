//! `io.kestra.plugin.core.debug.Return` (renders a value as output) and the deprecated `Echo`.

use crate::context::RunContext;
use crate::error::TaskError;
use crate::log::Level;
use crate::property::Property;
use crate::registry::{PropDoc, TaskDescriptor};
use crate::task::{BoxFuture, Outputs, RunnableTask, TaskKind};
use serde::Deserialize;
use serde_json::Value as Json;

pub(crate) const RETURN: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.debug.Return",
    aliases: &["io.kestra.core.tasks.debugs.Return"],
    doc: "Render a value and return it as the output `value`.",
    properties: &[PropDoc::value("format", "string", "The value to render.")],
    example: "id: ret\ntype: io.kestra.plugin.core.debug.Return\nformat: \"{{ execution.id }}\"",
    flowable: false,
    build: |b| Some(TaskKind::Runnable(Box::new(b.properties::<Return>()?))),
};

pub(crate) const ECHO: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.debug.Echo",
    aliases: &["io.kestra.core.tasks.debugs.Echo"],
    doc: "Deprecated: log a rendered message (use Log).",
    properties: &[
        PropDoc::value("format", "string", "The message to log.").required(),
        PropDoc::value(
            "level",
            "TRACE|DEBUG|INFO|WARN|ERROR",
            "The log level, INFO by default.",
        ),
    ],
    example: "id: echo\ntype: io.kestra.plugin.core.debug.Echo\nformat: hello",
    flowable: false,
    build: |b| Some(TaskKind::Runnable(Box::new(b.properties::<Echo>()?))),
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Return {
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Echo {
    format: Property<String>,
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
