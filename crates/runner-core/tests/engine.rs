//! Execution semantics: states, errors/finally, runIf, timeout, retry, and each core task.

mod support;

use serde_json::{Map, Value as Json, json};
use std::sync::atomic::Ordering;
use support::{flow, run, run_with};

const LOG: &str = "io.kestra.plugin.core.log.Log";

#[tokio::test]
async fn sequential_tasks_see_earlier_outputs() {
    let r = run(&flow(
        "  - id: a\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ 20 + 1 }}\"\n\
         \x20 - id: b\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.a.value }}-{{ task.id }}\"\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS");
    assert_eq!(r.runs("b")[0]["outputs"]["value"], "21-b");
    assert_eq!(r.task_ids(), ["a", "b"]);
    let attempts = r.runs("a")[0]["attempts"].as_array().unwrap().len();
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn a_failure_stops_the_list_runs_errors_then_finally() {
    let yaml = format!(
        "id: t\nnamespace: n\ntasks:\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n    errorMessage: broke at {{{{ task.id }}}}\n\
         \x20 - id: never\n    type: {LOG}\n    message: x\n\
         errors:\n  - id: handler\n    type: {LOG}\n    message: handling\n\
         finally:\n  - id: cleanup\n    type: {LOG}\n    message: cleaning\n"
    );
    let r = run(&yaml).await;
    assert_eq!(
        r.state.as_str(),
        "FAILED",
        "errors handlers do not change the final state"
    );
    assert_eq!(r.task_ids(), ["boom", "handler", "cleanup"]);
    assert_eq!(r.state_of("boom"), "FAILED");
    assert_eq!(r.state_of("handler"), "SUCCESS");
    assert!(r.logs.contains("ERROR [boom] broke at boom"), "{}", r.logs);
    assert!(r.logs.contains("Flow completed with state FAILED"));
}

#[tokio::test]
async fn finally_runs_after_success_and_errors_do_not() {
    let yaml = format!(
        "id: t\nnamespace: n\ntasks:\n  - id: ok\n    type: {LOG}\n    message: fine\n\
         errors:\n  - id: handler\n    type: {LOG}\n    message: no\nfinally:\n  - id: cleanup\n    type: {LOG}\n    message: yes\n"
    );
    let r = run(&yaml).await;
    assert_eq!(r.state.as_str(), "SUCCESS");
    assert_eq!(r.task_ids(), ["ok", "cleanup"]);
}

#[tokio::test]
async fn allow_failure_and_allow_warning_map_states() {
    let r = run(&flow(
        "  - id: tolerated\n    type: io.kestra.plugin.core.execution.Fail\n    allowFailure: true\n\
         \x20 - id: both\n    type: io.kestra.plugin.core.execution.Fail\n    allowFailure: true\n    allowWarning: true\n\
         \x20 - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: still running\n",
    ))
    .await;
    assert_eq!(r.state_of("tolerated"), "WARNING");
    assert_eq!(r.state_of("both"), "SUCCESS");
    assert_eq!(r.state_of("after"), "SUCCESS");
    assert_eq!(r.state.as_str(), "WARNING");
}

#[tokio::test]
async fn run_if_skips_on_every_falsy_value() {
    for falsy in ["false", "0", "-0", "", "{{ 1 == 2 }}"] {
        let r = run(&flow(&format!(
            "  - id: maybe\n    type: {LOG}\n    message: x\n    runIf: \"{falsy}\"\n"
        )))
        .await;
        assert_eq!(r.state_of("maybe"), "SKIPPED", "runIf {falsy:?}");
        assert_eq!(r.state.as_str(), "SUCCESS");
    }
    let r = run(&flow(&format!(
        "  - id: maybe\n    type: {LOG}\n    message: x\n    runIf: \"yes\"\n"
    )))
    .await;
    assert_eq!(r.state_of("maybe"), "SUCCESS");
}

#[tokio::test]
async fn run_if_that_cannot_render_fails_the_task() {
    let r = run(&flow(&format!(
        "  - id: maybe\n    type: {LOG}\n    message: x\n    runIf: \"{{{{ nope }}}}\"\n"
    )))
    .await;
    assert_eq!(r.state_of("maybe"), "FAILED");
    assert!(
        r.logs
            .contains("Unable to evaluate the runIf condition for task maybe"),
        "{}",
        r.logs
    );
    assert!(r.logs.contains("Unable to find `nope`"), "{}", r.logs);
}

#[tokio::test]
async fn disabled_tasks_get_no_task_run() {
    let r = run(&flow(&format!("  - id: off\n    type: {LOG}\n    message: x\n    disabled: true\n  - id: on\n    type: {LOG}\n    message: y\n"))).await;
    assert_eq!(r.task_ids(), ["on"]);
}

#[tokio::test]
async fn timeout_fails_with_kestra_message() {
    let r = run(&flow("  - id: slow\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT10S\n    timeout: PT0.05S\n")).await;
    assert_eq!(r.state_of("slow"), "FAILED");
    assert!(r.logs.contains("Timeout after 0:00:00.050"), "{}", r.logs);
}

#[tokio::test]
async fn retry_until_success_counts_attempts() {
    let r = run(&flow(
        "  - id: flaky\n    type: test.Flaky\n    failures: 2\n    retry:\n      type: constant\n      interval: PT0.01S\n      maxAttempt: 3\n",
    ))
    .await;
    assert_eq!(r.state_of("flaky"), "SUCCESS");
    let run = &r.runs("flaky")[0];
    let attempts: Vec<&str> = run["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["state"]["current"].as_str().unwrap())
        .collect();
    assert_eq!(attempts, ["FAILED", "FAILED", "SUCCESS"]);
    assert_eq!(run["outputs"]["attempt"], 3);
    let history: Vec<&str> = run["state"]["histories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        history,
        [
            "CREATED", "RUNNING", "RETRYING", "RUNNING", "RETRYING", "RUNNING", "SUCCESS"
        ]
    );
}

#[tokio::test]
async fn retry_gives_up_after_max_attempt() {
    let r = run(&flow(
        "  - id: flaky\n    type: test.Flaky\n    failures: 5\n    retry:\n      type: exponential\n      interval: PT0.001S\n      maxInterval: PT0.01S\n      maxAttempt: 2\n",
    ))
    .await;
    assert_eq!(r.state_of("flaky"), "FAILED");
    assert_eq!(r.runs("flaky")[0]["attempts"].as_array().unwrap().len(), 2);
    assert!(r.logs.contains("flaky failure 2"));
}

#[tokio::test]
async fn warning_on_retry_turns_late_success_into_warning() {
    let r = run(&flow(
        "  - id: flaky\n    type: test.Flaky\n    failures: 1\n    retry:\n      type: random\n      minInterval: PT0.001S\n      maxInterval: PT0.002S\n      maxAttempt: 2\n      warningOnRetry: true\n",
    ))
    .await;
    assert_eq!(r.state_of("flaky"), "WARNING");
    assert_eq!(r.state.as_str(), "WARNING");
}

#[tokio::test]
async fn parallel_runs_children_at_once_within_the_limit() {
    let _guard = support::GATE_LOCK.lock().await;
    // With no limit all four must be inside at once; with 2, two pairs meet in turn.
    for (concurrent, meet, expected) in [(0, 4, 4), (2, 2, 2)] {
        support::reset_gates();
        let gate =
            |id: &str| format!("      - id: {id}\n        type: test.Gate\n        meet: {meet}\n");
        let gates = [gate("g1"), gate("g2"), gate("g3"), gate("g4")].concat();
        let r = run(&flow(&format!("  - id: par\n    type: io.kestra.plugin.core.flow.Parallel\n    concurrent: {concurrent}\n    tasks:\n{gates}"))).await;
        assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
        assert_eq!(
            support::GATE_MAX.load(Ordering::SeqCst),
            expected,
            "concurrent: {concurrent}"
        );
        let parent = r.runs("par")[0]["id"].clone();
        assert!(r.runs("g2").iter().all(|g| g["parentTaskRunId"] == parent));
    }
}

#[tokio::test]
async fn parallel_child_failure_fails_the_parent() {
    let r = run(&flow(&format!(
        "  - id: par\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n      - id: ok\n        type: {LOG}\n        message: x\n      - id: bad\n        type: io.kestra.plugin.core.execution.Fail\n"
    )))
    .await;
    assert_eq!(r.state_of("par"), "FAILED");
    assert_eq!(r.state.as_str(), "FAILED");
}

#[tokio::test]
async fn if_runs_then_or_else_and_reports_the_result() {
    for (cond, branch, result) in [("{{ 2 > 1 }}", "yes", true), ("false", "no", false)] {
        let r = run(&flow(&format!(
            "  - id: check\n    type: io.kestra.plugin.core.flow.If\n    condition: \"{cond}\"\n    then:\n      - id: yes\n        type: {LOG}\n        message: y\n    else:\n      - id: no\n        type: {LOG}\n        message: n\n"
        )))
        .await;
        assert_eq!(r.task_ids(), ["check", branch]);
        assert_eq!(r.runs("check")[0]["outputs"]["evaluationResult"], result);
    }
}

#[tokio::test]
async fn switch_picks_the_case_or_defaults() {
    let body = |value: &str| {
        flow(&format!(
            "  - id: sw\n    type: io.kestra.plugin.core.flow.Switch\n    value: \"{value}\"\n    cases:\n      A:\n        - id: a\n          type: {LOG}\n          message: a\n      B:\n        - id: b\n          type: {LOG}\n          message: b\n    defaults:\n      - id: d\n        type: {LOG}\n        message: d\n"
        ))
    };
    let r = run(&body("B")).await;
    assert_eq!(r.task_ids(), ["sw", "b"]);
    assert_eq!(
        r.runs("sw")[0]["outputs"],
        json!({"value": "B", "defaults": false})
    );
    let r = run(&body("Z")).await;
    assert_eq!(r.task_ids(), ["sw", "d"]);
    assert_eq!(r.runs("sw")[0]["outputs"]["defaults"], true);
}

#[tokio::test]
async fn for_each_keys_outputs_by_value_and_drops_duplicates() {
    let r = run(&flow(
        "  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [\"a\", \"b\", \"a\", {\"k\": 1}]\n    tasks:\n      - id: echo\n        type: io.kestra.plugin.core.debug.Return\n        format: \"{{ taskrun.value }}!\"\n\
         \x20 - id: after\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.echo['b'].value }}\"\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS");
    let values: Vec<String> = r
        .runs("echo")
        .iter()
        .map(|e| e["value"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(values, ["a", "b", "{\"k\":1}"]);
    assert_eq!(r.runs("after")[0]["outputs"]["value"], "b!");
}

#[tokio::test]
async fn for_each_from_a_json_string_and_concurrency_limit() {
    let _guard = support::GATE_LOCK.lock().await;
    support::reset_gates();
    let r = run(&flow(
        "  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: \"{{ [1, 2, 3, 4] }}\"\n    concurrencyLimit: 2\n    tasks:\n      - id: g\n        type: test.Gate\n        meet: 2\n",
    ))
    .await;
    assert_eq!(
        r.state.as_str(),
        "SUCCESS",
        "two iterations met twice: {}",
        r.logs
    );
    assert_eq!(r.runs("g").len(), 4);
    assert_eq!(support::GATE_MAX.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn for_each_refuses_null_values() {
    let r = run(&flow(&format!("  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [\"a\", null]\n    tasks:\n      - id: x\n        type: {LOG}\n        message: x\n"))).await;
    assert_eq!(r.state_of("each"), "FAILED");
    assert!(
        r.logs.contains("Found '1' null values on Each"),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn nested_loops_reach_parent_values() {
    let r = run(&flow(
        "  - id: outer\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [\"x\", \"y\"]\n    tasks:\n      - id: inner\n        type: io.kestra.plugin.core.flow.ForEach\n        values: [\"1\"]\n        tasks:\n          - id: leaf\n            type: io.kestra.plugin.core.debug.Return\n            format: \"{{ parents[0].taskrun.value }}{{ parents[1].taskrun.value }}{{ taskrun.value }}\"\n",
    ))
    .await;
    let values: Vec<&str> = r.record["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["taskId"] == "leaf")
        .map(|t| t["outputs"]["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["1x1", "1y1"]);
}

#[tokio::test]
async fn allow_failure_task_contains_the_failure() {
    let r = run(&flow(&format!(
        "  - id: tolerant\n    type: io.kestra.plugin.core.flow.AllowFailure\n    tasks:\n      - id: boom\n        type: io.kestra.plugin.core.execution.Fail\n\
         \x20 - id: after\n    type: {LOG}\n    message: ok\n"
    )))
    .await;
    assert_eq!(r.state_of("boom"), "FAILED");
    assert_eq!(r.state_of("tolerant"), "WARNING");
    assert_eq!(r.state_of("after"), "SUCCESS");
    assert_eq!(r.state.as_str(), "WARNING");
}

#[tokio::test]
async fn local_errors_of_a_flowable_run_on_child_failure() {
    let r = run(&flow(&format!(
        "  - id: seq\n    type: io.kestra.plugin.core.flow.Sequential\n    tasks:\n      - id: boom\n        type: io.kestra.plugin.core.execution.Fail\n    errors:\n      - id: local\n        type: {LOG}\n        message: caught\n"
    )))
    .await;
    assert_eq!(r.state_of("local"), "SUCCESS");
    assert_eq!(r.state_of("seq"), "FAILED");
    assert_eq!(
        r.runs("local")[0]["parentTaskRunId"],
        r.runs("seq")[0]["id"]
    );
}

#[tokio::test]
async fn fail_on_condition() {
    let r = run(&flow(
        "  - id: guard\n    type: io.kestra.plugin.core.execution.Fail\n    condition: \"{{ 1 == 1 }}\"\n    errorMessage: bad data\n",
    ))
    .await;
    assert_eq!(r.state_of("guard"), "FAILED");
    assert!(r.logs.contains("ERROR [guard] bad data"));
    assert!(r.logs.contains("Fail on a condition"));
    let r = run(&flow(
        "  - id: guard\n    type: io.kestra.plugin.core.execution.Fail\n    condition: \"false\"\n",
    ))
    .await;
    assert_eq!(r.state_of("guard"), "SUCCESS");
}

#[tokio::test]
async fn output_values_render_recursively() {
    let r = run(&flow(
        "  - id: out\n    type: io.kestra.plugin.core.output.OutputValues\n    values:\n      a: \"{{ 1 + 1 }}\"\n      nested:\n        list: [\"{{ flow.id }}\", 3]\n",
    ))
    .await;
    assert_eq!(
        r.runs("out")[0]["outputs"]["values"],
        json!({"a": "2", "nested": {"list": ["test", 3]}})
    );
}

#[tokio::test]
async fn log_levels_and_lists() {
    let r = run(&flow(&format!("  - id: l\n    type: {LOG}\n    level: WARN\n    message:\n      - one\n      - \"{{{{ 'two' | upper }}}}\"\n"))).await;
    assert!(r.logs.contains("WARN  [l] one"));
    assert!(r.logs.contains("WARN  [l] TWO"));
    let r = run(&flow(&format!(
        "  - id: quiet\n    type: {LOG}\n    logLevel: ERROR\n    message: hidden\n"
    )))
    .await;
    assert!(!r.logs.contains("hidden"));
}

#[tokio::test]
async fn pause_with_delay_resumes() {
    let r = run(&flow(&format!("  - id: p\n    type: io.kestra.plugin.core.flow.Pause\n    delay: PT0.05S\n  - id: after\n    type: {LOG}\n    message: x\n"))).await;
    assert_eq!(r.state_of("p"), "SUCCESS");
    assert_eq!(r.state_of("after"), "SUCCESS");
    assert!(r.logs.contains("[p] Paused for PT0.05S"), "{}", r.logs);
    let paused =
        runner_model::parse_duration(r.runs("p")[0]["state"]["duration"].as_str().unwrap())
            .unwrap();
    assert!(
        paused >= std::time::Duration::from_millis(50),
        "it waited: {paused:?}"
    );
    let after: jiff::Timestamp = r.runs("after")[0]["state"]["startDate"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let paused_end: jiff::Timestamp = r.runs("p")[0]["state"]["endDate"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(after >= paused_end, "the next task starts after the pause");
    let r = run(&flow(
        "  - id: p\n    type: io.kestra.plugin.core.flow.Pause\n",
    ))
    .await;
    // Without a duration it waits for a person: the run ends PAUSED (see tests/resume.rs).
    assert_eq!(r.state_of("p"), "PAUSED");
    assert_eq!(r.state, runner_core::State::Paused);
    assert!(
        r.logs.contains("Paused: waiting for a manual resume"),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn pause_duration_and_its_behaviors() {
    let pause = |behavior: &str| {
        flow(&format!(
            "  - id: p\n    type: io.kestra.plugin.core.flow.Pause\n    pauseDuration: PT0.02S\n{behavior}  - id: after\n    type: {LOG}\n    message: x\n"
        ))
    };
    let r = run(&pause("")).await;
    assert_eq!(
        (r.state_of("p"), r.state_of("after")),
        ("SUCCESS".into(), "SUCCESS".into())
    );
    assert!(r.logs.contains("[p] Paused for PT0.02S"), "{}", r.logs);
    let r = run(&pause("    behavior: WARN\n")).await;
    assert_eq!(
        (r.state_of("p"), r.state_of("after")),
        ("WARNING".into(), "SUCCESS".into())
    );
    let r = run(&pause("    behavior: FAIL\n")).await;
    assert_eq!(r.state_of("p"), "FAILED");
    assert!(
        r.logs
            .contains("Pause ended after PT0.02S with behavior FAIL"),
        "{}",
        r.logs
    );
    assert!(r.runs("after").is_empty());
    let r = run(&pause("    behavior: CANCEL\n")).await;
    assert_eq!(r.state_of("p"), "FAILED");
    assert!(
        r.logs
            .contains("behavior CANCEL, which cancels the execution in Kestra"),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn render_errors_name_the_property() {
    let r = run(&flow(&format!(
        "  - id: l\n    type: {LOG}\n    message: \"{{{{ outputs.missing.value }}}}\"\n"
    )))
    .await;
    assert_eq!(r.state_of("l"), "FAILED");
    assert!(
        r.logs
            .contains("property `message`: Unable to find `missing`"),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn flow_outputs_are_rendered_and_typed() {
    let yaml = "id: t\nnamespace: n\ntasks:\n  - id: r\n    type: io.kestra.plugin.core.debug.Return\n    format: \"42\"\noutputs:\n  - id: answer\n    type: INT\n    value: \"{{ outputs.r.value }}\"\n";
    let r = run(yaml).await;
    assert_eq!(r.record["outputs"], json!({"answer": 42}));
    let bad = "id: t\nnamespace: n\ntasks:\n  - id: r\n    type: io.kestra.plugin.core.debug.Return\n    format: nope\noutputs:\n  - id: answer\n    type: INT\n    value: \"{{ outputs.r.value }}\"\n";
    let r = run(bad).await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(r.logs.contains("Failed to render output values"));
}

#[tokio::test]
async fn variables_and_tasks_state_are_visible() {
    let yaml = "id: t\nnamespace: n\nvariables:\n  who: \"{{ flow.id }}\"\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: x\n  - id: b\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ vars.who }} {{ tasks.a.state }} {{ flow.namespace }}\"\n";
    let r = run(yaml).await;
    assert_eq!(
        r.runs("b")[0]["outputs"]["value"],
        "{{ flow.id }} SUCCESS n",
        "vars are not rendered again"
    );
}

const INPUTS: &str = "id: t\nnamespace: n\ninputs:\n  - id: name\n    type: STRING\n  - id: count\n    type: INT\n    defaults: 2\n    min: 1\n  - id: color\n    type: SELECT\n    values: [RED, BLUE]\n    defaults: RED\n  - id: deep.key\n    type: BOOLEAN\n    required: false\ntasks:\n  - id: r\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ inputs.name }} {{ inputs.count + 1 }} {{ inputs.color }} {{ inputs.deep.key }}\"\n";

fn given(pairs: &[(&str, &str)]) -> Map<String, Json> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Json::String(v.to_string())))
        .collect()
}

#[tokio::test]
async fn inputs_are_typed_defaulted_and_nested() {
    let r = run_with(INPUTS, given(&[("name", "Ada"), ("deep.key", "TRUE")]))
        .await
        .unwrap();
    assert_eq!(r.runs("r")[0]["outputs"]["value"], "Ada 3 RED true");
    assert_eq!(
        r.record["inputs"],
        json!({"name": "Ada", "count": 2, "color": "RED", "deep": {"key": true}})
    );
}

#[tokio::test]
async fn input_errors_use_kestra_messages() {
    async fn err(g: &[(&str, &str)]) -> String {
        run_with(INPUTS, given(g))
            .await
            .err()
            .expect("should fail")
            .to_string()
    }
    assert_eq!(
        err(&[]).await,
        "Invalid input for `name`, missing required input, but received `null`"
    );
    assert!(
        err(&[("name", "a"), ("count", "x")])
            .await
            .starts_with("Invalid input for `count`, Expected `INT` but received `x`")
    );
    assert_eq!(
        err(&[("name", "a"), ("count", "0")]).await,
        "Invalid input for `count`, it must be more than `1`, but received `0`"
    );
    assert_eq!(
        err(&[("name", "a"), ("color", "GREEN")]).await,
        "Invalid input for `color`, it must match the values `[RED, BLUE]`, but received `GREEN`"
    );
    assert_eq!(
        err(&[("name", "a"), ("nmae", "b")]).await,
        "unknown input `nmae`: the flow declares name, count, color, deep.key"
    );
}

#[tokio::test]
async fn file_inputs_are_copied_into_storage() {
    let dir = support::temp_dir("file-input");
    let local = dir.join("data.csv");
    std::fs::write(&local, "a,b\n1,2\n").unwrap();
    let yaml = "id: t\nnamespace: company.team\ninputs:\n  - id: data\n    type: FILE\ntasks:\n  - id: r\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ inputs.data }}\"\n";
    let r = run_with(yaml, given(&[("data", local.to_str().unwrap())]))
        .await
        .unwrap();
    let uri = r.runs("r")[0]["outputs"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    let exec_id = r.record["id"].as_str().unwrap();
    assert_eq!(
        uri,
        format!("kestra:///company/team/t/executions/{exec_id}/inputs/data/data.csv")
    );
    let stored = r.storage.join(uri.trim_start_matches("kestra:///"));
    assert_eq!(std::fs::read_to_string(stored).unwrap(), "a,b\n1,2\n");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn kill_marks_unfinished_runs() {
    let buf = support::Buf::default();
    let (execution, storage) = support::start(
        &flow("  - id: slow\n    type: test.Forever\n"),
        Default::default(),
        &buf,
    )
    .await
    .unwrap();
    // Stop once the task says it is waiting: it is running, and will never end by itself.
    let stop = async {
        buf.wait_for("[slow] Waiting").await;
        "Stopped by the test".to_string()
    };
    let state = execution.run_until(stop).await;
    assert_eq!(state.as_str(), "KILLED");
    let record = execution.record();
    assert_eq!(record["state"]["current"], "KILLED");
    assert_eq!(record["taskRunList"][0]["state"]["current"], "KILLED");
    assert_eq!(
        record["taskRunList"][0]["attempts"][0]["state"]["current"],
        "KILLED"
    );
    assert!(
        buf.text()
            .contains("Stopped by the test: the execution was killed"),
        "{}",
        buf.text()
    );
    std::fs::remove_dir_all(storage).unwrap();
}

#[tokio::test]
async fn a_thousand_log_tasks_run() {
    let tasks: String = (0..1000)
        .map(|i| format!("  - id: t{i}\n    type: {LOG}\n    message: line {i}\n"))
        .collect();
    let r = run(&flow(&tasks)).await;
    assert_eq!(r.state.as_str(), "SUCCESS");
    assert_eq!(r.record["taskRunList"].as_array().unwrap().len(), 1000);
    assert!(r.logs.contains("[t999] line 999"));
}

#[tokio::test]
async fn log_to_file_writes_the_task_lines_to_storage() {
    let r = run(&flow(&format!(
        "  - id: l\n    type: {LOG}\n    message: kept in a file\n    logToFile: true\n"
    )))
    .await;
    let run = &r.runs("l")[0];
    let exec_id = r.record["id"].as_str().unwrap();
    let path = r.storage.join(format!(
        "company/team/test/executions/{exec_id}/tasks/l/{}/{}.log",
        run["id"].as_str().unwrap(),
        run["id"].as_str().unwrap()
    ));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("INFO  kept in a file"), "{text}");
}

#[tokio::test]
async fn after_execution_sees_the_final_state_and_does_not_change_it() {
    let yaml = format!(
        "id: t\nnamespace: n\ntasks:\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\nafterExecution:\n  - id: notify\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ execution.state }}}}\"\n  - id: also_fails\n    type: io.kestra.plugin.core.execution.Fail\n  - id: never\n    type: {LOG}\n    message: x\n"
    );
    let r = run(&yaml).await;
    assert_eq!(r.runs("notify")[0]["outputs"]["value"], "FAILED");
    assert_eq!(r.state.as_str(), "FAILED");
    assert_eq!(r.task_ids(), ["boom", "notify", "also_fails"]);
    let ok = format!(
        "id: t\nnamespace: n\ntasks:\n  - id: fine\n    type: {LOG}\n    message: x\nafterExecution:\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n"
    );
    assert_eq!(
        run(&ok).await.state.as_str(),
        "SUCCESS",
        "afterExecution failures do not change the final state"
    );
}

#[tokio::test]
async fn echo_logs_at_its_level() {
    let r = run(&flow("  - id: e\n    type: io.kestra.core.tasks.debugs.Echo\n    format: \"{{ 'hi' | upper }}\"\n    level: WARN\n")).await;
    assert_eq!(r.state_of("e"), "SUCCESS");
    assert!(r.logs.contains("WARN  [e] HI"), "{}", r.logs);
}

#[tokio::test]
async fn deprecated_each_tasks_iterate() {
    let r = run(&flow(&format!(
        "  - id: seq\n    type: io.kestra.plugin.core.flow.EachSequential\n    value: '[\"x\", \"y\"]'\n    tasks:\n      - id: a\n        type: {LOG}\n        message: \"{{{{ taskrun.value }}}}\"\n\
         \x20 - id: par\n    type: io.kestra.core.tasks.flows.EachParallel\n    value: [\"p\", \"q\"]\n    tasks:\n      - id: b\n        type: {LOG}\n        message: \"{{{{ taskrun.value }}}}\"\n"
    )))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS");
    let values = |id: &str| {
        r.runs(id)
            .iter()
            .map(|t| t["value"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(values("a"), ["x", "y"]);
    let mut par = values("b");
    par.sort();
    assert_eq!(par, ["p", "q"]);
}

#[tokio::test]
async fn sleep_waits_and_logs() {
    let r = run(&flow(
        "  - id: s\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT0.02S\n",
    ))
    .await;
    assert_eq!(r.state_of("s"), "SUCCESS");
    assert!(r.logs.contains("[s] Waiting for PT0.02S"), "{}", r.logs);
    let took = runner_model::parse_duration(r.runs("s")[0]["state"]["duration"].as_str().unwrap())
        .unwrap();
    assert!(took >= std::time::Duration::from_millis(20), "{took:?}");
}

const PIPED: &str = "  - id: w\n    type: test.Writer\n    chunks: 20\n    paced: true\n\
                     \x20 - id: f\n    type: test.Follower\n    from: \"{{ outputs.w.uri }}\"\n";

#[tokio::test]
async fn the_next_task_prepares_on_the_file_being_written_and_adopts_it() {
    let _lock = support::PIPE_LOCK.lock().await;
    let undone = support::PIPE_UNDONE.load(Ordering::SeqCst);
    let r = run(&flow(PIPED)).await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let out = &r.runs("f")[0]["outputs"];
    assert_eq!(out["adopted"], true, "{out}");
    assert_eq!(out["seen"], 220, "every byte written was reported");
    assert_eq!(
        out["updates"], 20,
        "it saw each line as it was written: {out}"
    );
    assert!(!r.logs.contains("a preview never logs"), "{}", r.logs);
    assert_eq!(r.task_ids(), ["w", "f"]);
    assert_eq!(support::PIPE_UNDONE.load(Ordering::SeqCst), undone);
}

#[tokio::test]
async fn what_was_prepared_is_undone_when_the_writer_fails() {
    let _lock = support::PIPE_LOCK.lock().await;
    let undone = support::PIPE_UNDONE.load(Ordering::SeqCst);
    let r = run(&flow(
        &PIPED.replace("chunks: 20", "chunks: 20\n    fail: true"),
    ))
    .await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert_eq!(r.task_ids(), ["w"], "the next task never runs");
    assert_eq!(support::PIPE_UNDONE.load(Ordering::SeqCst), undone + 1);
}

#[tokio::test]
async fn a_task_that_does_not_read_the_file_prepares_nothing() {
    let _lock = support::PIPE_LOCK.lock().await;
    let r = run(&flow(
        &PIPED
            .replace("{{ outputs.w.uri }}", "kestra:///elsewhere")
            .replace("    paced: true\n", ""),
    ))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.runs("f")[0]["outputs"]["adopted"], false);
}

#[tokio::test]
async fn inside_for_each_each_value_prepares_on_its_own_file() {
    let _lock = support::PIPE_LOCK.lock().await;
    let undone = support::PIPE_UNDONE.load(Ordering::SeqCst);
    let r = run(&flow(
        "  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [\"a\", \"b\"]\n    tasks:\n\
         \x20     - id: w\n        type: test.Writer\n        chunks: 5\n        paced: true\n\
         \x20     - id: f\n        type: test.Follower\n        from: \"{{ outputs.w[taskrun.value].uri }}\"\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let runs = r.runs("f");
    assert_eq!(runs.len(), 2);
    for run in runs {
        assert_eq!(run["outputs"]["adopted"], true, "{run}");
        assert_eq!(run["outputs"]["seen"], 55);
    }
    assert_eq!(support::PIPE_UNDONE.load(Ordering::SeqCst), undone);
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_killed_task_leaves_no_process_behind() {
    // Two markers: the shell's background job and its foreground command.
    let marker = format!("1000.{}", std::process::id());
    let script = format!("sleep {marker}1 & sleep {marker}2; echo never");
    let buf = support::Buf::default();
    let (execution, storage) = support::start(
        &flow(&format!(
            "  - id: sh\n    type: test.Spawn\n    script: \"{script}\"\n"
        )),
        Default::default(),
        &buf,
    )
    .await
    .unwrap();
    let wait_until = |want: fn(usize) -> bool| {
        let marker = marker.clone();
        async move {
            for _ in 0..500 {
                if want(support::processes_with(&marker).len()) {
                    return true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            false
        }
    };
    let stop = async {
        buf.wait_for("[sh] spawned").await;
        // The shell and its two sleeps.
        assert!(wait_until(|n| n == 3).await, "both sleeps run");
        "Stopped by the test".to_string()
    };
    assert_eq!(execution.run_until(stop).await.as_str(), "KILLED");
    assert!(
        wait_until(|n| n == 0).await,
        "left behind: {:?}",
        support::processes_with(&marker)
    );
    std::fs::remove_dir_all(storage).unwrap();
}

#[tokio::test]
async fn a_child_process_exit_code_is_reported() {
    let r = run(&flow(
        "  - id: sh\n    type: test.Spawn\n    script: exit 3\n",
    ))
    .await;
    assert_eq!(r.runs("sh")[0]["outputs"]["code"], 3, "{}", r.logs);
}

#[tokio::test]
async fn a_panic_fails_only_its_task() {
    let r = run(&flow(&format!(
        "  - id: bug\n    type: test.Panic\n    message: index out of bounds\n    allowFailure: true\n  - id: after\n    type: {LOG}\n    message: still here\n"
    )))
    .await;
    assert_eq!(r.state_of("bug"), "WARNING");
    assert_eq!(r.state_of("after"), "SUCCESS");
    assert_eq!(r.state.as_str(), "WARNING");
    assert!(
        r.logs
            .contains("the task stopped on an internal error (a panic: index out of bounds)"),
        "{}",
        r.logs
    );
    assert!(
        r.logs.contains("help: this is a bug in runner"),
        "{}",
        r.logs
    );
    let r = run(&flow(
        "  - id: bug\n    type: test.Panic\n    message: boom\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "FAILED");
}

#[tokio::test]
async fn write_keeps_a_rendered_file_and_assert_checks_conditions() {
    let r = run(&flow(
        "  - id: w\n    type: io.kestra.plugin.core.storage.Write\n    content: \"a,b\\n{{ flow.id }},2\\n\"\n    extension: .csv\n  - id: ok\n    type: io.kestra.plugin.core.execution.Assert\n    conditions:\n      - \"{{ outputs.w.uri is defined }}\"\n      - \"{{ 1 + 1 == 2 }}\"\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let uri = r.runs("w")[0]["outputs"]["uri"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        uri.starts_with("kestra:///") && uri.ends_with(".csv"),
        "{uri}"
    );
    let path = r.storage.join(uri.trim_start_matches("kestra:///"));
    assert_eq!(std::fs::read_to_string(path).unwrap(), "a,b\ntest,2\n");
    let metrics = r.record["metrics"].as_array().unwrap();
    assert!(
        metrics
            .iter()
            .any(|m| m["name"] == "success" && m["value"] == 2.0),
        "{metrics:?}"
    );

    let r = run(&flow(
        "  - id: bad\n    type: io.kestra.plugin.core.execution.Assert\n    conditions:\n      - \"{{ 1 == 2 }}\"\n      - \"{{ true }}\"\n      - \"{{ 'x' == 'y' }}\"\n    errorMessage: \"numbers in {{ flow.id }}\"\n",
    ))
    .await;
    assert_eq!(r.state_of("bad"), "FAILED");
    assert!(
        r.logs
            .contains("ERROR [bad] Assertion `{{ 1 == 2 }}` failed!"),
        "{}",
        r.logs
    );
    let at = r
        .logs
        .find("2 assertion(s) failed!")
        .expect("the count of failed assertions");
    assert!(
        r.logs[at..]
            .lines()
            .nth(1)
            .is_some_and(|l| l.trim() == "numbers in test"),
        "{}",
        r.logs
    );
    assert!(
        !r.logs.contains("Assertion `{{ true }}` failed"),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn labels_join_the_execution_and_later_expressions_see_them() {
    let r = run(&format!(
        "id: lab\nnamespace: test\nlabels:\n  team: data\ntasks:\n  - id: map\n    type: io.kestra.plugin.core.execution.Labels\n    labels:\n      stage: \"{{{{ flow.id }}}}\"\n  - id: list\n    type: io.kestra.core.tasks.executions.Labels\n    labels:\n      - key: team\n        value: ops\n  - id: seen\n    type: {LOG}\n    message: \"{{{{ labels.team }}}}/{{{{ labels.stage }}}}\"\n"
    ))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert!(r.logs.contains("[seen] ops/lab"), "{}", r.logs);
    assert_eq!(
        r.record["labels"],
        serde_json::json!([{"key": "team", "value": "ops"}, {"key": "stage", "value": "lab"}])
    );
    for (labels, message) in [
        (
            "{\"system.correlationId\": \"x\"}",
            "System labels can only be set by Kestra itself, offending label: system.correlationId=x",
        ),
        (
            "{\"k\": \"\"}",
            "Label values cannot be empty, offending label: k",
        ),
    ] {
        let r = run(&flow(&format!(
            "  - id: bad\n    type: io.kestra.plugin.core.execution.Labels\n    labels: '{labels}'\n"
        )))
        .await;
        assert_eq!(r.state_of("bad"), "FAILED");
        assert!(r.logs.contains(message), "{}", r.logs);
    }
}

#[tokio::test]
async fn bool_inputs_and_task_assets_are_read_as_kestra_reads_them() {
    let yaml = format!(
        "id: b\nnamespace: test\ninputs:\n  - id: flag\n    type: BOOL\n    defaults: true\ntasks:\n  - id: show\n    type: {LOG}\n    message: \"flag={{{{ inputs.flag }}}}\"\n    assets:\n      inputs:\n        - id: orders\n"
    );
    let r = run(&yaml).await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert!(r.logs.contains("[show] flag=true"), "{}", r.logs);
}

#[tokio::test]
async fn storage_size_delete_and_purge_work_on_this_executions_files() {
    let r = run(&flow(
        "  - id: a\n    type: io.kestra.plugin.core.storage.Write\n    content: \"12345\"\n  - id: size\n    type: io.kestra.plugin.core.storage.Size\n    uri: \"{{ outputs.a.uri }}\"\n  - id: del\n    type: io.kestra.plugin.core.storage.Delete\n    uri: \"{{ outputs.a.uri }}\"\n  - id: again\n    type: io.kestra.core.tasks.storages.Delete\n    uri: \"{{ outputs.a.uri }}\"\n  - id: b\n    type: io.kestra.plugin.core.storage.Write\n    content: kept until the purge\n  - id: purge\n    type: io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let out = |t: &str| r.runs(t)[0]["outputs"].clone();
    assert_eq!(out("size")["size"], 5);
    assert_eq!(out("del")["deleted"], true);
    assert_eq!(out("again")["deleted"], false);
    let b = out("b")["uri"].as_str().unwrap().to_string();
    assert_eq!(out("purge")["uris"], serde_json::json!([b]));
    assert!(!r.storage.join(b.trim_start_matches("kestra:///")).exists());
    let r = run(&flow(
        "  - id: strict\n    type: io.kestra.plugin.core.storage.Delete\n    uri: kestra:///test/flow/executions/nope/x.txt\n    errorOnMissing: true\n",
    ))
    .await;
    assert_eq!(r.state_of("strict"), "FAILED");
    assert!(
        r.logs
            .contains("cannot delete kestra:///test/flow/executions/nope/x.txt"),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn local_files_share_a_working_directory() {
    let r = run(&flow(
        "  - id: wd\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n    tasks:\n      - id: put\n        type: io.kestra.core.tasks.storages.LocalFiles\n        inputs:\n          data/a.txt: \"hello {{ flow.id }}\"\n          b.csv: \"x\"\n      - id: keep\n        type: io.kestra.plugin.core.storage.LocalFiles\n        outputs:\n          - \"**.txt\"\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let uris = r.runs("keep")[0]["outputs"]["uris"].clone();
    let map = uris.as_object().expect("uris");
    assert_eq!(map.keys().collect::<Vec<_>>(), ["data/a.txt"], "{uris}");
    let uri = map["data/a.txt"].as_str().unwrap();
    let text =
        std::fs::read_to_string(r.storage.join(uri.trim_start_matches("kestra:///"))).unwrap();
    assert_eq!(text, "hello test");
}

#[tokio::test]
async fn concat_joins_files_and_leaves_nothing_when_one_is_missing() {
    let r = run(&flow(
        "  - id: a\n    type: io.kestra.plugin.core.storage.Write\n    content: one\n  - id: b\n    type: io.kestra.plugin.core.storage.Write\n    content: two\n  - id: c\n    type: io.kestra.core.tasks.storages.Concat\n    files:\n      - \"{{ outputs.a.uri }}\"\n      - \"{{ outputs.b.uri }}\"\n    separator: \"|\"\n    extension: .txt\n  - id: d\n    type: io.kestra.plugin.core.storage.Concat\n    files: '[\"{{ outputs.a.uri }}\"]'\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let read = |t: &str| {
        let uri = r.runs(t)[0]["outputs"]["uri"].as_str().unwrap().to_string();
        (
            uri.clone(),
            std::fs::read_to_string(r.storage.join(uri.trim_start_matches("kestra:///"))).unwrap(),
        )
    };
    let (uri, text) = read("c");
    assert!(uri.ends_with(".txt"), "{uri}");
    assert_eq!(text, "one|two");
    assert_eq!(read("d").1, "one");

    let r = run(&flow(
        "  - id: a\n    type: io.kestra.plugin.core.storage.Write\n    content: one\n  - id: c\n    type: io.kestra.plugin.core.storage.Concat\n    files:\n      - \"{{ outputs.a.uri }}\"\n      - kestra:///test/flow/executions/other/x.txt\n",
    ))
    .await;
    assert_eq!(r.state_of("c"), "FAILED");
    assert!(
        r.logs
            .contains("cannot read kestra:///test/flow/executions/other/x.txt"),
        "{}",
        r.logs
    );
    let leftovers: Vec<_> = walk_files(&r.storage)
        .into_iter()
        .filter(|p| p.contains("/tasks/c/"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walk_files(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().display().to_string());
            }
        }
    }
    out
}
