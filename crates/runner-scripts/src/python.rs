//! `io.kestra.plugin.scripts.python.Script` and `python.Commands`.

use crate::exec::{self, Body, Extra, Language};
use crate::props::ScriptProps;
use crate::python_env::{PythonProps, PythonSetup};
use runner_core::plugin::*;
use serde::Deserialize;

const PYTHON: Language = Language {
    default_image: "python:3.13-slim",
    env: &[
        ("PYTHONUNBUFFERED", "true"),
        ("PIP_ROOT_USER_ACTION", "ignore"),
        ("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
    ],
    ..Language::POSIX
};

pub(crate) const SCRIPT: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.scripts.python.Script",
    aliases: &[],
    doc: "Run a Python script, written to a file in the working directory; `dependencies` are installed first.",
    example: "id: hello\ntype: io.kestra.plugin.scripts.python.Script\ntaskRunner:\n  type: io.kestra.plugin.core.runner.Process\nscript: |\n  print('::{\"outputs\": {\"answer\": 42}}::')",
    shape: runnable::<Script>(),
};

pub(crate) const COMMANDS: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.scripts.python.Commands",
    aliases: &[],
    doc: "Run commands (`python main.py`...) in a shell, with Python and its `dependencies` at hand.",
    example: "id: hello\ntype: io.kestra.plugin.scripts.python.Commands\ntaskRunner:\n  type: io.kestra.plugin.core.runner.Process\ncommands:\n  - python --version",
    shape: runnable::<Commands>(),
};

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Script {
    /// The Python code to run.
    script: Property<String>,
    #[serde(flatten)]
    python: PythonProps,
    #[serde(flatten)]
    props: ScriptProps,
}

impl RunnableTask for Script {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let extra = Extra {
                python: Some(PythonSetup::of(ctx, &self.python)?),
                ..Extra::default()
            };
            let body = Body::File {
                script: &self.script,
                ext: "py",
                program: "python",
            };
            exec::run(ctx, &self.props, &PYTHON, body, extra).await
        })
    }
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Commands {
    /// The commands to run.
    commands: Property<Vec<String>>,
    #[serde(flatten)]
    python: PythonProps,
    #[serde(flatten)]
    props: ScriptProps,
}

impl RunnableTask for Commands {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let extra = Extra {
                python: Some(PythonSetup::of(ctx, &self.python)?),
                ..Extra::default()
            };
            let body = Body::Commands(&self.commands);
            exec::run(ctx, &self.props, &PYTHON, body, extra).await
        })
    }
}
