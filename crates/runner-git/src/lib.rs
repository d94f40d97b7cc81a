//! Kestra's git plugin: `io.kestra.plugin.git.Clone`, run by the machine's `git` in the task
//! run's working directory.

mod clone;

use runner_core::plugin::TaskDescriptor;

pub const TASKS: &[TaskDescriptor] = &[clone::CLONE];
