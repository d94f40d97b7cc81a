//! A real git server on loopback for the git tests: Git's own `git http-backend` (the smart
//! HTTP protocol, clone and push) behind a small CGI server written here on hyper, which
//! asks for HTTP basic authentication on every request. Repositories are bare ones in its
//! folder, made by the test ([`GitServer::create_repo`]); the test reads what was pushed by
//! cloning them with the git CLI ([`GitServer::checkout`]).

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

type Hooks = Arc<Mutex<std::collections::HashMap<String, Box<dyn FnOnce() + Send>>>>;

/// A running server; stopped and its folder removed when dropped.
pub struct GitServer {
    pub port: u16,
    pub user: String,
    pub password: String,
    root: PathBuf,
    /// Every request: method, path and query, status.
    requests: Arc<Mutex<Vec<String>>>,
    /// Work to do when a client next asks to push to a repository (by name).
    before_push: Hooks,
    /// Stopped before the folder goes (the field drops first: see Drop).
    server: Option<crate::http::HttpServer>,
}

impl Drop for GitServer {
    fn drop(&mut self) {
        drop(self.server.take());
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Runs `git` for the test (no user config), panicking with its words if it fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn unauthorized() -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(401)
        .header("www-authenticate", "Basic realm=\"runner test git\"")
        .body(Full::new(Bytes::from_static(b"authentication required\n")))
        .unwrap()
}

/// The CGI response of `git http-backend` as an HTTP response.
fn from_cgi(out: &[u8]) -> hyper::Response<Full<Bytes>> {
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, p + 4))
        .or_else(|| {
            out.windows(2)
                .position(|w| w == b"\n\n")
                .map(|p| (p, p + 2))
        });
    let Some((head_end, body_start)) = split else {
        return hyper::Response::builder()
            .status(500)
            .body(Full::new(Bytes::from(out.to_vec())))
            .unwrap();
    };
    let head = String::from_utf8_lossy(&out[..head_end]).into_owned();
    let mut response = hyper::Response::builder().status(200);
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code: u16 = value
                .split_whitespace()
                .next()
                .and_then(|c| c.parse().ok())
                .unwrap_or(500);
            response = response.status(code);
        } else {
            response = response.header(name.trim(), value);
        }
    }
    response
        .body(Full::new(Bytes::from(out[body_start..].to_vec())))
        .unwrap()
}

async fn handle(
    req: hyper::Request<hyper::body::Incoming>,
    root: PathBuf,
    credentials: String,
    user: String,
    requests: Arc<Mutex<Vec<String>>>,
    hooks: Hooks,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let shown = format!(
        "{} {}",
        req.method(),
        req.uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let authorized = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == credentials);
    if !authorized {
        requests.lock().unwrap().push(format!("{shown} 401"));
        return Ok(unauthorized());
    }
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    if query == "service=git-receive-pack"
        && let Some(name) = path
            .strip_prefix('/')
            .and_then(|p| p.strip_suffix(".git/info/refs"))
    {
        let hook = hooks.lock().unwrap().remove(name);
        if let Some(hook) = hook {
            hook();
        }
    }
    let content_type = header("content-type");
    let encoding = header("content-encoding");
    let protocol = header("git-protocol");
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut command = tokio::process::Command::new("git");
    command
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &root)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_PROJECT_ROOT", &root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", &path)
        .env("QUERY_STRING", &query)
        .env("REMOTE_USER", &user)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("CONTENT_LENGTH", body.len().to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(t) = content_type {
        command.env("CONTENT_TYPE", t);
    }
    if let Some(e) = encoding {
        command.env("HTTP_CONTENT_ENCODING", e);
    }
    if let Some(p) = protocol {
        command.env("GIT_PROTOCOL", p);
    }
    let Ok(mut child) = command.spawn() else {
        return Ok(hyper::Response::builder()
            .status(500)
            .body(Full::new(Bytes::from_static(
                b"cannot start git http-backend",
            )))
            .unwrap());
    };
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = async move {
        use tokio::io::AsyncWriteExt;
        let _ = stdin.write_all(&body).await;
        drop(stdin);
    };
    let (_, out) = tokio::join!(writer, child.wait_with_output());
    let response = match out {
        Ok(o) => from_cgi(&o.stdout),
        Err(_) => hyper::Response::builder()
            .status(500)
            .body(Full::new(Bytes::new()))
            .unwrap(),
    };
    requests
        .lock()
        .unwrap()
        .push(format!("{shown} {}", response.status().as_u16()));
    Ok(response)
}

impl GitServer {
    /// Starts a server on a free port of 127.0.0.1, with a user of a random password.
    pub fn start() -> GitServer {
        let root = std::env::temp_dir().join(format!(
            "runner-git-server-{}",
            runner_core::ids::friendly_id()
        ));
        std::fs::create_dir_all(&root).expect("the server's folder");
        let user = "git-bot".to_string();
        let password = format!("tok-{}", runner_core::ids::random_u64() % 1_000_000_000);
        let credentials = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let before_push: Hooks = Arc::default();
        let (r, served_root, u, h) = (
            requests.clone(),
            root.clone(),
            user.clone(),
            before_push.clone(),
        );
        let server = crate::http::serve(move |req| {
            handle(
                req,
                served_root.clone(),
                credentials.clone(),
                u.clone(),
                r.clone(),
                h.clone(),
            )
        });
        GitServer {
            port: server.port,
            user,
            password,
            root,
            requests,
            before_push,
            server: Some(server),
        }
    }

    /// A new empty bare repository `name` (`name.git`) that accepts pushes.
    pub fn create_repo(&self, name: &str) -> PathBuf {
        let path = self.root.join(format!("{name}.git"));
        git(
            &self.root,
            &["init", "-q", "--bare", "-b", "main", path.to_str().unwrap()],
        );
        git(&path, &["config", "http.receivepack", "true"]);
        path
    }

    /// The repository's URL, without credentials.
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}.git", self.port)
    }

    /// The repository's URL with the user and password written in it.
    pub fn url_with_credentials(&self, name: &str) -> String {
        format!(
            "http://{}:{}@127.0.0.1:{}/{name}.git",
            self.user, self.password, self.port
        )
    }

    /// Commits `files` (path, content; `None` removes the file) on `branch` of repository
    /// `name` and pushes it there directly (not over HTTP). Returns the commit.
    pub fn commit(
        &self,
        name: &str,
        branch: &str,
        files: &[(&str, Option<&str>)],
        message: &str,
    ) -> String {
        Detached {
            root: self.root.clone(),
        }
        .commit(name, branch, files, message)
    }
}

/// The server's folder, for work done away from the server value (a hook).
struct Detached {
    root: PathBuf,
}

impl Detached {
    fn commit(
        &self,
        name: &str,
        branch: &str,
        files: &[(&str, Option<&str>)],
        message: &str,
    ) -> String {
        let bare = self.root.join(format!("{name}.git"));
        let work = self
            .root
            .join(format!("work-{}", runner_core::ids::friendly_id()));
        git(
            &self.root,
            &[
                "clone",
                "-q",
                bare.to_str().unwrap(),
                work.to_str().unwrap(),
            ],
        );
        let has_branch = !git(&work, &["ls-remote", "--heads", "origin", branch]).is_empty();
        if has_branch {
            git(&work, &["checkout", "-q", branch]);
        } else {
            git(&work, &["checkout", "-q", "-b", branch]);
        }
        for (path, content) in files {
            let p = work.join(path);
            match content {
                Some(c) => {
                    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                    std::fs::write(&p, c).unwrap();
                }
                None => {
                    let _ = std::fs::remove_file(&p);
                }
            }
        }
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "--allow-empty", "-m", message]);
        git(
            &work,
            &["push", "-q", "origin", &format!("HEAD:refs/heads/{branch}")],
        );
        let sha = git(&work, &["rev-parse", "HEAD"]);
        std::fs::remove_dir_all(&work).unwrap();
        sha
    }
}

impl GitServer {
    /// A fresh checkout of `branch` of repository `name` (cloned with the git CLI from the
    /// bare repository), for the test to read; removed with the server.
    pub fn checkout(&self, name: &str, branch: &str) -> PathBuf {
        let bare = self.root.join(format!("{name}.git"));
        let work = self
            .root
            .join(format!("checkout-{}", runner_core::ids::friendly_id()));
        git(
            &self.root,
            &[
                "clone",
                "-q",
                "--branch",
                branch,
                bare.to_str().unwrap(),
                work.to_str().unwrap(),
            ],
        );
        work
    }

    /// The branches of repository `name`.
    pub fn branches(&self, name: &str) -> Vec<String> {
        let bare = self.root.join(format!("{name}.git"));
        let out = git(&bare, &["branch", "--format=%(refname:short)"]);
        out.lines().map(str::to_string).collect()
    }

    /// Before the next push to repository `name` is answered, someone else pushes
    /// `files` to `branch` (so that push is no longer a fast-forward).
    pub fn race_next_push(&self, name: &str, branch: &str, files: &[(&str, &str)]) {
        let root = self.root.clone();
        let (name_owned, branch) = (name.to_string(), branch.to_string());
        let files: Vec<(String, String)> = files
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect();
        let hook = move || {
            let server = Detached { root };
            let refs: Vec<(&str, Option<&str>)> = files
                .iter()
                .map(|(p, c)| (p.as_str(), Some(c.as_str())))
                .collect();
            server.commit(&name_owned, &branch, &refs, "someone else's change");
        };
        self.before_push
            .lock()
            .unwrap()
            .insert(name.to_string(), Box::new(hook));
    }

    /// Every request so far: `METHOD /path?query STATUS`.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}
