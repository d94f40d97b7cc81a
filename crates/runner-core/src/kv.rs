//! The KV store as tasks see it: what a store must do, not how it keeps the values (the
//! `runner-kv` crate keeps them in SQLite). Reads by `kv()` go through the same store.

use serde_json::Value as Json;
use std::fmt;
use std::time::Duration;

pub use runner_template::{KvLookup, KvRead};

/// A value to write, with what Kestra keeps beside it.
#[derive(Clone, Debug)]
pub struct KvWrite {
    pub namespace: String,
    pub key: String,
    pub value: Json,
    /// Kestra's `kvType` (`STRING`, `NUMBER`, `JSON`...), when the flow gave one.
    pub kv_type: Option<String>,
    pub description: Option<String>,
    /// The value expires this long after it is written.
    pub ttl: Option<Duration>,
    /// False: writing a key that exists (and has not expired) fails.
    pub overwrite: bool,
}

/// One key as listings show it.
#[derive(Clone, Debug, PartialEq)]
pub struct KvKey {
    pub namespace: String,
    pub key: String,
    pub kv_type: Option<String>,
    pub description: Option<String>,
    pub version: i64,
    /// RFC 3339.
    pub updated: String,
    /// RFC 3339, when the key has a `ttl`.
    pub expires: Option<String>,
    pub expired: bool,
}

/// Which keys a purge removes.
#[derive(Clone, Debug)]
pub struct KvPurge {
    /// Namespaces, exactly (and their children when `children`); none: every namespace.
    pub namespaces: Vec<String>,
    pub children: bool,
    /// Only keys whose `ttl` has passed.
    pub expired_only: bool,
}

#[derive(Debug)]
pub enum KvError {
    /// `overwrite: false` on a key that exists.
    Exists { key: String },
    /// An explicit namespace with no flow and no key.
    UnknownNamespace { namespace: String },
    /// The database could not be read or written; the text says why and where.
    Store { message: String },
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvError::Exists { key } => write!(
                f,
                "Cannot set value for key '{key}'. Key already exists and `overwrite` is set to `false`."
            ),
            KvError::UnknownNamespace { namespace } => write!(
                f,
                "Cannot access the KV store. The namespace '{namespace}' does not exist."
            ),
            KvError::Store { message } => f.write_str(message),
        }
    }
}

impl std::error::Error for KvError {}

/// A KV store shared by every execution of the process (and by other processes).
pub trait KvStore: KvRead {
    /// Writes one value, atomically with the `overwrite` check.
    fn set(&self, write: KvWrite) -> Result<(), KvError>;

    /// Reads, changes and writes one value in one transaction (`Put`'s merge): `change` gets
    /// the current value (none when missing or expired) and returns the new one.
    fn update(
        &self,
        namespace: &str,
        key: &str,
        change: &mut dyn FnMut(Option<Json>) -> Result<Json, String>,
    ) -> Result<(), KvError>;

    /// Removes a key; whether it was there.
    fn delete(&self, namespace: &str, key: &str) -> Result<bool, KvError>;

    /// The live keys of `namespace` (not its children), sorted, optionally by prefix.
    fn keys(&self, namespace: &str, prefix: Option<&str>) -> Result<Vec<KvKey>, KvError>;

    /// Every key of every namespace, expired ones included (for `runner kv list`, PurgeKV).
    fn all_keys(&self) -> Result<Vec<KvKey>, KvError>;

    /// Removes the keys `purge` selects and `keep` does not keep; how many.
    fn purge(&self, purge: &KvPurge, keep: &dyn Fn(&KvKey) -> bool) -> Result<u64, KvError>;

    /// Fails with [`KvError::UnknownNamespace`] unless `namespace` has a flow or a key.
    fn check_namespace(&self, namespace: &str) -> Result<(), KvError>;
}

/// Kestra's rule for keys.
/// A namespace name, as Kestra allows them (letters, digits, `.`, `_`, `-`; no `..`): it becomes
/// a folder name in places, so nothing else may pass.
pub fn check_namespace_name(namespace: &str) -> Result<(), String> {
    let ok = !namespace.is_empty()
        && !namespace.starts_with('.')
        && !namespace.ends_with('.')
        && !namespace.contains("..")
        && namespace
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{namespace}` is not a namespace: letters, digits, `.`, `_` and `-` (as company.team)"
        ))
    }
}

pub fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("Key cannot be null or empty".into());
    }
    let mut chars = key.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        return Err("Key must start with an alphanumeric character (uppercase or lowercase) and can contain alphanumeric characters (uppercase or lowercase), dots (.), underscores (_), and hyphens (-) only.".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_kestras_rule() {
        assert!(check_key("a.b_c-1").is_ok());
        assert_eq!(check_key("").unwrap_err(), "Key cannot be null or empty");
        for bad in ["_a", ".a", "a b", "a/b", "é"] {
            assert!(
                check_key(bad).unwrap_err().starts_with("Key must start"),
                "{bad}"
            );
        }
    }
}
