//! Kestra's `io.kestra.plugin.docker.cli` tasks (aliases `io.kestra.plugin.docker.*`): Run
//! (a container, on the Docker task runner of `runner_scripts`), Build, Push, Pull, Tag, Rm,
//! Stop, ImageLs and Prune (Docker Engine API calls through that runner's client,
//! `runner_scripts::kit::engine`), and Compose (`docker compose` as a script task).

mod common;
mod compose;
mod images;
mod run;

use runner_core::plugin::TaskDescriptor;

/// The Docker CLI task types.
pub const TASKS: &[TaskDescriptor] = &[
    run::RUN,
    images::BUILD,
    images::PUSH,
    images::PULL,
    images::TAG,
    images::RM,
    images::STOP,
    images::IMAGE_LS,
    images::PRUNE,
    compose::COMPOSE,
];
