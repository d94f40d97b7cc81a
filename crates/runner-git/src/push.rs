//! The push tasks: `PushFlows` (the flows folder's flows), `PushNamespaceFiles` and
//! `PushExecutionFiles`, on Kestra's `AbstractPushTask`: clone the branch (made from the
//! default branch when missing), write the selected files under `gitDirectory`, remove with
//! `delete` (the default) the files there that were not written, stage, and then either show
//! the staged diff (`dryRun`) or commit and push. A rejected push (the branch moved on) is an
//! error with the remote's words. Outputs: `commitId`, `commitURL` and the diff (Ion rows
//! `{file, additions: "+N", deletions: "-N", changes: "N"}`).

use crate::flows::{self, FlowsFolder};
use crate::git::{Author, Connection, Git, Scratch, check_key, commit_url, http_url};
use crate::tree::{self, Ignore};
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::Map;
use std::path::PathBuf;

pub(crate) const PUSH_FLOWS: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.git.PushFlows",
    aliases: &[],
    doc: "Commit the flows of a namespace, from the run's flows folder (`--flows`), to a Git branch as `<gitDirectory>/<id>.yml` and push; `dryRun` outputs the diff without pushing. Outputs: `commitId`, `commitURL`, `flows` (the diff, Ion).",
    example: "id: push\ntype: io.kestra.plugin.git.PushFlows\nurl: https://github.com/company/flows\nusername: git-bot\npassword: \"{{ secret('GITHUB_TOKEN') }}\"\nbranch: main\nsourceNamespace: company.team\ngitDirectory: _flows\ndryRun: true",
    shape: runnable::<PushFlows>(),
};

pub(crate) const PUSH_NAMESPACE_FILES: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.git.PushNamespaceFiles",
    aliases: &[],
    doc: "Commit a namespace's files (`--namespace-files` and the files flows uploaded) to a Git branch under `gitDirectory` and push; `dryRun` outputs the diff without pushing. Outputs: `commitId`, `commitURL`, `files` (the diff, Ion).",
    example: "id: push\ntype: io.kestra.plugin.git.PushNamespaceFiles\nurl: https://github.com/company/scripts\nusername: git-bot\npassword: \"{{ secret('GITHUB_TOKEN') }}\"\nbranch: main\nnamespace: company.team\nfiles: \"**/*.py\"\ngitDirectory: _files\ndryRun: true",
    shape: runnable::<PushNamespaceFiles>(),
};

pub(crate) const PUSH_EXECUTION_FILES: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.git.PushExecutionFiles",
    aliases: &[],
    doc: "Commit files of this execution (`filesMap` of kestra:// URIs, `files` globs of the working directory, or every output file of earlier tasks) to a Git branch under `gitDirectory` and push. Outputs: `commitId`, `commitURL`, `files` (the diff, Ion).",
    example: "id: push\ntype: io.kestra.plugin.git.PushExecutionFiles\nurl: https://github.com/company/reports\nusername: git-bot\npassword: \"{{ secret('GITHUB_TOKEN') }}\"\nbranch: reports\nfilesMap:\n  report.csv: \"{{ outputs.query.uri }}\"\ndryRun: true",
    shape: runnable::<PushExecutionFiles>(),
};

/// What every push task takes besides what it pushes.
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PushOptions {
    /// The repository: `https://`, `ssh://`, `git://` or `user@host:path`.
    url: Option<Property<String>>,
    /// The branch to push to, made from the default branch when missing (default `main`).
    branch: Option<Property<String>>,
    /// The commit's message (each task has its default).
    commit_message: Option<Property<String>>,
    /// Only stage the changes and output their diff; nothing is pushed (default false).
    dry_run: Option<Property<bool>>,
    /// The commit's author (default `username`).
    author_name: Option<Property<String>>,
    /// The author's email (default `<authorName>@localhost`).
    author_email: Option<Property<String>>,
    /// Remove the files of `gitDirectory` that were not pushed this time (default true).
    delete: Option<Property<bool>>,
    #[serde(flatten)]
    connection: Connection,
}

/// Where a pushed file's content comes from.
pub(crate) enum Source {
    Text(String),
    File(PathBuf),
}

/// One file to push, under `gitDirectory`.
pub(crate) struct Pushed {
    pub(crate) rel: String,
    pub(crate) source: Source,
}

/// Globs as Kestra's push tasks take them: a list, a string holding a JSON array, or one
/// glob. `None` selects everything.
pub(crate) fn globs(value: Option<Json>, property: &str) -> Result<Option<Vec<String>>, TaskError> {
    let list = match value {
        None | Some(Json::Null) => return Ok(None),
        Some(Json::String(s)) if s.trim_start().starts_with('[') => serde_json::from_str::<
            Vec<String>,
        >(&s)
        .map_err(|e| TaskError::property(property, format!("not a JSON list of globs ({e})")))?,
        Some(Json::String(s)) => vec![s],
        Some(Json::Array(items)) => items
            .into_iter()
            .map(|i| match i {
                Json::String(s) => Ok(s),
                other => Err(TaskError::property(
                    property,
                    format!("each glob is a string, not {other}"),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(TaskError::property(
                property,
                format!("a glob or a list of globs, not {other}"),
            ));
        }
    };
    Ok(Some(list))
}

fn compile(list: &[String], property: &str) -> Result<Vec<PathPattern>, TaskError> {
    list.iter()
        .map(|g| PathPattern::new(g).map_err(|why| TaskError::property(property, why)))
        .collect()
}

/// The rendered common options.
pub(crate) struct Push<'a> {
    ctx: &'a RunContext,
    pub(crate) git: Git<'a>,
    scratch: Scratch,
    branch: String,
    git_dir: String,
    message: String,
    dry_run: bool,
    delete: bool,
    author: Author,
}

impl PushOptions {
    /// Renders the options and clones the branch (created when missing).
    pub(crate) async fn start<'a>(
        &self,
        ctx: &'a RunContext,
        git_dir_default: &str,
        git_directory: &Option<Property<String>>,
        default_message: String,
    ) -> Result<Push<'a>, TaskError> {
        let url = crate::sync_flows::required_url(ctx, &self.url)?;
        let branch = ctx
            .render_opt(&self.branch, "branch")?
            .unwrap_or_else(|| "main".into());
        let git_dir_text = ctx
            .render_opt(git_directory, "gitDirectory")?
            .unwrap_or_else(|| git_dir_default.into());
        let git_dir = tree::relative_dir(&git_dir_text, "gitDirectory")?;
        let message = ctx
            .render_opt(&self.commit_message, "commitMessage")?
            .unwrap_or(default_message);
        let dry_run = ctx.render_opt(&self.dry_run, "dryRun")?.unwrap_or(false);
        let delete = ctx.render_opt(&self.delete, "delete")?.unwrap_or(true);
        let author_name = ctx.render_opt(&self.author_name, "authorName")?;
        let author_email = ctx.render_opt(&self.author_email, "authorEmail")?;
        let scratch = Scratch::new(ctx)?;
        let git = Git::new(ctx, url, &self.connection, &scratch.home())?;
        let author = Author::new(author_name, author_email, git.username());
        git.clone_branch(&scratch.root, &scratch.repo(), &branch, true)
            .await?;
        Ok(Push {
            ctx,
            git,
            scratch,
            branch,
            git_dir,
            message,
            dry_run,
            delete,
            author,
        })
    }
}

impl Push<'_> {
    fn repo(&self) -> PathBuf {
        self.scratch.repo()
    }

    fn in_repo(&self, rel: &str) -> String {
        if self.git_dir.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", self.git_dir)
        }
    }

    /// Writes `files`, removes (with `delete`) what else `gitDirectory` tracks and `keep`
    /// selects, then stages and either reports or pushes. `diff_name` is the output naming
    /// the diff.
    pub(crate) async fn finish(
        self,
        files: Vec<Pushed>,
        keep: impl Fn(&str) -> bool,
        diff_name: &str,
    ) -> Result<Outputs, TaskError> {
        let repo = self.repo();
        let dir = if self.git_dir.is_empty() {
            repo.clone()
        } else {
            repo.join(&self.git_dir)
        };
        let ignore = Ignore::read(&dir);
        let files: Vec<Pushed> = files
            .into_iter()
            .filter(|f| f.rel == ".kestraignore" || !ignore.ignores(&f.rel, false))
            .collect();
        let written: Vec<String> = files.iter().map(|f| self.in_repo(&f.rel)).collect();
        if self.delete {
            let listed = self
                .git
                .run(
                    &repo,
                    &[
                        "ls-files",
                        "-z",
                        "--",
                        if self.git_dir.is_empty() {
                            "."
                        } else {
                            &self.git_dir
                        },
                    ],
                )
                .await?;
            let stale: Vec<String> = listed
                .stdout
                .split('\0')
                .filter(|p| !p.is_empty())
                .filter(|p| !written.iter().any(|w| w == p))
                .filter(|p| {
                    let rel = p.strip_prefix(&format!("{}/", self.git_dir)).unwrap_or(p);
                    !rel.ends_with(".kestraignore") && !ignore.ignores(rel, false) && keep(rel)
                })
                .map(str::to_string)
                .collect();
            if !stale.is_empty() {
                let mut args = vec!["rm", "-q", "--"];
                args.extend(stale.iter().map(String::as_str));
                self.git.run(&repo, &args).await?;
            }
        }
        if files.is_empty() {
            self.ctx
                .info("No content to push - skipping Git operations.");
            return Ok(Outputs::new());
        }
        for (f, path) in files.iter().zip(&written) {
            let dest = repo.join(path);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    TaskError::new(
                        ErrorKind::Io,
                        format!("cannot create `{}` in the clone", parent.display()),
                    )
                    .caused_by(e)
                })?;
            }
            let result = match &f.source {
                Source::Text(t) => std::fs::write(&dest, t),
                Source::File(p) => std::fs::copy(p, &dest).map(|_| ()),
            };
            result.map_err(|e| {
                TaskError::new(ErrorKind::Io, format!("cannot write `{path}` in the clone"))
                    .caused_by(e)
            })?;
        }
        let mut add = vec!["add", "--all", "--"];
        add.extend(written.iter().map(String::as_str));
        self.git.run(&repo, &add).await?;
        let rows = self.git.staged_diff(&repo).await?;
        let mut out = Outputs::new();
        if self.dry_run {
            self.ctx.info(&format!(
                "Dry run — no changes will be pushed to {} for now until you set the `dryRun` parameter to false",
                http_url(&self.git.url)
            ));
            for r in &rows {
                self.ctx.info(&format!(
                    "{} {} {}",
                    r["file"].as_str().unwrap_or_default(),
                    r["additions"].as_str().unwrap_or_default(),
                    r["deletions"].as_str().unwrap_or_default()
                ));
            }
            out.insert(
                diff_name.into(),
                Json::String(tree::write_diff(self.ctx, &rows).await?),
            );
            return Ok(out);
        }
        let sha = self
            .git
            .commit_and_push(&repo, &self.branch, &self.message, &self.author)
            .await?;
        match sha {
            Some(sha) => {
                out.insert(
                    "commitURL".into(),
                    Json::String(commit_url(&self.git.url, &sha, &self.branch)),
                );
                out.insert("commitId".into(), Json::String(sha));
                out.insert(
                    diff_name.into(),
                    Json::String(tree::write_diff(self.ctx, &rows).await?),
                );
            }
            None => {
                out.insert("commitId".into(), Json::Null);
                out.insert("commitURL".into(), Json::Null);
                out.insert(
                    diff_name.into(),
                    Json::String(tree::write_diff(self.ctx, &[]).await?),
                );
            }
        }
        Ok(out)
    }
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PushFlows {
    #[serde(flatten)]
    options: PushOptions,
    /// The folder of the repository the flows go to (default `_flows`).
    git_directory: Option<Property<String>>,
    /// The namespace whose flows are pushed (default the flow's).
    source_namespace: Option<Property<String>>,
    /// The namespace written in the pushed flows instead of `sourceNamespace` (child
    /// namespaces keep their suffix).
    target_namespace: Option<Property<String>>,
    /// Globs of the flow ids to push (a list, a JSON list or one glob; default all).
    #[prop(type = "string or list")]
    flows: Option<Property<Json>>,
    /// Push the flows of child namespaces too, in sub-folders (default false).
    include_child_namespaces: Option<Property<bool>>,
}

/// The source as pushed: `revision:` lines dropped, `sourceNamespace` (as a prefix, in every
/// `namespace:` line) replaced by `target`.
pub(crate) fn pushed_source(source: &str, from: &str, to: Option<&str>) -> String {
    let mut out: Vec<String> = Vec::new();
    for line in source.replace("\r\n", "\n").lines() {
        if line.starts_with("revision:") {
            continue;
        }
        if let Some(to) = to {
            let trimmed = line.trim_start();
            if let Some(rest) = trimmed.strip_prefix("namespace:") {
                let value = rest.trim_start();
                if let Some(suffix) = value.strip_prefix(from)
                    && (suffix.is_empty()
                        || suffix.starts_with('.')
                        || suffix.starts_with([' ', '#']))
                {
                    let prefix = &line[..line.len() - value.len()];
                    out.push(format!("{prefix}{to}{suffix}"));
                    continue;
                }
            }
        }
        out.push(line.to_string());
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

impl RunnableTask for PushFlows {
    fn check(&self) -> Result<(), String> {
        check_key(
            &self.options.connection.private_key,
            &self.options.connection.passphrase,
        )
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let folder = FlowsFolder::of(ctx)?;
            let source = ctx
                .render_opt(&self.source_namespace, "sourceNamespace")?
                .unwrap_or_else(|| ctx.namespace().to_string());
            let target = ctx.render_opt(&self.target_namespace, "targetNamespace")?;
            if let Some(t) = &target {
                crate::sync_flows::check_namespace(t, "targetNamespace")?;
            }
            let children = ctx
                .render_opt(&self.include_child_namespaces, "includeChildNamespaces")?
                .unwrap_or(false);
            let selected = globs(ctx.render_opt(&self.flows, "flows")?, "flows")?;
            let patterns = match &selected {
                Some(list) => Some(compile(list, "flows")?),
                None => None,
            };
            let (local, skipped) = flows::list(&folder.folders)?;
            for s in skipped {
                ctx.log(
                    Level::Warn,
                    &format!(
                        "Skipping invalid flow from entry {}: not a readable flow file",
                        s.display()
                    ),
                );
            }
            let mut files = Vec::new();
            for f in &local {
                let suffix = if f.namespace == source {
                    String::new()
                } else if children && f.namespace.starts_with(&format!("{source}.")) {
                    f.namespace[source.len() + 1..].replace('.', "/")
                } else {
                    continue;
                };
                if let Some(p) = &patterns
                    && !p.iter().any(|p| p.matches(&f.id))
                {
                    continue;
                }
                let rel = if suffix.is_empty() {
                    format!("{}.yml", f.id)
                } else {
                    format!("{suffix}/{}.yml", f.id)
                };
                files.push(Pushed {
                    rel,
                    source: Source::Text(pushed_source(&f.source, &source, target.as_deref())),
                });
            }
            let push = self
                .options
                .start(
                    ctx,
                    "_flows",
                    &self.git_directory,
                    format!("Add flows from {source} namespace"),
                )
                .await?;
            // With `flows` given, only files matching a glob (by path, name or stem) are removed.
            let keep = |rel: &str| match &patterns {
                None => true,
                Some(p) => {
                    let name = rel.rsplit('/').next().unwrap_or(rel);
                    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
                    p.iter()
                        .any(|p| p.matches(rel) || p.matches(name) || p.matches(stem))
                }
            };
            push.finish(files, keep, "flows").await
        })
    }
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PushNamespaceFiles {
    #[serde(flatten)]
    options: PushOptions,
    /// The folder of the repository the files go to (default `_files`).
    git_directory: Option<Property<String>>,
    /// The namespace whose files are pushed (default the flow's).
    namespace: Option<Property<String>>,
    /// Globs of the namespace files to push (a list, a JSON list or one glob; default all).
    #[prop(type = "string or list")]
    files: Option<Property<Json>>,
    /// Fail when no file matches (default false).
    error_on_missing: Option<Property<bool>>,
}

impl RunnableTask for PushNamespaceFiles {
    fn check(&self) -> Result<(), String> {
        check_key(
            &self.options.connection.private_key,
            &self.options.connection.passphrase,
        )
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let namespace = ctx
                .render_opt(&self.namespace, "namespace")?
                .unwrap_or_else(|| ctx.namespace().to_string());
            let selected = globs(ctx.render_opt(&self.files, "files")?, "files")?;
            let error_on_missing = ctx
                .render_opt(&self.error_on_missing, "errorOnMissing")?
                .unwrap_or(false);
            let found = match &selected {
                Some(list) => {
                    ctx.namespace_files_matching(&namespace, list, "files")
                        .await?
                }
                None => ctx.namespace_listing(&namespace).await?,
            };
            if found.is_empty() && error_on_missing {
                return Err(TaskError::new(
                    ErrorKind::NotFound,
                    "No Namespace Files matched the provided 'files' parameter to commit.",
                ));
            }
            let patterns = match &selected {
                Some(list) => Some(namespace_globs(list, "files")?),
                None => None,
            };
            let files = found
                .into_iter()
                .map(|f| Pushed {
                    rel: f.path.trim_start_matches('/').to_string(),
                    source: Source::File(f.local),
                })
                .collect();
            let push = self
                .options
                .start(
                    ctx,
                    "_files",
                    &self.git_directory,
                    format!("Add files from {namespace} namespace"),
                )
                .await?;
            let keep = |rel: &str| match &patterns {
                None => true,
                Some(p) => {
                    let path = format!("/{rel}");
                    p.iter().any(|p| p.matches(&path))
                }
            };
            push.finish(files, keep, "files").await
        })
    }
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PushExecutionFiles {
    #[serde(flatten)]
    options: PushOptions,
    /// The folder of the repository the files go to (default `_outputs`).
    git_directory: Option<Property<String>>,
    /// Globs of the working directory's files to push (then of earlier tasks' `outputFiles`).
    #[prop(type = "string or list")]
    files: Option<Property<Json>>,
    /// File name in Git to kestra:// URI (a map, or a JSON string of one); first choice.
    #[prop(type = "map or JSON string")]
    files_map: Option<Property<Json>>,
    /// Fail when no file is found (default false).
    error_on_missing: Option<Property<bool>>,
}

/// The `outputFiles` of every task run so far (name → kestra:// URI), in order.
fn output_files(ctx: &RunContext) -> Vec<(String, String)> {
    let record = ctx.execution_record();
    let mut out = Vec::new();
    for run in record["taskRunList"].as_array().into_iter().flatten() {
        if let Some(map) = run["outputs"]["outputFiles"].as_object() {
            for (name, uri) in map {
                if let Some(uri) = uri.as_str() {
                    out.push((name.clone(), uri.to_string()));
                }
            }
        }
    }
    out
}

impl RunnableTask for PushExecutionFiles {
    fn check(&self) -> Result<(), String> {
        check_key(
            &self.options.connection.private_key,
            &self.options.connection.passphrase,
        )
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let error_on_missing = ctx
                .render_opt(&self.error_on_missing, "errorOnMissing")?
                .unwrap_or(false);
            let selected = globs(ctx.render_opt(&self.files, "files")?, "files")?;
            let mut files: Vec<Pushed> = Vec::new();
            let storage_file = |name: &str, uri: &str| -> Result<Pushed, TaskError> {
                let path = ctx.execution_file_path(uri).map_err(|e| {
                    TaskError::new(ErrorKind::NotFound, format!("`{name}`: {e}"))
                        .hint("nothing was pushed; give kestra:// URIs of this execution's files")
                })?;
                Ok(Pushed {
                    rel: tree::relative_dir(name, "filesMap")?,
                    source: Source::File(path),
                })
            };
            if let Some(map) = ctx.render_opt(&self.files_map, "filesMap")? {
                let map: Map<String, Json> = match map {
                    Json::String(s) => serde_json::from_str(&s).map_err(|_| {
                        TaskError::property("filesMap", "filesMap must be a Map<String, String>")
                    })?,
                    Json::Object(m) => m,
                    _ => {
                        return Err(TaskError::property(
                            "filesMap",
                            "filesMap must be a Map<String, String>",
                        ));
                    }
                };
                for (name, uri) in map {
                    let Json::String(uri) = uri else {
                        return Err(TaskError::property(
                            "filesMap",
                            "filesMap must be a Map<String, String>",
                        ));
                    };
                    files.push(storage_file(&name, &uri)?);
                }
            } else if let Some(list) = &selected {
                let patterns = compile(list, "files")?;
                let wd = ctx.working_dir()?;
                let listed = list_files(wd.path()).await.map_err(|e| {
                    TaskError::new(ErrorKind::Io, "cannot list the working directory").caused_by(e)
                })?;
                for rel in listed
                    .into_iter()
                    .filter(|r| !r.starts_with(".runner-git-"))
                {
                    if patterns.iter().any(|p| p.matches(&rel)) {
                        files.push(Pushed {
                            source: Source::File(wd.path().join(&rel)),
                            rel,
                        });
                    }
                }
                if files.is_empty() {
                    // Then earlier tasks' output files, each glob read as a regex of `*`.
                    let regexes: Vec<PathPattern> = list
                        .iter()
                        .filter_map(|g| PathPattern::new(&format!("regex:{}", regex_of(g))).ok())
                        .collect();
                    for (name, uri) in output_files(ctx) {
                        if regexes.iter().any(|r| r.matches(&name)) {
                            files.push(storage_file(&name, &uri)?);
                        }
                    }
                }
                if files.is_empty() && error_on_missing {
                    return Err(TaskError::new(
                        ErrorKind::NotFound,
                        format!(
                            "No files matched the provided patterns: {}",
                            list.join(", ")
                        ),
                    ));
                }
            } else {
                let all = output_files(ctx);
                if all.is_empty() {
                    if error_on_missing {
                        return Err(TaskError::new(
                            ErrorKind::NotFound,
                            "No output files found in this execution.",
                        ));
                    }
                    ctx.log(
                        Level::Warn,
                        "No files, filesMap, or outputFiles found - skipping push.",
                    );
                    return Ok(Outputs::new());
                }
                ctx.info(
                    "No files or filesMap provided - pushing all execution output files instead.",
                );
                for (name, uri) in all {
                    files.push(storage_file(&name, &uri)?);
                }
            }
            let default_message = format!("Add files from execution {}", ctx.execution_id());
            let push = self
                .options
                .start(ctx, "_outputs", &self.git_directory, default_message)
                .await?;
            push.finish(files, |_| true, "files").await
        })
    }
}

/// A glob read as Kestra reads it for output files: `*` becomes `.*`, the rest is literal.
fn regex_of(glob: &str) -> String {
    glob.split('*')
        .map(regex_escape)
        .collect::<Vec<_>>()
        .join(".*")
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn globs_come_in_three_forms() {
        assert_eq!(globs(None, "f").unwrap(), None);
        assert_eq!(
            globs(Some(json!("a*")), "f").unwrap(),
            Some(vec!["a*".to_string()])
        );
        assert_eq!(
            globs(Some(json!("[\"a\", \"b\"]")), "f").unwrap(),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(
            globs(Some(json!(["x"])), "f").unwrap(),
            Some(vec!["x".to_string()])
        );
        assert!(globs(Some(json!(3)), "f").is_err());
    }

    #[test]
    fn pushed_flows_lose_revisions_and_change_namespace() {
        let src = "id: a\nnamespace: company.team\nrevision: 3\ntasks:\n  - id: s\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: company.team.sub\n    flowId: b\n  - id: other\n    namespace: company.teamwork\n";
        assert_eq!(
            pushed_source(src, "company.team", Some("prod")),
            "id: a\nnamespace: prod\ntasks:\n  - id: s\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: prod.sub\n    flowId: b\n  - id: other\n    namespace: company.teamwork\n"
        );
        assert_eq!(regex_of("out*.csv"), "out.*\\.csv");
    }
}
