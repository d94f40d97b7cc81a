//! `io.kestra.plugin.git.NamespaceSync`: one namespace's flows and files, both ways, with one
//! side as the source of truth. In Git they live under `<gitDirectory>/<namespace>/flows/<id>.yaml`
//! and `<gitDirectory>/<namespace>/files/**`; here, in the flows folder and the namespace's
//! files. With `sourceOfTruth: KESTRA` (the default) the branch is made to match and pushed;
//! with `GIT`, the flows folder and namespace files are (flows validated first, all or
//! nothing). Output: `diff` (Ion), `commitId`, `commitURL`.

use crate::flows::{self, Change, FlowsFolder};
use crate::git::{Author, Connection, Git, Scratch, check_key, commit_url};
use crate::namespace_files::{Journal, same_bytes};
use crate::sync_flows::{check_namespace, required_url};
use crate::tree;
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub(crate) const NAMESPACE_SYNC: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.git.NamespaceSync",
    aliases: &[],
    doc: "Sync one namespace's flows (the run's flows folder) and files with `<gitDirectory>/<namespace>/flows` and `/files` of a Git branch, both ways: `sourceOfTruth` KESTRA (push to Git, the default) or GIT (write locally); `whenMissingInSource` DELETE, KEEP or FAIL. Outputs: `diff` (Ion), `commitId`, `commitURL`.",
    example: "id: sync\ntype: io.kestra.plugin.git.NamespaceSync\nurl: https://github.com/company/kestra\nusername: git-bot\npassword: \"{{ secret('GITHUB_TOKEN') }}\"\nbranch: main\nnamespace: company.team\nsourceOfTruth: KESTRA\ndryRun: true",
    shape: runnable::<NamespaceSync>(),
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum SourceOfTruth {
    Git,
    Kestra,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum WhenMissing {
    Delete,
    Keep,
    Fail,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum OnInvalid {
    Skip,
    Warn,
    Fail,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NamespaceSync {
    /// The repository: `https://`, `ssh://`, `git://` or `user@host:path`.
    url: Option<Property<String>>,
    /// The branch (required).
    branch: Option<Property<String>>,
    /// The namespace to sync (required).
    namespace: Option<Property<String>>,
    /// The folder of the repository holding `<namespace>/flows` and `<namespace>/files`
    /// (default the root).
    git_directory: Option<Property<String>>,
    /// Which side wins: KESTRA (the default: Git is made to match) or GIT.
    source_of_truth: Option<Property<SourceOfTruth>>,
    /// What to do with what the source lacks: DELETE (default), KEEP or FAIL.
    when_missing_in_source: Option<Property<WhenMissing>>,
    /// Namespaces (and their children) never deleted from (default `[system]`).
    protected_namespaces: Option<Property<Vec<String>>>,
    /// What to do with a flow that is not valid: SKIP, WARN or FAIL (default).
    on_invalid_syntax: Option<Property<OnInvalid>>,
    /// Only report the plan (default false).
    dry_run: Option<Property<bool>>,
    /// The commit's message (default `Namespace sync from Kestra`).
    commit_message: Option<Property<String>>,
    /// The commit's author (default `username`).
    author_name: Option<Property<String>>,
    /// The author's email (default `<authorName>@localhost`).
    author_email: Option<Property<String>>,
    #[serde(flatten)]
    connection: Connection,
}

/// One side's view of an item.
enum Item {
    Flow {
        text: String,
        file: Option<PathBuf>,
        docs: usize,
    },
    File {
        path: PathBuf,
        uploaded: bool,
    },
}

struct Planned {
    key: String,
    kind: &'static str,
    action: &'static str,
    file: String,
}

impl RunnableTask for NamespaceSync {
    fn check(&self) -> Result<(), String> {
        check_key(&self.connection.private_key, &self.connection.passphrase)
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let branch = ctx
                .render_opt(&self.branch, "branch")?
                .ok_or_else(|| TaskError::property("branch", "Branch must be explicitly set."))?;
            let namespace = ctx
                .render_opt(&self.namespace, "namespace")?
                .ok_or_else(|| {
                    TaskError::property("namespace", "Namespace must be explicitly set.")
                })?;
            check_namespace(&namespace, "namespace")?;
            let url = required_url(ctx, &self.url)?;
            let git_dir = tree::relative_dir(
                &ctx.render_opt(&self.git_directory, "gitDirectory")?
                    .unwrap_or_default(),
                "gitDirectory",
            )?;
            let truth = ctx
                .render_opt(&self.source_of_truth, "sourceOfTruth")?
                .unwrap_or(SourceOfTruth::Kestra);
            let missing = ctx
                .render_opt(&self.when_missing_in_source, "whenMissingInSource")?
                .unwrap_or(WhenMissing::Delete);
            let protected = ctx
                .render_opt(&self.protected_namespaces, "protectedNamespaces")?
                .unwrap_or_else(|| vec!["system".into()]);
            let on_invalid = ctx
                .render_opt(&self.on_invalid_syntax, "onInvalidSyntax")?
                .unwrap_or(OnInvalid::Fail);
            let dry = ctx.render_opt(&self.dry_run, "dryRun")?.unwrap_or(false);
            let message = ctx
                .render_opt(&self.commit_message, "commitMessage")?
                .unwrap_or_else(|| "Namespace sync from Kestra".into());
            let author_name = ctx.render_opt(&self.author_name, "authorName")?;
            let author_email = ctx.render_opt(&self.author_email, "authorEmail")?;
            let folder = FlowsFolder::of(ctx)?;
            if truth == SourceOfTruth::Git && !dry {
                folder.check_writable()?;
            }
            let is_protected = protected
                .iter()
                .any(|p| namespace == *p || namespace.starts_with(&format!("{p}.")));

            let scratch = Scratch::new(ctx)?;
            let git = Git::new(ctx, url, &self.connection, &scratch.home())?;
            let repo = scratch.repo();
            git.clone_branch(
                &scratch.root,
                &repo,
                &branch,
                truth == SourceOfTruth::Kestra,
            )
            .await?;
            let base = if git_dir.is_empty() {
                namespace.clone()
            } else {
                format!("{git_dir}/{namespace}")
            };

            // Git's side: key -> (repo-relative path, item).
            let mut in_git: BTreeMap<String, (String, Item)> = BTreeMap::new();
            let flows_dir = repo.join(&base).join("flows");
            if flows_dir.is_dir() {
                for e in tree::walk(ctx, &flows_dir, false)? {
                    let Some(stem) = e
                        .rel
                        .strip_suffix(".yaml")
                        .or_else(|| e.rel.strip_suffix(".yml"))
                    else {
                        continue;
                    };
                    let text = std::fs::read_to_string(&e.path).unwrap_or_default();
                    in_git.insert(
                        format!("{namespace}:{stem}"),
                        (
                            format!("{base}/flows/{}", e.rel),
                            Item::Flow {
                                text,
                                file: None,
                                docs: 1,
                            },
                        ),
                    );
                }
            }
            let files_dir = repo.join(&base).join("files");
            let mut git_files: BTreeMap<String, (String, Item)> = BTreeMap::new();
            if files_dir.is_dir() {
                for e in tree::walk(ctx, &files_dir, true)?
                    .into_iter()
                    .filter(|e| !e.is_dir)
                {
                    git_files.insert(
                        format!("{namespace}:{}", e.rel),
                        (
                            format!("{base}/files/{}", e.rel),
                            Item::File {
                                path: e.path,
                                uploaded: false,
                            },
                        ),
                    );
                }
            }
            // This side.
            let (local, _) = flows::list(&folder.folders)?;
            let mut here: BTreeMap<String, Item> = BTreeMap::new();
            for l in local.iter().filter(|l| l.namespace == namespace) {
                here.entry(format!("{namespace}:{}", l.id))
                    .or_insert(Item::Flow {
                        text: l.source.clone(),
                        file: Some(l.file.clone()),
                        docs: l.docs_in_file,
                    });
            }
            let mut here_files: BTreeMap<String, Item> = BTreeMap::new();
            // No folder for the namespace's files: it has none (the Git side may bring some);
            // a folder that cannot be read is an error.
            let listed = match ctx.namespace_listing(&namespace).await {
                Ok(l) => l,
                Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(e),
            };
            for f in &listed {
                here_files.insert(
                    format!("{namespace}:{}", f.path.trim_start_matches('/')),
                    Item::File {
                        path: f.local.clone(),
                        uploaded: f.uploaded,
                    },
                );
            }

            let mut plan: Vec<Planned> = Vec::new();
            let mut flow_changes: Vec<Change> = Vec::new();
            let mut git_writes: Vec<(String, Vec<u8>)> = Vec::new();
            let mut git_removals: Vec<String> = Vec::new();
            let mut file_puts: Vec<(String, PathBuf)> = Vec::new();
            let mut file_removals: Vec<String> = Vec::new();
            let what_missing = |kind: &str, side: &str, other: &str, key: &str| {
                TaskError::new(
                    ErrorKind::NotFound,
                    format!(
                        "Sync failed: {kind} missing in {side} but present in {other} for key {key}"
                    ),
                )
            };
            for (kind, git_side, this_side) in
                [("FLOW", &in_git, &here), ("FILE", &git_files, &here_files)]
            {
                let keys: std::collections::BTreeSet<&String> =
                    git_side.keys().chain(this_side.keys()).collect();
                for key in keys {
                    let rel = key.split_once(':').map(|(_, r)| r).unwrap_or_default();
                    let git_path = match kind {
                        "FLOW" => git_side
                            .get(key)
                            .map(|(p, _)| p.clone())
                            .unwrap_or_else(|| format!("{base}/flows/{rel}.yaml")),
                        _ => format!("{base}/files/{rel}"),
                    };
                    let action = match (git_side.get(key), this_side.get(key)) {
                        (Some(_), None) if truth == SourceOfTruth::Git => "ADDED",
                        (Some(_), None) => match missing {
                            WhenMissing::Keep => "UNCHANGED",
                            WhenMissing::Fail => {
                                return Err(what_missing(kind, "KESTRA", "Git", key));
                            }
                            WhenMissing::Delete if is_protected => {
                                ctx.log(Level::Warn, &format!("{key} is in the protected namespace {namespace}: kept in Git"));
                                "UNCHANGED"
                            }
                            WhenMissing::Delete => "DELETED_GIT",
                        },
                        (None, Some(_)) if truth == SourceOfTruth::Kestra => "ADDED",
                        (None, Some(_)) => match missing {
                            WhenMissing::Keep => "UNCHANGED",
                            WhenMissing::Fail => {
                                return Err(what_missing(kind, "Git", "KESTRA", key));
                            }
                            WhenMissing::Delete if is_protected => {
                                ctx.log(Level::Warn, &format!("{key} is in the protected namespace {namespace}: not deleted"));
                                continue;
                            }
                            WhenMissing::Delete => "DELETED_KES",
                        },
                        (Some((_, g)), Some(h)) => {
                            let same = match (g, h) {
                                (Item::Flow { text: a, .. }, Item::Flow { text: b, .. }) => {
                                    flows::comparable(a) == flows::comparable(b)
                                }
                                (Item::File { path: a, .. }, Item::File { path: b, .. }) => {
                                    same_bytes(a, b)
                                }
                                _ => false,
                            };
                            match (same, truth) {
                                (true, _) => "UNCHANGED",
                                (false, SourceOfTruth::Git) => "UPDATED_KES",
                                (false, SourceOfTruth::Kestra) => "UPDATED_GIT",
                            }
                        }
                        (None, None) => continue,
                    };
                    // What the action does, on which side.
                    match (action, git_side.get(key), this_side.get(key)) {
                        ("ADDED" | "UPDATED_KES", Some((_, Item::Flow { text, .. })), existing)
                            if truth == SourceOfTruth::Git =>
                        {
                            let what = format!("flow {git_path}");
                            match flows::check(&folder.registry, text, &git_path) {
                                Ok((ns, id)) => {
                                    let path = match existing {
                                        Some(Item::Flow {
                                            file: Some(f),
                                            docs,
                                            ..
                                        }) => {
                                            if *docs > 1 {
                                                return Err(TaskError::new(
                                                    ErrorKind::Unsupported,
                                                    format!(
                                                        "{key} shares `{}` with other flows, so it cannot be replaced alone",
                                                        f.display()
                                                    ),
                                                ));
                                            }
                                            f.clone()
                                        }
                                        _ => folder.first()?.join(&ns).join(format!("{id}.yml")),
                                    };
                                    flow_changes.push(Change {
                                        path,
                                        content: Some(text.clone()),
                                    });
                                }
                                Err(why) => match on_invalid {
                                    OnInvalid::Skip => {
                                        ctx.info(&format!("Skipping invalid {what}"));
                                        continue;
                                    }
                                    OnInvalid::Warn => {
                                        ctx.log(Level::Warn, &format!("{what} couldn't be synced due to invalid syntax: {why}"));
                                        continue;
                                    }
                                    OnInvalid::Fail => {
                                        return Err(TaskError::new(
                                            ErrorKind::BadData,
                                            format!("Invalid syntax for {what}: {why}"),
                                        )
                                        .hint("nothing was written to the flows folder or the namespace files"));
                                    }
                                },
                            }
                        }
                        ("ADDED" | "UPDATED_KES", Some((_, Item::File { path, .. })), _)
                            if truth == SourceOfTruth::Git =>
                        {
                            file_puts.push((format!("/{rel}"), path.clone()));
                        }
                        ("ADDED" | "UPDATED_GIT", _, Some(Item::Flow { text, .. })) => {
                            let mut t = flows::comparable(text);
                            t.push('\n');
                            git_writes.push((git_path.clone(), t.into_bytes()));
                        }
                        ("ADDED" | "UPDATED_GIT", _, Some(Item::File { path, .. })) => {
                            let bytes = std::fs::read(path).map_err(|e| {
                                TaskError::new(
                                    ErrorKind::Io,
                                    format!("cannot read namespace file {key}"),
                                )
                                .caused_by(e)
                            })?;
                            git_writes.push((git_path.clone(), bytes));
                        }
                        ("DELETED_GIT", _, _) => git_removals.push(git_path.clone()),
                        (
                            "DELETED_KES",
                            _,
                            Some(Item::Flow {
                                file: Some(f),
                                docs,
                                ..
                            }),
                        ) => {
                            if *docs > 1 {
                                return Err(TaskError::new(
                                    ErrorKind::Unsupported,
                                    format!(
                                        "{key} shares `{}` with other flows, so it cannot be deleted alone",
                                        f.display()
                                    ),
                                ));
                            }
                            flow_changes.push(Change {
                                path: f.clone(),
                                content: None,
                            });
                        }
                        ("DELETED_KES", _, Some(Item::File { uploaded, .. })) => {
                            if *uploaded {
                                file_removals.push(format!("/{rel}"));
                            } else {
                                ctx.log(Level::Warn, &format!("{key} is a file of the project's namespace folder, which runner never changes: kept"));
                                continue;
                            }
                        }
                        _ => {}
                    }
                    if action != "UNCHANGED" {
                        ctx.info(&format!("{action} {kind} {key}"));
                    }
                    plan.push(Planned {
                        key: key.clone(),
                        kind,
                        action,
                        file: git_path,
                    });
                }
            }

            let mut out = Outputs::new();
            out.insert("commitId".into(), Json::Null);
            out.insert("commitURL".into(), Json::Null);
            let plan_rows = || -> Vec<Json> {
                plan.iter()
                    .filter(|p| p.action != "UNCHANGED")
                    .map(|p| json!({"file": p.file, "key": p.key, "kind": p.kind, "action": p.action}))
                    .collect()
            };
            match truth {
                SourceOfTruth::Git => {
                    if !dry {
                        flows::apply(&flow_changes)?;
                        let mut journal =
                            Journal::new(ctx, &namespace, scratch.root.join("backups"));
                        let mut result = Ok(());
                        for (path, source) in &file_puts {
                            let existing = listed.iter().find(|f| &f.path == path);
                            result = journal.put(path, source, existing).await;
                            if result.is_err() {
                                break;
                            }
                        }
                        if result.is_ok() {
                            for path in &file_removals {
                                if let Some(f) = listed.iter().find(|f| &f.path == path) {
                                    result = journal.remove(f).await;
                                    if result.is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                        if let Err(e) = result {
                            journal.undo().await;
                            // The flows were written first: put them back too.
                            let undo: Vec<Change> = flow_changes
                                .iter()
                                .map(|c| Change {
                                    path: c.path.clone(),
                                    content: here.values().find_map(|i| match i {
                                        Item::Flow {
                                            file: Some(f),
                                            text,
                                            ..
                                        } if *f == c.path => Some(text.clone()),
                                        _ => None,
                                    }),
                                })
                                .collect();
                            let _ = flows::apply(&undo);
                            return Err(e.hint(
                                "the flows folder and namespace files are left as they were",
                            ));
                        }
                    }
                    out.insert(
                        "diff".into(),
                        Json::String(tree::write_diff(ctx, &plan_rows()).await?),
                    );
                }
                SourceOfTruth::Kestra => {
                    for (path, bytes) in &git_writes {
                        let dest = repo.join(path);
                        if let Some(parent) = dest.parent() {
                            std::fs::create_dir_all(parent).map_err(|e| {
                                TaskError::new(ErrorKind::Io, "cannot write in the clone")
                                    .caused_by(e)
                            })?;
                        }
                        std::fs::write(&dest, bytes).map_err(|e| {
                            TaskError::new(
                                ErrorKind::Io,
                                format!("cannot write `{path}` in the clone"),
                            )
                            .caused_by(e)
                        })?;
                    }
                    if !git_removals.is_empty() {
                        let mut args = vec!["rm", "-q", "--ignore-unmatch", "--"];
                        args.extend(git_removals.iter().map(String::as_str));
                        git.run(&repo, &args).await?;
                    }
                    let scope = if git_dir.is_empty() {
                        ".".to_string()
                    } else {
                        git_dir.clone()
                    };
                    if repo.join(&scope).exists() {
                        git.run(&repo, &["add", "--all", "--", &scope]).await?;
                    }
                    if dry {
                        out.insert(
                            "diff".into(),
                            Json::String(tree::write_diff(ctx, &plan_rows()).await?),
                        );
                    } else {
                        let rows: Vec<Json> = git
                            .staged_diff(&repo)
                            .await?
                            .into_iter()
                            .map(|r| {
                                let n = |k: &str| {
                                    r[k].as_str()
                                        .unwrap_or_default()
                                        .trim_start_matches(['+', '-'])
                                        .parse::<u64>()
                                        .map(Json::from)
                                        .unwrap_or(Json::Null)
                                };
                                json!({"file": r["file"], "additions": n("additions"), "deletions": n("deletions"), "changes": n("changes")})
                            })
                            .collect();
                        let author = Author::new(author_name, author_email, git.username());
                        if let Some(sha) = git
                            .commit_and_push(&repo, &branch, &message, &author)
                            .await?
                        {
                            out.insert(
                                "commitURL".into(),
                                Json::String(commit_url(&git.url, &sha, &branch)),
                            );
                            out.insert("commitId".into(), Json::String(sha));
                        }
                        out.insert(
                            "diff".into(),
                            Json::String(tree::write_diff(ctx, &rows).await?),
                        );
                    }
                }
            }
            Ok(out)
        })
    }
}
