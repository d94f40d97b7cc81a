//! Going on with a recorded execution: a Pause without duration ends the run PAUSED, a resume
//! goes on past it with its `onResume` values, a restart runs the failed task runs again; what
//! ended well keeps its ids, states and outputs.

mod support;

use runner_core::resume::{Continuation, Prior};
use runner_core::{ExecutionBuilder, Level, LogFormat, Plan, State};
use serde_json::{Map, Value as Json, json};
use std::path::Path;
use std::sync::Arc;
use support::*;

const APPROVAL: &str = "id: approval
namespace: company.team
inputs:
  - id: who
    type: STRING
    defaults: world
tasks:
  - id: before
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ inputs.who }} at {{ now() }}\"
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
      - id: reason
        type: STRING
        defaults: none given
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ outputs.before.value }} approved={{ outputs.wait.onResume.approved }} ({{ outputs.wait.onResume.reason }})\"
finally:
  - id: tidy
    type: io.kestra.plugin.core.log.Log
    message: tidy
outputs:
  - id: verdict
    type: BOOLEAN
    value: \"{{ outputs.wait.onResume.approved }}\"
";

/// One run of `plan` in `storage`: a new execution, or one going on from `prior`.
async fn go(
    plan: &Arc<Plan>,
    storage: &Path,
    prior: Option<(&Json, Continuation)>,
) -> Result<(State, Json, String), runner_core::StartError> {
    let buf = Buf::default();
    let mut builder = ExecutionBuilder::new(plan.clone()).storage(storage).log(
        Box::new(buf.clone()),
        LogFormat::Text,
        Level::Debug,
    );
    if let Some((record, how)) = prior {
        builder = builder.continuing(Prior::read(record).unwrap(), how);
    }
    let execution = builder.start().await?;
    let state = execution.run().await;
    execution.write_record().unwrap();
    Ok((state, execution.record(), buf.text()))
}

fn run_of<'r>(record: &'r Json, task: &str) -> &'r Json {
    record["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["taskId"] == task)
        .unwrap_or_else(|| panic!("no task run of {task}: {record}"))
}

fn states(record: &Json) -> Vec<String> {
    record["state"]["histories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["state"].as_str().unwrap().to_string())
        .collect()
}

fn answer(pairs: &[(&str, &str)]) -> Continuation {
    Continuation::Resume(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect::<Map<_, _>>(),
    )
}

#[tokio::test]
async fn a_pause_without_duration_ends_the_run_paused_and_a_resume_goes_on_past_it() {
    let plan = Arc::new(plan(APPROVAL));
    let storage = temp_dir("resume");
    let (state, paused, logs) = go(&plan, &storage, None).await.unwrap();
    assert_eq!(state, State::Paused);
    assert_eq!(paused["state"]["current"], "PAUSED");
    assert_eq!(run_of(&paused, "wait")["state"]["current"], "PAUSED");
    assert!(
        logs.contains("[wait] Paused: waiting for a manual resume"),
        "{logs}"
    );
    // Nothing after the Pause ran: not the next task, not finally, not the flow outputs.
    let ids: Vec<&str> = paused["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["taskId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["before", "wait"]);
    assert!(paused.get("outputs").is_none(), "{paused}");
    assert!(paused["state"].get("endDate").is_none());

    let (state, done, logs) = go(
        &plan,
        &storage,
        Some((&paused, answer(&[("approved", "true")]))),
    )
    .await
    .unwrap();
    assert_eq!(state, State::Success, "{logs}");
    assert_eq!(done["id"], paused["id"], "the same execution goes on");
    assert_eq!(
        states(&done),
        ["CREATED", "RUNNING", "PAUSED", "RUNNING", "SUCCESS"]
    );
    // What ran before keeps its id and outputs: it did not run again.
    let before = run_of(&done, "before");
    assert_eq!(before["id"], run_of(&paused, "before")["id"]);
    assert_eq!(before["outputs"], run_of(&paused, "before")["outputs"]);
    let wait = run_of(&done, "wait");
    assert_eq!(wait["id"], run_of(&paused, "wait")["id"]);
    assert_eq!(wait["state"]["current"], "SUCCESS");
    assert_eq!(
        wait["outputs"]["onResume"],
        json!({"approved": true, "reason": "none given"})
    );
    let value = run_of(&done, "after")["outputs"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    let earlier = before["outputs"]["value"].as_str().unwrap();
    assert_eq!(value, format!("{earlier} approved=true (none given)"));
    assert_eq!(run_of(&done, "tidy")["state"]["current"], "SUCCESS");
    assert_eq!(done["outputs"], json!({"verdict": true}));
    assert!(logs.contains("[wait] Resumed"), "{logs}");
    let _ = std::fs::remove_dir_all(&storage);
}

#[tokio::test]
async fn a_resume_with_a_wrong_answer_is_refused_and_nothing_runs() {
    let plan = Arc::new(plan(APPROVAL));
    let storage = temp_dir("resume-bad");
    let (_, paused, _) = go(&plan, &storage, None).await.unwrap();
    let refused = go(
        &plan,
        &storage,
        Some((&paused, answer(&[("approved", "maybe")]))),
    )
    .await
    .map(|_| ())
    .unwrap_err();
    assert!(
        refused.plain().contains("Invalid input for `approved`")
            && refused.plain().contains("maybe"),
        "{}",
        refused.plain()
    );
    let missing = go(&plan, &storage, Some((&paused, answer(&[]))))
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(
        missing.plain().contains("missing required input"),
        "{}",
        missing.plain()
    );
    let unknown = go(
        &plan,
        &storage,
        Some((&paused, answer(&[("approved", "true"), ("nope", "x")]))),
    )
    .await
    .map(|_| ())
    .unwrap_err();
    assert!(unknown.plain().contains("nope"), "{}", unknown.plain());
    // A record that is not PAUSED cannot be resumed, nor a SUCCESS restarted.
    let (_, done, _) = go(
        &plan,
        &storage,
        Some((&paused, answer(&[("approved", "false")]))),
    )
    .await
    .unwrap();
    assert_eq!(done["outputs"], json!({"verdict": false}));
    let again = go(
        &plan,
        &storage,
        Some((&done, answer(&[("approved", "true")]))),
    )
    .await
    .map(|_| ())
    .unwrap_err();
    assert!(
        again.plain().contains("is SUCCESS, not PAUSED"),
        "{}",
        again.plain()
    );
    let restart = go(&plan, &storage, Some((&done, Continuation::Restart)))
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(
        restart
            .plain()
            .contains("only a FAILED or KILLED execution can be restarted"),
        "{}",
        restart.plain()
    );
    let _ = std::fs::remove_dir_all(&storage);
}

#[tokio::test]
async fn a_restart_runs_the_failed_task_runs_again_and_keeps_the_others() {
    // test.Flaky counts its calls on the plan's task: it fails once, then succeeds.
    let plan = Arc::new(plan(
        "id: restart
namespace: company.team
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ now() }}\"
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: [\"a\", \"b\"]
    tasks:
      - id: inner
        type: io.kestra.plugin.core.debug.Return
        format: \"{{ taskrun.value }}\"
  - id: flaky
    type: test.Flaky
    failures: 1
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ outputs.first.value }} {{ outputs.inner.b.value }} {{ outputs.flaky.attempt }}\"
errors:
  - id: alert
    type: io.kestra.plugin.core.log.Log
    message: failed
",
    ));
    let storage = temp_dir("restart");
    let (state, failed, _) = go(&plan, &storage, None).await.unwrap();
    assert_eq!(state, State::Failed);
    assert_eq!(run_of(&failed, "alert")["state"]["current"], "SUCCESS");
    let (state, done, logs) = go(&plan, &storage, Some((&failed, Continuation::Restart)))
        .await
        .unwrap();
    assert_eq!(state, State::Success, "{logs}");
    assert_eq!(
        states(&done),
        [
            "CREATED",
            "RUNNING",
            "FAILED",
            "RESTARTED",
            "RUNNING",
            "SUCCESS"
        ]
    );
    for kept in ["first", "each"] {
        assert_eq!(run_of(&done, kept)["id"], run_of(&failed, kept)["id"]);
        assert_eq!(run_of(&done, kept)["state"], run_of(&failed, kept)["state"]);
    }
    let flaky = run_of(&done, "flaky");
    assert_eq!(flaky["id"], run_of(&failed, "flaky")["id"]);
    let history: Vec<&str> = flaky["state"]["histories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        history,
        [
            "CREATED",
            "RUNNING",
            "FAILED",
            "RESTARTED",
            "RUNNING",
            "SUCCESS"
        ]
    );
    assert_eq!(flaky["attempts"].as_array().unwrap().len(), 2);
    let first = run_of(&failed, "first")["outputs"]["value"]
        .as_str()
        .unwrap();
    assert_eq!(
        run_of(&done, "last")["outputs"]["value"],
        json!(format!("{first} b 2")),
        "the kept outputs are seen, ForEach values included"
    );
    // The errors branch ran for the failure; it is gone with it.
    let ids: Vec<&str> = done["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["taskId"].as_str().unwrap())
        .collect();
    assert!(!ids.contains(&"alert"), "{ids:?}");
    assert_eq!(ids.iter().filter(|i| **i == "inner").count(), 2);
    let _ = std::fs::remove_dir_all(&storage);
}

#[tokio::test]
async fn a_pause_inside_a_flowable_resumes_inside_it_and_timeouts_count_from_the_pause() {
    let plan = Arc::new(plan(
        "id: nested
namespace: company.team
tasks:
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: wait
        type: io.kestra.plugin.core.flow.Pause
      - id: inside
        type: io.kestra.plugin.core.debug.Return
        format: in
  - id: expired
    type: io.kestra.plugin.core.flow.Pause
    timeout: PT1M
  - id: never
    type: io.kestra.plugin.core.debug.Return
    format: never
",
    ));
    let storage = temp_dir("nested");
    let (state, paused, _) = go(&plan, &storage, None).await.unwrap();
    assert_eq!(state, State::Paused);
    assert_eq!(run_of(&paused, "seq")["state"]["current"], "PAUSED");
    let (state, second, _) = go(&plan, &storage, Some((&paused, answer(&[]))))
        .await
        .unwrap();
    assert_eq!(state, State::Paused, "the second Pause waits in turn");
    assert_eq!(run_of(&second, "seq")["state"]["current"], "SUCCESS");
    assert_eq!(run_of(&second, "inside")["outputs"]["value"], "in");
    assert_eq!(run_of(&second, "expired")["state"]["current"], "PAUSED");
    // Its timeout passed before anyone resumed it (the record says it paused an hour ago):
    // Kestra fails it.
    let mut second = second;
    let run = second["taskRunList"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["taskId"] == "expired")
        .unwrap();
    let hour_ago = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1)).to_string();
    run["state"]["histories"]
        .as_array_mut()
        .unwrap()
        .last_mut()
        .unwrap()["date"] = json!(hour_ago);
    let (state, timed_out, logs) = go(&plan, &storage, Some((&second, answer(&[]))))
        .await
        .unwrap();
    assert_eq!(state, State::Failed, "{logs}\n{timed_out}");
    assert_eq!(run_of(&timed_out, "expired")["state"]["current"], "FAILED");
    assert!(
        logs.contains("Pause timed out after PT1M before it was resumed"),
        "{logs}"
    );
    assert!(
        !timed_out["taskRunList"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["taskId"] == "never")
    );
    let _ = std::fs::remove_dir_all(&storage);
}

#[test]
fn a_paused_record_ends_killed() {
    let mut record = json!({
        "id": "x1", "namespace": "n", "flowId": "f",
        "state": {"current": "PAUSED", "startDate": "2026-01-01T00:00:00Z",
                  "histories": [{"state": "CREATED", "date": "2026-01-01T00:00:00Z"},
                                {"state": "PAUSED", "date": "2026-01-01T00:00:01Z"}]},
        "taskRunList": [{"id": "t1", "taskId": "wait",
            "state": {"current": "PAUSED", "startDate": "2026-01-01T00:00:00Z",
                      "histories": [{"state": "PAUSED", "date": "2026-01-01T00:00:01Z"}]},
            "attempts": [{"state": {"current": "PAUSED", "startDate": "2026-01-01T00:00:00Z",
                                    "histories": []}}]}]
    });
    runner_core::resume::kill_paused(&mut record).unwrap();
    assert_eq!(record["state"]["current"], "KILLED");
    assert!(record["state"]["endDate"].is_string());
    assert_eq!(record["taskRunList"][0]["state"]["current"], "KILLED");
    assert_eq!(
        record["taskRunList"][0]["attempts"][0]["state"]["current"],
        "KILLED"
    );
    let again = runner_core::resume::kill_paused(&mut record).unwrap_err();
    assert!(
        again.contains("is KILLED: only a PAUSED execution"),
        "{again}"
    );
}

#[tokio::test]
async fn a_pause_after_a_warning_is_still_resumed_where_it_waits() {
    let plan = Arc::new(plan(
        "id: warned
namespace: company.team
tasks:
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: w
        type: io.kestra.plugin.core.execution.Fail
        allowFailure: true
      - id: p
        type: io.kestra.plugin.core.flow.Pause
      - id: after
        type: io.kestra.plugin.core.debug.Return
        format: done
",
    ));
    let storage = temp_dir("warned");
    let (state, paused, _) = go(&plan, &storage, None).await.unwrap();
    assert_eq!(state, State::Paused);
    // Not WARNING: the sequence has not ended.
    assert_eq!(run_of(&paused, "seq")["state"]["current"], "PAUSED");
    let (state, done, logs) = go(&plan, &storage, Some((&paused, answer(&[]))))
        .await
        .unwrap();
    assert_eq!(state, State::Warning, "{logs}");
    assert_eq!(run_of(&done, "after")["outputs"]["value"], "done");
    assert_eq!(run_of(&done, "seq")["state"]["current"], "WARNING");
    let _ = std::fs::remove_dir_all(&storage);
}

#[tokio::test]
async fn a_resume_keeps_what_failed_and_goes_on_in_the_errors_branch() {
    // test.Flaky would succeed if it ran again: it must not.
    let plan = Arc::new(plan(
        "id: failed
namespace: company.team
tasks:
  - id: pay
    type: test.Flaky
    failures: 1
errors:
  - id: ask
    type: io.kestra.plugin.core.flow.Pause
  - id: tell
    type: io.kestra.plugin.core.debug.Return
    format: told
",
    ));
    let storage = temp_dir("errors-pause");
    let (state, paused, _) = go(&plan, &storage, None).await.unwrap();
    assert_eq!(state, State::Paused);
    assert_eq!(run_of(&paused, "pay")["state"]["current"], "FAILED");
    let (state, done, logs) = go(&plan, &storage, Some((&paused, answer(&[]))))
        .await
        .unwrap();
    assert_eq!(state, State::Failed, "{logs}");
    assert_eq!(
        run_of(&done, "pay")["state"],
        run_of(&paused, "pay")["state"]
    );
    assert_eq!(
        run_of(&done, "pay")["attempts"].as_array().unwrap().len(),
        1
    );
    assert_eq!(run_of(&done, "tell")["outputs"]["value"], "told");
    let _ = std::fs::remove_dir_all(&storage);
}

#[tokio::test]
async fn each_waiting_pause_takes_its_own_answers() {
    let plan = Arc::new(plan(
        "id: two
namespace: company.team
tasks:
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: p1
        type: io.kestra.plugin.core.flow.Pause
        onResume:
          - id: a
            type: STRING
      - id: p2
        type: io.kestra.plugin.core.flow.Pause
        onResume:
          - id: b
            type: INT
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ outputs.p1.onResume.a }}-{{ outputs.p2.onResume.b }}\"
",
    ));
    let storage = temp_dir("two-pauses");
    let (_, first, _) = go(&plan, &storage, None).await.unwrap();
    let waiting: Vec<&str> = first["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"]["current"] == "PAUSED" && r["taskId"] != "par")
        .map(|r| r["taskId"].as_str().unwrap())
        .collect();
    assert!(!waiting.is_empty());
    // An answer no waiting Pause declares is refused, naming what they take.
    let refused = go(&plan, &storage, Some((&first, answer(&[("zzz", "1")]))))
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(
        refused.plain().contains("`zzz` is no onResume input"),
        "{}",
        refused.plain()
    );
    // Answer whatever waits, until the flow ends.
    let mut record = first;
    for _ in 0..3 {
        if record["state"]["current"] != "PAUSED" {
            break;
        }
        let waiting: Vec<String> = record["taskRunList"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["state"]["current"] == "PAUSED")
            .map(|r| r["taskId"].as_str().unwrap().to_string())
            .collect();
        let mut answers = Vec::new();
        if waiting.iter().any(|t| t == "p1") {
            answers.push(("a", "x"));
        }
        if waiting.iter().any(|t| t == "p2") {
            answers.push(("b", "2"));
        }
        let (_, next, logs) = go(&plan, &storage, Some((&record, answer(&answers))))
            .await
            .unwrap_or_else(|e| panic!("{}", e.plain()));
        assert_ne!(next["state"]["current"], "FAILED", "{logs}");
        record = next;
    }
    assert_eq!(record["state"]["current"], "SUCCESS");
    assert_eq!(run_of(&record, "after")["outputs"]["value"], "x-2");
    let _ = std::fs::remove_dir_all(&storage);
}

#[tokio::test]
async fn nested_foreach_outputs_come_back_under_both_values() {
    let plan = Arc::new(plan(
        "id: nested_values
namespace: company.team
tasks:
  - id: outer
    type: io.kestra.plugin.core.flow.ForEach
    values: [\"a\", \"b\"]
    tasks:
      - id: inner
        type: io.kestra.plugin.core.flow.ForEach
        values: [\"a\", \"b\"]
        tasks:
          - id: t
            type: io.kestra.plugin.core.debug.Return
            format: \"{{ parents[0].taskrun.value }}{{ taskrun.value }}\"
  - id: before
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ outputs.t.a.a.value }} {{ outputs.t.a.b.value }} {{ outputs.t.b.a.value }} {{ outputs.t.b.b.value }}\"
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: check
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ outputs.t.a.a.value }} {{ outputs.t.a.b.value }} {{ outputs.t.b.a.value }} {{ outputs.t.b.b.value }}\"
",
    ));
    let storage = temp_dir("nested-values");
    let (_, paused, _) = go(&plan, &storage, None).await.unwrap();
    let (state, done, logs) = go(&plan, &storage, Some((&paused, answer(&[]))))
        .await
        .unwrap();
    assert_eq!(state, State::Success, "{logs}");
    // The outputs the tasks after the Pause see are those the tasks before it saw.
    let before = run_of(&done, "before")["outputs"]["value"].clone();
    assert_eq!(before.as_str().unwrap().split(' ').count(), 4);
    assert_eq!(run_of(&done, "check")["outputs"]["value"], before);
    let _ = std::fs::remove_dir_all(&storage);
}
