//! `runner test`: Kestra test suites run against real executions of their flows, with
//! fixtures standing in for tasks, every assertion operator, the reports CI reads, and
//! secrets kept out of every byte produced.

use crate::support;

use serde_json::Value as Json;
use support::Sandbox;

const FLOW: &str = r#"id: orders
namespace: company.team
inputs:
  - id: region
    type: STRING
    defaults: eu
tasks:
  - id: extract
    type: io.kestra.plugin.jdbc.postgresql.Query
    url: jdbc:postgresql://db.invalid:5432/shop
    sql: select count(*) as n from orders
    fetchType: FETCH_ONE
  - id: summary
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.region }}:{{ outputs.extract.row.n }}"
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: per_value
        type: io.kestra.plugin.core.debug.Return
        format: "real {{ taskrun.value }}"
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: in_wd
        type: io.kestra.plugin.scripts.shell.Commands
        taskRunner:
          type: io.kestra.plugin.core.runner.Process
        commands:
          - exit 3
  - id: notify
    type: io.kestra.plugin.slack.SlackIncomingWebhookV9
    url: https://hooks.invalid/x
"#;

fn sandbox() -> Sandbox {
    let s = Sandbox::new();
    s.write("flows/orders.yaml", FLOW);
    s
}

/// A suite of one case for the `orders` flow, with every task that must not run covered.
fn suite(cases: &str) -> String {
    format!("id: orders_tests\nnamespace: company.team\nflowId: orders\ntestCases:\n{cases}")
}

const COVERED: &str = r#"        - id: extract
          outputs:
            row: {n: 42}
        - id: in_wd
          outputs: {exitCode: 0}
        - id: notify
"#;

#[test]
fn fixtures_replace_tasks_everywhere_and_the_flow_runs_around_them() {
    let s = sandbox();
    s.write(
        "tests/orders_test.yaml",
        &suite(&format!(
            r#"  - id: mocked
    type: io.kestra.core.tests.flow.UnitTest
    description: the query and the webhook are mocked
    fixtures:
      inputs:
        region: us
      files:
        report.csv: "a,b\n1,2\n"
      tasks:
{COVERED}        - id: per_value
          value: b
          outputs:
            value: "mocked {{{{ files['report.csv'] | length > 0 }}}}"
    assertions:
      - value: "{{{{ outputs.summary.value }}}}"
        equalTo: "us:42"
      - value: "{{{{ outputs.per_value.a.value }}}}"
        equalTo: real a
      - value: "{{{{ outputs.per_value.b.value }}}}"
        equalTo: mocked true
      - value: "{{{{ outputs.in_wd.exitCode }}}}"
        equalTo: 0
      - value: "{{{{ read(files['report.csv']) }}}}"
        startsWith: "a,b"
      - value: "{{{{ execution.state }}}}"
        equalTo: SUCCESS
"#
        )),
    );
    let out = s.run(&["test", "tests", "--flows", "flows", "--json"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("✓ company.team.orders_tests › mocked"),
        "{}",
        out.stderr()
    );
    assert!(
        out.stderr().contains(
            "test result: ok. 1 passed; 0 failed; 0 errored; 0 skipped; 1 case(s) in 1 suite(s)"
        ),
        "{}",
        out.stderr()
    );
    let json: Json = serde_json::from_str(&out.stdout()).unwrap();
    let suite = &json[0];
    assert_eq!(suite["testSuiteId"], "orders_tests");
    assert_eq!(suite["namespace"], "company.team");
    assert_eq!(suite["flowId"], "orders");
    assert_eq!(suite["state"], "SUCCESS");
    let case = &suite["results"][0];
    assert_eq!(case["testId"], "mocked");
    assert_eq!(case["testType"], "io.kestra.core.tests.flow.UnitTest");
    assert_eq!(case["state"], "SUCCESS");
    assert_eq!(case["assertionResults"].as_array().unwrap().len(), 6);
    assert_eq!(case["assertionResults"][0]["operator"], "equalTo");
    assert_eq!(case["assertionResults"][0]["actual"], "us:42");
    assert_eq!(case["assertionResults"][0]["isSuccess"], true);
    assert_eq!(case["errors"], serde_json::json!([]));
    // The case's execution is a real one: its record is in storage, with the fixture outputs.
    let id = case["executionId"].as_str().unwrap();
    let record = std::fs::read_to_string(s.dir.join(format!(
        ".runner/storage/company/team/orders/executions/{id}/execution.json"
    )))
    .unwrap();
    let record: Json = serde_json::from_str(&record).unwrap();
    let runs = record["taskRunList"].as_array().unwrap();
    let extract = runs.iter().find(|t| t["taskId"] == "extract").unwrap();
    assert_eq!(extract["outputs"]["row"]["n"], 42);
    assert_eq!(extract["state"]["current"], "SUCCESS");
    // Each case's own state folder is gone once it ended.
    assert!(
        !s.dir.join(".runner/test-state").exists()
            || std::fs::read_dir(s.dir.join(".runner/test-state"))
                .unwrap()
                .next()
                .is_none()
    );
}

#[test]
fn every_operator_passes_and_fails_with_kestras_message() {
    let s = sandbox();
    let flow = "id: ops\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.output.OutputValues\n    values:\n      text: hello world\n      n: 5\n      none: null\n";
    s.write("flows/ops.yaml", flow);
    let pass = r#"      - value: "{{ outputs.t.values.text }}"
        equalTo: hello world
        notEqualTo: bye
        contains: lo wo
        startsWith: hell
        endsWith: world
        in: [x, hello world]
        notIn: [x, y]
        isNotNull: true
      - value: "{{ outputs.t.values.n }}"
        greaterThan: 4
        greaterThanOrEqualTo: 5
        lessThan: 6
        lessThanOrEqualTo: 5
        equalTo: 5
      - value: "{{ outputs.t.values.none }}"
        isNull: true
"#;
    let fail = r#"      - value: "{{ outputs.t.values.text }}"
        equalTo: bye
      - value: "{{ outputs.t.values.text }}"
        notEqualTo: hello world
      - value: "{{ outputs.t.values.text }}"
        contains: zzz
      - value: "{{ outputs.t.values.text }}"
        startsWith: world
      - value: "{{ outputs.t.values.text }}"
        endsWith: hello
      - value: "{{ outputs.t.values.text }}"
        in: [a, b]
      - value: "{{ outputs.t.values.text }}"
        notIn: [hello world]
      - value: "{{ outputs.t.values.text }}"
        isNull: true
      - value: "{{ outputs.t.values.none }}"
        isNotNull: true
      - value: "{{ outputs.t.values.n }}"
        greaterThan: 5
      - value: "{{ outputs.t.values.n }}"
        greaterThanOrEqualTo: 6
      - value: "{{ outputs.t.values.n }}"
        lessThan: 5
      - value: "{{ outputs.t.values.n }}"
        lessThanOrEqualTo: 4
      - value: "{{ outputs.t.values.text }}"
        equalTo: nope
        errorMessage: "custom: {{ outputs.t.values.n }}"
"#;
    s.write(
        "tests/ops.yaml",
        &format!(
            "id: ops_tests\nnamespace: company.team\nflowId: ops\ntestCases:\n  - id: pass\n    type: io.kestra.core.tests.flow.UnitTest\n    assertions:\n{pass}  - id: fail\n    type: io.kestra.core.tests.flow.UnitTest\n    assertions:\n{fail}"
        ),
    );
    let out = s.run(&["test", "tests/ops.yaml", "--flows", "flows", "--json"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let err = out.stderr();
    assert!(err.contains("✓ company.team.ops_tests › pass"), "{err}");
    assert!(err.contains("✗ company.team.ops_tests › fail"), "{err}");
    let q = "{{ outputs.t.values.text }}";
    let n = "{{ outputs.t.values.n }}";
    let expected = [
        format!("expected '{q}' to equal 'bye' but was 'hello world' (tests/ops.yaml:28:9)"),
        format!("expected '{q}' to not equal 'hello world' (tests/ops.yaml:30:9)"),
        format!("expected '{q}' to contain 'zzz' but was 'hello world'"),
        format!("expected '{q}' to start with 'world' but was 'hello world'"),
        format!("expected '{q}' to end with 'hello' but was 'hello world'"),
        format!("expected '{q}' to contain '[a, b]' but was 'hello world'"),
        format!("expected '{q}' to not contain '[hello world]' but was 'hello world'"),
        format!("expected '{q}' to be null but was 'hello world'"),
        "expected '{{ outputs.t.values.none }}' to be not null but was 'null'".to_string(),
        format!("expected '{n}' to be greater than '5.0' but was '5'"),
        format!("expected '{n}' to be greater than or equal to '6.0' but was '5'"),
        format!("expected '{n}' to be less than '5.0' but was '5'"),
        format!("expected '{n}' to be less than or equal to '4.0' but was '5'"),
        "custom: 5 (tests/ops.yaml:54:9)".to_string(),
    ];
    for e in &expected {
        assert!(err.contains(e.as_str()), "missing `{e}` in:\n{err}");
    }
    let json: Json = serde_json::from_str(&out.stdout()).unwrap();
    let results = json[0]["results"].as_array().unwrap();
    let pass = &results.iter().find(|r| r["testId"] == "pass").unwrap();
    assert_eq!(pass["state"], "SUCCESS");
    assert_eq!(pass["assertionResults"].as_array().unwrap().len(), 14);
    let fail = &results.iter().find(|r| r["testId"] == "fail").unwrap();
    assert_eq!(fail["state"], "FAILED");
    let failed = fail["assertionResults"].as_array().unwrap();
    assert_eq!(failed.len(), 14);
    assert!(failed.iter().all(|r| r["isSuccess"] == false));
    assert_eq!(failed[9]["operator"], "greaterThan");
    assert_eq!(failed[9]["expected"], 5.0);
    assert_eq!(failed[9]["actual"], 5);
}

#[test]
fn errors_disabled_cases_and_uncovered_types() {
    let s = sandbox();
    s.write(
        "tests/orders_test.yaml",
        &suite(&format!(
            r#"  - id: uncovered
    type: io.kestra.core.tests.flow.UnitTest
    fixtures:
      tasks:
        - id: extract
          outputs: {{row: {{n: 1}}}}
    assertions:
      - value: x
        equalTo: x
  - id: not_a_number
    type: io.kestra.core.tests.flow.UnitTest
    fixtures:
      tasks:
{COVERED}    assertions:
      - value: "{{{{ outputs.summary.value }}}}"
        greaterThan: 1
  - id: failed_fixture
    type: io.kestra.core.tests.flow.UnitTest
    fixtures:
      tasks:
        - id: extract
          state: FAILED
        - id: in_wd
        - id: notify
    assertions:
      - value: "{{{{ execution.state }}}}"
        equalTo: FAILED
      - value: "{{{{ outputs.summary ?? 'never ran' }}}}"
        equalTo: never ran
  - id: off
    type: io.kestra.core.tests.flow.UnitTest
    disabled: true
    assertions:
      - value: x
        equalTo: y
"#
        )),
    );
    s.write(
        "tests/disabled.yaml",
        "id: later\nnamespace: company.team\nflowId: orders\ndisabled: true\ntestCases:\n  - id: whatever\n    type: io.kestra.core.tests.flow.UnitTest\n    assertions:\n      - value: a\n        equalTo: b\n",
    );
    s.write(
        "tests/in_wd.yaml",
        &suite(
            "  - id: wd_not_covered\n    type: io.kestra.core.tests.flow.UnitTest\n    fixtures:\n      tasks:\n        - id: extract\n          outputs: {row: {n: 7}}\n        - id: notify\n    assertions:\n      - value: \"{{ outputs.in_wd.exitCode }}\"\n        equalTo: 3\n      - value: \"{{ execution.state }}\"\n        equalTo: FAILED\n",
        ).replace("id: orders_tests", "id: wd_tests"),
    );
    let out = s.run(&[
        "test",
        "tests",
        "--flows",
        "flows",
        "--junit",
        "out/junit.xml",
    ]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let err = out.stderr();
    assert!(
        err.contains("! company.team.orders_tests › uncovered"),
        "{err}"
    );
    assert!(
        err.contains(
            "flow company.team.orders cannot run: Invalid type: io.kestra.plugin.slack.SlackIncomingWebhookV9"
        ),
        "{err}"
    );
    assert!(
        err.contains("! company.team.orders_tests › not_a_number"),
        "{err}"
    );
    assert!(
        err.contains("Could not evaluate assertion: `{\"value\":\"{{ outputs.summary.value }}\",\"greaterThan\":1}` error was: Could not parse value as a Double"),
        "{err}"
    );
    assert!(
        err.contains("✓ company.team.orders_tests › failed_fixture"),
        "{err}"
    );
    assert!(
        err.contains("- company.team.orders_tests › off (skipped: the test case is disabled)"),
        "{err}"
    );
    assert!(
        err.contains("- company.team.later › whatever (skipped: the test suite is disabled)"),
        "{err}"
    );
    // A WorkingDirectory's task runs for real without a fixture (exit 3 fails the flow).
    assert!(
        err.contains("✓ company.team.wd_tests › wd_not_covered"),
        "{err}"
    );
    assert!(
        err.contains(
            "test result: FAILED. 2 passed; 0 failed; 2 errored; 2 skipped; 6 case(s) in 3 suite(s)"
        ),
        "{err}"
    );
    // The JUnit report, read by Python's own XML parser.
    let check = r#"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites", root.tag
totals = {k: int(root.get(k)) for k in ("tests", "failures", "errors", "skipped")}
assert totals == {"tests": 6, "failures": 0, "errors": 2, "skipped": 2}, totals
seen = {}
for suite in root.findall("testsuite"):
    for attr in ("name", "tests", "failures", "errors", "skipped", "time", "timestamp"):
        assert suite.get(attr) is not None, (suite.get("name"), attr)
    assert int(suite.get("tests")) == len(suite.findall("testcase"))
    for case in suite.findall("testcase"):
        for attr in ("name", "classname", "time"):
            assert case.get(attr) is not None, attr
        float(case.get("time"))
        kind = [c.tag for c in case if c.tag in ("failure", "error", "skipped")]
        seen[case.get("name")] = kind[0] if kind else "passed"
        for c in case:
            if c.tag in ("failure", "error"):
                assert c.get("message"), case.get("name")
expected = {"uncovered": "error", "not_a_number": "error", "failed_fixture": "passed", "off": "skipped", "whatever": "skipped", "wd_not_covered": "passed"}
assert seen == expected, seen
"#;
    let py = std::process::Command::new("python3")
        .args(["-c", check, s.dir.join("out/junit.xml").to_str().unwrap()])
        .output()
        .expect("python3 runs");
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
}

#[test]
fn cases_run_in_parallel_without_sharing_state() {
    let s = Sandbox::new();
    s.write(
        "flows/counter.yaml",
        r#"id: counter
namespace: company.team
tasks:
  - id: before
    type: io.kestra.plugin.core.kv.Get
    key: seen
  - id: mark
    type: io.kestra.plugin.core.kv.Set
    key: seen
    value: "{{ execution.id }}"
  - id: pause
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.2S
  - id: after
    type: io.kestra.plugin.core.kv.Get
    key: seen
"#,
    );
    let case = |id: &str| {
        format!(
            "  - id: {id}\n    type: io.kestra.core.tests.flow.UnitTest\n    assertions:\n      - value: \"{{{{ outputs.before.value }}}}\"\n        isNull: true\n      - value: \"{{{{ outputs.after.value }}}}\"\n        equalTo: \"{{{{ execution.id }}}}\"\n"
        )
    };
    let cases: String = (1..=4).map(|i| case(&format!("c{i}"))).collect();
    s.write(
        "tests/counter.yaml",
        &format!(
            "id: counter_tests\nnamespace: company.team\nflowId: counter\ntestCases:\n{cases}"
        ),
    );
    let started = std::time::Instant::now();
    let out = s.run(&["test", "tests", "--flows", "flows", "-j", "4"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr().contains("4 passed; 0 failed"),
        "{}",
        out.stderr()
    );
    // Four cases of 0.2 s each, four at a time (a generous bound, not a benchmark).
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    // Only the cases asked for.
    let out = s.run(&["test", "tests", "--flows", "flows", "--test-case", "c3"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out.stderr().contains("1 passed"), "{}", out.stderr());
    assert!(!out.stderr().contains("› c1"), "{}", out.stderr());
    let out = s.run(&["test", "tests", "--flows", "flows", "--test-case", "c9"]);
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr()
            .contains("--test-case c9: no test case has that id"),
        "{}",
        out.stderr()
    );
}

#[test]
fn a_trigger_fixture_and_fail_fast() {
    let s = Sandbox::new();
    s.write(
        "flows/hook.yaml",
        "id: hook\nnamespace: company.team\ntasks:\n  - id: got\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ trigger.body.name ?? 'none' }}\"\ntriggers:\n  - id: webhook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: abc\n",
    );
    s.write(
        "tests/hook.yaml",
        "id: hook_tests\nnamespace: company.team\nflowId: hook\ntestCases:\n  - id: from_webhook\n    type: io.kestra.core.tests.flow.UnitTest\n    fixtures:\n      trigger:\n        id: webhook\n        type: io.kestra.plugin.core.trigger.Webhook\n        variables:\n          body: {name: ada}\n    assertions:\n      - value: \"{{ outputs.got.value }}\"\n        equalTo: ada\n  - id: wrong\n    type: io.kestra.core.tests.flow.UnitTest\n    assertions:\n      - value: \"{{ outputs.got.value }}\"\n        equalTo: ada\n  - id: third\n    type: io.kestra.core.tests.flow.UnitTest\n    assertions:\n      - value: \"{{ outputs.got.value }}\"\n        equalTo: none\n",
    );
    let out = s.run(&["test", "tests", "--flows", "flows", "-j", "1"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("✓ company.team.hook_tests › from_webhook")
    );
    assert!(
        out.stderr()
            .contains("expected '{{ outputs.got.value }}' to equal 'ada' but was 'none'"),
        "{}",
        out.stderr()
    );
    assert!(out.stderr().contains("✓ company.team.hook_tests › third"));
    let out = s.run(&[
        "test",
        "tests",
        "--flows",
        "flows",
        "-j",
        "1",
        "--fail-fast",
    ]);
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr()
            .contains("- company.team.hook_tests › third (skipped: not run: an earlier case failed (--fail-fast))"),
        "{}",
        out.stderr()
    );
}

#[test]
fn invalid_suites_say_what_and_where() {
    let s = sandbox();
    let cases = [
        (
            "id: t\nnamespace: company.team\nflowId: nope\ntestCases:\n  - id: a\n    type: io.kestra.core.tests.flow.UnitTest\n    assertions:\n      - value: x\n        equalTo: x\n",
            "Invalid TestSuite: Flow with id: 'nope' does not exist on Namespace: 'company.team'.",
            "t.yaml:3:9",
        ),
        (
            "id: t\nnamespace: company.team\nflowId: orders\ntestCases:\n  - id: a\n    type: io.kestra.core.tests.flow.UnitTest\n    assertions:\n      - value: x\n        equalsTo: x\n",
            "Unrecognized field \"equalsTo\"",
            "t.yaml:9:9",
        ),
        (
            "id: t\nnamespace: company.team\nflowId: orders\ntestCases: []\n",
            "testCases: must not be empty",
            "t.yaml:4:12",
        ),
        (
            "id: t\nnamespace: company.team\nflowId: orders\ntestCases:\n  - id: a\n    type: io.kestra.core.tests.flow.UnitTest\n    fixtures:\n      tasks:\n        - id: extract\n          state: DONE\n    assertions:\n      - value: x\n",
            "testCases[0].fixtures.tasks[0].state: `DONE` is not a state a fixture can end a task run in",
            "t.yaml:10:18",
        ),
        (
            "id: t\nnamespace: company.team\nflowId: orders\ntestCases:\n  - id: a\n    type: io.kestra.core.tests.flow.UnitTest\n    assertions:\n      - value: x\n",
            "testCases[0].assertions[0]: no assertions found",
            "t.yaml:8:9",
        ),
    ];
    for (text, message, at) in cases {
        s.write("t.yaml", text);
        let out = s.run(&["test", "t.yaml", "--flows", "flows"]);
        assert_eq!(out.code(), 2, "{text}: {}", out.stderr());
        assert!(out.stderr().contains(message), "{text}: {}", out.stderr());
        assert!(
            out.stderr().contains(&format!("--> {at}")),
            "{text}: {}",
            out.stderr()
        );
        // validate reads a suite as a suite, not as a flow, and finds its flow among the
        // files given and their folders (here the sandbox, holding flows/), as `runner test` does.
        let v = s.run(&["validate", "t.yaml"]);
        assert_ne!(v.code(), 0, "{text}");
        assert!(v.stderr().contains(message), "{text}: {}", v.stderr());
    }
    s.write(
        "t.yaml",
        "id: t\nnamespace: company.team\nflowId: orders\ntestCases:\n  - id: a\n    type: io.kestra.core.tests.flow.UnitTest\n    assertions:\n      - value: x\n        equalTo: x\n",
    );
    let v = s.run(&["validate", "t.yaml"]);
    assert_eq!(v.code(), 0, "{}", v.stderr());
    assert!(
        v.stdout()
            .contains("✓ test suite company.team.t (1 case(s) of flow orders)"),
        "{}",
        v.stdout()
    );
    let r = s.run(&["run", "t.yaml"]);
    assert_eq!(r.code(), 2);
    assert!(
        r.stderr()
            .contains("is a test suite, not a flow: run it with `runner test t.yaml`")
    );
    // A flow two files define: said as it is, not as a missing flow.
    s.write("flows/again/orders.yaml", FLOW);
    let twice = s.run(&["test", "t.yaml", "--flows", "flows"]);
    assert_eq!(twice.code(), 2);
    assert!(
        twice.stderr().contains(
            "the flow this suite tests cannot be loaded: flow company.team.orders is defined twice"
        ),
        "{}",
        twice.stderr()
    );
    std::fs::remove_dir_all(s.dir.join("flows/again")).unwrap();
    let none = s.run(&["test", "flows"]);
    assert_eq!(none.code(), 2);
    assert!(
        none.stderr().contains("no test suite in `flows`"),
        "{}",
        none.stderr()
    );
}

#[test]
fn secrets_stay_out_of_every_report() {
    let s = sandbox();
    let secret = "Sup3r-Secret-Token-42";
    let b64 = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(secret)
    };
    s.write(
        "tests/secret.yaml",
        &suite(&format!(
            r#"  - id: leaks
    type: io.kestra.core.tests.flow.UnitTest
    fixtures:
      tasks:
{COVERED}        - id: per_value
          outputs:
            value: "{{{{ secret('TOKEN') }}}}"
    assertions:
      - value: "{{{{ outputs.per_value.a.value }}}}"
        equalTo: not the token
      - value: "{{{{ outputs.per_value.b.value }}}}"
        equalTo: "{{{{ secret('TOKEN') }}}}"
      - value: "{{{{ secret('TOKEN') }}}}"
        contains: nothing
"#
        )),
    );
    let out = s
        .cmd(&[
            "test",
            "tests",
            "--flows",
            "flows",
            "--junit",
            "out/j.xml",
            "--json",
        ])
        .env("SECRET_TOKEN", &b64)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("to equal 'not the token' but was '******'"),
        "{stderr}"
    );
    let mut produced = out.stdout.clone();
    produced.extend_from_slice(&out.stderr);
    for f in support::walk(&s.dir) {
        if f.extension().is_some_and(|e| e == "yaml") {
            continue;
        }
        produced.extend(std::fs::read(&f).unwrap());
    }
    let text = String::from_utf8_lossy(&produced);
    assert!(!text.contains(secret), "the secret leaked");
    assert!(!text.contains(&b64), "the secret's base64 leaked");
}

/// Reads a child's stderr on a thread, so a test can wait for a line with a deadline.
struct Lines {
    rx: std::sync::mpsc::Receiver<String>,
    seen: String,
}

/// Writes a file the watcher must see as changed: its modification time is moved well past
/// the last one, so the change shows whatever the file system's timestamp granularity.
fn save(s: &Sandbox, name: &str, text: &str) {
    let path = s.write(name, text);
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(later)
        .unwrap();
}

impl Lines {
    fn of(child: &mut std::process::Child) -> Lines {
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Lines {
            rx,
            seen: String::new(),
        }
    }

    /// Everything read until a line containing `what` (30 s at most).
    fn until(&mut self, what: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let start = self.seen.len();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push_str(&line);
                    self.seen.push('\n');
                    if line.contains(what) {
                        return self.seen[start..].to_string();
                    }
                }
                Err(_) => panic!("no line with `{what}` in:\n{}", self.seen),
            }
        }
    }
}

#[cfg(unix)]
#[test]
fn watch_runs_again_on_a_change_and_shows_what_changed() {
    let s = Sandbox::new();
    s.write("flows/hello.yaml", "id: hello\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.debug.Return\n    format: one\n");
    let suite = |expected: &str| {
        format!(
            "id: w\nnamespace: company.team\nflowId: hello\ntestCases:\n  - id: a\n    type: io.kestra.core.tests.flow.UnitTest\n    assertions:\n      - value: \"{{{{ outputs.t.value }}}}\"\n        equalTo: {expected}\n  - id: b\n    type: io.kestra.core.tests.flow.UnitTest\n    assertions:\n      - value: x\n        equalTo: x\n"
        )
    };
    s.write("tests/w.yaml", &suite("one"));
    let mut child = s
        .cmd(&["test", "tests", "--flows", "flows", "--watch"])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = Lines::of(&mut child);
    let first = lines.until("watching");
    assert!(first.contains("2 passed"), "{first}");
    // The flow changes: case a now fails; only it is shown, b is counted as unchanged.
    save(
        &s,
        "flows/hello.yaml",
        "id: hello\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.debug.Return\n    format: two\n",
    );
    let second = lines.until("watching");
    assert!(second.contains("changed: flows/hello.yaml"), "{second}");
    assert!(second.contains("FAILED (was SUCCESS):"), "{second}");
    assert!(
        second.contains("expected '{{ outputs.t.value }}' to equal 'one' but was 'two'"),
        "{second}"
    );
    assert!(
        second.contains("1 case(s) unchanged since the last run"),
        "{second}"
    );
    assert!(!second.contains("› b"), "{second}");
    // Runs write into .runner/: that is not a change. The next change is the flow's, and it
    // is the only one named: nothing the runs wrote started a run before it.
    save(
        &s,
        "flows/hello.yaml",
        "id: hello\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.debug.Return\n    format: one\n",
    );
    let third = lines.until("watching");
    let changed: Vec<&str> = third
        .lines()
        .filter(|l| l.starts_with("changed:"))
        .collect();
    assert_eq!(changed, ["changed: flows/hello.yaml"], "{}", lines.seen);
    assert!(third.contains("2 passed"), "{third}");
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "the last run passed");
}

#[cfg(unix)]
#[test]
fn run_watch_reruns_the_flow_and_names_changed_task_states() {
    let s = Sandbox::new();
    let flow = |fail: bool| {
        format!(
            "id: w\nnamespace: company.team\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n  - id: second\n    type: io.kestra.plugin.core.{}\n",
            if fail {
                "execution.Fail\n    errorMessage: boom"
            } else {
                "log.Log\n    message: ok"
            }
        )
    };
    s.write("w.yaml", &flow(false));
    let mut child = s
        .cmd(&["run", "w.yaml", "--watch"])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = Lines::of(&mut child);
    let first = lines.until("watching");
    assert!(first.contains("ended SUCCESS"), "{first}");
    save(&s, "w.yaml", &flow(true));
    let second = lines.until("watching");
    assert!(second.contains("changed: w.yaml"), "{second}");
    assert!(
        second.contains(
            "since the last run: the execution SUCCESS -> FAILED, second SUCCESS -> FAILED"
        ),
        "{second}"
    );
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(1));
}
