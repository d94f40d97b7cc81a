//! The legacy `io.kestra.plugin.openai.ChatCompletion`: the OpenAI chat completions API with
//! the SDK's answer as outputs (`choices` as OpenAI sends them, tool calls included).

use crate::provider;
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::{Map, json};

pub(crate) const CHAT_COMPLETION: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.openai.ChatCompletion",
    aliases: &[],
    doc: "Call OpenAI's chat completions API with `messages` and/or a `prompt`. Outputs: `id`, `object`, `model`, `choices` (as OpenAI sends them), `usage`. Kestra has no property for the API's address; runner reads `RUNNER_OPENAI_URL` from the run's environment (default https://api.openai.com/v1).",
    example: "id: ask\ntype: io.kestra.plugin.openai.ChatCompletion\napiKey: \"{{ secret('OPENAI_API_KEY') }}\"\nmodel: gpt-4o-mini\nprompt: What is data orchestration?",
    shape: runnable::<ChatCompletion>(),
};

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChatMessage {
    role: Option<String>,
    content: Option<String>,
    /// Accepted and ignored, as in Kestra.
    #[allow(dead_code)]
    name: Option<String>,
}

impl PropType for ChatMessage {
    const NAME: &'static str = "chat message";
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Function {
    name: String,
    description: Option<String>,
    parameters: Option<Vec<Parameter>>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Parameter {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    description: Option<String>,
    enum_values: Option<Vec<String>>,
    required: Option<bool>,
}

impl PropType for Function {
    const NAME: &'static str = "function";
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ChatCompletion {
    /// The OpenAI API key.
    #[prop(secret)]
    api_key: Property<String>,
    /// A user id OpenAI can monitor abuse with.
    user: Option<Property<String>>,
    /// Accepted, unused (as in Kestra).
    client_timeout: Option<i64>,
    /// The model, e.g. `gpt-4o-mini`.
    model: Property<String>,
    /// The conversation: `{role: system|assistant|user, content}`.
    messages: Option<Property<Vec<ChatMessage>>>,
    /// A user message added after `messages`.
    prompt: Option<Property<String>>,
    /// Sampling temperature (default 1.0).
    temperature: Option<Property<f64>>,
    /// Nucleus sampling.
    top_p: Option<Property<f64>>,
    /// How many choices to generate (default 1).
    n: Option<Property<i64>>,
    /// Sequences where the model stops.
    stop: Option<Property<Vec<String>>>,
    /// The most tokens to generate (`max_completion_tokens`).
    max_tokens: Option<Property<i64>>,
    /// Presence penalty, -2.0 to 2.0.
    presence_penalty: Option<Property<f64>>,
    /// Frequency penalty, -2.0 to 2.0.
    frequency_penalty: Option<Property<f64>>,
    /// Token id to bias.
    logit_bias: Option<Property<Map<String, Json>>>,
    /// Functions the model may call: `{name, description, parameters: [{name, type, description, enumValues, required}]}`.
    functions: Option<Property<Vec<Function>>>,
    /// `auto` (default), `none`, or the name of a function the model must call.
    function_call: Option<Property<String>>,
    /// A JSON schema (as JSON text) the answer must follow.
    json_response_schema: Option<Property<String>>,
    /// Keep the prompt in OpenAI's cache for 24 hours.
    prompt_caching: Option<Property<bool>>,
}

impl RunnableTask for ChatCompletion {
    fn check(&self) -> Result<(), String> {
        if self.messages.is_none() && self.prompt.is_none() {
            return Err("Either `messages` or `prompt` must be set".into());
        }
        Ok(())
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let key = ctx.render(&self.api_key, "apiKey")?;
            let _ = self.client_timeout;
            let mut body = Map::new();
            body.insert(
                "model".into(),
                Json::String(ctx.render(&self.model, "model")?),
            );
            let mut messages = Vec::new();
            for m in ctx
                .render_opt(&self.messages, "messages")?
                .unwrap_or_default()
            {
                let role = match m.role.as_deref() {
                    Some("system") => "system",
                    Some("assistant") => "assistant",
                    _ => "user",
                };
                messages.push(json!({"role": role, "content": m.content.unwrap_or_default()}));
            }
            if let Some(p) = ctx.render_opt(&self.prompt, "prompt")? {
                messages.push(json!({"role": "user", "content": p}));
            }
            body.insert("messages".into(), Json::Array(messages));
            body.insert(
                "temperature".into(),
                json!(
                    ctx.render_opt(&self.temperature, "temperature")?
                        .unwrap_or(1.0)
                ),
            );
            if let Some(v) = ctx.render_opt(&self.top_p, "topP")? {
                body.insert("top_p".into(), json!(v));
            }
            body.insert(
                "n".into(),
                json!(ctx.render_opt(&self.n, "n")?.unwrap_or(1)),
            );
            if let Some(v) = ctx.render_opt(&self.stop, "stop")? {
                body.insert("stop".into(), json!(v));
            }
            if let Some(v) = ctx.render_opt(&self.max_tokens, "maxTokens")? {
                body.insert("max_completion_tokens".into(), json!(v));
                body.insert("max_tokens".into(), json!(v));
            }
            if let Some(v) = ctx.render_opt(&self.presence_penalty, "presencePenalty")? {
                body.insert("presence_penalty".into(), json!(v));
            }
            if let Some(v) = ctx.render_opt(&self.frequency_penalty, "frequencyPenalty")? {
                body.insert("frequency_penalty".into(), json!(v));
            }
            if let Some(v) = ctx.render_opt(&self.logit_bias, "logitBias")? {
                body.insert("logit_bias".into(), Json::Object(v));
            }
            if let Some(u) = ctx.render_opt(&self.user, "user")? {
                body.insert("user".into(), Json::String(u));
            }
            let functions = ctx
                .render_opt(&self.functions, "functions")?
                .unwrap_or_default();
            // Kestra drops a function without parameters.
            let tools: Vec<Json> = functions
                .iter()
                .filter(|f| f.parameters.is_some())
                .map(tool)
                .collect();
            let call = ctx.render_opt(&self.function_call, "functionCall")?;
            match call.as_deref() {
                None | Some("auto") | Some("none") => {}
                Some(name) if functions.is_empty() => {
                    return Err(TaskError::property(
                        "functionCall",
                        format!(
                            "Cannot specify a function name for `functionCall` ('{name}') when no `functions` are provided."
                        ),
                    ));
                }
                Some(name) if !functions.iter().any(|f| f.name == name) => {
                    return Err(TaskError::property(
                        "functionCall",
                        format!(
                            "Requested function '{name}' for `functionCall` is not provided in `functions` list."
                        ),
                    ));
                }
                Some(_) => {}
            }
            if !tools.is_empty() {
                body.insert("tools".into(), Json::Array(tools));
                let choice = match call.as_deref() {
                    None | Some("auto") => json!("auto"),
                    Some("none") => json!("none"),
                    Some(name) => json!({"type": "function", "function": {"name": name}}),
                };
                body.insert("tool_choice".into(), choice);
            }
            if let Some(schema) =
                ctx.render_opt(&self.json_response_schema, "jsonResponseSchema")?
            {
                let schema: Json = serde_json::from_str(&schema).map_err(|e| {
                    TaskError::property("jsonResponseSchema", format!("is not JSON: {e}"))
                })?;
                body.insert(
                    "response_format".into(),
                    json!({"type": "json_schema", "json_schema": {"name": "kestra_schema", "schema": schema, "strict": true}}),
                );
            }
            if ctx
                .render_opt(&self.prompt_caching, "promptCaching")?
                .unwrap_or(false)
            {
                body.insert("prompt_cache_retention".into(), json!("24h"));
            }
            let base = ctx
                .env_var("RUNNER_OPENAI_URL")
                .unwrap_or("https://api.openai.com/v1")
                .trim_end_matches('/')
                .to_string();
            let timeout = provider::call_timeout(ctx);
            let mut raw = provider::post(
                ctx,
                "OpenAI",
                &format!("{base}/chat/completions"),
                Some(&key),
                Json::Object(body),
                timeout,
                false,
                false,
            )
            .await?;
            if let Some(o) = raw.as_object_mut() {
                o.remove("__duration_ms");
            }
            let usage = raw.get("usage").cloned().unwrap_or(Json::Null);
            for (name, pointer) in [
                ("usage.prompt.tokens", "/prompt_tokens"),
                ("usage.completion.tokens", "/completion_tokens"),
                ("usage.total.tokens", "/total_tokens"),
                (
                    "usage.prompt.cached_tokens",
                    "/prompt_tokens_details/cached_tokens",
                ),
            ] {
                if let Some(v) = usage.pointer(pointer).and_then(Json::as_f64) {
                    ctx.metric(Metric {
                        name: name.into(),
                        kind: MetricKind::Counter,
                        value: v,
                        tags: Map::new(),
                    });
                }
            }
            let mut out = Outputs::new();
            for k in ["id", "object", "model", "choices", "usage"] {
                out.insert(k.into(), raw.get(k).cloned().unwrap_or(Json::Null));
            }
            Ok(out)
        })
    }
}

/// A function as an OpenAI tool.
fn tool(f: &Function) -> Json {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for p in f.parameters.iter().flatten() {
        let mut schema = json!({"type": p.kind});
        if let Some(d) = &p.description {
            schema["description"] = json!(d);
        }
        if let Some(e) = &p.enum_values {
            schema["enum"] = json!(e);
        }
        properties.insert(p.name.clone(), schema);
        if p.required.unwrap_or(false) {
            required.push(p.name.clone());
        }
    }
    json!({"type": "function", "function": {
        "name": f.name,
        "description": f.description,
        "parameters": {"type": "object", "properties": properties, "required": required},
    }})
}
