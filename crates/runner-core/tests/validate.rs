//! Validation rules: each one reported with Kestra's words, at the right line and column.

mod support;

use runner_model::{Diagnostic, Problem, Severity};
use runner_template::Renderer;

fn diagnostics(yaml: &str) -> Vec<Diagnostic> {
    let doc = runner_model::load_str(yaml).unwrap().remove(0);
    runner_core::validate(&doc, &support::registry(), &Renderer::new()).diagnostics
}

fn errors(yaml: &str) -> Vec<(String, u32, u32)> {
    diagnostics(yaml)
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| {
            (
                d.problem.to_string(),
                d.span.map_or(0, |s| s.line),
                d.span.map_or(0, |s| s.col),
            )
        })
        .collect()
}

fn one_error(yaml: &str) -> (String, u32, u32) {
    let mut e = errors(yaml);
    assert_eq!(e.len(), 1, "expected one error, got {e:?}");
    e.remove(0)
}

const HEAD: &str = "id: f\nnamespace: company.team\n";

#[test]
fn a_valid_flow_has_no_diagnostics() {
    let yaml = format!(
        "{HEAD}tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    );
    assert!(diagnostics(&yaml).is_empty());
}

#[test]
fn unknown_property_is_named_with_the_known_ones() {
    let yaml = format!(
        "{HEAD}tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    mesage: hi\n"
    );
    let d = diagnostics(&yaml).remove(0);
    assert_eq!(
        d.problem.to_string(),
        "Unrecognized field \"mesage\" (task `a` of type io.kestra.plugin.core.log.Log), not marked as ignorable"
    );
    assert_eq!((d.span.unwrap().line, d.span.unwrap().col), (6, 5));
    let help = d.problem.help().unwrap();
    assert!(help.starts_with("did you mean `message`?"), "{help}");
    assert!(help.contains("level") && help.contains("runIf"), "{help}");
    assert_eq!(d.path, "tasks[0].mesage");
}

#[test]
fn unknown_type_is_named_with_a_suggestion() {
    let yaml = format!(
        "{HEAD}tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Lg\n    message: hi\n"
    );
    let d = diagnostics(&yaml).remove(0);
    assert_eq!(
        d.problem.to_string(),
        "Invalid type: io.kestra.plugin.core.log.Lg"
    );
    assert_eq!(
        d.problem.help().unwrap(),
        "did you mean `io.kestra.plugin.core.log.Log`?"
    );
    assert_eq!((d.span.unwrap().line, d.span.unwrap().col), (5, 11));
    let yaml =
        format!("{HEAD}tasks:\n  - id: a\n    type: io.kestra.plugin.core.debug.MissingOne\n");
    assert!(diagnostics(&yaml)[0].problem.help().unwrap().starts_with(
        "`io.kestra.plugin.core.debug.MissingOne` is a Kestra plugin runner does not run yet"
    ),);
    // Not Kestra's: no suggestion either, only where to look.
    let yaml = format!("{HEAD}tasks:\n  - id: a\n    type: com.acme.Thing\n");
    assert_eq!(
        diagnostics(&yaml)[0].problem.help().unwrap(),
        "`runner plugins` lists the task types this runner supports"
    );
}

#[test]
fn old_aliases_are_accepted() {
    let yaml = format!(
        "{HEAD}tasks:\n  - id: a\n    type: io.kestra.core.tasks.log.Log\n    message: hi\n  - id: b\n    type: io.kestra.core.tasks.debugs.Return\n"
    );
    assert!(errors(&yaml).is_empty());
}

#[test]
fn bad_ids_and_namespaces() {
    let (msg, line, col) = one_error(
        "id: \"my flow\"\nnamespace: ok\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
    );
    assert_eq!(
        msg,
        "id: must match \"^[a-zA-Z0-9][a-zA-Z0-9._-]*\" (found `my flow`)"
    );
    assert_eq!((line, col), (1, 5));
    let (msg, ..) = one_error(
        "id: f\nnamespace: Company\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
    );
    assert!(
        msg.starts_with("namespace: must match \"^[a-z0-9][a-z0-9._-]*\""),
        "{msg}"
    );
    let (msg, line, _) = one_error(&format!(
        "{HEAD}tasks:\n  - id: a.b\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    ));
    assert!(msg.starts_with("tasks[0].id: must match"), "{msg}");
    assert_eq!(line, 4);
    let long = "x".repeat(101);
    let e = errors(&format!(
        "id: {long}\nnamespace: n\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    ));
    assert_eq!(e[0].0, "id: size must be between 1 and 100");
}

#[test]
fn tasks_must_not_be_empty() {
    assert_eq!(one_error(HEAD).0, "tasks: must not be empty");
    assert_eq!(
        one_error(&format!("{HEAD}tasks: []\n")).0,
        "tasks: must not be empty"
    );
    let e = errors(&format!(
        "{HEAD}tasks:\n  - id: p\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks: []\n"
    ));
    assert_eq!(e[0].0, "tasks[0].tasks: must not be empty");
}

#[test]
fn duplicate_task_ids_at_any_depth() {
    let yaml = format!(
        "{HEAD}tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: x\n  - id: seq\n    type: io.kestra.plugin.core.flow.Sequential\n    tasks:\n      - id: a\n        type: io.kestra.plugin.core.log.Log\n        message: y\n    errors:\n      - id: seq\n        type: io.kestra.plugin.core.log.Log\n        message: z\nfinally:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: w\n"
    );
    let (msg, line, _) = one_error(&yaml);
    assert_eq!(msg, "Duplicate task id with name [a, seq]");
    assert_eq!(line, 10, "points at the first repeated id");
}

#[test]
fn duplicate_inputs_outputs_and_triggers() {
    let yaml = format!(
        "{HEAD}inputs:\n  - id: x\n    type: STRING\n  - id: x\n    type: INT\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\noutputs:\n  - id: o\n    value: 1\n  - id: o\n    value: 2\ntriggers:\n  - id: t\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"* * * * *\"\n  - id: t\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"@daily\"\n"
    );
    let msgs: Vec<String> = errors(&yaml).into_iter().map(|e| e.0).collect();
    assert_eq!(
        msgs,
        [
            "Duplicate input with name [x]",
            "Duplicate output with name [o]",
            "Duplicate trigger id with name [t]"
        ]
    );
}

#[test]
fn input_rules() {
    let e = errors(&format!(
        "{HEAD}inputs:\n  - id: x\n    type: string\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    ));
    assert_eq!(e[0], ("Invalid type: string".to_string(), 5, 11));
    let e = errors(&format!(
        "{HEAD}inputs:\n  - id: x\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    ));
    assert_eq!(
        e[0].0,
        "Invalid type: null: missing type id property 'type' (for POJO property 'inputs')"
    );
    let e = errors(&format!(
        "{HEAD}inputs:\n  - id: f\n    type: FILE\n    defaults: x\n  - id: a\n    type: ARRAY\n    itemType: ARRAY\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    ));
    let msgs: Vec<&str> = e.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "f: no `defaults` can be set for inputs of type 'FILE'",
            "a: `itemType` cannot be `ARRAY`"
        ]
    );
    let e = errors(&format!(
        "{HEAD}inputs:\n  - id: s\n    type: STRING\n    validator: \"(\"\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    ));
    assert!(
        e[0].0
            .starts_with("inputs.s.validator: `(` is not a valid regular expression"),
        "{:?}",
        e
    );
    let e = errors(&format!(
        "{HEAD}inputs:\n  - id: s\n    type: STRING\n    colour: red\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    ));
    assert!(
        e[0].0
            .starts_with("Unrecognized field \"colour\" (input of type STRING)"),
        "{:?}",
        e
    );
}

#[test]
fn system_labels_are_refused() {
    let e = errors(&format!(
        "{HEAD}labels:\n  system.id: x\n  system.readOnly: \"true\"\n  team: data\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    ));
    assert_eq!(
        e,
        [(
            "System labels can only be set by Kestra itself, offending label: system.id=x"
                .to_string(),
            4,
            3
        )]
    );
    let e = errors(&format!(
        "{HEAD}labels:\n  - key: system.x\n    value: y\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    ));
    assert_eq!(
        e,
        [(
            "System labels can only be set by Kestra itself, offending label: system.x=y"
                .to_string(),
            4,
            5
        )]
    );
}

#[test]
fn unquoted_expression_says_to_quote_it() {
    let yaml = format!(
        "{HEAD}tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: {{{{ flow.id }}}}\n"
    );
    let d = diagnostics(&yaml).remove(0);
    assert!(
        matches!(d.problem, Problem::UnquotedExpression { .. }),
        "{:?}",
        d.problem
    );
    assert_eq!(d.span.unwrap().line, 6);
    assert!(
        d.problem
            .help()
            .unwrap()
            .starts_with("quote the expression")
    );
}

#[test]
fn wrong_property_types_and_missing_required_ones() {
    let (msg, line, col) = one_error(&format!(
        "{HEAD}tasks:\n  - id: s\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: soon\n"
    ));
    assert_eq!(
        msg,
        "tasks[0].duration: `soon` is not an ISO-8601 duration (for example PT30S, PT5M, P1D)"
    );
    assert_eq!((line, col), (6, 15));
    let (msg, ..) = one_error(&format!(
        "{HEAD}tasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n"
    ));
    assert_eq!(msg, "tasks[0].message: must not be null");
    let (msg, line, _) = one_error(&format!(
        "{HEAD}tasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: x\n    level: LOUD\n"
    ));
    assert!(msg.starts_with("tasks[0].level:"), "{msg}");
    assert_eq!(line, 7);
    let (msg, ..) = one_error(&format!(
        "{HEAD}tasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: x\n    timeout: 5 minutes\n"
    ));
    assert!(msg.contains("is not an ISO-8601 duration"), "{msg}");
    let (msg, ..) = one_error(&format!(
        "{HEAD}tasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: x\n    allowFailure: maybe\n"
    ));
    assert_eq!(
        msg,
        "tasks[0].allowFailure: expected a boolean (true or false), found a string"
    );
}

#[test]
fn retry_shapes() {
    let (msg, ..) = one_error(&format!(
        "{HEAD}tasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: x\n    retry:\n      type: constant\n      maxAttempt: 3\n"
    ));
    assert_eq!(msg, "tasks[0].retry.interval: must not be null");
    let (msg, ..) = one_error(&format!(
        "{HEAD}tasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: x\n    retry:\n      type: linear\n"
    ));
    assert!(msg.contains("unknown retry type `linear`"), "{msg}");
}

#[test]
fn switch_without_any_case_is_refused() {
    let (msg, ..) = one_error(&format!(
        "{HEAD}tasks:\n  - id: impossible\n    type: io.kestra.plugin.core.flow.Switch\n    value: x\n    cases: {{}}\n"
    ));
    assert_eq!(
        msg,
        "impossible: No task defined, neither cases or default have any tasks"
    );
}

#[test]
fn worker_group_is_enterprise_only() {
    let (msg, ..) = one_error(&format!(
        "{HEAD}tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: x\n    workerGroup:\n      key: gpu\n"
    ));
    assert_eq!(msg, "Worker Group is an Enterprise Edition functionality");
}

#[test]
fn template_syntax_errors_are_warnings_at_the_string() {
    let all = diagnostics(&format!(
        "{HEAD}tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{{{ 1 + }}}}\"\n"
    ));
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].severity, Severity::Warning);
    assert_eq!(all[0].span.unwrap().line, 6);
    assert!(
        all[0]
            .problem
            .to_string()
            .starts_with("tasks[0].message: invalid expression: syntax error")
    );
}

#[test]
fn triggers_need_id_and_type() {
    let e = errors(&format!(
        "{HEAD}tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: x\ntriggers:\n  - cron: x\n"
    ));
    let msgs: Vec<&str> = e.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "triggers[0].id: must not be null",
            "Invalid type: null: missing type id property 'type' (for POJO property 'triggers')"
        ]
    );
}

#[test]
fn unknown_top_level_property() {
    let (msg, line, col) = one_error(&format!(
        "{HEAD}taskz: []\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: x\n"
    ));
    assert_eq!(
        msg,
        "Unrecognized field \"taskz\" (flow), not marked as ignorable"
    );
    assert_eq!((line, col), (3, 1));
}

#[test]
fn plugin_defaults_fill_and_force_properties() {
    let yaml = format!(
        "{HEAD}pluginDefaults:\n  - type: io.kestra.plugin.core.log\n    values:\n      message: from defaults\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n"
    );
    assert!(errors(&yaml).is_empty());
    let yaml = format!(
        "{HEAD}pluginDefaults:\n  - type: io.kestra.plugin.core.log.Log\n    forced: true\n    values:\n      level: LOUD\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: x\n    level: INFO\n"
    );
    let (msg, line, _) = one_error(&yaml);
    assert!(msg.starts_with("tasks[0].level"), "{msg}");
    assert_eq!(line, 7, "the error points at the default that was applied");
    // A plain prefix, as in Kestra: a default for `...debug.Ret` reaches `...debug.Return`.
    let yaml = format!(
        "{HEAD}pluginDefaults:\n  - type: io.kestra.plugin.core.debug.Ret\n    forced: true\n    values:\n      format: 1\n      nope: 2\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.debug.Return\n    format: x\n"
    );
    let (msg, _, _) = one_error(&yaml);
    assert!(msg.contains("nope"), "{msg}");
}

#[test]
fn every_registered_example_is_valid() {
    for d in runner_core::TASKS.iter().chain(runner_core_tasks::TASKS) {
        let yaml = format!(
            "{HEAD}tasks:\n{}\n",
            d.example
                .lines()
                .enumerate()
                .map(|(i, l)| if i == 0 {
                    format!("  - {l}")
                } else {
                    format!("    {l}")
                })
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(
            errors(&yaml).is_empty(),
            "example of {}: {:?}",
            d.type_name,
            errors(&yaml)
        );
    }
}

#[test]
fn an_invalid_child_is_not_echoed_by_its_parents_rule() {
    let yaml = format!(
        "{HEAD}tasks:\n  - id: sw\n    type: io.kestra.plugin.core.flow.Switch\n    value: a\n    cases:\n      a:\n        - id: bad\n          type: io.kestra.plugin.core.log.Logg\n          message: x\n"
    );
    let (msg, line, _) = one_error(&yaml);
    assert_eq!(msg, "Invalid type: io.kestra.plugin.core.log.Logg");
    assert_eq!(line, 10);
}

#[test]
fn a_removed_template_task_says_what_replaces_it() {
    let yaml = format!(
        "{HEAD}tasks:\n  - id: t\n    type: io.kestra.core.tasks.flows.Template\n    namespace: n\n    templateId: x\n"
    );
    let all = diagnostics(&yaml);
    let d = all.iter().find(|d| d.is_error()).expect("an error");
    assert_eq!(
        d.problem.to_string(),
        "Invalid type: io.kestra.core.tasks.flows.Template"
    );
    assert!(
        d.problem
            .help()
            .unwrap()
            .contains("call it with io.kestra.plugin.core.flow.Subflow"),
        "{:?}",
        d.problem.help()
    );
}
