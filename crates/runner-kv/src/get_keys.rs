//! `io.kestra.plugin.core.kv.GetKeys`: the live keys of a namespace.

use runner_core::plugin::*;
use serde::Deserialize;

pub(crate) const GET_KEYS: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.kv.GetKeys",
    aliases: &[],
    doc: "List the keys of a namespace of the KV store (expired ones left out), optionally those starting with `prefix`.",
    example: "id: keys\ntype: io.kestra.plugin.core.kv.GetKeys\nprefix: run_",
    shape: runnable::<GetKeys>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct GetKeys {
    /// Only keys starting with this.
    prefix: Option<Property<String>>,
    /// The namespace (default: the flow's).
    namespace: Option<Property<String>>,
}

impl RunnableTask for GetKeys {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let namespace = crate::namespace(ctx, &self.namespace)?;
            let prefix = ctx.render_opt(&self.prefix, "prefix")?;
            let keys = ctx
                .kv()?
                .keys(&namespace, prefix.as_deref())
                .map_err(crate::kv_error)?;
            let mut outputs = Outputs::new();
            outputs.insert(
                "keys".into(),
                Json::Array(keys.into_iter().map(|k| Json::String(k.key)).collect()),
            );
            Ok(outputs)
        })
    }
}
