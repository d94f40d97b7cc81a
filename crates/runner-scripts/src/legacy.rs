//! The deprecated `io.kestra.core.tasks.scripts.Bash`, `Python` and `Node`: the same run as
//! the script tasks with their older properties. `outputFiles` are names, each a file made
//! beforehand (`{{ outputFiles.name }}`); `outputDirs` likewise folders; the runner is the
//! Process one unless `runner: DOCKER`.

use crate::exec::{self, Prepared, Requested, Rewrites};
use crate::props::{DockerOptions, LegacyRunner};
use crate::python_env::{self, PackageManager, PythonSetup, shell_quote};
use crate::runner::Launch;
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::Map;
use std::collections::BTreeMap;

pub(crate) const BASH: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.core.tasks.scripts.Bash",
    aliases: &[],
    doc: "Deprecated: run shell commands (use io.kestra.plugin.scripts.shell.Commands).",
    example: "id: hello\ntype: io.kestra.core.tasks.scripts.Bash\ncommands:\n  - echo hello",
    shape: runnable::<Bash>(),
};

pub(crate) const PYTHON: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.core.tasks.scripts.Python",
    aliases: &[],
    doc: "Deprecated: run `main.py` from `inputFiles` in a virtual environment with `requirements` (use io.kestra.plugin.scripts.python.Script).",
    example: "id: hello\ntype: io.kestra.core.tasks.scripts.Python\ninputFiles:\n  main.py: |\n    print('hello')",
    shape: runnable::<Python>(),
};

pub(crate) const NODE: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.core.tasks.scripts.Node",
    aliases: &[],
    doc: "Deprecated: run `main.js` from `inputFiles` after `npmInstall` (use io.kestra.plugin.scripts.node.Script).",
    example: "id: hello\ntype: io.kestra.core.tasks.scripts.Node\ninputFiles:\n  main.js: console.log('hello')",
    shape: runnable::<Node>(),
};

/// The properties the three share (Kestra's `AbstractBash`).
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LegacyProps {
    /// PROCESS (default) or DOCKER.
    runner: Option<Property<LegacyRunner>>,
    /// The Docker options of `runner: DOCKER`.
    docker_options: Option<DockerOptions>,
    /// The program the commands are given to (default `/bin/sh`).
    interpreter: Option<Property<String>>,
    /// Its arguments before the commands (default `["-c"]`).
    interpreter_args: Option<Vec<String>>,
    /// Stop at the first failing command (default true).
    exit_on_failed: Option<Property<bool>>,
    /// Deprecated names of `outputFiles`.
    files: Option<Property<Vec<String>>>,
    /// Deprecated names of `outputFiles`.
    outputs_files: Option<Property<Vec<String>>>,
    /// Names of files made before the run (`{{ outputFiles.name }}`) and kept after it.
    output_files: Option<Property<Vec<String>>>,
    /// Names of folders made before the run (`{{ outputDirs.name }}`) whose files are kept.
    output_dirs: Option<Property<Vec<String>>>,
    /// Files to write into the working directory first (map or JSON string).
    input_files: Option<Property<Json>>,
    /// Environment variables for the commands.
    env: Option<Property<BTreeMap<String, String>>>,
    /// Accepted and ignored, as in Kestra 0.23 and later.
    #[allow(dead_code)]
    warning_on_std_err: Option<Property<bool>>,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Bash {
    /// The commands to run.
    commands: Property<Vec<String>>,
    #[serde(flatten)]
    props: LegacyProps,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Python {
    /// The commands to run (default `./bin/python main.py`).
    commands: Option<Property<Vec<String>>>,
    /// The Python to make the environment with (default `python`).
    python_path: Option<Property<String>>,
    /// Arguments added to each command.
    args: Option<Property<Vec<String>>>,
    /// Packages installed into the environment first.
    requirements: Option<Property<Vec<String>>>,
    /// Make the environment (default true); without it `requirements` are ignored.
    virtual_env: Option<bool>,
    /// Install with uv instead of pip.
    use_uv: Option<bool>,
    #[serde(flatten)]
    props: LegacyProps,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Node {
    /// The commands to run (default `node main.js`).
    commands: Option<Property<Vec<String>>>,
    /// The node program (default `node`).
    node_path: Option<Property<String>>,
    /// The npm program (default `npm`).
    npm_path: Option<Property<String>>,
    /// Arguments added to each command.
    args: Option<Property<Vec<String>>>,
    /// Packages `npm install`ed first.
    npm_install: Option<Property<Vec<String>>>,
    #[serde(flatten)]
    props: LegacyProps,
}

impl RunnableTask for Bash {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let plan = Plan {
                commands: Commands::Given(&self.commands),
                before: Vec::new(),
                args: None,
                env: Vec::new(),
                files: Vec::new(),
                python: None,
                required_file: None,
            };
            run(ctx, &self.props, plan).await
        })
    }
}

impl RunnableTask for Python {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let python_path = ctx
                .render_opt(&self.python_path, "pythonPath")?
                .unwrap_or_else(|| "python".into());
            let requirements = ctx
                .render_opt(&self.requirements, "requirements")?
                .unwrap_or_default();
            let venv = self.virtual_env.unwrap_or(true);
            let plan = Plan {
                commands: match &self.commands {
                    Some(c) => Commands::Given(c),
                    None => Commands::Default("./bin/python main.py".into()),
                },
                before: Vec::new(),
                args: self.args.as_ref(),
                env: vec![("PYTHONUNBUFFERED".into(), "true".into())],
                files: vec![("kestra.py", KESTRA_PY)],
                python: venv.then(|| LegacyPython {
                    setup: PythonSetup {
                        dependencies: requirements,
                        version: None,
                        cache: true,
                        manager: if self.use_uv == Some(true) {
                            PackageManager::Uv
                        } else {
                            PackageManager::Pip
                        },
                    },
                    python_path,
                }),
                required_file: self.commands.is_none().then_some(("main.py", "python")),
            };
            run(ctx, &self.props, plan).await
        })
    }
}

impl RunnableTask for Node {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let node = ctx
                .render_opt(&self.node_path, "nodePath")?
                .unwrap_or_else(|| "node".into());
            let npm = ctx
                .render_opt(&self.npm_path, "npmPath")?
                .unwrap_or_else(|| "npm".into());
            let mut before = Vec::new();
            if let Some(pkgs) = ctx.render_opt(&self.npm_install, "npmInstall")?
                && !pkgs.is_empty()
            {
                let quoted: Vec<String> = pkgs.iter().map(|p| shell_quote(p)).collect();
                before.push(format!("{npm} install {} > /dev/null", quoted.join(" ")));
            }
            let plan = Plan {
                commands: match &self.commands {
                    Some(c) => Commands::Given(c),
                    None => Commands::Default(format!("{node} main.js")),
                },
                before,
                args: self.args.as_ref(),
                env: Vec::new(),
                files: Vec::new(),
                python: None,
                required_file: self.commands.is_none().then_some(("main.js", "JavaScript")),
            };
            run(ctx, &self.props, plan).await
        })
    }
}

enum Commands<'a> {
    Given(&'a Property<Vec<String>>),
    Default(String),
}

/// What one legacy task adds to the shared run.
struct Plan<'a> {
    commands: Commands<'a>,
    before: Vec<String>,
    args: Option<&'a Property<Vec<String>>>,
    env: Vec<(String, String)>,
    /// Files runner adds to the working directory (the `kestra` helper for Python).
    files: Vec<(&'static str, &'static str)>,
    python: Option<LegacyPython>,
    /// A file `inputFiles` must hold when the default command runs it.
    required_file: Option<(&'static str, &'static str)>,
}

struct LegacyPython {
    setup: PythonSetup,
    python_path: String,
}

async fn run(ctx: &RunContext, props: &LegacyProps, plan: Plan<'_>) -> Result<Outputs, TaskError> {
    let Prepared {
        dir,
        mut vars,
        output_dir,
    } = exec::prepare(ctx, None, false).await?;
    let _ = output_dir;
    ctx.info(&format!(
        "Running script with working directory: {}",
        dir.path().display()
    ));
    // Output files and folders are made first, so the commands can name them.
    let mut names = Vec::new();
    for (prop, name) in [
        (&props.output_files, "outputFiles"),
        (&props.outputs_files, "outputsFiles"),
        (&props.files, "files"),
    ] {
        if let Some(p) = prop {
            names.extend(ctx.render(p, name)?);
        }
    }
    let mut file_paths = Map::new();
    for name in &names {
        let path = made_path(ctx, &dir, name, false).await?;
        file_paths.insert(name.clone(), Json::String(path));
    }
    let mut dir_paths = Map::new();
    if let Some(p) = &props.output_dirs {
        for name in ctx.render(p, "outputDirs")? {
            let path = made_path(ctx, &dir, &name, true).await?;
            dir_paths.insert(name, Json::String(path));
        }
    }
    if !file_paths.is_empty() {
        vars.insert("outputFiles".into(), Json::Object(file_paths.clone()));
        vars.insert("temp".into(), Json::Object(file_paths.clone()));
    }
    if !dir_paths.is_empty() {
        vars.insert("outputDirs".into(), Json::Object(dir_paths.clone()));
    }
    let mut files = match &props.input_files {
        Some(f) => ctx.render_with(f, "inputFiles", &vars)?,
        None => Json::Null,
    };
    if let Json::String(s) = &files {
        files = serde_json::from_str(s).map_err(|_| {
            TaskError::property(
                "inputFiles",
                "must be a map of file names to contents, or a string holding such a map as JSON",
            )
        })?;
    }
    if let Some((required, language)) = plan.required_file
        && files.get(required).is_none_or(|v| v.is_null())
    {
        return Err(TaskError::failed(format!(
            "Invalid input files structure, expecting inputFiles property to contain at least a {required} key with {language} code value."
        )));
    }
    ctx.write_input_files(&dir, &files, "inputFiles").await?;
    for (name, content) in &plan.files {
        tokio::fs::write(dir.path().join(name), content)
            .await
            .map_err(|e| {
                TaskError::new(ErrorKind::Io, format!("cannot write `{name}`")).caused_by(e)
            })?;
    }

    let requested = Requested::of(
        ctx,
        None,
        props.runner.as_ref(),
        props.docker_options.as_ref(),
        LegacyRunner::Process,
    )?;
    let image = match &requested {
        Requested::Docker { options, .. } => match &options.image {
            Some(i) => Some(ctx.render_with(i, "dockerOptions.image", &vars)?),
            None => {
                return Err(TaskError::property(
                    "dockerOptions.image",
                    "runner: DOCKER needs dockerOptions.image",
                ));
            }
        },
        Requested::Process => None,
    };
    let chosen = exec::choose(ctx, requested, image, &vars).await?;
    let on_host = matches!(chosen, exec::Chosen::Process);

    let args = match plan.args {
        Some(a) => {
            let a = ctx.render_with(a, "args", &vars)?;
            if a.is_empty() {
                String::new()
            } else {
                format!(" {}", a.join(" "))
            }
        }
        None => String::new(),
    };
    let mut commands = match &plan.commands {
        Commands::Given(c) => ctx.render_with(*c, "commands", &vars)?,
        Commands::Default(c) => vec![c.clone()],
    };
    let mut rewrites = Rewrites::default();
    for c in commands.iter_mut() {
        *c = format!("{}{args}", rewrites.apply(ctx, dir.path(), c).await?);
    }
    let exit_on_failed = ctx
        .render_opt(&props.exit_on_failed, "exitOnFailed")?
        .unwrap_or(true);
    let mut lines = Vec::new();
    if exit_on_failed {
        lines.push("set -o errexit".to_string());
    }
    let mut path_prefix = Vec::new();
    let mut env: Vec<(String, String)> = plan.env.clone();
    if let Some(py) = &plan.python {
        if on_host {
            // `./bin/python` and `./bin/pip` are the environment's, kept in runner's cache.
            let setup = python_env::setup(ctx, &py.setup, true, dir.path()).await?;
            let bin = setup
                .path_prefix
                .first()
                .cloned()
                .map(|b| b.display().to_string());
            link_bin(&dir, bin.as_deref(), &py.python_path).await?;
            env.extend(setup.env);
            path_prefix = setup.path_prefix;
        } else {
            lines.push(format!(
                "{} -m venv --system-site-packages {} > /dev/null",
                py.python_path,
                shell_quote(&dir.path().display().to_string())
            ));
            if !py.setup.dependencies.is_empty() {
                let quoted: Vec<String> = py
                    .setup
                    .dependencies
                    .iter()
                    .map(|d| shell_quote(d))
                    .collect();
                lines.push(format!(
                    "./bin/pip install {} > /dev/null",
                    quoted.join(" ")
                ));
            }
        }
    }
    lines.extend(plan.before);
    lines.extend(commands);
    let interpreter = ctx
        .render_opt(&props.interpreter, "interpreter")?
        .unwrap_or_else(|| "/bin/sh".into());
    let mut argv = vec![interpreter];
    argv.extend(
        props
            .interpreter_args
            .clone()
            .unwrap_or_else(|| vec!["-c".into()]),
    );
    argv.push(lines.join("\n"));
    if let Some(e) = ctx.render_opt(&props.env, "env")? {
        env.extend(e);
    }
    env.push(("WORKING_DIR".into(), dir.path().display().to_string()));
    let launch = Launch {
        argv,
        env,
        dir: dir.path().to_path_buf(),
        path_prefix,
    };
    let ran = exec::execute(ctx, chosen, launch).await?;

    let mut uploaded = Map::new();
    for (name, path) in &file_paths {
        let path = std::path::PathBuf::from(path.as_str().unwrap_or_default());
        if path.is_file() {
            let uri = ctx.output_file_uri(&format!("{}-{name}", runner_core::ids::friendly_id()));
            ctx.store_file(&path, &uri).await?;
            uploaded.insert(name.clone(), Json::String(uri));
        }
    }
    for (name, path) in &dir_paths {
        let path = std::path::PathBuf::from(path.as_str().unwrap_or_default());
        for (rel, uri) in ctx
            .upload_output_files(&path, &["**".to_string()], "outputDirs")
            .await?
        {
            uploaded.insert(format!("{name}/{rel}"), uri);
        }
    }
    let mut outputs = Outputs::new();
    outputs.insert("exitCode".into(), Json::from(ran.exit_code));
    outputs.insert(
        "stdOutLineCount".into(),
        Json::from(ran.collected.stdout_lines),
    );
    outputs.insert(
        "stdErrLineCount".into(),
        Json::from(ran.collected.stderr_lines),
    );
    outputs.insert("vars".into(), Json::Object(ran.collected.vars));
    outputs.insert("files".into(), Json::Object(uploaded.clone()));
    outputs.insert("outputFiles".into(), Json::Object(uploaded));
    if ran.exit_code != 0 {
        return Err(
            TaskError::failed(format!("Command failed with exit code {}", ran.exit_code))
                .with_outputs(outputs),
        );
    }
    Ok(outputs)
}

/// Makes `<workingDir>/<name>_<random>` (a file, or a folder) and returns its path.
async fn made_path(
    ctx: &RunContext,
    dir: &WorkingDir,
    name: &str,
    folder: bool,
) -> Result<String, TaskError> {
    if name.starts_with("./") || name.starts_with("..") || name.starts_with('/') {
        return Err(TaskError::failed(format!(
            "Invalid outputFile (only relative path is supported) for path '{name}'"
        )));
    }
    let path = dir
        .join(&format!("{name}_{}", runner_core::ids::random_u64()))
        .map_err(TaskError::failed)?;
    let io = |e: std::io::Error| {
        TaskError::new(ErrorKind::Io, format!("cannot make `{name}`")).caused_by(e)
    };
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(io)?;
    }
    if folder {
        tokio::fs::create_dir_all(&path).await.map_err(io)?;
    } else {
        tokio::fs::write(&path, b"").await.map_err(io)?;
    }
    let _ = ctx;
    Ok(path.display().to_string())
}

/// `./bin/python` and `./bin/pip` in the working directory, running the environment's
/// (or, without requirements, this machine's Python).
async fn link_bin(
    dir: &WorkingDir,
    venv_bin: Option<&str>,
    python_path: &str,
) -> Result<(), TaskError> {
    let bin = dir.path().join("bin");
    let io =
        |e: std::io::Error| TaskError::new(ErrorKind::Io, "cannot write ./bin/python").caused_by(e);
    tokio::fs::create_dir_all(&bin).await.map_err(io)?;
    let (python, pip) = match venv_bin {
        Some(b) => (format!("{b}/python"), format!("{b}/python -m pip")),
        None => {
            let p = if python_path == "python" {
                "python3"
            } else {
                python_path
            };
            (p.to_string(), format!("{p} -m pip"))
        }
    };
    for (name, target) in [("python", python), ("pip", pip)] {
        let path = bin.join(name);
        tokio::fs::write(&path, format!("#!/bin/sh\nexec {target} \"$@\"\n"))
            .await
            .map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            tokio::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .await
                .map_err(io)?;
        }
    }
    Ok(())
}

/// The `kestra` helper of the legacy Python task: `Kestra.outputs`, `counter` and `timer`
/// print protocol lines.
const KESTRA_PY: &str = r#"import json
import time


class Kestra:
    """Send outputs and metrics to the task that runs this script."""

    @staticmethod
    def _send(payload):
        print("::" + json.dumps(payload) + "::", flush=True)

    @staticmethod
    def outputs(values):
        Kestra._send({"outputs": values})

    @staticmethod
    def counter(name, value, tags=None):
        Kestra._send({"metrics": [{"name": name, "type": "counter", "value": value, "tags": tags or {}}]})

    @staticmethod
    def timer(name, duration, tags=None):
        if callable(duration):
            start = time.time()
            duration()
            duration = time.time() - start
        Kestra._send({"metrics": [{"name": name, "type": "timer", "value": duration, "tags": tags or {}}]})
"#;
