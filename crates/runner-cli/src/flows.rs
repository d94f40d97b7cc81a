//! The flows folder: where Subflow tasks find the flows they call, by namespace and id. It is
//! read when a subflow is first called, and each flow is validated when it is first used.

use crate::files;
use runner_core::{FlowSource, Plan, Registry};
use runner_template::Renderer;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

/// `namespace.id` to where the flow is.
#[derive(Default)]
struct Index {
    flows: BTreeMap<(String, String), Located>,
    /// Files that could not be read or parsed: named when a flow is not found.
    unreadable: Vec<PathBuf>,
}

/// Where each flow of the folders is, and the plans made so far.
pub(crate) struct FlowFolder {
    roots: Vec<PathBuf>,
    registry: Registry,
    /// `namespace.id` to the file and document index, or why the folders cannot be read.
    index: OnceLock<Result<Index, String>>,
    plans: Mutex<BTreeMap<(String, String), Arc<Plan>>>,
}

#[derive(Clone)]
struct Located {
    path: PathBuf,
    doc: usize,
    /// Another file that defines the same flow: an error when the flow is called.
    duplicate: Option<PathBuf>,
}

impl FlowFolder {
    pub(crate) fn new(roots: Vec<PathBuf>) -> Self {
        FlowFolder {
            roots,
            registry: crate::registry(),
            index: OnceLock::new(),
            plans: Mutex::new(BTreeMap::new()),
        }
    }

    /// The folders flows are found in.
    pub(crate) fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    fn index(&self) -> Result<&Index, String> {
        self.index
            .get_or_init(|| {
                let mut index = Index::default();
                for path in files::collect(&self.roots)? {
                    // A file that cannot be read or parsed is not a flow anyone can call;
                    // it is named if a flow is not found, since it may be that flow.
                    let Ok(file) = files::read(&path) else {
                        index.unreadable.push(path);
                        continue;
                    };
                    let Ok(docs) = &file.docs else {
                        index.unreadable.push(path);
                        continue;
                    };
                    for (doc, node) in docs.iter().enumerate() {
                        if runner_testsuite::is_test_suite(node) {
                            continue;
                        }
                        let (Some(ns), Some(id)) = (
                            node.get("namespace").and_then(|n| n.as_str()),
                            node.get("id").and_then(|n| n.as_str()),
                        ) else {
                            continue;
                        };
                        let key = (ns.to_string(), id.to_string());
                        match index.flows.get_mut(&key) {
                            Some(first) if first.path != path => {
                                first.duplicate.get_or_insert(path.clone());
                            }
                            Some(_) => {}
                            None => {
                                index.flows.insert(
                                    key,
                                    Located {
                                        path: path.clone(),
                                        doc,
                                        duplicate: None,
                                    },
                                );
                            }
                        }
                    }
                }
                Ok(index)
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl FlowFolder {
    /// The file of flow `namespace.id` (for `run --flow-id`).
    pub(crate) fn locate(&self, full_id: &str) -> Result<PathBuf, String> {
        self.file_of(full_id)?.ok_or_else(|| {
            let unreadable = self
                .index()
                .map(|i| unreadable_note(&i.unreadable))
                .unwrap_or_default();
            format!(
                "--flow-id {full_id}: no flow with that namespace and id in {}{unreadable}",
                self.roots
                    .iter()
                    .map(|r| format!("`{}`", r.display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }

    /// The file of flow `namespace.id`, `None` when no file defines it; an error when the
    /// folders cannot be read or two files define it.
    pub(crate) fn file_of(&self, full_id: &str) -> Result<Option<PathBuf>, String> {
        let index = self.index()?;
        let found: Vec<&Located> = index
            .flows
            .iter()
            .filter(|((ns, id), _)| format!("{ns}.{id}") == full_id)
            .map(|(_, at)| at)
            .collect();
        match found.as_slice() {
            [at] if at.duplicate.is_none() => Ok(Some(at.path.clone())),
            [at] => Err(format!(
                "flow {full_id} is defined twice, in `{}` and `{}`: keep one",
                at.path.display(),
                at.duplicate
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            )),
            [] => Ok(None),
            _ => Err(format!(
                "{full_id}: more than one flow has that name (a namespace or id with dots): give the file"
            )),
        }
    }
}

impl FlowSource for FlowFolder {
    fn find(&self, namespace: &str, flow_id: &str) -> Result<Arc<Plan>, String> {
        let key = (namespace.to_string(), flow_id.to_string());
        if let Some(plan) = self.plans.lock().expect("plans lock").get(&key) {
            return Ok(plan.clone());
        }
        let index = self.index()?;
        let Some(at) = index.flows.get(&key) else {
            return Err(format!(
                "Unable to find flow '{namespace}'.'{flow_id}' with revision '0' (looked in {}){}",
                self.roots
                    .iter()
                    .map(|r| format!("`{}`", r.display()))
                    .collect::<Vec<_>>()
                    .join(", "),
                unreadable_note(&index.unreadable)
            ));
        };
        if let Some(other) = &at.duplicate {
            return Err(format!(
                "flow {namespace}.{flow_id} is defined twice, in `{}` and `{}`: keep one",
                at.path.display(),
                other.display()
            ));
        }
        let file = files::read(&at.path)?;
        let docs = file
            .docs
            .as_ref()
            .map_err(|d| format!("Cannot execute an invalid flow: {}", d.problem))?;
        let v = runner_core::validate(&docs[at.doc], &self.registry, &Renderer::new());
        let Some(plan) = v.plan else {
            let first = v
                .diagnostics
                .iter()
                .find(|d| d.is_error())
                .map(|d| {
                    let at_line = d
                        .span
                        .map(|s| format!(":{}:{}", s.line, s.col))
                        .unwrap_or_default();
                    format!("{}{at_line}: {}", at.path.display(), d.problem)
                })
                .unwrap_or_default();
            return Err(format!("Cannot execute an invalid flow: {first}"));
        };
        let plan = Arc::new(plan);
        self.plans
            .lock()
            .expect("plans lock")
            .insert(key, plan.clone());
        Ok(plan)
    }
}

/// `; these files could not be read: ...`, when some could not (at most five named).
fn unreadable_note(files: &[PathBuf]) -> String {
    if files.is_empty() {
        return String::new();
    }
    let named: Vec<String> = files
        .iter()
        .take(5)
        .map(|p| format!("`{}`", p.display()))
        .collect();
    let more = files.len().saturating_sub(5);
    format!(
        "; {} file(s) there could not be read as flows ({}{}): `runner validate` says why",
        files.len(),
        named.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )
}
