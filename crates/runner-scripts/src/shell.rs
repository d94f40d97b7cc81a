//! `io.kestra.plugin.scripts.shell.Commands` and `shell.Script`.

use crate::exec::{self, Body, Extra, Language};
use crate::props::ScriptProps;
use runner_core::plugin::*;
use serde::Deserialize;

const SHELL: Language = Language {
    default_image: "ubuntu",
    env: &[],
    ..Language::POSIX
};

pub(crate) const COMMANDS: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.scripts.shell.Commands",
    aliases: &[],
    doc: "Run shell commands, one per line of a `/bin/sh` script that stops at the first failure.",
    example: "id: hello\ntype: io.kestra.plugin.scripts.shell.Commands\ntaskRunner:\n  type: io.kestra.plugin.core.runner.Process\ncommands:\n  - echo hello",
    shape: runnable::<Commands>(),
};

pub(crate) const SCRIPT: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.scripts.shell.Script",
    aliases: &[],
    doc: "Run a multi-line shell script.",
    example: "id: hello\ntype: io.kestra.plugin.scripts.shell.Script\ntaskRunner:\n  type: io.kestra.plugin.core.runner.Process\nscript: |\n  echo hello",
    shape: runnable::<Script>(),
};

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
        Box::pin(exec::run(
            ctx,
            &self.props,
            &SHELL,
            Body::Commands(&self.commands),
            Extra::default(),
        ))
    }
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Script {
    /// The script, given to the interpreter as its last argument.
    script: Property<String>,
    #[serde(flatten)]
    props: ScriptProps,
}

impl RunnableTask for Script {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(exec::run(
            ctx,
            &self.props,
            &SHELL,
            Body::Inline(&self.script),
            Extra::default(),
        ))
    }
}
