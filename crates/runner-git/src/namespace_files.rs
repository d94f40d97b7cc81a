//! `io.kestra.plugin.git.SyncNamespaceFiles`: a branch's files into a namespace's files. In
//! runner a namespace's files are two layers: the project's folder (`--namespace-files`),
//! which runner never changes, under the files flows upload (kept in the state folder). A
//! synced file is written as an upload (so it shadows a project file of the same path);
//! `delete` removes uploads that Git lacks and says which project files it cannot remove.
//! Byte-identical files are not rewritten. A failure part way undoes what was done.

use crate::git::{Connection, Git, Scratch, check_key};
use crate::sync_flows::{check_namespace, required_url};
use crate::tree;
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub(crate) const SYNC_NAMESPACE_FILES: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.git.SyncNamespaceFiles",
    aliases: &[],
    doc: "Sync the files of a Git branch's `gitDirectory` into a namespace's files (kept in the state folder; the project's `--namespace-files` folder is never changed); `delete` removes files Git lacks, `dryRun` only reports. Output: `files`, the diff (Ion).",
    example: "id: sync\ntype: io.kestra.plugin.git.SyncNamespaceFiles\nurl: https://github.com/kestra-io/scripts\nbranch: main\nnamespace: company.team\ngitDirectory: _files\ndryRun: true",
    shape: runnable::<SyncNamespaceFiles>(),
};

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SyncNamespaceFiles {
    /// The repository: `https://`, `ssh://`, `git://` or `user@host:path`.
    url: Option<Property<String>>,
    /// The branch to read (default `main`).
    branch: Option<Property<String>>,
    /// The namespace whose files are synced (default the flow's).
    namespace: Option<Property<String>>,
    /// The folder of the repository holding the files (default `_files`).
    git_directory: Option<Property<String>>,
    /// Remove the namespace's files that Git lacks (default false).
    delete: Option<Property<bool>>,
    /// Only report what would change (default false).
    dry_run: Option<Property<bool>>,
    /// Fail when `gitDirectory` is not in the branch (default true).
    fail_on_missing_directory: Option<Property<bool>>,
    #[serde(flatten)]
    connection: Connection,
}

/// Whether two files hold the same bytes.
pub(crate) fn same_bytes(a: &Path, b: &Path) -> bool {
    use std::io::Read;
    let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) else {
        return false;
    };
    if ma.len() != mb.len() {
        return false;
    }
    let (Ok(mut fa), Ok(mut fb)) = (std::fs::File::open(a), std::fs::File::open(b)) else {
        return false;
    };
    let (mut ba, mut bb) = (vec![0u8; 64 << 10], vec![0u8; 64 << 10]);
    loop {
        let Ok(n) = fa.read(&mut ba) else {
            return false;
        };
        if n == 0 {
            return true;
        }
        if fb.read_exact(&mut bb[..n]).is_err() || ba[..n] != bb[..n] {
            return false;
        }
    }
}

/// What was done to the namespace's uploads, so it can be undone.
enum Done {
    /// A new upload at this path.
    Added(String),
    /// An upload replaced; its old content is at the backup path.
    Replaced(String, PathBuf),
    /// An upload removed; its content is at the backup path.
    Removed(String, PathBuf),
}

/// Writes and removes namespace files, undoing everything if one step fails.
pub(crate) struct Journal<'a> {
    ctx: &'a RunContext,
    namespace: String,
    backups: PathBuf,
    done: Vec<Done>,
}

impl<'a> Journal<'a> {
    pub(crate) fn new(ctx: &'a RunContext, namespace: &str, backups: PathBuf) -> Journal<'a> {
        Journal {
            ctx,
            namespace: namespace.to_string(),
            backups,
            done: Vec::new(),
        }
    }

    fn backup(&self, from: &Path) -> Result<PathBuf, TaskError> {
        std::fs::create_dir_all(&self.backups).map_err(|e| {
            TaskError::new(ErrorKind::Io, "cannot keep a copy of a namespace file").caused_by(e)
        })?;
        let to = self.backups.join(format!("{}", self.done.len()));
        std::fs::copy(from, &to).map_err(|e| {
            TaskError::new(ErrorKind::Io, "cannot keep a copy of a namespace file").caused_by(e)
        })?;
        Ok(to)
    }

    /// Writes `source` as `path`; `existing` is the file it replaces, if any.
    pub(crate) async fn put(
        &mut self,
        path: &str,
        source: &Path,
        existing: Option<&NamespaceFile>,
    ) -> Result<(), TaskError> {
        let done = match existing {
            Some(f) if f.uploaded => Done::Replaced(path.to_string(), self.backup(&f.local)?),
            _ => Done::Added(path.to_string()),
        };
        self.ctx
            .put_namespace_file(&self.namespace, path, source, Conflict::Overwrite)
            .await?;
        self.done.push(done);
        Ok(())
    }

    /// Removes an uploaded file.
    pub(crate) async fn remove(&mut self, file: &NamespaceFile) -> Result<(), TaskError> {
        let backup = self.backup(&file.local)?;
        self.ctx
            .delete_uploaded_file(&self.namespace, file, true)
            .await?;
        self.done.push(Done::Removed(file.path.clone(), backup));
        Ok(())
    }

    /// Undoes every step, newest first.
    pub(crate) async fn undo(self) {
        for step in self.done.into_iter().rev() {
            match step {
                Done::Added(path) => {
                    if let Ok(list) = self.ctx.namespace_listing(&self.namespace).await
                        && let Some(f) = list.iter().find(|f| f.path == path && f.uploaded)
                    {
                        let _ = self
                            .ctx
                            .delete_uploaded_file(&self.namespace, f, true)
                            .await;
                    }
                }
                Done::Replaced(path, backup) | Done::Removed(path, backup) => {
                    let _ = self
                        .ctx
                        .put_namespace_file(&self.namespace, &path, &backup, Conflict::Overwrite)
                        .await;
                }
            }
        }
    }
}

impl RunnableTask for SyncNamespaceFiles {
    fn check(&self) -> Result<(), String> {
        check_key(&self.connection.private_key, &self.connection.passphrase)
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let url = required_url(ctx, &self.url)?;
            let branch = ctx
                .render_opt(&self.branch, "branch")?
                .unwrap_or_else(|| "main".into());
            let namespace = ctx
                .render_opt(&self.namespace, "namespace")?
                .unwrap_or_else(|| ctx.namespace().to_string());
            check_namespace(&namespace, "namespace")?;
            let git_dir_text = ctx
                .render_opt(&self.git_directory, "gitDirectory")?
                .unwrap_or_else(|| "_files".into());
            let git_dir = tree::relative_dir(&git_dir_text, "gitDirectory")?;
            let delete = ctx.render_opt(&self.delete, "delete")?.unwrap_or(false);
            let dry = ctx.render_opt(&self.dry_run, "dryRun")?.unwrap_or(false);
            let fail_on_missing = ctx
                .render_opt(&self.fail_on_missing_directory, "failOnMissingDirectory")?
                .unwrap_or(true);
            // Where uploads go must exist before anything is cloned.
            let current = ctx.namespace_listing(&namespace).await?;
            let scratch = Scratch::new(ctx)?;
            let git = Git::new(ctx, url, &self.connection, &scratch.home())?;
            let repo = scratch.repo();
            git.clone_branch(&scratch.root, &repo, &branch, false)
                .await?;
            let entries = match tree::sync_dir(&repo, &git_dir, &branch, fail_on_missing)? {
                Some(dir) => tree::walk(ctx, &dir, true)?,
                None => Vec::new(),
            };
            let mut by_path: BTreeMap<String, &NamespaceFile> =
                current.iter().map(|f| (f.path.clone(), f)).collect();
            let mut rows: Vec<(Option<String>, Json)> = Vec::new();
            let mut writes: Vec<(String, PathBuf, Option<&NamespaceFile>)> = Vec::new();
            for e in entries.iter().filter(|e| !e.is_dir) {
                let git_path = if git_dir.is_empty() {
                    e.rel.clone()
                } else {
                    format!("{git_dir}/{}", e.rel)
                };
                let kestra_path = format!("/{}", e.rel);
                let existing = by_path.remove(&kestra_path);
                let state = match existing {
                    Some(f) if same_bytes(&f.local, &e.path) => "UNCHANGED",
                    Some(_) => "OVERWRITTEN",
                    None => "ADDED",
                };
                if state != "UNCHANGED" {
                    writes.push((kestra_path.clone(), e.path.clone(), existing));
                }
                ctx.log(Level::Info, &format!("{state} {kestra_path} ({git_path})"));
                rows.push((
                    Some(git_path.clone()),
                    json!({"gitPath": git_path, "syncState": state, "kestraPath": kestra_path}),
                ));
            }
            let mut removals = Vec::new();
            if delete {
                for (path, f) in by_path {
                    if !f.uploaded {
                        ctx.log(
                            Level::Warn,
                            &format!("{path} is not in Git but is a file of the project's namespace folder (`{}`), which runner never changes: kept", f.local.display()),
                        );
                        continue;
                    }
                    ctx.log(Level::Info, &format!("DELETED {path}"));
                    rows.push((None, json!({"syncState": "DELETED", "kestraPath": path})));
                    removals.push(f);
                }
            }
            if !dry {
                let mut journal = Journal::new(ctx, &namespace, scratch.root.join("backups"));
                let mut result = Ok(());
                for (path, source, existing) in &writes {
                    result = journal.put(path, source, *existing).await;
                    if result.is_err() {
                        break;
                    }
                }
                if result.is_ok() {
                    for f in &removals {
                        result = journal.remove(f).await;
                        if result.is_err() {
                            break;
                        }
                    }
                }
                if let Err(e) = result {
                    journal.undo().await;
                    return Err(e.hint("the namespace files are left as they were"));
                }
            }
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            let rows: Vec<Json> = rows.into_iter().map(|(_, r)| r).collect();
            ctx.info(&format!(
                "{}{} file(s) of namespace {namespace} from {} (branch {branch})",
                if dry {
                    "Dry run, nothing written: "
                } else {
                    "Synced "
                },
                rows.len(),
                git.shown
            ));
            let uri = tree::write_diff(ctx, &rows).await?;
            let mut out = Outputs::new();
            out.insert("files".into(), Json::String(uri));
            Ok(out)
        })
    }
}
