//! Kestra's git plugin on the machine's `git`: `Clone`; the sync tasks (`SyncFlows`,
//! `SyncFlow`, `SyncNamespaceFiles`, the older `Sync`), which bring a branch into the run's
//! flows folder and namespace files; the push tasks (`PushFlows`, `PushNamespaceFiles`,
//! `PushExecutionFiles`, the older `Push`), which commit them to a branch; and
//! `NamespaceSync`, both ways for one namespace.
//!
//! "Kestra's flows" are the run's flows folder ([`FlowsFolder`], a run service the binary
//! gives every `runner run`), and "namespace files" the namespace's files (the project's
//! `--namespace-files` folder, read only, under the files flows upload).

mod clone;
mod flows;
mod git;
mod legacy;
mod namespace_files;
mod namespace_sync;
mod push;
mod sync_flows;
mod tree;

use runner_core::plugin::TaskDescriptor;

pub use flows::FlowsFolder;

pub const TASKS: &[TaskDescriptor] = &[
    clone::CLONE,
    sync_flows::SYNC_FLOWS,
    sync_flows::SYNC_FLOW,
    namespace_files::SYNC_NAMESPACE_FILES,
    push::PUSH_FLOWS,
    push::PUSH_NAMESPACE_FILES,
    push::PUSH_EXECUTION_FILES,
    namespace_sync::NAMESPACE_SYNC,
    legacy::SYNC,
    legacy::PUSH,
];
