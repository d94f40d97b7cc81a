//! The Gantt chart: one row per task run on the execution's time axis, its attempts drawn as
//! segments of the bar.

use crate::html::{between, esc, seconds, state_class, timestamp};
use serde_json::Value as Json;
use std::fmt::Write;

/// `runs` in the order they started, placed between the execution's start and its end (or
/// now, while it runs).
pub(crate) fn render(record: &Json, runs: &[&Json]) -> String {
    let start = record
        .pointer("/state/startDate")
        .and_then(Json::as_str)
        .and_then(timestamp);
    let end = record.pointer("/state/endDate").and_then(Json::as_str);
    let Some(start) = start else {
        return "<div class=\"gantt\" id=\"gantt\"><p class=\"notice\">The execution has no start date yet.</p></div>".to_string();
    };
    let start_text = start.to_string();
    let total = between(&start_text, end).unwrap_or(0.0).max(1e-6);
    let at = |d: Option<&str>| {
        d.and_then(|d| between(&start_text, Some(d)))
            .map(|s| (s / total * 100.0).clamp(0.0, 100.0))
    };
    let mut out = String::with_capacity(runs.len() * 400);
    let _ = write!(
        out,
        "<div class=\"gantt\" id=\"gantt\"><div class=\"gantt-axis\"><span>0</span><span>{}</span></div>",
        seconds(total)
    );
    for r in runs {
        let s = |p: &str| r.pointer(p).and_then(Json::as_str);
        let task = s("/taskId").unwrap_or("");
        let value = r.get("value").map(|v| match v {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        });
        let state = s("/state/current").unwrap_or("CREATED");
        let left = at(s("/state/startDate")).unwrap_or(0.0);
        let right = at(s("/state/endDate")).unwrap_or(100.0);
        let took = s("/state/startDate").and_then(|st| between(st, s("/state/endDate")));
        let label = match &value {
            Some(v) => format!("{task} [{v}]"),
            None => task.to_string(),
        };
        let _ = write!(
            out,
            "<a class=\"gantt-row\" href=\"#tr-{id}\" data-task=\"{task}\"><span class=\"gantt-label\" title=\"{label}\">{label}</span><span class=\"gantt-track\"><span class=\"gantt-bar st-{}\" style=\"margin-left:{left:.3}%;width:{:.3}%\" title=\"{} {}\">",
            state_class(state),
            (right - left).max(0.2),
            esc(state),
            took.map(seconds).unwrap_or_default(),
            id = esc(s("/id").unwrap_or("")),
            task = esc(task),
            label = esc(&label),
        );
        // Attempts as parts of the bar, each in its own state's colour.
        let attempts = r.get("attempts").and_then(Json::as_array);
        if let Some(attempts) = attempts.filter(|a| a.len() > 1) {
            let span = (right - left).max(1e-6);
            for a in attempts {
                let p = |x: &str| a.pointer(x).and_then(Json::as_str);
                let (Some(a0), a1) = (at(p("/state/startDate")), at(p("/state/endDate"))) else {
                    continue;
                };
                let a1 = a1.unwrap_or(right);
                let _ = write!(
                    out,
                    "<span class=\"gantt-attempt st-{}\" style=\"left:{:.3}%;width:{:.3}%\"></span>",
                    state_class(p("/state/current").unwrap_or("")),
                    ((a0 - left) / span * 100.0).clamp(0.0, 100.0),
                    ((a1 - a0) / span * 100.0).clamp(0.5, 100.0),
                );
            }
        }
        let _ = write!(
            out,
            "</span></span><span class=\"gantt-took\">{}</span></a>",
            took.map(seconds).unwrap_or_default()
        );
    }
    out.push_str("</div>");
    out
}
