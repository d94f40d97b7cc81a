//! The command line, one test binary: each module drives the built `runner` binary in a
//! sandbox (its own folder, a cleared environment) and checks what it printed, wrote and
//! exited with. One binary, because each test binary links every task family.

#[path = "../support/mod.rs"]
mod support;

/// AIAgent's tools that run flows of the flows folder.
mod agent_tools;
/// The subcommands, their options and exit codes, `init`, completions, README's promises.
mod commands;
/// The task contract over every registered type.
mod contract;
/// The runnable core tasks through the binary (storage, items, namespace files...).
mod core_tasks;
/// `runner deploy`, `run --server`, `kv push/pull` against a Kestra API server.
mod deploy;
/// Generated inputs for every parser a flow or a file reaches; the soak is `--ignored`.
mod fuzz;
/// The git sync tasks with the flows folder of `runner run` and `runner test`.
mod git_sync;
/// Hostile and careless input: every guarantee README's security section makes.
mod hostile;
/// `runner kv` and the KV tasks across runs.
mod kv;
/// `runner lsp` over a pipe, as an editor drives it.
mod lsp;
/// The registry the binary ships: examples, property documentation, credentials.
mod registry;
/// `resume`, `restart`, `kill`: going on with a recorded execution.
mod resume;
/// Subflows from the flows folder.
mod subflow;
/// `runner test`: Kestra's test suites.
mod test_suites;
/// `--trigger`: what a flow's triggers give it.
mod triggers;
