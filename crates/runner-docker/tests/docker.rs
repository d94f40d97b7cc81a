//! The Docker CLI tasks against a real engine (scripts/engine.sh's dockerd and its locally
//! built images) and a real registry (runner_testkit's docker-registry on 127.0.0.1): Run,
//! Build, Tag, Push, Pull, ImageLs, Rm, Stop, Prune, and the failures a user meets. Without an
//! engine the tests say SKIPPED, unless RUNNER_REQUIRE_ENGINE is set (CI), where they fail.

use runner_testkit::servers::{DockerRegistry, docker_engine};
use runner_testkit::{Run, RunOptions, run_flow_opts};
use serde_json::json;

const BUSYBOX: &str = "localhost/runner-busybox:test";

const TASKS: &[&[runner_core::TaskDescriptor]] = &[
    runner_core::TASKS,
    runner_core_tasks::TASKS,
    runner_docker::TASKS,
];

/// Runs a flow of `tasks` with DOCKER_HOST at `host`; `mode` is the run's `--task-runner`.
async fn run(host: &str, tasks: &str, mode: runner_scripts::kit::RunnerMode) -> Run {
    let mut services = runner_core::Services::default();
    services.insert(runner_scripts::kit::TaskRunnerChoice {
        mode,
        docker_host_access: false,
    });
    run_flow_opts(
        TASKS,
        &format!("id: docker\nnamespace: company.team\ntasks:\n{tasks}"),
        RunOptions {
            environment: vec![("DOCKER_HOST".into(), host.into())],
            services,
            ..RunOptions::default()
        },
    )
    .await
}

fn lines(r: &Run, task: &str, level: &str) -> Vec<String> {
    let marker = format!(" {level:<5} [{task}] ");
    r.logs
        .lines()
        .filter_map(|l| l.split_once(&marker).map(|(_, m)| m.to_string()))
        .collect()
}

fn docker(host: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("docker")
        .args(args)
        .env("DOCKER_HOST", host)
        .output()
        .expect("the docker command line (scripts/engine.sh installs it)");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn unique(tag: &str) -> String {
    format!("{tag}{}", runner_core::ids::random_u64() % 1_000_000)
}

#[tokio::test]
async fn run_relays_output_keeps_files_and_stays_in_a_container_whatever_the_task_runner() {
    let Some(host) = docker_engine(&[BUSYBOX]) else {
        return;
    };
    let tasks = format!(
        "  - id: run\n    type: io.kestra.plugin.docker.Run\n    containerImage: {BUSYBOX}\n    pullPolicy: NEVER\n    networkMode: none\n    volumes:\n      - /etc:/host-etc\n    env:\n      GREETING: hello there\n    outputFiles:\n      - out.txt\n    commands:\n      - sh\n      - -c\n      - 'echo \"$GREETING, pid $$\"; echo err >&2; echo ''::{{\"outputs\":{{\"x\":1}}}}::''; echo kept > out.txt; test -d /host-etc || echo no-mount'\n"
    );
    // `--task-runner process` does not take a Docker task out of its container.
    let r = run(&host, &tasks, runner_scripts::kit::RunnerMode::Process).await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert_eq!(lines(&r, "run", "INFO"), ["hello there, pid 1", "no-mount"]);
    assert_eq!(lines(&r, "run", "ERROR"), ["err"]);
    assert!(
        lines(&r, "run", "WARN")[0].starts_with("taskRunner.volumes are ignored"),
        "{}",
        r.logs
    );
    let out = r.outputs("run");
    assert_eq!(out["vars"], json!({"x": 1}));
    assert_eq!(out["exitCode"], 0);
    let kept =
        std::fs::read_to_string(r.file(out["outputFiles"]["out.txt"].as_str().unwrap())).unwrap();
    assert_eq!(kept, "kept\n");
    let id = out["taskRunner"]["containerId"].as_str().unwrap();
    assert_eq!(
        docker(
            &host,
            &["ps", "-aq", "--no-trunc", "--filter", &format!("id={id}")]
        ),
        ""
    );

    let failing = format!(
        "  - id: fail\n    type: io.kestra.plugin.docker.cli.Run\n    containerImage: {BUSYBOX}\n    pullPolicy: NEVER\n    networkMode: none\n    commands: [sh, -c, 'exit 4']\n"
    );
    let r = run(&host, &failing, runner_scripts::kit::RunnerMode::Auto).await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert_eq!(
        lines(&r, "fail", "ERROR"),
        ["Command failed with exit code 4"]
    );
    assert_eq!(r.outputs("fail")["exitCode"], 4);
}

#[tokio::test]
async fn build_tag_push_pull_list_and_remove_through_a_real_registry() {
    let Some(host) = docker_engine(&[BUSYBOX]) else {
        return;
    };
    let registry = DockerRegistry::start();
    let repo = unique("runner/app");
    let image = format!("{}/{repo}", registry.address);
    let tasks = format!(
        r#"  - id: build
    type: io.kestra.plugin.docker.cli.Build
    pull: false
    push: true
    inputFiles:
      hello.txt: hello from the context
    buildArgs:
      WHO: the build
    labels:
      runner.test: "{repo}"
    dockerfile: |
      FROM {BUSYBOX}
      ARG WHO
      COPY hello.txt /hello.txt
      RUN echo "built by $WHO" > /who.txt
    tags:
      - {image}:1.0
  - id: tag
    type: io.kestra.plugin.docker.cli.Tag
    sourceImage: "{{{{ outputs.build.imageId }}}}"
    targetImage: {image}
  - id: push
    type: io.kestra.plugin.docker.cli.Push
    tags:
      - {image}:latest
  - id: rm
    type: io.kestra.plugin.docker.cli.Rm
    force: true
    imageIds:
      - {image}:1.0
      - {image}:latest
  - id: pull
    type: io.kestra.plugin.docker.cli.Pull
    image: {image}:1.0
  - id: ls
    type: io.kestra.plugin.docker.cli.ImageLs
    imageNameFilter: {image}
  - id: check
    type: io.kestra.plugin.docker.cli.Run
    containerImage: {image}:1.0
    pullPolicy: NEVER
    networkMode: none
    commands: [sh, -c, 'cat /hello.txt; echo; cat /who.txt']
"#
    );
    let r = run(&host, &tasks, runner_scripts::kit::RunnerMode::Auto).await;
    let cleanup = || {
        docker(
            &host,
            &[
                "rmi",
                "-f",
                &format!("{image}:1.0"),
                &format!("{image}:latest"),
            ],
        );
    };
    if r.state.as_str() != "SUCCESS" {
        cleanup();
        panic!("{}", r.logs);
    }
    let image_id = r.outputs("build")["imageId"].as_str().unwrap().to_string();
    assert!(image_id.starts_with("sha256:"), "{image_id}");
    assert!(
        lines(&r, "build", "INFO")
            .iter()
            .any(|l| l.contains("COPY hello.txt /hello.txt")),
        "{}",
        r.logs
    );
    assert!(
        lines(&r, "tag", "INFO").contains(&format!("Tagging image {image_id} as {image}:latest")),
        "{}",
        r.logs
    );
    assert_eq!(registry.tags(&repo), ["1.0", "latest"]);
    assert!(lines(&r, "pull", "INFO").contains(&format!("Successfully pulled image {image}:1.0")));
    let ls = r.outputs("ls");
    assert_eq!(ls["count"], 1, "{ls}");
    assert_eq!(ls["images"][0]["repoTags"], json!([format!("{image}:1.0")]));
    assert_eq!(ls["images"][0]["labels"]["runner.test"], repo.as_str());
    assert_eq!(
        lines(&r, "check", "INFO"),
        ["hello from the context", "built by the build"]
    );
    cleanup();
}

#[tokio::test]
async fn stop_kills_and_removes_a_container_run_without_waiting() {
    let Some(host) = docker_engine(&[BUSYBOX]) else {
        return;
    };
    let tasks = format!(
        "  - id: start\n    type: io.kestra.plugin.docker.cli.Run\n    containerImage: {BUSYBOX}\n    pullPolicy: NEVER\n    networkMode: none\n    wait: false\n    commands: [sleep, '300']\n  - id: stop\n    type: io.kestra.plugin.docker.cli.Stop\n    kill: true\n    containerId: \"{{{{ outputs.start.taskRunner.containerId }}}}\"\n"
    );
    let r = run(&host, &tasks, runner_scripts::kit::RunnerMode::Auto).await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let id = r.outputs("start")["taskRunner"]["containerId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        lines(&r, "stop", "INFO"),
        [
            format!("Container {id}: kill done"),
            format!("Removed container {id}")
        ]
    );
    assert_eq!(
        docker(
            &host,
            &["ps", "-aq", "--no-trunc", "--filter", &format!("id={id}")]
        ),
        ""
    );
}

#[tokio::test]
async fn prune_removes_only_what_its_filters_select() {
    let Some(host) = docker_engine(&[]) else {
        return;
    };
    let label = unique("runner-prune-");
    let net = unique("runner-net-");
    let other = unique("runner-net-");
    docker(
        &host,
        &[
            "network",
            "create",
            "--label",
            &format!("runner.test={label}"),
            &net,
        ],
    );
    docker(&host, &["network", "create", &other]);
    let tasks = format!(
        "  - id: prune\n    type: io.kestra.plugin.docker.cli.Prune\n    pruneType: NETWORKS\n    labelFilters:\n      - runner.test={label}\n"
    );
    let r = run(&host, &tasks, runner_scripts::kit::RunnerMode::Auto).await;
    let left = docker(&host, &["network", "ls", "--format", "{{.Name}}"]);
    docker(&host, &["network", "rm", &other]);
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert!(!left.lines().any(|n| n == net), "{left}");
    assert!(left.lines().any(|n| n == other), "{left}");
    assert!(
        lines(&r, "prune", "INFO")[0].starts_with("Pruned networks: 1 removed"),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn failures_say_what_failed_and_where() {
    let Some(host) = docker_engine(&[BUSYBOX]) else {
        return;
    };
    let registry = DockerRegistry::start();
    let missing = format!("{}/runner/absent:1", registry.address);
    let tasks =
        format!("  - id: pull\n    type: io.kestra.plugin.docker.cli.Pull\n    image: {missing}\n");
    let r = run(&host, &tasks, runner_scripts::kit::RunnerMode::Auto).await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        lines(&r, "pull", "ERROR")[0].starts_with(&format!("cannot pull `{missing}`")),
        "{}",
        r.logs
    );

    let tasks = "  - id: tag\n    type: io.kestra.plugin.docker.cli.Tag\n    sourceImage: runner/never-built:1\n    targetImage: runner/other\n";
    let r = run(&host, tasks, runner_scripts::kit::RunnerMode::Auto).await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        lines(&r, "tag", "ERROR")[0].starts_with(&format!(
            "cannot tag `runner/never-built:1` (engine at {host})"
        )),
        "{}",
        r.logs
    );

    let tag = unique("runner/broken:");
    let tasks = format!(
        "  - id: build\n    type: io.kestra.plugin.docker.cli.Build\n    pull: false\n    dockerfile: |\n      FROM {BUSYBOX}\n      RUN echo about to fail && exit 3\n    tags: [\"{tag}\"]\n"
    );
    let r = run(&host, &tasks, runner_scripts::kit::RunnerMode::Auto).await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        lines(&r, "build", "INFO")
            .iter()
            .any(|l| l == "about to fail"),
        "{}",
        r.logs
    );
    assert!(
        lines(&r, "build", "ERROR")[0].starts_with("the image build failed: The command '/bin/sh -c echo about to fail && exit 3' returned a non-zero code: 3"),
        "{}",
        r.logs
    );

    let port = runner_testkit::servers::free_port();
    let tasks = format!(
        "  - id: ls\n    type: io.kestra.plugin.docker.cli.ImageLs\n    host: tcp://127.0.0.1:{port}\n"
    );
    let r = run(&host, &tasks, runner_scripts::kit::RunnerMode::Auto).await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert_eq!(
        lines(&r, "ls", "ERROR")[0],
        format!("no container engine answers at tcp://127.0.0.1:{port}")
    );
}

#[tokio::test]
async fn compose_runs_docker_compose_with_the_files_written_and_its_arguments() {
    // `docker compose` (v2) is not packaged for Debian bookworm: this checks the command the
    // task builds and runs, on this machine, not compose itself.
    let tasks = "  - id: compose\n    type: io.kestra.plugin.docker.cli.Compose\n    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n    composeFile: |\n      services:\n        hello:\n          image: busybox\n    composeArgs: [config, --services]\n";
    let r = run_flow_opts(
        TASKS,
        &format!("id: docker\nnamespace: company.team\ntasks:\n{tasks}"),
        RunOptions {
            environment: vec![("PATH".into(), std::env::var("PATH").unwrap_or_default())],
            ..RunOptions::default()
        },
    )
    .await;
    let info = lines(&r, "compose", "INFO");
    assert!(
        info[0].starts_with("Running command: docker compose -f ")
            && info[0].ends_with(".yaml config --services"),
        "{}",
        r.logs
    );
    let compose_v2 = std::process::Command::new("docker")
        .args(["compose", "version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if compose_v2 {
        assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
        assert!(info.contains(&"hello".to_string()), "{}", r.logs);
    } else {
        assert_eq!(r.state.as_str(), "FAILED");
        assert!(
            lines(&r, "compose", "ERROR")
                .iter()
                .any(|l| l.starts_with("Command failed with exit code")),
            "{}",
            r.logs
        );
    }
}
