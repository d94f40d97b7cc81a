//! Kestra's KV store: the `io.kestra.plugin.core.kv.*` tasks and the store they share with
//! `kv()`, one SQLite database in the state directory.

mod delete;
mod get;
mod get_keys;
mod purge;
mod put;
mod set;
mod state;
mod store;

pub use store::{Clock, FILE_NAME, LazyKv, SqliteKv};

use runner_core::plugin::*;

pub const TASKS: &[TaskDescriptor] = &[
    set::SET,
    get::GET,
    delete::DELETE,
    get_keys::GET_KEYS,
    put::PUT,
    purge::PURGE,
    state::SET,
    state::GET,
    state::DELETE,
];

/// `value` converted as `kvType: kv_type` converts it (for `runner kv set`).
pub fn convert(kv_type: &str, value: Json) -> Result<Json, String> {
    let t: set::KvType = serde_json::from_value(Json::String(kv_type.to_ascii_uppercase()))
        .map_err(|_| {
            format!("`{kv_type}` is not a KV type: use STRING, NUMBER, BOOLEAN, DATETIME, DATE, DURATION or JSON")
        })?;
    t.convert(value)
}

/// The namespace a task names (default: the flow's). Only the flow's own namespace and its
/// parents exist without a check; another one must have a flow or a key, as in Kestra.
pub(crate) fn namespace(
    ctx: &RunContext,
    prop: &Option<Property<String>>,
) -> Result<String, TaskError> {
    let Some(asked) = ctx.render_opt(prop, "namespace")? else {
        return Ok(ctx.namespace().to_string());
    };
    let own = ctx.namespace();
    let is_parent = own
        .strip_prefix(asked.as_str())
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'));
    if !is_parent {
        ctx.kv()?.check_namespace(&asked).map_err(kv_error)?;
    }
    Ok(asked)
}

/// A store error as the task's failure, in Kestra's words where Kestra has them.
pub(crate) fn kv_error(e: KvError) -> TaskError {
    match e {
        KvError::Store { .. } => TaskError::new(ErrorKind::Io, e.to_string()),
        other => TaskError::failed(other.to_string()),
    }
}

/// The key, rendered and checked against Kestra's rule.
pub(crate) fn key(ctx: &RunContext, prop: &Property<String>) -> Result<String, TaskError> {
    let key = ctx.render(prop, "key")?;
    check_key(&key).map_err(TaskError::failed)?;
    Ok(key)
}
