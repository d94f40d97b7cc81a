//! Subflows through the binary: flows found in the flows folder, real child executions with
//! their own records, Kestra's state mapping, outputs and messages.

use crate::support;

use serde_json::{Value as Json, json};
use support::{Sandbox, walk};

const CHILD: &str = r#"id: child
namespace: demo.sub
inputs:
  - id: n
    type: INT
  - id: outcome
    type: STRING
    defaults: ok
tasks:
  - id: calc
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.n * 2 }}"
  - id: caller
    type: io.kestra.plugin.core.log.Log
    message: "called by {{ trigger.variables.flowId }} task {{ trigger.id }} labels {{ labels }}"
  - id: maybe_fail
    type: io.kestra.plugin.core.execution.Fail
    runIf: "{{ inputs.outcome == 'fail' }}"
    errorMessage: the child failed on purpose
  - id: maybe_warn
    type: io.kestra.plugin.core.execution.Fail
    runIf: "{{ inputs.outcome == 'warn' }}"
    allowFailure: true
outputs:
  - id: doubled
    type: INT
    value: "{{ outputs.calc.value }}"
"#;

fn parent(tasks: &str) -> String {
    format!("id: parent\nnamespace: demo\nlabels:\n  team: data\ntasks:\n{tasks}")
}

fn records(s: &Sandbox) -> Vec<Json> {
    walk(&s.dir.join(".runner/storage"))
        .into_iter()
        .filter(|p| p.ends_with("execution.json"))
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

#[test]
fn a_subflow_is_a_real_execution_with_outputs_and_a_record() {
    let s = Sandbox::new();
    s.write("flows/sub/child.yaml", CHILD);
    s.write(
        "flows/parent.yaml",
        &parent(
            r#"  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: demo.sub
    flowId: child
    inheritLabels: true
    labels:
      stage: test
    inputs:
      n: "{{ 20 + 1 }}"
      undeclared: x
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.call.state }} {{ outputs.call.outputs.doubled }}"
"#,
        ),
    );
    let out = s.run(&["run", "flows/parent.yaml", "--json"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    let call = &record["taskRunList"][0]["outputs"];
    assert_eq!(call["state"], "SUCCESS");
    assert_eq!(call["outputs"], json!({"doubled": 42}));
    assert_eq!(record["taskRunList"][1]["outputs"]["value"], "SUCCESS 42");
    let child_id = call["executionId"].as_str().unwrap();
    assert_ne!(child_id, record["id"].as_str().unwrap());
    // The child's own record, in its own storage folder, says who started it.
    let all = records(&s);
    assert_eq!(all.len(), 2);
    let child = all
        .iter()
        .find(|r| r["id"] == child_id)
        .expect("child record");
    assert_eq!(child["flowId"], "child");
    assert_eq!(child["state"]["current"], "SUCCESS");
    assert_eq!(child["outputs"], json!({"doubled": 42}));
    assert_eq!(child["trigger"]["id"], "call");
    assert_eq!(
        child["trigger"]["type"],
        "io.kestra.plugin.core.flow.Subflow"
    );
    assert_eq!(child["trigger"]["variables"]["executionId"], record["id"]);
    assert_eq!(child["trigger"]["variables"]["flowId"], "parent");
    assert_eq!(
        child["labels"],
        json!([{"key": "team", "value": "data"}, {"key": "stage", "value": "test"}])
    );
    // Logs tell parent from child; the undeclared input is dropped with Kestra's warning.
    let err = out.stderr();
    assert!(err.contains("[demo.sub.child > caller] called by parent task call labels {\"team\":\"data\",\"stage\":\"test\"}"), "{err}");
    assert!(err.contains(&format!("Input undeclared was provided by parent execution {} for subflow demo.sub.child but isn't declared at the subflow inputs", record["id"].as_str().unwrap())), "{err}");
    // Kestra's link markup reads as the execution it names on a terminal.
    assert!(
        err.contains(&format!(
            "Subflow execution demo.sub.child (execution {child_id}) started"
        )),
        "{err}"
    );
    assert!(!err.contains("[[link"), "{err}");
    // The summary names the child execution.
    assert!(
        err.contains(&format!("  subflow execution {child_id}\n")),
        "{err}"
    );
}

#[test]
fn the_childs_state_is_passed_on_as_kestra_does() {
    let s = Sandbox::new();
    s.write("child.yaml", CHILD);
    let case = |outcome: &str, extra: &str| {
        s.write(
            "parent.yaml",
            &parent(&format!(
                "  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: demo.sub\n    flowId: child\n    inputs:\n      n: 1\n      outcome: {outcome}\n{extra}"
            )),
        );
        let out = s.run(&["run", "parent.yaml", "--json"]);
        let record: Json = serde_json::from_str(&out.stdout()).unwrap_or(Json::Null);
        (
            out.code(),
            record["state"]["current"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            record["taskRunList"][0]["outputs"]["state"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            out.stderr(),
        )
    };
    let (code, state, child, err) = case("fail", "");
    assert_eq!(
        (code, state.as_str(), child.as_str()),
        (1, "FAILED", "FAILED"),
        "{err}"
    );
    assert!(err.contains("ends in FAILED state"), "{err}");
    assert!(err.contains("the child failed on purpose"), "{err}");
    let (code, state, _, err) = case("fail", "    allowFailure: true\n");
    assert_eq!((code, state.as_str()), (0, "WARNING"), "{err}");
    let (code, state, _, err) = case("fail", "    transmitFailed: false\n");
    assert_eq!((code, state.as_str()), (0, "SUCCESS"), "{err}");
    let (code, state, child, err) = case("warn", "");
    assert_eq!(
        (code, state.as_str(), child.as_str()),
        (0, "WARNING", "WARNING"),
        "{err}"
    );
    assert!(err.contains("ends in WARNING state"), "{err}");
    let (code, state, _, err) = case("warn", "    allowWarning: true\n");
    assert_eq!((code, state.as_str()), (0, "SUCCESS"), "{err}");
}

#[test]
fn a_subflow_that_does_not_wait_ends_before_the_process_does() {
    let s = Sandbox::new();
    s.write(
        "slow.yaml",
        "id: slow\nnamespace: demo\ntasks:\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT0.5S\n  - id: done\n    type: io.kestra.plugin.core.log.Log\n    message: slow child done\n",
    );
    s.write(
        "parent.yaml",
        &parent("  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: demo\n    flowId: slow\n    wait: false\n  - id: next\n    type: io.kestra.plugin.core.log.Log\n    message: parent goes on\n"),
    );
    let out = s.run(&["run", "parent.yaml", "--json"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let err = out.stderr();
    // The parent did not wait at the task, but the process waited for the child.
    let goes_on = err.find("parent goes on").expect("parent log");
    let child_done = err.find("slow child done").expect("child log");
    assert!(goes_on < child_done, "{err}");
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    let outputs = &record["taskRunList"][0]["outputs"];
    assert!(outputs["executionId"].is_string());
    assert!(outputs.get("state").is_none(), "{outputs}");
    let child = records(&s)
        .into_iter()
        .find(|r| r["flowId"] == "slow")
        .expect("child record");
    assert_eq!(child["state"]["current"], "SUCCESS");
}

#[test]
fn subflow_errors_say_what_is_wrong() {
    let s = Sandbox::new();
    s.write("flows/a.yaml", "id: twice\nnamespace: demo\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: a\n");
    s.write("flows/b.yaml", "id: twice\nnamespace: demo\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: b\n");
    s.write("flows/broken.yaml", "id: broken\nnamespace: demo\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    mesage: b\n");
    s.write("flows/self.yaml", "id: self\nnamespace: demo\ntasks:\n  - id: again\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: demo\n    flowId: self\n");
    s.write("flows/garbled.yaml", "id: [unclosed\n");
    s.write("flows/ping.yaml", "id: ping\nnamespace: demo\ntasks:\n  - id: again\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: demo\n    flowId: pong\n");
    s.write("flows/pong.yaml", "id: pong\nnamespace: demo\ntasks:\n  - id: again\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: demo\n    flowId: ping\n");
    s.write("flows/needs.yaml", "id: needs\nnamespace: demo\ninputs:\n  - id: n\n    type: INT\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ inputs.n }}\"\n");
    let cases = [
        (
            "nowhere",
            "Unable to find flow 'demo'.'nowhere' with revision '0'",
        ),
        ("twice", "flow demo.twice is defined twice, in `"),
        ("broken", "Cannot execute an invalid flow: "),
        (
            "self",
            "Cannot execute an invalid flow: flows/self.yaml:7:13: Invalid Flow: Recursive call to flow [demo.self]",
        ),
        (
            "ping",
            "Subflows are nested more than 10 deep (demo.pong calls demo.ping): does a flow call itself?",
        ),
        (
            "needs",
            "Invalid input for `n`, missing required input, but received `null`",
        ),
    ];
    for (flow_id, message) in cases {
        s.write(
            "parent.yaml",
            &parent(&format!(
                "  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: demo\n    flowId: {flow_id}\n"
            )),
        );
        let out = s.run(&["run", "parent.yaml", "--flows", "flows"]);
        assert_eq!(out.code(), 1, "{flow_id}: {}", out.stderr());
        assert!(
            out.stderr().contains(message),
            "{flow_id}: {}",
            out.stderr()
        );
    }
    // A file that is not even YAML is named when a flow is not found: it may be that flow.
    s.write(
        "parent.yaml",
        &parent("  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: demo\n    flowId: nowhere\n"),
    );
    let out = s.run(&["run", "parent.yaml", "--flows", "flows"]);
    assert!(
        out.stderr()
            .contains("1 file(s) there could not be read as flows (`flows/garbled.yaml`)"),
        "{}",
        out.stderr()
    );
    // The invalid flow's message points at the file and line.
    s.write(
        "parent.yaml",
        &parent("  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: demo\n    flowId: broken\n"),
    );
    let out = s.run(&["run", "parent.yaml", "--flows", "flows"]);
    assert!(
        out.stderr()
            .contains("broken.yaml:6:5: Unrecognized field \"mesage\""),
        "{}",
        out.stderr()
    );
}

#[test]
fn a_secret_in_a_subflow_is_masked_in_its_logs_and_record() {
    let s = Sandbox::new();
    let secret = "subflow-secret-9931";
    s.write(
        "child.yaml",
        "id: child\nnamespace: demo\ntasks:\n  - id: leak\n    type: io.kestra.plugin.core.log.Log\n    message: \"token {{ secret('TOKEN') }}\"\n  - id: out\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ secret('TOKEN') }}\"\n",
    );
    s.write(
        "parent.yaml",
        &parent("  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: demo\n    flowId: child\n"),
    );
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(secret);
    let out = support::Done(
        s.cmd(&["run", "parent.yaml", "--json"])
            .env("SECRET_TOKEN", encoded)
            .output()
            .unwrap(),
    );
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr().contains("[demo.child > leak] token ******"),
        "{}",
        out.stderr()
    );
    for bytes in [out.stdout(), out.stderr()] {
        assert!(!bytes.contains(secret));
    }
    for path in walk(&s.dir) {
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{} holds the secret",
            path.display()
        );
    }
}

#[test]
fn validate_checks_subflow_targets_inputs_and_cycles_across_files() {
    let s = Sandbox::new();
    s.write("flows/sub/child.yaml", CHILD);
    s.write(
        "flows/a.yaml",
        "id: a\nnamespace: loop\ntasks:\n  - id: call_b\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: loop\n    flowId: b\n",
    );
    s.write(
        "flows/b.yaml",
        "id: b\nnamespace: loop\ntasks:\n  - id: call_a\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: loop\n    flowId: a\n",
    );
    s.write(
        "flows/caller.yaml",
        r#"id: caller
namespace: demo
tasks:
  - id: good
    type: io.kestra.plugin.core.flow.Subflow
    namespace: demo.sub
    flowId: child
    inputs:
      n: 1
      extra: 2
  - id: dynamic
    type: io.kestra.plugin.core.flow.Subflow
    namespace: "{{ flow.namespace }}.sub"
    flowId: anything
  - id: missing_input
    type: io.kestra.plugin.core.flow.Subflow
    namespace: demo.sub
    flowId: child
  - id: missing_flow
    type: io.kestra.plugin.core.flow.Subflow
    namespace: demo
    flowId: nowhere
"#,
    );
    let out = s.run(&["validate", "flows"]);
    let err = out.stderr();
    assert_eq!(out.code(), 1, "{err}");
    assert!(out.stdout().contains("✘ demo.caller"), "{}", out.stdout());
    assert!(
        out.stdout().contains("✓ demo.sub.child"),
        "{}",
        out.stdout()
    );
    assert!(out.stdout().contains("✓ loop.a"), "{}", out.stdout());
    for expected in [
        "warning: input extra isn't declared at the subflow inputs of demo.sub.child: it will be ignored",
        "--> flows/caller.yaml:10:7",
        "error: subflow demo.sub.child requires input `n`, which is not given",
        "warning: The subflow 'nowhere' not found in namespace 'demo'.",
        "--> flows/caller.yaml:22:13",
        "warning: subflows call each other in a cycle: loop.a -> loop.b -> loop.a",
    ] {
        assert!(err.contains(expected), "{expected}\n{err}");
    }
    // A dynamic target is checked only when it runs.
    assert!(!err.contains("anything"), "{err}");
    // A file given alone finds the flows beside it.
    let out = s.run(&["validate", "flows/a.yaml"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    // A flow calling itself is refused, with Kestra's message.
    s.write(
        "flows/self.yaml",
        "id: self\nnamespace: loop\ntasks:\n  - id: again\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: loop\n    flowId: self\n",
    );
    let out = s.run(&["validate", "flows/self.yaml"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("error: Invalid Flow: Recursive call to flow [loop.self]"),
        "{}",
        out.stderr()
    );
}

const BATCH: &str = r#"id: batch
namespace: demo
inputs:
  - id: file
    type: FILE
  - id: n
    type: INT
tasks:
  - id: count
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(inputs.file) | trim | split('\n') | length }}"
  - id: fail_on_bad
    type: io.kestra.plugin.core.execution.Fail
    runIf: "{{ read(inputs.file) contains 'bad' }}"
outputs:
  - id: lines
    type: INT
    value: "{{ outputs.count.value }}"
  - id: n
    type: INT
    value: "{{ inputs.n }}"
"#;

/// The storage file a `kestra://` URI of the sandbox names.
fn stored(s: &Sandbox, uri: &str) -> String {
    let rel = uri.strip_prefix("kestra:///").unwrap();
    std::fs::read_to_string(s.dir.join(".runner/storage").join(rel)).unwrap()
}

#[test]
fn for_each_item_runs_one_subflow_per_batch() {
    let s = Sandbox::new();
    s.write("batch.yaml", BATCH);
    let flow = |content: &str| {
        format!(
            r#"id: fei
namespace: demo
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: "{content}"
    extension: .csv
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{{{ outputs.write.uri }}}}"
    batch:
      rows: 3
    namespace: demo
    flowId: batch
    inputs:
      file: "{{{{ taskrun.items }}}}"
      n: "{{{{ taskrun.iteration }}}}"
"#
        )
    };
    s.write("fei.yaml", &flow("a\\nb\\nc\\nd\\ne\\nf\\ng\\n"));
    let out = s.run(&["run", "fei.yaml", "--json"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    let each = &record["taskRunList"][1]["outputs"];
    assert_eq!(each["numberOfBatches"], 3);
    assert_eq!(each["iterations"], json!({"SUCCESS": 3}));
    // One line of outputs per subflow; the batches were cut 3, 3, 1 lines.
    let mut lines: Vec<Json> = stored(&s, each["uri"].as_str().unwrap())
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines.sort_by_key(|l| l["n"].as_i64());
    assert_eq!(
        lines,
        vec![
            json!({"lines": 3, "n": 1}),
            json!({"lines": 3, "n": 2}),
            json!({"lines": 1, "n": 3})
        ]
    );
    // Each subflow is an execution with its own record.
    let children = records(&s)
        .into_iter()
        .filter(|r| r["flowId"] == "batch")
        .count();
    assert_eq!(children, 3);

    // A failing batch fails the task, and the counts say how many.
    s.write("fei.yaml", &flow("a\\nb\\nc\\nbad\\ne\\n"));
    let out = s.run(&["run", "fei.yaml", "--json"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    let each = &record["taskRunList"][1];
    assert_eq!(each["state"]["current"], "FAILED");
    assert_eq!(
        each["outputs"]["iterations"],
        json!({"FAILED": 1, "SUCCESS": 1})
    );
}

#[test]
fn split_cuts_a_file_by_rows_bytes_partitions_and_regex() {
    let s = Sandbox::new();
    s.write(
        "split.yaml",
        r#"id: split
namespace: demo
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: "a,1\nb,2\nc,1\nd,2\ne,1\n"
    extension: .csv
  - id: rows
    type: io.kestra.plugin.core.storage.Split
    from: "{{ outputs.write.uri }}"
    rows: 2
  - id: bytes
    type: io.kestra.plugin.core.storage.Split
    from: "{{ outputs.write.uri }}"
    bytes: "8"
  - id: partitions
    type: io.kestra.plugin.core.storage.Split
    from: "{{ outputs.write.uri }}"
    partitions: 2
    separator: ";"
  - id: regex
    type: io.kestra.plugin.core.storage.Split
    from: "{{ outputs.write.uri }}"
    regexPattern: ",(\\d)$"
"#,
    );
    let out = s.run(&["run", "split.yaml", "--json"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    let files = |i: usize| -> Vec<String> {
        record["taskRunList"][i]["outputs"]["uris"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                let uri = u.as_str().unwrap();
                assert!(uri.ends_with(".csv"), "{uri}");
                stored(&s, uri)
            })
            .collect()
    };
    assert_eq!(files(1), vec!["a,1\nb,2\n", "c,1\nd,2\n", "e,1\n"]);
    assert_eq!(files(2), vec!["a,1\nb,2\n", "c,1\nd,2\n", "e,1\n"]);
    assert_eq!(files(3), vec!["a,1;c,1;e,1;", "b,2;d,2;"]);
    assert_eq!(files(4), vec!["a,1\nc,1\ne,1\n", "b,2\nd,2\n"]);

    // Two ways at once, or none, is refused before anything runs.
    s.write(
        "bad.yaml",
        "id: bad\nnamespace: demo\ntasks:\n  - id: s\n    type: io.kestra.plugin.core.storage.Split\n    from: x\n    rows: 1\n    bytes: 1KB\n  - id: t\n    type: io.kestra.plugin.core.storage.Split\n    from: x\n",
    );
    let out = s.run(&["validate", "bad.yaml"]);
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr()
            .contains("give one of `rows`, `bytes`, `partitions` and `regexPattern`"),
        "{}",
        out.stderr()
    );
    assert!(
        out.stderr()
            .contains("Invalid configuration with no size, count, rows, nor regexPattern"),
        "{}",
        out.stderr()
    );
}

#[test]
fn the_deprecated_task_outputs_read_the_childs_task_outputs() {
    let s = Sandbox::new();
    s.write(
        "child.yaml",
        "id: plain\nnamespace: demo\ntasks:\n  - id: calc\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ 6 * 7 }}\"\n",
    );
    s.write(
        "parent.yaml",
        &parent("  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: demo\n    flowId: plain\n    outputs:\n      answer: \"{{ outputs.calc.value }}\"\n"),
    );
    let out = s.run(&["run", "parent.yaml", "--json"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(
        record["taskRunList"][0]["outputs"]["outputs"],
        json!({"answer": "42"})
    );
}

#[test]
fn run_flow_id_runs_a_flow_of_the_folder_by_its_name() {
    let s = Sandbox::new();
    s.write("flows/sub/child.yaml", CHILD);
    let out = s.run(&[
        "run",
        "--flow-id",
        "demo.sub.child",
        "--flows",
        "flows",
        "-i",
        "n=5",
        "--json",
    ]);
    assert_eq!(
        out.code(),
        1,
        "the child reads `trigger`, which a manual run lacks: {}",
        out.stderr()
    );
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(record["flowId"], "child");
    assert_eq!(record["taskRunList"][0]["outputs"]["value"], "10");
    let out = s.run(&["run", "--flow-id", "demo.nope", "--flows", "flows"]);
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr()
            .contains("--flow-id demo.nope: no flow with that namespace and id in `flows`"),
        "{}",
        out.stderr()
    );
}
