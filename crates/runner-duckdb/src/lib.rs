//! Kestra's DuckDB tasks, `io.kestra.plugin.jdbc.duckdb.Query` and `Queries`, on DuckDB in this
//! process (DuckDB 1.5.5, Kestra's driver's version: same engine, same file format).
//!
//! Built on the SQL kit (`runner-jdbc`): DuckDB's values are read from its result chunks in
//! their own types (`decode`) into the kit's cells, which write them as Kestra does: JSON for
//! FETCH outputs, Ion for STORE files. DuckDB runs on a thread of its own (`worker`) that
//! streams rows to the task over a bounded channel, so memory stays flat whatever the size of
//! the result, and a dropped task interrupts the query. The database and its files (`url`,
//! `databaseUri`, `inputFiles`, `outputFiles`, `outputDbFile`) are laid out as Kestra lays
//! them out (`location`).

mod decode;
mod engine;
mod location;
mod props;
mod queries;
mod query;
mod worker;

use runner_core::plugin::TaskDescriptor;

/// The DuckDB task types.
pub const TASKS: &[TaskDescriptor] = &[query::QUERY, queries::QUERIES];

/// The version of the DuckDB library this binary runs (`v1.5.5`).
pub fn duckdb_version() -> String {
    engine::library_version()
}
