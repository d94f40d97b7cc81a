//! The KV store in one SQLite database: one row per key, written in immediate transactions so
//! that processes sharing the state directory take turns instead of losing writes.

use jiff::Timestamp;
use runner_core::kv::{KvError, KvKey, KvLookup, KvPurge, KvRead, KvStore, KvWrite};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// The database's file name inside the state directory.
pub const FILE_NAME: &str = "kv.sqlite3";

/// The schema this build writes; a newer one is refused rather than misread.
const SCHEMA_VERSION: i64 = 1;

/// How long a writer waits for another process's transaction before giving up.
const BUSY_WAIT: Duration = Duration::from_secs(30);

pub struct SqliteKv {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// Namespaces that have flows: they exist even without keys.
    flow_namespaces: Vec<String>,
    /// What time it is, for TTLs (the system's clock, or a test's).
    clock: Clock,
}

/// Where the store reads the time, in milliseconds since the epoch: TTLs are computed and
/// checked with it, so a test can move time instead of waiting for it.
pub type Clock = std::sync::Arc<dyn Fn() -> i64 + Send + Sync>;

fn system_clock() -> Clock {
    std::sync::Arc::new(|| Timestamp::now().as_millisecond())
}

impl SqliteKv {
    /// Opens (or creates) the store in `dir`, which is made if needed.
    pub fn open(dir: &Path) -> Result<SqliteKv, KvError> {
        let path = dir.join(FILE_NAME);
        let fail = |what: &str, e: &dyn std::fmt::Display| KvError::Store {
            message: format!("cannot {what} the KV store {}: {e}", path.display()),
        };
        std::fs::create_dir_all(dir).map_err(|e| fail("create the folder of", &e))?;
        let conn = Connection::open(&path).map_err(|e| fail("open", &e))?;
        conn.busy_timeout(BUSY_WAIT)
            .map_err(|e| fail("configure", &e))?;
        // WAL lets readers go on while one process writes; NORMAL sync is durable in WAL mode
        // except for the last transactions on power loss, never corrupt.
        conn.pragma_update(None, "journal_mode", "WAL")
            .and_then(|_| conn.pragma_update(None, "synchronous", "NORMAL"))
            .map_err(|e| fail("configure", &e))?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| fail("read", &e))?;
        if version > SCHEMA_VERSION {
            return Err(KvError::Store {
                message: format!(
                    "the KV store {} was written by a newer runner (schema {version}): use that version",
                    path.display()
                ),
            });
        }
        conn.execute_batch(
            "BEGIN IMMEDIATE;
             CREATE TABLE IF NOT EXISTS kv (
                 namespace TEXT NOT NULL,
                 key TEXT NOT NULL,
                 value TEXT NOT NULL,
                 type TEXT,
                 description TEXT,
                 version INTEGER NOT NULL,
                 updated TEXT NOT NULL,
                 expires_ms INTEGER,
                 PRIMARY KEY (namespace, key)
             ) WITHOUT ROWID;
             PRAGMA user_version = 1;
             COMMIT;",
        )
        .map_err(|e| fail("create", &e))?;
        Ok(SqliteKv {
            path,
            conn: Mutex::new(conn),
            flow_namespaces: Vec::new(),
            clock: system_clock(),
        })
    }

    /// Namespaces that exist because flows live there (the run's flow, the flows folder).
    pub fn with_flow_namespaces(mut self, namespaces: impl IntoIterator<Item = String>) -> Self {
        self.flow_namespaces.extend(namespaces);
        self
    }

    /// Reads the time from `clock` instead of the system's.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    fn now_ms(&self) -> i64 {
        (self.clock)()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, e: rusqlite::Error) -> KvError {
        KvError::Store {
            message: format!("the KV store {} failed: {e}", self.path.display()),
        }
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn rfc3339_of_ms(ms: i64) -> String {
    Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn parse_value(text: &str) -> Json {
    serde_json::from_str(text).unwrap_or_else(|_| Json::String(text.to_string()))
}

/// `a.b.c`, then `a.b`, then `a`.
fn with_parents(namespace: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(namespace);
    std::iter::from_fn(move || {
        let current = next?;
        next = current.rfind('.').map(|i| &current[..i]);
        Some(current)
    })
}

impl KvRead for SqliteKv {
    fn lookup(&self, namespace: &str, key: &str, inherit: bool) -> Result<KvLookup, String> {
        if !inherit {
            self.check_namespace(namespace).map_err(|e| e.to_string())?;
        }
        let conn = self.connection();
        let now = self.now_ms();
        for ns in with_parents(namespace) {
            let row: Option<(String, Option<i64>)> = conn
                .query_row(
                    "SELECT value, expires_ms FROM kv WHERE namespace = ?1 AND key = ?2",
                    params![ns, key],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(|e| self.error(e).to_string())?;
            match row {
                Some((_, Some(expires))) if expires <= now => {
                    // Kestra deletes an expired key when it is read.
                    conn.execute(
                        "DELETE FROM kv WHERE namespace = ?1 AND key = ?2 AND expires_ms = ?3",
                        params![ns, key, expires],
                    )
                    .map_err(|e| self.error(e).to_string())?;
                    return Ok(KvLookup::Expired);
                }
                Some((value, _)) => return Ok(KvLookup::Found(parse_value(&value))),
                None if !inherit => break,
                None => {}
            }
        }
        Ok(KvLookup::Missing)
    }
}

impl KvStore for SqliteKv {
    fn set(&self, write: KvWrite) -> Result<(), KvError> {
        let mut conn = self.connection();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.error(e))?;
        let now = self.now_ms();
        let current: Option<(i64, Option<i64>)> = tx
            .query_row(
                "SELECT version, expires_ms FROM kv WHERE namespace = ?1 AND key = ?2",
                params![write.namespace, write.key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.error(e))?;
        let live = current.is_some_and(|(_, exp)| exp.is_none_or(|e| e > now));
        if live && !write.overwrite {
            return Err(KvError::Exists { key: write.key });
        }
        let version = current.map_or(1, |(v, _)| v + 1);
        let expires = write
            .ttl
            .map(|ttl| now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)));
        tx.execute(
            "INSERT OR REPLACE INTO kv (namespace, key, value, type, description, version, updated, expires_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                write.namespace,
                write.key,
                write.value.to_string(),
                write.kv_type,
                write.description,
                version,
                rfc3339_of_ms(now),
                expires
            ],
        )
        .map_err(|e| self.error(e))?;
        tx.commit().map_err(|e| self.error(e))
    }

    fn update(
        &self,
        namespace: &str,
        key: &str,
        change: &mut dyn FnMut(Option<Json>) -> Result<Json, String>,
    ) -> Result<(), KvError> {
        let mut conn = self.connection();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.error(e))?;
        let now = self.now_ms();
        let current: Option<(String, i64, Option<i64>)> = tx
            .query_row(
                "SELECT value, version, expires_ms FROM kv WHERE namespace = ?1 AND key = ?2",
                params![namespace, key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(|e| self.error(e))?;
        let live = current
            .as_ref()
            .filter(|(_, _, exp)| exp.is_none_or(|e| e > now));
        let new = change(live.map(|(v, _, _)| parse_value(v)))
            .map_err(|message| KvError::Store { message })?;
        let version = current.as_ref().map_or(1, |(_, v, _)| v + 1);
        // The description and expiry stay; a key that had expired starts afresh.
        tx.execute(
            "INSERT INTO kv (namespace, key, value, version, updated) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (namespace, key) DO UPDATE SET value = ?3, version = ?4, updated = ?5,
                 expires_ms = CASE WHEN ?6 THEN expires_ms ELSE NULL END",
            params![
                namespace,
                key,
                new.to_string(),
                version,
                rfc3339_of_ms(now),
                live.is_some()
            ],
        )
        .map_err(|e| self.error(e))?;
        tx.commit().map_err(|e| self.error(e))
    }

    fn delete(&self, namespace: &str, key: &str) -> Result<bool, KvError> {
        let conn = self.connection();
        let n = conn
            .execute(
                "DELETE FROM kv WHERE namespace = ?1 AND key = ?2",
                params![namespace, key],
            )
            .map_err(|e| self.error(e))?;
        Ok(n > 0)
    }

    fn keys(&self, namespace: &str, prefix: Option<&str>) -> Result<Vec<KvKey>, KvError> {
        Ok(self
            .select("WHERE namespace = ?1", params![namespace])?
            .into_iter()
            .filter(|k| !k.expired && prefix.is_none_or(|p| k.key.starts_with(p)))
            .collect())
    }

    fn all_keys(&self) -> Result<Vec<KvKey>, KvError> {
        self.select("", params![])
    }

    fn purge(&self, purge: &KvPurge, keep: &dyn Fn(&KvKey) -> bool) -> Result<u64, KvError> {
        let selected = |k: &KvKey| {
            (purge.namespaces.is_empty()
                || purge.namespaces.iter().any(|ns| {
                    &k.namespace == ns
                        || (purge.children
                            && k.namespace
                                .strip_prefix(ns.as_str())
                                .is_some_and(|rest| rest.starts_with('.')))
                }))
                && (!purge.expired_only || k.expired)
                && !keep(k)
        };
        let doomed: Vec<KvKey> = self.all_keys()?.into_iter().filter(selected).collect();
        let mut conn = self.connection();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.error(e))?;
        let mut count = 0;
        for k in &doomed {
            // Only the version that was selected: a key rewritten meanwhile stays.
            count += tx
                .execute(
                    "DELETE FROM kv WHERE namespace = ?1 AND key = ?2 AND version = ?3",
                    params![k.namespace, k.key, k.version],
                )
                .map_err(|e| self.error(e))? as u64;
        }
        tx.commit().map_err(|e| self.error(e))?;
        Ok(count)
    }

    fn check_namespace(&self, namespace: &str) -> Result<(), KvError> {
        let under = |ns: &str| {
            ns == namespace
                || ns
                    .strip_prefix(namespace)
                    .is_some_and(|rest| rest.starts_with('.'))
        };
        if self.flow_namespaces.iter().any(|ns| under(ns)) {
            return Ok(());
        }
        let conn = self.connection();
        let has_keys: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM kv WHERE namespace = ?1
                     OR substr(namespace, 1, length(?1) + 1) = ?1 || '.')",
                params![namespace],
                |r| r.get(0),
            )
            .map_err(|e| self.error(e))?;
        if has_keys {
            Ok(())
        } else {
            Err(KvError::UnknownNamespace {
                namespace: namespace.to_string(),
            })
        }
    }
}

impl SqliteKv {
    fn select(&self, filter: &str, args: impl rusqlite::Params) -> Result<Vec<KvKey>, KvError> {
        let conn = self.connection();
        let now = self.now_ms();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT namespace, key, type, description, version, updated, expires_ms FROM kv {filter}
                 ORDER BY namespace, key"
            ))
            .map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map(args, |r| {
                let expires: Option<i64> = r.get(6)?;
                Ok(KvKey {
                    namespace: r.get(0)?,
                    key: r.get(1)?,
                    kv_type: r.get(2)?,
                    description: r.get(3)?,
                    version: r.get(4)?,
                    updated: r.get(5)?,
                    expires: expires.map(rfc3339_of_ms),
                    expired: expires.is_some_and(|e| e <= now),
                })
            })
            .map_err(|e| self.error(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.error(e))
    }
}

/// The store opened on first use: a run that never touches the KV store creates no state
/// directory and pays nothing.
pub struct LazyKv {
    dir: PathBuf,
    flow_namespaces: Vec<String>,
    store: std::sync::OnceLock<Result<SqliteKv, String>>,
}

impl LazyKv {
    pub fn new(dir: impl Into<PathBuf>, flow_namespaces: Vec<String>) -> LazyKv {
        LazyKv {
            dir: dir.into(),
            flow_namespaces,
            store: std::sync::OnceLock::new(),
        }
    }

    fn get(&self) -> Result<&SqliteKv, KvError> {
        self.store
            .get_or_init(|| {
                SqliteKv::open(&self.dir)
                    .map(|s| s.with_flow_namespaces(self.flow_namespaces.iter().cloned()))
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|message| KvError::Store {
                message: message.clone(),
            })
    }
}

impl KvRead for LazyKv {
    fn lookup(&self, namespace: &str, key: &str, inherit: bool) -> Result<KvLookup, String> {
        self.get()
            .map_err(|e| e.to_string())?
            .lookup(namespace, key, inherit)
    }
}

impl KvStore for LazyKv {
    fn set(&self, write: KvWrite) -> Result<(), KvError> {
        self.get()?.set(write)
    }

    fn update(
        &self,
        namespace: &str,
        key: &str,
        change: &mut dyn FnMut(Option<Json>) -> Result<Json, String>,
    ) -> Result<(), KvError> {
        self.get()?.update(namespace, key, change)
    }

    fn delete(&self, namespace: &str, key: &str) -> Result<bool, KvError> {
        self.get()?.delete(namespace, key)
    }

    fn keys(&self, namespace: &str, prefix: Option<&str>) -> Result<Vec<KvKey>, KvError> {
        self.get()?.keys(namespace, prefix)
    }

    fn all_keys(&self) -> Result<Vec<KvKey>, KvError> {
        self.get()?.all_keys()
    }

    fn purge(&self, purge: &KvPurge, keep: &dyn Fn(&KvKey) -> bool) -> Result<u64, KvError> {
        self.get()?.purge(purge, keep)
    }

    fn check_namespace(&self, namespace: &str) -> Result<(), KvError> {
        self.get()?.check_namespace(namespace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_walked_nearest_first() {
        assert_eq!(
            with_parents("a.b.c").collect::<Vec<_>>(),
            vec!["a.b.c", "a.b", "a"]
        );
        assert_eq!(with_parents("a").collect::<Vec<_>>(), vec!["a"]);
    }
}
