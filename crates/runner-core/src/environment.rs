//! What a run sees of its environment: `SECRET_*` (secrets), `ENV_*` (`envs.x`), and every
//! variable for tasks that follow standard ones (the AWS chain), read once from the variables
//! the caller passes (the process's) and from env files; a later file wins.

use runner_secrets::{Masker, SecretStore, env_file};
use runner_template::{Context, Renderer};
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The variables of one run. Tasks read them only through their run context.
#[derive(Default)]
pub struct Environment {
    pub(crate) secrets: SecretStore,
    /// Every other variable, files over the process.
    pub(crate) variables: BTreeMap<String, String>,
    /// `envs.x` for each `ENV_X`.
    pub(crate) envs: Map<String, Json>,
}

/// Why an env file could not be used. Never holds a value: values may be secrets.
#[derive(Debug)]
pub enum EnvFileError {
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A `{{ }}` value (`SECRET_X={{ "v" | base64encode }}`) could not be rendered. Only the
    /// kind of failure is kept: the expression may hold a secret's plain value.
    Render {
        path: PathBuf,
        line: usize,
        key: String,
        kind: runner_template::RenderErrorKind,
    },
}

impl fmt::Display for EnvFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvFileError::Parse {
                path,
                line,
                message,
            } => write!(f, "{}:{line}: {message}", path.display()),
            EnvFileError::Render {
                path,
                line,
                key,
                kind,
            } => {
                // Not even a name: an unquoted value (`{{ hunter2 | base64encode }}`) reads as
                // an undefined variable named after the secret.
                let why = match kind {
                    runner_template::RenderErrorKind::Syntax => "a syntax error",
                    runner_template::RenderErrorKind::Undefined => {
                        "it uses a variable (quote a literal value: `{{ \"value\" | base64encode }}`)"
                    }
                    runner_template::RenderErrorKind::Other => "a filter or function failed",
                    runner_template::RenderErrorKind::Unknown => {
                        "it uses a function or filter runner does not have"
                    }
                };
                write!(
                    f,
                    "{}:{line}: cannot render the value of `{key}`: {why}; the expression is not shown, as it may hold a secret",
                    path.display()
                )
            }
        }
    }
}

impl std::error::Error for EnvFileError {}

impl Environment {
    /// `variables` (the process's, for the CLI), then each env file in order, given as its
    /// path and text. A value holding `{{ }}` is rendered once, as Kestra's documentation shows.
    pub fn load(
        variables: impl IntoIterator<Item = (String, String)>,
        files: &[(&Path, &str)],
    ) -> Result<Environment, EnvFileError> {
        let mut vars: Vec<(String, String)> = variables.into_iter().collect();
        let renderer = Renderer::new();
        for (path, text) in files {
            vars.extend(read_file(path, text, &renderer)?);
        }
        Ok(Environment::from_variables(vars))
    }

    /// Exactly these variables (tests, subflows).
    pub fn from_variables(vars: impl IntoIterator<Item = (String, String)>) -> Environment {
        let mut env = Environment::default();
        for (k, v) in vars {
            if k.starts_with("SECRET_") {
                // Only in the store, whose values never print.
                env.secrets.insert(&k, v);
                continue;
            }
            if let Some(name) = k.strip_prefix("ENV_") {
                env.envs
                    .insert(name.to_lowercase(), Json::String(v.clone()));
            }
            env.variables.insert(k, v);
        }
        env
    }

    /// The secrets, for checks that do not read values (`validate`'s unset-secret warnings).
    pub fn secrets(&self) -> &SecretStore {
        &self.secrets
    }

    /// The plain variable named like secret `name` (`DB_PASSWORD` for `secret('db_password')`):
    /// a `.env` of plain values given where secrets were meant. Only the name is returned.
    pub fn plain_twin(&self, name: &str) -> Option<&str> {
        self.variables
            .keys()
            .find(|k| k.eq_ignore_ascii_case(name))
            .map(String::as_str)
    }

    /// `envs.x` for each `ENV_X`, for `eval`.
    pub fn envs(&self) -> Json {
        Json::Object(self.envs.clone())
    }

    /// A renderer whose `secret()` reads this environment's secrets and registers every value
    /// it returns with `masker` (for `eval`; runs get theirs from [`crate::ExecutionBuilder`]).
    pub fn into_renderer(
        self,
        masker: Arc<Masker>,
        limits: runner_template::Limits,
        http: Option<Arc<dyn runner_template::HttpAccess>>,
    ) -> Renderer {
        Renderer::with_hooks(runner_template::Hooks {
            secrets: Some(Arc::new(self.secrets)),
            masker: Some(masker),
            files: None,
            http,
            kv: None,
            error_logs: None,
            limits,
        })
    }

    /// Registers every secret this run can read with the masker, so a secret that reaches
    /// output by any path (not only `secret()`) is hidden. Returns why some variables could not
    /// be decoded, for a warning.
    pub fn mask_all(&self, masker: &Masker) -> Vec<String> {
        let mut warnings = Vec::new();
        for encoded in self.secrets.encoded_values() {
            masker.add(encoded);
        }
        for name in self.secrets.names() {
            match self.secrets.get(name) {
                Ok(v) => {
                    if masker.add(v.expose()) == runner_secrets::Added::TooShort {
                        let variable = self.secrets.variable(name).unwrap_or(name);
                        warnings.push(format!(
                            "{variable} holds fewer than {} characters: it is not masked in logs and records (masking so short a value would rewrite every line)",
                            runner_secrets::MIN_MASKED_LENGTH
                        ));
                    }
                }
                Err(e) => warnings.push(e.to_string()),
            }
        }
        warnings
    }
}

fn read_file(
    path: &Path,
    text: &str,
    renderer: &Renderer,
) -> Result<Vec<(String, String)>, EnvFileError> {
    let entries = env_file::parse(text).map_err(|e| EnvFileError::Parse {
        path: path.to_path_buf(),
        line: e.line,
        message: e.message,
    })?;
    let ctx = Context::default();
    entries
        .into_iter()
        .map(|e| {
            let value =
                renderer
                    .render_str(&e.value, &ctx)
                    .map_err(|err| EnvFileError::Render {
                        path: path.to_path_buf(),
                        line: e.line,
                        key: e.key.clone(),
                        kind: err.kind,
                    })?;
            Ok((e.key, value))
        })
        .collect()
}
