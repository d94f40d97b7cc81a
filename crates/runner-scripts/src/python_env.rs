//! Python for script tasks on this machine: `python` even where only `python3` is installed,
//! and `dependencies` installed once into a virtual environment kept in runner's cache,
//! keyed by the Python and the dependency set, so the next run of the flow starts at once.
//! In a container the dependencies are installed by the script's shell before it runs.

use runner_core::plugin::*;
use serde::Deserialize;
use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, BufReader};

/// The Python tasks' own properties.
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PythonProps {
    /// Packages to install first (pip requirement specifiers).
    pub(crate) dependencies: Option<Property<Vec<String>>>,
    /// The Python version to run (on this machine: the installed `python3` when it matches,
    /// else `python3.X` if installed).
    pub(crate) python_version: Option<Property<String>>,
    /// Keep installed dependencies between runs (default true).
    pub(crate) dependency_cache_enabled: Option<Property<bool>>,
    /// UV (default; used when `uv` is installed, else pip) or PIP.
    pub(crate) package_manager: Option<Property<PackageManager>>,
    /// Accepted: runner uses an installed `uv` and never downloads one.
    #[allow(dead_code)]
    pub(crate) uv_auto_install_enabled: Option<Property<bool>>,
    /// Accepted: runner uses an installed `uv` and never downloads one.
    #[allow(dead_code)]
    pub(crate) uv_installer_version: Option<Property<String>>,
    /// Accepted: runner uses an installed `uv` and never downloads one.
    #[allow(dead_code)]
    pub(crate) uv_installer_sha256: Option<Property<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, PropType)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum PackageManager {
    Uv,
    Pip,
}

/// The rendered Python settings of one run.
pub(crate) struct PythonSetup {
    pub(crate) dependencies: Vec<String>,
    pub(crate) version: Option<String>,
    pub(crate) cache: bool,
    pub(crate) manager: PackageManager,
}

impl PythonSetup {
    pub(crate) fn of(ctx: &RunContext, p: &PythonProps) -> Result<PythonSetup, TaskError> {
        Ok(PythonSetup {
            dependencies: ctx
                .render_opt(&p.dependencies, "dependencies")?
                .unwrap_or_default()
                .into_iter()
                .map(|d| d.trim().to_string())
                .filter(|d| !d.is_empty())
                .collect(),
            version: ctx.render_opt(&p.python_version, "pythonVersion")?,
            cache: ctx
                .render_opt(&p.dependency_cache_enabled, "dependencyCacheEnabled")?
                .unwrap_or(true),
            manager: ctx
                .render_opt(&p.package_manager, "packageManager")?
                .unwrap_or(PackageManager::Uv),
        })
    }
}

/// What the run gets: commands before the script (container), variables, `PATH` folders.
#[derive(Default)]
pub(crate) struct Setup {
    pub(crate) before: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) path_prefix: Vec<PathBuf>,
}

pub(crate) async fn setup(
    ctx: &RunContext,
    py: &PythonSetup,
    on_host: bool,
    working_dir: &Path,
) -> Result<Setup, TaskError> {
    let mut setup = Setup::default();
    if !on_host {
        if !py.dependencies.is_empty() {
            let quoted: Vec<String> = py.dependencies.iter().map(|d| shell_quote(d)).collect();
            setup.before.push(format!(
                "python -m pip install --quiet --disable-pip-version-check --root-user-action=ignore {}",
                quoted.join(" ")
            ));
        }
        return Ok(setup);
    }
    let python = host_python(ctx, py.version.as_deref())?;
    if py.dependencies.is_empty() {
        if which(ctx, "python").is_none() {
            setup.path_prefix.push(shim(ctx, &python).await?);
        }
        return Ok(setup);
    }
    let venv = if py.cache {
        cached_venv(ctx, py, &python).await?
    } else {
        let dir = working_dir.join(format!(".venv-{}", runner_core::ids::random_u64()));
        install(ctx, py, &python, &dir).await?;
        dir
    };
    setup
        .env
        .push(("VIRTUAL_ENV".into(), venv.display().to_string()));
    setup.path_prefix.push(venv.join("bin"));
    Ok(setup)
}

/// The `python3` to use: the one on `PATH`, or `python3.X` for a `pythonVersion` it is not.
fn host_python(ctx: &RunContext, version: Option<&str>) -> Result<PathBuf, TaskError> {
    let default = which(ctx, "python3").or_else(|| which(ctx, "python"));
    let Some(version) = version.map(str::trim).filter(|v| !v.is_empty()) else {
        return default.ok_or_else(no_python);
    };
    let minor: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
    if let Some(p) = which(ctx, &format!("python{minor}")) {
        return Ok(p);
    }
    let found = default.ok_or_else(no_python)?;
    ctx.log(
        Level::Warn,
        &format!(
            "pythonVersion {version} is not installed on this machine (no `python{minor}` on PATH): running `{}` instead",
            found.display()
        ),
    );
    Ok(found)
}

fn no_python() -> TaskError {
    TaskError::new(
        ErrorKind::NotFound,
        "no Python on this machine (`python3` is not on PATH)",
    )
    .hint("install Python 3 (Debian: apt-get install python3), or run the task in a container with --task-runner docker")
}

/// A folder holding `python` → `python3`, for flows that call `python` where only
/// `python3` is installed (Debian, Ubuntu).
async fn shim(ctx: &RunContext, python: &Path) -> Result<PathBuf, TaskError> {
    let dir = ctx
        .cache_dir("python")
        .join(format!("shim-{}", key(&[python.display().to_string()])));
    let link = dir.join("python");
    if link.exists() {
        return Ok(dir);
    }
    let io = |e: std::io::Error| {
        TaskError::new(
            ErrorKind::Io,
            format!("cannot write the Python shim in `{}`", dir.display()),
        )
        .caused_by(e)
    };
    tokio::fs::create_dir_all(&dir).await.map_err(io)?;
    let tmp = dir.join(format!(".python-{}", runner_core::ids::random_u64()));
    #[cfg(unix)]
    tokio::fs::symlink(python, &tmp).await.map_err(io)?;
    // Two tasks may make it at once: either link is the same.
    if tokio::fs::rename(&tmp, &link).await.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    Ok(dir)
}

/// The cached environment for this Python and dependency set, made on first use.
async fn cached_venv(
    ctx: &RunContext,
    py: &PythonSetup,
    python: &Path,
) -> Result<PathBuf, TaskError> {
    let mut sorted = py.dependencies.clone();
    sorted.sort();
    sorted.dedup();
    let manager = match py.manager {
        PackageManager::Uv if which(ctx, "uv").is_some() => "uv",
        _ => "pip",
    };
    let mut parts = vec![python.display().to_string(), manager.to_string()];
    parts.extend(sorted.iter().cloned());
    let root = ctx.cache_dir("python");
    let dir = root.join(format!("venv-{}", key(&parts)));
    let manifest = parts.join("\n");
    // The manifest is written last: an environment without it is unfinished.
    if tokio::fs::read_to_string(dir.join("runner-deps.txt"))
        .await
        .is_ok_and(|m| m == manifest)
    {
        ctx.log(
            Level::Debug,
            &format!("Using the cached Python environment {}", dir.display()),
        );
        return Ok(dir);
    }
    tokio::fs::create_dir_all(&root).await.map_err(|e| {
        TaskError::new(ErrorKind::Io, format!("cannot create `{}`", root.display())).caused_by(e)
    })?;
    // Built in place (its scripts name their folder), one run at a time: a run killed
    // while it installs leaves no manifest, and the next one starts over.
    let _lock = lock(&root.join(format!("venv-{}.lock", key(&parts)))).await?;
    if tokio::fs::read_to_string(dir.join("runner-deps.txt"))
        .await
        .is_ok_and(|m| m == manifest)
    {
        return Ok(dir);
    }
    let _ = tokio::fs::remove_dir_all(&dir).await;
    let built = async {
        install(ctx, py, python, &dir).await?;
        tokio::fs::write(dir.join("runner-deps.txt"), manifest.as_bytes())
            .await
            .map_err(|e| {
                TaskError::new(ErrorKind::Io, "cannot finish the Python environment").caused_by(e)
            })
    }
    .await;
    if let Err(e) = built {
        let _ = tokio::fs::remove_dir_all(&dir).await;
        return Err(e);
    }
    Ok(dir)
}

/// An exclusive lock on `path`, held until the file is dropped; the system releases it if
/// the process dies.
async fn lock(path: &Path) -> Result<std::fs::File, TaskError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)?;
        Ok::<_, std::io::Error>(file)
    })
    .await
    .map_err(std::io::Error::other)
    .and_then(|r| r)
    .map_err(|e| {
        TaskError::new(ErrorKind::Io, "cannot lock the Python environment cache").caused_by(e)
    })
}

/// Makes a virtual environment at `dir` (its final path: scripts in it name it) and
/// installs the dependencies, with uv when asked and installed, else pip.
async fn install(
    ctx: &RunContext,
    py: &PythonSetup,
    python: &Path,
    dir: &Path,
) -> Result<(), TaskError> {
    let started = Instant::now();
    let uv = match py.manager {
        PackageManager::Uv => which(ctx, "uv"),
        PackageManager::Pip => None,
    };
    ctx.info(&format!(
        "Installing Python dependencies {} with {}",
        py.dependencies.join(", "),
        if uv.is_some() { "uv" } else { "pip" }
    ));
    if py.manager == PackageManager::Uv && uv.is_none() {
        ctx.log(
            Level::Debug,
            "packageManager is UV but `uv` is not installed: using pip",
        );
    }
    let dir_text = dir.display().to_string();
    let venv_python = dir.join("bin").join("python").display().to_string();
    match &uv {
        Some(uv) => {
            let uv = uv.display().to_string();
            let python = python.display().to_string();
            step(
                ctx,
                &[&uv, "venv", "--quiet", "--python", &python, &dir_text],
            )
            .await?;
            let mut args = vec![
                uv.as_str(),
                "pip",
                "install",
                "--quiet",
                "--python",
                &venv_python,
            ];
            args.extend(py.dependencies.iter().map(String::as_str));
            step(ctx, &args).await?;
        }
        None => {
            let python = python.display().to_string();
            step(ctx, &[&python, "-m", "venv", &dir_text]).await.map_err(|e| {
                e.hint("Python's venv module is missing: install it (Debian: apt-get install python3-venv) or install uv")
            })?;
            let mut args = vec![
                venv_python.as_str(),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ];
            args.extend(py.dependencies.iter().map(String::as_str));
            step(ctx, &args).await?;
        }
    }
    ctx.info(&format!(
        "Installed Python dependencies in {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Runs one installer command; on failure the error holds its last lines of output.
async fn step(ctx: &RunContext, argv: &[&str]) -> Result<(), TaskError> {
    let mut command = tokio::process::Command::new(argv[0]);
    command
        .args(&argv[1..])
        .env_clear()
        .envs(ctx.process_environment())
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let shown = argv.join(" ");
    let mut child = ctx.spawn(command).map_err(|e| {
        TaskError::new(ErrorKind::NotFound, format!("cannot start `{}`", argv[0])).caused_by(e)
    })?;
    let tail = std::sync::Mutex::new(VecDeque::new());
    let keep = |line: String| {
        let mut t = tail.lock().expect("tail");
        if t.len() == 30 {
            t.pop_front();
        }
        t.push_back(line);
    };
    let out = child.child().stdout.take();
    let err = child.child().stderr.take();
    let read = |s: Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>| async {
        if let Some(s) = s {
            let mut lines = BufReader::new(s).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let line: String = line.chars().take(2000).collect();
                ctx.log(Level::Debug, &line);
                keep(line);
            }
        }
    };
    let (status, _, _) = tokio::join!(
        child.wait(),
        read(out.map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>)),
        read(err.map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>)),
    );
    let status = status.map_err(|e| {
        TaskError::new(ErrorKind::Other, format!("cannot wait for `{shown}`")).caused_by(e)
    })?;
    if status.success() {
        return Ok(());
    }
    let tail: Vec<String> = tail.into_inner().expect("tail").into();
    Err(TaskError::new(
        ErrorKind::Other,
        format!(
            "installing the Python dependencies failed: `{shown}` exited with {}\n{}",
            status.code().unwrap_or(-1),
            tail.join("\n")
        ),
    ))
}

/// The first `name` on the run's `PATH` that is an executable file.
pub(crate) fn which(ctx: &RunContext, name: &str) -> Option<PathBuf> {
    let path = ctx.env_var("PATH")?;
    std::env::split_paths(path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    p.is_file()
}

/// A short stable name for a set of strings.
fn key(parts: &[String]) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut h);
    format!("{:016x}", h.finish())
}

/// `'text'`, for a POSIX shell.
pub(crate) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
