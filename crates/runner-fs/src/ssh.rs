//! An SSH connection (russh, pure Rust), shared by `ssh.Command` and the SFTP tasks: TCP
//! connect and handshake under a time limit, the server's host key checked as the flow says,
//! then password or private-key authentication. Errors name the user, host and port, never the
//! password or the key.
//!
//! Host keys: `strictHostKeyChecking: "no"` accepts any key (Kestra's default, and what the
//! SFTP tasks always do in Kestra). Otherwise (unset, `yes` or `ask`) the key must be listed
//! for the host in a known_hosts file: the one named by the run's `RUNNER_SSH_KNOWN_HOSTS`
//! variable, else `$HOME/.ssh/known_hosts`, the file the user's own `ssh` trusts. It holds
//! only public keys, and is read, never written.

use runner_core::plugin::*;
use russh::client;
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKey};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long the TCP connection, the handshake and the authentication may take together.
pub(crate) const CONNECT_LIMIT: Duration = Duration::from_secs(30);

/// Who connects where, for messages: `user@host:port`.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) user: String,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}:{}", self.user, self.host, self.port)
    }
}

/// How the client proves who it is. No `Debug`: it holds the credential.
#[derive(Clone)]
pub(crate) enum Auth {
    Password(String),
    Key {
        pem: String,
        passphrase: Option<String>,
        /// The property that gave the key, for messages.
        property: &'static str,
    },
}

/// Which server keys are accepted.
#[derive(Clone, Debug)]
pub(crate) enum HostKeys {
    Any,
    /// Only keys listed for the host in this known_hosts file (None: no file could be named).
    Known(Option<PathBuf>),
}

impl HostKeys {
    /// From Kestra's `strictHostKeyChecking` (`no` accepts any key).
    pub(crate) fn from_setting(ctx: &RunContext, setting: Option<&str>) -> HostKeys {
        if setting.is_some_and(|s| s.trim().eq_ignore_ascii_case("no")) {
            return HostKeys::Any;
        }
        let file = ctx
            .env_var("RUNNER_SSH_KNOWN_HOSTS")
            .filter(|p| !p.trim().is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                ctx.env_var("HOME")
                    .map(|h| PathBuf::from(h).join(".ssh").join("known_hosts"))
            });
        HostKeys::Known(file)
    }
}

/// What the host key check found, kept for the error message when it refused.
#[derive(Default)]
struct KeyVerdict {
    refused: Option<String>,
}

pub(crate) struct Checker {
    target: Target,
    policy: HostKeys,
    verdict: Arc<Mutex<KeyVerdict>>,
}

impl client::Handler for Checker {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &PublicKey) -> Result<bool, Self::Error> {
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        let refused = match &self.policy {
            HostKeys::Any => None,
            HostKeys::Known(None) => Some(format!(
                "the host key of {}:{} ({} {fingerprint}) cannot be checked: no known_hosts file (set RUNNER_SSH_KNOWN_HOSTS or HOME)",
                self.target.host,
                self.target.port,
                key.algorithm()
            )),
            HostKeys::Known(Some(path)) => {
                match russh::keys::check_known_hosts_path(
                    &self.target.host,
                    self.target.port,
                    key,
                    path,
                ) {
                    Ok(true) => None,
                    Ok(false) => Some(format!(
                        "the host key of {}:{} ({} {fingerprint}) is not in {}",
                        self.target.host,
                        self.target.port,
                        key.algorithm(),
                        path.display()
                    )),
                    Err(russh::keys::Error::KeyChanged { line }) => Some(format!(
                        "the host key of {}:{} ({} {fingerprint}) differs from the one line {line} of {} records: someone may be intercepting the connection, or the server's key changed",
                        self.target.host,
                        self.target.port,
                        key.algorithm(),
                        path.display()
                    )),
                    Err(e) => Some(format!(
                        "the host key of {}:{} ({fingerprint}) could not be checked against {}: {e}",
                        self.target.host,
                        self.target.port,
                        path.display()
                    )),
                }
            }
        };
        let ok = refused.is_none();
        self.verdict.lock().expect("verdict").refused = refused;
        Ok(ok)
    }
}

/// An authenticated SSH session.
pub(crate) type Session = client::Handle<Checker>;

/// A session, and the `proxyCommand` process carrying it (killed when this is dropped).
pub(crate) struct Connection {
    pub(crate) session: Session,
    _proxy: Option<ChildProcess>,
}

/// Connects (through `proxy`, a shell command whose stdin and stdout carry the connection,
/// when given), checks the host key and authenticates, all within [`CONNECT_LIMIT`].
pub(crate) async fn connect(
    ctx: &RunContext,
    target: &Target,
    auth: &Auth,
    host_keys: HostKeys,
    proxy: Option<&str>,
) -> Result<Connection, TaskError> {
    let verdict = Arc::new(Mutex::new(KeyVerdict::default()));
    let handler = Checker {
        target: target.clone(),
        policy: host_keys,
        verdict: verdict.clone(),
    };
    let work = async {
        let (session, proxy) = match proxy {
            Some(command) => {
                let mut cmd = tokio::process::Command::new("/bin/sh");
                cmd.arg("-c")
                    .arg(command)
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::null());
                let mut child = ctx.spawn(cmd).map_err(|e| {
                    TaskError::new(
                        ErrorKind::Io,
                        format!("cannot start the proxyCommand `{command}`"),
                    )
                    .caused_by(e)
                })?;
                if let Ok(Some(_)) = child.child().try_wait() {
                    return Err(TaskError::failed(format!(
                        "Proxy command exited immediately: {command}"
                    )));
                }
                let (Some(out), Some(input)) =
                    (child.child().stdout.take(), child.child().stdin.take())
                else {
                    return Err(TaskError::new(
                        ErrorKind::Io,
                        "the proxyCommand has no pipes",
                    ));
                };
                let stream = tokio::io::join(out, input);
                (
                    handshake(stream, handler, target, &verdict).await?,
                    Some(child),
                )
            }
            None => {
                check_network(ctx, target).await?;
                (tcp_handshake(target, handler, &verdict).await?, None)
            }
        };
        let mut session = session;
        authenticate(&mut session, target, auth).await?;
        Ok(Connection {
            session,
            _proxy: proxy,
        })
    };
    tokio::time::timeout(CONNECT_LIMIT, work)
        .await
        .map_err(|_| silent(target))?
}

/// Refuses a link-local address unless the run allows it.
pub(crate) async fn check_network(ctx: &RunContext, target: &Target) -> Result<(), TaskError> {
    if let Some(ip) = ctx.network().refused_address(&target.host).await {
        return Err(TaskError::new(
            ErrorKind::Unreachable,
            format!("{target}: {ip} is a link-local address, refused"),
        )
        .hint("start runner with --allow-link-local to reach it"));
    }
    Ok(())
}

async fn tcp_handshake(
    target: &Target,
    handler: Checker,
    verdict: &Mutex<KeyVerdict>,
) -> Result<Session, TaskError> {
    let stream = tokio::net::TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| {
            TaskError::new(
                ErrorKind::Unreachable,
                format!(
                    "{target}: cannot connect to the SSH server at {}:{}",
                    target.host, target.port
                ),
            )
            .hint("check `host` and `port`, and that the server runs and accepts connections from here")
            .caused_by(e)
        })?;
    let _ = stream.set_nodelay(true);
    handshake(stream, handler, target, verdict).await
}

/// Connects over TCP without a run context (the network check done by the caller): what a
/// cleanup, after the task is gone, uses to reach the server again.
pub(crate) async fn connect_direct(
    target: &Target,
    auth: &Auth,
    host_keys: HostKeys,
) -> Result<Connection, TaskError> {
    let verdict = Arc::new(Mutex::new(KeyVerdict::default()));
    let handler = Checker {
        target: target.clone(),
        policy: host_keys,
        verdict: verdict.clone(),
    };
    let work = async {
        let mut session = tcp_handshake(target, handler, &verdict).await?;
        authenticate(&mut session, target, auth).await?;
        Ok(Connection {
            session,
            _proxy: None,
        })
    };
    tokio::time::timeout(CONNECT_LIMIT, work)
        .await
        .map_err(|_| silent(target))?
}

fn silent(target: &Target) -> TaskError {
    TaskError::new(
        ErrorKind::Unreachable,
        format!(
            "{target}: no SSH session within {} s (the server accepted the connection but did not complete the handshake)",
            CONNECT_LIMIT.as_secs()
        ),
    )
    .hint("check that `port` is the SSH server's")
}

async fn handshake<S>(
    stream: S,
    handler: Checker,
    target: &Target,
    verdict: &Mutex<KeyVerdict>,
) -> Result<Session, TaskError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let config = Arc::new(client::Config {
        inactivity_timeout: None,
        ..client::Config::default()
    });
    client::connect_stream(config, stream, handler)
        .await
        .map_err(|e| {
            if let Some(why) = verdict.lock().expect("verdict").refused.take() {
                return TaskError::new(ErrorKind::Denied, format!("{target}: {why}"))
                    .hint("add the server's key to that known_hosts file (ssh-keyscan -p PORT HOST >> FILE, after checking its fingerprint), or set strictHostKeyChecking: \"no\" to accept any key");
            }
            TaskError::new(
                ErrorKind::Remote,
                format!("{target}: the SSH handshake with {}:{} failed", target.host, target.port),
            )
            .hint("check that `host` and `port` point at an SSH server")
            .caused_by(e)
        })
}

async fn authenticate(
    session: &mut Session,
    target: &Target,
    auth: &Auth,
) -> Result<(), TaskError> {
    let result = match auth {
        Auth::Password(password) => session
            .authenticate_password(target.user.clone(), password.clone())
            .await
            .map_err(|e| auth_error(target, "password", e))?,
        Auth::Key {
            pem,
            passphrase,
            property,
        } => {
            let key = russh::keys::decode_secret_key(pem, passphrase.as_deref()).map_err(|e| {
                let why = match e {
                    russh::keys::Error::KeyIsEncrypted => {
                        "the key is encrypted: give its passphrase".to_string()
                    }
                    _ if is_rsa(pem) => "an RSA key, which runner does not read yet: use an Ed25519 or ECDSA key (ssh-keygen -t ed25519)".to_string(),
                    e => format!("not a private key runner can read (OpenSSH or PEM format), or a wrong passphrase: {e}"),
                };
                TaskError::property(property, why)
            })?;
            let hash = session
                .best_supported_rsa_hash()
                .await
                .map_err(|e| auth_error(target, "key", e))?
                .flatten();
            session
                .authenticate_publickey(
                    target.user.clone(),
                    PrivateKeyWithHashAlg::new(Arc::new(key), hash),
                )
                .await
                .map_err(|e| auth_error(target, "key", e))?
        }
    };
    if result.success() {
        return Ok(());
    }
    let what = match auth {
        Auth::Password(_) => "password",
        Auth::Key { .. } => "private key",
    };
    Err(TaskError::new(
        ErrorKind::Denied,
        format!(
            "{target}: the SSH server refused the {what} of user `{}`",
            target.user
        ),
    )
    .hint(format!(
        "check `username` and the {what}; the server may also not allow this authentication method"
    )))
}

/// Whether a key's text is an RSA key (PEM `RSA PRIVATE KEY`, or OpenSSH's `ssh-rsa` inside).
fn is_rsa(pem: &str) -> bool {
    if pem.contains("BEGIN RSA PRIVATE KEY") {
        return true;
    }
    russh::keys::ssh_key::PrivateKey::from_openssh(pem.trim())
        .map(|k| k.algorithm().is_rsa())
        .unwrap_or(false)
}

fn auth_error(target: &Target, what: &str, e: russh::Error) -> TaskError {
    TaskError::new(
        ErrorKind::Remote,
        format!("{target}: the SSH connection failed during {what} authentication"),
    )
    .caused_by(e)
}

/// `port` (a string in Kestra), parsed.
pub(crate) fn parse_port(text: &str, property: &str) -> Result<u16, TaskError> {
    text.trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| TaskError::property(property, format!("`{text}` is not a port number")))
}

/// The user name: the property, else the local user as JSch takes it (`USER`).
pub(crate) fn user_or_local(ctx: &RunContext, user: Option<String>) -> Result<String, TaskError> {
    user.filter(|u| !u.is_empty())
        .or_else(|| ctx.env_var("USER").map(str::to_string))
        .ok_or_else(|| {
            TaskError::property(
                "username",
                "no user to log in as: set `username` (without it the local user, USER, is used, and it is not set)",
            )
        })
}
