//! `runner deploy`, `runner run --server` and `runner kv push/pull` against a server that
//! answers as Kestra's API does and checks every request against the contract written from
//! Kestra's OpenAPI document (runner_testkit::kestra). No Kestra runs here; README shows how
//! to try it against a real one.

use crate::support;

use runner_testkit::kestra::KestraServer;
use serde_json::{Value as Json, json};
use support::{Done, Sandbox};

const HELLO: &str = r#"id: hello
namespace: company.team
inputs:
  - id: name
    type: STRING
  - id: data
    type: FILE
    required: false
tasks:
  - id: greet
    type: io.kestra.plugin.core.log.Log
    message: "Hello, {{ inputs.name }}!"
"#;

const ETL: &str = r#"id: etl
namespace: company.team
tasks:
  - id: run
    type: io.kestra.plugin.scripts.python.Script
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    namespaceFiles:
      enabled: true
    script: "{{ read('scripts/etl.py') }}"
"#;

const SUITE: &str = r#"id: hello_test
namespace: company.team
flowId: hello
testCases:
  - id: greets
    type: io.kestra.core.tests.flow.UnitTest
    fixtures:
      inputs:
        name: Ada
    assertions:
      - value: "{{ outputs.greet is defined }}"
        equalTo: true
"#;

/// `runner` with the server's credentials in its environment.
fn with_login(s: &Sandbox, server: &KestraServer, args: &[&str]) -> Done {
    let mut cmd = s.cmd(args);
    cmd.env("KESTRA_USER", &server.user)
        .env("KESTRA_PASSWORD", &server.password);
    Done(cmd.output().unwrap())
}

/// Neither output of any command shows the password.
fn assert_no_password(server: &KestraServer, outs: &[&Done]) {
    for out in outs {
        let all = format!("{}{}", out.stdout(), out.stderr());
        assert!(!all.contains(&server.password), "{all}");
        assert!(!all.contains(&server.token), "{all}");
    }
}

fn project() -> Sandbox {
    let s = Sandbox::new();
    s.write("flows/hello.yaml", HELLO);
    s.write("flows/etl.yaml", ETL);
    s.write("flows/_files/scripts/etl.py", "print('etl')\n");
    // YAML among the namespace files is a file, not a flow.
    s.write(
        "flows/_files/dbt/dbt_project.yml",
        "name: shop\nprofile: shop\n",
    );
    s.write("flows/tests/hello_test.yaml", SUITE);
    s
}

#[test]
fn deploy_creates_then_updates_only_what_changed_and_prunes_when_asked() {
    let server = KestraServer::start();
    let url = server.url();
    let s = project();

    let dry = with_login(
        &s,
        &server,
        &["deploy", "flows", "--server", &url, "--dry-run"],
    );
    assert_eq!(dry.code(), 0, "{}", dry.stderr());
    let stdout = dry.stdout();
    assert!(
        stdout.contains("would create    company.team.etl  (flows/etl.yaml)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("would create    company.team.hello  (flows/hello.yaml)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("would upload    company.team /scripts/etl.py"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("hello_test"),
        "test suites are not flows: {stdout}"
    );
    assert!(dry.stderr().contains("2 flow(s) would be created, 0 updated, 0 unchanged; 2 namespace file(s) would be uploaded, 0 unchanged (nothing was sent)"), "{}", dry.stderr());
    assert!(server.state().flows.is_empty() && server.state().files.is_empty());
    assert!(
        server.requests().iter().all(|r| r.starts_with("GET ")),
        "a dry run only reads: {:?}",
        server.requests()
    );

    let first = with_login(&s, &server, &["deploy", "flows", "--server", &url]);
    assert_eq!(first.code(), 0, "{}", first.stderr());
    assert!(
        first
            .stdout()
            .contains("created         company.team.hello  (flows/hello.yaml, revision 1)"),
        "{}",
        first.stdout()
    );
    assert!(
        first
            .stdout()
            .contains("uploaded        company.team /scripts/etl.py")
    );
    {
        let st = server.state();
        let hello = &st.flows[&("company.team".to_string(), "hello".to_string())];
        assert_eq!(
            (hello.source.as_str(), hello.revision),
            (HELLO, 1),
            "sent as written"
        );
        assert_eq!(st.flows.len(), 2);
        assert_eq!(
            st.files[&("company.team".to_string(), "/scripts/etl.py".to_string())],
            b"print('etl')\n"
        );
    }

    // One flow changes: only it is sent; the dry run shows the change as a diff.
    s.write("flows/hello.yaml", &HELLO.replace("Hello,", "Hi,"));
    let before = server.requests().len();
    let dry = with_login(
        &s,
        &server,
        &["deploy", "flows", "--server", &url, "--dry-run"],
    );
    assert_eq!(dry.code(), 0, "{}", dry.stderr());
    let stdout = dry.stdout();
    assert!(
        stdout.contains(
            "would update    company.team.hello  (flows/hello.yaml, revision 1 on the server)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("-    message: \"Hello, {{ inputs.name }}!\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("+    message: \"Hi, {{ inputs.name }}!\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("unchanged       company.team.etl"),
        "{stdout}"
    );
    assert!(!stdout.contains("upload"), "the file is the same: {stdout}");
    let again = with_login(&s, &server, &["deploy", "flows", "--server", &url]);
    assert_eq!(again.code(), 0, "{}", again.stderr());
    assert!(
        again
            .stdout()
            .contains("updated         company.team.hello  (flows/hello.yaml, revision 1 -> 2)"),
        "{}",
        again.stdout()
    );
    let sent: Vec<String> = server.requests()[before..]
        .iter()
        .filter(|r| !r.starts_with("GET "))
        .cloned()
        .collect();
    assert_eq!(sent, ["PUT /api/v1/main/flows/company.team/hello"]);
    assert_eq!(
        server.state().flows[&("company.team".to_string(), "hello".to_string())].revision,
        2
    );

    // Flows the server has and the paths do not: deleted only with --prune, only in the
    // namespaces deployed.
    {
        let mut st = server.state();
        for (ns, id) in [("company.team", "old"), ("other.team", "keep")] {
            st.flows.insert(
                (ns.into(), id.into()),
                runner_testkit::kestra::StoredFlow {
                    source: format!("id: {id}\nnamespace: {ns}\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: x\n"),
                    revision: 1,
                },
            );
        }
    }
    let plain = with_login(&s, &server, &["deploy", "flows", "--server", &url]);
    assert_eq!(plain.code(), 0);
    assert_eq!(
        server.state().flows.len(),
        4,
        "nothing deleted without --prune"
    );
    let dry = with_login(
        &s,
        &server,
        &["deploy", "flows", "--server", &url, "--prune", "--dry-run"],
    );
    assert!(
        dry.stdout()
            .contains("would delete    company.team.old  (not under the paths given)"),
        "{}",
        dry.stdout()
    );
    assert_eq!(server.state().flows.len(), 4);
    let pruned = with_login(
        &s,
        &server,
        &["deploy", "flows", "--server", &url, "--prune"],
    );
    assert_eq!(pruned.code(), 0, "{}", pruned.stderr());
    assert!(pruned.stdout().contains("deleted         company.team.old"));
    let left: Vec<String> = server
        .state()
        .flows
        .keys()
        .map(|(n, i)| format!("{n}.{i}"))
        .collect();
    assert_eq!(
        left,
        ["company.team.etl", "company.team.hello", "other.team.keep"]
    );

    assert_eq!(server.violations(), Vec::<String>::new());
    assert_no_password(&server, &[&dry, &first, &again, &plain, &pruned]);
}

#[test]
fn nothing_is_sent_when_a_flow_is_invalid() {
    let server = KestraServer::start();
    let s = project();
    s.write(
        "flows/broken.yaml",
        "id: broken\nnamespace: company.team\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    mesage: typo\n",
    );
    let out = with_login(&s, &server, &["deploy", "flows", "--server", &server.url()]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    let err = out.stderr();
    assert!(err.contains("flows/broken.yaml:6:5"), "{err}");
    assert!(err.contains("nothing was deployed"), "{err}");
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

#[test]
fn a_flow_the_server_refuses_is_shown_at_its_line_and_the_others_still_go() {
    let server = KestraServer::start();
    server
        .state()
        .not_installed
        .push("io.kestra.plugin.scripts.python.Script".into());
    let s = project();
    let out = with_login(
        &s,
        &server,
        &["deploy", "flows", "--server", &server.url(), "--prune"],
    );
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let err = out.stderr();
    assert!(err.contains("--> flows/etl.yaml:5:11"), "{err}");
    assert!(
        err.contains("tasks[0].type: the Kestra server refused it (422): Invalid type: io.kestra.plugin.scripts.python.Script"),
        "{err}"
    );
    assert!(
        err.contains("the server refused 1 flow(s), shown above; --prune deleted nothing"),
        "{err}"
    );
    assert!(
        out.stdout().contains("created         company.team.hello"),
        "{}",
        out.stdout()
    );
    assert!(
        !out.stdout().contains("company.team.etl"),
        "{}",
        out.stdout()
    );
    assert!(err.contains(": 1 flow(s) created, 0 updated"), "{err}");
    assert_eq!(server.state().flows.len(), 1);
    assert_eq!(server.violations(), Vec::<String>::new());
}

#[test]
fn credentials_are_checked_and_never_shown() {
    let server = KestraServer::start();
    let url = server.url();
    let s = project();
    // None: the server asks for them.
    let out = s.run(&["deploy", "flows", "--server", &url]);
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr().contains(
            "the Kestra server asks for credentials (401): set KESTRA_USER and KESTRA_PASSWORD"
        ),
        "{}",
        out.stderr()
    );
    // Wrong ones: refused, and the wrong password is not printed either.
    let mut cmd = s.cmd(&["deploy", "flows", "--server", &url]);
    cmd.env("KESTRA_USER", &server.user)
        .env("KESTRA_PASSWORD", "wrong-Kpw-123");
    let wrong = Done(cmd.output().unwrap());
    assert_eq!(wrong.code(), 1);
    assert!(
        wrong
            .stderr()
            .contains("the Kestra server refused the credentials (401)"),
        "{}",
        wrong.stderr()
    );
    assert!(!wrong.stderr().contains("wrong-Kpw-123"));
    // From an env file, and a token instead of a password.
    s.write(
        ".kestra.env",
        &format!("KESTRA_API_TOKEN={}\n", server.token),
    );
    let token = s.run(&[
        "deploy",
        "flows",
        "--server",
        &url,
        "--env-file",
        ".kestra.env",
    ]);
    assert_eq!(token.code(), 0, "{}", token.stderr());
    assert_eq!(server.state().flows.len(), 2);
    // Credentials inside the URL are refused before anything is sent.
    let inline = s.run(&[
        "deploy",
        "flows",
        "--server",
        &format!("http://admin:{}@127.0.0.1:{}", server.password, server.port),
    ]);
    assert_eq!(inline.code(), 2);
    assert!(
        inline
            .stderr()
            .contains("--server must not hold credentials")
    );
    // No server there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gone = with_login(
        &s,
        &server,
        &[
            "deploy",
            "flows",
            "--server",
            &format!("http://127.0.0.1:{port}"),
        ],
    );
    assert_eq!(gone.code(), 1);
    assert!(
        gone.stderr().contains(&format!(
            "cannot reach the Kestra server at http://127.0.0.1:{port}"
        )),
        "{}",
        gone.stderr()
    );
    assert_no_password(&server, &[&out, &wrong, &token, &inline, &gone]);
    assert_eq!(server.violations(), Vec::<String>::new());
}

#[test]
fn run_on_the_server_sends_inputs_follows_logs_and_exits_as_a_local_run() {
    let server = KestraServer::start();
    let url = server.url();
    let s = project();
    s.write("in.csv", "id,name\n1,Ada\n");

    // Not deployed yet: said, and how.
    let missing = with_login(
        &s,
        &server,
        &[
            "run",
            "flows/hello.yaml",
            "--server",
            &url,
            "-i",
            "name=Ada",
        ],
    );
    assert_eq!(missing.code(), 2);
    assert!(
        missing
            .stderr()
            .contains("flow company.team.hello is not on the Kestra server at"),
        "{}",
        missing.stderr()
    );
    assert!(
        missing
            .stderr()
            .contains("add --deploy to send `flows/hello.yaml` first")
    );

    let out = with_login(
        &s,
        &server,
        &[
            "run",
            "flows/hello.yaml",
            "--server",
            &url,
            "--deploy",
            "-i",
            "name=Ada",
            "-i",
            "data=in.csv",
            "-l",
            "team=data",
            "--json",
        ],
    );
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let err = out.stderr();
    assert!(
        err.contains("deployed company.team.hello (created, revision 1)"),
        "{err}"
    );
    assert_eq!(
        err.matches("INFO  [greet] Hello, Ada!").count(),
        1,
        "each log line once: {err}"
    );
    assert!(err.contains("greet  SUCCESS"), "{err}");
    assert!(err.contains("ended SUCCESS in"), "{err}");
    let execution: Json = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(execution["state"]["current"], "SUCCESS");
    let id = execution["id"].as_str().unwrap().to_string();
    {
        let st = server.state();
        let e = &st.executions[&id];
        assert_eq!(e.text_inputs["name"], "Ada");
        assert_eq!(e.file_inputs["data"].file_name, "in.csv");
        assert_eq!(e.file_inputs["data"].bytes, b"id,name\n1,Ada\n");
        assert_eq!(e.labels, ["team:data"]);
    }

    // A missing required input: the server refuses, nothing ran.
    let no_input = with_login(&s, &server, &["run", "flows/hello.yaml", "--server", &url]);
    assert_eq!(no_input.code(), 2);
    assert!(no_input.stderr().contains("company.team.hello did not start: the Kestra server refused it (422): Invalid entity: inputs.name"), "{}", no_input.stderr());

    // FAILED and PAUSED end with the local run's codes.
    s.write("flows/fails.yaml", "id: fails\nnamespace: company.team\ntasks:\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n    errorMessage: the data was late\n");
    let failed = with_login(
        &s,
        &server,
        &["run", "flows/fails.yaml", "--server", &url, "--deploy"],
    );
    assert_eq!(failed.code(), 1, "{}", failed.stderr());
    assert!(
        failed.stderr().contains("ERROR [boom] the data was late"),
        "{}",
        failed.stderr()
    );
    assert!(
        failed.stderr().contains("ended FAILED"),
        "{}",
        failed.stderr()
    );
    s.write("flows/waits.yaml", "id: waits\nnamespace: company.team\ntasks:\n  - id: approve\n    type: io.kestra.plugin.core.flow.Pause\n");
    let paused = with_login(
        &s,
        &server,
        &["run", "flows/waits.yaml", "--server", &url, "--deploy"],
    );
    assert_eq!(paused.code(), 3, "{}", paused.stderr());
    assert!(
        paused
            .stderr()
            .contains("is PAUSED on the server: resume or kill it in Kestra's UI"),
        "{}",
        paused.stderr()
    );
    // A disabled flow does not start (Kestra's 409).
    s.write("flows/off.yaml", "id: off\nnamespace: company.team\ndisabled: true\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: x\n");
    let off = with_login(
        &s,
        &server,
        &["run", "flows/off.yaml", "--server", &url, "--deploy"],
    );
    assert_eq!(off.code(), 2, "{}", off.stderr());
    assert!(
        off.stderr()
            .contains("Illegal state: Requested Flow is disabled."),
        "{}",
        off.stderr()
    );
    // By id, without a local file: the server's flow runs.
    let by_id = with_login(
        &s,
        &server,
        &[
            "run",
            "--flow-id",
            "company.team.hello",
            "--server",
            &url,
            "-i",
            "name=Grace",
        ],
    );
    assert_eq!(by_id.code(), 0, "{}", by_id.stderr());
    assert!(by_id.stderr().contains("[greet] Hello, Grace!"));
    // Local-only options are refused.
    let watch = with_login(
        &s,
        &server,
        &["run", "flows/hello.yaml", "--server", &url, "--watch"],
    );
    assert_eq!(watch.code(), 2);
    assert!(watch.stderr().contains("--watch is for local runs"));

    assert_eq!(server.violations(), Vec::<String>::new());
    assert_no_password(
        &server,
        &[&missing, &out, &no_input, &failed, &paused, &off, &by_id],
    );
}

#[test]
fn kv_push_and_pull_copy_keys_without_showing_values() {
    let server = KestraServer::start();
    let url = server.url();
    let s = Sandbox::new();
    for args in [
        &["kv", "set", "company.team", "greeting", "s3cret-greeting"][..],
        &[
            "kv",
            "set",
            "company.team",
            "count",
            "41",
            "--type",
            "NUMBER",
        ],
        &[
            "kv",
            "set",
            "company.team",
            "since",
            "2026-01-01T00:00:00Z",
            "--type",
            "DATE",
            "--ttl",
            "PT1H",
        ],
        &["kv", "set", "other.team", "skipped", "x"],
    ] {
        let out = s.run(args);
        assert_eq!(out.code(), 0, "{args:?}: {}", out.stderr());
    }
    let push = with_login(
        &s,
        &server,
        &["kv", "push", "company.team", "--server", &url],
    );
    assert_eq!(push.code(), 0, "{}", push.stderr());
    assert!(
        push.stdout()
            .contains("pushed  company.team  since  DATE (Kestra types it STRING"),
        "{}",
        push.stdout()
    );
    assert!(
        !push.stdout().contains("s3cret-greeting") && !push.stderr().contains("s3cret-greeting")
    );
    {
        let st = server.state();
        let get = |k: &str| st.kv[&("company.team".to_string(), k.to_string())].clone();
        assert_eq!(get("greeting").0, "STRING");
        assert_eq!(get("greeting").1, json!("s3cret-greeting"));
        assert_eq!(
            (get("count").0.as_str(), get("count").1),
            ("NUMBER", json!(41))
        );
        let ttl = get("since").2.expect("the TTL is sent");
        let left = runner_model::parse_duration(&ttl).unwrap().as_secs();
        assert!((3500..=3600).contains(&left), "{ttl}");
        assert_eq!(st.kv.len(), 3, "only the namespace asked for");
    }
    // Into another store: typed as the server types them.
    server.state().kv.insert(
        ("company.team".into(), "config".into()),
        ("JSON".into(), json!({"retries": 3}), None),
    );
    let fresh = Sandbox::new();
    let pull = with_login(
        &fresh,
        &server,
        &["kv", "pull", "company.team", "--server", &url],
    );
    assert_eq!(pull.code(), 0, "{}", pull.stderr());
    assert!(
        pull.stdout().contains("pulled  company.team  config  JSON"),
        "{}",
        pull.stdout()
    );
    assert!(!pull.stdout().contains("s3cret-greeting"));
    let got = fresh.run(&["kv", "get", "company.team", "config"]);
    assert_eq!(got.stdout(), "{\"retries\":3}\n");
    let got = fresh.run(&["kv", "get", "company.team", "count"]);
    assert_eq!(got.stdout(), "41\n");
    assert_eq!(server.violations(), Vec::<String>::new());
    assert_no_password(&server, &[&push, &pull]);
}

#[test]
fn ctrl_c_asks_the_server_to_kill_the_execution_and_follows_it_to_killed() {
    use std::io::BufRead;
    let server = KestraServer::start();
    let s = Sandbox::new();
    s.write(
        "flows/slow.yaml",
        "id: slow\nnamespace: company.team\ntasks:\n  - id: wait\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT1H\n",
    );
    let mut cmd = s.cmd(&[
        "run",
        "flows/slow.yaml",
        "--server",
        &server.url(),
        "--deploy",
    ]);
    cmd.env("KESTRA_USER", &server.user)
        .env("KESTRA_PASSWORD", &server.password)
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    // Interrupted once the execution exists on the server (its line says so).
    while !seen.contains(" created on ") {
        let mut line = String::new();
        assert!(err.read_line(&mut line).unwrap() > 0, "{seen}");
        seen.push_str(&line);
    }
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let status = child.wait().unwrap();
    let all = format!("{seen}{rest}");
    assert_eq!(status.code(), Some(1), "{all}");
    assert!(all.contains("asked the server to kill execution"), "{all}");
    assert!(all.contains("wait  KILLED"), "{all}");
    assert!(all.contains("ended KILLED"), "{all}");
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.starts_with("DELETE /api/v1/main/executions/") && r.ends_with("/kill")),
        "{:?}",
        server.requests()
    );
    assert_eq!(server.violations(), Vec::<String>::new());
}

#[test]
fn what_kestra_has_and_runner_lacks_still_deploys_and_files_go_as_files() {
    let server = KestraServer::start();
    let url = server.url();
    let s = project();
    // Two flows in one file, one of a plugin runner does not run: the server judges it.
    s.write(
        "flows/pair.yaml",
        "id: first\nnamespace: company.data\ntasks:\n  - id: q\n    type: io.kestra.plugin.gcp.bigquery.Query\n    sql: select 1\n---\n# the second\nid: second\nnamespace: company.data\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: two\n",
    );
    s.write("flows/_files/archive.zip", "PK-not-really");
    s.write("extra/readme.txt", "from --namespace-files\n");
    let out = with_login(
        &s,
        &server,
        &[
            "deploy",
            "flows",
            "--server",
            &url,
            "--namespace-files",
            "company.data=extra",
        ],
    );
    assert_eq!(out.code(), 0, "{}", out.stderr());
    {
        let st = server.state();
        let first = &st.flows[&("company.data".to_string(), "first".to_string())].source;
        assert!(
            first.starts_with("id: first") && !first.contains("second"),
            "{first}"
        );
        let second = &st.flows[&("company.data".to_string(), "second".to_string())].source;
        assert!(second.starts_with("# the second\nid: second"), "{second}");
        let file = |ns: &str, p: &str| st.files.get(&(ns.to_string(), p.to_string())).cloned();
        assert_eq!(
            file("company.team", "/archive.zip").as_deref(),
            Some(&b"PK-not-really"[..]),
            "stored, not unpacked"
        );
        assert_eq!(
            file("company.team", "/dbt/dbt_project.yml").as_deref(),
            Some(&b"name: shop\nprofile: shop\n"[..])
        );
        assert_eq!(
            file("company.data", "/readme.txt").as_deref(),
            Some(&b"from --namespace-files\n"[..])
        );
        assert_eq!(st.flows.len(), 4, "{:?}", st.flows.keys());
    }
    // Deployed again: nothing changes, the files compared by content (flows/_files is the
    // files of both namespaces whose flows are beside it, as `runner run` reads them).
    let again = with_login(
        &s,
        &server,
        &[
            "deploy",
            "flows",
            "--server",
            &url,
            "--namespace-files",
            "company.data=extra",
        ],
    );
    assert_eq!(again.code(), 0, "{}", again.stderr());
    assert!(
        again.stderr().contains(
            "0 flow(s) created, 0 updated, 4 unchanged; 0 namespace file(s) uploaded, 7 unchanged"
        ),
        "{}",
        again.stderr()
    );
    // --prune takes folders only: a file alone would delete its namespace's other flows.
    let prune = with_login(
        &s,
        &server,
        &["deploy", "flows/hello.yaml", "--server", &url, "--prune"],
    );
    assert_eq!(prune.code(), 2);
    assert!(
        prune.stderr().contains(
            "--prune deletes the server's flows that the paths do not have, so it takes folders"
        ),
        "{}",
        prune.stderr()
    );
    assert_eq!(server.violations(), Vec::<String>::new());
}

#[test]
fn an_old_or_absent_kestra_and_a_forbidden_user_are_said_before_anything_is_sent() {
    let server = KestraServer::start();
    let url = server.url();
    let s = project();
    server.state().version = Some("0.22.6".into());
    let old = with_login(&s, &server, &["deploy", "flows", "--server", &url]);
    assert_eq!(old.code(), 1);
    assert!(
        old.stderr()
            .contains("is Kestra 0.22.6: runner speaks the API of Kestra 0.24 and later"),
        "{}",
        old.stderr()
    );
    assert_eq!(
        server.requests(),
        ["GET /api/v1/configs"],
        "nothing else was asked"
    );
    server.state().version = None;
    let forbidden = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{}:{}", server.user, server.password)
        )
    );
    server.state().forbidden.push(forbidden);
    let denied = with_login(
        &s,
        &server,
        &["kv", "pull", "company.team", "--server", &url],
    );
    assert_eq!(denied.code(), 1);
    assert!(
        denied
            .stderr()
            .contains("knows the credentials but does not allow this (403)"),
        "{}",
        denied.stderr()
    );
    let wrong_path = with_login(
        &s,
        &server,
        &[
            "run",
            "flows/hello.yaml",
            "--server",
            &format!("{url}/not-kestra"),
            "-i",
            "name=x",
        ],
    );
    assert_eq!(wrong_path.code(), 1);
    assert!(
        wrong_path
            .stderr()
            .contains("has no Kestra API (GET /api/v1/configs is not found)"),
        "{}",
        wrong_path.stderr()
    );
    assert_no_password(&server, &[&old, &denied, &wrong_path]);
}

#[test]
fn a_follow_stream_that_drops_is_replaced_by_asking_and_zip_inputs_keep_their_name() {
    let server = KestraServer::start();
    let url = server.url();
    let s = project();
    s.write("data.zip", "zip bytes");
    server.state().drop_follow = true;
    let out = with_login(
        &s,
        &server,
        &[
            "run",
            "flows/hello.yaml",
            "--server",
            &url,
            "--deploy",
            "-i",
            "name=Ada",
            "-i",
            "data=data.zip",
        ],
    );
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out.stderr().contains("ended SUCCESS"), "{}", out.stderr());
    assert_eq!(
        out.stderr().matches("[greet] Hello, Ada!").count(),
        1,
        "{}",
        out.stderr()
    );
    let st = server.state();
    let e = st.executions.values().next().unwrap();
    assert_eq!(e.file_inputs["data"].file_name, "data.zip");
    assert!(
        st.requests
            .iter()
            .any(|r| r.starts_with("GET /api/v1/main/executions/") && !r.ends_with("/follow")),
        "{:?}",
        st.requests
    );
}

#[test]
fn kestra_dates_and_datetimes_pull_with_their_types() {
    let server = KestraServer::start();
    let s = Sandbox::new();
    {
        let mut st = server.state();
        st.kv.insert(
            ("company.team".into(), "day".into()),
            ("DATE".into(), json!("2024-05-01"), None),
        );
        st.kv.insert(
            ("company.team".into(), "at".into()),
            ("DATETIME".into(), json!("2024-05-01T10:00:00Z"), None),
        );
    }
    let pull = with_login(
        &s,
        &server,
        &["kv", "pull", "company.team", "--server", &server.url()],
    );
    assert_eq!(pull.code(), 0, "{}", pull.stderr());
    assert!(
        pull.stdout().contains("pulled  company.team  day  DATE"),
        "{}",
        pull.stdout()
    );
    assert_eq!(
        s.run(&["kv", "get", "company.team", "day"]).stdout(),
        "\"2024-05-01\"\n"
    );
    let listed = s.run(&["kv", "list", "company.team"]).stdout();
    assert!(
        listed.contains("day  DATE") && listed.contains("at  DATETIME"),
        "{listed}"
    );
}
