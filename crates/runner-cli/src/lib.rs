//! `runner`: run Kestra flow files locally.
//!
//! The command-line front end: argument parsing ([`cli`]), the four commands, the rendering of
//! diagnostics with source snippets, and the registry that joins every plugin's task list.
//! Exit codes: 0 success (SUCCESS or WARNING), 1 the execution failed or was killed (or, for
//! `validate` and `eval`, the input was rejected), 2 the flow or the command line is invalid.

mod cli;
mod commands;
mod diagnostics;
mod environment;
mod files;

use clap::Parser;
use std::process::ExitCode;

pub use commands::registry;

/// Exit codes, documented in README.
pub mod exit {
    pub const SUCCESS: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const INVALID: u8 = 2;
}

pub fn main() -> ExitCode {
    let args = cli::Cli::parse();
    ExitCode::from(commands::dispatch(args))
}
