//! `io.kestra.plugin.git.Clone`: a repository cloned into the working directory by `git`,
//! with a clean environment (no user config, no stored credentials, no prompt).

use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::Map;
use tokio::io::{AsyncBufReadExt, BufReader};

pub(crate) const CLONE: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.git.Clone",
    aliases: &[],
    doc: "Clone a repository (HTTP(S), SSH or git://) into the working directory with the machine's `git`; shallow (depth 1) unless `commit` or `tag` is given. Output: `directory`.",
    example: "id: clone\ntype: io.kestra.plugin.git.Clone\nurl: https://github.com/kestra-io/examples\nbranch: main",
    shape: runnable::<Clone>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Clone {
    /// The repository: `https://`, `http://`, `ssh://`, `git://` or `user@host:path`.
    url: Property<String>,
    /// A folder of the working directory to clone into (default: the working directory).
    directory: Option<Property<String>>,
    /// The branch to check out.
    branch: Option<Property<String>>,
    /// How much history (default 1; ignored with `commit` or `tag`).
    depth: Option<Property<u32>>,
    /// A commit to check out (detached).
    commit: Option<Property<String>>,
    /// A tag to check out.
    tag: Option<Property<String>>,
    /// Fetch every branch (default true); false follows the one branch only.
    clone_all_branches: Option<Property<bool>>,
    /// Skip tags (default false).
    no_tags: Option<Property<bool>>,
    /// Clone submodules too (default false).
    clone_submodules: Option<Property<bool>>,
    /// The HTTP user name.
    username: Option<Property<String>>,
    /// The HTTP password or token (given to git through its askpass, never on disk).
    password: Option<Property<String>>,
    /// Not supported yet: a key would have to be written to disk for ssh.
    private_key: Option<Property<String>>,
    /// Not supported yet (goes with `privateKey`).
    passphrase: Option<Property<String>>,
    /// A CA bundle (PEM path) trusted for HTTPS.
    trusted_ca_pem_path: Option<Property<String>>,
    /// Accepted; git uses the proxy variables runner passes it (none by default).
    #[allow(dead_code)] // accepted, nothing to do
    no_proxy: Option<Property<bool>>,
    /// Milliseconds to connect (default 10000).
    connect_timeout: Option<Property<u64>>,
    /// Accepted; git has no read timeout of its own.
    #[allow(dead_code)] // accepted, nothing to do
    read_timeout: Option<Property<u64>>,
    /// `git config` values set in the clone (`core.autocrlf: false`).
    git_config: Option<Property<Map<String, Json>>>,
    /// Not supported: runner does not cache repositories between runs.
    cache: Option<Property<bool>>,
    /// Not supported (goes with `cache`).
    cache_ttl: Option<Property<String>>,
}

/// Schemes a flow may clone from: not `file://` or a local path, which would read this
/// machine's files.
fn check_url(url: &str) -> Result<(), String> {
    let lower = url.to_ascii_lowercase();
    let scheme_ok = ["https://", "http://", "ssh://", "git://", "git+ssh://"]
        .iter()
        .any(|s| lower.starts_with(s));
    // scp-like `user@host:path` (not a Windows drive, not a path).
    let scp_like = !url.contains("://")
        && url
            .split_once(':')
            .is_some_and(|(host, _)| host.contains('@') && !host.contains('/') && host.len() > 1);
    if scheme_ok || scp_like {
        Ok(())
    } else {
        Err(format!(
            "`{url}` is not a remote repository: give an https://, ssh:// or git:// URL (local paths and file:// would read this machine's files)"
        ))
    }
}

impl RunnableTask for Clone {
    fn check(&self) -> Result<(), String> {
        if self.private_key.is_some() || self.passphrase.is_some() {
            return Err("`privateKey` is not supported yet: runner would have to write the key to disk for ssh; clone over HTTPS with `username` and a token in `password`".into());
        }
        if self.cache.is_some() || self.cache_ttl.is_some() {
            return Err("`cache` is not supported: runner clones afresh each run".into());
        }
        if !self.url.is_dynamic()
            && let Some(u) = self.url.raw().as_str()
        {
            check_url(u)?;
        }
        Ok(())
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let url = ctx.render(&self.url, "url")?;
            check_url(&url).map_err(|e| TaskError::property("url", e))?;
            let dir = ctx.working_dir()?;
            let target = match ctx.render_opt(&self.directory, "directory")? {
                Some(d) => dir
                    .join(&d)
                    .map_err(|e| TaskError::property("directory", e))?,
                None => dir.path().to_path_buf(),
            };
            let commit = ctx.render_opt(&self.commit, "commit")?;
            let tag = ctx.render_opt(&self.tag, "tag")?;
            let mut args: Vec<String> = vec!["clone".into(), "--quiet".into()];
            if commit.is_none() && tag.is_none() {
                let depth = ctx.render_opt(&self.depth, "depth")?.unwrap_or(1);
                if depth > 0 {
                    args.push(format!("--depth={depth}"));
                }
            }
            if let Some(t) = &tag {
                args.push(format!("--branch={t}"));
            } else if let Some(b) = ctx.render_opt(&self.branch, "branch")? {
                args.push(format!("--branch={b}"));
            }
            // git's --depth implies a single branch; Kestra's default fetches them all.
            if ctx
                .render_opt(&self.clone_all_branches, "cloneAllBranches")?
                .unwrap_or(true)
            {
                args.push("--no-single-branch".into());
            } else {
                args.push("--single-branch".into());
            }
            if ctx.render_opt(&self.no_tags, "noTags")?.unwrap_or(false) {
                args.push("--no-tags".into());
            }
            if ctx
                .render_opt(&self.clone_submodules, "cloneSubmodules")?
                .unwrap_or(false)
            {
                args.push("--recurse-submodules".into());
            }
            let mut config: Vec<(String, String)> = Vec::new();
            if let Some(pem) = ctx.render_opt(&self.trusted_ca_pem_path, "trustedCaPemPath")? {
                config.push(("http.sslCAInfo".into(), pem));
            }
            if let Some(ms) = ctx.render_opt(&self.connect_timeout, "connectTimeout")? {
                // git's low-speed limit is the nearest thing to a connect timeout.
                config.push((
                    "http.lowSpeedTime".into(),
                    (ms.div_ceil(1000)).max(1).to_string(),
                ));
                config.push(("http.lowSpeedLimit".into(), "1".into()));
            }
            for (k, v) in ctx
                .render_opt(&self.git_config, "gitConfig")?
                .unwrap_or_default()
            {
                let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                args.push(format!("--config={k}={v}"));
            }
            args.push("--".into());
            args.push(url.clone());
            args.push(target.to_string_lossy().into_owned());
            let username = ctx.render_opt(&self.username, "username")?;
            let password = ctx.render_opt(&self.password, "password")?;
            if let Some(p) = &password {
                ctx.mask(p);
            }
            // A token written in the URL (`https://user:token@host`) is a credential too:
            // git's own messages may repeat the URL.
            if let Some(token) = url_password(&url) {
                ctx.mask(token);
            }
            let shown = shown_url(&url);
            ctx.info(&format!("Cloning {shown} into {}", target.display()));
            self.git(
                ctx,
                dir.path(),
                &args,
                &config,
                username.as_deref(),
                password.as_deref(),
            )
            .await
            .map_err(|e| {
                e.hint("the clone runs `git`; check the URL, the branch and the credentials")
            })?;
            if let Some(c) = commit {
                let checkout = vec![
                    "-C".into(),
                    target.to_string_lossy().into_owned(),
                    "checkout".into(),
                    "--quiet".into(),
                    c,
                ];
                self.git(
                    ctx,
                    dir.path(),
                    &checkout,
                    &config,
                    username.as_deref(),
                    password.as_deref(),
                )
                .await?;
            }
            let mut out = Outputs::new();
            out.insert(
                "directory".into(),
                Json::String(target.to_string_lossy().into_owned()),
            );
            Ok(out)
        })
    }
}

/// The password of `scheme://user:password@host...`, when the URL holds one.
fn url_password(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let userinfo = &rest[..rest.find('@')?];
    if userinfo.contains('/') {
        return None;
    }
    userinfo
        .split_once(':')
        .map(|(_, p)| p)
        .filter(|p| !p.is_empty())
}

/// The URL without credentials written in it (`https://user:token@host`).
fn shown_url(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => format!("{}{}", &url[..s + 3], &url[at + 1..]),
        _ => url.to_string(),
    }
}

impl Clone {
    /// Runs `git` with a clean environment: no user or system config, no stored credential,
    /// no prompt; the password reaches git through an askpass that reads it from git's own
    /// environment.
    async fn git(
        &self,
        ctx: &RunContext,
        cwd: &std::path::Path,
        args: &[String],
        config: &[(String, String)],
        username: Option<&str>,
        password: Option<&str>,
    ) -> Result<(), TaskError> {
        let mut command = tokio::process::Command::new("git");
        command.env_clear();
        if let Some(path) = ctx.env_var("PATH") {
            command.env("PATH", path);
        } else {
            command.env("PATH", "/usr/local/bin:/usr/bin:/bin");
        }
        command
            .env("HOME", cwd)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env(
                "GIT_SSH_COMMAND",
                "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new",
            )
            .env("LC_ALL", "C");
        for (k, v) in config {
            command.arg("-c").arg(format!("{k}={v}"));
        }
        command.arg("-c").arg("credential.helper=");
        command.arg("-c").arg("advice.detachedHead=false");
        // The askpass prints what git asks for from variables only git's process sees; the
        // script itself holds no secret.
        let askpass = match password {
            Some(p) => {
                let script = Askpass::write().map_err(|e| {
                    TaskError::new(ErrorKind::Io, format!("cannot write git's askpass: {e}"))
                })?;
                command
                    .env("GIT_ASKPASS", &script.0)
                    .env("RUNNER_GIT_USERNAME", username.unwrap_or("git"))
                    .env("RUNNER_GIT_PASSWORD", p);
                Some(script)
            }
            None => None,
        };
        command
            .args(args)
            .current_dir(cwd)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = ctx.spawn(command).map_err(|e| {
            TaskError::new(ErrorKind::Unsupported, format!("cannot start git: {e}"))
                .hint("git.Clone runs the machine's `git`: install it (apt install git)")
        })?;
        let stderr = child.child().stderr.take();
        let stdout = child.child().stdout.take();
        let mut last = Vec::new();
        if let Some(err) = stderr {
            let mut lines = BufReader::new(err).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                ctx.log(Level::Info, &line);
                last.push(line);
                if last.len() > 20 {
                    last.remove(0);
                }
            }
        }
        if let Some(out) = stdout {
            let mut lines = BufReader::new(out).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                ctx.log(Level::Info, &line);
            }
        }
        let status = child
            .wait()
            .await
            .map_err(|e| TaskError::new(ErrorKind::Other, format!("git did not finish: {e}")))?;
        drop(askpass);
        if !status.success() {
            let why = last.last().cloned().unwrap_or_default();
            return Err(TaskError::new(
                ErrorKind::Remote,
                format!(
                    "git {} failed ({status}): {why}",
                    args.first().map_or("", String::as_str)
                ),
            ));
        }
        Ok(())
    }
}

/// A small script, mode 0700 in the temporary folder, removed when dropped.
struct Askpass(std::path::PathBuf);

impl Askpass {
    fn write() -> std::io::Result<Askpass> {
        let path = std::env::temp_dir().join(format!(
            "runner-git-askpass-{}",
            runner_core::ids::friendly_id()
        ));
        let script = "#!/bin/sh\ncase \"$1\" in\n  Username*) printf '%s' \"$RUNNER_GIT_USERNAME\" ;;\n  *) printf '%s' \"$RUNNER_GIT_PASSWORD\" ;;\nesac\n";
        std::fs::write(&path, script)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(Askpass(path))
    }
}

impl Drop for Askpass {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_url_are_found_and_hidden() {
        assert_eq!(url_password("https://me:tok3n@host/r.git"), Some("tok3n"));
        assert_eq!(url_password("https://me@host/r.git"), None);
        assert_eq!(url_password("https://host/a@b"), None);
        assert_eq!(
            shown_url("https://me:tok3n@host/r.git"),
            "https://host/r.git"
        );
        assert!(check_url("file:///etc").is_err());
        assert!(check_url("/home/me/repo").is_err());
        assert!(check_url("git@github.com:org/repo.git").is_ok());
    }
}
