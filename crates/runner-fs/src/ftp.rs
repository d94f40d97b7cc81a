//! FTP and FTPS (`io.kestra.plugin.fs.ftp.*`, `fs.ftps.*`) on suppaftp over tokio, TLS by
//! rustls: explicit (`AUTH TLS` on the control connection, then `PROT P`) or implicit (TLS from
//! the first byte), binary transfers, passive data connections (or active with
//! `passiveMode: false`).
//!
//! Certificates are checked against this machine's trusted roots (the system store, or the
//! file `SSL_CERT_FILE` names), unless `insecureTrustAllCertificates: true`.

use crate::remote::{
    Connect, Endpoint, Entry, Failure, Io, Protocol, Remote, file_name, join, server_path,
};
use runner_core::plugin::*;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use suppaftp::tokio::{AsyncRustlsConnector, AsyncRustlsFtpStream};
use suppaftp::{FtpError, Mode, Status};
use tokio::io::{AsyncRead, AsyncWrite};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum ProxyType {
    Direct,
    Http,
    Socks,
}

/// Kestra's FTP `options`: timeouts, ISO-8601 durations (default 30 s each).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Options {
    connection_timeout: Option<Property<IsoDuration>>,
    #[allow(dead_code)]
    data_timeout: Option<Property<IsoDuration>>,
    #[allow(dead_code)]
    socket_timeout: Option<Property<IsoDuration>>,
    #[allow(dead_code)]
    control_keep_alive_timeout: Option<Property<IsoDuration>>,
    #[allow(dead_code)]
    control_keep_alive_reply_timeout: Option<Property<IsoDuration>>,
}

impl PropType for Options {
    const NAME: &'static str = "FTP options";
}

/// The connection properties FTP and FTPS share (Kestra's `FtpInterface` and the common VFS
/// ones).
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FtpCommon {
    /// The FTP server's host.
    host: Property<String>,
    /// Its port (default "21"; FTPS "990").
    port: Option<Property<String>>,
    /// The user to log in as.
    username: Option<Property<String>>,
    /// The password.
    #[prop(secret)]
    password: Option<Property<String>>,
    /// Paths are relative to the user's login folder (default true); false: absolute on the server.
    root_dir: Option<Property<bool>>,
    /// Passive data connections (default true); false: active, the server connects back.
    passive_mode: Option<Property<bool>>,
    /// Connect data channels to the address the server gives (default true); false: to the control connection's address (servers behind NAT).
    remote_ip_verification: Option<Property<bool>>,
    /// Accepted, as Kestra's (it has no meaning for FTP).
    enable_ssh_rsa1: Option<Property<bool>>,
    /// A proxy's host (not supported by runner: the task fails saying so).
    proxy_host: Option<Property<String>>,
    /// The proxy's port.
    #[allow(dead_code)]
    proxy_port: Option<Property<String>>,
    /// DIRECT, HTTP or SOCKS.
    proxy_type: Option<Property<ProxyType>>,
    /// Timeouts: `connectionTimeout` (connect and log in; default PT30S); the others are accepted, the task's `timeout` bounds transfers.
    options: Option<Options>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum FtpsMode {
    Implicit,
    Explicit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
pub(crate) enum Protection {
    C,
    S,
    E,
    P,
}

/// FTP's connection properties.
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FtpConnection {
    #[serde(flatten)]
    common: FtpCommon,
}

/// FTPS's connection properties: FTP's and the TLS ones (Kestra's `FtpsInterface`).
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FtpsConnection {
    #[serde(flatten)]
    common: FtpCommon,
    /// EXPLICIT (default: `AUTH TLS` on the plain port) or IMPLICIT (TLS from the first byte).
    mode: Option<Property<FtpsMode>>,
    /// The data channel's protection (`PROT`): P (default, private) is the one runner speaks.
    data_channel_protection_level: Option<Property<Protection>>,
    /// Accept any server certificate (for tests against self-signed servers; never in production).
    insecure_trust_all_certificates: Option<Property<bool>>,
}

enum Tls {
    None,
    Explicit(Arc<rustls::ClientConfig>),
    Implicit(Arc<rustls::ClientConfig>),
}

struct Settings {
    endpoint: Endpoint,
    password: String,
    root_dir: bool,
    passive: bool,
    nat_workaround: bool,
    connect_timeout: Duration,
    tls: Tls,
}

async fn common_settings(
    ctx: &RunContext,
    c: &FtpCommon,
    scheme: &'static str,
    default_port: u16,
    tls: Tls,
) -> Result<Arc<dyn Connect>, TaskError> {
    let host = ctx.render(&c.host, "host")?;
    let port = match &c.port {
        Some(p) => crate::ssh::parse_port(&ctx.render::<String>(p, "port")?, "port")?,
        None => default_port,
    };
    let user = ctx
        .render_opt(&c.username, "username")?
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "anonymous".to_string());
    let proxy = ctx.render_opt(&c.proxy_type, "proxyType")?;
    let proxy_host = ctx
        .render_opt(&c.proxy_host, "proxyHost")?
        .filter(|h| !h.is_empty());
    if let (Some(kind), Some(_)) = (proxy, proxy_host)
        && kind != ProxyType::Direct
    {
        return Err(TaskError::new(
            ErrorKind::Unsupported,
            format!("FTP through a {kind:?} proxy is not supported by runner"),
        )
        .hint("reach the server directly"));
    }
    if ctx
        .render_opt(&c.enable_ssh_rsa1, "enableSshRsa1")?
        .unwrap_or(false)
    {
        ctx.log(Level::Info, "RSA/SHA1 is enabled, be advised that SHA1 is no longer considered secure by the general cryptographic community.");
    }
    let connect_timeout = match c
        .options
        .as_ref()
        .and_then(|o| o.connection_timeout.as_ref())
    {
        Some(t) => ctx.render::<IsoDuration>(t, "options.connectionTimeout")?.0,
        None => Duration::from_secs(30),
    };
    if let Some(ip) = ctx.network().refused_address(&host).await {
        return Err(TaskError::new(
            ErrorKind::Unreachable,
            format!("{scheme}://{user}@{host}:{port}: {ip} is a link-local address, refused"),
        )
        .hint("start runner with --allow-link-local to reach it"));
    }
    Ok(Arc::new(Settings {
        endpoint: Endpoint {
            scheme,
            host,
            port,
            user,
        },
        password: ctx.render_opt(&c.password, "password")?.unwrap_or_default(),
        root_dir: ctx.render_opt(&c.root_dir, "rootDir")?.unwrap_or(true),
        passive: ctx
            .render_opt(&c.passive_mode, "passiveMode")?
            .unwrap_or(true),
        nat_workaround: !ctx
            .render_opt(&c.remote_ip_verification, "remoteIpVerification")?
            .unwrap_or(true),
        connect_timeout,
        tls,
    }))
}

impl Protocol for FtpConnection {
    fn settings<'a>(
        &'a self,
        ctx: &'a RunContext,
    ) -> BoxFuture<'a, Result<Arc<dyn Connect>, TaskError>> {
        Box::pin(common_settings(ctx, &self.common, "ftp", 21, Tls::None))
    }
}

impl Protocol for FtpsConnection {
    fn settings<'a>(
        &'a self,
        ctx: &'a RunContext,
    ) -> BoxFuture<'a, Result<Arc<dyn Connect>, TaskError>> {
        Box::pin(async move {
            let mode = ctx
                .render_opt(&self.mode, "mode")?
                .unwrap_or(FtpsMode::Explicit);
            let level = ctx
                .render_opt(
                    &self.data_channel_protection_level,
                    "dataChannelProtectionLevel",
                )?
                .unwrap_or(Protection::P);
            if level != Protection::P {
                return Err(TaskError::property(
                    "dataChannelProtectionLevel",
                    format!(
                        "{level:?} is not supported by runner: it protects data connections with TLS (P)"
                    ),
                ));
            }
            let insecure = ctx
                .render_opt(
                    &self.insecure_trust_all_certificates,
                    "insecureTrustAllCertificates",
                )?
                .unwrap_or(false);
            if insecure {
                ctx.log(Level::Warn, "`insecureTrustAllCertificates` is enabled: server certificate validation is disabled for this FTPS connection. This must not be used in production, only for testing against self-signed or untrusted certificates.");
            }
            let config = tls_config(insecure)?;
            let tls = match mode {
                FtpsMode::Explicit => Tls::Explicit(config),
                FtpsMode::Implicit => Tls::Implicit(config),
            };
            common_settings(ctx, &self.common, "ftps", 990, tls).await
        })
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_config(insecure: bool) -> Result<Arc<rustls::ClientConfig>, TaskError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TaskError::new(ErrorKind::Other, "cannot set up TLS").caused_by(e))?;
    let config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(TrustAll(provider())))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// `insecureTrustAllCertificates`: any certificate, but the handshake signatures still checked.
#[derive(Debug)]
struct TrustAll(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for TrustAll {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls_pki_types::CertificateDer<'_>,
        _intermediates: &[rustls_pki_types::CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn connector(config: &Arc<rustls::ClientConfig>) -> AsyncRustlsConnector {
    AsyncRustlsConnector::from(tokio_rustls::TlsConnector::from(config.clone()))
}

/// An FTP reply or a broken connection, as a failure of its kind.
fn failure(e: FtpError) -> Failure {
    match e {
        FtpError::UnexpectedResponse(r) => {
            let text = String::from_utf8_lossy(&r.body).trim().to_string();
            let kind = match r.status {
                Status::FileUnavailable if text.contains("ermission") => ErrorKind::Denied,
                Status::FileUnavailable => ErrorKind::NotFound,
                Status::NotLoggedIn => ErrorKind::Denied,
                _ => ErrorKind::Remote,
            };
            Failure::new(kind, format!("the server answered {}", text))
        }
        FtpError::ConnectionError(e) => Failure::new(
            ErrorKind::Unreachable,
            format!("the connection failed: {e}"),
        ),
        FtpError::SecureError(e) => Failure::new(ErrorKind::Remote, format!("TLS failed: {e}")),
        e => Failure::new(ErrorKind::Remote, e.to_string()),
    }
}

impl Settings {
    async fn connect(&self) -> Result<AsyncRustlsFtpStream, TaskError> {
        let endpoint = &self.endpoint;
        let address = (endpoint.host.as_str(), endpoint.port);
        let unreachable = |e: FtpError| {
            let f = failure(e);
            TaskError::new(
                f.kind,
                format!(
                    "{endpoint}: cannot connect to the FTP server at {}:{}: {}",
                    endpoint.host, endpoint.port, f.message
                ),
            )
            .hint("check `host` and `port` (and for FTPS, `mode`: IMPLICIT servers listen on 990, EXPLICIT ones on 21), and that the server runs and accepts connections from here")
        };
        let mut stream = match &self.tls {
            Tls::Implicit(config) => AsyncRustlsFtpStream::connect_secure_implicit(
                address,
                connector(config),
                &endpoint.host,
            )
            .await
            .map_err(unreachable)?,
            _ => {
                let tcp = tokio::net::TcpStream::connect(address)
                    .await
                    .map_err(|e| unreachable(FtpError::ConnectionError(e)))?;
                let stream = AsyncRustlsFtpStream::connect_with_stream(tcp)
                    .await
                    .map_err(unreachable)?;
                match &self.tls {
                    Tls::Explicit(config) => stream
                        .into_secure(connector(config), &endpoint.host)
                        .await
                        .map_err(|e| {
                            let f = failure(e);
                            TaskError::new(
                                f.kind,
                                format!("{endpoint}: the TLS handshake (AUTH TLS) failed: {}", f.message),
                            )
                            .hint("check that the server speaks explicit FTPS; for a self-signed certificate, trust its CA on this machine (SSL_CERT_FILE), or set insecureTrustAllCertificates: true for a test server")
                        })?,
                    _ => stream,
                }
            }
        };
        if matches!(self.tls, Tls::Implicit(_)) {
            // Explicit mode sends these itself (into_secure); implicit mode must too, or the
            // server refuses clear data connections.
            for command in ["PBSZ 0", "PROT P"] {
                stream
                    .custom_command(command, &[Status::CommandOk])
                    .await
                    .map_err(|e| {
                        TaskError::new(
                            ErrorKind::Remote,
                            format!("{endpoint}: `{command}` refused: {}", failure(e)),
                        )
                    })?;
            }
        }
        stream.login(&endpoint.user, &self.password).await.map_err(|e| {
            let f = failure(e);
            let kind = if f.kind == ErrorKind::Remote { ErrorKind::Denied } else { f.kind };
            TaskError::new(
                kind,
                format!("{endpoint}: the FTP server refused the login of user `{}`: {}", endpoint.user, f.message),
            )
            .hint("check `username` and `password`; a server that requires TLS also refuses plain logins (use the ftps tasks)")
        })?;
        stream
            .transfer_type(suppaftp::types::FileType::Binary)
            .await
            .map_err(|e| {
                TaskError::new(
                    ErrorKind::Remote,
                    format!("{endpoint}: binary mode refused: {}", failure(e)),
                )
            })?;
        if self.passive {
            stream.set_mode(Mode::Passive);
            stream.set_passive_nat_workaround(self.nat_workaround);
        } else {
            stream = stream.active_mode(Duration::from_secs(60));
        }
        Ok(stream)
    }
}

impl Connect for Settings {
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn open(&self) -> BoxFuture<'_, Result<Box<dyn Remote>, TaskError>> {
        Box::pin(async move {
            let stream = tokio::time::timeout(self.connect_timeout, self.connect())
                .await
                .map_err(|_| {
                    TaskError::new(
                        ErrorKind::Unreachable,
                        format!(
                            "{}: no FTP session within {} s (the server accepted the connection but did not answer)",
                            self.endpoint,
                            self.connect_timeout.as_secs()
                        ),
                    )
                    .hint("check `port`, and for FTPS `mode` (IMPLICIT or EXPLICIT)")
                })??;
            Ok(Box::new(Ftp {
                stream,
                root_dir: self.root_dir,
            }) as Box<dyn Remote>)
        })
    }
}

struct Ftp {
    stream: AsyncRustlsFtpStream,
    root_dir: bool,
}

fn to_entry(dir: &str, f: &suppaftp::list::File) -> Entry {
    let path = join(dir, f.name());
    let modified = f
        .modified()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs() as i64);
    Entry {
        name: file_name(&path).to_string(),
        path,
        folder: f.is_directory(),
        symlink: f.is_symlink(),
        size: Some(f.size() as u64),
        modified,
        accessed: None,
        uid: None,
        gid: None,
        permissions: None,
    }
}

impl Ftp {
    fn on_server(&self, path: &str) -> String {
        server_path(path, self.root_dir)
    }

    /// The parsed `LIST` of a folder.
    async fn listing(&mut self, dir: &str) -> Result<Vec<Entry>, Failure> {
        let on_server = self.on_server(dir);
        let lines = self.stream.list(Some(&on_server)).await.map_err(failure)?;
        let mut out = Vec::new();
        for line in lines {
            if let Ok(f) = line.parse::<suppaftp::list::File>() {
                if f.name() == "." || f.name() == ".." {
                    continue;
                }
                out.push(to_entry(dir, &f));
            }
        }
        Ok(out)
    }

    /// Whether `path` is a folder the server lets us enter.
    async fn is_dir(&mut self, path: &str) -> Result<bool, Failure> {
        let home = self.stream.pwd().await.map_err(failure)?;
        match self.stream.cwd(self.on_server(path)).await {
            Ok(()) => {
                self.stream.cwd(&home).await.map_err(failure)?;
                Ok(true)
            }
            Err(FtpError::UnexpectedResponse(_)) => Ok(false),
            Err(e) => Err(failure(e)),
        }
    }
}

impl Remote for Ftp {
    fn stat<'a>(&'a mut self, path: &'a str) -> Io<'a, Option<Entry>> {
        Box::pin(async move {
            if path == "/" {
                return Ok(Some(Entry {
                    path: "/".into(),
                    name: String::new(),
                    folder: true,
                    symlink: false,
                    size: None,
                    modified: None,
                    accessed: None,
                    uid: None,
                    gid: None,
                    permissions: None,
                }));
            }
            let parent = crate::remote::parent(path).to_string();
            let name = file_name(path).to_string();
            if !self.is_dir(&parent).await? {
                return Ok(None);
            }
            let found = self
                .listing(&parent)
                .await?
                .into_iter()
                .find(|e| e.name == name);
            match found {
                Some(mut e) if e.symlink => {
                    e.folder = self.is_dir(path).await?;
                    Ok(Some(e))
                }
                other => Ok(other),
            }
        })
    }

    fn list<'a>(&'a mut self, dir: &'a str) -> Io<'a, Vec<Entry>> {
        Box::pin(async move {
            let mut entries = self.listing(dir).await?;
            for e in entries.iter_mut().filter(|e| e.symlink) {
                let p = e.path.clone();
                e.folder = self.is_dir(&p).await?;
            }
            Ok(entries)
        })
    }

    fn read_into<'a>(
        &'a mut self,
        path: &'a str,
        sink: &'a mut (dyn AsyncWrite + Unpin + Send),
        progress: &'a (dyn Fn(u64) + Sync),
    ) -> Io<'a, u64> {
        Box::pin(async move {
            let on_server = self.on_server(path);
            let mut data = self
                .stream
                .retr_as_stream(&on_server)
                .await
                .map_err(failure)?;
            let copied = crate::remote::pump(&mut data, sink, progress).await;
            match copied {
                Ok(n) => {
                    data.finish().await.map_err(failure)?;
                    Ok(n)
                }
                Err((reading, e)) => {
                    let _ = self.stream.abort(data).await;
                    Err(if reading {
                        Failure::new(ErrorKind::Remote, format!("reading failed: {e}"))
                    } else {
                        Failure::new(ErrorKind::Io, format!("writing the local copy failed: {e}"))
                    })
                }
            }
        })
    }

    fn write_from<'a>(
        &'a mut self,
        path: &'a str,
        source: &'a mut (dyn AsyncRead + Unpin + Send),
        progress: &'a (dyn Fn(u64) + Sync),
    ) -> Io<'a, u64> {
        Box::pin(async move {
            let on_server = self.on_server(path);
            let mut data = self
                .stream
                .put_with_stream(&on_server)
                .await
                .map_err(failure)?;
            let copied = crate::remote::pump(source, &mut data, progress).await;
            match copied {
                Ok(n) => {
                    data.finish().await.map_err(failure)?;
                    Ok(n)
                }
                Err((reading, e)) => {
                    let _ = self.stream.abort(data).await;
                    Err(if reading {
                        Failure::new(ErrorKind::Io, format!("reading the local file failed: {e}"))
                    } else {
                        Failure::new(ErrorKind::Remote, format!("writing failed: {e}"))
                    })
                }
            }
        })
    }

    fn mkdir<'a>(&'a mut self, path: &'a str) -> Io<'a, ()> {
        Box::pin(async move {
            let p = self.on_server(path);
            self.stream.mkdir(&p).await.map_err(failure)
        })
    }

    fn rename<'a>(&'a mut self, from: &'a str, to: &'a str) -> Io<'a, ()> {
        Box::pin(async move {
            let (f, t) = (self.on_server(from), self.on_server(to));
            let first = match self.stream.rename(&f, &t).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            // A server that will not rename onto an existing file: when both are there, remove
            // the target, then rename; any other refusal is the answer.
            let source = self.stat(from).await?;
            let target = self.stat(to).await?;
            match (source, target) {
                (Some(_), Some(existing)) if !existing.folder => {
                    self.stream.rm(&t).await.map_err(failure)?;
                    self.stream.rename(&f, &t).await.map_err(failure)
                }
                _ => Err(failure(first)),
            }
        })
    }

    fn remove_file<'a>(&'a mut self, path: &'a str) -> Io<'a, ()> {
        Box::pin(async move {
            let p = self.on_server(path);
            self.stream.rm(&p).await.map_err(failure)
        })
    }

    fn remove_dir<'a>(&'a mut self, path: &'a str) -> Io<'a, ()> {
        Box::pin(async move {
            let p = self.on_server(path);
            self.stream.rmdir(&p).await.map_err(failure)
        })
    }

    fn close(mut self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let _ = self.stream.quit().await;
        })
    }
}
