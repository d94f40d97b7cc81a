//! The machine's `git`, run for a task: a clean environment (no user or system config, no
//! stored credential, no prompt), the password given through an askpass that reads it from
//! git's own environment, an SSH key written to a private folder of the task's working
//! directory (mode 0600, removed when the task ends), and every line git prints passed
//! through the run's masker like any log line. A token written in the URL is masked too.
//!
//! Besides running commands, this module holds what every sync and push task does the same
//! way: the connection properties ([`Connection`]), cloning one branch ([`Git::clone_branch`],
//! Kestra's `GitService.cloneBranch`), staging, diffing, committing and pushing.

use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::Map;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// Schemes a flow may use: not `file://` or a local path, which would read this machine's
/// files.
pub(crate) fn check_url(url: &str) -> Result<(), String> {
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

/// The password of `scheme://user:password@host...`, when the URL holds one.
pub(crate) fn url_password(url: &str) -> Option<&str> {
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
pub(crate) fn shown_url(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s && !url[s + 3..at].contains('/') => {
            format!("{}{}", &url[..s + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// The repository's web address, as Kestra builds it for `commitURL`: an SSH address becomes
/// `https://host/path`, credentials and a trailing `.git` are dropped.
pub(crate) fn http_url(url: &str) -> String {
    let mut u = shown_url(url);
    if !u.contains("://")
        && let Some((userhost, path)) = u.split_once(':')
    {
        let host = userhost.rsplit('@').next().unwrap_or(userhost);
        u = format!("https://{host}/{}", path.trim_start_matches('/'));
    }
    for scheme in ["ssh://", "git+ssh://", "git://"] {
        if let Some(rest) = u.strip_prefix(scheme) {
            let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
            // Drop a port: the web address has none.
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            let host = host.split(':').next().unwrap_or(host);
            u = format!("https://{host}/{path}");
        }
    }
    if u.contains("ssh.dev.azure.com") {
        // git@ssh.dev.azure.com:v3/org/project/repo -> https://dev.azure.com/org/project/_git/repo
        let path = u.split("ssh.dev.azure.com/").nth(1).unwrap_or_default();
        let parts: Vec<&str> = path.trim_start_matches("v3/").split('/').collect();
        if parts.len() == 3 {
            u = format!(
                "https://dev.azure.com/{}/{}/_git/{}",
                parts[0], parts[1], parts[2]
            );
        }
    }
    u.trim_end_matches('/').trim_end_matches(".git").to_string()
}

/// Kestra's `commitURL`: the commit's page on the forge.
pub(crate) fn commit_url(url: &str, sha: &str, branch: &str) -> String {
    let base = http_url(url);
    if base.contains("bitbucket.org") {
        format!("{base}/commits/{sha}")
    } else if base.contains("dev.azure.com") || base.contains("visualstudio.com") {
        format!("{base}/commit/{sha}?refName=refs%2Fheads%2F{branch}")
    } else {
        format!("{base}/commit/{sha}")
    }
}

/// The connection properties every git task shares (Kestra's `AbstractGitTask` and
/// `AbstractCloningTask`), but `url` and `branch`, which each task documents itself.
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Connection {
    /// The HTTP user name (also the commit author's name when `authorName` is not given).
    pub(crate) username: Option<Property<String>>,
    /// The HTTP password or token (given to git through its askpass, never on disk).
    #[prop(secret)]
    pub(crate) password: Option<Property<String>>,
    /// A PEM private key for SSH URLs; written to a private folder of the working directory
    /// for the task's duration (mode 0600).
    #[prop(secret)]
    pub(crate) private_key: Option<Property<String>>,
    /// The private key's passphrase.
    #[prop(secret)]
    pub(crate) passphrase: Option<Property<String>>,
    /// A CA bundle (PEM path) trusted for HTTPS.
    pub(crate) trusted_ca_pem_path: Option<Property<String>>,
    /// Accepted; git uses the proxy variables runner passes it (none by default).
    #[allow(dead_code)] // accepted, nothing to do
    pub(crate) no_proxy: Option<Property<bool>>,
    /// Milliseconds without progress before a transfer stops (default 10000).
    pub(crate) connect_timeout: Option<Property<u64>>,
    /// Accepted; git has no read timeout of its own.
    #[allow(dead_code)] // accepted, nothing to do
    pub(crate) read_timeout: Option<Property<u64>>,
    /// `git config` values set in the clone (`core.autocrlf: false`).
    pub(crate) git_config: Option<Property<Map<String, Json>>>,
    /// Clone submodules too (default false).
    pub(crate) clone_submodules: Option<Property<bool>>,
    /// Kestra's API address: runner works on its own flows folder and namespace files, so it
    /// is not used.
    #[allow(dead_code)] // accepted, nothing to do
    pub(crate) kestra_url: Option<Property<String>>,
    /// Kestra's API credentials: not used, as `kestraUrl`.
    #[allow(dead_code)] // accepted, nothing to do
    #[prop(secret, type = "{username, password, apiToken, auto}")]
    pub(crate) auth: Option<Property<Json>>,
}

/// What an SSH key property needs before the validator lets it through.
pub(crate) fn check_key(
    private_key: &Option<Property<String>>,
    passphrase: &Option<Property<String>>,
) -> Result<(), String> {
    if passphrase.is_some() && private_key.is_none() {
        return Err("`passphrase` goes with `privateKey`".into());
    }
    Ok(())
}

/// A folder of the working directory for one task run's git: HOME (the SSH key, known hosts)
/// and the clone. Removed when dropped.
pub(crate) struct Scratch {
    pub(crate) root: PathBuf,
}

impl Scratch {
    pub(crate) fn new(ctx: &RunContext) -> Result<Scratch, TaskError> {
        let wd = ctx.working_dir()?;
        let root = wd.path().join(format!(".runner-git-{}", ctx.taskrun_id()));
        std::fs::create_dir_all(root.join("home")).map_err(|e| {
            TaskError::new(
                ErrorKind::Io,
                format!("cannot create `{}` for git", root.display()),
            )
            .caused_by(e)
        })?;
        Ok(Scratch { root })
    }

    pub(crate) fn home(&self) -> PathBuf {
        self.root.join("home")
    }

    pub(crate) fn repo(&self) -> PathBuf {
        self.root.join("repo")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// What a git command printed.
pub(crate) struct Output {
    pub(crate) stdout: String,
    pub(crate) stderr: Vec<String>,
    pub(crate) success: bool,
    pub(crate) status: String,
}

/// How to run git for one task run.
pub(crate) struct Git<'a> {
    ctx: &'a RunContext,
    /// The URL as given (it may hold a token).
    pub(crate) url: String,
    /// The URL as shown: without credentials.
    pub(crate) shown: String,
    username: Option<String>,
    password: Option<String>,
    passphrase: Option<String>,
    key: Option<PathBuf>,
    home: PathBuf,
    config: Vec<(String, String)>,
    git_config: Map<String, Json>,
    pub(crate) submodules: bool,
    /// The level git's own lines are logged at.
    pub(crate) level: Level,
}

impl<'a> Git<'a> {
    /// Renders the connection properties and prepares git's environment in `home`.
    pub(crate) fn new(
        ctx: &'a RunContext,
        url: String,
        c: &Connection,
        home: &Path,
    ) -> Result<Git<'a>, TaskError> {
        check_url(&url).map_err(|e| TaskError::property("url", e))?;
        // A token written in the URL (`https://user:token@host`) is a credential too: git's
        // own messages may repeat the URL.
        if let Some(token) = url_password(&url) {
            ctx.mask(token);
        }
        let username = ctx.render_opt(&c.username, "username")?;
        let password = ctx.render_opt(&c.password, "password")?;
        let passphrase = ctx.render_opt(&c.passphrase, "passphrase")?;
        let key = match ctx.render_opt(&c.private_key, "privateKey")? {
            Some(pem) => {
                let path = home.join("id_key");
                write_private(&path, &normalize_key(&pem)).map_err(|e| {
                    TaskError::new(ErrorKind::Io, "cannot write the SSH key for git").caused_by(e)
                })?;
                Some(path)
            }
            None => None,
        };
        let mut config = Vec::new();
        if let Some(pem) = ctx.render_opt(&c.trusted_ca_pem_path, "trustedCaPemPath")? {
            config.push(("http.sslCAInfo".into(), pem));
        }
        let ms = ctx
            .render_opt(&c.connect_timeout, "connectTimeout")?
            .unwrap_or(10_000);
        // git's low-speed limit is the nearest thing to a connect timeout.
        config.push((
            "http.lowSpeedTime".into(),
            ms.div_ceil(1000).max(1).to_string(),
        ));
        config.push(("http.lowSpeedLimit".into(), "1".into()));
        let git_config = ctx
            .render_opt(&c.git_config, "gitConfig")?
            .unwrap_or_default();
        let submodules = ctx
            .render_opt(&c.clone_submodules, "cloneSubmodules")?
            .unwrap_or(false);
        Ok(Git {
            ctx,
            shown: shown_url(&url),
            url,
            username,
            password,
            passphrase,
            key,
            home: home.to_path_buf(),
            config,
            git_config,
            submodules,
            level: Level::Debug,
        })
    }

    pub(crate) fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// `git args...` in `cwd`; an error if it fails, with git's last words.
    pub(crate) async fn run(&self, cwd: &Path, args: &[&str]) -> Result<Output, TaskError> {
        let out = self.output(cwd, args, &[]).await?;
        if !out.success {
            return Err(self.failed(args, &out));
        }
        Ok(out)
    }

    /// The error for a git command that failed.
    pub(crate) fn failed(&self, args: &[&str], out: &Output) -> TaskError {
        let why: Vec<&str> = out
            .stderr
            .iter()
            .rev()
            .filter(|l| !l.trim().is_empty() && !l.starts_with("hint:"))
            .take(3)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let error = TaskError::new(
            ErrorKind::Remote,
            self.ctx.masked(&format!(
                "git {} failed ({}): {}",
                args.first().copied().unwrap_or(""),
                out.status,
                why.join(" / ")
            )),
        );
        let said = |words: &str| out.stderr.iter().any(|l| l.contains(words));
        if said("could not read Username") || said("could not read Password") {
            error.hint(format!(
                "{} asks for credentials: set `username` and `password` (a personal access token)",
                self.shown
            ))
        } else if said("Authentication failed") || said("returned error: 403") {
            error.hint(format!(
                "{} refused the credentials of user `{}`: check `username` and `password`",
                self.shown,
                self.username.as_deref().unwrap_or("git")
            ))
        } else {
            error
        }
    }

    /// `git args...` in `cwd` with extra environment, whatever its exit.
    pub(crate) async fn output(
        &self,
        cwd: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Output, TaskError> {
        let mut command = tokio::process::Command::new("git");
        command.env_clear();
        command.env(
            "PATH",
            self.ctx
                .env_var("PATH")
                .unwrap_or("/usr/local/bin:/usr/bin:/bin"),
        );
        let ssh = match &self.key {
            Some(key) => format!(
                "ssh -i '{}' -o IdentitiesOnly=yes -o BatchMode={} -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile='{}'",
                key.display(),
                if self.passphrase.is_some() {
                    "no"
                } else {
                    "yes"
                },
                self.home.join("known_hosts").display()
            ),
            None => format!(
                "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile='{}'",
                self.home.join("known_hosts").display()
            ),
        };
        command
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_SSH_COMMAND", ssh)
            .env("LC_ALL", "C");
        for (k, v) in env {
            command.env(k, v);
        }
        for (k, v) in &self.config {
            command.arg("-c").arg(format!("{k}={v}"));
        }
        command.arg("-c").arg("credential.helper=");
        command.arg("-c").arg("advice.detachedHead=false");
        command.arg("-c").arg("init.defaultBranch=main");
        // The askpass prints what git (or ssh, for a key's passphrase) asks for, from
        // variables only git's process sees; the script itself holds no secret.
        let secret = self.password.as_deref().or(self.passphrase.as_deref());
        let askpass = match secret {
            Some(p) => {
                let script = Askpass::write(&self.home).map_err(|e| {
                    TaskError::new(ErrorKind::Io, format!("cannot write git's askpass: {e}"))
                })?;
                command
                    .env("GIT_ASKPASS", &script.0)
                    .env("SSH_ASKPASS", &script.0)
                    .env("SSH_ASKPASS_REQUIRE", "force")
                    .env("DISPLAY", ":0")
                    .env(
                        "RUNNER_GIT_USERNAME",
                        self.username.as_deref().unwrap_or("git"),
                    )
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
        let mut child = self.ctx.spawn(command).map_err(|e| {
            TaskError::new(ErrorKind::Unsupported, format!("cannot start git: {e}"))
                .hint("the git tasks run the machine's `git`: install it (apt install git)")
        })?;
        let stderr = child.child().stderr.take();
        let stdout = child.child().stdout.take();
        let ctx = self.ctx;
        let level = self.level;
        let read_err = async move {
            let mut lines_seen = Vec::new();
            if let Some(err) = stderr {
                let mut lines = BufReader::new(err).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    ctx.log(level, &line);
                    lines_seen.push(line);
                    if lines_seen.len() > 40 {
                        lines_seen.remove(0);
                    }
                }
            }
            lines_seen
        };
        let read_out = async move {
            let mut text = String::new();
            if let Some(mut out) = stdout {
                let _ = out.read_to_string(&mut text).await;
            }
            text
        };
        let (stderr, stdout) = tokio::join!(read_err, read_out);
        let status = child
            .wait()
            .await
            .map_err(|e| TaskError::new(ErrorKind::Other, format!("git did not finish: {e}")))?;
        drop(askpass);
        Ok(Output {
            stdout,
            stderr: stderr.iter().map(|l| ctx.masked(l)).collect(),
            success: status.success(),
            status: status.to_string(),
        })
    }

    /// The branches of the remote (`git ls-remote --heads`).
    pub(crate) async fn remote_branches(&self, cwd: &Path) -> Result<Vec<String>, TaskError> {
        let out = self
            .run(cwd, &["ls-remote", "--heads", "--", &self.url])
            .await
            .map_err(|e| {
                if e.help().is_some() {
                    e
                } else {
                    e.hint(format!(
                        "check the URL ({}) and the credentials",
                        self.shown
                    ))
                }
            })?;
        Ok(out
            .stdout
            .lines()
            .filter_map(|l| l.split('\t').nth(1))
            .filter_map(|r| r.strip_prefix("refs/heads/"))
            .map(str::to_string)
            .collect())
    }

    /// Clones `branch` (depth 1) into `dest`. A branch the remote lacks is an error, or, with
    /// `create`, made from the default branch (INFO `Branch <b> does not exist, creating it`),
    /// as Kestra's push tasks do. `gitConfig` is applied to the clone.
    pub(crate) async fn clone_branch(
        &self,
        cwd: &Path,
        dest: &Path,
        branch: &str,
        create: bool,
    ) -> Result<(), TaskError> {
        let branches = self.remote_branches(cwd).await?;
        let dest_text = dest.to_string_lossy().into_owned();
        let mut args = vec!["clone", "--quiet", "--depth=1", "--no-tags"];
        if self.submodules {
            args.push("--recurse-submodules");
        }
        if branches.iter().any(|b| b == branch) {
            args.extend(["--single-branch", "--branch", branch]);
            args.extend(["--", &self.url, &dest_text]);
            self.run(cwd, &args).await?;
        } else if create {
            self.ctx
                .info(&format!("Branch {branch} does not exist, creating it"));
            args.extend(["--", &self.url, &dest_text]);
            self.run(cwd, &args).await?;
            // On an empty repository HEAD is yet to be born: naming it is enough.
            let born = self
                .output(dest, &["rev-parse", "--verify", "-q", "HEAD"], &[])
                .await?
                .success;
            if born {
                self.run(dest, &["checkout", "-q", "-b", branch]).await?;
            } else {
                let head = format!("refs/heads/{branch}");
                self.run(dest, &["symbolic-ref", "HEAD", &head]).await?;
            }
        } else {
            let known = if branches.is_empty() {
                "it has no branch".to_string()
            } else {
                format!("its branches: {}", branches.join(", "))
            };
            return Err(TaskError::new(
                ErrorKind::NotFound,
                format!(
                    "branch `{branch}` does not exist in {} ({known})",
                    self.shown
                ),
            )
            .hint("set `branch` to one of the repository's branches"));
        }
        for (key, value) in &self.git_config {
            if !key.contains('.') {
                self.ctx.log(
                    Level::Warn,
                    &format!("invalid git gitRepoConfig key format: {key}. Expected section.name"),
                );
                continue;
            }
            match value {
                Json::Null => {
                    let _ = self
                        .output(dest, &["config", "--unset-all", key], &[])
                        .await?;
                }
                Json::String(s) if s.trim().is_empty() => {
                    let _ = self
                        .output(dest, &["config", "--unset-all", key], &[])
                        .await?;
                }
                Json::Array(items) => {
                    let _ = self
                        .output(dest, &["config", "--unset-all", key], &[])
                        .await?;
                    for item in items {
                        let v = item
                            .as_str()
                            .map_or_else(|| item.to_string(), str::to_string);
                        self.run(dest, &["config", "--add", key, v.trim()]).await?;
                    }
                }
                other => {
                    let v = other
                        .as_str()
                        .map_or_else(|| other.to_string(), str::to_string);
                    self.run(dest, &["config", key, v.trim()]).await?;
                }
            }
        }
        Ok(())
    }

    /// The staged changes as Kestra's diff rows: `{file, additions: "+N", deletions: "-N",
    /// changes: "N"}`, sorted by file (`-` for a binary file's counts).
    pub(crate) async fn staged_diff(&self, repo: &Path) -> Result<Vec<Json>, TaskError> {
        let out = self
            .run(
                repo,
                &["diff", "--cached", "--numstat", "--no-renames", "-z"],
            )
            .await?;
        let mut rows: Vec<(String, Json)> = out
            .stdout
            .split('\0')
            .filter(|r| !r.is_empty())
            .filter_map(|r| {
                let mut f = r.splitn(3, '\t');
                let (add, del, file) = (f.next()?, f.next()?, f.next()?);
                let n = |s: &str| s.parse::<u64>().ok();
                let changes = match (n(add), n(del)) {
                    (Some(a), Some(d)) => (a + d).to_string(),
                    _ => "-".into(),
                };
                Some((
                    file.to_string(),
                    serde_json::json!({
                        "file": file,
                        "additions": format!("+{add}"),
                        "deletions": format!("-{del}"),
                        "changes": changes,
                    }),
                ))
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(rows.into_iter().map(|(_, r)| r).collect())
    }

    /// Commits what is staged and pushes it to `branch`; `None` when nothing changed (INFO
    /// `No changes to commit. Skipping push.`). A rejected push is an error with the remote's
    /// words.
    pub(crate) async fn commit_and_push(
        &self,
        repo: &Path,
        branch: &str,
        message: &str,
        author: &Author,
    ) -> Result<Option<String>, TaskError> {
        let staged = self
            .output(repo, &["diff", "--cached", "--quiet"], &[])
            .await?;
        if staged.success {
            self.ctx.info("No changes to commit. Skipping push.");
            return Ok(None);
        }
        self.ctx.info(&format!(
            "Pushing to {} on branch {branch}",
            http_url(&self.url)
        ));
        let env = [
            ("GIT_AUTHOR_NAME", author.name.as_str()),
            ("GIT_AUTHOR_EMAIL", author.email.as_str()),
            ("GIT_COMMITTER_NAME", author.name.as_str()),
            ("GIT_COMMITTER_EMAIL", author.email.as_str()),
        ];
        let commit = ["commit", "--quiet", "--no-verify", "-m", message];
        let out = self.output(repo, &commit, &env).await?;
        if !out.success {
            return Err(self.failed(&commit, &out));
        }
        let refspec = format!("HEAD:refs/heads/{branch}");
        let push = ["push", "--porcelain", "origin", &refspec];
        let out = self.output(repo, &push, &[]).await?;
        if !out.success {
            let rejected = out
                .stdout
                .lines()
                .chain(out.stderr.iter().map(String::as_str))
                .find(|l| l.starts_with('!') || l.contains("[rejected]") || l.contains("rejected"))
                .map(|l| l.trim().to_string());
            return Err(match rejected {
                Some(line) => TaskError::new(
                    ErrorKind::Remote,
                    self.ctx.masked(&format!(
                        "the push to {} on branch {branch} was rejected: {line}",
                        self.shown
                    )),
                )
                .hint("the branch moved on the remote since it was cloned (non-fast-forward): run the task again, it clones the branch afresh"),
                None => self.failed(&push, &out),
            });
        }
        let sha = self
            .run(repo, &["rev-parse", "HEAD"])
            .await?
            .stdout
            .trim()
            .to_string();
        self.ctx.info(&format!(
            "Pushed to {}",
            commit_url(&self.url, &sha, branch)
        ));
        Ok(Some(sha))
    }
}

/// Who commits: `authorName` (else `username`, else `runner`) and `authorEmail` (else
/// `<name>@localhost`).
pub(crate) struct Author {
    pub(crate) name: String,
    pub(crate) email: String,
}

impl Author {
    pub(crate) fn new(
        name: Option<String>,
        email: Option<String>,
        username: Option<&str>,
    ) -> Author {
        let name = name
            .or_else(|| username.map(str::to_string))
            .unwrap_or_else(|| "runner".into());
        let email = email.unwrap_or_else(|| {
            let local: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            format!("{local}@localhost")
        });
        Author { name, email }
    }
}

/// A key pasted in YAML may have lost its final newline, which ssh needs.
fn normalize_key(pem: &str) -> String {
    let mut key = pem.replace("\r\n", "\n").trim().to_string();
    key.push('\n');
    key
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(text.as_bytes())
}

/// A small script, mode 0700 in git's private HOME, removed when dropped.
struct Askpass(PathBuf);

impl Askpass {
    fn write(dir: &Path) -> std::io::Result<Askpass> {
        let path = dir.join(format!("askpass-{}", runner_core::ids::friendly_id()));
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
        assert_eq!(shown_url("https://host/a@b"), "https://host/a@b");
        assert!(check_url("file:///etc").is_err());
        assert!(check_url("/home/me/repo").is_err());
        assert!(check_url("git@github.com:org/repo.git").is_ok());
    }

    #[test]
    fn commit_urls_follow_each_forge() {
        assert_eq!(
            commit_url("git@github.com:org/repo.git", "abc", "main"),
            "https://github.com/org/repo/commit/abc"
        );
        assert_eq!(
            commit_url("https://me:tok@gitlab.com/org/repo.git", "abc", "main"),
            "https://gitlab.com/org/repo/commit/abc"
        );
        assert_eq!(
            commit_url("https://bitbucket.org/org/repo", "abc", "main"),
            "https://bitbucket.org/org/repo/commits/abc"
        );
        assert_eq!(
            commit_url("ssh://git@host:2222/org/repo.git", "abc", "main"),
            "https://host/org/repo/commit/abc"
        );
        assert_eq!(
            commit_url("git@ssh.dev.azure.com:v3/org/proj/repo", "abc", "dev"),
            "https://dev.azure.com/org/proj/_git/repo/commit/abc?refName=refs%2Fheads%2Fdev"
        );
    }

    #[test]
    fn an_author_falls_back_on_the_user() {
        let a = Author::new(None, None, Some("Ada Lovelace"));
        assert_eq!(
            (a.name.as_str(), a.email.as_str()),
            ("Ada Lovelace", "Ada-Lovelace@localhost")
        );
        let a = Author::new(Some("Bot".into()), Some("bot@x.io".into()), Some("u"));
        assert_eq!((a.name.as_str(), a.email.as_str()), ("Bot", "bot@x.io"));
    }
}
