//! `runner run FLOW --server URL`: the flow runs on a Kestra server instead of here. The flow
//! file is checked first (and sent with `--deploy`), the inputs go as Kestra's form (FILE
//! inputs streamed from disk), the execution's logs are printed as the server writes them, and
//! the run ends with the same summary and exit code as a local one. Ctrl-C asks the server to
//! kill the execution.

use crate::cli::{LogFormatArg, LogLevelArg, RunArgs};
use crate::diagnostics::Style;
use crate::files;
use crate::server::{Remote, connect, runtime, show_refusal};
use crate::summary::RunSummary;
use crate::{exit, report};
use runner_core::{State, TaskRunSummary};
use runner_kestra::{ApiError, InputValue, is_terminal};
use runner_template::Renderer;
use serde_json::Value as Json;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The flow to run: its name, its YAML (parsed, for its inputs' types and its Pauses), and
/// the local file when there is one.
struct Target {
    namespace: String,
    id: String,
    flow: Json,
    local: Option<Local>,
}

struct Local {
    file: files::FlowFile,
    source: String,
}

pub(crate) fn run(mut args: RunArgs) -> u8 {
    let local_only = [
        (args.watch, "--watch"),
        (args.trigger.is_some(), "--trigger"),
        (args.trigger_vars.is_some(), "--trigger-vars"),
        (args.storage.is_some(), "--storage"),
        (args.state.is_some(), "--state"),
        (args.cache_dir.is_some(), "--cache-dir"),
        (!args.namespace_files.is_empty(), "--namespace-files"),
        (args.execution_id.is_some(), "--execution-id"),
    ];
    if let Some((_, name)) = local_only.iter().find(|(given, _)| *given) {
        return report(
            format!(
                "{name} is for local runs; with --server the server keeps executions, files and state (deploy namespace files with `runner deploy`)"
            ),
            exit::INVALID,
        );
    }
    let server = args.server.take().expect("called with --server");
    let remote = match connect(&server, &args.tenant, &args.env) {
        Ok(r) => r,
        Err(e) => return report(e, exit::INVALID),
    };
    let runtime = match runtime() {
        Ok(r) => r,
        Err(e) => return report(e, exit::FAILED),
    };
    runtime.block_on(run_there(&remote, args))
}

/// The local flow file (`FLOW`, or `--flow-id` in the flows folder with `--deploy`), checked
/// as `runner run` checks it.
fn local_flow(args: &RunArgs) -> Result<Option<Target>, u8> {
    let path = match (&args.flow, &args.flow_id) {
        (Some(p), _) => p.clone(),
        (None, Some(id)) if args.deploy => {
            let roots = if args.flows.is_empty() {
                vec![std::path::PathBuf::from(".")]
            } else {
                args.flows.clone()
            };
            crate::flows::FlowFolder::new(roots)
                .locate(id)
                .map_err(|e| report(e, exit::INVALID))?
        }
        _ => return Ok(None),
    };
    let style = Style::stderr();
    let registry = crate::registry();
    let (file, mut results) = files::load(
        &path,
        &registry,
        &Renderer::new(),
        &style,
        files::Gate::default(),
    )
    .ok_or(exit::INVALID)?;
    if results.len() != 1 {
        return Err(report(
            format!(
                "Too many flow found, need 1, found {} in `{}`",
                results.len(),
                path.display()
            ),
            exit::INVALID,
        ));
    }
    let Some(plan) = results.remove(0).1 else {
        return Err(exit::INVALID);
    };
    let doc = file
        .docs
        .as_ref()
        .ok()
        .and_then(|d| d.first())
        .map(|d| d.to_json())
        .unwrap_or(Json::Null);
    let source = file.text.text().to_string();
    Ok(Some(Target {
        namespace: plan.flow.namespace.clone(),
        id: plan.flow.id.clone(),
        flow: doc,
        local: Some(Local { file, source }),
    }))
}

async fn run_there(remote: &Remote, args: RunArgs) -> u8 {
    // Listened for from here, so a Ctrl-C as soon as the execution exists is not lost.
    let mut interrupts = match crate::signals::Interrupts::install() {
        Ok(i) => i,
        Err(e) => return report(format!("cannot listen for Ctrl-C: {e}"), exit::FAILED),
    };
    let target = match local_flow(&args) {
        Ok(Some(t)) => t,
        Ok(None) => {
            let Some((namespace, id)) = args.flow_id.as_deref().and_then(|f| f.rsplit_once('.'))
            else {
                return report("give a flow file or --flow-id NAMESPACE.ID", exit::INVALID);
            };
            Target {
                namespace: namespace.to_string(),
                id: id.to_string(),
                flow: Json::Null,
                local: None,
            }
        }
        Err(code) => return code,
    };
    let name = format!("{}.{}", target.namespace, target.id);
    let on_server = match remote.server.flow(&target.namespace, &target.id).await {
        Ok(f) => f,
        Err(e) => return report(remote.explain(&e), exit::FAILED),
    };
    let mut flow = target.flow.clone();
    match (&target.local, on_server, args.deploy) {
        (Some(local), current, true) => {
            let sent = match &current {
                None => remote.server.create_flow(&local.source).await,
                Some(c)
                    if c.source.as_deref().map(str::trim_end) == Some(local.source.trim_end()) =>
                {
                    Ok(c.clone())
                }
                Some(_) => {
                    remote
                        .server
                        .update_flow(&target.namespace, &target.id, &local.source)
                        .await
                }
            };
            match sent {
                Ok(f) => {
                    let what = match &current {
                        None => "created",
                        Some(c) if c.revision == f.revision => "unchanged",
                        Some(_) => "updated",
                    };
                    let revision = f
                        .revision
                        .map(|r| format!(", revision {r}"))
                        .unwrap_or_default();
                    crate::say!(
                        "deployed {name} ({what}{revision}) to {}",
                        remote.server.address()
                    );
                }
                Err(e @ ApiError::Refused { .. }) => {
                    let doc = local.file.docs.as_ref().ok().and_then(|d| d.first());
                    show_refusal(remote, &e, doc, &local.file.path, &local.file.text);
                    return report(
                        format!("{name} was not deployed, so it did not run"),
                        exit::FAILED,
                    );
                }
                Err(e) => return report(remote.explain(&e), exit::FAILED),
            }
        }
        (_, None, _) => {
            let hint = match &target.local {
                Some(l) => format!(": add --deploy to send `{}` first", l.file.path.display()),
                None => ": deploy it first (`runner deploy`, or `runner run FILE --server URL --deploy`)".into(),
            };
            return report(
                format!(
                    "flow {name} is not on the Kestra server at {}{hint}",
                    remote.server.address()
                ),
                exit::INVALID,
            );
        }
        (local, Some(current), _) => {
            if let Some(source) = &current.source {
                if let Some(l) = local
                    && source.trim_end() != l.source.trim_end()
                {
                    crate::say!(
                        "warning: the server's {name} (revision {}) is not what `{}` holds; the server's runs (--deploy sends yours)",
                        current.revision.unwrap_or_default(),
                        l.file.path.display()
                    );
                }
                if flow.is_null() {
                    flow = runner_model::load_str(source)
                        .ok()
                        .and_then(|d| d.into_iter().next())
                        .map(|d| d.to_json())
                        .unwrap_or(Json::Null);
                }
            }
        }
    }
    let inputs = match inputs(&args, &flow) {
        Ok(i) => i,
        Err(e) => return report(e, exit::INVALID),
    };
    let labels = match args
        .labels
        .iter()
        .map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                .ok_or_else(|| format!("`-l {l}` is not of the form key=value"))
        })
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(l) => l,
        Err(e) => return report(e, exit::INVALID),
    };
    let created = match remote
        .server
        .create_execution(&target.namespace, &target.id, &inputs, &labels)
        .await
    {
        Ok(e) => e,
        Err(e @ ApiError::Refused { .. }) => {
            // Kestra refuses inputs (422) and disabled flows (409): nothing ran.
            return report(
                format!("{name} did not start: {}", remote.explain(&e)),
                exit::INVALID,
            );
        }
        Err(e) => return report(remote.explain(&e), exit::FAILED),
    };
    let id = created["id"].as_str().unwrap_or_default().to_string();
    let url = created["url"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| {
            format!(
                "{}/ui/{}/executions/{}/{}/{id}",
                remote.server.address(),
                args.tenant,
                target.namespace,
                target.id
            )
        });
    crate::say!(
        "Execution {id} of {name} created on {}: {url}",
        remote.server.address()
    );
    let printer = Arc::new(Printer::new(&args, remote));
    let logs = tokio::spawn(follow_logs(
        remote.server.clone(),
        id.clone(),
        printer.clone(),
    ));
    let last = follow(remote, &id, &flow, &mut interrupts).await;
    logs.abort();
    let last = match last {
        Ok(e) => e,
        Err(e) => return report(remote.explain(&e), exit::FAILED),
    };
    // What the stream had not shown yet: Kestra's log stream has no end to wait for.
    if let Ok(entries) = remote.server.logs(&id).await {
        for entry in &entries {
            printer.print(entry);
        }
    }
    let summary = summary_of(&last);
    let current = last["state"]["current"].as_str().unwrap_or_default();
    if args.json {
        let text = format!("{}\n", remote.mask(&last.to_string()));
        if let Err(e) = crate::write_stdout(text.as_bytes()) {
            return report(
                format!("cannot write the execution to stdout: {e}"),
                exit::FAILED,
            );
        }
    }
    let mut out = crate::summary::table(&summary);
    let took = crate::summary::human(summary.duration.as_deref());
    if current == "PAUSED" {
        out.push_str(&format!(
            "Execution {id} of {name} is PAUSED on the server: resume or kill it in Kestra's UI, {url}\n"
        ));
    } else {
        out.push_str(&format!(
            "Execution {id} of {name} ended {current} in {took} on the server: {url}\n"
        ));
        out.push_str(&crate::summary::flow_outputs(last.get("outputs")));
    }
    crate::say_raw!("{}", remote.mask(&out));
    match current {
        "SUCCESS" | "WARNING" | "SKIPPED" | "RETRIED" => exit::SUCCESS,
        "PAUSED" => exit::PAUSED,
        _ => exit::FAILED,
    }
}

/// The inputs as Kestra's form: FILE inputs (by the flow's declaration) as files from disk,
/// the others as text (a JSON value as its JSON text).
fn inputs(args: &RunArgs, flow: &Json) -> Result<Vec<(String, InputValue)>, String> {
    let given = crate::vars::given_inputs(args)?;
    let declared = |name: &str| {
        flow["inputs"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|i| i["id"] == name)
            .and_then(|i| i["type"].as_str())
            .map(str::to_string)
    };
    let mut out = Vec::new();
    for (name, value) in given {
        let text = match &value {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        if declared(&name).as_deref() == Some("FILE") {
            let path = std::path::PathBuf::from(&text);
            if !path.is_file() {
                return Err(format!(
                    "input `{name}` is a FILE: `{text}` is not a file here"
                ));
            }
            out.push((name, InputValue::File(path)));
        } else {
            out.push((name, InputValue::Text(text)));
        }
    }
    Ok(out)
}

/// Follows the execution to its end, or to a Pause that waits for a person; Ctrl-C (or
/// SIGTERM, SIGHUP, SIGQUIT) asks the server to kill it, a second one stops following.
async fn follow(
    remote: &Remote,
    id: &str,
    flow: &Json,
    interrupts: &mut crate::signals::Interrupts,
) -> Result<Json, ApiError> {
    let mut asked = 0;
    let mut last = Json::Null;
    let settled = |e: &Json| {
        let state = e["state"]["current"].as_str().unwrap_or_default();
        is_terminal(state) || (state == "PAUSED" && waits_for_a_person(e, flow))
    };
    if let Ok(mut stream) = remote.server.follow_execution(id).await {
        loop {
            tokio::select! {
                event = stream.next() => match event {
                    Ok(Some(event)) if event.id == "start" => {}
                    Ok(Some(event)) => {
                        if let Ok(execution) = serde_json::from_str::<Json>(&event.data) {
                            last = execution;
                        }
                        if event.id == "end" || settled(&last) {
                            return Ok(last);
                        }
                    }
                    // Ended or dropped without its end: ask instead.
                    Ok(None) | Err(_) => break,
                },
                _ = interrupts.next() => {
                    asked += 1;
                    if asked > 1 {
                        return remote.server.execution(id).await;
                    }
                    kill(remote, id).await;
                }
            }
        }
    }
    loop {
        let execution = remote.server.execution(id).await?;
        if settled(&execution) {
            return Ok(execution);
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = interrupts.next() => {
                asked += 1;
                if asked > 1 {
                    return Ok(execution);
                }
                kill(remote, id).await;
            }
        }
    }
}

async fn kill(remote: &Remote, id: &str) {
    match remote.server.kill(id).await {
        Ok(()) => {
            crate::say!("asked the server to kill execution {id} (Ctrl-C again stops waiting)")
        }
        Err(e) => crate::say!("could not kill execution {id}: {}", remote.explain(&e)),
    }
}

/// Whether the paused task run's Pause waits for a person (no `pauseDuration`, `delay` or
/// `duration`): one with a duration goes on by itself, so it is followed on.
fn waits_for_a_person(execution: &Json, flow: &Json) -> bool {
    let paused: Vec<&str> = execution["taskRunList"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["state"]["current"] == "PAUSED")
        .filter_map(|r| r["taskId"].as_str())
        .collect();
    let timed = |task: &&str| {
        find_task(flow, task).is_some_and(|t| {
            ["pauseDuration", "delay", "duration"]
                .iter()
                .any(|k| t.get(*k).is_some())
        })
    };
    paused.is_empty() || !paused.iter().all(timed)
}

fn find_task<'a>(node: &'a Json, id: &str) -> Option<&'a Json> {
    match node {
        Json::Object(map) => {
            if map.get("id").and_then(Json::as_str) == Some(id) && map.contains_key("type") {
                return Some(node);
            }
            map.values().find_map(|v| find_task(v, id))
        }
        Json::Array(items) => items.iter().find_map(|v| find_task(v, id)),
        _ => None,
    }
}

async fn follow_logs(server: Arc<runner_kestra::Server>, id: String, printer: Arc<Printer>) {
    let Ok(mut stream) = server.follow_logs(&id).await else {
        return;
    };
    while let Ok(Some(event)) = stream.next().await {
        if event.id == "start" {
            continue;
        }
        if let Ok(entry) = serde_json::from_str::<Json>(&event.data) {
            printer.print(&entry);
        }
    }
}

/// Prints each log entry once, as local runs print theirs, masked.
struct Printer {
    seen: Mutex<HashSet<String>>,
    json: bool,
    min: u8,
    masker: Arc<runner_secrets::Masker>,
}

fn rank(level: &str) -> u8 {
    match level {
        "ERROR" => 4,
        "WARN" => 3,
        "INFO" => 2,
        "DEBUG" => 1,
        _ => 0,
    }
}

impl Printer {
    fn new(args: &RunArgs, remote: &Remote) -> Printer {
        let min = match args.log_level {
            LogLevelArg::Error => 4,
            LogLevelArg::Warn => 3,
            LogLevelArg::Info => 2,
            LogLevelArg::Debug => 1,
            LogLevelArg::Trace => 0,
        };
        Printer {
            seen: Mutex::default(),
            json: matches!(args.log_format, LogFormatArg::Json),
            min,
            masker: remote.masker.clone(),
        }
    }

    fn print(&self, entry: &Json) {
        let field = |k: &str| entry[k].as_str().unwrap_or_default();
        // Kestra's entries have no id: these fields tell two apart.
        let key = format!(
            "{}|{}|{}|{}",
            field("timestamp"),
            field("taskRunId"),
            field("level"),
            field("message")
        );
        if !self.seen.lock().expect("log lock").insert(key) {
            return;
        }
        if rank(field("level")) < self.min {
            return;
        }
        let line = if self.json {
            format!("{entry}\n")
        } else {
            let task = match field("taskId") {
                "" => String::new(),
                t => format!("[{t}] "),
            };
            format!(
                "{} {:<5} {task}{}\n",
                field("timestamp"),
                field("level"),
                field("message").replace('\n', "\n    ")
            )
        };
        crate::say_raw!("{}", self.masker.mask(&line));
    }
}

/// The server's execution as the summary table reads it.
fn summary_of(execution: &Json) -> RunSummary {
    let runs = execution["taskRunList"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            Some(TaskRunSummary {
                task_id: r["taskId"].as_str()?.to_string(),
                value: r["value"].as_str().map(str::to_string),
                state: State::parse(r["state"]["current"].as_str()?)?,
                duration: r["state"]["duration"].as_str().map(str::to_string),
                child_execution: r["outputs"]["executionId"].as_str().map(str::to_string),
            })
        })
        .collect();
    RunSummary {
        id: execution["id"].as_str().unwrap_or_default().to_string(),
        namespace: execution["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        flow_id: execution["flowId"].as_str().unwrap_or_default().to_string(),
        state: State::parse(execution["state"]["current"].as_str().unwrap_or_default())
            .unwrap_or(State::Running),
        duration: execution["state"]["duration"].as_str().map(str::to_string),
        runs,
        outputs: execution.get("outputs").cloned(),
    }
}
