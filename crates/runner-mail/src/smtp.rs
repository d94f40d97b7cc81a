//! `io.kestra.plugin.email.MailSend` and `MailExecution` (and their
//! `io.kestra.plugin.notifications.mail` names): a message sent over SMTP with lettre's
//! connection, on rustls. Implicit TLS (SMTPS, Kestra's default), STARTTLS required
//! (SMTP_TLS, SMTP_OAUTH2) or offered (SMTP). Certificates are verified against the system's
//! trust store and the certificates of `SSL_CERT_FILE` in the run's environment; only
//! `trustedHosts` and `verifyServerIdentity: false` relax that, and say so in the log.
//!
//! Every property is rendered and every attachment found before the connection is opened,
//! so a wrong URI or address fails with nothing sent. The message streams: files are read in
//! blocks while the previous block is on the wire (see `mime`).

use crate::attachments::{self, Found};
use crate::mime::{self, Content, Stream};
use crate::summary::{ExecutionProps, Flavour, PLAIN};
use lettre::message::header::{self, HeaderName, HeaderValue, Headers};
use lettre::message::{Mailbox, Mailboxes};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailParameter};
use runner_core::plugin::*;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub(crate) const MAIL_SEND: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.email.MailSend",
    aliases: &["io.kestra.plugin.notifications.mail.MailSend"],
    doc: "Send an email over SMTP: HTML and text bodies, attachments and embedded images from kestra:// files (streamed, not held in memory). Implicit TLS by default (`transportStrategy`); the server's certificate is verified against the system's trust store plus the PEM file `SSL_CERT_FILE` names in the run's environment.",
    example: "id: send\ntype: io.kestra.plugin.email.MailSend\nhost: smtp.example.com\nport: 465\nusername: reports@example.com\npassword: \"{{ secret('SMTP_PASSWORD') }}\"\nfrom: reports@example.com\nto: team@example.com\nsubject: \"Flow {{ flow.id }} finished\"\nhtmlTextContent: \"<p>Execution {{ execution.id }} finished.</p>\"",
    shape: runnable::<MailSend>(),
};

pub(crate) const MAIL_EXECUTION: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.email.MailExecution",
    aliases: &["io.kestra.plugin.notifications.mail.MailExecution"],
    doc: "Send a summary of the current execution (flow, state, failed or final task, duration, custom fields) as an HTML email over SMTP; the server settings are MailSend's.",
    example: "id: notify\ntype: io.kestra.plugin.email.MailExecution\nhost: smtp.example.com\nport: 465\nusername: alerts@example.com\npassword: \"{{ secret('SMTP_PASSWORD') }}\"\nfrom: alerts@example.com\nto: oncall@example.com\nsubject: \"{{ flow.namespace }}.{{ flow.id }} ended\"\ncustomMessage: Nightly load",
    shape: runnable::<MailExecution>(),
};

/// Kestra's `transportStrategy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum TransportStrategy {
    Smtp,
    Smtps,
    SmtpTls,
    #[serde(rename = "SMTP_OAUTH2")]
    SmtpOauth2,
}

impl TransportStrategy {
    fn name(self) -> &'static str {
        match self {
            TransportStrategy::Smtp => "SMTP",
            TransportStrategy::Smtps => "SMTPS",
            TransportStrategy::SmtpTls => "SMTP_TLS",
            TransportStrategy::SmtpOauth2 => "SMTP_OAUTH2",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            TransportStrategy::Smtp => 25,
            TransportStrategy::Smtps => 465,
            TransportStrategy::SmtpTls | TransportStrategy::SmtpOauth2 => 587,
        }
    }
}

/// Where and how to connect: the server properties of every SMTP task.
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Server {
    /// The SMTP server's host name.
    host: Option<Property<String>>,
    /// Its port (default by `transportStrategy`: 465 for SMTPS, 587 for SMTP_TLS and
    /// SMTP_OAUTH2, 25 for SMTP).
    port: Option<Property<u16>>,
    /// The user to log in as; no login without it.
    username: Option<Property<String>>,
    /// The user's password (never shown).
    #[prop(secret)]
    password: Option<Property<String>>,
    /// SMTPS (default: TLS from the start), SMTP_TLS (STARTTLS, required), SMTP (STARTTLS when
    /// the server offers it, otherwise unencrypted) or SMTP_OAUTH2 (STARTTLS and XOAUTH2).
    transport_strategy: Option<Property<TransportStrategy>>,
    /// The OAuth2 access token for SMTP_OAUTH2 (default: `password`).
    #[prop(secret)]
    access_token: Option<Property<String>>,
    /// Milliseconds any step may wait for the server: connecting, each answer, each block of
    /// the message (default 10000).
    session_timeout: Option<Property<u64>>,
    /// Check that the certificate names `host` (default true).
    verify_server_identity: Option<Property<bool>>,
    /// Hosts whose certificate is accepted without verification (for a server with a
    /// self-signed certificate; prefer `SSL_CERT_FILE` with its CA).
    trusted_hosts: Option<Property<Vec<String>>>,
}

/// Who the message is from and to, and what it carries besides its text.
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Envelope {
    /// The sender: `ops@example.com` or `Ops <ops@example.com>`.
    from: Option<Property<String>>,
    /// The recipients, separated by `;` or `,`.
    to: Option<Property<String>>,
    /// Copied recipients, separated by `;` or `,`.
    cc: Option<Property<String>>,
    /// The subject.
    subject: Option<Property<String>>,
    /// Files to attach: a list of `{uri, name, contentType}` (uri a kestra:// file;
    /// contentType default `application/octet-stream`), or a JSON string of one.
    #[prop(type = "list or JSON string")]
    attachments: Option<Property<Json>>,
    /// Images shown in the HTML as `<img src="cid:NAME">`: the same form as `attachments`.
    #[prop(type = "list or JSON string")]
    embedded_images: Option<Property<Json>>,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MailSend {
    #[serde(flatten)]
    server: Server,
    #[serde(flatten)]
    envelope: Envelope,
    /// The HTML body.
    html_text_content: Option<Property<String>>,
    /// The text body (default: "Please view this email in a modern email client").
    plain_text_content: Option<Property<String>>,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MailExecution {
    #[serde(flatten)]
    server: Server,
    #[serde(flatten)]
    envelope: Envelope,
    #[serde(flatten)]
    execution: ExecutionProps,
    /// Ignored, as in Kestra: the summary is the HTML body.
    html_text_content: Option<Property<String>>,
    /// Ignored, as in Kestra: the text body is Kestra's one sentence.
    plain_text_content: Option<Property<String>>,
}

impl RunnableTask for MailSend {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let html = ctx.render_opt(&self.html_text_content, "htmlTextContent")?;
            let plain = ctx
                .render_opt(&self.plain_text_content, "plainTextContent")?
                .unwrap_or_else(|| PLAIN.to_string());
            let message = self.envelope.prepare(ctx, None)?;
            send(ctx, &self.server, message, &plain, html.as_deref()).await
        })
    }
}

impl RunnableTask for MailExecution {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            if self.html_text_content.is_some() || self.plain_text_content.is_some() {
                ctx.log(
                    Level::Warn,
                    "htmlTextContent and plainTextContent are ignored: MailExecution sends the execution summary",
                );
            }
            let summary = self.execution.summarize(ctx)?;
            let message = self.envelope.prepare(ctx, Some(summary.title()))?;
            let html = summary.html(Flavour::Mail);
            send(ctx, &self.server, message, PLAIN, Some(&html)).await
        })
    }
}

/// A message ready to send: addresses checked, files found.
struct Prepared {
    from: Mailbox,
    to: Vec<Mailbox>,
    cc: Vec<Mailbox>,
    subject: Option<String>,
    images: Vec<Found>,
    attachments: Vec<Found>,
}

/// `text` as addresses: `;`-separated pieces, each a `,`-separated list (a quoted name may
/// hold a comma).
fn mailboxes(text: &str, property: &str) -> Result<Vec<Mailbox>, TaskError> {
    let mut all = Vec::new();
    for piece in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let parsed: Mailboxes = piece.parse().map_err(|e| {
            TaskError::property(property, format!("`{piece}` is not an email address ({e})"))
        })?;
        all.extend(parsed.iter().cloned());
    }
    Ok(all)
}

impl Envelope {
    /// Renders the addresses and finds the files; `default_subject` when none is given.
    fn prepare(
        &self,
        ctx: &RunContext,
        default_subject: Option<String>,
    ) -> Result<Prepared, TaskError> {
        let from_text = ctx
            .render_opt(&self.from, "from")?
            .ok_or_else(|| TaskError::property("from", "the sender's address is required"))?;
        let from: Mailbox = from_text.trim().parse().map_err(|e| {
            TaskError::property(
                "from",
                format!("`{from_text}` is not an email address ({e})"),
            )
        })?;
        let to_text = ctx
            .render_opt(&self.to, "to")?
            .ok_or_else(|| TaskError::property("to", "at least one recipient is required"))?;
        let to = mailboxes(&to_text, "to")?;
        if to.is_empty() {
            return Err(TaskError::property(
                "to",
                "at least one recipient is required",
            ));
        }
        let cc = match ctx.render_opt(&self.cc, "cc")? {
            Some(text) => mailboxes(&text, "cc")?,
            None => Vec::new(),
        };
        let subject = ctx
            .render_opt(&self.subject, "subject")?
            .or(default_subject);
        let attachments = attachments::parse(
            ctx.render_opt(&self.attachments, "attachments")?,
            "attachments",
        )?;
        let images = attachments::parse(
            ctx.render_opt(&self.embedded_images, "embeddedImages")?,
            "embeddedImages",
        )?;
        Ok(Prepared {
            from,
            to,
            cc,
            subject,
            attachments: attachments::find(ctx, attachments, "attachments")?,
            images: attachments::find(ctx, images, "embeddedImages")?,
        })
    }
}

/// The server settings, rendered.
struct Settings {
    host: String,
    port: u16,
    strategy: TransportStrategy,
    login: Option<(String, String)>,
    timeout: Duration,
    tls: TlsParameters,
}

impl Settings {
    fn at(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

impl Server {
    fn settings(&self, ctx: &RunContext) -> Result<Settings, TaskError> {
        let host = ctx
            .render_opt(&self.host, "host")?
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .ok_or_else(|| TaskError::property("host", "the SMTP server's host is required"))?;
        let strategy = ctx
            .render_opt(&self.transport_strategy, "transportStrategy")?
            .unwrap_or(TransportStrategy::Smtps);
        let port = ctx
            .render_opt(&self.port, "port")?
            .unwrap_or_else(|| strategy.default_port());
        let username = ctx.render_opt(&self.username, "username")?;
        let password = ctx.render_opt(&self.password, "password")?;
        let secret = if strategy == TransportStrategy::SmtpOauth2 {
            let token = ctx.render_opt(&self.access_token, "accessToken")?;
            match token.or(password) {
                Some(t) => Some(t),
                None => {
                    return Err(TaskError::property(
                        "accessToken",
                        "When using SMTP_OAUTH2, either 'accessToken' or 'password' must be provided",
                    ));
                }
            }
        } else {
            password
        };
        let login = match (username, secret) {
            (Some(u), Some(p)) => Some((u, p)),
            (Some(u), None) => {
                ctx.log(
                    Level::Warn,
                    &format!(
                        "username `{u}` is given without a password: sending without logging in"
                    ),
                );
                None
            }
            _ => None,
        };
        let timeout = Duration::from_millis(
            ctx.render_opt(&self.session_timeout, "sessionTimeout")?
                .unwrap_or(10_000)
                .max(1),
        );
        let verify_identity = ctx
            .render_opt(&self.verify_server_identity, "verifyServerIdentity")?
            .unwrap_or(true);
        let trusted = ctx
            .render_opt(&self.trusted_hosts, "trustedHosts")?
            .unwrap_or_default();
        let mut tls = TlsParameters::builder(host.clone());
        if let Some(path) = ctx.env_var("SSL_CERT_FILE") {
            let pem = std::fs::read(path).map_err(|e| {
                TaskError::new(
                    ErrorKind::Io,
                    format!("cannot read SSL_CERT_FILE `{path}` (the certificates to trust)"),
                )
                .caused_by(e)
            })?;
            let certs = Certificate::from_pem(&pem).map_err(|e| {
                TaskError::new(
                    ErrorKind::BadData,
                    format!("SSL_CERT_FILE `{path}` holds no PEM certificate"),
                )
                .caused_by(e)
            })?;
            tls = tls.add_root_certificate(certs);
        }
        if !verify_identity {
            ctx.log(
                Level::Warn,
                &format!("verifyServerIdentity is false: a certificate for another name than `{host}` is accepted"),
            );
            tls = tls.dangerous_accept_invalid_hostnames(true);
        }
        if trusted.iter().any(|t| t.eq_ignore_ascii_case(&host)) {
            ctx.log(
                Level::Warn,
                &format!(
                    "`{host}` is in trustedHosts: its certificate is accepted without verification"
                ),
            );
            tls = tls.dangerous_accept_invalid_certs(true);
        }
        let tls = tls.build_rustls().map_err(|e| {
            TaskError::new(ErrorKind::Other, "cannot set up TLS for SMTP").caused_by(e)
        })?;
        Ok(Settings {
            host,
            port,
            strategy,
            login,
            timeout,
            tls,
        })
    }
}

/// What the client was doing when something went wrong.
#[derive(Clone, Copy)]
enum Step {
    Connect,
    StartTls,
    Login,
    Sender,
    Recipient,
    Message,
}

impl Step {
    fn doing(self) -> &'static str {
        match self {
            Step::Connect => "connecting",
            Step::StartTls => "starting TLS",
            Step::Login => "logging in",
            Step::Sender => "giving the sender",
            Step::Recipient => "giving the recipients",
            Step::Message => "sending the message",
        }
    }
}

/// `e` and its causes, each once.
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

fn tls_hint(s: &Settings) -> String {
    let mut hint = String::from(
        "runner verifies the server's certificate against the system's trust store: for a private CA, set SSL_CERT_FILE (in the environment or an --env-file) to its PEM file; `trustedHosts: [host]` accepts the host's certificate unverified",
    );
    if s.strategy == TransportStrategy::Smtps {
        hint.push_str(&format!(
            "; if the server does not speak TLS on port {}, use transportStrategy SMTP_TLS (STARTTLS, usually port 587)",
            s.port
        ));
    }
    hint
}

/// The task's error for a failed SMTP step.
fn failure(s: &Settings, step: Step, what: &str, e: lettre::transport::smtp::Error) -> TaskError {
    let at = s.at();
    let cause = causes(&e);
    let tls_like = e.is_tls()
        || ["certificate", "tls", "handshake", "corrupt message", "peer"]
            .iter()
            .any(|w| cause.to_ascii_lowercase().contains(w));
    if e.is_timeout() {
        return TaskError::new(
            ErrorKind::Unreachable,
            format!(
                "the SMTP server at {at} did not answer within sessionTimeout ({} ms) while {}",
                s.timeout.as_millis(),
                step.doing()
            ),
        )
        .hint("check host and port, or raise sessionTimeout");
    }
    match step {
        Step::Connect | Step::StartTls if tls_like => TaskError::new(
            ErrorKind::Denied,
            format!("TLS with the SMTP server at {at} failed: {cause}"),
        )
        .hint(tls_hint(s)),
        Step::Connect => TaskError::new(
            ErrorKind::Unreachable,
            format!("cannot connect to the SMTP server at {at}: {cause}"),
        )
        .hint(format!(
            "check host and port (transportStrategy {} uses port {} unless `port` says otherwise)",
            s.strategy.name(),
            s.strategy.default_port()
        )),
        Step::StartTls => TaskError::new(
            ErrorKind::Remote,
            format!("the SMTP server at {at} refused STARTTLS: {cause}"),
        ),
        Step::Login => {
            let user = s.login.as_ref().map(|(u, _)| u.as_str()).unwrap_or("");
            TaskError::new(
                ErrorKind::Denied,
                format!("the SMTP server at {at} refused the login of user `{user}`: {cause}"),
            )
            .hint("check username and password (or accessToken with SMTP_OAUTH2)")
        }
        Step::Sender => TaskError::new(
            ErrorKind::Remote,
            format!("the SMTP server at {at} refused the sender `{what}`: {cause}"),
        )
        .hint("`from` must be an address this account may send as"),
        Step::Recipient => TaskError::new(
            ErrorKind::Remote,
            format!("the SMTP server at {at} refused the recipient `{what}`: {cause}"),
        )
        .hint("check `to` and `cc`"),
        Step::Message => TaskError::new(
            ErrorKind::Remote,
            format!("the SMTP server at {at} refused the message: {cause}"),
        ),
    }
}

fn timed_out(s: &Settings, step: Step) -> TaskError {
    TaskError::new(
        ErrorKind::Unreachable,
        format!(
            "the SMTP server at {} did not answer within sessionTimeout ({} ms) while {}",
            s.at(),
            s.timeout.as_millis(),
            step.doing()
        ),
    )
    .hint("check host and port, or raise sessionTimeout")
}

/// Runs one step under the session timeout.
async fn step<T>(
    s: &Settings,
    step: Step,
    what: &str,
    fut: impl std::future::Future<Output = Result<T, lettre::transport::smtp::Error>>,
) -> Result<T, TaskError> {
    match tokio::time::timeout(s.timeout, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(failure(s, step, what, e)),
        Err(_) => Err(timed_out(s, step)),
    }
}

/// The addresses `host` resolves to, each allowed by the run's network policy.
async fn resolve(ctx: &RunContext, s: &Settings) -> Result<Vec<SocketAddr>, TaskError> {
    let lookup = tokio::net::lookup_host((s.host.as_str(), s.port));
    let addrs: Vec<SocketAddr> = match tokio::time::timeout(s.timeout, lookup).await {
        Ok(Ok(a)) => a.collect(),
        Ok(Err(e)) => {
            return Err(TaskError::new(
                ErrorKind::Unreachable,
                format!("cannot connect to the SMTP server at {}: {e}", s.at()),
            )
            .hint("check `host`: its name does not resolve"));
        }
        Err(_) => return Err(timed_out(s, Step::Connect)),
    };
    let policy = ctx.network();
    if let Some(refused) = addrs.iter().find(|a| !policy.allows(a.ip())) {
        return Err(TaskError::new(
            ErrorKind::Denied,
            format!(
                "`{}` is (or resolves to) the link-local address {}, where cloud instance-metadata services answer; flows may not reach it",
                s.host,
                refused.ip()
            ),
        )
        .hint("run runner with --allow-link-local if this flow must reach that address"));
    }
    if addrs.is_empty() {
        return Err(TaskError::new(
            ErrorKind::Unreachable,
            format!("`{}` resolves to no address", s.host),
        ));
    }
    Ok(addrs)
}

/// Connects to each address in turn; TLS from the start with SMTPS.
async fn connect(ctx: &RunContext, s: &Settings) -> Result<AsyncSmtpConnection, TaskError> {
    let hello = ClientId::default();
    let implicit = (s.strategy == TransportStrategy::Smtps).then(|| s.tls.clone());
    let mut last = None;
    for addr in resolve(ctx, s).await? {
        let attempt = AsyncSmtpConnection::connect_tokio1(
            addr,
            Some(s.timeout),
            &hello,
            implicit.clone(),
            None,
        );
        match step(s, Step::Connect, "", attempt).await {
            Ok(conn) => return Ok(conn),
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("at least one address was tried"))
}

/// Sends the message: everything checked first, then one SMTP session.
async fn send(
    ctx: &RunContext,
    server: &Server,
    m: Prepared,
    plain: &str,
    html: Option<&str>,
) -> Result<Outputs, TaskError> {
    let s = server.settings(ctx)?;
    let mut top = Headers::new();
    top.set(header::From::from(Mailboxes::from(m.from.clone())));
    top.set(header::To::from(
        m.to.iter().cloned().collect::<Mailboxes>(),
    ));
    if !m.cc.is_empty() {
        top.set(header::Cc::from(
            m.cc.iter().cloned().collect::<Mailboxes>(),
        ));
    }
    if let Some(subject) = &m.subject {
        top.set(header::Subject::from(subject.clone()));
    }
    top.set(header::Date::now());
    top.set(header::MessageId::from(format!(
        "<{}.{}@{}>",
        runner_core::ids::friendly_id(),
        runner_core::ids::random_u64(),
        m.from.email.domain()
    )));
    top.set(header::MIME_VERSION_1_0);
    // Kestra asks every mail for a return receipt to the sender.
    top.insert_raw(HeaderValue::new(
        HeaderName::new_from_ascii_str("Return-Receipt-To"),
        m.from.to_string(),
    ));
    let pieces = mime::compose(
        &top,
        Content {
            plain,
            html,
            images: &m.images,
            attachments: &m.attachments,
        },
    )?;

    let mut conn = connect(ctx, &s).await?;
    let starttls = match s.strategy {
        TransportStrategy::Smtps => false,
        TransportStrategy::SmtpTls | TransportStrategy::SmtpOauth2 => {
            if !conn.can_starttls() {
                return Err(TaskError::new(
                    ErrorKind::Unsupported,
                    format!(
                        "the SMTP server at {} does not offer STARTTLS, which transportStrategy {} requires: nothing was sent",
                        s.at(),
                        s.strategy.name()
                    ),
                )
                .hint("use SMTPS if the server speaks TLS from the start (usually port 465), or SMTP to send unencrypted"));
            }
            true
        }
        TransportStrategy::Smtp => conn.can_starttls(),
    };
    if starttls {
        let hello = ClientId::default();
        step(&s, Step::StartTls, "", conn.starttls(s.tls.clone(), &hello)).await?;
    }
    if let Some((user, secret)) = &s.login {
        if !conn.is_encrypted() {
            ctx.log(
                Level::Warn,
                &format!(
                    "the password of `{user}` goes to {} unencrypted: the server offers no STARTTLS (transportStrategy SMTP)",
                    s.at()
                ),
            );
        }
        let mechanisms: &[Mechanism] = if s.strategy == TransportStrategy::SmtpOauth2 {
            &[Mechanism::Xoauth2]
        } else {
            &[Mechanism::Plain, Mechanism::Login]
        };
        if conn.server_info().get_auth_mechanism(mechanisms).is_none() {
            return Err(TaskError::new(
                ErrorKind::Unsupported,
                format!(
                    "the SMTP server at {} offers no login runner can use for user `{user}` (it answered: {})",
                    s.at(),
                    conn.server_info()
                ),
            )
            .hint(if conn.is_encrypted() {
                "runner logs in with PLAIN or LOGIN (XOAUTH2 with SMTP_OAUTH2)"
            } else {
                "many servers offer a login only over TLS: use transportStrategy SMTPS or SMTP_TLS"
            }));
        }
        let credentials = Credentials::new(user.clone(), secret.clone());
        step(&s, Step::Login, user, conn.auth(mechanisms, &credentials)).await?;
    }

    let everyone: Vec<&Mailbox> = m.to.iter().chain(&m.cc).collect();
    let mut parameters = Vec::new();
    let non_ascii = std::iter::once(&m.from)
        .chain(everyone.iter().copied())
        .any(|b| !b.email.to_string().is_ascii());
    if non_ascii {
        if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
            return Err(TaskError::new(
                ErrorKind::Unsupported,
                format!(
                    "an address has non-ASCII characters and the SMTP server at {} does not accept them (no SMTPUTF8): nothing was sent",
                    s.at()
                ),
            ));
        }
        parameters.push(MailParameter::SmtpUtfEight);
    }
    let from = m.from.email.to_string();
    step(
        &s,
        Step::Sender,
        &from,
        conn.command(Mail::new(Some(m.from.email.clone()), parameters)),
    )
    .await?;
    for b in &everyone {
        let address = b.email.to_string();
        step(
            &s,
            Step::Recipient,
            &address,
            conn.command(Rcpt::new(b.email.clone(), vec![])),
        )
        .await?;
    }
    step(&s, Step::Message, "", conn.command(Data)).await?;
    let stream = Stream::new(pieces);
    let (error, progress) = (stream.error.clone(), stream.progress.clone());
    let sent = watchdog(conn.message_iter(stream), &progress, s.timeout).await;
    if let Some(why) = error.lock().expect("stream error").take() {
        return Err(TaskError::new(
            ErrorKind::Io,
            format!("{why}; the message sent to {} was cut short", s.at()),
        ));
    }
    match sent {
        Some(Ok(_)) => {}
        Some(Err(e)) => return Err(failure(&s, Step::Message, "", e)),
        None => return Err(timed_out(&s, Step::Message)),
    }
    let _ = tokio::time::timeout(s.timeout, conn.quit()).await;
    let attached = m.attachments.len() + m.images.len();
    ctx.info(&format!(
        "Sent an email to {} through {}{}",
        everyone
            .iter()
            .map(|b| b.email.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        s.at(),
        if attached > 0 {
            format!(
                " with {attached} file(s), {} bytes",
                m.attachments
                    .iter()
                    .chain(&m.images)
                    .map(|f| f.size)
                    .sum::<u64>()
            )
        } else {
            String::new()
        }
    ));
    Ok(Outputs::new())
}

/// Runs `fut` until it ends, or until `progress` has not moved for `idle`: a server that stops
/// reading is caught without cutting a long message short.
async fn watchdog<F: std::future::Future>(
    fut: F,
    progress: &AtomicU64,
    idle: Duration,
) -> Option<F::Output> {
    tokio::pin!(fut);
    let tick = idle.min(Duration::from_secs(1));
    let mut last = progress.load(Ordering::SeqCst);
    let mut since = tokio::time::Instant::now();
    loop {
        tokio::select! {
            out = &mut fut => return Some(out),
            _ = tokio::time::sleep(tick) => {
                let now = progress.load(Ordering::SeqCst);
                if now != last {
                    last = now;
                    since = tokio::time::Instant::now();
                } else if since.elapsed() >= idle {
                    return None;
                }
            }
        }
    }
}
