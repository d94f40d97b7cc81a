//! Kestra's dbt tasks, `io.kestra.plugin.dbt.cli.*`: `DbtCLI`, the deprecated `Setup`, and the
//! deprecated command tasks (`Build`, `Compile`, `Deps`, `Freshness`, `List`, `Run`, `Seed`,
//! `Snapshot`, `Test`).
//!
//! dbt runs as a script on the script kit (`runner_scripts::kit`): the Process task runner
//! (dbt on this machine) or the Docker one (Kestra's image `ghcr.io/kestra-io/dbt`). After the
//! run, successful or not, `results` reads dbt's artifacts as Kestra does: each node of
//! `target/run_results.json` logged at its state's level with its metrics, `run_results.json`
//! and `manifest.json` kept as `outputFiles`, the JSON log file read for warnings (the WARNING
//! state) and the final counts; a failure says which nodes failed and why.

mod cli;
mod common;
mod legacy;
mod results;
mod setup;

use runner_core::plugin::TaskDescriptor;

/// The dbt task types.
pub const TASKS: &[TaskDescriptor] = &[
    cli::DBT_CLI,
    setup::SETUP,
    legacy::BUILD,
    legacy::COMPILE,
    legacy::DEPS,
    legacy::FRESHNESS,
    legacy::LIST,
    legacy::RUN,
    legacy::SEED,
    legacy::SNAPSHOT,
    legacy::TEST,
];
