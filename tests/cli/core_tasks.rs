//! Core flow tasks through the binary: Dag's order and Kestra's messages.

use crate::support;

use serde_json::Value as Json;
use support::Sandbox;

#[test]
fn a_dag_runs_each_task_after_what_it_depends_on() {
    let s = Sandbox::new();
    s.write(
        "dag.yaml",
        r#"id: dag
namespace: demo
tasks:
  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    tasks:
      - task:
          id: load
          type: io.kestra.plugin.core.debug.Return
          format: "{{ outputs.transform.value }}+load"
        dependsOn: [transform, check]
      - task:
          id: transform
          type: io.kestra.plugin.core.debug.Return
          format: "{{ outputs.extract.value }}+transform"
        dependsOn: [extract]
      - task:
          id: extract
          type: io.kestra.plugin.core.debug.Return
          format: extract
      - task:
          id: check
          type: io.kestra.plugin.core.debug.Return
          format: check
"#,
    );
    let out = s.run(&["run", "dag.yaml", "--json"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    let order: Vec<&str> = record["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["taskId"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["dag", "extract", "transform", "check", "load"]);
    let load = record["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["taskId"] == "load")
        .unwrap();
    assert_eq!(load["outputs"]["value"], "extract+transform+load");

    let dag = |tasks: &str| {
        format!(
            "id: bad\nnamespace: demo\ntasks:\n  - id: dag\n    type: io.kestra.plugin.core.flow.Dag\n    tasks:\n{tasks}"
        )
    };
    let t = |id: &str, deps: &str| {
        format!(
            "      - task:\n          id: {id}\n          type: io.kestra.plugin.core.log.Log\n          message: x\n        dependsOn: [{deps}]\n"
        )
    };
    for (tasks, message) in [
        (
            format!("{}{}{}", t("a", "b"), t("b", "a"), t("c", "b")),
            "error: dag: Cyclic dependency detected: a, b",
        ),
        (
            format!("{}{}", t("a", ""), t("b", "nope")),
            "error: dag: Not existing task id in dependency: nope",
        ),
    ] {
        s.write("bad.yaml", &dag(&tasks));
        let out = s.run(&["validate", "bad.yaml"]);
        assert_eq!(out.code(), 1);
        assert!(out.stderr().contains(message), "{}", out.stderr());
    }
}

#[test]
fn flow_outputs_are_rendered_at_the_end_whatever_the_state() {
    let s = Sandbox::new();
    s.write(
        "outs.yaml",
        r#"id: outs
namespace: demo
tasks:
  - id: calc
    type: io.kestra.plugin.core.debug.Return
    format: "{{ 2 * 21 }}"
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    runIf: "{{ inputs.fail ?? false }}"
inputs:
  - id: fail
    type: BOOL
    defaults: false
outputs:
  - id: answer
    type: INT
    value: "{{ outputs.calc.value }}"
  - id: optional
    type: STRING
    required: false
    value: "{{ outputs.nope.value }}"
afterExecution:
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "after: {{ execution.outputs.answer }} {{ execution.state }}"
"#,
    );
    let out = s.run(&["run", "outs.yaml", "--json"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(
        record["outputs"],
        serde_json::json!({"answer": 42, "optional": null})
    );
    assert!(
        out.stderr()
            .contains("Failed to render optional flow output 'optional'. Output is ignored."),
        "{}",
        out.stderr()
    );
    assert!(
        out.stderr().contains("after: 42 SUCCESS"),
        "{}",
        out.stderr()
    );
    // A failed execution still renders them.
    let out = s.run(&["run", "outs.yaml", "--json", "-i", "fail=true"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(record["outputs"]["answer"], 42);
    // A required output that cannot render fails the execution, with Kestra's message.
    s.write(
        "bad.yaml",
        "id: bad\nnamespace: demo\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\noutputs:\n  - id: o\n    type: STRING\n    value: \"{{ outputs.missing.value }}\"\n",
    );
    let out = s.run(&["run", "bad.yaml"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(
        out.stderr().contains("Failed to render output values: "),
        "{}",
        out.stderr()
    );
}

/// Kestra's error-logs pattern: an `errors:` branch reads the failed task's ERROR lines.
#[test]
fn error_logs_gives_the_errors_branch_the_failed_task_logs() {
    let s = Sandbox::new();
    s.write(
        "f.yaml",
        r#"id: alert
namespace: demo
tasks:
  - id: fine
    type: io.kestra.plugin.core.log.Log
    message: all good so far
  - id: broken
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - echo "disk quota exceeded on /data" >&2
      - exit 3
errors:
  - id: explain
    type: io.kestra.plugin.core.debug.Return
    format: "{{ errorLogs() | length }} {% for l in errorLogs() %}[{{ l.taskId }} {{ l.level }} {{ l.flowId }}] {{ l.message }}; {% endfor %}"
"#,
    );
    let out = s.run(&["run", "f.yaml", "--json"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    let runs = record["taskRunList"].as_array().unwrap();
    let explain = runs.iter().find(|r| r["taskId"] == "explain").unwrap();
    let value = explain["outputs"]["value"].as_str().unwrap();
    assert!(
        value.contains("[broken ERROR alert] disk quota exceeded on /data;"),
        "{value}"
    );
    assert!(!value.contains("all good"), "only ERROR lines: {value}");
}

#[test]
fn download_files_copies_namespace_files_into_storage() {
    let s = Sandbox::new();
    s.write("_files/scripts/a.py", "print('a')\n");
    s.write("_files/scripts/lib/b.py", "print('b')\n");
    s.write("_files/data.csv", "x\n");
    s.write(
        "dl.yaml",
        r#"id: dl
namespace: demo
tasks:
  - id: get
    type: io.kestra.plugin.core.namespace.DownloadFiles
    namespace: "{{ flow.namespace }}"
    files:
      - "/scripts/**"
    destination: copies
  - id: one
    type: io.kestra.plugin.core.namespace.DownloadFiles
    namespace: demo
    files: data.csv
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.get.files['/scripts/lib/b.py']) }}"
"#,
    );
    let out = s.run(&["run", "dl.yaml", "--json"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    let files = record["taskRunList"][0]["outputs"]["files"]
        .as_object()
        .unwrap();
    let keys: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(keys, ["/scripts/a.py", "/scripts/lib/b.py"]);
    assert!(
        files["/scripts/a.py"]
            .as_str()
            .unwrap()
            .ends_with("/copies/scripts/a.py")
    );
    let one = record["taskRunList"][1]["outputs"]["files"]
        .as_object()
        .unwrap();
    assert_eq!(one.keys().collect::<Vec<_>>(), ["/data.csv"]);
    assert_eq!(record["taskRunList"][2]["outputs"]["value"], "print('b')\n");
}

#[test]
fn uploaded_namespace_files_outlive_the_run_and_never_touch_the_project() {
    let s = Sandbox::new();
    s.write("_files/scripts/keep.py", "print('project')\n");
    s.write(
        "up.yaml",
        r#"id: up
namespace: demo
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: "print('uploaded')"
    extension: .py
  - id: upload
    type: io.kestra.plugin.core.namespace.UploadFiles
    namespace: demo
    files:
      /scripts/main.py: "{{ outputs.write.uri }}"
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: files
        type: io.kestra.plugin.scripts.shell.Commands
        taskRunner:
          type: io.kestra.plugin.core.runner.Process
        commands:
          - mkdir -p out/deep && echo one > out/a.upl && echo two > out/deep/b.upl && echo no > out/c.txt
      - id: globs
        type: io.kestra.plugin.core.namespace.UploadFiles
        namespace: demo
        destination: /uploads
        files:
          - "**.upl"
  - id: again
    type: io.kestra.plugin.core.namespace.UploadFiles
    namespace: demo
    conflict: SKIP
    files:
      /scripts/keep.py: "{{ outputs.write.uri }}"
"#,
    );
    let out = s.run(&["run", "up.yaml", "--json"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    let outputs = |id: &str| {
        record["taskRunList"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["taskId"] == id)
            .unwrap()["outputs"]
            .clone()
    };
    assert_eq!(
        outputs("upload")["files"],
        serde_json::json!({"/scripts/main.py": "nsfile://demo/scripts/main.py"})
    );
    let globbed = outputs("globs")["files"].as_object().unwrap().clone();
    assert_eq!(
        globbed.keys().collect::<Vec<_>>(),
        ["/uploads/out/a.upl", "/uploads/out/deep/b.upl"]
    );
    // SKIP: the project's file exists, nothing is written over it (here or in the project).
    assert_eq!(outputs("again")["files"], serde_json::json!({}));
    assert_eq!(
        std::fs::read_to_string(s.dir.join("_files/scripts/keep.py")).unwrap(),
        "print('project')\n"
    );
    // Uploads live in the state directory, beside the storage.
    let kept = s.dir.join(".runner/state/namespace-files/demo");
    assert_eq!(
        std::fs::read_to_string(kept.join("scripts/main.py")).unwrap(),
        "print('uploaded')"
    );
    assert!(!s.dir.join("_files/scripts/main.py").exists());

    // A second run sees the uploads beside the project's files, then deletes what it may.
    s.write(
        "use.yaml",
        r#"id: use
namespace: demo
tasks:
  - id: get
    type: io.kestra.plugin.core.namespace.DownloadFiles
    namespace: demo
    files: "/scripts/*"
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.get.files['/scripts/main.py']) }}"
  - id: script
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    inputFiles:
      run.py: nsfile:///scripts/main.py
    commands:
      - cat run.py
  - id: delete
    type: io.kestra.plugin.core.namespace.DeleteFiles
    namespace: demo
    deleteParentFolder: true
    files:
      - "**.upl"
      - "/scripts/**"
  - id: conflict
    type: io.kestra.plugin.core.namespace.UploadFiles
    namespace: demo
    conflict: ERROR
    files:
      /scripts/keep.py: "{{ outputs.get.files['/scripts/keep.py'] }}"
"#,
    );
    let out = s.run(&["run", "use.yaml", "--json"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    let runs = record["taskRunList"].as_array().unwrap();
    let keys: Vec<&str> = runs[0]["outputs"]["files"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["/scripts/keep.py", "/scripts/main.py"]);
    assert_eq!(runs[1]["outputs"]["value"], "print('uploaded')");
    assert!(
        out.stderr().contains("print('uploaded')"),
        "{}",
        out.stderr()
    );
    let deleted: Vec<&str> = runs[3]["outputs"]["files"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        deleted,
        [
            "/scripts/main.py",
            "/uploads/out/a.upl",
            "/uploads/out/deep/b.upl"
        ]
    );
    assert!(
        out.stderr().contains(
            "1 namespace file(s) of demo are files of the project folder and were kept (runner never changes the project; delete them there): /scripts/keep.py"
        ),
        "{}",
        out.stderr()
    );
    assert!(s.dir.join("_files/scripts/keep.py").exists());
    // deleteParentFolder: the emptied folders went with their files.
    assert!(!kept.join("uploads").exists());
    assert!(!kept.join("scripts").exists());
    assert!(
        out.stderr().contains(
            "File '/scripts/keep.py' already exists in namespace 'demo' and conflict is set to ERROR"
        ),
        "{}",
        out.stderr()
    );
}

#[test]
fn upload_files_takes_files_map_as_kestra_1_does() {
    let s = Sandbox::new();
    s.write(
        "fm.yaml",
        r#"id: fm
namespace: demo
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: "echo hi"
  - id: map
    type: io.kestra.plugin.core.namespace.UploadFiles
    destination: /bin
    filesMap:
      hello.sh: "{{ outputs.write.uri }}"
  - id: json
    type: io.kestra.plugin.core.namespace.UploadFiles
    filesMap: '{"copy.sh": "{{ outputs.write.uri }}"}'
  - id: none
    type: io.kestra.plugin.core.namespace.UploadFiles
    allowFailure: true
"#,
    );
    let out = s.run(&["run", "fm.yaml", "--json"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    let runs = record["taskRunList"].as_array().unwrap();
    // The namespace defaults to the flow's; the map's paths go under `destination`.
    assert_eq!(
        runs[1]["outputs"]["files"],
        serde_json::json!({"/bin/hello.sh": "nsfile://demo/bin/hello.sh"})
    );
    assert_eq!(
        runs[2]["outputs"]["files"],
        serde_json::json!({"/copy.sh": "nsfile://demo/copy.sh"})
    );
    let kept = s.dir.join(".runner/state/namespace-files/demo");
    assert_eq!(
        std::fs::read_to_string(kept.join("bin/hello.sh")).unwrap(),
        "echo hi"
    );
    assert!(
        out.stderr().contains("files or filesMap is required"),
        "{}",
        out.stderr()
    );
}

#[test]
fn namespace_uploads_stay_inside_the_namespace() {
    let s = Sandbox::new();
    s.write(
        "escape.yaml",
        r#"id: escape
namespace: demo
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: x
  - id: up
    type: io.kestra.plugin.core.namespace.UploadFiles
    namespace: demo
    files:
      /../../outside.txt: "{{ outputs.write.uri }}"
  - id: ns
    type: io.kestra.plugin.core.namespace.UploadFiles
    namespace: "../demo"
    files:
      /a.txt: "{{ outputs.write.uri }}"
"#,
    );
    let out = s.run(&["run", "escape.yaml"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("`/../../outside.txt` leaves the namespace (`..` is not allowed)"),
        "{}",
        out.stderr()
    );
    assert!(!s.dir.join(".runner/outside.txt").exists());
    assert!(!s.dir.join("outside.txt").exists());
    let yaml = std::fs::read_to_string(s.dir.join("escape.yaml"))
        .unwrap()
        .replace("/../../outside.txt", "/inside.txt");
    s.write("escape.yaml", &yaml);
    let out = s.run(&["run", "escape.yaml"]);
    assert!(
        out.stderr()
            .contains("`../demo` is not a namespace: letters, digits, `.`, `_` and `-`"),
        "{}",
        out.stderr()
    );
    assert!(
        s.dir
            .join(".runner/state/namespace-files/demo/inside.txt")
            .exists()
    );
    assert!(!s.dir.join(".runner/state/demo").exists());
}

#[test]
fn item_tasks_filter_deduplicate_and_reverse() {
    let s = Sandbox::new();
    s.write(
        "items.yaml",
        r#"id: items
namespace: demo
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: |
      {id:1,name:"a",amount:50}
      {id:2,name:"b",amount:150}
      {id:1,name:"c",amount:500}
      {id:3,name:"d",amount:5}
    extension: .ion
  - id: big
    type: io.kestra.plugin.core.storage.FilterItems
    from: "{{ outputs.write.uri }}"
    filterCondition: "{{ amount > 100 }}"
  - id: small
    type: io.kestra.plugin.core.storage.FilterItems
    from: "{{ outputs.write.uri }}"
    filterCondition: "{{ amount > 100 }}"
    filterType: EXCLUDE
  - id: latest
    type: io.kestra.plugin.core.storage.DeduplicateItems
    from: "{{ outputs.write.uri }}"
    expr: "{{ id }}"
  - id: reversed
    type: io.kestra.plugin.core.storage.Reverse
    from: "{{ outputs.write.uri }}"
  - id: broken
    type: io.kestra.plugin.core.storage.FilterItems
    from: "{{ outputs.write.uri }}"
    filterCondition: "{{ nope.deeper }}"
    allowFailure: true
  - id: lenient
    type: io.kestra.plugin.core.storage.FilterItems
    from: "{{ outputs.write.uri }}"
    filterCondition: "{{ nope.deeper }}"
    errorOrNullBehavior: INCLUDE
"#,
    );
    let out = s.run(&["run", "items.yaml", "--json"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    let task = |id: &str| {
        record["taskRunList"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["taskId"] == id)
            .unwrap()
            .clone()
    };
    let file = |id: &str| {
        let uri = task(id)["outputs"]["uri"].as_str().unwrap().to_string();
        std::fs::read_to_string(
            s.dir
                .join(".runner/storage")
                .join(uri.trim_start_matches("kestra:///")),
        )
        .unwrap()
    };
    assert_eq!(
        file("big"),
        "{id:2,name:\"b\",amount:150}\n{id:1,name:\"c\",amount:500}\n"
    );
    assert_eq!(task("big")["outputs"]["processedItemsTotal"], 4);
    assert_eq!(task("big")["outputs"]["droppedItemsTotal"], 2);
    assert_eq!(
        file("small"),
        "{id:1,name:\"a\",amount:50}\n{id:3,name:\"d\",amount:5}\n"
    );
    // The last item of each key, in file order.
    assert_eq!(
        file("latest"),
        "{id:2,name:\"b\",amount:150}\n{id:1,name:\"c\",amount:500}\n{id:3,name:\"d\",amount:5}\n"
    );
    assert_eq!(task("latest")["outputs"]["numKeys"], 3);
    assert_eq!(task("latest")["outputs"]["droppedItemsTotal"], 1);
    assert_eq!(
        file("reversed"),
        "{id:3,name:\"d\",amount:5}\n{id:1,name:\"c\",amount:500}\n{id:2,name:\"b\",amount:150}\n{id:1,name:\"a\",amount:50}\n"
    );
    assert_eq!(task("broken")["state"]["current"], "WARNING");
    assert!(
        out.stderr()
            .contains("Unable to find `nope` used in the expression `{{ nope.deeper }}`"),
        "{}",
        out.stderr()
    );
    assert_eq!(task("lenient")["outputs"]["droppedItemsTotal"], 0);
}

#[test]
fn reverse_streams_a_file_larger_than_its_block() {
    let s = Sandbox::new();
    // 20,000 lines (about 300 KB): several 64 KiB blocks, lines cut across their edges.
    s.write(
        "rev.yaml",
        "id: rev\nnamespace: demo\ntasks:\n  - id: write\n    type: io.kestra.plugin.core.storage.Write\n    content: \"{% for i in range(0, 19999) %}line-{{ i }}\\n{% endfor %}\"\n  - id: reversed\n    type: io.kestra.plugin.core.storage.Reverse\n    from: \"{{ outputs.write.uri }}\"\n    separator: \";\"\n",
    );
    let out = s.run(&["run", "rev.yaml", "--json"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    let uri = record["taskRunList"][1]["outputs"]["uri"]
        .as_str()
        .unwrap()
        .to_string();
    let text = std::fs::read_to_string(
        s.dir
            .join(".runner/storage")
            .join(uri.trim_start_matches("kestra:///")),
    )
    .unwrap();
    let expected: String = (0..20000).rev().map(|i| format!("line-{i};")).collect();
    assert_eq!(text, expected);
}

#[test]
fn metric_publish_keeps_counters_and_timers_in_the_record() {
    let s = Sandbox::new();
    s.write(
        "m.yaml",
        "id: m\nnamespace: demo\ntasks:\n  - id: publish\n    type: io.kestra.plugin.core.metric.Publish\n    metrics:\n      - type: counter\n        name: rows\n        value: \"{{ 40 + 2 }}\"\n        tags:\n          table: users\n      - type: timer\n        name: load\n        value: PT1.5S\n  - id: bad\n    type: io.kestra.plugin.core.metric.Publish\n    allowFailure: true\n    metrics:\n      - type: gauge\n        name: x\n        value: 1\n",
    );
    let out = s.run(&["run", "m.yaml", "--json"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    let metrics = record["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 2);
    assert_eq!(metrics[0]["type"], "counter");
    assert_eq!(metrics[0]["name"], "rows");
    assert_eq!(metrics[0]["value"], 42.0);
    assert_eq!(metrics[0]["tags"], serde_json::json!({"table": "users"}));
    assert_eq!(metrics[1]["type"], "timer");
    assert_eq!(metrics[1]["value"], 1.5);
    assert!(
        out.stderr()
            .contains("`type` is counter or timer, not `gauge`"),
        "{}",
        out.stderr()
    );
}

#[test]
fn exit_ends_the_execution_and_set_variables_changes_vars() {
    let s = Sandbox::new();
    s.write(
        "x.yaml",
        r#"id: x
namespace: demo
variables:
  env: dev
  db:
    host: localhost
    port: 5432
tasks:
  - id: set
    type: io.kestra.plugin.core.execution.SetVariables
    variables:
      env: test
      db:
        port: 6543
  - id: unset
    type: io.kestra.plugin.core.execution.UnsetVariables
    variables: [db.host]
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ vars.env }} {{ vars.db }}"
  - id: keep
    type: io.kestra.plugin.core.execution.SetVariables
    overwrite: false
    variables:
      env: again
    allowFailure: true
  - id: missing
    type: io.kestra.plugin.core.execution.UnsetVariables
    variables: [nope.deeper]
    allowFailure: true
  - id: stop
    type: io.kestra.plugin.core.execution.Exit
    state: "{{ 'WARNING' }}"
  - id: never
    type: io.kestra.plugin.core.log.Log
    message: not reached
"#,
    );
    let out = s.run(&["run", "x.yaml", "--json"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(record["state"]["current"], "WARNING");
    let ids: Vec<&str> = record["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["taskId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["set", "unset", "show", "keep", "missing", "stop"]);
    assert_eq!(
        record["taskRunList"][2]["outputs"]["value"],
        "test {\"port\":6543}"
    );
    let err = out.stderr();
    assert!(
        err.contains("`env` already exists and `overwrite` is set to `false`"),
        "{err}"
    );
    assert!(
        err.contains("Unable to unset variable 'nope.deeper' as it doesn't exist"),
        "{err}"
    );
    assert!(
        err.contains("Exiting the execution with state WARNING"),
        "{err}"
    );
    // FAILED makes the run's exit code 1.
    s.write(
        "f.yaml",
        "id: f\nnamespace: demo\ntasks:\n  - id: stop\n    type: io.kestra.plugin.core.execution.Exit\n    state: FAILED\n  - id: never\n    type: io.kestra.plugin.core.log.Log\n    message: no\n",
    );
    let out = s.run(&["run", "f.yaml"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(!out.stderr().contains("[never]"), "{}", out.stderr());
}

#[test]
fn exit_killed_stops_the_tasks_still_running() {
    let s = Sandbox::new();
    s.write(
        "k.yaml",
        r#"id: k
namespace: demo
tasks:
  - id: both
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: long
        type: io.kestra.plugin.scripts.shell.Commands
        taskRunner:
          type: io.kestra.plugin.core.runner.Process
        commands:
          - echo started
          - sleep 60
          - echo never printed
      # AllowFailure turns the branch's end into a WARNING: only the kill stops `long`.
      - id: stop
        type: io.kestra.plugin.core.flow.AllowFailure
        tasks:
          - id: wait
            type: io.kestra.plugin.core.flow.Sleep
            duration: PT0.3S
          - id: exit
            type: io.kestra.plugin.core.execution.Exit
            state: KILLED
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: not reached
"#,
    );
    let started = std::time::Instant::now();
    let out = s.run(&["run", "k.yaml", "--json"]);
    // Without the kill the shell's sleep holds the run for a minute.
    assert!(started.elapsed() < std::time::Duration::from_secs(45));
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(record["state"]["current"], "KILLED", "{}", out.stderr());
    let state = |id: &str| {
        record["taskRunList"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["taskId"] == id)
            .map(|t| t["state"]["current"].as_str().unwrap().to_string())
    };
    assert_eq!(state("long").as_deref(), Some("KILLED"));
    assert_eq!(state("after"), None);
    let err = out.stderr();
    assert!(
        err.contains(
            "An Exit task ended the execution with state KILLED: the execution was killed"
        ),
        "{err}"
    );
    assert!(
        err.contains("started") && !err.contains("never printed"),
        "{err}"
    );
    assert_ne!(out.code(), 0);
}

#[test]
fn loop_until_repeats_its_tasks_until_the_condition_holds() {
    let s = Sandbox::new();
    let flow = |condition: &str, extra: &str| {
        format!(
            "id: loop\nnamespace: demo\ntasks:\n  - id: poll\n    type: io.kestra.plugin.core.flow.LoopUntil\n    condition: \"{condition}\"\n    checkFrequency:\n      interval: PT0.01S\n{extra}    tasks:\n      - id: check\n        type: io.kestra.plugin.core.debug.Return\n        format: \"{{{{ outputs.poll.iterationCount }}}}\"\n"
        )
    };
    s.write("loop.yaml", &flow("{{ outputs.check.value == '3' }}", ""));
    let out = s.run(&["run", "loop.yaml", "--json"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    let runs = record["taskRunList"].as_array().unwrap();
    let checks: Vec<&str> = runs
        .iter()
        .filter(|t| t["taskId"] == "check")
        .map(|t| t["outputs"]["value"].as_str().unwrap())
        .collect();
    assert_eq!(checks, ["1", "2", "3"]);
    assert_eq!(runs[0]["outputs"]["iterationCount"], 3);
    // A maximum ends the loop: with a warning, or a failure when asked.
    s.write("max.yaml", &flow("{{ false }}", "      maxIterations: 2\n"));
    let out = s.run(&["run", "max.yaml"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr().contains("WARN  [poll] Max iterations reached"),
        "{}",
        out.stderr()
    );
    s.write(
        "fail.yaml",
        &flow("{{ false }}", "      maxIterations: 2\n")
            .replace("    tasks:\n", "    failOnMaxReached: true\n    tasks:\n"),
    );
    let out = s.run(&["run", "fail.yaml"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(
        out.stderr().contains("ERROR [poll] Max iterations reached"),
        "{}",
        out.stderr()
    );
}

#[test]
fn a_templated_task_is_rendered_validated_and_run() {
    let s = Sandbox::new();
    s.write(
        "t.yaml",
        r#"id: t
namespace: demo
variables:
  property: format
tasks:
  - id: dynamic
    type: io.kestra.plugin.core.templating.TemplatedTask
    spec: |
      type: io.kestra.plugin.core.debug.Return
      {{ vars.property }}: "{{ '{{' }} flow.id {{ '}}' }}-{{ 6 * 7 }}"
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.dynamic.value }}"
  - id: bad
    type: io.kestra.plugin.core.templating.TemplatedTask
    allowFailure: true
    spec: |
      type: io.kestra.plugin.core.debug.Return
      formt: x
  - id: nested
    type: io.kestra.plugin.core.templating.TemplatedTask
    allowFailure: true
    spec: |
      type: io.kestra.plugin.core.templating.TemplatedTask
      spec: x
"#,
    );
    let out = s.run(&["run", "t.yaml", "--json"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(record["taskRunList"][1]["outputs"]["value"], "t-42");
    let err = out.stderr();
    assert!(
        err.contains("The templated task is invalid: Unrecognized field \"formt\""),
        "{err}"
    );
    assert!(
        err.contains(
            "The templated task cannot be of type 'io.kestra.plugin.core.templating.TemplatedTask'"
        ),
        "{err}"
    );
}

/// `read()` of namespace files, Kestra's most common way to keep scripts beside a flow: a path
/// of the flow's namespace, `nsfile://`, and another namespace's file with `namespace=`; the
/// same lookup as `namespaceFiles` (a link out of the folder is refused).
#[test]
fn read_takes_namespace_files() {
    let s = Sandbox::new();
    s.write(
        "_files/scripts/hello.py",
        "print('hello from a namespace file')\n",
    );
    s.write("shared/common.txt", "shared text");
    s.write(
        "f.yaml",
        r#"id: reader
namespace: company.team
tasks:
  - id: plain
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read('scripts/hello.py') }}"
  - id: uri
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read('nsfile:///scripts/hello.py') | trim }}"
  - id: other
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read('common.txt', namespace='company.shared') }} / {{ read('nsfile://company.shared/common.txt') }}"
  - id: script
    type: io.kestra.plugin.scripts.python.Script
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    script: "{{ read('scripts/hello.py') }}"
  - id: missing
    type: io.kestra.plugin.core.debug.Return
    allowFailure: true
    format: "{{ read('scripts/nope.py') }}"
"#,
    );
    let out = s.run(&[
        "run",
        "f.yaml",
        "--namespace-files",
        "company.shared=shared",
        "--task-runner",
        "process",
        "--json",
    ]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    let value = |id: &str| {
        record["taskRunList"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["taskId"] == id)
            .unwrap()["outputs"]["value"]
            .clone()
    };
    assert_eq!(value("plain"), "print('hello from a namespace file')\n");
    assert_eq!(value("uri"), "print('hello from a namespace file')");
    assert_eq!(value("other"), "shared text / shared text");
    assert!(
        out.stderr()
            .contains("[script] hello from a namespace file"),
        "{}",
        out.stderr()
    );
    assert!(
        out.stderr()
            .contains("File '/scripts/nope.py' was not found in namespace 'company.team'"),
        "{}",
        out.stderr()
    );
}
