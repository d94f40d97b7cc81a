//! A server that answers each route with the JSON documents a test scripts, in order (the last
//! one again when they run out), and keeps every request it got. For contract tests of APIs
//! that cannot run here (a hosted search API) and of protocol paths a small real model does
//! not take reliably (a chat model that stops calling tools).

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::Value as Json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One request as the server got it.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    /// The path and query, as sent.
    pub target: String,
    pub authorization: Option<String>,
    /// The body, parsed when it is JSON.
    pub body: Json,
}

type Script = HashMap<(String, String), (Vec<Json>, usize)>;

pub struct ScriptedServer {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    _server: crate::http::HttpServer,
}

impl ScriptedServer {
    /// `routes`: (method, path) and the answers to give there, in order.
    pub fn start(routes: Vec<(&str, &str, Vec<Json>)>) -> ScriptedServer {
        let script: Script = routes
            .into_iter()
            .map(|(m, p, answers)| ((m.to_string(), p.to_string()), (answers, 0)))
            .collect();
        let script = Arc::new(Mutex::new(script));
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let kept = received.clone();
        let server = crate::http::serve(move |req| answer(req, script.clone(), kept.clone()));
        ScriptedServer {
            port: server.port,
            received,
            _server: server,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn answer(
    req: hyper::Request<hyper::body::Incoming>,
    script: Arc<Mutex<Script>>,
    kept: Arc<Mutex<Vec<Received>>>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let method = req.method().to_string();
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let path = req.uri().path().to_string();
    let authorization = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Json::String(String::from_utf8_lossy(&bytes).to_string()));
    kept.lock().unwrap().push(Received {
        method: method.clone(),
        target,
        authorization,
        body,
    });
    let mut script = script.lock().unwrap();
    let Some((answers, next)) = script.get_mut(&(method, path)) else {
        return Ok(hyper::Response::builder()
            .status(404)
            .body(Full::new(Bytes::from_static(
                b"{\"error\":\"not scripted\"}",
            )))
            .unwrap());
    };
    let Some(reply) = answers
        .get((*next).min(answers.len().saturating_sub(1)))
        .cloned()
    else {
        return Ok(hyper::Response::builder()
            .status(500)
            .body(Full::new(Bytes::from_static(
                b"{\"error\":\"no answer scripted\"}",
            )))
            .unwrap());
    };
    *next += 1;
    Ok(hyper::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(reply.to_string())))
        .unwrap())
}
