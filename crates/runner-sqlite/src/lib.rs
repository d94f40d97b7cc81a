//! Kestra's SQLite tasks, `io.kestra.plugin.jdbc.sqlite.Query` and `Queries`, on SQLite in this
//! process (rusqlite, the SQLite runner's KV store already builds).
//!
//! Built on the SQL kit (`runner-jdbc`): values are converted by their column's declared type,
//! as Kestra's SQLite cell converter does (`cell`), into the kit's cells, which write them as
//! Kestra does: JSON for FETCH outputs, Ion for STORE files. SQLite runs on a thread of its
//! own (`worker`) that streams rows to the task over a bounded channel, and is interrupted
//! when the task is dropped. The database file is laid out as Kestra lays it out
//! (`location`): `url`, `sqliteFile`, `outputDbFile`, `outputFiles`.

mod cell;
mod location;
mod props;
mod tasks;
mod worker;

use runner_core::plugin::TaskDescriptor;

/// The SQLite task types.
pub const TASKS: &[TaskDescriptor] = &[tasks::QUERY, tasks::QUERIES];
