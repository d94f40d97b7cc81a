//! `io.kestra.plugin.core.kv.PurgeKV`: keys removed in bulk (by default, expired ones).

use runner_core::plugin::*;
use serde::Deserialize;

pub(crate) const PURGE: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.kv.PurgeKV",
    aliases: &[],
    doc: "Delete keys of the KV store: by default the expired ones of every namespace; `namespaces` or `namespacePattern`, `keyPattern` and `behavior` narrow it. `size` is how many.",
    example: "id: purge\ntype: io.kestra.plugin.core.kv.PurgeKV\nnamespaces:\n  - company\nkeyPattern: \"tmp_*\"",
    shape: runnable::<PurgeKv>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct PurgeKv {
    /// Only keys matching this glob (`AI_*`).
    key_pattern: Option<Property<String>>,
    /// These namespaces (default: all); not with `namespacePattern`.
    namespaces: Option<Property<Vec<String>>>,
    /// Namespaces matching this glob; not with `namespaces`.
    namespace_pattern: Option<Property<String>>,
    /// `{type: key, expiredOnly: true}` (the default) or `{type: version, ...}`.
    #[prop(type = "{type: key, expiredOnly} or {type: version, before, keepAmount}")]
    behavior: Option<Property<Json>>,
    /// With `namespaces`, their children too (default true).
    include_child_namespaces: Option<Property<bool>>,
    /// Deprecated: `behavior.expiredOnly`; overrides `behavior` when set.
    expired_only: Option<Property<bool>>,
}

impl RunnableTask for PurgeKv {
    fn check(&self) -> Result<(), String> {
        if self.namespaces.is_some() && self.namespace_pattern.is_some() {
            return Err("`namespaces` and `namespacePattern` cannot be used together".into());
        }
        Ok(())
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let glob = |prop: &Option<Property<String>>, name: &str| {
                ctx.render_opt(prop, name)?
                    .map(|p| PathPattern::new(&p).map_err(|e| TaskError::property(name, e)))
                    .transpose()
            };
            let key_pattern = glob(&self.key_pattern, "keyPattern")?;
            let namespace_pattern = glob(&self.namespace_pattern, "namespacePattern")?;
            let mut expired_only = true;
            if let Some(b) = ctx.render_opt(&self.behavior, "behavior")? {
                match b.get("type").and_then(Json::as_str) {
                    Some("key") | None => {
                        expired_only = b.get("expiredOnly").and_then(Json::as_bool).unwrap_or(true);
                    }
                    Some("version") => {
                        // runner keeps one version of each key, and a version purge never
                        // removes the last one.
                        ctx.info("runner keeps only the latest version of each key: nothing to purge by version");
                        return Ok(size(0));
                    }
                    Some(other) => {
                        return Err(TaskError::property(
                            "behavior",
                            format!("`{other}` is not a purge behavior: use `key` or `version`"),
                        ));
                    }
                }
            }
            if let Some(e) = ctx.render_opt(&self.expired_only, "expiredOnly")? {
                expired_only = e;
            }
            let namespaces = ctx
                .render_opt(&self.namespaces, "namespaces")?
                .unwrap_or_default();
            let purge = KvPurge {
                namespaces,
                children: ctx
                    .render_opt(&self.include_child_namespaces, "includeChildNamespaces")?
                    .unwrap_or(true),
                expired_only,
            };
            let keep = |k: &KvKey| {
                key_pattern.as_ref().is_some_and(|p| !p.matches(&k.key))
                    || namespace_pattern
                        .as_ref()
                        .is_some_and(|p| !p.matches(&k.namespace))
            };
            let count = ctx.kv()?.purge(&purge, &keep).map_err(crate::kv_error)?;
            ctx.info(&format!("purged {count} keys"));
            Ok(size(count))
        })
    }
}

fn size(count: u64) -> Outputs {
    let mut outputs = Outputs::new();
    outputs.insert("size".into(), Json::from(count));
    outputs
}
