//! What an agent adds to the prompt: `memory` (the earlier turns of the conversation, kept in
//! the namespace's KV store) and `contentRetrievers` (web search results, Tavily's API).

use crate::provider::Message;
use crate::search::{Found, tavily_search};
use runner_core::plugin::*;
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
