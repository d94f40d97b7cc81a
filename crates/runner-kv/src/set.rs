//! `io.kestra.plugin.core.kv.Set`: one value written, typed as Kestra types it.

use runner_core::plugin::*;
use serde::Deserialize;

pub(crate) const SET: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.kv.Set",
    aliases: &[],
    doc: "Write a key of the KV store (kept across runs in the state directory); a value that is one expression keeps its type, `kvType` converts a string.",
    example: "id: remember\ntype: io.kestra.plugin.core.kv.Set\nkey: last_run\nvalue: \"{{ execution.startDate }}\"\nkvType: DATETIME\nttl: P30D",
    shape: runnable::<Set>(),
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum KvType {
    String,
    Number,
    Boolean,
    Datetime,
    Date,
    Duration,
    Json,
}

impl KvType {
    pub(crate) fn name(self) -> &'static str {
        match self {
            KvType::String => "STRING",
            KvType::Number => "NUMBER",
            KvType::Boolean => "BOOLEAN",
            KvType::Datetime => "DATETIME",
            KvType::Date => "DATE",
            KvType::Duration => "DURATION",
            KvType::Json => "JSON",
        }
    }

    /// A rendered value as this type; strings are parsed, other values mostly kept.
    pub(crate) fn convert(self, value: Json) -> Result<Json, String> {
        let Json::String(s) = value else {
            return Ok(match (self, value) {
                (KvType::String, Json::Null) => Json::Null,
                (KvType::String, other) => Json::String(other.to_string()),
                (_, other) => other,
            });
        };
        Ok(match self {
            KvType::String => Json::String(s),
            KvType::Number => match serde_json::from_str::<Json>(s.trim()) {
                Ok(n @ Json::Number(_)) => n,
                _ => return Err(format!("`{s}` is not a number (kvType NUMBER)")),
            },
            // Java's parseBoolean: "true" in any case, anything else is false.
            KvType::Boolean => Json::Bool(s.trim().eq_ignore_ascii_case("true")),
            KvType::Datetime | KvType::Date => {
                s.trim().parse::<jiff::Timestamp>().map_err(|_| {
                    format!(
                        "`{s}` is not an instant (kvType {}): write it like 2024-05-01T10:00:00Z",
                        self.name()
                    )
                })?;
                Json::String(s)
            }
            KvType::Duration => {
                serde_json::from_value::<IsoDuration>(Json::String(s.clone()))
                    .map_err(|e| e.to_string())?;
                Json::String(s)
            }
            // Since Kestra 1.2 a string that is not JSON stays a string.
            KvType::Json => serde_json::from_str(&s).unwrap_or(Json::String(s)),
        })
    }
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Set {
    /// The key: starts with a letter or digit, then letters, digits, `.`, `_`, `-`.
    key: Property<String>,
    /// The value; `"{{ expr }}"` alone keeps the expression's type.
    value: Property<Json>,
    /// The namespace (default: the flow's).
    namespace: Option<Property<String>>,
    /// Replace a key that exists (default true).
    overwrite: Option<Property<bool>>,
    /// How long the value lives.
    ttl: Option<Property<IsoDuration>>,
    /// Convert a string value to this type.
    kv_type: Option<Property<KvType>>,
    /// A description kept with the key.
    kv_description: Option<Property<String>>,
}

impl RunnableTask for Set {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let namespace = crate::namespace(ctx, &self.namespace)?;
            let key = crate::key(ctx, &self.key)?;
            let mut value = typed_value(ctx, &self.value)?;
            let kv_type = ctx.render_opt(&self.kv_type, "kvType")?;
            if let Some(t) = kv_type {
                value = t
                    .convert(value)
                    .map_err(|reason| TaskError::property("value", reason))?;
            }
            refuse_secrets(ctx, &key, &value)?;
            let write = KvWrite {
                namespace,
                key,
                value,
                kv_type: kv_type.map(|t| t.name().to_string()),
                description: ctx.render_opt(&self.kv_description, "kvDescription")?,
                ttl: ctx.render_opt(&self.ttl, "ttl")?.map(|d| d.0),
                overwrite: ctx
                    .render_opt(&self.overwrite, "overwrite")?
                    .unwrap_or(true),
            };
            ctx.kv()?.set(write).map_err(crate::kv_error)?;
            Ok(Outputs::new())
        })
    }
}

/// A value property rendered as Kestra's `renderTyped` does for a string, recursively for
/// anything else.
pub(crate) fn typed_value(ctx: &RunContext, prop: &Property<Json>) -> Result<Json, TaskError> {
    match prop.raw() {
        Json::String(s) if prop.is_dynamic() => ctx.render_typed(s, "value"),
        other if prop.is_dynamic() => ctx.render_json(other, "value"),
        other => Ok(other.clone()),
    }
}

/// The state directory is not encrypted: a value holding a secret is refused, not written.
pub(crate) fn refuse_secrets(ctx: &RunContext, key: &str, value: &Json) -> Result<(), TaskError> {
    let text = value.to_string();
    if ctx.masked(&text) != text {
        return Err(TaskError::failed(format!(
            "the value for key '{key}' holds a secret: runner does not write secrets into the KV store, which is kept unencrypted on disk"
        ))
        .hint("read the secret where it is needed with secret() instead of storing it"));
    }
    Ok(())
}
