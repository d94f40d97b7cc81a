//! Every task type this binary runs. Adding a task family is one line here, its feature and
//! its dependency line in the root manifest; `runner plugins` prints exactly this list.

use runner_core::{Registry, TaskDescriptor};

/// The core tasks, then each family's list, in the order `runner plugins` shows them.
const FAMILIES: &[&[TaskDescriptor]] = &[
    runner_core_tasks::TASKS,
    runner_core::TASKS,
    #[cfg(feature = "postgres")]
    runner_postgres::TASKS,
    #[cfg(feature = "aws")]
    runner_aws::TASKS,
    #[cfg(feature = "serdes")]
    runner_serdes::TASKS,
    #[cfg(feature = "scripts")]
    runner_scripts::TASKS,
    #[cfg(feature = "http")]
    runner_http::TASKS,
    runner_kv::TASKS,
    #[cfg(feature = "git")]
    runner_git::TASKS,
    #[cfg(feature = "duckdb")]
    runner_duckdb::TASKS,
    #[cfg(feature = "sqlite")]
    runner_sqlite::TASKS,
    #[cfg(feature = "dbt")]
    runner_dbt::TASKS,
    #[cfg(feature = "mail")]
    runner_mail::TASKS,
    #[cfg(feature = "fs")]
    runner_fs::TASKS,
    #[cfg(feature = "docker")]
    runner_docker::TASKS,
    #[cfg(feature = "compress")]
    runner_compress::TASKS,
    #[cfg(feature = "ai")]
    runner_ai::TASKS,
    #[cfg(feature = "redis")]
    runner_redis::TASKS,
    #[cfg(feature = "mysql")]
    runner_mysql::TASKS,
];

pub fn registry() -> Registry {
    Registry::new(FAMILIES)
}
