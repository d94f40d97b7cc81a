//! The git sync tasks through the binary: `runner run` gives them its flows folder (`--flows`)
//! to write, `runner test` lets them only read it. Against a real `git http-backend` server.

use crate::support;

use base64::Engine;
use runner_testkit::git::GitServer;
use support::{Sandbox, walk};

const HELLO: &str = "id: hello\nnamespace: from.git\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: hello from git\n";

fn sync_flow(server: &GitServer, dry_run: bool) -> String {
    format!(
        "id: sync\nnamespace: company.team\ntasks:\n  - id: sync\n    type: io.kestra.plugin.git.SyncFlows\n    url: {}\n    username: {}\n    password: \"{{{{ secret('GIT_TOKEN') }}}}\"\n    targetNamespace: company.team\n    dryRun: {dry_run}\n",
        server.url("flows"),
        server.user
    )
}

fn with_token(s: &Sandbox, server: &GitServer, args: &[&str]) -> support::Done {
    let mut cmd = s.cmd(args);
    cmd.env(
        "SECRET_GIT_TOKEN",
        base64::engine::general_purpose::STANDARD.encode(&server.password),
    );
    support::Done(cmd.output().unwrap())
}

/// Everything the runs left in the sandbox, as text: nothing may hold the token.
fn assert_no_token(s: &Sandbox, server: &GitServer, out: &support::Done) {
    assert!(!out.stdout().contains(&server.password));
    assert!(!out.stderr().contains(&server.password));
    for f in walk(&s.dir) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&server.password),
            "the token is in {}",
            f.display()
        );
    }
}

#[test]
fn run_syncs_flows_into_the_flows_folder_and_test_may_only_dry_run() {
    let server = GitServer::start();
    server.create_repo("flows");
    server.commit(
        "flows",
        "main",
        &[("_flows/hello.yml", Some(HELLO))],
        "a flow",
    );
    let s = Sandbox::new();
    s.write("flows/sync.yaml", &sync_flow(&server, false));

    let out = with_token(&s, &server, &["run", "flows/sync.yaml", "--flows", "flows"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr().contains(&format!(
            "Synced 1 flow(s) from {} (branch main): 1 added, 0 updated, 0 unchanged, 0 deleted",
            server.url("flows")
        )),
        "{}",
        out.stderr()
    );
    assert_no_token(&s, &server, &out);
    // The flow is in the flows folder, in the target namespace, and runs.
    let synced = s.dir.join("flows/company.team/hello.yml");
    assert_eq!(
        std::fs::read_to_string(&synced).unwrap(),
        HELLO.replace("namespace: from.git", "namespace: company.team")
    );
    let out = s.run(&["run", "flows/company.team/hello.yml"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out.stderr().contains("hello from git"), "{}", out.stderr());

    // A test case never changes the project: the sync fails there unless it is a dry run.
    std::fs::remove_file(&synced).unwrap();
    s.write(
        "tests/sync_test.yaml",
        "id: sync_tests\nnamespace: company.team\nflowId: sync\ntestCases:\n  - id: real\n    type: io.kestra.core.tests.flow.UnitTest\n    assertions:\n      - value: \"{{ execution.state }}\"\n        equalTo: SUCCESS\n",
    );
    let out = with_token(
        &s,
        &server,
        &["test", "tests", "--flows", "flows", "--json"],
    );
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let results: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    let case = &results[0]["results"][0];
    assert_eq!(case["state"], "FAILED");
    assert_eq!(case["assertionResults"][0]["actual"], "FAILED");
    let logs = std::fs::read_to_string(s.dir.join(format!(
        ".runner/storage/company/team/sync/executions/{}/logs.jsonl",
        case["executionId"].as_str().unwrap()
    )))
    .unwrap();
    assert!(
        logs.contains(
            "this run may not change the flows folder (`runner test` never changes the project)"
        ),
        "{logs}"
    );
    assert!(
        logs.contains("help: set dryRun: true to see what would change"),
        "{logs}"
    );
    assert!(!synced.exists(), "runner test wrote the flows folder");
    s.write("flows/sync.yaml", &sync_flow(&server, true));
    let out = with_token(&s, &server, &["test", "tests", "--flows", "flows"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(!synced.exists(), "a dry run wrote the flows folder");
    assert_no_token(&s, &server, &out);
}
