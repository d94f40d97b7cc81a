//! What a run sees of its environment: `SECRET_*` (secrets), `ENV_*` (`envs.x`), read once from
//! the process and from every `--env-file`; a file wins over the process.

use runner_secrets::{Masker, SecretStore, env_file};
use runner_template::{Context, Renderer};
use serde_json::{Map, Value as Json};
use std::path::{Path, PathBuf};

pub(crate) struct RunEnvironment {
    pub(crate) secrets: SecretStore,
    /// Every variable, files over process, for tasks that follow standard variables (AWS_*).
    pub(crate) all: std::collections::BTreeMap<String, String>,
    /// `envs.x` for each `ENV_X`.
    pub(crate) envs: Json,
}

/// Reads the process environment, then each env file in order. A value holding `{{ }}` is
/// rendered once, as Kestra's documentation shows (`SECRET_X={{ "v" | base64encode }}`).
pub(crate) fn load(files: &[PathBuf]) -> Result<RunEnvironment, String> {
    let mut vars: Vec<(String, String)> = std::env::vars().collect();
    let renderer = Renderer::new();
    for path in files {
        vars.extend(read_file(path, &renderer)?);
    }
    let mut secrets = SecretStore::default();
    let mut envs = Map::new();
    let all = vars.iter().cloned().collect();
    for (k, v) in vars {
        if let Some(name) = k.strip_prefix("ENV_") {
            envs.insert(name.to_lowercase(), Json::String(v));
        } else {
            secrets.insert(&k, v);
        }
    }
    Ok(RunEnvironment {
        secrets,
        all,
        envs: Json::Object(envs),
    })
}

fn read_file(path: &Path, renderer: &Renderer) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the env file `{}`: {e}", path.display()))?;
    let entries = env_file::parse(&text)
        .map_err(|e| format!("{}:{}: {}", path.display(), e.line, e.message))?;
    let ctx = Context::default();
    entries
        .into_iter()
        .map(|e| {
            let value = renderer.render_str(&e.value, &ctx).map_err(|err| {
                format!(
                    "{}:{}: cannot render the value of `{}`: {}",
                    path.display(),
                    e.line,
                    e.key,
                    err.message
                )
            })?;
            Ok((e.key, value))
        })
        .collect()
}

impl RunEnvironment {
    /// Registers every secret this run can read with the masker, so a secret that reaches
    /// output by any path (not only `secret()`) is hidden. Returns the variables that could not
    /// be decoded, for a warning.
    pub(crate) fn mask_all(&self, masker: &Masker) -> Vec<String> {
        let mut bad = Vec::new();
        for name in self.secrets.names() {
            match self.secrets.get(name) {
                Ok(v) => masker.add(v.expose()),
                Err(e) => bad.push(e.to_string()),
            }
        }
        bad
    }
}
