//! Reading a clone's folder the way Kestra's sync tasks do: entries under `gitDirectory`,
//! without `.git`, `.gitignore`, `.gitkeep` and what `<gitDirectory>/.kestraignore` ignores
//! (gitignore syntax), shallowest first. Symbolic links are skipped: a repository must not
//! make runner read files outside the clone. And the diff files the tasks output.

use runner_core::plugin::*;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// `gitDirectory` as a relative path inside the repository (`/_flows/` is `_flows`; empty is
/// the root).
pub(crate) fn relative_dir(text: &str, property: &str) -> Result<String, TaskError> {
    let parts: Vec<&str> = text
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(TaskError::property(
            property,
            format!("`{text}` leaves the repository (`..` is not allowed)"),
        ));
    }
    Ok(parts.join("/"))
}

/// One rule of a `.kestraignore`.
struct Rule {
    pattern: PathPattern,
    negate: bool,
    dir_only: bool,
}

/// The rules of `<dir>/.kestraignore` (none when there is no such file).
pub(crate) struct Ignore(Vec<Rule>);

impl Ignore {
    pub(crate) fn read(dir: &Path) -> Ignore {
        let Ok(text) = std::fs::read_to_string(dir.join(".kestraignore")) else {
            return Ignore(Vec::new());
        };
        Ignore::parse(&text)
    }

    pub(crate) fn parse(text: &str) -> Ignore {
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negate, line) = match line.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, line),
            };
            let (dir_only, line) = match line.strip_suffix('/') {
                Some(rest) => (true, rest),
                None => (false, line),
            };
            // A pattern with a slash (other than at its end) is anchored to the folder of the
            // file; otherwise it matches at any depth.
            let glob = match line.strip_prefix('/') {
                Some(anchored) => anchored.to_string(),
                None if line.contains('/') => line.to_string(),
                None => format!("**/{line}"),
            };
            let glob = glob.strip_prefix("**/").map_or(glob.clone(), |rest| {
                // `**/x` also matches `x` at the top.
                format!("{{{rest},**/{rest}}}")
            });
            if let Ok(pattern) = PathPattern::new(&glob) {
                rules.push(Rule {
                    pattern,
                    negate,
                    dir_only,
                });
            }
        }
        Ignore(rules)
    }

    /// Whether `rel` (relative to the `.kestraignore`'s folder) is ignored: the last rule that
    /// matches it, or one of its parent folders, decides.
    pub(crate) fn ignores(&self, rel: &str, is_dir: bool) -> bool {
        let mut ignored = false;
        let parts: Vec<&str> = rel.split('/').collect();
        for rule in &self.0 {
            let hit = (1..=parts.len()).any(|n| {
                let candidate = parts[..n].join("/");
                let candidate_is_dir = n < parts.len() || is_dir;
                (!rule.dir_only || candidate_is_dir) && rule.pattern.matches(&candidate)
            });
            if hit {
                ignored = !rule.negate;
            }
        }
        ignored
    }
}

/// One entry under the directory walked.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// Relative to the directory walked, `/`-separated.
    pub(crate) rel: String,
    pub(crate) path: PathBuf,
    pub(crate) is_dir: bool,
}

impl Entry {
    pub(crate) fn depth(&self) -> usize {
        self.rel.matches('/').count()
    }
}

fn skipped_name(name: &str) -> bool {
    name.ends_with(".git") || name == ".gitignore" || name == ".gitkeep" || name == ".kestraignore"
}

/// The entries under `dir` (all depths with `recursive`, else its files only), shallowest
/// first then by path; symbolic links skipped with a warning.
pub(crate) fn walk(ctx: &RunContext, dir: &Path, recursive: bool) -> Result<Vec<Entry>, TaskError> {
    let ignore = Ignore::read(dir);
    let mut out = Vec::new();
    let mut todo = vec![(dir.to_path_buf(), String::new())];
    while let Some((folder, prefix)) = todo.pop() {
        let entries = std::fs::read_dir(&folder).map_err(|e| {
            TaskError::new(ErrorKind::Io, format!("cannot list `{}`", folder.display()))
                .caused_by(e)
        })?;
        for entry in entries {
            let entry = entry.map_err(|e| {
                TaskError::new(ErrorKind::Io, format!("cannot list `{}`", folder.display()))
                    .caused_by(e)
            })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if skipped_name(&name) {
                continue;
            }
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_symlink() {
                ctx.log(
                    Level::Warn,
                    &format!("`{rel}` is a symbolic link in the repository: skipped"),
                );
                continue;
            }
            if ignore.ignores(&rel, kind.is_dir()) {
                continue;
            }
            if kind.is_dir() {
                if recursive {
                    out.push(Entry {
                        rel: rel.clone(),
                        path: entry.path(),
                        is_dir: true,
                    });
                    todo.push((entry.path(), rel));
                }
            } else if kind.is_file() {
                out.push(Entry {
                    rel,
                    path: entry.path(),
                    is_dir: false,
                });
            }
        }
    }
    out.sort_by(|a, b| a.depth().cmp(&b.depth()).then_with(|| a.rel.cmp(&b.rel)));
    Ok(out)
}

/// The clone's `gitDirectory`, checked as Kestra's sync tasks do: a missing folder is an
/// error (or, without `failOnMissingDirectory`, nothing to sync); a file is an error.
pub(crate) fn sync_dir(
    repo: &Path,
    git_directory: &str,
    branch: &str,
    fail_on_missing: bool,
) -> Result<Option<PathBuf>, TaskError> {
    let dir = if git_directory.is_empty() {
        repo.to_path_buf()
    } else {
        repo.join(git_directory)
    };
    match std::fs::symlink_metadata(&dir) {
        Ok(m) if m.is_dir() => Ok(Some(dir)),
        Ok(_) => Err(TaskError::new(
            ErrorKind::BadData,
            format!("The path '{git_directory}' exists but is a file, not a directory. Sync tasks require a directory to process files."),
        )),
        Err(_) if fail_on_missing => Err(TaskError::new(
            ErrorKind::NotFound,
            format!("The directory '{git_directory}' was not found in the git repository. Verify if the path exists in the specified branch '{branch}'."),
        )
        .hint("set gitDirectory to a folder of the branch, or failOnMissingDirectory: false to sync from nothing")),
        Err(_) => Ok(None),
    }
}

/// Writes `rows` as an Ion file of this task run, one value per line; returns its URI.
pub(crate) async fn write_diff(ctx: &RunContext, rows: &[Json]) -> Result<String, TaskError> {
    let uri = ctx.output_file_uri(&format!("{}.ion", runner_core::ids::random_u64()));
    let io = |e: std::io::Error| {
        TaskError::new(ErrorKind::Io, format!("cannot write the diff {uri}")).caused_by(e)
    };
    let mut text = String::new();
    for row in rows {
        runner_ion::write_json(row, &mut text);
        text.push('\n');
    }
    let mut file = ctx.storage().create(&uri).await?;
    file.write_all(text.as_bytes()).await.map_err(io)?;
    file.flush().await.map_err(io)?;
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kestraignore_reads_gitignore_rules() {
        let i = Ignore::parse("# comment\n*.md\nbuild/\n/top.yml\n!keep.md\ndocs/*.txt\n");
        assert!(i.ignores("README.md", false));
        assert!(i.ignores("a/b/notes.md", false));
        assert!(!i.ignores("keep.md", false));
        assert!(i.ignores("build", true));
        assert!(i.ignores("build/x.yml", false));
        assert!(!i.ignores("build", false), "build/ names folders only");
        assert!(i.ignores("top.yml", false));
        assert!(!i.ignores("sub/top.yml", false));
        assert!(i.ignores("docs/a.txt", false));
        assert!(!i.ignores("other/docs/a.txt", false));
        assert!(!i.ignores("flow.yml", false));
    }

    #[test]
    fn git_directory_stays_inside_the_repository() {
        assert_eq!(relative_dir("/_flows/", "gitDirectory").unwrap(), "_flows");
        assert_eq!(relative_dir("a/./b", "gitDirectory").unwrap(), "a/b");
        assert_eq!(relative_dir("", "gitDirectory").unwrap(), "");
        assert!(relative_dir("../x", "gitDirectory").is_err());
    }
}
