//! The properties Query and Queries share, as in Kestra's `AbstractJdbcBaseQuery`.

use crate::connection::SslMode;
use runner_core::Property;
use runner_core::registry::PropDoc;
use serde::Deserialize;
use serde_json::{Map, Value as Json};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum FetchType {
    Store,
    Fetch,
    FetchOne,
    None,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Props {
    pub(crate) url: Property<String>,
    pub(crate) username: Option<Property<String>>,
    pub(crate) password: Option<Property<String>>,
    pub(crate) sql: Property<String>,
    pub(crate) parameters: Option<Property<Map<String, Json>>>,
    pub(crate) fetch_type: Option<Property<FetchType>>,
    pub(crate) fetch: Option<bool>,
    pub(crate) fetch_one: Option<bool>,
    pub(crate) store: Option<bool>,
    pub(crate) fetch_size: Option<Property<u32>>,
    pub(crate) time_zone_id: Option<Property<String>>,
    #[serde(rename = "afterSQL")]
    pub(crate) after_sql: Option<Property<String>>,
    pub(crate) ssl: Option<Property<bool>>,
    pub(crate) ssl_mode: Option<Property<SslMode>>,
    pub(crate) ssl_root_cert: Option<Property<String>>,
    pub(crate) ssl_cert: Option<Property<String>>,
    pub(crate) ssl_key: Option<Property<String>>,
    pub(crate) ssl_key_password: Option<Property<String>>,
    /// Accepted for compatibility: runner opens one connection per task run.
    #[allow(dead_code)]
    pub(crate) connection_pooling: Option<Property<bool>>,
    #[allow(dead_code)]
    pub(crate) connection_pool_size: Option<Property<u32>>,
    /// Ignored by remote drivers such as PostgreSQL, as in Kestra.
    #[allow(dead_code)]
    pub(crate) output_files: Option<Json>,
    /// Queries only.
    pub(crate) transaction: Option<Property<bool>>,
}

impl Props {
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

/// Documentation of the shared properties, for `runner plugins`.
pub(crate) const COMMON: [PropDoc; 21] = [
    PropDoc::value("url", "string", "jdbc:postgresql://host[:port][/database][?user=..&password=..&sslmode=..&currentSchema=..]; URL parameters win over properties.").required(),
    PropDoc::value("username", "string", "The user to connect as."),
    PropDoc::value("password", "string", "The password (masked everywhere)."),
    PropDoc::value("sql", "string", "The SQL to run."),
    PropDoc::value("parameters", "map", "Named binds: `:name` in the SQL (casts and quoted text are left alone)."),
    PropDoc::value("fetchType", "STORE|FETCH|FETCH_ONE|NONE", "What to do with the result: a file, all rows, the first row, or nothing (default NONE)."),
    PropDoc::value("fetch", "boolean", "Deprecated: fetchType FETCH.").fixed(),
    PropDoc::value("fetchOne", "boolean", "Deprecated: fetchType FETCH_ONE.").fixed(),
    PropDoc::value("store", "boolean", "Deprecated: fetchType STORE.").fixed(),
    PropDoc::value("fetchSize", "integer", "Rows read per round trip (default 10000); memory stays bounded by it."),
    PropDoc::value("timeZoneId", "string", "The zone for time and timestamptz values (default: the machine's)."),
    PropDoc::value("afterSQL", "string", "One statement run after `sql` in the same transaction, with the same parameters."),
    PropDoc::value("ssl", "boolean", "Use TLS (verify-full unless sslMode says otherwise)."),
    PropDoc::value("sslMode", "DISABLE|ALLOW|PREFER|REQUIRE|VERIFY_CA|VERIFY_FULL", "TLS mode."),
    PropDoc::value("sslRootCert", "string", "CA certificate, PEM text."),
    PropDoc::value("sslCert", "string", "Client certificate, PEM text."),
    PropDoc::value("sslKey", "string", "Client key, PEM text (masked)."),
    PropDoc::value("sslKeyPassword", "string", "Password of the client key (masked)."),
    PropDoc::value("connectionPooling", "boolean", "Accepted; runner opens one connection per task run."),
    PropDoc::value("connectionPoolSize", "integer", "Accepted; see connectionPooling."),
    PropDoc::value("outputFiles", "list", "Accepted and ignored, as Kestra does for PostgreSQL."),
];
