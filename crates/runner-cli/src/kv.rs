//! `runner kv`: the KV store from the shell, to seed and inspect what flows keep between runs.

use crate::cli::{Format, KvArgs, KvCommand};
use crate::{exit, report};
use runner_core::kv::{KvLookup, KvStore, KvWrite, check_key};
use runner_kv::SqliteKv;
use serde_json::{Value as Json, json};
use std::path::PathBuf;

pub(crate) fn kv(args: KvArgs) -> u8 {
    let dir = args.state.unwrap_or_else(|| PathBuf::from(".runner/state"));
    let namespace = match &args.command {
        KvCommand::List { namespace, .. } => namespace.as_deref(),
        KvCommand::Get { namespace, .. }
        | KvCommand::Set { namespace, .. }
        | KvCommand::Delete { namespace, .. } => Some(namespace.as_str()),
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

fn print(text: &str) -> u8 {
    match crate::write_stdout(text.as_bytes()) {
        Ok(()) => exit::SUCCESS,
        Err(e) => report(format!("cannot write to stdout: {e}"), exit::FAILED),
    }
}
