//! `io.kestra.plugin.core.kv.Get`: one value, typed as it was set.

use runner_core::plugin::*;
use serde::Deserialize;

pub(crate) const GET: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.kv.Get",
    aliases: &[],
    doc: "Read a key of the KV store into `value` (null when missing unless `errorOnMissing`); the flow's namespace is searched with its parents.",
    example: "id: get\ntype: io.kestra.plugin.core.kv.Get\nkey: last_run\nerrorOnMissing: true",
    shape: runnable::<Get>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Get {
    /// The key.
    key: Property<String>,
    /// The namespace (default: the flow's, then its parents).
    namespace: Option<Property<String>>,
    /// Fail when the key is missing (default false).
    error_on_missing: Option<Property<bool>>,
}

impl RunnableTask for Get {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let namespace = crate::namespace(ctx, &self.namespace)?;
            let key = crate::key(ctx, &self.key)?;
            let error_on_missing = ctx
                .render_opt(&self.error_on_missing, "errorOnMissing")?
                .unwrap_or(false);
            let inherit = namespace == ctx.namespace();
            let found = ctx
                .kv()?
                .lookup(&namespace, &key, inherit)
                .map_err(TaskError::failed)?;
            let value = match found {
                KvLookup::Found(v) => v,
                KvLookup::Expired => {
                    return Err(TaskError::failed("The requested value has expired"));
                }
                KvLookup::Missing if error_on_missing => {
                    return Err(TaskError::failed(format!(
                        "No value found for key '{key}' in namespace '{namespace}' and `errorOnMissing` is set to true"
                    )));
                }
                KvLookup::Missing => Json::Null,
            };
            let mut outputs = Outputs::new();
            outputs.insert("value".into(), value);
            Ok(outputs)
        })
    }
}
