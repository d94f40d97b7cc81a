//! Kestra's AI tasks over OpenAI-compatible providers: `io.kestra.plugin.ai.completion`
//! ChatCompletion, Classification and JSONStructuredExtraction, `ai.agent.AIAgent` (with a
//! KV-store memory, web-search retrieval and tools: flows, web search, MCP servers), and the
//! legacy `io.kestra.plugin.openai.ChatCompletion`. Every call goes through the HTTP kit's
//! client, so the run's network policy applies; the key is a credential, masked wherever it
//! could appear.

mod agent;
mod completion;
mod context;
mod mcp;
mod mcp_http;
mod mcp_tasks;
mod openai;
mod provider;
mod rag;
mod search;
mod tools;

use runner_core::plugin::TaskDescriptor;

/// The AI task types.
pub const TASKS: &[TaskDescriptor] = &[
    completion::CHAT_COMPLETION,
    completion::CLASSIFICATION,
    completion::JSON_STRUCTURED_EXTRACTION,
    agent::AI_AGENT,
    rag::INGEST_DOCUMENT,
    rag::CHAT_COMPLETION,
    rag::SEARCH,
    openai::CHAT_COMPLETION,
    mcp_tasks::LIST_TOOLS,
    mcp_tasks::CALL_TOOL,
];
