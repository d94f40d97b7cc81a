//! `ai.mcp.ListTools` and `ai.mcp.CallTool`: an MCP server's tools over HTTP (Streamable HTTP
//! by default, or SSE), listed or one of them called, without a model.

use crate::mcp::{McpServer, text_of};
use crate::mcp_http::HttpKind;
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::{Map, json};
use std::collections::BTreeMap;

pub(crate) const LIST_TOOLS: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.ai.mcp.ListTools",
    aliases: &[],
    doc: "List the tools of an MCP server over HTTP. Outputs: `tools` (`[{name, description, parameters}]`), `count`.",
    example: "id: tools\ntype: io.kestra.plugin.ai.mcp.ListTools\nurl: http://localhost:8000/mcp",
    shape: runnable::<ListTools>(),
};

pub(crate) const CALL_TOOL: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.ai.mcp.CallTool",
    aliases: &[],
    doc: "Call one tool of an MCP server over HTTP. Outputs: `result` (its text), `structuredContent`, `isError`, `errorMessage`.",
    example: "id: add\ntype: io.kestra.plugin.ai.mcp.CallTool\nurl: http://localhost:8000/mcp\ntool: add\narguments:\n  a: 1\n  b: 2",
    shape: runnable::<CallTool>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ListTools {
    /// The MCP server's address (its Streamable HTTP endpoint, or its SSE stream).
    url: Property<String>,
    /// STREAMABLE_HTTP (default) or SSE.
    transport: Option<Property<String>>,
    /// Headers of every request (credentials: never shown).
    #[prop(secret)]
    headers: Option<Property<BTreeMap<String, String>>>,
    /// Log each request at INFO.
    log_requests: Option<Property<bool>>,
    /// Log each response at INFO.
    log_responses: Option<Property<bool>>,
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct CallTool {
    /// The MCP server's address (its Streamable HTTP endpoint, or its SSE stream).
    url: Property<String>,
    /// STREAMABLE_HTTP (default) or SSE.
    transport: Option<Property<String>>,
    /// Headers of every request (credentials: never shown).
    #[prop(secret)]
    headers: Option<Property<BTreeMap<String, String>>>,
    /// Log each request at INFO.
    log_requests: Option<Property<bool>>,
    /// Log each response at INFO.
    log_responses: Option<Property<bool>>,
    /// The tool to call.
    tool: Property<String>,
    /// Its arguments (a map).
    arguments: Option<Property<Json>>,
    /// Fail the task when the tool says it failed (default true).
    fail_on_tool_error: Option<Property<bool>>,
}

/// The connection both tasks make.
async fn connect(
    ctx: &RunContext,
    url: &Property<String>,
    transport: &Option<Property<String>>,
    headers: &Option<Property<BTreeMap<String, String>>>,
    log_requests: &Option<Property<bool>>,
    log_responses: &Option<Property<bool>>,
) -> Result<McpServer, TaskError> {
    let url = ctx.render(url, "url")?;
    let kind = match ctx
        .render_opt(transport, "transport")?
        .map(|t| t.to_ascii_uppercase())
        .as_deref()
    {
        None | Some("STREAMABLE_HTTP") => HttpKind::Streamable,
        Some("SSE") => HttpKind::Sse,
        Some(_) => {
            return Err(TaskError::property(
                "transport",
                "Unsupported MCP transport. Expected one of: STREAMABLE_HTTP, SSE.",
            ));
        }
    };
    let headers = ctx
        .render_opt(headers, "headers")?
        .unwrap_or_default()
        .into_iter()
        .collect();
    let logs = (
        ctx.render_opt(log_requests, "logRequests")?
            .unwrap_or(false),
        ctx.render_opt(log_responses, "logResponses")?
            .unwrap_or(false),
    );
    McpServer::connect(
        ctx,
        &url,
        "url",
        kind,
        headers,
        logs,
        None,
        crate::provider::call_timeout(ctx),
    )
    .await
}

impl RunnableTask for ListTools {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let mut server = connect(
                ctx,
                &self.url,
                &self.transport,
                &self.headers,
                &self.log_requests,
                &self.log_responses,
            )
            .await?;
            let tools: Vec<Json> = server
                .tools(ctx)
                .await?
                .into_iter()
                .map(|t| json!({"name": t.name, "description": t.description, "parameters": t.input_schema}))
                .collect();
            Ok(Outputs::from_iter([
                ("count".to_string(), Json::from(tools.len())),
                ("tools".to_string(), Json::Array(tools)),
            ]))
        })
    }
}

impl RunnableTask for CallTool {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let tool = ctx.render(&self.tool, "tool")?;
            let arguments = match ctx.render_opt(&self.arguments, "arguments")? {
                None => Json::Object(Map::new()),
                Some(a @ Json::Object(_)) => a,
                Some(_) => {
                    return Err(TaskError::property(
                        "arguments",
                        "is a map of argument names to values",
                    ));
                }
            };
            let fail = ctx
                .render_opt(&self.fail_on_tool_error, "failOnToolError")?
                .unwrap_or(true);
            let mut server = connect(
                ctx,
                &self.url,
                &self.transport,
                &self.headers,
                &self.log_requests,
                &self.log_responses,
            )
            .await?;
            let result = server.call_raw(ctx, &tool, arguments).await?;
            ctx.metric(Metric {
                name: "mcp.tool.calls".into(),
                kind: MetricKind::Counter,
                value: 1.0,
                tags: Map::new(),
            });
            let text = text_of(&result);
            let is_error = result["isError"].as_bool().unwrap_or(false);
            if is_error && fail {
                return Err(TaskError::new(
                    ErrorKind::Remote,
                    format!("MCP tool '{tool}' returned an error: {text}"),
                ));
            }
            Ok(Outputs::from_iter([
                ("result".to_string(), Json::String(text.clone())),
                (
                    "structuredContent".to_string(),
                    result
                        .get("structuredContent")
                        .cloned()
                        .unwrap_or(Json::Null),
                ),
                ("isError".to_string(), Json::Bool(is_error)),
                (
                    "errorMessage".to_string(),
                    if is_error {
                        Json::String(text)
                    } else {
                        Json::Null
                    },
                ),
            ]))
        })
    }
}
