//! Kestra's PostgreSQL tasks, `io.kestra.plugin.jdbc.postgresql.Query`, `Queries`, `CopyIn` and
//! `CopyOut`, on tokio-postgres.
//!
//! Values are decoded from PostgreSQL's binary format for every type of Kestra's cell converter
//! (`cell`), written as Kestra writes them: JSON for FETCH outputs, Ion text for STORE files.
//! STORE streams rows through a portal in `fetchSize` batches, so memory stays flat whatever the
//! size of the result. Named parameters and statement splitting know about quotes, comments and
//! dollar quotes (`sql`).

mod cell;
mod connection;
mod copy;
mod exec;
mod props;
mod queries;
mod query;
mod sql;
mod tls;

use runner_core::plugin::TaskDescriptor;

/// The PostgreSQL task types.
pub const TASKS: &[TaskDescriptor] = &[
    query::QUERY,
    queries::QUERIES,
    copy::COPY_IN,
    copy::COPY_OUT,
];
