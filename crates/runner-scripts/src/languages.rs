//! The `Script` and `Commands` of Node, R, Julia and Ruby: the same tasks, each with its own
//! program, file extension, default image and environment.

use crate::exec::{self, Body, Extra, Language};
use crate::props::ScriptProps;
use runner_core::plugin::*;
use serde::Deserialize;

/// One language's pair of task types.
macro_rules! language {
    (@env) => { &[] };
    (@env $env:expr) => { $env };
    ($module:ident, $name:literal, $image:literal, $program:literal, $ext:literal, $label:literal, $hello:literal, $version:literal $(, $env:expr)?) => {
        pub(crate) mod $module {
            use super::*;

            const LANGUAGE: Language = Language {
                default_image: $image,
                env: language!(@env $($env)?),
            };

            pub(crate) const SCRIPT: TaskDescriptor = TaskDescriptor {
                type_name: concat!("io.kestra.plugin.scripts.", $name, ".Script"),
                aliases: &[],
                doc: concat!("Run a ", $label, " script, written to a file in the working directory and run with `", $program, "`."),
                example: concat!("id: hello\ntype: io.kestra.plugin.scripts.", $name, ".Script\ntaskRunner:\n  type: io.kestra.plugin.core.runner.Process\nscript: ", $hello),
                shape: runnable::<Script>(),
            };

            pub(crate) const COMMANDS: TaskDescriptor = TaskDescriptor {
                type_name: concat!("io.kestra.plugin.scripts.", $name, ".Commands"),
                aliases: &[],
                doc: concat!("Run commands in a shell, with ", $label, " at hand."),
                example: concat!("id: hello\ntype: io.kestra.plugin.scripts.", $name, ".Commands\ntaskRunner:\n  type: io.kestra.plugin.core.runner.Process\ncommands:\n  - ", $version),
                shape: runnable::<Commands>(),
            };

            #[derive(Deserialize, Properties)]
            #[serde(rename_all = "camelCase")]
            pub(crate) struct Script {
                /// The script to run.
                script: Property<String>,
                #[serde(flatten)]
                props: ScriptProps,
            }

            impl RunnableTask for Script {
                fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
                    let body = Body::File {
                        script: &self.script,
                        ext: $ext,
                        program: $program,
                    };
                    Box::pin(exec::run(ctx, &self.props, &LANGUAGE, body, Extra::default()))
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
                    Box::pin(exec::run(ctx, &self.props, &LANGUAGE, body, Extra::default()))
                }
            }
        }
    };
}

// Kestra's Node task sets these for the Python tooling some Node images carry.
language!(
    node,
    "node",
    "node",
    "node",
    "js",
    "Node.js",
    "console.log('hello')",
    "node --version",
    &[
        ("PYTHONUNBUFFERED", "true"),
        ("PIP_ROOT_USER_ACTION", "ignore"),
    ]
);
language!(
    r,
    "r",
    "r-base",
    "Rscript",
    "R",
    "R",
    "print('hello')",
    "Rscript --version"
);
language!(
    julia,
    "julia",
    "julia",
    "julia",
    "jl",
    "Julia",
    "println(\"hello\")",
    "julia --version"
);
language!(
    ruby,
    "ruby",
    "ruby",
    "ruby",
    "rb",
    "Ruby",
    "puts 'hello'",
    "ruby --version"
);
