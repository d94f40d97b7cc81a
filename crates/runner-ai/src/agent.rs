//! `ai.agent.AIAgent`: a system message and a prompt to a chat model, with the earlier turns
//! of a `memory`, what `contentRetrievers` find, and `tools` the model may call: each call
//! runs (a flow, a web search, an MCP server's tool) and its result goes back to the model,
//! until it answers, at most `maxSequentialToolsInvocations` rounds of calls in a row. runner has no
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
    /// The most rounds of tool calls in a row before the task fails (Kestra has no bound; runner's is 100).
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

/// The most rounds of tool calls in a row when the flow gives no
/// `maxSequentialToolsInvocations`: Kestra has no bound, runner has one (a model that never
/// stops must not run forever).
const DEFAULT_MOST_CALLS: i64 = 100;

/// The most text of one tool result sent back to the model (and kept in the outputs).
const MAX_RESULT: usize = 1024 * 1024;

/// The conversation: the model answers, the tools it calls run and their results go back,
/// until it answers without a call. A round is one answer's calls (langchain4j counts so);
/// more than `most_rounds` in a row fails.
#[allow(clippy::too_many_arguments)]
async fn converse(
    ctx: &RunContext,
    chat: &Chat,
    ask: &Ask,
    mut toolbox: Option<&mut Toolbox>,
    mut conversation: Vec<Json>,
    most_rounds: i64,
    answers: &mut Vec<provider::Answer>,
    executions: &mut Vec<Json>,
) -> Result<(), TaskError> {
    let mut rounds: i64 = 0;
    loop {
        let answer = chat.call_with(ctx, conversation.clone(), ask).await?;
        let asked = answer.tool_calls.clone();
        conversation.push(answer.message());
        answers.push(answer);
        let Some(toolbox) = toolbox.as_deref_mut().filter(|_| !asked.is_empty()) else {
            return Ok(());
        };
        rounds += 1;
        if rounds > most_rounds {
            return Err(TaskError::failed(format!(
                "the model asked for tools more than {most_rounds} times in a row (maxSequentialToolsInvocations); the last was `{}`",
                asked[0].name
            ))
            .hint("a model that calls tools without end needs a clearer prompt or another model; raise maxSequentialToolsInvocations if more rounds are meant"));
        }
        for call in asked {
            let arguments = provider::tool_arguments(&call.arguments).ok_or_else(|| {
                TaskError::new(
                    ErrorKind::Remote,
                    format!(
                        "the model's arguments for tool `{}` are not JSON",
                        call.name
                    ),
                )
            })?;
            ctx.log(
                Level::Debug,
                &format!("calling tool {}({arguments})", call.name),
            );
            let mut result = toolbox.call(ctx, &call.name, &arguments).await?;
            if result.len() > MAX_RESULT {
                let mut cut = MAX_RESULT;
                while !result.is_char_boundary(cut) {
                    cut -= 1;
                }
                let total = result.len();
                result.truncate(cut);
                result.push_str(&format!(
                    "\n[cut: the tool gave {total} bytes; runner sends at most 1 MiB of a result]"
                ));
            }
            let mut tags = Map::new();
            tags.insert("tool".into(), Json::String(call.name.clone()));
            ctx.metric(Metric {
                name: "ai.agent.tool.calls".into(),
                kind: MetricKind::Counter,
                value: 1.0,
                tags,
            });
            conversation.push(json!({"role": "tool", "tool_call_id": call.id, "content": result}));
            executions.push(json!({
                "requestId": call.id,
                "requestName": call.name,
                "requestArguments": arguments,
                "result": result,
            }));
        }
    }
}

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
            let conversation: Vec<Json> = messages.iter().map(Message::to_json).collect();
            let mut answers = Vec::new();
            let mut executions = Vec::new();
            let talked = converse(
                ctx,
                &chat,
                &ask,
                toolbox.as_mut(),
                conversation,
                most_calls,
                &mut answers,
                &mut executions,
            )
            .await;
            // The calls made are paid for, whatever ended the conversation.
            provider::metrics(ctx, chat.provider(), &answers.iter().collect::<Vec<_>>());
            talked?;
            let answer = answers.last().expect("one answer at least");
            if let Some(m) = memory {
                m.save(ctx, &prompt, &answer.text)?;
            }
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
