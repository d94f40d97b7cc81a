//! The properties Query and Queries share, as in Kestra's `AbstractJdbcBaseQuery`: how to log
//! in, written before `sql`, and what to do with the result, written after it. CopyIn and
//! CopyOut take the login and TLS ones.

use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::Map;

pub(crate) use crate::connection::SslMode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum FetchType {
    Store,
    Fetch,
    FetchOne,
    None,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Login {
    /// jdbc:postgresql://host[:port][/database][?user=..&password=..&sslmode=..&currentSchema=..]; URL parameters win over properties.
    pub(crate) url: Property<String>,
    /// The user to connect as.
    pub(crate) username: Option<Property<String>>,
    /// The password (masked everywhere).
    pub(crate) password: Option<Property<String>>,
}

/// TLS, as pgjdbc takes it; every PostgreSQL task has these.
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Tls {
    /// Use TLS (verify-full unless sslMode says otherwise).
    pub(crate) ssl: Option<Property<bool>>,
    /// TLS mode.
    pub(crate) ssl_mode: Option<Property<SslMode>>,
    /// CA certificate, PEM text.
    pub(crate) ssl_root_cert: Option<Property<String>>,
    /// Client certificate, PEM text.
    pub(crate) ssl_cert: Option<Property<String>>,
    /// Client key, PEM text (masked).
    pub(crate) ssl_key: Option<Property<String>>,
    /// Password of the client key (masked).
    pub(crate) ssl_key_password: Option<Property<String>>,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Options {
    /// Named binds: `:name` in the SQL (casts and quoted text are left alone).
    pub(crate) parameters: Option<Property<Map<String, Json>>>,
    /// What to do with the result: a file, all rows, the first row, or nothing (default NONE).
    pub(crate) fetch_type: Option<Property<FetchType>>,
    /// Deprecated: fetchType FETCH.
    pub(crate) fetch: Option<bool>,
    /// Deprecated: fetchType FETCH_ONE.
    pub(crate) fetch_one: Option<bool>,
    /// Deprecated: fetchType STORE.
    pub(crate) store: Option<bool>,
    /// Rows read per round trip (default 10000); memory stays bounded by it.
    pub(crate) fetch_size: Option<Property<u32>>,
    /// The zone for time and timestamptz values (default: the machine's).
    pub(crate) time_zone_id: Option<Property<String>>,
    /// One statement run after `sql` in the same transaction, with the same parameters.
    #[serde(rename = "afterSQL")]
    pub(crate) after_sql: Option<Property<String>>,
    #[serde(flatten)]
    pub(crate) tls: Tls,
    /// Accepted; runner opens one connection per task run.
    #[allow(dead_code)]
    pub(crate) connection_pooling: Option<Property<bool>>,
    /// Accepted; see connectionPooling.
    #[allow(dead_code)]
    pub(crate) connection_pool_size: Option<Property<u32>>,
    /// Accepted and ignored, as Kestra does for PostgreSQL.
    #[allow(dead_code)]
    #[prop(type = "list")]
    pub(crate) output_files: Option<Json>,
}

impl Options {
    /// Kestra's precedence: `fetch`, then `fetchOne`, then `store`, then `fetchType` (NONE).
    pub(crate) fn fetch_mode(&self, rendered: Option<FetchType>) -> FetchType {
        if self.fetch == Some(true) {
            FetchType::Fetch
        } else if self.fetch_one == Some(true) {
            FetchType::FetchOne
        } else if self.store == Some(true) {
            FetchType::Store
        } else {
            rendered.unwrap_or(FetchType::None)
        }
    }
}
