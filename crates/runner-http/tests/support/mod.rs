//! A real HTTP/1.1 server on loopback for the HTTP task tests, recording every request it
//! receives (method, path, query, headers, body), with handlers for the cases the tasks must
//! handle: echo, status codes with bodies, redirects, gzip, named and sized files, a body
//! cut short, a slow answer, Basic and Digest authentication, and a forward proxy.

#![allow(dead_code, unreachable_pub)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use serde_json::{Value as Json, json};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const TASKS: &[&[runner_core::TaskDescriptor]] = &[
    runner_core::TASKS,
    runner_core_tasks::TASKS,
    runner_http::TASKS,
];

/// What the server saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// As sent on the request line (absolute-form through the proxy).
    pub target: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// `HTTP/1.1` or `HTTP/2.0`.
    pub version: String,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct Server {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The requests seen so far at `path`.
    pub fn at(&self, path: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }
}

type Body = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

fn full(status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::builder().status(status);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.body(
        Full::new(body.into())
            .map_err(|never| match never {})
            .boxed(),
    )
    .unwrap()
}

pub async fn start() -> Server {
    serve(None).await
}

/// The same server over TLS, with a certificate for `localhost` from a test CA no system
/// trusts. Returns the server and the CA certificate's path.
pub async fn start_tls(dir: &std::path::Path) -> Server {
    serve(Some(tls_acceptor(dir, false))).await
}

/// The TLS server offering HTTP/2 by ALPN (and HTTP/1.1 to clients that do not ask for it).
pub async fn start_h2(dir: &std::path::Path) -> Server {
    serve(Some(tls_acceptor(dir, true))).await
}

fn tls_acceptor(dir: &std::path::Path, h2: bool) -> tokio_rustls::TlsAcceptor {
    use rustls_pki_types::pem::PemObject;
    let ca = runner_testkit::certificate_authority(dir, "http");
    let (cert, key) = runner_testkit::server_certificate(dir, &ca, "localhost");
    let certs = rustls_pki_types::CertificateDer::pem_file_iter(&cert)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls_pki_types::PrivateKeyDer::from_pem_file(&key).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    if h2 {
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    }
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

async fn serve(tls: Option<tokio_rustls::TlsAcceptor>) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let log = seen.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let log = log.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| handle(req, log.clone()));
                let http = hyper::server::conn::http1::Builder::new();
                match tls {
                    Some(acceptor) => {
                        let Ok(stream) = acceptor.accept(stream).await else {
                            return;
                        };
                        let io = hyper_util::rt::TokioIo::new(stream);
                        if io.inner().get_ref().1.alpn_protocol() == Some(b"h2") {
                            let h2 = hyper::server::conn::http2::Builder::new(
                                hyper_util::rt::TokioExecutor::new(),
                            );
                            let _ = h2.serve_connection(io, service).await;
                        } else {
                            let _ = http.serve_connection(io, service).await;
                        }
                    }
                    None => {
                        let _ = http
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    }
                }
            });
        }
    });
    Server {
        addr,
        seen,
        _task: task,
    }
}

async fn handle(
    req: Request<Incoming>,
    log: Arc<Mutex<Vec<Seen>>>,
) -> Result<Response<Body>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let seen = Seen {
        method: parts.method.to_string(),
        target: parts.uri.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
        version: format!("{:?}", parts.version),
    };
    log.lock().unwrap().push(seen.clone());
    // Absolute-form over HTTP/1: this server is being used as a forward proxy (HTTP/2
    // requests always carry the scheme and authority).
    if parts.version != hyper::Version::HTTP_2 && parts.uri.scheme().is_some() {
        let auth = seen.header("proxy-authorization").unwrap_or("").to_string();
        return Ok(full(
            200,
            &[("content-type", "application/json")],
            json!({"proxied": seen.target, "auth": auth}).to_string(),
        ));
    }
    let path = seen.path.clone();
    let param = |name: &str| {
        seen.query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
    };
    let response = match path.as_str() {
        "/echo" => full(
            200,
            &[
                ("content-type", "application/json"),
                ("x-multi", "a"),
                ("x-multi", "b"),
            ],
            json!({
                "method": seen.method,
                "query": seen.query,
                "body": String::from_utf8_lossy(&seen.body),
            })
            .to_string(),
        ),
        p if p.starts_with("/status/") => {
            let code: u16 = p["/status/".len()..].parse().unwrap_or(500);
            full(code, &[], format!("nope {code}"))
        }
        "/redirect" => full(302, &[("location", "/echo?from=redirect")], ""),
        "/to-metadata" => full(
            302,
            &[("location", "http://169.254.169.254/latest/meta-data/")],
            "",
        ),
        "/gzip" => {
            use std::io::Write;
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(b"unzipped text").unwrap();
            full(200, &[("content-encoding", "gzip")], enc.finish().unwrap())
        }
        "/named" => full(
            200,
            &[(
                "content-disposition",
                "attachment; filename=\"monthly report.csv\"",
            )],
            "a,b\n1,2\n",
        ),
        "/sized" => {
            // A body of `size` bytes, streamed in 64 KiB chunks.
            let size: u64 = param("size").and_then(|s| s.parse().ok()).unwrap_or(0);
            let chunk = Bytes::from(vec![b'x'; 64 << 10]);
            let stream = futures_util::stream::unfold(size, move |left| {
                let chunk = chunk.clone();
                async move {
                    if left == 0 {
                        return None;
                    }
                    let n = left.min(chunk.len() as u64);
                    Some((
                        Ok::<_, std::io::Error>(Frame::data(chunk.slice(..n as usize))),
                        left - n,
                    ))
                }
            });
            Response::builder()
                .status(200)
                .header("content-length", size.to_string())
                .body(StreamBody::new(stream).boxed())
                .unwrap()
        }
        "/empty" => full(200, &[], ""),
        "/hooks/fail/T0K3N-in-the-path" => full(500, &[], "invalid_payload"),
        p if p.starts_with("/hooks/") => full(200, &[], "ok"),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            full(200, &[], "late")
        }
        "/basic" => {
            // alice:s3cret
            if seen.header("authorization") == Some("Basic YWxpY2U6czNjcmV0") {
                full(200, &[], "welcome")
            } else {
                full(
                    401,
                    &[("www-authenticate", "Basic realm=\"t\"")],
                    "who are you",
                )
            }
        }
        "/bearer" => {
            if seen.header("authorization") == Some("Bearer tok-123") {
                full(200, &[], "welcome")
            } else {
                full(401, &[], "no token")
            }
        }
        "/digest" => match seen.header("authorization") {
            Some(a) if digest_ok(a, &seen.method) => full(200, &[], "welcome digest"),
            _ => full(
                401,
                &[(
                    "www-authenticate",
                    "Digest realm=\"runner\", qop=\"auth\", nonce=\"abc123\", opaque=\"op\"",
                )],
                "challenge",
            ),
        },
        _ => full(404, &[], "no such path"),
    };
    Ok(response)
}

/// Checks a Digest answer for alice:s3cret, computed here independently.
fn digest_ok(header: &str, method: &str) -> bool {
    let field = |k: &str| {
        header
            .split(", ")
            .find_map(|kv| {
                kv.trim_start_matches("Digest ")
                    .strip_prefix(&format!("{k}="))
            })
            .map(|v| v.trim_matches('"').to_string())
    };
    let (Some(uri), Some(nc), Some(cnonce), Some(response)) = (
        field("uri"),
        field("nc"),
        field("cnonce"),
        field("response"),
    ) else {
        return false;
    };
    let md5 = |s: &str| {
        let out = std::process::Command::new("sh")
            .args(["-c", &format!("printf %s '{s}' | md5sum | cut -c1-32")])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let ha1 = md5("alice:runner:s3cret");
    let ha2 = md5(&format!("{method}:{uri}"));
    response == md5(&format!("{ha1}:abc123:{nc}:{cnonce}:auth:{ha2}"))
}

/// A server that answers every connection with exactly `bytes` and closes it: for answers
/// a well-behaved server cannot give (a body shorter than its Content-Length).
pub async fn raw(bytes: &'static [u8]) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = stream.write_all(bytes).await;
            let _ = stream.shutdown().await;
        }
    });
    addr
}

use runner_core::plugin::NetworkPolicy;

pub async fn run(yaml: &str) -> runner_testkit::Run {
    run_with(yaml, Vec::new(), NetworkPolicy::default()).await
}

pub async fn run_with(
    yaml: &str,
    environment: Vec<(String, String)>,
    network: NetworkPolicy,
) -> runner_testkit::Run {
    let mut services = runner_core::Services::default();
    services.insert(network);
    runner_testkit::run_flow_opts(
        TASKS,
        yaml,
        runner_testkit::RunOptions {
            environment,
            services,
            ..Default::default()
        },
    )
    .await
}

/// A flow of the given tasks (indented as list items under `tasks:`).
pub fn flow(tasks: &str) -> String {
    format!("id: http\nnamespace: company.team\ntasks:\n{tasks}")
}

pub fn body_json(run: &runner_testkit::Run, task: &str) -> Json {
    serde_json::from_str(run.outputs(task)["body"].as_str().expect("a body")).expect("JSON body")
}

/// The state of task `task`'s run.
pub fn state_of(run: &runner_testkit::Run, task: &str) -> String {
    run.record["taskRunList"]
        .as_array()
        .and_then(|l| l.iter().find(|t| t["taskId"] == task))
        .and_then(|t| t["state"]["current"].as_str())
        .unwrap_or_default()
        .to_string()
}
