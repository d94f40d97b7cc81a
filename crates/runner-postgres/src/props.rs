//! The properties Query and Queries share, as in Kestra's `AbstractJdbcBaseQuery`: how to log
//! in, written before `sql`, and what to do with the result (the SQL kit's), written after it.
//! CopyIn and CopyOut take the login and TLS ones.

use runner_core::plugin::*;
use runner_jdbc::QueryOptions;
use serde::Deserialize;

pub(crate) use crate::connection::SslMode;

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Login {
    /// jdbc:postgresql://host[:port][/database][?user=..&password=..&sslmode=..&currentSchema=..]; URL parameters win over properties.
    pub(crate) url: Property<String>,
    /// The user to connect as.
    pub(crate) username: Option<Property<String>>,
    /// The password.
    #[prop(secret)]
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
    /// Client key, PEM text.
    #[prop(secret)]
    pub(crate) ssl_key: Option<Property<String>>,
    /// Password of the client key.
    #[prop(secret)]
    pub(crate) ssl_key_password: Option<Property<String>>,
}

/// The JDBC query options (the SQL kit's), TLS, and what Kestra accepts and PostgreSQL ignores.
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Options {
    #[serde(flatten)]
    pub(crate) query: QueryOptions,
    #[serde(flatten)]
    pub(crate) tls: Tls,
    /// Accepted and ignored, as Kestra does for PostgreSQL.
    #[allow(dead_code)]
    #[prop(type = "list")]
    pub(crate) output_files: Option<Json>,
}
