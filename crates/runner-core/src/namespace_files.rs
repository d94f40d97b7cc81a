//! Namespace files in two layers: the project's folders (`--namespace-files`), which runner
//! only reads, under the files flows upload (`namespace.UploadFiles`), kept in the state
//! directory so they outlive the run as Kestra's do. A read sees an upload before a project
//! file of the same path; a flow never changes the user's project.

use crate::context::RunContext;
use crate::error::{ErrorKind, TaskError};
use crate::glob::PathPattern;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where each namespace's files are.
#[derive(Clone, Debug, Default)]
pub(crate) struct NamespaceFolders {
    /// The project's folder of each namespace (read only).
    pub(crate) folders: BTreeMap<String, PathBuf>,
    /// The folder under which uploaded files are kept, one subfolder per namespace.
    pub(crate) uploads: Option<PathBuf>,
}

/// One namespace file: its path as Kestra shows it (`/scripts/main.py`) and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceFile {
    pub path: String,
    pub local: PathBuf,
    /// Uploaded by a flow (in the state directory), not a file of the project's folder.
    pub uploaded: bool,
}

/// How `UploadFiles` treats a file that already exists (Kestra's `conflict`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, runner_derive::PropType)]
#[serde(rename_all = "UPPERCASE")]
pub enum Conflict {
    Overwrite,
    Error,
    Skip,
}

/// A namespace name becomes a folder name: only what Kestra allows in one.
pub(crate) fn check_namespace(namespace: &str, property: &str) -> Result<(), TaskError> {
    crate::kv::check_namespace_name(namespace).map_err(|why| TaskError::property(property, why))
}

/// The first component of `root/relative` (below `root`) that is a symbolic link, if any.
fn first_link(root: &Path, relative: &str) -> Option<PathBuf> {
    let mut at = root.to_path_buf();
    for part in relative.split('/').filter(|p| !p.is_empty()) {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => return Some(at),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}

/// `path` made into Kestra's form (`/a/b`), refusing `..` and empty names.
pub fn normalize_namespace_path(path: &str) -> Result<String, String> {
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(format!(
                    "`{path}` leaves the namespace (`..` is not allowed)"
                ));
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(format!("`{path}` names no file"));
    }
    Ok(format!("/{}", parts.join("/")))
}

impl RunContext {
    /// The layers of `namespace`, uploads first; an error when runner knows no place for it.
    fn namespace_layers(&self, namespace: &str) -> Result<Vec<(PathBuf, bool)>, TaskError> {
        self.exec.namespace_files.layers(namespace)
    }

    /// The project folder of `namespace` when one was given and is not a folder (for warnings).
    pub(crate) fn missing_namespace_folder(&self, namespace: &str) -> Option<&Path> {
        self.exec
            .namespace_files
            .folders
            .get(namespace)
            .filter(|f| !f.is_dir())
            .map(PathBuf::as_path)
    }

    /// Every file of `namespace`, sorted by path; an upload hides the project file it shadows.
    pub async fn namespace_listing(
        &self,
        namespace: &str,
    ) -> Result<Vec<NamespaceFile>, TaskError> {
        let mut seen = BTreeMap::new();
        for (root, uploaded) in self.namespace_layers(namespace)? {
            if !root.is_dir() {
                continue;
            }
            let files = crate::workdir::list_files(&root).await.map_err(|e| {
                TaskError::new(
                    ErrorKind::Io,
                    format!("cannot list the namespace files in `{}`", root.display()),
                )
                .caused_by(e)
            })?;
            for rel in files {
                let path = format!("/{rel}");
                seen.entry(path.clone()).or_insert_with(|| NamespaceFile {
                    path,
                    local: root.join(&rel),
                    uploaded,
                });
            }
        }
        Ok(seen.into_values().collect())
    }

    /// The namespace files of `namespace` whose path matches one of `patterns` (Kestra's
    /// rule: a pattern starting with a letter or digit matches at any depth), sorted.
    pub async fn namespace_files_matching(
        &self,
        namespace: &str,
        patterns: &[String],
        property: &str,
    ) -> Result<Vec<NamespaceFile>, TaskError> {
        let compiled = namespace_globs(patterns, property)?;
        Ok(self
            .namespace_listing(namespace)
            .await?
            .into_iter()
            .filter(|f| compiled.iter().any(|p| p.matches(&f.path)))
            .collect())
    }

    /// The local file behind `nsfile://[namespace]/path` (the flow's namespace when empty):
    /// `rest` is what follows `nsfile://`.
    pub fn namespace_file_path(&self, rest: &str) -> Result<PathBuf, TaskError> {
        let (namespace, path) = match rest.split_once('/') {
            Some(("", path)) => (self.exec.flow.namespace.as_str(), path),
            Some((ns, path)) => (ns, path),
            None => (self.exec.flow.namespace.as_str(), rest),
        };
        self.exec
            .namespace_files
            .file_path(namespace, path, &format!("nsfile://{rest}"))
    }
}

impl NamespaceFolders {
    /// Where the files of `namespace` are: the uploads first (they win), then the project's
    /// folder.
    pub(crate) fn layers(&self, namespace: &str) -> Result<Vec<(PathBuf, bool)>, TaskError> {
        let mut layers = Vec::new();
        if let Some(root) = &self.uploads {
            check_namespace(namespace, "namespace")?;
            layers.push((root.join(namespace), true));
        }
        if let Some(folder) = self.folders.get(namespace) {
            layers.push((folder.clone(), false));
        }
        if layers.is_empty() {
            return Err(TaskError::new(
                ErrorKind::NotFound,
                format!("no folder holds the namespace files of `{namespace}`"),
            )
            .hint(format!("give one with --namespace-files {namespace}=DIR")));
        }
        Ok(layers)
    }

    /// The local file of namespace file `path` of `namespace` (`shown` names it in errors).
    pub(crate) fn file_path(
        &self,
        namespace: &str,
        path: &str,
        shown: &str,
    ) -> Result<PathBuf, TaskError> {
        let clean = normalize_namespace_path(path)
            .map_err(|why| TaskError::new(ErrorKind::NotFound, format!("`{shown}`: {why}")))?;
        let layers = self.layers(namespace)?;
        for (root, _) in &layers {
            let local = root.join(&clean[1..]);
            // No part of the path may be a link: one could lead out of the namespace folder
            // (`leak.txt -> /etc/passwd`, a linked folder), as namespaceFiles refuses too.
            if let Some(link) = first_link(root, &clean[1..]) {
                return Err(TaskError::new(
                    ErrorKind::Denied,
                    format!(
                        "`{shown}`: `{}` is a symbolic link; namespace files are the regular files inside the namespace folder",
                        link.display()
                    ),
                )
                .hint("copy the file into the namespace folder instead of linking it"));
            }
            if local.is_file() {
                return Ok(local);
            }
        }
        let looked: Vec<String> = layers
            .iter()
            .map(|(root, _)| format!("`{}`", root.display()))
            .collect();
        Err(TaskError::new(
            ErrorKind::NotFound,
            format!("File '{clean}' was not found in namespace '{namespace}'."),
        )
        .hint(format!(
            "looked in {} (the folder given with --namespace-files, and the files flows uploaded)",
            looked.join(" and ")
        )))
    }
}

impl RunContext {
    /// Writes `source` (a local file) as namespace file `path` of `namespace`; `false` when
    /// `conflict` is SKIP and the file exists. Written through a temporary file, so a reader
    /// never sees half of it.
    pub async fn put_namespace_file(
        &self,
        namespace: &str,
        path: &str,
        source: &Path,
        conflict: Conflict,
    ) -> Result<bool, TaskError> {
        let clean =
            normalize_namespace_path(path).map_err(|why| TaskError::property("files", why))?;
        let Some(root) = &self.exec.namespace_files.uploads else {
            return Err(TaskError::new(
                ErrorKind::Unsupported,
                "this run keeps no namespace files: uploads need a state directory",
            )
            .hint("run with `runner run` (its --state folder keeps uploaded namespace files)"));
        };
        check_namespace(namespace, "namespace")?;
        let exists = self
            .namespace_layers(namespace)?
            .iter()
            .any(|(r, _)| r.join(&clean[1..]).is_file());
        if exists {
            match conflict {
                Conflict::Overwrite => {}
                Conflict::Skip => return Ok(false),
                Conflict::Error => {
                    return Err(TaskError::failed(format!(
                        "File '{clean}' already exists in namespace '{namespace}' and conflict is set to ERROR"
                    )));
                }
            }
        }
        let dest = root.join(namespace).join(&clean[1..]);
        let parent = dest.parent().expect("a file inside the namespace folder");
        let fail = |e: std::io::Error| {
            TaskError::new(
                ErrorKind::Io,
                format!("cannot write namespace file '{clean}' of '{namespace}'"),
            )
            .caused_by(e)
        };
        tokio::fs::create_dir_all(parent).await.map_err(fail)?;
        let partial = parent.join(format!(".{}.partial", crate::ids::friendly_id()));
        if let Err(e) = tokio::fs::copy(source, &partial).await {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(fail(e));
        }
        if let Err(e) = tokio::fs::rename(&partial, &dest).await {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(fail(e));
        }
        Ok(true)
    }

    /// Removes an uploaded namespace file (and the folders it leaves empty when
    /// `parents` is set). Project files are never removed.
    pub async fn delete_uploaded_file(
        &self,
        namespace: &str,
        file: &NamespaceFile,
        parents: bool,
    ) -> Result<(), TaskError> {
        debug_assert!(file.uploaded);
        tokio::fs::remove_file(&file.local).await.map_err(|e| {
            TaskError::new(
                ErrorKind::Io,
                format!(
                    "cannot delete namespace file '{}' of '{namespace}'",
                    file.path
                ),
            )
            .caused_by(e)
        })?;
        if parents && let Some(root) = &self.exec.namespace_files.uploads {
            let top = root.join(namespace);
            let mut dir = file.local.parent();
            while let Some(d) = dir {
                // Stops at the first folder that still holds something.
                if d == top || std::fs::remove_dir(d).is_err() {
                    break;
                }
                dir = d.parent();
            }
        }
        Ok(())
    }
}

/// Kestra's namespace globs: a pattern starting with a letter or digit matches at any depth.
pub fn namespace_globs(list: &[String], property: &str) -> Result<Vec<PathPattern>, TaskError> {
    list.iter()
        .map(|p| {
            let p = if !PathPattern::has_syntax(p)
                && p.chars()
                    .next()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
            {
                format!("**/{p}")
            } else {
                p.clone()
            };
            PathPattern::new(&p).map_err(|why| TaskError::property(property, why))
        })
        .collect()
}
