//! `ai.agent.AIAgent`: a system message and a prompt to a chat model, with the earlier turns
//! of a `memory`, what `contentRetrievers` find, and `tools` the model may call: each call
//! runs (a flow, a web search, an MCP server's tool) and its result goes back to the model,
//! until it answers, at most `maxSequentialToolsInvocations` calls in a row. runner has no
//! guardrails or observability for it yet: a flow that sets them is refused while validating,
//! so nothing is silently left out.

use crate::completion::refuse;
use crate::context::{Memory, Retrievers, augment};
use crate::provider::{self, Ask, Chat, Configuration, Message, Provider};
use crate::tools::{Toolbox, Tools};
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::{Map, json};

pub(crate) const AI_AGENT: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.ai.agent.AIAgent",
    aliases: &[],
    doc: "Give a chat model a system message and a prompt, and get its answer. Outputs: `textOutput` (or `jsonOutput`), `tokenUsage`, `finishReason`, `intermediateResponses`. With `memory` (KestraKVStore) earlier turns are kept in the KV store; with `contentRetrievers` (TavilyWebSearch) web results join the prompt; with `tools` (KestraFlow, TavilyWebSearch, GoogleCustomWebSearch, StdioMcpClient) the model calls them and `toolExecutions` lists each call. Guardrails are not supported by runner yet.",
    example: "id: agent\ntype: io.kestra.plugin.ai.agent.AIAgent\nprovider:\n  type: io.kestra.plugin.ai.provider.Ollama\n  modelName: llama3.2\n  endpoint: http://localhost:11434\nsystemMessage: You are a concise assistant.\nprompt: Summarize what a workflow orchestrator does in one sentence.",
    shape: runnable::<AiAgent>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct AiAgent {
    /// The user message.
    prompt: Property<String>,
    /// The system message.
    system_message: Option<Property<String>>,
    /// The model provider: `type` (io.kestra.plugin.ai.provider.OpenAI, Ollama, ...), `modelName`, `apiKey`, `baseUrl`.
    #[prop(secret)]
    provider: Provider,
    /// `temperature`, `topP`, `topK`, `seed`, `maxToken`, `responseFormat`, `logRequests`, `logResponses`.
    configuration: Option<Configuration>,
    /// Tools the model may call: `[{type: io.kestra.plugin.ai.tool.KestraFlow, namespace, flowId, description}]`, `TavilyWebSearch` (`apiKey`), `GoogleCustomWebSearch` (`apiKey`, `csi`; Tavily and Google verified against contract servers of their published APIs, not live), `StdioMcpClient` (`command`, `env`).
    #[prop(secret)]
    tools: Option<Tools>,
    /// The most tool calls in a row before the task fails (Kestra has no bound; runner's is 100).
    max_sequential_tools_invocations: Option<Property<i64>>,
    /// Where to find context for the prompt: `[{type: io.kestra.plugin.ai.retriever.TavilyWebSearch, apiKey, maxResults}]`.
    #[prop(secret)]
    content_retrievers: Option<Retrievers>,
    /// The conversation's memory: `{type: io.kestra.plugin.ai.memory.KestraKVStore, messages, ttl, memoryId, drop}`.
    memory: Option<Memory>,
    /// Not supported by runner yet.
    #[prop(type = "guardrails")]
    guardrails: Option<Json>,
    /// Not supported by runner yet.
    #[prop(type = "observability")]
    observability: Option<Json>,
    /// Globs of working-directory files to keep (nothing writes them without tools).
    output_files: Option<Property<Vec<String>>>,
}

/// The most tool calls in a row when the flow gives no `maxSequentialToolsInvocations`:
/// Kestra has no bound, runner has one (a model that never stops must not run forever).
const DEFAULT_MOST_CALLS: i64 = 100;

impl RunnableTask for AiAgent {
    fn check(&self) -> Result<(), String> {
        if let Some(t) = &self.tools {
            t.check()?;
        }
        refuse("guardrails", &self.guardrails)?;
        refuse("observability", &self.observability)
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let prompt = ctx.render(&self.prompt, "prompt")?;
            let most_calls = ctx
                .render_opt(
                    &self.max_sequential_tools_invocations,
                    "maxSequentialToolsInvocations",
                )?
                .unwrap_or(DEFAULT_MOST_CALLS);
            if most_calls < 0 {
                return Err(TaskError::property(
                    "maxSequentialToolsInvocations",
                    "must be 0 or more",
                ));
            }
            let _ = ctx.render_opt(&self.output_files, "outputFiles")?;
            let chat = Chat::new(ctx, &self.provider, self.configuration.as_ref())?;
            let memory = match &self.memory {
                Some(m) => Some(m.open(ctx)?),
                None => None,
            };
            let mut found = Vec::new();
            for (i, r) in self
                .content_retrievers
                .iter()
                .flat_map(|r| r.0.iter())
                .enumerate()
            {
                found.extend(r.retrieve(ctx, i, &prompt).await?);
            }
            let mut messages = Vec::new();
            if let Some(s) = ctx.render_opt(&self.system_message, "systemMessage")? {
                messages.push(Message {
                    role: "system",
                    content: s,
                });
            }
            if let Some(m) = &memory {
                messages.extend(m.turns.iter().cloned());
            }
            messages.push(Message {
                role: "user",
                content: augment(&prompt, &found),
            });
            let mut toolbox = match &self.tools {
                Some(t) => Some(Toolbox::open(ctx, t, provider::call_timeout(ctx)).await?),
                None => None,
            };
            let ask = Ask {
                tools: toolbox.as_ref().and_then(Toolbox::specs),
                ..Ask::default()
            };
            let mut conversation: Vec<Json> = messages.iter().map(Message::to_json).collect();
            let mut answers = Vec::new();
            let mut executions = Vec::new();
            let mut calls: i64 = 0;
            loop {
                let answer = chat.call_with(ctx, conversation.clone(), &ask).await?;
                let asked = answer.tool_calls.clone();
                conversation.push(answer.message());
                answers.push(answer);
                let Some(toolbox) = toolbox.as_mut().filter(|_| !asked.is_empty()) else {
                    break;
                };
                for call in asked {
                    calls += 1;
                    if calls > most_calls {
                        provider::metrics(
                            ctx,
                            chat.provider(),
                            &answers.iter().collect::<Vec<_>>(),
                        );
                        return Err(TaskError::failed(
                            format!(
                                "the model called tools more than {most_calls} times in a row (maxSequentialToolsInvocations); the last was `{}`",
                                call.name
                            ),
                        )
                        .hint("a model that calls tools without end needs a clearer prompt or another model; raise maxSequentialToolsInvocations if more calls are meant"));
                    }
                    // Blank arguments are none, as in Kestra.
                    let arguments: Json = if call.arguments.trim().is_empty() {
                        json!({})
                    } else {
                        serde_json::from_str(&call.arguments).map_err(|_| {
                            TaskError::new(
                                ErrorKind::Remote,
                                format!(
                                    "the model's arguments for tool `{}` are not JSON",
                                    call.name
                                ),
                            )
                        })?
                    };
                    ctx.log(
                        Level::Debug,
                        &format!("calling tool {}({arguments})", call.name),
                    );
                    let result = toolbox.call(ctx, &call.name, &arguments).await?;
                    let mut tags = Map::new();
                    tags.insert("tool".into(), Json::String(call.name.clone()));
                    ctx.metric(Metric {
                        name: "ai.agent.tool.calls".into(),
                        kind: MetricKind::Counter,
                        value: 1.0,
                        tags,
                    });
                    conversation
                        .push(json!({"role": "tool", "tool_call_id": call.id, "content": result}));
                    executions.push(json!({
                        "requestId": call.id,
                        "requestName": call.name,
                        "requestArguments": arguments,
                        "result": result,
                    }));
                }
            }
            let answer = answers.last().expect("one answer at least");
            if let Some(m) = memory {
                m.save(ctx, &prompt, &answer.text)?;
            }
            provider::metrics(ctx, chat.provider(), &answers.iter().collect::<Vec<_>>());
            let json = if chat.answers_json() {
                Some(provider::json_reply(chat.provider(), &answer.text)?)
            } else {
                None
            };
            let mut out = provider::ai_output_of(&answers, executions, json);
            if self.output_files.is_some() {
                out.insert("outputFiles".into(), Json::Object(Map::new()));
            }
            Ok(out)
        })
    }
}
