//! Kestra's `provider` (`type: io.kestra.plugin.ai.provider.<Name>`) and `configuration`,
//! and the chat call they make. runner speaks the OpenAI chat completions API, which OpenAI
//! and every OpenAI-compatible server (Ollama, DeepSeek, Mistral, OpenRouter, LocalAI,
//! llama.cpp, Docker Model Runner, Hugging Face's router, GitHub Models) answer.

use runner_core::plugin::*;
use runner_http::client::{self, ClientOptions};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, json};
use std::time::{Duration, Instant};

/// A provider runner can call: its Kestra name and where it listens by default.
struct Kind {
    name: &'static str,
    /// The base URL when `baseUrl` is not set (`None`: the property is required).
    base: Option<&'static str>,
    /// The property that holds the key (`apiKey`, GitHub Models' `gitHubToken`).
    key: &'static str,
    /// Whether it takes `topK` (the OpenAI API has none; Ollama's does).
    top_k: bool,
}

const KINDS: &[Kind] = &[
    Kind {
        name: "OpenAI",
        base: Some("https://api.openai.com/v1"),
        key: "apiKey",
        top_k: false,
    },
    Kind {
        name: "DeepSeek",
        base: Some("https://api.deepseek.com/v1"),
        key: "apiKey",
        top_k: false,
    },
    Kind {
        name: "HuggingFace",
        base: Some("https://router.huggingface.co/v1"),
        key: "apiKey",
        top_k: false,
    },
    Kind {
        name: "DockerModel",
        base: Some("http://localhost:12434/engines/v1"),
        key: "apiKey",
        top_k: false,
    },
    Kind {
        name: "OpenRouter",
        base: Some("https://openrouter.ai/api/v1"),
        key: "apiKey",
        top_k: false,
    },
    Kind {
        name: "MistralAI",
        base: Some("https://api.mistral.ai/v1"),
        key: "apiKey",
        top_k: false,
    },
    Kind {
        name: "GitHubModels",
        base: Some("https://models.inference.ai.azure.com"),
        key: "gitHubToken",
        top_k: false,
    },
    // Google's OpenAI-compatible endpoint of the Gemini API (the key as a bearer token).
    Kind {
        name: "GoogleGemini",
        base: Some("https://generativelanguage.googleapis.com/v1beta/openai"),
        key: "apiKey",
        top_k: false,
    },
    Kind {
        name: "LocalAI",
        base: None,
        key: "apiKey",
        top_k: true,
    },
    // Ollama's `endpoint` is its server; its OpenAI-compatible API is under /v1.
    Kind {
        name: "Ollama",
        base: None,
        key: "apiKey",
        top_k: true,
    },
];

/// Kestra's providers runner cannot call yet, and what to use instead.
const ELSEWHERE: &[&str] = &[
    "Anthropic",
    "GoogleVertexAI",
    "AzureOpenAI",
    "AmazonBedrock",
    "WorkersAI",
    "WatsonxAI",
    "ZhiPuAI",
    "DashScope",
    "OciGenAI",
];

const PREFIXES: &[&str] = &[
    "io.kestra.plugin.ai.provider.",
    "io.kestra.plugin.langchain4j.provider.",
];

/// A `provider` object. No `Debug`: it holds the key.
pub(crate) struct Provider {
    kind: &'static Kind,
    model_name: Property<String>,
    api_key: Option<Property<String>>,
    base_url: Option<Property<String>>,
}

impl PropType for Provider {
    const NAME: &'static str = "provider";
}

impl Seal for Provider {
    fn seal(&mut self) {
        self.api_key.seal();
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Fields {
    model_name: Property<String>,
    api_key: Option<Property<String>>,
    git_hub_token: Option<Property<String>>,
    base_url: Option<Property<String>>,
    endpoint: Option<Property<String>>,
    /// Gemini's embedding settings: for the RAG tasks, which runner does not have yet.
    #[allow(dead_code)]
    embedding_model_configuration: Option<Json>,
}

impl<'de> Deserialize<'de> for Provider {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut map = Map::<String, Json>::deserialize(d)?;
        let names = || KINDS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ");
        let Some(Json::String(kind)) = map.remove("type") else {
            return Err(D::Error::custom(format!(
                "a provider needs a `type`: io.kestra.plugin.ai.provider.<one of {}>",
                names()
            )));
        };
        let short = PREFIXES
            .iter()
            .find_map(|p| kind.strip_prefix(p))
            .unwrap_or(kind.as_str());
        let Some(found) = KINDS.iter().find(|k| k.name == short) else {
            let why = if ELSEWHERE.contains(&short) {
                format!(
                    "the {short} provider is not supported by runner yet (its API is not OpenAI's)"
                )
            } else {
                format!("`{kind}` is not a provider runner knows")
            };
            return Err(D::Error::custom(format!(
                "{why}: use one of {} (io.kestra.plugin.ai.provider.<Name>), or OpenAI with the `baseUrl` of an OpenAI-compatible server",
                names()
            )));
        };
        let f = Fields::deserialize(Json::Object(map)).map_err(D::Error::custom)?;
        let api_key = match found.key {
            "gitHubToken" => f.git_hub_token.or(f.api_key),
            _ => f.api_key,
        };
        // Ollama's `endpoint` is its server's address; `baseUrl` wins when both are set.
        let base_url = match (f.base_url, f.endpoint) {
            (Some(b), _) => Some(b),
            (None, Some(e)) if found.name == "Ollama" => Some(e),
            (None, Some(_)) => {
                return Err(D::Error::custom(format!(
                    "the {} provider has no `endpoint`: use `baseUrl`",
                    found.name
                )));
            }
            (None, None) => None,
        };
        if found.base.is_none() && base_url.is_none() {
            let property = if found.name == "Ollama" {
                "endpoint"
            } else {
                "baseUrl"
            };
            return Err(D::Error::custom(format!(
                "the {} provider needs `{property}`: the server's address",
                found.name
            )));
        }
        Ok(Provider {
            kind: found,
            model_name: f.model_name,
            api_key,
            base_url,
        })
    }
}

impl Provider {
    /// The provider's API address (without the endpoint), key and model, rendered; `property`
    /// names it in errors (`provider`, `embeddingProvider`...).
    pub(crate) fn resolve(
        &self,
        ctx: &RunContext,
        property: &str,
    ) -> Result<(String, Option<String>, String), TaskError> {
        let model = ctx.render(&self.model_name, &format!("{property}.modelName"))?;
        let key = ctx.render_opt(&self.api_key, &format!("{property}.apiKey"))?;
        let base = match ctx.render_opt(&self.base_url, &format!("{property}.baseUrl"))? {
            Some(b) => b,
            None => self.kind.base.unwrap_or_default().to_string(),
        };
        let mut base = base.trim_end_matches('/').to_string();
        if self.kind.name == "Ollama" && !base.ends_with("/v1") {
            base.push_str("/v1");
        }
        Ok((base, key, model))
    }

    /// The embeddings of `texts`, in order, and the tokens they took.
    pub(crate) async fn embed(
        &self,
        ctx: &RunContext,
        property: &str,
        texts: &[String],
    ) -> Result<(Vec<Vec<f32>>, i64), TaskError> {
        let (base, key, model) = self.resolve(ctx, property)?;
        let timeout = call_timeout(ctx);
        let body = json!({"model": model, "input": texts});
        let raw = post(
            ctx,
            self.kind.name,
            &format!("{base}/embeddings"),
            key.as_deref(),
            body,
            timeout,
            false,
            false,
        )
        .await?;
        let data = raw
            .get("data")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        if data.len() != texts.len() {
            return Err(TaskError::new(
                ErrorKind::Remote,
                format!(
                    "the {} provider gave {} embeddings for {} texts",
                    self.kind.name,
                    data.len(),
                    texts.len()
                ),
            )
            .hint("check that `modelName` is an embedding model"));
        }
        let mut out = vec![Vec::new(); texts.len()];
        for (i, item) in data.iter().enumerate() {
            let at = item
                .get("index")
                .and_then(Json::as_u64)
                .map(|i| i as usize)
                .unwrap_or(i);
            let vector = item.get("embedding").map(vector_of).unwrap_or_default();
            if vector.is_empty() || at >= out.len() {
                return Err(TaskError::new(
                    ErrorKind::Remote,
                    format!("the {} provider's embedding {i} is empty", self.kind.name),
                ));
            }
            out[at] = vector;
        }
        let tokens = raw
            .pointer("/usage/total_tokens")
            .and_then(Json::as_i64)
            .unwrap_or(0);
        Ok((out, tokens))
    }
}

/// An embedding as OpenAI gives it (a list of numbers). A server that gives one vector per
/// token (llama.cpp for a model without pooling) gets them averaged, as mean pooling does.
fn vector_of(embedding: &Json) -> Vec<f32> {
    let Some(items) = embedding.as_array() else {
        return Vec::new();
    };
    if items.first().is_some_and(Json::is_array) {
        let rows: Vec<Vec<f32>> = items.iter().map(vector_of).collect();
        let width = rows.first().map_or(0, Vec::len);
        if width == 0 || rows.iter().any(|r| r.len() != width) {
            return Vec::new();
        }
        let mut mean = vec![0f32; width];
        for row in &rows {
            for (m, x) in mean.iter_mut().zip(row) {
                *m += x / rows.len() as f32;
            }
        }
        return mean;
    }
    items
        .iter()
        .filter_map(Json::as_f64)
        .map(|x| x as f32)
        .collect()
}

/// `configuration` (Kestra's ChatConfiguration).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Configuration {
    temperature: Option<Property<f64>>,
    top_k: Option<Property<i64>>,
    top_p: Option<Property<f64>>,
    seed: Option<Property<i64>>,
    max_token: Option<Property<i64>>,
    log_requests: Option<Property<bool>>,
    log_responses: Option<Property<bool>>,
    /// Accepted as in Kestra; OpenAI-compatible providers ignore them.
    #[allow(dead_code)]
    thinking_enabled: Option<Property<bool>>,
    #[allow(dead_code)]
    thinking_budget_tokens: Option<Property<i64>>,
    #[allow(dead_code)]
    return_thinking: Option<Property<bool>>,
    #[allow(dead_code)]
    prompt_caching: Option<Property<bool>>,
    response_format: Option<ResponseFormat>,
}

impl PropType for Configuration {
    const NAME: &'static str = "chat configuration";
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ResponseFormat {
    #[serde(rename = "type")]
    kind: Option<Property<FormatType>>,
    json_schema: Option<Property<Json>>,
    json_schema_description: Option<Property<String>>,
    strict_json: Option<Property<bool>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum FormatType {
    Text,
    Json,
}

/// A message of the conversation, in the OpenAI API's roles.
#[derive(Clone)]
pub(crate) struct Message {
    pub(crate) role: &'static str,
    pub(crate) content: String,
}

impl Message {
    pub(crate) fn to_json(&self) -> Json {
        json!({"role": self.role, "content": self.content})
    }
}

/// A tool call the model asked for: its id, the tool's name and the arguments it gave.
#[derive(Clone, Debug)]
pub(crate) struct ToolCall {
    pub(crate) id: String,
    pub(crate) name: String,
    /// The arguments as the model wrote them (JSON text; blank is `{}`).
    pub(crate) arguments: String,
}

/// What one chat call asks besides the messages.
#[derive(Default)]
pub(crate) struct Ask {
    /// A JSON schema the answer must follow (`response_format`), with its name.
    pub(crate) schema: Option<(String, Json, bool)>,
    /// An answer that is JSON, without a schema.
    pub(crate) json: bool,
    /// The tools the model may call (OpenAI's `tools`).
    pub(crate) tools: Option<Json>,
}

/// A chat call's answer.
pub(crate) struct Answer {
    pub(crate) id: Option<String>,
    pub(crate) text: String,
    pub(crate) finish_reason: &'static str,
    pub(crate) input_tokens: i64,
    pub(crate) output_tokens: i64,
    pub(crate) total_tokens: i64,
    pub(crate) duration_ms: u64,
    /// The tools the model asks to call, in order.
    pub(crate) tool_calls: Vec<ToolCall>,
}

impl Answer {
    /// The answer as the assistant's message of the conversation that goes on. Its content is
    /// text, never null: servers such as llama.cpp's refuse a null one.
    pub(crate) fn message(&self) -> Json {
        let mut m = json!({"role": "assistant", "content": self.text});
        if !self.tool_calls.is_empty() {
            m["tool_calls"] = Json::Array(
                self.tool_calls
                    .iter()
                    .map(|c| {
                        json!({"id": c.id, "type": "function",
                            "function": {"name": c.name, "arguments": c.arguments}})
                    })
                    .collect(),
            );
        }
        m
    }
}

/// A provider and configuration, rendered for one task run.
pub(crate) struct Chat {
    provider: &'static str,
    url: String,
    key: Option<String>,
    model: String,
    body: Map<String, Json>,
    log_requests: bool,
    log_responses: bool,
    timeout: Duration,
}

impl Chat {
    pub(crate) fn new(
        ctx: &RunContext,
        provider: &Provider,
        configuration: Option<&Configuration>,
    ) -> Result<Chat, TaskError> {
        let (base, key, model) = provider.resolve(ctx, "provider")?;
        let mut body = Map::new();
        let mut chat = Chat {
            provider: provider.kind.name,
            url: format!("{base}/chat/completions"),
            key,
            model,
            body: Map::new(),
            log_requests: false,
            log_responses: false,
            timeout: Duration::from_secs(120),
        };
        if let Some(c) = configuration {
            if let Some(t) = ctx.render_opt(&c.temperature, "configuration.temperature")? {
                body.insert("temperature".into(), json!(t));
            }
            if let Some(p) = ctx.render_opt(&c.top_p, "configuration.topP")? {
                body.insert("top_p".into(), json!(p));
            }
            if let Some(k) = ctx.render_opt(&c.top_k, "configuration.topK")? {
                if !provider.kind.top_k {
                    let why = match provider.kind.name {
                        "MistralAI" => "Mistral models do not support setting the topK parameter.",
                        // Kestra's Gemini client takes it; the OpenAI-compatible API runner
                        // calls has no such parameter.
                        "GoogleGemini" => {
                            "runner calls Gemini through its OpenAI-compatible API, which has no topK: remove it, or use topP"
                        }
                        _ => "OpenAI models do not support setting the topK parameter.",
                    };
                    return Err(TaskError::property("configuration.topK", why));
                }
                body.insert("top_k".into(), json!(k));
            }
            if let Some(s) = ctx.render_opt(&c.seed, "configuration.seed")? {
                body.insert("seed".into(), json!(s));
            }
            if let Some(m) = ctx.render_opt(&c.max_token, "configuration.maxToken")? {
                body.insert("max_completion_tokens".into(), json!(m));
                // Servers that predate the name (llama.cpp, LocalAI) read the old one.
                body.insert("max_tokens".into(), json!(m));
            }
            chat.log_requests = ctx
                .render_opt(&c.log_requests, "configuration.logRequests")?
                .unwrap_or(false);
            chat.log_responses = ctx
                .render_opt(&c.log_responses, "configuration.logResponses")?
                .unwrap_or(false);
            if let Some(f) = &c.response_format {
                let kind = ctx
                    .render_opt(&f.kind, "configuration.responseFormat.type")?
                    .unwrap_or(FormatType::Text);
                let schema =
                    ctx.render_opt(&f.json_schema, "configuration.responseFormat.jsonSchema")?;
                let strict =
                    ctx.render_opt(&f.strict_json, "configuration.responseFormat.strictJson")?;
                let _ = ctx.render_opt(
                    &f.json_schema_description,
                    "configuration.responseFormat.jsonSchemaDescription",
                )?;
                if kind != FormatType::Json {
                    if schema.is_some() {
                        return Err(TaskError::property(
                            "configuration.responseFormat",
                            "`jsonSchema` property is only allowed when `type` is `JSON`",
                        ));
                    }
                    if strict.is_some() {
                        return Err(TaskError::property(
                            "configuration.responseFormat",
                            "`strictJson` property is only allowed when `type` is `JSON`",
                        ));
                    }
                } else {
                    body.insert(
                        "response_format".into(),
                        response_format(
                            schema.as_ref().map(|s| ("output", s)),
                            strict.unwrap_or(false),
                        ),
                    );
                }
            }
        }
        chat.body = body;
        chat.timeout = call_timeout(ctx);
        Ok(chat)
    }

    pub(crate) fn provider(&self) -> &'static str {
        self.provider
    }

    /// Whether `configuration.responseFormat.type` is JSON.
    pub(crate) fn answers_json(&self) -> bool {
        self.body.contains_key("response_format")
    }

    /// One chat call.
    pub(crate) async fn call(
        &self,
        ctx: &RunContext,
        messages: &[Message],
        ask: &Ask,
    ) -> Result<Answer, TaskError> {
        let messages = messages.iter().map(Message::to_json).collect();
        self.call_with(ctx, messages, ask).await
    }

    /// One chat call with messages as the API takes them (tool calls and their results).
    pub(crate) async fn call_with(
        &self,
        ctx: &RunContext,
        messages: Vec<Json>,
        ask: &Ask,
    ) -> Result<Answer, TaskError> {
        let mut body = self.body.clone();
        body.insert("model".into(), Json::String(self.model.clone()));
        body.insert("messages".into(), Json::Array(messages));
        if let Some(tools) = &ask.tools {
            body.insert("tools".into(), tools.clone());
            // OpenAI's default with tools, said: servers such as llama.cpp's call none without.
            body.insert("tool_choice".into(), Json::String("auto".into()));
        }
        if let Some((name, schema, strict)) = &ask.schema {
            body.insert(
                "response_format".into(),
                response_format(Some((name, schema)), *strict),
            );
        } else if ask.json && !body.contains_key("response_format") {
            body.insert("response_format".into(), response_format(None, false));
        }
        let raw = post(
            ctx,
            self.provider,
            &self.url,
            self.key.as_deref(),
            Json::Object(body),
            self.timeout,
            self.log_requests,
            self.log_responses,
        )
        .await?;
        answer(self.provider, raw)
    }
}

/// How long a provider call may last: what is left of the task's own `timeout`, else Kestra's
/// 120 seconds.
pub(crate) fn call_timeout(ctx: &RunContext) -> Duration {
    match ctx.deadline() {
        Some(d) => d
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1)),
        None => Duration::from_secs(120),
    }
}

/// An OpenAI `response_format`: a JSON schema, or JSON.
fn response_format(schema: Option<(&str, &Json)>, strict: bool) -> Json {
    match schema {
        Some((name, schema)) => json!({
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema, "strict": strict},
        }),
        None => json!({"type": "json_object"}),
    }
}

/// The `response_format` of servers that predate `json_schema` (llama-cpp-python, some
/// LocalAI versions): JSON mode with the schema beside it; `None` when `body` asks no schema.
fn older_response_format(body: &Json) -> Option<Json> {
    let format = body.get("response_format")?;
    if format.get("type")? != "json_schema" {
        return None;
    }
    let schema = format.pointer("/json_schema/schema")?;
    Some(json!({"type": "json_object", "schema": schema}))
}

/// POSTs `body` to a provider, with its key as a bearer token; the parsed answer. A server
/// that refuses OpenAI's `json_schema` response format is asked again in the older JSON mode.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn post(
    ctx: &RunContext,
    provider: &str,
    url: &str,
    key: Option<&str>,
    mut body: Json,
    timeout: Duration,
    log_request: bool,
    log_response: bool,
) -> Result<Json, TaskError> {
    match post_once(
        ctx,
        provider,
        url,
        key,
        &body,
        timeout,
        log_request,
        log_response,
    )
    .await?
    {
        Ok(raw) => Ok(raw),
        Err(refused) => {
            let older = older_response_format(&body).filter(|_| {
                matches!(refused.status, 400 | 422 | 500)
                    && refused.text.contains("response_format")
            });
            let Some(older) = older else {
                return Err(refused.error);
            };
            body["response_format"] = older;
            match post_once(
                ctx,
                provider,
                url,
                key,
                &body,
                timeout,
                log_request,
                log_response,
            )
            .await?
            {
                Ok(raw) => Ok(raw),
                Err(refused) => Err(refused.error),
            }
        }
    }
}

/// A provider's refusal: its status and body, and the error it makes.
struct Refused {
    status: u16,
    text: String,
    error: TaskError,
}

#[allow(clippy::too_many_arguments)]
async fn post_once(
    ctx: &RunContext,
    provider: &str,
    url: &str,
    key: Option<&str>,
    body: &Json,
    timeout: Duration,
    log_request: bool,
    log_response: bool,
) -> Result<Result<Json, Refused>, TaskError> {
    let parsed = client::parse_url(ctx, "provider.baseUrl", url)?;
    let http = client::client(ctx, &ClientOptions::default())?;
    if log_request {
        ctx.log(Level::Info, &format!("{provider} request: {body}"));
    }
    let mut request = http
        .post(parsed.clone())
        .timeout(timeout)
        .header(client::reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string());
    if let Some(k) = key.filter(|k| !k.is_empty()) {
        request = request.bearer_auth(k);
    }
    let started = Instant::now();
    let response = request.send().await.map_err(|e| {
        let hint = if e.is_timeout() {
            "the provider did not answer in time: raise the task's `timeout` (default 120 s)"
                .to_string()
        } else {
            format!("check that the {provider} server at {url} is running and reachable")
        };
        TaskError::new(
            ErrorKind::Unreachable,
            format!("cannot call the {provider} provider at {url}"),
        )
        .hint(hint)
        .caused_by(e)
    })?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|e| {
        TaskError::new(
            ErrorKind::Remote,
            format!("the {provider} provider's answer could not be read"),
        )
        .caused_by(e)
    })?;
    // A refused key's answer quotes pieces of it (OpenAI gives its first and last
    // characters), which the masker, knowing the whole key only, would let through.
    let refused_key = matches!(status, 401 | 403);
    if log_response && !refused_key {
        ctx.log(Level::Info, &format!("{provider} response: {text}"));
    }
    if !(200..300).contains(&status) {
        let detail = if refused_key {
            "the API key was refused".to_string()
        } else {
            serde_json::from_str::<Json>(&text)
                .ok()
                .and_then(|j| {
                    j.pointer("/error/message")
                        .and_then(Json::as_str)
                        .map(str::to_string)
                })
                .unwrap_or_else(|| text.chars().take(500).collect())
        };
        let hint = match status {
            401 | 403 => {
                "check the provider's API key (`apiKey`): the provider refused it".to_string()
            }
            404 => "check `modelName` and the provider's `baseUrl`".to_string(),
            429 => "the provider limits the rate or quota of this key: try again later".to_string(),
            _ => "the provider's message says what it refused".to_string(),
        };
        let error = TaskError::new(
            ErrorKind::Remote,
            format!("the {provider} provider answered {status}: {detail}"),
        )
        .hint(hint);
        return Ok(Err(Refused {
            status,
            text,
            error,
        }));
    }
    let mut raw: Json = serde_json::from_str(&text).map_err(|e| {
        TaskError::new(
            ErrorKind::Remote,
            format!("the {provider} provider's answer is not JSON"),
        )
        .caused_by(e)
    })?;
    if let Some(o) = raw.as_object_mut() {
        o.insert(
            "__duration_ms".into(),
            json!(started.elapsed().as_millis() as u64),
        );
    }
    Ok(Ok(raw))
}

/// The answer of a chat completion.
fn answer(provider: &str, mut raw: Json) -> Result<Answer, TaskError> {
    let duration_ms = raw
        .as_object_mut()
        .and_then(|o| o.remove("__duration_ms"))
        .and_then(|d| d.as_u64())
        .unwrap_or(0);
    let choice = raw.pointer("/choices/0").cloned().ok_or_else(|| {
        TaskError::new(
            ErrorKind::Remote,
            format!("the {provider} provider's answer has no choice"),
        )
    })?;
    let text = choice
        .pointer("/message/content")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string();
    let finish_reason = match choice.get("finish_reason").and_then(Json::as_str) {
        Some("stop") => "STOP",
        Some("length") => "LENGTH",
        Some("tool_calls" | "function_call") => "TOOL_EXECUTION",
        Some("content_filter") => "CONTENT_FILTER",
        _ => "OTHER",
    };
    let usage = |k: &str| {
        raw.pointer(&format!("/usage/{k}"))
            .and_then(Json::as_i64)
            .unwrap_or(0)
    };
    let tool_calls = choice
        .pointer("/message/tool_calls")
        .and_then(Json::as_array)
        .map(|calls| {
            calls
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    let name = c.pointer("/function/name").and_then(Json::as_str)?;
                    let arguments = match c.pointer("/function/arguments") {
                        Some(Json::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                        None => String::new(),
                    };
                    Some(ToolCall {
                        id: c
                            .get("id")
                            .and_then(Json::as_str)
                            .map_or_else(|| format!("call_{i}"), str::to_string),
                        name: name.to_string(),
                        arguments,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Answer {
        id: raw.get("id").and_then(Json::as_str).map(str::to_string),
        text,
        finish_reason,
        input_tokens: usage("prompt_tokens"),
        output_tokens: usage("completion_tokens"),
        total_tokens: usage("total_tokens"),
        duration_ms,
        tool_calls,
    })
}

/// Kestra's token metrics and `ai.provider.calls`.
pub(crate) fn metrics(ctx: &RunContext, provider: &str, answers: &[&Answer]) {
    let sum = |f: fn(&Answer) -> i64| answers.iter().map(|a| f(a)).sum::<i64>() as f64;
    for (name, value) in [
        ("input.token.count", sum(|a| a.input_tokens)),
        ("output.token.count", sum(|a| a.output_tokens)),
        ("total.token.count", sum(|a| a.total_tokens)),
    ] {
        ctx.metric(Metric {
            name: name.into(),
            kind: MetricKind::Counter,
            value,
            tags: Map::new(),
        });
    }
    let mut tags = Map::new();
    tags.insert("provider".into(), Json::String(provider.to_string()));
    ctx.metric(Metric {
        name: "ai.provider.calls".into(),
        kind: MetricKind::Counter,
        value: answers.len() as f64,
        tags,
    });
}

/// A tool call's arguments as JSON (blank is `{}`, as in Kestra); `None` when not JSON.
pub(crate) fn tool_arguments(text: &str) -> Option<Json> {
    if text.trim().is_empty() {
        return Some(json!({}));
    }
    serde_json::from_str(text).ok()
}

/// Kestra's `AIOutput` for one answer.
pub(crate) fn ai_output(answer: &Answer, json_output: Option<Json>) -> Outputs {
    ai_output_of(std::slice::from_ref(answer), Vec::new(), json_output)
}

fn usage_of(input: i64, output: i64, total: i64) -> Json {
    json!({"inputTokenCount": input, "outputTokenCount": output, "totalTokenCount": total})
}

/// Kestra's `AIOutput` for a conversation with tools: the last answer's text, the token
/// usage of every call, each call as an intermediate response, and the tools run
/// (`{requestId, requestName, requestArguments, result}`).
pub(crate) fn ai_output_of(
    answers: &[Answer],
    tool_executions: Vec<Json>,
    json_output: Option<Json>,
) -> Outputs {
    let last = answers.last().expect("one answer at least");
    let mut out = Outputs::new();
    let sum = |f: fn(&Answer) -> i64| answers.iter().map(f).sum::<i64>();
    let usage = usage_of(
        sum(|a| a.input_tokens),
        sum(|a| a.output_tokens),
        sum(|a| a.total_tokens),
    );
    match json_output {
        Some(j) => {
            out.insert("textOutput".into(), Json::Null);
            out.insert("jsonOutput".into(), j);
        }
        None => {
            out.insert("textOutput".into(), Json::String(last.text.clone()));
        }
    }
    out.insert("tokenUsage".into(), usage);
    out.insert(
        "finishReason".into(),
        Json::String(last.finish_reason.into()),
    );
    out.insert("toolExecutions".into(), Json::Array(tool_executions));
    // The answers that asked for tools; the last (the final answer) is not one of them.
    out.insert(
        "intermediateResponses".into(),
        Json::Array(
            answers
                .iter()
                .filter(|a| !a.tool_calls.is_empty())
                .map(|a| {
                    json!({
                        "id": a.id,
                        "completion": a.text,
                        "tokenUsage": usage_of(a.input_tokens, a.output_tokens, a.total_tokens),
                        "finishReason": a.finish_reason,
                        "toolExecutionRequests": a.tool_calls.iter().map(|c| json!({
                            "id": c.id, "name": c.name,
                            "arguments": tool_arguments(&c.arguments).unwrap_or_else(|| Json::String(c.arguments.clone())),
                        })).collect::<Vec<_>>(),
                        "requestDuration": a.duration_ms,
                    })
                })
                .collect(),
        ),
    );
    out.insert(
        "requestDuration".into(),
        match last.id {
            Some(_) => json!(last.duration_ms),
            None => Json::Null,
        },
    );
    out.insert("guardrailViolated".into(), Json::Bool(false));
    out
}

/// The reply as the JSON object `jsonOutput` holds; a reply that is not one fails the task.
pub(crate) fn json_reply(provider: &str, text: &str) -> Result<Json, TaskError> {
    let trimmed = text.trim();
    // Models often fence JSON in Markdown.
    let bare = trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|t| t.strip_suffix("```"))
        .unwrap_or(trimmed)
        .trim();
    match serde_json::from_str::<Json>(bare) {
        Ok(j @ Json::Object(_)) => Ok(j),
        _ => Err(TaskError::new(
            ErrorKind::BadData,
            format!(
                "the {provider} model's answer is not a JSON object: {}",
                text.chars().take(200).collect::<String>()
            ),
        )
        .hint("give a `jsonSchema` the model can follow, or a model that follows JSON formats")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Json) -> Result<Provider, String> {
        Provider::deserialize(v).map_err(|e| e.to_string())
    }

    #[test]
    fn providers_are_read_by_kestras_names_with_their_addresses() {
        let gemini = parse(json!({
            "type": "io.kestra.plugin.ai.provider.GoogleGemini",
            "modelName": "gemini-2.5-flash",
            "apiKey": "k",
            "embeddingModelConfiguration": {"taskType": "RETRIEVAL_DOCUMENT"},
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            gemini.kind.base,
            Some("https://generativelanguage.googleapis.com/v1beta/openai")
        );
        let old = parse(json!({"type": "io.kestra.plugin.langchain4j.provider.Ollama", "modelName": "m", "endpoint": "http://localhost:11434"}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(old.kind.name, "Ollama");
        assert!(old.base_url.is_some());
        let no_endpoint =
            parse(json!({"type": "io.kestra.plugin.ai.provider.Ollama", "modelName": "m"}));
        assert_eq!(
            no_endpoint.err().unwrap(),
            "the Ollama provider needs `endpoint`: the server's address"
        );
        let anthropic = parse(
            json!({"type": "io.kestra.plugin.ai.provider.Anthropic", "modelName": "m", "apiKey": "k"}),
        );
        assert!(
            anthropic
                .err()
                .unwrap()
                .starts_with("the Anthropic provider is not supported by runner yet")
        );
        let typo = parse(json!({"type": "io.kestra.plugin.ai.provider.OpenAI", "modelname": "m"}));
        assert!(typo.err().unwrap().contains("modelname"));
    }
}
