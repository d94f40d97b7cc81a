//! MCP over HTTP, the two transports Kestra offers: Streamable HTTP (each JSON-RPC message
//! POSTed to the server's endpoint, the answer coming back as JSON or as a stream of events,
//! the session named by the `Mcp-Session-Id` header) and the older HTTP+SSE (a stream of
//! events opened first, whose `endpoint` event says where to POST; answers come on the
//! stream). Through the HTTP kit's client: the run's network policy applies, and redirects
//! are not followed (headers such as an API key must not reach another server). Messages name
//! the server by its origin only: a URL may hold a key in its path or query.

use crate::mcp::{Dispatch, dispatch};
use runner_core::plugin::*;
use runner_http::client::{self, ClientOptions, reqwest};
use runner_http::sse::EventStream;
use serde_json::json;
use std::time::Duration;

/// Which HTTP transport (Kestra's `transport`, and its tool types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HttpKind {
    Streamable,
    Sse,
}

pub(crate) struct Http {
    http: reqwest::Client,
    /// Where messages are POSTed.
    post: reqwest::Url,
    headers: Vec<(String, String)>,
    session: Option<String>,
    protocol: Option<String>,
    /// The older transport's stream, where answers come.
    stream: Option<EventStream>,
    label: String,
    log_requests: bool,
    log_responses: bool,
}

fn remote(label: &str, what: String) -> TaskError {
    TaskError::new(
        ErrorKind::Remote,
        format!("the MCP server ({label}) {what}"),
    )
}

impl Http {
    /// `property` names the address in messages about it; `label` names the server (its
    /// origin when none).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn connect(
        ctx: &RunContext,
        url: &str,
        property: &str,
        kind: HttpKind,
        headers: Vec<(String, String)>,
        label: Option<String>,
        (log_requests, log_responses): (bool, bool),
        timeout: Duration,
    ) -> Result<Http, TaskError> {
        let address = client::parse_url(ctx, property, url)?;
        let origin = address.origin().ascii_serialization();
        let label = label.unwrap_or_else(|| origin.clone());
        let http = client::client(
            ctx,
            &ClientOptions {
                follow_redirects: false,
                ..ClientOptions::default()
            },
        )?;
        let mut server = Http {
            http,
            post: address.clone(),
            headers,
            session: None,
            protocol: None,
            stream: None,
            label,
            log_requests,
            log_responses,
        };
        if kind == HttpKind::Sse {
            let mut request = server
                .http
                .get(address.clone())
                .header("accept", "text/event-stream");
            for (k, v) in &server.headers {
                request = request.header(k, v);
            }
            let response = tokio::time::timeout(timeout, request.send())
                .await
                .map_err(|_| {
                    remote(
                        &server.label,
                        "did not open its event stream in time".into(),
                    )
                })?
                .map_err(|e| client::send_error(&origin, e.without_url()))?;
            server.check_status(response.status().as_u16(), "open its event stream")?;
            let mut stream = EventStream::new(response);
            // The first event says where to send messages.
            let endpoint = tokio::time::timeout(timeout, async {
                loop {
                    match stream.next().await {
                        Ok(Some(e)) if e.event == "endpoint" => return Ok(e.data),
                        Ok(Some(_)) => continue,
                        Ok(None) => {
                            return Err(
                                "ended its event stream before naming its endpoint".to_string()
                            );
                        }
                        Err(e) => return Err(e.to_string()),
                    }
                }
            })
            .await
            .map_err(|_| remote(&server.label, "did not name its endpoint in time".into()))?
            .map_err(|e| remote(&server.label, e))?;
            server.post = address.join(endpoint.trim()).map_err(|_| {
                remote(
                    &server.label,
                    format!("named an endpoint that is not an address: {endpoint}"),
                )
            })?;
            // The endpoint must be the same server's: the headers must not go elsewhere.
            if server.post.origin() != address.origin() {
                return Err(remote(
                    &server.label,
                    "named an endpoint on another server".into(),
                ));
            }
            server.stream = Some(stream);
        }
        Ok(server)
    }

    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    fn check_status(&self, status: u16, what: &str) -> Result<(), TaskError> {
        match status {
            200..=299 => Ok(()),
            401 | 403 => Err(remote(&self.label, format!("refused to {what} ({status})"))
                .hint("check the `headers` that carry its credentials")),
            404 if self.session.is_some() => Err(remote(
                &self.label,
                format!("no longer knows this session ({status})"),
            )),
            _ => Err(remote(
                &self.label,
                format!("could not {what} (HTTP {status})"),
            )),
        }
    }

    /// POSTs one message; the response, when there is one to read.
    async fn post(
        &mut self,
        ctx: &RunContext,
        message: &Json,
    ) -> Result<reqwest::Response, TaskError> {
        if self.log_requests {
            ctx.log(
                Level::Info,
                &format!("MCP ({}) request: {message}", self.label),
            );
        }
        let mut request = self
            .http
            .post(self.post.clone())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(message.to_string());
        if let Some(s) = &self.session {
            request = request.header("mcp-session-id", s);
        }
        if let Some(p) = &self.protocol {
            request = request.header("mcp-protocol-version", p);
        }
        for (k, v) in &self.headers {
            request = request.header(k, v);
        }
        let response = request.send().await.map_err(|e| {
            client::send_error(&self.post.origin().ascii_serialization(), e.without_url())
        })?;
        self.check_status(response.status().as_u16(), "take a message")?;
        if let Some(s) = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
        {
            self.session = Some(s.to_string());
        }
        Ok(response)
    }

    /// Sends a notification (no answer awaited).
    pub(crate) async fn notify(
        &mut self,
        ctx: &RunContext,
        message: &Json,
    ) -> Result<(), TaskError> {
        self.post(ctx, message).await.map(drop)
    }

    /// Sends request `id` and waits for its answer, answering the server's own requests.
    pub(crate) async fn request(
        &mut self,
        ctx: &RunContext,
        method: &str,
        id: u64,
        message: &Json,
        log_events: bool,
    ) -> Result<Json, TaskError> {
        let response = self.post(ctx, message).await?;
        let json_answer = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/json"));
        if json_answer {
            let mut response = response;
            let mut body = Vec::new();
            loop {
                let chunk = response.chunk().await.map_err(|e| {
                    remote(
                        &self.label,
                        format!("answer could not be read ({})", e.without_url()),
                    )
                })?;
                let Some(chunk) = chunk else { break };
                body.extend_from_slice(&chunk);
                if body.len() > runner_http::sse::MAX_EVENT {
                    return Err(remote(&self.label, "answered with more than 64 MiB".into()));
                }
            }
            let answer: Json = serde_json::from_slice(&body).map_err(|_| {
                remote(
                    &self.label,
                    "answered with something that is not JSON".into(),
                )
            })?;
            return self
                .settle(ctx, method, id, answer, log_events)
                .await?
                .ok_or_else(|| remote(&self.label, "answered another request".into()));
        }
        // Events: on this response (Streamable HTTP), or on the stream opened first.
        let mut own = match self.stream.take() {
            Some(stream) => {
                drop(response);
                (stream, true)
            }
            None => (EventStream::new(response), false),
        };
        let result = loop {
            let event = match own.0.next().await {
                Ok(Some(e)) => e,
                Ok(None) => {
                    break Err(remote(
                        &self.label,
                        "ended its stream without an answer".into(),
                    ));
                }
                Err(e) => break Err(remote(&self.label, e.to_string())),
            };
            let Ok(message) = serde_json::from_str::<Json>(&event.data) else {
                continue;
            };
            match self.settle(ctx, method, id, message, log_events).await {
                Ok(Some(answer)) => break Ok(answer),
                Ok(None) => {}
                Err(e) => break Err(e),
            }
        };
        if own.1 {
            self.stream = Some(own.0);
        }
        result
    }

    /// What one message from the server is: our answer (`Some`), or something handled.
    async fn settle(
        &mut self,
        ctx: &RunContext,
        method: &str,
        id: u64,
        message: Json,
        log_events: bool,
    ) -> Result<Option<Json>, TaskError> {
        if self.log_responses {
            ctx.log(
                Level::Info,
                &format!("MCP ({}) response: {message}", self.label),
            );
        }
        match dispatch(&self.label, method, id, &message, ctx, log_events) {
            Dispatch::Answer(result) => {
                if self.protocol.is_none()
                    && let Some(p) = result
                        .as_ref()
                        .ok()
                        .and_then(|r| r["protocolVersion"].as_str())
                {
                    self.protocol = Some(p.to_string());
                }
                result.map(Some)
            }
            Dispatch::Reply(reply) => {
                self.post(ctx, &reply).await?;
                Ok(None)
            }
            Dispatch::Other => Ok(None),
        }
    }
}

/// The answer to a request of the server's that runner cannot serve, or a pong.
pub(crate) fn reply_to(their_id: &Json, method: &str) -> Json {
    if method == "ping" {
        json!({"jsonrpc": "2.0", "id": their_id, "result": {}})
    } else {
        json!({"jsonrpc": "2.0", "id": their_id,
            "error": {"code": -32601, "message": "runner does not offer this"}})
    }
}
