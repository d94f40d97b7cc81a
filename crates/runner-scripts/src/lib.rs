//! Kestra's script tasks: `io.kestra.plugin.scripts.shell`, `python`, `node`, `r`, `julia`,
//! `ruby`, `perl`, `php`, `lua`, `go`, `bun`, `deno`, `groovy`, `powershell`, `dotnet` and
//! `jbang` (`Script` and `Commands`) and the deprecated `io.kestra.core.tasks.scripts` ones, on the Process
//! task runner (this machine) or the Docker one (a container engine's API).
//!
//! One run for all (`exec`): the working directory gets namespace files and `inputFiles`,
//! the commands are rendered with `workingDir`, `kestra://` URIs become local copies, the
//! runner runs the command while `runner::relay` turns its output into log lines, outputs
//! and metrics (`protocol`), and `outputFiles` go to storage.

mod engines;
mod exec;
mod jbang;
pub mod kit;
mod languages;
mod legacy;
mod lines;
mod props;
mod protocol;
mod python;
mod python_env;
mod runner;
mod shell;

use runner_core::plugin::TaskDescriptor;

/// The script task types.
pub const TASKS: &[TaskDescriptor] = &[
    shell::COMMANDS,
    shell::SCRIPT,
    python::SCRIPT,
    python::COMMANDS,
    languages::node::SCRIPT,
    languages::node::COMMANDS,
    languages::r::SCRIPT,
    languages::r::COMMANDS,
    languages::julia::SCRIPT,
    languages::julia::COMMANDS,
    languages::ruby::SCRIPT,
    languages::ruby::COMMANDS,
    languages::perl::SCRIPT,
    languages::perl::COMMANDS,
    languages::php::SCRIPT,
    languages::php::COMMANDS,
    languages::lua::SCRIPT,
    languages::lua::COMMANDS,
    languages::go::SCRIPT,
    languages::go::COMMANDS,
    languages::bun::SCRIPT,
    languages::bun::COMMANDS,
    languages::deno::SCRIPT,
    languages::deno::COMMANDS,
    languages::groovy::SCRIPT,
    languages::groovy::COMMANDS,
    languages::powershell::SCRIPT,
    languages::powershell::COMMANDS,
    languages::dotnet::SCRIPT,
    languages::dotnet::COMMANDS,
    jbang::SCRIPT,
    jbang::COMMANDS,
    engines::NASHORN_EVAL,
    engines::NASHORN_FILE_TRANSFORM,
    engines::JYTHON_EVAL,
    engines::JYTHON_FILE_TRANSFORM,
    legacy::BASH,
    legacy::PYTHON,
    legacy::NODE,
];
