//! "Kestra's flows", for a local run: the flows folder. `runner run` gives every execution a
//! [`FlowsFolder`] (the `--flows` folders, or the flow file's folder), which the sync tasks
//! write and the push tasks read. A flow is one YAML document with `id` and `namespace`;
//! a file may hold several, and files are matched to flows by namespace and id, never by name.
//!
//! Writing is all or nothing: every change is staged beside its target first, then each
//! target is swapped in with its old version kept aside; if one step fails, what was done is
//! undone, so a failed sync leaves the folder as it was.

use runner_core::plugin::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The run's flows folder, as the git tasks see it (a run service).
#[derive(Clone)]
pub struct FlowsFolder {
    /// The folders flows are read from; new flows are written to the first.
    pub folders: Vec<PathBuf>,
    /// Whether tasks may change the folders: `runner run` yes, `runner test` no.
    pub writable: bool,
    /// The task types flows are validated with before they are written.
    pub registry: Arc<runner_core::Registry>,
}

impl FlowsFolder {
    /// The run's flows folder, or an error saying the run has none.
    pub(crate) fn of(ctx: &RunContext) -> Result<&FlowsFolder, TaskError> {
        ctx.service::<FlowsFolder>().ok_or_else(|| {
            TaskError::new(
                ErrorKind::Unsupported,
                "this run has no flows folder to sync with",
            )
            .hint("run the flow with `runner run` (its flows folder is --flows, or the flow file's folder)")
        })
    }

    /// An error unless tasks may write the folder.
    pub(crate) fn check_writable(&self) -> Result<(), TaskError> {
        if self.writable {
            return Ok(());
        }
        Err(TaskError::new(
            ErrorKind::Unsupported,
            "this run may not change the flows folder (`runner test` never changes the project)",
        )
        .hint("set dryRun: true to see what would change, or run the flow with `runner run`"))
    }

    /// Where a new flow goes.
    pub(crate) fn first(&self) -> Result<&Path, TaskError> {
        self.folders.first().map(PathBuf::as_path).ok_or_else(|| {
            TaskError::new(
                ErrorKind::Unsupported,
                "this run's flows folder list is empty",
            )
        })
    }
}

/// One flow of the flows folder.
#[derive(Clone, Debug)]
pub(crate) struct LocalFlow {
    pub(crate) namespace: String,
    pub(crate) id: String,
    pub(crate) file: PathBuf,
    /// How many documents the file holds (a flow alone in its file can be replaced or removed
    /// by replacing or removing the file).
    pub(crate) docs_in_file: usize,
    /// The document's own text.
    pub(crate) source: String,
}

/// Every `.yml`/`.yaml` file under `root` (links not followed), sorted.
pub(crate) fn yaml_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if kind.is_dir() && !hidden {
                todo.push(path);
            } else if kind.is_file() && path.extension().is_some_and(|e| e == "yml" || e == "yaml")
            {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The text of each document of `text`, split at its `---` lines.
pub(crate) fn documents(text: &str) -> Vec<String> {
    let mut docs = vec![String::new()];
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end();
        if bare == "---" || bare.starts_with("--- ") {
            docs.push(String::new());
            continue;
        }
        if bare == "..." {
            continue;
        }
        docs.last_mut().expect("one document").push_str(line);
    }
    docs.retain(|d| {
        !d.trim().is_empty()
            && !d
                .lines()
                .all(|l| l.trim_start().starts_with('#') || l.trim().is_empty())
    });
    docs
}

/// Every flow of the folders; files that cannot be read as flows are skipped (and named in
/// `skipped`).
pub(crate) fn list(folders: &[PathBuf]) -> Result<(Vec<LocalFlow>, Vec<PathBuf>), TaskError> {
    let mut flows = Vec::new();
    let mut skipped = Vec::new();
    for folder in folders {
        if !folder.is_dir() {
            continue;
        }
        let files = yaml_files(folder).map_err(|e| {
            TaskError::new(
                ErrorKind::Io,
                format!("cannot list the flows folder `{}`", folder.display()),
            )
            .caused_by(e)
        })?;
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                skipped.push(file);
                continue;
            };
            let Ok(nodes) = runner_model::load_str(&text) else {
                skipped.push(file);
                continue;
            };
            let texts = documents(&text);
            let count = nodes.len();
            for (i, node) in nodes.iter().enumerate() {
                if node.get("testCases").is_some() {
                    continue;
                }
                let (Some(ns), Some(id)) = (
                    node.get("namespace").and_then(|n| n.as_str()),
                    node.get("id").and_then(|n| n.as_str()),
                ) else {
                    continue;
                };
                let source = if count == 1 {
                    text.clone()
                } else {
                    texts.get(i).cloned().unwrap_or_default()
                };
                flows.push(LocalFlow {
                    namespace: ns.to_string(),
                    id: id.to_string(),
                    file: file.clone(),
                    docs_in_file: count,
                    source,
                });
            }
        }
    }
    Ok((flows, skipped))
}

/// A flow from Git, checked with the run's task types: its namespace and id, or where and why
/// it is invalid (`path:line:col: problem`).
pub(crate) fn check(
    registry: &runner_core::Registry,
    text: &str,
    shown: &str,
) -> Result<(String, String), String> {
    let nodes = runner_model::load_str(text)
        .map_err(|e| format!("{shown}:{}:{}: {}", e.span.line, e.span.col, e.message))?;
    if nodes.len() != 1 {
        return Err(format!(
            "{shown}: holds {} YAML documents; a flow file holds one flow",
            nodes.len()
        ));
    }
    let v = runner_core::validate(&nodes[0], registry, &runner_template::Renderer::new());
    match v.plan {
        Some(plan) if !v.diagnostics.iter().any(|d| d.is_error()) => {
            Ok((plan.flow.namespace.clone(), plan.flow.id.clone()))
        }
        _ => {
            let first = v
                .diagnostics
                .iter()
                .find(|d| d.is_error())
                .map(|d| match d.span {
                    Some(s) => format!("{shown}:{}:{}: {}", s.line, s.col, d.problem),
                    None => format!("{shown}: {}", d.problem),
                })
                .unwrap_or_else(|| format!("{shown}: not a valid flow"));
            Err(first)
        }
    }
}

/// Source compared the way Kestra's dry run does: CRLF made LF, `revision:` lines dropped,
/// surrounding blank space trimmed.
pub(crate) fn comparable(source: &str) -> String {
    source
        .replace("\r\n", "\n")
        .lines()
        .filter(|l| !l.starts_with("revision:"))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

/// One change to the folders: a file written (`Some`) or removed (`None`).
#[derive(Debug)]
pub(crate) struct Change {
    pub(crate) path: PathBuf,
    pub(crate) content: Option<String>,
}

/// Applies every change or none: new contents are staged beside their targets, then swapped
/// in one by one with the old files kept aside until all are in place.
pub(crate) fn apply(changes: &[Change]) -> Result<(), TaskError> {
    apply_failing_at(changes, None)
}

/// [`apply`], failing the swap of change `fail_at` as a full disk would (for the tests).
fn apply_failing_at(changes: &[Change], fail_at: Option<usize>) -> Result<(), TaskError> {
    if let Some(dir) = changes.iter().find(|c| c.path.is_dir()) {
        return Err(TaskError::new(
            ErrorKind::Io,
            format!(
                "`{}` is a folder, not a flow file; the flows folder is left as it was",
                dir.path.display()
            ),
        ));
    }
    let tag = runner_core::ids::friendly_id();
    let aside = |p: &Path, what: &str| -> PathBuf {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        p.with_file_name(format!(".{name}.{what}-{tag}"))
    };
    let mut made_dirs: Vec<PathBuf> = Vec::new();
    let mut staged: Vec<PathBuf> = Vec::new();
    let mut kept: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut placed: Vec<PathBuf> = Vec::new();
    let undo = |made_dirs: &[PathBuf],
                staged: &[PathBuf],
                kept: &[(PathBuf, PathBuf)],
                placed: &[PathBuf]| {
        for p in placed {
            let _ = std::fs::remove_file(p);
        }
        for (old, original) in kept.iter().rev() {
            let _ = std::fs::rename(old, original);
        }
        for s in staged {
            let _ = std::fs::remove_file(s);
        }
        for d in made_dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    };
    let io = |what: String, e: std::io::Error| {
        TaskError::new(
            ErrorKind::Io,
            format!("{what}; the flows folder is left as it was"),
        )
        .caused_by(e)
    };
    // 1. Stage every new content.
    for c in changes {
        let Some(content) = &c.content else { continue };
        if let Some(parent) = c.path.parent() {
            let mut missing = Vec::new();
            let mut at = Some(parent);
            while let Some(d) = at {
                if d.exists() {
                    break;
                }
                missing.push(d.to_path_buf());
                at = d.parent();
            }
            if let Err(e) = std::fs::create_dir_all(parent) {
                undo(&made_dirs, &staged, &kept, &placed);
                return Err(io(format!("cannot create `{}`", parent.display()), e));
            }
            made_dirs.extend(missing.into_iter().rev());
        }
        let tmp = aside(&c.path, "partial");
        if let Err(e) = std::fs::write(&tmp, content) {
            let _ = std::fs::remove_file(&tmp);
            undo(&made_dirs, &staged, &kept, &placed);
            return Err(io(format!("cannot write `{}`", c.path.display()), e));
        }
        staged.push(tmp);
    }
    // 2. Swap each in, the old file kept aside.
    let mut next_staged = staged.iter();
    for (i, c) in changes.iter().enumerate() {
        if fail_at == Some(i) {
            undo(&made_dirs, &staged, &kept, &placed);
            return Err(io(
                format!("cannot write `{}`", c.path.display()),
                std::io::Error::other("no space left on device"),
            ));
        }
        if c.path.exists() {
            let old = aside(&c.path, "previous");
            if let Err(e) = std::fs::rename(&c.path, &old) {
                undo(&made_dirs, &staged, &kept, &placed);
                return Err(io(format!("cannot replace `{}`", c.path.display()), e));
            }
            kept.push((old, c.path.clone()));
        }
        if c.content.is_some() {
            let tmp = next_staged.next().expect("a staged file per write");
            if let Err(e) = std::fs::rename(tmp, &c.path) {
                undo(&made_dirs, &staged, &kept, &placed);
                return Err(io(format!("cannot write `{}`", c.path.display()), e));
            }
            placed.push(c.path.clone());
        }
    }
    // 3. All in place: drop the old files.
    for (old, _) in kept {
        let _ = std::fs::remove_file(old);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_split_at_their_markers() {
        let text = "id: a\nnamespace: n\n---\nid: b\nnamespace: n\n...\n";
        assert_eq!(
            documents(text),
            ["id: a\nnamespace: n\n", "id: b\nnamespace: n\n"]
        );
        assert_eq!(documents("---\nid: a\n"), ["id: a\n"]);
    }

    #[test]
    fn sources_compare_without_revisions_and_line_ends() {
        assert_eq!(
            comparable("id: a\r\nrevision: 3\r\nnamespace: n\r\n\r\n"),
            comparable("id: a\nnamespace: n")
        );
    }

    #[test]
    fn a_failed_apply_leaves_everything_as_it_was() {
        let dir =
            std::env::temp_dir().join(format!("runner-flows-{}", runner_core::ids::friendly_id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.yml"), "old a").unwrap();
        std::fs::write(dir.join("b.yml"), "old b").unwrap();
        let changes = vec![
            Change {
                path: dir.join("a.yml"),
                content: Some("new a".into()),
            },
            Change {
                path: dir.join("b.yml"),
                content: None,
            },
            Change {
                path: dir.join("new/d.yml"),
                content: Some("d".into()),
            },
            Change {
                path: dir.join("c.yml"),
                content: Some("c".into()),
            },
        ];
        // The last swap fails, after a.yml was replaced, b.yml removed and d.yml written.
        let e = apply_failing_at(&changes, Some(3)).unwrap_err();
        assert!(e.to_string().contains("left as it was"), "{e}");
        assert_eq!(std::fs::read_to_string(dir.join("a.yml")).unwrap(), "old a");
        assert_eq!(std::fs::read_to_string(dir.join("b.yml")).unwrap(), "old b");
        assert!(!dir.join("new").exists());
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["a.yml", "b.yml"]);
        // And when all goes well, every change is there and nothing else.
        apply(&changes).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("a.yml")).unwrap(), "new a");
        assert!(!dir.join("b.yml").exists());
        assert_eq!(std::fs::read_to_string(dir.join("new/d.yml")).unwrap(), "d");
        assert_eq!(std::fs::read_to_string(dir.join("c.yml")).unwrap(), "c");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
