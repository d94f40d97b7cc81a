//! SendGridMailSend and SendGridMailExecution against a contract server: a real HTTP server on
//! loopback that answers as SendGrid's v3 mail API documents (`POST /v3/mail/send`, a bearer
//! key, 202 with `X-Message-Id`, 400/401 with `{"errors": [...]}`) and checks each request
//! against the API's published schema. No SendGrid server runs here; this is not the live
//! service.

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use runner_testkit::{RunOptions, run_flow_opts};
use serde_json::{Value as Json, json};
use std::sync::{Arc, Mutex};

const KEY: &str = "SG.test-key.0123456789abcdef";

/// One request the contract server accepted.
#[derive(Clone, Debug)]
struct Seen {
    body: Json,
}

struct Contract {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    requests: Arc<Mutex<usize>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Contract {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn error(status: u16, message: &str, field: Option<&str>) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            json!({"errors": [{"message": message, "field": field, "help": null}]}).to_string(),
        )))
        .unwrap()
}

fn valid_email(e: &Json) -> bool {
    e["email"]
        .as_str()
        .is_some_and(|s| s.contains('@') && !s.contains(' '))
}

/// SendGrid's documented rules for a mail/send body; the first broken one, as SendGrid
/// reports it (message, field).
fn check(body: &Json) -> Result<(), (String, String)> {
    let fail = |m: &str, f: &str| Err((m.to_string(), f.to_string()));
    let Some(obj) = body.as_object() else {
        return fail("Bad Request", "");
    };
    const KNOWN: &[&str] = &[
        "personalizations",
        "from",
        "reply_to",
        "reply_to_list",
        "subject",
        "content",
        "attachments",
        "template_id",
        "headers",
        "categories",
        "custom_args",
        "send_at",
        "batch_id",
        "asm",
        "ip_pool_name",
        "mail_settings",
        "tracking_settings",
    ];
    if let Some(k) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return fail("Unknown field", k);
    }
    if !valid_email(&body["from"]) {
        return fail(
            "The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter.",
            "from",
        );
    }
    let Some(ps) = body["personalizations"]
        .as_array()
        .filter(|p| !p.is_empty())
    else {
        return fail(
            "The personalizations field is required and must have at least one personalization.",
            "personalizations",
        );
    };
    for (i, p) in ps.iter().enumerate() {
        let Some(to) = p["to"].as_array().filter(|t| !t.is_empty()) else {
            return fail(
                "The to array is required for all personalization objects, and must have at least one email object with a valid email address.",
                &format!("personalizations.{i}.to"),
            );
        };
        for list in ["to", "cc", "bcc"] {
            if let Some(l) = p.get(list) {
                let Some(l) = l.as_array() else {
                    return fail("must be an array", &format!("personalizations.{i}.{list}"));
                };
                if !l.iter().all(valid_email) {
                    return fail(
                        "Does not contain a valid address.",
                        &format!("personalizations.{i}.{list}"),
                    );
                }
            }
        }
        let _ = to;
        if body.get("subject").is_none() && p["subject"].as_str().is_none_or(str::is_empty) {
            return fail(
                "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.",
                "subject",
            );
        }
    }
    let Some(content) = body["content"].as_array().filter(|c| !c.is_empty()) else {
        return fail(
            "Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block. We typically suggest both text/plain and text/html blocks are included, but only one block is required.",
            "content",
        );
    };
    let types: Vec<&str> = content
        .iter()
        .map(|c| c["type"].as_str().unwrap_or(""))
        .collect();
    for (i, c) in content.iter().enumerate() {
        if c["value"].as_str().is_none_or(str::is_empty) {
            return fail(
                "The content value must be a string at least one character in length.",
                &format!("content.{i}.value"),
            );
        }
    }
    if let (Some(p), Some(h)) = (
        types.iter().position(|t| *t == "text/plain"),
        types.iter().position(|t| *t == "text/html"),
    ) && p > h
    {
        return fail(
            "If present, text/plain content must be first, followed by text/html, followed by any other content.",
            "content",
        );
    }
    for (i, a) in body["attachments"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let ok = a["content"]
            .as_str()
            .is_some_and(|c| base64::engine::general_purpose::STANDARD.decode(c).is_ok());
        if !ok {
            return fail(
                "The attachment content must be base64 encoded.",
                &format!("attachments.{i}.content"),
            );
        }
        if a["filename"].as_str().is_none_or(str::is_empty) {
            return fail(
                "The attachment filename parameter is required.",
                &format!("attachments.{i}.filename"),
            );
        }
        match a["disposition"].as_str() {
            None | Some("attachment") => {}
            Some("inline") => {
                if a["content_id"].as_str().is_none() {
                    return fail(
                        "The content_id parameter is required when disposition is inline.",
                        &format!("attachments.{i}.content_id"),
                    );
                }
            }
            Some(_) => {
                return fail(
                    "The disposition of your attachment can be either \"inline\" or \"attachment\".",
                    &format!("attachments.{i}.disposition"),
                );
            }
        }
    }
    Ok(())
}

async fn handle(
    req: hyper::Request<hyper::body::Incoming>,
    seen: Arc<Mutex<Vec<Seen>>>,
    requests: Arc<Mutex<usize>>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    *requests.lock().unwrap() += 1;
    if req.method() != hyper::Method::POST || req.uri().path() != "/v3/mail/send" {
        return Ok(error(404, "Not Found", None));
    }
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if auth != format!("Bearer {KEY}") {
        return Ok(error(
            401,
            "The provided authorization grant is invalid, expired, or revoked",
            None,
        ));
    }
    let json_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_type {
        return Ok(error(415, "Content-Type should be application/json.", None));
    }
    let bytes = req.into_body().collect().await.unwrap().to_bytes();
    let Ok(body) = serde_json::from_slice::<Json>(&bytes) else {
        return Ok(error(400, "Bad Request", None));
    };
    if let Err((message, field)) = check(&body) {
        return Ok(error(400, &message, Some(&field)));
    }
    seen.lock().unwrap().push(Seen { body });
    Ok(hyper::Response::builder()
        .status(202)
        .header("x-message-id", "contract-message-1")
        .body(Full::new(Bytes::new()))
        .unwrap())
}

async fn contract() -> Contract {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let requests: Arc<Mutex<usize>> = Arc::default();
    let (s, r) = (seen.clone(), requests.clone());
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (s, r) = (s.clone(), r.clone());
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req| handle(req, s.clone(), r.clone()));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Contract {
        url,
        seen,
        requests,
        task,
    }
}

async fn run(
    yaml: &str,
    server: &Contract,
    key: &str,
    inputs: &[(&str, &str)],
) -> runner_testkit::Run {
    run_flow_opts(
        &[
            runner_core::TASKS,
            runner_core_tasks::TASKS,
            runner_mail::TASKS,
        ],
        yaml,
        RunOptions {
            inputs: inputs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            environment: vec![
                ("RUNNER_SENDGRID_URL".into(), server.url.clone()),
                (
                    "SECRET_SENDGRID_API_KEY".into(),
                    base64::engine::general_purpose::STANDARD.encode(key),
                ),
            ],
            ..RunOptions::default()
        },
    )
    .await
}

#[test]
fn the_contract_refuses_what_sendgrid_refuses() {
    let good = json!({
        "from": {"email": "a@example.com"},
        "personalizations": [{"to": [{"email": "b@example.com"}], "subject": "s"}],
        "content": [{"type": "text/plain", "value": "x"}, {"type": "text/html", "value": "<p>x</p>"}]
    });
    assert!(check(&good).is_ok());
    let mut html_first = good.clone();
    html_first["content"] =
        json!([{"type": "text/html", "value": "h"}, {"type": "text/plain", "value": "p"}]);
    assert_eq!(check(&html_first).unwrap_err().1, "content");
    let mut no_subject = good.clone();
    no_subject["personalizations"][0]
        .as_object_mut()
        .unwrap()
        .remove("subject");
    assert_eq!(check(&no_subject).unwrap_err().1, "subject");
    let mut inline = good.clone();
    inline["attachments"] =
        json!([{"content": "eA==", "filename": "x.png", "disposition": "inline"}]);
    assert_eq!(check(&inline).unwrap_err().1, "attachments.0.content_id");
}

#[tokio::test]
async fn send_posts_the_documented_request_with_files_in_base64() {
    let server = contract().await;
    let dir = std::env::temp_dir().join(format!("runner-sendgrid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let binary: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(dir.join("data.bin"), &binary).unwrap();
    let yaml = r#"id: sg
namespace: company.team
inputs:
  - id: data
    type: FILE
tasks:
  - id: csv
    type: io.kestra.plugin.core.storage.Write
    content: "id\n1\n"
    extension: .csv
  - id: send
    type: io.kestra.plugin.notifications.sendgrid.SendGridMailSend
    sendgridApiKey: "{{ secret('SENDGRID_API_KEY') }}"
    from: reports@example.com
    to:
      - ada@example.com
      - "{{ 'grace' }}@example.com"
    cc:
      - ops@example.com
    subject: "Report {{ flow.id }}"
    textContent: ""
    htmlContent: "<p>Report</p><img src=\"cid:logo.png\">"
    attachments:
      - name: data.bin
        uri: "{{ inputs.data }}"
      - name: ids.csv
        uri: "{{ outputs.csv.uri }}"
        contentType: text/csv
    embeddedImages:
      - name: logo.png
        uri: "{{ outputs.csv.uri }}"
        contentType: image/png
"#;
    let data = dir.join("data.bin").to_string_lossy().into_owned();
    let r = run(yaml, &server, KEY, &[("data", &data)]).await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert!(!r.logs.contains(KEY) && !r.record.to_string().contains(KEY));
    let out = r.outputs("send");
    assert_eq!(out["statusCode"], 202);
    assert_eq!(out["body"], "");
    assert_eq!(out["headers"]["x-message-id"], "contract-message-1");
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let body = &seen[0].body;
    assert_eq!(body["from"], json!({"email": "reports@example.com"}));
    assert_eq!(
        body["personalizations"],
        json!([{
            "to": [{"email": "ada@example.com"}, {"email": "grace@example.com"}],
            "cc": [{"email": "ops@example.com"}],
            "subject": "Report sg"
        }])
    );
    // An empty textContent is Kestra's sentence; text first, then HTML.
    assert_eq!(
        body["content"],
        json!([
            {"type": "text/plain", "value": "Please view this email in a modern email client"},
            {"type": "text/html", "value": "<p>Report</p><img src=\"cid:logo.png\">"}
        ])
    );
    let files = body["attachments"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    let decoded = |i: usize| {
        base64::engine::general_purpose::STANDARD
            .decode(files[i]["content"].as_str().unwrap())
            .unwrap()
    };
    assert_eq!(files[0]["filename"], "data.bin");
    assert_eq!(files[0]["type"], "application/octet-stream");
    assert_eq!(files[0]["disposition"], "attachment");
    assert!(decoded(0) == binary);
    assert_eq!(files[1]["type"], "text/csv");
    assert_eq!(decoded(1), b"id\n1\n");
    assert_eq!(files[2]["disposition"], "inline");
    assert_eq!(files[2]["content_id"], "logo.png");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn execution_mail_summarizes_the_failure() {
    let server = contract().await;
    let yaml = r#"id: nightly
namespace: company.team
tasks:
  - id: load
    type: io.kestra.plugin.core.execution.Fail
errors:
  - id: notify
    type: io.kestra.plugin.twilio.sendgrid.SendGridMailExecution
    sendgridApiKey: "{{ secret('SENDGRID_API_KEY') }}"
    from: alerts@example.com
    to: [oncall@example.com]
    subject: Nightly failed
"#;
    let r = run(yaml, &server, KEY, &[]).await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert_eq!(r.outputs("notify")["statusCode"], 202, "{}", r.logs);
    let seen = server.seen.lock().unwrap().clone();
    let content = &seen[0].body["content"];
    assert_eq!(
        content[0]["value"],
        "Please view this email in a modern email client"
    );
    let html = content[1]["value"].as_str().unwrap();
    assert!(html.contains("[company.team] nightly ➛ "), "{html}");
    assert!(
        html.contains("Failed on task `load` after 00:00:"),
        "{html}"
    );
    assert!(
        html.contains("<strong>Final task ID:</strong> load<br>"),
        "{html}"
    );
}

#[tokio::test]
async fn a_wrong_key_or_a_missing_file_fails_clearly() {
    let server = contract().await;
    let yaml = r#"id: sg
namespace: company.team
tasks:
  - id: send
    type: io.kestra.plugin.twilio.sendgrid.SendGridMailSend
    sendgridApiKey: "{{ secret('SENDGRID_API_KEY') }}"
    from: reports@example.com
    to: [ada@example.com]
    subject: hi
    htmlContent: "<p>hi</p>"
"#;
    let wrong = "SG.wrong-key-value";
    let r = run(yaml, &server, wrong, &[]).await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        r.logs.contains(
            r#"SendGrid API failed with status code: 401 and body: {"errors":[{"message":"The provided authorization grant is invalid, expired, or revoked","field":null,"help":null}]}"#
        ),
        "{}",
        r.logs
    );
    assert!(r.logs.contains("check sendgridApiKey"), "{}", r.logs);
    assert!(!r.logs.contains(wrong), "{}", r.logs);
    assert_eq!(*server.requests.lock().unwrap(), 1);

    let missing = yaml.replace(
        "    htmlContent: \"<p>hi</p>\"\n",
        "    htmlContent: \"<p>hi</p>\"\n    attachments:\n      - name: r.csv\n        uri: \"kestra:///company/team/sg/executions/{{ execution.id }}/tasks/x/y/none.csv\"\n",
    );
    let r = run(&missing, &server, KEY, &[]).await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(r.logs.contains("attachments[0] (`r.csv`):"), "{}", r.logs);
    assert!(r.logs.contains("nothing was sent"), "{}", r.logs);
    assert_eq!(*server.requests.lock().unwrap(), 1, "no second request");

    let empty = yaml.replace("    htmlContent: \"<p>hi</p>\"\n", "");
    let r = run(&empty, &server, KEY, &[]).await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        r.logs
            .contains("SendGrid needs content: give htmlContent or textContent"),
        "{}",
        r.logs
    );
    assert_eq!(*server.requests.lock().unwrap(), 1);
}
