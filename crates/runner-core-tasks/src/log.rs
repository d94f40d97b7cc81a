//! `io.kestra.plugin.core.log.Log`: logs one message or a list of messages.

use runner_core::plugin::*;
use serde::Deserialize;

pub(crate) const LOG: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.log.Log",
    aliases: &["io.kestra.core.tasks.log.Log"],
    doc: "Log a message (or each message of a list) in the task logs.",
    example: "id: hello\ntype: io.kestra.plugin.core.log.Log\nmessage: Hello {{ flow.id }}",
    shape: runnable::<Log>(),
};

#[derive(Deserialize, PropType)]
#[serde(untagged)]
#[prop(type = "string or list of strings")]
pub(crate) enum Messages {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub(crate) struct Log {
    /// The message(s) to log.
    message: Property<Messages>,
    /// The log level, INFO by default.
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
