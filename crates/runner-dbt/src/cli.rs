//! `io.kestra.plugin.dbt.cli.DbtCLI`: dbt commands on the script kit, then dbt's artifacts.

use crate::common::{self, DbtRun, KvEntry};
use runner_core::plugin::*;
use runner_scripts::kit::{Extra, ScriptProps};
use serde::Deserialize;

pub(crate) const DBT_CLI: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.dbt.cli.DbtCLI",
    aliases: &[],
    doc: "Run dbt commands (Kestra's DbtCLI) on the Process or Docker task runner, with the project from namespace files or inputFiles; then each node of target/run_results.json is logged with its state and metrics, and run_results.json and manifest.json are kept as outputFiles.",
    example: "id: dbt\ntype: io.kestra.plugin.dbt.cli.DbtCLI\ntaskRunner:\n  type: io.kestra.plugin.core.runner.Process\ninputFiles:\n  dbt_project.yml: |\n    name: shop\n    profile: shop\n  models/orders.sql: select 1 as id, 12.5 as amount\nprofiles: |\n  shop:\n    target: dev\n    outputs:\n      dev:\n        type: duckdb\n        path: shop.duckdb\ncommands:\n  - dbt build",
    shape: runnable::<DbtCli>(),
};

/// Kestra's `logFormat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum LogFormat {
    Json,
    Text,
    Debug,
    None,
}

/// Kestra's `engine`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Engine {
    Core,
    Fusion,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DbtCli {
    /// The commands, run in a shell; each line starting with `dbt` gets `--project-dir`
    /// (with projectDir), `--log-format` and `--log-path logs` unless it has them.
    commands: Property<Vec<String>>,
    /// The profiles.yml to write in the working directory (where dbt looks first).
    profiles: Option<Property<String>>,
    /// The project's folder, relative to the working directory.
    project_dir: Option<Property<String>>,
    /// Read target/run_results.json after the run (default true).
    parse_run_results: Option<Property<bool>>,
    /// Put target/manifest.json into the KV store after the run: `key` and `namespace`.
    store_manifest: Option<KvEntry>,
    /// Write a manifest from the KV store to target/manifest.json first (for `state:modified`
    /// selections): `key` and `namespace`.
    load_manifest: Option<KvEntry>,
    /// dbt's log format on stdout: JSON, TEXT, DEBUG or NONE (runner's default: TEXT, read as
    /// it comes; the log file is JSON, for the warnings and the counts).
    log_format: Option<Property<LogFormat>>,
    /// CORE or FUSION; accepted (the image is containerImage's, as in Kestra).
    #[allow(dead_code)]
    engine: Option<Property<Engine>>,
    #[serde(flatten)]
    props: ScriptProps,
}

/// Appends `flag value` unless the line has the flag already.
fn append(line: &mut String, flag: &str, value: &str) {
    let has = line
        .split_whitespace()
        .any(|w| w == flag || w.starts_with(&format!("{flag}=")));
    if !has {
        line.push(' ');
        line.push_str(flag);
        line.push(' ');
        line.push_str(value);
    }
}

impl RunnableTask for DbtCli {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let wd = ctx.working_dir()?.path().to_path_buf();
            let project_dir = ctx.render_opt(&self.project_dir, "projectDir")?;
            let project = match &project_dir {
                Some(p) => ctx
                    .working_dir()?
                    .join(p)
                    .map_err(|why| TaskError::property("projectDir", why))?,
                None => wd.clone(),
            };
            ctx.info(&format!(
                "dbt project working directory: {}",
                project.display()
            ));
            if let Some(entry) = &self.load_manifest {
                let (namespace, key) = entry.render(ctx, "loadManifest")?;
                let found = ctx
                    .kv()?
                    .lookup(&namespace, &key, false)
                    .map_err(|e| TaskError::property("loadManifest", e))?;
                match found {
                    KvLookup::Found(Json::String(s)) if !s.trim().is_empty() => {
                        common::write_file(
                            &project.join("target").join("manifest.json"),
                            &s,
                            "the manifest of loadManifest",
                        )
                        .await?
                    }
                    KvLookup::Found(v) if !v.is_null() => {
                        common::write_file(
                            &project.join("target").join("manifest.json"),
                            &v.to_string(),
                            "the manifest of loadManifest",
                        )
                        .await?
                    }
                    _ => ctx.log(
                        Level::Warn,
                        "Property `loadManifest` has been used but no manifest has been found in the KV Store.",
                    ),
                }
            }
            if let Some(p) = ctx.render_opt(&self.profiles, "profiles")? {
                let path = wd.join("profiles.yml");
                if path.exists() {
                    ctx.info("A 'profiles.yml' file already exists in the task working directory; it will be overridden.");
                }
                common::write_file(&path, &p, "profiles.yml").await?;
            }
            let format = ctx.render_opt(&self.log_format, "logFormat")?;
            let commands = common::rewrite_commands(ctx, &self.commands, |line| {
                let mut l = line.trim_end().to_string();
                if let Some(p) = &project_dir {
                    append(&mut l, "--project-dir", p);
                }
                let stdout_format = match format {
                    None | Some(LogFormat::Text) => Some("text"),
                    Some(LogFormat::Json) => Some("json"),
                    Some(LogFormat::Debug) => Some("debug"),
                    Some(LogFormat::None) => None,
                };
                if let Some(f) = stdout_format {
                    append(&mut l, "--log-format", f);
                }
                append(&mut l, "--log-format-file", "json");
                append(&mut l, "--log-path", "logs");
                l
            })?;
            let store_manifest = match &self.store_manifest {
                Some(e) => Some(e.render(ctx, "storeManifest")?),
                None => None,
            };
            common::run(
                ctx,
                DbtRun {
                    props: &self.props,
                    commands,
                    extra: Extra::default(),
                    project,
                    parse_run_results: ctx
                        .render_opt(&self.parse_run_results, "parseRunResults")?
                        .unwrap_or(true),
                    manifest: true,
                    store_manifest,
                    warning_state: true,
                },
            )
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_appended_once() {
        let mut l = "dbt build --select x".to_string();
        append(&mut l, "--project-dir", "p");
        append(&mut l, "--log-format", "text");
        append(&mut l, "--log-format-file", "json");
        assert_eq!(
            l,
            "dbt build --select x --project-dir p --log-format text --log-format-file json"
        );
        let mut l = "dbt run --log-format=json --log-path out".to_string();
        append(&mut l, "--log-format", "text");
        append(&mut l, "--log-path", "logs");
        assert_eq!(l, "dbt run --log-format=json --log-path out");
    }
}
