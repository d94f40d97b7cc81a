//! The incoming-webhook notification tasks: Slack, Microsoft Teams, Discord, Google Chat and
//! Zulip post a JSON `payload` to the webhook `url`. Slack also takes `messageText` (a JSON
//! payload, or Markdown sent as `{"text": ...}`). A webhook URL is a credential: it never
//! appears in a log line or an error, whether or not it came from `secret()`.

use crate::client::{self, send_error};
use crate::options::{Proxy, ProxyType, Settings};
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::Map;

const SLACK_DOC: &str = "Post a message to a Slack (or Mattermost, Rocket.Chat) incoming webhook: `payload` (JSON) or `messageText`.";

pub(crate) const SLACK: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.slack.notifications.SlackIncomingWebhook",
    aliases: &[
        "io.kestra.plugin.notifications.slack.SlackIncomingWebhook",
        "io.kestra.plugin.slack.SlackIncomingWebhook",
    ],
    doc: SLACK_DOC,
    example: "id: notify\ntype: io.kestra.plugin.slack.notifications.SlackIncomingWebhook\nurl: \"{{ secret('SLACK_WEBHOOK') }}\"\nmessageText: \"Flow {{ flow.id }} finished\"",
    shape: runnable::<Slack>(),
};

pub(crate) const TEAMS: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.notifications.teams.TeamsIncomingWebhook",
    aliases: &["io.kestra.plugin.microsoft365.teams.TeamsIncomingWebhook"],
    doc: "Post a JSON `payload` to a Microsoft Teams incoming webhook.",
    example: "id: notify\ntype: io.kestra.plugin.notifications.teams.TeamsIncomingWebhook\nurl: \"{{ secret('TEAMS_WEBHOOK') }}\"\npayload: '{\"text\": \"Flow {{ flow.id }} finished\"}'",
    shape: runnable::<Webhook>(),
};

pub(crate) const DISCORD: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.notifications.discord.DiscordIncomingWebhook",
    aliases: &["io.kestra.plugin.discord.DiscordIncomingWebhook"],
    doc: "Post a JSON `payload` to a Discord webhook.",
    example: "id: notify\ntype: io.kestra.plugin.notifications.discord.DiscordIncomingWebhook\nurl: \"{{ secret('DISCORD_WEBHOOK') }}\"\npayload: '{\"content\": \"Flow {{ flow.id }} finished\"}'",
    shape: runnable::<Webhook>(),
};

pub(crate) const GOOGLE_CHAT: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.notifications.google.GoogleChatIncomingWebhook",
    aliases: &[],
    doc: "Post a JSON `payload` to a Google Chat incoming webhook.",
    example: "id: notify\ntype: io.kestra.plugin.notifications.google.GoogleChatIncomingWebhook\nurl: \"{{ secret('GOOGLE_CHAT_WEBHOOK') }}\"\npayload: '{\"text\": \"Flow {{ flow.id }} finished\"}'",
    shape: runnable::<Webhook>(),
};

pub(crate) const ZULIP: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.notifications.zulip.ZulipIncomingWebhook",
    aliases: &["io.kestra.plugin.zulip.ZulipIncomingWebhook"],
    doc: "Post a JSON `payload` to a Zulip incoming webhook.",
    example: "id: notify\ntype: io.kestra.plugin.notifications.zulip.ZulipIncomingWebhook\nurl: \"{{ secret('ZULIP_WEBHOOK') }}\"\npayload: '{\"text\": \"Flow {{ flow.id }} finished\"}'",
    shape: runnable::<Webhook>(),
};

/// The notification tasks' `options` (Kestra's RequestOptions).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct WebhookOptions {
    connect_timeout: Option<Property<IsoDuration>>,
    read_timeout: Option<Property<IsoDuration>>,
    read_idle_timeout: Option<Property<IsoDuration>>,
    headers: Option<Property<Map<String, Json>>>,
    proxy: Option<crate::options::ProxyOptions>,
    // Accepted, with no effect here (the client's pool and limits are its own).
    #[allow(dead_code)]
    connection_pool_idle_timeout: Option<Json>,
    #[allow(dead_code)]
    max_content_length: Option<Json>,
    #[allow(dead_code)]
    default_charset: Option<Json>,
}

impl PropType for WebhookOptions {
    const NAME: &'static str = "webhook options";
}

impl Seal for WebhookOptions {
    fn seal(&mut self) {
        self.proxy.seal();
    }
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Webhook {
    /// The webhook URL (a credential: never logged).
    #[prop(secret)]
    url: Property<String>,
    /// The JSON message to post.
    payload: Option<Property<String>>,
    /// Timeouts, extra headers, a proxy (its password is a credential).
    #[prop(secret)]
    options: Option<WebhookOptions>,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Slack {
    /// The webhook URL (a credential: never logged).
    #[prop(secret)]
    url: Property<String>,
    /// The JSON message to post.
    payload: Option<Property<String>>,
    /// The message: JSON, or Markdown text sent as `{"text": ...}` (`**bold**`, `__italic__`
    /// and `[links](url)` in Slack's own syntax).
    message_text: Option<Property<String>>,
    /// Timeouts, extra headers, a proxy (its password is a credential).
    #[prop(secret)]
    options: Option<WebhookOptions>,
}

impl RunnableTask for Webhook {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let Some(payload) = &self.payload else {
                return Err(TaskError::property(
                    "payload",
                    "the message to post is missing",
                ));
            };
            let payload = ctx.render(payload, "payload")?;
            post(ctx, &self.url, self.options.as_ref(), payload, false).await
        })
    }
}

impl RunnableTask for Slack {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let payload = match (&self.payload, &self.message_text) {
                (Some(p), _) => {
                    let text = ctx.render(p, "payload")?;
                    let v: Json = serde_json::from_str(&text)
                        .map_err(|e| TaskError::property("payload", format!("not JSON: {e}")))?;
                    v.to_string()
                }
                (None, Some(m)) => {
                    let text = ctx.render(m, "messageText")?;
                    match serde_json::from_str::<Json>(&text) {
                        Ok(v) if v.is_object() => v.to_string(),
                        _ => serde_json::json!({"text": slack_markdown(&text)}).to_string(),
                    }
                }
                (None, None) => {
                    return Err(TaskError::property(
                        "payload",
                        "Either 'messageText' or 'payload' must be provided",
                    ));
                }
            };
            post(ctx, &self.url, self.options.as_ref(), payload, true).await
        })
    }
}

/// Markdown's bold, italic and links in Slack's mrkdwn.
fn slack_markdown(text: &str) -> String {
    let bold = regex::Regex::new(r"\*\*(.*?)\*\*").expect("a constant pattern");
    let italic = regex::Regex::new(r"__(.*?)__").expect("a constant pattern");
    let link = regex::Regex::new(r"\[(.*?)\]\((.*?)\)").expect("a constant pattern");
    let t = bold.replace_all(text, "*$1*");
    let t = italic.replace_all(&t, "_${1}_");
    link.replace_all(&t, "<$2|$1>").into_owned()
}

/// The URL as messages show it: scheme and host only (the path holds the token).
fn shown(url: &reqwest::Url) -> String {
    format!("{}://{}/******", url.scheme(), url.host_str().unwrap_or(""))
}

pub(crate) async fn post(
    ctx: &RunContext,
    url: &Property<String>,
    options: Option<&WebhookOptions>,
    payload: String,
    slack: bool,
) -> Result<Outputs, TaskError> {
    let raw = ctx.render(url, "url")?;
    let url = reqwest::Url::parse(raw.trim()).map_err(|_| {
        // The text is a credential: say what is wrong without it.
        TaskError::property("url", "the webhook URL is not a valid http(s) URL")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TaskError::property(
            "url",
            "the webhook URL is not an http(s) URL",
        ));
    }
    ctx.mask(url.as_str());
    let o = options.cloned().unwrap_or_default();
    let dur = |p: &Option<Property<IsoDuration>>, name: &str| {
        ctx.render_opt(p, &format!("options.{name}"))
            .map(|d| d.map(|d| d.0))
    };
    let proxy = match &o.proxy {
        Some(p) => {
            let kind = ctx
                .render_opt(&p.kind, "options.proxy.type")?
                .unwrap_or(ProxyType::Http);
            let address = ctx.render_opt(&p.address, "options.proxy.address")?;
            match (kind, address) {
                (ProxyType::Direct, _) | (_, None) => None,
                (kind, Some(address)) => Some(Proxy {
                    kind,
                    address,
                    port: ctx
                        .render_opt(&p.port, "options.proxy.port")?
                        .unwrap_or(8080),
                    credentials: match ctx.render_opt(&p.username, "options.proxy.username")? {
                        Some(u) => Some((
                            u,
                            ctx.render_opt(&p.password, "options.proxy.password")?
                                .unwrap_or_default(),
                        )),
                        None => None,
                    },
                }),
            }
        }
        None => None,
    };
    let settings = Settings {
        connect_timeout: dur(&o.connect_timeout, "connectTimeout")?,
        read_idle_timeout: dur(&o.read_timeout, "readTimeout")?
            .or(dur(&o.read_idle_timeout, "readIdleTimeout")?)
            .unwrap_or(crate::options::READ_IDLE),
        proxy,
        auth: None,
        insecure: false,
        follow_redirects: true,
        allow_failed: false,
        allowed_codes: None,
        logs: Vec::new(),
    };
    client::check_url(ctx, &url)?;
    let http = client::for_settings(ctx, &settings)?;
    let mut rb = http
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(payload.clone());
    if let Some(h) = ctx.render_opt(&o.headers, "options.headers")? {
        for (k, v) in h {
            let v = match v {
                Json::String(s) => s,
                other => other.to_string(),
            };
            rb = rb.header(k, v);
        }
    }
    ctx.log(Level::Debug, &format!("Send webhook: {payload}"));
    let response = rb
        .send()
        .await
        .map_err(|e| send_error(&shown(&url), e.without_url()))?;
    let code = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    ctx.log(Level::Debug, &format!("Response: code={code}, body={body}"));
    if !(200..300).contains(&code) {
        return Err(TaskError::failed(if slack {
            format!("Slack webhook request failed with status {code}: {body}")
        } else {
            format!("Failed http request with response code '{code}' and body:\n{body}")
        }));
    }
    ctx.log(Level::Info, "Request succeeded");
    Ok(Outputs::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_mrkdwn() {
        assert_eq!(
            slack_markdown("**done** in __2 s__, see [the run](http://x/1)"),
            "*done* in _2 s_, see <http://x/1|the run>"
        );
    }
}
