//! The execution summary `MailExecution` and `SendGridMailExecution` send: the lines of
//! Kestra's mail template (a header `[ns] flow ➛ STATE`, what failed or that it succeeded and
//! after how long, then Namespace, Flow, Execution, Status and Final task ID), as HTML, built
//! from the execution as it stands (`ctx.execution_record()`, masked).

use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::Map;

/// The properties every execution mail adds to its sender's.
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExecutionProps {
    /// The execution to describe (default `{{ execution.id }}`): only the current one is known
    /// to a local run.
    execution_id: Option<Property<String>>,
    /// Fields added to the summary, name to value.
    custom_fields: Option<Property<Map<String, Json>>>,
    /// A message shown above the summary.
    custom_message: Option<Property<String>>,
    /// Kestra's template variables; runner builds the summary itself, so it is ignored.
    template_render_map: Option<Json>,
}

/// Which of Kestra's two templates: the mail one (`<code>` around the failed task, the final
/// task only when known) or SendGrid's (backticks, the final task line always).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavour {
    Mail,
    SendGrid,
}

/// What the summary says.
pub(crate) struct Summary {
    namespace: String,
    flow_id: String,
    id: String,
    state: String,
    duration: String,
    first_failed: Option<String>,
    last_task: Option<String>,
    custom_message: Option<String>,
    custom_fields: Map<String, Json>,
}

impl ExecutionProps {
    /// The summary of the current execution; `executionId` naming another is an error.
    pub(crate) fn summarize(&self, ctx: &RunContext) -> Result<Summary, TaskError> {
        let current = ctx.execution_id().to_string();
        let wanted = ctx
            .render_opt(&self.execution_id, "executionId")?
            .unwrap_or_else(|| current.clone());
        if wanted != current {
            return Err(TaskError::property(
                "executionId",
                format!(
                    "runner knows only the current execution ({current}), not `{wanted}`: a local run has no execution history"
                ),
            ));
        }
        if self.template_render_map.is_some() {
            ctx.log(
                Level::Warn,
                "templateRenderMap is ignored: runner builds the execution summary itself",
            );
        }
        let record = ctx.execution_record();
        let mut s = from_record(&record, jiff::Timestamp::now());
        s.custom_message = ctx.render_opt(&self.custom_message, "customMessage")?;
        s.custom_fields = ctx
            .render_opt(&self.custom_fields, "customFields")?
            .unwrap_or_default();
        Ok(s)
    }
}

fn from_record(record: &Json, now: jiff::Timestamp) -> Summary {
    let text = |v: &Json| v.as_str().unwrap_or_default().to_string();
    let runs = record["taskRunList"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let first_failed = runs
        .iter()
        .find(|t| t["state"]["current"] == "FAILED")
        .map(|t| text(&t["taskId"]));
    let wanted = if first_failed.is_some() {
        "FAILED"
    } else {
        "SUCCESS"
    };
    let last_task = runs
        .iter()
        .rev()
        .find(|t| t["state"]["current"] == wanted)
        .map(|t| text(&t["taskId"]));
    let duration = record["state"]["startDate"]
        .as_str()
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        .map(|start| hms(now.duration_since(start).as_millis().max(0) as u64))
        .unwrap_or_else(|| hms(0));
    Summary {
        namespace: text(&record["namespace"]),
        flow_id: text(&record["flowId"]),
        id: text(&record["id"]),
        state: text(&record["state"]["current"]),
        duration,
        first_failed,
        last_task,
        custom_message: None,
        custom_fields: Map::new(),
    }
}

/// A duration as `HH:mm:ss.SSS` (Kestra's `DurationFormatUtils.formatDurationHMS`).
fn hms(millis: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        millis / 3_600_000,
        millis / 60_000 % 60,
        millis / 1000 % 60,
        millis % 1000
    )
}

/// Text made safe inside HTML.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The body text of the text part: Kestra's text template says only this.
pub(crate) const PLAIN: &str = "Please view this email in a modern email client";

impl Summary {
    /// The title: `[namespace] flow ➛ STATE`.
    pub(crate) fn title(&self) -> String {
        format!("[{}] {} ➛ {}", self.namespace, self.flow_id, self.state)
    }

    /// The HTML body.
    pub(crate) fn html(&self, flavour: Flavour) -> String {
        let color = match self.state.as_str() {
            "SUCCESS" => "#2EB886",
            "WARNING" => "#DAA038",
            _ => "#A30200",
        };
        let mut html = String::from(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n<body style=\"font-family: sans-serif; color: #222;\">\n",
        );
        html.push_str(&format!(
            "<h2 style=\"color: {color};\">{}</h2>\n",
            escape(&self.title())
        ));
        if let Some(m) = &self.custom_message {
            html.push_str(&format!("<p>{}</p>\n", escape(m)));
        }
        let outcome = match &self.first_failed {
            Some(id) => match flavour {
                Flavour::Mail => format!(
                    "Failed on task <code>{}</code> after {}",
                    escape(id),
                    self.duration
                ),
                Flavour::SendGrid => {
                    format!("Failed on task `{}` after {}", escape(id), self.duration)
                }
            },
            None => format!("Succeeded after {}", self.duration),
        };
        html.push_str(&format!("<p>{outcome}</p>\n"));
        for (name, value) in &self.custom_fields {
            let value = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_string);
            html.push_str(&format!(
                "<p><strong>{} :</strong> {}</p>\n",
                escape(name),
                escape(&value)
            ));
        }
        let mut lines = vec![
            ("Namespace", self.namespace.clone()),
            ("Flow", self.flow_id.clone()),
            ("Execution", self.id.clone()),
            ("Status", self.state.clone()),
        ];
        match (&self.last_task, flavour) {
            (Some(t), _) => lines.push(("Final task ID", t.clone())),
            (None, Flavour::SendGrid) => lines.push(("Final task ID", String::new())),
            (None, Flavour::Mail) => {}
        }
        html.push_str("<p>\n");
        for (name, value) in lines {
            html.push_str(&format!(
                "<strong>{name}:</strong> {}<br>\n",
                escape(&value)
            ));
        }
        html.push_str("</p>\n</body></html>\n");
        html
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_failed_execution_names_its_first_failed_task() {
        let record = json!({
            "id": "abc", "namespace": "company.team", "flowId": "load",
            "state": {"current": "FAILED", "startDate": "2026-01-01T00:00:00Z"},
            "taskRunList": [
                {"taskId": "extract", "state": {"current": "SUCCESS"}},
                {"taskId": "transform", "state": {"current": "FAILED"}},
                {"taskId": "mail", "state": {"current": "RUNNING"}}
            ]
        });
        let now: jiff::Timestamp = "2026-01-01T01:02:03.456Z".parse().unwrap();
        let s = from_record(&record, now);
        assert_eq!(s.title(), "[company.team] load ➛ FAILED");
        let html = s.html(Flavour::Mail);
        assert!(
            html.contains("Failed on task <code>transform</code> after 01:02:03.456"),
            "{html}"
        );
        assert!(html.contains("<strong>Final task ID:</strong> transform<br>"));
        assert!(
            s.html(Flavour::SendGrid)
                .contains("Failed on task `transform` after")
        );
    }

    #[test]
    fn a_running_execution_succeeded_so_far_and_text_is_escaped() {
        let record = json!({
            "id": "abc", "namespace": "n", "flowId": "<f>",
            "state": {"current": "RUNNING", "startDate": "2026-01-01T00:00:00Z"},
            "taskRunList": [{"taskId": "mail", "state": {"current": "RUNNING"}}]
        });
        let s = from_record(&record, "2026-01-01T00:00:00.850Z".parse().unwrap());
        let html = s.html(Flavour::Mail);
        assert!(html.contains("Succeeded after 00:00:00.850"), "{html}");
        assert!(html.contains("&lt;f&gt;"));
        assert!(!html.contains("Final task ID"), "no final task yet: {html}");
        assert!(s.html(Flavour::SendGrid).contains("Final task ID"));
    }
}
