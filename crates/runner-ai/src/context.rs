//! What an agent adds to the prompt: `memory` (the earlier turns of the conversation, kept in
//! the namespace's KV store) and `contentRetrievers` (web search results, Tavily's API).

use crate::provider::Message;
use runner_core::plugin::*;
use runner_http::client::{self, ClientOptions};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, json};
use std::time::Duration;

/// Kestra's memory types; runner keeps the window in the KV store (`KestraKVStore`).
pub(crate) struct Memory {
    messages: Option<Property<i64>>,
    ttl: Option<Property<IsoDuration>>,
    memory_id: Option<Property<String>>,
    drop: Option<Property<DropMode>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum DropMode {
    Never,
    BeforeTaskrun,
    AfterTaskrun,
}

impl PropType for Memory {
    const NAME: &'static str = "memory";
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MemoryFields {
    messages: Option<Property<i64>>,
    ttl: Option<Property<IsoDuration>>,
    memory_id: Option<Property<String>>,
    drop: Option<Property<DropMode>>,
}

/// The short name of `kind` under Kestra's packages of `what` (`memory`, `retriever`).
pub(crate) fn short<'a>(kind: &'a str, what: &str) -> &'a str {
    for prefix in [
        format!("io.kestra.plugin.ai.{what}."),
        format!("io.kestra.plugin.langchain4j.{what}."),
    ] {
        if let Some(s) = kind.strip_prefix(prefix.as_str()) {
            return s;
        }
    }
    kind
}

impl<'de> Deserialize<'de> for Memory {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut map = Map::<String, Json>::deserialize(d)?;
        let Some(Json::String(kind)) = map.remove("type") else {
            return Err(D::Error::custom(
                "a memory needs a `type`: io.kestra.plugin.ai.memory.KestraKVStore",
            ));
        };
        if short(&kind, "memory") != "KestraKVStore" {
            return Err(D::Error::custom(format!(
                "the memory `{kind}` is not supported by runner yet: use io.kestra.plugin.ai.memory.KestraKVStore"
            )));
        }
        let f = MemoryFields::deserialize(Json::Object(map)).map_err(D::Error::custom)?;
        Ok(Memory {
            messages: f.messages,
            ttl: f.ttl,
            memory_id: f.memory_id,
            drop: f.drop,
        })
    }
}

/// A memory opened for one task run: the earlier turns, and where to write the new ones.
pub(crate) struct Opened {
    key: String,
    window: usize,
    ttl: Duration,
    keep: bool,
    pub(crate) turns: Vec<Message>,
}

impl Memory {
    /// Reads the window (none when dropped or expired).
    pub(crate) fn open(&self, ctx: &RunContext) -> Result<Opened, TaskError> {
        let window = ctx
            .render_opt(&self.messages, "memory.messages")?
            .unwrap_or(10);
        if window < 1 {
            return Err(TaskError::property("memory.messages", "must be at least 1"));
        }
        let ttl = ctx
            .render_opt(&self.ttl, "memory.ttl")?
            .map(|d| d.0)
            .unwrap_or(Duration::from_secs(3600));
        // Kestra's default is the execution's correlation id, which is the execution's id
        // for a run started on its own.
        let key = match ctx.render_opt(&self.memory_id, "memory.memoryId")? {
            Some(k) if !k.trim().is_empty() => k,
            _ => ctx.execution_id().to_string(),
        };
        check_key(&key).map_err(|why| TaskError::property("memory.memoryId", why))?;
        let drop = ctx
            .render_opt(&self.drop, "memory.drop")?
            .unwrap_or(DropMode::Never);
        let kv = ctx.kv()?;
        let namespace = ctx.namespace().to_string();
        let kv_error = |e: KvError| {
            TaskError::new(
                ErrorKind::Io,
                format!("the memory `{key}` in the KV store: {e}"),
            )
        };
        let mut turns = Vec::new();
        if drop == DropMode::Never {
            if let KvLookup::Found(Json::Array(items)) = kv
                .lookup(&namespace, &key, false)
                .map_err(|e| TaskError::new(ErrorKind::Io, e))?
            {
                for item in items {
                    let role = match item.get("role").and_then(Json::as_str) {
                        Some("assistant") => "assistant",
                        Some("user") => "user",
                        _ => continue,
                    };
                    let content = item
                        .get("content")
                        .and_then(Json::as_str)
                        .unwrap_or_default()
                        .to_string();
                    turns.push(Message { role, content });
                }
            }
        } else {
            kv.delete(&namespace, &key).map_err(kv_error)?;
        }
        Ok(Opened {
            key,
            window: window as usize,
            ttl,
            keep: drop != DropMode::AfterTaskrun,
            turns,
        })
    }
}

impl Opened {
    /// Adds this turn and writes the latest `window` messages back, with the memory's TTL.
    pub(crate) fn save(
        mut self,
        ctx: &RunContext,
        prompt: &str,
        answer: &str,
    ) -> Result<(), TaskError> {
        if !self.keep {
            return Ok(());
        }
        self.turns.push(Message {
            role: "user",
            content: prompt.to_string(),
        });
        self.turns.push(Message {
            role: "assistant",
            content: answer.to_string(),
        });
        let start = self.turns.len().saturating_sub(self.window);
        let value = Json::Array(
            self.turns[start..]
                .iter()
                .map(|m| json!({"role": m.role, "content": m.content}))
                .collect(),
        );
        ctx.kv()?
            .set(KvWrite {
                namespace: ctx.namespace().to_string(),
                key: self.key.clone(),
                value,
                kv_type: Some("JSON".into()),
                description: Some("runner AI memory".into()),
                ttl: Some(self.ttl),
                overwrite: true,
            })
            .map_err(|e| {
                TaskError::new(
                    ErrorKind::Io,
                    format!("the memory `{}` in the KV store: {e}", self.key),
                )
            })
    }
}

/// A content retriever: web search through Tavily (`TavilyWebSearch`).
pub(crate) struct Retriever {
    api_key: Property<String>,
    max_results: Option<Property<i64>>,
}

impl PropType for Retriever {
    const NAME: &'static str = "content retriever";
}

impl Seal for Retriever {
    fn seal(&mut self) {
        self.api_key.seal();
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TavilyFields {
    api_key: Property<String>,
    max_results: Option<Property<i64>>,
}

impl<'de> Deserialize<'de> for Retriever {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut map = Map::<String, Json>::deserialize(d)?;
        let Some(Json::String(kind)) = map.remove("type") else {
            return Err(D::Error::custom(
                "a content retriever needs a `type`: io.kestra.plugin.ai.retriever.TavilyWebSearch",
            ));
        };
        match short(&kind, "retriever") {
            "TavilyWebSearch" => {}
            _ => {
                return Err(D::Error::custom(format!(
                    "the content retriever `{kind}` is not supported by runner yet: use io.kestra.plugin.ai.retriever.TavilyWebSearch"
                )));
            }
        }
        let f = TavilyFields::deserialize(Json::Object(map)).map_err(D::Error::custom)?;
        Ok(Retriever {
            api_key: f.api_key,
            max_results: f.max_results,
        })
    }
}

/// A list of retrievers, sealed together.
pub(crate) struct Retrievers(pub(crate) Vec<Retriever>);

impl PropType for Retrievers {
    const NAME: &'static str = "list of content retrievers";
}

impl Seal for Retrievers {
    fn seal(&mut self) {
        for r in &mut self.0 {
            r.seal();
        }
    }
}

impl<'de> Deserialize<'de> for Retrievers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<Retriever>::deserialize(d).map(Retrievers)
    }
}

impl Retriever {
    /// The search results for `query`, as text for the prompt (title, address, content).
    pub(crate) async fn retrieve(
        &self,
        ctx: &RunContext,
        index: usize,
        query: &str,
    ) -> Result<Vec<String>, TaskError> {
        let property = format!("contentRetrievers[{index}]");
        let key = ctx.render(&self.api_key, &format!("{property}.apiKey"))?;
        let max = ctx
            .render_opt(&self.max_results, &format!("{property}.maxResults"))?
            .unwrap_or(3);
        Ok(tavily_search(ctx, &key, query, max, &property)
            .await?
            .iter()
            .map(Found::text)
            .collect())
    }
}

/// One web search result.
pub(crate) struct Found {
    pub(crate) title: String,
    pub(crate) url: String,
    pub(crate) content: String,
}

impl Found {
    /// As the prompt or a tool's result gives it: title, address, content.
    pub(crate) fn text(&self) -> String {
        format!("{}\n{}\n{}", self.title, self.url, self.content)
    }
}

/// Tavily's search: at most `max` results for `query`. `property` names the retriever or tool
/// in messages.
pub(crate) async fn tavily_search(
    ctx: &RunContext,
    key: &str,
    query: &str,
    max: i64,
    property: &str,
) -> Result<Vec<Found>, TaskError> {
    // Kestra has no property for the API's address; runner reads RUNNER_TAVILY_URL.
    let base = ctx
        .env_var("RUNNER_TAVILY_URL")
        .unwrap_or("https://api.tavily.com")
        .trim_end_matches('/')
        .to_string();
    let url = client::parse_url(ctx, "RUNNER_TAVILY_URL", &format!("{base}/search"))?;
    let http = client::client(ctx, &ClientOptions::default())?;
    let response = http
        .post(url.clone())
        .bearer_auth(key)
        .header(client::reqwest::header::CONTENT_TYPE, "application/json")
        .body(json!({"query": query, "max_results": max}).to_string())
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .map_err(|e| client::send_error(url.as_str(), e))?;
    let body = search_answer(response, "Tavily", property).await?;
    let results = body
        .get("results")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(results
        .iter()
        .filter_map(|r| {
            Some(Found {
                content: r.get("content").and_then(Json::as_str)?.to_string(),
                title: r
                    .get("title")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_string(),
                url: r
                    .get("url")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_string(),
            })
        })
        .collect())
}

/// Google's Custom Search JSON API (`customsearch/v1`): at most `max` results (it gives 10 at
/// most) for `query` in search engine `cx`.
pub(crate) async fn google_search(
    ctx: &RunContext,
    key: &str,
    cx: &str,
    query: &str,
    max: i64,
    property: &str,
) -> Result<Vec<Found>, TaskError> {
    // Kestra has no property for the API's address; runner reads RUNNER_GOOGLE_SEARCH_URL.
    let base = ctx
        .env_var("RUNNER_GOOGLE_SEARCH_URL")
        .unwrap_or("https://www.googleapis.com")
        .trim_end_matches('/')
        .to_string();
    let mut url = client::parse_url(
        ctx,
        "RUNNER_GOOGLE_SEARCH_URL",
        &format!("{base}/customsearch/v1"),
    )?;
    url.query_pairs_mut()
        .append_pair("key", key)
        .append_pair("cx", cx)
        .append_pair("q", query)
        .append_pair("num", &max.clamp(1, 10).to_string());
    let http = client::client(ctx, &ClientOptions::default())?;
    // The address holds the key: errors name the API, not the address.
    let response = http
        .get(url)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .map_err(|e| {
            TaskError::new(
                ErrorKind::Unreachable,
                format!("cannot call Google's Custom Search API ({property})"),
            )
            .hint(format!("check that {base} is reachable"))
            .caused_by(e.without_url())
        })?;
    let body = search_answer(response, "Google Custom Search", property).await?;
    let items = body
        .get("items")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(items
        .iter()
        .filter_map(|r| {
            Some(Found {
                content: r.get("snippet").and_then(Json::as_str)?.to_string(),
                title: r
                    .get("title")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_string(),
                url: r
                    .get("link")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_string(),
            })
        })
        .collect())
}

/// A search API's answer as JSON; a refusal says what to check (never quoting a refused
/// key's answer: it may hold pieces of the key).
async fn search_answer(
    response: client::reqwest::Response,
    api: &str,
    property: &str,
) -> Result<Json, TaskError> {
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|e| {
        TaskError::new(
            ErrorKind::Remote,
            format!("{api}'s answer could not be read"),
        )
        .caused_by(e)
    })?;
    if !(200..300).contains(&status) {
        let refused = matches!(status, 400 | 401 | 403)
            && text.to_ascii_lowercase().contains("key")
            || matches!(status, 401 | 403);
        let detail = if refused {
            "the API key was refused".to_string()
        } else {
            text.chars().take(300).collect()
        };
        return Err(TaskError::new(
            ErrorKind::Remote,
            format!("{api} answered {status}: {detail}"),
        )
        .hint(if refused {
            format!("check `{property}.apiKey`")
        } else {
            format!("{api}'s message says what it refused")
        }));
    }
    serde_json::from_str(&text).map_err(|e| {
        TaskError::new(ErrorKind::Remote, format!("{api}'s answer is not JSON")).caused_by(e)
    })
}

/// The user message with what the retrievers found, as langchain4j's default injector writes it.
pub(crate) fn augment(prompt: &str, contents: &[String]) -> String {
    if contents.is_empty() {
        return prompt.to_string();
    }
    format!(
        "{prompt}\n\nAnswer using the following information:\n{}",
        contents.join("\n\n")
    )
}
