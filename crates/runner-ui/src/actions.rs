//! What a person can do to an execution from its page, as Kestra's UI offers it: resume a
//! PAUSED one (with its Pause's `onResume` inputs), kill a PAUSED or running one, restart a
//! FAILED or KILLED one. The binary carries them out ([`crate::Launcher::go_on`]).

use crate::Ui;
use crate::html::esc;
use crate::server::Reply;
use hyper::StatusCode;
use runner_model::Node;
use serde_json::{Value as Json, json};
use std::path::Path;

/// What is asked of an execution.
#[derive(Clone, Debug)]
pub enum Action {
    /// Past its Pause, with these `onResume` inputs (a FILE as a local path).
    Resume(serde_json::Map<String, Json>),
    Restart,
    Kill,
}

/// The buttons (and the Resume form) an execution in `state` offers.
pub(crate) fn section(ui: &Ui, id: &str, state: &str, record: &Json, dir: &Path) -> String {
    let button = |action: &str, label: &str| {
        format!(
            "<button type=\"button\" class=\"action\" data-action=\"{action}\" data-execution=\"{}\">{label}</button>",
            esc(id)
        )
    };
    let mut out = format!(
        "<section id=\"actions\" class=\"actions\" data-state=\"{}\" data-execution=\"{}\">",
        esc(state),
        esc(id)
    );
    // A subflow's execution goes on, or ends, with its parent's.
    if let Some(parent) = record
        .pointer("/trigger/variables/executionId")
        .and_then(Json::as_str)
    {
        out.push_str(&format!(
            "<p class=\"notice\" id=\"subflow-of\">A subflow of <a href=\"/executions/{p}\">execution {p}</a>: resume, kill or restart it there.</p></section>",
            p = esc(parent)
        ));
        return out;
    }
    match state {
        "PAUSED" => {
            out.push_str(&format!(
                "<form id=\"resume-form\" data-execution=\"{}\"><h2>Resume</h2>",
                esc(id)
            ));
            for input in &paused_inputs(&ui.storage, record, dir) {
                out.push_str(&crate::flows::input_widget(input));
            }
            out.push_str("<p><button type=\"submit\" id=\"resume-button\">Resume</button> ");
            out.push_str(&button("kill", "Kill"));
            out.push_str("</p></form>");
        }
        "CREATED" | "RUNNING" | "RESTARTED" | "RETRYING" => out.push_str(&button("kill", "Kill")),
        "FAILED" | "KILLED" => out.push_str(&button("restart", "Restart")),
        // Nothing to do; the state is still watched for.
        _ => return format!("{out}</section>"),
    }
    out.push_str(" <span id=\"action-status\" role=\"status\"></span></section>");
    out
}

/// `POST /executions/{id}/{resume|restart|kill}`.
pub(crate) fn act(ui: &Ui, id: &str, action: &str, body: &[u8]) -> Reply {
    let Some(found) = crate::store::find(&ui.storage, id) else {
        return Reply::json_error(StatusCode::NOT_FOUND, &format!("no execution {id}"));
    };
    let action = match action {
        "resume" => {
            let record = crate::store::record(&found.dir).ok();
            let files = record
                .as_ref()
                .map(|r| crate::flows::file_ids(&paused_inputs(&ui.storage, r, &found.dir)))
                .unwrap_or_default();
            match crate::flows::form_inputs(ui, body, &files) {
                Ok(inputs) => Action::Resume(inputs),
                Err(reply) => return reply,
            }
        }
        "restart" => Action::Restart,
        "kill" => Action::Kill,
        other => {
            return Reply::json_error(StatusCode::NOT_FOUND, &format!("no action {other}"));
        }
    };
    match ui.launcher.go_on(id, &action) {
        Ok(()) => Reply::json(&json!({"url": format!("/executions/{id}")})),
        Err(e) => Reply::json_error(StatusCode::BAD_REQUEST, &e),
    }
}

/// The `onResume` inputs of the Pauses that wait, from the flow the execution runs (the
/// copy kept beside its record); a Subflow that waits answers for its child's Pause, found
/// through the child's record. Each Pause once, however many of its runs wait.
fn paused_inputs(storage: &Path, record: &Json, dir: &Path) -> Vec<Node> {
    let mut out = Vec::new();
    collect_paused_inputs(storage, record, dir, &mut Vec::new(), &mut out, 0);
    out
}

/// How deep subflows that wait are followed (Kestra's own limit on nesting is lower).
const MAX_CHILDREN: usize = 10;

fn collect_paused_inputs(
    storage: &Path,
    record: &Json,
    dir: &Path,
    seen: &mut Vec<String>,
    out: &mut Vec<Node>,
    depth: usize,
) {
    let paused: Vec<&Json> = record
        .get("taskRunList")
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|r| r.pointer("/state/current").and_then(Json::as_str) == Some("PAUSED"))
        .collect();
    let doc = std::fs::read_to_string(dir.join("flow.source"))
        .ok()
        .and_then(|t| runner_model::load_str(&t).ok())
        .and_then(|d| d.into_iter().find(|d| !d.is_null()));
    for run in paused {
        let Some(task) = run.get("taskId").and_then(Json::as_str) else {
            continue;
        };
        let found = doc.as_ref().and_then(|d| find_task(d, task));
        if let Some(inputs) = found.and_then(|t| t.get("onResume")).and_then(Node::as_seq) {
            let key = format!("{}/{task}", dir.display());
            if !seen.contains(&key) {
                seen.push(key);
                out.extend(inputs.iter().cloned());
            }
            continue;
        }
        // A Subflow that waits: its child's Pause is where the answers go.
        if let Some(child) = run.pointer("/outputs/executionId").and_then(Json::as_str)
            && depth < MAX_CHILDREN
            && let Some(found) = crate::store::find(storage, child)
            && let Ok(child_record) = crate::store::record(&found.dir)
        {
            collect_paused_inputs(storage, &child_record, &found.dir, seen, out, depth + 1);
        }
    }
}

/// The task `id` anywhere in a flow document (bounded by the document's own depth); a
/// flow's inputs and triggers have ids and types too, and are no task.
fn find_task<'n>(node: &'n Node, id: &str) -> Option<&'n Node> {
    if let Some(map) = node.as_map() {
        if node.get("id").and_then(Node::as_str) == Some(id) && node.get("type").is_some() {
            return Some(node);
        }
        return map
            .iter()
            .filter(|(k, _)| k.name != "inputs" && k.name != "triggers")
            .find_map(|(_, v)| find_task(v, id));
    }
    node.as_seq()?.iter().find_map(|n| find_task(n, id))
}
