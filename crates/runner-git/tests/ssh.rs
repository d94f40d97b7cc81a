//! The git tasks over SSH with `privateKey` (and `passphrase`), against OpenSSH's sshd on
//! loopback (the test kit's fixture, which logs in a local test user): the repository is a
//! bare one in the user's folder, reached as `ssh://user@127.0.0.1:port/path`.

use base64::Engine;
use runner_git::FlowsFolder;
use runner_testkit::servers::SshServer;
use runner_testkit::{RunOptions, run_flow_opts};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

const TASKS: &[&[runner_core::TaskDescriptor]] = &[
    runner_core::TASKS,
    runner_core_tasks::TASKS,
    runner_git::TASKS,
];

/// The git CLI as root on the test user's repositories (owned by that user).
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "safe.directory=*",
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

const HELLO: &str = "id: hello\nnamespace: from.git\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: over ssh\n";

#[tokio::test]
async fn sync_and_push_over_ssh_with_a_key_and_an_encrypted_key() {
    let server = SshServer::start();
    let bare = server.root.join("flows.git");
    git(
        &server.root,
        &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()],
    );
    let seed = server.root.join("seed");
    git(
        &server.root,
        &[
            "clone",
            "-q",
            bare.to_str().unwrap(),
            seed.to_str().unwrap(),
        ],
    );
    std::fs::create_dir_all(seed.join("_flows")).unwrap();
    std::fs::write(seed.join("_flows/hello.yml"), HELLO).unwrap();
    git(&seed, &["checkout", "-q", "-b", "main"]);
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "-q", "-m", "seed"]);
    git(&seed, &["push", "-q", "origin", "main"]);
    std::fs::remove_dir_all(&seed).unwrap();
    // The repository belongs to the user sshd logs in.
    server.put("README", b"the test user's folder\n");

    let flows = std::env::temp_dir().join(format!(
        "runner-git-ssh-{}",
        runner_core::ids::friendly_id()
    ));
    std::fs::create_dir_all(&flows).unwrap();
    let url = format!(
        "ssh://{}@127.0.0.1:{}{}",
        server.user,
        server.port,
        bare.display()
    );
    let yaml = format!(
        r#"id: ssh
namespace: company.team
tasks:
  - id: sync
    type: io.kestra.plugin.git.SyncFlows
    url: {url}
    privateKey: "{{{{ secret('SSH_KEY') }}}}"
    targetNamespace: company.team
  - id: push
    type: io.kestra.plugin.git.PushFlows
    url: {url}
    privateKey: "{{{{ secret('SSH_ENCRYPTED_KEY') }}}}"
    passphrase: "{{{{ secret('SSH_PASSPHRASE') }}}}"
    branch: pushed
    sourceNamespace: company.team
    targetNamespace: prod
    authorName: Flow Bot
    authorEmail: bot@example.com
  - id: stranger
    type: io.kestra.plugin.git.SyncFlows
    url: {url}
    privateKey: "{{{{ secret('SSH_STRANGER') }}}}"
    targetNamespace: company.team
    dryRun: true
    allowFailure: true
"#
    );
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut services = runner_core::Services::default();
    services.insert(FlowsFolder {
        folders: vec![flows.clone()],
        writable: true,
        registry: Arc::new(runner_core::Registry::new(TASKS)),
    });
    let r = run_flow_opts(
        TASKS,
        &yaml,
        RunOptions {
            services,
            environment: vec![
                ("SECRET_SSH_KEY".into(), b64(&server.key.private)),
                (
                    "SECRET_SSH_ENCRYPTED_KEY".into(),
                    b64(&server.encrypted_key.private),
                ),
                ("SECRET_SSH_PASSPHRASE".into(), b64(&server.key_passphrase)),
                (
                    "SECRET_SSH_STRANGER".into(),
                    b64(&server.stranger_key.private),
                ),
            ],
            ..RunOptions::default()
        },
    )
    .await;
    assert_eq!(r.state.as_str(), "WARNING", "{}", r.logs);

    // The key read the branch: the flow is in the flows folder, in its new namespace.
    assert_eq!(
        std::fs::read_to_string(flows.join("company.team/hello.yml")).unwrap(),
        HELLO.replace("from.git", "company.team")
    );
    assert!(r.logs.contains("Synced 1 flow(s)"), "{}", r.logs);

    // The encrypted key (its passphrase given through the askpass) pushed a new branch.
    assert!(
        r.logs.contains("Branch pushed does not exist, creating it"),
        "{}",
        r.logs
    );
    let sha = r.outputs("push")["commitId"].as_str().unwrap().to_string();
    assert_eq!(git(&bare, &["rev-parse", "refs/heads/pushed"]), sha);
    assert_eq!(
        git(&bare, &["show", "pushed:_flows/hello.yml"]),
        HELLO.replace("from.git", "prod").trim_end()
    );
    assert_eq!(
        git(&bare, &["log", "-1", "--format=%an <%ae>", "pushed"]),
        "Flow Bot <bot@example.com>"
    );

    // A key the server does not know fails clearly.
    assert!(
        r.logs.contains("[stranger] git ls-remote failed"),
        "{}",
        r.logs
    );
    assert!(
        r.logs.contains("Permission denied (publickey"),
        "{}",
        r.logs
    );

    // Neither key nor passphrase is in the logs or the record.
    let record = r.record.to_string();
    for secret in [
        &server.key.private,
        &server.encrypted_key.private,
        &server.key_passphrase,
    ] {
        let line = secret.lines().nth(1).unwrap_or(secret);
        assert!(!r.logs.contains(line), "{}", r.logs);
        assert!(!record.contains(line));
    }
    assert!(!r.logs.contains(&server.key_passphrase));
    std::fs::remove_dir_all(&flows).unwrap();
}
