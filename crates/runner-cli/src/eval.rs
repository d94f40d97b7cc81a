//! `runner eval TEMPLATE`: one expression rendered with the variables of a file, a flow and
//! env files, printed exactly.

use crate::diagnostics::Style;
use crate::exit;
use crate::files;
use runner_core::{Environment, Masker};
use runner_model::Node;
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
        let file = match files::read(flow) {
            Ok(f) => f,
            Err(e) => {
                return crate::report(
                    format!("cannot read `{}`: {e}", flow.display()),
                    exit::FAILED,
                );
            }
        };
        let Some(doc) = file.docs.ok().and_then(|d| d.into_iter().next()) else {
            return crate::report(
                format!("`{}` holds no readable flow", flow.display()),
                exit::FAILED,
            );
        };
        context.insert("flow".into(), json!({"id": doc.get("id").map(Node::to_json), "namespace": doc.get("namespace").map(Node::to_json)}));
        context.insert(
            "vars".into(),
            doc.get("variables").map_or(json!({}), Node::to_json),
        );
        let mut inputs = Map::new();
        for input in doc.get("inputs").and_then(Node::as_seq).unwrap_or_default() {
            if let (Some(id), Some(d)) = (
                input.get("id").and_then(Node::as_str),
                input.get("defaults"),
            ) {
                inputs.insert(id.to_string(), d.to_json());
            }
        }
        context.insert("inputs".into(), Json::Object(inputs));
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
