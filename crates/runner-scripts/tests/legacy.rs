//! The deprecated io.kestra.core.tasks.scripts tasks on this machine.

mod support;

use serde_json::json;
use support::{flow, installed, run};

#[tokio::test]
async fn bash_makes_named_output_files_and_counts_lines() {
    let r = run(&flow(
        r#"  - id: bash
    type: io.kestra.core.tasks.scripts.Bash
    outputFiles: [first, second]
    outputDirs: [reports]
    commands:
      - echo "one" > {{ outputFiles.first }}
      - echo "in temp" > {{ temp.second }}
      - echo r > {{ outputDirs.reports }}/r.txt
      - echo out
      - echo err >&2
      - echo '::{"outputs":{"k":"v"}}::'
"#,
    ))
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    let out = r.outputs("bash");
    assert_eq!(out["exitCode"], 0);
    assert_eq!(out["stdOutLineCount"], 2);
    assert_eq!(out["stdErrLineCount"], 1);
    assert_eq!(out["vars"], json!({"k": "v"}));
    assert_eq!(r.read(&out["outputFiles"]["first"]), "one\n");
    assert_eq!(r.read(&out["outputFiles"]["second"]), "in temp\n");
    assert_eq!(r.read(&out["outputFiles"]["reports/r.txt"]), "r\n");
    assert_eq!(out["files"], out["outputFiles"]);
    assert!(
        r.lines("bash", "INFO")[0].starts_with("Running script with working directory: "),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn bash_exit_on_failed_and_its_interpreter() {
    let r = run(&flow(
        r#"  - id: stop
    type: io.kestra.core.tasks.scripts.Bash
    commands: ["false", "echo never"]
"#,
    ))
    .await;
    assert_eq!(r.state_of("stop"), "FAILED");
    assert!(r.lines("stop", "INFO").iter().all(|l| !l.contains("never")));
    let r = run(&flow(
        r#"  - id: go
    type: io.kestra.core.tasks.scripts.Bash
    exitOnFailed: false
    interpreter: /bin/bash
    interpreterArgs: ["-c"]
    commands: ["false", "echo ${BASH_VERSION:+bash} went on"]
"#,
    ))
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.lines("go", "INFO").last().unwrap(), "bash went on");
}

#[tokio::test]
async fn python_runs_main_py_with_args_and_the_kestra_helper() {
    let r = run(&flow(
        r#"  - id: py
    type: io.kestra.core.tasks.scripts.Python
    args: ["data.json"]
    inputFiles:
      data.json: '{"status": "OK"}'
      main.py: |
        import json, sys
        from kestra import Kestra
        status = json.load(open(sys.argv[1]))["status"]
        print("status", status)
        Kestra.outputs({"status": status})
        Kestra.counter("calls", 2, {"who": "me"})
  - id: missing
    type: io.kestra.core.tasks.scripts.Python
    inputFiles:
      other.py: "print(1)"
"#,
    ))
    .await;
    assert_eq!(r.state_of("py"), "SUCCESS", "{}", r.logs);
    assert_eq!(r.lines("py", "INFO").last().unwrap(), "status OK");
    assert_eq!(r.outputs("py")["vars"], json!({"status": "OK"}));
    assert_eq!(r.record["metrics"][0]["name"], "calls");
    assert_eq!(r.record["metrics"][0]["value"], 2.0);
    assert_eq!(r.state_of("missing"), "FAILED");
    assert!(
        r.logs.contains("Invalid input files structure, expecting inputFiles property to contain at least a main.py key with python code value."),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn node_runs_main_js() {
    if !installed("node") {
        eprintln!(
            "SKIPPED node_runs_main_js: `node` is not installed (scripts/test.sh installs it)"
        );
        return;
    }
    let r = run(&flow(
        r#"  - id: js
    type: io.kestra.core.tasks.scripts.Node
    args: ["x"]
    inputFiles:
      main.js: |
        console.log('arg ' + process.argv[2]);
"#,
    ))
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.lines("js", "INFO").last().unwrap(), "arg x");
}
