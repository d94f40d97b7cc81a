//! Script tasks on the Docker task runner, against a real engine (dockerd or podman's
//! service) and images built locally by `scripts/engine.sh`.

mod support;

use serde_json::json;
use support::{
    BUSYBOX, Options, PYTHON, Scratch, all_bytes, docker_cli, docker_host, flow, on_docker,
    run_script,
};

/// A shell task in the busybox image, with no network (starts faster, reaches nothing);
/// `runner` lines go in the taskRunner block, `extra` lines in the task (both indented).
fn task_with(id: &str, runner: &str, extra: &str, commands: &[&str]) -> String {
    let mut t = format!(
        "  - id: {id}\n    type: io.kestra.plugin.scripts.shell.Commands\n    containerImage: {BUSYBOX}\n    taskRunner:\n      type: io.kestra.plugin.scripts.runner.docker.Docker\n      networkMode: none\n      pullPolicy: NEVER\n{runner}{extra}    commands:\n"
    );
    for c in commands {
        t.push_str(&format!("      - {}\n", serde_json::to_string(c).unwrap()));
    }
    t
}

fn busybox_task(id: &str, extra: &str, commands: &[&str]) -> String {
    task_with(id, "", extra, commands)
}

/// Indents every line of `text` by `n` spaces.
fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

/// Containers of this execution still known to the engine.
fn containers_of(host: &str, execution: &str) -> String {
    docker_cli(
        host,
        &[
            "ps",
            "-aq",
            "--filter",
            &format!("label=kestra.io/execution-id={execution}"),
        ],
    )
}

#[tokio::test]
async fn a_command_runs_in_the_image_with_the_task_env_only_and_the_same_working_directory() {
    let Some(host) = docker_host(&[BUSYBOX]) else {
        return;
    };
    let mut options = on_docker(&host);
    options
        .environment
        .push(("HOST_ONLY".into(), "from-the-host".into()));
    let r = run_script(
        &flow(&busybox_task(
            "sh",
            "    env:\n      GREETING: hello there\n",
            &[
                "echo \"$GREETING\"",
                "echo \"host:${HOST_ONLY:-unset}\"",
                "test \"$(pwd)\" = \"$WORKING_DIR\" && echo same-dir",
                "test -x /bin/busybox && echo in-busybox",
                "echo warn >&2",
                "echo '::{\"outputs\":{\"n\":1,\"s\":\"x\"}}::'",
            ],
        )),
        options,
    )
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(
        r.lines("sh", "INFO"),
        ["hello there", "host:unset", "same-dir", "in-busybox"]
    );
    assert_eq!(r.lines("sh", "ERROR"), ["warn"]);
    let out = r.outputs("sh");
    assert_eq!(out["vars"], json!({"n": 1, "s": "x"}));
    assert_eq!(out["exitCode"], 0);
    let id = out["taskRunner"]["containerId"]
        .as_str()
        .expect("containerId");
    assert_eq!(id.len(), 64, "{id}");
    assert_eq!(containers_of(&host, r.record["id"].as_str().unwrap()), "");
    assert!(r.left_behind.is_empty(), "{:?}", r.left_behind);
}

#[tokio::test]
async fn a_failed_command_fails_the_task_with_its_exit_code_and_keeps_outputs() {
    let Some(host) = docker_host(&[BUSYBOX]) else {
        return;
    };
    let r = run_script(
        &flow(&busybox_task(
            "sh",
            "    outputFiles:\n      - \"*.txt\"\n",
            &[
                "echo partial > made.txt",
                "echo '::{\"outputs\":{\"step\":1}}::'",
                "exit 3",
            ],
        )),
        on_docker(&host),
    )
    .await;
    assert_eq!(r.state(), "FAILED");
    assert_eq!(r.lines("sh", "ERROR"), ["Command failed with exit code 3"]);
    let out = r.outputs("sh");
    assert_eq!(out["exitCode"], 3);
    assert_eq!(out["vars"], json!({"step": 1}));
    // Files made before the failure come back and are kept.
    assert_eq!(r.read(&out["outputFiles"]["made.txt"]), "partial\n");
    assert_eq!(containers_of(&host, r.record["id"].as_str().unwrap()), "");
}

#[tokio::test]
async fn files_go_in_and_come_back_with_both_strategies() {
    let Some(host) = docker_host(&[BUSYBOX]) else {
        return;
    };
    for strategy in ["VOLUME", "MOUNT"] {
        let task = task_with(
            "sh",
            &format!("      fileHandlingStrategy: {strategy}\n"),
            "    inputFiles:\n      in.txt: from the flow\n      sub/deep.txt: deeper\n    outputFiles:\n      - \"**.csv\"\n      - out.txt\n",
            &[
                "cat in.txt sub/deep.txt > out.txt",
                "mkdir -p a/b && echo 1,2 > a/b/n.csv",
            ],
        );
        let r = run_script(&flow(&task), on_docker(&host)).await;
        assert_eq!(r.state(), "SUCCESS", "{strategy}: {}", r.logs);
        let files = &r.outputs("sh")["outputFiles"];
        assert_eq!(
            r.read(&files["out.txt"]),
            "from the flowdeeper",
            "{strategy}"
        );
        assert_eq!(r.read(&files["a/b/n.csv"]), "1,2\n", "{strategy}");
        assert!(r.left_behind.is_empty(), "{strategy}: {:?}", r.left_behind);
    }
}

#[tokio::test]
async fn a_python_script_in_a_python_image_sends_outputs_and_metrics() {
    let Some(host) = docker_host(&[PYTHON]) else {
        return;
    };
    let r = run_script(
        &flow(&format!(
            r#"  - id: py
    type: io.kestra.plugin.scripts.python.Script
    containerImage: {PYTHON}
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      networkMode: none
      pullPolicy: NEVER
    script: |
      import json, sys
      print("::" + json.dumps({{"outputs": {{"version": sys.version_info[0]}}, "metrics": [{{"name": "rows", "type": "counter", "value": 7}}]}}) + "::")
      print("done")
"#
        )),
        on_docker(&host),
    )
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.lines("py", "INFO"), ["done"]);
    assert_eq!(r.outputs("py")["vars"], json!({"version": 3}));
    assert_eq!(r.record["metrics"][0]["name"], "rows");
    assert_eq!(r.record["metrics"][0]["value"], 7.0);
}

#[tokio::test]
async fn runner_properties_reach_the_container() {
    let Some(host) = docker_host(&[BUSYBOX]) else {
        return;
    };
    let r = run_script(
        &flow(&task_with(
            "sh",
            "      user: \"65534\"\n      delete: false\n      memory:\n        memory: 64m\n      cpu:\n        cpus: 0.5\n      extraHosts: [\"db.local:10.1.2.3\"]\n      shmSize: 32m\n",
            "",
            &["id -u", "echo made > f.txt && echo writable"],
        )),
        on_docker(&host),
    )
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.lines("sh", "INFO"), ["65534", "writable"]);
    let id = r.outputs("sh")["taskRunner"]["containerId"]
        .as_str()
        .unwrap()
        .to_string();
    // `delete: false` keeps the container, to be looked at.
    let inspect: serde_json::Value =
        serde_json::from_str(&docker_cli(&host, &["inspect", &id])).expect("inspect");
    let c = &inspect[0];
    let labels = &c["Config"]["Labels"];
    assert_eq!(labels["kestra.io/namespace"], "company.team");
    assert_eq!(labels["kestra.io/flow-id"], "scripts");
    assert_eq!(labels["kestra.io/task-id"], "sh");
    assert_eq!(labels["kestra.io/execution-id"], r.record["id"]);
    assert_eq!(labels["kestra.io/taskrun-attempt"], "1");
    assert_eq!(c["Config"]["User"], "65534");
    assert_eq!(c["HostConfig"]["Memory"], 64 << 20);
    assert_eq!(c["HostConfig"]["NanoCpus"], 500_000_000);
    assert_eq!(c["HostConfig"]["ShmSize"], 32 << 20);
    assert_eq!(c["HostConfig"]["NetworkMode"], "none");
    assert_eq!(c["HostConfig"]["ExtraHosts"], json!(["db.local:10.1.2.3"]));
    docker_cli(&host, &["rm", "-f", &id]);
    let volume = c["Mounts"][0]["Name"]
        .as_str()
        .expect("the working directory's volume");
    docker_cli(&host, &["volume", "rm", volume]);
}

#[tokio::test]
async fn a_timeout_kills_the_container_and_leaves_nothing() {
    let Some(host) = docker_host(&[BUSYBOX]) else {
        return;
    };
    let started = std::time::Instant::now();
    let r = run_script(
        &flow(&busybox_task(
            "sh",
            "    timeout: PT2S\n",
            &["echo started", "sleep 60"],
        )),
        on_docker(&host),
    )
    .await;
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    assert_eq!(r.state(), "FAILED", "{}", r.logs);
    assert!(r.logs.contains("Timeout after 0:00:02.000"), "{}", r.logs);
    assert_eq!(containers_of(&host, r.record["id"].as_str().unwrap()), "");
    let volumes = docker_cli(
        &host,
        &[
            "volume",
            "ls",
            "-q",
            "--filter",
            &format!(
                "label=kestra.io/execution-id={}",
                r.record["id"].as_str().unwrap()
            ),
        ],
    );
    assert_eq!(volumes, "");
    assert!(r.left_behind.is_empty(), "{:?}", r.left_behind);
}

#[tokio::test]
async fn a_missing_image_and_a_silent_engine_are_clear_errors() {
    let Some(host) = docker_host(&[BUSYBOX]) else {
        return;
    };
    let r = run_script(
        &flow(&busybox_task("sh", "", &["true"]).replace(BUSYBOX, "localhost/no-such:1")),
        on_docker(&host),
    )
    .await;
    assert_eq!(r.state(), "FAILED");
    let errors = r.lines("sh", "ERROR").join("\n");
    assert!(
        errors.contains("image `localhost/no-such:1` is not on the engine at")
            && errors.contains("pullPolicy is NEVER"),
        "{errors}"
    );

    // A pull that cannot reach a registry says so, and what to do.
    let r = run_script(
        &flow(
            &busybox_task("sh", "", &["true"])
                .replace(BUSYBOX, "localhost:1/no-such:1")
                .replace("pullPolicy: NEVER", "pullPolicy: IF_NOT_PRESENT"),
        ),
        on_docker(&host),
    )
    .await;
    assert_eq!(r.state(), "FAILED");
    let errors = r.lines("sh", "ERROR").join("\n");
    assert!(
        errors.contains("cannot pull image `localhost:1/no-such:1`: ")
            && errors.contains("connection refused")
            && r.logs.contains("set pullPolicy: NEVER"),
        "{}",
        r.logs
    );

    // `--task-runner docker` with no engine at the address.
    let mut options = Options {
        task_runner: "docker",
        ..Options::default()
    };
    options.environment.push((
        "DOCKER_HOST".into(),
        "unix:///nonexistent/docker.sock".into(),
    ));
    let r = run_script(&flow(&busybox_task("sh", "", &["true"])), options).await;
    assert_eq!(r.state(), "FAILED");
    let errors = r.lines("sh", "ERROR").join("\n");
    assert!(
        errors.contains("no container engine answers at unix:///nonexistent/docker.sock")
            && r.logs.contains("with --task-runner process"),
        "{}",
        r.logs
    );

    // No image at all.
    let r = run_script(
        &flow(&busybox_task("sh", "", &["true"])).replace(
            &format!("containerImage: {BUSYBOX}"),
            "containerImage: \"\"",
        ),
        on_docker(&host),
    )
    .await;
    assert_eq!(r.state(), "FAILED");
    assert!(
        r.lines("sh", "ERROR")
            .join("\n")
            .contains("This task runner needs the `containerImage` property to be set"),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn auto_uses_the_engine_when_it_answers() {
    let Some(host) = docker_host(&[BUSYBOX]) else {
        return;
    };
    let mut options = on_docker(&host);
    options.task_runner = "auto";
    let r = run_script(
        &flow(&busybox_task(
            "sh",
            "",
            &["test -x /bin/busybox && echo in-busybox"],
        )),
        options,
    )
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.lines("sh", "INFO"), ["in-busybox"]);
    assert!(r.lines("sh", "WARN").is_empty(), "{}", r.logs);
}

#[tokio::test]
async fn tasks_of_a_working_directory_share_files_through_their_containers() {
    let Some(host) = docker_host(&[BUSYBOX]) else {
        return;
    };
    let children = format!(
        "{}{}",
        busybox_task("write", "", &["echo shared > note.txt"]),
        busybox_task("read", "", &["cat note.txt"])
    );
    let yaml = flow(&format!(
        "  - id: wd\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n    tasks:\n{}",
        indent(&children, 4)
    ));
    let r = run_script(&yaml, on_docker(&host)).await;
    assert_eq!(r.state(), "SUCCESS", "{yaml}\n{}", r.logs);
    assert_eq!(r.lines("read", "INFO"), ["shared"]);
    assert!(r.left_behind.is_empty(), "{:?}", r.left_behind);
}

#[tokio::test]
async fn a_secret_in_env_never_leaves_the_container_unmasked() {
    let Some(host) = docker_host(&[BUSYBOX]) else {
        return;
    };
    const SECRET: &str = "docker-Sup3r-S3cret!";
    let storage = Scratch::new("docker-secret");
    let mut options = on_docker(&host);
    options.storage = Some(storage.0.clone());
    options
        .environment
        .push(("SECRET_TOKEN".into(), base64_of(SECRET)));
    let r = run_script(
        &flow(&busybox_task(
            "sh",
            "    env:\n      TOKEN: \"{{ secret('TOKEN') }}\"\n    outputFiles: [\"*.txt\"]\n",
            &[
                "echo \"plain $TOKEN\"",
                "printf %s \"$TOKEN\" | base64",
                "echo \"::{\\\"outputs\\\":{\\\"t\\\":\\\"$TOKEN\\\"}}::\"",
                "echo \"$TOKEN\" >&2",
                "echo safe > kept.txt",
            ],
        )),
        options,
    )
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.lines("sh", "INFO"), ["plain ******", "******"]);
    assert_eq!(r.lines("sh", "ERROR"), ["******"]);
    assert_eq!(r.outputs("sh")["vars"]["t"], "******");
    let record = serde_json::to_string(&r.record).unwrap();
    let encoded = base64_of(SECRET);
    for (what, text) in [("logs", r.logs.as_str()), ("record", record.as_str())] {
        assert!(!text.contains(SECRET), "{what} shows the secret");
        assert!(!text.contains(&encoded), "{what} shows its base64");
    }
    let files = all_bytes(&storage.0);
    assert!(!files.is_empty());
    for (path, bytes) in files {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(SECRET) && !text.contains(&encoded),
            "{}",
            path.display()
        );
    }
}

fn base64_of(s: &str) -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", &format!("printf %s '{s}' | base64 -w0")])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn the_entry_point_replaces_the_images_and_defaults_to_none() {
    let Some(host) = docker_host(&[BUSYBOX]) else {
        return;
    };
    let r = run_script(
        &flow(&task_with(
            "sh",
            "      entryPoint: [\"/bin/echo\", \"via-entrypoint\"]\n",
            "",
            &["echo never run"],
        )),
        on_docker(&host),
    )
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    // echo printed the command line it was given instead of running it.
    assert_eq!(
        r.lines("sh", "INFO"),
        ["via-entrypoint /bin/sh -c set -e", "echo never run"]
    );
}

#[tokio::test]
async fn volumes_need_host_access() {
    let Some(host) = docker_host(&[BUSYBOX]) else {
        return;
    };
    let shared = Scratch::new("docker-volume");
    std::fs::write(shared.path("host.txt"), "from this machine").unwrap();
    let task = task_with(
        "sh",
        &format!("      volumes: [\"{}:/data:ro\"]\n", shared.0.display()),
        "",
        &["cat /data/host.txt 2>/dev/null || echo no-volume"],
    );
    let r = run_script(&flow(&task), on_docker(&host)).await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.lines("sh", "INFO"), ["no-volume"]);
    let warnings = r.lines("sh", "WARN").join("\n");
    assert!(
        warnings.contains("taskRunner.volumes are ignored")
            && warnings.contains("--docker-host-access"),
        "{warnings}"
    );

    let mut options = on_docker(&host);
    options.docker_host_access = true;
    let r = run_script(&flow(&task), options).await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.lines("sh", "INFO"), ["from this machine"]);
    assert!(r.lines("sh", "WARN").is_empty(), "{}", r.logs);
}

#[tokio::test]
async fn a_failed_sibling_in_a_parallel_kills_the_other_container() {
    let Some(host) = docker_host(&[BUSYBOX]) else {
        return;
    };
    let children = format!(
        "{}{}",
        busybox_task("slow", "", &["echo started", "sleep 60"]),
        busybox_task("fails", "", &["sleep 1", "exit 4"])
    );
    let yaml = flow(&format!(
        "  - id: both\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n{}",
        indent(&children, 4)
    ));
    let started = std::time::Instant::now();
    let r = run_script(&yaml, on_docker(&host)).await;
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    assert_eq!(r.state(), "FAILED", "{}", r.logs);
    assert_eq!(r.state_of("fails"), "FAILED");
    assert_eq!(r.state_of("slow"), "KILLED", "{}", r.logs);
    assert_eq!(containers_of(&host, r.record["id"].as_str().unwrap()), "");
    assert!(r.left_behind.is_empty(), "{:?}", r.left_behind);
}
