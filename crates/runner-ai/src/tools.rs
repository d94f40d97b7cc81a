//! The tools an AIAgent gives its model (Kestra's `tools:`), and what runs when the model
//! calls one: a flow of the flows folder (`KestraFlow`, run as a Subflow runs it, to its end),
//! a web search (`TavilyWebSearch`, `GoogleCustomWebSearch`), or a tool of an MCP server
//! started as a process (`StdioMcpClient`) or reached over HTTP (`StreamableHttpMcpClient`,
//! `SseMcpClient`). The other tool types of Kestra are refused by name while validating.

use crate::context::short;
use crate::mcp::McpServer;
use crate::mcp_http::HttpKind;
use crate::search::{Found, google_search, tavily_search};
use runner_core::plugin::*;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// One tool as a flow declares it.
pub(crate) enum Tool {
    Flow(Box<FlowTool>),
    Tavily {
        api_key: Property<String>,
    },
    Google {
        api_key: Property<String>,
        csi: Property<String>,
    },
    StdioMcp(StdioMcpClient),
    HttpMcp(HttpMcpClient, HttpKind),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct FlowTool {
    namespace: Option<Property<String>>,
    flow_id: Option<Property<String>>,
    description: Option<Property<String>>,
    /// Inputs the flow always gets (the model's are added to them).
    inputs: Option<Property<Json>>,
    labels: Option<Property<Json>>,
    inherit_labels: Option<Property<bool>>,
    /// Kestra's: when the execution starts; runner runs the flow at once.
    schedule_date: Option<Property<String>>,
    revision: Option<Property<i64>>,
    /// Kestra's: the server to start the execution on; runner runs the flows folder's flow.
    kestra_url: Option<Property<String>>,
    auth: Option<Json>,
    tenant_id: Option<Property<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct StdioMcpClient {
    command: Property<Vec<String>>,
    env: Option<Property<BTreeMap<String, String>>>,
    log_events: Option<Property<bool>>,
}

/// An MCP server over HTTP: `url` (`sseUrl` for the SSE transport), `headers` (credentials,
/// sealed), `timeout`, and Kestra's request and response logging.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct HttpMcpClient {
    url: Property<String>,
    headers: Option<Property<BTreeMap<String, String>>>,
    timeout: Option<Property<IsoDuration>>,
    log_requests: Option<Property<bool>>,
    log_responses: Option<Property<bool>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeyFields {
    api_key: Property<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GoogleFields {
    api_key: Property<String>,
    csi: Property<String>,
}

/// The tools runner runs, by short name.
const RUNS: &str = "KestraFlow, TavilyWebSearch, GoogleCustomWebSearch, StdioMcpClient, StreamableHttpMcpClient, SseMcpClient";

impl<'de> Deserialize<'de> for Tool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut map = Map::<String, Json>::deserialize(d)?;
        let Some(Json::String(kind)) = map.remove("type") else {
            return Err(D::Error::custom(format!(
                "a tool needs a `type`: io.kestra.plugin.ai.tool.<one of {RUNS}>"
            )));
        };
        // The SSE transport names its address `sseUrl`.
        if matches!(short(&kind, "tool"), "SseMcpClient" | "HttpMcpClient")
            && let Some(url) = map.remove("sseUrl")
        {
            map.insert("url".into(), url);
        }
        let fields = Json::Object(map);
        // Only Kestra's own package has KestraFlow (the langchain4j one never did).
        let name = match short(&kind, "tool") {
            "KestraFlow" if kind != "io.kestra.plugin.ai.tool.KestraFlow" => kind.as_str(),
            other => other,
        };
        Ok(match name {
            "KestraFlow" => Tool::Flow(Box::new(
                FlowTool::deserialize(fields).map_err(D::Error::custom)?,
            )),
            "TavilyWebSearch" => {
                let f = KeyFields::deserialize(fields).map_err(D::Error::custom)?;
                Tool::Tavily { api_key: f.api_key }
            }
            "GoogleCustomWebSearch" => {
                let f = GoogleFields::deserialize(fields).map_err(D::Error::custom)?;
                Tool::Google {
                    api_key: f.api_key,
                    csi: f.csi,
                }
            }
            "StreamableHttpMcpClient" => Tool::HttpMcp(
                HttpMcpClient::deserialize(fields).map_err(D::Error::custom)?,
                HttpKind::Streamable,
            ),
            "SseMcpClient" | "HttpMcpClient" => Tool::HttpMcp(
                HttpMcpClient::deserialize(fields).map_err(D::Error::custom)?,
                HttpKind::Sse,
            ),
            "StdioMcpClient" => {
                Tool::StdioMcp(StdioMcpClient::deserialize(fields).map_err(D::Error::custom)?)
            }
            _ => {
                return Err(D::Error::custom(format!(
                    "the tool `{kind}` is not supported by runner yet: runner runs {RUNS}"
                )));
            }
        })
    }
}

impl Seal for Tool {
    fn seal(&mut self) {
        match self {
            Tool::Tavily { api_key } => api_key.seal(),
            Tool::Google { api_key, csi } => {
                api_key.seal();
                csi.seal();
            }
            // A flow gives secrets to a server's `env` with `secret()`, masked as every
            // secret is; its plain settings (`debug`, paths) are not credentials.
            Tool::StdioMcp(_) | Tool::Flow(_) => {}
            // Headers carry a server's credentials.
            Tool::HttpMcp(h, _) => h.headers.seal(),
        }
    }
}

/// A flow's `tools:` list.
pub(crate) struct Tools(pub(crate) Vec<Tool>);

impl PropType for Tools {
    const NAME: &'static str = "list of tools";
}

impl Seal for Tools {
    fn seal(&mut self) {
        self.0.iter_mut().for_each(Seal::seal);
    }
}

impl<'de> Deserialize<'de> for Tools {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<Tool>::deserialize(d).map(Tools)
    }
}

impl Tools {
    /// What Kestra refuses before running: a KestraFlow with a namespace and no flow, or the
    /// other way round.
    pub(crate) fn check(&self) -> Result<(), String> {
        for (i, t) in self.0.iter().enumerate() {
            if let Tool::Flow(f) = t {
                match (&f.namespace, &f.flow_id) {
                    (Some(_), None) => {
                        return Err(format!(
                            "tools[{i}]: Flow ID must be specified when you set the namespace"
                        ));
                    }
                    (None, Some(_)) => {
                        return Err(format!(
                            "tools[{i}]: Namespace must be specified when you set the flow ID"
                        ));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

/// What runs when the model calls a function.
enum Target {
    /// A fixed flow, with the inputs and labels the tool always gives.
    Flow {
        namespace: String,
        flow_id: String,
        inputs: Map<String, Json>,
        labels: Map<String, Json>,
    },
    /// The model names the flow; the tool's inputs and labels go with it.
    AnyFlow {
        inputs: Map<String, Json>,
        labels: Map<String, Json>,
    },
    Tavily(String),
    Google {
        key: String,
        cx: String,
    },
    Mcp(usize, String),
}

struct Function {
    name: String,
    description: String,
    parameters: Json,
    target: Target,
}

/// The tools of one task run: the functions the model sees, and the MCP servers started.
pub(crate) struct Toolbox {
    functions: Vec<Function>,
    servers: Vec<McpServer>,
}

/// The most search results a search tool gives the model.
const SEARCH_RESULTS: i64 = 5;

/// Kestra's name of a flow's function: the namespace's dots as `_`, the flow id as it is.
fn flow_name(namespace: &str, flow_id: &str) -> String {
    format!("kestra_flow_{}_{flow_id}", namespace.replace('.', "_"))
}

/// Labels as Kestra takes them: a map, or a list of `{key, value}`.
fn label_map(value: Option<Json>) -> Map<String, Json> {
    match value {
        Some(Json::Object(m)) => m,
        Some(Json::Array(items)) => items
            .iter()
            .filter_map(|l| Some((l["key"].as_str()?.to_string(), l["value"].clone())))
            .collect(),
        _ => Map::new(),
    }
}

fn search_function(name: &str, target: Target) -> Function {
    Function {
        name: name.to_string(),
        description: "Search the web: for recent events, or anything not known otherwise. Gives titles, addresses and text of the pages found.".into(),
        parameters: json!({"type": "object", "properties": {"query": {"type": "string", "description": "Web search terms"}}, "required": ["query"]}),
        target,
    }
}

impl Toolbox {
    /// Renders each tool and starts the MCP servers.
    pub(crate) async fn open(
        ctx: &RunContext,
        tools: &Tools,
        timeout: Duration,
    ) -> Result<Toolbox, TaskError> {
        let mut functions = Vec::new();
        let mut servers = Vec::new();
        for (i, tool) in tools.0.iter().enumerate() {
            let at = format!("tools[{i}]");
            match tool {
                Tool::Flow(f) => {
                    for (given, what) in [
                        (f.kestra_url.is_some(), "kestraUrl"),
                        (f.auth.is_some(), "auth"),
                        (f.tenant_id.is_some(), "tenantId"),
                        (f.revision.is_some(), "revision"),
                    ] {
                        if given {
                            ctx.log(
                                Level::Warn,
                                &format!("{at}.{what} is not used: runner runs the flow of its flows folder"),
                            );
                        }
                    }
                    if f.schedule_date.is_some() {
                        ctx.log(
                            Level::Warn,
                            &format!("{at}.scheduleDate is not used: runner runs the flow at once"),
                        );
                    }
                    let mut labels = label_map(ctx.render_opt(&f.labels, &format!("{at}.labels"))?);
                    let inherit = ctx
                        .render_opt(&f.inherit_labels, &format!("{at}.inheritLabels"))?
                        .unwrap_or(false);
                    if inherit
                        && let Some(Json::Array(items)) = ctx.execution_record().get("labels")
                    {
                        for l in items {
                            if let (Some(Json::String(k)), Some(v)) = (l.get("key"), l.get("value"))
                            {
                                labels.entry(k.clone()).or_insert(v.clone());
                            }
                        }
                    }
                    let description =
                        ctx.render_opt(&f.description, &format!("{at}.description"))?;
                    let namespace = ctx.render_opt(&f.namespace, &format!("{at}.namespace"))?;
                    let flow_id = ctx.render_opt(&f.flow_id, &format!("{at}.flowId"))?;
                    let arguments = json!({
                        "inputs": {"type": "array", "description": "The flow's inputs", "items": {"type": "object", "properties": {"id": {"type": "string"}, "value": {"type": "string"}}, "required": ["id", "value"]}},
                        "labels": {"type": "array", "description": "Labels of the execution", "items": {"type": "object", "properties": {"key": {"type": "string"}, "value": {"type": "string"}}, "required": ["key", "value"]}},
                        "scheduleDate": {"type": "string", "description": "When to start the execution (ISO 8601); runner starts it at once"},
                    });
                    let inputs = match ctx.render_opt(&f.inputs, &format!("{at}.inputs"))? {
                        Some(Json::Object(m)) => m,
                        None => Map::new(),
                        Some(_) => {
                            return Err(TaskError::property(
                                &format!("{at}.inputs"),
                                "is a map of input ids to values",
                            ));
                        }
                    };
                    match (namespace, flow_id) {
                        (Some(namespace), Some(flow_id)) => {
                            let description = description.ok_or_else(|| {
                                TaskError::property(
                                    &format!("{at}.description"),
                                    format!("the KestraFlow tool of {namespace}.{flow_id} needs a `description`: it tells the model when to use it"),
                                )
                            })?;
                            functions.push(Function {
                                name: flow_name(&namespace, &flow_id),
                                description,
                                parameters: json!({"type": "object", "properties": arguments}),
                                target: Target::Flow {
                                    namespace,
                                    flow_id,
                                    inputs,
                                    labels,
                                },
                            });
                        }
                        _ => {
                            let mut properties = arguments;
                            properties["namespace"] =
                                json!({"type": "string", "description": "The flow's namespace"});
                            properties["flowId"] =
                                json!({"type": "string", "description": "The flow's id"});
                            functions.push(Function {
                                name: "kestra_flow".into(),
                                description: description.unwrap_or_else(|| {
                                    "Run a Kestra flow, named by its namespace and id, with inputs; gives the execution it made (its state and outputs).".into()
                                }),
                                parameters: json!({"type": "object", "properties": properties, "required": ["namespace", "flowId"]}),
                                target: Target::AnyFlow { inputs, labels },
                            });
                        }
                    }
                }
                Tool::Tavily { api_key } => {
                    let key = ctx.render(api_key, &format!("{at}.apiKey"))?;
                    functions.push(search_function("searchWeb", Target::Tavily(key)));
                }
                Tool::Google { api_key, csi } => {
                    let key = ctx.render(api_key, &format!("{at}.apiKey"))?;
                    let cx = ctx.render(csi, &format!("{at}.csi"))?;
                    functions.push(search_function("searchWeb", Target::Google { key, cx }));
                }
                Tool::StdioMcp(m) => {
                    let command = ctx.render(&m.command, &format!("{at}.command"))?;
                    let env: Vec<(String, String)> = ctx
                        .render_opt(&m.env, &format!("{at}.env"))?
                        .unwrap_or_default()
                        .into_iter()
                        .collect();
                    let log_events = ctx
                        .render_opt(&m.log_events, &format!("{at}.logEvents"))?
                        .unwrap_or(false);
                    let server =
                        McpServer::start(ctx, &command, &env, log_events, at.clone(), timeout)
                            .await?;
                    add_server(ctx, server, &mut functions, &mut servers).await?;
                }
                Tool::HttpMcp(h, kind) => {
                    let server = connect(ctx, h, *kind, &at, timeout).await?;
                    add_server(ctx, server, &mut functions, &mut servers).await?;
                }
            }
        }
        // Two tools of one name: the model could not tell them apart.
        let mut names = std::collections::BTreeSet::new();
        for f in &functions {
            if !names.insert(f.name.as_str()) {
                return Err(TaskError::property(
                    "tools",
                    format!(
                        "two tools are named `{}`: keep one (web search tools share the name searchWeb)",
                        f.name
                    ),
                ));
            }
        }
        Ok(Toolbox { functions, servers })
    }

    /// OpenAI's `tools` for the request.
    pub(crate) fn specs(&self) -> Option<Json> {
        if self.functions.is_empty() {
            return None;
        }
        Some(Json::Array(
            self.functions
                .iter()
                .map(|f| {
                    json!({"type": "function", "function": {
                        "name": f.name, "description": f.description, "parameters": f.parameters,
                    }})
                })
                .collect(),
        ))
    }

    /// Runs what the model called; the result as text for it. A tool that fails fails the
    /// task, as in Kestra.
    pub(crate) async fn call(
        &mut self,
        ctx: &RunContext,
        name: &str,
        arguments: &Json,
    ) -> Result<String, TaskError> {
        let Some(function) = self.functions.iter().find(|f| f.name == name) else {
            return Err(TaskError::new(
                ErrorKind::Remote,
                format!("the model called a tool `{name}` that it was not given"),
            )
            .hint("a small model may invent tool names: try another model"));
        };
        let query = || {
            arguments["query"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| {
                    TaskError::new(
                        ErrorKind::Remote,
                        format!("the model called `{name}` without a `query`"),
                    )
                })
        };
        match &function.target {
            Target::Tavily(key) => {
                let found = tavily_search(ctx, key, &query()?, SEARCH_RESULTS, name).await?;
                Ok(search_text(&found))
            }
            Target::Google { key, cx } => {
                let found = google_search(ctx, key, cx, &query()?, SEARCH_RESULTS, name).await?;
                Ok(search_text(&found))
            }
            Target::Mcp(server, tool) => {
                let (text, failed) = self.servers[*server]
                    .call(ctx, tool, arguments.clone())
                    .await?;
                if failed {
                    return Err(TaskError::new(
                        ErrorKind::Remote,
                        format!("MCP tool '{tool}' returned an error: {text}"),
                    ));
                }
                Ok(text)
            }
            Target::Flow {
                namespace,
                flow_id,
                inputs,
                labels,
            } => {
                let (namespace, flow_id) = (namespace.clone(), flow_id.clone());
                let (inputs, labels) = (inputs.clone(), labels.clone());
                run_flow(ctx, namespace, flow_id, inputs, labels, arguments).await
            }
            Target::AnyFlow { inputs, labels } => {
                let field = |k: &str| {
                    arguments[k].as_str().map(str::to_string).ok_or_else(|| {
                        TaskError::new(
                            ErrorKind::Remote,
                            format!("the model called `kestra_flow` without `{k}`"),
                        )
                    })
                };
                let (namespace, flow_id) = (field("namespace")?, field("flowId")?);
                run_flow(
                    ctx,
                    namespace,
                    flow_id,
                    inputs.clone(),
                    labels.clone(),
                    arguments,
                )
                .await
            }
        }
    }
}

/// Adds a server's tools as functions.
async fn add_server(
    ctx: &RunContext,
    mut server: McpServer,
    functions: &mut Vec<Function>,
    servers: &mut Vec<McpServer>,
) -> Result<(), TaskError> {
    let index = servers.len();
    for t in server.tools(ctx).await? {
        functions.push(Function {
            name: t.name.clone(),
            description: t.description,
            parameters: t.input_schema,
            target: Target::Mcp(index, t.name),
        });
    }
    servers.push(server);
    Ok(())
}

/// Connects to an MCP server over HTTP as `h` says (`at` names it in messages).
pub(crate) async fn connect(
    ctx: &RunContext,
    h: &HttpMcpClient,
    kind: HttpKind,
    at: &str,
    timeout: std::time::Duration,
) -> Result<McpServer, TaskError> {
    let url = ctx.render(&h.url, &format!("{at}.url"))?;
    let headers: Vec<(String, String)> = ctx
        .render_opt(&h.headers, &format!("{at}.headers"))?
        .unwrap_or_default()
        .into_iter()
        .collect();
    let timeout = ctx
        .render_opt(&h.timeout, &format!("{at}.timeout"))?
        .map_or(timeout, |t| t.0.min(timeout));
    let logs = (
        ctx.render_opt(&h.log_requests, &format!("{at}.logRequests"))?
            .unwrap_or(false),
        ctx.render_opt(&h.log_responses, &format!("{at}.logResponses"))?
            .unwrap_or(false),
    );
    let property = match kind {
        HttpKind::Streamable => format!("{at}.url"),
        HttpKind::Sse => format!("{at}.sseUrl"),
    };
    McpServer::connect(
        ctx,
        &url,
        &property,
        kind,
        headers,
        logs,
        Some(at.to_string()),
        timeout,
    )
    .await
}

fn search_text(found: &[Found]) -> String {
    if found.is_empty() {
        return "No results".into();
    }
    found
        .iter()
        .map(Found::text)
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Runs a flow of the flows folder to its end with the tool's and the model's inputs and
/// labels; the result is the execution as Kestra's API gives it (`id`, `namespace`,
/// `flowId`, `state`, `outputs`).
async fn run_flow(
    ctx: &RunContext,
    namespace: String,
    flow_id: String,
    mut inputs: Map<String, Json>,
    mut labels: Map<String, Json>,
    arguments: &Json,
) -> Result<String, TaskError> {
    for i in arguments["inputs"].as_array().into_iter().flatten() {
        if let Some(id) = i["id"].as_str() {
            inputs.insert(id.to_string(), i["value"].clone());
        }
    }
    if arguments.get("scheduleDate").is_some_and(|d| !d.is_null()) {
        ctx.log(
            Level::Warn,
            "the model gave a scheduleDate: runner starts the flow at once",
        );
    }
    for l in arguments["labels"].as_array().into_iter().flatten() {
        if let Some(k) = l["key"].as_str() {
            labels.insert(k.to_string(), l["value"].clone());
        }
    }
    let run = ctx
        .run_subflow(SubflowCall {
            namespace: namespace.clone(),
            flow_id: flow_id.clone(),
            inputs,
            labels,
            wait: true,
        })
        .await?;
    let state = run.state.map(|s| s.as_str()).unwrap_or("RUNNING");
    Ok(json!({
        "id": run.execution_id,
        "namespace": namespace,
        "flowId": flow_id,
        "tenantId": "main",
        "state": {"current": state},
        "outputs": run.outputs.unwrap_or(Json::Object(Map::new())),
    })
    .to_string())
}
