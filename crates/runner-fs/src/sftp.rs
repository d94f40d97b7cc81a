//! SFTP (`io.kestra.plugin.fs.sftp.*`): the SSH connection of [`crate::ssh`], then the
//! `sftp` subsystem (russh-sftp), with up to 16 reads or writes in flight per file.
//!
//! Host keys: Kestra's SFTP tasks accept any (`StrictHostKeyChecking=no`, fixed). runner does
//! the same, unless the run names a known_hosts file in `RUNNER_SSH_KNOWN_HOSTS`: then the
//! server's key must be in it.

use crate::remote::{
    Connect, Endpoint, Entry, Failure, Io, Protocol, Remote, file_name, join, server_path,
};
use crate::ssh::{self, Auth, HostKeys, Target};
use runner_core::plugin::*;
use russh_sftp::client::SftpSession;
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::{FileAttributes, StatusCode};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

/// Kestra's SFTP connection properties (`SftpInterface` and the common VFS ones).
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SftpConnection {
    /// The SFTP server's host.
    host: Property<String>,
    /// Its port (default "22").
    port: Option<Property<String>>,
    /// The user to log in as.
    username: Option<Property<String>>,
    /// The password (used when no `keyfile` is given).
    #[prop(secret)]
    password: Option<Property<String>>,
    /// The private key's content (OpenSSH or PEM; Ed25519 or ECDSA); kept in memory, never written to disk.
    #[prop(secret)]
    keyfile: Option<Property<String>>,
    /// The private key's passphrase.
    #[prop(secret)]
    passphrase: Option<Property<String>>,
    /// Paths are relative to the user's login folder (default true); false: absolute on the server.
    root_dir: Option<Property<bool>>,
    /// Accept RSA/SHA1 (`ssh-rsa`) keys.
    enable_ssh_rsa1: Option<Property<bool>>,
    /// A proxy's host (not supported by runner: the task fails saying so).
    proxy_address: Option<Property<String>>,
    /// Deprecated: see proxyAddress.
    proxy_host: Option<Property<String>>,
    /// The proxy's port.
    #[allow(dead_code)]
    proxy_port: Option<Property<String>>,
    /// The proxy's user.
    #[allow(dead_code)]
    proxy_username: Option<Property<String>>,
    /// Deprecated: see proxyUsername.
    #[allow(dead_code)]
    proxy_user: Option<Property<String>>,
    /// The proxy's password.
    #[prop(secret)]
    #[allow(dead_code)]
    proxy_password: Option<Property<String>>,
    /// SOCKS5, STREAM or HTTP.
    proxy_type: Option<Property<String>>,
    /// A key exchange algorithm to force (ignored: runner negotiates the best both sides offer).
    key_exchange_algorithm: Option<Property<String>>,
}

struct Settings {
    endpoint: Endpoint,
    target: Target,
    auth: Auth,
    host_keys: HostKeys,
    root_dir: bool,
}

impl Protocol for SftpConnection {
    fn settings<'a>(
        &'a self,
        ctx: &'a RunContext,
    ) -> BoxFuture<'a, Result<Arc<dyn Connect>, TaskError>> {
        Box::pin(async move {
            let host = ctx.render(&self.host, "host")?;
            let port = match &self.port {
                Some(p) => ssh::parse_port(&ctx.render::<String>(p, "port")?, "port")?,
                None => 22,
            };
            let user = ssh::user_or_local(ctx, ctx.render_opt(&self.username, "username")?)?;
            let proxy_type = ctx
                .render_opt(&self.proxy_type, "proxyType")?
                .filter(|t| !t.trim().is_empty());
            let proxy_host = match ctx.render_opt(&self.proxy_address, "proxyAddress")? {
                Some(a) => Some(a),
                None => ctx.render_opt(&self.proxy_host, "proxyHost")?,
            };
            if let (Some(kind), Some(_)) = (&proxy_type, proxy_host.filter(|h| !h.is_empty())) {
                return Err(TaskError::new(
                    ErrorKind::Unsupported,
                    format!("SFTP through a {kind} proxy is not supported by runner"),
                )
                .hint("reach the server directly, or through an SSH tunnel that listens on this machine (ssh -L)"));
            }
            if ctx
                .render_opt(&self.key_exchange_algorithm, "keyExchangeAlgorithm")?
                .is_some()
            {
                ctx.log(
                    Level::Debug,
                    "keyExchangeAlgorithm is ignored: runner negotiates the best key exchange both sides offer",
                );
            }
            if ctx
                .render_opt(&self.enable_ssh_rsa1, "enableSshRsa1")?
                .unwrap_or(false)
            {
                ctx.log(Level::Info, "RSA/SHA1 is enabled, be advised that SHA1 is no longer considered secure by the general cryptographic community.");
            }
            let key = ctx
                .render_opt(&self.keyfile, "keyfile")?
                .filter(|k| !k.trim().is_empty());
            let auth = match key {
                Some(pem) => Auth::Key {
                    pem,
                    passphrase: ctx
                        .render_opt(&self.passphrase, "passphrase")?
                        .filter(|p| !p.is_empty()),
                    property: "keyfile",
                },
                None => Auth::Password(
                    ctx.render_opt(&self.password, "password")?
                        .unwrap_or_default(),
                ),
            };
            let host_keys = match ctx
                .env_var("RUNNER_SSH_KNOWN_HOSTS")
                .filter(|p| !p.trim().is_empty())
            {
                Some(p) => HostKeys::Known(Some(PathBuf::from(p))),
                None => HostKeys::Any,
            };
            let target = Target {
                host: host.clone(),
                port,
                user: user.clone(),
            };
            ssh::check_network(ctx, &target).await?;
            Ok(Arc::new(Settings {
                endpoint: Endpoint {
                    scheme: "sftp",
                    host,
                    port,
                    user,
                },
                target,
                auth,
                host_keys,
                root_dir: ctx.render_opt(&self.root_dir, "rootDir")?.unwrap_or(true),
            }) as Arc<dyn Connect>)
        })
    }
}

impl Connect for Settings {
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn open(&self) -> BoxFuture<'_, Result<Box<dyn Remote>, TaskError>> {
        Box::pin(async move {
            let connection =
                ssh::connect_direct(&self.target, &self.auth, self.host_keys.clone()).await?;
            let refused = |e: russh::Error| {
                TaskError::new(
                    ErrorKind::Remote,
                    format!("{}: the server has no SFTP service", self.endpoint),
                )
                .hint("check that the SSH server's sftp subsystem is enabled")
                .caused_by(e)
            };
            let channel = connection
                .session
                .channel_open_session()
                .await
                .map_err(refused)?;
            channel
                .request_subsystem(true, "sftp")
                .await
                .map_err(refused)?;
            let config = russh_sftp::client::Config {
                request_timeout_secs: 60,
                ..russh_sftp::client::Config::default()
            };
            let sftp = SftpSession::new_with_config(channel.into_stream(), config)
                .await
                .map_err(|e| {
                    TaskError::new(
                        ErrorKind::Remote,
                        format!("{}: the SFTP session did not start", self.endpoint),
                    )
                    .caused_by(e)
                })?;
            Ok(Box::new(Sftp {
                sftp,
                _connection: connection,
                root_dir: self.root_dir,
            }) as Box<dyn Remote>)
        })
    }
}

struct Sftp {
    sftp: SftpSession,
    _connection: ssh::Connection,
    root_dir: bool,
}

fn failure(e: SftpError) -> Failure {
    match e {
        SftpError::Status(s) => {
            let kind = match s.status_code {
                StatusCode::NoSuchFile => ErrorKind::NotFound,
                StatusCode::PermissionDenied => ErrorKind::Denied,
                _ => ErrorKind::Remote,
            };
            let message = if s.error_message.is_empty() {
                s.status_code.to_string()
            } else {
                s.error_message
            };
            Failure::new(kind, message)
        }
        SftpError::Timeout => Failure::new(ErrorKind::Unreachable, "the server did not answer"),
        e => Failure::new(ErrorKind::Remote, e.to_string()),
    }
}

fn is_missing(e: &SftpError) -> bool {
    matches!(e, SftpError::Status(s) if s.status_code == StatusCode::NoSuchFile)
}

fn entry(path: String, attrs: &FileAttributes, symlink: bool) -> Entry {
    Entry {
        name: file_name(&path).to_string(),
        path,
        folder: attrs.is_dir(),
        symlink,
        size: attrs.size,
        modified: attrs.mtime.map(i64::from),
        accessed: attrs.atime.map(i64::from),
        uid: attrs.uid,
        gid: attrs.gid,
        permissions: attrs.permissions,
    }
}

impl Sftp {
    fn on_server(&self, path: &str) -> String {
        server_path(path, self.root_dir)
    }

    /// Follows a symlink for its type (a dangling one stays a link).
    async fn resolve(&self, path: String, attrs: FileAttributes) -> Entry {
        if attrs.is_symlink() {
            if let Ok(target) = self.sftp.metadata(self.on_server(&path)).await {
                return entry(path, &target, true);
            }
            return entry(path, &attrs, true);
        }
        entry(path, &attrs, false)
    }
}

impl Remote for Sftp {
    fn stat<'a>(&'a mut self, path: &'a str) -> Io<'a, Option<Entry>> {
        Box::pin(async move {
            match self.sftp.symlink_metadata(self.on_server(path)).await {
                Ok(attrs) => Ok(Some(self.resolve(path.to_string(), attrs).await)),
                Err(e) if is_missing(&e) => Ok(None),
                Err(e) => Err(failure(e)),
            }
        })
    }

    fn list<'a>(&'a mut self, dir: &'a str) -> Io<'a, Vec<Entry>> {
        Box::pin(async move {
            let read = self
                .sftp
                .read_dir(self.on_server(dir))
                .await
                .map_err(failure)?;
            let mut out = Vec::new();
            for e in read {
                let path = join(dir, &e.file_name());
                out.push(self.resolve(path, e.metadata()).await);
            }
            Ok(out)
        })
    }

    fn read_into<'a>(
        &'a mut self,
        path: &'a str,
        sink: &'a mut (dyn AsyncWrite + Unpin + Send),
        progress: &'a (dyn Fn(u64) + Sync),
    ) -> Io<'a, u64> {
        Box::pin(async move {
            let mut file = self
                .sftp
                .open(self.on_server(path))
                .await
                .map_err(failure)?;
            let n = crate::remote::pump(&mut file, sink, progress)
                .await
                .map_err(|(reading, e)| {
                    if reading {
                        Failure::new(ErrorKind::Remote, format!("reading failed: {e}"))
                    } else {
                        Failure::new(ErrorKind::Io, format!("writing the local copy failed: {e}"))
                    }
                })?;
            let _ = file.shutdown().await;
            Ok(n)
        })
    }

    fn write_from<'a>(
        &'a mut self,
        path: &'a str,
        source: &'a mut (dyn AsyncRead + Unpin + Send),
        progress: &'a (dyn Fn(u64) + Sync),
    ) -> Io<'a, u64> {
        Box::pin(async move {
            let mut file = self
                .sftp
                .create(self.on_server(path))
                .await
                .map_err(failure)?;
            let n = crate::remote::pump(source, &mut file, progress)
                .await
                .map_err(|(reading, e)| {
                    if reading {
                        Failure::new(ErrorKind::Io, format!("reading the local file failed: {e}"))
                    } else {
                        Failure::new(ErrorKind::Remote, format!("writing failed: {e}"))
                    }
                })?;
            file.shutdown()
                .await
                .map_err(|e| Failure::new(ErrorKind::Remote, format!("writing failed: {e}")))?;
            Ok(n)
        })
    }

    fn mkdir<'a>(&'a mut self, path: &'a str) -> Io<'a, ()> {
        Box::pin(async move {
            self.sftp
                .create_dir(self.on_server(path))
                .await
                .map_err(failure)
        })
    }

    fn rename<'a>(&'a mut self, from: &'a str, to: &'a str) -> Io<'a, ()> {
        Box::pin(async move {
            let (f, t) = (self.on_server(from), self.on_server(to));
            // SFTP v3 refuses to rename onto an existing file: remove it first.
            if let Ok(attrs) = self.sftp.symlink_metadata(t.clone()).await
                && !attrs.is_dir()
            {
                self.sftp.remove_file(t.clone()).await.map_err(failure)?;
            }
            self.sftp.rename(f, t).await.map_err(failure)
        })
    }

    fn remove_file<'a>(&'a mut self, path: &'a str) -> Io<'a, ()> {
        Box::pin(async move {
            self.sftp
                .remove_file(self.on_server(path))
                .await
                .map_err(failure)
        })
    }

    fn remove_dir<'a>(&'a mut self, path: &'a str) -> Io<'a, ()> {
        Box::pin(async move {
            self.sftp
                .remove_dir(self.on_server(path))
                .await
                .map_err(failure)
        })
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let _ = self.sftp.close().await;
            let _ = self
                ._connection
                .session
                .disconnect(russh::Disconnect::ByApplication, "", "en")
                .await;
        })
    }
}
