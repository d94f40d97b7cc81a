//! `io.kestra.plugin.docker.cli.Compose`: `docker compose -f <file>... <composeArgs>` as a
//! script task (Kestra's `AbstractExecScript`: its task runner, `env`, files), so it runs
//! wherever the flow's task runner says, with `docker compose` (v2) there: Kestra's default is
//! the image `docker:27.5.1-cli`, which must reach an engine (a mounted socket, or
//! DOCKER_HOST).

use runner_core::plugin::*;
use runner_scripts::kit::{self, Body, Extra, Language, ScriptProps};
use serde::Deserialize;

pub(crate) const COMPOSE: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.docker.cli.Compose",
    aliases: &["io.kestra.plugin.docker.Compose"],
    doc: "Run `docker compose` with compose files (inline YAML, `kestra://` files or paths of the working directory) and arguments, as a script task.",
    example: "id: compose\ntype: io.kestra.plugin.docker.cli.Compose\ntaskRunner:\n  type: io.kestra.plugin.core.runner.Process\ncomposeFile: |\n  services:\n    hello:\n      image: localhost/runner-example:missing\ncomposeArgs:\n  - config\n  - --services",
    shape: runnable::<Compose>(),
};

const DOCKER_CLI: Language = Language {
    default_image: "docker:27.5.1-cli",
    env: &[],
    ..Language::POSIX
};

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Compose {
    /// The arguments after `docker compose -f ...` (`up`, `-d`...).
    compose_args: Property<Vec<String>>,
    /// Compose files, in order (win over `composeFile`): each inline YAML, a `kestra://` file, or a path of the working directory.
    compose_files: Option<Property<Vec<String>>>,
    /// One compose file, as `composeFiles`' entries.
    compose_file: Option<Property<String>>,
    #[serde(flatten)]
    props: ScriptProps,
}

/// `text` as one shell word.
fn quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b))
    {
        return text.to_string();
    }
    format!("'{}'", text.replace('\'', "'\\''"))
}

impl RunnableTask for Compose {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let files = match ctx.render_opt::<Vec<String>>(&self.compose_files, "composeFiles")? {
                Some(f) if !f.is_empty() => f,
                _ => ctx
                    .render_opt::<String>(&self.compose_file, "composeFile")?
                    .into_iter()
                    .collect(),
            };
            let dir = ctx.working_dir()?;
            let mut names = Vec::new();
            for f in files {
                let f = f.trim().to_string();
                if f.starts_with("kestra://") {
                    let name = format!("{}.yaml", runner_core::ids::random_u64());
                    ctx.copy_execution_file(&f, &dir.path().join(&name)).await?;
                    names.push(name);
                } else if !f.contains('\n') && !f.contains(": ") && dir.join(&f).is_ok() {
                    names.push(f);
                } else {
                    let name = format!("{}.yaml", runner_core::ids::random_u64());
                    tokio::fs::write(dir.path().join(&name), f.as_bytes())
                        .await
                        .map_err(|e| {
                            TaskError::new(ErrorKind::Io, "cannot write the compose file")
                                .caused_by(e)
                        })?;
                    names.push(name);
                }
            }
            let args: Vec<String> = ctx.render(&self.compose_args, "composeArgs")?;
            let mut command = vec!["docker".to_string(), "compose".to_string()];
            for n in &names {
                command.push("-f".into());
                command.push(n.clone());
            }
            command.extend(args);
            let line: Vec<String> = command.iter().map(|w| quote(w)).collect();
            let line = line.join(" ");
            ctx.log(
                Level::Info,
                &format!("Running command: {}", command.join(" ")),
            );
            let commands = Property::from_json(Json::Array(vec![Json::String(line)]));
            kit::run(
                ctx,
                &self.props,
                &DOCKER_CLI,
                Body::Commands(&commands),
                Extra::default(),
            )
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn words_are_quoted_for_the_shell() {
        assert_eq!(quote("up"), "up");
        assert_eq!(quote("-f"), "-f");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote(""), "''");
    }
}
