//! A real SMTP server on loopback for the mail tests: aiosmtpd (Debian's `python3-aiosmtpd`,
//! which scripts/test.sh installs) running `smtp/server.py`, with AUTH against one user and
//! the chosen TLS: STARTTLS (required before AUTH), implicit TLS, or none. Its certificate, for
//! `localhost`, comes from a test CA no system trusts ([`SmtpServer::ca`]). Each message it
//! accepts is written to its folder; [`SmtpServer::messages`] reads them back, parsed by
//! Python's `email` package (an implementation independent of the sender's).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const SCRIPT: &str = include_str!("smtp/server.py");

/// How the server speaks TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// No TLS at all; AUTH over the plain connection.
    None,
    /// STARTTLS offered and required before AUTH.
    StartTls,
    /// TLS from the first byte (SMTPS).
    Implicit,
}

/// A running server; stopped and its folder removed when dropped.
pub struct SmtpServer {
    pub port: u16,
    pub user: String,
    pub password: String,
    /// The CA certificate (PEM) that issued the server's certificate.
    pub ca: PathBuf,
    dir: PathBuf,
    child: Child,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Python with aiosmtpd: `RUNNER_AIOSMTPD_PYTHON`, else Debian's, else the one on PATH.
fn python() -> String {
    let mut candidates = Vec::new();
    if let Ok(p) = std::env::var("RUNNER_AIOSMTPD_PYTHON") {
        candidates.push(p);
    }
    candidates.extend(["/usr/bin/python3".to_string(), "python3".to_string()]);
    for c in &candidates {
        let ok = Command::new(c)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return c.clone();
        }
    }
    panic!(
        "no Python with aiosmtpd (tried {candidates:?}): install the Debian package `python3-aiosmtpd` (scripts/test.sh does), or set RUNNER_AIOSMTPD_PYTHON"
    )
}

impl SmtpServer {
    /// Starts a server on a free port of 127.0.0.1 with a user of a random password.
    pub fn start(tls: SmtpTls) -> SmtpServer {
        let dir =
            std::env::temp_dir().join(format!("runner-smtp-{}", runner_core::ids::friendly_id()));
        let mail = dir.join("mail");
        std::fs::create_dir_all(&mail).expect("the server's folder");
        let ca = crate::certificate_authority(&dir, "smtp");
        let (cert, key) = crate::server_certificate(&dir, &ca, "localhost");
        let script = dir.join("server.py");
        std::fs::write(&script, SCRIPT).expect("the server's script");
        let user = "mailer@example.com".to_string();
        let password = format!("pw-{}", runner_core::ids::random_u64() % 1_000_000_000);
        let mode = match tls {
            SmtpTls::None => "plain",
            SmtpTls::StartTls => "starttls",
            SmtpTls::Implicit => "implicit",
        };
        let log = std::fs::File::create(dir.join("server.log")).expect("the server's log");
        let mut child = Command::new(python())
            .arg(&script)
            .args([mode, mail.to_str().unwrap(), &user, &password])
            .arg(&cert)
            .arg(&key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("the SMTP server starts");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("the server's stdout");
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the server says it is ready");
        let Some(port) = line
            .trim()
            .strip_prefix("READY ")
            .and_then(|p| p.parse().ok())
        else {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            panic!("the SMTP server did not start: {line:?}\n{log}");
        };
        SmtpServer {
            port,
            user,
            password,
            ca: ca.0,
            dir,
            child,
        }
    }

    /// Every message received so far, in order: the envelope (`mail_from`, `rcpt_tos`), the
    /// user that logged in (`login`), whether TLS was on (`tls`), the `headers` (name, value)
    /// and the `parts` (content_type, charset, filename, disposition, content_id, and `data`
    /// in base64, decoded from its transfer encoding), plus `raw`: the bytes received.
    pub fn messages(&self) -> Vec<serde_json::Value> {
        let mail = self.dir.join("mail");
        let mut out = Vec::new();
        for n in 1.. {
            let json = mail.join(format!("{n}.json"));
            let Ok(text) = std::fs::read_to_string(&json) else {
                break;
            };
            let mut record: serde_json::Value =
                serde_json::from_str(&text).expect("the server's record is JSON");
            let raw = std::fs::read(mail.join(format!("{n}.eml"))).expect("the raw message");
            record["raw"] = serde_json::Value::String(String::from_utf8_lossy(&raw).into_owned());
            out.push(record);
        }
        out
    }

    /// The folder the server keeps its files in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
