//! The `*Execution` notifications: Slack, Discord, Google Chat, Microsoft Teams and Zulip post
//! a summary of the current execution ([`summarize`]) in each service's message shape.

use crate::notify::{WebhookOptions, post};
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::{Map, json};

pub(crate) const SLACK_EXECUTION: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.slack.notifications.SlackExecution",
    aliases: &["io.kestra.plugin.notifications.slack.SlackExecution"],
    doc: "Post a summary of the current execution (flow, state, failed or last task, duration) to a Slack incoming webhook.",
    example: "id: notify\ntype: io.kestra.plugin.slack.notifications.SlackExecution\nurl: \"{{ secret('SLACK_WEBHOOK') }}\"\ncustomMessage: \"Nightly load done\"",
    shape: runnable::<SlackExecution>(),
};

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
    #[prop(secret)]
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
    /// Timeouts, extra headers, a proxy (its password is a credential).
    #[prop(secret)]
    options: Option<WebhookOptions>,
}

/// The summary's parts, once the execution is checked to be the current one.
struct Described {
    message: Option<String>,
    summary: Summary,
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
        ctx.log(
            Level::Info,
            "Loading execution data for the current execution.",
        );
        let record = ctx.execution_record();
        Ok(Described {
            message: ctx.render_opt(&self.custom_message, "customMessage")?,
            summary: summarize(
                &record,
                ctx.render_opt(&self.custom_fields, "customFields")?,
            ),
        })
    }

    /// Posts `payload` (or the flow's own `payload`, when given); `slack` picks Slack's error
    /// wording.
    async fn send(
        &self,
        ctx: &RunContext,
        payload: Json,
        slack: bool,
    ) -> Result<Outputs, TaskError> {
        let body = match ctx.render_opt(&self.payload, "payload")? {
            Some(p) => p,
            None => payload.to_string(),
        };
        post(ctx, &self.url, self.options.as_ref(), body, slack).await
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
            self.common.send(ctx, json!({"text": text}), false).await
        })
    }
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ZulipExecution {
    #[serde(flatten)]
    common: Common,
    #[serde(flatten)]
    author: Author,
}

/// Where Slack and Zulip post and as whom (legacy Slack webhooks only honour them).
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Author {
    /// The channel or stream to post to.
    channel: Option<Property<String>>,
    /// The author shown.
    username: Option<Property<String>>,
    /// The author's icon.
    icon_url: Option<Property<String>>,
    /// The author's emoji.
    icon_emoji: Option<Property<String>>,
}

impl Author {
    /// Adds the fields given to `payload`, under the services' snake-case names.
    fn apply(&self, ctx: &RunContext, payload: &mut Json) -> Result<(), TaskError> {
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
        Ok(())
    }
}

impl RunnableTask for ZulipExecution {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let d = self.common.describe(ctx).await?;
            let mut payload = json!({"text": as_text(&d, "**")});
            self.author.apply(ctx, &mut payload)?;
            self.common.send(ctx, payload, false).await
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
            self.common.send(ctx, card, false).await
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
            self.common.send(ctx, payload, false).await
        })
    }
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SlackExecution {
    #[serde(flatten)]
    common: Common,
    #[serde(flatten)]
    author: Author,
}

impl RunnableTask for SlackExecution {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let d = self.common.describe(ctx).await?;
            let mut payload = slack_summary(d);
            self.author.apply(ctx, &mut payload)?;
            self.common.send(ctx, payload, true).await
        })
    }
}

/// What an execution summary says, whatever service shows it: a title with the flow and its
/// state, what failed (or that it succeeded) and after how long, then fields as Kestra's
/// messages have them. There is no link: a local run has no UI to point to.
pub(crate) struct Summary {
    pub(crate) title: String,
    /// `Failed on task `x` after 2.0s` or `Succeeded after 850ms`.
    pub(crate) outcome: String,
    pub(crate) state: String,
    /// Name and value, in Kestra's order (custom fields before the final task).
    pub(crate) fields: Vec<(String, Json)>,
    pub(crate) start: Option<jiff::Timestamp>,
}

pub(crate) fn summarize(record: &Json, custom_fields: Option<Map<String, Json>>) -> Summary {
    let text = |v: &Json| v.as_str().unwrap_or_default().to_string();
    let namespace = text(&record["namespace"]);
    let flow = text(&record["flowId"]);
    let state = text(&record["state"]["current"]);
    let runs = record["taskRunList"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let failed = runs.iter().any(|t| t["state"]["current"] == "FAILED");
    let wanted = if failed { "FAILED" } else { "SUCCESS" };
    let last = runs.iter().rev().find(|t| t["state"]["current"] == wanted);
    let last_id = last.map(|t| text(&t["taskId"]));
    let start: Option<jiff::Timestamp> = record["state"]["startDate"]
        .as_str()
        .and_then(|s| s.parse().ok());
    let duration = start
        .map(|s| {
            let took = jiff::Timestamp::now().duration_since(s);
            human(took.as_secs_f64())
        })
        .unwrap_or_default();
    let outcome = match (failed, &last_id) {
        (true, Some(id)) => format!("Failed on task `{id}` after {duration}"),
        _ => format!("Succeeded after {duration}"),
    };
    let mut fields = vec![
        ("Namespace".to_string(), Json::String(namespace.clone())),
        ("Flow ID".to_string(), Json::String(flow.clone())),
        ("Execution ID".to_string(), record["id"].clone()),
        ("Execution Status".to_string(), Json::String(state.clone())),
    ];
    fields.extend(custom_fields.unwrap_or_default());
    fields.push((
        "Final task ID".to_string(),
        last_id.map(Json::String).unwrap_or(Json::Null),
    ));
    Summary {
        title: format!("[{namespace}] {flow} ➛ {state}"),
        outcome,
        state,
        fields,
        start,
    }
}

/// The Slack message describing an execution: blocks and an attachment of fields.
fn slack_summary(d: Described) -> Json {
    let (s, custom_message) = (d.summary, d.message);
    let headline = format!("*{}*\n> {}", s.title, s.outcome);
    let mut blocks = Vec::new();
    if let Some(m) = custom_message {
        blocks.push(serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": m}}));
    }
    blocks
        .push(serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": headline}}));
    let fields: Vec<Json> = s
        .fields
        .into_iter()
        .map(|(title, value)| serde_json::json!({"title": title, "value": value, "short": true}))
        .collect();
    let color = match s.state.as_str() {
        "SUCCESS" => "good",
        "WARNING" => "warning",
        _ => "danger",
    };
    serde_json::json!({
        "text": headline,
        "blocks": blocks,
        "attachments": [{
            "color": color,
            "fields": fields,
            "ts": s.start.map(|s| s.as_second()).unwrap_or_default(),
        }],
    })
}

/// A duration as people read it: `850ms`, `12.3s`, `4m 5s`, `1h 2m`.
fn human(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{}ms", (seconds * 1000.0).round() as u64)
    } else if seconds < 60.0 {
        format!("{:.1}s", seconds)
    } else if seconds < 3600.0 {
        format!("{}m {}s", (seconds / 60.0) as u64, (seconds % 60.0) as u64)
    } else {
        format!(
            "{}h {}m",
            (seconds / 3600.0) as u64,
            ((seconds % 3600.0) / 60.0) as u64
        )
    }
}
