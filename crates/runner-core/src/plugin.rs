//! Everything a task crate needs, in one import: `use runner_core::plugin::*;`.
//!
//! A task type is one struct whose fields are its properties (serde reads them, the derive
//! documents them), one `RunnableTask` or `FlowableTask` impl, and one [`TaskDescriptor`]:
//!
//! ```ignore
//! /// Log a message.
//! #[derive(Deserialize, Properties)]
//! struct Log {
//!     /// The message to log.
//!     message: Property<String>,
//! }
//!
//! pub(crate) const LOG: TaskDescriptor = TaskDescriptor {
//!     type_name: "io.kestra.plugin.core.log.Log",
//!     aliases: &[],
//!     doc: "Log a message.",
//!     example: "id: hello\ntype: io.kestra.plugin.core.log.Log\nmessage: hi",
//!     shape: runnable::<Log>(),
//! };
//! ```
//!
//! The crate exports `pub const TASKS: &[TaskDescriptor]`, and the binary's registry lists it.

pub use crate::cleanup::Cleanup;
pub use crate::context::RunContext;
pub use crate::error::{ErrorKind, TaskError};
pub use crate::glob::PathPattern;
pub use crate::kv::{KvError, KvKey, KvLookup, KvPurge, KvStore, KvWrite, check_key};
pub use crate::log::Level;
pub use crate::namespace_files::{
    Conflict, NamespaceFile, namespace_globs, normalize_namespace_path,
};
pub use crate::net::{NetworkPolicy, is_metadata_address, link_local_address};
pub use crate::pipe::{FileProgress, GrowingFile, Prepared};
pub use crate::plan::{TaskList, TaskNode};
pub use crate::process::ChildProcess;
pub use crate::progress::{Progress, Unit as ProgressUnit};
pub use crate::property::{IsoDuration, Property, Seal};
pub use crate::registry::{
    PropDoc, PropKind, PropType, Properties, Shape, TaskDescriptor, TaskLists, ValueError,
    check_value, flowable, runnable, unavailable_type,
};
pub use crate::split::{Batch, MAX_OPEN as SPLIT_MAX_FILES, SplitBy, parse_bytes};
pub use crate::state::State;
pub use crate::storage::{PartialFile, Storage, StorageError, copy_file};
pub use crate::subflow::{SubflowCall, SubflowRun};
pub use crate::task::{
    BoxFuture, Branch, FlowableTask, Outputs, Resolution, RunnableTask, TaskKind,
};
pub use crate::tasks::is_truthy;
pub use crate::workdir::{IfExists, Metric, MetricKind, NamespaceFiles, WorkingDir, list_files};
pub use runner_derive::{PropType, Properties};
pub use serde_json::Value as Json;
