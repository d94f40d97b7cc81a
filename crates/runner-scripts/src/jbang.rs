//! `io.kestra.plugin.scripts.jbang.Script` and `jbang.Commands`: JBang runs a Java, JShell,
//! Kotlin, Groovy or Markdown file, fetching its dependencies itself.

use crate::exec::{self, Body, Extra, Language};
use crate::props::ScriptProps;
use runner_core::plugin::*;
use serde::Deserialize;

const JBANG: Language = Language {
    default_image: "jbangdev/jbang-action",
    ..Language::POSIX
};

pub(crate) const SCRIPT: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.scripts.jbang.Script",
    aliases: &[],
    doc: "Run a Java (or JShell, Kotlin, Groovy, Markdown) script with JBang, written to a file in the working directory.",
    example: "id: hello\ntype: io.kestra.plugin.scripts.jbang.Script\ntaskRunner:\n  type: io.kestra.plugin.core.runner.Process\nscript: |\n  class hello {\n    public static void main(String... args) {\n      System.out.println(\"hello\");\n    }\n  }",
    shape: runnable::<Script>(),
};

pub(crate) const COMMANDS: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.scripts.jbang.Commands",
    aliases: &[],
    doc: "Run commands in a shell, with JBang at hand.",
    example: "id: hello\ntype: io.kestra.plugin.scripts.jbang.Commands\ntaskRunner:\n  type: io.kestra.plugin.core.runner.Process\ncommands:\n  - jbang --version",
    shape: runnable::<Commands>(),
};

/// The file extensions JBang reads, as Kestra accepts them (with or without the dot).
const EXTENSIONS: &[&str] = &["java", "jsh", "kt", "groovy", "md"];

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Script {
    /// The script to run.
    script: Property<String>,
    /// The script file's extension, which tells JBang its language: `.java` (default), `.jsh`,
    /// `.kt`, `.groovy` or `.md`.
    extension: Option<Property<String>>,
    /// Run JBang with `--quiet`, so its own messages stay out of the logs (default true).
    quiet: Option<Property<bool>>,
    #[serde(flatten)]
    props: ScriptProps,
}

impl RunnableTask for Script {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let asked = ctx
                .render_opt(&self.extension, "extension")?
                .unwrap_or_else(|| ".java".into());
            let ext = extension_of(&asked).ok_or_else(|| {
                TaskError::property(
                    "extension",
                    format!(
                        "`{asked}` is not a file type JBang reads: use .java, .jsh, .kt, .groovy or .md"
                    ),
                )
            })?;
            let quiet = ctx.render_opt(&self.quiet, "quiet")?.unwrap_or(true);
            let program = if quiet { "jbang --quiet" } else { "jbang" };
            let body = Body::File {
                script: &self.script,
                ext,
                program,
            };
            exec::run(ctx, &self.props, &JBANG, body, Extra::default()).await
        })
    }
}

/// The known extension `asked` names, with or without its dot.
fn extension_of(asked: &str) -> Option<&'static str> {
    let bare = asked.strip_prefix('.').unwrap_or(asked);
    EXTENSIONS.iter().copied().find(|e| *e == bare)
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Commands {
    /// The commands to run.
    commands: Property<Vec<String>>,
    #[serde(flatten)]
    props: ScriptProps,
}

impl RunnableTask for Commands {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(exec::run(
            ctx,
            &self.props,
            &JBANG,
            Body::Commands(&self.commands),
            Extra::default(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_read_with_or_without_their_dot() {
        assert_eq!(extension_of(".java"), Some("java"));
        assert_eq!(extension_of("kt"), Some("kt"));
        assert_eq!(extension_of(".py"), None);
        assert_eq!(extension_of(""), None);
    }
}
