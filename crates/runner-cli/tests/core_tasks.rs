//! Core flow tasks through the binary: Dag's order and Kestra's messages.

mod support;

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
