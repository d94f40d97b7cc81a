//! The image and container tasks of `io.kestra.plugin.docker.cli`: Build, Push, Pull, Tag,
//! ImageLs, Prune, Rm and Stop, each one or a few Docker Engine API calls through the Docker
//! task runner's client (`runner_scripts::kit::engine`).

use crate::common::{self, Connection, split_reference, strip_scheme};
use runner_core::plugin::*;
use runner_scripts::kit::engine::{self, Body, Method};
use serde::Deserialize;
use serde_json::{Map, json};
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------
// Build

pub(crate) const BUILD: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.docker.cli.Build",
    aliases: &["io.kestra.plugin.docker.Build"],
    doc: "Build an image from a Dockerfile (a file of the working directory, or the Dockerfile's text), with the working directory (inputFiles, namespace files) as the build context; optionally push its tags.",
    example: "id: build\ntype: io.kestra.plugin.docker.cli.Build\ndockerfile: |\n  FROM localhost/runner-example-base:missing\n  RUN echo built > /built.txt\ntags:\n  - localhost:5000/team/app:1.0\npull: false\nbuildArgs:\n  APP_VERSION: \"1.0\"",
    shape: runnable::<Build>(),
};

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Build {
    #[serde(flatten)]
    connection: Connection,
    /// The Dockerfile: the path of a file of the working directory, else the Dockerfile's text.
    dockerfile: Option<Property<String>>,
    /// The image's tags (at least one).
    tags: Property<Vec<String>>,
    /// Push every tag after the build (default false).
    push: Option<Property<bool>>,
    /// Pull newer base images (default true).
    pull: Option<Property<bool>>,
    /// Platforms to build for (`linux/amd64`).
    platforms: Option<Property<Vec<String>>>,
    /// Build arguments (`ARG`).
    build_args: Option<Property<BTreeMap<String, String>>>,
    /// Labels of the image.
    labels: Option<Property<BTreeMap<String, String>>>,
    /// The stage to build.
    target: Option<Property<String>>,
    /// Namespace files to put in the build context.
    namespace_files: Option<NamespaceFiles>,
    /// Files to write in the build context (a map of paths to contents or `kestra://` URIs).
    input_files: Option<Property<Json>>,
}

fn tags_of(ctx: &RunContext, tags: &Property<Vec<String>>) -> Result<Vec<String>, TaskError> {
    let mut out: Vec<String> = Vec::new();
    for t in ctx.render::<Vec<String>>(tags, "tags")? {
        let t = strip_scheme(t.trim()).to_string();
        if !t.is_empty() && !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

impl RunnableTask for Build {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let tags = tags_of(ctx, &self.tags)?;
            if tags.is_empty() {
                return Err(TaskError::property("tags", "give at least one tag"));
            }
            let dir = ctx.working_dir()?;
            if let Some(n) = &self.namespace_files {
                ctx.load_namespace_files(&dir, n).await?;
            }
            if let Some(files) = &self.input_files {
                let files: Json = ctx.render(files, "inputFiles")?;
                ctx.write_input_files(&dir, &files, "inputFiles").await?;
            }
            let dockerfile = ctx.render_opt(&self.dockerfile, "dockerfile")?.ok_or_else(|| {
                TaskError::property("dockerfile", "give a Dockerfile: its text, or the path of a file of the working directory")
            })?;
            let name = match dir.join(dockerfile.trim()) {
                Ok(p) if !dockerfile.contains('\n') && p.is_file() => dockerfile.trim().to_string(),
                _ => {
                    let name = format!("{}.dockerfile", runner_core::ids::random_u64());
                    let path = dir.path().join(&name);
                    tokio::fs::write(&path, dockerfile.as_bytes())
                        .await
                        .map_err(|e| {
                            TaskError::new(ErrorKind::Io, "cannot write the Dockerfile")
                                .caused_by(e)
                        })?;
                    name
                }
            };
            let mut query = format!("/build?dockerfile={}&rm=1&forcerm=1", engine::query(&name));
            for t in &tags {
                query.push_str(&format!("&t={}", engine::query(t)));
            }
            if ctx.render_opt(&self.pull, "pull")?.unwrap_or(true) {
                query.push_str("&pull=1");
            }
            if let Some(a) = ctx.render_opt(&self.build_args, "buildArgs")? {
                query.push_str(&format!(
                    "&buildargs={}",
                    engine::query(&json!(a).to_string())
                ));
            }
            if let Some(l) = ctx.render_opt(&self.labels, "labels")? {
                query.push_str(&format!("&labels={}", engine::query(&json!(l).to_string())));
            }
            if let Some(t) = ctx.render_opt(&self.target, "target")? {
                query.push_str(&format!("&target={}", engine::query(&t)));
            }
            if let Some(p) = ctx.render_opt(&self.platforms, "platforms")?
                && !p.is_empty()
            {
                query.push_str(&format!("&platform={}", engine::query(&p.join(","))));
            }
            let engine = self.connection.engine(ctx).await?;
            let (body, writer) = engine::tar_dir(dir.path().to_path_buf());
            let mut failed: Option<String> = None;
            let mut built: Option<String> = None;
            let mut each = |v: Json| {
                if let Some(e) = v
                    .get("errorDetail")
                    .and_then(|d| d.get("message"))
                    .and_then(Json::as_str)
                    .or_else(|| v.get("error").and_then(Json::as_str))
                {
                    failed = Some(e.trim().to_string());
                    return;
                }
                if let Some(id) = v
                    .get("aux")
                    .and_then(|a| a.get("ID"))
                    .and_then(Json::as_str)
                {
                    built = Some(id.to_string());
                }
                if let Some(s) = v.get("stream").and_then(Json::as_str) {
                    for line in s
                        .lines()
                        .map(str::trim_end)
                        .filter(|l| !l.trim().is_empty())
                    {
                        ctx.log(Level::Info, line);
                    }
                }
            };
            let sent = engine::stream(
                &engine,
                Method::POST,
                &query,
                Some("application/x-tar"),
                None,
                body,
                &mut each,
            )
            .await;
            let written = writer.await.map_err(|e| {
                TaskError::new(ErrorKind::Other, "the build context writer stopped").caused_by(e)
            })?;
            sent.map_err(|e| engine::error(&engine, "cannot build the image", e))?;
            written.map_err(|e| {
                TaskError::new(ErrorKind::Io, "cannot send the build context").caused_by(e)
            })?;
            if let Some(e) = failed {
                return Err(TaskError::new(ErrorKind::Remote, format!("the image build failed: {e}"))
                    .hint("the lines above are the build's; check the Dockerfile, its base image (and `pull: false` for a local one) and the context"));
            }
            let image_id = match built {
                Some(id) => id,
                None => engine
                    .json(
                        Method::GET,
                        &format!("/images/{}/json", engine::query(&tags[0])),
                        None,
                    )
                    .await
                    .map_err(|e| engine::error(&engine, "cannot find the built image", e))?
                    .get("Id")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_string(),
            };
            if ctx.render_opt(&self.push, "push")?.unwrap_or(false) {
                for t in &tags {
                    common::push(ctx, &engine, &self.connection, t).await?;
                }
            }
            Ok(Outputs::from_iter([(
                "imageId".to_string(),
                Json::String(image_id),
            )]))
        })
    }
}

// ---------------------------------------------------------------------------------------
// Push, Pull, Tag

pub(crate) const PUSH: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.docker.cli.Push",
    aliases: &["io.kestra.plugin.docker.Push"],
    doc: "Push image tags to their registries.",
    example: "id: push\ntype: io.kestra.plugin.docker.cli.Push\ntags:\n  - localhost:5000/team/app:1.0",
    shape: runnable::<Push>(),
};

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Push {
    #[serde(flatten)]
    connection: Connection,
    /// The tags to push (`registry/name:tag`).
    tags: Property<Vec<String>>,
}

impl RunnableTask for Push {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let tags = tags_of(ctx, &self.tags)?;
            if tags.is_empty() {
                return Err(TaskError::failed("At least one tag must be provided"));
            }
            let engine = self.connection.engine(ctx).await?;
            for t in &tags {
                common::push(ctx, &engine, &self.connection, t).await?;
            }
            Ok(Outputs::new())
        })
    }
}

pub(crate) const PULL: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.docker.cli.Pull",
    aliases: &["io.kestra.plugin.docker.Pull"],
    doc: "Pull an image from its registry.",
    example: "id: pull\ntype: io.kestra.plugin.docker.cli.Pull\nimage: localhost:5000/team/app:1.0",
    shape: runnable::<Pull>(),
};

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Pull {
    #[serde(flatten)]
    connection: Connection,
    /// The image (`name[:tag]`; prefixed with `credentials.registry`'s host unless it starts with it).
    image: Property<String>,
}

impl RunnableTask for Pull {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let image: String = ctx.render(&self.image, "image")?;
            let image = self.connection.prefixed(ctx, image.trim())?;
            let engine = self.connection.engine(ctx).await?;
            let (name, tag) = split_reference(&image);
            let path = format!(
                "/images/create?fromImage={}&tag={}",
                engine::query(name),
                engine::query(tag.unwrap_or("latest"))
            );
            let auth = self.connection.registry_auth(ctx, &image)?;
            let mut failed = None;
            engine::stream(
                &engine,
                Method::POST,
                &path,
                None,
                Some(&auth),
                Body::Empty,
                &mut common::follow(ctx, &mut failed),
            )
            .await
            .map_err(|e| engine::error(&engine, &format!("cannot pull `{image}`"), e))?;
            if let Some(e) = failed {
                return Err(TaskError::new(
                    ErrorKind::Remote,
                    format!("cannot pull `{image}`: {e}"),
                )
                .hint("check the image name, that its registry can be reached from the engine, and the credentials"));
            }
            ctx.log(Level::Info, &format!("Successfully pulled image {image}"));
            Ok(Outputs::new())
        })
    }
}

pub(crate) const TAG: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.docker.cli.Tag",
    aliases: &["io.kestra.plugin.docker.Tag"],
    doc: "Give an image another name.",
    example: "id: tag\ntype: io.kestra.plugin.docker.cli.Tag\nsourceImage: team/app:1.0\ntargetImage: localhost:5000/team/app:latest",
    shape: runnable::<Tag>(),
};

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Tag {
    #[serde(flatten)]
    connection: Connection,
    /// The image to tag (name, name:tag or id).
    source_image: Property<String>,
    /// The new name (`repository[:tag]`, tag `latest` when it has none).
    target_image: Property<String>,
}

impl RunnableTask for Tag {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let source: String = ctx.render(&self.source_image, "sourceImage")?;
            let target: String = ctx.render(&self.target_image, "targetImage")?;
            let (repo, tag) = split_reference(target.trim());
            let tag = tag.unwrap_or("latest");
            let engine = self.connection.engine(ctx).await?;
            ctx.log(
                Level::Info,
                &format!("Tagging image {source} as {repo}:{tag}"),
            );
            engine
                .json(
                    Method::POST,
                    &format!(
                        "/images/{}/tag?repo={}&tag={}",
                        engine::query(source.trim()),
                        engine::query(repo),
                        engine::query(tag)
                    ),
                    None,
                )
                .await
                .map_err(|e| engine::error(&engine, &format!("cannot tag `{source}`"), e))?;
            Ok(Outputs::new())
        })
    }
}

// ---------------------------------------------------------------------------------------
// ImageLs, Prune

pub(crate) const IMAGE_LS: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.docker.cli.ImageLs",
    aliases: &["io.kestra.plugin.docker.ImageLs"],
    doc: "List the engine's images, by name and label.",
    example: "id: images\ntype: io.kestra.plugin.docker.cli.ImageLs\nimageNameFilter: \"localhost/runner-*\"",
    shape: runnable::<ImageLs>(),
};

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ImageLs {
    #[serde(flatten)]
    connection: Connection,
    /// Include intermediate images (default false).
    show_all: Option<Property<bool>>,
    /// Only images whose reference matches (`name`, `name:tag`, with `*` wildcards).
    image_name_filter: Option<Property<String>>,
    /// Only images with these labels (`key: value`).
    label_filter: Option<Property<BTreeMap<String, String>>>,
}

impl RunnableTask for ImageLs {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let all = ctx.render_opt(&self.show_all, "showAll")?.unwrap_or(false);
            let mut filters = Map::new();
            if let Some(n) = ctx.render_opt::<String>(&self.image_name_filter, "imageNameFilter")? {
                filters.insert("reference".into(), json!([n]));
            }
            if let Some(l) = ctx.render_opt(&self.label_filter, "labelFilter")? {
                let labels: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v}")).collect();
                filters.insert("label".into(), json!(labels));
            }
            let engine = self.connection.engine(ctx).await?;
            let listed = engine
                .json(
                    Method::GET,
                    &format!(
                        "/images/json?all={all}&filters={}",
                        engine::query(&Json::Object(filters).to_string())
                    ),
                    None,
                )
                .await
                .map_err(|e| engine::error(&engine, "cannot list the images", e))?;
            let images: Vec<Json> = listed
                .as_array()
                .map(|a| a.as_slice())
                .unwrap_or_default()
                .iter()
                .map(|i| {
                    json!({
                        "id": i.get("Id"),
                        "repoTags": i.get("RepoTags").filter(|v| !v.is_null()).cloned().unwrap_or(json!([])),
                        "repoDigests": i.get("RepoDigests").filter(|v| !v.is_null()).cloned().unwrap_or(json!([])),
                        "size": i.get("Size"),
                        "created": i.get("Created"),
                        "labels": i.get("Labels").filter(|v| !v.is_null()).cloned().unwrap_or(json!({})),
                    })
                })
                .collect();
            ctx.log(Level::Info, &format!("Found {} image(s)", images.len()));
            Ok(Outputs::from_iter([
                ("count".to_string(), Json::from(images.len())),
                ("images".to_string(), Json::Array(images)),
            ]))
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum PruneType {
    Build,
    Containers,
    Images,
    Networks,
    Volumes,
}

pub(crate) const PRUNE: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.docker.cli.Prune",
    aliases: &["io.kestra.plugin.docker.Prune"],
    doc: "Remove unused build cache, containers, images, networks or volumes (as `docker <type> prune`).",
    example: "id: prune\ntype: io.kestra.plugin.docker.cli.Prune\npruneType: NETWORKS\nlabelFilters:\n  - runner.example=true",
    shape: runnable::<Prune>(),
};

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Prune {
    #[serde(flatten)]
    connection: Connection,
    /// BUILD, CONTAINERS, IMAGES, NETWORKS or VOLUMES.
    prune_type: Property<PruneType>,
    /// IMAGES: only dangling (untagged) images when true; false (default) removes every unused image.
    dangling: Option<Property<bool>>,
    /// Only what was created before this (a timestamp or a duration such as `24h`).
    until: Option<Property<String>>,
    /// Only what has these labels (`key` or `key=value`; `label!=...` excludes).
    label_filters: Option<Property<Vec<String>>>,
}

impl RunnableTask for Prune {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let kind = ctx.render(&self.prune_type, "pruneType")?;
            let mut filters = Map::new();
            if kind == PruneType::Images {
                let dangling = ctx.render_opt(&self.dangling, "dangling")?.unwrap_or(false);
                filters.insert("dangling".into(), json!([dangling.to_string()]));
            }
            if let Some(u) = ctx.render_opt::<String>(&self.until, "until")? {
                filters.insert("until".into(), json!([u]));
            }
            if let Some(labels) =
                ctx.render_opt::<Vec<String>>(&self.label_filters, "labelFilters")?
            {
                let (not, yes): (Vec<String>, Vec<String>) =
                    labels.into_iter().partition(|l| l.starts_with("label!="));
                if !yes.is_empty() {
                    filters.insert("label".into(), json!(yes));
                }
                if !not.is_empty() {
                    let not: Vec<&str> = not.iter().map(|l| &l["label!=".len()..]).collect();
                    filters.insert("label!".into(), json!(not));
                }
            }
            let what = match kind {
                PruneType::Build => "build",
                PruneType::Containers => "containers",
                PruneType::Images => "images",
                PruneType::Networks => "networks",
                PruneType::Volumes => "volumes",
            };
            let engine = self.connection.engine(ctx).await?;
            let answer = engine
                .json(
                    Method::POST,
                    &format!(
                        "/{what}/prune?filters={}",
                        engine::query(&Json::Object(filters).to_string())
                    ),
                    None,
                )
                .await
                .map_err(|e| engine::error(&engine, &format!("cannot prune {what}"), e))?;
            let removed = [
                "ContainersDeleted",
                "ImagesDeleted",
                "NetworksDeleted",
                "VolumesDeleted",
                "CachesDeleted",
            ]
            .iter()
            .filter_map(|k| answer.get(*k).and_then(Json::as_array))
            .map(|a| a.len())
            .sum::<usize>();
            let reclaimed = answer
                .get("SpaceReclaimed")
                .and_then(Json::as_u64)
                .unwrap_or(0);
            ctx.log(
                Level::Info,
                &format!("Pruned {what}: {removed} removed, {reclaimed} bytes reclaimed"),
            );
            Ok(Outputs::new())
        })
    }
}

// ---------------------------------------------------------------------------------------
// Rm, Stop

pub(crate) const RM: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.docker.cli.Rm",
    aliases: &["io.kestra.plugin.docker.Rm"],
    doc: "Remove containers, then images.",
    example: "id: rm\ntype: io.kestra.plugin.docker.cli.Rm\ncontainerIds:\n  - runner-example-container\nforce: true",
    shape: runnable::<Rm>(),
};

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Rm {
    #[serde(flatten)]
    connection: Connection,
    /// Containers to remove (ids or names).
    container_ids: Option<Property<Vec<String>>>,
    /// Images to remove (ids or names).
    image_ids: Option<Property<Vec<String>>>,
    /// Remove running containers and images in use (default false).
    force: Option<Property<bool>>,
    /// Remove the containers' anonymous volumes too (default false).
    remove_volumes: Option<Property<bool>>,
}

impl RunnableTask for Rm {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let containers = ctx
                .render_opt(&self.container_ids, "containerIds")?
                .unwrap_or_default();
            let images = ctx
                .render_opt(&self.image_ids, "imageIds")?
                .unwrap_or_default();
            let force = ctx.render_opt(&self.force, "force")?.unwrap_or(false);
            let volumes = ctx
                .render_opt(&self.remove_volumes, "removeVolumes")?
                .unwrap_or(false);
            let engine = self.connection.engine(ctx).await?;
            for c in &containers {
                engine
                    .json(
                        Method::DELETE,
                        &format!("/containers/{}?force={force}&v={volumes}", engine::query(c)),
                        None,
                    )
                    .await
                    .map_err(|e| {
                        engine::error(&engine, &format!("cannot remove container `{c}`"), e)
                    })?;
                ctx.log(Level::Info, &format!("Removed container {c}"));
            }
            for i in &images {
                engine
                    .json(
                        Method::DELETE,
                        &format!("/images/{}?force={force}", engine::query(i)),
                        None,
                    )
                    .await
                    .map_err(|e| {
                        engine::error(&engine, &format!("cannot remove image `{i}`"), e)
                    })?;
                ctx.log(Level::Info, &format!("Removed image {i}"));
            }
            Ok(Outputs::new())
        })
    }
}

pub(crate) const STOP: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.docker.cli.Stop",
    aliases: &["io.kestra.plugin.docker.Stop"],
    doc: "Stop a container (or kill it), then remove it (unless `delete: false`).",
    example: "id: stop\ntype: io.kestra.plugin.docker.cli.Stop\ncontainerId: \"{{ outputs.run.taskRunner.containerId }}\"",
    shape: runnable::<Stop>(),
};

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Stop {
    #[serde(flatten)]
    connection: Connection,
    /// The container (id or name).
    container_id: Option<Property<String>>,
    /// Kill it (SIGKILL) instead of stopping it (default false).
    kill: Option<Property<bool>>,
    /// Remove it afterwards (default true).
    delete: Option<Property<bool>>,
}

impl RunnableTask for Stop {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let id = ctx
                .render_opt::<String>(&self.container_id, "containerId")?
                .filter(|i| !i.trim().is_empty())
                .ok_or_else(|| TaskError::property("containerId", "give the container to stop"))?;
            let kill = ctx.render_opt(&self.kill, "kill")?.unwrap_or(false);
            let delete = ctx.render_opt(&self.delete, "delete")?.unwrap_or(true);
            let engine = self.connection.engine(ctx).await?;
            let q = engine::query(&id);
            let (path, verb) = if kill {
                (format!("/containers/{q}/kill"), "kill")
            } else {
                (format!("/containers/{q}/stop"), "stop")
            };
            match engine.json(Method::POST, &path, None).await {
                Ok(_) => {}
                // Stopping a stopped container is not an error (HTTP 304); killing one is.
                Err(engine::CallError::Status(code, _)) if code.as_u16() == 304 => {}
                Err(e) => {
                    return Err(engine::error(
                        &engine,
                        &format!("cannot {verb} container `{id}`"),
                        e,
                    ));
                }
            }
            ctx.log(Level::Info, &format!("Container {id}: {verb} done"));
            if delete {
                engine
                    .json(Method::DELETE, &format!("/containers/{q}?force=true"), None)
                    .await
                    .map_err(|e| {
                        engine::error(&engine, &format!("cannot remove container `{id}`"), e)
                    })?;
                ctx.log(Level::Info, &format!("Removed container {id}"));
            }
            Ok(Outputs::new())
        })
    }
}
