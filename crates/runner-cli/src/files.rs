//! Reading flow files: one file may hold several flows (YAML documents).

use runner_model::{Diagnostic, Node, Problem, load_str};
use std::path::{Path, PathBuf};

/// A flow file as read from disk: its text (for snippets) and its documents.
pub(crate) struct FlowFile {
    pub(crate) path: PathBuf,
    pub(crate) text: String,
    pub(crate) docs: Result<Vec<Node>, Diagnostic>,
}

pub(crate) fn read(path: &Path) -> std::io::Result<FlowFile> {
    let text = std::fs::read_to_string(path)?;
    let docs = load_str(&text)
        .map_err(|e| Diagnostic::error(Problem::Yaml { message: e.message }, e.span, ""))
        .and_then(|docs| {
            let docs: Vec<Node> = docs.into_iter().filter(|d| !d.is_null()).collect();
            if docs.is_empty() {
                Err(Diagnostic::error(Problem::NoFlow, None, ""))
            } else {
                Ok(docs)
            }
        });
    Ok(FlowFile {
        path: path.to_path_buf(),
        text,
        docs,
    })
}

/// Every .yaml/.yml file under the given paths, sorted, folders searched recursively.
pub(crate) fn collect(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
    Ok(())
}
