//! The `*Execution` notifications other than Slack's: Discord, Google Chat, Microsoft Teams
//! and Zulip post a summary of the current execution (see [`crate::notify::summarize`]) in
//! each service's message shape.

use crate::notify::{WebhookOptions, post, summarize};
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::{Map, json};

pub(crate) const DISCORD_EXECUTION: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.notifications.discord.DiscordExecution",
    aliases: &["io.kestra.plugin.discord.DiscordExecution"],
    doc: "Post a summary of the current execution to a Discord webhook, as an embed.",
    example: "id: notify\ntype: io.kestra.plugin.notifications.discord.DiscordExecution\nurl: \"{{ secret('DISCORD_WEBHOOK') }}\"",
    shape: runnable::<DiscordExecution>(),
};

pub(crate) const GOOGLE_CHAT_EXECUTION: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.notifications.google.GoogleChatExecution",
    aliases: &["io.kestra.plugin.googleworkspace.chat.GoogleChatExecution"],
    doc: "Post a summary of the current execution to a Google Chat incoming webhook.",
    example: "id: notify\ntype: io.kestra.plugin.notifications.google.GoogleChatExecution\nurl: \"{{ secret('GOOGLE_CHAT_WEBHOOK') }}\"",
    shape: runnable::<ChatExecution>(),
};

pub(crate) const TEAMS_EXECUTION: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.notifications.teams.TeamsExecution",
    aliases: &["io.kestra.plugin.microsoft365.teams.TeamsExecution"],
    doc: "Post a summary of the current execution to a Microsoft Teams incoming webhook, as a message card.",
    example: "id: notify\ntype: io.kestra.plugin.notifications.teams.TeamsExecution\nurl: \"{{ secret('TEAMS_WEBHOOK') }}\"",
    shape: runnable::<TeamsExecution>(),
};

pub(crate) const ZULIP_EXECUTION: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.notifications.zulip.ZulipExecution",
    aliases: &["io.kestra.plugin.zulip.ZulipExecution"],
    doc: "Post a summary of the current execution to a Zulip incoming webhook.",
    example: "id: notify\ntype: io.kestra.plugin.notifications.zulip.ZulipExecution\nurl: \"{{ secret('ZULIP_WEBHOOK') }}\"",
    shape: runnable::<ZulipExecution>(),
};

/// What every execution notification takes.
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Common {
    /// The webhook URL (a credential: never logged).
    url: Property<String>,
    /// The execution to describe: only the current one (the default) is known here.
    execution_id: Option<Property<String>>,
    /// A message shown above the summary.
    custom_message: Option<Property<String>>,
    /// Extra fields of the summary, name to value.
    custom_fields: Option<Property<Map<String, Json>>>,
    /// Extra variables for Kestra's message template; runner builds the message itself.
    template_render_map: Option<Json>,
    /// A JSON message to post instead of the summary.
    payload: Option<Property<String>>,
    /// Timeouts, extra headers, a proxy.
    options: Option<WebhookOptions>,
}

/// The summary's parts, once the execution is checked to be the current one.
struct Described {
    message: Option<String>,
    summary: crate::notify::Summary,
}

impl Common {
    async fn describe(&self, ctx: &RunContext) -> Result<Described, TaskError> {
        let current = ctx.execution_id().to_string();
        let wanted = ctx
            .render_opt(&self.execution_id, "executionId")?
            .unwrap_or_else(|| current.clone());
        if wanted != current {
            return Err(TaskError::property(
                "executionId",
                format!(
                    "runner knows only the current execution ({current}), not `{wanted}`: a local run has no execution history"
                ),
            ));
        }
        if self.template_render_map.is_some() {
            ctx.log(
                Level::Warn,
                "templateRenderMap is ignored: runner builds the execution summary itself",
            );
        }
        let record = ctx.execution_record();
        Ok(Described {
            message: ctx.render_opt(&self.custom_message, "customMessage")?,
            summary: summarize(
                &record,
                ctx.render_opt(&self.custom_fields, "customFields")?,
            ),
        })
    }

    /// Posts `payload` (or the flow's own `payload`, when given).
    async fn send(&self, ctx: &RunContext, payload: Json) -> Result<Outputs, TaskError> {
        let body = match ctx.render_opt(&self.payload, "payload")? {
            Some(p) => p,
            None => payload.to_string(),
        };
        post(ctx, &self.url, self.options.as_ref(), body, false).await
    }
}

fn field_text(v: &Json) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// The summary as plain lines (Google Chat, Zulip).
fn as_text(d: &Described, bold: &str) -> String {
    let mut text = String::new();
    if let Some(m) = &d.message {
        text.push_str(m);
        text.push('\n');
    }
    text.push_str(&format!(
        "{bold}{}{bold}\n{}",
        d.summary.title, d.summary.outcome
    ));
    for (name, value) in &d.summary.fields {
        text.push_str(&format!("\n{name}: {}", field_text(value)));
    }
    text
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChatExecution {
    #[serde(flatten)]
    common: Common,
    /// A text shown above the summary.
    text: Option<Property<String>>,
}

impl RunnableTask for ChatExecution {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let d = self.common.describe(ctx).await?;
            let mut text = as_text(&d, "*");
            if let Some(t) = ctx.render_opt(&self.text, "text")? {
                text = format!("{t}\n{text}");
            }
            self.common.send(ctx, json!({"text": text})).await
        })
    }
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ZulipExecution {
    #[serde(flatten)]
    common: Common,
    /// The stream or channel to post to.
    channel: Option<Property<String>>,
    /// The author shown.
    username: Option<Property<String>>,
    /// The author's icon.
    icon_url: Option<Property<String>>,
    /// The author's emoji.
    icon_emoji: Option<Property<String>>,
}

impl RunnableTask for ZulipExecution {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let d = self.common.describe(ctx).await?;
            let mut payload = json!({"text": as_text(&d, "**")});
            for (key, prop, name) in [
                ("channel", &self.channel, "channel"),
                ("username", &self.username, "username"),
                ("icon_url", &self.icon_url, "iconUrl"),
                ("icon_emoji", &self.icon_emoji, "iconEmoji"),
            ] {
                if let Some(v) = ctx.render_opt(prop, name)? {
                    payload[key] = Json::String(v);
                }
            }
            self.common.send(ctx, payload).await
        })
    }
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TeamsExecution {
    #[serde(flatten)]
    common: Common,
    /// The card's title (default: the flow and its state).
    activity_title: Option<Property<String>>,
    /// A line under the title.
    activity_subtitle: Option<Property<String>>,
}

impl RunnableTask for TeamsExecution {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let d = self.common.describe(ctx).await?;
            let color = match d.summary.state.as_str() {
                "SUCCESS" => "2EB886",
                "WARNING" => "DAA038",
                _ => "A30200",
            };
            let facts: Vec<Json> = d
                .summary
                .fields
                .iter()
                .map(|(name, value)| json!({"name": name, "value": field_text(value)}))
                .collect();
            let mut card = json!({
                "@type": "MessageCard",
                "@context": "http://schema.org/extensions",
                "themeColor": color,
                "summary": d.summary.title,
                "title": d.summary.title,
                "text": d.summary.outcome,
                "sections": [{"facts": facts}],
            });
            if let Some(m) = &d.message {
                card["text"] = Json::String(format!("{m}\n\n{}", d.summary.outcome));
            }
            if let Some(t) = ctx.render_opt(&self.activity_title, "activityTitle")? {
                card["title"] = Json::String(t);
            }
            if let Some(t) = ctx.render_opt(&self.activity_subtitle, "activitySubtitle")? {
                card["sections"][0]["activitySubtitle"] = Json::String(t);
            }
            self.common.send(ctx, card).await
        })
    }
}

/// One `embedList` entry of Kestra's Discord tasks.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Embed {
    title: Option<String>,
    website_url: Option<String>,
    description: Option<String>,
    thumbnail: Option<String>,
    author_name: Option<String>,
    /// RGB, as `[255, 255, 255]`.
    color: Option<Vec<u8>>,
    footer: Option<String>,
}

impl PropType for Embed {
    const NAME: &'static str =
        "{title, websiteUrl, description, thumbnail, authorName, color, footer}";
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DiscordExecution {
    #[serde(flatten)]
    common: Common,
    /// The author shown.
    username: Option<Property<String>>,
    /// The author's avatar.
    avatar_url: Option<Property<String>>,
    /// Embeds of the message; the summary fills the first.
    embed_list: Option<Vec<Embed>>,
    /// Text above the embeds.
    content: Option<Property<String>>,
}

impl RunnableTask for DiscordExecution {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let d = self.common.describe(ctx).await?;
            let render = |s: &Option<String>, name: &str| {
                s.as_ref().map(|t| ctx.render_str(t, name)).transpose()
            };
            let fields: Vec<Json> = d
                .summary
                .fields
                .iter()
                .map(|(name, value)| json!({"name": name, "value": field_text(value), "inline": true}))
                .collect();
            let color = match d.summary.state.as_str() {
                "SUCCESS" => 0x2EB886,
                "WARNING" => 0xDAA038,
                _ => 0xA30200,
            };
            let mut summary = json!({
                "title": d.summary.title,
                "description": match &d.message {
                    Some(m) => format!("{m}\n{}", d.summary.outcome),
                    None => d.summary.outcome.clone(),
                },
                "color": color,
                "fields": fields,
            });
            let mut embeds = Vec::new();
            for (i, e) in self.embed_list.iter().flatten().enumerate() {
                let mut embed = if i == 0 { summary.take() } else { json!({}) };
                if let Some(t) = render(&e.title, "embedList.title")? {
                    embed["title"] = Json::String(t);
                }
                if let Some(t) = render(&e.description, "embedList.description")? {
                    embed["description"] = Json::String(t);
                }
                if let Some(t) = render(&e.website_url, "embedList.websiteUrl")? {
                    embed["url"] = Json::String(t);
                }
                if let Some(t) = render(&e.thumbnail, "embedList.thumbnail")? {
                    embed["thumbnail"] = json!({"url": t});
                }
                if let Some(t) = render(&e.author_name, "embedList.authorName")? {
                    embed["author"] = json!({"name": t});
                }
                if let Some(t) = render(&e.footer, "embedList.footer")? {
                    embed["footer"] = json!({"text": t});
                }
                if let Some(rgb) = &e.color
                    && rgb.len() >= 3
                {
                    embed["color"] = json!(
                        (u32::from(rgb[0]) << 16) | (u32::from(rgb[1]) << 8) | u32::from(rgb[2])
                    );
                }
                embeds.push(embed);
            }
            if embeds.is_empty() {
                embeds.push(summary);
            }
            let mut payload = json!({"tts": false, "embeds": embeds});
            if let Some(u) = ctx.render_opt(&self.username, "username")? {
                payload["username"] = Json::String(u);
            }
            if let Some(a) = ctx.render_opt(&self.avatar_url, "avatarUrl")? {
                payload["avatar_url"] = Json::String(a);
            }
            if let Some(c) = ctx.render_opt(&self.content, "content")? {
                payload["content"] = Json::String(c);
            }
            self.common.send(ctx, payload).await
        })
    }
}
