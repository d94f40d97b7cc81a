//! What the Docker CLI tasks share (Kestra's `AbstractDocker`): the engine's `host`, registry
//! `config` and `credentials`, turned into a connection and an `X-Registry-Auth` header.

use runner_core::plugin::*;
use runner_scripts::kit::engine::{self, Engine};
use serde::Deserialize;
use serde_json::Map;

/// Registry credentials (Kestra's `credentials`); no `Debug`: it holds secrets.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Credentials {
    pub(crate) registry: Option<Property<String>>,
    pub(crate) username: Option<Property<String>>,
    pub(crate) password: Option<Property<String>>,
    pub(crate) registry_token: Option<Property<String>>,
    pub(crate) identity_token: Option<Property<String>>,
    pub(crate) auth: Option<Property<String>>,
}

impl PropType for Credentials {
    const NAME: &'static str = "registry credentials";
}

impl Seal for Credentials {
    fn seal(&mut self) {
        self.password.seal();
        self.registry_token.seal();
        self.identity_token.seal();
        self.auth.seal();
    }
}

/// The engine and registry properties every Docker CLI task has.
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Connection {
    /// The engine's address (`unix:///var/run/docker.sock`, `tcp://host:2375`); default: DOCKER_HOST, else Docker's socket.
    pub(crate) host: Option<Property<String>>,
    /// A Docker `config.json` (a map, or a string holding it) whose `auths` give registry credentials.
    #[prop(secret)]
    pub(crate) config: Option<Property<Json>>,
    /// Registry credentials: `registry`, `username`, `password`, `registryToken`, `identityToken`, `auth`.
    #[prop(secret)]
    pub(crate) credentials: Option<Credentials>,
}

/// Rendered credentials (each secret masked as it is rendered).
#[derive(Default)]
pub(crate) struct Rendered {
    pub(crate) registry: Option<String>,
    fields: Map<String, Json>,
}

impl Connection {
    pub(crate) async fn engine(&self, ctx: &RunContext) -> Result<Engine, TaskError> {
        let host = ctx.render_opt(&self.host, "host")?;
        engine::connect(ctx, host.as_deref()).await
    }

    pub(crate) fn credentials(&self, ctx: &RunContext) -> Result<Rendered, TaskError> {
        let Some(c) = &self.credentials else {
            return Ok(Rendered::default());
        };
        let mut out = Rendered::default();
        for (value, name, key) in [
            (&c.username, "credentials.username", "username"),
            (&c.password, "credentials.password", "password"),
            (
                &c.registry_token,
                "credentials.registryToken",
                "registrytoken",
            ),
            (
                &c.identity_token,
                "credentials.identityToken",
                "identitytoken",
            ),
            (&c.auth, "credentials.auth", "auth"),
        ] {
            if let Some(v) = ctx.render_opt::<String>(value, name)? {
                out.fields.insert(key.into(), Json::String(v));
            }
        }
        out.registry = ctx.render_opt(&c.registry, "credentials.registry")?;
        Ok(out)
    }

    /// `X-Registry-Auth` for `image`: the credentials, else `config`'s entry for the image's
    /// registry, else none (`{}`, which the engine accepts for public images).
    pub(crate) fn registry_auth(&self, ctx: &RunContext, image: &str) -> Result<String, TaskError> {
        use base64::Engine as _;
        let encode = |v: &Json| base64::engine::general_purpose::URL_SAFE.encode(v.to_string());
        let creds = self.credentials(ctx)?;
        if !creds.fields.is_empty() {
            let mut auth = creds.fields.clone();
            auth.insert(
                "serveraddress".into(),
                Json::String(
                    creds
                        .registry
                        .clone()
                        .unwrap_or_else(|| registry_of(image).to_string()),
                ),
            );
            return Ok(encode(&Json::Object(auth)));
        }
        if let Some(config) = &self.config {
            let config: Json = ctx.render(config, "config")?;
            let config = match config {
                Json::String(s) => serde_json::from_str(&s).map_err(|e| {
                    TaskError::property("config", format!("not a Docker config.json: {e}"))
                })?,
                v => v,
            };
            let registry = registry_of(image);
            if let Some(entry) = config
                .get("auths")
                .and_then(Json::as_object)
                .and_then(|auths| {
                    auths.iter().find(|(k, _)| {
                        let k = k
                            .trim_start_matches("https://")
                            .trim_start_matches("http://");
                        k.starts_with(registry)
                            || (registry == "docker.io" && k.starts_with("index.docker.io"))
                    })
                })
                .map(|(_, v)| v)
            {
                let mut auth = Map::new();
                for key in [
                    "auth",
                    "username",
                    "password",
                    "identitytoken",
                    "registrytoken",
                ] {
                    if let Some(v) = entry.get(key).and_then(Json::as_str) {
                        auth.insert(key.into(), Json::String(v.into()));
                    }
                }
                auth.insert("serveraddress".into(), Json::String(registry.into()));
                return Ok(encode(&Json::Object(auth)));
            }
        }
        Ok(encode(&Json::Object(Map::new())))
    }

    /// Kestra's `registryHostForImagePrefix`: the credentials' registry host, put before an
    /// image that does not already start with it (none for Docker Hub).
    pub(crate) fn prefixed(&self, ctx: &RunContext, image: &str) -> Result<String, TaskError> {
        let registry = self.credentials(ctx)?.registry;
        let Some(host) = registry.as_deref().map(registry_host).filter(|h| {
            !h.is_empty() && !matches!(*h, "docker.io" | "index.docker.io" | "registry-1.docker.io")
        }) else {
            return Ok(image.to_string());
        };
        if image.starts_with(&format!("{host}/")) {
            Ok(image.to_string())
        } else {
            Ok(format!("{host}/{image}"))
        }
    }
}

/// The host (and port) of a registry written as a URL or a bare host.
fn registry_host(registry: &str) -> &str {
    let r = registry
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    r.split('/').next().unwrap_or(r)
}

/// The registry an image comes from: its first component when that looks like a host.
pub(crate) fn registry_of(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first
        }
        _ => "docker.io",
    }
}

/// `name[:tag]` or `name@digest`: the tag is after the last `:` that follows the last `/`.
pub(crate) fn split_reference(image: &str) -> (&str, Option<&str>) {
    if image.contains('@') {
        return (image, None);
    }
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(i) => (&image[..slash + i], Some(&image[slash + i + 1..])),
        None => (image, None),
    }
}

/// Kestra strips a `scheme://` before tags (`docker://registry/x:1`).
pub(crate) fn strip_scheme(tag: &str) -> &str {
    tag.split_once("://").map_or(tag, |(_, rest)| rest)
}

/// Follows a pull or push stream: progress at DEBUG, status at INFO, an error fails.
pub(crate) fn follow<'a>(
    ctx: &'a RunContext,
    failed: &'a mut Option<String>,
) -> impl FnMut(Json) + Send + 'a {
    move |v: Json| {
        if let Some(e) = v
            .get("errorDetail")
            .and_then(|d| d.get("message"))
            .and_then(Json::as_str)
            .or_else(|| v.get("error").and_then(Json::as_str))
        {
            *failed = Some(e.to_string());
            return;
        }
        let status = v.get("status").and_then(Json::as_str).unwrap_or_default();
        if status.is_empty() {
            return;
        }
        let id = v.get("id").and_then(Json::as_str);
        let text = match id {
            Some(id) => format!("{id}: {status}"),
            None => status.to_string(),
        };
        if v.get("progressDetail")
            .is_some_and(|p| p.as_object().is_some_and(|o| !o.is_empty()))
        {
            ctx.log(Level::Debug, &text);
        } else {
            ctx.log(Level::Info, &text);
        }
    }
}

/// Pushes `tag` (`name:tag`) to its registry.
pub(crate) async fn push(
    ctx: &RunContext,
    engine: &Engine,
    connection: &Connection,
    tag: &str,
) -> Result<(), TaskError> {
    let (name, version) = split_reference(tag);
    let mut path = format!("/images/{}/push", engine::query(name));
    if let Some(v) = version {
        path.push_str(&format!("?tag={}", engine::query(v)));
    }
    let auth = connection.registry_auth(ctx, tag)?;
    let mut failed = None;
    engine::stream(
        engine,
        engine::Method::POST,
        &path,
        None,
        Some(&auth),
        engine::Body::Empty,
        &mut follow(ctx, &mut failed),
    )
    .await
    .map_err(|e| engine::error(engine, &format!("cannot push `{tag}`"), e))?;
    if let Some(e) = failed {
        return Err(TaskError::new(
            ErrorKind::Remote,
            format!("cannot push `{tag}`: {e}"),
        )
        .hint("check the tag's registry (its host is the tag's first part), that the engine can reach it, and the credentials"));
    }
    ctx.log(Level::Info, &format!("Pushed image {tag}"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(split_reference("ubuntu"), ("ubuntu", None));
        assert_eq!(
            split_reference("localhost:5000/a/b:1.2"),
            ("localhost:5000/a/b", Some("1.2"))
        );
        assert_eq!(
            split_reference("localhost:5000/a"),
            ("localhost:5000/a", None)
        );
        assert_eq!(registry_of("127.0.0.1:5000/x:1"), "127.0.0.1:5000");
        assert_eq!(registry_of("python:3.12"), "docker.io");
        assert_eq!(strip_scheme("docker://reg/x:1"), "reg/x:1");
        assert_eq!(registry_host("https://ghcr.io/v2/"), "ghcr.io");
    }
}
