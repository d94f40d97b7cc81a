//! Passwords, private keys and passphrases given literally in a flow (the worst case) never
//! reach the logs, the execution record or any file in storage, even when the remote side
//! prints them back.

mod support;

use runner_testkit::servers::{FtpMode, FtpServer, SshServer};
use support::{Flow, Ran, run};

/// Every place a run leaves text: its logs, its record, the files in its storage.
fn assert_nowhere(r: &Ran, secrets: &[&str]) {
    let mut places = vec![
        ("logs".to_string(), r.logs.clone().into_bytes()),
        ("record".to_string(), r.record.to_string().into_bytes()),
    ];
    let mut stack = vec![r.storage.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                places.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    for secret in secrets {
        for line in secret
            .lines()
            .filter(|l| l.len() > 8 && !l.starts_with("-----"))
        {
            for (place, bytes) in &places {
                assert!(
                    !bytes.windows(line.len()).any(|w| w == line.as_bytes()),
                    "a secret reached {place}"
                );
            }
        }
    }
}

fn yaml_block(text: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::from("|\n");
    for l in text.lines() {
        out.push_str(&format!("{pad}{l}\n"));
    }
    out
}

#[tokio::test]
async fn ssh_secrets_stay_secret_even_when_the_server_prints_them() {
    let server = SshServer::start();
    let password = server.password.clone();
    let tasks = format!(
        "  - id: ssh\n    type: io.kestra.plugin.fs.ssh.Command\n    host: 127.0.0.1\n    port: \"{port}\"\n    username: {user}\n    password: \"{password}\"\n    strictHostKeyChecking: \"no\"\n    commands:\n      - echo \"the password is {password}\"\n      - echo \"again {password}\" >&2\n      - echo '::{{\"outputs\":{{\"leak\":\"{password}\"}}}}::'\n  - id: key\n    type: io.kestra.plugin.fs.ssh.Command\n    host: 127.0.0.1\n    port: \"{port}\"\n    username: {user}\n    authMethod: PUBLIC_KEY\n    privateKey: {key}    privateKeyPassphrase: \"{phrase}\"\n    strictHostKeyChecking: \"no\"\n    commands:\n      - echo \"phrase {phrase}\"\n",
        port = server.port,
        user = server.user,
        key = yaml_block(&server.encrypted_key.private, 6),
        phrase = server.key_passphrase,
    );
    let r = run(Flow::new(&tasks)).await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.lines("ssh", "INFO"), ["the password is ******"]);
    assert_eq!(r.lines("ssh", "ERROR"), ["again ******"]);
    assert_eq!(r.lines("key", "INFO"), ["phrase ******"]);
    assert_nowhere(
        &r,
        &[
            &password,
            &server.encrypted_key.private,
            &server.key_passphrase,
        ],
    );
}

#[tokio::test]
async fn sftp_and_ftp_secrets_stay_secret() {
    let ssh = SshServer::start();
    let ftp = FtpServer::start(FtpMode::Plain);
    let tasks = format!(
        "  - id: write\n    type: io.kestra.plugin.core.storage.Write\n    content: hello\n  - id: sftp\n    type: io.kestra.plugin.fs.sftp.Upload\n    host: 127.0.0.1\n    port: \"{sp}\"\n    username: {user}\n    keyfile: {key}    passphrase: \"{phrase}\"\n    from: \"{{{{ outputs.write.uri }}}}\"\n    to: /a.txt\n  - id: ftp\n    type: io.kestra.plugin.fs.ftp.Upload\n    host: 127.0.0.1\n    port: \"{fp}\"\n    username: {user}\n    password: \"{fpass}\"\n    from: \"{{{{ outputs.write.uri }}}}\"\n    to: /a.txt\n  - id: wrong\n    type: io.kestra.plugin.fs.ftp.List\n    allowFailure: true\n    host: 127.0.0.1\n    port: \"{fp}\"\n    username: {user}\n    password: \"Wrong{fpass}\"\n    from: /\n",
        sp = ssh.port,
        fp = ftp.port,
        user = ssh.user,
        key = yaml_block(&ssh.encrypted_key.private, 6),
        phrase = ssh.key_passphrase,
        fpass = ftp.password,
    );
    let r = run(Flow::new(&tasks)).await;
    assert_eq!(r.state(), "WARNING", "{}", r.logs);
    assert_eq!(std::fs::read_to_string(ssh.path("a.txt")).unwrap(), "hello");
    assert_eq!(std::fs::read_to_string(ftp.path("a.txt")).unwrap(), "hello");
    assert_nowhere(
        &r,
        &[
            &ssh.encrypted_key.private,
            &ssh.key_passphrase,
            &ftp.password,
        ],
    );
}
