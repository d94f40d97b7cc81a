//! The file tasks every protocol has (Kestra's `io.kestra.plugin.fs.vfs.*`): Upload, Uploads,
//! Download, Downloads, List, Delete and Move, written once over [`Remote`] and given each
//! protocol's connection properties ([`Protocol`]) by the `protocol!` macro in lib.rs.
//!
//! Nothing half-written: an upload goes to a temporary name beside its destination and is
//! renamed when complete (removed on failure, and by the execution's cleanup when the task is
//! dropped); a download is written to storage as a `PartialFile`, kept only when complete and,
//! with `validateChecksum`, verified.

use crate::remote::{
    Connect, Entry, Protocol, Remote, TempGuard, file_name, join, mkdirs, normalize, parent,
    remove_all, task_error, temporary_name, walk,
};
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::Map;
use std::sync::Arc;

/// A connected remote and its settings, closed when done.
struct Session {
    connect: Arc<dyn Connect>,
    remote: Option<Box<dyn Remote>>,
}

impl Session {
    async fn open<P: Protocol>(ctx: &RunContext, protocol: &P) -> Result<Session, TaskError> {
        let connect = protocol.settings(ctx).await?;
        let remote = connect.open().await?;
        Ok(Session {
            connect,
            remote: Some(remote),
        })
    }

    fn remote(&mut self) -> &mut dyn Remote {
        self.remote.as_deref_mut().expect("open until closed")
    }

    fn uri(&self, path: &str) -> String {
        self.connect.endpoint().uri(path)
    }

    fn fail(&self, what: &str, f: crate::remote::Failure) -> TaskError {
        task_error(self.connect.endpoint(), what, f)
    }

    async fn close(mut self) {
        if let Some(r) = self.remote.take() {
            r.close().await;
        }
    }
}

/// Kestra's `maxFiles` cut, with its warning.
fn limit<T>(ctx: &RunContext, items: &mut Vec<T>, max: Option<i64>) {
    let max = max.unwrap_or(25).max(0) as usize;
    if items.len() > max {
        ctx.log(
            Level::Warn,
            &format!(
                "Too many files to process ({}), limiting to {max}",
                items.len()
            ),
        );
        items.truncate(max);
    }
}

/// A regular expression that must match a whole path (Java's `String.matches`).
fn full_match(pattern: &str, property: &str) -> Result<regex::Regex, TaskError> {
    regex::Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| TaskError::property(property, format!("Invalid regExp '{pattern}': {e}")))
}

// ---------------------------------------------------------------------------------------
// Upload

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Upload<P: Protocol> {
    #[serde(flatten)]
    connection: P,
    /// The `kestra://` file to upload.
    from: Property<String>,
    /// The remote path (default: `/` and the file's name); ending in `/`, a folder to put it in.
    to: Option<Property<String>>,
    /// Replace what is at `to` (default true).
    overwrite: Option<Property<bool>>,
}

/// Uploads one storage file to `to`, through a temporary name; returns the remote path.
async fn upload_one(
    ctx: &RunContext,
    session: &mut Session,
    from: &str,
    to: &str,
    overwrite: bool,
) -> Result<String, TaskError> {
    let to = if to.ends_with('/') {
        join(
            &normalize(to, "to")?,
            from.rsplit('/').next().unwrap_or("file"),
        )
    } else {
        normalize(to, "to")?
    };
    if to == "/" {
        return Err(TaskError::property("to", "the destination cannot be `/`"));
    }
    let existing = session
        .remote()
        .stat(&to)
        .await
        .map_err(|f| session.fail(&format!("cannot look at `{to}`"), f))?;
    match &existing {
        Some(e) if e.folder && !overwrite => {
            return Err(TaskError::failed(format!(
                "Overwrite field is set to `false`. Folder {to} will be overwritten with current file.\nIf you want the folder to be overwritten with the file, set `overwrite: true`.\n"
            )));
        }
        Some(e) if !e.folder && !overwrite => {
            return Err(TaskError::failed(format!(
                "File '{to}' already exists in the remote server and cannot be overwritten. Set `overwrite: true` to replace it."
            )));
        }
        _ => {}
    }
    let mut file = ctx.open_execution_file(from).await?;
    let size = file.metadata().await.ok().map(|m| m.len());
    mkdirs(session.remote(), parent(&to))
        .await
        .map_err(|f| session.fail(&format!("cannot make the folder of `{to}`"), f))?;
    let temp = temporary_name(&to);
    let mut guard = TempGuard::new(ctx, session.connect.clone(), temp.clone());
    let progress = ctx.progress("uploading", ProgressUnit::Bytes, size);
    let add = |n: u64| progress.add(n);
    let sent = session.remote().write_from(&temp, &mut file, &add).await;
    drop(progress);
    if let Err(f) = sent {
        guard.remove_now(session.remote()).await;
        return Err(session.fail(&format!("cannot upload to `{to}`"), f));
    }
    if existing.as_ref().is_some_and(|e| e.folder) {
        // overwrite: the folder goes, as Kestra's copy replaces it.
        if let Err(f) = remove_all(session.remote(), &to).await {
            guard.remove_now(session.remote()).await;
            return Err(session.fail(&format!("cannot replace the folder `{to}`"), f));
        }
    }
    if let Err(f) = session.remote().rename(&temp, &to).await {
        guard.remove_now(session.remote()).await;
        return Err(session.fail(&format!("cannot move the uploaded file to `{to}`"), f));
    }
    guard.done();
    ctx.log(
        Level::Debug,
        &format!("Uploaded {from} to {}", session.uri(&to)),
    );
    Ok(to)
}

fn storage_uri(from: &str) -> Result<(), TaskError> {
    if from.starts_with("kestra://") {
        Ok(())
    } else {
        Err(TaskError::failed(
            "'from' must be a Kestra's internal storage URI",
        ))
    }
}

impl<P: Protocol + serde::de::DeserializeOwned> RunnableTask for Upload<P> {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            storage_uri(&from)?;
            let to = match ctx.render_opt(&self.to, "to")? {
                Some(t) if !t.trim().is_empty() => t,
                _ => format!("/{}", from.rsplit('/').next().unwrap_or("file")),
            };
            let overwrite = ctx
                .render_opt(&self.overwrite, "overwrite")?
                .unwrap_or(true);
            let mut session = Session::open(ctx, &self.connection).await?;
            let to = upload_one(ctx, &mut session, &from, &to, overwrite).await?;
            let uri = session.uri(&to);
            session.close().await;
            Ok(Outputs::from_iter([
                ("from".to_string(), Json::String(from)),
                ("to".to_string(), Json::String(uri)),
            ]))
        })
    }
}

// ---------------------------------------------------------------------------------------
// Uploads

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Uploads<P: Protocol> {
    #[serde(flatten)]
    connection: P,
    /// The `kestra://` files: one URI, a list of them, a map of remote file names to URIs, or a string holding such JSON.
    from: Property<Json>,
    /// The remote folder to upload into.
    to: Property<String>,
    /// Only the files whose `kestra://` URI matches this regular expression, whole.
    reg_exp: Option<Property<String>>,
    /// At most this many files (default 25; more are left out, with a warning).
    max_files: Option<Property<i64>>,
    /// Replace files that are there (default true).
    overwrite: Option<Property<bool>>,
}

/// `(remote name or None, kestra URI)` pairs from Kestra's many forms of `from`.
fn sources(value: Json) -> Result<Vec<(Option<String>, String)>, TaskError> {
    let bad = |what: &str| {
        TaskError::property(
            "from",
            format!(
                "{what}: give a `kestra://` URI, a list of them, or a map of file names to them"
            ),
        )
    };
    let value = match value {
        Json::String(s) if s.trim_start().starts_with(['[', '{']) => {
            serde_json::from_str(&s).map_err(|e| bad(&format!("not JSON ({e})")))?
        }
        v => v,
    };
    match value {
        Json::String(s) => Ok(vec![(None, s)]),
        Json::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Json::String(s) => Ok((None, s)),
                other => Err(bad(&format!("{other} is not a URI"))),
            })
            .collect(),
        Json::Object(map) => map
            .into_iter()
            .map(|(k, v)| match v {
                Json::String(s) => Ok((Some(k), s)),
                other => Err(bad(&format!("{other} is not a URI"))),
            })
            .collect(),
        other => Err(bad(&format!("{other}"))),
    }
}

impl<P: Protocol + serde::de::DeserializeOwned> RunnableTask for Uploads<P> {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let mut files = sources(ctx.render(&self.from, "from")?)?;
            for (_, uri) in &files {
                storage_uri(uri)?;
            }
            if let Some(re) = ctx.render_opt(&self.reg_exp, "regExp")? {
                let re = full_match(&re, "regExp")?;
                files.retain(|(_, uri)| re.is_match(uri));
            }
            limit(
                ctx,
                &mut files,
                ctx.render_opt(&self.max_files, "maxFiles")?,
            );
            let to = ctx.render(&self.to, "to")?;
            let overwrite = ctx
                .render_opt(&self.overwrite, "overwrite")?
                .unwrap_or(true);
            let dir = normalize(&to, "to")?;
            let mut session = Session::open(ctx, &self.connection).await?;
            let mut uploaded = Vec::new();
            for (name, uri) in files {
                let name =
                    name.unwrap_or_else(|| uri.rsplit('/').next().unwrap_or("file").to_string());
                let dest = join(&dir, &name);
                let path = upload_one(ctx, &mut session, &uri, &dest, overwrite).await?;
                uploaded.push(Json::String(session.uri(&path)));
            }
            session.close().await;
            Ok(Outputs::from_iter([(
                "files".to_string(),
                Json::Array(uploaded),
            )]))
        })
    }
}

// ---------------------------------------------------------------------------------------
// Download

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum ChecksumAlgorithm {
    Md5,
    #[serde(rename = "SHA_1")]
    Sha1,
    #[serde(rename = "SHA_256")]
    Sha256,
    #[serde(rename = "SHA_512")]
    Sha512,
}

impl ChecksumAlgorithm {
    fn java_name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Md5 => "MD5",
            ChecksumAlgorithm::Sha1 => "SHA-1",
            ChecksumAlgorithm::Sha256 => "SHA-256",
            ChecksumAlgorithm::Sha512 => "SHA-512",
        }
    }
}

enum Hasher {
    Md5(md5::Md5),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn new(a: ChecksumAlgorithm) -> Hasher {
        use sha2::Digest;
        match a {
            ChecksumAlgorithm::Md5 => Hasher::Md5(md5::Md5::new()),
            ChecksumAlgorithm::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            ChecksumAlgorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        use sha2::Digest;
        match self {
            Hasher::Md5(h) => h.update(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    fn hex(self) -> String {
        use sha2::Digest;
        let bytes: Vec<u8> = match self {
            Hasher::Md5(h) => h.finalize().to_vec(),
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A file writer that hashes what goes through it.
struct Hashing<W> {
    inner: W,
    hasher: Hasher,
}

impl<W: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Hashing<W> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = &mut *self;
        match std::pin::Pin::new(&mut this.inner).poll_write(cx, buf) {
            std::task::Poll::Ready(Ok(n)) => {
                this.hasher.update(&buf[..n]);
                std::task::Poll::Ready(Ok(n))
            }
            other => other,
        }
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Streams the remote file at `path` into a new storage file; returns its URI and checksum.
/// The file stays only if the download completes (and the checksum matches, when expected).
async fn download_one(
    ctx: &RunContext,
    session: &mut Session,
    path: &str,
    size: Option<u64>,
    algorithm: ChecksumAlgorithm,
    expected: Option<&str>,
) -> Result<(String, String), TaskError> {
    use tokio::io::AsyncWriteExt;
    let ext = file_name(path)
        .rsplit_once('.')
        .map(|(_, e)| format!(".{e}"))
        .unwrap_or_default();
    let uri = ctx.output_file_uri(&format!("{}{ext}", runner_core::ids::random_u64()));
    let local = ctx.storage().path(&uri)?;
    let file = ctx.storage().create(&uri).await?;
    let partial = PartialFile::new(&local);
    let mut sink = Hashing {
        inner: tokio::io::BufWriter::with_capacity(256 << 10, file),
        hasher: Hasher::new(algorithm),
    };
    let progress = ctx.progress("downloading", ProgressUnit::Bytes, size);
    let add = |n: u64| progress.add(n);
    let got = session.remote().read_into(path, &mut sink, &add).await;
    drop(progress);
    got.map_err(|f| session.fail(&format!("cannot download `{path}`"), f))?;
    sink.flush()
        .await
        .map_err(|e| TaskError::new(ErrorKind::Io, format!("cannot write {uri}")).caused_by(e))?;
    let checksum = sink.hasher.hex();
    if let Some(expected) = expected
        && !expected.trim().eq_ignore_ascii_case(&checksum)
    {
        return Err(TaskError::failed(format!(
            "Checksum mismatch for file '{}' — expected '{}' but computed '{checksum}' using {}.",
            local.display(),
            expected.trim(),
            algorithm.java_name()
        )));
    }
    partial.keep();
    Ok((uri, checksum))
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Download<P: Protocol> {
    #[serde(flatten)]
    connection: P,
    /// The remote file.
    from: Property<String>,
    /// MD5, SHA_1, SHA_256 (default) or SHA_512: the `checksum` output's algorithm.
    checksum_algorithm: Option<Property<ChecksumAlgorithm>>,
    /// Fail (keeping nothing) unless the checksum is `checksumExpected` (default false).
    validate_checksum: Option<Property<bool>>,
    /// The expected checksum, in hexadecimal (any case).
    checksum_expected: Option<Property<String>>,
}

impl<P: Protocol + serde::de::DeserializeOwned> RunnableTask for Download<P> {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = normalize(&ctx.render::<String>(&self.from, "from")?, "from")?;
            let algorithm = ctx
                .render_opt(&self.checksum_algorithm, "checksumAlgorithm")?
                .unwrap_or(ChecksumAlgorithm::Sha256);
            if matches!(algorithm, ChecksumAlgorithm::Md5 | ChecksumAlgorithm::Sha1) {
                ctx.log(Level::Warn, &format!("Checksum algorithm '{}' is deprecated and considered weak; use SHA_256 or stronger for integrity verification.", algorithm.java_name()));
            }
            let validate = ctx
                .render_opt(&self.validate_checksum, "validateChecksum")?
                .unwrap_or(false);
            let expected = ctx.render_opt(&self.checksum_expected, "checksumExpected")?;
            if validate && expected.as_deref().is_none_or(|e| e.trim().is_empty()) {
                return Err(TaskError::failed(
                    "Checksum validation is enabled but no `checksumExpected` value was provided.",
                ));
            }
            let mut session = Session::open(ctx, &self.connection).await?;
            let entry = session
                .remote()
                .stat(&from)
                .await
                .map_err(|f| session.fail(&format!("cannot look at `{from}`"), f))?;
            let size = match entry {
                Some(e) if !e.folder => e.size,
                Some(_) => {
                    return Err(TaskError::new(
                        ErrorKind::BadData,
                        format!(
                            "{}: `{from}` is a folder, not a file",
                            session.connect.endpoint()
                        ),
                    )
                    .hint("use the Downloads task to download the files of a folder"));
                }
                None => {
                    return Err(TaskError::new(
                        ErrorKind::NotFound,
                        format!("{}: no file at `{from}`", session.connect.endpoint()),
                    )
                    .hint("check `from` (with rootDir: true, the default, it is relative to the user's login folder)"));
                }
            };
            let (uri, checksum) = download_one(
                ctx,
                &mut session,
                &from,
                size,
                algorithm,
                expected.as_deref().filter(|_| validate),
            )
            .await?;
            let remote_uri = session.uri(&from);
            session.close().await;
            Ok(Outputs::from_iter([
                ("from".to_string(), Json::String(remote_uri)),
                ("to".to_string(), Json::String(uri)),
                ("checksum".to_string(), Json::String(checksum)),
            ]))
        })
    }
}

// ---------------------------------------------------------------------------------------
// List

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum Sort {
    None,
    LastModifiedAsc,
    LastModifiedDesc,
    NameAsc,
    NameDesc,
}

/// The regular files under `from` whose path matches, sorted, cut to `max` (Kestra's List).
async fn files_of(
    ctx: &RunContext,
    session: &mut Session,
    from: &str,
    reg_exp: Option<&regex::Regex>,
    recursive: bool,
    sort: Sort,
    max: Option<i64>,
) -> Result<Vec<Entry>, TaskError> {
    let found = walk(session.remote(), from, recursive)
        .await
        .map_err(|f| session.fail(&format!("cannot list `{from}`"), f))?
        .unwrap_or_default();
    let mut files: Vec<Entry> = found
        .into_iter()
        .filter(|e| !e.folder)
        .filter(|e| reg_exp.is_none_or(|re| re.is_match(&e.path)))
        .collect();
    match sort {
        Sort::None => {}
        Sort::NameAsc => files.sort_by(|a, b| a.name.cmp(&b.name)),
        Sort::NameDesc => files.sort_by(|a, b| b.name.cmp(&a.name)),
        Sort::LastModifiedAsc => files.sort_by_key(|e| (e.modified.is_none(), e.modified)),
        Sort::LastModifiedDesc => {
            files.sort_by_key(|e| (e.modified.is_none(), std::cmp::Reverse(e.modified)))
        }
    }
    limit(ctx, &mut files, max);
    Ok(files)
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct List<P: Protocol> {
    #[serde(flatten)]
    connection: P,
    /// The remote folder.
    from: Property<String>,
    /// Only the files whose full path matches this regular expression, whole (`.*/dir1/.*\.yml`).
    reg_exp: Option<Property<String>>,
    /// Also list sub-folders' files (default false).
    recursive: Option<Property<bool>>,
    /// At most this many files, after sorting (default 25).
    max_files: Option<Property<i64>>,
    /// NONE (the server's order, default), LAST_MODIFIED_ASC, LAST_MODIFIED_DESC, NAME_ASC, NAME_DESC.
    sort: Option<Property<Sort>>,
}

impl<P: Protocol + serde::de::DeserializeOwned> RunnableTask for List<P> {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = normalize(&ctx.render::<String>(&self.from, "from")?, "from")?;
            let re = match ctx.render_opt(&self.reg_exp, "regExp")? {
                Some(r) => Some(full_match(&r, "regExp")?),
                None => None,
            };
            let recursive = ctx
                .render_opt(&self.recursive, "recursive")?
                .unwrap_or(false);
            let sort = ctx.render_opt(&self.sort, "sort")?.unwrap_or(Sort::None);
            let max = ctx.render_opt(&self.max_files, "maxFiles")?;
            let mut session = Session::open(ctx, &self.connection).await?;
            let files =
                files_of(ctx, &mut session, &from, re.as_ref(), recursive, sort, max).await?;
            session.close().await;
            ctx.log(
                Level::Debug,
                &format!("Found {} file(s) in `{from}`", files.len()),
            );
            Ok(Outputs::from_iter([(
                "files".to_string(),
                Json::Array(files.iter().map(Entry::to_json).collect()),
            )]))
        })
    }
}

// ---------------------------------------------------------------------------------------
// Downloads

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Action {
    Move,
    Delete,
    None,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Downloads<P: Protocol> {
    #[serde(flatten)]
    connection: P,
    /// The remote folder.
    from: Property<String>,
    /// Only the files whose full path matches this regular expression, whole.
    reg_exp: Option<Property<String>>,
    /// Also download sub-folders' files (default false).
    recursive: Option<Property<bool>>,
    /// At most this many files (default 25).
    max_files: Option<Property<i64>>,
    /// After all downloads: MOVE each file to `moveDirectory`, DELETE it, or NONE (default: nothing).
    action: Option<Property<Action>>,
    /// MOVE's destination folder.
    move_directory: Option<Property<String>>,
}

impl<P: Protocol + serde::de::DeserializeOwned> RunnableTask for Downloads<P> {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = normalize(&ctx.render::<String>(&self.from, "from")?, "from")?;
            let re = match ctx.render_opt(&self.reg_exp, "regExp")? {
                Some(r) => Some(full_match(&r, "regExp")?),
                None => None,
            };
            let recursive = ctx
                .render_opt(&self.recursive, "recursive")?
                .unwrap_or(false);
            let max = ctx.render_opt(&self.max_files, "maxFiles")?;
            let action = ctx.render_opt(&self.action, "action")?;
            let move_to = match action {
                Some(Action::Move) => {
                    let dir = ctx
                        .render_opt(&self.move_directory, "moveDirectory")?
                        .ok_or_else(|| {
                            TaskError::property(
                                "moveDirectory",
                                "action MOVE needs a `moveDirectory`",
                            )
                        })?;
                    Some(normalize(&dir, "moveDirectory")?)
                }
                _ => None,
            };
            let mut session = Session::open(ctx, &self.connection).await?;
            let files = files_of(
                ctx,
                &mut session,
                &from,
                re.as_ref(),
                recursive,
                Sort::None,
                max,
            )
            .await?;
            let mut names = std::collections::HashSet::new();
            for f in &files {
                if !names.insert(f.name.clone()) {
                    return Err(TaskError::failed(format!(
                        "Duplicate key {} (attempted merging values): two files of that name were selected; narrow `regExp`, or download them with two tasks",
                        f.name
                    )));
                }
            }
            let mut listed = Vec::new();
            let mut output_files = Map::new();
            for f in &files {
                let (uri, _) = download_one(
                    ctx,
                    &mut session,
                    &f.path,
                    f.size,
                    ChecksumAlgorithm::Sha256,
                    None,
                )
                .await?;
                let mut json = f.to_json();
                json["path"] = Json::String(uri.clone());
                listed.push(json);
                output_files.insert(f.name.clone(), Json::String(uri));
            }
            match (action, &move_to) {
                (Some(Action::Delete), _) => {
                    for f in &files {
                        session
                            .remote()
                            .remove_file(&f.path)
                            .await
                            .map_err(|e| session.fail(&format!("cannot delete `{}`", f.path), e))?;
                    }
                }
                (Some(Action::Move), Some(dir)) => {
                    mkdirs(session.remote(), dir)
                        .await
                        .map_err(|e| session.fail(&format!("cannot make `{dir}`"), e))?;
                    for f in &files {
                        let dest = join(dir, &f.name);
                        session.remote().rename(&f.path, &dest).await.map_err(|e| {
                            session.fail(&format!("cannot move `{}` to `{dest}`", f.path), e)
                        })?;
                    }
                }
                _ => {}
            }
            session.close().await;
            Ok(Outputs::from_iter([
                ("files".to_string(), Json::Array(listed)),
                ("outputFiles".to_string(), Json::Object(output_files)),
            ]))
        })
    }
}

// ---------------------------------------------------------------------------------------
// Delete

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Delete<P: Protocol> {
    #[serde(flatten)]
    connection: P,
    /// The remote file or folder (with `regExp`: the folder whose matching files go).
    uri: Property<String>,
    /// Fail when there is nothing to delete (default false).
    error_on_missing: Option<Property<bool>>,
    /// Delete a folder with what it holds; with `regExp`, look in sub-folders too (default false).
    recursive: Option<Property<bool>>,
    /// Delete the regular files under `uri` whose full path matches this regular expression, whole.
    reg_exp: Option<Property<String>>,
}

impl<P: Protocol + serde::de::DeserializeOwned> RunnableTask for Delete<P> {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let path = normalize(&ctx.render::<String>(&self.uri, "uri")?, "uri")?;
            let error_on_missing = ctx
                .render_opt(&self.error_on_missing, "errorOnMissing")?
                .unwrap_or(false);
            let recursive = ctx
                .render_opt(&self.recursive, "recursive")?
                .unwrap_or(false);
            let reg_exp = ctx.render_opt(&self.reg_exp, "regExp")?;
            let re = match &reg_exp {
                Some(r) => Some(
                    regex::Regex::new(&format!("^(?:{r})$"))
                        .map_err(|e| TaskError::failed(format!("Invalid regExp '{r}': {e}")))?,
                ),
                None => None,
            };
            let mut session = Session::open(ctx, &self.connection).await?;
            let uri = session.uri(&path);
            let entry = session
                .remote()
                .stat(&path)
                .await
                .map_err(|f| session.fail(&format!("cannot look at `{path}`"), f))?;
            let outputs = |deleted: bool, uris: Vec<Json>| {
                Outputs::from_iter([
                    ("uri".to_string(), Json::String(uri.clone())),
                    ("deleted".to_string(), Json::Bool(deleted)),
                    ("uris".to_string(), Json::Array(uris)),
                ])
            };
            let Some(re) = re else {
                let deleted = match entry {
                    None if error_on_missing => {
                        return Err(TaskError::new(
                            ErrorKind::NotFound,
                            format!("Unable to find file '{uri}'"),
                        ));
                    }
                    None => false,
                    Some(e) if e.folder && !e.symlink => {
                        if recursive {
                            remove_all(session.remote(), &path)
                                .await
                                .map_err(|f| session.fail(&format!("cannot delete `{path}`"), f))?
                                > 0
                        } else {
                            // Kestra (VFS delete): a folder with something in it stays.
                            session.remote().remove_dir(&path).await.is_ok()
                        }
                    }
                    Some(_) => {
                        session
                            .remote()
                            .remove_file(&path)
                            .await
                            .map_err(|f| session.fail(&format!("cannot delete `{path}`"), f))?;
                        true
                    }
                };
                session.close().await;
                return Ok(outputs(deleted, Vec::new()));
            };
            if !entry.as_ref().is_some_and(|e| e.folder) {
                if error_on_missing {
                    return Err(TaskError::new(
                        ErrorKind::NotFound,
                        format!("Unable to find directory '{uri}'"),
                    ));
                }
                session.close().await;
                return Ok(outputs(false, Vec::new()));
            }
            let found = walk(session.remote(), &path, recursive)
                .await
                .map_err(|f| session.fail(&format!("cannot list `{path}`"), f))?
                .unwrap_or_default();
            let matching: Vec<Entry> = found
                .into_iter()
                .filter(|e| !e.folder && re.is_match(&e.path))
                .collect();
            ctx.log(
                Level::Warn,
                &format!(
                    "Deleting {} file(s) matching regExp '{}' under '{uri}'",
                    matching.len(),
                    reg_exp.unwrap_or_default()
                ),
            );
            let mut uris = Vec::new();
            for e in &matching {
                session
                    .remote()
                    .remove_file(&e.path)
                    .await
                    .map_err(|f| session.fail(&format!("cannot delete `{}`", e.path), f))?;
                uris.push(Json::String(session.uri(&e.path)));
            }
            session.close().await;
            Ok(outputs(!uris.is_empty(), uris))
        })
    }
}

// ---------------------------------------------------------------------------------------
// Move

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Move<P: Protocol> {
    #[serde(flatten)]
    connection: P,
    /// The remote file or folder to move.
    from: Property<String>,
    /// Where to: a path, or a folder ending in `/` to move into.
    to: Property<String>,
    /// Replace what is at `to` (default false).
    overwrite: Option<Property<bool>>,
}

impl<P: Protocol + serde::de::DeserializeOwned> RunnableTask for Move<P> {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from_text: String = ctx.render(&self.from, "from")?;
            let to_text: String = ctx.render(&self.to, "to")?;
            let overwrite = ctx
                .render_opt(&self.overwrite, "overwrite")?
                .unwrap_or(false);
            let from = normalize(&from_text, "from")?;
            let to = if !from_text.ends_with('/') && to_text.ends_with('/') {
                join(&normalize(&to_text, "to")?, file_name(&from))
            } else {
                normalize(&to_text, "to")?
            };
            let mut session = Session::open(ctx, &self.connection).await?;
            let source = session
                .remote()
                .stat(&from)
                .await
                .map_err(|f| session.fail(&format!("cannot look at `{from}`"), f))?;
            if source.is_none() {
                return Err(TaskError::new(
                    ErrorKind::NotFound,
                    format!("Unable to find file '{}'", session.uri(&from)),
                ));
            }
            let target = session
                .remote()
                .stat(&to)
                .await
                .map_err(|f| session.fail(&format!("cannot look at `{to}`"), f))?;
            if let Some(t) = &target {
                if file_name(&t.path) == file_name(&from) && !overwrite {
                    return Err(TaskError::failed(format!(
                        "File '{}' already exists in the remote server and cannot be overwritten. If you want to ignore this, set `overwrite` to `true`.",
                        file_name(&to)
                    )));
                }
                if overwrite {
                    ctx.log(
                        Level::Warn,
                        "File '%s' already exists in the remote server and will be overwritten.",
                    );
                }
                if t.folder {
                    remove_all(session.remote(), &to)
                        .await
                        .map_err(|f| session.fail(&format!("cannot replace `{to}`"), f))?;
                }
            } else {
                mkdirs(session.remote(), parent(&to))
                    .await
                    .map_err(|f| session.fail(&format!("cannot make the folder of `{to}`"), f))?;
            }
            session
                .remote()
                .rename(&from, &to)
                .await
                .map_err(|f| session.fail(&format!("cannot move `{from}` to `{to}`"), f))?;
            let outputs = Outputs::from_iter([
                ("from".to_string(), Json::String(session.uri(&from))),
                ("to".to_string(), Json::String(session.uri(&to))),
            ]);
            session.close().await;
            Ok(outputs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn uploads_sources_take_kestras_forms() {
        assert_eq!(
            sources(json!("kestra:///a/b.csv")).unwrap(),
            vec![(None, "kestra:///a/b.csv".to_string())]
        );
        assert_eq!(
            sources(json!(["kestra:///a", "kestra:///b"]))
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            sources(json!("{\"x.csv\": \"kestra:///a\"}")).unwrap(),
            vec![(Some("x.csv".to_string()), "kestra:///a".to_string())]
        );
        assert!(sources(json!(3)).is_err());
    }

    #[test]
    fn checksums_are_lowercase_hex() {
        let mut h = Hasher::new(ChecksumAlgorithm::Sha256);
        h.update(b"abc");
        assert_eq!(
            h.hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut h = Hasher::new(ChecksumAlgorithm::Md5);
        h.update(b"abc");
        assert_eq!(h.hex(), "900150983cd24fb0d6963f7d28e17f72");
    }
}
