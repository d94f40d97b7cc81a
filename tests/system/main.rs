//! The whole system against real services: the headline flow end to end (PostgreSQL with
//! password authentication, S3 with signature checks) and secrets through every path a run
//! has. `TESTENV=containers` runs the same suites on containers of images built here.

#[path = "../support/mod.rs"]
mod support;

/// The headline flow, as a user runs it.
mod e2e;
/// Secrets: never in a log, an error, a record, a page or a process's environment.
mod secrets;
