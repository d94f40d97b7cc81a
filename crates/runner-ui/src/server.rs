//! The HTTP side: one hyper connection per socket, a router over plain paths, and the two
//! rules every response obeys: it passes the masker, and a request that could come from
//! another site (a wrong `Host`, a write without the UI's header, a missing token) is refused.

use crate::Ui;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

type Body = BoxBody<Bytes, std::io::Error>;

/// The largest request body read into memory (the Run form's JSON); uploads are streamed.
const MAX_FORM_BYTES: usize = 4 * 1024 * 1024;

/// Serves `ui` on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, ui: Arc<Ui>) -> std::io::Result<()> {
    loop {
        let (socket, _) = match listener.accept().await {
            Ok(s) => s,
            // Out of file descriptors and the like: the next accept may work.
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let ui = ui.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let ui = ui.clone();
                async move { Ok::<_, Infallible>(handle(ui, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(socket), service)
                .await;
        });
    }
}

/// A request as the pages see it: decoded path segments and query.
pub(crate) struct Req {
    pub(crate) method: Method,
    pub(crate) segments: Vec<String>,
    pub(crate) query: BTreeMap<String, Vec<String>>,
    pub(crate) body: Bytes,
}

impl Req {
    /// The first value of a query parameter, empty ones as absent.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// What a page answers.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) content_type: &'static str,
    pub(crate) body: ReplyBody,
    pub(crate) headers: Vec<(&'static str, String)>,
}

pub(crate) enum ReplyBody {
    Bytes(Vec<u8>),
    /// Written as it is made (a file, a whole log), masked on the way: memory stays flat.
    Stream(Producer),
}

/// Writes a streamed body on a blocking thread.
pub(crate) type Producer = Box<dyn FnOnce(&mut dyn std::io::Write) -> std::io::Result<()> + Send>;

impl Reply {
    pub(crate) fn html(text: String) -> Reply {
        Reply::of(
            StatusCode::OK,
            "text/html; charset=utf-8",
            text.into_bytes(),
        )
    }

    pub(crate) fn json(value: &serde_json::Value) -> Reply {
        Reply::of(
            StatusCode::OK,
            "application/json",
            value.to_string().into_bytes(),
        )
    }

    pub(crate) fn of(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Reply {
        Reply {
            status,
            content_type,
            body: ReplyBody::Bytes(body),
            headers: Vec::new(),
        }
    }

    /// A page saying what is wrong, with a way back.
    pub(crate) fn problem(status: StatusCode, title: &str, message: &str) -> Reply {
        let body = format!(
            "<section class=\"problem\"><h1>{}</h1><p>{}</p><p><a href=\"/executions\">Executions</a> · <a href=\"/flows\">Flows</a></p></section>",
            crate::html::esc(title),
            crate::html::esc(message)
        );
        let mut r = Reply::html(crate::html::layout(title, &body));
        r.status = status;
        r
    }

    /// A JSON error for the page's scripts: `{"error": message}`.
    pub(crate) fn json_error(status: StatusCode, message: &str) -> Reply {
        let mut r = Reply::json(&serde_json::json!({ "error": message }));
        r.status = status;
        r
    }

    pub(crate) fn redirect(to: &str) -> Reply {
        let mut r = Reply::of(StatusCode::SEE_OTHER, "text/plain", Vec::new());
        r.headers.push(("location", to.to_string()));
        r
    }
}

async fn handle(ui: Arc<Ui>, req: Request<Incoming>) -> Response<Body> {
    let reply = match check(&ui, &req) {
        Err(reply) => reply,
        Ok(Some(reply)) => reply,
        Ok(None) => route(ui.clone(), req).await,
    };
    respond(&ui, reply)
}

/// Refuses what another site or machine could send; `Some` for the token's first visit
/// (sets the cookie, then sends the user on without the token in the address).
fn check(ui: &Ui, req: &Request<Incoming>) -> Result<Option<Reply>, Reply> {
    let headers = req.headers();
    let host = headers
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if ui.token.is_none() {
        let port = ui.port;
        let allowed = [
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ];
        if !allowed.iter().any(|a| a == host) {
            return Err(Reply::of(
                StatusCode::FORBIDDEN,
                "text/plain; charset=utf-8",
                format!("runner ui answers only at http://127.0.0.1:{port}/ (this request named the host `{host}`)").into_bytes(),
            ));
        }
    }
    if let Some(token) = &ui.token {
        let query = parse_query(req.uri().query().unwrap_or(""));
        let given = query.get("token").and_then(|v| v.first());
        if given.is_some_and(|g| g == token) {
            let mut r = Reply::redirect(req.uri().path());
            r.headers.push((
                "set-cookie",
                format!("runner_ui={token}; Path=/; HttpOnly; SameSite=Strict"),
            ));
            return Ok(Some(r));
        }
        let cookie_ok = headers
            .get_all(hyper::header::COOKIE)
            .iter()
            .filter_map(|c| c.to_str().ok())
            .flat_map(|c| c.split(';'))
            .any(|c| c.trim() == format!("runner_ui={token}"));
        if !cookie_ok {
            return Err(Reply::of(
                StatusCode::UNAUTHORIZED,
                "text/plain; charset=utf-8",
                b"open the address `runner ui` printed, with its ?token=".to_vec(),
            ));
        }
    }
    let writes = req.method() != Method::GET && req.method() != Method::HEAD;
    if writes && headers.get("x-runner-ui").is_none() {
        return Err(Reply::of(
            StatusCode::FORBIDDEN,
            "text/plain; charset=utf-8",
            b"a change is accepted only from runner ui's own pages (header x-runner-ui)".to_vec(),
        ));
    }
    Ok(None)
}

async fn route(ui: Arc<Ui>, req: Request<Incoming>) -> Reply {
    let method = req.method().clone();
    let segments: Vec<String> = req
        .uri()
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let query = parse_query(req.uri().query().unwrap_or(""));
    if method == Method::PUT && segments.first().is_some_and(|s| s == "uploads") {
        let name = query
            .get("name")
            .and_then(|v| v.first())
            .cloned()
            .unwrap_or_default();
        return crate::flows::upload(&ui, &name, req.into_body()).await;
    }
    let body = if method == Method::POST {
        match Limited::new(req.into_body(), MAX_FORM_BYTES)
            .collect()
            .await
        {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return Reply::json_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the form is larger than 4 MiB: give large values as files",
                );
            }
        }
    } else {
        Bytes::new()
    };
    let req = Req {
        method,
        segments,
        query,
        body,
    };
    // Pages read files; they run beside the server's own tasks.
    tokio::task::spawn_blocking(move || dispatch(&ui, &req))
        .await
        .unwrap_or_else(|_| {
            Reply::problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal error",
                "this page failed on a bug in runner ui: please report it",
            )
        })
}

fn dispatch(ui: &Ui, req: &Req) -> Reply {
    let s: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let get = req.method == Method::GET || req.method == Method::HEAD;
    match (get, s.as_slice()) {
        (true, []) => Reply::redirect("/executions"),
        (true, ["assets", "ui.css"]) => asset("text/css", include_str!("../assets/ui.css")),
        (true, ["assets", "ui.js"]) => asset(
            "text/javascript; charset=utf-8",
            include_str!("../assets/ui.js"),
        ),
        (true, ["executions"]) => crate::executions::list(ui, req),
        (true, ["executions", id]) => crate::execution::page(ui, id),
        (true, ["executions", id, "live"]) => crate::execution::live(ui, id, req),
        (true, ["executions", id, "logs.txt"]) => crate::execution::log_download(ui, id, req),
        (true, ["executions", id, "file"]) => crate::preview::preview(ui, id, req),
        (true, ["executions", _, "download"]) => crate::preview::download(ui, req),
        (true, ["kv"]) => crate::kv::namespaces(ui),
        (true, ["kv", namespace]) => crate::kv::namespace(ui, namespace),
        (true, ["flows"]) => crate::flows::list(ui),
        (true, ["assets", "editor.js"]) => match crate::editor::BUNDLE {
            "" => Reply::problem(
                StatusCode::NOT_FOUND,
                "No editor bundle",
                "this runner was built without the editor (scripts/editor-bundle.sh)",
            ),
            bundle => asset("text/javascript; charset=utf-8", bundle),
        },
        (true, ["flows", namespace, id]) => crate::flows::page(ui, namespace, id),
        (true, ["flows", namespace, id, "edit"]) => crate::editor::page(ui, namespace, id),
        (false, ["flows", namespace, id, "check"]) if req.method == Method::POST => {
            crate::editor::check(ui, namespace, id, &req.body)
        }
        (false, ["flows", namespace, id, "save"]) if req.method == Method::POST => {
            crate::editor::save(ui, namespace, id, &req.body)
        }
        (false, ["flows", namespace, id, "run"]) if req.method == Method::POST => {
            crate::flows::run(ui, namespace, id, &req.body)
        }
        (false, ["executions", id, action]) if req.method == Method::POST => {
            crate::actions::act(ui, id, action, &req.body)
        }
        _ => Reply::problem(
            StatusCode::NOT_FOUND,
            "Not found",
            "runner ui has no such page",
        ),
    }
}

fn asset(content_type: &'static str, text: &'static str) -> Reply {
    let mut r = Reply::of(StatusCode::OK, content_type, text.as_bytes().to_vec());
    r.headers.push(("cache-control", "no-cache".to_string()));
    r
}

/// The reply as hyper sends it; every body passes the masker here, the one way out.
fn respond(ui: &Ui, reply: Reply) -> Response<Body> {
    let mut builder = Response::builder()
        .status(reply.status)
        .header("content-type", reply.content_type)
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        // The pages' own script and styles only: no CDN, nothing injected runs.
        .header(
            "content-security-policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'",
        );
    for (k, v) in &reply.headers {
        builder = builder.header(*k, v);
    }
    let body: Body = match reply.body {
        ReplyBody::Bytes(bytes) => Full::new(Bytes::from(ui.masker.mask_bytes(&bytes)))
            .map_err(|never: Infallible| match never {})
            .boxed(),
        ReplyBody::Stream(produce) => stream(ui.masker.clone(), produce),
    };
    builder.body(body).unwrap_or_else(|_| {
        Response::new(
            Full::new(Bytes::from_static(b"bad response"))
                .map_err(|never: Infallible| match never {})
                .boxed(),
        )
    })
}

/// A body written on a blocking thread, masked, and sent as it goes.
fn stream(masker: Arc<runner_secrets::Masker>, produce: Producer) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        struct Send(tokio::sync::mpsc::Sender<Result<Frame<Bytes>, std::io::Error>>);
        impl std::io::Write for Send {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0
                    .blocking_send(Ok(Frame::data(Bytes::copy_from_slice(buf))))
                    .map_err(|_| std::io::Error::other("the client went away"))?;
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let result = (|| {
            let mut out = runner_secrets::MaskingWriter::new(
                &masker,
                std::io::BufWriter::with_capacity(64 * 1024, Send(tx.clone())),
            );
            produce(&mut out)?;
            out.finish().map(|_| ())
        })();
        if let Err(e) = result {
            let _ = tx.blocking_send(Err(e));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    StreamBody::new(stream).boxed()
}

pub(crate) fn parse_query(query: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.entry(percent_decode(&k.replace('+', " ")))
            .or_default()
            .push(percent_decode(&v.replace('+', " ")));
    }
    out
}

pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `s` as one component of a URL's path or query.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_paths_decode() {
        let q = parse_query("flow=a+b&state=FAILED&state=KILLED&uri=kestra%3A%2F%2F%2Fx");
        assert_eq!(q["flow"], vec!["a b"]);
        assert_eq!(q["state"], vec!["FAILED", "KILLED"]);
        assert_eq!(q["uri"], vec!["kestra:///x"]);
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_encode("a b/é"), "a%20b%2F%C3%A9");
    }
}
