//! `runner`: run Kestra flow files locally.
//!
//! The command-line front end: argument parsing ([`cli`]), one module per subcommand, the
//! rendering of diagnostics with source snippets, and the [`registry`] that joins every task
//! crate's list. Only this crate prints. Exit codes: 0 success (SUCCESS or WARNING), 1 the
//! execution failed or was killed (or, for `validate` and `eval`, the input was rejected), 2
//! the flow or the command line is invalid.

mod cli;
mod diagnostics;
mod eval;
mod files;
mod plugins;
mod registry;
mod run;
mod secrets;
mod signals;
mod summary;
mod validate;
mod vars;

use clap::Parser;
use std::process::ExitCode;

pub use registry::registry;

/// Exit codes, documented in README.
pub mod exit {
    pub const SUCCESS: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const INVALID: u8 = 2;
}

pub fn main() -> ExitCode {
    let args = cli::Cli::parse();
    ExitCode::from(dispatch(args))
}

fn dispatch(cli: cli::Cli) -> u8 {
    use cli::{Command, SecretsCommand};
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Validate { paths, env_files } => validate::validate_paths(&paths, &env_files),
        Command::Eval {
            vars,
            flow,
            template,
            env_files,
        } => eval::eval(vars.as_deref(), flow.as_deref(), &template, &env_files),
        Command::Plugins { format } => plugins::plugins(format),
        Command::Secrets(SecretsCommand::Encode {
            input,
            output,
            force,
        }) => secrets::encode(&input, &output, force),
    }
}

/// Prints `error: message` and returns `code`.
fn report(message: impl std::fmt::Display, code: u8) -> u8 {
    eprintln!("{}: {message}", diagnostics::Style::stderr().error_label());
    code
}
