//! Script tasks on the Process task runner, against real `/bin/sh`, `python3` and `node`.

mod support;

use serde_json::json;
use support::{Options, flow, installed, run, run_script};

#[tokio::test]
async fn commands_log_stdout_at_info_and_stderr_at_error_and_run_in_the_working_directory() {
    let r = run(&flow(
        r#"  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    warningOnStdErr: true
    commands:
      - echo "out in $(pwd)"
      - echo oops >&2
      - echo "wd=$WORKING_DIR"
"#,
    ))
    .await;
    assert_eq!(
        r.state(),
        "SUCCESS",
        "stderr does not make a WARNING: {}",
        r.logs
    );
    let info = r.lines("sh", "INFO");
    let wd = info[0].strip_prefix("out in ").expect("pwd line");
    assert!(wd.contains("runner-wd-"), "{wd}");
    assert_eq!(info[1], format!("wd={wd}"));
    assert_eq!(r.lines("sh", "ERROR"), ["oops"]);
    assert_eq!(r.outputs("sh"), json!({"vars": {}, "exitCode": 0}));
    assert!(r.left_behind.is_empty(), "{:?}", r.left_behind);
}

#[tokio::test]
async fn fail_fast_stops_at_the_first_failure_and_keeps_outputs() {
    let r = run(&flow(
        r#"  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo '::{"outputs":{"step":1}}::'
      - sh -c 'exit 3'
      - echo never
"#,
    ))
    .await;
    assert_eq!(r.state(), "FAILED");
    assert!(r.lines("sh", "INFO").is_empty(), "{}", r.logs);
    assert_eq!(r.lines("sh", "ERROR"), ["Command failed with exit code 3"]);
    assert_eq!(r.outputs("sh"), json!({"vars": {"step": 1}, "exitCode": 3}));

    // Without failFast, the last command decides.
    let r = run(&flow(
        r#"  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    failFast: false
    commands:
      - "false"
      - echo went on
"#,
    ))
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.lines("sh", "INFO"), ["went on"]);
}

#[tokio::test]
async fn the_protocol_sets_outputs_metrics_and_logs_from_stdout_and_stderr() {
    let r = run(&flow(
        r#"  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo '::{"outputs":{"a":1,"b":"x"}}::'
      - echo '::{"outputs":{"b":"later","nested":{"k":[1,2]}}}::' >&2
      - echo '::{"metrics":[{"name":"rows","type":"counter","value":42,"tags":{"table":"t"}},{"name":"took","type":"timer","value":1.5}]}::'
      - echo '::{"logs":[{"level":"WARN","message":"careful"},{"level":"DEBUG","message":"detail"}]}::'
      - echo '::{"outputs":{broken}::'
      - echo plain
"#,
    ))
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(
        r.outputs("sh")["vars"],
        json!({"a": 1, "b": "later", "nested": {"k": [1, 2]}})
    );
    let metrics = r.record["metrics"]
        .as_array()
        .expect("metrics in the record");
    assert_eq!(metrics.len(), 2);
    assert_eq!(metrics[0]["name"], "rows");
    assert_eq!(metrics[0]["type"], "counter");
    assert_eq!(metrics[0]["value"], 42.0);
    assert_eq!(metrics[0]["tags"], json!({"table": "t"}));
    assert_eq!(metrics[0]["taskId"], "sh");
    assert_eq!(metrics[1]["type"], "timer");
    assert_eq!(metrics[1]["value"], 1.5);
    assert_eq!(r.lines("sh", "WARN")[0], "careful");
    assert_eq!(r.lines("sh", "DEBUG").last().unwrap(), "detail");
    assert!(
        r.lines("sh", "WARN")[1].starts_with("Invalid outputs 'key must be a string"),
        "{}",
        r.logs
    );
    // Protocol lines are not logged as text.
    assert_eq!(r.lines("sh", "INFO"), ["plain"]);
    assert!(r.lines("sh", "ERROR").is_empty(), "{}", r.logs);
}

#[tokio::test]
async fn before_commands_interpreter_and_working_dir_render() {
    let r = run(&flow(
        r#"  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    interpreter: ["/bin/bash", "-c"]
    beforeCommands:
      - export GREETING=hi
      - cd "{{ workingDir }}"
    commands:
      - echo "$GREETING from ${BASH_VERSION:+bash}"
      - echo "{{ workingDir }}" | grep -c runner-wd-
"#,
    ))
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.lines("sh", "INFO"), ["hi from bash", "1"]);

    // An interpreter that is not a shell, and commands straight into argv.
    let r = run(&flow(
        r#"  - id: py
    type: io.kestra.plugin.scripts.shell.Commands
    interpreter: ["python3", "-c"]
    failFast: false
    commands:
      - "print(6 * 7)"
"#,
    ))
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.lines("py", "INFO"), ["42"]);
}

#[tokio::test]
async fn env_adds_variables_and_credentials_of_runner_are_not_passed() {
    let mut options = Options::default();
    options
        .environment
        .push(("SECRET_TOKEN".into(), "c2VjcmV0LXZhbHVlLTEyMw==".into()));
    options
        .environment
        .push(("ENV_REGION".into(), "eu-west-1".into()));
    let r = run_script(
        &flow(
            r#"  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    env:
      FROM_FLOW: "{{ 1 + 1 }}"
      MAPPED_REGION: "{{ envs.region }}"
    commands:
      - echo "flow=$FROM_FLOW mapped=$MAPPED_REGION region=${ENV_REGION:-unset} secret=${SECRET_TOKEN:-unset}"
"#,
        ),
        options,
    )
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    // ENV_* and SECRET_* stay runner's: a flow maps what a script needs through `env`.
    assert_eq!(
        r.lines("sh", "INFO"),
        ["flow=2 mapped=eu-west-1 region=unset secret=unset"]
    );
}

#[tokio::test]
async fn input_files_take_text_storage_files_and_json_strings() {
    let r = run(&flow(
        r#"  - id: make
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - printf 'a,b\n1,2\n' > data.csv
    outputFiles: ["data.csv"]
  - id: use
    type: io.kestra.plugin.scripts.shell.Commands
    inputFiles:
      copied.csv: "{{ outputs.make.outputFiles['data.csv'] }}"
      sub/dir/note.txt: "hello {{ 40 + 2 }}\n"
      at.txt: "{{ workingDir }}"
    commands:
      - wc -l < copied.csv
      - cat sub/dir/note.txt
      - test "$(cat at.txt)" = "$(pwd)" && echo same
  - id: json
    type: io.kestra.plugin.scripts.shell.Commands
    inputFiles: '{"from-json.txt": "json text"}'
    commands:
      - cat from-json.txt
"#,
    ))
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.lines("use", "INFO"), ["2", "hello 42", "same"]);
    assert_eq!(r.lines("json", "INFO"), ["json text"]);
}

#[tokio::test]
async fn input_files_cannot_leave_the_working_directory_nor_read_host_files() {
    for (name, value, why) in [
        ("../escape.txt", "x", "not a path inside the folder"),
        ("/tmp/abs.txt", "x", "not a path inside the folder"),
        (
            "host.txt",
            "file:///etc/hostname",
            "`file://` files of the host",
        ),
    ] {
        let r = run(&flow(&format!(
            "  - id: sh\n    type: io.kestra.plugin.scripts.shell.Commands\n    inputFiles:\n      \"{name}\": \"{value}\"\n    commands:\n      - echo ran\n"
        )))
        .await;
        assert_eq!(r.state(), "FAILED", "{name}");
        assert!(r.logs.contains(why), "{name}: {}", r.logs);
        assert!(!r.logs.contains("INFO  [sh] ran"));
    }
    assert!(!std::path::Path::new("/tmp/abs.txt").exists());
}

#[tokio::test]
async fn output_files_follow_java_glob_rules_and_are_moved_to_storage() {
    let r = run(&flow(
        r#"  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    outputFiles:
      - "*.txt"
      - "**/*.csv"
      - "regex:.*/logs/.*\\.log"
      - "nothing-*.bin"
    commands:
      - mkdir -p sub/deeper logs
      - echo top > top.txt
      - echo nested > sub/nested.txt
      - echo csv > sub/deeper/d.csv
      - echo topcsv > top.csv
      - echo l > logs/a.log
      - echo "a file" > "with space.txt"
"#,
    ))
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    let files = r.outputs("sh")["outputFiles"].clone();
    let mut keys: Vec<&str> = files
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort();
    // `*` stays in one folder; `**/` needs one (Java's PathMatcher), so top.csv is not kept.
    assert_eq!(
        keys,
        [
            "logs/a.log",
            "sub/deeper/d.csv",
            "top.txt",
            "with space.txt"
        ]
    );
    assert_eq!(r.read(&files["top.txt"]), "top\n");
    assert_eq!(r.read(&files["sub/deeper/d.csv"]), "csv\n");
    let uri = files["with space.txt"].as_str().unwrap();
    assert!(uri.ends_with("-with+space.txt"), "{uri}");
    assert!(
        uri.starts_with("kestra:///company/team/scripts/executions/"),
        "{uri}"
    );
}

#[tokio::test]
async fn output_files_are_kept_when_the_command_fails() {
    let r = run(&flow(
        r#"  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    outputFiles: ["partial.txt"]
    commands:
      - echo so-far > partial.txt
      - exit 4
"#,
    ))
    .await;
    assert_eq!(r.state(), "FAILED");
    let out = r.outputs("sh");
    assert_eq!(out["exitCode"], 4);
    assert_eq!(r.read(&out["outputFiles"]["partial.txt"]), "so-far\n");
}

#[tokio::test]
async fn output_directory_keeps_every_file_of_output_dir() {
    let r = run(&flow(
        r#"  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    outputDirectory: true
    commands:
      - echo one > "{{ outputDir }}/one.txt"
      - mkdir -p "$OUTPUT_DIR/in" && echo two > "$OUTPUT_DIR/in/two.txt"
  - id: without
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo "{{ outputDir }}"
"#,
    ))
    .await;
    assert_eq!(r.state_of("sh"), "SUCCESS", "{}", r.logs);
    let files = &r.outputs("sh")["outputFiles"];
    assert_eq!(r.read(&files["one.txt"]), "one\n");
    assert_eq!(r.read(&files["in/two.txt"]), "two\n");
    assert_eq!(r.state_of("without"), "FAILED");
    assert!(r.logs.contains("outputDir"), "{}", r.logs);
}

#[tokio::test]
async fn storage_uris_in_commands_become_local_copies() {
    let r = run(&flow(
        r#"  - id: make
    type: io.kestra.plugin.scripts.shell.Commands
    outputFiles: ["x.txt"]
    commands:
      - echo "stored line" > x.txt
  - id: read
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - cat {{ outputs.make.outputFiles['x.txt'] }}
      - cat '{{ outputs.make.outputFiles["x.txt"] }}' | wc -l
      - echo {{ outputs.make.outputFiles['x.txt'] }} | grep -c '^/.*\.tmp$'
"#,
    ))
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.lines("read", "INFO"), ["stored line", "1", "1"]);
}

#[tokio::test]
async fn shell_script_runs_its_text_as_the_interpreters_last_argument() {
    let r = run(&flow(
        r#"  - id: sh
    type: io.kestra.plugin.scripts.shell.Script
    beforeCommands: ["N=3"]
    script: |
      for i in $(seq 1 $N); do
        echo "line $i"
      done
"#,
    ))
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.lines("sh", "INFO"), ["line 1", "line 2", "line 3"]);
}

#[tokio::test]
async fn python_script_runs_from_a_file_with_unbuffered_output() {
    let r = run(&flow(
        r#"  - id: py
    type: io.kestra.plugin.scripts.python.Script
    script: |
      import json, os, sys
      print("file", os.path.basename(sys.argv[0]).endswith(".py"), os.environ["PYTHONUNBUFFERED"])
      print("err", file=sys.stderr)
      print("::" + json.dumps({"outputs": {"sum": {{ 20 + 1 }} * 2}}) + "::")
  - id: cmd
    type: io.kestra.plugin.scripts.python.Commands
    inputFiles:
      main.py: |
        print("main ran")
    commands:
      - python main.py
"#,
    ))
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.lines("py", "INFO"), ["file True true"]);
    assert_eq!(r.lines("py", "ERROR"), ["err"]);
    assert_eq!(r.outputs("py")["vars"], json!({"sum": 42}));
    assert_eq!(r.lines("cmd", "INFO"), ["main ran"]);
}

#[tokio::test]
async fn node_script_runs_when_node_is_installed() {
    if !installed("node") {
        eprintln!(
            "SKIPPED node_script_runs_when_node_is_installed: `node` is not installed (scripts/test.sh installs it)"
        );
        return;
    }
    let r = run(&flow(
        r#"  - id: js
    type: io.kestra.plugin.scripts.node.Script
    script: |
      console.log('::' + JSON.stringify({outputs: {n: 6 * 7}}) + '::');
      console.log(process.argv[1].endsWith('.js'));
  - id: cmd
    type: io.kestra.plugin.scripts.node.Commands
    commands:
      - node -e "console.log(1 + 1)"
"#,
    ))
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.outputs("js")["vars"], json!({"n": 42}));
    assert_eq!(r.lines("js", "INFO"), ["true"]);
    assert_eq!(r.lines("cmd", "INFO"), ["2"]);
}

#[tokio::test]
async fn a_timeout_kills_the_whole_process_group() {
    let scratch = support::Scratch::new("pids");
    let pids = scratch.path("pids");
    let r = run(&flow(&format!(
        "  - id: slow\n    type: io.kestra.plugin.scripts.shell.Commands\n    timeout: PT0.5S\n    commands:\n      - sleep 60 &\n      - echo $! > {p}\n      - echo $$ >> {p}\n      - sleep 60\n",
        p = pids.display()
    )))
    .await;
    assert_eq!(r.state(), "FAILED", "{}", r.logs);
    assert!(r.logs.contains("Timeout after"), "{}", r.logs);
    let pids = std::fs::read_to_string(&pids).unwrap();
    for pid in pids.split_whitespace() {
        assert!(support::gone(pid), "process {pid} is still running");
    }
    assert!(r.left_behind.is_empty(), "{:?}", r.left_behind);
}

#[tokio::test]
async fn background_jobs_do_not_outlive_the_script() {
    let scratch = support::Scratch::new("bg");
    let pid_file = scratch.path("pid");
    let r = run(&flow(&format!(
        "  - id: bg\n    type: io.kestra.plugin.scripts.shell.Commands\n    commands:\n      - sleep 60 &\n      - echo $! > {}\n      - echo done\n",
        pid_file.display()
    )))
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert!(
        support::gone(pid.trim()),
        "the background job outlived the script"
    );
}

#[tokio::test]
async fn a_line_without_end_is_cut_and_logged_with_a_note() {
    let r = run(&flow(
        r#"  - id: long
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - head -c 3000000 /dev/zero | tr '\0' x
      - echo
      - echo after
"#,
    ))
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert!(
        r.logs
            .contains("(line cut: 1951424 more bytes without a line break were not logged)"),
        "{}",
        &r.logs[r.logs.len().saturating_sub(500)..]
    );
    assert_eq!(r.lines("long", "INFO").last().unwrap(), "after");
}

#[tokio::test]
async fn a_missing_interpreter_says_what_to_install() {
    let r = run(&flow(
        r#"  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    interpreter: ["no-such-shell-here", "-c"]
    commands: ["echo x"]
"#,
    ))
    .await;
    assert_eq!(r.state(), "FAILED");
    assert!(
        r.logs.contains("cannot start `no-such-shell-here`"),
        "{}",
        r.logs
    );
    assert!(
        r.logs.contains("help: install `no-such-shell-here`"),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn auto_warns_once_per_task_when_no_engine_answers() {
    let mut options = Options {
        task_runner: "auto",
        ..Options::default()
    };
    // No engine at this socket.
    options.environment.push((
        "DOCKER_HOST".into(),
        "unix:///nonexistent/docker.sock".into(),
    ));
    let r = run_script(
        &flow(
            r#"  - id: a
    type: io.kestra.plugin.scripts.python.Script
    script: print("ran here")
  - id: b
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: alpine:3
    commands: ["echo also"]
  - id: explicit
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands: ["echo quiet"]
"#,
        ),
        options,
    )
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    let a = r.lines("a", "WARN");
    assert_eq!(a.len(), 1, "{a:?}");
    assert!(a[0].contains("not in image `python:3.13-slim`"), "{}", a[0]);
    assert!(r.lines("b", "WARN")[0].contains("`alpine:3`"));
    assert!(r.lines("explicit", "WARN").is_empty());
    assert_eq!(r.lines("a", "INFO"), ["ran here"]);
}

#[tokio::test]
async fn a_failed_sibling_in_a_parallel_kills_the_other_process_group() {
    let marker = support::Scratch::new("sibling");
    let late = marker.path("late");
    let job = marker.path("job");
    let started = std::time::Instant::now();
    let r = run(&flow(&format!(
        r#"  - id: both
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: slow
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - (sleep 3; touch {late}) &
          - echo $! > {job}
          - sleep 60
      - id: fails
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - sleep 0.5
          - exit 4
"#,
        late = late.display(),
        job = job.display()
    )))
    .await;
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
    assert_eq!(r.state(), "FAILED", "{}", r.logs);
    assert_eq!(r.state_of("fails"), "FAILED");
    assert_eq!(r.state_of("slow"), "KILLED", "{}", r.logs);
    // The background job of the killed script went with it, so it never touches `late`.
    let pid = std::fs::read_to_string(&job).unwrap();
    assert!(
        support::gone(pid.trim()),
        "a process of the killed task outlived it"
    );
    assert!(!late.exists());
    assert!(r.left_behind.is_empty(), "{:?}", r.left_behind);
}

#[tokio::test]
async fn ruby_r_and_julia_scripts_run_their_program_on_a_file() {
    // Ruby for real; R and Julia are not packaged for this machine's Debian (Julia) or too
    // large to install for a test (R): a stand-in `Rscript` and `julia` on PATH show the
    // command line the tasks build and read the file they are given.
    let bin = support::Scratch::new("lang-bin");
    for program in ["Rscript", "julia"] {
        let path = bin.path(program);
        std::fs::write(
            &path,
            "#!/bin/sh\necho \"$(basename \"$0\") ${1##*.}\"\ncat \"$1\"\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let options = Options {
        environment: vec![(
            "PATH".into(),
            format!(
                "{}:{}",
                bin.0.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )],
        ..Options::default()
    };
    let ruby = installed("ruby");
    if !ruby {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED the Ruby part: ruby is not installed (scripts/test.sh installs it)"
        );
    }
    let mut tasks = String::from(
        "  - id: r\n    type: io.kestra.plugin.scripts.r.Script\n    script: print('{{ flow.id }}')\n  - id: jl\n    type: io.kestra.plugin.scripts.julia.Commands\n    commands:\n      - julia --version || true\n",
    );
    if ruby {
        tasks.push_str("  - id: rb\n    type: io.kestra.plugin.scripts.ruby.Script\n    script: |\n      puts \"::{\\\"outputs\\\":{\\\"sum\\\":#{1 + 2}}}::\"\n      puts RUBY_VERSION.split('.').first.to_i >= 2\n");
    }
    let r = run_script(&flow(&tasks), options).await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.lines("r", "INFO"), ["Rscript R", "print('scripts')"]);
    assert!(r.lines("jl", "INFO")[0].starts_with("julia "), "{}", r.logs);
    if ruby {
        assert_eq!(r.lines("rb", "INFO"), ["true"]);
        assert_eq!(r.outputs("rb")["vars"], json!({"sum": 3}));
    }
}
