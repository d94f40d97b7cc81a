//! `io.kestra.plugin.core.execution.Labels`: labels added to the running execution.

use runner_core::control::ExecutionControl;
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::{Map, Value as Json};

pub(crate) const LABELS: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.execution.Labels",
    aliases: &["io.kestra.core.tasks.executions.Labels"],
    doc: "Add labels to the current execution: a map, a list of `{key, value}`, or a JSON string of either.",
    example: "id: label\ntype: io.kestra.plugin.core.execution.Labels\nlabels:\n  stage: \"{{ flow.id }}\"",
    shape: runnable::<Labels>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub(crate) struct Labels {
    /// The labels to add.
    #[prop(type = "map, list of {key, value}, or JSON string")]
    labels: Property<Json>,
}

impl RunnableTask for Labels {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let mut value: Json = ctx.render(&self.labels, "labels")?;
            if let Json::String(s) = &value {
                value = serde_json::from_str(s).map_err(|e| {
                    TaskError::property("labels", format!("a string of labels must be JSON: {e}"))
                })?;
            }
            let pairs: Vec<(String, Json)> = match value {
                Json::Object(m) => m.into_iter().collect(),
                Json::Array(items) => items
                    .into_iter()
                    .map(|item| match (item.get("key"), item.get("value")) {
                        (Some(Json::String(k)), Some(v)) => Ok((k.clone(), v.clone())),
                        _ => Err(TaskError::property(
                            "labels",
                            format!("`{item}` is not a {{key, value}} pair"),
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                other => {
                    return Err(TaskError::property(
                        "labels",
                        format!("labels are a map or a list of {{key, value}}, not `{other}`"),
                    ));
                }
            };
            let mut labels = Map::new();
            for (key, v) in pairs {
                let text = match &v {
                    Json::String(s) => s.clone(),
                    Json::Null => String::new(),
                    other => other.to_string(),
                };
                if key.starts_with("system.") {
                    return Err(TaskError::failed(format!(
                        "System labels can only be set by Kestra itself, offending label: {key}={text}"
                    )));
                }
                if text.trim().is_empty() {
                    return Err(TaskError::failed(format!(
                        "Label values cannot be empty, offending label: {key}"
                    )));
                }
                labels.insert(key, Json::String(text));
            }
            ctx.add_labels(labels);
            Ok(Outputs::new())
        })
    }
}
