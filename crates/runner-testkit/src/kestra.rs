//! A Kestra server's API, for the tests of `runner deploy`, `runner run --server` and
//! `runner kv push/pull` (no Kestra can run here: no image registry, no Maven). It keeps
//! flows, namespace files, executions and KV entries in memory and answers as Kestra 1.3's API
//! does. Every request is checked against the contract in `kestra-api.json` (the operations of
//! Kestra's OpenAPI document that runner sends: method, path, query parameters, content type,
//! multipart part names, headers), and every answer against the document's required fields; a
//! request outside it is a violation the test reads with [`KestraServer::violations`].
//!
//! Executions are played, not run: Log tasks log their message (with `{{ inputs.x }}` filled
//! in), a Fail task fails the execution, a Pause leaves it PAUSED, any other task succeeds.

use base64::Engine;
use http_body_util::BodyExt;
use hyper::body::{Bytes, Frame};
use serde_json::{Map, Value as Json, json};
use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

const CONTRACT: &str = include_str!("../kestra-api.json");

/// A flow as the server keeps it.
#[derive(Clone, Debug)]
pub struct StoredFlow {
    pub source: String,
    pub revision: i64,
}

/// A FILE input the server received: the part's file name and bytes.
#[derive(Clone, Debug)]
pub struct ReceivedFile {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// An execution: what the follow stream shows while it runs, where it ends, its logs, and
/// the inputs it was given. One with a Sleep task runs until it is killed: its followers
/// are told then.
#[derive(Debug)]
pub struct StoredExecution {
    pub running: Json,
    pub last: Json,
    pub logs: Vec<Json>,
    pub text_inputs: BTreeMap<String, String>,
    pub file_inputs: BTreeMap<String, ReceivedFile>,
    pub labels: Vec<String>,
    followers: Vec<tokio::sync::mpsc::UnboundedSender<Bytes>>,
}

/// What the server holds; tests read and seed it through [`KestraServer::state`].
#[derive(Default)]
pub struct State {
    pub flows: BTreeMap<(String, String), StoredFlow>,
    pub files: BTreeMap<(String, String), Vec<u8>>,
    /// (namespace, key) -> (type, value, ttl header as sent).
    pub kv: BTreeMap<(String, String), (String, Json, Option<String>)>,
    pub executions: BTreeMap<String, StoredExecution>,
    /// Every request, as `METHOD /path?query`.
    pub requests: Vec<String>,
    /// Requests or answers outside Kestra's contract.
    pub violations: Vec<String>,
    /// Task types this server has no plugin for: a flow using one is refused (422).
    pub not_installed: Vec<String>,
    /// What `/api/v1/configs` says (1.3.0 unless a test says otherwise).
    pub version: Option<String>,
    /// The execution follow stream ends after its first event, as a dropped connection does.
    pub drop_follow: bool,
    /// Users who are known but may do nothing (403), by their basic-auth header.
    pub forbidden: Vec<String>,
}

/// The server, on a free port of 127.0.0.1, with basic auth (`user`, `password`) and an API
/// token; stopped when dropped.
pub struct KestraServer {
    pub port: u16,
    pub user: String,
    pub password: String,
    pub token: String,
    state: Arc<Mutex<State>>,
    _server: crate::http::HttpServer,
}

impl KestraServer {
    pub fn start() -> KestraServer {
        let user = "admin@kestra.io".to_string();
        let password = format!("Kpw-{}", runner_core::ids::random_u64() % 1_000_000_000);
        let token = format!("ktok-{}", runner_core::ids::friendly_id());
        let state: Arc<Mutex<State>> = Arc::default();
        let auth = Arc::new(vec![
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            ),
            format!("Bearer {token}"),
        ]);
        let served = state.clone();
        let server = crate::http::serve(move |req| handle(req, served.clone(), auth.clone()));
        KestraServer {
            port: server.port,
            user,
            password,
            token,
            state,
            _server: server,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    pub fn violations(&self) -> Vec<String> {
        self.state().violations.clone()
    }

    pub fn requests(&self) -> Vec<String> {
        self.state().requests.clone()
    }
}

/// An answer's body: some frames, then the end, or (a follow stream of Kestra's) nothing
/// more until the client goes away.
pub struct Reply {
    frames: VecDeque<Bytes>,
    keep_open: bool,
    /// Frames that come later (a follower of a running execution); ends when dropped.
    live: Option<tokio::sync::mpsc::UnboundedReceiver<Bytes>>,
}

impl hyper::body::Body for Reply {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(b) = self.frames.pop_front() {
            return Poll::Ready(Some(Ok(Frame::data(b))));
        }
        if let Some(live) = &mut self.live {
            return live.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))));
        }
        if self.keep_open {
            Poll::Pending
        } else {
            Poll::Ready(None)
        }
    }
}

type Response = hyper::Response<Reply>;

fn answer(status: u16, content_type: &str, body: Vec<u8>) -> Response {
    hyper::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Reply {
            frames: VecDeque::from([Bytes::from(body)]),
            keep_open: false,
            live: None,
        })
        .unwrap()
}

fn json_answer(value: &Json) -> Response {
    answer(200, "application/json", value.to_string().into_bytes())
}

fn empty(status: u16) -> Response {
    hyper::Response::builder()
        .status(status)
        .body(Reply {
            frames: VecDeque::new(),
            keep_open: false,
            live: None,
        })
        .unwrap()
}

/// Kestra's error body (Micronaut's JsonError).
fn error(status: u16, path: &str, message: &str, errors: &[(&str, &str)]) -> Response {
    let mut body =
        json!({"message": message, "_links": {"self": {"href": path, "templated": false}}});
    if !errors.is_empty() {
        body["_embedded"] = json!({"errors": errors.iter().map(|(p, m)| json!({"message": m, "path": p})).collect::<Vec<_>>()});
    }
    answer(status, "application/json", body.to_string().into_bytes())
}

fn events(kind_and_data: Vec<(&str, Json)>, keep_open: bool) -> Response {
    let frames = kind_and_data
        .into_iter()
        .map(|(id, data)| event(id, &data))
        .collect();
    hyper::Response::builder()
        .status(200)
        .header("content-type", "text/event-stream")
        .body(Reply {
            frames,
            keep_open,
            live: None,
        })
        .unwrap()
}

fn event(kind: &str, data: &Json) -> Bytes {
    Bytes::from(format!("id:{kind}\ndata:{data}\n\n"))
}

/// The contract's operation a request is, with the path's parameters.
struct Matched {
    op: Json,
    params: BTreeMap<String, String>,
}

fn contract() -> &'static Json {
    static C: std::sync::OnceLock<Json> = std::sync::OnceLock::new();
    C.get_or_init(|| serde_json::from_str(CONTRACT).expect("kestra-api.json is JSON"))
}

fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&segment[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
        } else if bytes[i] == b'+' {
            out.push(b' ');
            i += 1;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).to_string()
}

fn find_operation(method: &str, path: &str) -> Option<Matched> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    for op in contract()["operations"].as_array().unwrap() {
        if op["method"] != method {
            continue;
        }
        let template: Vec<&str> = op["path"]
            .as_str()
            .unwrap()
            .trim_matches('/')
            .split('/')
            .collect();
        if template.len() != segments.len() {
            continue;
        }
        let mut params = BTreeMap::new();
        let fits = template.iter().zip(&segments).all(|(t, s)| {
            if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                params.insert(name.to_string(), decode(s));
                !s.is_empty()
            } else {
                t == s
            }
        });
        if fits {
            return Some(Matched {
                op: op.clone(),
                params,
            });
        }
    }
    None
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// One multipart part: its name, file name and bytes.
struct Part {
    name: String,
    file_name: Option<String>,
    bytes: Vec<u8>,
}

fn multipart(content_type: &str, body: &[u8]) -> Result<Vec<Part>, String> {
    let boundary = content_type
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()
        .ok_or("a multipart body without a boundary")?
        .trim_matches('"');
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut at = find(body, &delimiter, 0).ok_or("no first boundary")? + delimiter.len();
    loop {
        if body[at..].starts_with(b"--") {
            return Ok(parts);
        }
        at += 2; // CRLF after the boundary
        let head_end = find(body, b"\r\n\r\n", at).ok_or("a part without headers")?;
        let head = String::from_utf8_lossy(&body[at..head_end]).to_string();
        let next = find(body, &delimiter, head_end).ok_or("a part without an end")?;
        let bytes = body[head_end + 4..next - 2].to_vec();
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))
            .ok_or("a part without Content-Disposition")?;
        let field = |key: &str| {
            disposition.split(';').find_map(|p| {
                p.trim()
                    .strip_prefix(&format!("{key}="))
                    .map(|v| v.trim_matches('"').to_string())
            })
        };
        parts.push(Part {
            name: field("name").ok_or("a part without a name")?,
            file_name: field("filename"),
            bytes,
        });
        at = next + delimiter.len();
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// The contract's checks of one request; each problem is a violation.
fn check_request(
    m: &Matched,
    query: &[(String, String)],
    headers: &hyper::HeaderMap,
    body: &[u8],
) -> Vec<String> {
    let op = &m.op;
    let id = op["id"].as_str().unwrap();
    let mut problems = Vec::new();
    let known = op["query"].as_object().cloned().unwrap_or_default();
    for (k, v) in query {
        match known.get(k).and_then(Json::as_str) {
            None => problems.push(format!("{id}: query parameter `{k}` is not in the API")),
            Some("boolean") if v != "true" && v != "false" => {
                problems.push(format!("{id}: `{k}={v}` is not a boolean"))
            }
            Some("integer") if v.parse::<i64>().is_err() => {
                problems.push(format!("{id}: `{k}={v}` is not an integer"))
            }
            _ => {}
        }
    }
    for required in op["required"].as_array().into_iter().flatten() {
        let r = required.as_str().unwrap();
        if !query.iter().any(|(k, _)| k == r) {
            problems.push(format!(
                "{id}: the required query parameter `{r}` is missing"
            ));
        }
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match op["body"].as_str() {
        Some(want) if !content_type.starts_with(want) => problems.push(format!(
            "{id}: content type `{content_type}`, the API takes `{want}`"
        )),
        None if !body.is_empty() => problems.push(format!("{id}: a body the API does not take")),
        _ => {}
    }
    if let Some(parts) = op["parts"].as_array() {
        match multipart(content_type, body) {
            Ok(sent) => {
                for p in &sent {
                    if !parts.iter().any(|n| n == &p.name) {
                        problems.push(format!("{id}: a part named `{}`", p.name));
                    }
                }
            }
            Err(e) => problems.push(format!("{id}: {e}")),
        }
    }
    let allowed: Vec<&str> = op["headers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
        .collect();
    for name in ["ttl", "description"] {
        if headers.contains_key(name) && !allowed.contains(&name) {
            problems.push(format!("{id}: header `{name}` is not in the API"));
        }
    }
    problems
}

/// The required fields of `schema` missing from `value` (and of its task runs and states).
fn check_answer(schema: &str, value: &Json, out: &mut Vec<String>) {
    if let Some(inner) = schema.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        match value.as_array() {
            Some(items) => items.iter().for_each(|v| check_answer(inner, v, out)),
            None => out.push(format!("answer: {schema} is not a list")),
        }
        return;
    }
    let spec = &contract()["schemas"][schema];
    for field in spec["required"].as_array().into_iter().flatten() {
        let f = field.as_str().unwrap();
        if value.get(f).is_none() {
            out.push(format!("answer: {schema} without required `{f}`"));
        }
    }
    if schema == "Execution" {
        check_answer("State", &value["state"], out);
        for run in value["taskRunList"].as_array().into_iter().flatten() {
            check_answer("TaskRun", run, out);
            check_answer("State", &run["state"], out);
        }
    }
    if schema == "State" {
        let states = contract()["schemas"]["State"]["enum"].as_array().unwrap();
        if !states.contains(&value["current"]) {
            out.push(format!(
                "answer: state {} is not Kestra's",
                value["current"]
            ));
        }
    }
}

async fn handle(
    req: hyper::Request<hyper::body::Incoming>,
    state: Arc<Mutex<State>>,
    auth: Arc<Vec<String>>,
) -> Result<Response, Infallible> {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let headers = req.headers().clone();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(_) => return Ok(empty(400)),
    };
    let mut st = state.lock().unwrap();
    // Kestra's configs answer without credentials up to 1.3.
    if method == "GET" && path == "/api/v1/configs" {
        st.requests.push(format!("{method} {path}"));
        let version = st.version.clone().unwrap_or_else(|| "1.3.0".into());
        return Ok(json_answer(
            &json!({"version": version, "edition": "OSS", "isBasicAuthInitialized": true}),
        ));
    }
    st.requests.push(format!(
        "{method} {path}{}",
        if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        }
    ));
    let Some(m) = find_operation(&method, &path) else {
        st.violations
            .push(format!("{method} {path}: not an operation of Kestra's API"));
        return Ok(error(404, &path, "Not Found", &[]));
    };
    if m.params.get("tenant").map(String::as_str) != Some("main") {
        return Ok(error(404, &path, "Not Found: tenant", &[]));
    }
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if st.forbidden.iter().any(|f| f == given) {
        return Ok(error(403, &path, "Forbidden", &[]));
    }
    if !auth.iter().any(|a| a == given) {
        let mut r = empty(401);
        r.headers_mut().insert(
            "www-authenticate",
            "Basic realm=\"Kestra\"".parse().unwrap(),
        );
        return Ok(r);
    }
    let query = query_pairs(&query);
    let problems = check_request(&m, &query, &headers, &body);
    st.violations.extend(problems);
    let reply = operation(&mut st, &m, &query, &headers, &body, &path);
    if let Some(schema) = m.op["answer"].as_str()
        && reply.status() == 200
        && let Some(Ok(value)) = reply
            .body()
            .frames
            .front()
            .map(|b| serde_json::from_slice::<Json>(b))
    {
        let mut problems = Vec::new();
        check_answer(schema, &value, &mut problems);
        st.violations.extend(problems);
    }
    Ok(reply)
}

fn param<'a>(m: &'a Matched, name: &str) -> &'a str {
    m.params.get(name).map(String::as_str).unwrap_or("")
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

fn parse_flow(source: &str) -> Result<Json, String> {
    let mut docs = runner_model::load_str(source).map_err(|e| e.message)?;
    if docs.len() != 1 {
        return Err("one flow per request".into());
    }
    Ok(docs.remove(0).to_json())
}

fn flow_json(namespace: &str, id: &str, stored: &StoredFlow, with_source: bool) -> Json {
    let parsed = parse_flow(&stored.source).unwrap_or(Json::Null);
    let mut flow = json!({
        "id": id, "namespace": namespace, "revision": stored.revision,
        "deleted": false, "disabled": parsed["disabled"].as_bool().unwrap_or(false),
        "tasks": parsed["tasks"].clone(),
    });
    if with_source {
        flow["source"] = Json::String(stored.source.clone());
    }
    flow
}

/// Kestra's checks of a flow it is sent (those the tests need): one flow, an id and a
/// namespace, and task types it has a plugin for.
fn refuse_flow(st: &State, source: &str, path: &str) -> Result<Json, Box<Response>> {
    let flow = parse_flow(source)
        .map_err(|e| Box::new(error(422, path, &format!("Invalid entity: {e}"), &[])))?;
    for field in ["id", "namespace"] {
        if flow[field].as_str().is_none() {
            let message = format!("Invalid entity: flow.{field}: must not be null");
            return Err(Box::new(error(
                422,
                path,
                &message,
                &[(&format!("flow.{field}"), "must not be null")],
            )));
        }
    }
    for (i, task) in flow["tasks"].as_array().into_iter().flatten().enumerate() {
        let kind = task["type"].as_str().unwrap_or_default();
        if st.not_installed.iter().any(|t| t == kind) {
            let at = format!("tasks[{i}].type");
            let message = format!("Invalid type: {kind}");
            return Err(Box::new(error(
                422,
                path,
                &format!("Invalid entity: {at}: {message}"),
                &[(&at, &message)],
            )));
        }
    }
    Ok(flow)
}

fn operation(
    st: &mut State,
    m: &Matched,
    query: &[(String, String)],
    headers: &hyper::HeaderMap,
    body: &[u8],
    path: &str,
) -> Response {
    let q = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let ns = param(m, "namespace").to_string();
    let text = String::from_utf8_lossy(body).to_string();
    match m.op["id"].as_str().unwrap() {
        "createFlow" => {
            let flow = match refuse_flow(st, &text, path) {
                Ok(f) => f,
                Err(r) => return *r,
            };
            let key = (
                flow["namespace"].as_str().unwrap().to_string(),
                flow["id"].as_str().unwrap().to_string(),
            );
            if st.flows.contains_key(&key) {
                return error(
                    422,
                    path,
                    "Invalid entity: flow.id: Flow id already exists",
                    &[("flow.id", "Flow id already exists")],
                );
            }
            let stored = StoredFlow {
                source: text,
                revision: 1,
            };
            let answer = flow_json(&key.0, &key.1, &stored, true);
            st.flows.insert(key, stored);
            json_answer(&answer)
        }
        "updateFlow" => {
            let id = param(m, "id").to_string();
            let flow = match refuse_flow(st, &text, path) {
                Ok(f) => f,
                Err(r) => return *r,
            };
            if flow["namespace"] != ns.as_str() || flow["id"] != id.as_str() {
                return error(
                    422,
                    path,
                    "Invalid entity: flow.id: Illegal flow id update",
                    &[("flow.id", "Illegal flow id update")],
                );
            }
            let Some(stored) = st.flows.get_mut(&(ns.clone(), id.clone())) else {
                return error(404, path, "Not Found", &[]);
            };
            if stored.source != text {
                stored.revision += 1;
                stored.source = text;
            }
            let answer = flow_json(&ns, &id, stored, true);
            json_answer(&answer)
        }
        "flow" => {
            let id = param(m, "id").to_string();
            match st.flows.get(&(ns.clone(), id.clone())) {
                Some(stored) => {
                    json_answer(&flow_json(&ns, &id, stored, q("source") == Some("true")))
                }
                None => error(404, path, "Not Found", &[]),
            }
        }
        "listFlowsByNamespace" => {
            let list: Vec<Json> = st
                .flows
                .iter()
                .filter(|((n, _), _)| *n == ns)
                .map(|((n, id), f)| flow_json(n, id, f, false))
                .collect();
            json_answer(&Json::Array(list))
        }
        "deleteFlow" => {
            let id = param(m, "id").to_string();
            match st.flows.remove(&(ns, id)) {
                Some(_) => empty(204),
                None => error(404, path, "Not Found", &[]),
            }
        }
        "createNamespaceFile" => {
            let file_path = q("path").unwrap_or_default().to_string();
            if !file_path.starts_with('/') || file_path.starts_with("/_flows/") {
                return error(422, path, "Illegal argument: Forbidden path", &[]);
            }
            let content_type = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            match multipart(content_type, body) {
                Ok(parts) => match parts.into_iter().find(|p| p.name == "fileContent") {
                    Some(part) => {
                        if part
                            .file_name
                            .as_deref()
                            .is_some_and(|n| n.ends_with(".zip"))
                        {
                            st.violations.push(format!(
                                "createNamespaceFile: a part named `.zip` is unpacked by Kestra ({file_path})"
                            ));
                        }
                        st.files.insert((ns, file_path), part.bytes);
                        empty(200)
                    }
                    None => error(422, path, "Illegal argument: no fileContent", &[]),
                },
                Err(e) => error(400, path, &format!("Bad Request: {e}"), &[]),
            }
        }
        "fileContent" => {
            let file_path = q("path").unwrap_or_default().to_string();
            match st.files.get(&(ns, file_path)) {
                Some(bytes) => answer(200, "application/octet-stream", bytes.clone()),
                None => error(404, path, "Not Found", &[]),
            }
        }
        "listNamespaceDirectoryFiles" => {
            let dir = q("path").unwrap_or("/").trim_end_matches('/').to_string();
            let prefix = format!("{dir}/");
            let mut seen: BTreeMap<String, (bool, usize)> = BTreeMap::new();
            for ((n, p), bytes) in &st.files {
                if *n != ns || !p.starts_with(&prefix) {
                    continue;
                }
                let rest = &p[prefix.len()..];
                match rest.split_once('/') {
                    Some((folder, _)) => {
                        seen.insert(folder.to_string(), (true, 0));
                    }
                    None => {
                        seen.insert(rest.to_string(), (false, bytes.len()));
                    }
                }
            }
            if seen.is_empty() && !dir.is_empty() {
                return error(404, path, "Not Found: Directory not found", &[]);
            }
            let list: Vec<Json> = seen
                .into_iter()
                .map(|(name, (folder, size))| {
                    json!({"fileName": name, "type": if folder { "Directory" } else { "File" },
                        "size": size, "lastModifiedTime": 0, "creationTime": 0})
                })
                .collect();
            json_answer(&Json::Array(list))
        }
        "createExecution" => create_execution(st, m, query, headers, body, path),
        "execution" => match st.executions.get(param(m, "executionId")) {
            Some(e) => json_answer(&e.last),
            None => error(404, path, "Not Found", &[]),
        },
        "followExecution" => {
            let dropped = st.drop_follow;
            match st.executions.get_mut(param(m, "executionId")) {
                Some(e) if e.last["state"]["current"] == "RUNNING" => {
                    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                    e.followers.push(tx);
                    let mut reply = events(
                        vec![
                            ("start", json!({"id": param(m, "executionId")})),
                            ("progress", e.running.clone()),
                        ],
                        false,
                    );
                    reply.body_mut().live = Some(rx);
                    reply
                }
                Some(e) => {
                    let id = param(m, "executionId");
                    let state = e.last["state"]["current"].as_str().unwrap_or_default();
                    let mut sent = vec![
                        ("start", json!({"id": id})),
                        ("progress", e.running.clone()),
                    ];
                    // Kestra's follow stops at a terminal state, never at PAUSED.
                    if dropped {
                        events(vec![("start", json!({"id": id}))], false)
                    } else if state == "PAUSED" {
                        sent.push(("progress", e.last.clone()));
                        events(sent, true)
                    } else {
                        sent.push(("end", e.last.clone()));
                        events(sent, false)
                    }
                }
                None => error(404, path, "Not Found", &[]),
            }
        }
        "listLogsFromExecution" => match st.executions.get(param(m, "executionId")) {
            Some(e) => json_answer(&Json::Array(e.logs.clone())),
            None => error(404, path, "Not Found", &[]),
        },
        "followLogsFromExecution" => match st.executions.get(param(m, "executionId")) {
            // Kestra's log stream never ends: the client closes it.
            Some(e) => {
                let mut sent = vec![("start", json!({}))];
                sent.extend(e.logs.iter().map(|l| ("progress", l.clone())));
                events(sent, true)
            }
            None => error(404, path, "Not Found", &[]),
        },
        "killExecution" => match st.executions.get_mut(param(m, "executionId")) {
            Some(e) => {
                let current = e.last["state"]["current"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if matches!(
                    current.as_str(),
                    "SUCCESS" | "WARNING" | "FAILED" | "KILLED"
                ) {
                    return error(
                        409,
                        path,
                        "Illegal state: Execution is already finished, can't kill it",
                        &[],
                    );
                }
                e.last["state"]["current"] = json!("KILLED");
                for run in e.last["taskRunList"].as_array_mut().into_iter().flatten() {
                    if run["state"]["current"] == "RUNNING" {
                        run["state"]["current"] = json!("KILLED");
                    }
                }
                // Kestra's follow stream ends with the execution.
                for follower in e.followers.drain(..) {
                    let _ = follower.send(event("end", &e.last));
                }
                empty(202)
            }
            None => error(404, path, "Not Found", &[]),
        },
        "listKeys" => {
            let list: Vec<Json> = st
                .kv
                .iter()
                .filter(|((n, _), _)| *n == ns)
                .map(|((n, k), _)| json!({"namespace": n, "key": k, "version": 1, "creationDate": now(), "updateDate": now()}))
                .collect();
            json_answer(&Json::Array(list))
        }
        "keyValue" => {
            let key = param(m, "key").to_string();
            match st.kv.get(&(ns.clone(), key.clone())) {
                Some((kind, value, _)) => json_answer(
                    &json!({"type": kind, "value": value, "revision": 1, "updated": now()}),
                ),
                None => error(
                    404,
                    path,
                    &format!("Not Found: No value found for key '{key}' in namespace '{ns}'"),
                    &[],
                ),
            }
        }
        "setKeyValue" => {
            let key = param(m, "key").to_string();
            let valid_key = key
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            if !valid_key {
                return error(
                    422,
                    path,
                    "Illegal argument: Key must start with an alphanumeric character",
                    &[],
                );
            }
            // Kestra reads the body as Ion (JSON is Ion) and types the value from it; text that
            // is not JSON is kept as a string.
            let value: Json = serde_json::from_str(&text).unwrap_or(Json::String(text.clone()));
            let kind = match &value {
                Json::String(_) => "STRING",
                Json::Number(_) => "NUMBER",
                Json::Bool(_) => "BOOLEAN",
                _ => "JSON",
            };
            let ttl = headers
                .get("ttl")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            st.kv.insert((ns, key), (kind.to_string(), value, ttl));
            empty(200)
        }
        other => error(500, path, &format!("Internal server error: {other}"), &[]),
    }
}

fn state_of(current: &str, start: &str) -> Json {
    json!({"current": current, "startDate": start, "histories": [{"state": "CREATED", "date": start}, {"state": current, "date": start}], "duration": "PT0.012S"})
}

fn create_execution(
    st: &mut State,
    m: &Matched,
    query: &[(String, String)],
    headers: &hyper::HeaderMap,
    body: &[u8],
    path: &str,
) -> Response {
    let (ns, flow_id) = (
        param(m, "namespace").to_string(),
        param(m, "id").to_string(),
    );
    let Some(stored) = st.flows.get(&(ns.clone(), flow_id.clone())).cloned() else {
        return error(404, path, "Not Found: Requested Flow is not found.", &[]);
    };
    let flow = parse_flow(&stored.source).unwrap_or(Json::Null);
    if flow["disabled"].as_bool() == Some(true) {
        return error(409, path, "Illegal state: Requested Flow is disabled.", &[]);
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let parts = if body.is_empty() {
        Vec::new()
    } else {
        match multipart(content_type, body) {
            Ok(p) => p,
            Err(e) => return error(400, path, &format!("Bad Request: {e}"), &[]),
        }
    };
    let id = runner_core::ids::friendly_id();
    let mut text_inputs = BTreeMap::new();
    let mut file_inputs = BTreeMap::new();
    let mut inputs = Map::new();
    for part in parts {
        match part.file_name {
            Some(file_name) => {
                inputs.insert(
                    part.name.clone(),
                    json!(format!(
                        "kestra:///{}/{}/executions/{id}/inputs/{}/{file_name}",
                        ns.replace('.', "/"),
                        flow_id,
                        part.name
                    )),
                );
                file_inputs.insert(
                    part.name,
                    ReceivedFile {
                        file_name,
                        bytes: part.bytes,
                    },
                );
            }
            None => {
                let value = String::from_utf8_lossy(&part.bytes).to_string();
                inputs.insert(part.name.clone(), json!(value));
                text_inputs.insert(part.name, value);
            }
        }
    }
    for input in flow["inputs"].as_array().into_iter().flatten() {
        let name = input["id"].as_str().unwrap_or_default();
        if inputs.contains_key(name) {
            continue;
        }
        if let Some(default) = input.get("defaults") {
            inputs.insert(name.to_string(), default.clone());
        } else if input["required"].as_bool() != Some(false) {
            let at = format!("inputs.{name}");
            let message =
                format!("Invalid input for `{name}`, missing required input, but received `null`");
            return error(
                422,
                path,
                &format!("Invalid entity: {at}: {message}"),
                &[(&at, &message)],
            );
        }
    }
    let start = now();
    let mut runs = Vec::new();
    let mut logs = Vec::new();
    let mut outcome = "SUCCESS";
    for task in flow["tasks"].as_array().into_iter().flatten() {
        let task_id = task["id"].as_str().unwrap_or_default().to_string();
        let kind = task["type"].as_str().unwrap_or_default();
        let run_id = runner_core::ids::friendly_id();
        let mut log = |level: &str, message: String| {
            logs.push(
                json!({"namespace": ns, "flowId": flow_id, "taskId": task_id, "executionId": id,
                "taskRunId": run_id, "attemptNumber": 0, "timestamp": start, "level": level,
                "thread": "worker", "message": message}),
            );
        };
        let state = if kind.ends_with(".Log") {
            let mut message = task["message"].as_str().unwrap_or_default().to_string();
            for (k, v) in &inputs {
                let shown = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                message = message
                    .replace(&format!("{{{{ inputs.{k} }}}}"), &shown)
                    .replace(&format!("{{{{inputs.{k}}}}}"), &shown);
            }
            log("INFO", message);
            "SUCCESS"
        } else if kind.ends_with(".Fail") {
            let message = task["errorMessage"]
                .as_str()
                .unwrap_or("Flow failed")
                .to_string();
            log("ERROR", message);
            outcome = "FAILED";
            "FAILED"
        } else if kind.ends_with(".Pause") {
            outcome = "PAUSED";
            "PAUSED"
        } else if kind.ends_with(".Sleep") {
            outcome = "RUNNING";
            "RUNNING"
        } else {
            "SUCCESS"
        };
        runs.push(json!({"id": run_id, "executionId": id, "namespace": ns, "flowId": flow_id,
            "taskId": task_id, "state": state_of(state, &start), "attempts": [{"state": state_of(state, &start)}],
            "outputs": {}}));
        if state != "SUCCESS" {
            break;
        }
    }
    let labels: Vec<String> = query
        .iter()
        .filter(|(k, _)| k == "labels")
        .map(|(_, v)| v.clone())
        .collect();
    let label_list: Vec<Json> = labels
        .iter()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    let execution = |state: &str, runs: Vec<Json>| {
        json!({"id": id, "namespace": ns, "flowId": flow_id, "flowRevision": stored.revision,
            "deleted": false, "inputs": inputs, "labels": label_list, "state": state_of(state, &start),
            "taskRunList": runs, "originalId": id})
    };
    let created = execution("CREATED", Vec::new());
    let running = execution("RUNNING", runs.first().cloned().into_iter().collect());
    let last = execution(outcome, runs);
    st.executions.insert(
        id.clone(),
        StoredExecution {
            running,
            last,
            logs,
            text_inputs,
            file_inputs,
            labels,
            followers: Vec::new(),
        },
    );
    let mut answer = created;
    answer["url"] = json!(format!(
        "http://localhost:8080/ui/main/executions/{ns}/{flow_id}/{id}"
    ));
    json_answer(&answer)
}
