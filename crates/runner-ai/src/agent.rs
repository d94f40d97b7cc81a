//! `ai.agent.AIAgent`: a system message and a prompt to a chat model, with the earlier turns
//! of a `memory` and what `contentRetrievers` find. runner has no tools or guardrails for it
//! yet: a flow that sets them is refused while validating, so nothing is silently left out.

use crate::completion::refuse;
use crate::context::{Memory, Retrievers, augment};
use crate::provider::{self, Ask, Chat, Configuration, Message, Provider};
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::Map;

pub(crate) const AI_AGENT: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.ai.agent.AIAgent",
    aliases: &[],
    doc: "Give a chat model a system message and a prompt, and get its answer. Outputs: `textOutput` (or `jsonOutput`), `tokenUsage`, `finishReason`, `intermediateResponses`. With `memory` (KestraKVStore) earlier turns are kept in the KV store; with `contentRetrievers` (TavilyWebSearch) web results join the prompt. Tools and guardrails are not supported by runner yet.",
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
    /// Not supported by runner yet: tools the agent may call.
    #[prop(type = "list of tools")]
    tools: Option<Json>,
    /// The most tool calls in a row (no tools in runner yet, so unused).
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

impl RunnableTask for AiAgent {
    fn check(&self) -> Result<(), String> {
        refuse("tools", &self.tools)?;
        refuse("guardrails", &self.guardrails)?;
        refuse("observability", &self.observability)
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let prompt = ctx.render(&self.prompt, "prompt")?;
            let _ = ctx.render_opt(
                &self.max_sequential_tools_invocations,
                "maxSequentialToolsInvocations",
            )?;
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
            let answer = chat.call(ctx, &messages, &Ask::default()).await?;
            if let Some(m) = memory {
                m.save(ctx, &prompt, &answer.text)?;
            }
            provider::metrics(ctx, chat.provider(), &[&answer]);
            let json = if chat.answers_json() {
                Some(provider::json_reply(chat.provider(), &answer.text)?)
            } else {
                None
            };
            let mut out = provider::ai_output(&answer, json);
            if self.output_files.is_some() {
                out.insert("outputFiles".into(), Json::Object(Map::new()));
            }
            Ok(out)
        })
    }
}
