//! `runner init [DIR]`: a project to start from: a flows folder with one flow and its test
//! suite, `.env.example` for secrets, a `.gitignore` that keeps secrets and run data out of
//! git, and editor settings with runner's schemas. Nothing is overwritten.

use crate::exit;
use std::path::Path;

const FLOW: &str = r#"# Your first flow: `runner run flows/hello.yaml -i name=you`
id: hello
namespace: company.team

inputs:
  - id: name
    type: STRING
    defaults: world

tasks:
  - id: greet
    type: io.kestra.plugin.core.log.Log
    message: "Hello, {{ inputs.name }}!"

  - id: shout
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.name | upper }}"

outputs:
  - id: shouted
    type: STRING
    value: "{{ outputs.shout.value }}"
"#;

const TEST: &str = r#"# Its test suite (Kestra's format): `runner test flows`
id: hello_tests
namespace: company.team
flowId: hello
testCases:
  - id: shouts_the_name
    type: io.kestra.core.tests.flow.UnitTest
    fixtures:
      inputs:
        name: ada
    assertions:
      - value: "{{ outputs.shout.value }}"
        equalTo: ADA
      - value: "{{ execution.outputs.shouted }}"
        equalTo: ADA
"#;

const ENV_EXAMPLE: &str = "# Secrets, one NAME=value per line. Copy to .env (never commit it), then\n#   runner secrets encode .env -o .env_encoded\n# and run with --env-file .env_encoded; flows read them with {{ secret('NAME') }}.\nPOSTGRES_PASSWORD=change-me\n";

const GITIGNORE: &str = "# Secrets and what runs write\n.env\n.env_encoded\n.env.age\n.runner/\n";

/// VS Code's YAML extension (yaml-language-server) validates and completes flows and test
/// suites with the schemas `runner schema` writes into `.runner/schema/`.
const VSCODE_SETTINGS: &str = r#"{
  "yaml.schemas": {
    ".runner/schema/flow.json": ["flows/*.yaml", "flows/*.yml"],
    ".runner/schema/test-suite.json": ["flows/tests/*.yaml", "flows/tests/*.yml"]
  }
}
"#;

pub(crate) fn init(dir: Option<&Path>) -> u8 {
    let dir = dir.unwrap_or(Path::new("."));
    let flow_schema = crate::schema::text(false);
    let suite_schema = crate::schema::text(true);
    let files = [
        ("flows/hello.yaml", FLOW),
        ("flows/tests/hello_test.yaml", TEST),
        (".env.example", ENV_EXAMPLE),
        (".gitignore", GITIGNORE),
        (".vscode/settings.json", VSCODE_SETTINGS),
        (".runner/schema/flow.json", flow_schema.as_str()),
        (".runner/schema/test-suite.json", suite_schema.as_str()),
    ];
    let existing: Vec<String> = files
        .iter()
        .map(|(name, _)| dir.join(name))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() {
        return crate::report(
            format!(
                "{} already exist(s): runner init writes only new files (move them, or init another folder)",
                existing.join(", ")
            ),
            exit::INVALID,
        );
    }
    for (name, text) in files {
        let path = dir.join(name);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, text));
        if let Err(e) = written {
            return crate::report(
                format!("cannot write {}: {e}", path.display()),
                exit::FAILED,
            );
        }
        // The schemas are a cache of this runner's own (`runner schema` writes them again).
        if !name.starts_with(".runner/") {
            crate::say!("created {}", path.display());
        }
    }
    let cd = if dir == Path::new(".") {
        String::new()
    } else {
        format!("cd {} && ", dir.display())
    };
    crate::say!(
        "\nNext:\n  {cd}runner run flows/hello.yaml -i name=you\n  runner test flows\n  cp .env.example .env && runner secrets encode .env -o .env_encoded   # then --env-file .env_encoded\n\nEditors with yaml-language-server (VS Code's YAML extension) check and complete flows as you\ntype, with .runner/schema/ (.vscode/settings.json points at it; after an upgrade or a fresh\nclone: runner schema > .runner/schema/flow.json && runner schema --test-suite > .runner/schema/test-suite.json)"
    );
    exit::SUCCESS
}
