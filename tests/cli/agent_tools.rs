//! AIAgent's KestraFlow tool through the binary: the flow the model calls runs from the flows
//! folder, as a Subflow runs it, and its execution goes back to the model. The model's part
//! is scripted after OpenAI's chat completions API (the real model's tool calls are tested in
//! runner-ai against llama.cpp).

use crate::support;

use runner_testkit::scripted::ScriptedServer;
use serde_json::{Value as Json, json};
use support::Sandbox;

#[test]
fn a_kestra_flow_tool_runs_the_flow_and_gives_its_execution_to_the_model() {
    let call = json!({"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0,
        "message": {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "kestra_flow_company_team_greet-er",
                "arguments": "{\"inputs\": [{\"id\": \"name\", \"value\": \"Ada\"}]}"}}]},
        "finish_reason": "tool_calls"}], "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}});
    let done = json!({"id": "chatcmpl-2", "object": "chat.completion", "choices": [{"index": 0,
        "message": {"role": "assistant", "content": "Ada was greeted."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 40, "completion_tokens": 4, "total_tokens": 44}});
    let model = ScriptedServer::start(vec![("POST", "/v1/chat/completions", vec![call, done])]);
    let s = Sandbox::new();
    s.write(
        "flows/greeter.yaml",
        "id: greet-er\nnamespace: company.team\ninputs:\n  - id: name\n    type: STRING\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: \"Hello, {{ inputs.name }}!\"\noutputs:\n  - id: greeting\n    type: STRING\n    value: \"Hello, {{ inputs.name }}\"\n",
    );
    s.write(
        "flows/agent.yaml",
        &format!(
            "id: agent\nnamespace: company.team\ntasks:\n  - id: ask\n    type: io.kestra.plugin.ai.agent.AIAgent\n    provider:\n      type: io.kestra.plugin.ai.provider.OpenAI\n      modelName: gpt-4o-mini\n      baseUrl: {}/v1\n      apiKey: sk-test-4411\n    prompt: Greet Ada.\n    tools:\n      - type: io.kestra.plugin.ai.tool.KestraFlow\n        namespace: company.team\n        flowId: greet-er\n        description: Greets someone by name\n",
            model.url()
        ),
    );
    let out = s.run(&["run", "flows/agent.yaml", "--json"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr().contains("Hello, Ada!"),
        "the flow ran: {}",
        out.stderr()
    );
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    let outputs = &record["taskRunList"][0]["outputs"];
    assert_eq!(outputs["textOutput"], "Ada was greeted.");
    let done = &outputs["toolExecutions"][0];
    assert_eq!(done["requestName"], "kestra_flow_company_team_greet-er");
    let result: Json = serde_json::from_str(done["result"].as_str().unwrap()).unwrap();
    assert_eq!(result["state"]["current"], "SUCCESS");
    assert_eq!(result["flowId"], "greet-er");
    assert_eq!(result["outputs"]["greeting"], "Hello, Ada");
    assert!(result["id"].is_string());
    // The model saw the flow as a tool, and then the execution it made.
    let asked = model.received();
    assert_eq!(asked.len(), 2);
    let tool = &asked[0].body["tools"][0]["function"];
    assert_eq!(tool["name"], "kestra_flow_company_team_greet-er");
    assert_eq!(tool["description"], "Greets someone by name");
    let last = asked[1].body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["role"], "tool");
    assert!(
        last["content"].as_str().unwrap().contains("Hello, Ada"),
        "{last}"
    );
    assert!(!out.stderr().contains("sk-test-4411") && !out.stdout().contains("sk-test-4411"));
}

#[test]
fn the_generic_flow_tool_runs_the_flow_the_model_names_with_the_tools_inputs() {
    let call = json!({"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0,
        "message": {"role": "assistant", "content": "", "tool_calls": [{"id": "call_9", "type": "function",
            "function": {"name": "kestra_flow",
                "arguments": "{\"namespace\": \"company.team\", \"flowId\": \"greet-er\"}"}}]},
        "finish_reason": "tool_calls"}], "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}});
    let done = json!({"id": "chatcmpl-2", "object": "chat.completion", "choices": [{"index": 0,
        "message": {"role": "assistant", "content": "Done."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}});
    let model = ScriptedServer::start(vec![("POST", "/v1/chat/completions", vec![call, done])]);
    let s = Sandbox::new();
    s.write(
        "flows/greeter.yaml",
        "id: greet-er\nnamespace: company.team\ninputs:\n  - id: name\n    type: STRING\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: \"Hello, {{ inputs.name }}!\"\n",
    );
    s.write(
        "flows/agent.yaml",
        &format!(
            "id: agent\nnamespace: company.team\ntasks:\n  - id: ask\n    type: io.kestra.plugin.ai.agent.AIAgent\n    provider:\n      type: io.kestra.plugin.ai.provider.OpenAI\n      modelName: gpt-4o-mini\n      baseUrl: {}/v1\n      apiKey: sk-test-4411\n    prompt: Run the greeter.\n    tools:\n      - type: io.kestra.plugin.ai.tool.KestraFlow\n        inputs:\n          name: Grace\n",
            model.url()
        ),
    );
    let out = s.run(&["run", "flows/agent.yaml", "--json"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr().contains("Hello, Grace!"),
        "the tool's inputs went with it: {}",
        out.stderr()
    );
    let tool = &model.received()[0].body["tools"][0]["function"];
    assert_eq!(tool["name"], "kestra_flow");
    assert_eq!(
        tool["parameters"]["required"],
        json!(["namespace", "flowId"])
    );
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    let result: Json = serde_json::from_str(
        record["taskRunList"][0]["outputs"]["toolExecutions"][0]["result"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(result["state"]["current"], "SUCCESS");
}
