//! Kestra's MySQL and MariaDB tasks (`io.kestra.plugin.jdbc.mysql.Query`, `Queries`, `Batch`;
//! `io.kestra.plugin.jdbc.mariadb.Query`, `Queries`) on the SQL kit: one connection per task
//! run, rows streamed from the server into the kit's result sets (STORE writes them to Ion as
//! they arrive), each dialect's type mapping as Kestra's cell converters do it.

mod batch;
mod cell;
mod connection;
mod tasks;

use runner_core::plugin::TaskDescriptor;

pub const TASKS: &[TaskDescriptor] = &[
    tasks::MYSQL_QUERY,
    tasks::MYSQL_QUERIES,
    batch::MYSQL_BATCH,
    tasks::MARIADB_QUERY,
    tasks::MARIADB_QUERIES,
];
