//! The MCP tasks (`ai.mcp.ListTools`, `ai.mcp.CallTool`) and the agent's HTTP MCP tools
//! against a real MCP server: tests/mcp_server.py on the MCP project's Python SDK (from PyPI,
//! in the formats venv), over Streamable HTTP and over HTTP+SSE.

use runner_core::State;
use runner_testkit::{Run, run_flow_with, servers::free_port};
use serde_json::{Value as Json, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TASKS: &[&[runner_core::TaskDescriptor]] = &[
    runner_core::TASKS,
    runner_core_tasks::TASKS,
    runner_ai::TASKS,
];

struct Server {
    port: u16,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The test server over `transport`, once it accepts connections.
fn start(transport: &str) -> Server {
    let port = free_port();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp_server.py");
    let child = Command::new(runner_testkit::formats_venv().join("bin/python"))
        .arg(script)
        .args([transport, &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the MCP test server starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the MCP server did not listen in 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Server { port, child }
}

async fn run(tasks: &str) -> Run {
    run_flow_with(
        TASKS,
        &format!("id: mcp\nnamespace: company.team\ntasks:\n{tasks}"),
        &[],
        &[],
    )
    .await
}

async fn list_and_call(url: &str, transport: &str) {
    let tasks = format!(
        "  - id: tools\n    type: io.kestra.plugin.ai.mcp.ListTools\n    url: {url}\n    transport: {transport}\n  - id: add\n    type: io.kestra.plugin.ai.mcp.CallTool\n    url: {url}\n    transport: {transport}\n    tool: add\n    arguments:\n      a: 2\n      b: 40\n  - id: soft\n    type: io.kestra.plugin.ai.mcp.CallTool\n    url: {url}\n    transport: {transport}\n    tool: fail\n    failOnToolError: false\n    arguments:\n      reason: not today\n"
    );
    let r = run(&tasks).await;
    assert_eq!(r.state, State::Success, "{}", r.logs);
    let tools = r.outputs("tools");
    assert_eq!(tools["count"], 2, "{tools}");
    let add = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "add")
        .unwrap();
    assert_eq!(add["description"], "Add two integers.");
    assert_eq!(add["parameters"]["properties"]["a"]["type"], "integer");
    let added = r.outputs("add");
    assert_eq!(added["result"], "42");
    assert_eq!(added["isError"], false);
    assert_eq!(added["errorMessage"], Json::Null);
    let soft = r.outputs("soft");
    assert_eq!(soft["isError"], true);
    // The SDK's server reports a tool that raised as an error result, in its own words.
    assert_eq!(soft["errorMessage"], "Error executing tool fail", "{soft}");

    let hard = format!(
        "  - id: hard\n    type: io.kestra.plugin.ai.mcp.CallTool\n    url: {url}\n    transport: {transport}\n    tool: fail\n    arguments:\n      reason: broken on purpose\n"
    );
    let r = run(&hard).await;
    assert_eq!(r.state, State::Failed);
    assert!(
        r.logs
            .contains("MCP tool 'fail' returned an error: Error executing tool fail"),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn tools_are_listed_and_called_over_streamable_http() {
    let server = start("streamable-http");
    list_and_call(
        &format!("http://127.0.0.1:{}/mcp", server.port),
        "STREAMABLE_HTTP",
    )
    .await;
}

#[tokio::test]
async fn tools_are_listed_and_called_over_sse() {
    let server = start("sse");
    list_and_call(&format!("http://127.0.0.1:{}/sse", server.port), "sse").await;
}

#[tokio::test]
async fn a_wrong_transport_or_no_server_is_said() {
    let r = run("  - id: t\n    type: io.kestra.plugin.ai.mcp.ListTools\n    url: http://127.0.0.1:9/mcp\n    transport: WEBSOCKET\n").await;
    assert_eq!(r.state, State::Failed);
    assert!(
        r.logs
            .contains("Unsupported MCP transport. Expected one of: STREAMABLE_HTTP, SSE."),
        "{}",
        r.logs
    );
    let port = free_port();
    let r = run(&format!("  - id: t\n    type: io.kestra.plugin.ai.mcp.ListTools\n    url: http://127.0.0.1:{port}/mcp\n")).await;
    assert_eq!(r.state, State::Failed);
    assert!(r.logs.contains(&format!("127.0.0.1:{port}")), "{}", r.logs);
}

/// The agent's StreamableHttpMcpClient: the server's tools reach the model (scripted after
/// OpenAI's API) and its call runs on the server.
#[tokio::test]
async fn an_agent_calls_an_http_mcp_servers_tool() {
    let server = start("streamable-http");
    let call = json!({"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0,
        "message": {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "add", "arguments": "{\"a\": 20, \"b\": 22}"}}]},
        "finish_reason": "tool_calls"}], "usage": {"prompt_tokens": 4, "completion_tokens": 4, "total_tokens": 8}});
    let done = json!({"id": "chatcmpl-2", "object": "chat.completion", "choices": [{"index": 0,
        "message": {"role": "assistant", "content": "42."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5}});
    let model = runner_testkit::scripted::ScriptedServer::start(vec![(
        "POST",
        "/v1/chat/completions",
        vec![call, done],
    )]);
    let tasks = format!(
        "  - id: agent\n    type: io.kestra.plugin.ai.agent.AIAgent\n    provider:\n      type: io.kestra.plugin.ai.provider.OpenAI\n      modelName: gpt-4o-mini\n      baseUrl: {}/v1\n      apiKey: sk-mcp-1\n    prompt: What is 20 + 22?\n    tools:\n      - type: io.kestra.plugin.ai.tool.StreamableHttpMcpClient\n        url: http://127.0.0.1:{}/mcp\n",
        model.url(),
        server.port
    );
    let r = run(&tasks).await;
    assert_eq!(r.state, State::Success, "{}", r.logs);
    let done = &r.outputs("agent")["toolExecutions"][0];
    assert_eq!(done["requestName"], "add");
    assert_eq!(done["result"], "42");
    let sent = model.received();
    let names: Vec<&str> = sent[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert_eq!(names, ["add", "fail"]);
}
