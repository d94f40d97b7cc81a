//! `io.kestra.plugin.git.SyncFlows` and `SyncFlow`: flows from a branch into the run's flows
//! folder. Every flow is read, its namespace set to `targetNamespace` (plus its sub-folder,
//! with `includeChildNamespaces`) and validated with the run's task types before anything is
//! written; an invalid flow is refused with its `file:line:col` and nothing is written.
//! Flows are matched by namespace and id, not by file name: a changed flow is rewritten where
//! it is, a new one goes to `<flows folder>/<namespace>/<path under gitDirectory>`, and with
//! `delete` the folder's flows of the namespace that Git lacks are removed (never the flow
//! running the task). All changes are applied together or not at all.

use crate::flows::{self, Change, FlowsFolder, LocalFlow};
use crate::git::{Connection, Git, Scratch, check_key};
use crate::tree;
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub(crate) const SYNC_FLOWS: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.git.SyncFlows",
    aliases: &[],
    doc: "Sync flows from a Git branch into the run's flows folder (`--flows`): each flow validated first, namespaces set to `targetNamespace`, matched by namespace and id; `delete` removes flows Git lacks, `dryRun` only reports. All or nothing. Output: `flows`, the diff (Ion).",
    example: "id: sync\ntype: io.kestra.plugin.git.SyncFlows\nurl: https://github.com/kestra-io/flows\nbranch: main\ntargetNamespace: company.team\ngitDirectory: _flows\ndryRun: true",
    shape: runnable::<SyncFlows>(),
};

pub(crate) const SYNC_FLOW: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.git.SyncFlow",
    aliases: &[],
    doc: "Sync one flow file of a Git branch into the run's flows folder, in `targetNamespace`, validated first. Outputs: `flowId`, `namespace`, `revision`.",
    example: "id: sync\ntype: io.kestra.plugin.git.SyncFlow\nurl: https://github.com/kestra-io/flows\nbranch: main\ntargetNamespace: company.team\nflowPath: _flows/hello.yml\ndryRun: true",
    shape: runnable::<SyncFlow>(),
};

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SyncFlows {
    /// The repository: `https://`, `ssh://`, `git://` or `user@host:path`.
    url: Option<Property<String>>,
    /// The branch to read (default `main`).
    branch: Option<Property<String>>,
    /// The namespace the flows are written to; sub-folders of `gitDirectory` add to it with
    /// `includeChildNamespaces`.
    target_namespace: Property<String>,
    /// The folder of the repository holding the flows (default `_flows`).
    git_directory: Option<Property<String>>,
    /// Read sub-folders too, as child namespaces (default false: top-level files only).
    include_child_namespaces: Option<Property<bool>>,
    /// Remove the namespace's flows that Git lacks (default false).
    delete: Option<Property<bool>>,
    /// Skip invalid flows with a warning instead of failing (default false).
    ignore_invalid_flows: Option<Property<bool>>,
    /// Only report what would change (default false).
    dry_run: Option<Property<bool>>,
    /// Fail when `gitDirectory` is not in the branch (default true).
    fail_on_missing_directory: Option<Property<bool>>,
    #[serde(flatten)]
    connection: Connection,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SyncFlow {
    /// The repository: `https://`, `ssh://`, `git://` or `user@host:path`.
    url: Option<Property<String>>,
    /// The branch to read (default `main`).
    branch: Option<Property<String>>,
    /// The namespace the flow is written to.
    target_namespace: Property<String>,
    /// The flow's file, relative to the repository's root.
    flow_path: Property<String>,
    /// Only validate and report (default false).
    dry_run: Option<Property<bool>>,
    #[serde(flatten)]
    connection: Connection,
}

/// A namespace name as Kestra accepts it.
pub(crate) fn check_namespace(ns: &str, property: &str) -> Result<(), TaskError> {
    let ok = !ns.is_empty()
        && ns.split('.').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
    if ok {
        Ok(())
    } else {
        Err(TaskError::property(
            property,
            format!("`{ns}` is not a namespace (letters, digits, `_`, `-`, parts joined by dots)"),
        ))
    }
}

/// The URL, required at run time.
pub(crate) fn required_url(
    ctx: &RunContext,
    url: &Option<Property<String>>,
) -> Result<String, TaskError> {
    ctx.render_opt(url, "url")?
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| TaskError::property("url", "the repository's URL is required"))
}

/// Sets the flow's namespace as Kestra's SyncFlows does: the first line `namespace: x` (one
/// space) becomes `namespace: <ns>`; trailing blank space is dropped.
pub(crate) fn set_namespace(text: &str, namespace: &str) -> String {
    let mut done = false;
    let lines: Vec<String> = text
        .replace("\r\n", "\n")
        .lines()
        .map(|l| {
            if !done && l.starts_with("namespace: ") {
                done = true;
                format!("namespace: {namespace}")
            } else {
                l.to_string()
            }
        })
        .collect();
    let mut out = lines.join("\n").trim_end().to_string();
    out.push('\n');
    out
}

/// The revision a local flow is at: its `revision:` line, else 1 (runner keeps no history).
pub(crate) fn revision_of(source: &str) -> u64 {
    source
        .lines()
        .find_map(|l| l.strip_prefix("revision:"))
        .and_then(|r| r.trim().parse().ok())
        .unwrap_or(1)
}

/// A flow read from Git, checked.
struct GitFlow {
    git_path: String,
    rel: String,
    namespace: String,
    id: String,
    text: String,
}

/// Where a new flow goes: `<first folder>/<namespace>/<rel>`, as a `.yml` file.
fn new_flow_path(folder: &FlowsFolder, namespace: &str, rel: &str) -> Result<PathBuf, TaskError> {
    let mut rel = rel.to_string();
    if !(rel.ends_with(".yml") || rel.ends_with(".yaml")) {
        rel.push_str(".yml");
    }
    Ok(folder.first()?.join(namespace).join(rel))
}

impl RunnableTask for SyncFlows {
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
            let url = required_url(ctx, &self.url)?;
            let branch = ctx
                .render_opt(&self.branch, "branch")?
                .unwrap_or_else(|| "main".into());
            let target = ctx.render(&self.target_namespace, "targetNamespace")?;
            check_namespace(&target, "targetNamespace")?;
            let git_dir_text = ctx
                .render_opt(&self.git_directory, "gitDirectory")?
                .unwrap_or_else(|| "_flows".into());
            let git_dir = tree::relative_dir(&git_dir_text, "gitDirectory")?;
            let children = ctx
                .render_opt(&self.include_child_namespaces, "includeChildNamespaces")?
                .unwrap_or(false);
            let delete = ctx.render_opt(&self.delete, "delete")?.unwrap_or(false);
            let ignore_invalid = ctx
                .render_opt(&self.ignore_invalid_flows, "ignoreInvalidFlows")?
                .unwrap_or(false);
            let fail_on_missing = ctx
                .render_opt(&self.fail_on_missing_directory, "failOnMissingDirectory")?
                .unwrap_or(true);

            let scratch = Scratch::new(ctx)?;
            let git = Git::new(ctx, url, &self.connection, &scratch.home())?;
            let repo = scratch.repo();
            git.clone_branch(&scratch.root, &repo, &branch, false)
                .await?;
            let entries = match tree::sync_dir(&repo, &git_dir, &branch, fail_on_missing)? {
                Some(dir) => tree::walk(ctx, &dir, children)?,
                None => Vec::new(),
            };

            // Every Git flow, read and checked before anything is written.
            let mut from_git: Vec<GitFlow> = Vec::new();
            let mut invalid: Vec<String> = Vec::new();
            for e in entries.iter().filter(|e| !e.is_dir) {
                let git_path = if git_dir.is_empty() {
                    e.rel.clone()
                } else {
                    format!("{git_dir}/{}", e.rel)
                };
                let namespace = match e.rel.rsplit_once('/') {
                    Some((sub, _)) => format!("{target}.{}", sub.replace('/', ".")),
                    None => target.clone(),
                };
                let raw = std::fs::read_to_string(&e.path).map_err(|err| {
                    TaskError::new(
                        ErrorKind::BadData,
                        format!("Invalid flow imported from Git ({git_path}): not UTF-8 text"),
                    )
                    .caused_by(err)
                });
                let text = match raw {
                    Ok(t) => set_namespace(&t, &namespace),
                    Err(err) if ignore_invalid => {
                        ctx.log(Level::Warn, &err.to_string());
                        continue;
                    }
                    Err(err) => return Err(err),
                };
                match flows::check(&folder.registry, &text, &git_path) {
                    Ok((ns, id)) => from_git.push(GitFlow {
                        git_path,
                        rel: e.rel.clone(),
                        namespace: ns,
                        id,
                        text,
                    }),
                    Err(why) if ignore_invalid => ctx.log(
                        Level::Warn,
                        &format!("Invalid flow imported from Git ({}): {why}", e.rel),
                    ),
                    Err(why) => {
                        invalid.push(format!("Invalid flow imported from Git ({}): {why}", e.rel))
                    }
                }
            }
            if !invalid.is_empty() {
                let more = if invalid.len() > 3 {
                    format!(" (and {} more)", invalid.len() - 3)
                } else {
                    String::new()
                };
                return Err(TaskError::new(
                    ErrorKind::BadData,
                    format!("{}{more}", invalid[..invalid.len().min(3)].join("; ")),
                )
                .hint("nothing was written to the flows folder; fix the flow in Git, or set ignoreInvalidFlows: true to skip invalid flows"));
            }
            let mut seen: BTreeMap<(String, String), &str> = BTreeMap::new();
            for f in &from_git {
                if let Some(other) = seen.insert((f.namespace.clone(), f.id.clone()), &f.git_path) {
                    return Err(TaskError::new(
                        ErrorKind::BadData,
                        format!(
                            "flow {}.{} is defined twice in Git, in {other} and {}",
                            f.namespace, f.id, f.git_path
                        ),
                    )
                    .hint("nothing was written to the flows folder; keep one file per flow"));
                }
            }

            let (local, _) = flows::list(&folder.folders)?;
            let in_scope =
                |ns: &str| ns == target || (children && ns.starts_with(&format!("{target}.")));
            let mut by_key: BTreeMap<(String, String), &LocalFlow> = BTreeMap::new();
            for l in local.iter().filter(|l| in_scope(&l.namespace)) {
                by_key
                    .entry((l.namespace.clone(), l.id.clone()))
                    .or_insert(l);
            }
            let mut changes: Vec<Change> = Vec::new();
            let mut rows: Vec<(Option<String>, Json)> = Vec::new();
            let mut counts = [0usize; 4];
            let alone = |l: &LocalFlow, what: &str| -> Result<(), TaskError> {
                if l.docs_in_file > 1 {
                    return Err(TaskError::new(
                        ErrorKind::Unsupported,
                        format!(
                            "flow {}.{} shares `{}` with other flows, so it cannot be {what} alone",
                            l.namespace,
                            l.id,
                            l.file.display()
                        ),
                    )
                    .hint("nothing was written to the flows folder; keep one flow per file"));
                }
                Ok(())
            };
            for f in &from_git {
                let key = (f.namespace.clone(), f.id.clone());
                let (state, revision) = match by_key.remove(&key) {
                    Some(l) => {
                        let current = revision_of(&l.source);
                        if flows::comparable(&l.source) == flows::comparable(&f.text) {
                            counts[2] += 1;
                            ("UNCHANGED", current)
                        } else {
                            alone(l, "replaced")?;
                            changes.push(Change {
                                path: l.file.clone(),
                                content: Some(f.text.clone()),
                            });
                            counts[1] += 1;
                            ("UPDATED", current + 1)
                        }
                    }
                    None => {
                        let path = new_flow_path(folder, &target, &f.rel)?;
                        if path.exists() {
                            return Err(TaskError::new(
                                ErrorKind::Unsupported,
                                format!(
                                    "flow {}.{} from {} would be written to `{}`, which holds other flows",
                                    f.namespace, f.id, f.git_path,
                                    path.display()
                                ),
                            )
                            .hint("nothing was written to the flows folder; move that file"));
                        }
                        changes.push(Change {
                            path,
                            content: Some(f.text.clone()),
                        });
                        counts[0] += 1;
                        ("ADDED", 1)
                    }
                };
                ctx.log(
                    Level::Info,
                    &format!("{state} {}.{} ({})", f.namespace, f.id, f.git_path),
                );
                rows.push((
                    Some(f.git_path.clone()),
                    json!({"gitPath": f.git_path, "syncState": state, "flowId": f.id, "namespace": f.namespace, "revision": revision}),
                ));
            }
            if delete {
                for ((ns, id), l) in by_key {
                    if ns == ctx.namespace() && id == ctx.flow_id() {
                        continue; // the flow running this task is never deleted
                    }
                    alone(l, "deleted")?;
                    changes.push(Change {
                        path: l.file.clone(),
                        content: None,
                    });
                    counts[3] += 1;
                    ctx.log(
                        Level::Info,
                        &format!("DELETED {ns}.{id} ({})", l.file.display()),
                    );
                    rows.push((
                        None,
                        json!({"syncState": "DELETED", "flowId": id, "namespace": ns, "revision": revision_of(&l.source)}),
                    ));
                }
            }
            if !dry && !changes.is_empty() {
                flows::apply(&changes)?;
            }
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            let rows: Vec<Json> = rows.into_iter().map(|(_, r)| r).collect();
            ctx.info(&format!(
                "{}{} flow(s) from {} (branch {branch}): {} added, {} updated, {} unchanged, {} deleted",
                if dry { "Dry run, nothing written: " } else { "Synced " },
                rows.len(),
                git.shown,
                counts[0],
                counts[1],
                counts[2],
                counts[3]
            ));
            let uri = tree::write_diff(ctx, &rows).await?;
            let mut out = Outputs::new();
            out.insert("flows".into(), Json::String(uri));
            Ok(out)
        })
    }
}

impl RunnableTask for SyncFlow {
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
            let url = required_url(ctx, &self.url)?;
            let branch = ctx
                .render_opt(&self.branch, "branch")?
                .unwrap_or_else(|| "main".into());
            let target = ctx.render(&self.target_namespace, "targetNamespace")?;
            check_namespace(&target, "targetNamespace")?;
            let flow_path_text = ctx.render(&self.flow_path, "flowPath")?;
            let flow_path = tree::relative_dir(&flow_path_text, "flowPath")?;
            let scratch = Scratch::new(ctx)?;
            let git = Git::new(ctx, url, &self.connection, &scratch.home())?;
            let repo = scratch.repo();
            git.clone_branch(&scratch.root, &repo, &branch, false)
                .await?;
            let file = repo.join(&flow_path);
            let is_file = std::fs::symlink_metadata(&file).is_ok_and(|m| m.is_file());
            if flow_path.is_empty() || !is_file {
                return Err(TaskError::new(
                    ErrorKind::NotFound,
                    format!("Flow file not found at path: {flow_path_text}"),
                )
                .hint(format!(
                    "flowPath is relative to the repository's root, in branch `{branch}`"
                )));
            }
            let raw = std::fs::read_to_string(&file).map_err(|e| {
                TaskError::new(
                    ErrorKind::BadData,
                    format!("cannot read {flow_path} as text"),
                )
                .caused_by(e)
            })?;
            // The first `namespace:` line, however indented, becomes the target's.
            let mut done = false;
            let text: String = raw
                .replace("\r\n", "\n")
                .lines()
                .map(|l| {
                    if !done && l.trim_start().starts_with("namespace:") {
                        done = true;
                        format!("namespace: {target}")
                    } else {
                        l.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
                + "\n";
            if !text
                .lines()
                .any(|l| l.starts_with("id:") && !l[3..].trim().is_empty())
            {
                return Err(TaskError::new(
                    ErrorKind::BadData,
                    format!("Cannot parse flow id from YAML at path: {flow_path}"),
                ));
            }
            let (namespace, id) =
                flows::check(&folder.registry, &text, &flow_path).map_err(|why| {
                    TaskError::new(ErrorKind::BadData, format!("Flow validation failed: {why}"))
                        .hint("nothing was written to the flows folder")
                })?;
            let (local, _) = flows::list(&folder.folders)?;
            let existing = local
                .iter()
                .find(|l| l.namespace == namespace && l.id == id);
            let revision = match existing {
                Some(l) if flows::comparable(&l.source) == flows::comparable(&text) => {
                    ctx.info(&format!("Flow {namespace}.{id} is unchanged"));
                    revision_of(&l.source)
                }
                Some(l) => {
                    if l.docs_in_file > 1 {
                        return Err(TaskError::new(
                            ErrorKind::Unsupported,
                            format!(
                                "flow {namespace}.{id} shares `{}` with other flows, so it cannot be replaced alone",
                                l.file.display()
                            ),
                        ));
                    }
                    if !dry {
                        flows::apply(&[Change {
                            path: l.file.clone(),
                            content: Some(text.clone()),
                        }])?;
                    }
                    ctx.info(&format!(
                        "{}Flow {namespace}.{id} updated from {flow_path}",
                        if dry { "Dry run: " } else { "" }
                    ));
                    revision_of(&l.source) + 1
                }
                None => {
                    let name = flow_path.rsplit('/').next().unwrap_or(&flow_path);
                    let path = new_flow_path(folder, &namespace, name)?;
                    if path.exists() {
                        return Err(TaskError::new(
                            ErrorKind::Unsupported,
                            format!(
                                "flow {namespace}.{id} would be written to `{}`, which holds other flows",
                                path.display()
                            ),
                        ));
                    }
                    if !dry {
                        flows::apply(&[Change {
                            path,
                            content: Some(text.clone()),
                        }])?;
                    }
                    ctx.info(&format!(
                        "{}Flow {namespace}.{id} added from {flow_path}",
                        if dry { "Dry run: " } else { "" }
                    ));
                    1
                }
            };
            let mut out = Outputs::new();
            out.insert("flowId".into(), Json::String(id));
            out.insert("namespace".into(), Json::String(namespace));
            out.insert("revision".into(), json!(revision));
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_namespace_line_is_set_once() {
        let text = "id: a\nnamespace: old\ntasks:\n  - id: s\n    namespace: nested\n\n\n";
        assert_eq!(
            set_namespace(text, "company.team"),
            "id: a\nnamespace: company.team\ntasks:\n  - id: s\n    namespace: nested\n"
        );
        assert_eq!(revision_of("id: a\nrevision: 4\n"), 4);
        assert_eq!(revision_of("id: a\n"), 1);
        assert!(check_namespace("company.team-1", "x").is_ok());
        assert!(check_namespace("a..b", "x").is_err());
        assert!(check_namespace("a/b", "x").is_err());
    }
}
