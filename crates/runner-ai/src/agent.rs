//! `ai.agent.AIAgent`: a system message and a prompt to a chat model. runner has no tools,
//! memory, retrievers or guardrails for it yet: a flow that sets them is refused while
//! validating, so nothing is silently left out.

use crate::completion::refuse;
use crate::provider::{self, Ask, Chat, Configuration, Message, Provider};
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::Map;

pub(crate) const AI_AGENT: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.ai.agent.AIAgent",
    aliases: &[],
    doc: "Give a chat model a system message and a prompt, and get its answer. Outputs: `textOutput` (or `jsonOutput`), `tokenUsage`, `finishReason`, `intermediateResponses`. Tools, memory, content retrievers and guardrails are not supported by runner yet.",
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
    /// Not supported by runner yet.
    #[prop(type = "list of content retrievers")]
    content_retrievers: Option<Json>,
    /// Not supported by runner yet.
    #[prop(type = "memory")]
    memory: Option<Json>,
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
        refuse("contentRetrievers", &self.content_retrievers)?;
        refuse("memory", &self.memory)?;
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
            let mut messages = Vec::new();
            if let Some(s) = ctx.render_opt(&self.system_message, "systemMessage")? {
                messages.push(Message {
                    role: "system",
                    content: s,
                });
            }
            messages.push(Message {
                role: "user",
                content: prompt,
            });
            let chat = Chat::new(ctx, &self.provider, self.configuration.as_ref())?;
            let answer = chat.call(ctx, &messages, &Ask::default()).await?;
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
