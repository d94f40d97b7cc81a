//! `io.kestra.plugin.scripts.node.Script` and `node.Commands`.

use crate::exec::{self, Body, Extra, Language};
use crate::props::ScriptProps;
use runner_core::plugin::*;
use serde::Deserialize;

const NODE: Language = Language {
    default_image: "node",
    env: &[
        ("PYTHONUNBUFFERED", "true"),
        ("PIP_ROOT_USER_ACTION", "ignore"),
    ],
};

pub(crate) const SCRIPT: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.scripts.node.Script",
    aliases: &[],
    doc: "Run a Node.js script, written to a file in the working directory.",
    example: "id: hello\ntype: io.kestra.plugin.scripts.node.Script\ntaskRunner:\n  type: io.kestra.plugin.core.runner.Process\nscript: console.log('hello')",
    shape: runnable::<Script>(),
};

pub(crate) const COMMANDS: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.scripts.node.Commands",
    aliases: &[],
    doc: "Run commands (`node main.js`...) in a shell, with Node.js at hand.",
    example: "id: hello\ntype: io.kestra.plugin.scripts.node.Commands\ntaskRunner:\n  type: io.kestra.plugin.core.runner.Process\ncommands:\n  - node --version",
    shape: runnable::<Commands>(),
};

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Script {
    /// The JavaScript to run.
    script: Property<String>,
    #[serde(flatten)]
    props: ScriptProps,
}

impl RunnableTask for Script {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        let body = Body::File {
            script: &self.script,
            ext: "js",
            program: "node",
        };
        Box::pin(exec::run(ctx, &self.props, &NODE, body, Extra::default()))
    }
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Commands {
    /// The commands to run.
    commands: Property<Vec<String>>,
    #[serde(flatten)]
    props: ScriptProps,
}

impl RunnableTask for Commands {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        let body = Body::Commands(&self.commands);
        Box::pin(exec::run(ctx, &self.props, &NODE, body, Extra::default()))
    }
}
