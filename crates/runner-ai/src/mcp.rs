//! A client of MCP servers: JSON-RPC 2.0 over MCP's stdio transport (a server started as a
//! process, Kestra's `StdioMcpClient`: one message per line on its stdin and stdout) or over
//! HTTP (`mcp_http`). The client initializes, lists the server's tools and calls them. A
//! stdio server is one of the task run's processes: it runs in the task's working directory
//! with only the machine's usual variables and the tool's `env`, and its process group is
//! killed when the task ends.

use crate::mcp_http::{Http, HttpKind, reply_to};
use runner_core::plugin::*;
use serde_json::json;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{ChildStdin, ChildStdout};

/// The MCP revision runner speaks (servers answer with the one they speak).
const PROTOCOL: &str = "2025-06-18";
/// The longest message accepted from a server.
const MAX_LINE: usize = 16 * 1024 * 1024;
/// How much of a server's stderr is kept for an error message.
const STDERR_TAIL: usize = 4096;
/// The most pages of a tool list followed.
const MAX_PAGES: usize = 100;

/// A tool a server offers: its name, description and JSON schema of arguments.
pub(crate) struct McpTool {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) input_schema: Json,
}

/// A stdio server's process and pipes.
struct Pipes {
    _process: ChildProcess,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// The reader of its stderr: done once the server has said all it will.
    stderr_done: Option<tokio::task::JoinHandle<()>>,
}

enum Channel {
    Stdio(Box<Pipes>),
    Http(Box<Http>),
}

pub(crate) struct McpServer {
    channel: Channel,
    next_id: u64,
    /// Where it is declared (`tools[1]`), for messages.
    label: String,
    log_events: bool,
    timeout: Duration,
}

impl McpServer {
    /// Starts `command` and initializes the session.
    pub(crate) async fn start(
        ctx: &RunContext,
        command: &[String],
        env: &[(String, String)],
        log_events: bool,
        label: String,
        timeout: Duration,
    ) -> Result<McpServer, TaskError> {
        let Some((program, args)) = command.split_first() else {
            return Err(TaskError::property(
                &format!("{label}.command"),
                "the command that starts the MCP server is empty",
            ));
        };
        let dir = ctx.working_dir()?;
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .current_dir(dir.path())
            .env_clear()
            .envs(ctx.process_environment())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut process = ctx.spawn(cmd).map_err(|e| {
            TaskError::failed(format!("cannot start the MCP server `{program}` ({label})"))
                .hint(if e.kind() == std::io::ErrorKind::NotFound {
                    format!(
                        "install `{program}` on this machine, or give its full path in `command`"
                    )
                } else {
                    "check that the program can be run by this user".to_string()
                })
                .caused_by(e)
        })?;
        let child = process.child();
        let (Some(stdin), Some(stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(TaskError::failed(
                "the MCP server's pipes could not be opened",
            ));
        };
        // Its stderr is kept (the end of it) to explain a server that stops.
        let kept: Arc<Mutex<Vec<u8>>> = Arc::default();
        let sink = kept.clone();
        let stderr_done = tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let mut kept = sink.lock().expect("stderr lock");
                kept.extend_from_slice(&buf[..n]);
                let over = kept.len().saturating_sub(STDERR_TAIL);
                kept.drain(..over);
            }
        });
        let mut server = McpServer {
            channel: Channel::Stdio(Box::new(Pipes {
                _process: process,
                stdin,
                stdout: BufReader::new(stdout),
                stderr: kept,
                stderr_done: Some(stderr_done),
            })),
            next_id: 1,
            label,
            log_events,
            timeout,
        };
        server.initialize(ctx).await?;
        Ok(server)
    }

    /// Connects to a server over HTTP and initializes the session; `property` names its
    /// address, `label` the server in messages (its origin when none).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn connect(
        ctx: &RunContext,
        url: &str,
        property: &str,
        kind: HttpKind,
        headers: Vec<(String, String)>,
        logs: (bool, bool),
        label: Option<String>,
        timeout: Duration,
    ) -> Result<McpServer, TaskError> {
        let http = Http::connect(ctx, url, property, kind, headers, label, logs, timeout).await?;
        let label = http.label().to_string();
        let mut server = McpServer {
            channel: Channel::Http(Box::new(http)),
            next_id: 1,
            label,
            // `logResponses` logs every message, notifications included.
            log_events: false,
            timeout,
        };
        server.initialize(ctx).await?;
        Ok(server)
    }

    async fn initialize(&mut self, ctx: &RunContext) -> Result<(), TaskError> {
        let params = json!({
            "protocolVersion": PROTOCOL,
            "capabilities": {},
            "clientInfo": {"name": "runner", "version": env!("CARGO_PKG_VERSION")},
        });
        self.request(ctx, "initialize", params).await?;
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let deadline = tokio::time::Instant::now() + self.timeout;
        match &mut self.channel {
            Channel::Http(h) => {
                match tokio::time::timeout_at(deadline, h.notify(ctx, &initialized)).await {
                    Ok(r) => r,
                    Err(_) => Err(self.late("take a message")),
                }
            }
            Channel::Stdio(_) => self.send(&initialized, deadline).await,
        }
    }

    /// The server's tools, every page of them.
    pub(crate) async fn tools(&mut self, ctx: &RunContext) -> Result<Vec<McpTool>, TaskError> {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let params = match &cursor {
                Some(c) => json!({"cursor": c}),
                None => json!({}),
            };
            let result = self.request(ctx, "tools/list", params).await?;
            tools.extend(
                result["tools"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| {
                        Some(McpTool {
                            name: t["name"].as_str()?.to_string(),
                            description: t["description"].as_str().unwrap_or_default().to_string(),
                            input_schema: t
                                .get("inputSchema")
                                .cloned()
                                .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
                        })
                    }),
            );
            match result["nextCursor"].as_str() {
                Some(next) if !next.is_empty() => cursor = Some(next.to_string()),
                _ => return Ok(tools),
            }
        }
        Err(TaskError::new(
            ErrorKind::Remote,
            format!(
                "the MCP server ({}) lists its tools on more than {MAX_PAGES} pages",
                self.label
            ),
        ))
    }

    /// Calls tool `name`: its text content, and whether the server says it failed.
    pub(crate) async fn call(
        &mut self,
        ctx: &RunContext,
        name: &str,
        arguments: Json,
    ) -> Result<(String, bool), TaskError> {
        let result = self.call_raw(ctx, name, arguments).await?;
        Ok((
            text_of(&result),
            result["isError"].as_bool().unwrap_or(false),
        ))
    }

    /// Calls tool `name`: the server's result as it sent it.
    pub(crate) async fn call_raw(
        &mut self,
        ctx: &RunContext,
        name: &str,
        arguments: Json,
    ) -> Result<Json, TaskError> {
        self.request(
            ctx,
            "tools/call",
            json!({"name": name, "arguments": arguments}),
        )
        .await
    }

    /// Writes one message, by `deadline`: a server that stops reading must not hold the task.
    async fn send(
        &mut self,
        message: &Json,
        deadline: tokio::time::Instant,
    ) -> Result<(), TaskError> {
        let mut line = message.to_string();
        line.push('\n');
        let Channel::Stdio(pipes) = &mut self.channel else {
            unreachable!("stdio only");
        };
        let write = async {
            pipes.stdin.write_all(line.as_bytes()).await?;
            pipes.stdin.flush().await
        };
        match tokio::time::timeout_at(deadline, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.stopped(&format!("cannot write to it ({e})")).await),
            Err(_) => Err(self.late("take a message")),
        }
    }

    fn late(&self, what: &str) -> TaskError {
        TaskError::new(
            ErrorKind::Remote,
            format!(
                "the MCP server ({}) did not {what} in {}s",
                self.label,
                self.timeout.as_secs()
            ),
        )
        .hint("raise the task's `timeout`, or check the server")
    }

    /// Sends a request and waits for its answer, answering what the server asks meanwhile.
    async fn request(
        &mut self,
        ctx: &RunContext,
        method: &str,
        params: Json,
    ) -> Result<Json, TaskError> {
        let id = self.next_id;
        self.next_id += 1;
        let deadline = tokio::time::Instant::now() + self.timeout;
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        if let Channel::Http(h) = &mut self.channel {
            let asked = h.request(ctx, method, id, &message, self.log_events);
            return match tokio::time::timeout_at(deadline, asked).await {
                Ok(r) => r,
                Err(_) => Err(self.late(&format!("answer `{method}`"))),
            };
        }
        self.send(&message, deadline).await?;
        loop {
            let line = match tokio::time::timeout_at(deadline, self.read_line()).await {
                Ok(Ok(line)) => line,
                Ok(Err(what)) => return Err(self.stopped(&what).await),
                Err(_) => return Err(self.late(&format!("answer `{method}`"))),
            };
            let Ok(message) = serde_json::from_str::<Json>(&line) else {
                // Servers may print other lines; MCP's own are JSON.
                continue;
            };
            match dispatch(&self.label, method, id, &message, ctx, self.log_events) {
                Dispatch::Answer(result) => return result,
                Dispatch::Reply(reply) => self.send(&reply, deadline).await?,
                Dispatch::Other => {}
            }
        }
    }

    /// One line of the server's stdout, at most [`MAX_LINE`] long; why not, when it stopped.
    async fn read_line(&mut self) -> Result<String, String> {
        let Channel::Stdio(pipes) = &mut self.channel else {
            unreachable!("stdio only");
        };
        let mut line = Vec::new();
        loop {
            let available = pipes
                .stdout
                .fill_buf()
                .await
                .map_err(|e| format!("cannot read from it ({e})"))?;
            if available.is_empty() {
                return Err("it closed its output".into());
            }
            let (taken, done) = match available.iter().position(|b| *b == b'\n') {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            line.extend_from_slice(&available[..taken]);
            pipes.stdout.consume(taken);
            if line.len() > MAX_LINE {
                return Err("it sent a line longer than 16 MiB".into());
            }
            if done {
                return Ok(String::from_utf8_lossy(&line).trim_end().to_string());
            }
        }
    }

    /// The error of a server that stopped, with the end of what it wrote on stderr (read to
    /// its end first, for a moment at most: a server that exits writes its last words then).
    async fn stopped(&mut self, what: &str) -> TaskError {
        let Channel::Stdio(pipes) = &mut self.channel else {
            return TaskError::failed(format!(
                "the MCP server ({}) stopped answering: {what}",
                self.label
            ));
        };
        if let Some(done) = pipes.stderr_done.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_millis(500), done).await;
        }
        stopped(&self.label, &pipes.stderr, what)
    }
}

/// The error of a server that stopped answering, with the end of its stderr.
fn stopped(label: &str, stderr: &Mutex<Vec<u8>>, what: &str) -> TaskError {
    let tail = String::from_utf8_lossy(&stderr.lock().expect("stderr lock"))
        .trim()
        .to_string();
    let error = TaskError::failed(format!(
        "the MCP server ({label}) stopped answering: {what}"
    ));
    if tail.is_empty() {
        error.hint("check the server's `command`: run it by hand to see why it stops")
    } else {
        error.hint(format!("its last words on stderr: {tail}"))
    }
}

/// A tool result's text content (its structured content when it has no text).
pub(crate) fn text_of(result: &Json) -> String {
    let text: Vec<&str> = result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["type"] == "text")
        .filter_map(|c| c["text"].as_str())
        .collect();
    if text.is_empty() {
        result
            .get("structuredContent")
            .map(Json::to_string)
            .unwrap_or_default()
    } else {
        text.join("\n")
    }
}

/// What a message from the server is, for the request `id` waiting on it.
pub(crate) enum Dispatch {
    /// Its answer: the result, or the server's refusal.
    Answer(Result<Json, TaskError>),
    /// A request of the server's, and runner's reply to send.
    Reply(Json),
    /// A notification, or another request's answer.
    Other,
}

pub(crate) fn dispatch(
    label: &str,
    method: &str,
    id: u64,
    message: &Json,
    ctx: &RunContext,
    log_events: bool,
) -> Dispatch {
    // An error without an id (it could not read the request) answers it too.
    let ours = message.get("id") == Some(&json!(id))
        || (message.get("id") == Some(&Json::Null) && message.get("error").is_some());
    if ours && message.get("method").is_none() {
        if let Some(error) = message.get("error") {
            let said: String = error["message"]
                .as_str()
                .unwrap_or("no message")
                .chars()
                .take(300)
                .collect();
            return Dispatch::Answer(Err(TaskError::new(
                ErrorKind::Remote,
                format!("the MCP server ({label}) refused `{method}`: {said}"),
            )));
        }
        return Dispatch::Answer(Ok(message.get("result").cloned().unwrap_or(Json::Null)));
    }
    match (message.get("id"), message["method"].as_str()) {
        // A request of the server's (ping, roots...): runner has only pong.
        (Some(their), Some(asked)) => Dispatch::Reply(reply_to(their, asked)),
        (None, Some(note)) => {
            if log_events {
                ctx.log(
                    Level::Info,
                    &format!("MCP ({label}) {note}: {}", message["params"]),
                );
            }
            Dispatch::Other
        }
        _ => Dispatch::Other,
    }
}
