//! The list of executions: every one in storage, newest first, filtered by flow, namespace
//! and state.

use crate::Ui;
use crate::html::{badge, between, date, esc, layout, option, seconds};
use crate::server::{Reply, Req};
use crate::store;
use std::fmt::Write;

struct Row {
    id: String,
    namespace: String,
    flow_id: String,
    state: String,
    start: String,
    duration: Option<f64>,
    task_runs: usize,
    /// Why the record cannot be shown, for a folder without a readable one.
    problem: Option<String>,
}

pub(crate) fn list(ui: &Ui, req: &Req) -> Reply {
    let mut body = String::from("<h1>Executions</h1>");
    if !ui.storage.is_dir() {
        let _ = write!(
            body,
            "<p class=\"notice\" id=\"no-storage\">The storage folder <code>{}</code> does not exist yet: run a flow (<code>runner run FLOW --storage {}</code>) and its execution appears here.</p>",
            esc(&ui.storage.display().to_string()),
            esc(&ui.storage.display().to_string())
        );
        return Reply::html(layout("Executions", &body));
    }
    let mut rows: Vec<Row> = store::execution_dirs(&ui.storage)
        .into_iter()
        .map(|e| match store::summary(&e.dir) {
            Ok(s) => Row {
                id: if s.id.is_empty() { e.id } else { s.id },
                namespace: s.namespace,
                flow_id: s.flow_id,
                duration: s
                    .state
                    .start
                    .as_deref()
                    .and_then(|st| between(st, s.state.end.as_deref())),
                start: s.state.start.unwrap_or_default(),
                state: s.state.current,
                task_runs: s.task_runs.len(),
                problem: None,
            },
            Err(problem) => {
                // The folder says which flow it belongs to: .../{flow}/executions/{id}.
                let flow = e
                    .dir
                    .parent()
                    .and_then(|p| p.parent())
                    .and_then(|p| p.file_name())
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let modified = std::fs::metadata(&e.dir)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| jiff::Timestamp::try_from(t).ok())
                    .map(|t| t.to_string())
                    .unwrap_or_default();
                Row {
                    id: e.id,
                    namespace: String::new(),
                    flow_id: flow,
                    state: String::new(),
                    start: modified,
                    duration: None,
                    task_runs: 0,
                    problem: Some(problem.to_string()),
                }
            }
        })
        .collect();
    rows.sort_by(|a, b| b.start.cmp(&a.start).then_with(|| a.id.cmp(&b.id)));

    let flow = req.param("flow");
    let namespace = req.param("namespace");
    let state = req.param("state");
    let mut flows: Vec<&str> = rows.iter().map(|r| r.flow_id.as_str()).collect();
    flows.sort_unstable();
    flows.dedup();
    let mut namespaces: Vec<&str> = rows
        .iter()
        .map(|r| r.namespace.as_str())
        .filter(|n| !n.is_empty())
        .collect();
    namespaces.sort_unstable();
    namespaces.dedup();
    body.push_str("<form class=\"filters\" method=\"get\" action=\"/executions\">");
    let select = |name: &str, label: &str, values: &[&str], chosen: Option<&str>| {
        let mut s = format!(
            "<label>{label} <select name=\"{name}\" id=\"filter-{name}\"><option value=\"\">all</option>"
        );
        for v in values {
            s.push_str(&option(v, v, chosen == Some(*v)));
        }
        s.push_str("</select></label>");
        s
    };
    body.push_str(&select("namespace", "Namespace", &namespaces, namespace));
    body.push_str(&select("flow", "Flow", &flows, flow));
    body.push_str(&select("state", "State", crate::html::STATES, state));
    body.push_str("<button type=\"submit\" id=\"apply-filters\">Filter</button></form>");

    let shown: Vec<&Row> = rows
        .iter()
        .filter(|r| flow.is_none_or(|f| r.flow_id == f))
        .filter(|r| namespace.is_none_or(|n| r.namespace == n))
        .filter(|r| state.is_none_or(|s| r.state == s))
        .collect();
    let _ = write!(
        body,
        "<p class=\"count\" id=\"execution-count\">{} of {} executions</p>",
        shown.len(),
        rows.len()
    );
    if rows.is_empty() {
        let _ = write!(
            body,
            "<p class=\"notice\">No execution in <code>{}</code> yet: run a flow, or start one from <a href=\"/flows\">Flows</a>.</p>",
            esc(&ui.storage.display().to_string())
        );
    }
    body.push_str("<table class=\"executions\" id=\"executions\"><thead><tr><th>Id</th><th>Namespace</th><th>Flow</th><th>State</th><th>Start</th><th>Duration</th><th>Task runs</th></tr></thead><tbody>");
    for r in shown {
        let state = match &r.problem {
            Some(p) => format!("<span class=\"problem-text\">{}</span>", esc(p)),
            None => badge(&r.state),
        };
        let _ = write!(
            body,
            "<tr class=\"execution\" data-id=\"{id}\"><td><a href=\"/executions/{id}\">{id}</a></td><td>{}</td><td>{}</td><td>{state}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.namespace),
            esc(&r.flow_id),
            esc(&date(&r.start)),
            r.duration.map(seconds).unwrap_or_default(),
            r.task_runs,
            id = esc(&r.id),
        );
    }
    body.push_str("</tbody></table>");
    Reply::html(layout("Executions", &body))
}
