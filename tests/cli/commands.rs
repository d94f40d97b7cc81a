//! The `runner` binary as a user drives it: exit codes, diagnostics with positions, run records.

use crate::support;

use serde_json::Value as Json;
use std::process::Command;
use support::{Done, Sandbox, walk};

const HELLO: &str = "id: hello\nnamespace: company.team\ninputs:\n  - id: name\n    type: STRING\n    defaults: world\ntasks:\n  - id: greet\n    type: io.kestra.plugin.core.log.Log\n    message: \"Hello, {{ inputs.name }}!\"\n  - id: answer\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ 6 * 7 }}\"\noutputs:\n  - id: answer\n    type: INT\n    value: \"{{ outputs.answer.value }}\"\n";

#[test]
fn validate_accepts_a_valid_flow() {
    let s = Sandbox::new();
    s.write("hello.yaml", HELLO);
    let out = s.run(&["validate", "hello.yaml"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(out.stdout(), "✓ company.team.hello\n");
}

/// What a new user gets for each classic mistake: the message, `file:line:col`, the line, a caret.
#[test]
fn validate_points_at_each_mistake() {
    let s = Sandbox::new();
    let cases = [
        (
            "unknown-prop.yaml",
            "id: a\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    mesage: hi\n",
            "unknown-prop.yaml:6:5",
            "Unrecognized field \"mesage\"",
            "help: did you mean `message`?",
        ),
        (
            "unknown-type.yaml",
            "id: a\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Logg\n    message: hi\n",
            "unknown-type.yaml:5:11",
            "Invalid type: io.kestra.plugin.core.log.Logg",
            "help: did you mean `io.kestra.plugin.core.log.Log`?",
        ),
        (
            "bad-id.yaml",
            "id: my flow\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
            "bad-id.yaml:1:5",
            "id: must match",
            "",
        ),
        (
            "unquoted.yaml",
            "id: a\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: {{ flow.id }}\n",
            "unquoted.yaml:6:14",
            "YAML read an unquoted",
            "help: quote the expression",
        ),
        // A function runner lacks fails validation, not the run.
        (
            "unknown-function.yaml",
            "id: a\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ noSuchFunction() }}\"\n",
            "unknown-function.yaml:6:14",
            "Unknown function 'noSuchFunction': runner does not have it",
            "",
        ),
        (
            "function-as-filter.yaml",
            "id: a\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ '{}' | fromJson }}\"\n",
            "function-as-filter.yaml:6:14",
            "`fromJson` is a function, not a filter: write `fromJson(value)`",
            "",
        ),
        // A real Kestra plugin runner lacks is not a typo of another family's type.
        (
            "kestra-plugin.yaml",
            "id: a\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.gcp.bigquery.Query\n    sql: SELECT 1\n",
            "kestra-plugin.yaml:5:11",
            "Invalid type: io.kestra.plugin.gcp.bigquery.Query",
            "help: `io.kestra.plugin.gcp.bigquery.Query` is a Kestra plugin runner does not run yet: `runner test` can stand in for it with a fixture, and `runner validate --allow-unsupported` checks the rest of the flow",
        ),
    ];
    for (name, text, at, message, help) in cases {
        s.write(name, text);
        let out = s.run(&["validate", name]);
        let err = out.stderr();
        assert_eq!(out.code(), 1, "{name}: {err}");
        assert!(err.contains(&format!("--> {at}")), "{name}: {err}");
        assert!(err.contains(message), "{name}: {err}");
        if help.is_empty() {
            assert!(!err.contains("help:"), "{name} has no help to give: {err}");
        } else {
            assert!(err.contains(help), "{name}: {err}");
        }
        assert!(
            err.contains(" | ") && err.contains('^'),
            "{name} has a snippet: {err}"
        );
        assert!(out.stdout().starts_with("✘ "), "{name}: {}", out.stdout());
    }
}

/// A broken expression is a warning, as Kestra saves such a flow and fails on its render;
/// `--strict`, the CI gate, refuses it.
#[test]
fn validate_strict_refuses_a_broken_expression() {
    let s = Sandbox::new();
    s.write(
        "f.yaml",
        "id: a\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ flow.id | upper( }}\"\n",
    );
    let out = s.run(&["validate", "f.yaml"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("warning: tasks[0].format: invalid expression"),
        "{}",
        out.stderr()
    );
    let out = s.run(&["validate", "--strict", "f.yaml"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("error: tasks[0].format: invalid expression"),
        "{}",
        out.stderr()
    );
    assert!(out.stderr().contains("--> f.yaml:6:13"), "{}", out.stderr());
}

/// A repository that uses Kestra plugins runner lacks can still gate on everything else.
#[test]
fn validate_allow_unsupported_checks_the_rest() {
    let s = Sandbox::new();
    let flow = "id: a\nnamespace: n\ntasks:\n  - id: load\n    type: io.kestra.plugin.gcp.bigquery.Query\n    sql: \"SELECT {{ inputs.day }}\"\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ outputs.load.rows }}\"\n";
    s.write("ok.yaml", flow);
    let out = s.run(&["validate", "--allow-unsupported", "ok.yaml"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("warning: Invalid type: io.kestra.plugin.gcp.bigquery.Query"),
        "{}",
        out.stderr()
    );
    assert_eq!(out.stdout(), "✓ n.a\n");
    // Without the flag the same flow is refused.
    assert_eq!(s.run(&["validate", "ok.yaml"]).code(), 1);
    // The unsupported task's own expressions, and the rest of the flow, are still checked.
    s.write(
        "bad.yaml",
        &flow.replace("{{ inputs.day }}", "{{ inputs.day | nope }}"),
    );
    let out = s.run(&["validate", "--allow-unsupported", "bad.yaml"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(
        out.stderr().contains("tasks[0].sql: invalid expression"),
        "{}",
        out.stderr()
    );
    s.write("dup.yaml", &flow.replace("id: log", "id: load"));
    let out = s.run(&["validate", "--allow-unsupported", "dup.yaml"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(
        out.stderr().contains("Duplicate task id with name [load]"),
        "{}",
        out.stderr()
    );
}

#[test]
fn validate_walks_folders_and_documents() {
    let s = Sandbox::new();
    s.write("flows/a.yaml", HELLO);
    s.write(
        "flows/sub/two.yml",
        &format!("{HELLO}---\n{}", HELLO.replace("id: hello", "id: other")),
    );
    s.write("flows/notes.txt", "not a flow");
    let out = s.run(&["validate", "flows"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(
        out.stdout(),
        "✓ company.team.hello\n✓ company.team.hello\n✓ company.team.other\n"
    );
    s.write("flows/z-broken.yaml", "id: x\nnamespace: n\n");
    let out = s.run(&["validate", "flows"]);
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr().contains("tasks: must not be empty"),
        "{}",
        out.stderr()
    );
    assert!(out.stderr().contains("1 invalid flow(s), 3 valid"));
}

#[test]
fn yaml_syntax_errors_have_positions() {
    let s = Sandbox::new();
    s.write(
        "bad.yaml",
        "id: a\nnamespace: n\ntasks:\n  - id: t\n   type: x\n",
    );
    let out = s.run(&["validate", "bad.yaml"]);
    assert_eq!(out.code(), 1);
    assert!(out.stderr().contains("invalid YAML"), "{}", out.stderr());
    assert!(out.stderr().contains("--> bad.yaml:5:"), "{}", out.stderr());
}

#[test]
fn run_logs_summarises_and_records() {
    let s = Sandbox::new();
    s.write("hello.yaml", HELLO);
    let out = s.run(&[
        "run",
        "hello.yaml",
        "-i",
        "name=Ada",
        "--storage",
        "st",
        "--json",
    ]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let err = out.stderr();
    assert!(err.contains("INFO  [greet] Hello, Ada!"), "{err}");
    assert!(err.contains("greet   SUCCESS"), "{err}");
    assert!(err.contains("ended SUCCESS"), "{err}");
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(record["state"]["current"], "SUCCESS");
    assert_eq!(record["flowId"], "hello");
    assert_eq!(record["namespace"], "company.team");
    assert_eq!(record["inputs"]["name"], "Ada");
    assert_eq!(record["outputs"]["answer"], 42);
    let runs = record["taskRunList"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1]["outputs"]["value"], "42");
    assert_eq!(runs[1]["attempts"][0]["state"]["current"], "SUCCESS");
    let id = record["id"].as_str().unwrap();
    let on_disk = s.dir.join(format!(
        "st/company/team/hello/executions/{id}/execution.json"
    ));
    let saved: Json = serde_json::from_str(&std::fs::read_to_string(on_disk).unwrap()).unwrap();
    assert_eq!(saved, record, "--json prints the record that was saved");
    // The record describes this run, as the log and the summary told it.
    assert!(
        err.contains(&format!(
            "Execution {id} of company.team.hello ended SUCCESS"
        )),
        "{err}"
    );
    assert_ne!(runs[0]["id"], runs[1]["id"]);
    for run in runs {
        assert_eq!(run["executionId"], id);
        assert_eq!(run["state"]["current"], "SUCCESS");
        let started: jiff::Timestamp = run["state"]["startDate"].as_str().unwrap().parse().unwrap();
        let ended: jiff::Timestamp = run["state"]["endDate"].as_str().unwrap().parse().unwrap();
        assert!(started <= ended);
    }
    let history: Vec<&str> = record["state"]["histories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["state"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["CREATED", "RUNNING", "SUCCESS"]);
}

#[test]
fn run_exit_codes() {
    let s = Sandbox::new();
    s.write("fail.yaml", "id: f\nnamespace: n\ntasks:\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n    errorMessage: it broke\n");
    let out = s.run(&["run", "fail.yaml", "--storage", "st"]);
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr().contains("ERROR [boom] it broke"),
        "{}",
        out.stderr()
    );
    assert!(out.stderr().contains("ended FAILED"));

    s.write("warn.yaml", "id: w\nnamespace: n\ntasks:\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n    allowFailure: true\n");
    assert_eq!(
        s.run(&["run", "warn.yaml", "--storage", "st"]).code(),
        0,
        "WARNING exits 0"
    );

    s.write(
        "invalid.yaml",
        "id: i\nnamespace: n\ntasks:\n  - id: t\n    type: nope.Task\n",
    );
    let out = s.run(&["run", "invalid.yaml", "--storage", "st"]);
    assert_eq!(out.code(), 2);
    assert!(out.stderr().contains("Invalid type: nope.Task"));

    s.write("hello.yaml", HELLO);
    let out = s.run(&["run", "hello.yaml", "-i", "nmae=x", "--storage", "st"]);
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr()
            .contains("unknown input `nmae`: the flow declares name"),
        "{}",
        out.stderr()
    );
    let out = s.run(&["run", "hello.yaml", "-i", "name"]);
    assert_eq!(out.code(), 2);
    assert!(out.stderr().contains("is not of the form `name=value`"));
    assert_eq!(s.run(&["run", "missing.yaml"]).code(), 2);
    assert_eq!(s.run(&["frobnicate"]).code(), 2, "usage errors exit 2");
}

#[test]
fn run_reads_an_inputs_file_and_json_logs() {
    let s = Sandbox::new();
    s.write("hello.yaml", HELLO);
    s.write("inputs.yaml", "name: Grace\n");
    let out = s.run(&[
        "run",
        "hello.yaml",
        "--inputs-file",
        "inputs.yaml",
        "--storage",
        "st",
        "--log-format",
        "json",
    ]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let line = out
        .stderr()
        .lines()
        .find(|l| l.contains("Hello"))
        .unwrap()
        .to_string();
    let event: Json = serde_json::from_str(&line).unwrap();
    assert_eq!(event["message"], "Hello, Grace!");
    assert_eq!(event["taskId"], "greet");
    assert_eq!(event["level"], "INFO");
}

#[test]
fn secret_inputs_are_masked_everywhere() {
    let s = Sandbox::new();
    s.write("secret.yaml", "id: s\nnamespace: n\ninputs:\n  - id: token\n    type: SECRET\ntasks:\n  - id: show\n    type: io.kestra.plugin.core.log.Log\n    message: \"token is {{ inputs.token }}\"\n");
    let out = s.run(&[
        "run",
        "secret.yaml",
        "-i",
        "token=hunter2-s3cr3t",
        "--storage",
        "st",
        "--json",
    ]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out.stderr().contains("token is ******"), "{}", out.stderr());
    let mut everything = out.stdout() + &out.stderr();
    for entry in walk(&s.dir.join("st")) {
        everything.push_str(&String::from_utf8_lossy(&std::fs::read(entry).unwrap()));
    }
    assert!(!everything.contains("hunter2-s3cr3t"));
}

#[test]
fn eval_prints_exactly_the_result() {
    let s = Sandbox::new();
    s.write("vars.json", r#"{"list": [1, 2], "name": "x"}"#);
    let out = s.run(&[
        "eval",
        "--vars",
        "vars.json",
        "{{ name | upper }} {{ list }}",
    ]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(out.stdout(), "X [1,2]");
    let out = s.run(&["eval", "{{ missing }}"]);
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr()
            .contains("Unable to find `missing` used in the expression `{{ missing }}` at line 1"),
        "{}",
        out.stderr()
    );
    s.write("hello.yaml", HELLO);
    let out = s.run(&[
        "eval",
        "--flow",
        "hello.yaml",
        "{{ flow.namespace }}/{{ inputs.name }}",
    ]);
    assert_eq!(out.stdout(), "company.team/world");
    // Defaults are typed as their input, as in a run.
    s.write(
        "typed.yaml",
        "id: typed\nnamespace: n\ninputs:\n  - id: n\n    type: INT\n    defaults: \"41\"\n  - id: when\n    type: DATE\n    defaults: 2024-01-05\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\n",
    );
    let out = s.run(&[
        "eval",
        "--flow",
        "typed.yaml",
        "{{ inputs.n + 1 }} {{ inputs.when }}",
    ]);
    assert_eq!(out.stdout(), "42 2024-01-05", "{}", out.stderr());
    s.write("broken.yaml", "id: broken\nnamespace: n\ntasks: []\n");
    let out = s.run(&["eval", "--flow", "broken.yaml", "{{ 1 }}"]);
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr().contains("tasks: must not be empty"),
        "{}",
        out.stderr()
    );
}

#[test]
fn plugins_lists_types_with_aliases() {
    let s = Sandbox::new();
    let out = s.run(&["plugins", "--format", "json"]);
    assert_eq!(out.code(), 0);
    let list: Json = serde_json::from_str(&out.stdout()).unwrap();
    let log = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["type"] == "io.kestra.plugin.core.log.Log")
        .unwrap();
    assert_eq!(log["aliases"][0], "io.kestra.core.tasks.log.Log");
    assert_eq!(log["properties"][0]["name"], "message");
    let text = s.run(&["plugins"]).stdout();
    assert!(text.contains("io.kestra.plugin.core.flow.ForEach"));
    // A SaaS API tested only against a contract server says so, under either name.
    for name in [
        "io.kestra.plugin.twilio.sendgrid.SendGridMailSend",
        "io.kestra.plugin.notifications.sendgrid.SendGridMailExecution",
    ] {
        let out = s.run(&["plugins", name]);
        assert_eq!(out.code(), 0, "{}", out.stderr());
        assert!(
            out.stdout().contains("Verified against a contract server built from SendGrid's published v3 API, not against the live service."),
            "{}",
            out.stdout()
        );
    }
    let mail = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["type"] == "io.kestra.plugin.email.MailSend")
        .unwrap();
    assert_eq!(
        mail["aliases"][0],
        "io.kestra.plugin.notifications.mail.MailSend"
    );
    let password = mail["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "password")
        .unwrap();
    assert_eq!(password["secret"], true);
}

#[test]
fn every_example_flow_is_valid() {
    let flows = support::repo_root().join("flows");
    let s = Sandbox::new();
    let out = s.run(&["validate", flows.to_str().unwrap()]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
}

#[cfg(unix)]
#[test]
fn ctrl_c_kills_the_execution() {
    let s = Sandbox::new();
    s.write("slow.yaml", "id: slow\nnamespace: n\ntasks:\n  - id: wait\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT60S\n");
    let mut child = s
        .cmd(&["run", "slow.yaml", "--storage", "st", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt as a terminal would, once the task says it is waiting.
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("Waiting for") {
        let mut line = String::new();
        assert!(
            std::io::BufRead::read_line(&mut stderr, &mut line).unwrap() > 0,
            "runner exited early: {seen}"
        );
        seen.push_str(&line);
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let out = Done(child.wait_with_output().unwrap());
    assert!(
        rest.contains("Interrupted (SIGINT): the execution was killed"),
        "{rest}"
    );
    assert!(rest.contains("wait  KILLED"), "{rest}");
    assert_eq!(out.code(), 1);
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(record["state"]["current"], "KILLED");
    assert_eq!(record["taskRunList"][0]["state"]["current"], "KILLED");
}

#[test]
fn the_task_reference_lists_exactly_the_registry() {
    let text = std::fs::read_to_string(support::repo_root().join("docs/tasks.md")).unwrap();
    let registry = runner::registry();
    for t in registry.iter() {
        let d = t.descriptor;
        assert!(
            text.contains(&format!("| `{}` |", d.type_name)),
            "docs/tasks.md misses {}",
            d.type_name
        );
    }
    // And no row names a type runner does not have.
    for line in text.lines().filter(|l| l.starts_with("| `io.kestra.")) {
        let name = line[3..].split('`').next().unwrap();
        assert!(
            registry.iter().any(|t| t.descriptor.type_name == name),
            "docs/tasks.md lists {name}, which is not in the registry"
        );
    }
}

#[test]
fn readme_lists_every_task_type() {
    let readme = std::fs::read_to_string(support::repo_root().join("README.md")).unwrap();
    for t in runner::registry().iter() {
        let d = t.descriptor;
        assert!(
            readme.contains(&format!("`{}`", d.type_name)),
            "README misses {}",
            d.type_name
        );
        for alias in d.aliases {
            assert!(
                readme.contains(&format!("`{alias}`")),
                "README misses alias {alias}"
            );
        }
    }
}

#[test]
fn docker_compose_file_names_the_services() {
    // What README promises of the file; scripts/compose-test.sh runs it for real.
    let text = std::fs::read_to_string(support::repo_root().join("docker-compose.yaml")).unwrap();
    let doc = runner_model::load_str(&text).unwrap().remove(0).to_json();
    let services = doc["services"].as_object().unwrap();
    for name in ["postgres", "minio", "minio-bucket", "runner", "kestra"] {
        assert!(services.contains_key(name), "missing service {name}");
    }
    assert_eq!(services["runner"]["env_file"], ".env_encoded");
    assert_eq!(services["kestra"]["env_file"], ".env_encoded");
    assert_eq!(services["kestra"]["profiles"][0], "kestra");
    assert_eq!(services["postgres"]["ports"][0], "127.0.0.1:56982:5432");
}

/// Runs `args` under a pseudo-terminal (util-linux `script`), as a user's shell would; returns
/// everything the terminal received (stdout and stderr together).
#[cfg(unix)]
fn on_a_terminal(s: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> String {
    let bin = env!("CARGO_BIN_EXE_runner");
    let line = std::iter::once(bin)
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qefc", &line, "/dev/null"])
        .current_dir(&s.dir)
        .env_remove("NO_COLOR")
        .env_remove("CI")
        .env("TERM", "xterm-256color");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("util-linux script runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn init_scaffolds_a_project_that_validates_runs_and_tests() {
    let s = Sandbox::new();
    let out = s.run(&["init", "proj"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    for f in [
        "flows/hello.yaml",
        "flows/tests/hello_test.yaml",
        ".env.example",
        ".gitignore",
        ".vscode/settings.json",
        ".runner/schema/flow.json",
        ".runner/schema/test-suite.json",
    ] {
        assert!(s.dir.join("proj").join(f).is_file(), "{f}");
    }
    // The editor settings point at the schemas init wrote, which are runner's own.
    let settings: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(s.dir.join("proj/.vscode/settings.json")).unwrap(),
    )
    .unwrap();
    for (schema, flag) in [
        ("flow.json", None),
        ("test-suite.json", Some("--test-suite")),
    ] {
        let key = format!(".runner/schema/{schema}");
        assert!(settings["yaml.schemas"][&key].is_array(), "{settings}");
        let written = std::fs::read_to_string(s.dir.join("proj").join(&key)).unwrap();
        let printed = s.run(&["schema"].into_iter().chain(flag).collect::<Vec<_>>());
        assert_eq!(written, printed.stdout(), "{key}");
    }
    let ignore = std::fs::read_to_string(s.dir.join("proj/.gitignore")).unwrap();
    for line in [".env", ".env_encoded", ".runner/"] {
        assert!(ignore.lines().any(|l| l == line), "{ignore}");
    }
    assert!(
        out.stderr().contains(
            "Next:\n  cd proj && runner run flows/hello.yaml -i name=you\n  runner test flows\n"
        ),
        "{}",
        out.stderr()
    );
    let p = s.dir.join("proj");
    let run = |args: &[&str]| {
        let mut cmd = s.cmd(args);
        cmd.current_dir(&p);
        support::Done(cmd.output().unwrap())
    };
    assert_eq!(run(&["validate", "flows"]).code(), 0);
    let r = run(&["run", "flows/hello.yaml", "-i", "name=you", "--json"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let record: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(record["outputs"]["shouted"], "YOU");
    assert!(
        r.stderr()
            .contains("record: .runner/storage/company/team/hello/executions/")
    );
    let t = run(&["test", "flows"]);
    assert_eq!(t.code(), 0, "{}", t.stderr());
    assert!(t.stderr().contains("1 passed"), "{}", t.stderr());
    // A second init never overwrites.
    let again = s.run(&["init", "proj"]);
    assert_eq!(again.code(), 2);
    assert!(
        again.stderr().contains("already exist(s)"),
        "{}",
        again.stderr()
    );
}

#[test]
fn schema_lists_every_task_type_with_its_properties_and_refuses_what_runner_refuses() {
    let s = Sandbox::new();
    let out = s.run(&["schema"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let schema: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    let types: Vec<&str> = schema["definitions"]["task"]["properties"]["type"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let registry = runner::registry();
    for t in registry.iter() {
        assert!(
            types.contains(&t.descriptor.type_name),
            "{}",
            t.descriptor.type_name
        );
        for alias in t.descriptor.aliases {
            assert!(types.contains(alias), "{alias}");
        }
        let def = &schema["definitions"][format!("task:{}", t.descriptor.type_name)];
        assert_eq!(def["additionalProperties"], false);
        for p in &t.properties {
            assert!(
                def["properties"][p.name]["description"]
                    .as_str()
                    .is_some_and(|d| d.starts_with(p.doc)),
                "{}.{}",
                t.descriptor.type_name,
                p.name
            );
        }
    }
    // An enum's values, and an expression in its place.
    let level = &schema["definitions"]["task:io.kestra.plugin.jdbc.postgresql.Query"]["properties"]
        ["fetchType"];
    assert!(level.to_string().contains("FETCH_ONE"), "{level}");
    let suite = s.run(&["schema", "--test-suite"]);
    let suite: serde_json::Value = serde_json::from_str(&suite.stdout()).unwrap();
    assert_eq!(
        suite["required"],
        serde_json::json!(["id", "namespace", "flowId", "testCases"])
    );
}

#[test]
fn version_completions_and_help_that_teaches() {
    let s = Sandbox::new();
    let v = s.run(&["--version"]).stdout();
    let (name, rest) = v.trim().split_once(' ').unwrap();
    assert_eq!(name, "runner");
    let commit = rest.split_once('(').unwrap().1.trim_end_matches(')');
    let hash = commit.trim_end_matches("+dirty");
    assert!(
        hash == "unknown" || (hash.len() == 12 && hash.chars().all(|c| c.is_ascii_hexdigit())),
        "{v}"
    );
    for (shell, marker) in [
        ("bash", "complete -F _runner"),
        ("zsh", "#compdef runner"),
        ("fish", "complete -c runner"),
    ] {
        let out = s.run(&["completions", shell]);
        assert_eq!(out.code(), 0);
        let script = out.stdout();
        assert!(script.contains(marker), "{shell}: {script}");
        for sub in ["run", "validate", "test", "init", "kv"] {
            assert!(script.contains(sub), "{shell} misses {sub}");
        }
    }
    // Every subcommand's help has an example.
    for sub in [
        "run",
        "validate",
        "eval",
        "plugins",
        "init",
        "completions",
        "secrets",
        "kv",
        "test",
        "schema",
        "resume",
        "restart",
        "kill",
    ] {
        let help = s.run(&[sub, "--help"]).stdout();
        assert!(help.contains("Examples:\n  runner "), "{sub}: {help}");
    }
    let typo = s.run(&["valdate", "x"]);
    assert_eq!(typo.code(), 2);
    assert!(
        typo.stderr().contains("'validate'") && typo.stderr().contains("tip: "),
        "{}",
        typo.stderr()
    );
    let typo = s.run(&["run", "--jsno", "x.yaml"]);
    assert!(
        typo.stderr()
            .contains("a similar argument exists: '--json'"),
        "{}",
        typo.stderr()
    );
    // One task type, by an alias too.
    let one = s.run(&["plugins", "io.kestra.core.tasks.log.Log"]);
    assert_eq!(one.code(), 0);
    assert!(
        one.stdout().starts_with("io.kestra.plugin.core.log.Log\n"),
        "{}",
        one.stdout()
    );
    assert!(
        one.stdout().contains("Example:\n  id: "),
        "{}",
        one.stdout()
    );
    let bad = s.run(&["plugins", "io.kestra.plugin.core.log.Lgo"]);
    assert_eq!(bad.code(), 2);
    assert!(
        bad.stderr()
            .contains("did you mean `io.kestra.plugin.core.log.Log`?")
    );
}

#[cfg(unix)]
#[test]
fn colours_on_a_terminal_unless_no_color_or_never() {
    let s = Sandbox::new();
    s.write("bad.yaml", "id: bad\nnamespace: n\ntasks: []\n");
    let coloured = on_a_terminal(&s, &["validate", "bad.yaml"], &[]);
    assert!(coloured.contains("\x1b[1;31merror\x1b[0m"), "{coloured:?}");
    let plain = on_a_terminal(&s, &["validate", "bad.yaml"], &[("NO_COLOR", "1")]);
    assert!(
        plain.contains("error:") && !plain.contains("\x1b["),
        "{plain:?}"
    );
    let never = on_a_terminal(&s, &["--color", "never", "validate", "bad.yaml"], &[]);
    assert!(!never.contains("\x1b["), "{never:?}");
    // Piped, colours only when asked for.
    let piped = s.run(&["validate", "bad.yaml"]);
    assert!(!piped.stderr().contains("\x1b["));
    let forced = s.run(&["--color", "always", "validate", "bad.yaml"]);
    assert!(
        forced.stderr().contains("\x1b[1;31merror"),
        "{}",
        forced.stderr()
    );
}

#[cfg(unix)]
#[test]
fn progress_shows_on_a_terminal_only() {
    let s = Sandbox::new();
    s.write(
        "slow.yaml",
        "id: slow\nnamespace: n\ntasks:\n  - id: nap\n    type: io.kestra.plugin.scripts.shell.Commands\n    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n    commands:\n      - sleep 1.5\n",
    );
    let live = on_a_terminal(&s, &["run", "slow.yaml"], &[]);
    assert!(live.contains("nap running"), "{live:?}");
    // The line is cleared when the task ends: the summary follows on a clean line.
    assert!(live.contains("ended SUCCESS"), "{live:?}");
    let forced = on_a_terminal(
        &s,
        &["run", "slow.yaml", "--progress", "always"],
        &[("CI", "true")],
    );
    assert!(forced.contains("nap running"), "{forced:?}");
    for (args, env) in [
        (vec!["run", "slow.yaml", "--progress", "never"], vec![]),
        (vec!["run", "slow.yaml"], vec![("CI", "true")]),
        (vec!["run", "slow.yaml", "--log-format", "json"], vec![]),
    ] {
        let quiet = on_a_terminal(&s, &args, &env);
        assert!(quiet.contains("SUCCESS"), "{args:?}: {quiet:?}");
        assert!(!quiet.contains("nap running"), "{args:?}: {quiet:?}");
    }
    // In a pipe, even when asked for: not in the logs, not in --json.
    let piped = s.run(&["run", "slow.yaml", "--json", "--progress", "always"]);
    assert_eq!(piped.code(), 0);
    assert!(!piped.stderr().contains("running"), "{}", piped.stderr());
    let record: serde_json::Value = serde_json::from_str(&piped.stdout()).unwrap();
    assert_eq!(record["state"]["current"], "SUCCESS");
}

#[test]
fn no_script_builds_a_second_dependency_tree() {
    // The demo, the benchmarks, CI and the tests use the S3 server this workspace builds
    // (runner-s3): nothing is compiled again with `cargo install`.
    let root = support::repo_root();
    let mut checked = 0;
    for dir in ["scripts", "bench", ".ci"] {
        for f in support::walk(&root.join(dir)) {
            let Ok(text) = std::fs::read_to_string(&f) else {
                continue;
            };
            checked += 1;
            assert!(
                !text.contains("cargo install"),
                "{} runs cargo install",
                f.display()
            );
        }
    }
    assert!(checked >= 5, "{checked} files");
    let services = std::fs::read_to_string(root.join("scripts/services.sh")).unwrap();
    assert!(services.contains("target/release/runner-s3"));
}

/// Python as a new user meets it: `runner run` with its default cache (`.runner/cache`,
/// relative), on a machine where only `python3` is installed (PATH has no `python`), a Script
/// with `dependencies` and one without: both find their interpreter and packages, although the
/// scripts run in a working directory elsewhere.
#[cfg(target_os = "linux")]
#[test]
fn python_dependencies_and_the_python_shim_work_from_the_default_cache() {
    let s = Sandbox::new();
    s.write(
        "py.yaml",
        r#"id: py
namespace: company.team
tasks:
  - id: deps
    type: io.kestra.plugin.scripts.python.Script
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    dependencies: [six]
    script: |
      import six, sys
      print("six", six.__version__, sys.prefix.endswith("bin") is False)
  - id: plain
    type: io.kestra.plugin.scripts.python.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - python -c "print('shim', 6 * 7)"
"#,
    );
    let path = "/usr/local/bin:/usr/bin:/bin";
    assert!(
        !std::path::Path::new("/usr/bin/python").exists(),
        "this test needs a machine where only python3 is installed"
    );
    let done = Done(
        s.cmd(&["run", "py.yaml"])
            .env("PATH", path)
            .output()
            .unwrap(),
    );
    let err = done.stderr();
    assert_eq!(done.code(), 0, "{err}");
    assert!(!err.contains("ModuleNotFoundError"), "{err}");
    assert!(err.contains("[deps] six 1."), "{err}");
    assert!(err.contains("[plain] shim 42"), "{err}");
}

/// Kestra renders an input's default when it is an expression, seeing the inputs before it.
#[test]
fn input_defaults_may_be_expressions() {
    let s = Sandbox::new();
    s.write(
        "f.yaml",
        r#"id: dyn
namespace: demo
inputs:
  - id: when
    type: DATETIME
    defaults: "{{ now() }}"
  - id: region
    type: STRING
    defaults: eu
  - id: bucket
    type: STRING
    defaults: "data-{{ inputs.region }}-{{ flow.id }}"
  - id: limit
    type: INT
    defaults: "{{ 6 * 7 }}"
tasks:
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.bucket }} {{ inputs.limit + 1 }} {{ inputs.when | date('yyyy') }}"
"#,
    );
    let out = s.run(&["run", "f.yaml", "--json", "-i", "region=us"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    let year = jiff::Timestamp::now().strftime("%Y").to_string();
    assert_eq!(
        record["taskRunList"][0]["outputs"]["value"],
        format!("data-us-dyn 43 {year}")
    );
    // A default that renders to a value of the wrong type fails as a given value would.
    s.write(
        "bad.yaml",
        "id: bad\nnamespace: demo\ninputs:\n  - id: n\n    type: INT\n    defaults: \"{{ 'abc' }}\"\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ inputs.n }}\"\n",
    );
    let out = s.run(&["run", "bad.yaml"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    // One clean line on a terminal, not Kestra's fenced wording.
    assert_eq!(
        out.stderr().trim_end(),
        "error: Invalid input for `n`: expected `INT` but received `abc`: invalid digit found in string"
    );
    // Kestra's wording where a program reads it.
    let out = s.run(&["run", "bad.yaml", "--log-format", "json"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("Invalid input for `n`, Expected `INT` but received `abc` with errors:"),
        "{}",
        out.stderr()
    );
}

/// After the summary: the flow's outputs, masked; durations in one form.
#[test]
fn run_prints_the_flow_outputs_after_the_summary() {
    let s = Sandbox::new();
    s.write(
        "f.yaml",
        r#"id: outs
namespace: demo
tasks:
  - id: t
    type: io.kestra.plugin.core.debug.Return
    format: "42"
outputs:
  - id: answer
    type: INT
    value: "{{ outputs.t.value }}"
  - id: token
    type: STRING
    value: "{{ secret('TOKEN') }}"
  - id: long
    type: STRING
    value: "{% for i in range(1, 300) %}x{% endfor %}"
"#,
    );
    let out = Done(
        s.cmd(&["run", "f.yaml"])
            .env("SECRET_TOKEN", "c3VwZXItc2VjcmV0LXRva2Vu")
            .output()
            .unwrap(),
    );
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let err = out.stderr();
    let tail = &err[err.find("Execution ").expect("summary")..];
    assert!(
        tail.contains("OUTPUTS\n  answer  42\n  token   ******\n  long    xxx"),
        "{tail}"
    );
    assert!(
        tail.contains("… (300 characters; the record has it whole)"),
        "{tail}"
    );
    assert!(!err.contains("super-secret-token"), "{err}");
    // One duration format: the log line reads like the summary, not `PT0.0001S`.
    let line = err
        .lines()
        .find(|l| l.contains("Flow completed with state SUCCESS in "))
        .expect("end line");
    assert!(!line.contains(" in PT"), "{line}");
}

/// A run that fails while its inputs are read leaves no execution folder behind.
#[test]
fn a_run_refused_at_its_inputs_leaves_no_execution_folder() {
    let s = Sandbox::new();
    s.write("data.csv", "a,b\n1,2\n");
    s.write(
        "f.yaml",
        "id: f\nnamespace: demo\ninputs:\n  - id: data\n    type: FILE\n  - id: options\n    type: JSON\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
    );
    let out = s.run(&[
        "run",
        "f.yaml",
        "--storage",
        "st",
        "-i",
        "data=data.csv",
        "-i",
        "options={not json",
    ]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(
        out.stderr().contains("Invalid input for `options`"),
        "{}",
        out.stderr()
    );
    let executions = s.dir.join("st/demo/f/executions");
    let left: Vec<_> = std::fs::read_dir(&executions)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}
