//! `io.kestra.plugin.core.flow.Subflow`: another flow of the flows folder, run as an execution
//! of its own; with `wait`, its state and flow outputs come back.

use crate::plugin::*;
use serde::Deserialize;
use serde_json::{Map, Value as Json};

pub(crate) const SUBFLOW: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.Subflow",
    aliases: &[
        "io.kestra.core.tasks.flows.Subflow",
        "io.kestra.core.tasks.flows.Flow",
    ],
    doc: "Run another flow (found by `namespace` and `flowId` in the flows folder) as a child execution; `outputs` are its `executionId`, `state` and flow `outputs`.",
    example: "id: child\ntype: io.kestra.plugin.core.flow.Subflow\nnamespace: company.team\nflowId: transform\ninputs:\n  day: \"{{ trigger.date ?? execution.startDate }}\"",
    shape: runnable::<Subflow>(),
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum RestartBehavior {
    RetryFailed,
    NewExecution,
}

/// What Subflow and ForEachItem share: which flow to start, and how.
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Target {
    /// The namespace of the flow to run.
    pub(crate) namespace: Property<String>,
    /// The id of the flow to run.
    pub(crate) flow_id: Property<String>,
    /// The flow's revision: local flows have one, which any revision names.
    revision: Option<i64>,
    /// The child's inputs (rendered recursively).
    pub(crate) inputs: Option<Property<Json>>,
    /// Labels of the child: a map or a list of `{key, value}`.
    #[prop(type = "map or list of {key, value}")]
    labels: Option<Property<Json>>,
    /// Wait for the child to end (default true).
    pub(crate) wait: Option<bool>,
    /// With `wait`, end in the child's FAILED, WARNING or KILLED (default true).
    pub(crate) transmit_failed: Option<bool>,
    /// Give the child this execution's labels (default false).
    inherit_labels: Option<Property<bool>>,
    /// Not supported: runner starts the child at once (see README).
    schedule_date: Option<Property<String>>,
    /// Accepted; runner does not restart executions.
    #[allow(dead_code)] // checked when read, never used
    restart_behavior: Option<RestartBehavior>,
}

impl Target {
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.schedule_date.is_some() {
            return Err("`scheduleDate` is not supported: runner starts a subflow at once; remove it, or run the subflow later yourself".into());
        }
        if self.revision.is_some_and(|r| r < 1) {
            return Err("`revision` must be 1 or more".into());
        }
        Ok(())
    }

    /// The child's labels: this execution's with `inheritLabels`, then `labels`.
    pub(crate) fn labels(&self, ctx: &RunContext) -> Result<Map<String, Json>, TaskError> {
        let mut labels = Map::new();
        let inherit = ctx
            .render_opt(&self.inherit_labels, "inheritLabels")?
            .unwrap_or(false);
        if inherit && let Some(Json::Array(items)) = ctx.execution_record().get("labels") {
            for l in items {
                if let (Some(Json::String(k)), Some(v)) = (l.get("key"), l.get("value")) {
                    labels.insert(k.clone(), v.clone());
                }
            }
        }
        if let Some(given) = ctx.render_opt(&self.labels, "labels")? {
            labels.extend(label_pairs(given)?);
        }
        Ok(labels)
    }
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Subflow {
    #[serde(flatten)]
    target: Target,
    /// Deprecated since Kestra 0.15: values rendered against the child's task outputs, used
    /// when the child declares no `outputs:`.
    outputs: Option<Json>,
}

impl RunnableTask for Subflow {
    fn check(&self) -> Result<(), String> {
        if self.outputs.as_ref().is_some_and(|o| !o.is_object()) {
            return Err("`outputs` must be a map of names to values".into());
        }
        self.target.check()
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let t = &self.target;
            let inputs = match ctx.render_opt(&t.inputs, "inputs")? {
                None | Some(Json::Null) => Map::new(),
                Some(Json::Object(m)) => m,
                Some(other) => {
                    return Err(TaskError::property(
                        "inputs",
                        format!("a map of input values, not `{other}`"),
                    ));
                }
            };
            let call = SubflowCall {
                namespace: ctx.render(&t.namespace, "namespace")?,
                flow_id: ctx.render(&t.flow_id, "flowId")?,
                inputs,
                labels: t.labels(ctx)?,
                wait: t.wait.unwrap_or(true),
            };
            let run = ctx.run_subflow(call).await?;
            let mut outputs = Outputs::new();
            outputs.insert("executionId".into(), Json::String(run.execution_id));
            let Some(state) = run.state else {
                return Ok(outputs);
            };
            outputs.insert("state".into(), Json::String(state.as_str().into()));
            let declared = run
                .outputs
                .filter(|o| o.as_object().is_some_and(|m| !m.is_empty()));
            match (declared, &self.outputs, run.task_outputs) {
                (Some(o), _, _) => {
                    outputs.insert("outputs".into(), o);
                }
                (None, Some(legacy), Some(child)) => {
                    // Kestra renders them with the child's task outputs as `outputs`.
                    let extra: Map<String, Json> =
                        [("outputs".to_string(), child)].into_iter().collect();
                    let rendered =
                        ctx.render_json_with(legacy, "outputs", &extra)
                            .map_err(|e| {
                                TaskError::failed(format!(
                                    "Failed to extract outputs with the error: '{e}'"
                                ))
                            })?;
                    outputs.insert("outputs".into(), rendered);
                }
                _ => {}
            }
            let transmit = t.transmit_failed.unwrap_or(true);
            match state {
                State::Failed | State::Killed | State::Warning | State::Paused if transmit => {
                    Err(TaskError::Ended { state, outputs })
                }
                _ => Ok(outputs),
            }
        })
    }
}

/// A map, or a list of `{key, value}`, as label pairs with string values.
fn label_pairs(value: Json) -> Result<Map<String, Json>, TaskError> {
    let text = |v: &Json| match v {
        Json::String(s) => Json::String(s.clone()),
        other => Json::String(other.to_string()),
    };
    match value {
        Json::Object(m) => Ok(m.iter().map(|(k, v)| (k.clone(), text(v))).collect()),
        Json::Array(items) => items
            .iter()
            .map(|item| match (item.get("key"), item.get("value")) {
                (Some(Json::String(k)), Some(v)) => Ok((k.clone(), text(v))),
                _ => Err(TaskError::property(
                    "labels",
                    format!("`{item}` is not a {{key, value}} pair"),
                )),
            })
            .collect(),
        other => Err(TaskError::property(
            "labels",
            format!("labels are a map or a list of {{key, value}}, not `{other}`"),
        )),
    }
}
