//! Kestra's core tasks, one module per type.

mod assert;
mod debug;
mod execution;
mod fail;
mod flow;
mod items;
mod labels;
mod log;
mod metric;
mod namespace;
mod output;
mod storage;
mod templated;

use crate::plugin::TaskDescriptor;

/// The core task types, in the order `runner plugins` lists them.
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
    flow::sequential::SEQUENTIAL,
    flow::parallel::PARALLEL,
    flow::if_::IF,
    flow::switch::SWITCH,
    flow::for_each::FOR_EACH,
    flow::for_each::EACH_SEQUENTIAL,
    flow::for_each::EACH_PARALLEL,
    flow::sleep::SLEEP,
    flow::allow_failure::ALLOW_FAILURE,
    flow::pause::PAUSE,
    flow::working_directory::WORKING_DIRECTORY,
    flow::dag::DAG,
    flow::loop_until::LOOP_UNTIL,
    flow::subflow::SUBFLOW,
    flow::for_each_item::FOR_EACH_ITEM,
];

/// Kestra's truthiness for conditions: anything but "false", "0", "-0" and "".
pub(crate) fn is_truthy(s: &str) -> bool {
    !matches!(s.trim(), "false" | "0" | "-0" | "")
}
