//! `io.kestra.plugin.dbt.cli.Setup` (deprecated): dbt and its adapters installed with pip,
//! `.profile/profiles.yml` written, and `./bin/dbt` made for the legacy command tasks of the
//! same WorkingDirectory. The environment is the script kit's Python environment (kept in
//! runner's cache, keyed by the requirements: the next run starts at once).

use crate::common;
use runner_core::plugin::*;
use runner_scripts::kit::{self, Body, Extra, Language, ScriptProps};
use serde::Deserialize;

pub(crate) const SETUP: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.dbt.cli.Setup",
    aliases: &[],
    doc: "Deprecated (use DbtCLI): install dbt and its adapters (`requirements`, with pip, into a Python environment kept between runs), write `.profile/profiles.yml`, and make `./bin/dbt` for the legacy dbt tasks of the same WorkingDirectory.",
    example: "id: setup\ntype: io.kestra.plugin.dbt.cli.Setup\ntaskRunner:\n  type: io.kestra.plugin.core.runner.Process\nrequirements:\n  - dbt-duckdb\nprofiles:\n  shop:\n    target: dev\n    outputs:\n      dev:\n        type: duckdb\n        path: shop.duckdb",
    shape: runnable::<Setup>(),
};

const PYTHON: Language = Language {
    default_image: "python",
    env: &[
        ("PYTHONUNBUFFERED", "true"),
        ("PIP_ROOT_USER_ACTION", "ignore"),
    ],
    ..Language::POSIX
};

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Setup {
    /// The profiles.yml: text written as is, or a map (written as YAML).
    #[prop(type = "string or map")]
    profiles: Property<Json>,
    /// pip requirement specifiers: dbt-core and the adapters (dbt-duckdb, dbt-postgres...).
    requirements: Property<Vec<String>>,
    /// Accepted: on this machine runner makes the environment with `python3` (or `python`).
    #[allow(dead_code)]
    python_path: Option<Property<String>>,
    /// Deprecated and unused, as in Kestra.
    #[allow(dead_code)]
    exit_on_failed: Option<Property<bool>>,
    /// Deprecated Docker options; accepted (use taskRunner).
    #[allow(dead_code)]
    #[prop(type = "object")]
    docker_options: Option<Json>,
    #[serde(flatten)]
    props: ScriptProps,
}

/// Links the environment's programs into `./bin`, as Kestra's Setup makes the working
/// directory the environment.
const LINK: &[&str] = &[
    "mkdir -p bin",
    "for t in dbt python pip; do if p=$(command -v \"$t\"); then ln -sf \"$p\" \"bin/$t\"; fi; done",
    "if [ ! -x bin/dbt ]; then echo 'Setup: no dbt program after installing the requirements: add dbt-core or an adapter (dbt-duckdb, dbt-postgres...) to requirements' >&2; exit 1; fi",
];

impl RunnableTask for Setup {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let text = match ctx.render(&self.profiles, "profiles")? {
                Json::String(s) => s,
                // JSON is YAML: dbt reads it as written.
                m @ Json::Object(_) => serde_json::to_string_pretty(&m).unwrap_or_default(),
                _ => {
                    return Err(TaskError::property(
                        "profiles",
                        "The `profiles` attribute must be a String or a Map",
                    ));
                }
            };
            let wd = ctx.working_dir()?.path().to_path_buf();
            common::write_file(
                &wd.join(".profile").join("profiles.yml"),
                &text,
                "profiles.yml",
            )
            .await?;
            let requirements: Vec<String> = ctx
                .render(&self.requirements, "requirements")?
                .into_iter()
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty())
                .collect();
            if requirements.is_empty() {
                return Err(TaskError::property(
                    "requirements",
                    "no requirement: list dbt-core and the adapters to install (dbt-duckdb...)",
                ));
            }
            let commands = Property::from_json(Json::Array(
                LINK.iter().map(|l| Json::String(l.to_string())).collect(),
            ));
            kit::run(
                ctx,
                &self.props,
                &PYTHON,
                Body::Commands(&commands),
                Extra::python_dependencies(requirements),
            )
            .await
        })
    }
}
