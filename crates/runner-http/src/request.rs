//! `io.kestra.plugin.core.http.Request`, and the request building Download shares: `uri`
//! (spaces encoded), `method`, `params`, `headers`, `body`, `formData` (URL-encoded, or
//! multipart with `kestra://` files streamed from storage), `options`.

use crate::client::{self, authorize, digest_answer, log_headers, send_error};
use crate::options::{Auth, HttpOptions, LogKind, Settings, SslOptions};
use futures_util::StreamExt;
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::Map;

pub(crate) const REQUEST: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.http.Request",
    aliases: &["io.kestra.plugin.fs.http.Request"],
    doc: "Send an HTTP request; the response body (up to 19 MiB) becomes `body`, a string.",
    example: "id: api\ntype: io.kestra.plugin.core.http.Request\nuri: https://example.com/api/items\nmethod: POST\ncontentType: application/json\nbody: '{\"name\": \"runner\"}'",
    shape: runnable::<Request>(),
};

/// Kestra's largest body a Request keeps in its outputs.
pub(crate) const MAX_BODY: usize = 19_922_944;

/// The properties Request and Download share.
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HttpProps {
    /// The URI to call; spaces are sent as `%20`.
    pub(crate) uri: Property<String>,
    /// The method (default `GET`).
    pub(crate) method: Option<Property<String>>,
    /// The request body, a string sent with `contentType`.
    pub(crate) body: Option<Property<String>>,
    /// Form fields: URL-encoded, or parts with `contentType: multipart/form-data`, where a
    /// `kestra://` value or a `{name, content}` map is a file.
    pub(crate) form_data: Option<Property<Map<String, Json>>>,
    /// Query parameters (a string or a list of strings each).
    pub(crate) params: Option<Property<Map<String, Json>>>,
    /// The body's content type (default `application/json`).
    pub(crate) content_type: Option<Property<String>>,
    /// Request headers.
    pub(crate) headers: Option<Property<Map<String, Json>>>,
    /// Timeouts, proxy, authentication, TLS, redirects, accepted codes, logs (its passwords
    /// and token are credentials).
    #[prop(secret)]
    pub(crate) options: Option<HttpOptions>,
    /// Kestra encrypts the body with the server's key; runner has none, so it refuses.
    pub(crate) encrypt_body: Option<Property<bool>>,
    /// Deprecated: `options.allowFailed`.
    pub(crate) allow_failed: Option<Property<bool>>,
    /// Deprecated: `options.ssl`.
    pub(crate) ssl_options: Option<SslOptions>,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Request {
    #[serde(flatten)]
    http: HttpProps,
}

/// A request ready to send (and to send again, for a Digest challenge).
pub(crate) struct Prepared {
    pub(crate) url: reqwest::Url,
    pub(crate) method: reqwest::Method,
    pub(crate) settings: Settings,
    pub(crate) client: reqwest::Client,
    headers: reqwest::header::HeaderMap,
    body: BodySpec,
}

enum BodySpec {
    None,
    Text(String),
    Form(Vec<(String, String)>),
    Multipart(Vec<(String, Part)>),
}

enum Part {
    Text(String),
    File { uri: String, name: String },
}

impl HttpProps {
    pub(crate) fn prepare(&self, ctx: &RunContext) -> Result<Prepared, TaskError> {
        if let Some(p) = &self.encrypt_body
            && ctx.render(p, "encryptBody")?
        {
            return Err(TaskError::property(
                "encryptBody",
                "runner has no Kestra server key to encrypt the body with; remove `encryptBody` (the body is then a plain output) or run the flow on Kestra",
            ));
        }
        let settings = Settings::render(
            ctx,
            &self.options.clone().unwrap_or_default(),
            self.allow_failed.as_ref(),
            self.ssl_options.as_ref(),
        )?;
        let raw = ctx.render(&self.uri, "uri")?;
        let mut url = reqwest::Url::parse(&raw.trim().replace(' ', "%20"))
            .map_err(|e| TaskError::property("uri", format!("`{raw}` is not a URI: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(TaskError::property(
                "uri",
                format!("`{}` is not an http:// or https:// URI", url.scheme()),
            ));
        }
        if let Some(params) = ctx.render_opt(&self.params, "params")? {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &params {
                match v {
                    Json::String(s) => {
                        pairs.append_pair(k, s);
                    }
                    Json::Array(items) => {
                        for item in items {
                            pairs.append_pair(k, &param_text(k, item)?);
                        }
                    }
                    other => {
                        return Err(unsupported_param(k, other));
                    }
                }
            }
        }
        let method = match ctx.render_opt(&self.method, "method")? {
            Some(m) => reqwest::Method::from_bytes(m.trim().to_ascii_uppercase().as_bytes())
                .map_err(|_| {
                    TaskError::property("method", format!("`{m}` is not an HTTP method"))
                })?,
            None => reqwest::Method::GET,
        };
        let content_type = ctx
            .render_opt(&self.content_type, "contentType")?
            .unwrap_or_else(|| "application/json".into());
        let mut headers = reqwest::header::HeaderMap::new();
        let user_headers = ctx.render_opt(&self.headers, "headers")?;
        if let Some(h) = &user_headers {
            for (k, v) in h {
                let name = reqwest::header::HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                    TaskError::property("headers", format!("`{k}` is not a header name"))
                })?;
                let text = match v {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let value = reqwest::header::HeaderValue::from_str(&text).map_err(|_| {
                    TaskError::property(
                        "headers",
                        format!("the value of `{k}` holds characters a header cannot"),
                    )
                })?;
                headers.append(name, value);
            }
        }
        let has_type = headers.contains_key(reqwest::header::CONTENT_TYPE);
        let body = match (ctx.render_opt(&self.form_data, "formData")?, &self.body) {
            (Some(form), _) if content_type.starts_with("multipart/form-data") => {
                let mut parts = Vec::new();
                for (k, v) in form {
                    parts.push((k, part_of(v)));
                }
                BodySpec::Multipart(parts)
            }
            (Some(form), _) => {
                if !has_type {
                    headers.insert(
                        reqwest::header::CONTENT_TYPE,
                        reqwest::header::HeaderValue::from_static(
                            "application/x-www-form-urlencoded",
                        ),
                    );
                }
                BodySpec::Form(
                    form.into_iter()
                        .map(|(k, v)| {
                            let v = match v {
                                Json::String(s) => s,
                                other => other.to_string(),
                            };
                            (k, v)
                        })
                        .collect(),
                )
            }
            (None, Some(b)) => {
                let text = ctx.render(b, "body")?;
                if !has_type {
                    headers.insert(
                        reqwest::header::CONTENT_TYPE,
                        header_value(&format!("{content_type}; charset=UTF-8"))?,
                    );
                }
                BodySpec::Text(text)
            }
            (None, None) => {
                // Kestra adds the content type alone when no header is set.
                if user_headers.is_none() {
                    headers.insert(reqwest::header::CONTENT_TYPE, header_value(&content_type)?);
                }
                BodySpec::None
            }
        };
        client::check_url(ctx, &url)?;
        let client = client::for_settings(ctx, &settings)?;
        Ok(Prepared {
            url,
            method,
            settings,
            client,
            headers,
            body,
        })
    }
}

fn header_value(text: &str) -> Result<reqwest::header::HeaderValue, TaskError> {
    reqwest::header::HeaderValue::from_str(text).map_err(|_| {
        TaskError::property("contentType", format!("`{text}` cannot be a header value"))
    })
}

fn param_text(key: &str, v: &Json) -> Result<String, TaskError> {
    match v {
        Json::String(s) => Ok(s.clone()),
        other => Err(unsupported_param(key, other)),
    }
}

/// Kestra's message, naming the Java class it saw; the hint says how to pass it.
fn unsupported_param(key: &str, v: &Json) -> TaskError {
    let class = match v {
        Json::Number(n) if n.is_i64() || n.is_u64() => "java.lang.Integer",
        Json::Number(_) => "java.lang.Double",
        Json::Bool(_) => "java.lang.Boolean",
        Json::Object(_) => "java.util.LinkedHashMap",
        Json::Null => "null",
        _ => "java.util.ArrayList",
    };
    TaskError::property(
        &format!("params.{key}"),
        format!(
            "Unsupported param type: {class} (quote the value: a parameter is a string or a list of strings)"
        ),
    )
}

fn part_of(v: Json) -> Part {
    match v {
        Json::String(s) if s.starts_with("kestra://") => {
            let name = s.rsplit('/').next().unwrap_or("file").to_string();
            Part::File { uri: s, name }
        }
        Json::Object(m)
            if m.get("content")
                .and_then(Json::as_str)
                .is_some_and(|c| c.starts_with("kestra://")) =>
        {
            let uri = m["content"].as_str().unwrap_or_default().to_string();
            let name = m
                .get("name")
                .and_then(Json::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| uri.rsplit('/').next().unwrap_or("file").to_string());
            Part::File { uri, name }
        }
        Json::String(s) => Part::Text(s),
        other => Part::Text(other.to_string()),
    }
}

impl Prepared {
    async fn build(
        &self,
        ctx: &RunContext,
        auth: Option<String>,
    ) -> Result<reqwest::Request, TaskError> {
        let mut rb = self
            .client
            .request(self.method.clone(), self.url.clone())
            .headers(self.headers.clone());
        rb = match &auth {
            Some(a) => rb.header(reqwest::header::AUTHORIZATION, a),
            None => authorize(rb, self.settings.auth.as_ref()),
        };
        rb = match &self.body {
            BodySpec::None => rb,
            BodySpec::Text(t) => rb.body(t.clone()),
            BodySpec::Form(pairs) => {
                let mut ser = form_urlencoded(pairs);
                rb.body(std::mem::take(&mut ser))
            }
            BodySpec::Multipart(parts) => {
                let mut form = reqwest::multipart::Form::new();
                for (k, p) in parts {
                    form = match p {
                        Part::Text(t) => form.text(k.clone(), t.clone()),
                        Part::File { uri, name } => {
                            let file = ctx.open_execution_file(uri).await.map_err(|e| {
                                TaskError::new(
                                    ErrorKind::NotFound,
                                    format!("formData.{k}: cannot read {uri}"),
                                )
                                .caused_by(e)
                            })?;
                            let len = file.metadata().await.map(|m| m.len()).ok();
                            let stream = tokio_util_stream(file);
                            let body = reqwest::Body::wrap_stream(stream);
                            let part = match len {
                                Some(l) => reqwest::multipart::Part::stream_with_length(body, l),
                                None => reqwest::multipart::Part::stream(body),
                            }
                            .file_name(name.clone());
                            form.part(k.clone(), part)
                        }
                    };
                }
                rb.multipart(form)
            }
        };
        rb.build()
            .map_err(|e| TaskError::new(ErrorKind::Other, "cannot build the request").caused_by(e))
    }

    /// Sends the request (answering a Digest challenge once), logging what `options.logs`
    /// asks for.
    pub(crate) async fn send(&self, ctx: &RunContext) -> Result<reqwest::Response, TaskError> {
        let shown = self.url.as_str().to_string();
        let request = self.build(ctx, None).await?;
        log_headers(
            ctx,
            &self.settings,
            LogKind::RequestHeaders,
            &format!("Request {} {}", self.method, shown),
            request.headers(),
        );
        if self.settings.logs.contains(&LogKind::RequestBody)
            && let BodySpec::Text(t) = &self.body
        {
            ctx.log(Level::Info, &format!("Request body:\n{t}"));
        }
        let response = self
            .client
            .execute(request)
            .await
            .map_err(|e| send_error(&shown, e))?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED
            && let Some(Auth::Digest { username, password }) = &self.settings.auth
            && let Some(challenge) = response
                .headers()
                .get(reqwest::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .filter(|c| c.trim_start().starts_with("Digest"))
        {
            let path = match self.url.query() {
                Some(q) => format!("{}?{q}", self.url.path()),
                None => self.url.path().to_string(),
            };
            if let Some(answer) =
                digest_answer(challenge, username, password, self.method.as_str(), &path)
            {
                let again = self.build(ctx, Some(answer)).await?;
                let response = self
                    .client
                    .execute(again)
                    .await
                    .map_err(|e| send_error(&shown, e))?;
                log_headers(
                    ctx,
                    &self.settings,
                    LogKind::ResponseHeaders,
                    &format!("Response {}", response.status().as_u16()),
                    response.headers(),
                );
                return Ok(response);
            }
        }
        log_headers(
            ctx,
            &self.settings,
            LogKind::ResponseHeaders,
            &format!("Response {}", response.status().as_u16()),
            response.headers(),
        );
        Ok(response)
    }
}

fn form_urlencoded(pairs: &[(String, String)]) -> String {
    let mut url = reqwest::Url::parse("http://x/").expect("a constant URL");
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_string()
}

/// A file read in 64 KiB chunks, as a stream of bytes for a request body.
fn tokio_util_stream(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    use tokio::io::AsyncReadExt;
    futures_util::stream::unfold(Some(file), |state| async move {
        let mut file = state?;
        let mut buf = vec![0u8; 64 << 10];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// Response headers as Kestra gives them: each name with the list of its values.
pub(crate) fn headers_json(headers: &reqwest::header::HeaderMap) -> Json {
    let mut out = Map::new();
    for (name, value) in headers {
        let entry = out
            .entry(name.as_str().to_string())
            .or_insert_with(|| Json::Array(Vec::new()));
        if let Json::Array(list) = entry {
            list.push(Json::String(
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            ));
        }
    }
    Json::Object(out)
}

/// Kestra's failure for a refused status code, with the body (cut at 1 MiB here).
pub(crate) async fn refuse(response: reqwest::Response) -> TaskError {
    let code = response.status().as_u16();
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        let room = (1usize << 20).saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room <= chunk.len() {
            break;
        }
    }
    TaskError::failed(format!(
        "Failed http request with response code '{code}' and body:\n{}",
        String::from_utf8_lossy(&body)
    ))
}

impl RunnableTask for Request {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let prepared = self.http.prepare(ctx)?;
            let response = prepared.send(ctx).await?;
            let code = response.status().as_u16();
            if !prepared.settings.accepts(code) {
                return Err(refuse(response).await);
            }
            let headers = headers_json(response.headers());
            let mut body = Vec::new();
            let mut stream = response.bytes_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| send_error(prepared.url.as_str(), e))?;
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(TaskError::failed(format!(
                        "Response body is too large to store in task outputs (more than {MAX_BODY} bytes > max {MAX_BODY} bytes). Use io.kestra.plugin.core.http.Download to store the body in internal storage instead."
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            let body = String::from_utf8(body)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
            if prepared.settings.logs.contains(&LogKind::ResponseBody) {
                ctx.log(Level::Info, &format!("Response body:\n{body}"));
            }
            let mut out = Outputs::new();
            out.insert("uri".into(), Json::String(prepared.url.to_string()));
            out.insert("code".into(), Json::from(code));
            out.insert("headers".into(), headers);
            out.insert("body".into(), Json::String(body));
            Ok(out)
        })
    }
}
