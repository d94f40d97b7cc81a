//! Kestra's deprecated dbt command tasks (`io.kestra.plugin.dbt.cli.Build`, `Compile`, `Deps`,
//! `Freshness`, `List`, `Run`, `Seed`, `Snapshot`, `Test`): one dbt subcommand, its flags
//! from properties, dbt at `dbtPath` (default `./bin/dbt`, what `Setup` makes), profiles in
//! `.profile/profiles.yml`. They share one struct; the subcommand is the type's.

use crate::common::{self, DbtRun};
use runner_core::plugin::*;
use runner_scripts::kit::{Extra, ScriptProps};
use serde::Deserialize;
use serde_json::Map;

/// The script properties of the legacy tasks, read as the script kit reads them (kept as
/// written and handed over whole: their `failFast` is dbt's, not the shell's).
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Script {
    /// Where dbt runs: `io.kestra.plugin.core.runner.Process` or
    /// `io.kestra.plugin.scripts.runner.docker.Docker` (default).
    #[prop(type = "task runner")]
    task_runner: Option<Json>,
    /// The image of a container task runner (default `ghcr.io/kestra-io/dbt`).
    container_image: Option<Property<String>>,
    /// Deprecated: PROCESS or DOCKER.
    #[prop(type = "string")]
    runner: Option<Json>,
    /// Deprecated: the Docker options of `runner: DOCKER`.
    #[prop(type = "object")]
    docker: Option<Json>,
    /// Deprecated: the Docker options (as `docker`).
    #[prop(type = "object")]
    docker_options: Option<Json>,
    /// Environment variables for dbt.
    env: Option<Property<std::collections::BTreeMap<String, String>>>,
    /// Namespace files to copy into the working directory first.
    #[prop(type = "object")]
    namespace_files: Option<Json>,
    /// Files to write into the working directory first.
    input_files: Option<Property<Json>>,
    /// Globs of the files to keep after the run.
    output_files: Option<Property<Vec<String>>>,
}

impl Script {
    /// The script kit's properties, from these.
    pub(crate) fn props(&self) -> Result<ScriptProps, TaskError> {
        let mut m = Map::new();
        let raw = |p: &Option<Json>| p.clone();
        for (name, value) in [
            ("taskRunner", raw(&self.task_runner)),
            (
                "containerImage",
                self.container_image.as_ref().map(|p| p.raw().clone()),
            ),
            ("runner", raw(&self.runner)),
            (
                "docker",
                raw(&self.docker).or_else(|| raw(&self.docker_options)),
            ),
            ("env", self.env.as_ref().map(|p| p.raw().clone())),
            ("namespaceFiles", raw(&self.namespace_files)),
            (
                "inputFiles",
                self.input_files.as_ref().map(|p| p.raw().clone()),
            ),
            (
                "outputFiles",
                self.output_files.as_ref().map(|p| p.raw().clone()),
            ),
        ] {
            if let Some(v) = value {
                m.insert(name.into(), v);
            }
        }
        serde_json::from_value(Json::Object(m))
            .map_err(|e| TaskError::property("taskRunner", format!("{e}")))
    }
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Legacy {
    /// dbt's `--fail-fast` (default false).
    fail_fast: Option<Property<bool>>,
    /// dbt's `--warn-error` (default false).
    warn_error: Option<Property<bool>>,
    /// dbt's `--debug` (default false).
    debug: Option<Property<bool>>,
    /// The project's folder, appended to the working directory as written (Kestra:
    /// `--project-dir {{ workingDir }}<projectDir>`, so it starts with `/`).
    project_dir: Option<Property<String>>,
    /// The dbt program (default `./bin/dbt`, the environment `Setup` makes).
    dbt_path: Option<Property<String>>,
    /// The profiles.yml, written to `.profile/profiles.yml`.
    profiles: Option<Property<String>>,
    /// Read target/run_results.json after the run (default true).
    parse_run_results: Option<Property<bool>>,
    /// `--threads N`.
    thread: Option<Property<u32>>,
    /// `--full-refresh`.
    full_refresh: Option<Property<bool>>,
    /// `--target T`.
    target: Option<Property<String>>,
    /// `--selector` (Kestra passes `target`'s value: kept).
    selector: Option<Property<String>>,
    /// `--select a b`.
    select: Option<Property<Vec<String>>>,
    /// `--exclude a b`.
    exclude: Option<Property<Vec<String>>>,
    #[serde(flatten)]
    script: Script,
}

/// Deps and Freshness take no run flags.
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LegacyBase {
    /// dbt's `--fail-fast` (default false).
    fail_fast: Option<Property<bool>>,
    /// dbt's `--warn-error` (default false).
    warn_error: Option<Property<bool>>,
    /// dbt's `--debug` (default false).
    debug: Option<Property<bool>>,
    /// The project's folder, appended to the working directory as written.
    project_dir: Option<Property<String>>,
    /// The dbt program (default `./bin/dbt`, the environment `Setup` makes).
    dbt_path: Option<Property<String>>,
    /// The profiles.yml, written to `.profile/profiles.yml`.
    profiles: Option<Property<String>>,
    /// Accepted; these subcommands leave no run results.
    #[allow(dead_code)]
    parse_run_results: Option<Property<bool>>,
    #[serde(flatten)]
    script: Script,
}

fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:+@=,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

struct Common<'a> {
    fail_fast: &'a Option<Property<bool>>,
    warn_error: &'a Option<Property<bool>>,
    debug: &'a Option<Property<bool>>,
    project_dir: &'a Option<Property<String>>,
    dbt_path: &'a Option<Property<String>>,
    profiles: &'a Option<Property<String>>,
    script: &'a Script,
}

async fn run_legacy(
    ctx: &RunContext,
    c: Common<'_>,
    subcommand: &str,
    run_flags: Vec<String>,
    parse: bool,
) -> Result<Outputs, TaskError> {
    let dir = ctx.working_dir()?;
    let wd = dir.path().to_path_buf();
    if let Some(p) = ctx.render_opt(c.profiles, "profiles")? {
        common::write_file(
            &wd.join(".profile").join("profiles.yml"),
            &p,
            "profiles.yml",
        )
        .await?;
    }
    let dbt = ctx
        .render_opt(c.dbt_path, "dbtPath")?
        .unwrap_or_else(|| "./bin/dbt".into());
    let project_dir = ctx
        .render_opt(c.project_dir, "projectDir")?
        .unwrap_or_default();
    let flag = |p: &Option<Property<bool>>, name: &str| -> Result<bool, TaskError> {
        Ok(ctx.render_opt(p, name)?.unwrap_or(false))
    };
    let mut line = vec![
        quote(&dbt),
        "--log-format text --log-format-file json".into(),
    ];
    if flag(c.debug, "debug")? {
        line.push("--debug".into());
    }
    if flag(c.fail_fast, "failFast")? {
        line.push("--fail-fast".into());
    }
    if flag(c.warn_error, "warnError")? {
        line.push("--warn-error".into());
    }
    line.push(subcommand.into());
    line.push(format!(
        "--profiles-dir {}",
        quote(&format!("{}/.profile", wd.display()))
    ));
    line.extend(run_flags);
    let project_arg = format!("{}{project_dir}", wd.display());
    line.push(format!("--project-dir {}", quote(&project_arg)));
    let commands = Property::from_json(Json::Array(vec![Json::String(line.join(" "))]));
    let project = std::path::PathBuf::from(project_arg);
    let props = c.script.props()?;
    common::run(
        ctx,
        DbtRun {
            props: &props,
            commands,
            extra: Extra::default(),
            project,
            parse_run_results: parse,
            manifest: parse,
            store_manifest: None,
            warning_state: false,
        },
    )
    .await
}

impl Legacy {
    fn run_flags(&self, ctx: &RunContext) -> Result<Vec<String>, TaskError> {
        let mut f = Vec::new();
        if let Some(n) = ctx.render_opt(&self.thread, "thread")? {
            f.push(format!("--threads {n}"));
        }
        if ctx
            .render_opt(&self.full_refresh, "fullRefresh")?
            .unwrap_or(false)
        {
            f.push("--full-refresh".into());
        }
        let target = ctx.render_opt(&self.target, "target")?;
        if let Some(t) = &target {
            f.push(format!("--target {}", quote(t)));
        }
        if self.selector.is_some() {
            // Kestra renders `target` for `--selector` (a bug kept for compatibility).
            let _ = ctx.render_opt(&self.selector, "selector")?;
            if let Some(t) = &target {
                f.push(format!("--selector {}", quote(t)));
            }
        }
        for (flag, prop, name) in [
            ("--select", &self.select, "select"),
            ("--exclude", &self.exclude, "exclude"),
        ] {
            if let Some(list) = ctx.render_opt(prop, name)?
                && !list.is_empty()
            {
                let words: Vec<String> = list.iter().map(|s| quote(s)).collect();
                f.push(format!("{flag} {}", words.join(" ")));
            }
        }
        Ok(f)
    }
}

macro_rules! legacy_task {
    ($konst:ident, $ty:ident, $name:literal, $sub:literal, $what:literal, $parse:literal) => {
        pub(crate) const $konst: TaskDescriptor = TaskDescriptor {
            type_name: concat!("io.kestra.plugin.dbt.cli.", $name),
            aliases: &[],
            doc: concat!("Deprecated (use DbtCLI): run `dbt ", $sub, "` (", $what, ") with dbt at dbtPath (default ./bin/dbt, made by Setup in the same WorkingDirectory); run results are logged and kept as DbtCLI does."),
            example: concat!("id: dbt_", $sub, "\ntype: io.kestra.plugin.dbt.cli.", $name, "\ntaskRunner:\n  type: io.kestra.plugin.core.runner.Process\ndbtPath: dbt\nprofiles: |\n  shop:\n    target: dev\n    outputs:\n      dev:\n        type: duckdb\n        path: shop.duckdb\ninputFiles:\n  dbt_project.yml: |\n    name: shop\n    profile: shop\n  models/orders.sql: select 1 as id"),
            shape: runnable::<$ty>(),
        };

        #[derive(Deserialize, Properties)]
        pub(crate) struct $ty {
            #[serde(flatten)]
            inner: Legacy,
        }

        impl RunnableTask for $ty {
            fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
                Box::pin(async move {
                    let t = &self.inner;
                    let flags = t.run_flags(ctx)?;
                    run_legacy(
                        ctx,
                        Common {
                            fail_fast: &t.fail_fast,
                            warn_error: &t.warn_error,
                            debug: &t.debug,
                            project_dir: &t.project_dir,
                            dbt_path: &t.dbt_path,
                            profiles: &t.profiles,
                            script: &t.script,
                        },
                        $sub,
                        flags,
                        $parse && ctx.render_opt(&t.parse_run_results, "parseRunResults")?.unwrap_or(true),
                    )
                    .await
                })
            }
        }
    };
}

macro_rules! legacy_base_task {
    ($konst:ident, $ty:ident, $name:literal, $sub:literal, $what:literal) => {
        pub(crate) const $konst: TaskDescriptor = TaskDescriptor {
            type_name: concat!("io.kestra.plugin.dbt.cli.", $name),
            aliases: &[],
            doc: concat!("Deprecated (use DbtCLI): run `dbt ", $sub, "` (", $what, ") with dbt at dbtPath (default ./bin/dbt, made by Setup in the same WorkingDirectory)."),
            example: concat!("id: dbt_deps\ntype: io.kestra.plugin.dbt.cli.", $name, "\ntaskRunner:\n  type: io.kestra.plugin.core.runner.Process\ndbtPath: dbt\nprofiles: |\n  shop:\n    target: dev\n    outputs:\n      dev:\n        type: duckdb\n        path: shop.duckdb\ninputFiles:\n  dbt_project.yml: |\n    name: shop\n    profile: shop"),
            shape: runnable::<$ty>(),
        };

        #[derive(Deserialize, Properties)]
        pub(crate) struct $ty {
            #[serde(flatten)]
            inner: LegacyBase,
        }

        impl RunnableTask for $ty {
            fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
                Box::pin(async move {
                    let t = &self.inner;
                    run_legacy(
                        ctx,
                        Common {
                            fail_fast: &t.fail_fast,
                            warn_error: &t.warn_error,
                            debug: &t.debug,
                            project_dir: &t.project_dir,
                            dbt_path: &t.dbt_path,
                            profiles: &t.profiles,
                            script: &t.script,
                        },
                        $sub,
                        Vec::new(),
                        false,
                    )
                    .await
                })
            }
        }
    };
}

legacy_task!(
    BUILD,
    Build,
    "Build",
    "build",
    "models, tests, seeds and snapshots",
    true
);
legacy_task!(
    COMPILE,
    Compile,
    "Compile",
    "compile",
    "the project's SQL",
    true
);
legacy_task!(LIST, List, "List", "list", "the project's resources", false);
legacy_task!(RUN, Run, "Run", "run", "the models", true);
legacy_task!(SEED, Seed, "Seed", "seed", "the seeds", true);
legacy_task!(
    SNAPSHOT,
    Snapshot,
    "Snapshot",
    "snapshot",
    "the snapshots",
    true
);
legacy_task!(TEST, Test, "Test", "test", "the data tests", true);
legacy_base_task!(DEPS, Deps, "Deps", "deps", "the packages");
legacy_base_task!(
    FRESHNESS,
    Freshness,
    "Freshness",
    "source freshness",
    "the sources' freshness"
);
