//! `ai.completion.ChatCompletion`, `Classification` and `JSONStructuredExtraction`.

use crate::provider::{self, Ask, Chat, Configuration, Message, Provider};
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::{Map, json};

pub(crate) const CHAT_COMPLETION: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.ai.completion.ChatCompletion",
    aliases: &[
        "io.kestra.plugin.langchain4j.ChatCompletion",
        "io.kestra.plugin.langchain4j.completion.ChatCompletion",
    ],
    doc: "Send a conversation to a chat model and get its answer. Outputs: `textOutput` (or `jsonOutput` with a JSON `responseFormat`), `tokenUsage`, `finishReason`.",
    example: "id: chat\ntype: io.kestra.plugin.ai.completion.ChatCompletion\nprovider:\n  type: io.kestra.plugin.ai.provider.OpenAI\n  modelName: gpt-4o-mini\n  apiKey: \"{{ secret('OPENAI_API_KEY') }}\"\nmessages:\n  - type: SYSTEM\n    content: You answer in one word.\n  - type: USER\n    content: What is the capital of France?",
    shape: runnable::<ChatCompletion>(),
};

pub(crate) const CLASSIFICATION: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.ai.completion.Classification",
    aliases: &[
        "io.kestra.plugin.langchain4j.Classification",
        "io.kestra.plugin.langchain4j.completion.Classification",
    ],
    doc: "Ask a chat model to classify a text into one of `classes`. Output: `classification` (the model's reply, as Kestra gives it: not checked against the classes).",
    example: "id: sentiment\ntype: io.kestra.plugin.ai.completion.Classification\nprovider:\n  type: io.kestra.plugin.ai.provider.OpenAI\n  modelName: gpt-4o-mini\n  apiKey: \"{{ secret('OPENAI_API_KEY') }}\"\nprompt: The delivery was late and the box was damaged.\nclasses:\n  - positive\n  - negative",
    shape: runnable::<Classification>(),
};

pub(crate) const JSON_STRUCTURED_EXTRACTION: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.ai.completion.JSONStructuredExtraction",
    aliases: &[
        "io.kestra.plugin.langchain4j.JSONStructuredExtraction",
        "io.kestra.plugin.langchain4j.completion.JSONStructuredExtraction",
    ],
    doc: "Ask a chat model to extract `jsonFields` from a text as one JSON object (every field a string). Output: `extractedJson` (the JSON text), `schemaName`.",
    example: "id: extract\ntype: io.kestra.plugin.ai.completion.JSONStructuredExtraction\nprovider:\n  type: io.kestra.plugin.ai.provider.OpenAI\n  modelName: gpt-4o-mini\n  apiKey: \"{{ secret('OPENAI_API_KEY') }}\"\nprompt: Hello, my name is John and I live in Paris.\nschemaName: Person\njsonFields:\n  - name\n  - city",
    shape: runnable::<JsonStructuredExtraction>(),
};

/// A message of `messages`.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ChatMessage {
    #[serde(rename = "type")]
    kind: MessageType,
    content: Option<String>,
    content_blocks: Option<Vec<ContentBlock>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
enum MessageType {
    System,
    Ai,
    User,
}

#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ContentBlock {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    text: Option<String>,
    #[allow(dead_code)]
    uri: Option<String>,
}

impl PropType for ChatMessage {
    const NAME: &'static str = "chat message";
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ChatCompletion {
    /// The conversation: `{type: SYSTEM|USER|AI, content}`; the last one a USER message.
    messages: Property<Vec<ChatMessage>>,
    /// The model provider: `type` (io.kestra.plugin.ai.provider.OpenAI, Ollama, ...), `modelName`, `apiKey`, `baseUrl`.
    #[prop(secret)]
    provider: Provider,
    /// `temperature`, `topP`, `topK`, `seed`, `maxToken`, `responseFormat`, `logRequests`, `logResponses`.
    configuration: Option<Configuration>,
    /// Not supported by runner yet: tools for the model to call.
    #[prop(type = "list of tools")]
    tools: Option<Json>,
    /// Not supported by runner yet.
    #[prop(type = "guardrails")]
    guardrails: Option<Json>,
    /// Not supported by runner yet.
    #[prop(type = "observability")]
    observability: Option<Json>,
}

/// The properties runner accepts but cannot act on yet: refused while validating.
pub(crate) fn refuse(name: &str, value: &Option<Json>) -> Result<(), String> {
    match value {
        Some(_) => Err(format!(
            "`{name}` is not supported by runner yet: remove it to run this task here"
        )),
        None => Ok(()),
    }
}

/// The conversation, checked as Kestra checks it.
fn conversation(messages: Vec<ChatMessage>) -> Result<Vec<Message>, TaskError> {
    let bad = |why: String| TaskError::property("messages", why);
    let mut out = Vec::with_capacity(messages.len());
    let mut systems = 0;
    for m in &messages {
        let name = match m.kind {
            MessageType::System => "SYSTEM",
            MessageType::Ai => "AI",
            MessageType::User => "USER",
        };
        let text = match (&m.content, &m.content_blocks) {
            (Some(c), None) => c.clone(),
            (None, Some(blocks)) => {
                let mut parts = Vec::new();
                for b in blocks {
                    match b.kind.as_deref().unwrap_or("TEXT") {
                        "TEXT" => match b.text.as_deref().filter(|t| !t.is_empty()) {
                            Some(t) => parts.push(t.to_string()),
                            None => {
                                return Err(bad(
                                    "TEXT content blocks require a non-empty `text` field.".into(),
                                ));
                            }
                        },
                        other if m.kind != MessageType::User => {
                            let _ = other;
                            return Err(bad(format!(
                                "Only TEXT content blocks are supported for {name} messages."
                            )));
                        }
                        other => {
                            return Err(TaskError::new(
                                ErrorKind::Unsupported,
                                format!(
                                    "{other} content blocks are not supported by runner yet: give the text as a TEXT block or `content`"
                                ),
                            ));
                        }
                    }
                }
                parts.join("\n")
            }
            _ => {
                return Err(bad(
                    "Exactly one of `content` or `contentBlocks` must be provided.".into(),
                ));
            }
        };
        if m.kind != MessageType::User && text.trim().is_empty() {
            return Err(bad(format!(
                "Message type {name} requires non-empty text content."
            )));
        }
        let role = match m.kind {
            MessageType::System => {
                systems += 1;
                "system"
            }
            MessageType::Ai => "assistant",
            MessageType::User => "user",
        };
        out.push(Message {
            role,
            content: text,
        });
    }
    if systems > 1 {
        return Err(bad("Only one system message is allowed".into()));
    }
    if messages.last().map(|m| m.kind) != Some(MessageType::User) {
        return Err(bad("The last message must be a user message".into()));
    }
    // Kestra keeps the system message first, then the conversation in order.
    out.sort_by_key(|m| m.role != "system");
    Ok(out)
}

impl RunnableTask for ChatCompletion {
    fn check(&self) -> Result<(), String> {
        refuse("tools", &self.tools)?;
        refuse("guardrails", &self.guardrails)?;
        refuse("observability", &self.observability)
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let messages = conversation(ctx.render(&self.messages, "messages")?)?;
            let chat = Chat::new(ctx, &self.provider, self.configuration.as_ref())?;
            let answer = chat.call(ctx, &messages, &Ask::default()).await?;
            provider::metrics(ctx, chat.provider(), &[&answer]);
            let json = if chat.answers_json() {
                Some(provider::json_reply(chat.provider(), &answer.text)?)
            } else {
                None
            };
            let mut out = provider::ai_output(&answer, json);
            // Deprecated in Kestra, kept for the flows that read it.
            out.insert(
                "aiResponse".into(),
                out.get("textOutput").cloned().unwrap_or(Json::Null),
            );
            Ok(out)
        })
    }
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Classification {
    /// The text to classify.
    prompt: Option<Property<String>>,
    /// Not supported by runner yet: the input as content blocks.
    #[prop(type = "list of content blocks")]
    content_blocks: Option<Json>,
    /// The classes to choose from.
    classes: Property<Vec<String>>,
    /// The instruction; default: respond with only one of the classes.
    system_message: Option<Property<String>>,
    /// The model provider: `type`, `modelName`, `apiKey`, `baseUrl`.
    #[prop(secret)]
    provider: Provider,
    /// `temperature`, `topP`, `seed`, `maxToken`...
    configuration: Option<Configuration>,
    /// Not supported by runner yet.
    #[prop(type = "guardrails")]
    guardrails: Option<Json>,
}

/// Kestra's either-or rule for `prompt` and `contentBlocks`, then runner's own refusal.
fn one_input(task: &str, prompt: bool, blocks: &Option<Json>) -> Result<(), String> {
    match (prompt, blocks.is_some()) {
        (true, true) => Err(format!(
            "{task} accepts either `prompt` or `contentBlocks`, but not both."
        )),
        (false, false) => Err(format!(
            "{task} requires one input source: `prompt` or `contentBlocks`."
        )),
        (false, true) => refuse("contentBlocks", blocks),
        (true, false) => Ok(()),
    }
}

impl RunnableTask for Classification {
    fn check(&self) -> Result<(), String> {
        one_input(
            "Classification",
            self.prompt.is_some(),
            &self.content_blocks,
        )?;
        refuse("guardrails", &self.guardrails)
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let prompt = ctx.render_opt(&self.prompt, "prompt")?.unwrap_or_default();
            let classes = ctx.render(&self.classes, "classes")?;
            // Kestra renders its default with `classes` as Java prints a list: [a, b].
            let system = match ctx.render_opt(&self.system_message, "systemMessage")? {
                Some(s) => s,
                None => format!(
                    "Respond by only one of the following classes by typing just the exact class name: [{}]",
                    classes.join(", ")
                ),
            };
            let chat = Chat::new(ctx, &self.provider, self.configuration.as_ref())?;
            let messages = [
                Message {
                    role: "system",
                    content: system,
                },
                Message {
                    role: "user",
                    content: prompt,
                },
            ];
            let answer = chat.call(ctx, &messages, &Ask::default()).await?;
            provider::metrics(ctx, chat.provider(), &[&answer]);
            let mut out = Outputs::new();
            out.insert(
                "classification".into(),
                Json::String(answer.text.trim().to_string()),
            );
            out.insert("tokenUsage".into(), usage(&answer));
            out.insert(
                "finishReason".into(),
                Json::String(answer.finish_reason.into()),
            );
            out.insert("guardrailViolated".into(), Json::Bool(false));
            Ok(out)
        })
    }
}

fn usage(a: &provider::Answer) -> Json {
    json!({
        "inputTokenCount": a.input_tokens,
        "outputTokenCount": a.output_tokens,
        "totalTokenCount": a.total_tokens,
    })
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct JsonStructuredExtraction {
    /// The text to extract from.
    prompt: Option<Property<String>>,
    /// Not supported by runner yet: the input as content blocks.
    #[prop(type = "list of content blocks")]
    content_blocks: Option<Json>,
    /// The name of the JSON schema.
    schema_name: Property<String>,
    /// The fields to extract (each a string in the answer).
    json_fields: Property<Vec<String>>,
    /// The instruction; default: a structured JSON extraction assistant.
    system_message: Option<Property<String>>,
    /// The model provider: `type`, `modelName`, `apiKey`, `baseUrl`.
    #[prop(secret)]
    provider: Provider,
    /// `temperature`, `topP`, `seed`, `maxToken`...
    configuration: Option<Configuration>,
    /// Not supported by runner yet.
    #[prop(type = "guardrails")]
    guardrails: Option<Json>,
}

impl RunnableTask for JsonStructuredExtraction {
    fn check(&self) -> Result<(), String> {
        one_input(
            "JSONStructuredExtraction",
            self.prompt.is_some(),
            &self.content_blocks,
        )?;
        refuse("guardrails", &self.guardrails)
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let prompt = ctx.render_opt(&self.prompt, "prompt")?.unwrap_or_default();
            let name = ctx.render(&self.schema_name, "schemaName")?;
            let fields = ctx.render(&self.json_fields, "jsonFields")?;
            if fields.is_empty() {
                return Err(TaskError::property(
                    "jsonFields",
                    "names no field to extract",
                ));
            }
            let system = ctx
                .render_opt(&self.system_message, "systemMessage")?
                .unwrap_or_else(|| "You are a structured JSON extraction assistant. Always respond with valid JSON.".into());
            let mut properties = Map::new();
            for f in &fields {
                properties.insert(f.clone(), json!({"type": "string"}));
            }
            let schema = json!({
                "type": "object",
                "properties": properties,
                "required": fields,
                "additionalProperties": false,
            });
            let chat = Chat::new(ctx, &self.provider, self.configuration.as_ref())?;
            let messages = [
                Message {
                    role: "system",
                    content: system,
                },
                Message {
                    role: "user",
                    content: prompt,
                },
            ];
            let ask = Ask {
                schema: Some((name.clone(), schema, true)),
                json: true,
                tools: None,
            };
            let answer = chat.call(ctx, &messages, &ask).await?;
            provider::metrics(ctx, chat.provider(), &[&answer]);
            let parsed = provider::json_reply(chat.provider(), &answer.text)?;
            let mut out = Outputs::new();
            out.insert("schemaName".into(), Json::String(name));
            out.insert("extractedJson".into(), Json::String(parsed.to_string()));
            out.insert("tokenUsage".into(), usage(&answer));
            out.insert(
                "finishReason".into(),
                Json::String(answer.finish_reason.into()),
            );
            out.insert("guardrailViolated".into(), Json::Bool(false));
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(kind: MessageType, content: &str) -> ChatMessage {
        ChatMessage {
            kind,
            content: Some(content.into()),
            content_blocks: None,
        }
    }

    #[test]
    fn the_conversation_is_checked_as_kestra_checks_it() {
        let err = |ms: Vec<ChatMessage>| match conversation(ms) {
            Err(TaskError::Property { reason, .. }) => reason,
            _ => panic!("expected a property error"),
        };
        assert_eq!(
            err(vec![m(MessageType::User, "a"), m(MessageType::Ai, "b")]),
            "The last message must be a user message"
        );
        assert_eq!(
            err(vec![
                m(MessageType::System, "a"),
                m(MessageType::System, "b"),
                m(MessageType::User, "c")
            ]),
            "Only one system message is allowed"
        );
        let both = ChatMessage {
            kind: MessageType::User,
            content: Some("a".into()),
            content_blocks: Some(vec![]),
        };
        assert_eq!(
            err(vec![both]),
            "Exactly one of `content` or `contentBlocks` must be provided."
        );
        let ok = conversation(vec![
            m(MessageType::User, "q"),
            m(MessageType::Ai, "a"),
            m(MessageType::System, "s"),
            m(MessageType::User, "q2"),
        ])
        .unwrap_or_else(|_| panic!());
        let roles: Vec<&str> = ok.iter().map(|m| m.role).collect();
        assert_eq!(roles, ["system", "user", "assistant", "user"]);
    }
}
