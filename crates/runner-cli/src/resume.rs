//! `runner resume ID` and `runner restart ID`: go on with a recorded execution. The run keeps
//! a copy of its flow beside its record (`flow.source`: no scan of a flows folder takes it for
//! a flow) and where the flow file was (`run.json`); going on uses the flow file when it is
//! unchanged, else that copy, so the execution goes on with the revision it started with, as
//! Kestra's does.

use crate::cli::{ContinueArgs, Continuing, RunArgs};
use crate::exit;
use std::path::{Path, PathBuf};

/// What `runner run` keeps beside the record for `resume` and `restart`.
const FLOW_COPY: &str = "flow.source";
const RUN_FILE: &str = "run.json";

pub(crate) fn resume(args: ContinueArgs, inputs: Vec<String>, inputs_file: Option<PathBuf>) -> u8 {
    go_on(args, inputs, inputs_file, false)
}

pub(crate) fn restart(args: ContinueArgs) -> u8 {
    go_on(args, Vec::new(), None, true)
}

fn go_on(
    args: ContinueArgs,
    inputs: Vec<String>,
    inputs_file: Option<PathBuf>,
    restart: bool,
) -> u8 {
    let places = crate::launch::Places::new(args.storage.as_deref(), None, None);
    let Some(folder) = runner_ui::execution_folder(&places.storage, &args.id) else {
        return crate::report(
            format!(
                "no execution {} in `{}`: give the storage it ran with (--storage)",
                args.id,
                crate::launch::shown(&places.storage).display()
            ),
            exit::INVALID,
        );
    };
    let (flow, origin) = match flow_of(&folder) {
        Ok(f) => f,
        Err(e) => return crate::report(e, exit::INVALID),
    };
    let run = RunArgs {
        flow: Some(flow),
        flow_id: None,
        inputs,
        inputs_file,
        env: args.env,
        storage: args.storage,
        namespace_files: args.namespace_files,
        powers: args.powers,
        trigger: None,
        trigger_date: None,
        trigger_vars: None,
        flows: args.flows,
        state: args.state,
        cache_dir: args.cache_dir,
        json: args.json,
        watch: false,
        progress: args.progress,
        log_format: args.log_format,
        log_level: args.log_level,
        server: None,
        tenant: "main".into(),
        deploy: false,
        labels: Vec::new(),
        execution_id: Some(args.id),
        continuing: Some(Continuing {
            folder,
            origin,
            restart,
        }),
    };
    crate::run::run(run)
}

/// The flow file to go on with, and where the execution's flow file was: the file itself when
/// it still holds what ran, else the copy kept beside the record.
fn flow_of(folder: &Path) -> Result<(PathBuf, PathBuf), String> {
    if let Some(parent) = parent_of(folder) {
        return Err(format!(
            "this execution is a subflow of execution {parent}, which goes on with it: `runner resume {parent}` or `runner restart {parent}`"
        ));
    }
    let copy = folder.join(FLOW_COPY);
    let run: serde_json::Value = std::fs::read_to_string(folder.join(RUN_FILE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| {
            format!(
                "`{}` has no `{RUN_FILE}`: this execution was recorded before runner kept what going on needs; run the flow again",
                crate::launch::shown(folder).display()
            )
        })?;
    let origin = run
        .get("flowFile")
        .and_then(serde_json::Value::as_str)
        .map(PathBuf::from)
        .ok_or_else(|| format!("`{RUN_FILE}` names no flow file"))?;
    let ran = std::fs::read_to_string(&copy).map_err(|e| {
        format!(
            "cannot read the flow this execution ran (`{}`): {e}",
            copy.display()
        )
    })?;
    let unchanged = std::fs::read_to_string(&origin).is_ok_and(|now| now == ran);
    if unchanged {
        Ok((origin.clone(), origin))
    } else {
        crate::say!(
            "note: `{}` changed since this execution started: it goes on with the flow it started with (kept in `{}`)",
            crate::launch::shown(&origin).display(),
            crate::launch::shown(&copy).display()
        );
        Ok((copy, origin))
    }
}

/// Keeps what `resume` and `restart` need beside the record: a copy of the flow that runs
/// (`source`), where its file is, and this process (for `runner kill`).
pub(crate) fn keep(folder: &Path, flow_file: &Path, source: Option<&str>) -> std::io::Result<()> {
    if let Some(source) = source {
        write_atomically(&folder.join(FLOW_COPY), source.as_bytes())?;
    }
    let run = serde_json::json!({
        "flowFile": crate::launch::absolute(flow_file),
        "pid": std::process::id(),
    });
    write_atomically(&folder.join(RUN_FILE), run.to_string().as_bytes())
}

/// The execution that started this one as a subflow, from its record's trigger.
pub(crate) fn parent_of(folder: &Path) -> Option<String> {
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("execution.json")).ok()?).ok()?;
    record
        .pointer("/trigger/variables/executionId")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
}

/// The process that runs execution folder `folder` now, if it says so.
pub(crate) fn running_pid(folder: &Path) -> Option<u32> {
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join(RUN_FILE)).ok()?).ok()?;
    run.get("pid")?.as_u64().and_then(|p| u32::try_from(p).ok())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = path.with_extension("writing");
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}

/// A person at the terminal answers a Pause while the run waits (`runner run` on a terminal):
/// go on (typing the `onResume` values), leave it PAUSED for `runner resume`, or kill it.
#[derive(Default)]
pub(crate) struct TerminalDesk {
    /// One question at a time: parallel branches may pause together.
    turn: tokio::sync::Mutex<()>,
}

/// An `onResume` input as the terminal asks for it.
struct Question {
    id: String,
    type_name: String,
    required: bool,
    default: Option<String>,
}

impl runner_core::resume::ResumeDesk for TerminalDesk {
    fn ask<'a>(
        &'a self,
        execution_id: &'a str,
        task_id: &'a str,
        inputs: &'a [runner_core::InputSpec],
        problem: Option<&'a str>,
    ) -> runner_core::plugin::BoxFuture<'a, Option<runner_core::resume::Answer>> {
        Box::pin(async move {
            let _turn = self.turn.lock().await;
            let questions: Vec<Question> = inputs
                .iter()
                .map(|i| Question {
                    id: i.id.clone(),
                    type_name: i.type_name.clone(),
                    required: i.required,
                    default: i.defaults.as_ref().map(|d| match d {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    }),
                })
                .collect();
            let (execution_id, task_id) = (execution_id.to_string(), task_id.to_string());
            let problem = problem.map(str::to_string);
            // A read of stdin cannot be cancelled: when the Pause's timeout ends first, the
            // question is simply never answered.
            tokio::task::spawn_blocking(move || {
                ask_at_terminal(&execution_id, &task_id, &questions, problem.as_deref())
            })
            .await
            .ok()
            .flatten()
        })
    }
}

fn ask_at_terminal(
    execution_id: &str,
    task_id: &str,
    questions: &[Question],
    problem: Option<&str>,
) -> Option<runner_core::resume::Answer> {
    use runner_core::resume::Answer;
    let stdin = std::io::stdin();
    let read = |prompt: &str| -> Option<String> {
        crate::say_raw!("{prompt}");
        let mut line = String::new();
        // End of input (Ctrl-D, a closed terminal): nobody answers.
        match stdin.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim().to_string()),
        }
    };
    match problem {
        Some(p) => crate::say!("  {p}: answer again"),
        None => loop {
            let answer = read(&format!(
                "Pause `{task_id}` of execution {execution_id} waits. Resume? [Y]es, [n]o (leave it PAUSED), [k]ill: "
            ))?;
            match answer.to_ascii_lowercase().as_str() {
                "" | "y" | "yes" => break,
                "n" | "no" => return Some(Answer::Leave),
                "k" | "kill" => return Some(Answer::Kill),
                _ => crate::say!("  answer y, n or k"),
            }
        },
    }
    let mut values = serde_json::Map::new();
    for q in questions {
        let hint = match (&q.default, q.required) {
            (Some(d), _) => format!(" [{d}]"),
            (None, false) => " (optional)".to_string(),
            (None, true) => String::new(),
        };
        let value = read(&format!("  {} ({}){hint}: ", q.id, q.type_name))?;
        if !value.is_empty() {
            values.insert(q.id.clone(), serde_json::Value::String(value));
        }
    }
    Some(Answer::Resume(values))
}
