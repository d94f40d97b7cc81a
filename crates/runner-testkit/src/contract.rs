//! The task contract: what every registered task type must honour, checked the same way for
//! each (as object_store runs one suite on every backend). The binary's tests run it over the
//! whole registry:
//!
//! - [`example_validates`]: the type's example is a valid task, of that type.
//! - [`runs_to_a_clear_end`]: its example, run with no server, no secret and no network, ends
//!   in a final state in bounded time; a failure is logged as an ERROR with a message, never as
//!   an internal error or a panic.
//! - [`cancellation_leaves_nothing`]: killed while it runs, it leaves no file in storage, no
//!   working directory and no process behind.
//! - [`secrets_stay_secret`]: each `#[prop(secret)]` property, given a value written literally
//!   in the flow, never reaches the logs, the record or any file the run made.
//!
//! A run needs what the binary gives every run (a KV store, the flows folder...): the caller
//! passes `setup`, which adds those to each execution's builder.

use runner_core::{ExecutionBuilder, Level, LogFormat, Registry, State, TaskDescriptor};
use serde_json::{Map, Value as Json, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long one example may run before the contract calls it a hang.
const PATIENCE: Duration = Duration::from_secs(30);

/// Adds to an execution what the caller's runs always have (services, stores, folders).
pub type Setup = dyn Fn(ExecutionBuilder) -> ExecutionBuilder + Send + Sync;

/// The example of `d`, as the one task of a flow (a JSON object).
pub fn example_task(d: &TaskDescriptor) -> Result<Map<String, Json>, String> {
    let text = format!("tasks:\n{}\n", indent_as_item(d.example));
    let doc = runner_model::load_str(&text)
        .map_err(|e| format!("example of {}: {e}", d.type_name))?
        .remove(0)
        .to_json();
    match &doc["tasks"][0] {
        Json::Object(task) => Ok(task.clone()),
        other => Err(format!("example of {} is not a task: {other}", d.type_name)),
    }
}

fn indent_as_item(example: &str) -> String {
    example
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("  - {l}")
            } else {
                format!("    {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A flow of one task (JSON is YAML).
fn flow_of(task: &Map<String, Json>) -> String {
    json!({"id": "contract", "namespace": "company.team", "tasks": [task]}).to_string()
}

/// The example is a valid task of its own type.
pub fn example_validates(registry: &Registry, d: &TaskDescriptor) -> Result<(), String> {
    let task = example_task(d)?;
    if task.get("type").and_then(Json::as_str) != Some(d.type_name) {
        return Err(format!("the example of {} shows another type", d.type_name));
    }
    plan_of(registry, &flow_of(&task)).map(|_| ())
}

fn plan_of(registry: &Registry, yaml: &str) -> Result<runner_core::Plan, String> {
    let doc = runner_model::load_str(yaml)
        .map_err(|e| e.to_string())?
        .remove(0);
    let v = runner_core::validate(&doc, registry, &runner_template::Renderer::new());
    let problems: Vec<String> = v
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{} ({})", d.problem, d.path))
        .collect();
    match v.plan {
        Some(plan) if problems.is_empty() => Ok(plan),
        _ => Err(format!("invalid: {problems:?}")),
    }
}

/// What one contract run left: its state, logs, record, and the folders it used (all inside
/// one scratch folder, removed with it).
struct Ran {
    state: State,
    logs: String,
    record: Json,
    storage: PathBuf,
    work_root: PathBuf,
    _scratch: Scratch,
}

/// A run's folder: removed when dropped, whether the run ended or failed to start.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Run to the end.
    Never,
    /// Kill the execution once its task run is RUNNING (at once if it never gets there).
    WhenRunning,
}

async fn run(
    registry: &Arc<Registry>,
    setup: &Setup,
    task: &Map<String, Json>,
    stop: Stop,
) -> Result<Ran, String> {
    let plan = plan_of(registry, &flow_of(task))?;
    let base = std::env::temp_dir().join(format!(
        "runner-contract-{}",
        runner_core::ids::friendly_id()
    ));
    let scratch = Scratch(base.clone());
    let storage = base.join("storage");
    let work_root = base.join("work");
    std::fs::create_dir_all(&work_root).map_err(|e| e.to_string())?;
    let buf = crate::Buf::default();
    let builder = ExecutionBuilder::new(Arc::new(plan))
        .registry(registry.clone())
        .storage(&storage)
        .work_root(&work_root)
        .cache_dir(base.join("cache"))
        .log(Box::new(buf.clone()), LogFormat::Text, Level::Debug);
    let execution = setup(builder)
        .start()
        .await
        .map_err(|e| format!("did not start: {e}"))?;
    let watched = &execution;
    let stopper = async move {
        if stop == Stop::Never {
            return std::future::pending::<String>().await;
        }
        // Waits for the task run to start (a record is cheap to build at this size).
        let started = async {
            loop {
                let record = watched.record();
                if record["taskRunList"][0]["state"]["current"] == "RUNNING" {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), started).await;
        // A little time in, so that the task is doing its work when it is killed.
        tokio::time::sleep(Duration::from_millis(50)).await;
        "Killed by the contract".to_string()
    };
    let state = tokio::time::timeout(PATIENCE, execution.run_until(stopper))
        .await
        .map_err(|_| format!("did not end within {}s", PATIENCE.as_secs()))?;
    let record = execution.record();
    let _ = execution.write_record();
    let logs = String::from_utf8_lossy(&buf.0.lock().expect("log buffer")).into_owned();
    drop(execution);
    Ok(Ran {
        state,
        logs,
        record,
        storage: base.join("storage"),
        work_root: base.join("work"),
        _scratch: scratch,
    })
}

/// The example, run with nothing to talk to, ends in a final state with a clear account of why.
pub async fn runs_to_a_clear_end(
    registry: &Arc<Registry>,
    setup: &Setup,
    d: &TaskDescriptor,
) -> Result<State, String> {
    let ran = run(registry, setup, &example_task(d)?, Stop::Never).await?;
    if !ran.state.is_terminal() {
        return Err(format!("ended in {:?}, not a final state", ran.state));
    }
    for bad in ["bug in runner", "panicked", "internal error"] {
        if ran.logs.contains(bad) {
            return Err(format!("its logs say `{bad}`:\n{}", ran.logs));
        }
    }
    if ran.state == State::Failed {
        let error = ran
            .logs
            .lines()
            .find(|l| l.contains("ERROR") && l.contains("[") && l.trim().len() > 40);
        if error.is_none() {
            return Err(format!(
                "it failed without an ERROR line that says why:\n{}",
                ran.logs
            ));
        }
    }
    Ok(ran.state)
}

/// Killed while it runs, the example leaves no file in storage but the record and the log, no
/// working directory, and no process whose working directory was one of the run's.
pub async fn cancellation_leaves_nothing(
    registry: &Arc<Registry>,
    setup: &Setup,
    d: &TaskDescriptor,
) -> Result<(), String> {
    let ran = run(registry, setup, &example_task(d)?, Stop::WhenRunning).await?;
    let task_state = ran.record["taskRunList"][0]["state"]["current"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // A killed process may take a moment to die and be reaped; one that lives on is a leak.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let mut processes = processes_in(&ran.work_root);
    while !processes.is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        processes = processes_in(&ran.work_root);
    }
    if !processes.is_empty() {
        return Err(format!(
            "processes left in the run's working directories: {processes:?}"
        ));
    }
    let work_left = files_under(&ran.work_root);
    if !work_left.is_empty() || dirs_under(&ran.work_root) > 0 {
        return Err(format!(
            "the working directories were not removed: {work_left:?}"
        ));
    }
    if task_state == "KILLED" {
        let kept: Vec<String> = files_under(&ran.storage)
            .into_iter()
            .filter(|f| {
                !["execution.json", "logs.jsonl"]
                    .iter()
                    .any(|b| f.ends_with(&format!("/{b}")))
            })
            .collect();
        if !kept.is_empty() {
            return Err(format!("a killed task left files in storage: {kept:?}"));
        }
    }
    Ok(())
}

/// Each `#[prop(secret)]` property of `d`, given a distinct value written literally, and the
/// value as the flow sees it; nested credential options get the forms their type documents.
fn secret_values(
    registry: &Registry,
    d: &TaskDescriptor,
    task: &mut Map<String, Json>,
) -> Vec<String> {
    let Some(t) = registry.get(d.type_name) else {
        return Vec::new();
    };
    let mut secrets = Vec::new();
    for (i, p) in t.properties.iter().filter(|p| p.secret).enumerate() {
        let value = format!("Contract{i}Secret{}Zq9", p.name.len());
        let kind = match p.kind {
            runner_core::PropKind::Value(k) => k,
            _ => continue,
        };
        let given = match kind {
            "HTTP options" => {
                let token = format!("{value}Token");
                let proxy = format!("{value}Proxy");
                secrets.extend([token.clone(), proxy.clone()]);
                // Basic auth's password in one run would hide the token; the token goes in a
                // header, the proxy's password to a proxy that is not there.
                json!({
                    "auth": {"type": "BEARER", "token": token},
                    "proxy": {"type": "HTTP", "address": "127.0.0.1", "port": 9, "username": "u", "password": proxy},
                    "timeout": {"connectTimeout": "PT1S"}
                })
            }
            "webhook options" => {
                let proxy = format!("{value}Proxy");
                secrets.push(proxy.clone());
                json!({"proxy": {"type": "HTTP", "address": "127.0.0.1", "port": 9, "username": "u", "password": proxy}, "connectTimeout": "PT1S"})
            }
            k if k.starts_with("string") => {
                secrets.push(value.clone());
                // A URL-shaped secret (a webhook) keeps its shape, so the task gets as far as
                // using it.
                if p.name.eq_ignore_ascii_case("url") {
                    let url = format!("http://127.0.0.1:9/{value}");
                    secrets.pop();
                    secrets.push(url.clone());
                    Json::String(url)
                } else {
                    Json::String(value)
                }
            }
            _ => continue,
        };
        task.insert(p.name.to_string(), given);
    }
    secrets
}

/// The example with `secrets` given: those that leave the task valid (a property the
/// validator refuses, such as one not supported yet, cannot leak at run time).
fn with_valid_secrets(
    registry: &Registry,
    example: &Map<String, Json>,
    given: &Map<String, Json>,
) -> Map<String, Json> {
    let mut task = example.clone();
    for (name, value) in given {
        let mut tried = task.clone();
        tried.insert(name.clone(), value.clone());
        if plan_of(registry, &flow_of(&tried)).is_ok() {
            task = tried;
        }
    }
    task
}

/// Runs the example with a literal value in every secret property; returns how many values
/// were checked. No log line, record field or stored file may hold one, plainly, in base64 or
/// URL-encoded.
pub async fn secrets_stay_secret(
    registry: &Arc<Registry>,
    setup: &Setup,
    d: &TaskDescriptor,
) -> Result<usize, String> {
    let example = example_task(d)?;
    let mut all = Map::new();
    let candidates = secret_values(registry, d, &mut all);
    let task = with_valid_secrets(registry, &example, &all);
    // The values of the properties that stayed.
    let secrets: Vec<String> = candidates
        .into_iter()
        .filter(|s| task.values().any(|v| v.to_string().contains(s.as_str())))
        .collect();
    if secrets.is_empty() {
        return Ok(0);
    }
    let ran = run(registry, setup, &task, Stop::Never).await?;
    let mut places: Vec<(String, Vec<u8>)> = vec![
        ("the logs".into(), ran.logs.clone().into_bytes()),
        ("the record".into(), ran.record.to_string().into_bytes()),
    ];
    for f in files_under(&ran.storage)
        .into_iter()
        .chain(files_under(&ran.work_root))
    {
        if let Ok(bytes) = std::fs::read(&f) {
            places.push((f, bytes));
        }
    }
    for secret in &secrets {
        for form in encoded_forms(secret) {
            for (place, bytes) in &places {
                if contains(bytes, form.as_bytes()) {
                    return Err(format!(
                        "a secret property's value reached {place} (as `{form}`)"
                    ));
                }
            }
        }
    }
    Ok(secrets.len())
}

fn encoded_forms(secret: &str) -> Vec<String> {
    use base64::Engine;
    let mut forms = vec![
        secret.to_string(),
        base64::engine::general_purpose::STANDARD.encode(secret),
    ];
    let url: String = secret
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    forms.push(url);
    forms.dedup();
    forms
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(_) => out.push(p.display().to_string()),
                Err(_) => {}
            }
        }
    }
    out.sort();
    out
}

fn dirs_under(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// Processes whose working directory is inside `root` (Linux's /proc; none elsewhere).
fn processes_in(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if let Ok(cwd) = std::fs::read_link(e.path().join("cwd"))
            && cwd.starts_with(root)
        {
            let cmdline = std::fs::read(e.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
                .unwrap_or_default();
            out.push(format!("{pid}: {}", cmdline.trim()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use runner_core::plugin::*;
    use serde::Deserialize;

    /// Logs its token (masked, being secret) and also writes it to a file in storage, which
    /// nothing masks: the contract must find it there.
    #[derive(Deserialize, Properties)]
    #[serde(deny_unknown_fields)]
    struct Leaky {
        /// A credential.
        #[prop(secret)]
        token: Property<String>,
        /// Write it to a file too.
        #[serde(default)]
        to_file: bool,
    }

    impl RunnableTask for Leaky {
        fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let token = ctx.render(&self.token, "token")?;
                ctx.info(&format!("using {token}"));
                if self.to_file {
                    use tokio::io::AsyncWriteExt;
                    let uri = ctx.output_file_uri("token.txt");
                    let mut f = ctx.storage().create(&uri).await?;
                    f.write_all(token.as_bytes()).await.ok();
                    f.flush().await.ok();
                }
                Ok(Outputs::new())
            })
        }
    }

    const MASKED: TaskDescriptor = TaskDescriptor {
        type_name: "test.Masked",
        aliases: &[],
        doc: "test only",
        example: "id: t\ntype: test.Masked\ntoken: x",
        shape: runnable::<Leaky>(),
    };

    const LEAKY: TaskDescriptor = TaskDescriptor {
        type_name: "test.Leaky",
        aliases: &[],
        doc: "test only",
        example: "id: t\ntype: test.Leaky\ntoken: x\nto_file: true",
        shape: runnable::<Leaky>(),
    };

    #[tokio::test]
    async fn a_secret_written_to_storage_is_found() {
        let registry = Arc::new(Registry::new(&[&[MASKED, LEAKY]]));
        let setup: Box<Setup> = Box::new(|b| b);
        assert_eq!(
            secrets_stay_secret(&registry, &setup, &MASKED).await,
            Ok(1),
            "a logged secret is masked"
        );
        let found = secrets_stay_secret(&registry, &setup, &LEAKY)
            .await
            .unwrap_err();
        assert!(found.contains("token.txt"), "{found}");
    }
}
