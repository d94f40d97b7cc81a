//! `runner validate PATH...`: every flow of every file, checked without running anything.

use crate::diagnostics::{Style, render};
use crate::exit;
use crate::files;
use runner_core::flow_calls;
use runner_core::unset_secrets;
use runner_template::Renderer;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

/// Checks the flows and test suites under `paths`, printing every problem. `env_files`: the
/// secrets a run would have, for the unset-secret warnings (none: no such warnings, as for a
/// server that has its own). `list`: a line per flow on stdout.
pub(crate) fn validate_paths(
    paths: &[PathBuf],
    env_files: Option<&files::EnvFiles>,
    gate: files::Gate,
    list: bool,
) -> u8 {
    let style = Style::stderr();
    let environment = match env_files.map(files::environment).transpose() {
        Ok(e) => e,
        Err(e) => return crate::report(e, exit::INVALID),
    };
    let files = match files::collect(paths) {
        Ok(f) => f,
        Err(e) => return crate::report(e, exit::INVALID),
    };
    if files.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return crate::report(
            format!("no .yaml or .yml file under {}", shown.join(", ")),
            exit::FAILED,
        );
    }
    let registry = crate::registry();
    let renderer = Renderer::new();
    let (mut valid, mut invalid, mut unreadable) = (0usize, 0usize, 0usize);
    let mut stdout: Box<dyn Write> = if list {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(std::io::sink())
    };
    // Each flow read: its file, its name, whether it is valid so far.
    let mut flows: Vec<(usize, Option<String>, bool)> = Vec::new();
    let mut loaded = Vec::new();
    let mut calls: BTreeMap<String, Vec<flow_calls::Call>> = BTreeMap::new();
    let mut known: BTreeMap<String, flow_calls::Declared> = BTreeMap::new();
    let mut suites: Vec<(
        usize,
        runner_testsuite::TestSuite,
        Option<runner_model::Span>,
    )> = Vec::new();
    for path in &files {
        let Some((file, results)) = files::load(path, &registry, &renderer, &style, gate) else {
            unreadable += 1;
            continue;
        };
        if let Ok(docs) = &file.docs {
            for warning in environment
                .as_ref()
                .map(|env| unset_secrets(docs, env))
                .unwrap_or_default()
            {
                crate::say_raw!("{}", render(&warning, &file.path, &file.text, &style));
            }
            for (doc, (name, _)) in docs.iter().zip(&results) {
                if let Some(name) = name {
                    known.insert(name.clone(), flow_calls::declared(doc));
                    let found = flow_calls::calls(doc, &registry);
                    if !found.is_empty() {
                        calls.insert(name.clone(), found);
                    }
                }
            }
        }
        let docs = file.docs.as_ref().map(Vec::as_slice).unwrap_or_default();
        for (i, (name, plan)) in results.into_iter().enumerate() {
            match docs.get(i).filter(|d| runner_testsuite::is_test_suite(d)) {
                Some(doc) => match runner_testsuite::read(doc) {
                    // Judged once every flow is known: the flow it tests must be one of them.
                    Ok(suite) => {
                        suites.push((loaded.len(), suite, doc.get("flowId").map(|n| n.span)))
                    }
                    Err(_) => {
                        invalid += 1;
                        let _ = writeln!(stdout, "✘ test suite ({})", file.path.display());
                    }
                },
                None => flows.push((loaded.len(), name, plan.is_some())),
            }
        }
        loaded.push(file);
    }
    // A file given alone may call flows beside it: look there too (as `runner run` does),
    // only when a target is not among the files given.
    let missing = calls
        .values()
        .flatten()
        .any(|c| !known.contains_key(&c.target()))
        || suites
            .iter()
            .any(|(_, s, _)| !known.contains_key(&format!("{}.{}", s.namespace, s.flow_id)));
    if missing {
        let mut folders: Vec<PathBuf> = paths
            .iter()
            .filter(|p| p.is_file())
            .map(|p| {
                p.parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .map_or_else(|| PathBuf::from("."), PathBuf::from)
            })
            .collect();
        folders.sort();
        folders.dedup();
        for path in files::collect(&folders).unwrap_or_default() {
            let Ok(file) = files::read(&path) else {
                continue;
            };
            for doc in file.docs.iter().flatten() {
                let name = doc
                    .get("namespace")
                    .and_then(|n| n.as_str())
                    .zip(doc.get("id").and_then(|n| n.as_str()));
                if let Some((ns, id)) = name {
                    known
                        .entry(format!("{ns}.{id}"))
                        .or_insert_with(|| flow_calls::declared(doc));
                }
            }
        }
    }
    // Across files: the flows each Subflow calls, their inputs, cycles.
    let problems = flow_calls::check(&calls, &known);
    for (file_index, name, ok) in &mut flows {
        let Some(found) = name.as_ref().and_then(|n| problems.get(n)) else {
            continue;
        };
        let file = &loaded[*file_index];
        for d in found {
            crate::say_raw!("{}", render(d, &file.path, &file.text, &style));
            if d.is_error() {
                *ok = false;
            }
        }
    }
    for (file_index, suite, span) in suites {
        let file = &loaded[file_index];
        if known.contains_key(&format!("{}.{}", suite.namespace, suite.flow_id)) {
            valid += 1;
            let _ = writeln!(
                stdout,
                "✓ test suite {}.{} ({} case(s) of flow {})",
                suite.namespace,
                suite.id,
                suite.cases.len(),
                suite.flow_id
            );
        } else {
            invalid += 1;
            let d = runner_model::Diagnostic::error(
                runner_model::Problem::TestSuite {
                    message: format!(
                        "Invalid TestSuite: Flow with id: '{}' does not exist on Namespace: '{}'.",
                        suite.flow_id, suite.namespace
                    ),
                },
                span,
                "flowId",
            );
            crate::say_raw!("{}", render(&d, &file.path, &file.text, &style));
            let _ = writeln!(
                stdout,
                "✘ test suite {}.{} ({})",
                suite.namespace,
                suite.id,
                file.path.display()
            );
        }
    }
    for (file_index, name, ok) in flows {
        let file = &loaded[file_index];
        match (ok, name) {
            (true, Some(name)) => {
                valid += 1;
                let _ = writeln!(stdout, "✓ {name}");
            }
            (_, name) => {
                invalid += 1;
                let what = name.unwrap_or_else(|| file.path.display().to_string());
                let _ = writeln!(stdout, "✘ {what} ({})", file.path.display());
            }
        }
    }
    if unreadable > 0 {
        crate::say!(
            "{unreadable} file(s) could not be read, {invalid} invalid flow(s), {valid} valid"
        );
        exit::INVALID
    } else if invalid > 0 {
        crate::say!("{invalid} invalid flow(s), {valid} valid");
        exit::FAILED
    } else {
        exit::SUCCESS
    }
}
