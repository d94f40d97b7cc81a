//! Triggers: the core ones checked as Kestra checks them, plugin ones named, and a run given
//! the `trigger` variables its trigger would give it.

use crate::support;

use serde_json::{Value as Json, json};
use support::Sandbox;

fn flow(triggers: &str) -> String {
    format!(
        "id: trig\nnamespace: demo\ntasks:\n  - id: show\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ trigger ?? 'manual' }}}}\"\ntriggers:\n{triggers}"
    )
}

/// `yaml`, written as bad.yaml, fails `runner validate` with `message` at `at` (file:line:col).
fn refused(s: &Sandbox, yaml: &str, message: &str, at: &str) {
    s.write("bad.yaml", yaml);
    let out = s.run(&["validate", "bad.yaml"]);
    assert_eq!(out.code(), 1, "{yaml}: {}", out.stderr());
    assert!(out.stderr().contains(message), "{yaml}: {}", out.stderr());
    assert!(
        out.stderr().contains(&format!("--> {at}")),
        "{yaml}: {}",
        out.stderr()
    );
}

#[test]
fn core_triggers_are_checked_and_plugin_ones_named() {
    let s = Sandbox::new();
    let cases = [
        (
            "  - id: t\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"not a cron\"\n",
            "error: triggers[0].cron: invalid cron expression 'not a cron': Cron expression contains 3 parts but we expect one of [5]",
            "bad.yaml:10:11",
        ),
        (
            "  - id: t\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 25 * * *\"\n",
            "Value 25 not in range [0, 23]",
            "bad.yaml:10:11",
        ),
        (
            "  - id: t\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"@daily\"\n    timezone: Mars/Olympus\n",
            "triggers[0].timezone: not a time zone",
            "bad.yaml:11:15",
        ),
        (
            "  - id: t\n    type: io.kestra.plugin.core.trigger.Schedule\n",
            "triggers[0].cron: must not be null",
            "bad.yaml:8:5",
        ),
        (
            "  - id: t\n    type: io.kestra.plugin.core.trigger.Shedule\n    cron: \"@daily\"\n",
            "help: did you mean `io.kestra.plugin.core.trigger.Schedule`?",
            "bad.yaml:9:11",
        ),
        (
            "  - id: t\n    type: io.kestra.plugin.core.trigger.Webhook\n",
            "triggers[0].key: must not be null",
            "bad.yaml:8:5",
        ),
    ];
    for (triggers, message, at) in cases {
        refused(&s, &flow(triggers), message, at);
    }
    s.write(
        "ok.yaml",
        &flow("  - id: daily\n    type: io.kestra.core.models.triggers.types.Schedule\n    cron: \"*/15 9-17 * * MON-FRI\"\n  - id: secs\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"*/5 * * * * *\"\n    withSeconds: true\n  - id: s3\n    type: io.kestra.plugin.aws.s3.Trigger\n    bucket: b\n"),
    );
    // A plugin trigger is a warning by default (the flow still runs) and an error with --strict.
    let out = s.run(&["validate", "ok.yaml"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("warning: Invalid type: io.kestra.plugin.aws.s3.Trigger"),
        "{}",
        out.stderr()
    );
    let out = s.run(&["validate", "--strict", "ok.yaml"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("error: Invalid type: io.kestra.plugin.aws.s3.Trigger"),
        "{}",
        out.stderr()
    );
}

#[test]
fn flow_trigger_conditions_and_preconditions_are_checked() {
    let s = Sandbox::new();
    let flow_trigger = |body: &str| {
        flow(&format!(
            "  - id: after\n    type: io.kestra.plugin.core.trigger.Flow\n{body}"
        ))
    };
    let cases = [
        (
            "    states: [SUCCES]\n",
            "triggers[0].states[0]: `SUCCES` is not a state; did you mean `SUCCESS`?",
            "bad.yaml:10:14",
        ),
        (
            "    conditions:\n      - type: io.kestra.plugin.core.condition.ExecutionStatus\n        in: [FAILED, BROKEN]\n",
            "triggers[0].conditions[0].in[1]: `BROKEN` is not a state",
            "bad.yaml:12:22",
        ),
        (
            "    conditions:\n      - type: io.kestra.plugin.core.condition.ExecutionStatos\n",
            "help: did you mean `io.kestra.plugin.core.condition.ExecutionStatus`?",
            "bad.yaml:11:15",
        ),
        (
            "    conditions:\n      - type: io.kestra.plugin.core.condition.ExecutionFlow\n        namespace: demo\n",
            "triggers[0].conditions[0].flowId: must not be null",
            "bad.yaml:11:9",
        ),
        (
            "    conditions:\n      - namespace: demo\n",
            "triggers[0].conditions[0].type: must not be null",
            "bad.yaml:11:9",
        ),
        (
            "    conditions:\n      - type: io.kestra.plugin.core.condition.Not\n        conditions:\n          - type: io.kestra.plugin.core.condition.Expression\n",
            "triggers[0].conditions[0].conditions[0].expression: must not be null",
            "bad.yaml:13:13",
        ),
        (
            "    preconditions:\n      id: upstream\n      flows:\n        - flowId: extract\n          states: [SUCCESS]\n",
            "triggers[0].preconditions.flows[0].namespace: must not be null",
            "bad.yaml:13:11",
        ),
        (
            "    preconditions:\n      id: upstream\n      flows:\n        - namespace: demo\n      timeWindow:\n        type: HOURLY\n",
            "`HOURLY` is not one of DURATION_WINDOW, SLIDING_WINDOW, DAILY_TIME_DEADLINE, DAILY_TIME_WINDOW",
            "bad.yaml:15:15",
        ),
    ];
    for (body, message, at) in cases {
        refused(&s, &flow_trigger(body), message, at);
    }
    // What real flows write: old and new names, nested conditions, preconditions; a plugin
    // condition is a warning, an error only with --strict.
    s.write(
        "ok.yaml",
        &flow_trigger(
            r#"    states: [SUCCESS, WARNING]
    conditions:
      - type: io.kestra.core.models.conditions.types.ExecutionStatusCondition
        in: [SUCCESS]
      - type: io.kestra.plugin.core.condition.ExecutionNamespaceCondition
        namespace: demo
        prefix: true
      - type: io.kestra.plugin.core.condition.MultipleCondition
        window: P1D
        conditions:
          first:
            type: io.kestra.plugin.core.condition.ExecutionFlow
            namespace: demo
            flowId: a
      - type: io.kestra.plugin.core.condition.Weekend
      - type: com.example.condition.Custom
    preconditions:
      id: both
      flows:
        - namespace: demo
          flowId: a
          states: [SUCCESS]
      where:
        - id: prod
          operand: OR
          filters: []
"#,
        ),
    );
    let out = s.run(&["validate", "ok.yaml"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("warning: Invalid type: com.example.condition.Custom"),
        "{}",
        out.stderr()
    );
    assert_eq!(
        out.stderr().matches("warning:").count(),
        1,
        "{}",
        out.stderr()
    );
    let out = s.run(&["validate", "--strict", "ok.yaml"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("error: Invalid type: com.example.condition.Custom"),
        "{}",
        out.stderr()
    );
}

#[test]
fn a_run_gets_the_trigger_variables_it_asks_for() {
    let s = Sandbox::new();
    s.write(
        "trig.yaml",
        &flow("  - id: daily\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"30 6 * * MON\"\n    timezone: Europe/Paris\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: abc\n"),
    );
    let value = |args: &[&str]| -> Json {
        let mut all = vec!["run", "trig.yaml", "--json"];
        all.extend_from_slice(args);
        let out = s.run(&all);
        assert_eq!(out.code(), 0, "{args:?}: {}", out.stderr());
        let record: Json = serde_json::from_str(&out.stdout()).unwrap();
        let v = record["taskRunList"][0]["outputs"]["value"]
            .as_str()
            .unwrap()
            .to_string();
        serde_json::from_str(&v).unwrap_or(Json::String(v))
    };
    // A manual run has no trigger.
    assert_eq!(value(&[]), json!("manual"));
    assert_eq!(
        value(&[
            "--trigger",
            "daily",
            "--trigger-date",
            "2026-12-02T09:00:00Z"
        ]),
        json!({
            "id": "daily",
            "type": "io.kestra.plugin.core.trigger.Schedule",
            "date": "2026-12-02T10:00:00+01:00",
            "next": "2026-12-07T06:30:00+01:00",
            "previous": "2026-11-30T06:30:00+01:00"
        })
    );
    // Without a date, the last time the cron fired.
    let last = value(&["--trigger", "daily"]);
    assert!(
        last["date"].as_str().unwrap().ends_with("T06:30:00+01:00")
            || last["date"].as_str().unwrap().ends_with("T06:30:00+02:00"),
        "{last}"
    );
    s.write("body.yaml", "body:\n  event: push\n  ref: main\n");
    assert_eq!(
        value(&["--trigger", "hook", "--trigger-vars", "body.yaml"]),
        json!({"id": "hook", "type": "io.kestra.plugin.core.trigger.Webhook", "body": {"event": "push", "ref": "main"}})
    );
    assert_eq!(
        value(&["--trigger-vars", "body.yaml"]),
        json!({"body": {"event": "push", "ref": "main"}})
    );
    let out = s.run(&["run", "trig.yaml", "--trigger", "weekly"]);
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr()
            .contains("--trigger weekly: the flow's triggers are daily, hook"),
        "{}",
        out.stderr()
    );
    let out = s.run(&[
        "run",
        "trig.yaml",
        "--trigger",
        "daily",
        "--trigger-date",
        "tomorrow",
    ]);
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr().contains("--trigger-date tomorrow:"),
        "{}",
        out.stderr()
    );
}
