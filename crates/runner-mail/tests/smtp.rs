//! MailSend and MailExecution against a real SMTP server on loopback (aiosmtpd, from the test
//! kit) with a login and STARTTLS, implicit TLS, or none; its certificate comes from a test CA
//! the run trusts through `SSL_CERT_FILE`. The server writes what it received; the tests read
//! it back (parsed by Python's email package) and compare headers, both bodies and every file
//! byte for byte.

use base64::Engine;
use runner_testkit::smtp::{SmtpServer, SmtpTls};
use runner_testkit::{RunOptions, run_flow_opts};
use serde_json::Value as Json;

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn decode(part: &Json) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(part["data"].as_str().unwrap())
        .unwrap()
}

fn header<'a>(message: &'a Json, name: &str) -> Option<&'a str> {
    message["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0].as_str().unwrap().eq_ignore_ascii_case(name))
        .map(|h| h[1].as_str().unwrap())
}

fn part<'a>(message: &'a Json, content_type: &str) -> &'a Json {
    message["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["content_type"] == content_type)
        .unwrap_or_else(|| panic!("no {content_type} part in {message:#}"))
}

async fn run(
    yaml: &str,
    server: &SmtpServer,
    inputs: &[(&str, &str)],
    trust: bool,
) -> runner_testkit::Run {
    let mut environment = vec![("SECRET_SMTP_PASSWORD".to_string(), b64(&server.password))];
    if trust {
        environment.push((
            "SSL_CERT_FILE".to_string(),
            server.ca.to_string_lossy().into_owned(),
        ));
    }
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
            environment,
            ..RunOptions::default()
        },
    )
    .await
}

fn assert_no_password(r: &runner_testkit::Run, server: &SmtpServer) {
    assert!(!r.logs.contains(&server.password), "{}", r.logs);
    assert!(!r.record.to_string().contains(&server.password));
}

#[tokio::test]
async fn starttls_login_sends_both_bodies_files_and_images_byte_for_byte() {
    let server = SmtpServer::start(SmtpTls::StartTls);
    let dir = std::env::temp_dir().join(format!("runner-mail-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Every byte value, over several of the sender's blocks.
    let binary: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.join("data.bin"), &binary).unwrap();
    let logo: Vec<u8> = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR fake but binary \x00\xff".to_vec();
    std::fs::write(dir.join("logo.png"), &logo).unwrap();
    let yaml = format!(
        r#"id: mail
namespace: company.team
inputs:
  - id: data
    type: FILE
  - id: logo
    type: FILE
tasks:
  - id: csv
    type: io.kestra.plugin.core.storage.Write
    content: "id,name\n1,Ada\n2,Grace\n"
    extension: .csv
  - id: send
    type: io.kestra.plugin.notifications.mail.MailSend
    host: localhost
    port: {port}
    transportStrategy: SMTP_TLS
    username: {user}
    password: "{{{{ secret('SMTP_PASSWORD') }}}}"
    from: "Runner Reports <reports@example.com>"
    to: "ada@example.com; Grace Hopper <grace@example.com>"
    cc: ops@example.com
    subject: "Rapport — été ✓ {{{{ flow.id }}}}"
    plainTextContent: "Hello,\nthe report is attached.\n.\nA line = with an equals sign and trailing space "
    htmlTextContent: "<p>Hello <b>été</b></p><img src=\"cid:logo.png\">"
    attachments:
      - name: data.bin
        uri: "{{{{ inputs.data }}}}"
      - name: people.csv
        uri: "{{{{ outputs.csv.uri }}}}"
        contentType: text/csv
    embeddedImages: '[{{"name": "logo.png", "uri": "{{{{ inputs.logo }}}}", "contentType": "image/png"}}]'
"#,
        port = server.port,
        user = server.user,
    );
    let data = dir.join("data.bin").to_string_lossy().into_owned();
    let logo_path = dir.join("logo.png").to_string_lossy().into_owned();
    let r = run(
        &yaml,
        &server,
        &[("data", &data), ("logo", &logo_path)],
        true,
    )
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert_no_password(&r, &server);
    assert!(
        r.logs.contains(&format!(
            "Sent an email to ada@example.com, grace@example.com, ops@example.com through localhost:{} with 3 file(s)",
            server.port
        )),
        "{}",
        r.logs
    );
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m["mail_from"], "reports@example.com");
    assert_eq!(
        m["rcpt_tos"],
        serde_json::json!(["ada@example.com", "grace@example.com", "ops@example.com"])
    );
    assert_eq!(m["login"], server.user.as_str());
    assert_eq!(m["tls"], true);
    assert_eq!(header(m, "Subject"), Some("Rapport — été ✓ mail"));
    assert_eq!(
        header(m, "From"),
        Some("Runner Reports <reports@example.com>")
    );
    assert_eq!(
        header(m, "To"),
        Some("ada@example.com, Grace Hopper <grace@example.com>")
    );
    assert_eq!(header(m, "Cc"), Some("ops@example.com"));
    assert_eq!(
        header(m, "Return-Receipt-To"),
        Some("Runner Reports <reports@example.com>")
    );
    assert!(header(m, "Message-ID").is_some_and(|id| id.ends_with("@example.com>")));
    assert!(header(m, "Date").is_some());
    // Only 7-bit text on the wire.
    assert!(m["raw"].as_str().unwrap().is_ascii());
    let kinds: Vec<&str> = m["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p["multipart"]
                .as_str()
                .or(p["content_type"].as_str())
                .unwrap()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "multipart/mixed",
            "multipart/related",
            "multipart/alternative",
            "text/plain",
            "text/html",
            "image/png",
            "application/octet-stream",
            "text/csv"
        ]
    );
    // Text goes in MIME's canonical form: its line breaks are CRLF on the wire, and the lone
    // "." line survived SMTP's dot-stuffing.
    assert_eq!(
        String::from_utf8(decode(part(m, "text/plain"))).unwrap(),
        "Hello,\r\nthe report is attached.\r\n.\r\nA line = with an equals sign and trailing space "
    );
    assert_eq!(
        String::from_utf8(decode(part(m, "text/html"))).unwrap(),
        "<p>Hello <b>été</b></p><img src=\"cid:logo.png\">"
    );
    let image = part(m, "image/png");
    assert_eq!(decode(image), logo);
    assert_eq!(image["content_id"], "<logo.png>");
    assert_eq!(image["disposition"], "inline");
    let bin = part(m, "application/octet-stream");
    assert_eq!(bin["filename"], "data.bin");
    assert_eq!(bin["disposition"], "attachment");
    assert!(decode(bin) == binary, "the binary attachment differs");
    let csv = part(m, "text/csv");
    assert_eq!(csv["filename"], "people.csv");
    assert_eq!(decode(csv), b"id,name\n1,Ada\n2,Grace\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn implicit_tls_is_the_default_and_mail_execution_describes_the_failure() {
    let server = SmtpServer::start(SmtpTls::Implicit);
    let yaml = format!(
        r#"id: nightly
namespace: company.team
tasks:
  - id: extract
    type: io.kestra.plugin.core.log.Log
    message: extracting
  - id: load
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: the warehouse is down
errors:
  - id: notify
    type: io.kestra.plugin.email.MailExecution
    host: localhost
    port: {port}
    username: {user}
    password: "{{{{ secret('SMTP_PASSWORD') }}}}"
    from: alerts@example.com
    to: oncall@example.com
    customMessage: "Nightly <load>"
    customFields:
      Team: data
"#,
        port = server.port,
        user = server.user,
    );
    let r = run(&yaml, &server, &[], true).await;
    assert_eq!(r.state.as_str(), "FAILED", "{}", r.logs);
    assert_eq!(
        r.record["taskRunList"][2]["state"]["current"], "SUCCESS",
        "{}",
        r.logs
    );
    assert_no_password(&r, &server);
    let messages = server.messages();
    assert_eq!(messages.len(), 1, "{}", r.logs);
    let m = &messages[0];
    assert_eq!(m["tls"], true);
    // No subject given: the summary's title.
    let subject = header(m, "Subject").unwrap();
    assert!(
        subject.starts_with("[company.team] nightly ➛ "),
        "{subject}"
    );
    assert_eq!(
        String::from_utf8(decode(part(m, "text/plain"))).unwrap(),
        "Please view this email in a modern email client"
    );
    let html = String::from_utf8(decode(part(m, "text/html"))).unwrap();
    assert!(
        html.contains("Failed on task <code>load</code> after 00:00:"),
        "{html}"
    );
    assert!(html.contains("<p>Nightly &lt;load&gt;</p>"), "{html}");
    assert!(html.contains("<strong>Team :</strong> data"), "{html}");
    assert!(
        html.contains("<strong>Flow:</strong> nightly<br>"),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "<strong>Execution:</strong> {}<br>",
            r.record["id"].as_str().unwrap()
        )),
        "{html}"
    );
    assert!(
        html.contains("<strong>Final task ID:</strong> load<br>"),
        "{html}"
    );
}

#[tokio::test]
async fn a_wrong_password_names_host_port_and_user_never_the_password() {
    let server = SmtpServer::start(SmtpTls::StartTls);
    let yaml = format!(
        r#"id: mail
namespace: company.team
tasks:
  - id: send
    type: io.kestra.plugin.email.MailSend
    host: localhost
    port: {port}
    transportStrategy: SMTP_TLS
    username: {user}
    password: "{{{{ secret('SMTP_PASSWORD') }}}}-wrong"
    from: reports@example.com
    to: ada@example.com
    subject: hi
"#,
        port = server.port,
        user = server.user,
    );
    let r = run(&yaml, &server, &[], true).await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        r.logs.contains(&format!(
            "the SMTP server at localhost:{} refused the login of user `{}`: permanent error (535): 5.7.8 Authentication credentials invalid",
            server.port, server.user
        )),
        "{}",
        r.logs
    );
    assert!(r.logs.contains("check username and password"), "{}", r.logs);
    assert_no_password(&r, &server);
    assert!(!r.logs.contains("-wrong"), "{}", r.logs);
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn smtp_oauth2_logs_in_with_the_access_token() {
    let server = SmtpServer::start(SmtpTls::StartTls);
    let task = |id: &str, token: &str| {
        format!(
            "  - id: {id}\n    type: io.kestra.plugin.email.MailSend\n    host: localhost\n    port: {}\n    transportStrategy: SMTP_OAUTH2\n    username: {}\n    accessToken: \"{token}\"\n    from: reports@example.com\n    to: ada@example.com\n    subject: \"{id}\"\n    plainTextContent: by oauth\n    allowFailure: true\n",
            server.port, server.user
        )
    };
    let yaml = format!(
        "id: mail\nnamespace: company.team\ntasks:\n{}{}",
        task("good", "{{ secret('SMTP_PASSWORD') }}"),
        task("bad", "{{ secret('SMTP_PASSWORD') }}-expired"),
    );
    let r = run(&yaml, &server, &[], true).await;
    assert_eq!(r.state.as_str(), "WARNING", "{}", r.logs);
    assert_no_password(&r, &server);
    let messages = server.messages();
    assert_eq!(messages.len(), 1, "{}", r.logs);
    assert_eq!(messages[0]["login"], server.user.as_str());
    assert_eq!(messages[0]["tls"], true);
    assert_eq!(header(&messages[0], "Subject"), Some("good"));
    assert!(
        r.logs.contains(&format!(
            "[bad] the SMTP server at localhost:{} refused the login of user `{}`",
            server.port, server.user
        )),
        "{}",
        r.logs
    );
    assert!(
        r.logs.contains("or accessToken with SMTP_OAUTH2"),
        "{}",
        r.logs
    );
    assert!(!r.logs.contains("-expired"), "{}", r.logs);
}

#[tokio::test]
async fn an_untrusted_certificate_or_no_starttls_is_refused_and_nothing_is_sent() {
    let tls = SmtpServer::start(SmtpTls::StartTls);
    let plain = SmtpServer::start(SmtpTls::None);
    let task = |id: &str, server: &SmtpServer, strategy: &str, extra: &str| {
        format!(
            r#"  - id: {id}
    type: io.kestra.plugin.email.MailSend
    allowFailure: true
    host: localhost
    port: {port}
    transportStrategy: {strategy}
    username: {user}
    password: "{{{{ secret('SMTP_PASSWORD') }}}}"
    from: reports@example.com
    to: ada@example.com
    subject: {id}
{extra}"#,
            port = server.port,
            user = server.user,
        )
    };
    // Neither run trusts the test CA.
    let yaml = format!(
        "id: mail\nnamespace: company.team\ntasks:\n{}{}",
        task("untrusted", &tls, "SMTP_TLS", ""),
        task(
            "trusted_host",
            &tls,
            "SMTP_TLS",
            "    trustedHosts: [localhost]\n"
        ),
    );
    let r = run(&yaml, &tls, &[], false).await;
    assert_eq!(r.state.as_str(), "WARNING", "{}", r.logs);
    assert!(
        r.logs.contains(&format!(
            "TLS with the SMTP server at localhost:{} failed:",
            tls.port
        )),
        "{}",
        r.logs
    );
    assert!(r.logs.contains("UnknownIssuer"), "{}", r.logs);
    assert!(r.logs.contains("SSL_CERT_FILE"), "{}", r.logs);
    assert!(
        r.logs.contains(
            "`localhost` is in trustedHosts: its certificate is accepted without verification"
        ),
        "{}",
        r.logs
    );
    assert_no_password(&r, &tls);
    // Only the task that trusted the host got through.
    let received = tls.messages();
    assert_eq!(received.len(), 1);
    assert_eq!(header(&received[0], "Subject"), Some("trusted_host"));

    let yaml = format!(
        "id: mail\nnamespace: company.team\ntasks:\n{}{}",
        task("required", &plain, "SMTP_TLS", ""),
        task("opportunistic", &plain, "SMTP", ""),
    );
    let r = run(&yaml, &plain, &[], true).await;
    assert_eq!(r.state.as_str(), "WARNING", "{}", r.logs);
    assert!(
        r.logs.contains(&format!(
            "the SMTP server at localhost:{} does not offer STARTTLS, which transportStrategy SMTP_TLS requires: nothing was sent",
            plain.port
        )),
        "{}",
        r.logs
    );
    assert!(
        r.logs.contains(&format!(
            "the password of `{}` goes to localhost:{} unencrypted",
            plain.user, plain.port
        )),
        "{}",
        r.logs
    );
    assert_no_password(&r, &plain);
    let received = plain.messages();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["tls"], false);
    assert_eq!(header(&received[0], "Subject"), Some("opportunistic"));
}

#[tokio::test]
async fn a_missing_attachment_fails_before_connecting() {
    let server = SmtpServer::start(SmtpTls::StartTls);
    let yaml = format!(
        r#"id: mail
namespace: company.team
tasks:
  - id: send
    type: io.kestra.plugin.email.MailSend
    host: localhost
    port: {port}
    transportStrategy: SMTP_TLS
    username: {user}
    password: "{{{{ secret('SMTP_PASSWORD') }}}}"
    from: reports@example.com
    to: ada@example.com
    attachments:
      - name: report.csv
        uri: "kestra:///company/team/mail/executions/{{{{ execution.id }}}}/tasks/x/y/missing.csv"
"#,
        port = server.port,
        user = server.user,
    );
    let r = run(&yaml, &server, &[], true).await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        r.logs.contains("attachments[0] (`report.csv`):"),
        "{}",
        r.logs
    );
    assert!(r.logs.contains("nothing was sent"), "{}", r.logs);
    assert!(!r.logs.contains("Sent an email"), "{}", r.logs);
    assert!(server.messages().is_empty());
    // Properties are checked before the server is contacted too.
    let yaml = yaml.replace("to: ada@example.com", "to: not-an-address");
    let r = run(&yaml, &server, &[], true).await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        r.logs
            .contains("property `to`: `not-an-address` is not an email address"),
        "{}",
        r.logs
    );
}
