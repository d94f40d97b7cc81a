//! Kestra's PostgreSQL tasks, `io.kestra.plugin.jdbc.postgresql.Query`, `Queries`, `CopyIn` and
//! `CopyOut`, on tokio-postgres.
//!
//! Built on the SQL kit (`runner-jdbc`): values are decoded from PostgreSQL's binary format for
//! every type of Kestra's cell converter (`cell`) into the kit's cells, which write them as Kestra
//! does: JSON for FETCH outputs, Ion text for STORE files. STORE streams rows through a portal in
//! `fetchSize` batches, so memory stays flat whatever the size of the result.

mod cell;
mod connection;
mod copy;
mod exec;
mod props;
mod queries;
mod query;
mod tls;

use runner_core::plugin::TaskDescriptor;

/// The PostgreSQL task types.
pub const TASKS: &[TaskDescriptor] = &[
    query::QUERY,
    queries::QUERIES,
    copy::COPY_IN,
    copy::COPY_OUT,
];
