//! The properties every Kestra JDBC Query and Queries takes after `sql` (`AbstractJdbcQuery`).

use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::Map;

/// What a query does with its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FetchType {
    /// Rows go to an Ion file in storage (`uri`).
    Store,
    /// All rows in the outputs (`rows`).
    Fetch,
    /// The first row in the outputs (`row`).
    FetchOne,
    /// Nothing is read.
    None,
}

/// `parameters`, `fetchType` (and the deprecated `fetch`, `fetchOne`, `store`), `fetchSize`,
/// `timeZoneId`, `afterSQL`, and the connection pool settings Kestra accepts.
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub struct QueryOptions {
    /// Named binds: `:name` in the SQL (casts and quoted text are left alone).
    pub parameters: Option<Property<Map<String, Json>>>,
    /// What to do with the result: a file, all rows, the first row, or nothing (default NONE).
    pub fetch_type: Option<Property<FetchType>>,
    /// Deprecated: fetchType FETCH.
    pub fetch: Option<bool>,
    /// Deprecated: fetchType FETCH_ONE.
    pub fetch_one: Option<bool>,
    /// Deprecated: fetchType STORE.
    pub store: Option<bool>,
    /// Rows read per round trip (default 10000); memory stays bounded by it.
    pub fetch_size: Option<Property<u32>>,
    /// The zone for time and timestamp-with-zone values (default: the machine's).
    pub time_zone_id: Option<Property<String>>,
    /// One statement run after `sql` in the same transaction, with the same parameters (Query
    /// only).
    #[serde(rename = "afterSQL")]
    pub after_sql: Option<Property<String>>,
    /// Accepted; runner opens one connection per task run.
    #[allow(dead_code)]
    pub connection_pooling: Option<Property<bool>>,
    /// Accepted; see connectionPooling.
    #[allow(dead_code)]
    pub connection_pool_size: Option<Property<u32>>,
}

/// The options of one run, rendered.
#[derive(Clone, Debug)]
pub struct RenderedOptions {
    pub parameters: Map<String, Json>,
    pub fetch: FetchType,
    pub fetch_size: u32,
    pub zone: jiff::tz::TimeZone,
    pub after_sql: Option<String>,
}

impl QueryOptions {
    /// Kestra's precedence: `fetch`, then `fetchOne`, then `store`, then `fetchType` (NONE).
    pub fn fetch_mode(&self, rendered: Option<FetchType>) -> FetchType {
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

    /// Renders every option for one run.
    pub fn render(&self, ctx: &RunContext) -> Result<RenderedOptions, TaskError> {
        Ok(RenderedOptions {
            parameters: ctx
                .render_opt(&self.parameters, "parameters")?
                .unwrap_or_default(),
            fetch: self.fetch_mode(ctx.render_opt(&self.fetch_type, "fetchType")?),
            fetch_size: ctx
                .render_opt(&self.fetch_size, "fetchSize")?
                .unwrap_or(10_000)
                .max(1),
            zone: ctx.render_time_zone(&self.time_zone_id, "timeZoneId")?,
            after_sql: ctx.render_opt(&self.after_sql, "afterSQL")?,
        })
    }
}

/// Kestra's `fetch.size` counter: the rows read, tagged with how they were fetched.
pub fn fetch_metric(ctx: &RunContext, fetch: FetchType, rows: u64) {
    let mut tags = Map::new();
    tags.insert(
        "fetch".into(),
        Json::String(matches!(fetch, FetchType::Fetch | FetchType::FetchOne).to_string()),
    );
    tags.insert(
        "store".into(),
        Json::String((fetch == FetchType::Store).to_string()),
    );
    ctx.metric(Metric {
        name: "fetch.size".into(),
        kind: MetricKind::Counter,
        value: rows as f64,
        tags,
    });
}
