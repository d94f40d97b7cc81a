//! `io.kestra.plugin.scripts.runner.docker.Docker`: the command runs in a container, through
//! the Docker Engine API (dockerd, or podman's compatible service). The working directory
//! has the same path inside: with the VOLUME strategy (Kestra's default) it is copied into a
//! fresh volume before the start and copied back after the end, even a failed one; with MOUNT
//! it is bind-mounted. The container and its volume are removed afterwards, and at once when
//! the task is dropped (timeout, Ctrl-C, a failed sibling).

use super::engine::{self, Body, CallError, Demux, Engine};
use super::tar;
use super::{Collected, Launch, Ran, relay};
use crate::props::{DockerOptions, FileHandling, PullPolicy};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::Method;
use runner_core::plugin::*;
use serde_json::{Map, json};
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// How long `auto` waits for an engine before it runs the task on this machine.
const PROBE: Duration = Duration::from_secs(3);

/// The engine's address: the runner's `host`, else `DOCKER_HOST`, else Docker's socket.
fn host_of(ctx: &RunContext, host: Option<&str>) -> String {
    host.map(str::to_string)
        .or_else(|| ctx.env_var("DOCKER_HOST").map(str::to_string))
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| engine::DEFAULT_HOST.to_string())
}

/// The engine, when one answers at the address.
pub(crate) async fn connect(ctx: &RunContext, host: Option<&str>) -> Result<Engine, TaskError> {
    let host = host_of(ctx, host);
    Engine::connect(&host, PROBE).await.map_err(|e| {
        let hint = match &e {
            CallError::Protocol(_) => "check that this address is a Docker Engine API endpoint",
            _ => "start the engine (dockerd, or `podman system service`), point DOCKER_HOST at its socket, or run the script on this machine with --task-runner process",
        };
        TaskError::new(
            ErrorKind::Unreachable,
            format!("no container engine answers at {host}"),
        )
        .hint(hint)
        .caused_by(e)
    })
}

/// The Docker properties, rendered.
struct Settings {
    image: String,
    user: Option<String>,
    entry_point: Vec<String>,
    extra_hosts: Vec<String>,
    network_mode: Option<String>,
    port_bindings: Vec<String>,
    volumes: Vec<String>,
    device_requests: Option<Json>,
    nano_cpus: Option<i64>,
    memory: Map<String, Json>,
    shm_size: Option<i64>,
    privileged: bool,
    pull_policy: PullPolicy,
    strategy: FileHandling,
    delete: bool,
    wait: bool,
    kill_grace: Duration,
    registry_auth: Option<String>,
}

pub(crate) struct Container {
    engine: Engine,
    settings: Settings,
}

impl Container {
    /// Renders the options (with the runner variables) once an engine has answered.
    pub(crate) fn new(
        ctx: &RunContext,
        engine: Engine,
        options: Box<DockerOptions>,
        image: Option<String>,
        vars: &Map<String, Json>,
    ) -> Result<Container, TaskError> {
        let image = image.filter(|i| !i.trim().is_empty()).ok_or_else(|| {
            TaskError::new(
                ErrorKind::NotFound,
                "This task runner needs the `containerImage` property to be set",
            )
            .hint("set `containerImage` on the task (or `image` on its taskRunner), or run it on this machine with --task-runner process")
        })?;
        let o = &*options;
        let text =
            |p: &Option<Property<String>>, name: &str| -> Result<Option<String>, TaskError> {
                match p {
                    Some(p) => ctx
                        .render_with(p, &format!("taskRunner.{name}"), vars)
                        .map(Some),
                    None => Ok(None),
                }
            };
        let list = |p: &Option<Property<Vec<String>>>,
                    name: &str|
         -> Result<Option<Vec<String>>, TaskError> {
            match p {
                Some(p) => ctx
                    .render_with(p, &format!("taskRunner.{name}"), vars)
                    .map(Some),
                None => Ok(None),
            }
        };
        let flag = |p: &Option<Property<bool>>, name: &str, default: bool| match p {
            Some(p) => ctx.render(p, &format!("taskRunner.{name}")),
            None => Ok(default),
        };
        let mut memory = Map::new();
        if let Some(m) = &o.memory {
            for (key, value, name) in [
                ("Memory", &m.memory, "memory.memory"),
                ("MemorySwap", &m.memory_swap, "memory.memorySwap"),
                (
                    "MemoryReservation",
                    &m.memory_reservation,
                    "memory.memoryReservation",
                ),
                (
                    "MemorySwappiness",
                    &m.memory_swappiness,
                    "memory.memorySwappiness",
                ),
            ] {
                if let Some(v) = text(value, name)? {
                    let n = if key == "MemorySwappiness" {
                        v.trim().parse::<i64>().ok()
                    } else {
                        bytes_of(&v)
                    };
                    let n = n.ok_or_else(|| {
                        TaskError::property(
                            &format!("taskRunner.{name}"),
                            format!("`{v}` is not a size: write a number of bytes, or one with a unit (`512m`, `2g`)"),
                        )
                    })?;
                    memory.insert(key.into(), Json::from(n));
                }
            }
            if m.kernel_memory.is_some() {
                ctx.log(
                    Level::Warn,
                    "taskRunner.memory.kernelMemory is ignored: container engines no longer support it",
                );
            }
            if let Some(v) = &m.oom_kill_disable {
                let v: bool = ctx.render(v, "taskRunner.memory.oomKillDisable")?;
                memory.insert("OomKillDisable".into(), Json::Bool(v));
            }
        }
        let nano_cpus = match o.cpu.as_ref().and_then(|c| c.cpus.as_ref()) {
            Some(c) => {
                let cpus: f64 = ctx.render(c, "taskRunner.cpu.cpus")?;
                if !(cpus > 0.0 && cpus < 1e6) {
                    return Err(TaskError::property(
                        "taskRunner.cpu.cpus",
                        format!("{cpus} is not a number of CPUs"),
                    ));
                }
                Some((cpus * 1e9) as i64)
            }
            None => None,
        };
        let shm_size = match text(&o.shm_size, "shmSize")? {
            Some(v) => Some(bytes_of(&v).ok_or_else(|| {
                TaskError::property(
                    "taskRunner.shmSize",
                    format!(
                        "`{v}` is not a size: write a number of bytes, or one with a unit (`64m`)"
                    ),
                )
            })?),
            None => None,
        };
        let volumes = list(&o.volumes, "volumes")?.unwrap_or_default();
        let host_access = ctx
            .service::<crate::kit::TaskRunnerChoice>()
            .is_some_and(|c| c.docker_host_access);
        let volumes = if !volumes.is_empty() && !host_access {
            ctx.log(
                Level::Warn,
                "taskRunner.volumes are ignored: a flow may not mount this machine's folders unless runner is started with --docker-host-access (Kestra likewise needs the plugin setting `volume-enabled: true`)",
            );
            Vec::new()
        } else {
            volumes
        };
        let mut privileged = flag(&o.privileged, "privileged", false)?;
        if privileged && !host_access {
            ctx.log(
                Level::Warn,
                "taskRunner.privileged is ignored: a privileged container can reach this machine, so runner needs --docker-host-access to start one",
            );
            privileged = false;
        }
        let kill_grace = match &o.kill_grace_period {
            Some(p) => {
                ctx.render::<IsoDuration>(p, "taskRunner.killGracePeriod")?
                    .0
            }
            None => Duration::ZERO,
        };
        let registry_auth = registry_auth(ctx, o, &image)?;
        Ok(Container {
            engine,
            settings: Settings {
                user: text(&o.user, "user")?,
                entry_point: list(&o.entry_point, "entryPoint")?
                    .unwrap_or_else(|| vec![String::new()]),
                extra_hosts: list(&o.extra_hosts, "extraHosts")?.unwrap_or_default(),
                network_mode: text(&o.network_mode, "networkMode")?,
                port_bindings: list(&o.port_bindings, "portBindings")?.unwrap_or_default(),
                volumes,
                device_requests: o.device_requests.as_ref().map(device_requests),
                nano_cpus,
                memory,
                shm_size,
                privileged,
                pull_policy: match (&o.pull_policy, &o.pull_image) {
                    (Some(p), _) => ctx.render(p, "taskRunner.pullPolicy")?,
                    (None, Some(p)) if !ctx.render(p, "dockerOptions.pullImage")? => {
                        PullPolicy::Never
                    }
                    _ => PullPolicy::IfNotPresent,
                },
                strategy: match &o.file_handling_strategy {
                    Some(p) => ctx.render(p, "taskRunner.fileHandlingStrategy")?,
                    None => FileHandling::Volume,
                },
                delete: flag(&o.delete, "delete", true)?,
                wait: flag(&o.wait, "wait", true)?,
                kill_grace,
                registry_auth,
                image,
            },
        })
    }

    pub(crate) async fn run(self, ctx: &RunContext, launch: Launch) -> Result<Ran, TaskError> {
        let Container { engine, settings } = self;
        ensure_image(ctx, &engine, &settings).await?;
        let dir = launch.dir.display().to_string();
        let name = format!(
            "runner-{}-{}",
            slug(ctx.task_id()),
            runner_core::ids::friendly_id().to_ascii_lowercase()
        );
        let labels = json!({
            "kestra.io/namespace": ctx.namespace(),
            "kestra.io/flow-id": ctx.flow_id(),
            "kestra.io/task-id": ctx.task_id(),
            "kestra.io/execution-id": ctx.execution_id(),
            "kestra.io/taskrun-id": ctx.taskrun_id(),
            "kestra.io/taskrun-attempt": ctx.attempt().to_string(),
        });
        let mut guard = Cleanup {
            engine: engine.clone(),
            container: None,
            volume: None,
            grace: settings.kill_grace,
            armed: true,
        };
        let mut host_config = Map::new();
        match settings.strategy {
            FileHandling::Volume => {
                // The volume holds the working directory's parent, so that the directory
                // itself comes from the archive with the container user as its owner.
                let parent = launch.dir.parent().filter(|p| p.parent().is_some()).ok_or_else(|| {
                    TaskError::new(
                        ErrorKind::Other,
                        format!("the working directory {dir} has no parent to hold a volume"),
                    )
                    .hint("start runner with a working-directory root that is not `/`, or use fileHandlingStrategy: MOUNT")
                })?;
                engine
                    .json(
                        Method::POST,
                        "/volumes/create",
                        Some(json!({"Name": name, "Labels": labels})),
                    )
                    .await
                    .map_err(|e| engine_error(&engine, "cannot create the volume", e))?;
                guard.volume = Some(name.clone());
                host_config.insert(
                    "Mounts".into(),
                    json!([{"Type": "volume", "Source": name, "Target": parent.display().to_string()}]),
                );
            }
            FileHandling::Mount => {
                host_config.insert("Binds".into(), json!([format!("{dir}:{dir}")]));
            }
        }
        if !settings.volumes.is_empty() {
            let binds = host_config
                .entry("Binds")
                .or_insert_with(|| Json::Array(Vec::new()));
            if let Json::Array(b) = binds {
                b.extend(settings.volumes.iter().cloned().map(Json::String));
            }
        }
        if let Some(n) = &settings.network_mode {
            host_config.insert("NetworkMode".into(), Json::String(n.clone()));
        }
        if !settings.extra_hosts.is_empty() {
            host_config.insert("ExtraHosts".into(), json!(settings.extra_hosts));
        }
        if let Some(c) = settings.nano_cpus {
            host_config.insert("NanoCpus".into(), Json::from(c));
        }
        host_config.extend(settings.memory.clone());
        if let Some(s) = settings.shm_size {
            host_config.insert("ShmSize".into(), Json::from(s));
        }
        if settings.privileged {
            host_config.insert("Privileged".into(), Json::Bool(true));
        }
        if let Some(d) = &settings.device_requests {
            host_config.insert("DeviceRequests".into(), d.clone());
        }
        let mut exposed = Map::new();
        if !settings.port_bindings.is_empty() {
            let mut bindings = Map::new();
            for b in &settings.port_bindings {
                let (key, host_ip, host_port) = port_binding(b).ok_or_else(|| {
                    TaskError::property(
                        "taskRunner.portBindings",
                        format!("`{b}` is not a port binding: write `hostPort:containerPort`, optionally with `/tcp` or `/udp`"),
                    )
                })?;
                exposed.insert(key.clone(), json!({}));
                let entry = bindings
                    .entry(key)
                    .or_insert_with(|| Json::Array(Vec::new()));
                if let Json::Array(list) = entry {
                    list.push(json!({"HostIp": host_ip, "HostPort": host_port}));
                }
            }
            host_config.insert("PortBindings".into(), Json::Object(bindings));
        }
        let env: Vec<String> = launch.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut body = json!({
            "Image": settings.image,
            "Cmd": launch.argv,
            // An empty list leaves the image's entrypoint (Kestra sets none then).
            "Entrypoint": if settings.entry_point.is_empty() { Json::Null } else { json!(settings.entry_point) },
            "Env": env,
            "WorkingDir": dir,
            "Labels": labels,
            "Tty": false,
            "HostConfig": host_config,
        });
        if let Some(u) = &settings.user {
            body["User"] = Json::String(u.clone());
        }
        if !exposed.is_empty() {
            body["ExposedPorts"] = Json::Object(exposed);
        }
        let created = engine
            .json(
                Method::POST,
                &format!("/containers/create?name={}", engine::query(&name)),
                Some(body),
            )
            .await
            .map_err(|e| {
                engine_error(
                    &engine,
                    &format!("cannot create a container of image `{}`", settings.image),
                    e,
                )
            })?;
        let id = created
            .get("Id")
            .and_then(Json::as_str)
            .ok_or_else(|| {
                TaskError::new(
                    ErrorKind::Other,
                    "the engine created a container but gave no id",
                )
            })?
            .to_string();
        guard.container = Some(id.clone());
        let short = id.chars().take(12).collect::<String>();
        ctx.log(
            Level::Debug,
            &format!(
                "Container {short} created from image `{}` [{}]",
                settings.image,
                launch.argv.join(", ")
            ),
        );
        if settings.strategy == FileHandling::Volume {
            copy_in(
                &engine,
                &id,
                &launch.dir,
                tar::Owner::of(settings.user.as_deref()),
            )
            .await?;
        }
        engine
            .json(Method::POST, &format!("/containers/{id}/start"), None)
            .await
            .map_err(|e| engine_error(&engine, "cannot start the container", e))?;
        let runner_output = json!({"containerId": id});
        if !settings.wait {
            ctx.log(
                Level::Info,
                &format!("Container {short} started; not waiting for it to end (wait: false)"),
            );
            guard.armed = false;
            return Ok(Ran {
                exit_code: 0,
                collected: Collected::default(),
                runner_output: Some(runner_output),
            });
        }
        let collected = Mutex::new(Collected::default());
        let status = stream_output(ctx, &engine, &id, &collected).await?;
        if settings.strategy == FileHandling::Volume {
            copy_out(ctx, &engine, &id, &launch.dir).await?;
        }
        if settings.delete {
            let _ = engine
                .json(
                    Method::DELETE,
                    &format!("/containers/{id}?v=true&force=true"),
                    None,
                )
                .await;
            if let Some(v) = &guard.volume {
                let _ = engine
                    .json(Method::DELETE, &format!("/volumes/{v}?force=true"), None)
                    .await;
            }
            guard.armed = false;
        } else {
            // The flow asked to keep it; the volume goes with the user's `docker rm -v`.
            guard.armed = false;
        }
        Ok(Ran {
            exit_code: status,
            collected: collected.into_inner().expect("relay state"),
            runner_output: Some(runner_output),
        })
    }
}

/// Removes the container and its volume when the run ends without doing it (dropped by a
/// timeout, Ctrl-C, a failed sibling, or an error).
struct Cleanup {
    engine: Engine,
    container: Option<String>,
    volume: Option<String>,
    grace: Duration,
    armed: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        match &self.container {
            Some(c) => self
                .engine
                .remove_blocking(c, self.volume.as_deref(), self.grace),
            None => {
                if let Some(v) = &self.volume {
                    self.engine.remove_volume_blocking(v);
                }
            }
        }
    }
}

/// Makes the image present as `pullPolicy` says: pulled when missing (IF_NOT_PRESENT),
/// always (ALWAYS), or never (NEVER, where a missing image is an error).
async fn ensure_image(
    ctx: &RunContext,
    engine: &Engine,
    settings: &Settings,
) -> Result<(), TaskError> {
    let image = &settings.image;
    let present = match engine
        .json(
            Method::GET,
            &format!("/images/{}/json", engine::query(image)),
            None,
        )
        .await
    {
        Ok(_) => true,
        Err(CallError::Status(code, _)) if code.as_u16() == 404 => false,
        Err(e) => {
            return Err(engine_error(
                engine,
                &format!("cannot look for image `{image}`"),
                e,
            ));
        }
    };
    match (settings.pull_policy, present) {
        (PullPolicy::Never, false) => Err(TaskError::new(
            ErrorKind::NotFound,
            format!("image `{image}` is not on the engine at {} and pullPolicy is NEVER", engine.host()),
        )
        .hint("build or load the image there (docker build, docker load, docker import), or let runner pull it with pullPolicy: IF_NOT_PRESENT")),
        (PullPolicy::Never, true) | (PullPolicy::IfNotPresent, true) => Ok(()),
        (_, _) => pull(ctx, engine, image, settings.registry_auth.as_deref()).await,
    }
}

async fn pull(
    ctx: &RunContext,
    engine: &Engine,
    image: &str,
    auth: Option<&str>,
) -> Result<(), TaskError> {
    ctx.log(Level::Info, &format!("Pulling image `{image}`"));
    let (name, tag) = split_reference(image);
    let mut path = format!("/images/create?fromImage={}", engine::query(name));
    if let Some(t) = tag {
        path.push_str(&format!("&tag={}", engine::query(t)));
    }
    let failed = |why: String| {
        TaskError::new(ErrorKind::Unreachable, format!("cannot pull image `{image}`: {why}"))
            .hint("check the image name and that its registry can be reached from the engine; or build the image locally and set pullPolicy: NEVER; or run the task on this machine with --task-runner process")
    };
    let response = engine
        .send_with_auth(Method::POST, &path, auth)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let status = response.status();
    if !status.is_success() {
        let bytes = engine::read_limited(response.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        return Err(failed(engine::message_of(&bytes)));
    }
    let mut body = response.into_body();
    let mut pending = Vec::new();
    let mut last_error = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| failed(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        // Progress is one JSON object per line; only the errors matter here.
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            if let Ok(v) = serde_json::from_slice::<Json>(&line)
                && let Some(e) = v.get("error").and_then(Json::as_str)
            {
                last_error = Some(e.to_string());
            }
        }
        if pending.len() > 1 << 20 {
            pending.clear();
        }
    }
    if let Some(e) = last_error {
        return Err(failed(e));
    }
    Ok(())
}

/// `name[:tag]` or `name@digest`, where a `:` after the last `/` starts the tag.
fn split_reference(image: &str) -> (&str, Option<&str>) {
    if image.contains('@') {
        return (image, None);
    }
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(i) => (&image[..slash + i], Some(&image[slash + i + 1..])),
        None => (image, Some("latest")),
    }
}

/// Streams the working directory, as a tar, into the container's volume.
async fn copy_in(
    engine: &Engine,
    id: &str,
    dir: &std::path::Path,
    owner: tar::Owner,
) -> Result<(), TaskError> {
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(8);
    let root = dir.to_path_buf();
    let (Some(parent), Some(top)) = (dir.parent(), dir.file_name().and_then(|n| n.to_str())) else {
        return Err(TaskError::new(
            ErrorKind::Other,
            format!("the working directory {} has no name", dir.display()),
        ));
    };
    let (parent, top) = (parent.to_path_buf(), top.to_string());
    let writer = tokio::task::spawn_blocking(move || {
        let mut out = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        let result = tar::write_dir(&root, &top, owner, &mut out).and_then(|_| out.flush());
        if let Err(e) = &result {
            let _ = tx.blocking_send(Err(std::io::Error::new(e.kind(), e.to_string())));
        }
        result
    });
    // copyUIDGID: the entries keep the owner written in the archive (the container's user),
    // where the engine would otherwise make them root's.
    let path = format!(
        "/containers/{id}/archive?path={}&copyUIDGID=true",
        engine::query(&parent.display().to_string())
    );
    let sent = engine
        .send(
            Method::PUT,
            &path,
            Some("application/x-tar"),
            Body::Channel(rx),
        )
        .await;
    let written = writer
        .await
        .map_err(|e| TaskError::new(ErrorKind::Other, "the archive writer stopped").caused_by(e))?;
    written.map_err(|e| {
        TaskError::new(
            ErrorKind::Io,
            "cannot copy the working directory into the container",
        )
        .caused_by(e)
    })?;
    let response = sent.map_err(|e| {
        engine_error(
            engine,
            "cannot copy the working directory into the container",
            e,
        )
    })?;
    if !response.status().is_success() {
        let status = response.status();
        let bytes = engine::read_limited(response.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        return Err(engine_error(
            engine,
            "cannot copy the working directory into the container",
            CallError::Status(status, engine::message_of(&bytes)),
        ));
    }
    Ok(())
}

/// Copies the container's working directory back over this machine's, streamed.
async fn copy_out(
    ctx: &RunContext,
    engine: &Engine,
    id: &str,
    dir: &std::path::Path,
) -> Result<(), TaskError> {
    let what = "cannot copy the working directory out of the container";
    let path = format!(
        "/containers/{id}/archive?path={}",
        engine::query(&dir.display().to_string())
    );
    let response = engine
        .send(Method::GET, &path, None, Body::Empty)
        .await
        .map_err(|e| engine_error(engine, what, e))?;
    if !response.status().is_success() {
        let status = response.status();
        let bytes = engine::read_limited(response.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        return Err(engine_error(
            engine,
            what,
            CallError::Status(status, engine::message_of(&bytes)),
        ));
    }
    let (tx, rx) = std::sync::mpsc::sync_channel::<Bytes>(8);
    let root = dir.to_path_buf();
    let reader = tokio::task::spawn_blocking(move || {
        let mut input = ChannelReader {
            rx,
            current: Bytes::new(),
        };
        let done = tar::extract(&mut input, &root);
        // Drain what is left so the sender never blocks on a reader that gave up.
        while input.rx.recv().is_ok() {}
        done
    });
    let mut body = response.into_body();
    let mut failed = None;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => {
                if let Ok(data) = f.into_data() {
                    let tx = tx.clone();
                    // The reader runs on a blocking thread; hand over without holding a worker.
                    if tokio::task::spawn_blocking(move || tx.send(data))
                        .await
                        .map_or(true, |r| r.is_err())
                    {
                        break;
                    }
                }
            }
            Err(e) => {
                failed = Some(e.to_string());
                break;
            }
        }
    }
    drop(tx);
    let extracted = reader
        .await
        .map_err(|e| TaskError::new(ErrorKind::Other, "the archive reader stopped").caused_by(e))?
        .map_err(|e| TaskError::new(ErrorKind::Io, what).caused_by(e))?;
    if let Some(e) = failed {
        return Err(TaskError::new(ErrorKind::Io, format!("{what}: {e}")));
    }
    if !extracted.skipped.is_empty() {
        ctx.log(
            Level::Debug,
            &format!(
                "Not copied back from the container (links, devices, or names outside the working directory): {}",
                extracted.skipped.join(", ")
            ),
        );
    }
    Ok(())
}

/// The exit code, once the container has stopped.
async fn wait(engine: &Engine, id: &str) -> Result<i32, TaskError> {
    // `not-running`: podman 4.3 answers 0 for `removed` whatever the exit code was.
    let v = engine
        .json(
            Method::POST,
            &format!("/containers/{id}/wait?condition=not-running"),
            None,
        )
        .await
        .map_err(|e| engine_error(engine, "cannot wait for the container", e))?;
    if let Some(m) = v
        .get("Error")
        .and_then(|e| e.get("Message"))
        .and_then(Json::as_str)
        .filter(|m| !m.is_empty())
    {
        return Err(TaskError::new(
            ErrorKind::Other,
            format!("the container did not end cleanly: {m}"),
        ));
    }
    v.get("StatusCode")
        .and_then(Json::as_i64)
        .map(|c| c as i32)
        .ok_or_else(|| TaskError::new(ErrorKind::Other, "the engine gave no exit code"))
}

/// Relays the container's stdout and stderr as they come, through the same relay as the
/// Process runner, and returns the exit code. A followed log can end before the engine has
/// written the last lines of a container that just stopped, so once the container has
/// stopped the complete log is read again and what the follow did not give is relayed too.
async fn stream_output(
    ctx: &RunContext,
    engine: &Engine,
    id: &str,
    collected: &Mutex<Collected>,
) -> Result<i32, TaskError> {
    let what = "cannot read the container's output";
    let logs = |follow: bool| async move {
        let response = engine
            .send(
                Method::GET,
                &format!("/containers/{id}/logs?follow={follow}&stdout=true&stderr=true"),
                None,
                Body::Empty,
            )
            .await
            .map_err(|e| engine_error(engine, what, e))?;
        if !response.status().is_success() {
            let status = response.status();
            let bytes = engine::read_limited(response.into_body(), 1 << 20)
                .await
                .unwrap_or_default();
            return Err(engine_error(
                engine,
                what,
                CallError::Status(status, engine::message_of(&bytes)),
            ));
        }
        Ok(response.into_body())
    };
    let followed = logs(true).await?;
    let (mut out_w, out_r) = tokio::io::duplex(CHUNK);
    let (mut err_w, err_r) = tokio::io::duplex(CHUNK);
    let pump = async move {
        let io = |e: std::io::Error| TaskError::new(ErrorKind::Io, what).caused_by(e);
        // Bytes relayed so far on stdout and stderr.
        let seen = demux_into(followed, &mut out_w, &mut err_w, [0, 0])
            .await
            .map_err(io)?;
        let status = wait(engine, id).await?;
        // The complete log: skip what the follow gave, relay the rest.
        demux_into(logs(false).await?, &mut out_w, &mut err_w, seen)
            .await
            .map_err(io)?;
        out_w.shutdown().await.map_err(io)?;
        err_w.shutdown().await.map_err(io)?;
        Ok::<i32, TaskError>(status)
    };
    let (pumped, out, err) = tokio::join!(
        pump,
        relay(ctx, out_r, false, collected),
        relay(ctx, err_r, true, collected)
    );
    for r in [out, err] {
        r.map_err(|e| TaskError::new(ErrorKind::Io, what).caused_by(e))?;
    }
    pumped
}

const CHUNK: usize = 64 << 10;

/// Hands a blocking writer's bytes to an async request body, in chunks.
pub(crate) struct ChannelWriter {
    pub(crate) tx: mpsc::Sender<std::io::Result<Bytes>>,
    pub(crate) buf: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the engine stopped reading")
        })
    }
}

/// Gives an async response body's chunks to a blocking reader.
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.recv() {
                Ok(b) => self.current = b,
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

pub(crate) fn engine_error(engine: &Engine, what: &str, e: CallError) -> TaskError {
    let kind = match &e {
        CallError::Unreachable(_) => ErrorKind::Unreachable,
        CallError::Status(code, _) if code.as_u16() == 404 => ErrorKind::NotFound,
        _ => ErrorKind::Other,
    };
    TaskError::new(kind, format!("{what} (engine at {})", engine.host())).caused_by(e)
}

/// A Docker size: bytes, or a number with `b`, `k`, `m`, `g` (and an optional `b`, as
/// `512MB`); 1024-based, as the Docker CLI reads it.
fn bytes_of(text: &str) -> Option<i64> {
    let t = text.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (digits, unit) = match t
        .char_indices()
        .find(|(_, c)| !c.is_ascii_digit() && *c != '.')
    {
        Some((i, _)) => (&t[..i], &t[i..]),
        None => (t, ""),
    };
    let n: f64 = digits.parse().ok()?;
    let scale = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let v = n * scale;
    (0.0..9.0e18).contains(&v).then_some(v as i64)
}

/// `hostPort:containerPort[/proto]` or `ip:hostPort:containerPort[/proto]`, or a container
/// port alone: the `port/proto` key, host IP and host port.
fn port_binding(text: &str) -> Option<(String, String, String)> {
    let (spec, proto) = match text.rsplit_once('/') {
        Some((s, p)) if p == "tcp" || p == "udp" || p == "sctp" => (s, p),
        Some(_) => return None,
        None => (text, "tcp"),
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [c] => ("", "", *c),
        [h, c] => ("", *h, *c),
        [ip, h, c] => (*ip, *h, *c),
        _ => return None,
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(container) || !(host.is_empty() || digits(host)) {
        return None;
    }
    Some((
        format!("{container}/{proto}"),
        ip.to_string(),
        host.to_string(),
    ))
}

/// Kestra's `deviceRequests` entries, in the engine's field names.
fn device_requests(value: &Json) -> Json {
    let rename = |k: &str| match k {
        "driver" => "Driver".to_string(),
        "count" => "Count".to_string(),
        "deviceIds" => "DeviceIDs".to_string(),
        "capabilities" => "Capabilities".to_string(),
        "options" => "Options".to_string(),
        other => other.to_string(),
    };
    match value {
        Json::Array(items) => Json::Array(
            items
                .iter()
                .map(|item| match item {
                    Json::Object(m) => {
                        Json::Object(m.iter().map(|(k, v)| (rename(k), v.clone())).collect())
                    }
                    other => other.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `X-Registry-Auth` for a pull: from `credentials`, else from `config`'s entry for the
/// image's registry.
fn registry_auth(
    ctx: &RunContext,
    o: &DockerOptions,
    image: &str,
) -> Result<Option<String>, TaskError> {
    use base64::Engine as _;
    let encode = |v: &Json| base64::engine::general_purpose::URL_SAFE.encode(v.to_string());
    if let Some(c) = &o.credentials {
        let c = ctx.render_json(c, "taskRunner.credentials")?;
        let field = |k: &str| c.get(k).and_then(Json::as_str).map(str::to_string);
        let mut auth = Map::new();
        for (ours, theirs) in [
            ("username", "username"),
            ("password", "password"),
            ("registry", "serveraddress"),
            ("identityToken", "identitytoken"),
            ("registryToken", "registrytoken"),
            ("auth", "auth"),
        ] {
            if let Some(v) = field(ours) {
                auth.insert(theirs.into(), Json::String(v));
            }
        }
        return Ok(Some(encode(&Json::Object(auth))));
    }
    if let Some(config) = &o.config {
        let config = ctx.render_json(config, "taskRunner.config")?;
        let config = match config {
            Json::String(s) => serde_json::from_str(&s).map_err(|e| {
                TaskError::property(
                    "taskRunner.config",
                    format!("not a Docker config.json: {e}"),
                )
            })?,
            v => v,
        };
        let registry = registry_of(image);
        if let Some(entry) = config
            .get("auths")
            .and_then(Json::as_object)
            .and_then(|auths| {
                auths
                    .iter()
                    .find(|(k, _)| k.trim_start_matches("https://").starts_with(registry))
            })
            .map(|(_, v)| v)
        {
            let mut auth = Map::new();
            if let Some(a) = entry.get("auth").and_then(Json::as_str) {
                auth.insert("auth".into(), Json::String(a.into()));
            }
            auth.insert("serveraddress".into(), Json::String(registry.into()));
            return Ok(Some(encode(&Json::Object(auth))));
        }
    }
    Ok(None)
}

/// The registry an image comes from: the first component when it looks like a host.
fn registry_of(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first
        }
        _ => "docker.io",
    }
}

/// A container name piece: letters, digits, `_`, `.`, `-`.
fn slug(text: &str) -> String {
    let s: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    if s.is_empty() { "task".into() } else { s }
}

/// Relays a Docker log stream (multiplexed frames) to `out` and `err`, leaving out the first
/// `skip[0]` bytes of stdout and `skip[1]` of stderr (already relayed by an earlier read);
/// returns how many bytes of each the stream held.
async fn demux_into(
    mut body: hyper::body::Incoming,
    out: &mut tokio::io::DuplexStream,
    err: &mut tokio::io::DuplexStream,
    mut skip: [u64; 2],
) -> std::io::Result<[u64; 2]> {
    let mut total = [0u64; 2];
    let mut demux = Demux::default();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| std::io::Error::other(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let mut pieces = Vec::new();
        demux.feed(&data, &mut pieces);
        for (stream, bytes) in &pieces {
            let (w, i) = if *stream == 2 {
                (&mut *err, 1)
            } else {
                (&mut *out, 0)
            };
            total[i] += bytes.len() as u64;
            let drop = skip[i].min(bytes.len() as u64) as usize;
            skip[i] -= drop as u64;
            if drop < bytes.len() {
                w.write_all(&bytes[drop..]).await?;
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(bytes_of("512"), Some(512));
        assert_eq!(bytes_of("512m"), Some(512 << 20));
        assert_eq!(bytes_of("512MB"), Some(512 << 20));
        assert_eq!(bytes_of("1.5g"), Some(3 << 29));
        assert_eq!(bytes_of("2x"), None);
        assert_eq!(bytes_of(""), None);
    }

    #[test]
    fn references() {
        assert_eq!(split_reference("ubuntu"), ("ubuntu", Some("latest")));
        assert_eq!(
            split_reference("localhost:5000/a/b:1.2"),
            ("localhost:5000/a/b", Some("1.2"))
        );
        assert_eq!(
            split_reference("localhost:5000/a"),
            ("localhost:5000/a", Some("latest"))
        );
        assert_eq!(split_reference("a@sha256:00"), ("a@sha256:00", None));
        assert_eq!(registry_of("ghcr.io/kestra-io/pydata"), "ghcr.io");
        assert_eq!(registry_of("python:3.12"), "docker.io");
        assert_eq!(registry_of("library/python"), "docker.io");
    }

    #[test]
    fn ports() {
        assert_eq!(
            port_binding("8080:80"),
            Some(("80/tcp".into(), "".into(), "8080".into()))
        );
        assert_eq!(
            port_binding("127.0.0.1:53:53/udp"),
            Some(("53/udp".into(), "127.0.0.1".into(), "53".into()))
        );
        assert_eq!(port_binding("a:b"), None);
        assert_eq!(port_binding("80/xyz"), None);
    }

    #[test]
    fn device_requests_take_the_engine_names() {
        let v =
            device_requests(&json!([{"driver": "nvidia", "count": -1, "capabilities": [["gpu"]]}]));
        assert_eq!(
            v,
            json!([{"Driver": "nvidia", "Count": -1, "Capabilities": [["gpu"]]}])
        );
    }

    #[test]
    fn names_are_slugs() {
        assert_eq!(slug("my task/é"), "my-task--");
        assert_eq!(slug(""), "task");
    }
}
