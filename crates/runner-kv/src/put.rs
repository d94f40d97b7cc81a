//! `io.kestra.plugin.core.kv.Put`: a value merged into the one stored (Kestra 1.3).

use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::Map;

pub(crate) const PUT: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.kv.Put",
    aliases: &[],
    doc: "Update a key of the KV store: maps are deep-merged into the stored map, a list of `{key: dotted.path, value}` patches it, a single `{value}` or any other value replaces it.",
    example: "id: patch\ntype: io.kestra.plugin.core.kv.Put\nkey: settings\nvalue:\n  - key: limits.rows\n    value: 100",
    shape: runnable::<Put>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Put {
    /// The key.
    key: Property<String>,
    /// The new value, a map to merge, or a list of `{key, value}` patches.
    value: Property<Json>,
    /// The namespace (default: the flow's).
    namespace: Option<Property<String>>,
    /// Fail when the key is missing instead of creating it (default false).
    error_on_missing: Option<Property<bool>>,
}

impl RunnableTask for Put {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let namespace = crate::namespace(ctx, &self.namespace)?;
            let key = crate::key(ctx, &self.key)?;
            let value = crate::set::typed_value(ctx, &self.value)?;
            let error_on_missing = ctx
                .render_opt(&self.error_on_missing, "errorOnMissing")?
                .unwrap_or(false);
            let mut refused = None;
            let updated = ctx.kv()?.update(&namespace, &key, &mut |current| {
                    if current.is_none() && error_on_missing {
                        return Err(format!(
                            "No value found for key '{key}' in namespace '{namespace}' and `errorOnMissing` is set to true"
                        ));
                    }
                    let merged = merge(current, value.clone())?;
                    // Checked inside the transaction: the merged value is what would be stored.
                    if let Err(e) = crate::set::refuse_secrets(ctx, &key, &merged) {
                        refused = Some(e);
                        return Err(String::new());
                    }
                    Ok(merged)
                });
            updated.map_err(|e| refused.take().unwrap_or_else(|| crate::kv_error(e)))?;
            Ok(Outputs::new())
        })
    }
}

fn is_entry_list(items: &[Json]) -> bool {
    !items.is_empty()
        && items.iter().all(|item| {
            item.as_object().is_some_and(|m| {
                m.contains_key("value") && m.keys().all(|k| k == "key" || k == "value")
            })
        })
}

/// Kestra's merge: entry lists patch, maps deep-merge, anything else replaces.
fn merge(current: Option<Json>, new: Json) -> Result<Json, String> {
    match (current, new) {
        (current, Json::Array(items)) if is_entry_list(&items) => patch(current, items),
        (Some(Json::Object(old)), Json::Object(new)) => Ok(Json::Object(deep_merge(old, new))),
        (_, new) => Ok(new),
    }
}

fn patch(current: Option<Json>, items: Vec<Json>) -> Result<Json, String> {
    let count = items.len();
    let mut updates = Map::new();
    for item in items {
        let Json::Object(mut entry) = item else {
            unreachable!("is_entry_list checked every item");
        };
        let value = entry.remove("value").unwrap_or(Json::Null);
        match entry.remove("key") {
            None if count > 1 => {
                return Err(
                    "`value` entries without `key` can only be used as a single replacement item."
                        .into(),
                );
            }
            None => return Ok(value),
            Some(Json::String(k)) if !k.trim().is_empty() => {
                nest(&mut updates, &k, value);
            }
            Some(_) => {
                return Err("Each keyed `value` entry must have a non-empty string `key`.".into());
            }
        }
    }
    match current {
        None => Ok(Json::Object(updates)),
        Some(Json::Object(old)) => Ok(Json::Object(deep_merge(old, updates))),
        Some(_) => {
            Err("Cannot apply keyed `value` updates to a non-JSON existing KV value.".into())
        }
    }
}

/// `a.b.c = v` as `{a: {b: {c: v}}}`, merged into `into`.
fn nest(into: &mut Map<String, Json>, path: &str, value: Json) {
    let mut parts = path.split('.').peekable();
    let mut map = into;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            map.insert(part.to_string(), value);
            return;
        }
        let slot = map
            .entry(part.to_string())
            .or_insert_with(|| Json::Object(Map::new()));
        if !slot.is_object() {
            *slot = Json::Object(Map::new());
        }
        map = slot.as_object_mut().expect("made an object above");
    }
}

fn deep_merge(mut old: Map<String, Json>, new: Map<String, Json>) -> Map<String, Json> {
    for (k, v) in new {
        let merged = match (old.remove(&k), v) {
            (Some(Json::Object(a)), Json::Object(b)) => Json::Object(deep_merge(a, b)),
            (_, v) => v,
        };
        old.insert(k, merged);
    }
    old
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_merge_deeply_and_entries_patch_paths() {
        let old = json!({"a": {"x": 1, "y": 2}, "b": 1});
        assert_eq!(
            merge(Some(old.clone()), json!({"a": {"y": 3}, "c": 4})).unwrap(),
            json!({"a": {"x": 1, "y": 3}, "b": 1, "c": 4})
        );
        assert_eq!(
            merge(
                Some(old.clone()),
                json!([{"key": "a.z", "value": 9}, {"key": "d", "value": true}])
            )
            .unwrap(),
            json!({"a": {"x": 1, "y": 2, "z": 9}, "b": 1, "d": true})
        );
        assert_eq!(
            merge(Some(old.clone()), json!([{"value": "all"}])).unwrap(),
            json!("all")
        );
        assert_eq!(
            merge(None, json!([{"key": "n.m", "value": 1}])).unwrap(),
            json!({"n": {"m": 1}})
        );
        assert_eq!(merge(Some(old), json!([1, 2])).unwrap(), json!([1, 2]));
        assert_eq!(
            merge(Some(json!("text")), json!([{"key": "a", "value": 1}])).unwrap_err(),
            "Cannot apply keyed `value` updates to a non-JSON existing KV value."
        );
        assert_eq!(
            merge(None, json!([{"value": 1}, {"key": "a", "value": 2}])).unwrap_err(),
            "`value` entries without `key` can only be used as a single replacement item."
        );
    }
}
