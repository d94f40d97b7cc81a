//! git.Clone against a real git server: `git daemon` on loopback serving a repository made by
//! the test, with branches, a tag and history.

use runner_testkit::{RunOptions, run_flow_opts};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

struct Daemon {
    child: Child,
    port: u16,
    root: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A repository with two commits on main, a tag on the first and a `dev` branch, served by
/// `git daemon`.
fn serve() -> (Daemon, String) {
    let root = std::env::temp_dir().join(format!(
        "runner-git-test-{}",
        runner_core::ids::friendly_id()
    ));
    let work = root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("README.md"), "first\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "first"]);
    let first = git(&work, &["rev-parse", "HEAD"]);
    git(&work, &["tag", "v1"]);
    std::fs::write(work.join("README.md"), "second\n").unwrap();
    git(&work, &["commit", "-q", "-am", "second"]);
    git(&work, &["checkout", "-q", "-b", "dev"]);
    std::fs::write(work.join("dev.txt"), "dev\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "dev"]);
    git(&work, &["checkout", "-q", "main"]);
    let served = root.join("served");
    std::fs::create_dir_all(&served).unwrap();
    git(&root, &["clone", "-q", "--bare", "work", "served/repo.git"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The daemon itself, not `git daemon` (a parent that would leave it orphaned when
    // killed), with no stdout or stderr held: an orphan holding the test's output pipe would
    // keep `cargo test | tee` waiting.
    let exec_path = git(&root, &["--exec-path"]);
    let child = Command::new(Path::new(&exec_path).join("git-daemon"))
        .args([
            "--reuseaddr",
            "--export-all",
            "--listen=127.0.0.1",
            &format!("--port={port}"),
            &format!("--base-path={}", served.display()),
            served.to_str().unwrap(),
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("git daemon starts");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    (Daemon { child, port, root }, first)
}

fn flow(tasks: &str) -> String {
    format!(
        "id: git\nnamespace: demo\ntasks:\n  - id: wd\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n    tasks:\n{tasks}"
    )
}

#[tokio::test]
async fn clone_checks_out_branches_tags_and_commits() {
    let (daemon, first) = serve();
    let url = format!("git://127.0.0.1:{}/repo.git", daemon.port);
    let yaml = flow(&format!(
        r#"      - id: main
        type: io.kestra.plugin.git.Clone
        url: {url}
        directory: main
      - id: dev
        type: io.kestra.plugin.git.Clone
        url: {url}
        branch: dev
        directory: dev
      - id: tag
        type: io.kestra.plugin.git.Clone
        url: {url}
        tag: v1
        directory: tag
      - id: commit
        type: io.kestra.plugin.git.Clone
        url: {url}
        commit: "{first}"
        directory: commit
      - id: read
        type: io.kestra.plugin.scripts.shell.Commands
        taskRunner:
          type: io.kestra.plugin.core.runner.Process
        commands:
          - cat main/README.md tag/README.md commit/README.md dev/dev.txt
          - git -C main rev-list --count HEAD
"#
    ));
    let r = run_flow_opts(
        &[
            runner_core::TASKS,
            runner_core_tasks::TASKS,
            runner_git::TASKS,
            runner_scripts::TASKS,
        ],
        &yaml,
        RunOptions::default(),
    )
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let dir = r.outputs("main")["directory"].as_str().unwrap().to_string();
    assert!(dir.ends_with("/main"), "{dir}");
    // main at its tip, the tag and the commit at the first version, dev with its file; the
    // default clone is shallow (one commit).
    let printed: Vec<&str> = r
        .logs
        .lines()
        .filter(|l| l.contains("INFO  [read] "))
        .map(|l| l.rsplit("[read] ").next().unwrap())
        .collect();
    assert_eq!(
        printed,
        ["second", "first", "first", "dev", "1"],
        "{}",
        r.logs
    );
    assert!(r.logs.contains(&format!(
        "Cloning git://127.0.0.1:{}/repo.git into",
        daemon.port
    )));
}

#[tokio::test]
async fn a_local_path_or_a_missing_repository_is_refused_clearly() {
    let (daemon, _) = serve();
    let yaml = flow(&format!(
        r#"      - id: local
        type: io.kestra.plugin.git.Clone
        url: "{{{{ 'file:///etc' }}}}"
        allowFailure: true
      - id: missing
        type: io.kestra.plugin.git.Clone
        url: git://127.0.0.1:{}/nope.git
        allowFailure: true
"#,
        daemon.port
    ));
    let r = run_flow_opts(
        &[
            runner_core::TASKS,
            runner_core_tasks::TASKS,
            runner_git::TASKS,
        ],
        &yaml,
        RunOptions::default(),
    )
    .await;
    assert_eq!(r.state.as_str(), "WARNING", "{}", r.logs);
    assert!(
        r.logs.contains("`file:///etc` is not a remote repository"),
        "{}",
        r.logs
    );
    assert!(r.logs.contains("git clone failed"), "{}", r.logs);
}
