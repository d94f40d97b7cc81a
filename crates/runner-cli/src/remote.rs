//! `runner run FLOW --server URL`: the flow runs on a Kestra server instead of here. The flow
//! file is checked first (and sent with `--deploy`), the inputs go as Kestra's form (FILE
//! inputs streamed from disk), the execution's logs are printed as the server writes them, and
//! the run ends with the same summary and exit code as a local one. Ctrl-C asks the server to
//! kill the execution.

use crate::cli::{LogFormatArg, LogLevelArg, RunArgs};
use crate::deploy::{Compared, LocalFlow, compare, local_flows, put};
use crate::files;
use crate::server::{Remote, connect, runtime, show_refusal};
use crate::signals::Interrupts;
use crate::summary::RunSummary;
use crate::{exit, report};
use runner_core::{State, TaskRunSummary};
use runner_kestra::{ApiError, InputValue, is_terminal};
use serde_json::Value as Json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The flow to run: its name, its YAML (parsed, for its inputs' types and its Pauses), and
/// the local flow when there is one.
struct FlowToRun {
    namespace: String,
    id: String,
    flow: Json,
    local: Option<LocalFlow>,
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
/// as `validate` checks it, plugins runner lacks left to the server.
fn local_flow(args: &RunArgs) -> Result<Option<FlowToRun>, u8> {
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
    let gate = files::Gate {
        strict: false,
        allow_unsupported: true,
    };
    let paths = [path.clone()];
    if crate::validate::validate_paths(&paths, None, gate, false) != exit::SUCCESS {
        return Err(exit::INVALID);
    }
    let mut flows = local_flows(&paths).map_err(|e| report(e, exit::INVALID))?;
    if flows.len() != 1 {
        return Err(report(
            format!(
                "`{}` holds {} flows: give a file of one flow (a test suite runs with `runner test`)",
                path.display(),
                flows.len()
            ),
            exit::INVALID,
        ));
    }
    let local = flows.remove(0);
    Ok(Some(FlowToRun {
        namespace: local.namespace.clone(),
        id: local.id.clone(),
        flow: local.doc.to_json(),
        local: Some(local),
    }))
}

/// Everything before the execution exists: the server checked, the flow found (or sent),
/// the inputs and labels read. `Err` is the exit code, the reason said.
async fn prepare(
    remote: &Remote,
    args: &RunArgs,
) -> Result<(FlowToRun, Vec<(String, InputValue)>, Vec<(String, String)>), u8> {
    let mut target = match local_flow(args)? {
        Some(t) => t,
        None => {
            let Some((namespace, id)) = args.flow_id.as_deref().and_then(|f| f.rsplit_once('.'))
            else {
                return Err(report(
                    "give a flow file or --flow-id NAMESPACE.ID",
                    exit::INVALID,
                ));
            };
            FlowToRun {
                namespace: namespace.to_string(),
                id: id.to_string(),
                flow: Json::Null,
                local: None,
            }
        }
    };
    remote.check().await.map_err(|e| report(e, exit::FAILED))?;
    let name = format!("{}.{}", target.namespace, target.id);
    let on_server = match &target.local {
        Some(local) => compare(remote, local).await,
        None => remote
            .server
            .flow(&target.namespace, &target.id)
            .await
            .map(|f| f.map_or(Compared::Missing, Compared::Different)),
    }
    .map_err(|e| report(remote.explain(&e), exit::FAILED))?;
    match (&target.local, &on_server, args.deploy) {
        (Some(local), compared, true) => match put(remote, local, compared).await {
            Ok(now) => {
                let what = match compared {
                    Compared::Missing => "created",
                    Compared::Same(_) => "unchanged",
                    Compared::Different(_) => "updated",
                };
                let revision = now
                    .revision
                    .map(|r| format!(", revision {r}"))
                    .unwrap_or_default();
                crate::say!(
                    "deployed {name} ({what}{revision}) to {}",
                    remote.server.address()
                );
            }
            Err(e @ ApiError::Refused { .. }) => {
                show_refusal(remote, &e, Some(&local.doc), &local.file, &local.text);
                return Err(report(
                    format!("{name} was not deployed, so it did not run"),
                    exit::INVALID,
                ));
            }
            Err(e) => return Err(report(remote.explain(&e), exit::FAILED)),
        },
        (_, Compared::Missing, _) => {
            let hint = match &target.local {
                Some(l) => format!(": add --deploy to send `{}` first", l.file.display()),
                None => ": deploy it first (`runner deploy`, or `runner run FILE --server URL --deploy`)".into(),
            };
            return Err(report(
                format!(
                    "flow {name} is not on the Kestra server at {}{hint}",
                    remote.server.address()
                ),
                exit::INVALID,
            ));
        }
        (Some(l), Compared::Different(current), false) => crate::say!(
            "warning: the server's {name} (revision {}) is not what `{}` holds; the server's runs (--deploy sends yours)",
            current.revision.unwrap_or_default(),
            l.file.display()
        ),
        (None, Compared::Different(current), _) => {
            if let Some(source) = &current.source {
                target.flow = runner_model::load_str(source)
                    .ok()
                    .and_then(|d| d.into_iter().next())
                    .map(|d| d.to_json())
                    .unwrap_or(Json::Null);
            }
        }
        (_, Compared::Same(_), _) => {}
    }
    let inputs = inputs(args, &target.flow).map_err(|e| report(e, exit::INVALID))?;
    let labels = args
        .labels
        .iter()
        .map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                .ok_or_else(|| format!("`-l {l}` is not of the form key=value"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| report(e, exit::INVALID))?;
    Ok((target, inputs, labels))
}

async fn run_there(remote: &Remote, args: RunArgs) -> u8 {
    // Listened for from here: a Ctrl-C before the execution exists stops everything, one
    // after it asks the server to kill it.
    let mut interrupts = match Interrupts::install() {
        Ok(i) => i,
        Err(e) => return report(format!("cannot listen for Ctrl-C: {e}"), exit::FAILED),
    };
    let prepared = tokio::select! {
        p = prepare(remote, &args) => p,
        signal = interrupts.next() => {
            return report(format!("{signal}: stopped before the execution was created; nothing runs on the server"), exit::FAILED);
        }
    };
    let (target, inputs, labels) = match prepared {
        Ok(p) => p,
        Err(code) => return code,
    };
    let name = format!("{}.{}", target.namespace, target.id);
    let create = remote
        .server
        .create_execution(&target.namespace, &target.id, &inputs, &labels);
    tokio::pin!(create);
    let mut interrupted = false;
    let created = tokio::select! {
        c = &mut create => c,
        _ = interrupts.next() => {
            // The request is on its way: its execution is killed once it has an id.
            interrupted = true;
            create.await
        }
    };
    let created = match created {
        Ok(e) => e,
        Err(
            e @ ApiError::Refused {
                status: 409 | 422, ..
            },
        ) => {
            // Kestra refuses the inputs (422) and disabled flows (409): nothing ran.
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
    if interrupted {
        kill(remote, &id).await;
    }
    let printer = Arc::new(Printer::new(&args, remote));
    let logs = tokio::spawn(follow_logs(
        remote.server.clone(),
        id.clone(),
        printer.clone(),
    ));
    let last = follow(remote, &id, &target.flow, &mut interrupts, interrupted).await;
    logs.abort();
    let last = match last {
        Ok(e) => e,
        Err(e) => {
            return report(
                format!(
                    "{}; the execution may still be running on the server: {url}",
                    remote.explain(&e)
                ),
                exit::FAILED,
            );
        }
    };
    // What the stream had not shown yet: Kestra's log stream has no end to wait for.
    if let Ok(entries) = remote.server.logs(&id).await {
        printer.catch_up(&entries);
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
        "SUCCESS" | "WARNING" | "SKIPPED" | "RETRIED" | "RESUBMITTED" => exit::SUCCESS,
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

/// How long the follow stream may stay quiet before the execution is asked for: Kestra sends
/// nothing while it does not change, and a connection can die silently.
const QUIET: Duration = Duration::from_secs(30);

/// Follows the execution to its end, or to a Pause that waits for a person. Ctrl-C (or
/// SIGTERM, SIGHUP, SIGQUIT) asks the server to kill it, a second one stops following. When
/// the stream ends without its last event, or stays quiet, the execution is asked for.
async fn follow(
    remote: &Remote,
    id: &str,
    flow: &Json,
    interrupts: &mut Interrupts,
    killed: bool,
) -> Result<Json, ApiError> {
    let mut asked = usize::from(killed);
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
                        // An event whose data does not parse says nothing: ask instead.
                        let Ok(execution) = serde_json::from_str::<Json>(&event.data) else {
                            break;
                        };
                        if settled(&execution) {
                            return Ok(execution);
                        }
                        if event.id == "end" {
                            break;
                        }
                    }
                    Ok(None) | Err(_) => break,
                },
                _ = tokio::time::sleep(QUIET) => {
                    if let Ok(execution) = remote.server.execution(id).await
                        && settled(&execution)
                    {
                        return Ok(execution);
                    }
                }
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
    // Polling, through a server restart or a network blip: five failures in a row end it.
    let mut failures = 0;
    loop {
        match remote.server.execution(id).await {
            Ok(execution) if settled(&execution) => return Ok(execution),
            Ok(_) => failures = 0,
            Err(e) => {
                failures += 1;
                if failures >= 5 {
                    return Err(e);
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1) * failures.max(1)) => {}
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

/// Prints log entries as local runs print theirs, masked, and knows how many of each it
/// printed (Kestra's entries have no id), so the list read at the end adds only the rest.
struct Printer {
    printed: Mutex<HashMap<u64, usize>>,
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

/// What tells two entries apart, hashed (a run may log much; the text is not kept).
fn entry_key(entry: &Json) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for k in ["timestamp", "taskRunId", "level", "message"] {
        entry[k].as_str().unwrap_or_default().hash(&mut h);
    }
    h.finish()
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
            printed: Mutex::default(),
            json: matches!(args.log_format, LogFormatArg::Json),
            min,
            masker: remote.masker.clone(),
        }
    }

    /// An entry of the live stream.
    fn print(&self, entry: &Json) {
        *self
            .printed
            .lock()
            .expect("log lock")
            .entry(entry_key(entry))
            .or_default() += 1;
        self.show(entry);
    }

    /// Every entry of the execution: those the stream did not print.
    fn catch_up(&self, entries: &[Json]) {
        let mut seen: HashMap<u64, usize> = HashMap::new();
        for entry in entries {
            let key = entry_key(entry);
            let nth = seen.entry(key).or_default();
            *nth += 1;
            let printed = self.printed.lock().expect("log lock").get(&key).copied();
            if printed.unwrap_or(0) < *nth {
                self.print(entry);
            }
        }
    }

    fn show(&self, entry: &Json) {
        let field = |k: &str| entry[k].as_str().unwrap_or_default();
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
