//! Kestra's REST API, as `runner deploy`, `runner run --server` and `runner kv push/pull` use
//! it: flows, namespace files, executions with their logs, and the KV store of a Kestra server.
//! Paths and bodies are those of Kestra 0.24 to 1.3 (`/api/v1/{tenant}/...`; the tenant of an
//! open-source server is `main`). Errors keep Kestra's own message and the flow paths it names,
//! so the caller can point at the local file.

mod files;

pub use files::RemoteFile;
/// Kestra's follow endpoints send server-sent events: the SSE `id:` field carries the event's
/// kind (`start`, `progress`, `end`) and `data:` one JSON document.
pub use runner_http::sse::{Event, EventStream};

use serde_json::Value as Json;
use std::fmt;
use std::time::Duration;

/// How runner proves who it is: Kestra's basic auth (open source and Enterprise), or an API
/// token (Enterprise). Never printed: `Debug` shows the kind only.
#[derive(Clone)]
pub enum Auth {
    Basic { user: String, password: String },
    Token(String),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Basic { user, .. } => write!(f, "Basic({user}, password hidden)"),
            Auth::Token(_) => f.write_str("Token(hidden)"),
        }
    }
}

/// One problem Kestra found, at a path of the flow (`tasks[0].type`, `flow.id`).
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    pub path: Option<String>,
    pub message: String,
}

/// What went wrong talking to the server. The messages name the server and what to check,
/// never a credential.
#[derive(Clone, Debug)]
pub enum ApiError {
    /// No answer: refused, unknown host, timeout, TLS.
    Unreachable { server: String, cause: String },
    /// 401 or 403.
    Unauthorized { status: u16, authenticated: bool },
    /// No Kestra API at that address, or one older than runner speaks.
    NotKestra { server: String, why: String },
    /// 404 for something that should be there.
    NotFound { what: String },
    /// Kestra refused the request: its message and the paths it names.
    Refused {
        status: u16,
        message: String,
        errors: Vec<FieldError>,
    },
    /// The answer was not what Kestra's API sends.
    Protocol { what: String },
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Unreachable { server, cause } => write!(
                f,
                "cannot reach the Kestra server at {server}: {cause}; check --server and that the server is up"
            ),
            ApiError::Unauthorized {
                status: 403,
                authenticated: true,
            } => f.write_str(
                "the Kestra server knows the credentials but does not allow this (403): give the user or token the permission on this namespace",
            ),
            ApiError::NotKestra { server, why } => write!(
                f,
                "{server} {why}; check --server (and --tenant on Kestra Enterprise)"
            ),
            ApiError::Unauthorized {
                status,
                authenticated: true,
            } => write!(
                f,
                "the Kestra server refused the credentials ({status}): check KESTRA_USER and KESTRA_PASSWORD (or KESTRA_API_TOKEN on Kestra Enterprise), in the environment or an --env-file"
            ),
            ApiError::Unauthorized { status, .. } => write!(
                f,
                "the Kestra server asks for credentials ({status}): set KESTRA_USER and KESTRA_PASSWORD (or KESTRA_API_TOKEN on Kestra Enterprise), in the environment or an --env-file"
            ),
            ApiError::NotFound { what } => write!(f, "{what} is not on the Kestra server"),
            ApiError::Refused {
                status, message, ..
            } => write!(f, "the Kestra server refused it ({status}): {message}"),
            ApiError::Protocol { what } => write!(
                f,
                "the server's answer is not Kestra's API: {what}; is --server the address of a Kestra server (0.24 or later)?"
            ),
        }
    }
}

impl std::error::Error for ApiError {}

/// A Kestra server: its address, tenant and credentials.
pub struct Server {
    /// `{server}/api/v1/{tenant}/`.
    api: reqwest::Url,
    shown: String,
    auth: Option<Auth>,
    http: reqwest::Client,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Server({}, {:?})", self.api, self.auth)
    }
}

/// A flow as the server keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteFlow {
    pub namespace: String,
    pub id: String,
    pub revision: Option<i64>,
    /// The YAML as written (only when asked for).
    pub source: Option<String>,
}

impl RemoteFlow {
    fn of(value: &Json) -> Result<RemoteFlow, ApiError> {
        let field = |name: &str| {
            value[name]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| ApiError::Protocol {
                    what: format!("a flow without `{name}`"),
                })
        };
        Ok(RemoteFlow {
            namespace: field("namespace")?,
            id: field("id")?,
            revision: value["revision"].as_i64(),
            source: value["source"].as_str().map(str::to_string),
        })
    }
}

/// A key of the server's KV store (Kestra's `KVEntry`).
#[derive(Clone, Debug, PartialEq)]
pub struct KvEntry {
    pub key: String,
    pub expiration_date: Option<String>,
}

/// An input of a new execution: text, or a local file sent as a file part.
#[derive(Clone, Debug)]
pub enum InputValue {
    Text(String),
    File(std::path::PathBuf),
}

/// How long a plain request may take. Streams (follows, uploads, downloads) have no total
/// limit, an execution may run for hours and a file be large; they have a read timeout and
/// TCP keepalive instead, and the follower asks for the execution when its stream is quiet.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(300);
/// The most bytes of an answer read whole (a JSON document, an error's body).
const MAX_ANSWER: usize = 64 * 1024 * 1024;
const MAX_ERROR_BODY: usize = 64 * 1024;

impl Server {
    /// `url` is the server's address (`http://localhost:8080`), with or without `/api/v1`.
    pub fn new(url: &str, tenant: &str, auth: Option<Auth>) -> Result<Server, String> {
        // Checked before the address is ever echoed: it may hold a password.
        let authority = url.split_once("://").map_or(url, |(_, rest)| rest);
        let authority = authority.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(
                "--server must not hold credentials: set KESTRA_USER and KESTRA_PASSWORD (or KESTRA_API_TOKEN) instead"
                    .into(),
            );
        }
        let mut base = reqwest::Url::parse(url.trim()).map_err(|e| {
            format!("--server `{url}` is not a URL ({e}): give e.g. http://localhost:8080")
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(format!(
                "--server `{url}` is not an http(s) address: give e.g. http://localhost:8080"
            ));
        }
        if tenant.is_empty()
            || !tenant
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
        {
            return Err(format!(
                "--tenant `{tenant}` is not a tenant id (letters, digits, `-` and `_`)"
            ));
        }
        base.set_query(None);
        base.set_fragment(None);
        let path = base.path().trim_end_matches('/').to_string();
        let path = path.strip_suffix("/api/v1").unwrap_or(&path).to_string();
        let shown = format!("{}{}", base.origin().ascii_serialization(), path);
        base.set_path(&format!("{path}/api/v1/{tenant}/"));
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .tcp_keepalive(Duration::from_secs(30))
            .user_agent(concat!("runner/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot start an HTTP client: {e}"))?;
        Ok(Server {
            api: base,
            shown,
            auth,
            http,
        })
    }

    /// The server's address as the user gave it (no credentials).
    pub fn address(&self) -> &str {
        &self.shown
    }

    /// `segments` joined under `/api/v1/{tenant}/`, each percent-encoded as one segment.
    fn url(&self, segments: &[&str]) -> reqwest::Url {
        let mut url = self.api.clone();
        {
            let mut path = url.path_segments_mut().expect("an http URL has a path");
            path.pop_if_empty();
            path.extend(segments);
        }
        url
    }

    fn request(&self, method: reqwest::Method, url: reqwest::Url) -> reqwest::RequestBuilder {
        let builder = self.http.request(method, url);
        match &self.auth {
            Some(Auth::Basic { user, password }) => builder.basic_auth(user, Some(password)),
            Some(Auth::Token(token)) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// Sends a request (with the plain-request timeout unless `streaming`) and turns an error
    /// status into an [`ApiError`]; `missing` is what a 404 means.
    async fn send(
        &self,
        builder: reqwest::RequestBuilder,
        missing: Option<&str>,
        streaming: bool,
    ) -> Result<reqwest::Response, ApiError> {
        let builder = if streaming {
            builder
        } else {
            builder.timeout(REQUEST_TIMEOUT)
        };
        let response = builder.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            return Ok(response);
        }
        if status == 401 || status == 403 {
            return Err(ApiError::Unauthorized {
                status,
                authenticated: self.auth.is_some(),
            });
        }
        let body = read_capped(response, MAX_ERROR_BODY)
            .await
            .map(|b| String::from_utf8_lossy(&b).to_string())
            .unwrap_or_default();
        if status == 404
            && let Some(what) = missing
        {
            return Err(ApiError::NotFound { what: what.into() });
        }
        Err(refusal(status, &body))
    }

    fn unreachable(&self, e: &reqwest::Error) -> ApiError {
        // reqwest's own message is "error sending request"; the cause is below it.
        let mut cause = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            cause = s.to_string();
            source = s.source();
        }
        if e.is_timeout() {
            cause = "no answer in time".into();
        }
        ApiError::Unreachable {
            server: self.shown.clone(),
            cause,
        }
    }

    async fn json(&self, response: reqwest::Response) -> Result<Json, ApiError> {
        let bytes = match read_capped(response, MAX_ANSWER + 1).await {
            Ok(b) if b.len() > MAX_ANSWER => {
                return Err(ApiError::Protocol {
                    what: "an answer larger than 64 MiB".into(),
                });
            }
            Ok(b) => b,
            Err(e) => return Err(self.unreachable(&e)),
        };
        serde_json::from_slice(&bytes).map_err(|_| ApiError::Protocol {
            what: format!(
                "expected JSON, got `{}`",
                excerpt(&String::from_utf8_lossy(&bytes))
            ),
        })
    }

    /// A list answer: the items of a JSON array.
    async fn list(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<Vec<Json>, ApiError> {
        match self.json(self.send(request, None, false).await?).await? {
            Json::Array(items) => Ok(items),
            _ => Err(ApiError::Protocol {
                what: format!("{what} are not a list"),
            }),
        }
    }

    /// Checks that a Kestra server of 0.24 or later answers at the address (its open
    /// `/api/v1/configs`), and returns its version.
    pub async fn version(&self) -> Result<String, ApiError> {
        let mut url = self.api.clone();
        let root = url.path().trim_end_matches('/').to_string();
        let root = root
            .rsplit_once("/api/v1/")
            .map_or(root.as_str(), |(r, _)| r)
            .to_string();
        url.set_path(&format!("{root}/api/v1/configs"));
        let not_kestra = |why: &str| ApiError::NotKestra {
            server: self.shown.clone(),
            why: why.to_string(),
        };
        let request = self.request(reqwest::Method::GET, url);
        let response = match self.send(request, Some("configs"), false).await {
            Ok(r) => r,
            Err(ApiError::NotFound { .. }) => {
                return Err(not_kestra(
                    "has no Kestra API (GET /api/v1/configs is not found)",
                ));
            }
            Err(e) => return Err(e),
        };
        let configs = self.json(response).await.map_err(|_| {
            not_kestra("answers /api/v1/configs with something that is not Kestra's")
        })?;
        let version = configs["version"]
            .as_str()
            .ok_or_else(|| not_kestra("sends no version in /api/v1/configs"))?
            .to_string();
        let mut parts = version.trim_start_matches('v').split(['.', '-']);
        let major: u64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let minor: u64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if (major, minor) < (0, 24) {
            return Err(not_kestra(&format!(
                "is Kestra {version}: runner speaks the API of Kestra 0.24 and later (`/api/v1/{{tenant}}/...`); upgrade the server"
            )));
        }
        Ok(version)
    }

    /// The flow `namespace.id` with its YAML source, `None` when the server has none.
    pub async fn flow(&self, namespace: &str, id: &str) -> Result<Option<RemoteFlow>, ApiError> {
        let mut url = self.url(&["flows", namespace, id]);
        url.query_pairs_mut().append_pair("source", "true");
        match self
            .send(
                self.request(reqwest::Method::GET, url),
                Some("the flow"),
                false,
            )
            .await
        {
            Ok(response) => RemoteFlow::of(&self.json(response).await?).map(Some),
            Err(ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates a flow from its YAML (Kestra refuses one that exists).
    pub async fn create_flow(&self, yaml: &str) -> Result<RemoteFlow, ApiError> {
        let request = self
            .request(reqwest::Method::POST, self.url(&["flows"]))
            .header(reqwest::header::CONTENT_TYPE, "application/x-yaml")
            .body(yaml.to_string());
        RemoteFlow::of(&self.json(self.send(request, None, false).await?).await?)
    }

    /// Replaces the flow `namespace.id` with this YAML (a new revision on the server).
    pub async fn update_flow(
        &self,
        namespace: &str,
        id: &str,
        yaml: &str,
    ) -> Result<RemoteFlow, ApiError> {
        let request = self
            .request(reqwest::Method::PUT, self.url(&["flows", namespace, id]))
            .header(reqwest::header::CONTENT_TYPE, "application/x-yaml")
            .body(yaml.to_string());
        let what = format!("the flow {namespace}.{id}");
        RemoteFlow::of(
            &self
                .json(self.send(request, Some(&what), false).await?)
                .await?,
        )
    }

    /// The ids of the flows of exactly this namespace.
    pub async fn flows_of(&self, namespace: &str) -> Result<Vec<String>, ApiError> {
        let request = self.request(reqwest::Method::GET, self.url(&["flows", namespace]));
        let items = match self.list(request, "the flows of a namespace").await {
            Err(ApiError::Refused { status: 404, .. }) => return Ok(Vec::new()),
            other => other?,
        };
        let mut ids: Vec<String> = items
            .iter()
            .map(RemoteFlow::of)
            .filter_map(Result::ok)
            .filter(|f| f.namespace == namespace)
            .map(|f| f.id)
            .collect();
        ids.sort();
        Ok(ids)
    }

    pub async fn delete_flow(&self, namespace: &str, id: &str) -> Result<(), ApiError> {
        let request = self.request(reqwest::Method::DELETE, self.url(&["flows", namespace, id]));
        let what = format!("the flow {namespace}.{id}");
        self.send(request, Some(&what), false).await.map(drop)
    }

    /// Starts an execution of `namespace.id` with these inputs (FILE inputs streamed from
    /// disk) and labels; the server's execution, as created.
    pub async fn create_execution(
        &self,
        namespace: &str,
        id: &str,
        inputs: &[(String, InputValue)],
        labels: &[(String, String)],
    ) -> Result<Json, ApiError> {
        let mut url = self.url(&["executions", namespace, id]);
        for (k, v) in labels {
            url.query_pairs_mut()
                .append_pair("labels", &format!("{k}:{v}"));
        }
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in inputs {
            form = match value {
                InputValue::Text(text) => form.text(name.clone(), text.clone()),
                InputValue::File(path) => {
                    let part = files::file_part(path, false).await?;
                    form.part(name.clone(), part)
                }
            };
        }
        let request = self.request(reqwest::Method::POST, url).multipart(form);
        let what = format!("the flow {namespace}.{id}");
        // Files go as they are read: no total limit on the request.
        let streaming = inputs.iter().any(|(_, v)| matches!(v, InputValue::File(_)));
        let execution = self
            .json(self.send(request, Some(&what), streaming).await?)
            .await?;
        // 0.24's document describes a list of one; the server sends the object.
        let execution = match execution {
            Json::Array(mut items) if items.len() == 1 => items.remove(0),
            other => other,
        };
        if execution["id"].as_str().is_none() {
            return Err(ApiError::Protocol {
                what: "the new execution has no id".into(),
            });
        }
        Ok(execution)
    }

    pub async fn execution(&self, id: &str) -> Result<Json, ApiError> {
        let request = self.request(reqwest::Method::GET, self.url(&["executions", id]));
        let what = format!("the execution {id}");
        self.json(self.send(request, Some(&what), false).await?)
            .await
    }

    /// The execution's changes as they happen (`progress` events, then `end`).
    pub async fn follow_execution(&self, id: &str) -> Result<EventStream, ApiError> {
        let request = self
            .request(
                reqwest::Method::GET,
                self.url(&["executions", id, "follow"]),
            )
            .header(reqwest::header::ACCEPT, "text/event-stream");
        let what = format!("the execution {id}");
        Ok(EventStream::new(
            self.send(request, Some(&what), true).await?,
        ))
    }

    /// The execution's logs as they are written; Kestra never ends this stream.
    pub async fn follow_logs(&self, id: &str) -> Result<EventStream, ApiError> {
        let request = self
            .request(reqwest::Method::GET, self.url(&["logs", id, "follow"]))
            .header(reqwest::header::ACCEPT, "text/event-stream");
        let what = format!("the execution {id}");
        Ok(EventStream::new(
            self.send(request, Some(&what), true).await?,
        ))
    }

    /// Every log entry of the execution so far.
    pub async fn logs(&self, id: &str) -> Result<Vec<Json>, ApiError> {
        let request = self.request(reqwest::Method::GET, self.url(&["logs", id]));
        self.list(request, "the logs").await
    }

    /// Asks the server to kill the execution (and its subflows' executions): Kestra 0.24 to
    /// 1.3's path, else 2.x's (`/actions/kill`) when that one is not found.
    pub async fn kill(&self, id: &str) -> Result<(), ApiError> {
        let what = format!("the execution {id}");
        let url = self.url(&["executions", id, "kill"]);
        match self
            .send(
                self.request(reqwest::Method::DELETE, url),
                Some(&what),
                false,
            )
            .await
        {
            Err(ApiError::NotFound { .. }) => {
                let url = self.url(&["executions", id, "actions", "kill"]);
                let request = self.request(reqwest::Method::DELETE, url);
                self.send(request, Some(&what), false).await.map(drop)
            }
            other => other.map(drop),
        }
    }

    /// The KV entries of one namespace: Kestra 0.24 to 1.3's list, else 2.x's search (the
    /// first is gone there).
    pub async fn kv_entries(&self, namespace: &str) -> Result<Vec<KvEntry>, ApiError> {
        let request = self.request(
            reqwest::Method::GET,
            self.url(&["namespaces", namespace, "kv"]),
        );
        let items = match self.list(request, "the KV entries").await {
            Err(ApiError::Refused { status: 404, .. }) => {
                let mut url = self.url(&["kv"]);
                url.query_pairs_mut()
                    .append_pair("filters[namespace][EQUALS]", namespace)
                    .append_pair("size", "10000");
                let request = self.request(reqwest::Method::GET, url);
                let page = self.json(self.send(request, None, false).await?).await?;
                page["results"]
                    .as_array()
                    .cloned()
                    .ok_or_else(|| ApiError::Protocol {
                        what: "the KV entries are not a list".into(),
                    })?
            }
            other => other?,
        };
        Ok(items
            .iter()
            .filter_map(|e| {
                Some(KvEntry {
                    key: e["key"].as_str()?.to_string(),
                    expiration_date: e["expirationDate"].as_str().map(str::to_string),
                })
            })
            .collect())
    }

    /// A KV value with its Kestra type (`STRING`, `NUMBER`...); `None` when missing or
    /// expired.
    pub async fn kv_get(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<(String, Json)>, ApiError> {
        let request = self.request(
            reqwest::Method::GET,
            self.url(&["namespaces", namespace, "kv", key]),
        );
        let value = match self.send(request, Some("the key"), false).await {
            Ok(response) => self.json(response).await?,
            Err(ApiError::NotFound { .. }) => return Ok(None),
            Err(ApiError::Refused { status: 410, .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let kind = value["type"].as_str().ok_or_else(|| ApiError::Protocol {
            what: "a KV value without `type`".into(),
        })?;
        Ok(Some((kind.to_string(), value["value"].clone())))
    }

    /// Writes a KV value: the server reads the body as JSON (Ion) and types it from what it
    /// reads, so the value goes JSON-encoded, as text (what every version since 0.24 takes).
    pub async fn kv_put(
        &self,
        namespace: &str,
        key: &str,
        value: &Json,
        ttl: Option<&str>,
    ) -> Result<(), ApiError> {
        let mut request = self
            .request(
                reqwest::Method::PUT,
                self.url(&["namespaces", namespace, "kv", key]),
            )
            .header(reqwest::header::CONTENT_TYPE, "text/plain")
            .body(value.to_string());
        if let Some(ttl) = ttl {
            request = request.header("ttl", ttl);
        }
        self.send(request, None, false).await.map(drop)
    }
}

/// Kestra's error body (`message`, `_embedded.errors[{message, path}]`), or the RFC 9457 one
/// newer servers send (`detail`/`title`, `errors[{detail, path}]`), or the text itself.
fn refusal(status: u16, body: &str) -> ApiError {
    let parsed: Option<Json> = serde_json::from_str(body).ok();
    let json = parsed.as_ref();
    let message = json
        .and_then(|j| {
            j["message"]
                .as_str()
                .or(j["detail"].as_str())
                .or(j["title"].as_str())
        })
        .map(str::to_string)
        .unwrap_or_else(|| {
            if body.trim().is_empty() {
                format!("HTTP {status}")
            } else {
                excerpt(body)
            }
        });
    let errors = json
        .and_then(|j| {
            j["_embedded"]["errors"]
                .as_array()
                .or(j["errors"].as_array())
        })
        .map(|items| {
            items
                .iter()
                .filter_map(|e| {
                    let message = e["message"].as_str().or(e["detail"].as_str())?;
                    Some(FieldError {
                        path: e["path"].as_str().map(str::to_string),
                        message: message.to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    ApiError::Refused {
        status,
        message,
        errors,
    }
}

/// At most `max` bytes of an answer's body (the rest is not read).
async fn read_capped(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut out = Vec::new();
    while out.len() < max {
        match response.chunk().await? {
            Some(chunk) => out.extend_from_slice(&chunk[..chunk.len().min(max - out.len())]),
            None => break,
        }
    }
    Ok(out)
}

/// The start of a body, on one line, for a message.
fn excerpt(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &flat[..i]),
        None => flat,
    }
}

/// Kestra's terminal states: the execution will not change any more.
pub fn is_terminal(state: &str) -> bool {
    matches!(
        state,
        "SUCCESS"
            | "WARNING"
            | "FAILED"
            | "KILLED"
            | "CANCELLED"
            | "RETRIED"
            | "SKIPPED"
            | "RESUBMITTED"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_read_both_error_shapes() {
        let micronaut = r#"{"message":"Invalid entity: flow.id: Flow id already exists","_links":{"self":{"href":"/api/v1/main/flows"}},"_embedded":{"errors":[{"message":"Flow id already exists","path":"flow.id"}]}}"#;
        let ApiError::Refused {
            status,
            message,
            errors,
        } = refusal(422, micronaut)
        else {
            panic!()
        };
        assert_eq!(status, 422);
        assert_eq!(message, "Invalid entity: flow.id: Flow id already exists");
        assert_eq!(
            errors,
            [FieldError {
                path: Some("flow.id".into()),
                message: "Flow id already exists".into()
            }]
        );
        let problem = r#"{"type":"about:blank","title":"Unprocessable","status":422,"detail":"tasks[0].type: unknown","errors":[{"detail":"unknown","path":"tasks[0].type"}]}"#;
        let ApiError::Refused {
            message, errors, ..
        } = refusal(422, problem)
        else {
            panic!()
        };
        assert_eq!(message, "tasks[0].type: unknown");
        assert_eq!(errors[0].path.as_deref(), Some("tasks[0].type"));
        let ApiError::Refused { message, .. } = refusal(502, "") else {
            panic!()
        };
        assert_eq!(message, "HTTP 502");
    }

    #[test]
    fn addresses_are_normalised_and_credentials_refused() {
        let s = Server::new("http://localhost:8080/api/v1/", "main", None).unwrap();
        assert_eq!(s.address(), "http://localhost:8080");
        assert_eq!(
            s.url(&["flows", "company.team", "a b"]).as_str(),
            "http://localhost:8080/api/v1/main/flows/company.team/a%20b"
        );
        let s = Server::new("https://k.example.com/kestra", "t1", None).unwrap();
        assert_eq!(
            s.url(&["executions", "x"]).as_str(),
            "https://k.example.com/kestra/api/v1/t1/executions/x"
        );
        let e = Server::new("http://admin:pw@localhost:8080", "main", None).unwrap_err();
        assert!(
            e.contains("must not hold credentials") && !e.contains("pw@"),
            "{e}"
        );
        assert!(Server::new("localhost:8080", "main", None).is_err());
        assert!(Server::new("http://localhost:8080", "../x", None).is_err());
    }

    #[test]
    fn debug_never_shows_a_credential() {
        let s = Server::new(
            "http://localhost:8080",
            "main",
            Some(Auth::Basic {
                user: "admin@kestra.io".into(),
                password: "hunter2-pass".into(),
            }),
        )
        .unwrap();
        let shown = format!("{s:?}");
        assert!(
            shown.contains("admin@kestra.io") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert!(!format!("{:?}", Auth::Token("tok-123".into())).contains("tok-123"));
    }
}
