//! The script kit: how a task family runs a program the way Kestra's script tasks do (a working
//! directory with namespace files and `inputFiles`, `{{ workingDir }}` in the commands, the
//! Process or Docker task runner, output relayed into logs, outputs and metrics through the
//! `::{json}::` protocol, `outputFiles` kept). dbt, new languages and CLI wrappers are script
//! tasks: they flatten [`ScriptProps`] into their struct and call [`run`].
//!
//! ```ignore
//! #[derive(Deserialize, Properties)]
//! #[serde(rename_all = "camelCase")]
//! struct DbtCli {
//!     /// The dbt commands to run.
//!     commands: Property<Vec<String>>,
//!     #[serde(flatten)]
//!     props: ScriptProps,
//! }
//!
//! impl RunnableTask for DbtCli {
//!     fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
//!         Box::pin(async move {
//!             let outputs = kit::run(ctx, &self.props, &DBT, Body::Commands(&self.commands),
//!                 Extra::default()).await?;
//!             // ctx.working_dir() is still the folder dbt wrote its target/ into.
//!             Ok(outputs)
//!         })
//!     }
//! }
//! ```
//!
//! A language with Kestra's `Script` and `Commands` pair is one [`script_language!`] line.

pub use crate::exec::{Body, Extra, Language, run, run_in_container};
pub use crate::props::ScriptProps;
/// The output relay of every script task, for a family whose program runs elsewhere (a remote
/// host over SSH): [`relay`] reads one stream (stdout, or stderr with `stderr: true`) line by
/// line with bounded memory; a `::{json}::` line becomes outputs (merged into
/// [`Collected::vars`]), metrics and log lines, any other line is logged (stdout INFO, stderr
/// ERROR). Run one per stream, sharing one `Mutex<Collected>`.
pub use crate::runner::{Collected, relay};

/// The Docker Engine API client of the Docker task runner, for a family that drives the engine
/// itself (io.kestra.plugin.docker.cli): [`engine::connect`] as the runner connects (the task's
/// `host`, else the run's DOCKER_HOST, else Docker's socket; the API version negotiated), then
/// [`Engine::json`](engine::Engine::json) calls, [`engine::stream`] for the answers that are a
/// stream of JSON objects (pull, push, build), [`engine::tar_dir`] for a build context.
pub mod engine {
    use crate::runner::docker::{ChannelWriter, engine_error};
    pub use crate::runner::engine::{Body, CallError, Engine, query};
    use crate::runner::tar;
    use bytes::Bytes;
    use http_body_util::BodyExt;
    pub use hyper::Method;
    use runner_core::plugin::{Json, RunContext, TaskError};
    use std::io::Write;

    /// The engine at `host`, else the run's DOCKER_HOST, else Docker's socket.
    pub async fn connect(ctx: &RunContext, host: Option<&str>) -> Result<Engine, TaskError> {
        crate::runner::docker::connect(ctx, host).await
    }

    /// A failed call as a task error: `what` failed, naming the engine, with the cause.
    pub fn error(engine: &Engine, what: &str, e: CallError) -> TaskError {
        engine_error(engine, what, e)
    }

    /// Sends a request whose answer is a stream of JSON objects (one per line: progress of a
    /// pull, push or build), handing each to `each` as it comes. `auth` is the
    /// `X-Registry-Auth` header. An error status is [`CallError::Status`] with the engine's
    /// message; errors inside the stream (`{"error": ...}`) are for `each` to see.
    pub async fn stream(
        engine: &Engine,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        auth: Option<&str>,
        body: Body,
        each: &mut (dyn FnMut(Json) + Send),
    ) -> Result<(), CallError> {
        let response = engine
            .request(method, path, content_type, auth, body)
            .await?;
        let status = response.status();
        let mut body = response.into_body();
        if !status.is_success() {
            let bytes = crate::runner::engine::read_limited(body, 1 << 20)
                .await
                .unwrap_or_default();
            return Err(CallError::Status(
                status,
                crate::runner::engine::message_of(&bytes),
            ));
        }
        let mut pending: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                CallError::Protocol(format!("cannot read the engine's answer: {e}"))
            })?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            pending.extend_from_slice(&data);
            while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                if let Ok(v) = serde_json::from_slice::<Json>(&line) {
                    each(v);
                }
            }
            if pending.len() > 16 << 20 {
                pending.clear();
            }
        }
        if let Ok(v) = serde_json::from_slice::<Json>(&pending) {
            each(v);
        }
        Ok(())
    }

    /// Folder `dir` as a tar stream (names relative to it: a build context), written on a
    /// blocking thread while the engine reads it; the handle says whether it was all written.
    pub fn tar_dir(
        dir: std::path::PathBuf,
    ) -> (Body, tokio::task::JoinHandle<std::io::Result<()>>) {
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(8);
        let writer = tokio::task::spawn_blocking(move || {
            let mut out = ChannelWriter {
                tx: tx.clone(),
                buf: Vec::with_capacity(64 << 10),
            };
            let result = tar::write_dir(&dir, ".", tar::Owner::default(), &mut out)
                .and_then(|_| out.flush());
            if let Err(e) = &result {
                let _ = tx.blocking_send(Err(std::io::Error::new(e.kind(), e.to_string())));
            }
            result
        });
        (Body::Channel(rx), writer)
    }
}

/// How script tasks of a run may run (`--task-runner`, `--docker-host-access`): a run service
/// (`ExecutionBuilder::service`). Without it: `auto`, and no host access.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskRunnerChoice {
    pub mode: RunnerMode,
    /// Docker task runners may mount this machine's folders and run privileged containers.
    pub docker_host_access: bool,
}

/// Where script tasks that ask for a container run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RunnerMode {
    /// Docker when an engine answers, else this machine, with a warning.
    #[default]
    Auto,
    /// This machine, always.
    Process,
    /// Docker, always: no engine is an error.
    Docker,
}

/// One language's `Script` and `Commands` task types (`io.kestra.plugin.scripts.<name>.Script`
/// and `.Commands`), in a module named `module` holding `SCRIPT` and `COMMANDS` descriptors:
/// the script is written to `<workingDir>/<digits>.<extension>` and run as `<program> <path>`
/// (the path alone when `program` is empty), with the `language`'s image, interpreter and
/// fail-fast line.
/// The calling crate depends on `serde` and `runner-core`.
#[macro_export]
macro_rules! script_language {
    (
        module: $module:ident,
        name: $name:literal,
        label: $label:literal,
        doc: $doc:literal,
        language: $language:expr,
        program: $program:literal,
        extension: $ext:literal,
        hello: $hello:literal,
        version: $version:literal $(,)?
    ) => {
        pub(crate) mod $module {
            use ::runner_core::plugin::{
                BoxFuture, Outputs, Properties, Property, RunContext, RunnableTask, TaskDescriptor,
                TaskError, runnable,
            };
            use $crate::kit::{Body, Extra, Language, ScriptProps};

            const LANGUAGE: Language = $language;

            pub(crate) const SCRIPT: TaskDescriptor = TaskDescriptor {
                type_name: concat!("io.kestra.plugin.scripts.", $name, ".Script"),
                aliases: &[],
                doc: $doc,
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

            #[derive(::serde::Deserialize, Properties)]
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
                    Box::pin($crate::kit::run(ctx, &self.props, &LANGUAGE, body, Extra::default()))
                }
            }

            #[derive(::serde::Deserialize, Properties)]
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
                    Box::pin($crate::kit::run(ctx, &self.props, &LANGUAGE, body, Extra::default()))
                }
            }
        }
    };
}
