//! `io.kestra.plugin.core.log.Log`: logs one message or a list of messages.

use crate::context::RunContext;
use crate::error::TaskError;
use crate::log::Level;
use crate::property::Property;
use crate::registry::{PropDoc, TaskDescriptor};
use crate::task::{BoxFuture, Outputs, RunnableTask, TaskKind};
use serde::Deserialize;

pub(crate) const LOG: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.log.Log",
    aliases: &["io.kestra.core.tasks.log.Log"],
    doc: "Log a message (or each message of a list) in the task logs.",
    properties: &[
        PropDoc::value(
            "message",
            "string or list of strings",
            "The message(s) to log.",
        )
        .required(),
        PropDoc::value(
            "level",
            "TRACE|DEBUG|INFO|WARN|ERROR",
            "The log level, INFO by default.",
        ),
    ],
    example: "id: hello\ntype: io.kestra.plugin.core.log.Log\nmessage: Hello {{ flow.id }}",
    flowable: false,
    build: |b| Some(TaskKind::Runnable(Box::new(b.properties::<Log>()?))),
};

#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Messages {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Log {
    message: Property<Messages>,
    level: Option<Property<Level>>,
}

impl RunnableTask for Log {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let level = ctx.render_opt(&self.level, "level")?.unwrap_or(Level::Info);
            match ctx.render(&self.message, "message")? {
                Messages::One(m) => ctx.log(level, &m),
                Messages::Many(all) => all.iter().for_each(|m| ctx.log(level, m)),
            }
            Ok(Outputs::new())
        })
    }
}
