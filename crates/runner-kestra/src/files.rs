//! Namespace files on the server: listed folder by folder, compared with local files as both
//! stream, uploaded from disk as a multipart part (never read whole).

use crate::{ApiError, Server};
use serde_json::Value as Json;
use std::path::Path;
use tokio::io::AsyncReadExt;

/// A namespace file on the server: its path (`/scripts/etl.py`) and size.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteFile {
    pub path: String,
    pub size: Option<u64>,
}

/// How deep folders are followed, and how many entries in all: a server that lists folders
/// inside folders must not make runner ask forever.
const MAX_DEPTH: usize = 64;
const MAX_ENTRIES: usize = 100_000;

/// A file part named by the file's own name. Kestra unpacks a namespace file whose part name
/// ends in `.zip` instead of storing it, so there (`namespace_file`) such a name is sent as
/// `.zip.bin`: the path is what decides where the file goes.
pub(crate) async fn file_part(
    path: &Path,
    namespace_file: bool,
) -> Result<reqwest::multipart::Part, ApiError> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| local(path, &e))?;
    let len = file.metadata().await.map_err(|e| local(path, &e))?.len();
    let mut name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "file".into());
    if namespace_file && name.to_ascii_lowercase().ends_with(".zip") {
        name.push_str(".bin");
    }
    reqwest::multipart::Part::stream_with_length(reqwest::Body::from(file), len)
        .file_name(name)
        .mime_str("application/octet-stream")
        .map_err(|e| ApiError::Protocol {
            what: e.to_string(),
        })
}

fn local(path: &Path, e: &std::io::Error) -> ApiError {
    ApiError::Protocol {
        what: format!("cannot read `{}`: {e}", path.display()),
    }
}

impl Server {
    /// Every file of the namespace's files (folders followed), sorted by path.
    pub async fn namespace_files(&self, namespace: &str) -> Result<Vec<RemoteFile>, ApiError> {
        let mut out = Vec::new();
        let mut todo = vec![("/".to_string(), 0usize)];
        let mut seen = 0usize;
        while let Some((dir, depth)) = todo.pop() {
            let mut url = self.url(&["namespaces", namespace, "files", "directory"]);
            url.query_pairs_mut().append_pair("path", &dir);
            let request = self.request(reqwest::Method::GET, url);
            let list = match self.send(request, Some("the folder"), false).await {
                Ok(response) => self.json(response).await?,
                // A namespace without files has no root folder yet.
                Err(ApiError::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            };
            let Json::Array(items) = list else {
                return Err(ApiError::Protocol {
                    what: "a folder's listing is not a list".into(),
                });
            };
            seen += items.len() + 1;
            if seen > MAX_ENTRIES {
                return Err(ApiError::Protocol {
                    what: format!(
                        "namespace {namespace} lists more than {MAX_ENTRIES} files and folders"
                    ),
                });
            }
            for item in items {
                let Some(name) = item["fileName"].as_str().filter(|n| !n.is_empty()) else {
                    continue;
                };
                if name.contains('/') || name == "." || name == ".." {
                    return Err(ApiError::Protocol {
                        what: format!("a file name `{name}` in a folder listing"),
                    });
                }
                let path = format!("{}/{name}", dir.trim_end_matches('/'));
                if item["type"].as_str() == Some("Directory") {
                    if depth < MAX_DEPTH {
                        todo.push((path, depth + 1));
                    }
                } else {
                    out.push(RemoteFile {
                        path,
                        size: item["size"].as_u64(),
                    });
                }
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Whether the server's file at `path` holds exactly the bytes of `local_file`, read side
    /// by side in chunks.
    pub async fn same_file(
        &self,
        namespace: &str,
        path: &str,
        local_file: &Path,
    ) -> Result<bool, ApiError> {
        let mut url = self.url(&["namespaces", namespace, "files"]);
        url.query_pairs_mut().append_pair("path", path);
        let request = self.request(reqwest::Method::GET, url);
        let mut response = match self.send(request, Some("the file"), true).await {
            Ok(r) => r,
            Err(ApiError::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        let mut file = tokio::fs::File::open(local_file)
            .await
            .map_err(|e| local(local_file, &e))?;
        let mut mine = vec![0u8; 64 * 1024];
        loop {
            let Some(theirs) = response.chunk().await.map_err(|e| self.unreachable(&e))? else {
                // Their end: the same only if the local file ends here too.
                let n = file
                    .read(&mut mine[..1])
                    .await
                    .map_err(|e| local(local_file, &e))?;
                return Ok(n == 0);
            };
            let mut at = 0;
            while at < theirs.len() {
                let want = (theirs.len() - at).min(mine.len());
                let n = file
                    .read(&mut mine[..want])
                    .await
                    .map_err(|e| local(local_file, &e))?;
                if n == 0 || mine[..n] != theirs[at..at + n] {
                    return Ok(false);
                }
                at += n;
            }
        }
    }

    /// Uploads `local_file` as the namespace file `path` (created or replaced).
    pub async fn upload_file(
        &self,
        namespace: &str,
        path: &str,
        local_file: &Path,
    ) -> Result<(), ApiError> {
        let mut url = self.url(&["namespaces", namespace, "files"]);
        url.query_pairs_mut().append_pair("path", path);
        let form =
            reqwest::multipart::Form::new().part("fileContent", file_part(local_file, true).await?);
        let request = self.request(reqwest::Method::POST, url).multipart(form);
        self.send(request, None, true).await.map(drop)
    }
}
