//! One execution: its summary, topology, Gantt chart, task runs with their outputs, and logs;
//! and the JSON view of the same parts that a running execution's page polls.

use crate::Ui;
use crate::html::{badge, between, date, esc, is_terminal, layout, seconds};
use crate::server::{Reply, ReplyBody, Req, percent_encode};
use crate::store::{self, LogLine, RecordProblem};
use hyper::StatusCode;
use serde_json::{Value as Json, json};
use std::fmt::Write;

/// The most log lines a page loads; the download has them all.
const PAGE_LOG_LINES: usize = 5000;

const LEVELS: &[&str] = &["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];

fn level_rank(level: &str) -> usize {
    LEVELS.iter().position(|l| *l == level).unwrap_or(2)
}

pub(crate) fn page(ui: &Ui, id: &str) -> Reply {
    let Some(found) = store::find(&ui.storage, id) else {
        return match ui.launcher.status(id) {
            Some(launched) => Reply::html(page_of_launch(id, &launched)),
            None => Reply::problem(
                StatusCode::NOT_FOUND,
                "No such execution",
                &format!(
                    "storage ({}) has no execution {id}: it may have been cleaned, or written to another --storage",
                    ui.storage.display()
                ),
            ),
        };
    };
    let (lines, count) = store::logs(&found.dir, 0, PAGE_LOG_LINES);
    let mut body = String::new();
    match store::record(&found.dir) {
        Ok(record) => {
            let ended = ended(&record);
            let _ = write!(
                body,
                "<div id=\"execution\" data-id=\"{}\" data-ended=\"{ended}\" data-log-count=\"{count}\">",
                esc(id)
            );
            let parts = Parts::of(ui, &record, &found.dir);
            let state = record
                .pointer("/state/current")
                .and_then(Json::as_str)
                .unwrap_or("");
            body.push_str(&crate::actions::section(ui, id, state, &record, &found.dir));
            let _ = write!(
                body,
                "<section id=\"summary-wrap\">{}</section><section><h2>Topology</h2><div id=\"topology-wrap\">{}</div></section><section><h2>Gantt</h2><div id=\"gantt-wrap\">{}</div></section><section id=\"runs\"><h2>Task runs</h2><p class=\"runs-filter\"><span id=\"runs-shown\">Every task</span> <button type=\"button\" id=\"runs-all\" hidden>Show every task</button></p><div id=\"runs-wrap\">{}</div></section>",
                parts.summary, parts.topology, parts.gantt, parts.runs
            );
        }
        Err(problem) => {
            let waiting = matches!(problem, RecordProblem::Missing);
            let _ = write!(
                body,
                "<div id=\"execution\" data-id=\"{}\" data-ended=\"{}\" data-log-count=\"{count}\" data-reload-on-record=\"true\"><h1>Execution {}</h1><p class=\"problem-text\" id=\"record-problem\">Execution {}: {}.</p>",
                esc(id),
                !waiting,
                esc(id),
                esc(id),
                esc(&problem.to_string())
            );
            if let Some(l) = ui.launcher.status(id) {
                body.push_str(&launch_status(&l));
            }
        }
    }
    body.push_str(&logs_section(id, &lines, count));
    body.push_str("</div>");
    Reply::html(layout(&format!("Execution {id}"), &body))
}

/// The page of a run started from the Run form that has no folder yet.
fn page_of_launch(id: &str, launched: &crate::Launched) -> String {
    let body = format!(
        "<div id=\"execution\" data-id=\"{id}\" data-ended=\"{}\" data-log-count=\"0\" data-reload-on-record=\"true\"><h1>Execution {id}</h1>{}</div>",
        launched.exit_code.is_some(),
        launch_status(launched),
        id = esc(id)
    );
    layout(&format!("Execution {id}"), &body)
}

fn launch_status(l: &crate::Launched) -> String {
    match l.exit_code {
        None => "<p class=\"notice\" id=\"launch-status\">Starting…</p>".to_string(),
        Some(code) => format!(
            "<p class=\"problem-text\" id=\"launch-status\">The run ended with exit code {code} before it wrote a record:</p><pre class=\"launch-output\">{}</pre>",
            esc(&l.output)
        ),
    }
}

fn ended(record: &Json) -> bool {
    record
        .pointer("/state/current")
        .and_then(Json::as_str)
        .is_some_and(is_terminal)
}

/// The parts of the page that change while an execution runs.
struct Parts {
    summary: String,
    topology: String,
    gantt: String,
    runs: String,
}

impl Parts {
    fn of(ui: &Ui, record: &Json, dir: &std::path::Path) -> Parts {
        let empty = Vec::new();
        let runs = record
            .get("taskRunList")
            .and_then(Json::as_array)
            .unwrap_or(&empty);
        let mut ordered: Vec<&Json> = runs.iter().collect();
        ordered.sort_by(|a, b| {
            let d = |r: &Json| {
                r.pointer("/state/startDate")
                    .and_then(Json::as_str)
                    .map(str::to_string)
            };
            d(a).cmp(&d(b))
        });
        let by_task = crate::topology::runs_by_task(runs);
        let namespace = record.get("namespace").and_then(Json::as_str).unwrap_or("");
        let flow_id = record.get("flowId").and_then(Json::as_str).unwrap_or("");
        let flow = ui.catalog.find(namespace, flow_id);
        let roots = flow
            .as_ref()
            .and_then(|f| crate::topology::from_source(&f.source, f.document))
            .unwrap_or_else(|| crate::topology::from_task_runs(runs));
        let id = record.get("id").and_then(Json::as_str).unwrap_or("");
        // A failed task run's error is shown in its row, from the log.
        let failed: std::collections::HashSet<&str> = runs
            .iter()
            .filter(|r| r.pointer("/state/current").and_then(Json::as_str) == Some("FAILED"))
            .filter_map(|r| r.get("id").and_then(Json::as_str))
            .collect();
        let errors = store::errors(dir, &failed);
        Parts {
            summary: summary(record, flow.is_some()),
            topology: crate::topology::render(&roots, &by_task),
            gantt: crate::gantt::render(record, &ordered),
            runs: task_runs(id, &ordered, &errors),
        }
    }
}

fn summary(record: &Json, flow_known: bool) -> String {
    let s = |p: &str| record.pointer(p).and_then(Json::as_str).unwrap_or("");
    let id = s("/id");
    let namespace = s("/namespace");
    let flow_id = s("/flowId");
    let state = s("/state/current");
    let start = s("/state/startDate");
    let end = record.pointer("/state/endDate").and_then(Json::as_str);
    let took = between(start, end).map(seconds).unwrap_or_default();
    let flow = if flow_known {
        format!(
            "<a href=\"/flows/{}/{}\">{}.{}</a>",
            percent_encode(namespace),
            percent_encode(flow_id),
            esc(namespace),
            esc(flow_id)
        )
    } else {
        format!("{}.{}", esc(namespace), esc(flow_id))
    };
    let mut out = format!(
        "<h1>Execution <span id=\"execution-id\">{}</span> {}</h1><dl class=\"facts\"><dt>Flow</dt><dd>{flow}</dd><dt>Start</dt><dd>{}</dd><dt>End</dt><dd>{}</dd><dt>Duration</dt><dd id=\"duration\">{took}{}</dd>",
        esc(id),
        badge(state),
        esc(&date(start)),
        end.map(date)
            .map(|d| esc(&d))
            .unwrap_or_else(|| "-".to_string()),
        if end.is_none() { " so far" } else { "" },
    );
    if let Some(labels) = record
        .get("labels")
        .and_then(Json::as_array)
        .filter(|l| !l.is_empty())
    {
        out.push_str("<dt>Labels</dt><dd>");
        for l in labels {
            let _ = write!(
                out,
                "<span class=\"label\">{}: {}</span> ",
                esc(l.get("key").and_then(Json::as_str).unwrap_or("")),
                esc(&plain(l.get("value").unwrap_or(&Json::Null)))
            );
        }
        out.push_str("</dd>");
    }
    out.push_str("</dl>");
    out.push_str(&metrics(record));
    for (key, title) in [
        ("inputs", "Inputs"),
        ("outputs", "Flow outputs"),
        ("trigger", "Trigger"),
    ] {
        if let Some(v) = record
            .get(key)
            .filter(|v| v.as_object().is_some_and(|m| !m.is_empty()))
        {
            let _ = write!(
                out,
                "<div class=\"values\" id=\"{key}\"><h3>{title}</h3>{}</div>",
                values(id, v, 0)
            );
        }
    }
    out
}

/// A JSON value as text: strings without their quotes.
/// The metrics tasks reported (Kestra's counters and timers), one row each.
fn metrics(record: &Json) -> String {
    let Some(entries) = record
        .get("metrics")
        .and_then(Json::as_array)
        .filter(|m| !m.is_empty())
    else {
        return String::new();
    };
    let mut out = String::from(
        "<div class=\"values\" id=\"metrics\"><h3>Metrics</h3><table class=\"metrics\"><thead><tr><th>Task</th><th>Name</th><th>Type</th><th>Value</th><th>Tags</th></tr></thead><tbody>",
    );
    for m in entries.iter().take(1000) {
        let s = |k: &str| m.get(k).and_then(Json::as_str).unwrap_or("");
        let value = match (s("type"), m.get("value").and_then(Json::as_f64)) {
            (_, None) => String::new(),
            ("timer", Some(v)) => seconds(v),
            (_, Some(v)) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
            (_, Some(v)) => v.to_string(),
        };
        let tags = m
            .get("tags")
            .and_then(Json::as_object)
            .map(|t| {
                t.iter()
                    .map(|(k, v)| format!("{k}={}", plain(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        let _ = write!(
            out,
            "<tr class=\"metric\" data-name=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td class=\"metric-value\">{}</td><td>{}</td></tr>",
            esc(s("name")),
            esc(s("taskId")),
            esc(s("name")),
            esc(s("type")),
            esc(&value),
            esc(&tags)
        );
    }
    out.push_str("</tbody></table></div>");
    out
}

fn plain(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Outputs and inputs as a definition list; a `kestra://` file gets a preview link.
pub(crate) fn values(execution: &str, v: &Json, depth: usize) -> String {
    match v {
        Json::Object(m) if depth < 3 && !m.is_empty() => {
            let mut out = String::from("<dl class=\"outputs\">");
            for (k, v) in m {
                let _ = write!(
                    out,
                    "<dt>{}</dt><dd>{}</dd>",
                    esc(k),
                    values(execution, v, depth + 1)
                );
            }
            out.push_str("</dl>");
            out
        }
        // HTTP headers and the like: a value of short strings reads as one line.
        Json::Array(items)
            if !items.is_empty()
                && items.len() <= 20
                && items.iter().all(|i| {
                    i.as_str().is_some_and(|s| {
                        !s.contains('\n') && s.len() < 200 && !s.starts_with("kestra://")
                    })
                }) =>
        {
            format!(
                "<code>{}</code>",
                esc(&items
                    .iter()
                    .filter_map(Json::as_str)
                    .collect::<Vec<_>>()
                    .join(", "))
            )
        }
        Json::Array(items)
            if depth < 3
                && items
                    .iter()
                    .all(|i| i.as_str().is_some_and(|s| s.starts_with("kestra://")))
                && !items.is_empty() =>
        {
            items
                .iter()
                .map(|i| values(execution, i, depth + 1))
                .collect::<Vec<_>>()
                .join("<br>")
        }
        Json::String(s) if s.starts_with("kestra://") => format!(
            "<code>{}</code> <a class=\"preview-link\" href=\"/executions/{}/file?uri={}\">preview</a>",
            esc(s),
            esc(execution),
            percent_encode(s)
        ),
        Json::String(s) if !s.contains('\n') && s.len() < 200 => format!("<code>{}</code>", esc(s)),
        Json::String(s) => format!("<pre>{}</pre>", esc(s)),
        Json::Object(_) | Json::Array(_) => format!(
            "<pre>{}</pre>",
            esc(&serde_json::to_string_pretty(v).unwrap_or_default())
        ),
        other => format!("<code>{}</code>", esc(&other.to_string())),
    }
}

fn task_runs(
    execution: &str,
    runs: &[&Json],
    errors: &std::collections::HashMap<String, String>,
) -> String {
    let mut out = String::with_capacity(runs.len() * 600);
    out.push_str("<table class=\"taskruns\" id=\"taskruns\"><thead><tr><th>Task</th><th>Value</th><th>State</th><th>Start</th><th>Duration</th><th>Attempts</th><th>Outputs</th></tr></thead><tbody>");
    for r in runs {
        let s = |p: &str| r.pointer(p).and_then(Json::as_str);
        let task = s("/taskId").unwrap_or("");
        let start = s("/state/startDate").unwrap_or("");
        let took = between(start, s("/state/endDate"))
            .map(seconds)
            .unwrap_or_default();
        let attempts = r
            .get("attempts")
            .and_then(Json::as_array)
            .map_or(0, Vec::len);
        let mut outputs = s("/id")
            .and_then(|id| errors.get(id))
            .map(|e| format!("<pre class=\"task-error\">{}</pre>", esc(e)))
            .unwrap_or_default();
        if let Some(o) = r
            .get("outputs")
            .filter(|o| o.as_object().is_some_and(|m| !m.is_empty()))
        {
            outputs.push_str(&values(execution, o, 0));
        }
        let _ = write!(
            out,
            "<tr class=\"taskrun\" id=\"tr-{}\" data-task=\"{}\" data-state=\"{}\"><td class=\"task-id\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{took}</td><td>{attempts}</td><td class=\"task-outputs\">{outputs}</td></tr>",
            esc(s("/id").unwrap_or("")),
            esc(task),
            esc(s("/state/current").unwrap_or("")),
            esc(task),
            esc(&r.get("value").map(plain).unwrap_or_default()),
            badge(s("/state/current").unwrap_or("CREATED")),
            esc(&date(start)),
        );
    }
    out.push_str("</tbody></table>");
    out
}

fn logs_section(id: &str, lines: &[LogLine], count: usize) -> String {
    let mut out = String::from(
        "<section id=\"logs\"><h2>Logs</h2><div class=\"log-controls\"><label>Level <select id=\"log-level\">",
    );
    for l in LEVELS {
        out.push_str(&crate::html::option(l, l, *l == "TRACE"));
    }
    let _ = write!(
        out,
        "</select></label> <label>Search <input type=\"search\" id=\"log-search\" placeholder=\"text in a line\"></label> <span id=\"log-shown\"></span> <a id=\"log-download\" href=\"/executions/{}/logs.txt\">Download the log</a></div>",
        esc(id)
    );
    if count > lines.len() {
        let _ = write!(
            out,
            "<p class=\"notice\">The last {} of {count} lines; the download has them all.</p>",
            lines.len()
        );
    }
    out.push_str("<table class=\"logs\" id=\"log-table\"><tbody id=\"log-rows\">");
    for l in lines {
        out.push_str(&log_row(l));
    }
    out.push_str("</tbody></table></section>");
    out
}

/// A log message, escaped, with Kestra's `[[link execution=...]]` markup as a link to that
/// execution's page.
fn message_html(message: &str) -> String {
    runner_model::link_parts(message)
        .into_iter()
        .map(|part| match part {
            runner_model::LinkPart::Text(t) => esc(t),
            runner_model::LinkPart::Execution {
                id,
                namespace,
                flow_id,
            } => format!(
                "<a class=\"execution-link\" href=\"/executions/{}\">{}.{} {}</a>",
                esc(id),
                esc(namespace),
                esc(flow_id),
                esc(id)
            ),
        })
        .collect()
}

fn log_row(l: &LogLine) -> String {
    format!(
        "<tr class=\"log lv-{lv}\" data-rank=\"{}\" data-taskrun=\"{}\"><td class=\"log-time\">{}</td><td class=\"log-level\">{lv}</td><td class=\"log-task\">{}</td><td class=\"log-message\">{}</td></tr>",
        level_rank(&l.level),
        esc(l.taskrun_id.as_deref().unwrap_or("")),
        esc(&date(&l.timestamp)),
        esc(l.task_id.as_deref().unwrap_or("")),
        message_html(&l.message),
        lv = esc(LEVELS.get(level_rank(&l.level)).copied().unwrap_or("INFO")),
    )
}

/// What a running execution's page polls: the parts again, and the log lines after `logs`.
pub(crate) fn live(ui: &Ui, id: &str, req: &Req) -> Reply {
    let seen: usize = req.param("logs").and_then(|n| n.parse().ok()).unwrap_or(0);
    let Some(found) = store::find(&ui.storage, id) else {
        let launched = ui.launcher.status(id);
        return Reply::json(&json!({
            "record": false,
            "ended": launched.as_ref().is_none_or(|l| l.exit_code.is_some()),
            "launch": launched.map(|l| launch_status(&l)),
        }));
    };
    let (lines, count) = store::logs(&found.dir, seen, PAGE_LOG_LINES);
    let rows: Vec<String> = lines.iter().map(log_row).collect();
    match store::record(&found.dir) {
        Ok(record) => {
            let parts = Parts::of(ui, &record, &found.dir);
            let state = record
                .pointer("/state/current")
                .and_then(Json::as_str)
                .unwrap_or("");
            Reply::json(&json!({
                "record": true,
                "actions": crate::actions::section(ui, id, state, &record, &found.dir),
                "state": record.pointer("/state/current"),
                "ended": ended(&record),
                "summary": parts.summary,
                "topology": parts.topology,
                "gantt": parts.gantt,
                "runs": parts.runs,
                "logs": rows,
                "logCount": count,
            }))
        }
        Err(problem) => Reply::json(&json!({
            "record": false,
            "ended": !matches!(problem, RecordProblem::Missing),
            "problem": problem.to_string(),
            "logs": rows,
            "logCount": count,
        })),
    }
}

/// The whole log as text, filtered like the page (`level`, `q`), streamed.
pub(crate) fn log_download(ui: &Ui, id: &str, req: &Req) -> Reply {
    let Some(found) = store::find(&ui.storage, id) else {
        return Reply::problem(
            StatusCode::NOT_FOUND,
            "No such execution",
            &format!("storage has no execution {id}"),
        );
    };
    let min = req.param("level").map_or(0, level_rank);
    let needle = req.param("q").map(str::to_lowercase);
    let path = found.dir.join("logs.jsonl");
    let mut reply = Reply::of(StatusCode::OK, "text/plain; charset=utf-8", Vec::new());
    reply.headers.push((
        "content-disposition",
        format!("attachment; filename=\"{}.log\"", id),
    ));
    reply.body = ReplyBody::Stream(Box::new(move |out| {
        use std::io::BufRead;
        let Ok(file) = std::fs::File::open(&path) else {
            return Ok(());
        };
        for line in std::io::BufReader::new(file).split(b'\n') {
            let line = line?;
            let l = store::LogLine::parse_bytes(&line);
            if level_rank(&l.level) < min {
                continue;
            }
            let text = format!(
                "{} {:<5} {}{}\n",
                l.timestamp,
                l.level,
                l.task_id
                    .as_deref()
                    .map(|t| format!("[{t}] "))
                    .unwrap_or_default(),
                l.message
            );
            if needle
                .as_ref()
                .is_some_and(|n| !text.to_lowercase().contains(n))
            {
                continue;
            }
            out.write_all(text.as_bytes())?;
        }
        Ok(())
    }));
    reply
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_subflow_link_in_a_log_line_is_a_link_to_its_execution() {
        let html = super::message_html(
            r#"Subflow execution [[link execution="abc" flowId="child" namespace="co"]] started <b>"#,
        );
        assert_eq!(
            html,
            "Subflow execution <a class=\"execution-link\" href=\"/executions/abc\">co.child abc</a> started &lt;b&gt;"
        );
    }
}
