//! The properties script tasks share (Kestra's `AbstractExecScript`), and the task runners
//! they name.

use runner_core::plugin::*;
use serde::{Deserialize, Deserializer};
use serde_json::Map;
use std::collections::BTreeMap;

pub(crate) const PROCESS: &str = "io.kestra.plugin.core.runner.Process";
pub(crate) const DOCKER: &str = "io.kestra.plugin.scripts.runner.docker.Docker";

/// Every script task's properties but its `script`/`commands` (Kestra's `AbstractExecScript`):
/// a task of the script kit flattens it into its own struct.
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub struct ScriptProps {
    /// Commands run first, in the same shell (`{{ workingDir }}` works in them).
    pub(crate) before_commands: Option<Property<Vec<String>>>,
    /// The program and arguments the commands are given to (default `["/bin/sh", "-c"]`).
    pub(crate) interpreter: Option<Property<Vec<String>>>,
    /// Environment variables for the script.
    pub(crate) env: Option<Property<BTreeMap<String, String>>>,
    /// Stop at the first failing command (`set -e` first; default true).
    pub(crate) fail_fast: Option<Property<bool>>,
    /// Accepted and ignored, as in Kestra 0.23 and later: stderr never makes a WARNING.
    #[allow(dead_code)]
    pub(crate) warning_on_std_err: Option<Property<bool>>,
    /// LINUX, WINDOWS or AUTO (default): how commands are joined.
    #[serde(rename = "targetOS")]
    pub(crate) target_os: Option<Property<TargetOs>>,
    /// The image a container task runner uses.
    pub(crate) container_image: Option<Property<String>>,
    /// Where the script runs: `io.kestra.plugin.core.runner.Process` (this machine) or
    /// `io.kestra.plugin.scripts.runner.docker.Docker` (Kestra's default).
    pub(crate) task_runner: Option<TaskRunnerSpec>,
    /// Namespace files to copy into the working directory first.
    pub(crate) namespace_files: Option<NamespaceFiles>,
    /// Files to write into the working directory first: a map of paths to contents or
    /// `kestra://` URIs, or a string holding that map as JSON.
    pub(crate) input_files: Option<Property<Json>>,
    /// Globs of the files to keep after the run (`outputs.<id>.outputFiles`).
    pub(crate) output_files: Option<Property<Vec<String>>>,
    /// Deprecated: make `{{ outputDir }}`, a folder whose files are all kept.
    pub(crate) output_directory: Option<Property<bool>>,
    /// Deprecated: PROCESS or DOCKER, used when `taskRunner` is not set.
    pub(crate) runner: Option<Property<LegacyRunner>>,
    /// Deprecated: the Docker options of `runner: DOCKER`.
    pub(crate) docker: Option<DockerOptions>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum TargetOs {
    Linux,
    Windows,
    Auto,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum LegacyRunner {
    Process,
    Docker,
}

/// A `taskRunner` object, read by its `type`.
#[derive(Clone, Debug)]
pub(crate) enum TaskRunnerSpec {
    Process,
    Docker(Box<DockerOptions>),
}

impl PropType for TaskRunnerSpec {
    const NAME: &'static str = "task runner";
}

impl<'de> Deserialize<'de> for TaskRunnerSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut map = Map::<String, Json>::deserialize(d)?;
        let Some(kind) = map.remove("type") else {
            return Err(D::Error::custom(format!(
                "a task runner needs a `type`: `{PROCESS}` or `{DOCKER}`"
            )));
        };
        match kind.as_str() {
            Some(PROCESS) => match map.keys().next() {
                None => Ok(TaskRunnerSpec::Process),
                Some(k) => Err(D::Error::custom(format!(
                    "the Process task runner has no property `{k}`"
                ))),
            },
            Some(DOCKER) => DockerOptions::deserialize(Json::Object(map))
                .map(|o| TaskRunnerSpec::Docker(Box::new(o)))
                .map_err(D::Error::custom),
            Some(other) => Err(D::Error::custom(unavailable_type(
                other,
                &format!(
                    "runner has the `{PROCESS}` and `{DOCKER}` task runners (Kubernetes and the cloud batch runners are Kestra Enterprise plugins)"
                ),
            ))),
            None => Err(D::Error::custom(format!(
                "a task runner's `type` is a name: `{PROCESS}` or `{DOCKER}`"
            ))),
        }
    }
}

/// The Docker task runner's properties (also the deprecated `docker` and `dockerOptions`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct DockerOptions {
    pub(crate) image: Option<Property<String>>,
    /// The engine's address (`unix:///...`, `tcp://...`); default `DOCKER_HOST`.
    pub(crate) host: Option<Property<String>>,
    /// A Docker `config.json` whose `auths` entry for the image's registry is used to pull.
    pub(crate) config: Option<Json>,
    /// Registry credentials for the pull.
    pub(crate) credentials: Option<Json>,
    pub(crate) user: Option<Property<String>>,
    pub(crate) entry_point: Option<Property<Vec<String>>>,
    pub(crate) extra_hosts: Option<Property<Vec<String>>>,
    pub(crate) network_mode: Option<Property<String>>,
    pub(crate) port_bindings: Option<Property<Vec<String>>>,
    pub(crate) volumes: Option<Property<Vec<String>>>,
    pub(crate) device_requests: Option<Json>,
    pub(crate) cpu: Option<Cpu>,
    pub(crate) memory: Option<Memory>,
    pub(crate) shm_size: Option<Property<String>>,
    pub(crate) privileged: Option<Property<bool>>,
    pub(crate) pull_policy: Option<Property<PullPolicy>>,
    /// Deprecated (Kestra 0.x `dockerOptions`): `false` means the image must be there.
    pub(crate) pull_image: Option<Property<bool>>,
    pub(crate) file_handling_strategy: Option<Property<FileHandling>>,
    pub(crate) delete: Option<Property<bool>>,
    pub(crate) wait: Option<Property<bool>>,
    pub(crate) kill_grace_period: Option<Property<IsoDuration>>,
    /// Kestra re-attaches to a container a restarted worker left; runner has no workers to
    /// restart, so each run starts its own container.
    #[allow(dead_code)]
    pub(crate) resume: Option<Property<bool>>,
}

impl PropType for DockerOptions {
    const NAME: &'static str = "Docker options";
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Cpu {
    pub(crate) cpus: Option<Property<f64>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Memory {
    pub(crate) memory: Option<Property<String>>,
    pub(crate) memory_swap: Option<Property<String>>,
    pub(crate) memory_reservation: Option<Property<String>>,
    pub(crate) memory_swappiness: Option<Property<String>>,
    pub(crate) kernel_memory: Option<Property<String>>,
    pub(crate) oom_kill_disable: Option<Property<bool>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum PullPolicy {
    IfNotPresent,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum FileHandling {
    Volume,
    Mount,
}
