//! The suite model and its reports without a run: values as Kestra prints them, equality as
//! tests mean it, JUnit text that stays well-formed whatever a message holds.

use runner_model::load_str;
use runner_testsuite::{CaseResult, CaseState, SuiteResult, evaluate, java_text, junit, read};
use serde_json::{Value as Json, json};
use std::time::Duration;

fn suite(text: &str) -> runner_testsuite::TestSuite {
    let docs = load_str(text).unwrap();
    read(&docs[0]).unwrap_or_else(|p| panic!("{p:?}"))
}

#[test]
fn values_print_as_java_prints_them() {
    assert_eq!(java_text(&json!(null)), "null");
    assert_eq!(java_text(&json!([1, "a", true])), "[1, a, true]");
    assert_eq!(java_text(&json!({"k": "v", "n": 2})), "{k=v, n=2}");
    assert_eq!(java_text(&json!(2.5)), "2.5");
}

#[test]
fn equality_and_numbers_follow_what_the_author_wrote() {
    let s = suite(
        "id: s\nnamespace: a.b\nflowId: f\ntestCases:\n  - id: c\n    type: io.kestra.core.tests.flow.UnitTest\n    assertions:\n      - value: \"5\"\n        equalTo: 5\n        greaterThan: \"4.5\"\n        in: [\"5\", \"6\"]\n      - value: \"{{ x }}\"\n        equalTo: 1\n",
    );
    let a = &s.cases[0].assertions;
    let mut render = |v: &Json| Ok::<_, String>(v.clone());
    let (results, errors) = evaluate(&a[0], &mut render);
    assert!(errors.is_empty());
    assert_eq!(results.len(), 3);
    assert!(results.iter().all(|r| r.is_success), "{results:?}");
    // A render failure is an error of the assertion, with Kestra's wording and where it is.
    let mut failing = |_: &Json| Err::<Json, _>("Missing variable: x".to_string());
    let (results, errors) = evaluate(&a[1], &mut failing);
    assert!(results.is_empty());
    assert_eq!(
        errors[0].message,
        "Could not evaluate assertion: `{\"value\":\"{{ x }}\",\"equalTo\":1}`"
    );
    assert_eq!(
        errors[0].details.as_deref(),
        Some("error was: Missing variable: x")
    );
    assert_eq!(errors[0].span.map(|s| s.line), Some(12));
}

#[test]
fn junit_escapes_what_messages_hold() {
    let report = junit(&[SuiteResult {
        id: "s".into(),
        namespace: "a.b".into(),
        flow_id: "f".into(),
        file: "t.yaml".into(),
        start: "2026-01-01T00:00:00Z".into(),
        end: "2026-01-01T00:00:01Z".into(),
        cases: vec![CaseResult {
            id: "c<1>".into(),
            state: CaseState::Error,
            duration: Duration::from_millis(1500),
            execution_id: None,
            assertions: Vec::new(),
            errors: vec![runner_testsuite::RunError {
                message: "bad \"quote\" & <tag>\u{1}".into(),
                details: None,
                span: None,
            }],
            logs: "line ]]> end".into(),
            fixtures: Json::Null,
            description: None,
        }],
    }]);
    assert!(report.contains("name=\"c&lt;1&gt;\""), "{report}");
    assert!(
        report.contains("message=\"bad &quot;quote&quot; &amp; &lt;tag&gt;\u{FFFD}\""),
        "{report}"
    );
    assert!(report.contains("time=\"1.500\""), "{report}");
    assert!(
        report.contains("<system-out>line ]]&gt; end</system-out>"),
        "{report}"
    );
}
