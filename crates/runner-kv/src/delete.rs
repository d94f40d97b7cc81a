//! `io.kestra.plugin.core.kv.Delete`: one key removed.

use runner_core::plugin::*;
use serde::Deserialize;

pub(crate) const DELETE: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.kv.Delete",
    aliases: &[],
    doc: "Remove a key of the KV store; `deleted` says whether it was there.",
    example: "id: forget\ntype: io.kestra.plugin.core.kv.Delete\nkey: last_run",
    shape: runnable::<Delete>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Delete {
    /// The key.
    key: Property<String>,
    /// The namespace (default: the flow's).
    namespace: Option<Property<String>>,
    /// Fail when the key is missing (default false).
    error_on_missing: Option<Property<bool>>,
}

impl RunnableTask for Delete {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let namespace = crate::namespace(ctx, &self.namespace)?;
            let key = crate::key(ctx, &self.key)?;
            let error_on_missing = ctx
                .render_opt(&self.error_on_missing, "errorOnMissing")?
                .unwrap_or(false);
            let deleted = ctx
                .kv()?
                .delete(&namespace, &key)
                .map_err(crate::kv_error)?;
            if !deleted && error_on_missing {
                return Err(TaskError::failed(format!(
                    "No value found for key '{key}' in namespace '{namespace}' and `errorOnMissing` is set to true"
                )));
            }
            let mut outputs = Outputs::new();
            outputs.insert("deleted".into(), Json::Bool(deleted));
            Ok(outputs)
        })
    }
}
