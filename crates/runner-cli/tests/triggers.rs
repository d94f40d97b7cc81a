//! Triggers: the core ones checked as Kestra checks them, plugin ones named, and a run given
//! the `trigger` variables its trigger would give it.

mod support;

use serde_json::{Value as Json, json};
use support::Sandbox;

fn flow(triggers: &str) -> String {
    format!(
        "id: trig\nnamespace: demo\ntasks:\n  - id: show\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ trigger ?? 'manual' }}}}\"\ntriggers:\n{triggers}"
    )
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
        s.write("bad.yaml", &flow(triggers));
        let out = s.run(&["validate", "bad.yaml"]);
        assert_eq!(out.code(), 1, "{triggers}: {}", out.stderr());
        assert!(
            out.stderr().contains(message),
            "{triggers}: {}",
            out.stderr()
        );
        assert!(
            out.stderr().contains(&format!("--> {at}")),
            "{triggers}: {}",
            out.stderr()
        );
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
