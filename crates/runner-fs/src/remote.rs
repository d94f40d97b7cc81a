//! What the file tasks need of a remote file system, whatever the protocol (SFTP, FTP, FTPS):
//! one interface, [`Remote`], over paths as the flow writes them (`/in/a.csv`), each protocol
//! mapping them to the server's (under the login folder with Kestra's `rootDir: true`).
//! Transfers stream through a small buffer both ways: no file is ever held whole in memory.

use runner_core::plugin::*;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};

/// One file or folder on the server.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// The path as the flow sees it: absolute, `/`-separated (`/upload/a.csv`).
    pub(crate) path: String,
    pub(crate) name: String,
    pub(crate) folder: bool,
    pub(crate) symlink: bool,
    pub(crate) size: Option<u64>,
    /// Seconds since 1970.
    pub(crate) modified: Option<i64>,
    pub(crate) accessed: Option<i64>,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    pub(crate) permissions: Option<u32>,
}

impl Entry {
    /// Kestra's `io.kestra.plugin.fs.vfs.models.File`.
    pub(crate) fn to_json(&self) -> Json {
        let time = |s: Option<i64>| {
            s.and_then(|s| jiff::Timestamp::from_second(s).ok())
                .map(|t| Json::String(t.to_string()))
                .unwrap_or(Json::Null)
        };
        serde_json::json!({
            "path": self.path,
            "name": self.name,
            "fileType": if self.folder { "FOLDER" } else { "FILE" },
            "symbolicLink": self.symlink,
            "size": if self.folder { Json::Null } else { serde_json::json!(self.size) },
            "updatedDate": time(self.modified),
            "userId": self.uid,
            "groupId": self.gid,
            "permissions": self.permissions,
            "flags": Json::Null,
            "accessDate": time(self.accessed),
        })
    }
}

/// A failure the server or the connection reported, of a kind (not found, refused...).
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub(crate) type Io<'a, T> = BoxFuture<'a, Result<T, Failure>>;

/// A connected remote file system. Paths are the flow's (absolute, see [`Entry::path`]).
pub(crate) trait Remote: Send {
    /// The entry at `path`, or None when nothing is there.
    fn stat<'a>(&'a mut self, path: &'a str) -> Io<'a, Option<Entry>>;
    /// The entries of folder `dir` (not `.` and `..`).
    fn list<'a>(&'a mut self, dir: &'a str) -> Io<'a, Vec<Entry>>;
    /// Streams the file at `path` into `sink`, calling `progress` with each chunk's size.
    fn read_into<'a>(
        &'a mut self,
        path: &'a str,
        sink: &'a mut (dyn AsyncWrite + Unpin + Send),
        progress: &'a (dyn Fn(u64) + Sync),
    ) -> Io<'a, u64>;
    /// Streams `source` into a new file at `path` (replacing one that is there).
    fn write_from<'a>(
        &'a mut self,
        path: &'a str,
        source: &'a mut (dyn AsyncRead + Unpin + Send),
        progress: &'a (dyn Fn(u64) + Sync),
    ) -> Io<'a, u64>;
    fn mkdir<'a>(&'a mut self, path: &'a str) -> Io<'a, ()>;
    /// Renames `from` to `to`, replacing a file at `to`.
    fn rename<'a>(&'a mut self, from: &'a str, to: &'a str) -> Io<'a, ()>;
    fn remove_file<'a>(&'a mut self, path: &'a str) -> Io<'a, ()>;
    /// Removes an empty folder.
    fn remove_dir<'a>(&'a mut self, path: &'a str) -> Io<'a, ()>;
    /// Says goodbye to the server.
    fn close(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// Where a task connects, for messages (`sftp://user@host:port`) and output URIs
/// (`sftp://host/path`, as Kestra's: no user, no port).
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    pub(crate) scheme: &'static str,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) user: String,
}

impl Endpoint {
    /// Kestra's `uriWithoutAuth`: scheme, host and path.
    pub(crate) fn uri(&self, path: &str) -> String {
        format!("{}://{}{}", self.scheme, self.host, path)
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}://{}@{}:{}",
            self.scheme, self.user, self.host, self.port
        )
    }
}

/// How to (re)connect: rendered settings that outlive the task run, so that a cleanup after a
/// cancelled transfer can reach the server again to remove what it left.
pub(crate) trait Connect: Send + Sync + 'static {
    fn endpoint(&self) -> &Endpoint;
    fn open(&self) -> BoxFuture<'_, Result<Box<dyn Remote>, TaskError>>;
}

/// The connection properties of a protocol, flattened into each of its tasks.
pub(crate) trait Protocol: Properties + Send + Sync + 'static {
    /// Renders the properties into settings, checking what can be checked without a server.
    fn settings<'a>(
        &'a self,
        ctx: &'a RunContext,
    ) -> BoxFuture<'a, Result<Arc<dyn Connect>, TaskError>>;
}

/// `path` as Kestra makes it: `/` + the path without its leading slashes; `..` refused.
pub(crate) fn normalize(path: &str, property: &str) -> Result<String, TaskError> {
    let trimmed = path.trim();
    let mut parts = Vec::new();
    for p in trimmed.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                return Err(TaskError::property(
                    property,
                    format!("`{path}`: `..` is not allowed in a remote path"),
                ));
            }
            p => parts.push(p),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

pub(crate) fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

pub(crate) fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The server's path for a flow path: under the login folder (relative) with `rootDir`, else
/// absolute.
pub(crate) fn server_path(path: &str, root_dir: bool) -> String {
    if root_dir {
        let rel = path.trim_start_matches('/');
        if rel.is_empty() {
            ".".to_string()
        } else {
            rel.to_string()
        }
    } else {
        path.to_string()
    }
}

/// Makes `dir` and its missing parents.
pub(crate) async fn mkdirs(remote: &mut dyn Remote, dir: &str) -> Result<(), Failure> {
    let mut missing = Vec::new();
    let mut current = dir.to_string();
    while current != "/" {
        match remote.stat(&current).await? {
            Some(e) if e.folder => break,
            Some(_) => {
                return Err(Failure::new(
                    ErrorKind::Remote,
                    format!("`{current}` is a file, not a folder"),
                ));
            }
            None => {
                missing.push(current.clone());
                current = parent(&current).to_string();
            }
        }
    }
    for d in missing.iter().rev() {
        remote.mkdir(d).await?;
    }
    Ok(())
}

/// Removes `path` and, for a folder, everything under it; returns how many entries went.
pub(crate) async fn remove_all(remote: &mut dyn Remote, path: &str) -> Result<u64, Failure> {
    let Some(top) = remote.stat(path).await? else {
        return Ok(0);
    };
    if !top.folder || top.symlink {
        remote.remove_file(path).await?;
        return Ok(1);
    }
    let mut removed = 0;
    // Depth first, folders after what they hold.
    let mut stack = vec![(path.to_string(), false)];
    while let Some((dir, listed)) = stack.pop() {
        if listed {
            remote.remove_dir(&dir).await?;
            removed += 1;
            continue;
        }
        stack.push((dir.clone(), true));
        for e in remote.list(&dir).await? {
            if e.folder && !e.symlink {
                stack.push((e.path.clone(), false));
            } else {
                remote.remove_file(&e.path).await?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// Every entry under `dir` (its children, and theirs when `recursive`), folders included;
/// None when `dir` does not exist.
pub(crate) async fn walk(
    remote: &mut dyn Remote,
    dir: &str,
    recursive: bool,
) -> Result<Option<Vec<Entry>>, Failure> {
    match remote.stat(dir).await? {
        Some(e) if e.folder => {}
        _ => return Ok(None),
    }
    let mut out = Vec::new();
    let mut pending = vec![dir.to_string()];
    while let Some(d) = pending.pop() {
        let mut entries = remote.list(&d).await?;
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        for e in entries {
            if recursive && e.folder && !e.symlink {
                pending.push(e.path.clone());
            }
            out.push(e);
        }
    }
    Ok(Some(out))
}

/// A temporary name beside `path` for a file being uploaded: renamed to `path` when complete.
pub(crate) fn temporary_name(path: &str) -> String {
    join(
        parent(path),
        &format!(
            ".{}.{}.part",
            file_name(path),
            runner_core::ids::random_u64() % 1_000_000_000
        ),
    )
}

/// Removes a half-uploaded temporary file when the upload does not finish: at once on a
/// failure (the caller calls [`TempGuard::remove_now`]), or from the execution's cleanup when
/// the task is dropped (timeout, Ctrl-C), through a new connection.
pub(crate) struct TempGuard {
    pub(crate) path: Option<String>,
    connect: Arc<dyn Connect>,
    cleanup: Cleanup,
}

impl TempGuard {
    pub(crate) fn new(ctx: &RunContext, connect: Arc<dyn Connect>, path: String) -> TempGuard {
        TempGuard {
            path: Some(path),
            connect,
            cleanup: ctx.cleanup().clone(),
        }
    }

    /// The file became the real one: nothing to remove.
    pub(crate) fn done(&mut self) {
        self.path = None;
    }

    pub(crate) async fn remove_now(&mut self, remote: &mut dyn Remote) {
        // After a failed transfer the connection itself may be unusable (an FTP server that
        // ran out of disk): then the drop removes the file through a new one.
        if let Some(p) = &self.path
            && remote.remove_file(p).await.is_ok()
        {
            self.path = None;
        }
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let connect = self.connect.clone();
            self.cleanup.spawn(async move {
                let work = async {
                    if let Ok(mut remote) = connect.open().await {
                        let _ = remote.remove_file(&path).await;
                        remote.close().await;
                    }
                };
                let _ = tokio::time::timeout(std::time::Duration::from_secs(30), work).await;
            });
        }
    }
}

/// A failure of `what` on the server, as a task error naming the endpoint.
pub(crate) fn task_error(endpoint: &Endpoint, what: &str, f: Failure) -> TaskError {
    TaskError::new(f.kind, format!("{endpoint}: {what}: {}", f.message))
}

/// Copies `from` into `to` through one buffer, counting.
pub(crate) async fn pump(
    from: &mut (dyn AsyncRead + Unpin + Send),
    to: &mut (dyn AsyncWrite + Unpin + Send),
    progress: &(dyn Fn(u64) + Sync),
) -> Result<u64, (bool, std::io::Error)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 256 << 10];
    let mut total = 0u64;
    loop {
        let n = from.read(&mut buf).await.map_err(|e| (true, e))?;
        if n == 0 {
            break;
        }
        to.write_all(&buf[..n]).await.map_err(|e| (false, e))?;
        total += n as u64;
        progress(n as u64);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_kestras() {
        assert_eq!(normalize("upload/a.txt", "p").unwrap(), "/upload/a.txt");
        assert_eq!(normalize("//upload//a.txt/", "p").unwrap(), "/upload/a.txt");
        assert_eq!(normalize("/", "p").unwrap(), "/");
        assert!(normalize("/a/../b", "p").is_err());
        assert_eq!(parent("/a/b.txt"), "/a");
        assert_eq!(parent("/b.txt"), "/");
        assert_eq!(file_name("/a/b.txt"), "b.txt");
        assert_eq!(join("/", "x"), "/x");
        assert_eq!(join("/a", "x"), "/a/x");
        assert_eq!(server_path("/a/b", true), "a/b");
        assert_eq!(server_path("/", true), ".");
        assert_eq!(server_path("/a/b", false), "/a/b");
        let e = Endpoint {
            scheme: "sftp",
            host: "h".into(),
            port: 22,
            user: "u".into(),
        };
        assert_eq!(e.uri("/upload/a.txt"), "sftp://h/upload/a.txt");
        assert_eq!(e.to_string(), "sftp://u@h:22");
    }
}
