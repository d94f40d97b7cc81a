//! A flow's topology: its tasks as a tree of branches (a flowable's `tasks`, `then`, `else`,
//! `cases`, `errors`, `finally`), read from the flow's YAML, or from the task runs when the
//! flows folder no longer has the flow. Drawn as nested boxes, left to right, each coloured by
//! what its task runs did.

use crate::html::{badge, esc, state_class};
use runner_model::Node;
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

pub(crate) struct TaskNode {
    pub(crate) id: String,
    pub(crate) type_name: String,
    pub(crate) branches: Vec<Branch>,
    /// A Dag's `dependsOn`: the tasks this one waits for.
    pub(crate) after: Vec<String>,
}

pub(crate) struct Branch {
    pub(crate) label: String,
    pub(crate) tasks: Vec<TaskNode>,
}

/// The flow's top-level lists, from document `document` of a flow file.
pub(crate) fn from_source(source: &str, document: usize) -> Option<Vec<Branch>> {
    let docs = runner_model::load_str(source).ok()?;
    let doc = docs.into_iter().filter(|d| !d.is_null()).nth(document)?;
    let mut roots = Vec::new();
    for key in ["tasks", "errors", "finally", "afterExecution"] {
        if let Some(tasks) = doc.get(key).and_then(task_list) {
            roots.push(Branch {
                label: key.to_string(),
                tasks,
            });
        }
    }
    Some(roots)
}

fn is_task(node: &Node) -> bool {
    node.get("id").and_then(Node::as_str).is_some()
        && node.get("type").and_then(Node::as_str).is_some()
}

/// A Dag's item: `{task: {...}, dependsOn: [...]}`.
fn dag_item(node: &Node) -> Option<&Node> {
    node.get("task").filter(|t| is_task(t))
}

fn task_list(node: &Node) -> Option<Vec<TaskNode>> {
    let items = node.as_seq()?;
    if items.is_empty() || !items.iter().all(|i| is_task(i) || dag_item(i).is_some()) {
        return None;
    }
    Some(
        items
            .iter()
            .map(|i| match dag_item(i) {
                Some(task) => {
                    let mut n = task_node(task);
                    n.after = i
                        .get("dependsOn")
                        .and_then(Node::as_seq)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|d| d.as_str().map(str::to_string))
                        .collect();
                    n
                }
                None => task_node(i),
            })
            .collect(),
    )
}

/// A task and, for a flowable, each property holding tasks as a branch.
fn task_node(node: &Node) -> TaskNode {
    let mut branches = Vec::new();
    for (key, value) in node.as_map().unwrap_or_default() {
        if let Some(tasks) = task_list(value) {
            branches.push(Branch {
                label: key.name.clone(),
                tasks,
            });
        } else if is_task(value) {
            branches.push(Branch {
                label: key.name.clone(),
                tasks: vec![task_node(value)],
            });
        } else if let Some(entries) = value.as_map() {
            // `cases` of a Switch: a list of tasks per value.
            for (k, v) in entries {
                if let Some(tasks) = task_list(v) {
                    branches.push(Branch {
                        label: format!("{}: {}", key.name, k.name),
                        tasks,
                    });
                }
            }
        }
    }
    TaskNode {
        id: node
            .get("id")
            .and_then(Node::as_str)
            .unwrap_or("")
            .to_string(),
        type_name: node
            .get("type")
            .and_then(Node::as_str)
            .unwrap_or("")
            .to_string(),
        branches,
        after: Vec::new(),
    }
}

/// The tree the task runs draw (each run's parent run names its parent task), in the order
/// they started.
pub(crate) fn from_task_runs(runs: &[Json]) -> Vec<Branch> {
    let by_run: HashMap<&str, &str> = runs
        .iter()
        .filter_map(|r| Some((r.get("id")?.as_str()?, r.get("taskId")?.as_str()?)))
        .collect();
    // Each task's parent task, and the order tasks first appear.
    let mut parent: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for r in runs {
        let Some(task) = r.get("taskId").and_then(Json::as_str) else {
            continue;
        };
        if !parent.contains_key(task) {
            let p = r
                .get("parentTaskRunId")
                .and_then(Json::as_str)
                .and_then(|p| by_run.get(p))
                .map(|s| s.to_string());
            parent.insert(task.to_string(), p);
            order.push(task.to_string());
        }
    }
    fn children(
        of: Option<&str>,
        order: &[String],
        parent: &BTreeMap<String, Option<String>>,
        depth: usize,
    ) -> Vec<TaskNode> {
        order
            .iter()
            .filter(|t| parent.get(*t).and_then(|p| p.as_deref()) == of)
            .map(|t| {
                let tasks = if depth < 64 {
                    children(Some(t), order, parent, depth + 1)
                } else {
                    Vec::new()
                };
                TaskNode {
                    id: t.clone(),
                    type_name: String::new(),
                    after: Vec::new(),
                    branches: if tasks.is_empty() {
                        Vec::new()
                    } else {
                        vec![Branch {
                            label: "tasks".to_string(),
                            tasks,
                        }]
                    },
                }
            })
            .collect()
    }
    vec![Branch {
        label: "tasks".to_string(),
        tasks: children(None, &order, &parent, 0),
    }]
}

/// What one task's runs did: how many ended in each state, and the subflow executions they
/// started.
#[derive(Default)]
pub(crate) struct Runs {
    pub(crate) states: BTreeMap<String, usize>,
    pub(crate) executions: Vec<String>,
}

impl Runs {
    /// The state a node is drawn in: the one that needs the user most.
    fn shown(&self) -> Option<&str> {
        const ORDER: &[&str] = &[
            "RUNNING",
            "KILLING",
            "RETRYING",
            "PAUSED",
            "CREATED",
            "FAILED",
            "KILLED",
            "WARNING",
            "CANCELLED",
            "SUCCESS",
            "SKIPPED",
        ];
        ORDER
            .iter()
            .find(|s| self.states.contains_key(**s))
            .copied()
            .or_else(|| self.states.keys().next().map(String::as_str))
    }
}

/// Each task's runs, from the record's task runs.
pub(crate) fn runs_by_task(runs: &[Json]) -> HashMap<String, Runs> {
    let mut out: HashMap<String, Runs> = HashMap::new();
    for r in runs {
        let Some(task) = r.get("taskId").and_then(Json::as_str) else {
            continue;
        };
        let state = r
            .pointer("/state/current")
            .and_then(Json::as_str)
            .unwrap_or("CREATED");
        let entry = out.entry(task.to_string()).or_default();
        *entry.states.entry(state.to_string()).or_default() += 1;
        if let Some(id) = r.pointer("/outputs/executionId").and_then(Json::as_str) {
            entry.executions.push(id.to_string());
        }
    }
    out
}

/// The topology as HTML; `runs` colours it (empty: the flow's own page, nothing ran).
pub(crate) fn render(roots: &[Branch], runs: &HashMap<String, Runs>) -> String {
    let mut out = String::from("<div class=\"topology\" id=\"topology\">");
    for b in roots {
        branch(b, runs, &mut out, 0);
    }
    out.push_str("</div>");
    out
}

fn branch(b: &Branch, runs: &HashMap<String, Runs>, out: &mut String, depth: usize) {
    let _ = write!(
        out,
        "<div class=\"branch\"><div class=\"branch-label\">{}</div><div class=\"branch-tasks\">",
        esc(&b.label)
    );
    for (i, t) in b.tasks.iter().enumerate() {
        if i > 0 {
            out.push_str("<span class=\"arrow\">→</span>");
        }
        node(t, runs, out, depth);
    }
    out.push_str("</div></div>");
}

fn node(t: &TaskNode, runs: &HashMap<String, Runs>, out: &mut String, depth: usize) {
    let r = runs.get(&t.id);
    let state = r.and_then(Runs::shown);
    let class = state.map_or("NOTRUN", state_class);
    let short_type = t.type_name.rsplit('.').next().unwrap_or("");
    let _ = write!(
        out,
        "<div class=\"node st-{class}\" data-task=\"{id}\" data-state=\"{}\"><a class=\"node-head\" href=\"#runs\" data-task=\"{id}\" title=\"{}\"><span class=\"node-id\">{id}</span><span class=\"node-type\">{}</span></a>",
        state.unwrap_or("NOT RUN"),
        esc(&t.type_name),
        esc(short_type),
        id = esc(&t.id),
    );
    if !t.after.is_empty() {
        let _ = write!(
            out,
            "<div class=\"node-after\">after {}</div>",
            esc(&t.after.join(", "))
        );
    }
    if let Some(r) = r {
        let total: usize = r.states.values().sum();
        out.push_str("<div class=\"node-runs\">");
        if total > 1 {
            let _ = write!(out, "<span class=\"node-count\">{total} runs</span>");
            for (s, n) in &r.states {
                let _ = write!(out, " {} {n}", badge(s));
            }
        } else if let Some(s) = state {
            out.push_str(&badge(s));
        }
        for id in r.executions.iter().take(20) {
            let _ = write!(
                out,
                " <a class=\"subflow-link\" href=\"/executions/{id}\">execution {id}</a>",
                id = esc(id)
            );
        }
        if r.executions.len() > 20 {
            let _ = write!(out, " and {} more", r.executions.len() - 20);
        }
        out.push_str("</div>");
    }
    if depth < 64 {
        for b in &t.branches {
            branch(b, runs, out, depth + 1);
        }
    }
    out.push_str("</div>");
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOW: &str = "id: f\nnamespace: n\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [a, b]\n    tasks:\n      - id: greet\n        type: io.kestra.plugin.core.log.Log\n        message: hi\n  - id: pick\n    type: io.kestra.plugin.core.flow.Switch\n    value: x\n    cases:\n      x:\n        - id: on_x\n          type: io.kestra.plugin.core.log.Log\n          message: x\n    defaults:\n      - id: other\n        type: io.kestra.plugin.core.log.Log\n        message: o\nerrors:\n  - id: alert\n    type: io.kestra.plugin.core.log.Log\n    message: failed\n";

    #[test]
    fn flowables_become_branches_and_nodes_take_their_runs_state() {
        let roots = from_source(FLOW, 0).unwrap();
        assert_eq!(roots.len(), 2);
        assert_eq!(roots[0].tasks[0].branches[0].tasks[0].id, "greet");
        let labels: Vec<&str> = roots[0].tasks[1]
            .branches
            .iter()
            .map(|b| b.label.as_str())
            .collect();
        assert_eq!(labels, ["cases: x", "defaults"]);
        let runs = vec![
            serde_json::json!({"id": "r1", "taskId": "each", "state": {"current": "FAILED"}}),
            serde_json::json!({"id": "r2", "taskId": "greet", "parentTaskRunId": "r1", "state": {"current": "SUCCESS"}}),
            serde_json::json!({"id": "r3", "taskId": "greet", "parentTaskRunId": "r1", "state": {"current": "FAILED"}}),
        ];
        let html = render(&roots, &runs_by_task(&runs));
        assert!(html.contains("data-task=\"greet\" data-state=\"FAILED\""));
        assert!(html.contains("2 runs"));
        assert!(html.contains("data-task=\"alert\" data-state=\"NOT RUN\""));
        let dag = "id: d\nnamespace: n\ntasks:\n  - id: dag\n    type: io.kestra.plugin.core.flow.Dag\n    tasks:\n      - task:\n          id: a\n          type: io.kestra.plugin.core.log.Log\n          message: a\n      - task:\n          id: b\n          type: io.kestra.plugin.core.log.Log\n          message: b\n        dependsOn: [a]\n";
        let roots = from_source(dag, 0).unwrap();
        let tasks = &roots[0].tasks[0].branches[0].tasks;
        assert_eq!(tasks[1].id, "b");
        assert_eq!(tasks[1].after, ["a"]);
        assert!(render(&roots, &HashMap::new()).contains("after a"));
        let tree = from_task_runs(&runs);
        assert_eq!(tree[0].tasks[0].id, "each");
        assert_eq!(tree[0].tasks[0].branches[0].tasks[0].id, "greet");
    }
}
