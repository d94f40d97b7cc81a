//! What every script task does (Kestra's `CommandsWrapper`): prepare the working directory,
//! render the commands with `workingDir`/`outputDir`, replace `kestra://` URIs by local
//! copies, run the command on a task runner, relay its output, and keep its output files.

use crate::kit::{RunnerMode, TaskRunnerChoice};
use crate::props::{DockerOptions, LegacyRunner, ScriptProps, TargetOs, TaskRunnerSpec};
use crate::runner::{self, Launch, Ran};
use runner_core::plugin::*;
use serde_json::Map;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

/// What differs between languages. Most are shells with a program: start from
/// [`Language::POSIX`] and set the image and variables.
pub struct Language {
    /// The image a container runner uses when the task names none.
    pub default_image: &'static str,
    /// Variables the language's tasks always set.
    pub env: &'static [(&'static str, &'static str)],
    /// The interpreter when the task names none (Kestra's `/bin/sh -c`; PowerShell's `pwsh`).
    pub interpreter: &'static [&'static str],
    /// The first line when failing fast (`set -e`; PowerShell stops on errors another way).
    pub fail_fast: &'static str,
    /// Lines a `Script` task runs before the task's own `beforeCommands` (dotnet installs
    /// dotnet-script this way in Kestra).
    pub script_before: &'static [&'static str],
}

impl Language {
    /// A language run by `/bin/sh -c` with `set -e`, with no image and no variables.
    pub const POSIX: Language = Language {
        default_image: "",
        env: &[],
        interpreter: &["/bin/sh", "-c"],
        fail_fast: "set -e",
        script_before: &[],
    };
}

/// The script or commands of a task.
pub enum Body<'a> {
    /// Joined to the before commands and given to the interpreter.
    Commands(&'a Property<Vec<String>>),
    /// One command: the script text itself (shell.Script).
    Inline(&'a Property<String>),
    /// Written to `<workingDir>/<digits>.<ext>` and run as `<program> <path>` (the path alone
    /// when `program` is empty: PowerShell runs a script by its path).
    File {
        script: &'a Property<String>,
        ext: &'static str,
        program: &'static str,
    },
}

/// Where the flow asked the script to run.
pub(crate) enum Requested {
    Process,
    Docker {
        options: Box<DockerOptions>,
        /// Named by the flow (`taskRunner` or `runner: DOCKER`), not only Kestra's default.
        named: bool,
    },
}

impl Requested {
    /// From `taskRunner`, else the deprecated `runner`/`docker`, else `default`.
    pub(crate) fn of(
        ctx: &RunContext,
        task_runner: Option<&TaskRunnerSpec>,
        runner: Option<&Property<LegacyRunner>>,
        docker: Option<&DockerOptions>,
        default: LegacyRunner,
    ) -> Result<Requested, TaskError> {
        if let Some(spec) = task_runner {
            return Ok(match spec {
                TaskRunnerSpec::Process => Requested::Process,
                TaskRunnerSpec::Docker(o) => Requested::Docker {
                    options: o.clone(),
                    named: true,
                },
            });
        }
        let named = runner.is_some();
        let legacy = match runner {
            Some(r) => ctx.render(r, "runner")?,
            None => default,
        };
        Ok(match legacy {
            LegacyRunner::Process => Requested::Process,
            LegacyRunner::Docker => Requested::Docker {
                options: Box::new(docker.cloned().unwrap_or_default()),
                named,
            },
        })
    }
}

/// The runner chosen for this run.
pub(crate) enum Chosen {
    Process,
    Docker(Box<runner::docker::Container>),
}

/// `--task-runner`: `auto` (Docker when an engine answers, else this machine), `process`
/// or `docker`.
pub(crate) async fn choose(
    ctx: &RunContext,
    requested: Requested,
    image: Option<String>,
    vars: &Map<String, Json>,
) -> Result<Chosen, TaskError> {
    let Requested::Docker { options, named } = requested else {
        return Ok(Chosen::Process);
    };
    let mode = ctx
        .service::<TaskRunnerChoice>()
        .copied()
        .unwrap_or_default()
        .mode;
    let host = ctx.render_opt(&options.host, "taskRunner.host")?;
    match mode {
        RunnerMode::Process => Ok(Chosen::Process),
        RunnerMode::Docker => {
            let engine = runner::docker::connect(ctx, host.as_deref()).await?;
            let container = runner::docker::Container::new(ctx, engine, options, image, vars)?;
            Ok(Chosen::Docker(Box::new(container)))
        }
        RunnerMode::Auto => {
            if let Ok(engine) = runner::docker::connect(ctx, host.as_deref()).await {
                let container = runner::docker::Container::new(ctx, engine, options, image, vars)?;
                return Ok(Chosen::Docker(Box::new(container)));
            }
            let image = image.unwrap_or_default();
            let why = if named {
                "the flow asks for the Docker task runner"
            } else {
                "Kestra's default task runner is Docker"
            };
            ctx.log(
                Level::Warn,
                &format!(
                    "Running on this machine, not in image `{image}`: {why} and no container engine answers (start one, or say --task-runner process to silence this)"
                ),
            );
            Ok(Chosen::Process)
        }
    }
}

/// The Docker runner the task names, with no fallback to this machine.
async fn choose_docker(
    ctx: &RunContext,
    requested: Requested,
    image: Option<String>,
    vars: &Map<String, Json>,
) -> Result<Chosen, TaskError> {
    let Requested::Docker { options, .. } = requested else {
        return Err(TaskError::new(
            ErrorKind::Unsupported,
            "this task runs in a container: it needs the Docker task runner",
        ));
    };
    let host = ctx.render_opt(&options.host, "host")?;
    let engine = runner::docker::connect(ctx, host.as_deref()).await?;
    let container = runner::docker::Container::new(ctx, engine, options, image, vars)?;
    Ok(Chosen::Docker(Box::new(container)))
}

/// The working directory, made ready: namespace files, `outputDir`, and the runner
/// variables (`workingDir`, `outputDir`) expressions of the script see.
pub(crate) struct Prepared {
    pub(crate) dir: Arc<WorkingDir>,
    pub(crate) vars: Map<String, Json>,
    pub(crate) output_dir: Option<PathBuf>,
}

pub(crate) async fn prepare(
    ctx: &RunContext,
    namespace_files: Option<&NamespaceFiles>,
    output_dir: bool,
) -> Result<Prepared, TaskError> {
    let dir = ctx.working_dir()?;
    if !ctx.shares_working_dir() {
        ctx.log(
            Level::Debug,
            &format!("Working directory: {}", dir.path().display()),
        );
    }
    if let Some(spec) = namespace_files {
        ctx.load_namespace_files(&dir, spec).await?;
    }
    let mut vars = Map::new();
    vars.insert(
        "workingDir".into(),
        Json::String(dir.path().display().to_string()),
    );
    let output_dir = if output_dir {
        let path = dir.path().join(runner_core::ids::friendly_id());
        std::fs::create_dir_all(&path).map_err(|e| {
            TaskError::new(ErrorKind::Io, "cannot create the output directory").caused_by(e)
        })?;
        vars.insert("outputDir".into(), Json::String(path.display().to_string()));
        Some(path)
    } else {
        None
    };
    Ok(Prepared {
        dir,
        vars,
        output_dir,
    })
}

/// Everything a script task does: prepares the working directory (namespace files,
/// `inputFiles`), renders `body` and `beforeCommands` with `workingDir`, replaces `kestra://`
/// URIs by local copies, runs the command line on the task runner the flow and the run choose,
/// relays its output (the `::{json}::` protocol gives outputs and metrics), and keeps the
/// `outputFiles`. A non-zero exit fails the task with Kestra's message, keeping the outputs.
/// The working directory stays until the task run ends: `ctx.working_dir()` after this returns
/// the same folder, for tasks that read what the command wrote (dbt's run results).
pub async fn run(
    ctx: &RunContext,
    props: &ScriptProps,
    language: &Language,
    body: Body<'_>,
    extra: Extra,
) -> Result<Outputs, TaskError> {
    run_on(ctx, props, language, body, extra, false).await
}

/// [`run`], always on the Docker task runner the props name (never on this machine, whatever
/// `--task-runner` says; no engine is an error): for a task whose purpose is a container,
/// io.kestra.plugin.docker.cli.Run.
pub async fn run_in_container(
    ctx: &RunContext,
    props: &ScriptProps,
    language: &Language,
    body: Body<'_>,
) -> Result<Outputs, TaskError> {
    run_on(ctx, props, language, body, Extra::default(), true).await
}

async fn run_on(
    ctx: &RunContext,
    props: &ScriptProps,
    language: &Language,
    body: Body<'_>,
    extra: Extra,
    docker_only: bool,
) -> Result<Outputs, TaskError> {
    let output_dir = ctx
        .render_opt(&props.output_directory, "outputDirectory")?
        .unwrap_or(false)
        || props.runner.is_some();
    let prepared = prepare(ctx, props.namespace_files.as_ref(), output_dir).await?;
    if let Some(files) = &props.input_files {
        let files = ctx.render_with(files, "inputFiles", &prepared.vars)?;
        ctx.write_input_files(&prepared.dir, &files, "inputFiles")
            .await?;
    }
    let requested = Requested::of(
        ctx,
        props.task_runner.as_ref(),
        props.runner.as_ref(),
        props.docker.as_ref(),
        LegacyRunner::Docker,
    )?;
    let image = image_of(ctx, &requested, props, language, &prepared.vars)?;
    let chosen = if docker_only {
        choose_docker(ctx, requested, image, &prepared.vars).await?
    } else {
        choose(ctx, requested, image, &prepared.vars).await?
    };
    let on_host = matches!(chosen, Chosen::Process);
    let mut rewrites = Rewrites::default();
    let setup = match &extra.python {
        Some(py) => crate::python_env::setup(ctx, py, on_host, prepared.dir.path()).await?,
        None => crate::python_env::Setup::default(),
    };
    let mut extra_env = extra.env;
    let credentials = match &extra.credentials {
        Some((name, text, variable)) => {
            let path = prepared.dir.path().join(name);
            write_private(&path, text).map_err(|e| {
                TaskError::new(ErrorKind::Io, "cannot write the credentials file").caused_by(e)
            })?;
            extra_env.push((variable.clone(), path.display().to_string()));
            Some(path)
        }
        None => None,
    };

    let mut commands = match &body {
        Body::Commands(c) => ctx.render_with(c, "commands", &prepared.vars)?,
        Body::Inline(s) => vec![ctx.render_with(s, "script", &prepared.vars)?],
        Body::File {
            script,
            ext,
            program,
        } => {
            let text = ctx.render_with(script, "script", &prepared.vars)?;
            let text = rewrites.apply(ctx, prepared.dir.path(), &text).await?;
            let name = format!("{}.{ext}", runner_core::ids::random_u64());
            let path = prepared.dir.path().join(&name);
            tokio::fs::write(&path, text.as_bytes())
                .await
                .map_err(|e| {
                    TaskError::new(ErrorKind::Io, "cannot write the script file").caused_by(e)
                })?;
            if program.is_empty() {
                vec![path.display().to_string()]
            } else {
                vec![format!("{program} {}", path.display())]
            }
        }
    };
    let mut before = match &props.before_commands {
        Some(b) => ctx.render_with(b, "beforeCommands", &prepared.vars)?,
        None => Vec::new(),
    };
    before.splice(0..0, setup.before);
    if matches!(body, Body::File { .. }) {
        let lines = language.script_before.iter().map(|l| l.to_string());
        before.splice(0..0, lines);
    }
    if !matches!(body, Body::File { .. }) {
        for c in commands.iter_mut() {
            *c = rewrites.apply(ctx, prepared.dir.path(), c).await?;
        }
    }
    for c in before.iter_mut() {
        *c = rewrites.apply(ctx, prepared.dir.path(), c).await?;
    }
    let interpreter = match &props.interpreter {
        Some(i) => ctx.render_with(i, "interpreter", &prepared.vars)?,
        None => language.interpreter.iter().map(|a| a.to_string()).collect(),
    };
    let fail_fast = ctx
        .render_opt(&props.fail_fast, "failFast")?
        .unwrap_or(true);
    let target = ctx
        .render_opt(&props.target_os, "targetOS")?
        .unwrap_or(TargetOs::Auto);
    let fail_fast = fail_fast.then_some(language.fail_fast);
    let argv = command_line(interpreter, fail_fast, target, before, commands);

    let mut env = Vec::new();
    for (k, v) in language.env {
        env.push((k.to_string(), v.to_string()));
    }
    env.extend(extra_env);
    if let Some(e) = ctx.render_opt(&props.env, "env")? {
        env.extend(e);
    }
    env.extend(setup.env);
    env.push((
        "WORKING_DIR".into(),
        prepared.dir.path().display().to_string(),
    ));
    if let Some(o) = &prepared.output_dir {
        env.push(("OUTPUT_DIR".into(), o.display().to_string()));
    }
    let launch = Launch {
        argv,
        env,
        dir: prepared.dir.path().to_path_buf(),
        path_prefix: setup.path_prefix,
    };
    let running = ctx.progress("running", ProgressUnit::Elapsed, None);
    let ran = execute(ctx, chosen, launch).await;
    drop(running);
    if let Some(path) = credentials {
        let _ = std::fs::remove_file(path);
    }
    let ran = ran?;
    let patterns = match &props.output_files {
        Some(p) => Some(ctx.render(p, "outputFiles")?),
        None => None,
    };
    finish(ctx, ran, &prepared, patterns).await
}

/// What a task type adds to the common run.
#[derive(Default)]
pub struct Extra {
    /// Python's dependencies and version (python tasks).
    pub(crate) python: Option<crate::python_env::PythonSetup>,
    /// Variables the task type sets from its own properties (a CLI's region, endpoint); the
    /// task's `env` comes after and may replace them.
    pub(crate) env: Vec<(String, String)>,
    /// A credentials file for the program: its name in the working directory, its text, and
    /// the variable that gives the program its path (see [`Extra::credentials_file`]).
    pub(crate) credentials: Option<(String, String, String)>,
}

impl Extra {
    /// Variables set from the task's own properties (never a credential: see
    /// [`Self::credentials_file`]).
    pub fn with_env(env: Vec<(String, String)>) -> Extra {
        Extra {
            env,
            ..Extra::default()
        }
    }

    /// Credentials the program reads from a file rather than its environment (which other
    /// processes of the user can read): written as `name` in the working directory, readable
    /// by its owner only, its path in `variable`; removed as soon as the program ended, before
    /// `outputFiles` are kept, so no glob takes it into storage.
    pub fn credentials_file(mut self, name: &str, text: String, variable: &str) -> Extra {
        self.credentials = Some((name.to_string(), text, variable.to_string()));
        self
    }

    /// Installs `dependencies` (pip requirement specifiers) into a cached virtual environment
    /// first, and runs the command with it on PATH (on the Process runner; in a container, pip
    /// installs them into the image's Python before the command).
    pub fn python_dependencies(dependencies: Vec<String>) -> Extra {
        Extra {
            python: Some(crate::python_env::PythonSetup {
                dependencies,
                version: None,
                cache: true,
                manager: crate::python_env::PackageManager::Uv,
            }),
            ..Extra::default()
        }
    }
}

/// The image a container runner would use: the runner's, else `containerImage`, else the
/// language's.
fn image_of(
    ctx: &RunContext,
    requested: &Requested,
    props: &ScriptProps,
    language: &Language,
    vars: &Map<String, Json>,
) -> Result<Option<String>, TaskError> {
    let Requested::Docker { options, .. } = requested else {
        return Ok(None);
    };
    if let Some(i) = &options.image {
        return ctx.render_with(i, "taskRunner.image", vars).map(Some);
    }
    if let Some(i) = &props.container_image {
        return ctx.render_with(i, "containerImage", vars).map(Some);
    }
    Ok(Some(language.default_image.to_string()))
}

/// Kestra's argv: `interpreter + [lines joined]`, with the language's fail-fast line (`set -e`)
/// first when failing fast; the commands alone when there is neither interpreter nor anything
/// before them.
pub(crate) fn command_line(
    interpreter: Vec<String>,
    fail_fast: Option<&str>,
    target: TargetOs,
    mut before: Vec<String>,
    commands: Vec<String>,
) -> Vec<String> {
    let windows = target == TargetOs::Windows;
    if let Some(line) = fail_fast {
        before.insert(0, if windows { String::new() } else { line.into() });
    }
    if interpreter.is_empty() && before.is_empty() {
        return commands;
    }
    let sep = if windows { "\r\n" } else { "\n" };
    let mut lines = before;
    lines.extend(commands);
    let mut argv = interpreter;
    argv.push(lines.join(sep));
    argv
}

/// Runs the launch on the chosen runner.
pub(crate) async fn execute(
    ctx: &RunContext,
    chosen: Chosen,
    launch: Launch,
) -> Result<Ran, TaskError> {
    match chosen {
        Chosen::Process => runner::process::run(ctx, launch).await,
        Chosen::Docker(container) => container.run(ctx, launch).await,
    }
}

/// Keeps the output files and builds Kestra's outputs; a non-zero exit fails the task with
/// `Command failed with exit code N`, keeping the outputs.
pub(crate) async fn finish(
    ctx: &RunContext,
    ran: Ran,
    prepared: &Prepared,
    patterns: Option<Vec<String>>,
) -> Result<Outputs, TaskError> {
    let mut outputs = Outputs::new();
    outputs.insert("vars".into(), Json::Object(ran.collected.vars));
    outputs.insert("exitCode".into(), Json::from(ran.exit_code));
    if patterns.is_some() || prepared.output_dir.is_some() {
        let mut files = Map::new();
        if let Some(dir) = &prepared.output_dir {
            files.extend(
                ctx.upload_output_files(dir, &["**".to_string()], "outputDirectory")
                    .await?,
            );
        }
        if let Some(p) = &patterns {
            files.extend(
                ctx.upload_output_files(prepared.dir.path(), p, "outputFiles")
                    .await?,
            );
        }
        outputs.insert("outputFiles".into(), Json::Object(files));
    }
    if let Some(r) = ran.runner_output {
        outputs.insert("taskRunner".into(), r);
    }
    if ran.exit_code != 0 {
        return Err(
            TaskError::failed(format!("Command failed with exit code {}", ran.exit_code))
                .with_outputs(outputs),
        );
    }
    Ok(outputs)
}

/// `kestra://` URIs in rendered commands, each replaced by the path of a local copy made
/// once per URI.
#[derive(Default)]
pub(crate) struct Rewrites {
    done: Vec<(String, String)>,
}

static STORAGE_URI: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"kestra://[-\p{Alphabetic}\p{Nd}._+~#=/]*").expect("valid pattern")
});

impl Rewrites {
    pub(crate) async fn apply(
        &mut self,
        ctx: &RunContext,
        dir: &Path,
        text: &str,
    ) -> Result<String, TaskError> {
        if !text.contains("kestra://") {
            return Ok(text.to_string());
        }
        let uris: Vec<String> = STORAGE_URI
            .find_iter(text)
            .map(|m| m.as_str().to_string())
            .collect();
        for uri in uris {
            if self.done.iter().any(|(u, _)| *u == uri) {
                continue;
            }
            let local = dir.join(format!("{}.tmp", runner_core::ids::random_u64()));
            ctx.copy_execution_file(&uri, &local).await?;
            self.done.push((uri, local.display().to_string()));
        }
        Ok(STORAGE_URI
            .replace_all(text, |c: &regex::Captures<'_>| {
                let uri = &c[0];
                self.done
                    .iter()
                    .find(|(u, _)| u == uri)
                    .map(|(_, p)| p.clone())
                    .unwrap_or_else(|| uri.to_string())
            })
            .into_owned())
    }
}

/// Writes `text` to a new file only its owner can read.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn commands_join_after_set_e_and_before_commands() {
        assert_eq!(
            command_line(
                s(&["/bin/sh", "-c"]),
                Some("set -e"),
                TargetOs::Auto,
                s(&["cd x"]),
                s(&["a", "b"])
            ),
            s(&["/bin/sh", "-c", "set -e\ncd x\na\nb"])
        );
        assert_eq!(
            command_line(s(&["bash", "-c"]), None, TargetOs::Linux, vec![], s(&["a"])),
            s(&["bash", "-c", "a"])
        );
        assert_eq!(
            command_line(
                s(&["cmd", "/c"]),
                Some("set -e"),
                TargetOs::Windows,
                vec![],
                s(&["a", "b"])
            ),
            s(&["cmd", "/c", "\r\na\r\nb"])
        );
        // Neither interpreter nor before commands: the commands are the argv.
        assert_eq!(
            command_line(vec![], None, TargetOs::Auto, vec![], s(&["echo", "hi"])),
            s(&["echo", "hi"])
        );
    }

    #[test]
    fn storage_uris_are_found_where_kestra_finds_them() {
        let found: Vec<&str> = STORAGE_URI
            .find_iter("cat kestra:///a/b-c_d.csv|wc; echo 'kestra:///x/y.json')")
            .map(|m| m.as_str())
            .collect();
        assert_eq!(found, vec!["kestra:///a/b-c_d.csv", "kestra:///x/y.json"]);
    }
}
