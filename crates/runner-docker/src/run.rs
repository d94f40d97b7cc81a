//! `io.kestra.plugin.docker.cli.Run`: a container from an image, run as the Docker task runner
//! runs a script (Kestra builds that runner from the task's fields): the command is `commands`
//! as given (no shell), the working directory goes in and out, output lines are relayed with
//! the `::{json}::` protocol, `outputFiles` are kept. Always in a container: no engine is an
//! error, whatever `--task-runner` says. `volumes` and `privileged` need `--docker-host-access`,
//! as for the task runner.

use crate::common::Connection;
use runner_core::plugin::*;
use runner_scripts::kit::{self, Body, Language, ScriptProps};
use serde::Deserialize;
use serde_json::{Map, json};
use std::collections::BTreeMap;

pub(crate) const RUN: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.docker.cli.Run",
    aliases: &["io.kestra.plugin.docker.Run"],
    doc: "Run a container: `commands` as the container's command (no shell), with the working directory, `inputFiles` and namespace files inside, output lines relayed (`::{json}::` gives `vars`) and `outputFiles` kept.",
    example: "id: run\ntype: io.kestra.plugin.docker.cli.Run\ncontainerImage: localhost/runner-example:missing\npullPolicy: NEVER\nnetworkMode: none\ncommands:\n  - sh\n  - -c\n  - echo \"hello from $(hostname)\"",
    shape: runnable::<Run>(),
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum PullPolicy {
    IfNotPresent,
    Always,
    Never,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Run {
    #[serde(flatten)]
    connection: Connection,
    /// The image (prefixed with `credentials.registry`'s host unless it starts with it).
    container_image: Property<String>,
    /// The container's command, as arguments (no shell); empty or unset: the image's.
    commands: Option<Property<Vec<String>>>,
    /// The entrypoint; unset: the image's.
    entry_point: Option<Property<Vec<String>>>,
    /// The user (name or uid[:gid]) the command runs as.
    user: Option<Property<String>>,
    /// The network (`none`, `host`, `bridge`, a network's name).
    network_mode: Option<Property<String>>,
    /// /dev/shm's size (`64m`).
    shm_size: Option<Property<String>>,
    /// `host:ip` entries added to /etc/hosts.
    extra_hosts: Option<Property<Vec<String>>>,
    /// Published ports, `[ip:]hostPort:containerPort[/proto]`.
    port_bindings: Option<Property<Vec<String>>>,
    /// Bind mounts `host:container[:ro]`, honoured only when runner runs with --docker-host-access (Kestra: `volume-enabled`).
    volumes: Option<Property<Vec<String>>>,
    /// IF_NOT_PRESENT (default), ALWAYS or NEVER.
    pull_policy: Option<Property<PullPolicy>>,
    /// GPU and device requests (`driver`, `count`, `deviceIds`, `capabilities`, `options`).
    #[prop(type = "list")]
    device_requests: Option<Json>,
    /// CPU limit: `{cpus: 1.5}`.
    #[prop(type = "object")]
    cpu: Option<Json>,
    /// Memory limits: `{memory: 512m, memorySwap: ..., memoryReservation: ...}`.
    #[prop(type = "object")]
    memory: Option<Json>,
    /// A privileged container (needs --docker-host-access).
    privileged: Option<Property<bool>>,
    /// Environment variables of the container.
    env: Option<Property<BTreeMap<String, String>>>,
    /// Wait for the container to end (default true); false: start it and return its id.
    wait: Option<Property<bool>>,
    /// Namespace files to put in the working directory first.
    #[prop(type = "namespace files")]
    namespace_files: Option<Json>,
    /// Files to write in the working directory first (a map of paths to contents or `kestra://` URIs).
    input_files: Option<Property<Json>>,
    /// Globs of the files to keep after the run (`outputs.<id>.outputFiles`).
    output_files: Option<Property<Vec<String>>>,
    /// Deprecated and ignored, as in Kestra.
    #[allow(dead_code)]
    warning_on_std_err: Option<Property<bool>>,
}

const NO_LANGUAGE: Language = Language {
    default_image: "",
    env: &[],
    ..Language::POSIX
};

impl Run {
    /// The script kit's properties for this container: no interpreter, no `set -e`, the Docker
    /// task runner with the task's options (credentials already rendered, so masked).
    fn script_props(&self, ctx: &RunContext, image: String) -> Result<ScriptProps, TaskError> {
        let raw = |p: &Option<Property<String>>| p.as_ref().map(|p| p.raw().clone());
        let raw_list = |p: &Option<Property<Vec<String>>>| p.as_ref().map(|p| p.raw().clone());
        let mut runner = Map::new();
        runner.insert(
            "type".into(),
            Json::String("io.kestra.plugin.scripts.runner.docker.Docker".into()),
        );
        let mut put = |k: &str, v: Option<Json>| {
            if let Some(v) = v {
                runner.insert(k.into(), v);
            }
        };
        put("host", raw(&self.connection.host));
        put("user", raw(&self.user));
        // An empty entrypoint leaves the image's, as Kestra's Run does when it has none.
        put(
            "entryPoint",
            Some(raw_list(&self.entry_point).unwrap_or_else(|| json!([]))),
        );
        put("networkMode", raw(&self.network_mode));
        put("shmSize", raw(&self.shm_size));
        put("extraHosts", raw_list(&self.extra_hosts));
        put("portBindings", raw_list(&self.port_bindings));
        put("volumes", raw_list(&self.volumes));
        put(
            "pullPolicy",
            self.pull_policy.as_ref().map(|p| p.raw().clone()),
        );
        put("deviceRequests", self.device_requests.clone());
        put("cpu", self.cpu.clone());
        put("memory", self.memory.clone());
        put(
            "privileged",
            self.privileged.as_ref().map(|p| p.raw().clone()),
        );
        put("wait", self.wait.as_ref().map(|p| p.raw().clone()));
        if let Some(config) = &self.connection.config {
            put("config", Some(ctx.render::<Json>(config, "config")?));
        }
        let creds = self.connection.credentials(ctx)?;
        if let Some(c) = &self.connection.credentials {
            let mut map = Map::new();
            for (p, name, key) in [
                (&c.username, "credentials.username", "username"),
                (&c.password, "credentials.password", "password"),
                (
                    &c.registry_token,
                    "credentials.registryToken",
                    "registryToken",
                ),
                (
                    &c.identity_token,
                    "credentials.identityToken",
                    "identityToken",
                ),
                (&c.auth, "credentials.auth", "auth"),
            ] {
                if let Some(v) = ctx.render_opt::<String>(p, name)? {
                    map.insert(key.into(), Json::String(v));
                }
            }
            if let Some(r) = creds.registry {
                map.insert("registry".into(), Json::String(r));
            }
            put("credentials", Some(Json::Object(map)));
        }
        let mut props = Map::new();
        props.insert("taskRunner".into(), Json::Object(runner));
        props.insert("containerImage".into(), Json::String(image));
        props.insert("interpreter".into(), json!([]));
        props.insert("failFast".into(), json!(false));
        if let Some(e) = &self.env {
            props.insert("env".into(), e.raw().clone());
        }
        if let Some(n) = &self.namespace_files {
            props.insert("namespaceFiles".into(), n.clone());
        }
        if let Some(i) = &self.input_files {
            props.insert("inputFiles".into(), i.raw().clone());
        }
        if let Some(o) = &self.output_files {
            props.insert("outputFiles".into(), o.raw().clone());
        }
        serde_json::from_value(Json::Object(props)).map_err(|e| {
            TaskError::new(
                ErrorKind::BadData,
                format!("the container options are not valid: {e}"),
            )
        })
    }
}

impl RunnableTask for Run {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let image: String = ctx.render(&self.container_image, "containerImage")?;
            if image.trim().is_empty() {
                return Err(TaskError::property(
                    "containerImage",
                    "give the image to run",
                ));
            }
            let image = self.connection.prefixed(ctx, &image)?;
            let props = self.script_props(ctx, image)?;
            let none = Property::from_json(json!([]));
            let commands = self.commands.as_ref().unwrap_or(&none);
            kit::run_in_container(ctx, &props, &NO_LANGUAGE, Body::Commands(commands)).await
        })
    }
}
