//! `runner`: run Kestra flow files locally.
//!
//! The command-line front end: argument parsing ([`cli`]), one module per subcommand, the
//! rendering of diagnostics with source snippets, and the [`registry`] that joins every task
//! crate's list. Only this crate prints. Exit codes: 0 success (SUCCESS or WARNING), 1 the
//! execution failed or was killed (or, for `validate` and `eval`, the input was rejected), 2
//! the flow or the command line is invalid, 3 the execution waits at a Pause.

/// `eprintln!` that never panics: a closed or full stderr must not crash the run (the record
/// is still written).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `eprint!` that never panics.
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

pub(crate) use {say, say_raw};

mod cli;
mod completions;
mod deploy;
mod diagnostics;
mod eval;
mod files;
mod flows;
mod init;
mod kill;
mod kv;
mod launch;
mod limits;
mod lsp;
mod plugins;
mod progress;
mod registry;
mod remote;
mod resume;
mod run;
mod schema;
mod seal;
mod secrets;
mod server;
mod signals;
mod summary;
mod test;
mod ui;
mod validate;
mod vars;
mod watch;

use clap::Parser;
use std::process::ExitCode;

pub use registry::registry;

/// Exit codes, documented in README.
pub mod exit {
    pub const SUCCESS: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const INVALID: u8 = 2;
    /// The execution waits at a Pause for `runner resume`.
    pub const PAUSED: u8 = 3;
}

pub fn main() -> ExitCode {
    // The jq sandbox is this binary started again (see runner_template's jq module).
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == runner_template::JQ_CHILD_ARG)
    {
        return runner_template::jq_child_main();
    }
    // A panic inside a task becomes that task's failure (see the executor), logged through
    // the masker; the default hook would first print its message, unmasked, to stderr.
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        crate::say!("runner: internal error{at} (a bug: please report it)");
    }));
    // Credentials out of the process image before anything else runs (see `seal`).
    let args = seal::args();
    // Orphans of task processes come to runner, which kills and reaps them.
    runner_core::adopt_orphans();
    let args = cli::Cli::parse_from(args);
    ExitCode::from(dispatch(args))
}

fn dispatch(cli: cli::Cli) -> u8 {
    use cli::{Command, SecretsCommand};
    diagnostics::set_color(cli.color);
    match cli.command {
        Command::Run(args) => run::run(*args),
        Command::Validate {
            paths,
            env,
            strict,
            allow_unsupported,
        } => validate::validate_paths(
            &paths,
            Some(&env),
            files::Gate {
                strict,
                allow_unsupported,
            },
            true,
        ),
        Command::Deploy(args) => deploy::deploy(args),
        Command::Eval {
            vars,
            flow,
            template,
            env,
        } => eval::eval(vars.as_deref(), flow.as_deref(), &template, &env),
        Command::Plugins { type_name, format } => match type_name {
            Some(t) => plugins::one(&t, format),
            None => plugins::plugins(format),
        },
        Command::Init { dir } => init::init(dir.as_deref()),
        Command::Schema { test_suite } => schema::schema(test_suite),
        Command::Lsp { env } => lsp::lsp(&env),
        Command::Completions { shell } => completions::completions(shell),
        Command::Kv(args) => kv::kv(args),
        Command::Test(args) => test::test(args),
        Command::Ui(args) => ui::ui(args),
        Command::Resume {
            args,
            inputs,
            inputs_file,
        } => resume::resume(args, inputs, inputs_file),
        Command::Restart(args) => resume::restart(args),
        Command::Kill { id, storage } => kill::kill(&id, storage.as_deref()),
        Command::Secrets(SecretsCommand::Encode {
            input,
            output,
            force,
        }) => secrets::encode(&input, &output, force),
        Command::Secrets(SecretsCommand::Encrypt {
            input,
            output,
            recipients,
            recipient_files,
            force,
        }) => secrets::encrypt(&input, &output, &recipients, &recipient_files, force),
    }
}

/// Prints `error: message` and returns `code`.
fn report(message: impl std::fmt::Display, code: u8) -> u8 {
    crate::say!("{}: {message}", diagnostics::Style::stderr().error_label());
    code
}

/// Writes `text` to stdout. A reader that went away (`| head`) is not an error; any other
/// failure (a full disk) is, since the output asked for was not delivered.
fn write_stdout(text: &[u8]) -> Result<(), std::io::Error> {
    with_stdout(|out| out.write_all(text))
}

/// Writes to stdout through a buffer with `write`; a closed pipe (`| head`) is not an error.
fn with_stdout(
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<(), std::io::Error> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match write(&mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
