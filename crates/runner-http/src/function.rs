//! The `http()` expression function (Kestra 0.24+): a request made while a property renders,
//! whose decoded body (JSON becomes a value) is the result.

use crate::client::{self, digest_answer};
use crate::options::{Auth, Proxy, ProxyType, Settings};
use futures_util::StreamExt;
use runner_core::plugin::NetworkPolicy;
use runner_template::{HttpAccess, HttpCall};
use serde_json::Value as Json;
use std::sync::Arc;
use std::time::Duration;

/// `http()` for a run, under the run's network policy (`--allow-link-local`).
pub fn function(policy: NetworkPolicy) -> Arc<dyn HttpAccess> {
    Arc::new(HttpFunction { policy })
}

struct HttpFunction {
    policy: NetworkPolicy,
}

impl HttpAccess for HttpFunction {
    fn call(&self, call: HttpCall) -> Result<Json, String> {
        let allow = self.policy;
        // The render waits here: the task's timeout and a kill must still end it.
        let interrupt = runner_template::current_interrupt().unwrap_or_default();
        // A render is synchronous and may itself run on a runtime's worker: the request gets
        // a thread and a runtime of its own.
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| format!("Failed to execute HTTP request: {e}"))?;
                    rt.block_on(async {
                        tokio::select! {
                            sent = send(call, allow) => sent,
                            why = interrupted(&interrupt) => {
                                Err(format!("Failed to execute HTTP request: {why}"))
                            }
                        }
                    })
                })
                .join()
                .unwrap_or_else(|_| Err("Failed to execute HTTP request".into()))
        })
    }
}

/// Resolves once the render must stop waiting: at the deadline, or soon after a kill (the
/// flag is looked at every 20 ms).
async fn interrupted(interrupt: &runner_template::Interrupt) -> &'static str {
    loop {
        if let Some(why) = interrupt.reason() {
            return why;
        }
        let tick = std::time::Duration::from_millis(20);
        let wait = match interrupt.deadline {
            Some(d) => d
                .saturating_duration_since(std::time::Instant::now())
                .min(tick),
            None => tick,
        };
        tokio::time::sleep(wait).await;
    }
}

fn text_of(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn duration(v: Option<&Json>, name: &str) -> Result<Option<Duration>, String> {
    match v {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => runner_model::parse_duration(s).map(Some).ok_or_else(|| {
            format!("http(): options.{name}: `{s}` is not an ISO-8601 duration (PT30S)")
        }),
        Some(other) => Err(format!(
            "http(): options.{name}: `{other}` is not a duration"
        )),
    }
}

/// Kestra's HttpConfiguration, from the map `options` gave.
fn settings(options: Option<&Json>) -> Result<Settings, String> {
    let empty = Json::Null;
    let o = options.unwrap_or(&empty);
    let get = |path: &[&str]| -> Option<&Json> {
        let mut v = o;
        for p in path {
            v = v.get(p)?;
        }
        Some(v)
    };
    let s = |path: &[&str]| get(path).filter(|v| !v.is_null()).map(text_of);
    let auth = match s(&["auth", "type"])
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None => None,
        Some("BASIC") => Some(Auth::Basic {
            username: s(&["auth", "username"]).unwrap_or_default(),
            password: s(&["auth", "password"]).unwrap_or_default(),
        }),
        Some("BEARER") => Some(Auth::Bearer(s(&["auth", "token"]).unwrap_or_default())),
        Some("DIGEST") => Some(Auth::Digest {
            username: s(&["auth", "username"]).unwrap_or_default(),
            password: s(&["auth", "password"]).unwrap_or_default(),
        }),
        Some(other) => {
            return Err(format!(
                "http(): options.auth.type `{other}` is not BASIC, BEARER or DIGEST"
            ));
        }
    };
    let proxy = match s(&["proxy", "address"]) {
        Some(address) => {
            let kind = match s(&["proxy", "type"])
                .as_deref()
                .map(str::to_ascii_uppercase)
                .as_deref()
            {
                Some("SOCKS") => ProxyType::Socks,
                Some("DIRECT") => ProxyType::Direct,
                _ => ProxyType::Http,
            };
            let port = get(&["proxy", "port"])
                .and_then(|p| {
                    p.as_u64()
                        .or_else(|| p.as_str().and_then(|t| t.parse().ok()))
                })
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(if kind == ProxyType::Socks { 1080 } else { 8080 });
            Some(Proxy {
                kind,
                address,
                port,
                credentials: s(&["proxy", "username"])
                    .map(|u| (u, s(&["proxy", "password"]).unwrap_or_default())),
            })
        }
        None => None,
    };
    let flag = |path: &[&str], default: bool| {
        get(path)
            .and_then(|v| v.as_bool().or_else(|| v.as_str().map(|t| t == "true")))
            .unwrap_or(default)
    };
    Ok(Settings {
        connect_timeout: duration(
            get(&["timeout", "connectTimeout"]),
            "timeout.connectTimeout",
        )?,
        read_idle_timeout: duration(
            get(&["timeout", "readIdleTimeout"]),
            "timeout.readIdleTimeout",
        )?
        .unwrap_or(crate::options::READ_IDLE),
        proxy,
        auth,
        insecure: flag(&["ssl", "insecureTrustAllCertificates"], false),
        follow_redirects: flag(&["followRedirects"], true),
        allow_failed: flag(&["allowFailed"], false),
        allowed_codes: get(&["allowedResponseCodes"])
            .and_then(Json::as_array)
            .map(|codes| {
                codes
                    .iter()
                    .filter_map(|c| c.as_u64().and_then(|c| u16::try_from(c).ok()))
                    .collect()
            }),
        logs: Vec::new(),
    })
}

async fn send(call: HttpCall, policy: NetworkPolicy) -> Result<Json, String> {
    let failed = |why: String| format!("Failed to execute HTTP request: {why}");
    let settings = settings(call.options.as_ref())?;
    let mut url = reqwest::Url::parse(call.uri.trim().replace(' ', "%20").as_str())
        .map_err(|e| failed(format!("`{}` is not a URI ({e})", call.uri)))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(failed(format!(
            "`{}` is not an http:// or https:// URI",
            call.uri
        )));
    }
    if !call.query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in &call.query {
            match v {
                Json::Array(items) => {
                    for i in items {
                        pairs.append_pair(k, &text_of(i));
                    }
                }
                other => {
                    pairs.append_pair(k, &text_of(other));
                }
            }
        }
    }
    client::check_host(&url, policy).map_err(|e| failed(e.to_string()))?;
    let http = client::build(&settings, policy).map_err(|e| failed(e.to_string()))?;
    let method = reqwest::Method::from_bytes(call.method.trim().to_ascii_uppercase().as_bytes())
        .map_err(|_| failed(format!("`{}` is not an HTTP method", call.method)))?;
    let body = match &call.body {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) => Some(s.clone()),
        Some(Json::Object(m))
            if call
                .content_type
                .starts_with("application/x-www-form-urlencoded") =>
        {
            let mut u = reqwest::Url::parse("http://x/").expect("a constant URL");
            u.query_pairs_mut()
                .extend_pairs(m.iter().map(|(k, v)| (k.clone(), text_of(v))));
            Some(u.query().unwrap_or_default().to_string())
        }
        Some(other) => Some(other.to_string()),
    };
    let build = |auth: Option<String>| {
        let mut rb = http
            .request(method.clone(), url.clone())
            .header(reqwest::header::ACCEPT, &call.accept);
        if body.is_some() {
            rb = rb.header(reqwest::header::CONTENT_TYPE, &call.content_type);
        }
        for (k, values) in &call.headers {
            for v in values {
                rb = rb.header(k.as_str(), v.as_str());
            }
        }
        rb = match auth {
            Some(a) => rb.header(reqwest::header::AUTHORIZATION, a),
            None => client::authorize(rb, settings.auth.as_ref()),
        };
        if let Some(b) = &body {
            rb = rb.body(b.clone());
        }
        rb
    };
    let shown = url.to_string();
    let mut response = build(None)
        .send()
        .await
        .map_err(|e| failed(client::send_error(&shown, e).to_string()))?;
    if response.status() == reqwest::StatusCode::UNAUTHORIZED
        && let Some(Auth::Digest { username, password }) = &settings.auth
        && let Some(answer) = response
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|c| digest_answer(c, username, password, method.as_str(), url.path()))
    {
        response = build(Some(answer))
            .send()
            .await
            .map_err(|e| failed(client::send_error(&shown, e).to_string()))?;
    }
    let status = response.status();
    if !settings.accepts(status.as_u16()) {
        return Err(format!(
            "Failed to execute HTTP Request, server respond with status {} : {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        ));
    }
    let is_json = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.contains("json"));
    let mut bytes = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| failed(e.to_string()))?;
        if bytes.len() + chunk.len() > crate::request::MAX_BODY {
            return Err(failed(format!(
                "the response is larger than {} bytes; use the io.kestra.plugin.core.http.Download task",
                crate::request::MAX_BODY
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    if is_json && !bytes.is_empty() {
        return serde_json::from_slice(&bytes)
            .map_err(|e| failed(format!("the response says it is JSON but is not ({e})")));
    }
    Ok(Json::String(String::from_utf8_lossy(&bytes).into_owned()))
}
