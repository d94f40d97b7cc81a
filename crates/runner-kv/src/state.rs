//! The legacy `io.kestra.plugin.core.state.*` tasks (deprecated in Kestra 1.1 for the KV
//! store), kept on the KV store: one map per state name, per flow unless `namespace: true`.

use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::{Map, json};

pub(crate) const SET: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.state.Set",
    aliases: &["io.kestra.core.tasks.states.Set"],
    doc: "Deprecated (use kv.Set): merge `data` into a named state kept between runs; outputs `count` and `key`.",
    example: "id: remember\ntype: io.kestra.plugin.core.state.Set\ndata:\n  last: \"{{ execution.startDate }}\"",
    shape: runnable::<SetState>(),
};

pub(crate) const GET: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.state.Get",
    aliases: &["io.kestra.core.tasks.states.Get"],
    doc: "Deprecated (use kv.Get): read a named state; outputs `count` and `data`.",
    example: "id: recall\ntype: io.kestra.plugin.core.state.Get",
    shape: runnable::<GetState>(),
};

pub(crate) const DELETE: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.state.Delete",
    aliases: &["io.kestra.core.tasks.states.Delete"],
    doc: "Deprecated (use kv.Delete): remove a named state; outputs `deleted`.",
    example: "id: forget\ntype: io.kestra.plugin.core.state.Delete",
    shape: runnable::<DeleteState>(),
};

/// Which state: its name, and whether it belongs to the namespace or the flow (and value).
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Scope {
    /// The state's name (default `default`).
    name: Option<Property<String>>,
    /// Shared by the namespace rather than this flow (default false).
    namespace: Option<Property<bool>>,
    /// One state per ForEach value (default true).
    taskrun_value: Option<Property<bool>>,
}

impl Scope {
    /// The KV key holding the state (in the flow's namespace).
    fn key(&self, ctx: &RunContext) -> Result<String, TaskError> {
        let name = ctx
            .render_opt(&self.name, "name")?
            .unwrap_or_else(|| "default".into());
        let shared = ctx
            .render_opt(&self.namespace, "namespace")?
            .unwrap_or(false);
        let per_value = ctx
            .render_opt(&self.taskrun_value, "taskrunValue")?
            .unwrap_or(true);
        let mut key = String::from("state");
        if !shared {
            key.push('.');
            key.push_str(ctx.flow_id());
        }
        key.push('.');
        key.push_str(&name);
        if per_value && let Some(v) = ctx.value() {
            key.push('.');
            key.push_str(v);
        }
        // Kestra's state names are free text; a KV key is not.
        let key: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        check_key(&key).map_err(TaskError::failed)?;
        Ok(key)
    }
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SetState {
    #[serde(flatten)]
    scope: Scope,
    /// The values merged into the state.
    data: Property<Map<String, Json>>,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GetState {
    #[serde(flatten)]
    scope: Scope,
    /// Fail when there is no such state (default false).
    error_on_missing: Option<Property<bool>>,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteState {
    #[serde(flatten)]
    scope: Scope,
    /// Fail when there is no such state (default false).
    error_on_missing: Option<Property<bool>>,
}

fn missing(key: &str) -> TaskError {
    TaskError::failed(format!("Unable to find the state file '{key}'"))
}

impl RunnableTask for SetState {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let key = self.scope.key(ctx)?;
            let data = ctx.render(&self.data, "data")?;
            crate::set::refuse_secrets(ctx, &key, &Json::Object(data.clone()))?;
            let mut count = 0;
            ctx.kv()?
                .update(ctx.namespace(), &key, &mut |current| {
                    let mut merged = match current {
                        Some(Json::Object(m)) => m,
                        _ => Map::new(),
                    };
                    merged.extend(data.clone());
                    count = merged.len();
                    Ok(Json::Object(merged))
                })
                .map_err(crate::kv_error)?;
            let mut out = Outputs::new();
            out.insert("count".into(), json!(count));
            out.insert("key".into(), Json::String(key));
            Ok(out)
        })
    }
}

impl RunnableTask for GetState {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let key = self.scope.key(ctx)?;
            let found = ctx
                .kv()?
                .lookup(ctx.namespace(), &key, false)
                .map_err(TaskError::failed)?;
            let data = match found {
                KvLookup::Found(Json::Object(m)) => m,
                _ if ctx
                    .render_opt(&self.error_on_missing, "errorOnMissing")?
                    .unwrap_or(false) =>
                {
                    return Err(missing(&key));
                }
                _ => Map::new(),
            };
            let mut out = Outputs::new();
            out.insert("count".into(), json!(data.len()));
            out.insert("data".into(), Json::Object(data));
            Ok(out)
        })
    }
}

impl RunnableTask for DeleteState {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let key = self.scope.key(ctx)?;
            let deleted = ctx
                .kv()?
                .delete(ctx.namespace(), &key)
                .map_err(crate::kv_error)?;
            if !deleted
                && ctx
                    .render_opt(&self.error_on_missing, "errorOnMissing")?
                    .unwrap_or(false)
            {
                return Err(missing(&key));
            }
            let mut out = Outputs::new();
            out.insert("deleted".into(), Json::Bool(deleted));
            Ok(out)
        })
    }
}
