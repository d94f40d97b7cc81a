//! `io.kestra.plugin.core.metric.Publish`: counters and timers kept in the execution record.

use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::{Map, Value as Json};

pub(crate) const PUBLISH: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.metric.Publish",
    aliases: &[],
    doc: "Publish metrics (`counter` with a number, `timer` with an ISO-8601 duration), each with a `name` and `tags`; they are kept in the record's `metrics`.",
    example: "id: metrics\ntype: io.kestra.plugin.core.metric.Publish\nmetrics:\n  - type: counter\n    name: rows\n    value: 42\n    tags:\n      table: users",
    shape: runnable::<Publish>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub(crate) struct Publish {
    /// The metrics: `{type: counter|timer, name, value, tags}`.
    #[prop(type = "list of {type: counter|timer, name, value, tags}")]
    metrics: Property<Json>,
}

impl RunnableTask for Publish {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let Json::Array(items) = ctx.render(&self.metrics, "metrics")? else {
                return Err(TaskError::property("metrics", "a list of metrics"));
            };
            for (i, m) in items.iter().enumerate() {
                let at = format!("metrics[{i}]");
                let name = m["name"]
                    .as_str()
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| TaskError::property(&at, "`name` is required"))?;
                let tags: Map<String, Json> = match &m["tags"] {
                    Json::Null => Map::new(),
                    Json::Object(t) => t
                        .iter()
                        .map(|(k, v)| {
                            let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                            (k.clone(), Json::String(text))
                        })
                        .collect(),
                    other => {
                        return Err(TaskError::property(
                            &at,
                            format!("`tags` must be a map, not `{other}`"),
                        ));
                    }
                };
                let (kind, value) = match m["type"].as_str() {
                    Some("counter") => {
                        let v = match &m["value"] {
                            Json::Number(n) => n.as_f64(),
                            Json::String(s) => s.trim().parse().ok(),
                            _ => None,
                        }
                        .ok_or_else(|| {
                            TaskError::property(&at, "a counter's `value` is a number")
                        })?;
                        (MetricKind::Counter, v)
                    }
                    Some("timer") => {
                        let text = m["value"].as_str().unwrap_or_default();
                        let d = runner_model::parse_duration(text).ok_or_else(|| {
                            TaskError::property(
                                &at,
                                format!(
                                    "a timer's `value` is an ISO-8601 duration (PT1.5S), not `{}`",
                                    m["value"]
                                ),
                            )
                        })?;
                        (MetricKind::Timer, d.as_secs_f64())
                    }
                    other => {
                        return Err(TaskError::property(
                            &at,
                            format!(
                                "`type` is counter or timer, not `{}`",
                                other.unwrap_or("nothing")
                            ),
                        ));
                    }
                };
                ctx.metric(Metric {
                    name: name.to_string(),
                    kind,
                    value,
                    tags,
                });
            }
            Ok(Outputs::new())
        })
    }
}
