//! Kestra's runnable core tasks, one module per type: a plugin crate like the others, on the
//! plugin prelude. The few that act on their execution as a whole (Exit, SetVariables, Labels,
//! PurgeCurrentExecutionFiles, TemplatedTask) also use the engine's `control` module, which
//! other plugins do not. The flowable core tasks (Sequential, Parallel, ForEach, Subflow...)
//! decide which tasks run and stay in the engine.

mod assert;
mod debug;
mod execution;
mod fail;
mod items;
mod labels;
mod log;
mod metric;
mod namespace;
mod output;
mod storage;
mod templated;

use runner_core::plugin::TaskDescriptor;

/// The runnable core task types, in the order `runner plugins` lists them.
pub const TASKS: &[TaskDescriptor] = &[
    log::LOG,
    debug::RETURN,
    debug::ECHO,
    output::OUTPUT_VALUES,
    fail::FAIL,
    assert::ASSERT,
    labels::LABELS,
    execution::EXIT,
    execution::SET_VARIABLES,
    execution::UNSET_VARIABLES,
    metric::PUBLISH,
    templated::TEMPLATED_TASK,
    storage::WRITE,
    storage::PURGE,
    storage::SIZE,
    storage::DELETE,
    storage::LOCAL_FILES,
    storage::CONCAT,
    storage::SPLIT,
    items::FILTER_ITEMS,
    items::DEDUPLICATE_ITEMS,
    items::REVERSE,
    namespace::DOWNLOAD_FILES,
    namespace::UPLOAD_FILES,
    namespace::DELETE_FILES,
];
