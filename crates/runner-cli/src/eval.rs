//! `runner eval TEMPLATE`: one expression rendered with the variables of a file, a flow and
//! env files, printed exactly.

use crate::diagnostics::Style;
use crate::exit;
use crate::files;
use runner_core::Masker;
use runner_template::Context;
use serde_json::{Map, Value as Json, json};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

pub(crate) fn eval(
    vars: Option<&Path>,
    flow: Option<&Path>,
    template: &str,
    env_files: &files::EnvFiles,
) -> u8 {
    let environment = match files::environment(env_files) {
        Ok(e) => e,
        Err(e) => return crate::report(e, exit::INVALID),
    };
    let limits = match crate::limits::expressions() {
        Ok(l) => l,
        Err(e) => return crate::report(e, exit::INVALID),
    };
    let masker = Arc::new(Masker::default());
    let envs = environment.envs();
    #[cfg(feature = "http")]
    let http = Some(runner_http::function(Default::default()));
    #[cfg(not(feature = "http"))]
    let http = None;
    let renderer = environment.into_renderer(masker.clone(), limits, http);
    let mut context = Map::new();
    if let Some(flow) = flow {
        let style = Style::stderr();
        let registry = crate::registry();
        let Some((file, mut results)) = files::load(
            flow,
            &registry,
            &runner_template::Renderer::new(),
            &style,
            files::Gate::default(),
        ) else {
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
            Err(e) => return crate::report(e, exit::INVALID),
        }
    }
    match renderer.render_str(template, &Context::new(Json::Object(context))) {
        Ok(out) => {
            let stdout = std::io::stdout().lock();
            // A piped result is the value asked for; on a terminal, secrets stay hidden.
            let out = if stdout.is_terminal() {
                masker.mask(&out)
            } else {
                out
            };
            let newline = stdout.is_terminal() && !out.ends_with('\n');
            drop(stdout);
            let mut bytes = out.into_bytes();
            if newline {
                bytes.push(b'\n');
            }
            match crate::write_stdout(&bytes) {
                Ok(()) => exit::SUCCESS,
                Err(e) => crate::report(format!("cannot print the result: {e}"), exit::FAILED),
            }
        }
        Err(e) => {
            crate::say!(
                "{}: {}",
                Style::stderr().error_label(),
                masker.mask(&e.to_string())
            );
            exit::FAILED
        }
    }
}
