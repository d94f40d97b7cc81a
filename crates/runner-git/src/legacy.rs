//! Kestra's older `io.kestra.plugin.git.Sync` and `Push`, kept for the flows that use them.
//!
//! `Sync` makes the current namespace match a branch: the flows of `<gitDirectory>/_flows`
//! (top level) into the flows folder, removing the namespace's other flows (never the one
//! running), and every other file into the namespace's files. `Push` commits a working
//! directory (cloned with `url`, or an earlier Clone's): its input files, namespace files and
//! the namespace's flows (`<gitDirectory>/<namespace>.<id>.yml`), then pushes.

use crate::flows::{self, Change, FlowsFolder};
use crate::git::{Author, Connection, Git, Scratch, check_key};
use crate::namespace_files::{Journal, same_bytes};
use crate::push::pushed_source;
use crate::sync_flows::required_url;
use crate::tree;
use runner_core::plugin::*;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub(crate) const SYNC: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.git.Sync",
    aliases: &[],
    doc: "Kestra's older sync: make the current namespace match a Git branch, its flows (`<gitDirectory>/_flows`, into the flows folder; others of the namespace removed) and its namespace files (everything else). Prefer SyncFlows and SyncNamespaceFiles.",
    example: "id: sync\ntype: io.kestra.plugin.git.Sync\nurl: https://github.com/kestra-io/scripts\nbranch: main\ngitDirectory: your_kestra_folder\ndryRun: true",
    shape: runnable::<Sync>(),
};

pub(crate) const PUSH: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.git.Push",
    aliases: &[],
    doc: "Kestra's older push: commit the working directory (cloned from `url`, or an earlier Clone) with `inputFiles`, `namespaceFiles` and the namespace's flows (`<gitDirectory>/<namespace>.<id>.yml`) to `branch`, and push. Output: `commitId`. Prefer PushFlows and PushNamespaceFiles.",
    example: "id: push\ntype: io.kestra.plugin.git.Push\nurl: https://github.com/company/scripts\nusername: git-bot\npassword: \"{{ secret('GITHUB_TOKEN') }}\"\nbranch: kestra\ncommitMessage: \"Add flows and scripts\"\nflows:\n  enabled: true",
    shape: runnable::<Push>(),
};

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Sync {
    /// The repository: `https://`, `ssh://`, `git://` or `user@host:path`.
    url: Property<String>,
    /// The branch to read (default `main`).
    branch: Option<Property<String>>,
    /// The folder of the repository to sync (default the root); its `_flows` folder holds
    /// the flows.
    git_directory: Option<Property<String>>,
    /// The folder of the namespace files the other files go to (default the root).
    namespace_files_directory: Option<Property<String>>,
    /// Only log what would change (default false).
    dry_run: Option<Property<bool>>,
    #[serde(flatten)]
    connection: Connection,
}

impl RunnableTask for Sync {
    fn check(&self) -> Result<(), String> {
        check_key(&self.connection.private_key, &self.connection.passphrase)
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let folder = FlowsFolder::of(ctx)?;
            let dry = ctx.render_opt(&self.dry_run, "dryRun")?.unwrap_or(false);
            if !dry {
                folder.check_writable()?;
            }
            let url = ctx.render(&self.url, "url")?;
            let branch = ctx
                .render_opt(&self.branch, "branch")?
                .unwrap_or_else(|| "main".into());
            let git_dir = tree::relative_dir(
                &ctx.render_opt(&self.git_directory, "gitDirectory")?
                    .unwrap_or_default(),
                "gitDirectory",
            )?;
            let ns_dir = tree::relative_dir(
                &ctx.render_opt(&self.namespace_files_directory, "namespaceFilesDirectory")?
                    .unwrap_or_default(),
                "namespaceFilesDirectory",
            )?;
            let namespace = ctx.namespace().to_string();
            let current_files = ctx.namespace_listing(&namespace).await?;
            let scratch = Scratch::new(ctx)?;
            let git = Git::new(ctx, url, &self.connection, &scratch.home())?;
            let repo = scratch.repo();
            git.clone_branch(&scratch.root, &repo, &branch, false)
                .await?;
            let root = tree::sync_dir(&repo, &git_dir, &branch, true)?
                .expect("failing on a missing folder");
            ctx.info(&format!(
                "Dry run is {}, {}performing following actions (- for deletions, + for creations, ~ for update or no modification):",
                if dry { "enabled" } else { "disabled" },
                if dry { "not " } else { "" }
            ));

            // Flows: `_flows` at the top, into the namespace (or a child of it).
            let (local, _) = flows::list(&folder.folders)?;
            let mut mine: BTreeMap<String, &flows::LocalFlow> = local
                .iter()
                .filter(|l| l.namespace == namespace)
                .map(|l| (l.id.clone(), l))
                .collect();
            let mut changes: Vec<Change> = Vec::new();
            let flows_dir = root.join("_flows");
            let mut imported = Vec::new();
            if flows_dir.is_dir() {
                for e in tree::walk(ctx, &flows_dir, false)? {
                    let raw = std::fs::read_to_string(&e.path).unwrap_or_default();
                    let declared = raw
                        .lines()
                        .find_map(|l| l.strip_prefix("namespace:"))
                        .map(|v| v.trim().to_string())
                        .unwrap_or_default();
                    let ns = if declared.starts_with(&format!("{namespace}.")) {
                        declared
                    } else {
                        namespace.clone()
                    };
                    let text = crate::sync_flows::set_namespace(&raw, &ns);
                    let shown = format!("_flows/{}", e.rel);
                    let (ns, id) =
                        flows::check(&folder.registry, &text, &shown).map_err(|why| {
                            TaskError::new(
                                ErrorKind::BadData,
                                format!("Invalid flow imported from Git ({shown}): {why}"),
                            )
                            .hint("nothing was written to the flows folder")
                        })?;
                    let existing = local.iter().find(|l| l.namespace == ns && l.id == id);
                    match existing {
                        Some(l) => {
                            ctx.info(&format!("~ /_flows/{id}.yml"));
                            if flows::comparable(&l.source) != flows::comparable(&text) {
                                changes.push(Change {
                                    path: l.file.clone(),
                                    content: Some(text),
                                });
                            }
                        }
                        None => {
                            ctx.info(&format!("+ /_flows/{id}.yml"));
                            changes.push(Change {
                                path: folder.first()?.join(&ns).join(format!("{id}.yml")),
                                content: Some(text),
                            });
                        }
                    }
                    if ns == namespace {
                        mine.remove(&id);
                    }
                    imported.push(id);
                }
            }
            for (id, l) in mine {
                if id == ctx.flow_id() {
                    continue;
                }
                ctx.info(&format!("- /_flows/{id}.yml"));
                if l.docs_in_file > 1 {
                    return Err(TaskError::new(
                        ErrorKind::Unsupported,
                        format!(
                            "flow {namespace}.{id} shares `{}` with other flows, so it cannot be deleted alone",
                            l.file.display()
                        ),
                    ));
                }
                changes.push(Change {
                    path: l.file.clone(),
                    content: None,
                });
            }

            // Namespace files: everything else.
            let mut puts = Vec::new();
            let mut wanted = std::collections::BTreeSet::new();
            for e in tree::walk(ctx, &root, true)?
                .into_iter()
                .filter(|e| !e.is_dir)
            {
                if e.rel == "_flows" || e.rel.starts_with("_flows/") {
                    continue;
                }
                let path = if ns_dir.is_empty() {
                    format!("/{}", e.rel)
                } else {
                    format!("/{ns_dir}/{}", e.rel)
                };
                wanted.insert(path.clone());
                let existing = current_files.iter().find(|f| f.path == path);
                match existing {
                    Some(f) if same_bytes(&f.local, &e.path) => ctx.info(&format!("~ {path}")),
                    Some(_) => {
                        ctx.info(&format!("~ {path}"));
                        puts.push((path, e.path.clone()));
                    }
                    None => {
                        ctx.info(&format!("+ {path}"));
                        puts.push((path, e.path.clone()));
                    }
                }
            }
            let prefix = if ns_dir.is_empty() {
                "/".to_string()
            } else {
                format!("/{ns_dir}/")
            };
            let removals: Vec<&NamespaceFile> = current_files
                .iter()
                .filter(|f| f.path.starts_with(&prefix) && !wanted.contains(&f.path))
                .filter(|f| {
                    if !f.uploaded {
                        ctx.log(Level::Warn, &format!("{} is not in Git but is a file of the project's namespace folder, which runner never changes: kept", f.path));
                    }
                    f.uploaded
                })
                .collect();
            for f in &removals {
                ctx.info(&format!("- {}", f.path));
            }
            if dry {
                return Ok(Outputs::new());
            }
            flows::apply(&changes)?;
            let mut journal = Journal::new(ctx, &namespace, scratch.root.join("backups"));
            let mut result = Ok(());
            for f in &removals {
                result = journal.remove(f).await;
                if result.is_err() {
                    break;
                }
            }
            if result.is_ok() {
                for (path, source) in &puts {
                    let existing = current_files.iter().find(|f| &f.path == path);
                    result = journal.put(path, source, existing).await;
                    if result.is_err() {
                        break;
                    }
                }
            }
            if let Err(e) = result {
                journal.undo().await;
                return Err(
                    e.hint("the namespace files are left as they were (the flows were synced)")
                );
            }
            Ok(Outputs::new())
        })
    }
}

/// `flows` of the older Push.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct PushFlowsSpec {
    enabled: Option<Property<bool>>,
    child_namespaces: Option<Property<bool>>,
    git_directory: Option<Property<String>>,
}

impl PropType for PushFlowsSpec {
    const NAME: &'static str = "{enabled, childNamespaces, gitDirectory}";
}

/// `author` of the older Push.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AuthorSpec {
    name: Option<Property<String>>,
    email: Option<Property<String>>,
}

impl PropType for AuthorSpec {
    const NAME: &'static str = "{name, email}";
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Push {
    /// The repository to clone first; without it, the working directory (or `directory`)
    /// must be a clone already (from an earlier Clone task).
    url: Option<Property<String>>,
    /// The folder of the working directory holding the repository (default the working
    /// directory).
    directory: Option<Property<String>>,
    /// The branch to push to (made when missing).
    branch: Property<String>,
    /// The commit's message.
    commit_message: Property<String>,
    /// Namespace files to write into the working directory first.
    namespace_files: Option<NamespaceFiles>,
    /// Files to write into the working directory first (name to content or kestra:// URI).
    #[prop(type = "map or JSON string")]
    input_files: Option<Property<Json>>,
    /// The namespace's flows to add: `enabled` (default true), `childNamespaces` (default
    /// true), `gitDirectory` (default `_flows`).
    flows: Option<PushFlowsSpec>,
    /// What to stage, as `git add` paths (default `["."]`).
    add_files_pattern: Option<Property<Vec<String>>>,
    /// The commit's author: `name` and `email`.
    author: Option<AuthorSpec>,
    #[serde(flatten)]
    connection: Connection,
}

impl RunnableTask for Push {
    fn check(&self) -> Result<(), String> {
        check_key(&self.connection.private_key, &self.connection.passphrase)
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let branch = ctx.render(&self.branch, "branch")?;
            let message = ctx.render(&self.commit_message, "commitMessage")?;
            let wd = ctx.working_dir()?;
            let repo: PathBuf = match ctx.render_opt(&self.directory, "directory")? {
                Some(d) => wd
                    .join(&d)
                    .map_err(|e| TaskError::property("directory", e))?,
                None => wd.path().to_path_buf(),
            };
            let scratch = Scratch::new(ctx)?;
            let url = match &self.url {
                Some(_) => Some(required_url(ctx, &self.url)?),
                None => None,
            };
            let git = match url {
                Some(url) => {
                    let git = Git::new(ctx, url, &self.connection, &scratch.home())?;
                    let staging = scratch.repo();
                    git.clone_branch(&scratch.root, &staging, &branch, true)
                        .await?;
                    // The new content is the whole tree: everything tracked goes first.
                    git.run(&staging, &["rm", "-r", "-q", "--ignore-unmatch", "--", "."])
                        .await?;
                    crate::clone::move_into(&staging, &repo)?;
                    git
                }
                None => {
                    if !repo.join(".git").exists() {
                        return Err(TaskError::property(
                            "url",
                            format!(
                                "`{}` is not a git repository: give `url`, or clone it first (io.kestra.plugin.git.Clone)",
                                repo.display()
                            ),
                        ));
                    }
                    let origin = std::fs::read_to_string(repo.join(".git/config"))
                        .ok()
                        .and_then(|c| origin_url(&c))
                        .ok_or_else(|| {
                            TaskError::property(
                                "url",
                                "the repository has no `origin` remote: give `url`",
                            )
                        })?;
                    let git = Git::new(ctx, origin, &self.connection, &scratch.home())?;
                    let exists = git
                        .output(
                            &repo,
                            &[
                                "rev-parse",
                                "--verify",
                                "-q",
                                &format!("refs/heads/{branch}"),
                            ],
                            &[],
                        )
                        .await?
                        .success;
                    if exists {
                        git.run(&repo, &["checkout", "-q", &branch]).await?;
                    } else {
                        git.run(&repo, &["checkout", "-q", "-b", &branch]).await?;
                    }
                    git
                }
            };
            // runner's own folder in the working directory is never committed.
            let exclude = repo.join(".git/info/exclude");
            if let Some(parent) = exclude.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let mut rules = std::fs::read_to_string(&exclude).unwrap_or_default();
            rules.push_str("\n/.runner-git-*/\n");
            std::fs::write(&exclude, rules).map_err(|e| {
                TaskError::new(ErrorKind::Io, "cannot write the clone's exclude file").caused_by(e)
            })?;
            if let Some(files) = ctx.render_opt(&self.input_files, "inputFiles")? {
                ctx.write_input_files(&wd, &files, "inputFiles").await?;
            }
            if let Some(spec) = &self.namespace_files {
                ctx.load_namespace_files(&wd, spec).await?;
            }
            let spec = self.flows.clone().unwrap_or_default();
            if ctx
                .render_opt(&spec.enabled, "flows.enabled")?
                .unwrap_or(true)
            {
                match ctx.service::<FlowsFolder>() {
                    Some(folder) => {
                        let children = ctx
                            .render_opt(&spec.child_namespaces, "flows.childNamespaces")?
                            .unwrap_or(true);
                        let dir = tree::relative_dir(
                            &ctx.render_opt(&spec.git_directory, "flows.gitDirectory")?
                                .unwrap_or_else(|| "_flows".into()),
                            "flows.gitDirectory",
                        )?;
                        let ns = ctx.namespace();
                        let (local, _) = flows::list(&folder.folders)?;
                        for f in local.iter().filter(|f| {
                            f.namespace == ns
                                || (children && f.namespace.starts_with(&format!("{ns}.")))
                        }) {
                            let dest = repo
                                .join(&dir)
                                .join(format!("{}.{}.yml", f.namespace, f.id));
                            if let Some(parent) = dest.parent() {
                                let _ = std::fs::create_dir_all(parent);
                            }
                            std::fs::write(&dest, pushed_source(&f.source, ns, None)).map_err(
                                |e| {
                                    TaskError::new(
                                        ErrorKind::Io,
                                        format!("cannot write `{}`", dest.display()),
                                    )
                                    .caused_by(e)
                                },
                            )?;
                        }
                    }
                    None => ctx.log(
                        Level::Warn,
                        "this run has no flows folder: no flow is pushed",
                    ),
                }
            }
            let patterns = ctx
                .render_opt(&self.add_files_pattern, "addFilesPattern")?
                .unwrap_or_else(|| vec![".".into()]);
            for p in &patterns {
                git.run(&repo, &["add", "--all", "--", p]).await?;
            }
            let author = match &self.author {
                Some(a) => Author::new(
                    ctx.render_opt(&a.name, "author.name")?,
                    ctx.render_opt(&a.email, "author.email")?,
                    git.username(),
                ),
                None => Author::new(None, None, git.username()),
            };
            let sha = git
                .commit_and_push(&repo, &branch, &message, &author)
                .await?;
            let mut out = Outputs::new();
            out.insert("commitId".into(), sha.map_or(Json::Null, Json::String));
            Ok(out)
        })
    }
}

/// The `url` of `[remote "origin"]` in a git config file.
fn origin_url(config: &str) -> Option<String> {
    let mut in_origin = false;
    for line in config.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_origin = t == "[remote \"origin\"]";
        } else if in_origin && let Some(v) = t.strip_prefix("url") {
            return Some(v.trim_start().trim_start_matches('=').trim().to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_origin_is_read_from_the_config() {
        let c = "[core]\n\tbare = false\n[remote \"origin\"]\n\turl = https://host/r.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n";
        assert_eq!(super::origin_url(c).as_deref(), Some("https://host/r.git"));
    }
}
