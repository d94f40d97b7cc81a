//! The HTTP kit: the client every HTTP-speaking task shares (Request, Download, the webhook
//! notifications, and families such as mail APIs and AI providers). A client is built once per
//! set of options (timeouts, proxy, TLS, redirects) and kept for the process, so a flow of many
//! requests reuses connections. The run's [`NetworkPolicy`] is enforced where connections are
//! made: a name is checked against each address it resolves to (so a name that resolves
//! differently the second time cannot pass), and an IP literal, which is never resolved, is
//! checked before the request and at every redirect.
//!
//! ```ignore
//! let http = runner_http::client::client(ctx, &ClientOptions::default())?;
//! let url = runner_http::client::parse_url(ctx, "url", &rendered)?;
//! let response = http.post(url.clone()).json(&body).send().await
//!     .map_err(|e| runner_http::client::send_error(url.as_str(), e))?;
//! ```

use crate::options::{Auth, LogKind, Proxy, ProxyType, Settings};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use runner_core::plugin::*;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

pub use reqwest;

/// What decides a client: everything but the per-request parts.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    connect: Option<Duration>,
    read: Duration,
    proxy: Option<Proxy>,
    insecure: bool,
    follow: bool,
    policy: NetworkPolicy,
}

fn clients() -> &'static Mutex<HashMap<Key, reqwest::Client>> {
    static CLIENTS: OnceLock<Mutex<HashMap<Key, reqwest::Client>>> = OnceLock::new();
    CLIENTS.get_or_init(Default::default)
}

/// How a client connects: what Kestra's `options` decide besides the per-request parts.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub connect_timeout: Option<Duration>,
    /// How long a response may stay silent (Kestra's readIdleTimeout, 5 minutes by default).
    pub read_idle_timeout: Duration,
    /// Trust any certificate (for test servers only).
    pub insecure: bool,
    pub follow_redirects: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: None,
            read_idle_timeout: crate::options::READ_IDLE,
            insecure: false,
            follow_redirects: true,
        }
    }
}

/// The shared client for `options`, under the run's network policy.
pub fn client(ctx: &RunContext, options: &ClientOptions) -> Result<reqwest::Client, TaskError> {
    let s = Settings {
        connect_timeout: options.connect_timeout,
        read_idle_timeout: options.read_idle_timeout,
        insecure: options.insecure,
        follow_redirects: options.follow_redirects,
        ..Settings::default()
    };
    shared(ctx.network(), &s)
}

/// The client for these settings, shared by the run's tasks.
pub(crate) fn for_settings(ctx: &RunContext, s: &Settings) -> Result<reqwest::Client, TaskError> {
    shared(ctx.network(), s)
}

fn shared(policy: NetworkPolicy, s: &Settings) -> Result<reqwest::Client, TaskError> {
    let key = Key {
        connect: s.connect_timeout,
        read: s.read_idle_timeout,
        proxy: s.proxy.clone(),
        insecure: s.insecure,
        follow: s.follow_redirects,
        policy,
    };
    if let Some(c) = clients().lock().expect("client cache").get(&key) {
        return Ok(c.clone());
    }
    let c = build(s, policy)?;
    clients()
        .lock()
        .expect("client cache")
        .insert(key, c.clone());
    Ok(c)
}

/// A new client for these settings (the `http()` function's, which lives on its own runtime).
pub(crate) fn build(s: &Settings, policy: NetworkPolicy) -> Result<reqwest::Client, TaskError> {
    let mut b = reqwest::Client::builder()
        .read_timeout(s.read_idle_timeout)
        .user_agent(concat!("runner/", env!("CARGO_PKG_VERSION")))
        .tls_danger_accept_invalid_certs(s.insecure);
    if let Some(c) = s.connect_timeout {
        b = b.connect_timeout(c);
    }
    b = b.dns_resolver(Arc::new(Guarded(policy)));
    let follow = s.follow_redirects;
    b = b.redirect(reqwest::redirect::Policy::custom(move |attempt| {
        if let Some(host) = attempt.url().host_str()
            && literal_ip(host).is_some_and(|ip| !policy.allows(ip))
        {
            let host = host.to_string();
            return attempt.error(LinkLocal(host));
        }
        if !follow {
            attempt.stop()
        } else if attempt.previous().len() >= 10 {
            attempt.error("more than 10 redirects")
        } else {
            attempt.follow()
        }
    }));
    if let Some(p) = &s.proxy {
        b = match p.kind {
            ProxyType::Direct => b.no_proxy(),
            _ => b.proxy(proxy(p)?),
        };
    }
    b.build()
        .map_err(|e| TaskError::new(ErrorKind::Other, "cannot set up the HTTP client").caused_by(e))
}

fn proxy(p: &Proxy) -> Result<reqwest::Proxy, TaskError> {
    // socks5h: the proxy resolves names, as Java's SOCKS proxies do.
    let scheme = if p.kind == ProxyType::Socks {
        "socks5h"
    } else {
        "http"
    };
    let url = format!("{scheme}://{}:{}", p.address, p.port);
    let mut proxy = reqwest::Proxy::all(&url)
        .map_err(|e| TaskError::property("options.proxy.address", e.to_string()))?;
    if let Some((u, pw)) = &p.credentials {
        proxy = proxy.basic_auth(u, pw);
    }
    Ok(proxy)
}

/// Reads `text` as an http(s) URL for `property`, and checks its host (a link-local IP literal
/// is refused here; names are checked when they resolve).
pub fn parse_url(ctx: &RunContext, property: &str, text: &str) -> Result<reqwest::Url, TaskError> {
    let url = reqwest::Url::parse(text.trim())
        .map_err(|e| TaskError::property(property, format!("`{text}` is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TaskError::property(
            property,
            format!("`{text}` is not an http or https URL"),
        ));
    }
    check_url(ctx, &url)?;
    Ok(url)
}

/// Checks a URL's host before a request: a link-local IP literal is refused here (names are
/// checked when they resolve).
pub fn check_url(ctx: &RunContext, url: &reqwest::Url) -> Result<(), TaskError> {
    check_host(url, ctx.network())
}

pub(crate) fn check_host(url: &reqwest::Url, policy: NetworkPolicy) -> Result<(), TaskError> {
    if let Some(host) = url.host_str()
        && let Some(ip) = literal_ip(host)
        && !policy.allows(ip)
    {
        return Err(link_local_error(host));
    }
    Ok(())
}

pub(crate) fn link_local_error(host: &str) -> TaskError {
    TaskError::new(
        ErrorKind::Denied,
        format!("`{host}` is a link-local address (169.254.0.0/16, fe80::/10), where cloud instance-metadata services answer; flows may not reach it"),
    )
    .hint("run runner with --allow-link-local if this flow must reach that address")
}

fn literal_ip(host: &str) -> Option<IpAddr> {
    host.trim_matches(['[', ']']).parse().ok()
}

/// The error a refused name or redirect carries, found again in the error chain.
#[derive(Debug)]
pub(crate) struct LinkLocal(pub(crate) String);

impl std::fmt::Display for LinkLocal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` resolves to a link-local address", self.0)
    }
}

impl std::error::Error for LinkLocal {}

/// The system resolver, refusing names with a refused address among theirs. The client
/// connects only to the addresses this returns.
struct Guarded(NetworkPolicy);

impl Resolve for Guarded {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.iter().any(|a| !policy.allows(a.ip())) {
                return Err(Box::new(LinkLocal(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Adds the authentication header a request starts with (Digest answers a challenge).
pub(crate) fn authorize(
    rb: reqwest::RequestBuilder,
    auth: Option<&Auth>,
) -> reqwest::RequestBuilder {
    match auth {
        Some(Auth::Basic { username, password }) => rb.basic_auth(username, Some(password)),
        Some(Auth::Bearer(token)) => rb.bearer_auth(token),
        _ => rb,
    }
}

/// The `Authorization` answering a Digest challenge (RFC 7616, MD5, `qop=auth` or none).
pub(crate) fn digest_answer(
    challenge: &str,
    username: &str,
    password: &str,
    method: &str,
    uri: &str,
) -> Option<String> {
    use md5::{Digest, Md5};
    let rest = challenge.trim().strip_prefix("Digest")?.trim();
    let params = parse_params(rest);
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    };
    let realm = get("realm")?;
    let nonce = get("nonce")?;
    if get("algorithm").is_some_and(|a| !a.eq_ignore_ascii_case("MD5")) {
        return None;
    }
    let hex = |s: String| {
        Md5::digest(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let ha1 = hex(format!("{username}:{realm}:{password}"));
    let ha2 = hex(format!("{method}:{uri}"));
    let qop = get("qop").and_then(|q| q.split(',').map(str::trim).find(|q| *q == "auth"));
    let mut header = format!(
        "Digest username=\"{username}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\""
    );
    let response = match qop {
        Some(q) => {
            let cnonce = format!("{:016x}", runner_core::ids::random_u64());
            let nc = "00000001";
            header.push_str(&format!(", qop={q}, nc={nc}, cnonce=\"{cnonce}\""));
            hex(format!("{ha1}:{nonce}:{nc}:{cnonce}:{q}:{ha2}"))
        }
        None => hex(format!("{ha1}:{nonce}:{ha2}")),
    };
    header.push_str(&format!(", response=\"{response}\", algorithm=MD5"));
    if let Some(o) = get("opaque") {
        header.push_str(&format!(", opaque=\"{o}\""));
    }
    Some(header)
}

/// `k=v, k="v, with commas"` pairs.
fn parse_params(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key.trim().trim_start_matches(',').trim().to_string();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (quoted[..end].to_string(), &quoted[end + 1..]),
                None => (quoted.to_string(), ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (after[..end].trim().to_string(), &after[end..]),
                None => (after.trim().to_string(), ""),
            }
        };
        out.push((key, value));
        rest = next.trim_start().trim_start_matches(',');
    }
    out
}

/// Logs what `options.logs` asks for; credentials are never shown.
pub(crate) fn log_headers(
    ctx: &RunContext,
    s: &Settings,
    kind: LogKind,
    title: &str,
    headers: &reqwest::header::HeaderMap,
) {
    if !s.logs.contains(&kind) {
        return;
    }
    let mut text = format!("{title}:");
    for (name, value) in headers {
        let shown = if is_credential(name.as_str()) {
            "******".to_string()
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        text.push_str(&format!("\n  {name}: {shown}"));
    }
    ctx.log(Level::Info, &text);
}

fn is_credential(header: &str) -> bool {
    matches!(
        header.to_ascii_lowercase().as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie" | "x-api-key"
    )
}

/// A failed send, said as Kestra's client says it where it can be, with the cause kept.
pub fn send_error(url: &str, e: reqwest::Error) -> TaskError {
    let mut source: Option<&dyn std::error::Error> = Some(&e);
    while let Some(s) = source {
        if let Some(l) = s.downcast_ref::<LinkLocal>() {
            return link_local_error(&l.0);
        }
        source = s.source();
    }
    let mut source: Option<&dyn std::error::Error> = Some(&e);
    while let Some(s) = source {
        if s.to_string().contains("certificate") {
            return TaskError::new(
                ErrorKind::Denied,
                format!("HTTP request to {url} failed: the server's TLS certificate is not trusted"),
            )
            .hint("add its CA to the system's trusted certificates; options.ssl.insecureTrustAllCertificates: true skips the check (for test servers only)")
            .caused_by(e);
        }
        source = s.source();
    }
    let (kind, what) = if e.is_timeout() {
        (ErrorKind::Unreachable, "timed out")
    } else if e.is_connect() {
        (ErrorKind::Unreachable, "could not connect")
    } else if e.is_redirect() {
        (ErrorKind::Remote, "stopped following redirects")
    } else {
        (ErrorKind::Other, "failed")
    };
    TaskError::new(kind, format!("HTTP request to {url} {what}")).caused_by(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_answers_rfc_2617s_example() {
        // RFC 2617 section 3.5, without qop so the answer does not depend on a cnonce.
        let h = digest_answer(
            r#"Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
            "Mufasa",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
        )
        .unwrap();
        assert!(
            h.contains(r#"response="670fd8c2df070c60b045671b8b24ff02""#),
            "{h}"
        );
        assert!(
            h.contains(r#"opaque="5ccc069c403ebaf9f0171e9517f40e41""#),
            "{h}"
        );
        let with_qop = digest_answer(
            r#"Digest realm="r", qop="auth,auth-int", nonce="n""#,
            "u",
            "p",
            "GET",
            "/",
        )
        .unwrap();
        assert!(
            with_qop.contains("qop=auth, nc=00000001, cnonce="),
            "{with_qop}"
        );
        assert!(digest_answer("Basic realm=x", "u", "p", "GET", "/").is_none());
    }

    #[test]
    fn link_local_literals() {
        let refused = |h: &str| !NetworkPolicy::default().allows(literal_ip(h).unwrap());
        assert!(refused("169.254.169.254"));
        assert!(refused("[fe80::1]"));
        assert!(refused("[::ffff:169.254.169.254]"));
        assert!(!refused("127.0.0.1"));
        assert!(literal_ip("example.com").is_none());
    }
}
