//! `runner run FLOW.yaml`: validate, start an execution, run it until it ends or a signal
//! kills it, write its record, print the summary.

use crate::cli::{LogFormatArg, LogLevelArg, RunArgs};
use crate::diagnostics::Style;
use crate::exit;
use crate::files;
use crate::signals::Interrupts;
use runner_core::resume::Continuation;
use runner_core::{Level, LogFormat};
use runner_template::Renderer;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

fn fail(message: impl std::fmt::Display) -> u8 {
    crate::report(message, exit::INVALID)
}

pub(crate) fn run(args: RunArgs) -> u8 {
    if args.server.is_some() {
        return crate::remote::run(args);
    }
    if !args.watch {
        return run_once(args).0;
    }
    // The flow file, the flows folder its subflows come from, and its namespace files.
    // (Its folder holds the first and the last unless --flows says otherwise.)
    let folder = args
        .flow
        .as_deref()
        .and_then(std::path::Path::parent)
        .filter(|d| !d.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    let mut roots: Vec<PathBuf> = args.flows.clone();
    if roots.is_empty() {
        roots.push(folder);
    } else {
        roots.extend(args.flow.iter().cloned());
    }
    let mut last: Option<crate::summary::RunSummary> = None;
    crate::watch::watch(&roots, |_| {
        let (code, record) = run_once(args.clone());
        if let (Some(before), Some(now)) = (&last, &record) {
            let changes = crate::summary::changes(before, now);
            crate::say!(
                "since the last run: {}",
                if changes.is_empty() {
                    "every task run ended as before".to_string()
                } else {
                    changes.join(", ")
                }
            );
        }
        if record.is_some() {
            last = record;
        }
        code
    })
}

/// One run; the execution's record when it ran.
fn run_once(mut args: RunArgs) -> (u8, Option<crate::summary::RunSummary>) {
    let style = Style::stderr();
    if let (None, Some(id)) = (&args.flow, &args.flow_id) {
        let roots = if args.flows.is_empty() {
            vec![PathBuf::from(".")]
        } else {
            args.flows.clone()
        };
        match crate::flows::FlowFolder::new(roots).locate(id) {
            Ok(path) => args.flow = Some(path),
            Err(e) => return no_run(e),
        }
    }
    let Some(flow_file) = args.flow.clone() else {
        return no_run("give a flow file or --flow-id NAMESPACE.ID");
    };
    let registry = crate::registry();
    let environment = match files::environment(&args.env) {
        Ok(e) => e,
        Err(e) => return no_run(e),
    };
    let Some((file, mut results)) = files::load(
        &flow_file,
        &registry,
        &Renderer::new(),
        &style,
        files::Gate::default(),
    ) else {
        return (exit::INVALID, None);
    };
    if results.len() != 1 {
        return no_run(format!(
            "Too many flow found, need 1, found {} in `{}`",
            results.len(),
            file.path.display()
        ));
    }
    let Some(plan) = results.remove(0).1 else {
        if file
            .docs
            .as_ref()
            .is_ok_and(|d| d.iter().any(runner_testsuite::is_test_suite))
        {
            return no_run(format!(
                "`{}` is a test suite, not a flow: run it with `runner test {}`",
                file.path.display(),
                file.path.display()
            ));
        }
        return (exit::INVALID, None);
    };
    if let Some(message) = file
        .docs
        .as_ref()
        .ok()
        .and_then(|docs| missing_secrets(docs, &environment))
    {
        return no_run(message);
    }
    if plan.disabled {
        return no_run(format!(
            "flow {}.{} is disabled (`disabled: true`): remove that line to run it",
            plan.flow.namespace, plan.flow.id
        ));
    }
    let trigger = match trigger_variable(&args, &plan) {
        Ok(t) => t,
        Err(e) => return no_run(e),
    };
    let given = match crate::vars::given_inputs(&args) {
        Ok(g) => g,
        Err(e) => return no_run(e),
    };
    let min_level = match args.log_level {
        LogLevelArg::Trace => Level::Trace,
        LogLevelArg::Debug => Level::Debug,
        LogLevelArg::Info => Level::Info,
        LogLevelArg::Warn => Level::Warn,
        LogLevelArg::Error => Level::Error,
    };
    let format = match args.log_format {
        LogFormatArg::Text => LogFormat::Text,
        LogFormatArg::Json => LogFormat::Json,
    };
    let limits = match crate::limits::expressions() {
        Ok(l) => l,
        Err(e) => return no_run(e),
    };
    let run_limits = match crate::limits::run() {
        Ok(l) => l,
        Err(e) => return no_run(e),
    };
    let places = crate::launch::Places::new(
        args.storage.as_deref(),
        args.state.as_deref(),
        args.cache_dir.as_deref(),
    );
    // Where the flow file is: its folder holds the flows and namespace files by default.
    let home = args
        .continuing
        .as_ref()
        .map_or_else(|| flow_file.clone(), |c| c.origin.clone());
    let prior = match &args.continuing {
        Some(c) => match prior_of(c) {
            Ok(p) => Some(p),
            Err(e) => return no_run(e),
        },
        None => None,
    };
    let namespace_files = match namespace_files(&args, &home, &plan.flow.namespace) {
        Ok(n) => n,
        Err(e) => return no_run(e),
    };
    let kv = runner_kv::LazyKv::new(places.state.clone(), vec![plan.flow.namespace.clone()]);
    let flow_folders = if args.flows.is_empty() {
        let dir = home.parent().filter(|p| !p.as_os_str().is_empty());
        vec![dir.map_or_else(|| PathBuf::from("."), PathBuf::from)]
    } else {
        args.flows.clone()
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // A main thread's stack: renders run here, and the limits on nesting are set for it
        // (runner-template's small-stack test).
        .thread_stack_size(8 * 1024 * 1024)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return no_run(format!("cannot start the async runtime: {e}")),
    };
    let mut ran = None;
    let ran_ref = &mut ran;
    let code = runtime.block_on(async move {
        let execution = crate::launch::builder(plan, &places, &args.powers, registry)
            .kv(Arc::new(kv))
            .flows(Arc::new(crate::flows::FlowFolder::new(
                flow_folders.clone(),
            )));
        let mut execution = crate::launch::flows_folder(execution, &flow_folders, true);
        for (namespace, dir) in namespace_files {
            execution = execution.namespace_files(namespace, crate::launch::absolute(&dir));
        }
        if let Some(id) = &args.execution_id {
            execution = execution.id(id);
        }
        // A person at the terminal can answer a Pause (stdin is not the inputs file).
        let stdin_free = args.inputs_file.as_deref() != Some(std::path::Path::new("-"));
        if stdin_free && std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
            let desk: Arc<dyn runner_core::resume::ResumeDesk> =
                Arc::new(crate::resume::TerminalDesk::default());
            execution = execution.service(desk);
        }
        if let Some(t) = trigger {
            execution = execution.trigger(t);
        }
        let terminal =
            crate::progress::view(args.progress, matches!(args.log_format, LogFormatArg::Json));
        let log_out = match &terminal {
            Some(t) => {
                execution = execution.progress(Arc::new(t.clone()));
                t.log_writer()
            }
            None => Box::new(std::io::stderr()),
        };
        let execution = execution
            .environment(environment)
            .limits(limits)
            .run_limits(run_limits)
            .log(log_out, format, min_level);
        // Going on: the given inputs answer the Pause (a restart takes none).
        let execution = match prior {
            Some((prior, true)) => execution.continuing(prior, Continuation::Restart),
            Some((prior, false)) => execution.continuing(prior, Continuation::Resume(given)),
            None => execution.inputs(given),
        };
        let json_logs = matches!(args.log_format, LogFormatArg::Json);
        let execution = match execution.start().await {
            Ok(e) => e,
            Err(e) if json_logs => return fail(e),
            Err(e) => return fail(e.plain()),
        };
        // Handlers are installed before the run starts, so an early Ctrl-C is never lost.
        let mut interrupts = match Interrupts::install() {
            Ok(i) => i,
            Err(e) => return fail(format!("cannot listen for Ctrl-C: {e}")),
        };
        // What `resume`, `restart` and `kill` need, beside the record (after the handlers:
        // `kill` signals the process it names).
        if let Err(e) = crate::resume::keep(&execution.folder(), &home, Some(file.text.text())) {
            crate::say!(
                "{}: cannot keep the flow beside the record ({e}): this execution cannot be resumed or restarted",
                style.warning_label()
            );
        }
        let state = execution
            .run_until(async { format!("Interrupted ({})", interrupts.next().await) })
            .await;
        // A record that cannot be written fails the command, whatever the flow's outcome.
        let recorded = execution.write_record();
        let summary = crate::summary::RunSummary::of(&execution);
        crate::say_raw!(
            "{}",
            execution.mask(&crate::summary::summary(&summary, state))
        );
        *ran_ref = Some(summary);
        let mut code = if state.is_failed() {
            exit::FAILED
        } else if state == runner_core::State::Paused {
            exit::PAUSED
        } else {
            exit::SUCCESS
        };
        match recorded {
            Ok(path) => {
                // Where to look next: the record, and the folder of the task runs' files.
                crate::say!("record: {}", crate::launch::shown(&path).display());
                let tasks = path.with_file_name("tasks");
                if tasks.is_dir() {
                    crate::say!("files:  {}/", crate::launch::shown(&tasks).display());
                }
            }
            Err(e) => {
                crate::say!("{}: {e}", style.error_label());
                code = exit::FAILED;
            }
        }
        if args.json {
            let printed = crate::with_stdout(|out| {
                execution.print_record(out)?;
                out.write_all(b"\n")
            });
            if let Err(e) = printed {
                crate::say!("{}: cannot print the record: {e}", style.error_label());
                code = exit::FAILED;
            }
        }
        code
    });
    // A render still busy after a signal (bounded by its fuel) must not hold the exit: the
    // record is written and the cleanup waited for already.
    runtime.shutdown_background();
    (code, ran)
}

/// Every `secret('X')` of the flow that no variable provides, said before the first task:
/// found mid-run, earlier tasks would already have written to the KV store or a database.
fn missing_secrets(
    docs: &[runner_model::Node],
    environment: &runner_core::Environment,
) -> Option<String> {
    let missing: Vec<String> = runner_core::unset_secrets(docs, environment)
        .into_iter()
        .filter_map(|d| match d.problem {
            runner_model::Problem::UnsetSecret { name } => Some(name),
            _ => None,
        })
        .collect();
    let first = missing.first()?;
    let mut message = runner_secrets::SecretError::NotFound { key: first.clone() }.to_string();
    if missing.len() > 1 {
        message.push_str(&format!(
            " (also missing: {}); nothing ran",
            missing[1..].join(", ")
        ));
    } else {
        message.push_str("; nothing ran");
    }
    if let Some(plain) = missing.iter().find_map(|n| environment.plain_twin(n)) {
        message.push_str(&format!(
            "\n  help: `{plain}` is set, but as a plain value; secrets are read from SECRET_{} holding \
             base64. `runner secrets encode .env` writes `.env_encoded` from a plain file; run with `--env-file .env_encoded`",
            plain.to_uppercase()
        ));
    }
    Some(message)
}

fn no_run(message: impl std::fmt::Display) -> (u8, Option<crate::summary::RunSummary>) {
    (fail(message), None)
}

/// The recorded execution `continuing` names, and whether it restarts.
fn prior_of(
    continuing: &crate::cli::Continuing,
) -> Result<(runner_core::resume::Prior, bool), String> {
    let path = continuing.folder.join("execution.json");
    let shown = crate::launch::shown(&path);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read the record `{}`: {e}", shown.display()))?;
    let record: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("the record `{}` is not JSON: {e}", shown.display()))?;
    let prior = runner_core::resume::Prior::read(&record)
        .map_err(|e| format!("the record `{}` cannot be read: {e}", shown.display()))?;
    Ok((prior, continuing.restart))
}

/// `--namespace-files`: `DIR` for the flow's namespace (default `_files` beside the flow
/// file `home`), `NAMESPACE=DIR` for others.
fn namespace_files(
    args: &RunArgs,
    home: &std::path::Path,
    flow_namespace: &str,
) -> Result<Vec<(String, PathBuf)>, String> {
    let mut out = Vec::new();
    let mut own = None;
    for given in &args.namespace_files {
        match given.split_once('=') {
            Some((ns, dir)) if !ns.is_empty() && !ns.contains('/') => {
                out.push((ns.to_string(), PathBuf::from(dir)))
            }
            _ => {
                if own.is_some() {
                    return Err(format!(
                        "--namespace-files `{given}`: the flow's namespace files were given twice (use NAMESPACE=DIR for other namespaces)"
                    ));
                }
                own = Some(PathBuf::from(given));
            }
        }
    }
    let own = own.unwrap_or_else(|| {
        home.parent()
            .map(|p| p.join("_files"))
            .unwrap_or_else(|| PathBuf::from("_files"))
    });
    if !out.iter().any(|(ns, _)| ns == flow_namespace) {
        out.push((flow_namespace.to_string(), own));
    }
    Ok(out)
}

/// `trigger` for `--trigger ID` (a Schedule's dates from its cron) and `--trigger-vars FILE`.
fn trigger_variable(
    args: &RunArgs,
    plan: &runner_core::Plan,
) -> Result<Option<serde_json::Value>, String> {
    let mut trigger = match &args.trigger {
        None => None,
        Some(id) => {
            let Some(spec) = plan.triggers.iter().find(|t| &t.id == id) else {
                let ids: Vec<&str> = plan.triggers.iter().map(|t| t.id.as_str()).collect();
                return Err(if ids.is_empty() {
                    format!("--trigger {id}: the flow has no triggers")
                } else {
                    format!("--trigger {id}: the flow's triggers are {}", ids.join(", "))
                });
            };
            let date = args
                .trigger_date
                .as_deref()
                .map(|d| {
                    d.parse::<jiff::Timestamp>()
                        .map(|t| t.to_zoned_datetime(jiff::tz::TimeZone::UTC))
                        .map_err(|e| {
                            format!("--trigger-date {d}: {e} (write it like 2026-05-01T06:00:00Z)")
                        })
                })
                .transpose()?;
            Some(match &spec.schedule {
                Some(s) => s
                    .variables(&spec.id, &spec.type_name, date)
                    .map_err(|e| format!("--trigger {id}: {e}"))?,
                None => serde_json::json!({"id": spec.id, "type": spec.type_name}),
            })
        }
    };
    if let Some(path) = &args.trigger_vars {
        let vars = crate::vars::read_map(path)?;
        let t = trigger.get_or_insert_with(|| serde_json::json!({}));
        if let Some(m) = t.as_object_mut() {
            m.extend(vars);
        }
    }
    Ok(trigger)
}
