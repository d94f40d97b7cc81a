//! The KV pages: the namespaces of the KV store runs keep (the state folder), then one
//! namespace's keys with their type, value, version and expiry.

use crate::html::{esc, layout};
use crate::server::{Reply, percent_encode};
use crate::{KvEntry, Ui};
use hyper::StatusCode;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The longest value shown whole; `runner kv get` prints it all.
const VALUE_CHARS: usize = 500;

/// `GET /kv`: each namespace with its number of keys.
pub(crate) fn namespaces(ui: &Ui) -> Reply {
    let entries = match ui.kv.entries(None) {
        Ok(e) => e,
        Err(e) => return Reply::problem(StatusCode::INTERNAL_SERVER_ERROR, "KV store", &e),
    };
    let mut by_namespace: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &entries {
        *by_namespace.entry(e.namespace.as_str()).or_default() += 1;
    }
    let mut body = String::from("<h1>KV store</h1>");
    if by_namespace.is_empty() {
        body.push_str(
            "<p class=\"notice\">No key yet: flows write them with io.kestra.plugin.core.kv.Set, and `runner kv set` from the shell.</p>",
        );
    } else {
        body.push_str("<table class=\"kv-namespaces\"><thead><tr><th>Namespace</th><th>Keys</th></tr></thead><tbody>");
        for (ns, n) in by_namespace {
            let _ = write!(
                body,
                "<tr class=\"kv-namespace\" data-namespace=\"{}\"><td><a href=\"/kv/{}\">{}</a></td><td>{n}</td></tr>",
                esc(ns),
                percent_encode(ns),
                esc(ns)
            );
        }
        body.push_str("</tbody></table>");
    }
    Reply::html(layout("KV store", &body))
}

/// `GET /kv/{namespace}`: its keys.
pub(crate) fn namespace(ui: &Ui, namespace: &str) -> Reply {
    let entries = match ui.kv.entries(Some(namespace)) {
        Ok(e) => e,
        Err(e) => return Reply::problem(StatusCode::INTERNAL_SERVER_ERROR, "KV store", &e),
    };
    let keys: Vec<&KvEntry> = entries
        .iter()
        .filter(|e| e.namespace == namespace)
        .collect();
    let mut body = format!(
        "<h1>KV store · {}</h1><p><a href=\"/kv\">Every namespace</a></p>",
        esc(namespace)
    );
    if keys.is_empty() {
        let _ = write!(
            body,
            "<p class=\"notice\">Namespace {} has no key.</p>",
            esc(namespace)
        );
        return Reply::html(layout(&format!("KV {namespace}"), &body));
    }
    body.push_str("<table class=\"kv-keys\"><thead><tr><th>Key</th><th>Type</th><th>Value</th><th>Version</th><th>Updated</th><th>Expires</th></tr></thead><tbody>");
    for k in keys {
        let value = match (&k.value, k.expired) {
            (_, true) => "<span class=\"muted\">expired</span>".to_string(),
            (None, false) => String::new(),
            (Some(v), false) => {
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let shown: String = text.chars().take(VALUE_CHARS).collect();
                let more = if shown.len() < text.len() { "…" } else { "" };
                format!("<code>{}{more}</code>", esc(&shown))
            }
        };
        let _ = write!(
            body,
            "<tr class=\"kv-key\" data-key=\"{}\"><td>{}</td><td>{}</td><td class=\"kv-value\">{value}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&k.key),
            esc(&k.key),
            esc(k.kv_type.as_deref().unwrap_or("-")),
            k.version,
            esc(&k.updated),
            esc(k.expires.as_deref().unwrap_or("-")),
        );
    }
    body.push_str("</tbody></table>");
    Reply::html(layout(&format!("KV {namespace}"), &body))
}
