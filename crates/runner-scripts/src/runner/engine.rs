//! A small client of the Docker Engine API (dockerd, or podman's compatible service): one
//! HTTP/1.1 connection per call over the engine's Unix socket or plain TCP, JSON in and out,
//! bodies streamed both ways. It speaks the version the engine offers, capped at the newest
//! one whose fields it uses, because dockerd refuses versioned calls newer than its own.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value as Json;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;

/// The newest API version this client needs (Docker 23); older engines get their own.
const NEWEST: (u32, u32) = (1, 43);
/// Where Docker listens when nothing says otherwise.
pub(crate) const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// Where the engine listens.
#[derive(Clone, Debug)]
pub(crate) enum Address {
    Unix(PathBuf),
    Tcp(String),
}

impl Address {
    /// `unix:///path`, `tcp://host:port` (or `http://`); TLS is not spoken.
    pub(crate) fn parse(host: &str) -> Result<Address, String> {
        if let Some(path) = host.strip_prefix("unix://") {
            return Ok(Address::Unix(PathBuf::from(path)));
        }
        for scheme in ["tcp://", "http://"] {
            if let Some(rest) = host.strip_prefix(scheme) {
                let authority = rest.trim_end_matches('/');
                if authority.is_empty() || authority.contains('/') {
                    break;
                }
                return Ok(Address::Tcp(authority.to_string()));
            }
        }
        Err(format!(
            "`{host}` is not an engine address runner can reach: use `unix:///path/to/docker.sock` or `tcp://host:port` (without TLS)"
        ))
    }
}

/// Why a call did not give an answer.
#[derive(Debug)]
pub enum CallError {
    /// Nothing answered at the address (no socket, refused, timed out).
    Unreachable(std::io::Error),
    /// The engine answered with an error status and its message.
    Status(StatusCode, String),
    /// The answer could not be read.
    Protocol(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Unreachable(e) => write!(f, "{e}"),
            CallError::Status(code, message) => write!(f, "{message} (HTTP {})", code.as_u16()),
            CallError::Protocol(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CallError {}

/// A request body: nothing, a few bytes, or chunks sent by another task.
pub enum Body {
    Empty,
    Full(Option<Bytes>),
    Channel(mpsc::Receiver<std::io::Result<Bytes>>),
}

impl Body {
    pub fn json(value: &Json) -> Body {
        Body::Full(Some(Bytes::from(value.to_string())))
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.get_mut() {
            Body::Empty => Poll::Ready(None),
            Body::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Body::Channel(rx) => rx
                .poll_recv(cx)
                .map(|chunk| chunk.map(|r| r.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Empty | Body::Full(None))
    }
}

/// A connected engine, with the API version both sides speak.
#[derive(Clone, Debug)]
pub struct Engine {
    address: Address,
    /// The host as the user wrote it, for messages.
    host: String,
    prefix: String,
}

impl Engine {
    /// Asks the engine its version (`GET /version`, which every version answers) and keeps
    /// the older of its version and ours. `timeout` bounds the whole exchange.
    pub(crate) async fn connect(host: &str, timeout: Duration) -> Result<Engine, CallError> {
        let address = Address::parse(host).map_err(CallError::Protocol)?;
        let mut engine = Engine {
            address,
            host: host.to_string(),
            prefix: String::new(),
        };
        let version = tokio::time::timeout(timeout, engine.json(Method::GET, "/version", None))
            .await
            .map_err(|_| {
                CallError::Unreachable(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer in {} s", timeout.as_secs()),
                ))
            })??;
        let theirs = version
            .get("ApiVersion")
            .and_then(Json::as_str)
            .and_then(parse_version)
            .ok_or_else(|| {
                CallError::Protocol(format!(
                    "the engine at {host} did not say which API version it speaks"
                ))
            })?;
        let (major, minor) = theirs.min(NEWEST);
        engine.prefix = format!("/v{major}.{minor}");
        Ok(engine)
    }

    /// The engine's address as the user wrote it, for messages.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// A body-less request with registry credentials (`X-Registry-Auth`), for pulls.
    pub(crate) async fn send_with_auth(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
    ) -> Result<Response<Incoming>, CallError> {
        self.request(method, path, None, auth, Body::Empty).await
    }

    /// Sends one request and returns the response once its head arrives; the body streams.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Body,
    ) -> Result<Response<Incoming>, CallError> {
        self.request(method, path, content_type, None, body).await
    }

    pub(crate) async fn request(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        auth: Option<&str>,
        body: Body,
    ) -> Result<Response<Incoming>, CallError> {
        let uri = format!("{}{path}", self.prefix);
        let mut request = Request::builder()
            .method(method)
            .uri(&uri)
            .header(hyper::header::HOST, "docker");
        if let Some(ct) = content_type {
            request = request.header(hyper::header::CONTENT_TYPE, ct);
        }
        if let Some(a) = auth {
            request = request.header("X-Registry-Auth", a);
        }
        let request = request
            .body(body)
            .map_err(|e| CallError::Protocol(format!("cannot build the request {uri}: {e}")))?;
        let mut sender = match &self.address {
            Address::Unix(path) => {
                let stream = tokio::net::UnixStream::connect(path)
                    .await
                    .map_err(CallError::Unreachable)?;
                handshake(stream).await?
            }
            Address::Tcp(authority) => {
                let stream = tokio::net::TcpStream::connect(authority.as_str())
                    .await
                    .map_err(CallError::Unreachable)?;
                handshake(stream).await?
            }
        };
        sender
            .send_request(request)
            .await
            .map_err(|e| CallError::Protocol(format!("the engine dropped the request: {e}")))
    }

    /// A call with a JSON answer (or none); an error status becomes `CallError::Status` with
    /// the engine's `message`.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<Json>,
    ) -> Result<Json, CallError> {
        let (ct, body) = match &body {
            Some(v) => (Some("application/json"), Body::json(v)),
            None => (None, Body::Empty),
        };
        let response = self.send(method, path, ct, body).await?;
        let status = response.status();
        let bytes = read_limited(response.into_body(), 16 << 20).await?;
        if !status.is_success() {
            return Err(CallError::Status(status, message_of(&bytes)));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Json::Null);
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| CallError::Protocol(format!("the engine's answer is not JSON: {e}")))
    }

    /// Removes a container now, blocking: used when a run is dropped (timeout, Ctrl-C, a
    /// failed sibling), where no await is possible. It kills first, because a shell that is
    /// PID 1 ignores the SIGTERM a forced removal sends.
    /// With a `grace` period, the container is first asked to stop (SIGTERM) for that long.
    pub(crate) fn remove_blocking(&self, container: &str, volume: Option<&str>, grace: Duration) {
        if !grace.is_zero() {
            let _ = self.call_blocking(
                "POST",
                &format!("/containers/{container}/stop?t={}", grace.as_secs().max(1)),
                grace,
            );
        }
        let calls = [
            (
                "POST",
                format!("/containers/{container}/kill?signal=SIGKILL"),
            ),
            (
                "DELETE",
                format!("/containers/{container}?force=true&v=true"),
            ),
        ];
        for (method, path) in calls {
            let _ = self.call_blocking(method, &path, Duration::ZERO);
        }
        if let Some(v) = volume {
            self.remove_volume_blocking(v);
        }
    }

    pub(crate) fn remove_volume_blocking(&self, volume: &str) {
        let _ = self.call_blocking(
            "DELETE",
            &format!("/volumes/{volume}?force=true"),
            Duration::ZERO,
        );
    }

    fn call_blocking(&self, method: &str, path: &str, extra: Duration) -> std::io::Result<()> {
        let request = format!(
            "{method} {}{path} HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.prefix
        );
        let timeout = Some(Duration::from_secs(15) + extra);
        let mut answer = Vec::new();
        match &self.address {
            Address::Unix(p) => {
                let mut s = std::os::unix::net::UnixStream::connect(p)?;
                s.set_read_timeout(timeout)?;
                s.set_write_timeout(timeout)?;
                s.write_all(request.as_bytes())?;
                s.take(64 << 10).read_to_end(&mut answer)?;
            }
            Address::Tcp(a) => {
                let mut s = std::net::TcpStream::connect(a.as_str())?;
                s.set_read_timeout(timeout)?;
                s.set_write_timeout(timeout)?;
                s.write_all(request.as_bytes())?;
                s.take(64 << 10).read_to_end(&mut answer)?;
            }
        }
        Ok(())
    }
}

async fn handshake<S>(stream: S) -> Result<hyper::client::conn::http1::SendRequest<Body>, CallError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| CallError::Protocol(format!("cannot speak HTTP to the engine: {e}")))?;
    tokio::spawn(async move {
        // Ends with the response body; its errors reach the reader of that body.
        let _ = connection.await;
    });
    Ok(sender)
}

/// Reads a whole body, refusing one larger than `limit` (engine answers are small).
pub(crate) async fn read_limited(mut body: Incoming, limit: usize) -> Result<Vec<u8>, CallError> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| CallError::Protocol(format!("cannot read the engine's answer: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                return Err(CallError::Protocol(format!(
                    "the engine's answer is larger than {} MiB",
                    limit >> 20
                )));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

/// The engine's error message: `{"message": "..."}`, or the text itself.
pub(crate) fn message_of(bytes: &[u8]) -> String {
    serde_json::from_slice::<Json>(bytes)
        .ok()
        .and_then(|v| v.get("message").and_then(Json::as_str).map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(bytes).trim().to_string())
}

fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Encodes one query value (image names, paths).
pub fn query(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A multiplexed log stream (no TTY): each frame is 8 bytes (stream, 0, 0, 0, big-endian
/// length) and its payload. Frames arrive cut anywhere, so the reader keeps partial state.
#[derive(Default)]
pub(crate) struct Demux {
    header: Vec<u8>,
    stream: u8,
    remaining: usize,
}

impl Demux {
    /// Splits `chunk` into (stream, payload) pieces: 1 is stdout, 2 stderr.
    pub(crate) fn feed<'a>(&mut self, mut chunk: &'a [u8], out: &mut Vec<(u8, &'a [u8])>) {
        while !chunk.is_empty() {
            if self.remaining == 0 {
                let need = 8 - self.header.len();
                let take = need.min(chunk.len());
                self.header.extend_from_slice(&chunk[..take]);
                chunk = &chunk[take..];
                if self.header.len() == 8 {
                    self.stream = self.header[0];
                    self.remaining = u32::from_be_bytes([
                        self.header[4],
                        self.header[5],
                        self.header[6],
                        self.header[7],
                    ]) as usize;
                    self.header.clear();
                }
                continue;
            }
            let take = self.remaining.min(chunk.len());
            out.push((self.stream, &chunk[..take]));
            self.remaining -= take;
            chunk = &chunk[take..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert!(
            matches!(Address::parse("unix:///run/x.sock"), Ok(Address::Unix(p)) if p == std::path::Path::new("/run/x.sock"))
        );
        assert!(
            matches!(Address::parse("tcp://127.0.0.1:2375"), Ok(Address::Tcp(a)) if a == "127.0.0.1:2375")
        );
        let err = Address::parse("ssh://me@host").unwrap_err();
        assert!(err.contains("unix:///path/to/docker.sock"), "{err}");
        assert!(Address::parse("tcp://").is_err());
    }

    #[test]
    fn versions_are_capped_at_ours() {
        assert_eq!(parse_version("1.41"), Some((1, 41)));
        assert_eq!(parse_version("1.52").unwrap().min(NEWEST), NEWEST);
        assert_eq!(parse_version("x"), None);
    }

    #[test]
    fn demux_joins_frames_cut_anywhere() {
        let mut bytes = vec![1, 0, 0, 0, 0, 0, 0, 3];
        bytes.extend_from_slice(b"abc");
        bytes.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 2]);
        bytes.extend_from_slice(b"de");
        for cut in 0..bytes.len() {
            let mut d = Demux::default();
            let mut got: Vec<(u8, Vec<u8>)> = Vec::new();
            for part in [&bytes[..cut], &bytes[cut..]] {
                let mut out = Vec::new();
                d.feed(part, &mut out);
                got.extend(out.into_iter().map(|(s, p)| (s, p.to_vec())));
            }
            let mut joined: Vec<(u8, Vec<u8>)> = Vec::new();
            for (s, p) in got {
                match joined.last_mut() {
                    Some((ls, lp)) if *ls == s => lp.extend(p),
                    _ => joined.push((s, p)),
                }
            }
            assert_eq!(
                joined,
                vec![(1, b"abc".to_vec()), (2, b"de".to_vec())],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(query("localhost/img:1 x&y"), "localhost/img%3A1%20x%26y");
    }

    #[test]
    fn messages_come_from_the_json_or_the_text() {
        assert_eq!(
            message_of(br#"{"message":"no such image"}"#),
            "no such image"
        );
        assert_eq!(message_of(b"plain\n"), "plain");
    }
}
