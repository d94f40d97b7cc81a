//! `io.kestra.plugin.fs.ssh.Command` against a real OpenSSH server (runner_testkit's sshd on
//! 127.0.0.1): password and key authentication, known_hosts checks, the output protocol, exit
//! codes, and the failures a user meets.

mod support;

use runner_testkit::servers::{SilentServer, SshServer};
use serde_json::json;
use support::{Flow, run};

fn command(server: &SshServer, auth: &str, commands: &[&str], extra: &str) -> String {
    let mut t = format!(
        "  - id: ssh\n    type: io.kestra.plugin.fs.ssh.Command\n    host: 127.0.0.1\n    port: \"{}\"\n    username: {}\n{auth}{extra}    commands:\n",
        server.port, server.user
    );
    for c in commands {
        t.push_str(&format!("      - {}\n", serde_json::to_string(c).unwrap()));
    }
    t
}

fn password_auth() -> String {
    "    authMethod: PASSWORD\n    password: \"{{ secret('SSH_PASSWORD') }}\"\n".to_string()
}

const NO_CHECK: &str = "    strictHostKeyChecking: \"no\"\n";

#[tokio::test]
async fn commands_run_with_a_password_and_their_output_is_relayed() {
    let server = SshServer::start();
    let r = run(Flow::new(&command(
        &server,
        &password_auth(),
        &[
            "echo \"hello $(whoami)\"",
            "echo oops >&2",
            "echo '::{\"outputs\":{\"n\":1,\"s\":\"x\"}}::'",
            "echo '::{\"outputs\":{\"s\":\"from-stderr\"}}::' >&2",
            "printf 'no newline at the end'",
        ],
        NO_CHECK,
    ))
    .secret("SSH_PASSWORD", &server.password))
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(
        r.lines("ssh", "INFO"),
        ["hello runner-fs-test", "no newline at the end"]
    );
    assert_eq!(r.lines("ssh", "ERROR"), ["oops"]);
    // stderr's outputs merge after stdout's (Kestra: stderr wins a clash).
    assert_eq!(
        r.outputs("ssh"),
        json!({"vars": {"n": 1, "s": "from-stderr"}, "exitCode": 0})
    );
    assert!(!r.logs.contains(&server.password));
}

#[tokio::test]
async fn the_exit_status_is_the_last_commands_and_a_failure_names_it() {
    let server = SshServer::start();
    let ok = run(Flow::new(&command(
        &server,
        &password_auth(),
        &["false", "echo after"],
        NO_CHECK,
    ))
    .secret("SSH_PASSWORD", &server.password))
    .await;
    assert_eq!(ok.state(), "SUCCESS", "{}", ok.logs);
    assert_eq!(ok.lines("ssh", "INFO"), ["after"]);

    let failed = run(Flow::new(&command(
        &server,
        &password_auth(),
        &[
            "echo '::{\"outputs\":{\"a\":1}}::'",
            "echo before",
            "exit 3",
        ],
        NO_CHECK,
    ))
    .secret("SSH_PASSWORD", &server.password))
    .await;
    assert_eq!(failed.state(), "FAILED");
    assert_eq!(failed.lines("ssh", "INFO"), ["before"]);
    assert!(
        failed
            .lines("ssh", "ERROR")
            .contains(&"SSH command fails with exit status 3".to_string()),
        "{}",
        failed.logs
    );
    // As in Kestra, a failed command keeps no outputs.
    assert_eq!(failed.outputs("ssh"), json!(null));
}

#[tokio::test]
async fn keys_log_in_plain_and_encrypted_and_env_reaches_the_server() {
    let server = SshServer::start();
    let auth = "    authMethod: PUBLIC_KEY\n    privateKey: \"{{ secret('SSH_KEY') }}\"\n";
    let r = run(Flow::new(&command(
        &server,
        auth,
        &["echo \"key ok, $RUNNER_GREETING\""],
        &format!("{NO_CHECK}    env:\n      RUNNER_GREETING: hi there\n"),
    ))
    .secret("SSH_KEY", &server.key.private))
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.lines("ssh", "INFO"), ["key ok, hi there"]);

    let auth = "    authMethod: PUBLIC_KEY\n    privateKey: \"{{ secret('SSH_KEY') }}\"\n    privateKeyPassphrase: \"{{ secret('SSH_PASSPHRASE') }}\"\n";
    let r = run(
        Flow::new(&command(&server, auth, &["echo ecdsa ok"], NO_CHECK))
            .secret("SSH_KEY", &server.encrypted_key.private)
            .secret("SSH_PASSPHRASE", &server.key_passphrase),
    )
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.lines("ssh", "INFO"), ["ecdsa ok"]);

    // The same key without its passphrase: a clear error on the property.
    let auth = "    authMethod: PUBLIC_KEY\n    privateKey: \"{{ secret('SSH_KEY') }}\"\n";
    let r = run(Flow::new(&command(&server, auth, &["true"], NO_CHECK))
        .secret("SSH_KEY", &server.encrypted_key.private))
    .await;
    assert_eq!(r.state(), "FAILED");
    assert!(
        r.error_of("ssh")
            .contains("property `privateKey`: the key is encrypted: give its passphrase"),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn wrong_credentials_fail_naming_user_host_and_port_never_the_secret() {
    let server = SshServer::start();
    let wrong = "Wrong-Pass-123";
    let r = run(
        Flow::new(&command(&server, &password_auth(), &["true"], NO_CHECK))
            .secret("SSH_PASSWORD", wrong),
    )
    .await;
    assert_eq!(r.state(), "FAILED");
    let error = r.error_of("ssh");
    assert!(
        error.contains(&format!(
            "runner-fs-test@127.0.0.1:{}: the SSH server refused the password of user `runner-fs-test`",
            server.port
        )),
        "{}",
        r.logs
    );
    assert!(!r.logs.contains(wrong) && !r.record.to_string().contains(wrong));

    let auth = "    authMethod: PUBLIC_KEY\n    privateKey: \"{{ secret('SSH_KEY') }}\"\n";
    let r = run(Flow::new(&command(&server, auth, &["true"], NO_CHECK))
        .secret("SSH_KEY", &server.stranger_key.private))
    .await;
    assert_eq!(r.state(), "FAILED");
    assert!(
        r.error_of("ssh")
            .contains("the SSH server refused the private key of user `runner-fs-test`"),
        "{}",
        r.logs
    );
    let key_body = server.stranger_key.private.lines().nth(1).unwrap();
    assert!(!r.logs.contains(key_body));

    let r = run(Flow::new(&command(
        &server,
        "    authMethod: PASSWORD\n",
        &["true"],
        NO_CHECK,
    )))
    .await;
    assert_eq!(r.state(), "FAILED");
    assert_eq!(
        r.error_of("ssh"),
        "Password is necessary for given SSH auth method: PASSWORD"
    );
}

#[tokio::test]
async fn host_keys_are_checked_against_known_hosts_unless_the_flow_says_no() {
    let server = SshServer::start();
    let known = server.known_hosts.display().to_string();
    // Known key: accepted (strictHostKeyChecking unset means checked).
    let r = run(
        Flow::new(&command(&server, &password_auth(), &["echo known"], ""))
            .secret("SSH_PASSWORD", &server.password)
            .env("RUNNER_SSH_KNOWN_HOSTS", &known),
    )
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.lines("ssh", "INFO"), ["known"]);

    // A changed key: refused, saying which line records another one; nothing ran.
    let wrong = server.wrong_known_hosts.display().to_string();
    let r = run(Flow::new(&command(
        &server,
        &password_auth(),
        &["echo ran"],
        "    strictHostKeyChecking: \"yes\"\n",
    ))
    .secret("SSH_PASSWORD", &server.password)
    .env("RUNNER_SSH_KNOWN_HOSTS", &wrong))
    .await;
    assert_eq!(r.state(), "FAILED");
    let error = r.error_of("ssh");
    assert!(
        error.contains(&format!(
            "runner-fs-test@127.0.0.1:{}: the host key of 127.0.0.1:{} (ssh-ed25519 SHA256:",
            server.port, server.port
        )) && error.contains(&format!("differs from the one line 1 of {wrong} records")),
        "{error}"
    );
    assert!(r.lines("ssh", "INFO").is_empty());

    // An unknown host: refused, with what to do.
    let empty = server.root.join("../empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let r = run(
        Flow::new(&command(&server, &password_auth(), &["echo ran"], ""))
            .secret("SSH_PASSWORD", &server.password)
            .env("RUNNER_SSH_KNOWN_HOSTS", empty.to_str().unwrap()),
    )
    .await;
    assert_eq!(r.state(), "FAILED");
    assert!(
        r.error_of("ssh").contains("is not in") && r.logs.contains("strictHostKeyChecking: \"no\""),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn a_refused_connection_and_a_silent_server_fail_clearly_and_in_time() {
    let port = runner_testkit::servers::free_port();
    let r = run(Flow::new(&format!(
        "  - id: ssh\n    type: io.kestra.plugin.fs.ssh.Command\n    host: 127.0.0.1\n    port: \"{port}\"\n    username: deploy\n    password: pw\n    strictHostKeyChecking: \"no\"\n    commands: [\"true\"]\n"
    )))
    .await;
    assert_eq!(r.state(), "FAILED");
    assert!(
        r.error_of("ssh").contains(&format!(
            "deploy@127.0.0.1:{port}: cannot connect to the SSH server at 127.0.0.1:{port}"
        )),
        "{}",
        r.logs
    );

    let silent = SilentServer::start().await;
    let started = std::time::Instant::now();
    let r = run(Flow::new(&format!(
        "  - id: ssh\n    type: io.kestra.plugin.fs.ssh.Command\n    timeout: PT1S\n    host: 127.0.0.1\n    port: \"{}\"\n    username: deploy\n    password: pw\n    strictHostKeyChecking: \"no\"\n    commands: [\"true\"]\n",
        silent.port
    )))
    .await;
    assert_eq!(r.state(), "FAILED");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(r.logs.contains("Timeout after"), "{}", r.logs);
}

#[tokio::test]
async fn open_ssh_is_refused_with_kestras_message() {
    let r = run(Flow::new(
        "  - id: ssh\n    type: io.kestra.plugin.fs.ssh.Command\n    host: 127.0.0.1\n    authMethod: OPEN_SSH\n    commands: [\"true\"]\n",
    ))
    .await;
    assert_eq!(r.state(), "FAILED");
    assert_eq!(
        r.error_of("ssh"),
        "You need to allow access to the host OpenSSH configuration via the plugin configuration `allow-open-ssh-config`"
    );
}
