//! What every dbt task does around the script kit: run the commands (Process or Docker task
//! runner), then read dbt's artifacts, successful or not, into Kestra's outputs, logs and
//! metrics, and fail with what dbt said failed.

use crate::results::{self, Artifacts};
use runner_core::plugin::*;
use runner_scripts::kit::{self, Body, Extra, Language, ScriptProps};
use serde::Deserialize;
use serde_json::Map;
use std::path::{Path, PathBuf};

/// dbt's image and variables (Kestra's, and no colours: dbt's text logs stay plain).
pub(crate) const DBT: Language = Language {
    default_image: "ghcr.io/kestra-io/dbt",
    env: &[
        ("PYTHONUNBUFFERED", "true"),
        ("PIP_ROOT_USER_ACTION", "ignore"),
        ("DBT_USE_COLORS", "false"),
    ],
    ..Language::POSIX
};

/// `storeManifest` / `loadManifest`: a KV entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct KvEntry {
    pub(crate) key: Property<String>,
    pub(crate) namespace: Property<String>,
}

impl PropType for KvEntry {
    const NAME: &'static str = "object";
}

impl KvEntry {
    pub(crate) fn render(
        &self,
        ctx: &RunContext,
        prop: &str,
    ) -> Result<(String, String), TaskError> {
        Ok((
            ctx.render(&self.namespace, &format!("{prop}.namespace"))?,
            ctx.render(&self.key, &format!("{prop}.key"))?,
        ))
    }
}

/// One dbt run.
pub(crate) struct DbtRun<'a> {
    pub(crate) props: &'a ScriptProps,
    pub(crate) commands: Property<Vec<String>>,
    pub(crate) extra: Extra,
    /// `<working dir>/<projectDir>`.
    pub(crate) project: PathBuf,
    pub(crate) parse_run_results: bool,
    pub(crate) manifest: bool,
    pub(crate) store_manifest: Option<(String, String)>,
    /// DbtCLI: a warning makes the task run a WARNING.
    pub(crate) warning_state: bool,
}

/// The text of dbt's error events this run logged (`Runtime Error ...`, `Could not find
/// adapter type ...`).
async fn error_events(logs: &[(PathBuf, u64)]) -> Vec<String> {
    let mut out = Vec::new();
    for (path, from) in logs {
        let Ok(bytes) = tokio::fs::read(path).await else {
            continue;
        };
        let start = (*from as usize).min(bytes.len());
        for line in String::from_utf8_lossy(&bytes[start..]).lines() {
            if let Ok(event) = serde_json::from_str::<Json>(line)
                && event["info"]["level"] == "error"
                && let Some(msg) = event["info"]["msg"].as_str()
            {
                let msg = msg.trim();
                if !msg.is_empty() && !out.iter().any(|m: &String| m == msg) {
                    out.push(msg.to_string());
                }
            }
        }
    }
    out
}

fn hint_for(project: &Path, exit_code: Option<i64>, said: &str) -> Option<String> {
    if exit_code == Some(127) {
        return Some("dbt is not installed where the commands run: on this machine (the Process task runner) put it on PATH (pip install dbt-core and an adapter, such as dbt-duckdb), or run in a container that has it (containerImage)".into());
    }
    if let Some(at) = said.find("Could not find adapter type ") {
        let kind: String = said[at + "Could not find adapter type ".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        return Some(format!(
            "the `{kind}` adapter is not installed where dbt runs: install dbt-{kind} beside dbt-core (pip install dbt-{kind}), or use an image that has it (containerImage)"
        ));
    }
    if !project.join("dbt_project.yml").exists() {
        return Some(format!(
            "`projectDir`: there is no dbt_project.yml in `{}`: give the project as namespaceFiles or inputFiles (or clone it in a WorkingDirectory), and set projectDir to its folder",
            project.display()
        ));
    }
    None
}

pub(crate) async fn run(ctx: &RunContext, r: DbtRun<'_>) -> Result<Outputs, TaskError> {
    let wd = ctx.working_dir()?.path().to_path_buf();
    let mut log_files = vec![wd.join("logs").join("dbt.log")];
    let project_log = r.project.join("logs").join("dbt.log");
    if !log_files.contains(&project_log) {
        log_files.push(project_log);
    }
    let logs = results::log_sizes(log_files);
    // A run_results.json this run did not write (dbt did not start; an earlier task's, in a
    // WorkingDirectory) is not this run's.
    let results_file = r.project.join("target").join("run_results.json");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let results_before = modified(&results_file);
    let ran = kit::run(ctx, r.props, &DBT, Body::Commands(&r.commands), r.extra).await;
    let (mut outputs, error) = match ran {
        Ok(o) => (o, None),
        Err(TaskError::WithOutputs { error, outputs }) => (outputs, Some(*error)),
        Err(e) => (Outputs::new(), Some(e)),
    };
    let mut files = match outputs.remove("outputFiles") {
        Some(Json::Object(m)) => m,
        _ => Map::new(),
    };
    let fresh = modified(&results_file).is_some_and(|m| Some(m) != results_before);
    let artifacts = Artifacts {
        project: r.project.clone(),
        parse_run_results: r.parse_run_results && fresh,
        manifest: r.manifest,
        store_manifest: r.store_manifest.clone(),
        logs: &logs,
    };
    let summary = results::read(ctx, &artifacts, &mut files).await?;
    outputs.insert("outputFiles".into(), Json::Object(files));
    if let Some(e) = error {
        let mut message = e.to_string();
        let said = if summary.failures.is_empty() {
            error_events(&logs).await
        } else {
            summary.failures.clone()
        };
        for s in &said {
            message.push_str("\n  ");
            message.push_str(&s.replace('\n', "\n  "));
        }
        let exit_code = outputs.get("exitCode").and_then(Json::as_i64);
        let mut err = TaskError::new(ErrorKind::Other, message);
        if let Some(h) = e.help() {
            err = err.hint(h.to_string());
        } else if let Some(h) = hint_for(&r.project, exit_code, &said.join("\n")) {
            err = err.hint(h);
        }
        return Err(if outputs.contains_key("exitCode") {
            err.with_outputs(outputs)
        } else {
            err
        });
    }
    if r.warning_state && summary.warned {
        ctx.log(
            Level::Warn,
            "dbt reported warnings: the task run ends in WARNING",
        );
        return Err(TaskError::Ended {
            state: State::Warning,
            outputs,
        });
    }
    Ok(outputs)
}

/// `commands` with Kestra's flags appended to each line that starts with `dbt`, written as
/// the flow wrote them (expressions are rendered by the kit, once).
pub(crate) fn rewrite_commands(
    ctx: &RunContext,
    commands: &Property<Vec<String>>,
    rewrite: impl Fn(&str) -> String,
) -> Result<Property<Vec<String>>, TaskError> {
    let lines: Vec<String> = match commands.raw() {
        Json::Array(items) => items
            .iter()
            .map(|i| match i {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        // An expression that gives the list: rendered here, then the kit sees plain text.
        _ => {
            let mut vars = Map::new();
            vars.insert(
                "workingDir".into(),
                Json::String(ctx.working_dir()?.path().display().to_string()),
            );
            ctx.render_with(commands, "commands", &vars)?
        }
    };
    let lines: Vec<Json> = lines
        .iter()
        .map(|l| {
            Json::String(if l.trim_start().starts_with("dbt") {
                rewrite(l)
            } else {
                l.clone()
            })
        })
        .collect();
    Ok(Property::from_json(Json::Array(lines)))
}

/// Writes `text` to `path` (its folder made), saying so when it replaces a file.
pub(crate) async fn write_file(path: &Path, text: &str, what: &str) -> Result<(), TaskError> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(|e| {
            TaskError::new(ErrorKind::Io, format!("cannot write {what}")).caused_by(e)
        })?;
    }
    tokio::fs::write(path, text.as_bytes())
        .await
        .map_err(|e| TaskError::new(ErrorKind::Io, format!("cannot write {what}")).caused_by(e))
}
