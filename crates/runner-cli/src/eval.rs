//! `runner eval TEMPLATE`: one expression rendered with the variables of a file, a flow and
//! env files, printed exactly.

use crate::diagnostics::Style;
use crate::exit;
use crate::files;
use runner_core::{Environment, Masker};
use runner_template::Context;
use serde_json::{Map, Value as Json, json};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) fn eval(
    vars: Option<&Path>,
    flow: Option<&Path>,
    template: &str,
    env_files: &[PathBuf],
) -> u8 {
    let environment = match Environment::load(std::env::vars(), env_files) {
        Ok(e) => e,
        Err(e) => return crate::report(e, exit::FAILED),
    };
    let masker = Arc::new(Masker::default());
    let envs = environment.envs();
    let renderer = environment.into_renderer(masker.clone());
    let mut context = Map::new();
    if let Some(flow) = flow {
        let style = Style::stderr();
        let registry = crate::registry();
        let Some((file, mut results)) =
            files::load(flow, &registry, &runner_template::Renderer::new(), &style)
        else {
            return exit::INVALID;
        };
        if results.len() != 1 {
            return crate::report(
                format!(
                    "`{}` holds {} flows: give a file with one",
                    file.path.display(),
                    results.len()
                ),
                exit::INVALID,
            );
        }
        let Some(plan) = results.remove(0).1 else {
            return crate::report(
                format!("`{}` is not a valid flow (see above)", file.path.display()),
                exit::INVALID,
            );
        };
        context.insert(
            "flow".into(),
            json!({"id": plan.flow.id, "namespace": plan.flow.namespace, "revision": plan.flow.revision}),
        );
        context.insert("vars".into(), plan.variables.clone());
        context.insert("inputs".into(), runner_core::default_inputs(&plan.inputs));
    }
    context.insert("envs".into(), envs);
    if let Some(vars) = vars {
        match crate::vars::read_map(vars) {
            Ok(m) => context.extend(m),
            Err(e) => return crate::report(e, exit::FAILED),
        }
    }
    match renderer.render_str(template, &Context::new(Json::Object(context))) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            // A piped result is the value asked for; on a terminal, secrets stay hidden.
            let out = if stdout.is_terminal() {
                masker.mask(&out)
            } else {
                out
            };
            let _ = stdout.write_all(out.as_bytes());
            if stdout.is_terminal() && !out.ends_with('\n') {
                let _ = stdout.write_all(b"\n");
            }
            exit::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "{}: {}",
                Style::stderr().error_label(),
                masker.mask(&e.to_string())
            );
            exit::FAILED
        }
    }
}
