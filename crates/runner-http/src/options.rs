//! Kestra's `options` (HttpConfiguration) and the pre-0.22 flat keys mapped onto it,
//! rendered into the settings one request uses.

use runner_core::plugin::*;
use serde::Deserialize;
use std::time::Duration;

/// `options` of Request, Download, the notifications and `http()`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct HttpOptions {
    pub(crate) timeout: Option<Timeouts>,
    pub(crate) proxy: Option<ProxyOptions>,
    pub(crate) auth: Option<AuthOptions>,
    pub(crate) ssl: Option<SslOptions>,
    pub(crate) follow_redirects: Option<Property<bool>>,
    pub(crate) allow_failed: Option<Property<bool>>,
    pub(crate) allowed_response_codes: Option<Property<Vec<u16>>>,
    pub(crate) default_charset: Option<Property<String>>,
    pub(crate) logs: Option<Property<Vec<LogKind>>>,
    // The flat keys of Kestra before 0.22, still mapped.
    pub(crate) connect_timeout: Option<Property<IsoDuration>>,
    pub(crate) read_timeout: Option<Property<IsoDuration>>,
    pub(crate) proxy_type: Option<Property<ProxyType>>,
    pub(crate) proxy_address: Option<Property<String>>,
    pub(crate) proxy_port: Option<Property<u16>>,
    pub(crate) proxy_username: Option<Property<String>>,
    pub(crate) proxy_password: Option<Property<String>>,
    pub(crate) basic_auth_user: Option<Property<String>>,
    pub(crate) basic_auth_password: Option<Property<String>>,
    // Accepted and ignored, as Kestra does.
    #[allow(dead_code)]
    pub(crate) read_idle_timeout: Option<Json>,
    #[allow(dead_code)]
    pub(crate) connection_pool_idle_timeout: Option<Json>,
    #[allow(dead_code)]
    pub(crate) max_content_length: Option<Json>,
}

impl PropType for HttpOptions {
    const NAME: &'static str = "HTTP options";
}

impl Seal for HttpOptions {
    fn seal(&mut self) {
        self.proxy.seal();
        self.auth.seal();
        self.proxy_password.seal();
        self.basic_auth_password.seal();
    }
}

impl Seal for ProxyOptions {
    fn seal(&mut self) {
        self.password.seal();
    }
}

impl Seal for AuthOptions {
    fn seal(&mut self) {
        self.password.seal();
        self.token.seal();
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Timeouts {
    pub(crate) connect_timeout: Option<Property<IsoDuration>>,
    pub(crate) read_idle_timeout: Option<Property<IsoDuration>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ProxyOptions {
    #[serde(rename = "type")]
    pub(crate) kind: Option<Property<ProxyType>>,
    pub(crate) address: Option<Property<String>>,
    pub(crate) port: Option<Property<u16>>,
    pub(crate) username: Option<Property<String>>,
    pub(crate) password: Option<Property<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum ProxyType {
    Direct,
    Http,
    Socks,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AuthOptions {
    #[serde(rename = "type")]
    pub(crate) kind: AuthType,
    pub(crate) username: Option<Property<String>>,
    pub(crate) password: Option<Property<String>>,
    pub(crate) token: Option<Property<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum AuthType {
    Basic,
    Bearer,
    Digest,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SslOptions {
    pub(crate) insecure_trust_all_certificates: Option<Property<bool>>,
}

impl PropType for SslOptions {
    const NAME: &'static str = "SSL options";
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum LogKind {
    RequestHeaders,
    RequestBody,
    ResponseHeaders,
    ResponseBody,
}

/// How a request authenticates.
#[derive(Clone)]
pub(crate) enum Auth {
    Basic { username: String, password: String },
    Bearer(String),
    Digest { username: String, password: String },
}

#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct Proxy {
    pub(crate) kind: ProxyType,
    pub(crate) address: String,
    pub(crate) port: u16,
    pub(crate) credentials: Option<(String, String)>,
}

/// The options, rendered.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) read_idle_timeout: Duration,
    pub(crate) proxy: Option<Proxy>,
    pub(crate) auth: Option<Auth>,
    pub(crate) insecure: bool,
    pub(crate) follow_redirects: bool,
    pub(crate) allow_failed: bool,
    pub(crate) allowed_codes: Option<Vec<u16>>,
    pub(crate) logs: Vec<LogKind>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            connect_timeout: None,
            read_idle_timeout: READ_IDLE,
            proxy: None,
            auth: None,
            insecure: false,
            follow_redirects: true,
            allow_failed: false,
            allowed_codes: None,
            logs: Vec::new(),
        }
    }
}

/// Kestra's default read-idle timeout.
pub(crate) const READ_IDLE: Duration = Duration::from_secs(300);

impl Settings {
    /// Renders `options`; `allow_failed` and `insecure` are the deprecated top-level keys.
    pub(crate) fn render(
        ctx: &RunContext,
        o: &HttpOptions,
        allow_failed: Option<&Property<bool>>,
        insecure: Option<&SslOptions>,
    ) -> Result<Settings, TaskError> {
        let dur = |p: &Option<Property<IsoDuration>>, name: &str| {
            ctx.render_opt(p, &format!("options.{name}"))
                .map(|d| d.map(|d| d.0))
        };
        let text = |p: &Option<Property<String>>, name: &str| {
            ctx.render_opt(p, &format!("options.{name}"))
        };
        let (connect, read) = match &o.timeout {
            Some(t) => (
                dur(&t.connect_timeout, "timeout.connectTimeout")?,
                dur(&t.read_idle_timeout, "timeout.readIdleTimeout")?,
            ),
            None => (None, None),
        };
        let connect_timeout = connect.or(dur(&o.connect_timeout, "connectTimeout")?);
        let read_idle_timeout = read
            .or(dur(&o.read_timeout, "readTimeout")?)
            .unwrap_or(READ_IDLE);
        let proxy = match &o.proxy {
            Some(p) => proxy_of(
                ctx,
                &p.kind,
                &p.address,
                &p.port,
                &p.username,
                &p.password,
                "proxy.",
            )?,
            None => proxy_of(
                ctx,
                &o.proxy_type,
                &o.proxy_address,
                &o.proxy_port,
                &o.proxy_username,
                &o.proxy_password,
                "proxy",
            )?,
        };
        let auth = match &o.auth {
            Some(a) => {
                let need = |p: &Option<Property<String>>,
                            name: &str|
                 -> Result<String, TaskError> {
                    match p {
                        Some(p) => ctx.render(p, &format!("options.auth.{name}")),
                        None => Err(TaskError::property(
                            &format!("options.auth.{name}"),
                            format!("{:?} authentication needs `{name}`", a.kind).to_uppercase(),
                        )),
                    }
                };
                Some(match a.kind {
                    AuthType::Basic => Auth::Basic {
                        username: need(&a.username, "username")?,
                        password: need(&a.password, "password")?,
                    },
                    AuthType::Bearer => Auth::Bearer(need(&a.token, "token")?),
                    AuthType::Digest => Auth::Digest {
                        username: need(&a.username, "username")?,
                        password: need(&a.password, "password")?,
                    },
                })
            }
            None => match text(&o.basic_auth_user, "basicAuthUser")? {
                Some(username) => Some(Auth::Basic {
                    username,
                    password: text(&o.basic_auth_password, "basicAuthPassword")?
                        .unwrap_or_default(),
                }),
                None => None,
            },
        };
        let ssl = o.ssl.as_ref().or(insecure);
        let insecure = match ssl.and_then(|s| s.insecure_trust_all_certificates.as_ref()) {
            Some(p) => ctx.render(p, "options.ssl.insecureTrustAllCertificates")?,
            None => false,
        };
        let allow_failed = match o.allow_failed.as_ref().or(allow_failed) {
            Some(p) => ctx.render(p, "options.allowFailed")?,
            None => false,
        };
        if let Some(c) = text(&o.default_charset, "defaultCharset")?
            && !c.eq_ignore_ascii_case("utf-8")
            && !c.eq_ignore_ascii_case("utf8")
        {
            return Err(TaskError::property(
                "options.defaultCharset",
                format!("runner reads and writes bodies as UTF-8, not `{c}`"),
            ));
        }
        Ok(Settings {
            connect_timeout,
            read_idle_timeout,
            proxy,
            auth,
            insecure,
            follow_redirects: ctx
                .render_opt(&o.follow_redirects, "options.followRedirects")?
                .unwrap_or(true),
            allow_failed,
            allowed_codes: ctx
                .render_opt(&o.allowed_response_codes, "options.allowedResponseCodes")?,
            logs: ctx.render_opt(&o.logs, "options.logs")?.unwrap_or_default(),
        })
    }

    /// Kestra's rule: `allowedResponseCodes` alone decides when set; else `allowFailed`, else
    /// any code below 400.
    pub(crate) fn accepts(&self, code: u16) -> bool {
        match &self.allowed_codes {
            Some(codes) => codes.contains(&code),
            None => self.allow_failed || code < 400,
        }
    }
}

fn proxy_of(
    ctx: &RunContext,
    kind: &Option<Property<ProxyType>>,
    address: &Option<Property<String>>,
    port: &Option<Property<u16>>,
    username: &Option<Property<String>>,
    password: &Option<Property<String>>,
    prefix: &str,
) -> Result<Option<Proxy>, TaskError> {
    let name = |n: &str| {
        if prefix.ends_with('.') {
            format!("options.{prefix}{n}")
        } else {
            let mut c = n.chars();
            let first = c.next().map(|f| f.to_ascii_uppercase()).unwrap_or_default();
            format!("options.{prefix}{first}{}", c.as_str())
        }
    };
    let kind = match kind {
        Some(k) => ctx.render(k, &name("type"))?,
        None if address.is_some() => ProxyType::Http,
        None => return Ok(None),
    };
    if kind == ProxyType::Direct {
        return Ok(Some(Proxy {
            kind,
            address: String::new(),
            port: 0,
            credentials: None,
        }));
    }
    let Some(address) = ctx.render_opt(address, &name("address"))? else {
        return Err(TaskError::property(
            &name("address"),
            "a proxy needs an `address`",
        ));
    };
    let port = ctx.render_opt(port, &name("port"))?.unwrap_or(match kind {
        ProxyType::Socks => 1080,
        _ => 8080,
    });
    let credentials = match ctx.render_opt(username, &name("username"))? {
        Some(u) => Some((
            u,
            ctx.render_opt(password, &name("password"))?
                .unwrap_or_default(),
        )),
        None => None,
    };
    Ok(Some(Proxy {
        kind,
        address,
        port,
        credentials,
    }))
}
