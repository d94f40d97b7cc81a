//! `runner kv`: the KV store from the shell, to seed and inspect what flows keep between runs.

use crate::cli::{Format, KvArgs, KvCommand, ServerArgs};
use crate::server::{connect, runtime};
use crate::{exit, report};
use runner_core::kv::{KvLookup, KvStore, KvWrite, check_key};
use runner_kv::SqliteKv;
use serde_json::{Value as Json, json};
use std::path::PathBuf;

pub(crate) fn kv(args: KvArgs) -> u8 {
    let dir = args.state.unwrap_or_else(|| PathBuf::from(".runner/state"));
    let namespace = match &args.command {
        KvCommand::List { namespace, .. } | KvCommand::Push { namespace, .. } => {
            namespace.as_deref()
        }
        KvCommand::Get { namespace, .. }
        | KvCommand::Set { namespace, .. }
        | KvCommand::Delete { namespace, .. }
        | KvCommand::Pull { namespace, .. } => Some(namespace.as_str()),
    };
    if let Some(ns) = namespace
        && let Err(e) = runner_core::kv::check_namespace_name(ns)
    {
        return report(e, exit::INVALID);
    }
    let store = match SqliteKv::open(&dir) {
        Ok(s) => s,
        Err(e) => return report(e, exit::INVALID),
    };
    match args.command {
        KvCommand::List { namespace, format } => list(&store, namespace.as_deref(), format),
        KvCommand::Push { namespace, server } => push(&store, namespace.as_deref(), &server),
        KvCommand::Pull { namespace, server } => pull(&store, &namespace, &server),
        KvCommand::Get { namespace, key } => {
            if let Err(e) = check_key(&key) {
                return report(e, exit::INVALID);
            }
            match runner_core::kv::KvRead::lookup(&store, &namespace, &key, false) {
                Ok(KvLookup::Found(v)) => print(&format!("{v}\n")),
                Ok(KvLookup::Expired) => report(
                    format!("key '{key}' of namespace '{namespace}' has expired (now deleted)"),
                    exit::FAILED,
                ),
                Ok(KvLookup::Missing) => report(
                    format!("The key '{key}' does not exist in the namespace '{namespace}'."),
                    exit::FAILED,
                ),
                Err(e) => report(e, exit::FAILED),
            }
        }
        KvCommand::Set {
            namespace,
            key,
            value,
            kv_type,
            ttl,
        } => {
            if let Err(e) = check_key(&key) {
                return report(e, exit::INVALID);
            }
            let value = match runner_kv::convert(&kv_type, Json::String(value)) {
                Ok(v) => v,
                Err(e) => return report(e, exit::INVALID),
            };
            let ttl = match ttl
                .map(|t| runner_model::parse_duration(&t).ok_or(t))
                .transpose()
            {
                Ok(t) => t,
                Err(t) => {
                    return report(
                        format!("`{t}` is not an ISO-8601 duration (for example PT30S, PT5M, P1D)"),
                        exit::INVALID,
                    );
                }
            };
            let write = KvWrite {
                namespace,
                key,
                value,
                kv_type: Some(kv_type.to_ascii_uppercase()),
                description: None,
                ttl,
                overwrite: true,
            };
            match store.set(write) {
                Ok(()) => exit::SUCCESS,
                Err(e) => report(e, exit::FAILED),
            }
        }
        KvCommand::Delete { namespace, key } => match store.delete(&namespace, &key) {
            Ok(true) => exit::SUCCESS,
            Ok(false) => report(
                format!("The key '{key}' does not exist in the namespace '{namespace}'."),
                exit::FAILED,
            ),
            Err(e) => report(e, exit::FAILED),
        },
    }
}

fn list(store: &SqliteKv, namespace: Option<&str>, format: Format) -> u8 {
    let keys = match store.all_keys() {
        Ok(k) => k,
        Err(e) => return report(e, exit::FAILED),
    };
    let keys = keys
        .into_iter()
        .filter(|k| namespace.is_none_or(|ns| k.namespace == ns));
    let text = match format {
        Format::Json => {
            let list: Vec<Json> = keys
                .map(|k| {
                    json!({"namespace": k.namespace, "key": k.key, "type": k.kv_type,
                        "description": k.description, "version": k.version,
                        "updated": k.updated, "expirationDate": k.expires, "expired": k.expired})
                })
                .collect();
            format!("{}\n", Json::Array(list))
        }
        Format::Text => {
            let mut out = String::new();
            for k in keys {
                let expiry = match (&k.expires, k.expired) {
                    (Some(e), true) => format!("  expired {e}"),
                    (Some(e), false) => format!("  expires {e}"),
                    (None, _) => String::new(),
                };
                out.push_str(&format!(
                    "{}  {}  {}  v{}  {}{expiry}\n",
                    k.namespace,
                    k.key,
                    k.kv_type.as_deref().unwrap_or("-"),
                    k.version,
                    k.updated
                ));
            }
            out
        }
    };
    print(&text)
}

/// The time left before an RFC 3339 expiry, as an ISO duration (none: no expiry, or past).
fn time_left(expires: Option<&str>) -> Option<std::time::Duration> {
    let at: jiff::Timestamp = expires?.parse().ok()?;
    let left = at.duration_since(jiff::Timestamp::now());
    std::time::Duration::try_from(left)
        .ok()
        .filter(|d| !d.is_zero())
}

/// `runner kv push`: each live key of the local store to the server, typed as Kestra types a
/// value it is sent (from its JSON: DATETIME, DATE and DURATION values arrive as STRING).
fn push(store: &SqliteKv, namespace: Option<&str>, args: &ServerArgs) -> u8 {
    let remote = match connect(&args.server, &args.tenant, &args.env) {
        Ok(r) => r,
        Err(e) => return report(e, exit::INVALID),
    };
    let keys = match store.all_keys() {
        Ok(k) => k,
        Err(e) => return report(e, exit::FAILED),
    };
    let keys: Vec<_> = keys
        .into_iter()
        .filter(|k| !k.expired && namespace.is_none_or(|ns| k.namespace == ns))
        .collect();
    let runtime = match runtime() {
        Ok(r) => r,
        Err(e) => return report(e, exit::FAILED),
    };
    if let Err(e) = runtime.block_on(remote.check()) {
        return report(e, exit::FAILED);
    }
    let mut pushed = 0;
    let mut out = String::new();
    for k in &keys {
        let value = match runner_core::kv::KvRead::lookup(store, &k.namespace, &k.key, false) {
            Ok(KvLookup::Found(v)) => v,
            Ok(_) => continue,
            Err(e) => return report(e, exit::FAILED),
        };
        let ttl = time_left(k.expires.as_deref()).map(runner_model::format_iso);
        let sent = runtime.block_on(remote.server.kv_put(
            &k.namespace,
            &k.key,
            &value,
            ttl.as_deref(),
        ));
        if let Err(e) = sent {
            let _ = crate::write_stdout(out.as_bytes());
            return report(
                format!(
                    "{} (push stopped at {} {})",
                    remote.explain(&e),
                    k.namespace,
                    k.key
                ),
                exit::FAILED,
            );
        }
        pushed += 1;
        let kind = k.kv_type.as_deref().unwrap_or("STRING");
        let note = match kind {
            "DATETIME" | "DATE" | "DURATION" => {
                " (Kestra types it STRING: its API types a value from its JSON)".to_string()
            }
            _ => String::new(),
        };
        out.push_str(&format!(
            "pushed  {}  {}  {kind}{note}\n",
            k.namespace, k.key
        ));
    }
    let _ = crate::write_stdout(out.as_bytes());
    crate::say!(
        "{pushed} key(s) pushed to {} (values are not shown)",
        remote.server.address()
    );
    exit::SUCCESS
}

/// `runner kv pull`: the server's keys of one namespace into the local store, with their
/// types and what is left of their TTL.
fn pull(store: &SqliteKv, namespace: &str, args: &ServerArgs) -> u8 {
    let remote = match connect(&args.server, &args.tenant, &args.env) {
        Ok(r) => r,
        Err(e) => return report(e, exit::INVALID),
    };
    let runtime = match runtime() {
        Ok(r) => r,
        Err(e) => return report(e, exit::FAILED),
    };
    if let Err(e) = runtime.block_on(remote.check()) {
        return report(e, exit::FAILED);
    }
    let keys = match runtime.block_on(remote.server.kv_entries(namespace)) {
        Ok(k) => k,
        Err(e) => return report(remote.explain(&e), exit::FAILED),
    };
    let mut out = String::new();
    let mut pulled = 0;
    for k in keys {
        // A key the server names is printed and stored: it must be one (no escapes).
        if check_key(&k.key).is_err() {
            return report(
                format!(
                    "the server lists a key of {namespace} that is not a KV key name; pull stopped"
                ),
                exit::FAILED,
            );
        }
        let (kind, value) = match runtime.block_on(remote.server.kv_get(namespace, &k.key)) {
            Ok(Some(found)) => found,
            // Expired or deleted since the listing.
            Ok(None) => continue,
            Err(e) => {
                let _ = crate::write_stdout(out.as_bytes());
                return report(
                    format!(
                        "{} (pull stopped at {namespace} {})",
                        remote.explain(&e),
                        k.key
                    ),
                    exit::FAILED,
                );
            }
        };
        // Kestra's DATE values are days (`2024-05-01`), kept as the server sends them.
        let plain_day = kind == "DATE"
            && value
                .as_str()
                .is_some_and(|d| d.parse::<jiff::civil::Date>().is_ok());
        let value = match runner_kv::convert(&kind, value.clone()) {
            Ok(v) => v,
            Err(_) if plain_day => value,
            // The value is not said: pulled values are never printed.
            Err(_) => {
                return report(
                    format!(
                        "{namespace} {}: the server's {kind} value cannot be read as one; pull stopped",
                        k.key
                    ),
                    exit::FAILED,
                );
            }
        };
        let write = KvWrite {
            namespace: namespace.to_string(),
            key: k.key.clone(),
            value,
            kv_type: Some(kind.clone()),
            description: None,
            ttl: time_left(k.expiration_date.as_deref()),
            overwrite: true,
        };
        if let Err(e) = store.set(write) {
            return report(e, exit::FAILED);
        }
        pulled += 1;
        out.push_str(&format!("pulled  {namespace}  {}  {kind}\n", k.key));
    }
    let _ = crate::write_stdout(out.as_bytes());
    crate::say!(
        "{pulled} key(s) pulled from {} into the local store (values are not shown)",
        remote.server.address()
    );
    exit::SUCCESS
}

fn print(text: &str) -> u8 {
    match crate::write_stdout(text.as_bytes()) {
        Ok(()) => exit::SUCCESS,
        Err(e) => report(format!("cannot write to stdout: {e}"), exit::FAILED),
    }
}
