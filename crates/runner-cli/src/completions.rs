//! `runner completions SHELL`: the shell's completion script, generated from the command line
//! definition itself (clap_complete), so it never falls behind.

use crate::cli::{Cli, Shell};
use clap::CommandFactory;

pub(crate) fn completions(shell: Shell) -> u8 {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "runner", &mut out);
    match crate::write_stdout(&out) {
        Ok(()) => crate::exit::SUCCESS,
        Err(e) => crate::report(format!("cannot print the script: {e}"), crate::exit::FAILED),
    }
}
