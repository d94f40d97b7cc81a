//! Running script flows in-process on real programs, with a working-directory root of
//! their own so a test can check that nothing is left behind.

#![allow(dead_code, unreachable_pub)]

use runner_testkit::{Run, RunOptions, run_flow_opts};
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

pub const TASKS: &[&[runner_core::TaskDescriptor]] = &[
    runner_core::TASKS,
    runner_core_tasks::TASKS,
    runner_scripts::TASKS,
];

/// A scratch folder removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!(
            "runner-scripts-{tag}-{}",
            runner_core::ids::friendly_id()
        ));
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a script test needs beside the flow.
pub struct Options {
    pub environment: Vec<(String, String)>,
    pub namespace_files: Vec<(String, PathBuf)>,
    pub task_runner: &'static str,
    pub cache_dir: Option<PathBuf>,
    pub storage: Option<PathBuf>,
    /// `--docker-host-access`.
    pub docker_host_access: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            environment: host_path(),
            namespace_files: Vec::new(),
            task_runner: "process",
            cache_dir: None,
            storage: None,
            docker_host_access: false,
        }
    }
}

/// The test process's PATH, which a Process-runner script needs to find its programs.
pub fn host_path() -> Vec<(String, String)> {
    vec![("PATH".into(), std::env::var("PATH").unwrap_or_default())]
}

pub struct ScriptRun {
    pub run: Run,
    /// Working directories left behind (must be none).
    pub left_behind: Vec<String>,
    _work: Scratch,
}

impl std::ops::Deref for ScriptRun {
    type Target = Run;
    fn deref(&self) -> &Run {
        &self.run
    }
}

impl ScriptRun {
    pub fn state(&self) -> &'static str {
        self.run.state.as_str()
    }

    pub fn state_of(&self, task: &str) -> String {
        self.task_run(task)["state"]["current"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn task_run(&self, task: &str) -> Json {
        self.run.record["taskRunList"]
            .as_array()
            .and_then(|r| r.iter().find(|t| t["taskId"] == task))
            .cloned()
            .unwrap_or(Json::Null)
    }

    /// The text of an output file's stored copy.
    pub fn read(&self, uri: &Json) -> String {
        std::fs::read_to_string(self.run.file(uri.as_str().expect("a URI"))).expect("stored file")
    }

    /// Log lines of `task` at `level` (`INFO`, `ERROR`...), message only.
    pub fn lines(&self, task: &str, level: &str) -> Vec<String> {
        let marker = format!(" {level:<5} [{task}] ");
        self.run
            .logs
            .lines()
            .filter_map(|l| l.split_once(&marker).map(|(_, m)| m.to_string()))
            .collect()
    }
}

pub async fn run_script(yaml: &str, options: Options) -> ScriptRun {
    let work = Scratch::new("wd");
    let run = run_flow_opts(
        TASKS,
        yaml,
        RunOptions {
            environment: options.environment,
            namespace_files: options.namespace_files,
            services: {
                let mut services = runner_core::Services::default();
                services.insert(runner_scripts::kit::TaskRunnerChoice {
                    mode: match options.task_runner {
                        "process" => runner_scripts::kit::RunnerMode::Process,
                        "docker" => runner_scripts::kit::RunnerMode::Docker,
                        _ => runner_scripts::kit::RunnerMode::Auto,
                    },
                    docker_host_access: options.docker_host_access,
                });
                services
            },
            work_root: Some(work.0.clone()),
            cache_dir: options.cache_dir,
            storage: options.storage,
            ..RunOptions::default()
        },
    )
    .await;
    let left_behind = std::fs::read_dir(&work.0)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    ScriptRun {
        run,
        left_behind,
        _work: work,
    }
}

pub async fn run(yaml: &str) -> ScriptRun {
    run_script(yaml, Options::default()).await
}

/// A flow of the given tasks (indented as list items under `tasks:`).
pub fn flow(tasks: &str) -> String {
    format!("id: scripts\nnamespace: company.team\ntasks:\n{tasks}")
}

/// Whether `program` is on PATH.
pub fn installed(program: &str) -> bool {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .any(|d| Path::new(d).join(program).is_file())
}

/// Every file under `dir`, read as bytes.
pub fn all_bytes(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(b) = std::fs::read(&p) {
                out.push((p, b));
            }
        }
    }
    out
}

pub const BUSYBOX: &str = "localhost/runner-busybox:test";
pub const PYTHON: &str = "localhost/runner-python:test";

/// The container engine for the Docker runner tests (`DOCKER_HOST`, else Docker's socket)
/// when it answers and has the test images, which `scripts/engine.sh` builds. Otherwise the
/// test is skipped, saying so on the terminal, unless `RUNNER_REQUIRE_ENGINE` is set (CI),
/// where that is a failure.
pub fn docker_host(images: &[&str]) -> Option<String> {
    use std::io::{Read, Write};
    let host = std::env::var("DOCKER_HOST").unwrap_or("unix:///var/run/docker.sock".into());
    let get = |path: &str| -> Option<String> {
        let sock = host.strip_prefix("unix://")?;
        let mut s = std::os::unix::net::UnixStream::connect(sock).ok()?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    };
    let missing = match get("/_ping") {
        None => format!("no container engine answers at {host}"),
        Some(_) => match images.iter().find(|i| {
            !get(&format!("/images/{i}/json")).is_some_and(|a| a.starts_with("HTTP/1.1 200"))
        }) {
            Some(i) => format!("image {i} is missing"),
            None => return Some(host),
        },
    };
    let message = format!(
        "{missing}: run scripts/engine.sh, which starts dockerd and builds the test images"
    );
    if std::env::var_os("RUNNER_REQUIRE_ENGINE").is_some() {
        panic!("{message} (RUNNER_REQUIRE_ENGINE is set, so this is a failure, not a skip)");
    }
    // Straight to the terminal: the test harness keeps `eprintln!` of passing tests.
    let _ = writeln!(std::io::stderr(), "SKIPPED Docker runner test: {message}");
    None
}

/// Options for a run on the Docker runner at `host`.
pub fn on_docker(host: &str) -> Options {
    let mut o = Options {
        task_runner: "docker",
        ..Options::default()
    };
    o.environment.push(("DOCKER_HOST".into(), host.into()));
    o
}

/// `docker` on the test engine, for what the tests check beside runner (containers left).
pub fn docker_cli(host: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("docker")
        .args(args)
        .env("DOCKER_HOST", host)
        .output()
        .expect("the docker command line (scripts/engine.sh installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether process `pid` is gone (or a zombie): a killed process takes a moment to die, so
/// this waits for it, at most 5 s; one that lives on is reported.
pub fn gone(pid: &str) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if status.is_empty() || status.contains("State:\tZ") {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
