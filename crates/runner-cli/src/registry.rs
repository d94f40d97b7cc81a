//! Every task type this binary runs. Adding a task crate is one line here and its dependency
//! line in this crate's manifest; `runner plugins` prints exactly this list.

use runner_core::Registry;

/// The core tasks, then each task crate's list, in the order `runner plugins` shows them.
pub fn registry() -> Registry {
    Registry::new(&[
        runner_core::TASKS,
        runner_postgres::TASKS,
        runner_aws::TASKS,
        runner_serdes::TASKS,
        runner_scripts::TASKS,
        runner_http::TASKS,
        runner_kv::TASKS,
        runner_git::TASKS,
    ])
}
