//! Kestra's flowable core tasks, one module per type: they decide which tasks run, so they
//! live with the executor. The runnable core tasks are a plugin crate like the others
//! (`runner-core-tasks`).

mod flow;

use crate::plugin::TaskDescriptor;

/// The flowable core task types, in the order `runner plugins` lists them.
pub const TASKS: &[TaskDescriptor] = &[
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

/// The Pause's type name: validation reads its `onResume` inputs into the plan.
pub(crate) const PAUSE_TYPE: &str = flow::pause::PAUSE.type_name;

/// Kestra's truthiness for conditions: anything but "false", "0", "-0" and "".
pub fn is_truthy(s: &str) -> bool {
    !matches!(s.trim(), "false" | "0" | "-0" | "")
}
