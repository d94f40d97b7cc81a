//! The Kestra flow engine.
//!
//! Two faces:
//! - for task crates, [`plugin`]: everything a task type needs, in one import;
//! - for the binary and the tests, the engine: a [`Registry`] of task types, [`validate`]
//!   (a YAML document to a [`Plan`], or positioned diagnostics, without I/O), and
//!   [`ExecutionBuilder`], the one way to start an [`Execution`] of a plan.
//!
//! Each task reaches the world only through its [`plugin::RunContext`]: rendering, `kestra://`
//! storage, logs (masked), its execution's cleanup.

// The derives name `::runner_core::plugin`, also inside this crate.
extern crate self as runner_core;

mod cleanup;
mod context;
pub mod control;
mod environment;
mod error;
mod execution;
mod executor;
mod fixture;
pub mod flow_calls;
mod glob;
mod inputs;
pub mod kv;
mod log;
mod namespace_files;
mod net;
mod pipe;
mod plan;
pub mod plugin;
mod process;
mod progress;
mod property;
mod registry;
pub mod resume;
mod services;
mod split;
mod state;
mod storage;
mod subflow;
mod task;
mod tasks;
pub mod trigger;
mod validate;
mod workdir;

pub mod ids;

pub use environment::{EnvFileError, Environment};
pub use execution::{Execution, ExecutionBuilder, FlowSource, RecordError, RunLimits, StartError};
pub use fixture::TaskFixture;
pub use inputs::{InputError, InputSpec, default_inputs};
pub use log::{Level, LogFormat};
pub use plan::Plan;
pub use process::{PROCESS_MARK, adopt_orphans};
pub use progress::{ProgressLine, ProgressSink, Unit as ProgressUnit};
pub use registry::{PropDoc, PropKind, Registry, TaskDescriptor, TaskType};
pub use runner_secrets::Masker;
pub use runner_template::{JqSandbox, Limits};
pub use services::Services;
pub use state::{State, TaskRunSummary};
pub use tasks::TASKS;
pub use validate::{
    Validation, unset_secrets, validate, validate_allowing_unsupported, validate_under_test,
};
