//! Internal storage: `kestra:///...` URIs backed by a local directory.

use crate::ids::slugify;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub enum StorageError {
    NotInternal {
        uri: String,
    },
    ParentTraversal {
        uri: String,
    },
    NotFound {
        uri: String,
    },
    NotOfThisExecution {
        uri: String,
    },
    /// A namespace file (`read('data.csv')`): runner has no namespace storage yet.
    NamespaceFile {
        path: String,
    },
    Read {
        uri: String,
        source: std::io::Error,
    },
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::NotInternal { uri } => {
                write!(
                    f,
                    "`{uri}` is not an internal storage URI (expected `kestra:///...`)"
                )
            }
            StorageError::ParentTraversal { uri } => write!(
                f,
                "File should be accessed with their full path and not using relative '..' path: `{uri}`"
            ),
            StorageError::NotFound { uri } => write!(f, "no file at `{uri}` in internal storage"),
            StorageError::NotOfThisExecution { uri } => {
                write!(
                    f,
                    "Unable to read the file '{uri}' as it didn't belong to the current execution"
                )
            }
            StorageError::NamespaceFile { path } => write!(
                f,
                "Unable to read the file '{path}': namespace files are not available in runner, only `kestra:///` files of this execution"
            ),
            StorageError::Read { uri, source } => {
                write!(f, "Unable to read the file '{uri}': {source}")
            }
            StorageError::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StorageError::Io { source, .. } | StorageError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The local directory behind `kestra://` URIs.
#[derive(Clone, Debug)]
pub struct Storage {
    root: PathBuf,
}

impl Storage {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Storage { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The local path of a `kestra:///a/b` URI; `..` anywhere is refused.
    pub fn path(&self, uri: &str) -> Result<PathBuf, StorageError> {
        let rest = uri
            .strip_prefix("kestra://")
            .ok_or_else(|| StorageError::NotInternal {
                uri: uri.to_string(),
            })?;
        if rest.split('/').any(|s| s == "..") {
            return Err(StorageError::ParentTraversal {
                uri: uri.to_string(),
            });
        }
        let rest = rest.trim_start_matches('/');
        if rest.is_empty() {
            return Err(StorageError::NotInternal {
                uri: uri.to_string(),
            });
        }
        Ok(self.root.join(rest))
    }

    /// Creates the file behind `uri` (and its directories) for writing.
    pub async fn create(&self, uri: &str) -> Result<tokio::fs::File, StorageError> {
        let path = self.path(uri)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|source| StorageError::Io {
                    path: dir.to_path_buf(),
                    source,
                })?;
        }
        tokio::fs::File::create(&path)
            .await
            .map_err(|source| StorageError::Io { path, source })
    }

    /// Opens the file behind `uri` for reading.
    pub async fn open(&self, uri: &str) -> Result<tokio::fs::File, StorageError> {
        let path = self.path(uri)?;
        tokio::fs::File::open(&path).await.map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                StorageError::NotFound {
                    uri: uri.to_string(),
                }
            } else {
                StorageError::Io { path, source }
            }
        })
    }
}

/// A file being written that is removed if it is dropped before [`PartialFile::keep`]: a task
/// that fails or is cancelled mid-write leaves no half-written result.
pub struct PartialFile(Option<PathBuf>);

impl PartialFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        PartialFile(Some(path.into()))
    }

    /// The file is complete: it stays.
    pub fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Copies the rest of `from` to `to`, each at its position, and gives `to` back. On a blocking
/// thread with std's copy, which lets the kernel move the bytes (`copy_file_range`) between two
/// files: tokio's copy hands 8 KiB at a time between threads, which made a 119 MiB FILE input
/// take half a second.
pub async fn copy_file(
    from: tokio::fs::File,
    to: tokio::fs::File,
) -> std::io::Result<(u64, tokio::fs::File)> {
    let mut from = from.into_std().await;
    // Waits for writes still in flight, so the copy starts where they end.
    let mut to = to.into_std().await;
    let (n, to) =
        tokio::task::spawn_blocking(move || std::io::copy(&mut from, &mut to).map(|n| (n, to)))
            .await
            .map_err(std::io::Error::other)??;
    Ok((n, tokio::fs::File::from_std(to)))
}

/// What runner keeps in an execution's folder beside its files: the record (and the record
/// being replaced), the log, and what `runner resume` needs (the flow it ran, `run.json`).
pub(crate) const EXECUTION_BOOKKEEPING: &[&str] = &[
    "execution.json",
    "execution.json.writing",
    "logs.jsonl",
    "flow.source",
    "run.json",
];

/// Where one execution's files live: `/{namespace as path}/{flow slug}/executions/{id}`.
#[derive(Clone, Debug)]
pub(crate) struct ExecutionPrefix(String);

impl ExecutionPrefix {
    pub(crate) fn new(namespace: &str, flow_id: &str, execution_id: &str) -> Self {
        ExecutionPrefix(format!(
            "/{}/{}/executions/{}",
            namespace.replace('.', "/"),
            slugify(flow_id),
            execution_id
        ))
    }

    /// `kestra:///ns/flow/executions/{id}/tasks/{task}/{taskrun}/{file}`
    pub(crate) fn task_file(&self, task_id: &str, taskrun_id: &str, file_name: &str) -> String {
        format!(
            "kestra://{}/tasks/{}/{}/{}",
            self.0,
            slugify(task_id),
            taskrun_id,
            file_name
        )
    }

    /// `kestra:///ns/flow/executions/{id}/inputs/{input}/{file}`
    pub(crate) fn input_file(&self, input_id: &str, file_name: &str) -> String {
        format!("kestra://{}/inputs/{}/{}", self.0, input_id, file_name)
    }

    /// Where the execution record is written.
    pub(crate) fn record(&self) -> String {
        format!("kestra://{}/execution.json", self.0)
    }

    /// Where the execution's log lines are written (JSON lines, masked).
    pub(crate) fn log(&self) -> String {
        format!("kestra://{}/logs.jsonl", self.0)
    }

    /// `kestra:///ns/flow/executions/{id}`: the folder of every file of this execution.
    pub(crate) fn root(&self) -> String {
        format!("kestra://{}", self.0)
    }

    /// True when `uri` is a file of this execution.
    pub(crate) fn owns(&self, uri: &str) -> bool {
        uri.strip_prefix("kestra://")
            .is_some_and(|p| p.starts_with(&format!("{}/", self.0)))
    }
}

/// `read()` for expressions: a `kestra:///` file of the execution being rendered.
/// Files of the executions that started this one (a subflow reads what its parent passed)
/// are readable too.
pub(crate) struct StorageFiles(
    pub Storage,
    pub Vec<ExecutionPrefix>,
    pub crate::namespace_files::NamespaceFolders,
);

impl runner_template::FileAccess for StorageFiles {
    fn read(
        &self,
        path: &str,
        execution_id: Option<&str>,
        namespace: Option<&str>,
        flow_id: Option<&str>,
    ) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        if !path.starts_with("kestra://") {
            return Err(Box::new(StorageError::NamespaceFile {
                path: path.to_string(),
            }));
        }
        let uri = path.to_string();
        let (Some(exec), Some(ns), Some(flow)) = (execution_id, namespace, flow_id) else {
            return Err(Box::new(StorageError::NotOfThisExecution { uri }));
        };
        if !ExecutionPrefix::new(ns, flow, exec).owns(path) && !self.1.iter().any(|p| p.owns(path))
        {
            return Err(Box::new(StorageError::NotOfThisExecution { uri }));
        }
        let local = self.0.path(path)?;
        std::fs::read_to_string(&local).map_err(|source| {
            Box::new(match source.kind() {
                std::io::ErrorKind::NotFound => StorageError::NotFound { uri },
                _ => StorageError::Read { uri, source },
            }) as Box<dyn std::error::Error + Send + Sync>
        })
    }

    fn read_namespace_file(
        &self,
        namespace: &str,
        path: &str,
    ) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        // The same lookup as `nsfile://` and `namespaceFiles`: uploads, then the project's
        // folder; no link followed.
        let local = self
            .2
            .file_path(namespace, path, path)
            .map_err(|e| e.to_string())?;
        std::fs::read_to_string(&local).map_err(|e| {
            format!("Unable to read the file '{path}' of namespace '{namespace}': {e}").into()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_follow_kestra_layout() {
        let p = ExecutionPrefix::new("company.team", "My_Flow", "abc");
        assert_eq!(
            p.task_file("fetch_Rows", "tr1", "1.ion"),
            "kestra:///company/team/my-flow/executions/abc/tasks/fetch-rows/tr1/1.ion"
        );
        assert!(p.owns("kestra:///company/team/my-flow/executions/abc/tasks/x/y/z"));
        assert!(!p.owns("kestra:///company/team/my-flow/executions/abcd/tasks/x"));
    }

    #[test]
    fn parent_traversal_is_refused() {
        let s = Storage::new("/tmp/x");
        assert!(matches!(
            s.path("kestra:///a/../b"),
            Err(StorageError::ParentTraversal { .. })
        ));
        assert!(matches!(
            s.path("file:///etc/passwd"),
            Err(StorageError::NotInternal { .. })
        ));
        assert_eq!(
            s.path("kestra:///a/b").unwrap(),
            PathBuf::from("/tmp/x/a/b")
        );
    }

    #[tokio::test]
    async fn create_then_open_round_trips() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir =
            std::env::temp_dir().join(format!("runner-storage-{}", crate::ids::friendly_id()));
        let s = Storage::new(&dir);
        let mut f = s.create("kestra:///ns/f/x.txt").await.unwrap();
        f.write_all(b"hello").await.unwrap();
        f.flush().await.unwrap();
        let mut text = String::new();
        s.open("kestra:///ns/f/x.txt")
            .await
            .unwrap()
            .read_to_string(&mut text)
            .await
            .unwrap();
        assert_eq!(text, "hello");
        assert!(matches!(
            s.open("kestra:///ns/f/none").await,
            Err(StorageError::NotFound { .. })
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
