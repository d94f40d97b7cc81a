//! Real remote-host servers for the SSH, SFTP, FTP and FTPS tests, from Debian's packages
//! (`openssh-server`, `vsftpd`; scripts/test.sh installs them), each started on a free port of
//! 127.0.0.1 with a configuration, keys and certificate of its own, and stopped (killed, its
//! folder removed) when its value is dropped.
//!
//! Both log in a local test user, `runner-fs-test`, made on first use (`useradd`), whose
//! password each test process sets anew (`chpasswd`): sshd checks it against /etc/shadow
//! (`UsePAM no`), vsftpd through PAM. So both servers run as root (sshd needs root to become
//! another user, vsftpd to authenticate one); the fixtures refuse to start otherwise. Each
//! server's files live in its own folder, `root`, which the user owns: sshd's SFTP subsystem
//! starts there (`internal-sftp -d`), vsftpd changes into it after login (`local_root`), so a
//! relative path (Kestra's `rootDir: true`) lands in it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The local user both servers log in.
pub const TEST_USER: &str = "runner-fs-test";

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The test user and this process's password for it.
pub fn test_user() -> (&'static str, &'static str) {
    static PASSWORD: OnceLock<String> = OnceLock::new();
    let password = PASSWORD.get_or_init(|| {
        assert!(
            crate::is_root(),
            "the SSH and FTP fixtures run sshd and vsftpd as root (to log in the test user); run the tests as root, as scripts/test.sh does"
        );
        let exists = Command::new("id")
            .arg(TEST_USER)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !exists {
            run(
                "useradd",
                &["--create-home", "--shell", "/bin/sh", TEST_USER],
            );
        }
        let password = format!(
            "Pw{}x{}",
            std::process::id(),
            runner_core::ids::random_u64() % 1_000_000
        );
        let mut child = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .expect("chpasswd");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{TEST_USER}:{password}\n").as_bytes())
            .expect("write to chpasswd");
        assert!(child.wait().expect("chpasswd").success(), "chpasswd failed");
        password
    });
    (TEST_USER, password.as_str())
}

/// A port of 127.0.0.1 free right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `n` consecutive free ports (for passive FTP data connections).
fn free_range(n: u16) -> u16 {
    for _ in 0..200 {
        let start = 20000 + (runner_core::ids::random_u64() % 30000) as u16;
        if (start..start + n).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            return start;
        }
    }
    panic!("no {n} consecutive free ports");
}

fn chown_to_user(path: &Path) {
    run(
        "chown",
        &["-R", TEST_USER, path.to_str().expect("UTF-8 path")],
    );
}

/// Waits until `port` answers with a first line starting with `banner` (or, for implicit TLS,
/// simply accepts connections when `banner` is empty).
fn wait_for(port: u16, banner: &str, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the server exited ({status}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            if banner.is_empty() {
                return;
            }
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 64];
            if let Ok(n) = s.read(&mut buf)
                && String::from_utf8_lossy(&buf[..n]).starts_with(banner)
            {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the server did not answer on port {port} within 15 s: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn scratch(tag: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("runner-{tag}-{}", runner_core::ids::friendly_id()));
    std::fs::create_dir_all(&dir).expect("server folder");
    dir
}

/// A key pair made by ssh-keygen: the private key (OpenSSH format) and the public line.
pub struct KeyPair {
    pub private: String,
    pub public: String,
}

fn keygen(dir: &Path, name: &str, kind: &str, passphrase: &str) -> KeyPair {
    let path = dir.join(name);
    run(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            kind,
            "-N",
            passphrase,
            "-C",
            name,
            "-f",
            path.to_str().expect("UTF-8 path"),
        ],
    );
    KeyPair {
        private: std::fs::read_to_string(&path).expect("private key"),
        public: std::fs::read_to_string(path.with_extension("pub"))
            .expect("public key")
            .trim()
            .to_string(),
    }
}

/// OpenSSH's sshd on 127.0.0.1, with password and public-key authentication and the SFTP
/// subsystem starting in `root`.
pub struct SshServer {
    pub port: u16,
    pub user: String,
    pub password: String,
    /// Where SFTP paths without a leading `/` land (the user owns it).
    pub root: PathBuf,
    /// A known_hosts file listing this server's host key for 127.0.0.1 and localhost.
    pub known_hosts: PathBuf,
    /// A known_hosts file listing another key for the same names (a changed host key).
    pub wrong_known_hosts: PathBuf,
    /// An Ed25519 key the server accepts, without passphrase.
    pub key: KeyPair,
    /// An ECDSA key the server accepts, encrypted with `key_passphrase`.
    pub encrypted_key: KeyPair,
    pub key_passphrase: String,
    /// A key the server does not accept.
    pub stranger_key: KeyPair,
    dir: PathBuf,
    child: Child,
}

impl SshServer {
    pub fn start() -> SshServer {
        let (user, password) = test_user();
        let dir = scratch("sshd");
        let root = dir.join("root");
        std::fs::create_dir_all(&root).expect("root folder");
        chown_to_user(&root);
        // sshd's privilege separation needs this folder, which an init system would make.
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
        let host = keygen(&dir, "host_ed25519", "ed25519", "");
        let other_host = keygen(&dir, "other_host", "ed25519", "");
        let key = keygen(&dir, "client_ed25519", "ed25519", "");
        let key_passphrase = format!("Phrase{}", runner_core::ids::random_u64() % 1_000_000);
        let encrypted_key = keygen(&dir, "client_ecdsa", "ecdsa", &key_passphrase);
        let stranger_key = keygen(&dir, "stranger", "ed25519", "");
        let authorized = dir.join("authorized_keys");
        std::fs::write(
            &authorized,
            format!("{}\n{}\n", key.public, encrypted_key.public),
        )
        .expect("authorized_keys");
        let port = free_port();
        let host_key_line = |public: &str| {
            let key: Vec<&str> = public.split_whitespace().take(2).collect();
            let key = key.join(" ");
            format!("[127.0.0.1]:{port} {key}\n[localhost]:{port} {key}\n")
        };
        let known_hosts = dir.join("known_hosts");
        std::fs::write(&known_hosts, host_key_line(&host.public)).expect("known_hosts");
        let wrong_known_hosts = dir.join("wrong_known_hosts");
        std::fs::write(&wrong_known_hosts, host_key_line(&other_host.public)).expect("known_hosts");
        let config = dir.join("sshd_config");
        let log = dir.join("sshd.log");
        std::fs::write(
            &config,
            format!(
                "ListenAddress 127.0.0.1\nPort {port}\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\nUsePAM no\nStrictModes no\nPermitRootLogin no\nAllowUsers {user}\nAcceptEnv RUNNER_*\nSubsystem sftp internal-sftp -d {}\nLogLevel ERROR\nMaxStartups 100\n",
                dir.join("host_ed25519").display(),
                dir.join("sshd.pid").display(),
                authorized.display(),
                root.display(),
            ),
        )
        .expect("sshd_config");
        let mut child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect(
                "/usr/sbin/sshd (install the Debian package openssh-server; scripts/test.sh does)",
            );
        wait_for(port, "SSH-2.0", &mut child, &log);
        SshServer {
            port,
            user: user.to_string(),
            password: password.to_string(),
            root,
            known_hosts,
            wrong_known_hosts,
            key,
            encrypted_key,
            key_passphrase,
            stranger_key,
            dir,
            child,
        }
    }

    /// The path of `rel` on the server, under `root`.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel.trim_start_matches('/'))
    }

    /// Writes a file under `root`, owned by the test user.
    pub fn put(&self, rel: &str, content: &[u8]) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("folders");
        std::fs::write(&path, content).expect("write");
        chown_to_user(&self.root);
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// How an FTP server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FtpMode {
    /// Plain FTP (it also offers `AUTH TLS`, explicit FTPS).
    Plain,
    /// Explicit FTPS required: logins without `AUTH TLS` are refused.
    ExplicitTls,
    /// Implicit FTPS: TLS from the first byte.
    ImplicitTls,
}

/// vsftpd on 127.0.0.1, logging in the test user into `root`, with passive ports of its own
/// and a self-signed certificate for `localhost`.
pub struct FtpServer {
    pub port: u16,
    pub user: String,
    pub password: String,
    pub root: PathBuf,
    /// The certificate (PEM) the server presents.
    pub certificate: PathBuf,
    dir: PathBuf,
    child: Child,
    mount: Option<PathBuf>,
}

impl FtpServer {
    pub fn start(mode: FtpMode) -> FtpServer {
        Self::start_with(mode, None)
    }

    /// A server whose `root` is a file system of `bytes` bytes (a tmpfs), to fill up.
    pub fn start_small(mode: FtpMode, bytes: u64) -> FtpServer {
        Self::start_with(mode, Some(bytes))
    }

    fn start_with(mode: FtpMode, small: Option<u64>) -> FtpServer {
        let (user, password) = test_user();
        let dir = scratch("vsftpd");
        let root = dir.join("root");
        std::fs::create_dir_all(&root).expect("root folder");
        let mount = small.map(|bytes| {
            run(
                "mount",
                &[
                    "-t",
                    "tmpfs",
                    "-o",
                    &format!("size={bytes}"),
                    "tmpfs",
                    root.to_str().expect("UTF-8"),
                ],
            );
            root.clone()
        });
        chown_to_user(&root);
        let cert = dir.join("server.pem");
        crate::openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            cert.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
        ]);
        let port = free_port();
        let pasv = free_range(20);
        let log = dir.join("vsftpd.log");
        let tls = match mode {
            FtpMode::Plain => {
                "ssl_enable=YES\nforce_local_logins_ssl=NO\nforce_local_data_ssl=NO\n"
            }
            FtpMode::ExplicitTls => {
                "ssl_enable=YES\nforce_local_logins_ssl=YES\nforce_local_data_ssl=YES\n"
            }
            FtpMode::ImplicitTls => {
                "ssl_enable=YES\nimplicit_ssl=YES\nforce_local_logins_ssl=YES\nforce_local_data_ssl=YES\n"
            }
        };
        let config = dir.join("vsftpd.conf");
        std::fs::write(
            &config,
            format!(
                "listen=YES\nlisten_ipv6=NO\nlisten_address=127.0.0.1\nlisten_port={port}\nbackground=NO\nanonymous_enable=NO\nlocal_enable=YES\nwrite_enable=YES\nlocal_umask=022\nlocal_root={root}\nchroot_local_user=NO\nuserlist_enable=YES\nuserlist_deny=NO\nuserlist_file={userlist}\npam_service_name=vsftpd\nseccomp_sandbox=NO\nisolate=NO\nisolate_network=NO\npasv_enable=YES\npasv_address=127.0.0.1\npasv_min_port={pasv}\npasv_max_port={pasv_max}\nport_enable=NO\nxferlog_enable=NO\nvsftpd_log_file={log}\nsecure_chroot_dir=/var/run/vsftpd/empty\nrsa_cert_file={cert}\nrsa_private_key_file={cert}\nallow_anon_ssl=NO\nrequire_ssl_reuse=NO\nssl_tlsv1=NO\nssl_sslv2=NO\nssl_sslv3=NO\nssl_ciphers=HIGH\n{tls}",
                root = root.display(),
                userlist = dir.join("users").display(),
                pasv_max = pasv + 19,
                log = log.display(),
                cert = cert.display(),
            ),
        )
        .expect("vsftpd.conf");
        std::fs::write(dir.join("users"), format!("{user}\n")).expect("user list");
        std::fs::create_dir_all("/var/run/vsftpd/empty").expect("vsftpd's empty folder");
        let mut child = Command::new("/usr/sbin/vsftpd")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("stderr.log")).expect("log"))
            .spawn()
            .expect("/usr/sbin/vsftpd (install the Debian package vsftpd; scripts/test.sh does)");
        let banner = if mode == FtpMode::ImplicitTls {
            ""
        } else {
            "220"
        };
        wait_for(port, banner, &mut child, &dir.join("stderr.log"));
        FtpServer {
            port,
            user: user.to_string(),
            password: password.to_string(),
            root,
            certificate: cert,
            dir,
            child,
            mount,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel.trim_start_matches('/'))
    }

    /// Writes a file under `root`, owned by the test user.
    pub fn put(&self, rel: &str, content: &[u8]) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("folders");
        std::fs::write(&path, content).expect("write");
        chown_to_user(&self.root);
    }
}

impl Drop for FtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(m) = &self.mount {
            let _ = Command::new("umount").arg(m).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A TCP server on 127.0.0.1 that accepts connections and never says a word (a hung host):
/// a client must give up on its own. It stops when dropped.
pub struct SilentServer {
    pub port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl SilentServer {
    pub async fn start() -> SilentServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("address").port();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        SilentServer { port, task }
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Debian's `docker-registry` (the CNCF distribution registry) on 127.0.0.1, without TLS or
/// authentication (dockerd trusts plain-HTTP registries on loopback), its storage in a folder
/// of its own.
pub struct DockerRegistry {
    pub port: u16,
    /// `127.0.0.1:<port>`, the first part of the image names it holds.
    pub address: String,
    dir: PathBuf,
    child: Child,
}

impl DockerRegistry {
    pub fn start() -> DockerRegistry {
        let dir = scratch("registry");
        let port = free_port();
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.join("data").display()
            ),
        )
        .expect("registry config");
        let log = dir.join("registry.log");
        let mut child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("docker-registry (install the Debian package docker-registry; scripts/test.sh does)");
        let deadline = Instant::now() + Duration::from_secs(15);
        while Self::get_at(port, "/v2/").is_none_or(|r| !r.starts_with("HTTP/1.1 200")) {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "docker-registry exited ({status}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not answer within 15 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        DockerRegistry {
            port,
            address: format!("127.0.0.1:{port}"),
            dir,
            child,
        }
    }

    fn get_at(port: u16, path: &str) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    }

    /// The tags the registry holds for `repository` (its `/v2/<repository>/tags/list`).
    pub fn tags(&self, repository: &str) -> Vec<String> {
        let answer =
            Self::get_at(self.port, &format!("/v2/{repository}/tags/list")).unwrap_or_default();
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
        // A chunked body: take the JSON object within.
        let json = body
            .find('{')
            .and_then(|s| body.rfind('}').map(|e| &body[s..=e]))
            .unwrap_or("{}");
        let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
        let mut tags: Vec<String> = v["tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        tags.sort();
        tags
    }
}

impl Drop for DockerRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The container engine for the Docker tests (`DOCKER_HOST`, else Docker's socket) when it
/// answers and has `images` (scripts/engine.sh starts dockerd and builds them). Otherwise the
/// test is skipped, saying so on the terminal, unless `RUNNER_REQUIRE_ENGINE` is set (CI),
/// where that is a failure.
pub fn docker_engine(images: &[&str]) -> Option<String> {
    let host = std::env::var("DOCKER_HOST").unwrap_or("unix:///var/run/docker.sock".into());
    let get = |path: &str| -> Option<String> {
        let sock = host.strip_prefix("unix://")?;
        let mut s = std::os::unix::net::UnixStream::connect(sock).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    };
    let missing = match get("/_ping") {
        None => format!("no container engine answers at {host}"),
        Some(_) => match images.iter().find(|i| {
            !get(&format!("/images/{i}/json")).is_some_and(|a| a.starts_with("HTTP/1.1 200"))
        }) {
            Some(i) => format!("image {i} is missing"),
            None => return Some(host),
        },
    };
    let message = format!(
        "{missing}: run scripts/engine.sh, which starts dockerd and builds the test images"
    );
    if std::env::var_os("RUNNER_REQUIRE_ENGINE").is_some() {
        panic!("{message} (RUNNER_REQUIRE_ENGINE is set, so this is a failure, not a skip)");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED Docker test: {message}");
    None
}
