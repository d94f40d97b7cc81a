//! `SendGridMailSend` and `SendGridMailExecution` (`io.kestra.plugin.twilio.sendgrid` and the
//! older `io.kestra.plugin.notifications.sendgrid` names): one POST to SendGrid's v3 mail API
//! (`/v3/mail/send`, `Authorization: Bearer <key>`) on the HTTP kit's client.
//!
//! Kestra has no property for the API's address; runner reads `RUNNER_SENDGRID_URL` from the
//! run's environment (default `https://api.sendgrid.com`), for SendGrid's regional hosts and
//! for tests. The body is one JSON document with the files in base64, so it is held in
//! memory: SendGrid takes at most 30 MB per message, and runner refuses more before sending.

use crate::attachments::{self, Found};
use crate::summary::{ExecutionProps, Flavour, PLAIN};
use base64::Engine;
use runner_core::plugin::*;
use runner_http::client::{self, ClientOptions};
use serde::Deserialize;
use serde_json::{Map, json};

/// A doc with the note `runner plugins` shows on how the type is verified.
macro_rules! verified {
    ($doc:literal $(,)?) => {
        concat!(
            $doc,
            " Verified against a contract server built from SendGrid's published v3 API, not against the live service."
        )
    };
}

pub(crate) const SENDGRID_MAIL_SEND: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.twilio.sendgrid.SendGridMailSend",
    aliases: &["io.kestra.plugin.notifications.sendgrid.SendGridMailSend"],
    doc: verified!(
        "Send an email through SendGrid's v3 mail API: HTML and text content, attachments and embedded images from kestra:// files (30 MB in all). Outputs: `statusCode`, `headers`, `body`.",
    ),
    example: "id: send\ntype: io.kestra.plugin.twilio.sendgrid.SendGridMailSend\nsendgridApiKey: \"{{ secret('SENDGRID_API_KEY') }}\"\nfrom: reports@example.com\nto:\n  - team@example.com\nsubject: \"Flow {{ flow.id }} finished\"\nhtmlContent: \"<p>Execution {{ execution.id }} finished.</p>\"",
    shape: runnable::<SendGridMailSend>(),
};

pub(crate) const SENDGRID_MAIL_EXECUTION: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.twilio.sendgrid.SendGridMailExecution",
    aliases: &["io.kestra.plugin.notifications.sendgrid.SendGridMailExecution"],
    doc: verified!(
        "Send a summary of the current execution (flow, state, failed or final task, duration, custom fields) as an HTML email through SendGrid's v3 mail API.",
    ),
    example: "id: notify\ntype: io.kestra.plugin.twilio.sendgrid.SendGridMailExecution\nsendgridApiKey: \"{{ secret('SENDGRID_API_KEY') }}\"\nfrom: alerts@example.com\nto:\n  - oncall@example.com\nsubject: \"{{ flow.namespace }}.{{ flow.id }} ended\"",
    shape: runnable::<SendGridMailExecution>(),
};

/// The biggest total of files SendGrid takes in one message.
const MAX_FILES: u64 = 30 * 1000 * 1000;

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Common {
    /// The SendGrid API key (never shown).
    #[prop(secret)]
    sendgrid_api_key: Property<String>,
    /// The sender's address.
    from: Property<String>,
    /// The recipients' addresses.
    to: Property<Vec<String>>,
    /// Copied recipients' addresses.
    cc: Option<Property<Vec<String>>>,
    /// The subject.
    subject: Option<Property<String>>,
    /// Files to attach: a list of `{uri, name, contentType}` (uri a kestra:// file;
    /// contentType default `application/octet-stream`).
    #[prop(type = "list")]
    attachments: Option<Property<Json>>,
    /// Images sent inline, referenced from the HTML as `cid:NAME`: the same form.
    #[prop(type = "list")]
    embedded_images: Option<Property<Json>>,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SendGridMailSend {
    #[serde(flatten)]
    common: Common,
    /// The HTML content.
    html_content: Option<Property<String>>,
    /// The text content (sent only when given; empty becomes "Please view this email in a
    /// modern email client").
    text_content: Option<Property<String>>,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SendGridMailExecution {
    #[serde(flatten)]
    common: Common,
    #[serde(flatten)]
    execution: ExecutionProps,
    /// Ignored, as in Kestra: the summary is the HTML content.
    html_content: Option<Property<String>>,
    /// Ignored, as in Kestra: the text content is Kestra's one sentence.
    text_content: Option<Property<String>>,
}

impl RunnableTask for SendGridMailSend {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let text = ctx
                .render_opt(&self.text_content, "textContent")?
                .map(|t| if t.is_empty() { PLAIN.to_string() } else { t });
            let html = ctx.render_opt(&self.html_content, "htmlContent")?;
            if text.is_none() && html.is_none() {
                return Err(TaskError::property(
                    "htmlContent",
                    "SendGrid needs content: give htmlContent or textContent",
                ));
            }
            self.common.send(ctx, text, html, None).await
        })
    }
}

impl RunnableTask for SendGridMailExecution {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            if self.html_content.is_some() || self.text_content.is_some() {
                ctx.log(
                    Level::Warn,
                    "htmlContent and textContent are ignored: SendGridMailExecution sends the execution summary",
                );
            }
            let summary = self.execution.summarize(ctx)?;
            let html = summary.html(Flavour::SendGrid);
            self.common
                .send(
                    ctx,
                    Some(PLAIN.to_string()),
                    Some(html),
                    Some(summary.title()),
                )
                .await
        })
    }
}

/// `[{"email": a}, ...]`, each address checked for an `@`.
fn emails(list: &[String], property: &str) -> Result<Vec<Json>, TaskError> {
    list.iter()
        .map(|a| {
            let a = a.trim();
            if a.contains('@') && !a.contains(char::is_whitespace) {
                Ok(json!({"email": a}))
            } else {
                Err(TaskError::property(
                    property,
                    format!("`{a}` is not an email address"),
                ))
            }
        })
        .collect()
}

impl Common {
    async fn send(
        &self,
        ctx: &RunContext,
        text: Option<String>,
        html: Option<String>,
        default_subject: Option<String>,
    ) -> Result<Outputs, TaskError> {
        let key = ctx.render(&self.sendgrid_api_key, "sendgridApiKey")?;
        if key.trim().is_empty() {
            return Err(TaskError::property(
                "sendgridApiKey",
                "the API key is empty",
            ));
        }
        let from = ctx.render(&self.from, "from")?;
        if from.trim().is_empty() {
            return Err(TaskError::property(
                "from",
                "the sender's address is required",
            ));
        }
        let to = ctx.render(&self.to, "to")?;
        if to.is_empty() {
            return Err(TaskError::property(
                "to",
                "at least one recipient is required",
            ));
        }
        let mut personalization = Map::new();
        personalization.insert("to".into(), Json::Array(emails(&to, "to")?));
        if let Some(cc) = ctx.render_opt(&self.cc, "cc")?
            && !cc.is_empty()
        {
            personalization.insert("cc".into(), Json::Array(emails(&cc, "cc")?));
        }
        if let Some(subject) = ctx
            .render_opt(&self.subject, "subject")?
            .or(default_subject)
        {
            personalization.insert("subject".into(), Json::String(subject));
        }
        let mut content = Vec::new();
        if let Some(t) = text {
            content.push(json!({"type": "text/plain", "value": t}));
        }
        if let Some(h) = html {
            content.push(json!({"type": "text/html", "value": h}));
        }
        let attached = attachments::find(
            ctx,
            attachments::parse(
                ctx.render_opt(&self.attachments, "attachments")?,
                "attachments",
            )?,
            "attachments",
        )?;
        let images = attachments::find(
            ctx,
            attachments::parse(
                ctx.render_opt(&self.embedded_images, "embeddedImages")?,
                "embeddedImages",
            )?,
            "embeddedImages",
        )?;
        let total: u64 = attached.iter().chain(&images).map(|f| f.size).sum();
        if total > MAX_FILES {
            return Err(TaskError::new(
                ErrorKind::Unsupported,
                format!(
                    "attachments and embeddedImages hold {total} bytes; SendGrid takes at most 30 MB per message: nothing was sent"
                ),
            )
            .hint("send a link to the file instead, or use MailSend (SMTP streams attachments of any size the server accepts)"));
        }
        let mut files = Vec::new();
        for (f, inline) in attached
            .iter()
            .map(|f| (f, false))
            .chain(images.iter().map(|f| (f, true)))
        {
            files.push(encode(f, inline).await?);
        }
        let mut payload = json!({
            "from": {"email": from.trim()},
            "personalizations": [personalization],
            "content": content,
        });
        if !files.is_empty() {
            payload["attachments"] = Json::Array(files);
        }
        let base = ctx
            .env_var("RUNNER_SENDGRID_URL")
            .unwrap_or("https://api.sendgrid.com")
            .trim_end_matches('/')
            .to_string();
        let url = client::parse_url(ctx, "RUNNER_SENDGRID_URL", &format!("{base}/v3/mail/send"))?;
        let http = client::client(ctx, &ClientOptions::default())?;
        let response = http
            .post(url.clone())
            .bearer_auth(&key)
            .header(client::reqwest::header::CONTENT_TYPE, "application/json")
            .body(payload.to_string())
            .send()
            .await
            .map_err(|e| client::send_error(url.as_str(), e))?;
        let status = response.status().as_u16();
        let mut headers = Map::new();
        for (name, value) in response.headers() {
            headers.insert(
                name.as_str().to_string(),
                Json::String(String::from_utf8_lossy(value.as_bytes()).into_owned()),
            );
        }
        let body = response.text().await.map_err(|e| {
            TaskError::new(
                ErrorKind::Remote,
                format!("SendGrid's answer from {url} could not be read"),
            )
            .caused_by(e)
        })?;
        if !(200..300).contains(&status) {
            return Err(TaskError::new(
                ErrorKind::Remote,
                format!("SendGrid API failed with status code: {status} and body: {body}"),
            )
            .hint(match status {
                401 | 403 => "check sendgridApiKey: it must be a key with the Mail Send permission",
                _ => "SendGrid's body says what it refused",
            }));
        }
        ctx.info(&format!(
            "Sent an email to {} through SendGrid ({status})",
            to.join(", ")
        ));
        let mut out = Outputs::new();
        out.insert("body".into(), Json::String(body));
        out.insert("headers".into(), Json::Object(headers));
        out.insert("statusCode".into(), json!(status));
        Ok(out)
    }
}

/// One file as SendGrid's attachment object.
async fn encode(f: &Found, inline: bool) -> Result<Json, TaskError> {
    let bytes = tokio::fs::read(&f.path).await.map_err(|e| {
        TaskError::new(ErrorKind::Io, format!("cannot read `{}`", f.name)).caused_by(e)
    })?;
    let mut a = json!({
        "content": base64::engine::general_purpose::STANDARD.encode(&bytes),
        "type": f.content_type,
        "filename": f.name,
        "disposition": if inline { "inline" } else { "attachment" },
    });
    if inline {
        // The HTML refers to it as `cid:<name>`.
        a["content_id"] = Json::String(f.name.clone());
    }
    Ok(a)
}
