//! The SFTP, FTP and FTPS file tasks against real servers (runner_testkit's sshd and vsftpd on
//! 127.0.0.1): the same scenarios on each protocol, then the failures a user meets.

mod support;

use runner_testkit::servers::{FtpMode, FtpServer, SilentServer, SshServer};
use serde_json::{Value as Json, json};
use support::{Flow, run};

/// One server, as a flow reaches it.
struct Target {
    /// `sftp`, `ftp` or `ftps`.
    package: &'static str,
    /// The connection lines of each task (indented for a task under `tasks:`).
    connection: String,
    /// The password, given as the secret PASSWORD.
    password: String,
    root: std::path::PathBuf,
    /// The scheme and host of output URIs.
    uri_prefix: String,
}

impl Target {
    fn sftp(s: &SshServer) -> Target {
        Target {
            package: "sftp",
            connection: format!(
                "    host: 127.0.0.1\n    port: \"{}\"\n    username: {}\n    password: \"{{{{ secret('PASSWORD') }}}}\"\n",
                s.port, s.user
            ),
            password: s.password.clone(),
            root: s.root.clone(),
            uri_prefix: "sftp://127.0.0.1".into(),
        }
    }

    fn ftp(s: &FtpServer, package: &'static str, extra: &str) -> Target {
        Target {
            package,
            connection: format!(
                "    host: 127.0.0.1\n    port: \"{}\"\n    username: {}\n    password: \"{{{{ secret('PASSWORD') }}}}\"\n{extra}",
                s.port, s.user
            ),
            password: s.password.clone(),
            root: s.root.clone(),
            uri_prefix: format!("{package}://127.0.0.1"),
        }
    }

    fn task(&self, id: &str, kind: &str, props: &str) -> String {
        format!(
            "  - id: {id}\n    type: io.kestra.plugin.fs.{}.{kind}\n{}{props}",
            self.package, self.connection
        )
    }

    fn flow(&self, tasks: &str) -> Flow {
        Flow::new(tasks).secret("PASSWORD", &self.password)
    }

    fn server_file(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.root.join(rel)).ok()
    }

    /// Every file under the root, relative, sorted.
    fn server_files(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(p.strip_prefix(&self.root).unwrap().display().to_string());
                }
            }
        }
        out.sort();
        out
    }
}

fn write(id: &str, content: &str) -> String {
    format!(
        "  - id: {id}\n    type: io.kestra.plugin.core.storage.Write\n    content: {}\n    extension: .csv\n",
        serde_json::to_string(content).unwrap()
    )
}

fn names(files: &Json) -> Vec<String> {
    files
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect()
}

/// Upload, List, Download, Uploads, Move, Delete and Downloads, one flow, one server.
async fn round_trip(t: &Target) {
    let tasks = [
        write("a", "id,name\n1,Ada\n"),
        write("b", "id,name\n2,Grace\n"),
        t.task(
            "up",
            "Upload",
            "    from: \"{{ outputs.a.uri }}\"\n    to: /in/deep/a.csv\n",
        ),
        t.task(
            "ups",
            "Uploads",
            "    from:\n      b.csv: \"{{ outputs.b.uri }}\"\n      c.txt: \"{{ outputs.a.uri }}\"\n    to: /in\n",
        ),
        t.task(
            "list",
            "List",
            "    from: /in\n    recursive: true\n    sort: NAME_ASC\n",
        ),
        t.task(
            "only_csv",
            "List",
            "    from: /in\n    recursive: true\n    regExp: \".*\\\\.csv\"\n    sort: NAME_DESC\n    maxFiles: 1\n",
        ),
        t.task("down", "Download", "    from: /in/deep/a.csv\n"),
        t.task("mv", "Move", "    from: /in/c.txt\n    to: /moved/\n"),
        t.task(
            "downs",
            "Downloads",
            "    from: /in\n    regExp: \".*\\\\.csv\"\n    action: MOVE\n    moveDirectory: /archive\n",
        ),
        t.task(
            "del",
            "Delete",
            "    uri: /archive\n    regExp: \".*b\\\\.csv\"\n",
        ),
        t.task("gone", "Delete", "    uri: /nothing/here.csv\n"),
    ]
    .concat();
    let r = run(t.flow(&tasks)).await;
    assert_eq!(r.state(), "SUCCESS", "{}: {}", t.package, r.logs);
    let p = &t.uri_prefix;
    assert_eq!(
        r.outputs("up"),
        json!({"from": r.outputs("a")["uri"], "to": format!("{p}/in/deep/a.csv")})
    );
    assert_eq!(
        r.outputs("ups")["files"],
        json!([format!("{p}/in/b.csv"), format!("{p}/in/c.txt")])
    );
    let listed = &r.outputs("list")["files"];
    assert_eq!(
        names(listed),
        ["/in/deep/a.csv", "/in/b.csv", "/in/c.txt"],
        "{listed}"
    );
    let a = &listed[0];
    assert_eq!(a["name"], "a.csv");
    assert_eq!(a["fileType"], "FILE");
    assert_eq!(a["size"], 14);
    assert!(a["updatedDate"].as_str().unwrap().ends_with('Z'), "{a}");
    assert_eq!(names(&r.outputs("only_csv")["files"]), ["/in/b.csv"]);
    let down = r.outputs("down");
    assert_eq!(down["from"], format!("{p}/in/deep/a.csv"));
    assert_eq!(r.bytes(&down["to"]), b"id,name\n1,Ada\n");
    assert!(down["to"].as_str().unwrap().ends_with(".csv"));
    {
        use sha2::Digest;
        let sum: String = sha2::Sha256::digest(b"id,name\n1,Ada\n")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(down["checksum"], sum);
    }
    assert_eq!(down["checksum"].as_str().unwrap().len(), 64);
    assert_eq!(
        r.outputs("mv"),
        json!({"from": format!("{p}/in/c.txt"), "to": format!("{p}/moved/c.txt")})
    );
    let downs = r.outputs("downs");
    assert_eq!(downs["files"].as_array().unwrap().len(), 1, "{downs}");
    let b_uri = &downs["outputFiles"]["b.csv"];
    assert_eq!(r.bytes(b_uri), b"id,name\n2,Grace\n");
    assert_eq!(downs["files"][0]["path"], *b_uri);
    assert_eq!(
        r.outputs("del"),
        json!({"uri": format!("{p}/archive"), "deleted": true, "uris": [format!("{p}/archive/b.csv")]})
    );
    assert!(
        r.lines("del", "WARN").contains(&format!(
            "Deleting 1 file(s) matching regExp '.*b\\.csv' under '{p}/archive'"
        )),
        "{}",
        r.logs
    );
    assert_eq!(
        r.outputs("gone"),
        json!({"uri": format!("{p}/nothing/here.csv"), "deleted": false, "uris": []})
    );
    // What the server holds now, and no temporary file left anywhere.
    assert_eq!(t.server_files(), ["in/deep/a.csv", "moved/c.txt"]);
    assert_eq!(t.server_file("in/deep/a.csv").unwrap(), "id,name\n1,Ada\n");
    assert!(!r.logs.contains(&t.password));
}

#[tokio::test]
async fn sftp_tasks_round_trip() {
    let server = SshServer::start();
    round_trip(&Target::sftp(&server)).await;
}

#[tokio::test]
async fn ftp_tasks_round_trip() {
    let server = FtpServer::start(FtpMode::Plain);
    round_trip(&Target::ftp(&server, "ftp", "")).await;
}

#[tokio::test]
async fn ftps_explicit_tasks_round_trip() {
    let server = FtpServer::start(FtpMode::ExplicitTls);
    round_trip(&Target::ftp(
        &server,
        "ftps",
        "    mode: EXPLICIT\n    insecureTrustAllCertificates: true\n",
    ))
    .await;
}

#[tokio::test]
async fn ftps_implicit_tasks_round_trip() {
    let server = FtpServer::start(FtpMode::ImplicitTls);
    round_trip(&Target::ftp(
        &server,
        "ftps",
        "    mode: IMPLICIT\n    insecureTrustAllCertificates: true\n",
    ))
    .await;
}

/// Overwrite rules, checksums and missing files: the same messages on each protocol.
async fn refusals(t: &Target) {
    std::fs::create_dir_all(t.root.join("in/folder")).unwrap();
    std::fs::write(t.root.join("in/kept.csv"), "old\n").unwrap();
    let _ = std::process::Command::new("chown")
        .args(["-R", "runner-fs-test", t.root.to_str().unwrap()])
        .status();
    let tasks = [
        write("a", "new\n"),
        t.task(
            "no_overwrite",
            "Upload",
            "    from: \"{{ outputs.a.uri }}\"\n    to: /in/kept.csv\n    overwrite: false\n",
        ),
    ]
    .concat();
    let r = run(t.flow(&tasks)).await;
    assert_eq!(r.state(), "FAILED");
    assert_eq!(
        r.error_of("no_overwrite"),
        "File '/in/kept.csv' already exists in the remote server and cannot be overwritten. Set `overwrite: true` to replace it."
    );
    assert_eq!(t.server_file("in/kept.csv").unwrap(), "old\n");

    let r = run(t.flow(
        &[
            write("a", "new\n"),
            t.task(
                "folder",
                "Upload",
                "    from: \"{{ outputs.a.uri }}\"\n    to: /in/folder\n    overwrite: false\n",
            ),
        ]
        .concat(),
    ))
    .await;
    assert_eq!(r.state(), "FAILED");
    assert!(
        r.logs.contains("Overwrite field is set to `false`. Folder /in/folder will be overwritten with current file."),
        "{}",
        r.logs
    );

    let r = run(t.flow(&t.task("missing", "Download", "    from: /in/absent.csv\n"))).await;
    assert_eq!(r.state(), "FAILED");
    let error = r.error_of("missing");
    assert!(
        error.starts_with(&format!("{}://runner-fs-test@127.0.0.1:", t.package))
            && error.ends_with(": no file at `/in/absent.csv`"),
        "{error}"
    );

    let r = run(t.flow(&t.task(
        "bad_sum",
        "Download",
        "    from: /in/kept.csv\n    validateChecksum: true\n    checksumExpected: \"00ff\"\n",
    )))
    .await;
    assert_eq!(r.state(), "FAILED");
    let error = r.error_of("bad_sum");
    assert!(
        error.starts_with("Checksum mismatch for file '")
            && error.contains("' — expected '00ff' but computed '")
            && error.ends_with("' using SHA-256."),
        "{error}"
    );
    // Nothing was kept in storage.
    let kept: Vec<_> = walk_files(&r.storage)
        .into_iter()
        .filter(|f| !f.ends_with("execution.json") && !f.ends_with("logs.jsonl"))
        .collect();
    assert!(kept.is_empty(), "{kept:?}");

    let r = run(t.flow(&t.task(
        "mv_missing",
        "Move",
        "    from: /in/absent.csv\n    to: /out/\n",
    )))
    .await;
    assert_eq!(r.state(), "FAILED");
    assert_eq!(
        r.error_of("mv_missing"),
        format!("Unable to find file '{}/in/absent.csv'", t.uri_prefix)
    );

    let r = run(t.flow(&t.task(
        "del_missing",
        "Delete",
        "    uri: /in/absent.csv\n    errorOnMissing: true\n",
    )))
    .await;
    assert_eq!(r.state(), "FAILED");
    assert_eq!(
        r.error_of("del_missing"),
        format!("Unable to find file '{}/in/absent.csv'", t.uri_prefix)
    );
}

fn walk_files(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

#[tokio::test]
async fn sftp_refusals_say_what_and_where() {
    let server = SshServer::start();
    refusals(&Target::sftp(&server)).await;
}

#[tokio::test]
async fn ftp_refusals_say_what_and_where() {
    let server = FtpServer::start(FtpMode::Plain);
    refusals(&Target::ftp(&server, "ftp", "")).await;
}

#[tokio::test]
async fn wrong_passwords_are_refused_naming_the_user_never_the_password() {
    let wrong = "Not-The-Password-42";
    let ssh = SshServer::start();
    let mut t = Target::sftp(&ssh);
    t.password = wrong.into();
    let r = run(t.flow(&t.task("l", "List", "    from: /\n"))).await;
    assert_eq!(r.state(), "FAILED");
    assert!(
        r.error_of("l").contains(&format!(
            "runner-fs-test@127.0.0.1:{}: the SSH server refused the password of user `runner-fs-test`",
            ssh.port
        )),
        "{}",
        r.logs
    );
    assert!(!r.logs.contains(wrong) && !r.record.to_string().contains(wrong));

    let ftp = FtpServer::start(FtpMode::Plain);
    let mut t = Target::ftp(&ftp, "ftp", "");
    t.password = wrong.into();
    let r = run(t.flow(&t.task("l", "List", "    from: /\n"))).await;
    assert_eq!(r.state(), "FAILED");
    assert!(
        r.error_of("l").starts_with(&format!(
            "ftp://runner-fs-test@127.0.0.1:{}: the FTP server refused the login of user `runner-fs-test`: the server answered",
            ftp.port
        )),
        "{}",
        r.logs
    );
    assert!(!r.logs.contains(wrong));
}

#[tokio::test]
async fn ftps_checks_the_certificate_unless_told_not_to() {
    let server = FtpServer::start(FtpMode::ExplicitTls);
    let t = Target::ftp(&server, "ftps", "    mode: EXPLICIT\n");
    let r = run(t.flow(&t.task("l", "List", "    from: /\n"))).await;
    assert_eq!(r.state(), "FAILED");
    let error = r.error_of("l");
    assert!(
        error.contains("the TLS handshake (AUTH TLS) failed: TLS failed:")
            && error.to_lowercase().contains("certificate"),
        "{}",
        r.logs
    );
    // A plain FTP client against a server that requires TLS: refused at login.
    let t = Target::ftp(&server, "ftp", "");
    let r = run(t.flow(&t.task("l", "List", "    from: /\n"))).await;
    assert_eq!(r.state(), "FAILED");
    assert!(
        r.error_of("l").contains("the FTP server refused the login"),
        "{}",
        r.logs
    );
    let t = Target::ftp(&server, "ftps", "    insecureTrustAllCertificates: true\n");
    let r = run(t.flow(&t.task("l", "List", "    from: /\n"))).await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.outputs("l")["files"], json!([]));
    assert!(
        r.lines("l", "WARN")[0].starts_with("`insecureTrustAllCertificates` is enabled"),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn a_full_disk_leaves_no_partial_file_on_the_server() {
    let server = FtpServer::start_small(FtpMode::Plain, 1 << 20);
    let t = Target::ftp(&server, "ftp", "");
    let local =
        std::env::temp_dir().join(format!("runner-fs-big-{}", runner_core::ids::friendly_id()));
    std::fs::write(&local, vec![b'x'; 3 << 20]).unwrap();
    let r = run(Flow::with_file(
        &t.task(
            "up",
            "Upload",
            "    from: \"{{ inputs.file }}\"\n    to: /big.bin\n",
        ),
        &local,
    )
    .secret("PASSWORD", &t.password))
    .await;
    let _ = std::fs::remove_file(&local);
    assert_eq!(r.state(), "FAILED");
    let error = r.error_of("up");
    assert!(
        error.starts_with(&format!(
            "ftp://runner-fs-test@127.0.0.1:{}: cannot upload to `/big.bin`:",
            server.port
        )),
        "{}",
        r.logs
    );
    assert!(t.server_files().is_empty(), "{:?}", t.server_files());
}

#[tokio::test]
async fn a_big_file_streams_both_ways_over_sftp() {
    let server = SshServer::start();
    let t = Target::sftp(&server);
    let local =
        std::env::temp_dir().join(format!("runner-fs-big-{}", runner_core::ids::friendly_id()));
    let content: Vec<u8> = (0..(24u32 << 20)).map(|i| (i % 251) as u8).collect();
    std::fs::write(&local, &content).unwrap();
    let r = run(Flow::with_file(
        &[
            t.task(
                "up",
                "Upload",
                "    from: \"{{ inputs.file }}\"\n    to: /big/data.bin\n",
            ),
            t.task("down", "Download", "    from: /big/data.bin\n"),
        ]
        .concat(),
        &local,
    )
    .secret("PASSWORD", &t.password))
    .await;
    let _ = std::fs::remove_file(&local);
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert!(std::fs::read(server.path("big/data.bin")).unwrap() == content);
    assert!(r.bytes(&r.outputs("down")["to"]) == content);
}

#[tokio::test]
async fn refused_and_silent_servers_fail_clearly_and_in_time() {
    let port = runner_testkit::servers::free_port();
    for package in ["sftp", "ftp"] {
        let r = run(Flow::new(&format!(
            "  - id: l\n    type: io.kestra.plugin.fs.{package}.List\n    host: 127.0.0.1\n    port: \"{port}\"\n    username: deploy\n    password: pw\n    from: /\n"
        )))
        .await;
        assert_eq!(r.state(), "FAILED");
        let error = r.error_of("l");
        assert!(
            error.contains(&format!("deploy@127.0.0.1:{port}: cannot connect to the")),
            "{package}: {}",
            r.logs
        );
    }
    let silent = SilentServer::start().await;
    for package in ["sftp", "ftp", "ftps"] {
        let started = std::time::Instant::now();
        let r = run(Flow::new(&format!(
            "  - id: l\n    type: io.kestra.plugin.fs.{package}.List\n    timeout: PT1S\n    host: 127.0.0.1\n    port: \"{}\"\n    username: deploy\n    password: pw\n    from: /\n",
            silent.port
        )))
        .await;
        assert_eq!(r.state(), "FAILED", "{package}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{package}: {:?}",
            started.elapsed()
        );
        assert!(r.logs.contains("Timeout after"), "{package}: {}", r.logs);
    }
}

/// An upload killed mid-transfer (the execution is killed once the temporary file is on the
/// server): the execution's cleanup removes it through a new connection, so nothing is left.
async fn cut_upload(t: &Target) {
    let local =
        std::env::temp_dir().join(format!("runner-fs-cut-{}", runner_core::ids::friendly_id()));
    std::fs::write(&local, vec![b'y'; 512 << 20]).unwrap();
    let dir = t.root.join("cut");
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = seen.clone();
    // Polls the server's folder for the temporary file, then kills the run.
    let stop = Box::pin(async move {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let part = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| e.file_name().to_string_lossy().ends_with(".part"));
            if part {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                break;
            }
            if std::time::Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        "Killed by the test".to_string()
    });
    let r = support::run_until(
        Flow::with_file(
            &t.task(
                "up",
                "Upload",
                "    from: \"{{ inputs.file }}\"\n    to: /cut/data.bin\n",
            ),
            &local,
        )
        .secret("PASSWORD", &t.password),
        Some(stop),
    )
    .await;
    let _ = std::fs::remove_file(&local);
    assert!(
        seen.load(std::sync::atomic::Ordering::SeqCst),
        "no temporary file appeared: {}",
        r.logs
    );
    assert_eq!(r.state_of("up"), "KILLED", "{}", r.logs);
    assert!(t.server_files().is_empty(), "{:?}", t.server_files());
}

#[tokio::test]
async fn a_cut_upload_leaves_nothing_on_sftp() {
    let server = SshServer::start();
    cut_upload(&Target::sftp(&server)).await;
}

#[tokio::test]
async fn a_cut_upload_leaves_nothing_on_ftp() {
    let server = FtpServer::start(FtpMode::Plain);
    cut_upload(&Target::ftp(&server, "ftp", "")).await;
}
