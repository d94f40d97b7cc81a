//! The Kestra flow engine.
//!
//! - [`Registry`] maps task types (and Kestra's old aliases) to [`TaskDescriptor`]s; plugin crates
//!   export slices of them ([`tasks::TASKS`] holds the core ones).
//! - [`validate`] turns a YAML document into a [`Plan`] or positioned diagnostics, without I/O.
//! - [`Executor`] runs a plan; each task reaches the world only through its [`RunContext`].
//! - [`Storage`] backs `kestra:///` URIs with a local directory.

pub mod cleanup;
pub mod context;
pub mod error;
pub mod executor;
pub mod ids;
pub mod inputs;
pub mod log;
pub mod pipe;
pub mod plan;
pub mod property;
pub mod registry;
pub mod state;
pub mod storage;
pub mod task;
pub mod tasks;
pub mod validate;

pub use context::{ExecutionShared, RunContext};
pub use error::TaskError;
pub use executor::Executor;
pub use plan::Plan;
pub use property::Property;
pub use registry::{PropDoc, PropKind, Registry, TaskDescriptor};
pub use state::State;
pub use storage::Storage;
pub use validate::{TaskBuilder, Validation, validate};
