//! The AI tasks against a real language model: llama.cpp's OpenAI-compatible server running
//! Gemma 3 270M (scripts/llm-venv.sh builds it once). A model that small writes unreliable
//! prose, so the tests assert what it does reliably: an answer comes back with its token
//! counts, a JSON schema is followed (llama.cpp constrains the output with a grammar), a
//! forced function call names the function. The API key is a secret: no byte of the run
//! holds it.

use runner_testkit::{Run, RunOptions, run_flow_opts, servers::free_port};
use serde_json::{Value as Json, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const TASKS: &[&[runner_core::TaskDescriptor]] = &[
    runner_core::TASKS,
    runner_core_tasks::TASKS,
    runner_ai::TASKS,
];

/// The key the server requires; the tests give it as a secret.
const KEY: &str = "sk-runner-test-5f2c9a71d04e";

/// The model's environment, from RUNNER_LLM_VENV or made by scripts/llm-venv.sh.
fn venv() -> PathBuf {
    if let Some(v) = std::env::var_os("RUNNER_LLM_VENV") {
        return PathBuf::from(v);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(root.join("scripts/llm-venv.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/llm-venv.sh runs");
    assert!(out.status.success(), "scripts/llm-venv.sh failed");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// One llama.cpp server for the whole test binary, stopped when the process ends.
struct Server {
    port: u16,
    _child: ChildGuard,
}

struct ChildGuard(Child);

impl Drop for ChildGuard {
    /// Closing its stdin makes the shell stop the server; then the shell ends.
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| start(false))
}

/// A second server of the same model serving embeddings (llama.cpp serves one or the other).
fn embedder() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| start(true))
}

fn start(embedding: bool) -> Server {
    {
        let venv = venv();
        let port = free_port();
        // Under a shell that stops the server when this process's end closes its stdin: the
        // server outlives no test binary, even one that panics or is killed.
        let child = Command::new("/bin/sh")
            .args([
                "-c",
                "\"$@\" & server=$!; read -r _; kill $server; wait $server",
                "sh",
            ])
            .arg(venv.join("bin/python"))
            .args(["-m", "llama_cpp.server", "--model"])
            .arg(venv.join("model.gguf"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--api_key",
                KEY,
                "--n_ctx",
                "2048",
                "--chat_format",
                "chatml-function-calling",
            ])
            .args(["--model_alias", "gemma-3-270m"])
            .args(if embedding {
                &["--embedding", "true"][..]
            } else {
                &[][..]
            })
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the llama.cpp server starts");
        let guard = ChildGuard(child);
        // Ready when it answers; loading 253 MB takes a few seconds.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                let ok = Command::new("curl")
                    .args(["-sf", "-H", &format!("Authorization: Bearer {KEY}")])
                    .arg(format!("http://127.0.0.1:{port}/v1/models"))
                    .output()
                    .map(|o| o.status.success())
                    .unwrap_or(false);
                if ok {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the llama.cpp server did not start in 2 minutes"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        // The static is never dropped: the server stops when the binary exits (its stdin).
        Server {
            port,
            _child: guard,
        }
    }
}

/// One runtime for every test: the HTTP kit's client is shared by the process, and its pooled
/// connections belong to the runtime that opened them.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

async fn run(tasks: &str, key: &str, extra_env: &[(&str, String)]) -> Run {
    run_kv(tasks, key, extra_env, None).await
}

/// [`run`] with a KV store kept in `kv` (the memory tests run twice on one store).
async fn run_kv(tasks: &str, key: &str, extra_env: &[(&str, String)], kv: Option<&Path>) -> Run {
    let mut environment = vec![("SECRET_LLM_KEY".to_string(), b64(key))];
    for (k, v) in extra_env {
        environment.push((k.to_string(), v.clone()));
    }
    let yaml = format!("id: ai\nnamespace: company.team\ntasks:\n{tasks}");
    run_flow_opts(
        TASKS,
        &yaml,
        RunOptions {
            environment,
            kv: kv.map(|dir| {
                let store = runner_kv::SqliteKv::open(dir)
                    .expect("a KV store")
                    .with_flow_namespaces(["company.team".to_string()]);
                std::sync::Arc::new(store) as std::sync::Arc<dyn runner_core::kv::KvStore>
            }),
            ..RunOptions::default()
        },
    )
    .await
}

fn provider(port: u16) -> String {
    format!(
        "    provider:\n      type: io.kestra.plugin.ai.provider.OpenAI\n      modelName: gemma-3-270m\n      baseUrl: http://127.0.0.1:{port}/v1\n      apiKey: \"{{{{ secret('LLM_KEY') }}}}\"\n"
    )
}

/// No byte the run wrote (logs, record, files) holds the key.
fn assert_key_nowhere(r: &Run) {
    assert!(!r.logs.contains(KEY), "the key is in the logs");
    assert!(
        !r.record.to_string().contains(KEY),
        "the key is in the record"
    );
    let mut stack = vec![r.storage.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                assert!(
                    !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
                    "{} holds the key",
                    p.display()
                );
            }
        }
    }
}

fn metric(r: &Run, name: &str) -> Option<f64> {
    r.record["metrics"]
        .as_array()?
        .iter()
        .find(|m| m["name"] == name)
        .and_then(|m| m["value"].as_f64())
}

#[test]
fn a_chat_completion_and_an_agent_answer_with_their_token_counts() {
    runtime().block_on(a_chat_completion_and_an_agent_answer_with_their_token_counts_run());
}

async fn a_chat_completion_and_an_agent_answer_with_their_token_counts_run() {
    let port = server().port;
    let p = provider(port);
    let r = run(
        &format!(
            "  - id: chat\n    type: io.kestra.plugin.ai.completion.ChatCompletion\n{p}    configuration:\n      maxToken: 24\n      seed: 7\n      temperature: 0\n    messages:\n      - type: SYSTEM\n        content: You are a helpful assistant.\n      - type: USER\n        content: Say hello.\n  - id: agent\n    type: io.kestra.plugin.ai.agent.AIAgent\n{p}    configuration:\n      maxToken: 24\n    systemMessage: Answer briefly.\n    prompt: Name a colour.\n"
        ),
        KEY,
        &[],
    )
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    for task in ["chat", "agent"] {
        let out = r.outputs(task);
        let text = out["textOutput"].as_str().unwrap_or_default();
        assert!(!text.trim().is_empty(), "{task}: {out}");
        let usage = &out["tokenUsage"];
        assert!(
            usage["inputTokenCount"].as_i64().unwrap() > 5,
            "{task}: {usage}"
        );
        let output_tokens = usage["outputTokenCount"].as_i64().unwrap();
        assert!(
            (1..=24).contains(&output_tokens),
            "{task}: maxToken bounds the answer: {usage}"
        );
        assert_eq!(
            usage["totalTokenCount"].as_i64().unwrap(),
            usage["inputTokenCount"].as_i64().unwrap() + output_tokens
        );
        assert!(
            ["STOP", "LENGTH"].contains(&out["finishReason"].as_str().unwrap()),
            "{out}"
        );
        // No tool was asked for: no intermediate response (the final one is the output).
        assert_eq!(out["intermediateResponses"], json!([]));
        assert_eq!(out["toolExecutions"], json!([]));
    }
    assert_eq!(
        r.outputs("chat")["aiResponse"],
        r.outputs("chat")["textOutput"]
    );
    assert_eq!(metric(&r, "ai.provider.calls"), Some(1.0));
    assert!(metric(&r, "total.token.count").unwrap() > 5.0);
    assert_key_nowhere(&r);
}

#[test]
fn json_extraction_follows_the_schema_and_classification_answers() {
    runtime().block_on(json_extraction_follows_the_schema_and_classification_answers_run());
}

async fn json_extraction_follows_the_schema_and_classification_answers_run() {
    let port = server().port;
    let p = provider(port);
    let r = run(
        &format!(
            "  - id: extract\n    type: io.kestra.plugin.ai.completion.JSONStructuredExtraction\n{p}    configuration:\n      maxToken: 64\n      temperature: 0\n    prompt: Hello, my name is John and I live in Paris.\n    schemaName: Person\n    jsonFields:\n      - name\n      - city\n  - id: classify\n    type: io.kestra.plugin.ai.completion.Classification\n{p}    configuration:\n      maxToken: 8\n      temperature: 0\n    prompt: I love this product, it works great!\n    classes:\n      - positive\n      - negative\n"
        ),
        KEY,
        &[],
    )
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let out = r.outputs("extract");
    assert_eq!(out["schemaName"], "Person");
    let extracted: Json = serde_json::from_str(out["extractedJson"].as_str().unwrap()).unwrap();
    let fields = extracted.as_object().unwrap();
    assert!(
        fields["name"].is_string() && fields["city"].is_string(),
        "{extracted}"
    );
    assert!(
        !r.outputs("classify")["classification"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    assert_key_nowhere(&r);
}

#[test]
fn the_legacy_openai_task_returns_choices_and_a_forced_function_call() {
    runtime().block_on(the_legacy_openai_task_returns_choices_and_a_forced_function_call_run());
}

async fn the_legacy_openai_task_returns_choices_and_a_forced_function_call_run() {
    let port = server().port;
    let url = format!("http://127.0.0.1:{port}/v1");
    let r = run(
        "  - id: ask\n    type: io.kestra.plugin.openai.ChatCompletion\n    apiKey: \"{{ secret('LLM_KEY') }}\"\n    model: gemma-3-270m\n    maxTokens: 16\n    prompt: Say hi.\n  - id: weather\n    type: io.kestra.plugin.openai.ChatCompletion\n    apiKey: \"{{ secret('LLM_KEY') }}\"\n    model: gemma-3-270m\n    maxTokens: 64\n    prompt: What is the weather in Oslo?\n    functions:\n      - name: get_weather\n        description: The weather in a city.\n        parameters:\n          - name: city\n            type: string\n            description: The city.\n            required: true\n    functionCall: get_weather\n",
        KEY,
        &[("RUNNER_OPENAI_URL", url)],
    )
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let ask = r.outputs("ask");
    assert!(ask["choices"][0]["message"]["content"].is_string(), "{ask}");
    assert!(ask["usage"]["total_tokens"].as_i64().unwrap() > 0, "{ask}");
    let call = &r.outputs("weather")["choices"][0]["message"]["tool_calls"][0]["function"];
    assert_eq!(call["name"], "get_weather", "{call}");
    let args: Json = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
    assert!(args["city"].is_string(), "{args}");
    assert!(metric(&r, "usage.total.tokens").unwrap() > 0.0);
    assert_key_nowhere(&r);
}

#[test]
fn a_wrong_key_and_no_server_fail_with_what_to_check_and_no_key() {
    runtime().block_on(a_wrong_key_and_no_server_fail_with_what_to_check_and_no_key_run());
}

async fn a_wrong_key_and_no_server_fail_with_what_to_check_and_no_key_run() {
    let port = server().port;
    let wrong = "sk-wrong-key-8e1d77c2";
    let r = run(
        &format!(
            "  - id: chat\n    type: io.kestra.plugin.ai.completion.ChatCompletion\n{}    messages:\n      - type: USER\n        content: hi\n",
            provider(port)
        ),
        wrong,
        &[],
    )
    .await;
    assert_eq!(r.state.as_str(), "FAILED", "{}", r.logs);
    assert!(
        r.logs.contains("the OpenAI provider answered 401"),
        "{}",
        r.logs
    );
    assert!(
        r.logs.contains("check the provider's API key (`apiKey`)"),
        "{}",
        r.logs
    );
    assert!(!r.logs.contains(wrong) && !r.record.to_string().contains(wrong));

    let closed = free_port();
    let r = run(
        &format!(
            "  - id: chat\n    type: io.kestra.plugin.ai.completion.ChatCompletion\n{}    messages:\n      - type: USER\n        content: hi\n",
            provider(closed)
        ),
        KEY,
        &[],
    )
    .await;
    assert_eq!(r.state.as_str(), "FAILED", "{}", r.logs);
    assert!(
        r.logs.contains(&format!(
            "cannot call the OpenAI provider at http://127.0.0.1:{closed}/v1/chat/completions"
        )),
        "{}",
        r.logs
    );
    assert_key_nowhere(&r);

    // Link-local addresses (cloud metadata) are refused before any connection.
    let r = run(
        "  - id: chat\n    type: io.kestra.plugin.ai.completion.ChatCompletion\n    provider:\n      type: io.kestra.plugin.ai.provider.OpenAI\n      modelName: m\n      apiKey: k\n      baseUrl: http://169.254.169.254/v1\n    messages:\n      - type: USER\n        content: hi\n",
        KEY,
        &[],
    )
    .await;
    assert_eq!(r.state.as_str(), "FAILED", "{}", r.logs);
    assert!(r.logs.contains("169.254.169.254"), "{}", r.logs);
}

#[test]
fn what_runner_cannot_do_yet_is_refused_while_validating() {
    let registry = runner_core::Registry::new(TASKS);
    let provider = |kind: &str| {
        format!(
            "    provider:\n      type: io.kestra.plugin.ai.provider.{kind}\n      modelName: m\n      apiKey: k\n"
        )
    };
    for (task, said) in [
        (
            format!("  - id: t\n    type: io.kestra.plugin.ai.agent.AIAgent\n{}    prompt: p\n    tools:\n      - type: io.kestra.plugin.ai.tool.DockerMcpClient\n        image: mcp/time\n", provider("OpenAI")),
            "the tool `io.kestra.plugin.ai.tool.DockerMcpClient` is not supported by runner yet",
        ),
        (
            format!("  - id: t\n    type: io.kestra.plugin.ai.agent.AIAgent\n{}    prompt: p\n    tools:\n      - type: io.kestra.plugin.ai.tool.KestraFlow\n        namespace: company.team\n", provider("OpenAI")),
            "tools[0]: Flow ID must be specified when you set the namespace",
        ),
        (
            format!("  - id: t\n    type: io.kestra.plugin.ai.completion.ChatCompletion\n{}    messages:\n      - type: USER\n        content: hi\n", provider("Anthropic")),
            "the Anthropic provider is not supported by runner yet",
        ),
        (
            format!("  - id: t\n    type: io.kestra.plugin.ai.completion.Classification\n{}    classes: [a]\n", provider("OpenAI")),
            "Classification requires one input source: `prompt` or `contentBlocks`.",
        ),
        (
            "  - id: t\n    type: io.kestra.plugin.openai.ChatCompletion\n    apiKey: k\n    model: m\n".to_string(),
            "Either `messages` or `prompt` must be set",
        ),
    ] {
        let yaml = format!("id: f\nnamespace: n\ntasks:\n{task}");
        let doc = runner_model::load_str(&yaml).unwrap().remove(0);
        let v = runner_core::validate(&doc, &registry, &runner_template::Renderer::new());
        let problems: Vec<String> = v.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.problem.to_string()).collect();
        assert!(problems.iter().any(|p| p.contains(said)), "{said}: {problems:?}");
    }
}

/// The model's requests as `logRequests` logged them, for one task.
fn requests(r: &Run, task: &str) -> Vec<Json> {
    let marker = format!("[{task}] OpenAI request: ");
    r.logs
        .lines()
        .filter_map(|l| {
            l.split_once(&marker)
                .map(|(_, j)| serde_json::from_str(j).unwrap())
        })
        .collect()
}

#[test]
fn an_agent_with_memory_sends_the_earlier_turns_and_keeps_a_window() {
    runtime().block_on(async {
        let port = server().port;
        let kv = std::env::temp_dir().join(format!("runner-ai-kv-{}", std::process::id()));
        let agent = |id: &str, prompt: &str| {
            format!(
                "  - id: {id}\n    type: io.kestra.plugin.ai.agent.AIAgent\n{}    configuration:\n      maxToken: 12\n      logRequests: true\n    memory:\n      type: io.kestra.plugin.ai.memory.KestraKVStore\n      memoryId: conversation-1\n      messages: 4\n    prompt: {prompt}\n",
                provider(port)
            )
        };
        let tasks = format!("{}{}", agent("first", "My name is Ada."), agent("second", "What is my name?"));
        let r = run_kv(&tasks, KEY, &[], Some(&kv)).await;
        assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
        let second = &requests(&r, "second")[0]["messages"];
        assert_eq!(second[0], json!({"role": "user", "content": "My name is Ada."}), "{second}");
        assert_eq!(second[1]["role"], "assistant");
        assert_eq!(second[1]["content"], r.outputs("first")["textOutput"]);
        assert_eq!(second[2], json!({"role": "user", "content": "What is my name?"}));

        // A second execution reads the same memory; the window keeps the latest 4 messages.
        let r = run_kv(&agent("third", "And my city?"), KEY, &[], Some(&kv)).await;
        assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
        let third = &requests(&r, "third")[0]["messages"];
        assert_eq!(third.as_array().unwrap().len(), 5, "{third}");
        assert_eq!(third[0]["content"], "My name is Ada.");
        assert_eq!(third[2]["content"], "What is my name?");
        let _ = std::fs::remove_dir_all(&kv);
    });
}

/// A Tavily search API built from its published reference (POST /search with a bearer key,
/// `query` and `max_results`; `results` of `title`, `url`, `content`): Tavily is a hosted
/// service that cannot run here. It records the queries it was asked.
async fn tavily(key: &'static str) -> (String, std::sync::Arc<std::sync::Mutex<Vec<Json>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = asked.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head, body) = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        if body.len() >= len {
                            break (head.to_string(), body[..len].to_string());
                        }
                    }
                };
                let authorized = head
                    .lines()
                    .any(|l| l.eq_ignore_ascii_case(&format!("authorization: Bearer {key}")));
                let (status, answer) = if !head.starts_with("POST /search ") {
                    ("404 Not Found", json!({"detail": {"error": "Not found"}}))
                } else if !authorized {
                    (
                        "401 Unauthorized",
                        json!({"detail": {"error": "Unauthorized: missing or invalid API key."}}),
                    )
                } else {
                    let asked: Json = serde_json::from_str(&body).unwrap();
                    seen.lock().unwrap().push(asked.clone());
                    (
                        "200 OK",
                        json!({
                            "query": asked["query"],
                            "results": [{
                                "title": "Kestra",
                                "url": "https://kestra.io",
                                "content": "Kestra is an open-source orchestration platform written in Java.",
                                "score": 0.9
                            }],
                            "response_time": 0.1
                        }),
                    )
                };
                let body = answer.to_string();
                let reply = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    (url, asked)
}

#[test]
fn an_agent_with_web_search_puts_the_results_in_the_prompt() {
    runtime().block_on(async {
        let port = server().port;
        const TAVILY: &str = "tvly-test-31b7c0";
        let (url, asked) = tavily(TAVILY).await;
        let tasks = format!(
            "  - id: agent\n    type: io.kestra.plugin.ai.agent.AIAgent\n{}    configuration:\n      maxToken: 12\n      logRequests: true\n    contentRetrievers:\n      - type: io.kestra.plugin.ai.retriever.TavilyWebSearch\n        apiKey: \"{{{{ secret('TAVILY_KEY') }}}}\"\n        maxResults: 2\n    prompt: What is Kestra?\n",
            provider(port)
        );
        let env = [("SECRET_TAVILY_KEY", b64(TAVILY)), ("RUNNER_TAVILY_URL", url.clone())];
        let r = run(&tasks, KEY, &env).await;
        assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
        assert_eq!(*asked.lock().unwrap(), vec![json!({"query": "What is Kestra?", "max_results": 2})]);
        let sent = requests(&r, "agent")[0]["messages"][0]["content"].as_str().unwrap().to_string();
        assert!(sent.starts_with("What is Kestra?\n\nAnswer using the following information:\nKestra\nhttps://kestra.io\nKestra is an open-source"), "{sent}");
        assert!(!r.logs.contains(TAVILY) && !r.record.to_string().contains(TAVILY));

        let env = [("SECRET_TAVILY_KEY", b64("tvly-wrong")), ("RUNNER_TAVILY_URL", url)];
        let r = run(&tasks, KEY, &env).await;
        assert_eq!(r.state.as_str(), "FAILED", "{}", r.logs);
        assert!(r.logs.contains("Tavily answered 401"), "{}", r.logs);
        assert!(r.logs.contains("check `contentRetrievers[0].apiKey`"), "{}", r.logs);
    });
}

#[test]
fn documents_ingested_are_found_by_search_and_answer_with_their_sources() {
    runtime().block_on(async {
        let chat = server().port;
        let embed = embedder().port;
        let kv = std::env::temp_dir().join(format!("runner-ai-rag-{}", std::process::id()));
        let embedding = provider(embed);
        let docs = [
            "Kestra is an orchestration platform whose flows are written in YAML.",
            "The Eiffel Tower is a wrought-iron lattice tower in Paris.",
            "Photosynthesis turns light, water and carbon dioxide into sugar.",
        ];
        // bulkSize 1: llama-cpp-python embeds a batch of texts differently from each text
        // alone, so the query's vector would not be its document's.
        let tasks = format!(
            "  - id: ingest\n    type: io.kestra.plugin.ai.rag.IngestDocument\n{embedding}    embeddings:\n      type: io.kestra.plugin.ai.embeddings.KestraKVStore\n    drop: true\n    bulkSize: 1\n    documentSplitter:\n      maxSegmentSizeInChars: 200\n      maxOverlapSizeInChars: 20\n    fromDocuments:\n{}  - id: search\n    type: io.kestra.plugin.ai.rag.Search\n{embedding}    embeddings:\n      type: io.kestra.plugin.ai.embeddings.KestraKVStore\n    query: \"{}\"\n    maxResults: 2\n    minScore: 0.0\n    fetchType: FETCH\n  - id: ask\n    type: io.kestra.plugin.ai.rag.ChatCompletion\n{}{}    embeddings:\n      type: io.kestra.plugin.ai.embeddings.KestraKVStore\n    contentRetrieverConfiguration:\n      maxResults: 1\n    chatConfiguration:\n      maxToken: 12\n      logRequests: true\n    prompt: \"{}\"\n",
            docs.iter().map(|d| format!("      - content: \"{d}\"\n")).collect::<String>(),
            docs[1],
            provider(chat).replace("    provider:", "    chatProvider:"),
            embedding.replace("    provider:", "    embeddingProvider:"),
            docs[2],
        );
        let r = run_kv(&tasks, KEY, &[], Some(&kv)).await;
        assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
        let ingest = r.outputs("ingest");
        assert_eq!(ingest["ingestedDocuments"], 3);
        assert_eq!(ingest["embeddingStoreOutputs"], json!({"kvName": "ai-embedding-store"}));
        // The same text embeds to the same vector: the document itself comes first.
        let results = &r.outputs("search")["results"];
        assert_eq!(results.as_array().unwrap().len(), 2, "{results}");
        assert_eq!(results[0], docs[1]);
        let ask = r.outputs("ask");
        assert_eq!(ask["sources"][0]["content"], docs[2], "{ask}");
        assert!(ask["textOutput"].is_string() && ask["completion"] == ask["textOutput"]);
        let sent = requests(&r, "ask")[0]["messages"][0]["content"].as_str().unwrap().to_string();
        assert_eq!(sent, format!("{}\n\nAnswer using the following information:\n{}", docs[2], docs[2]));
        assert_key_nowhere(&r);
        let _ = std::fs::remove_dir_all(&kv);
    });
}

/// A tool call as OpenAI's chat completions API answers it.
fn tool_call_reply(id: &str, name: &str, arguments: &str) -> Json {
    json!({"id": format!("chatcmpl-{id}"), "object": "chat.completion", "choices": [{"index": 0,
        "message": {"role": "assistant", "content": null, "tool_calls": [{"id": id, "type": "function",
            "function": {"name": name, "arguments": arguments}}]},
        "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
}

/// The model's part in these tests is scripted: a 270M model calls a tool, but does not
/// reliably stop calling it. The script follows OpenAI's published chat completions API.
#[test]
fn an_agent_runs_each_tool_call_and_answers_with_what_it_gave() {
    runtime().block_on(async {
        const GOOGLE: &str = "AIza-test-8d1e";
        let answer = json!({"id": "chatcmpl-2", "object": "chat.completion", "choices": [{"index": 0,
            "message": {"role": "assistant", "content": "Kestra orchestrates workflows."}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 30, "completion_tokens": 6, "total_tokens": 36}});
        let server = runner_testkit::scripted::ScriptedServer::start(vec![
            ("POST", "/v1/chat/completions", vec![tool_call_reply("call_a", "searchWeb", "{\"query\": \"kestra orchestrator\"}"), answer]),
            ("GET", "/customsearch/v1", vec![json!({"items": [{"title": "Kestra", "link": "https://kestra.io", "snippet": "Open-source orchestration"}]})]),
        ]);
        let tasks = format!(
            "  - id: agent\n    type: io.kestra.plugin.ai.agent.AIAgent\n    provider:\n      type: io.kestra.plugin.ai.provider.OpenAI\n      modelName: gpt-4o-mini\n      baseUrl: {}/v1\n      apiKey: \"{{{{ secret('LLM_KEY') }}}}\"\n    prompt: What is Kestra?\n    tools:\n      - type: io.kestra.plugin.ai.tool.GoogleCustomWebSearch\n        apiKey: \"{{{{ secret('GOOGLE_KEY') }}}}\"\n        csi: engine-1\n",
            server.url()
        );
        let env = [("SECRET_GOOGLE_KEY", b64(GOOGLE)), ("RUNNER_GOOGLE_SEARCH_URL", server.url())];
        let r = run(&tasks, KEY, &env).await;
        assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
        let out = r.outputs("agent");
        assert_eq!(out["textOutput"], "Kestra orchestrates workflows.");
        let done = &out["toolExecutions"][0];
        assert_eq!((done["requestId"].as_str(), done["requestName"].as_str()), (Some("call_a"), Some("searchWeb")));
        assert_eq!(done["requestArguments"], json!({"query": "kestra orchestrator"}));
        assert!(done["result"].as_str().unwrap().contains("https://kestra.io\nOpen-source orchestration"), "{done}");
        assert_eq!(out["tokenUsage"]["totalTokenCount"], 51);
        // The answers that asked for tools, as langchain4j keeps them (the final one is not).
        assert_eq!(out["intermediateResponses"].as_array().unwrap().len(), 1);
        let request = &out["intermediateResponses"][0]["toolExecutionRequests"][0];
        assert_eq!(request["name"], "searchWeb");
        assert_eq!(request["arguments"], json!({"query": "kestra orchestrator"}));
        assert_eq!(out["finishReason"], "STOP");
        assert_eq!(metric(&r, "ai.agent.tool.calls"), Some(1.0));
        let got = server.received();
        let search = got.iter().find(|q| q.method == "GET").expect("the search API was asked");
        assert!(search.target.contains("cx=engine-1") && search.target.contains("q=kestra+orchestrator"), "{}", search.target);
        let chats: Vec<_> = got.iter().filter(|q| q.method == "POST").collect();
        assert_eq!(chats.len(), 2);
        assert_eq!(chats[0].body["tools"][0]["function"]["name"], "searchWeb");
        let messages = chats[1].body["messages"].as_array().unwrap();
        let n = messages.len();
        assert_eq!(messages[n - 2]["tool_calls"][0]["id"], "call_a", "{messages:?}");
        assert_eq!(messages[n - 1]["role"], "tool");
        assert_eq!(messages[n - 1]["tool_call_id"], "call_a");
        assert!(messages[n - 1]["content"].as_str().unwrap().contains("Open-source orchestration"));
        assert!(!r.logs.contains(GOOGLE) && !r.record.to_string().contains(GOOGLE));
        assert_key_nowhere(&r);

        // A model that never stops calling: bounded, and said.
        let loops = runner_testkit::scripted::ScriptedServer::start(vec![
            ("POST", "/v1/chat/completions", vec![tool_call_reply("call_x", "searchWeb", "{\"query\": \"again\"}")]),
            ("GET", "/customsearch/v1", vec![json!({"items": []})]),
        ]);
        let tasks = tasks.replace(&server.url(), &loops.url()).replace("    prompt:", "    maxSequentialToolsInvocations: 3\n    prompt:");
        let env = [("SECRET_GOOGLE_KEY", b64(GOOGLE)), ("RUNNER_GOOGLE_SEARCH_URL", loops.url())];
        let r = run(&tasks, KEY, &env).await;
        assert_eq!(r.state.as_str(), "FAILED", "{}", r.logs);
        assert!(r.logs.contains("the model asked for tools more than 3 times in a row (maxSequentialToolsInvocations); the last was `searchWeb`"), "{}", r.logs);
        // The calls made are counted, the failure notwithstanding.
        assert_eq!(metric(&r, "ai.provider.calls"), Some(4.0));
        assert_eq!(loops.received().iter().filter(|q| q.method == "GET").count(), 3);
    });
}

/// The real model with a real MCP server: `mcp-server-time` from PyPI (in the formats venv),
/// started over stdio. The model calls its tool and the server's answer goes back to it.
#[test]
fn an_agent_calls_a_real_mcp_servers_tool() {
    runtime().block_on(async {
        let port = server().port;
        let mcp = runner_testkit::formats_venv().join("bin/mcp-server-time");
        assert!(mcp.is_file(), "{} is missing", mcp.display());
        let tasks = format!(
            "  - id: agent\n    type: io.kestra.plugin.ai.agent.AIAgent\n{}    configuration:\n      maxToken: 48\n      temperature: 0\n      seed: 7\n      logRequests: true\n    systemMessage: You answer questions by calling the tools you are given.\n    prompt: What time is it in Oslo? Call the get_current_time tool.\n    maxSequentialToolsInvocations: 2\n    tools:\n      - type: io.kestra.plugin.ai.tool.StdioMcpClient\n        command: [\"{}\", \"--local-timezone\", \"UTC\"]\n",
            provider(port),
            mcp.display()
        );
        let r = run(&tasks, KEY, &[]).await;
        // The model was given the server's tools...
        let sent = requests(&r, "agent");
        assert!(!sent.is_empty(), "{}", r.logs);
        let tools: Vec<&str> = sent[0]["tools"].as_array().unwrap().iter().filter_map(|t| t["function"]["name"].as_str()).collect();
        assert!(tools.contains(&"get_current_time") && tools.contains(&"convert_time"), "{tools:?}");
        // ...called one, and what the server answered went back to it.
        assert!(sent.len() >= 2, "the model called no tool: {}", r.logs);
        let answered = sent[1]["messages"].as_array().unwrap().iter().find(|m| m["role"] == "tool").expect("a tool result");
        let result: Json = serde_json::from_str(answered["content"].as_str().unwrap()).unwrap();
        assert!(result["datetime"].is_string() && result["timezone"].is_string(), "{result}");
        // A model this small calls again rather than answer: bounded at 2 calls, and said.
        match r.state.as_str() {
            "SUCCESS" => assert!(r.outputs("agent")["toolExecutions"][0]["result"].as_str().unwrap().contains("datetime")),
            _ => assert!(r.logs.contains("the model asked for tools more than 2 times in a row"), "{}", r.logs),
        }
        assert!(metric(&r, "ai.agent.tool.calls").is_some_and(|n| n >= 1.0) || r.state.as_str() == "FAILED");
        assert_key_nowhere(&r);
        // The server is gone with the task: no process of it is left.
        assert!(runner_testkit::mock::processes_with("mcp-server-time").is_empty());
    });
}

/// Several calls in one answer are one round (langchain4j counts rounds): each runs, in order,
/// and each result goes back under its call's id.
#[test]
fn the_calls_of_one_answer_are_one_round() {
    runtime().block_on(async {
        let two = json!({"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0,
            "message": {"role": "assistant", "content": "", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "searchWeb", "arguments": "{\"query\": \"first\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "searchWeb", "arguments": "{\"query\": \"second\"}"}}]},
            "finish_reason": "tool_calls"}], "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}});
        let done = json!({"id": "chatcmpl-2", "object": "chat.completion", "choices": [{"index": 0,
            "message": {"role": "assistant", "content": "Both found."}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}});
        let server = runner_testkit::scripted::ScriptedServer::start(vec![
            ("POST", "/v1/chat/completions", vec![two, done]),
            ("POST", "/search", vec![
                json!({"results": [{"title": "One", "url": "https://one.example", "content": "first result"}]}),
                json!({"results": [{"title": "Two", "url": "https://two.example", "content": "second result"}]}),
            ]),
        ]);
        let tasks = format!(
            "  - id: agent\n    type: io.kestra.plugin.ai.agent.AIAgent\n    provider:\n      type: io.kestra.plugin.ai.provider.OpenAI\n      modelName: gpt-4o-mini\n      baseUrl: {}/v1\n      apiKey: \"{{{{ secret('LLM_KEY') }}}}\"\n    prompt: Find both.\n    maxSequentialToolsInvocations: 1\n    tools:\n      - type: io.kestra.plugin.langchain4j.tool.TavilyWebSearch\n        apiKey: tvly-key-77\n",
            server.url()
        );
        let r = run(&tasks, KEY, &[("RUNNER_TAVILY_URL", server.url())]).await;
        assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
        let out = r.outputs("agent");
        let names: Vec<&str> = out["toolExecutions"].as_array().unwrap().iter().map(|e| e["requestId"].as_str().unwrap()).collect();
        assert_eq!(names, ["call_1", "call_2"]);
        assert!(out["toolExecutions"][1]["result"].as_str().unwrap().contains("second result"));
        let searched: Vec<Json> = server.received().iter().filter(|q| q.target == "/search").map(|q| q.body["query"].clone()).collect();
        assert_eq!(searched, [json!("first"), json!("second")]);
        let last = server.received().into_iter().rfind(|q| q.target == "/v1/chat/completions").unwrap();
        let tools: Vec<(&str, &str)> = last.body["messages"].as_array().unwrap().iter()
            .filter(|m| m["role"] == "tool")
            .map(|m| (m["tool_call_id"].as_str().unwrap(), m["content"].as_str().unwrap()))
            .collect();
        assert_eq!(tools.len(), 2);
        assert_eq!(tools[0].0, "call_1");
        assert!(tools[0].1.contains("first result") && tools[1].1.contains("second result"));
        let calls: f64 = r.record["metrics"].as_array().unwrap().iter().filter(|m| m["name"] == "ai.agent.tool.calls").filter_map(|m| m["value"].as_f64()).sum();
        assert_eq!(calls, 2.0);
    });
}
