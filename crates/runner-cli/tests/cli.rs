//! The `runner` binary as a user drives it: exit codes, diagnostics with positions, run records.

mod support;

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
    // No Docker engine here: check that the file parses and wires what README promises.
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
