//! Reading flow files (one file may hold several flows, as YAML documents) and validating them.

use crate::diagnostics::{Style, render};
use runner_core::{Plan, Registry, validate};
use runner_model::{Diagnostic, Node, Problem, load_str};
use runner_template::Renderer;
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

/// Each flow of a file: its `namespace.id` when readable, and its plan when valid.
pub(crate) type Checked = Vec<(Option<String>, Option<Plan>)>;

/// Reads a flow file and validates each of its flows, printing every problem. `None` when the
/// file cannot be read.
pub(crate) fn load(
    path: &Path,
    registry: &Registry,
    renderer: &Renderer,
    style: &Style,
) -> Option<(FlowFile, Checked)> {
    let file = match read(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "{}: cannot read `{}`: {e}",
                style.error_label(),
                path.display()
            );
            return None;
        }
    };
    let docs = match &file.docs {
        Ok(docs) => docs,
        Err(d) => {
            eprint!("{}", render(d, &file.path, &file.text, style));
            return Some((file, vec![(None, None)]));
        }
    };
    let mut results = Vec::new();
    for doc in docs {
        let v = validate(doc, registry, renderer);
        for d in &v.diagnostics {
            eprint!("{}", render(d, &file.path, &file.text, style));
        }
        results.push((v.name, v.plan));
    }
    Some((file, results))
}
