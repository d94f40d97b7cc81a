//! The commands. Each returns its exit code; only this module prints.

use crate::cli::{Cli, Command, Format, LogFormatArg, LogLevelArg, RunArgs, SecretsCommand};
use crate::diagnostics::{Style, render};
use crate::exit;
use crate::files::{self, FlowFile};
use runner_core::context::ExecutionShared;
use runner_core::ids::friendly_id;
use runner_core::inputs::resolve_inputs;
use runner_core::log::{Level, LogFormat, LogSink, Masker};
use runner_core::{Executor, Plan, PropKind, Registry, State, Storage, validate};
use runner_model::Node;
use runner_template::{Context, Hooks, Renderer};
use serde_json::{Map, Value as Json, json};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Every task type this binary can run: the core tasks, then each plugin's list.
pub fn registry() -> Registry {
    Registry::new(&[
        runner_core::tasks::TASKS,
        runner_postgres::TASKS,
        runner_aws::TASKS,
        runner_serdes::TASKS,
    ])
}

pub(crate) fn dispatch(cli: Cli) -> u8 {
    match cli.command {
        Command::Run(args) => run(args),
        Command::Validate { paths, env_files } => validate_paths(&paths, &env_files),
        Command::Eval {
            vars,
            flow,
            template,
            env_files,
        } => eval(vars.as_deref(), flow.as_deref(), &template, &env_files),
        Command::Plugins { format } => plugins(format),
        Command::Secrets(SecretsCommand::Encode {
            input,
            output,
            force,
        }) => secrets_encode(&input, &output, force),
    }
}

/// Prints `error: message` and returns `code`.
fn report(message: impl std::fmt::Display, code: u8) -> u8 {
    eprintln!("{}: {message}", Style::stderr().error_label());
    code
}

fn fail(message: impl std::fmt::Display) -> u8 {
    report(message, exit::INVALID)
}

/// Each flow of a file: its `namespace.id` when readable, and its plan when valid.
type Checked = Vec<(Option<String>, Option<Plan>)>;

/// Reads a flow file and validates each of its flows; prints problems. `None` when unreadable.
fn load(
    path: &Path,
    registry: &Registry,
    renderer: &Renderer,
    style: &Style,
) -> Option<(FlowFile, Checked)> {
    let file = match files::read(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "{}: cannot read `{}`: {e}",
                style.error_label(),
                path.display()
            );
            return None;
        }
    };
    let docs = match &file.docs {
        Ok(docs) => docs.clone(),
        Err(d) => {
            eprint!("{}", render(d, &file.path, &file.text, style));
            return Some((file, vec![(None, None)]));
        }
    };
    let mut results = Vec::new();
    for doc in &docs {
        let v = validate(doc, registry, renderer);
        for d in &v.diagnostics {
            eprint!("{}", render(d, &file.path, &file.text, style));
        }
        results.push((v.name, v.plan));
    }
    Some((file, results))
}

fn validate_paths(paths: &[PathBuf], env_files: &[PathBuf]) -> u8 {
    let style = Style::stderr();
    let environment = match crate::environment::load(env_files) {
        Ok(e) => e,
        Err(e) => return report(e, exit::FAILED),
    };
    let files = match files::collect(paths) {
        Ok(f) => f,
        Err(e) => return report(format!("cannot list flow files: {e}"), exit::FAILED),
    };
    if files.is_empty() {
        eprintln!(
            "{}: no .yaml or .yml file under {}",
            style.error_label(),
            display_paths(paths)
        );
        return exit::FAILED;
    }
    let registry = registry();
    let renderer = Renderer::new();
    let (mut valid, mut invalid) = (0usize, 0usize);
    let mut stdout = std::io::stdout().lock();
    for path in &files {
        let Some((file, results)) = load(path, &registry, &renderer, &style) else {
            invalid += 1;
            continue;
        };
        for warning in unset_secrets(&file, &environment.secrets) {
            eprint!("{}", render(&warning, &file.path, &file.text, &style));
        }
        for (name, plan) in results {
            match (plan, name) {
                (Some(_), Some(name)) => {
                    valid += 1;
                    let _ = writeln!(stdout, "✓ {name}");
                }
                (_, name) => {
                    invalid += 1;
                    let what = name.unwrap_or_else(|| file.path.display().to_string());
                    let _ = writeln!(stdout, "✘ {what} ({})", file.path.display());
                }
            }
        }
    }
    if invalid > 0 {
        eprintln!("{invalid} invalid flow(s), {valid} valid");
        exit::FAILED
    } else {
        exit::SUCCESS
    }
}

/// A warning for each `secret('X')` in a flow file that neither the process nor an env file sets.
fn unset_secrets(
    file: &FlowFile,
    secrets: &runner_secrets::SecretStore,
) -> Vec<runner_model::Diagnostic> {
    fn walk(node: &Node, out: &mut Vec<(String, runner_model::Span)>) {
        match &node.value {
            runner_model::NodeValue::Str(s) => {
                let mut rest = s.as_str();
                while let Some(i) = rest.find("secret(") {
                    rest = &rest[i + 7..];
                    let arg = rest.trim_start();
                    if let Some(q) = arg.chars().next().filter(|c| *c == '\'' || *c == '"')
                        && let Some(end) = arg[1..].find(q)
                    {
                        out.push((arg[1..1 + end].to_string(), node.span));
                    }
                }
            }
            runner_model::NodeValue::Seq(items) => items.iter().for_each(|n| walk(n, out)),
            runner_model::NodeValue::Map(entries) => entries.iter().for_each(|(_, n)| walk(n, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    for doc in file.docs.iter().flatten() {
        walk(doc, &mut found);
    }
    let mut seen = Vec::new();
    found
        .into_iter()
        .filter(|(name, _)| !secrets.contains(name))
        .filter(|(name, _)| {
            let new = !seen.contains(&name.to_uppercase());
            seen.push(name.to_uppercase());
            new
        })
        .map(|(name, span)| {
            runner_model::Diagnostic::warning(
                runner_model::Problem::InvalidValue {
                    property: format!("secret('{name}')"),
                    reason: format!(
                        "SECRET_{} is not set in the environment or the given --env-file(s)",
                        name.to_uppercase()
                    ),
                },
                span,
                "",
            )
        })
        .collect()
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Variables from a JSON or YAML file (its top-level map).
fn read_vars(path: &Path) -> Result<Map<String, Json>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let value = match serde_json::from_str::<Json>(&text) {
        Ok(v) => v,
        Err(_) => runner_model::load_str(&text)
            .map_err(|e| format!("`{}` is neither JSON nor YAML: {e}", path.display()))?
            .first()
            .map_or(Json::Null, Node::to_json),
    };
    match value {
        Json::Object(m) => Ok(m),
        Json::Null => Ok(Map::new()),
        _ => Err(format!(
            "`{}` must hold a map of names to values",
            path.display()
        )),
    }
}

fn eval(vars: Option<&Path>, flow: Option<&Path>, template: &str, env_files: &[PathBuf]) -> u8 {
    let environment = match crate::environment::load(env_files) {
        Ok(e) => e,
        Err(e) => return report(e, exit::FAILED),
    };
    let masker = Arc::new(Masker::default());
    let envs = environment.envs.clone();
    let renderer = Renderer::with_hooks(Hooks {
        secrets: Some(Arc::new(environment.secrets)),
        masker: Some(masker.clone()),
        files: None,
    });
    let mut context = Map::new();
    if let Some(flow) = flow {
        let file = match files::read(flow) {
            Ok(f) => f,
            Err(e) => {
                return report(
                    format!("cannot read `{}`: {e}", flow.display()),
                    exit::FAILED,
                );
            }
        };
        let Some(doc) = file.docs.ok().and_then(|d| d.into_iter().next()) else {
            return report(
                format!("`{}` holds no readable flow", flow.display()),
                exit::FAILED,
            );
        };
        context.insert("flow".into(), json!({"id": doc.get("id").map(Node::to_json), "namespace": doc.get("namespace").map(Node::to_json)}));
        context.insert(
            "vars".into(),
            doc.get("variables").map_or(json!({}), Node::to_json),
        );
        let mut inputs = Map::new();
        for input in doc.get("inputs").and_then(Node::as_seq).unwrap_or_default() {
            if let (Some(id), Some(d)) = (
                input.get("id").and_then(Node::as_str),
                input.get("defaults"),
            ) {
                inputs.insert(id.to_string(), d.to_json());
            }
        }
        context.insert("inputs".into(), Json::Object(inputs));
    }
    context.insert("envs".into(), envs);
    if let Some(vars) = vars {
        match read_vars(vars) {
            Ok(m) => context.extend(m),
            Err(e) => return report(e, exit::FAILED),
        }
    }
    match renderer.render_str(template, &Context::new(Json::Object(context))) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            // A piped result is the value asked for; on a terminal, secrets stay hidden.
            let out = if stdout.is_terminal() {
                masker.mask(&out)
            } else {
                out
            };
            let _ = stdout.write_all(out.as_bytes());
            if stdout.is_terminal() && !out.ends_with('\n') {
                let _ = stdout.write_all(b"\n");
            }
            exit::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "{}: {}",
                Style::stderr().error_label(),
                masker.mask(&e.to_string())
            );
            exit::FAILED
        }
    }
}

fn plugins(format: Format) -> u8 {
    let registry = registry();
    let mut stdout = std::io::stdout().lock();
    match format {
        Format::Json => {
            let list: Vec<Json> = registry
                .iter()
                .map(|d| {
                    let props: Vec<Json> = d
                        .properties
                        .iter()
                        .map(|p| {
                            let kind = match p.kind {
                                PropKind::Value(t) => t,
                                PropKind::Tasks => "list of tasks",
                                PropKind::TaskMap => "map of task lists",
                            };
                            json!({"name": p.name, "type": kind, "required": p.required, "dynamic": p.dynamic, "description": p.doc})
                        })
                        .collect();
                    json!({"type": d.type_name, "aliases": d.aliases, "description": d.doc, "properties": props})
                })
                .collect();
            let _ = writeln!(
                stdout,
                "{}",
                serde_json::to_string_pretty(&list).unwrap_or_default()
            );
        }
        Format::Text => {
            for d in registry.iter() {
                let _ = writeln!(stdout, "{}", d.type_name);
                let _ = writeln!(stdout, "    {}", d.doc);
                if !d.aliases.is_empty() {
                    let _ = writeln!(stdout, "    aliases: {}", d.aliases.join(", "));
                }
                for p in d.properties {
                    let kind = match p.kind {
                        PropKind::Value(t) => t,
                        PropKind::Tasks => "list of tasks",
                        PropKind::TaskMap => "map of task lists",
                    };
                    let req = if p.required { ", required" } else { "" };
                    let _ = writeln!(stdout, "    - {} ({kind}{req}): {}", p.name, p.doc);
                }
            }
        }
    }
    exit::SUCCESS
}

/// Parses `-i name=value` pairs and an inputs file into one map; `-i` wins.
fn given_inputs(args: &RunArgs) -> Result<Map<String, Json>, String> {
    let mut given = match &args.inputs_file {
        Some(p) => read_vars(p)?,
        None => Map::new(),
    };
    for pair in &args.inputs {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("`-i {pair}` is not of the form `name=value`"))?;
        given.insert(k.trim().to_string(), Json::String(v.to_string()));
    }
    Ok(given)
}

fn run(args: RunArgs) -> u8 {
    let style = Style::stderr();
    let registry = registry();
    let environment = match crate::environment::load(&args.env_files) {
        Ok(e) => e,
        Err(e) => return fail(e),
    };
    let masker = Arc::new(Masker::default());
    let undecodable = environment.mask_all(&masker);
    let storage_dir = args
        .storage
        .clone()
        .unwrap_or_else(|| PathBuf::from(".runner/storage"));
    let envs = environment.envs.clone();
    let process_environment = environment.all.clone();
    let renderer = Arc::new(Renderer::with_hooks(Hooks {
        secrets: Some(Arc::new(environment.secrets)),
        masker: Some(masker.clone()),
        files: Some(Arc::new(runner_core::storage::StorageFiles(Storage::new(
            &storage_dir,
        )))),
    }));
    let Some((file, mut results)) = load(&args.flow, &registry, &renderer, &style) else {
        return exit::INVALID;
    };
    if results.len() != 1 {
        return fail(format!(
            "Too many flow found, need 1, found {} in `{}`",
            results.len(),
            file.path.display()
        ));
    }
    let Some(plan) = results.remove(0).1 else {
        return exit::INVALID;
    };
    if plan.disabled {
        return fail(format!(
            "flow {}.{} is disabled (`disabled: true`): remove that line to run it",
            plan.flow.namespace, plan.flow.id
        ));
    }
    let given = match given_inputs(&args) {
        Ok(g) => g,
        Err(e) => return fail(e),
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
    let sink = Arc::new(LogSink::new(
        format,
        min_level,
        Box::new(std::io::stderr()),
        masker.clone(),
    ));
    for problem in &undecodable {
        sink.emit(runner_core::log::LogEvent {
            level: Level::Warn,
            task_id: None,
            taskrun_id: None,
            message: problem,
        });
    }
    let labels: Map<String, Json> = plan
        .labels
        .iter()
        .map(|l| (l.key.clone(), Json::String(l.value.clone())))
        .collect();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(async move {
        let mut shared = ExecutionShared::new(
            friendly_id(),
            plan.flow.clone(),
            renderer,
            Storage::new(&storage_dir),
            sink,
            Json::Object(labels),
            plan.variables.clone(),
            envs,
        );
        shared.environment = process_environment;
        let exec = Arc::new(shared);
        let resolved = match resolve_inputs(&plan.inputs, &given, &exec.storage, &exec.prefix).await
        {
            Ok(r) => r,
            Err(e) => return fail(masker.mask(&e.to_string())),
        };
        for s in &resolved.secrets {
            masker.add(s);
        }
        exec.set_inputs(resolved.values);
        // Handlers are installed before the run starts, so an early Ctrl-C is never lost.
        let mut interrupts = match Interrupts::install() {
            Ok(i) => i,
            Err(e) => return fail(format!("cannot listen for Ctrl-C: {e}")),
        };
        let executor = Executor::new(exec.clone());
        let state = tokio::select! {
            s = executor.run(&plan) => s,
            signal = interrupts.next() => {
                executor.kill();
                exec.log(Level::Warn, None, &format!("Interrupted ({signal}): the execution was killed"));
                State::Killed
            }
        };
        // Let cancelled tasks finish their cleanup (abort uploads, cancel queries) first.
        if !runner_core::cleanup::wait(std::time::Duration::from_secs(15)).await {
            exec.log(Level::Warn, None, "Some cleanup (aborting uploads, cancelling queries) did not finish within 15s");
        }
        let record = exec.record();
        let text = masker.mask(&serde_json::to_string_pretty(&record).unwrap_or_default());
        let record_uri = exec.prefix.record();
        if let Ok(path) = exec.storage.path(&record_uri) {
            let written = path
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|_| std::fs::write(&path, &text));
            if let Err(e) = written {
                eprintln!(
                    "{}: cannot write the execution record to {}: {e}",
                    style.error_label(),
                    path.display()
                );
            }
        }
        eprint!("{}", masker.mask(&summary(&record, state)));
        if args.json {
            println!("{text}");
        }
        if state.is_failed() {
            exit::FAILED
        } else {
            exit::SUCCESS
        }
    })
}

/// SIGINT (Ctrl-C) and SIGTERM, listened for from the moment they are installed.
struct Interrupts {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Interrupts {
    #[cfg(unix)]
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Interrupts {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    #[cfg(not(unix))]
    fn install() -> std::io::Result<Self> {
        Ok(Interrupts {})
    }

    #[cfg(unix)]
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
        }
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> &'static str {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

/// `runner secrets encode`: plain values to SECRET_NAME=base64, one unwrapped line each.
fn secrets_encode(input: &Path, output: &Path, force: bool) -> u8 {
    let text = match std::fs::read_to_string(input) {
        Ok(t) => t,
        Err(e) => {
            return report(
                format!("cannot read `{}`: {e}", input.display()),
                exit::FAILED,
            );
        }
    };
    let entries = match runner_secrets::env_file::parse(&text) {
        Ok(e) => e,
        Err(e) => {
            return report(
                format!("{}:{}: {}", input.display(), e.line, e.message),
                exit::FAILED,
            );
        }
    };
    if output.exists() && !force {
        return report(
            format!("`{}` exists: pass --force to replace it", output.display()),
            exit::FAILED,
        );
    }
    let encoded = runner_secrets::env_file::encode(&entries);
    if let Err(e) = write_private(output, encoded.as_bytes()) {
        return report(
            format!("cannot write `{}`: {e}", output.display()),
            exit::FAILED,
        );
    }
    eprintln!(
        "wrote {} secret(s) to {} (mode 0600): pass it with --env-file {}",
        entries.len(),
        output.display(),
        output.display()
    );
    exit::SUCCESS
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let mut file = options.open(path)?;
        // An existing file keeps its mode on open: set it.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        return file.write_all(bytes);
    }
    #[allow(unreachable_code)]
    options.open(path)?.write_all(bytes)
}

/// `PT0.0123S` as `12.3ms`, `PT65.2S` as `1m05.2s`: the record keeps Kestra's ISO form.
fn human(iso: Option<&str>) -> String {
    let Some(d) = iso.and_then(runner_model::parse_duration) else {
        return "-".into();
    };
    let secs = d.as_secs_f64();
    match secs {
        s if s < 0.001 => format!("{}µs", d.as_micros()),
        s if s < 1.0 => format!("{:.1}ms", s * 1000.0),
        s if s < 60.0 => format!("{s:.2}s"),
        s => format!("{}m{:04.1}s", (s / 60.0) as u64, s % 60.0),
    }
}

/// The table of task runs that ends a run, on stderr.
fn summary(record: &Json, state: State) -> String {
    let runs = record["taskRunList"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let label = |r: &Json| match r["value"].as_str() {
        Some(v) => format!("{} [{v}]", r["taskId"].as_str().unwrap_or_default()),
        None => r["taskId"].as_str().unwrap_or_default().to_string(),
    };
    let width = runs
        .iter()
        .map(|r| label(r).chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = format!("\n{:<width$}  {:<9}  DURATION\n", "TASK", "STATE");
    for r in &runs {
        let duration = human(r["state"]["duration"].as_str());
        let _ = std::fmt::Write::write_fmt(
            &mut out,
            format_args!(
                "{:<width$}  {:<9}  {duration}\n",
                label(r),
                r["state"]["current"].as_str().unwrap_or_default()
            ),
        );
    }
    let took = human(record["state"]["duration"].as_str());
    out.push_str(&format!(
        "Execution {} of {}.{} ended {state} in {took}\n",
        record["id"].as_str().unwrap_or_default(),
        record["namespace"].as_str().unwrap_or_default(),
        record["flowId"].as_str().unwrap_or_default()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn durations_read_like_a_person_would_write_them() {
        assert_eq!(human(Some("PT0.000268299S")), "268µs");
        assert_eq!(human(Some("PT0.0123S")), "12.3ms");
        assert_eq!(human(Some("PT2.5S")), "2.50s");
        assert_eq!(human(Some("PT1M5.25S")), "1m05.2s");
        assert_eq!(human(None), "-");
    }
}
