//! The incoming-webhook notifications against a real HTTP server: the payload each posts, as
//! the server received it, and that the webhook URL (a credential) never shows.

mod support;

use serde_json::{Value as Json, json};
use support::{flow, run, start};

#[tokio::test]
async fn each_webhook_posts_its_json_payload() {
    let server = start().await;
    let r = run(&flow(&format!(
        r#"  - id: slack_text
    type: io.kestra.plugin.slack.notifications.SlackIncomingWebhook
    url: "{hook}/slack"
    messageText: "**{{{{ flow.id }}}}** done, see [the run](http://x/{{{{ execution.id }}}})"
  - id: slack_payload
    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: "{hook}/slack"
    payload: |
      {{"blocks": [{{"type": "section", "text": {{"type": "mrkdwn", "text": "ns {{{{ flow.namespace }}}}"}}}}]}}
  - id: teams
    type: io.kestra.plugin.notifications.teams.TeamsIncomingWebhook
    url: "{hook}/teams"
    payload: '{{"text": "teams {{{{ flow.id }}}}"}}'
  - id: discord
    type: io.kestra.plugin.discord.DiscordIncomingWebhook
    url: "{hook}/discord"
    payload: '{{"content": "discord"}}'
    options:
      headers:
        X-Extra: yes
  - id: chat
    type: io.kestra.plugin.notifications.google.GoogleChatIncomingWebhook
    url: "{hook}/chat"
    payload: '{{"text": "chat"}}'
  - id: zulip
    type: io.kestra.plugin.zulip.ZulipIncomingWebhook
    url: "{hook}/zulip"
    payload: '{{"text": "zulip"}}'
"#,
        hook = server.url("/hooks")
    )))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let body = |path: &str, i: usize| -> Json {
        let seen = server.at(path);
        assert_eq!(seen[i].method, "POST", "{path}");
        assert_eq!(
            seen[i].header("content-type"),
            Some("application/json"),
            "{path}"
        );
        serde_json::from_slice(&seen[i].body).expect("JSON posted")
    };
    let id = r.record["id"].as_str().unwrap();
    assert_eq!(
        body("/hooks/slack", 0),
        json!({"text": format!("*http* done, see <http://x/{id}|the run>")})
    );
    assert_eq!(
        body("/hooks/slack", 1)["blocks"][0]["text"]["text"],
        "ns company.team"
    );
    assert_eq!(body("/hooks/teams", 0), json!({"text": "teams http"}));
    assert_eq!(body("/hooks/discord", 0), json!({"content": "discord"}));
    assert_eq!(
        server.at("/hooks/discord")[0].header("x-extra"),
        Some("yes")
    );
    assert_eq!(body("/hooks/chat", 0), json!({"text": "chat"}));
    assert_eq!(body("/hooks/zulip", 0), json!({"text": "zulip"}));
    assert!(
        r.logs.contains("INFO  [teams] Request succeeded"),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn a_refused_post_fails_without_showing_the_url() {
    let server = start().await;
    for kind in [
        "io.kestra.plugin.slack.notifications.SlackIncomingWebhook",
        "io.kestra.plugin.notifications.teams.TeamsIncomingWebhook",
    ] {
        let r = run(&flow(&format!(
            "  - id: hook\n    type: {kind}\n    url: \"{}\"\n    payload: '{{\"text\": \"x\"}}'\n",
            server.url("/hooks/fail/T0K3N-in-the-path")
        )))
        .await;
        assert_eq!(r.state.as_str(), "FAILED", "{kind}");
        let expected = if kind.contains("slack") {
            "Slack webhook request failed with status 500: invalid_payload"
        } else {
            "Failed http request with response code '500' and body:"
        };
        assert!(r.logs.contains(expected), "{kind}: {}", r.logs);
        assert!(!r.logs.contains("T0K3N"), "{kind}: {}", r.logs);
        assert!(!r.record.to_string().contains("T0K3N"), "{kind}");
    }
    // Nothing listens: the error names the host, not the path.
    let r = run(&flow(
        "  - id: hook\n    type: io.kestra.plugin.slack.notifications.SlackIncomingWebhook\n    url: http://127.0.0.1:1/services/T0K3N\n    messageText: hi\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(r.logs.contains("http://127.0.0.1/******"), "{}", r.logs);
    assert!(!r.logs.contains("T0K3N"), "{}", r.logs);
    // Neither a payload nor a message.
    let r = run(&flow(
        "  - id: hook\n    type: io.kestra.plugin.slack.notifications.SlackIncomingWebhook\n    url: http://127.0.0.1:1/x\n",
    ))
    .await;
    assert!(
        r.logs
            .contains("Either 'messageText' or 'payload' must be provided"),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn slack_execution_describes_the_current_execution() {
    let server = start().await;
    let r = run(&format!(
        r##"id: nightly
namespace: company.team
tasks:
  - id: first
    type: io.kestra.plugin.core.log.Log
    message: hi
  - id: breaks
    type: io.kestra.plugin.core.execution.Fail
errors:
  - id: alert
    type: io.kestra.plugin.notifications.slack.SlackExecution
    url: "{hook}"
    channel: "#alerts"
    customMessage: "Nightly load of {{{{ flow.id }}}}"
    customFields:
      Env: local
"##,
        hook = server.url("/hooks/slack")
    ))
    .await;
    assert_eq!(r.state.as_str(), "FAILED", "{}", r.logs);
    assert_eq!(support::state_of(&r, "alert"), "SUCCESS", "{}", r.logs);
    assert!(
        r.logs
            .contains("Loading execution data for the current execution."),
        "{}",
        r.logs
    );
    let posted: Json = serde_json::from_slice(&server.at("/hooks/slack")[0].body).unwrap();
    let id = r.record["id"].as_str().unwrap();
    let text = posted["text"].as_str().unwrap();
    assert!(
        text.starts_with("*[company.team] nightly ➛ RUNNING*\n> Failed on task `breaks` after "),
        "{text}"
    );
    assert_eq!(posted["channel"], "#alerts");
    assert_eq!(
        posted["blocks"][0]["text"]["text"],
        "Nightly load of nightly"
    );
    assert_eq!(posted["blocks"][1]["text"]["text"], posted["text"]);
    let fields: Vec<(String, Json)> = posted["attachments"][0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["title"].as_str().unwrap().to_string(), f["value"].clone()))
        .collect();
    assert_eq!(
        fields,
        vec![
            ("Namespace".to_string(), json!("company.team")),
            ("Flow ID".to_string(), json!("nightly")),
            ("Execution ID".to_string(), json!(id)),
            ("Execution Status".to_string(), json!("RUNNING")),
            ("Env".to_string(), json!("local")),
            ("Final task ID".to_string(), json!("breaks")),
        ]
    );
    assert_eq!(posted["attachments"][0]["color"], "danger");
    assert!(posted["attachments"][0]["ts"].as_i64().unwrap() > 1_700_000_000);

    // Another execution is not known here.
    let r = run(&flow(&format!(
        "  - id: alert\n    type: io.kestra.plugin.slack.notifications.SlackExecution\n    url: \"{}\"\n    executionId: other-id\n",
        server.url("/hooks/slack")
    )))
    .await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        r.logs.contains("runner knows only the current execution"),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn the_other_execution_notifications_post_the_summary_in_each_shape() {
    let server = start().await;
    let r = run(&format!(
        r##"id: nightly
namespace: company.team
tasks:
  - id: breaks
    type: io.kestra.plugin.core.execution.Fail
errors:
  - id: discord
    type: io.kestra.plugin.discord.DiscordExecution
    url: "{hook}/discord"
    username: kestra
    embedList:
      - title: "Flow {{{{ flow.id }}}}"
        color: [255, 0, 0]
  - id: chat
    type: io.kestra.plugin.notifications.google.GoogleChatExecution
    url: "{hook}/chat"
    customMessage: "Nightly"
    text: "Heads up"
  - id: teams
    type: io.kestra.plugin.notifications.teams.TeamsExecution
    url: "{hook}/teams"
    activityTitle: "Kestra alert"
  - id: zulip
    type: io.kestra.plugin.zulip.ZulipExecution
    url: "{hook}/zulip"
    channel: alerts
"##,
        hook = server.url("/hooks")
    ))
    .await;
    assert_eq!(r.state.as_str(), "FAILED", "{}", r.logs);
    let body = |path: &str| -> Json { serde_json::from_slice(&server.at(path)[0].body).unwrap() };
    let id = r.record["id"].as_str().unwrap();
    let discord = body("/hooks/discord");
    assert_eq!(discord["username"], "kestra");
    let embed = &discord["embeds"][0];
    assert_eq!(embed["title"], "Flow nightly");
    assert_eq!(embed["color"], 0xFF0000);
    assert!(
        embed["description"]
            .as_str()
            .unwrap()
            .starts_with("Failed on task `breaks` after "),
        "{embed}"
    );
    assert_eq!(
        embed["fields"][2],
        json!({"name": "Execution ID", "value": id, "inline": true})
    );
    let chat = body("/hooks/chat")["text"].as_str().unwrap().to_string();
    assert!(
        chat.starts_with(
            "Heads up\nNightly\n*[company.team] nightly ➛ RUNNING*\nFailed on task `breaks`"
        ),
        "{chat}"
    );
    assert!(chat.contains(&format!("\nExecution ID: {id}")), "{chat}");
    let teams = body("/hooks/teams");
    assert_eq!(teams["@type"], "MessageCard");
    assert_eq!(teams["title"], "Kestra alert");
    assert_eq!(teams["summary"], "[company.team] nightly ➛ RUNNING");
    assert_eq!(
        teams["sections"][0]["facts"][0],
        json!({"name": "Namespace", "value": "company.team"})
    );
    let zulip = body("/hooks/zulip");
    assert_eq!(zulip["channel"], "alerts");
    assert!(
        zulip["text"]
            .as_str()
            .unwrap()
            .starts_with("**[company.team] nightly ➛ RUNNING**"),
        "{zulip}"
    );
}
