//! `runner deploy PATHS --server URL`: every flow is checked first as `validate --strict` does
//! (nothing is sent if one is invalid); then each flow is created on the server, or updated
//! when its YAML differs from the server's, the namespace files of their namespaces are
//! uploaded where they differ, and with `--prune` the server's flows of those namespaces that
//! PATHS no longer have are deleted. `--dry-run` says all that and sends nothing.

use crate::cli::DeployArgs;
use crate::diagnostics::Source;
use crate::files::{self, Gate};
use crate::server::{Remote, connect, runtime, show_refusal};
use crate::{exit, report};
use runner_kestra::ApiError;
use runner_model::Node;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// One flow to deploy: where it is written and its own YAML text.
pub(crate) struct LocalFlow {
    pub(crate) namespace: String,
    pub(crate) id: String,
    pub(crate) file: PathBuf,
    pub(crate) text: Rc<Source>,
    pub(crate) doc: Node,
    /// The flow's own document, as the server keeps it.
    pub(crate) source: String,
}

impl LocalFlow {
    pub(crate) fn name(&self) -> String {
        format!("{}.{}", self.namespace, self.id)
    }
}

/// A namespace file to deploy: its path in the namespace (`/scripts/etl.py`) and on disk.
struct LocalFile {
    namespace: String,
    path: String,
    disk: PathBuf,
}

pub(crate) fn deploy(args: DeployArgs) -> u8 {
    // Plugins runner lacks are the server's to judge (it answers for each flow); everything
    // else is checked as `validate --strict` does.
    let gate = Gate {
        strict: true,
        allow_unsupported: true,
    };
    if args.prune
        && let Some(file) = args.paths.iter().find(|p| !p.is_dir())
    {
        return report(
            format!(
                "--prune deletes the server's flows that the paths do not have, so it takes folders: `{}` is a file",
                file.display()
            ),
            exit::INVALID,
        );
    }
    if crate::validate::validate_paths(&args.paths, None, gate, false) != exit::SUCCESS {
        return report(
            "nothing was deployed: fix the problems above first (`runner validate --strict --allow-unsupported` shows them)",
            exit::INVALID,
        );
    }
    let flows = match local_flows(&args.paths) {
        Ok(f) => f,
        Err(e) => return report(e, exit::INVALID),
    };
    if flows.is_empty() {
        return report("no flow to deploy under the paths given", exit::INVALID);
    }
    let files = match local_files(&flows, &args.namespace_files) {
        Ok(f) => f,
        Err(e) => return report(e, exit::INVALID),
    };
    let remote = match connect(&args.server.server, &args.server.tenant, &args.server.env) {
        Ok(r) => r,
        Err(e) => return report(e, exit::INVALID),
    };
    let runtime = match runtime() {
        Ok(r) => r,
        Err(e) => return report(e, exit::FAILED),
    };
    runtime.block_on(async {
        if let Err(e) = remote.check().await {
            return report(e, exit::FAILED);
        }
        send(&remote, &flows, &files, args.prune, args.dry_run).await
    })
}

/// What happened, counted for the last line.
#[derive(Default)]
struct Tally {
    created: usize,
    updated: usize,
    unchanged: usize,
    deleted: usize,
    refused: usize,
    uploaded: usize,
    same_files: usize,
}

/// What a line says was done: "created" or, in a dry run, "would create".
fn done(dry_run: bool, verb: &str) -> String {
    match (dry_run, verb.ends_with('e')) {
        (true, _) => format!("would {verb}"),
        (false, true) => format!("{verb}d"),
        (false, false) => format!("{verb}ed"),
    }
}

/// Where the server's flow is, compared with the local one.
pub(crate) enum Compared {
    Missing,
    Same(runner_kestra::RemoteFlow),
    Different(runner_kestra::RemoteFlow),
}

pub(crate) async fn compare(remote: &Remote, flow: &LocalFlow) -> Result<Compared, ApiError> {
    Ok(match remote.server.flow(&flow.namespace, &flow.id).await? {
        None => Compared::Missing,
        Some(f) if same_text(f.source.as_deref(), &flow.source) => Compared::Same(f),
        Some(f) => Compared::Different(f),
    })
}

/// Creates or updates the flow as compared; the server's flow after.
pub(crate) async fn put(
    remote: &Remote,
    flow: &LocalFlow,
    compared: &Compared,
) -> Result<runner_kestra::RemoteFlow, ApiError> {
    match compared {
        Compared::Missing => remote.server.create_flow(&flow.source).await,
        Compared::Same(f) => Ok(f.clone()),
        Compared::Different(_) => {
            remote
                .server
                .update_flow(&flow.namespace, &flow.id, &flow.source)
                .await
        }
    }
}

async fn send(
    remote: &Remote,
    flows: &[LocalFlow],
    files: &[LocalFile],
    prune: bool,
    dry_run: bool,
) -> u8 {
    let mut tally = Tally::default();
    let mut out = String::new();
    // Files first: a flow that starts (a trigger) as soon as it lands finds its scripts.
    let mut existing_files: BTreeMap<&str, BTreeMap<String, Option<u64>>> = BTreeMap::new();
    for file in files {
        if existing_files.contains_key(file.namespace.as_str()) {
            continue;
        }
        match remote.server.namespace_files(&file.namespace).await {
            Ok(list) => {
                existing_files.insert(
                    &file.namespace,
                    list.into_iter().map(|f| (f.path, f.size)).collect(),
                );
            }
            Err(e) => return stop(remote, &e, &out),
        }
    }
    for file in files {
        let size = std::fs::metadata(&file.disk).map(|m| m.len()).ok();
        let on_server = existing_files
            .get(file.namespace.as_str())
            .and_then(|m| m.get(&file.path));
        let same = match on_server {
            None => false,
            Some(Some(theirs)) if Some(*theirs) != size => false,
            Some(_) => match remote
                .server
                .same_file(&file.namespace, &file.path, &file.disk)
                .await
            {
                Ok(same) => same,
                Err(e) => return stop(remote, &e, &out),
            },
        };
        if same {
            tally.same_files += 1;
            continue;
        }
        if !dry_run
            && let Err(e) = remote
                .server
                .upload_file(&file.namespace, &file.path, &file.disk)
                .await
        {
            return stop(remote, &e, &out);
        }
        let _ = writeln!(
            out,
            "{:<15} {} {}  ({})",
            done(dry_run, "upload"),
            file.namespace,
            file.path,
            file.disk.display()
        );
        tally.uploaded += 1;
    }
    for flow in flows {
        let shown = flow.file.display();
        let compared = match compare(remote, flow).await {
            Ok(c) => c,
            Err(e) => return stop(remote, &e, &out),
        };
        let (verb, before) = match &compared {
            Compared::Same(_) => {
                let _ = writeln!(out, "{:<15} {}  ({shown})", "unchanged", flow.name());
                tally.unchanged += 1;
                continue;
            }
            Compared::Missing => ("create", None),
            Compared::Different(f) => ("update", f.revision),
        };
        if dry_run {
            let revision = before
                .map(|r| format!(", revision {r} on the server"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{:<15} {}  ({shown}{revision})",
                done(true, verb),
                flow.name()
            );
            if let Compared::Different(f) = &compared {
                let theirs = f.source.as_deref().unwrap_or_default();
                out.push_str(&remote.mask(&diff(theirs, &flow.source, &flow.file)));
                tally.updated += 1;
            } else {
                tally.created += 1;
            }
            continue;
        }
        match put(remote, flow, &compared).await {
            Ok(now) => {
                let revision = match (before, now.revision) {
                    (Some(b), Some(a)) => format!(", revision {b} -> {a}"),
                    (None, Some(a)) => format!(", revision {a}"),
                    _ => String::new(),
                };
                let _ = writeln!(
                    out,
                    "{:<15} {}  ({shown}{revision})",
                    done(false, verb),
                    flow.name()
                );
                if verb == "create" {
                    tally.created += 1;
                } else {
                    tally.updated += 1;
                }
            }
            Err(e @ ApiError::Refused { .. }) => {
                // Said where the flow is written; the others still go.
                print_out(&mut out);
                show_refusal(remote, &e, Some(&flow.doc), &flow.file, &flow.text);
                tally.refused += 1;
            }
            Err(e) => return stop(remote, &e, &out),
        }
    }
    if prune && tally.refused == 0 {
        let mine: BTreeSet<(&str, &str)> = flows
            .iter()
            .map(|f| (f.namespace.as_str(), f.id.as_str()))
            .collect();
        let namespaces: BTreeSet<&str> = flows.iter().map(|f| f.namespace.as_str()).collect();
        for namespace in namespaces {
            let ids = match remote.server.flows_of(namespace).await {
                Ok(ids) => ids,
                Err(e) => return stop(remote, &e, &out),
            };
            for id in ids
                .iter()
                .filter(|id| !mine.contains(&(namespace, id.as_str())))
            {
                if !dry_run && let Err(e) = remote.server.delete_flow(namespace, id).await {
                    return stop(remote, &e, &out);
                }
                let _ = writeln!(
                    out,
                    "{:<15} {namespace}.{id}  (not under the paths given)",
                    done(dry_run, "delete")
                );
                tally.deleted += 1;
            }
        }
    }
    print_out(&mut out);
    let mut last = if dry_run {
        format!(
            "dry run against {}: {} flow(s) would be created, {} updated, {} unchanged",
            remote.server.address(),
            tally.created,
            tally.updated,
            tally.unchanged
        )
    } else {
        format!(
            "deployed to {}: {} flow(s) created, {} updated, {} unchanged",
            remote.server.address(),
            tally.created,
            tally.updated,
            tally.unchanged
        )
    };
    if prune {
        let _ = write!(last, ", {} deleted", tally.deleted);
    }
    let _ = write!(
        last,
        "; {} namespace file(s) {}, {} unchanged",
        tally.uploaded,
        if dry_run {
            "would be uploaded"
        } else {
            "uploaded"
        },
        tally.same_files
    );
    if dry_run {
        last.push_str(" (nothing was sent)");
    }
    if tally.refused > 0 {
        let skipped = if prune {
            "; --prune deleted nothing"
        } else {
            ""
        };
        return report(
            format!(
                "{last}; the server refused {} flow(s), shown above{skipped}",
                tally.refused
            ),
            exit::FAILED,
        );
    }
    crate::say!("{last}");
    exit::SUCCESS
}

/// Prints what was done so far, then why it stopped.
fn stop(remote: &Remote, e: &ApiError, out: &str) -> u8 {
    let _ = crate::write_stdout(out.as_bytes());
    report(
        format!("{} (deploy stopped here)", remote.explain(e)),
        exit::FAILED,
    )
}

fn print_out(out: &mut String) {
    let _ = crate::write_stdout(out.as_bytes());
    out.clear();
}

/// The same flow text, but for white space at its end (Kestra keeps what it was sent).
fn same_text(server: Option<&str>, local: &str) -> bool {
    server.is_some_and(|s| s.trim_end() == local.trim_end())
}

/// A unified diff from the server's YAML to the local one.
fn diff(server: &str, local: &str, file: &Path) -> String {
    let diff = similar::TextDiff::from_lines(server, local);
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header("server", &file.display().to_string())
        .to_string();
    let mut out = String::new();
    for line in text.lines() {
        let _ = writeln!(out, "    {line}");
    }
    out
}

/// Every flow under `paths` (test suites left out), with the YAML text of its own document.
pub(crate) fn local_flows(paths: &[PathBuf]) -> Result<Vec<LocalFlow>, String> {
    let mut flows: Vec<LocalFlow> = Vec::new();
    for path in files::collect(paths)? {
        let file = files::read(&path)?;
        let docs = file
            .docs
            .map_err(|_| format!("`{}` is not valid YAML", path.display()))?;
        let docs: Vec<Node> = docs
            .into_iter()
            .filter(|d| !runner_testsuite::is_test_suite(d))
            .collect();
        if docs.is_empty() {
            continue;
        }
        let text = Rc::new(file.text);
        let texts = documents(text.text());
        let texts: Vec<String> = texts
            .into_iter()
            .filter(|t| {
                runner_model::load_str(t)
                    .ok()
                    .and_then(|d| d.into_iter().next())
                    .is_some_and(|d| !runner_testsuite::is_test_suite(&d))
            })
            .collect();
        if texts.len() != docs.len() {
            return Err(format!(
                "cannot tell the {} flows of `{}` apart: give each flow its own file (Kestra keeps one flow per source)",
                docs.len(),
                path.display()
            ));
        }
        for (doc, source) in docs.into_iter().zip(texts) {
            let field = |k: &str| doc.get(k).and_then(|n| n.as_str()).map(str::to_string);
            let (Some(namespace), Some(id)) = (field("namespace"), field("id")) else {
                return Err(format!(
                    "a flow of `{}` has no id or namespace",
                    path.display()
                ));
            };
            if let Some(other) = flows
                .iter()
                .find(|f| f.namespace == namespace && f.id == id)
            {
                return Err(format!(
                    "flow {namespace}.{id} is in both `{}` and `{}`: deploy one of them",
                    other.file.display(),
                    path.display()
                ));
            }
            flows.push(LocalFlow {
                namespace,
                id,
                file: path.clone(),
                text: text.clone(),
                doc,
                source,
            });
        }
    }
    Ok(flows)
}

/// A file's YAML documents as texts: split at the `---` lines that start a document (at
/// column 0, where a block scalar can never be).
fn documents(text: &str) -> Vec<String> {
    let mut docs = vec![String::new()];
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if bare == "---" || bare.starts_with("--- ") || bare.starts_with("---\t") {
            docs.push(String::new());
            if let Some(rest) = bare.strip_prefix("---").map(str::trim)
                && !rest.is_empty()
                && !rest.starts_with('#')
            {
                let last = docs.last_mut().expect("pushed");
                last.push_str(rest);
                last.push('\n');
            }
            continue;
        }
        docs.last_mut().expect("one at least").push_str(line);
    }
    docs.into_iter()
        .filter(|d| {
            d.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        })
        .collect()
}

/// The namespace files to deploy: `--namespace-files NAMESPACE=DIR`, and the `_files` folder
/// beside each flow file for that flow's namespace (as `runner run` reads them).
fn local_files(flows: &[LocalFlow], given: &[String]) -> Result<Vec<LocalFile>, String> {
    let mut folders: Vec<(String, PathBuf)> = Vec::new();
    for pair in given {
        let (namespace, dir) = pair.split_once('=').ok_or_else(|| {
            format!("`--namespace-files {pair}` is not of the form NAMESPACE=DIR")
        })?;
        runner_core::kv::check_namespace_name(namespace).map_err(|e| e.to_string())?;
        let dir = PathBuf::from(dir);
        if !dir.is_dir() {
            return Err(format!(
                "--namespace-files: `{}` is not a folder",
                dir.display()
            ));
        }
        folders.push((namespace.to_string(), dir));
    }
    for flow in flows {
        let beside = flow
            .file
            .parent()
            .map_or_else(|| PathBuf::from("_files"), |p| p.join("_files"));
        if beside.is_dir()
            && !folders
                .iter()
                .any(|(n, d)| *n == flow.namespace && *d == beside)
        {
            folders.push((flow.namespace.clone(), beside));
        }
    }
    let mut out: Vec<LocalFile> = Vec::new();
    let mut seen: BTreeMap<(String, String), PathBuf> = BTreeMap::new();
    for (namespace, dir) in folders {
        for disk in walk_files(&dir)? {
            let relative = disk.strip_prefix(&dir).expect("under the folder");
            let parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().to_string())
                .collect();
            let path = format!("/{}", parts.join("/"));
            if path.starts_with("/_flows/") {
                return Err(format!(
                    "`{}`: Kestra keeps flows, not files, under `_flows/`; move it",
                    disk.display()
                ));
            }
            if let Some(first) = seen.insert((namespace.clone(), path.clone()), disk.clone()) {
                return Err(format!(
                    "namespace {namespace} gets {path} from both `{}` and `{}`: keep one",
                    first.display(),
                    disk.display()
                ));
            }
            out.push(LocalFile {
                namespace: namespace.clone(),
                path,
                disk,
            });
        }
    }
    Ok(out)
}

/// The regular files under `dir`, sorted; links are not followed (a link could lead out of
/// the folder and send what was never meant to be).
fn walk_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let entries =
            std::fs::read_dir(&d).map_err(|e| format!("cannot list `{}`: {e}", d.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot list `{}`: {e}", d.display()))?;
            let kind = entry
                .file_type()
                .map_err(|e| format!("cannot read `{}`: {e}", entry.path().display()))?;
            if kind.is_dir() {
                todo.push(entry.path());
            } else if kind.is_file() {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_split_at_markers_only() {
        let text = "id: a\nnamespace: n\ntasks:\n  - id: s\n    type: io.kestra.plugin.scripts.shell.Script\n    script: |\n      echo ---\n      ---\n---\n# second\nid: b\nnamespace: n\n--- # third\nid: c\n";
        let docs = documents(text);
        assert_eq!(docs.len(), 3, "{docs:?}");
        assert!(docs[0].contains("      ---\n"), "{}", docs[0]);
        assert!(docs[1].starts_with("# second\nid: b"));
        assert_eq!(docs[2], "id: c\n");
        assert_eq!(documents("---\nid: a\n"), ["id: a\n"]);
    }
}
