//! Request and Download against a real HTTP server on loopback: what each property sends,
//! as the server saw it, and every output and error message the tasks give.

mod support;

use serde_json::json;
use support::{body_json, flow, run, run_with, start};

#[tokio::test]
async fn a_request_sends_method_params_headers_and_body() {
    let server = start().await;
    let r = run(&flow(&format!(
        r#"  - id: call
    type: io.kestra.plugin.core.http.Request
    uri: "{url}"
    method: post
    params:
      q: hello world
      tag: [a, b]
    headers:
      X-Trace: "{{{{ flow.id }}}}"
      Content-Type: application/json
    body: '{{"n": 1}}'
"#,
        url = server.url("/echo")
    )))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let seen = &server.at("/echo")[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.query, "q=hello+world&tag=a&tag=b");
    assert_eq!(seen.header("x-trace"), Some("http"));
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(seen.body, br#"{"n": 1}"#);
    let out = r.outputs("call");
    assert_eq!(out["code"], 200);
    assert_eq!(out["headers"]["x-multi"], json!(["a", "b"]));
    assert_eq!(out["headers"]["content-type"], json!(["application/json"]));
    assert!(
        out["uri"]
            .as_str()
            .unwrap()
            .ends_with("/echo?q=hello+world&tag=a&tag=b")
    );
    assert_eq!(body_json(&r, "call")["method"], "POST");
}

#[tokio::test]
async fn defaults_spaces_and_a_body_with_its_content_type() {
    let server = start().await;
    let r = run(&flow(&format!(
        "  - id: get\n    type: io.kestra.plugin.fs.http.Request\n    uri: \"{}\"\n  - id: post\n    type: io.kestra.plugin.core.http.Request\n    uri: \"{}\"\n    method: PUT\n    contentType: text/plain\n    body: plain text\n",
        server.url("/echo?x=a b"),
        server.url("/echo")
    )))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let seen = server.at("/echo");
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].query, "x=a%20b");
    // With neither body nor headers, Kestra sends the content type alone.
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    assert_eq!(seen[1].method, "PUT");
    assert_eq!(
        seen[1].header("content-type"),
        Some("text/plain; charset=UTF-8")
    );
    assert_eq!(seen[1].body, b"plain text");
}

#[tokio::test]
async fn form_data_is_url_encoded_or_multipart_with_files_from_storage() {
    let server = start().await;
    let local = std::env::temp_dir().join(format!("runner-http-{}.txt", std::process::id()));
    std::fs::write(&local, "file body").unwrap();
    let yaml = format!(
        r#"id: http
namespace: company.team
inputs:
  - id: data
    type: FILE
tasks:
  - id: form
    type: io.kestra.plugin.core.http.Request
    uri: "{url}"
    method: POST
    formData:
      name: Ada Lovelace
      n: 3
  - id: multi
    type: io.kestra.plugin.core.http.Request
    uri: "{url}"
    method: POST
    contentType: multipart/form-data
    formData:
      title: report
      upload: "{{{{ inputs.data }}}}"
      named:
        name: renamed.txt
        content: "{{{{ inputs.data }}}}"
"#,
        url = server.url("/echo")
    );
    let r = runner_testkit::run_flow_opts(
        support::TASKS,
        &yaml,
        runner_testkit::RunOptions {
            inputs: vec![("data".into(), local.display().to_string())],
            ..Default::default()
        },
    )
    .await;
    let _ = std::fs::remove_file(&local);
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let seen = server.at("/echo");
    assert_eq!(
        seen[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(seen[0].body, b"name=Ada+Lovelace&n=3");
    let multipart = String::from_utf8_lossy(&seen[1].body);
    let boundary = seen[1]
        .header("content-type")
        .unwrap()
        .strip_prefix("multipart/form-data; boundary=")
        .expect("a multipart content type")
        .to_string();
    // Three parts, each as sent: a text field and two files (one renamed).
    let parts: Vec<&str> = multipart
        .split(&format!("--{boundary}"))
        .filter(|p| p.contains("Content-Disposition"))
        .collect();
    assert_eq!(parts.len(), 3, "{multipart}");
    assert!(
        parts[0].contains("name=\"title\"\r\n\r\nreport\r\n"),
        "{multipart}"
    );
    assert!(
        parts[1].contains("name=\"upload\"; filename=\""),
        "{multipart}"
    );
    assert!(parts[1].ends_with("\r\n\r\nfile body\r\n"), "{multipart}");
    assert!(
        parts[2].contains("name=\"named\"; filename=\"renamed.txt\""),
        "{multipart}"
    );
    assert!(parts[2].ends_with("\r\n\r\nfile body\r\n"), "{multipart}");
}

#[tokio::test]
async fn a_refused_status_fails_with_kesras_message_unless_allowed() {
    let server = start().await;
    let r = run(&flow(&format!(
        "  - id: call\n    type: io.kestra.plugin.core.http.Request\n    uri: \"{}\"\n",
        server.url("/status/404")
    )))
    .await;
    assert_eq!(r.state.as_str(), "FAILED");
    let failure = r
        .logs
        .lines()
        .position(|l| {
            l.ends_with("ERROR [call] Failed http request with response code '404' and body:")
        })
        .expect("Kestra's message");
    assert_eq!(
        r.logs.lines().nth(failure + 1).map(str::trim),
        Some("nope 404"),
        "{}",
        r.logs
    );

    let r = run(&flow(&format!(
        "  - id: allowed\n    type: io.kestra.plugin.core.http.Request\n    uri: \"{url}\"\n    options:\n      allowFailed: true\n  - id: listed\n    type: io.kestra.plugin.core.http.Request\n    uri: \"{url}\"\n    options:\n      allowedResponseCodes: [404]\n  - id: legacy\n    type: io.kestra.plugin.core.http.Request\n    uri: \"{url}\"\n    allowFailed: true\n",
        url = server.url("/status/404")
    )))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    for t in ["allowed", "listed", "legacy"] {
        assert_eq!(r.outputs(t)["code"], 404, "{t}");
        assert_eq!(r.outputs(t)["body"], "nope 404", "{t}");
    }

    // allowedResponseCodes alone decides: a 200 not in the list fails.
    let r = run(&flow(&format!(
        "  - id: call\n    type: io.kestra.plugin.core.http.Request\n    uri: \"{}\"\n    options:\n      allowedResponseCodes: [201]\n",
        server.url("/echo")
    )))
    .await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(r.logs.contains("response code '200'"), "{}", r.logs);
}

#[tokio::test]
async fn redirects_gzip_and_timeouts() {
    let server = start().await;
    let r = run(&flow(&format!(
        "  - id: follow\n    type: io.kestra.plugin.core.http.Request\n    uri: \"{r}\"\n  - id: stay\n    type: io.kestra.plugin.core.http.Request\n    uri: \"{r}\"\n    options:\n      followRedirects: false\n  - id: zipped\n    type: io.kestra.plugin.core.http.Request\n    uri: \"{g}\"\n",
        r = server.url("/redirect"),
        g = server.url("/gzip")
    )))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert_eq!(body_json(&r, "follow")["query"], "from=redirect");
    assert_eq!(r.outputs("stay")["code"], 302);
    assert_eq!(
        r.outputs("stay")["headers"]["location"],
        json!(["/echo?from=redirect"])
    );
    assert_eq!(r.outputs("zipped")["body"], "unzipped text");

    let started = std::time::Instant::now();
    let r = run(&flow(&format!(
        "  - id: slow\n    type: io.kestra.plugin.core.http.Request\n    uri: \"{}\"\n    options:\n      timeout:\n        readIdleTimeout: PT0.5S\n",
        server.url("/slow")
    )))
    .await;
    assert!(started.elapsed().as_secs() < 4, "{:?}", started.elapsed());
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(r.logs.contains("timed out"), "{}", r.logs);
}

#[tokio::test]
async fn basic_bearer_and_digest_authentication() {
    let server = start().await;
    let r = run_with(
        &flow(&format!(
            r#"  - id: basic
    type: io.kestra.plugin.core.http.Request
    uri: "{basic}"
    options:
      auth:
        type: BASIC
        username: alice
        password: "{{{{ secret('PW') }}}}"
  - id: legacy
    type: io.kestra.plugin.core.http.Request
    uri: "{basic}"
    options:
      basicAuthUser: alice
      basicAuthPassword: "{{{{ secret('PW') }}}}"
  - id: bearer
    type: io.kestra.plugin.core.http.Request
    uri: "{bearer}"
    options:
      auth:
        type: BEARER
        token: tok-123
  - id: digest
    type: io.kestra.plugin.core.http.Request
    uri: "{digest}"
    options:
      auth:
        type: DIGEST
        username: alice
        password: "{{{{ secret('PW') }}}}"
      logs: [REQUEST_HEADERS, RESPONSE_HEADERS]
"#,
            basic = server.url("/basic"),
            bearer = server.url("/bearer"),
            digest = server.url("/digest")
        )),
        vec![("SECRET_PW".into(), "czNjcmV0".into())],
        Default::default(),
    )
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.outputs("basic")["body"], "welcome");
    assert_eq!(r.outputs("legacy")["body"], "welcome");
    assert_eq!(r.outputs("bearer")["body"], "welcome");
    assert_eq!(r.outputs("digest")["body"], "welcome digest");
    assert_eq!(
        server.at("/digest").len(),
        2,
        "a challenge, then the answer"
    );
    // The logs show the exchange but never the credentials.
    assert!(r.logs.contains("Response 200"), "{}", r.logs);
    assert!(
        !r.logs.contains("s3cret") && !r.logs.contains("YWxpY2U6czNjcmV0"),
        "{}",
        r.logs
    );
    let record = r.record.to_string();
    assert!(!record.contains("s3cret"), "{record}");
}

#[tokio::test]
async fn a_proxy_carries_the_request_with_its_credentials() {
    let proxy = start().await;
    let r = run(&flow(&format!(
        r#"  - id: via
    type: io.kestra.plugin.core.http.Request
    uri: http://upstream.invalid/thing
    options:
      proxy:
        type: HTTP
        address: 127.0.0.1
        port: {port}
        username: p
        password: q
"#,
        port = proxy.addr.port()
    )))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let seen = proxy.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].target, "http://upstream.invalid/thing");
    assert_eq!(body_json(&r, "via")["auth"], "Basic cDpx");
}

#[tokio::test]
async fn link_local_addresses_are_refused_unless_allowed() {
    let server = start().await;
    let yaml = flow(
        "  - id: meta\n    type: io.kestra.plugin.core.http.Request\n    uri: http://169.254.169.254/latest/meta-data/\n",
    );
    let r = run(&yaml).await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        r.logs.contains("`169.254.169.254` is a link-local address")
            && r.logs.contains("--allow-link-local"),
        "{}",
        r.logs
    );
    // A redirect there is refused too.
    let r = run(&flow(&format!(
        "  - id: hop\n    type: io.kestra.plugin.core.http.Request\n    uri: \"{}\"\n",
        server.url("/to-metadata")
    )))
    .await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(r.logs.contains("link-local"), "{}", r.logs);
    // With the setting, the request is attempted (and fails to connect here, quickly).
    let r = run_with(
        &yaml.replace(
            "/latest/meta-data/\n",
            "/latest/meta-data/\n    options:\n      timeout:\n        connectTimeout: PT0.2S\n",
        ),
        Vec::new(),
        runner_core::plugin::NetworkPolicy {
            allow_link_local: true,
        },
    )
    .await;
    assert!(!r.logs.contains("is a link-local address"), "{}", r.logs);
}

#[tokio::test]
async fn bad_properties_say_what_is_wrong() {
    let r = run(&flow(
        "  - id: call\n    type: io.kestra.plugin.core.http.Request\n    uri: http://127.0.0.1:1/\n    params:\n      n: 3\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        r.logs.contains("Unsupported param type: java.lang.Integer"),
        "{}",
        r.logs
    );
    let r = run(&flow(
        "  - id: call\n    type: io.kestra.plugin.core.http.Request\n    uri: ftp://example.com/x\n",
    ))
    .await;
    assert!(
        r.logs.contains("is not an http:// or https:// URI"),
        "{}",
        r.logs
    );
    let r = run(&flow(
        "  - id: call\n    type: io.kestra.plugin.core.http.Request\n    uri: http://127.0.0.1:1/\n    encryptBody: true\n",
    ))
    .await;
    assert!(r.logs.contains("no Kestra server key"), "{}", r.logs);
    let r = run(&flow(
        "  - id: call\n    type: io.kestra.plugin.core.http.Request\n    uri: http://127.0.0.1:1/\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        r.logs
            .contains("HTTP request to http://127.0.0.1:1/ could not connect"),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn download_streams_to_storage_with_the_servers_name() {
    let server = start().await;
    let r = run(&flow(&format!(
        "  - id: named\n    type: io.kestra.plugin.core.http.Download\n    uri: \"{named}\"\n  - id: sized\n    type: io.kestra.plugin.fs.http.Download\n    uri: \"{sized}\"\n  - id: as\n    type: io.kestra.plugin.core.http.Download\n    uri: \"{named}\"\n    saveAs: mine.csv\n",
        named = server.url("/named"),
        sized = server.url("/sized?size=300000")
    )))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let named = r.outputs("named");
    assert!(
        named["uri"]
            .as_str()
            .unwrap()
            .ends_with("/monthly+report.csv"),
        "{named}"
    );
    assert_eq!(
        std::fs::read_to_string(r.file(named["uri"].as_str().unwrap())).unwrap(),
        "a,b\n1,2\n"
    );
    assert_eq!(named["code"], 200);
    assert_eq!(named["length"], 8);
    let sized = r.outputs("sized");
    assert_eq!(sized["length"], 300000);
    assert_eq!(
        std::fs::metadata(r.file(sized["uri"].as_str().unwrap()))
            .unwrap()
            .len(),
        300000
    );
    assert!(
        r.outputs("as")["uri"]
            .as_str()
            .unwrap()
            .ends_with("/mine.csv")
    );
}

#[tokio::test]
async fn a_broken_or_empty_download_leaves_no_file() {
    let server = start().await;
    // Promises 1000 bytes, sends 100, then closes.
    let mut short = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec();
    short.extend_from_slice(&[b'y'; 100]);
    let cut = support::raw(short.leak()).await;
    let r = run(&flow(&format!(
        "  - id: cut\n    type: io.kestra.plugin.core.http.Download\n    uri: \"http://{cut}/cut.bin\"\n"
    )))
    .await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(r.logs.contains("after 100 bytes of the body"), "{}", r.logs);
    let files: Vec<_> = runner_testkit_files(&r.storage);
    assert!(files.iter().all(|f| !f.contains("/cut/")), "{files:?}");
    assert!(files.is_empty(), "{files:?}");

    let r = run(&flow(&format!(
        "  - id: empty\n    type: io.kestra.plugin.core.http.Download\n    uri: \"{u}\"\n",
        u = server.url("/empty")
    )))
    .await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(r.logs.contains("No response from server"), "{}", r.logs);
    let r = run(&flow(&format!(
        "  - id: empty\n    type: io.kestra.plugin.core.http.Download\n    uri: \"{u}\"\n    failOnEmptyResponse: false\n",
        u = server.url("/empty")
    )))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert!(
        r.logs.contains("WARN  [empty] File 'kestra://"),
        "{}",
        r.logs
    );
    assert_eq!(r.outputs("empty")["length"], 0);
}

/// Every file under the storage folder but execution records.
fn runner_testkit_files(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if !p.ends_with("execution.json") && !p.ends_with("logs.jsonl") {
                // The record and the log are the execution's, not files a task left.
                out.push(p.display().to_string());
            }
        }
    }
    out
}

#[tokio::test]
async fn tls_trusts_the_system_roots_unless_told_to_trust_all() {
    let dir = std::env::temp_dir().join(format!("runner-http-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let server = support::start_tls(&dir).await;
    let url = format!("https://localhost:{}/echo", server.addr.port());
    let r = run(&flow(&format!(
        "  - id: strict\n    type: io.kestra.plugin.core.http.Request\n    uri: \"{url}\"\n"
    )))
    .await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        r.logs.contains(&format!(
            "HTTP request to {url} failed: the server's TLS certificate is not trusted"
        )),
        "{}",
        r.logs
    );
    assert!(
        r.logs.contains("UnknownIssuer") && r.logs.contains("insecureTrustAllCertificates"),
        "{}",
        r.logs
    );
    assert!(server.at("/echo").is_empty());

    let r = run(&flow(&format!(
        "  - id: trusting\n    type: io.kestra.plugin.core.http.Request\n    uri: \"{url}\"\n    options:\n      ssl:\n        insecureTrustAllCertificates: true\n  - id: legacy\n    type: io.kestra.plugin.core.http.Request\n    uri: \"{url}\"\n    sslOptions:\n      insecureTrustAllCertificates: true\n"
    )))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert_eq!(body_json(&r, "trusting")["method"], "GET");
    assert_eq!(server.at("/echo").len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn http2_is_spoken_when_the_server_offers_it() {
    let dir = std::env::temp_dir().join(format!("runner-http-h2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let server = support::start_h2(&dir).await;
    let base = format!("https://localhost:{}", server.addr.port());
    let r = run(&flow(&format!(
        "  - id: post\n    type: io.kestra.plugin.core.http.Request\n    uri: \"{base}/echo?via=h2\"\n    method: POST\n    contentType: text/plain\n    body: over two\n    options:\n      ssl:\n        insecureTrustAllCertificates: true\n  - id: fetch\n    type: io.kestra.plugin.core.http.Download\n    uri: \"{base}/sized?size=300000\"\n    options:\n      ssl:\n        insecureTrustAllCertificates: true\n"
    )))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let seen = server.at("/echo");
    assert_eq!(seen[0].version, "HTTP/2.0");
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].query, "via=h2");
    assert_eq!(seen[0].body, b"over two");
    assert_eq!(r.outputs("post")["code"], 200);
    assert_eq!(body_json(&r, "post")["body"], "over two");
    assert_eq!(server.at("/sized")[0].version, "HTTP/2.0");
    assert_eq!(r.outputs("fetch")["length"], 300000);
    // HTTP/2 has no reason phrase and lower-case names: the headers output is still a map of lists.
    assert_eq!(
        r.outputs("fetch")["headers"]["content-length"],
        json!(["300000"])
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// The function blocks the rendering thread until its answer comes: the test server needs
// other threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_function_returns_the_decoded_body() {
    let server = start().await;
    let yaml = flow(&format!(
        r#"  - id: log
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ http(uri='{echo}', method='POST', query={{'a': 'b c'}}, body={{'k': 1}}, headers={{'X-One': 'yes'}}).method }}}} {{{{ http(uri='{named}') }}}}"
  - id: fails
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ http(uri='{missing}') }}}}"
"#,
        echo = server.url("/echo"),
        named = server.url("/named"),
        missing = server.url("/status/404"),
    ));
    let r = runner_testkit::run_flow_opts(
        support::TASKS,
        &yaml,
        runner_testkit::RunOptions {
            http: Some(runner_http::function(Default::default())),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.outputs("log")["value"], "POST a,b\n1,2\n", "{}", r.logs);
    let seen = &server.at("/echo")[0];
    assert_eq!(seen.query, "a=b+c");
    assert_eq!(seen.body, br#"{"k":1}"#);
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(seen.header("accept"), Some("application/json"));
    assert_eq!(seen.header("x-one"), Some("yes"));
    assert_eq!(support::state_of(&r, "fails"), "FAILED");
    assert!(
        r.logs
            .contains("Failed to execute HTTP Request, server respond with status 404 : Not Found"),
        "{}",
        r.logs
    );
    // Without a client (validate, tests), it says so; without a uri, Kestra's message.
    let r = run(&flow(
        "  - id: a\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ http(uri='http://127.0.0.1:1/') }}\"\n",
    ))
    .await;
    assert!(
        r.logs.contains("http() is not available here"),
        "{}",
        r.logs
    );
    let r = run(&flow(
        "  - id: b\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ http() }}\"\n",
    ))
    .await;
    assert!(
        r.logs
            .contains("The 'http' function expects an argument 'uri'."),
        "{}",
        r.logs
    );
}

/// What the SOCKS5 proxy of the test saw: the credentials offered and the target asked for.
#[derive(Clone, Debug, Default)]
struct SocksSeen {
    user: String,
    password: String,
    target: String,
}

/// A SOCKS5 proxy (RFC 1928, username/password of RFC 1929) on loopback that records each
/// connection and relays it to the target.
async fn socks5() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<SocksSeen>>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let record = record.clone();
            tokio::spawn(async move {
                let mut s = SocksSeen::default();
                let mut head = [0u8; 2];
                client.read_exact(&mut head).await?;
                let mut methods = vec![0u8; head[1] as usize];
                client.read_exact(&mut methods).await?;
                // Username/password when offered, else none.
                if methods.contains(&2) {
                    client.write_all(&[5, 2]).await?;
                    let mut v = [0u8; 2];
                    client.read_exact(&mut v).await?;
                    let mut user = vec![0u8; v[1] as usize];
                    client.read_exact(&mut user).await?;
                    let mut plen = [0u8; 1];
                    client.read_exact(&mut plen).await?;
                    let mut password = vec![0u8; plen[0] as usize];
                    client.read_exact(&mut password).await?;
                    s.user = String::from_utf8_lossy(&user).into_owned();
                    s.password = String::from_utf8_lossy(&password).into_owned();
                    client.write_all(&[1, 0]).await?;
                } else {
                    client.write_all(&[5, 0]).await?;
                }
                let mut req = [0u8; 4];
                client.read_exact(&mut req).await?;
                let host = match req[3] {
                    1 => {
                        let mut ip = [0u8; 4];
                        client.read_exact(&mut ip).await?;
                        std::net::Ipv4Addr::from(ip).to_string()
                    }
                    3 => {
                        let mut len = [0u8; 1];
                        client.read_exact(&mut len).await?;
                        let mut name = vec![0u8; len[0] as usize];
                        client.read_exact(&mut name).await?;
                        String::from_utf8_lossy(&name).into_owned()
                    }
                    _ => return Ok::<(), std::io::Error>(()),
                };
                let mut port = [0u8; 2];
                client.read_exact(&mut port).await?;
                let port = u16::from_be_bytes(port);
                s.target = format!("{host}:{port}");
                record.lock().unwrap().push(s);
                // Every name leads to loopback: the test's server is the only upstream.
                let mut upstream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
                client.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0]).await?;
                tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
                Ok(())
            });
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn a_socks_proxy_resolves_the_name_and_gets_the_credentials() {
    let server = start().await;
    let (proxy, seen) = socks5().await;
    let r = run(&flow(&format!(
        r#"  - id: via
    type: io.kestra.plugin.core.http.Request
    uri: http://upstream.example:{port}/echo
    options:
      proxy:
        type: SOCKS
        address: 127.0.0.1
        port: {proxy_port}
        username: sockuser
        password: sockpass
"#,
        port = server.addr.port(),
        proxy_port = proxy.port()
    )))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    // The proxy resolved the name (socks5h), as Java's SOCKS proxies do.
    assert_eq!(
        seen[0].target,
        format!("upstream.example:{}", server.addr.port())
    );
    assert_eq!(
        (seen[0].user.as_str(), seen[0].password.as_str()),
        ("sockuser", "sockpass")
    );
    assert_eq!(server.at("/echo").len(), 1);
    assert!(!r.logs.contains("sockpass"), "{}", r.logs);
}
