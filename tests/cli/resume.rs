//! `runner resume`, `runner restart` and `runner kill`: a paused, failed or running execution
//! of storage, as a user drives them; and the question a terminal gets at a Pause.

use crate::support::{Done, Sandbox};
use serde_json::Value as Json;
use std::path::PathBuf;

const APPROVAL: &str = "id: approval
namespace: company.team
tasks:
  - id: before
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ now() }}\"
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
      - id: note
        type: FILE
        required: false
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: \"approved={{ outputs.wait.onResume.approved }} note={{ outputs.wait.onResume.note ?? 'none' }}\"
outputs:
  - id: verdict
    type: BOOLEAN
    value: \"{{ outputs.wait.onResume.approved }}\"
";

/// The id the summary names (`Execution ID of ...`).
fn execution_id(done: &Done) -> String {
    let err = done.stderr();
    err.lines()
        .filter_map(|l| l.strip_prefix("Execution "))
        .find_map(|rest| rest.split_once(" of ").map(|(id, _)| id.to_string()))
        .unwrap_or_else(|| panic!("no execution id in: {err}"))
}

fn record(sandbox: &Sandbox, flow: &str, id: &str) -> Json {
    let path = sandbox.dir.join(format!(
        ".runner/storage/company/team/{flow}/executions/{id}/execution.json"
    ));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn task_state(record: &Json, task: &str) -> String {
    record["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["taskId"] == task)
        .map(|r| r["state"]["current"].as_str().unwrap().to_string())
        .unwrap_or_else(|| "none".to_string())
}

#[test]
fn a_paused_run_exits_3_and_resume_goes_on_with_checked_answers() {
    let s = Sandbox::new();
    s.write("flows/approval.yaml", APPROVAL);
    let paused = s.run(&["run", "flows/approval.yaml"]);
    assert_eq!(paused.code(), 3, "{}", paused.stderr());
    let id = execution_id(&paused);
    assert!(
        paused
            .stderr()
            .contains(&format!("is PAUSED: go on with `runner resume {id}`")),
        "{}",
        paused.stderr()
    );
    let before = record(&s, "approval", &id);
    assert_eq!(before["state"]["current"], "PAUSED");
    assert_eq!(task_state(&before, "after"), "none");

    // A wrong answer is refused with the input's name, and changes nothing.
    let wrong = s.run(&["resume", &id, "-i", "approved=maybe"]);
    assert_eq!(wrong.code(), 2, "{}", wrong.stderr());
    assert!(
        wrong
            .stderr()
            .contains("Invalid input for `approved`: expected `BOOLEAN`"),
        "{}",
        wrong.stderr()
    );
    assert_eq!(record(&s, "approval", &id)["state"]["current"], "PAUSED");

    // A FILE answer is copied into the execution's storage.
    s.write("note.txt", "looks good");
    let done = s.run(&[
        "resume",
        &id,
        "-i",
        "approved=true",
        "-i",
        "note=note.txt",
        "--json",
    ]);
    assert_eq!(done.code(), 0, "{}", done.stderr());
    let printed: Json = serde_json::from_str(&done.stdout()).unwrap();
    assert_eq!(printed["id"], id.as_str());
    assert_eq!(printed["state"]["current"], "SUCCESS");
    assert_eq!(printed["outputs"]["verdict"], true);
    let after = done.stderr();
    assert!(after.contains("approved=true note=kestra://"), "{after}");
    assert!(after.contains("verdict  true"), "{after}");
    let ended = record(&s, "approval", &id);
    let first = |r: &Json| {
        r["taskRunList"][0]["outputs"]["value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(first(&ended), first(&before), "`before` did not run again");

    let again = s.run(&["resume", &id, "-i", "approved=true"]);
    assert_eq!(again.code(), 2);
    assert!(
        again.stderr().contains("is SUCCESS, not PAUSED"),
        "{}",
        again.stderr()
    );
    let nothing = s.run(&["resume", "noSuchExecution"]);
    assert_eq!(nothing.code(), 2);
    assert!(
        nothing.stderr().contains("no execution noSuchExecution"),
        "{}",
        nothing.stderr()
    );
}

#[test]
fn resume_goes_on_with_the_flow_that_started_even_when_the_file_changed() {
    let s = Sandbox::new();
    let flow = s.write("flows/approval.yaml", APPROVAL);
    let paused = s.run(&["run", "flows/approval.yaml"]);
    let id = execution_id(&paused);
    std::fs::write(
        &flow,
        APPROVAL.replace("approved={{", "CHANGED approved={{"),
    )
    .unwrap();
    let done = s.run(&["resume", &id, "-i", "approved=false"]);
    assert_eq!(done.code(), 0, "{}", done.stderr());
    assert!(
        done.stderr()
            .contains("changed since this execution started"),
        "{}",
        done.stderr()
    );
    assert!(
        done.stderr().contains("approved=false note=none"),
        "{}",
        done.stderr()
    );
    assert!(!done.stderr().contains("CHANGED"), "{}", done.stderr());
}

#[test]
fn kill_ends_a_paused_execution_and_restart_then_runs_it_from_its_pause() {
    let s = Sandbox::new();
    s.write("flows/approval.yaml", APPROVAL);
    let id = execution_id(&s.run(&["run", "flows/approval.yaml"]));
    let killed = s.run(&["kill", &id]);
    assert_eq!(killed.code(), 0, "{}", killed.stderr());
    assert!(
        killed.stderr().contains("KILLED (it was PAUSED)"),
        "{}",
        killed.stderr()
    );
    let r = record(&s, "approval", &id);
    assert_eq!(r["state"]["current"], "KILLED");
    assert_eq!(task_state(&r, "wait"), "KILLED");
    let twice = s.run(&["kill", &id]);
    assert_eq!(twice.code(), 2);
    assert!(
        twice.stderr().contains("already ended (KILLED)"),
        "{}",
        twice.stderr()
    );
    // A KILLED execution restarts from what did not end well: the Pause waits again.
    let restarted = s.run(&["restart", &id]);
    assert_eq!(restarted.code(), 3, "{}", restarted.stderr());
    assert_eq!(record(&s, "approval", &id)["state"]["current"], "PAUSED");
}

#[test]
fn restart_runs_the_failed_task_again_and_keeps_what_succeeded() {
    let s = Sandbox::new();
    s.write(
        "flows/flaky.yaml",
        "id: flaky
namespace: company.team
tasks:
  - id: stamp
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ now() }}\"
  - id: check
    type: io.kestra.plugin.core.execution.Fail
    runIf: \"{{ kv('fixed', errorOnMissing=false) is null }}\"
    errorMessage: not fixed yet
  - id: report
    type: io.kestra.plugin.core.log.Log
    message: \"stamp {{ outputs.stamp.value }}\"
errors:
  - id: alert
    type: io.kestra.plugin.core.log.Log
    message: alerted
",
    );
    let failed = s.run(&["run", "flows/flaky.yaml"]);
    assert_eq!(failed.code(), 1, "{}", failed.stderr());
    let id = execution_id(&failed);
    let stamp = record(&s, "flaky", &id)["taskRunList"][0]["outputs"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        s.run(&["kv", "set", "company.team", "fixed", "yes"]).code(),
        0
    );
    let done = s.run(&["restart", &id]);
    assert_eq!(done.code(), 0, "{}", done.stderr());
    assert!(
        done.stderr().contains(&format!("stamp {stamp}")),
        "{}",
        done.stderr()
    );
    let r = record(&s, "flaky", &id);
    assert_eq!(r["state"]["current"], "SUCCESS");
    assert_eq!(task_state(&r, "check"), "SKIPPED");
    assert_eq!(
        task_state(&r, "alert"),
        "none",
        "the errors branch went with the failure"
    );
    let twice = s.run(&["restart", &id]);
    assert_eq!(twice.code(), 2);
    assert!(
        twice.stderr().contains("only a FAILED or KILLED execution"),
        "{}",
        twice.stderr()
    );
}

#[test]
fn kill_stops_a_running_execution_through_its_process() {
    let s = Sandbox::new();
    s.write(
        "flows/slow.yaml",
        "id: slow
namespace: company.team
tasks:
  - id: sleep
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT60S
",
    );
    let child = s
        .cmd(&["run", "flows/slow.yaml", "--execution-id", "slowOne"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The execution is found once its process kept what `kill` reads.
    let run_file: PathBuf = s
        .dir
        .join(".runner/storage/company/team/slow/executions/slowOne/run.json");
    let began = std::time::Instant::now();
    while !run_file.exists() {
        assert!(began.elapsed().as_secs() < 30, "the run never started");
        std::thread::yield_now();
    }
    let killed = s.run(&["kill", "slowOne"]);
    assert_eq!(killed.code(), 0, "{}", killed.stderr());
    assert!(
        killed.stderr().contains("execution slowOne: KILLED"),
        "{}",
        killed.stderr()
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("Interrupted (SIGTERM): the execution was killed")
    );
    assert_eq!(record(&s, "slow", "slowOne")["state"]["current"], "KILLED");
}

#[test]
fn a_terminal_is_asked_at_a_pause_and_its_answers_are_checked() {
    // `script` gives the run a terminal; what it reads is typed into it.
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("`script` (util-linux) is needed to give the run a terminal");
    }
    let s = Sandbox::new();
    s.write("flows/approval.yaml", APPROVAL);
    let runner = env!("CARGO_BIN_EXE_runner");
    let clean = s.cmd(&[]);
    let mut script = std::process::Command::new("script");
    script
        .args([
            "-qfec",
            &format!("{runner} run flows/approval.yaml --progress never"),
            "/dev/null",
        ])
        .current_dir(&s.dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    for (k, v) in clean.get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    let mut child = script.spawn().unwrap();
    {
        use std::io::Write;
        let stdin = child.stdin.as_mut().unwrap();
        // Yes; a wrong BOOLEAN, then a right one; no file.
        stdin.write_all(b"y\nmaybe\n\ntrue\n\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Pause `wait` of execution"), "{text}");
    assert!(text.contains("Invalid input for `approved`"), "{text}");
    assert!(text.contains("approved=true note=none"), "{text}");
    assert!(text.contains("ended SUCCESS"), "{text}");
}

#[test]
fn a_pause_in_a_subflow_pauses_the_parent_and_its_resume_goes_on_in_the_same_child() {
    let s = Sandbox::new();
    s.write(
        "flows/parent.yaml",
        "id: parent
namespace: company.team
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: child
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: \"child said {{ outputs.call.outputs.answer }}\"
",
    );
    s.write(
        "flows/child.yaml",
        "id: child
namespace: company.team
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
outputs:
  - id: answer
    type: STRING
    value: \"{{ outputs.wait.onResume.approved }}\"
",
    );
    let paused = s.run(&["run", "flows/parent.yaml"]);
    assert_eq!(paused.code(), 3, "{}", paused.stderr());
    let parent = execution_id(&paused);
    let first = record(&s, "parent", &parent);
    let child = first["taskRunList"][0]["outputs"]["executionId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(record(&s, "child", &child)["state"]["current"], "PAUSED");
    // The child goes on with its parent, not alone.
    let alone = s.run(&["resume", &child, "-i", "approved=true"]);
    assert_eq!(alone.code(), 2, "{}", alone.stderr());
    assert!(
        alone
            .stderr()
            .contains(&format!("a subflow of execution {parent}")),
        "{}",
        alone.stderr()
    );
    let kill = s.run(&["kill", &child]);
    assert_eq!(kill.code(), 2);
    assert!(
        kill.stderr().contains(&format!("`runner kill {parent}`")),
        "{}",
        kill.stderr()
    );
    let done = s.run(&["resume", &parent, "-i", "approved=true"]);
    assert_eq!(done.code(), 0, "{}", done.stderr());
    assert!(
        done.stderr().contains("child said true"),
        "{}",
        done.stderr()
    );
    assert_eq!(record(&s, "child", &child)["state"]["current"], "SUCCESS");
    // The same child went on: no other execution of it was made.
    let children = std::fs::read_dir(s.dir.join(".runner/storage/company/team/child/executions"))
        .unwrap()
        .count();
    assert_eq!(children, 1);
}
