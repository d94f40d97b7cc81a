//! `runner test [PATH...]`: Kestra's flow unit tests. Each test case of each suite runs as
//! its own execution of the flow, with its fixtures (tasks replaced, inputs, files, trigger),
//! then its assertions are checked against what the execution ended with. Results go to the
//! terminal, and on request to a JUnit XML file and Kestra's JSON shape.

use crate::cli::TestArgs;
use crate::diagnostics::{Style, render};
use crate::exit;
use crate::files::{self, FlowFile};
use runner_core::{Level, LogFormat, State, TaskFixture};
use runner_model::{Diagnostic, Node, Problem};
use runner_template::Renderer;
use runner_testsuite::{CaseResult, CaseState, SuiteResult, TestSuite, UnitTest};
use serde_json::Value as Json;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One suite ready to run: where it and its flow are.
struct Loaded {
    suite: TestSuite,
    file: String,
    flow: Arc<FlowFile>,
    flow_doc: usize,
}

pub(crate) fn test(args: TestArgs) -> u8 {
    if !args.watch {
        return run_once(&args, None).0;
    }
    let mut roots = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    roots.extend(args.flows.iter().cloned());
    let mut last: Option<Vec<SuiteResult>> = None;
    crate::watch::watch(&roots, |_| {
        let (code, suites) = run_once(&args, last.as_deref());
        last = Some(suites);
        code
    })
}

/// Each case's state of a run, by suite and case id.
fn states(suites: &[SuiteResult]) -> std::collections::BTreeMap<(String, String), CaseState> {
    suites
        .iter()
        .flat_map(|s| {
            s.cases
                .iter()
                .map(|c| ((format!("{}.{}", s.namespace, s.id), c.id.clone()), c.state))
        })
        .collect()
}

/// One run of the suites; with `previous` (watch mode), only the cases whose state changed
/// since it are shown, and the rest counted.
fn run_once(args: &TestArgs, previous: Option<&[SuiteResult]>) -> (u8, Vec<SuiteResult>) {
    let style = Style::stderr();
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let found = match files::collect(&paths) {
        Ok(f) => f,
        Err(e) => return (crate::report(e, exit::INVALID), Vec::new()),
    };
    let flow_roots = if args.flows.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.flows.clone()
    };
    let folder = Arc::new(crate::flows::FlowFolder::new(flow_roots));
    let mut invalid = false;
    let mut loaded = Vec::new();
    for path in found {
        let Ok(file) = files::read(&path) else {
            continue;
        };
        let Ok(docs) = &file.docs else {
            continue;
        };
        for doc in docs.iter().filter(|d| runner_testsuite::is_test_suite(d)) {
            match runner_testsuite::read(doc) {
                Ok(suite) => match locate_flow(&folder, &suite, doc) {
                    Ok((flow, flow_doc)) => loaded.push(Loaded {
                        suite,
                        file: path.display().to_string(),
                        flow,
                        flow_doc,
                    }),
                    Err(d) => {
                        invalid = true;
                        crate::say_raw!("{}", render(&d, &file.path, &file.text, &style));
                    }
                },
                Err(problems) => {
                    invalid = true;
                    for d in problems {
                        crate::say_raw!("{}", render(&d, &file.path, &file.text, &style));
                    }
                }
            }
        }
    }
    if loaded.is_empty() && !invalid {
        return (
            crate::report(
                format!(
                    "no test suite in {}: a test suite is a YAML file with `testCases` (and `namespace`, `flowId`)",
                    paths
                        .iter()
                        .map(|p| format!("`{}`", p.display()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                exit::INVALID,
            ),
            Vec::new(),
        );
    }
    if !args.test_cases.is_empty() {
        let known: HashSet<&str> = loaded
            .iter()
            .flat_map(|l| l.suite.cases.iter().map(|c| c.id.as_str()))
            .collect();
        for wanted in &args.test_cases {
            if !known.contains(wanted.as_str()) {
                return (
                    crate::report(
                        format!("--test-case {wanted}: no test case has that id"),
                        exit::INVALID,
                    ),
                    Vec::new(),
                );
            }
        }
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let limits = match crate::limits::expressions() {
        Ok(l) => l,
        Err(e) => return (crate::report(e, exit::INVALID), Vec::new()),
    };
    let run_limits = match crate::limits::run() {
        Ok(l) => l,
        Err(e) => return (crate::report(e, exit::INVALID), Vec::new()),
    };
    let settings = Arc::new(Settings {
        env_files: args.env.clone(),
        places: crate::launch::Places::new(args.storage.as_deref(), None, None),
        powers: args.powers.clone(),
        limits,
        run_limits,
        folder,
        fail_fast: args.fail_fast,
        stop: std::sync::atomic::AtomicBool::new(false),
    });
    // The environment is read once up front so a broken env file is one clear error.
    if let Err(e) = files::environment(&settings.env_files) {
        return (crate::report(e, exit::INVALID), Vec::new());
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(jobs.clamp(2, 16))
        .thread_stack_size(8 * 1024 * 1024)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return (
                crate::report(
                    format!("cannot start the async runtime: {e}"),
                    exit::INVALID,
                ),
                Vec::new(),
            );
        }
    };
    let started = Instant::now();
    let wanted: Arc<Vec<String>> = Arc::new(args.test_cases.clone());
    let stream = previous.is_none();
    let suites = runtime.block_on(run_all(loaded, settings.clone(), wanted, jobs, stream));
    runtime.shutdown_background();
    if let Some(previous) = previous {
        print_changes(&suites, previous);
    }
    let mut code = summary(&suites, started.elapsed());
    if invalid {
        code = exit::INVALID;
    }
    if let Some(path) = &args.junit
        && let Err(e) = write_atomically(path, runner_testsuite::junit(&suites).as_bytes())
    {
        crate::say!(
            "{}: cannot write {}: {e}",
            style.error_label(),
            path.display()
        );
        code = code.max(exit::FAILED);
    }
    if args.json {
        let mut text = serde_json::to_string_pretty(&runner_testsuite::kestra_json(&suites))
            .unwrap_or_default();
        text.push('\n');
        if let Err(e) = crate::write_stdout(text.as_bytes()) {
            crate::say!("{}: cannot print the results: {e}", style.error_label());
            code = code.max(exit::FAILED);
        }
    }
    (code, suites)
}

/// The flow a suite tests, from the flows folder; Kestra's message when there is none.
fn locate_flow(
    folder: &crate::flows::FlowFolder,
    suite: &TestSuite,
    doc: &Node,
) -> Result<(Arc<FlowFile>, usize), Diagnostic> {
    let missing = || {
        Diagnostic::error(
            Problem::TestSuite {
                message: format!(
                    "Invalid TestSuite: Flow with id: '{}' does not exist on Namespace: '{}'.",
                    suite.flow_id, suite.namespace
                ),
            },
            doc.get("flowId").map(|n| n.span),
            "flowId",
        )
    };
    // Only a flow no file defines gets Kestra's message; a folder that cannot be read or a
    // flow defined twice is said as it is.
    let other = |why: String| {
        Diagnostic::error(
            Problem::TestSuite {
                message: format!("the flow this suite tests cannot be loaded: {why}"),
            },
            doc.get("flowId").map(|n| n.span),
            "flowId",
        )
    };
    let path = folder
        .file_of(&format!("{}.{}", suite.namespace, suite.flow_id))
        .map_err(other)?
        .ok_or_else(missing)?;
    let file = files::read(&path).map_err(other)?;
    let index = file
        .docs
        .as_ref()
        .ok()
        .and_then(|docs| {
            docs.iter().position(|d| {
                d.get("namespace").and_then(Node::as_str) == Some(suite.namespace.as_str())
                    && d.get("id").and_then(Node::as_str) == Some(suite.flow_id.as_str())
            })
        })
        .ok_or_else(missing)?;
    Ok((Arc::new(file), index))
}

/// What every case's execution is built from.
struct Settings {
    env_files: files::EnvFiles,
    places: crate::launch::Places,
    powers: crate::cli::PowerArgs,
    limits: runner_core::Limits,
    run_limits: runner_core::RunLimits,
    folder: Arc<crate::flows::FlowFolder>,
    fail_fast: bool,
    /// Set by --fail-fast after the first case that did not pass.
    stop: std::sync::atomic::AtomicBool,
}

async fn run_all(
    loaded: Vec<Loaded>,
    settings: Arc<Settings>,
    wanted: Arc<Vec<String>>,
    jobs: usize,
    stream: bool,
) -> Vec<SuiteResult> {
    let mut suites = Vec::new();
    // Every case to run, in file order: workers take them in that order, so `-j 1` runs
    // them one after the other as written (and --fail-fast stops at the first failure).
    let mut queue = Vec::new();
    for (si, l) in loaded.into_iter().enumerate() {
        let loaded = Arc::new(l);
        for case in &loaded.suite.cases {
            if wanted.is_empty() || wanted.contains(&case.id) {
                queue.push((si, loaded.clone(), case.clone()));
            }
        }
        suites.push(SuiteResult {
            id: loaded.suite.id.clone(),
            namespace: loaded.suite.namespace.clone(),
            flow_id: loaded.suite.flow_id.clone(),
            file: loaded.file.clone(),
            start: jiff::Timestamp::now().to_string(),
            end: String::new(),
            cases: Vec::new(),
        });
    }
    let queue = Arc::new(queue);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let results = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..jobs.min(queue.len()).max(1))
        .map(|_| {
            let (queue, next, results, settings) = (
                queue.clone(),
                next.clone(),
                results.clone(),
                settings.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some((si, loaded, case)) = queue.get(i) else {
                        return;
                    };
                    let result = run_case(loaded, case, &settings).await;
                    if stream {
                        print_case(&loaded.suite, &loaded.file, &result);
                    }
                    if settings.fail_fast
                        && matches!(result.state, CaseState::Failed | CaseState::Error)
                    {
                        settings
                            .stop
                            .store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    results.lock().expect("results").push((*si, i, result));
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.await;
    }
    let mut results = std::mem::take(&mut *results.lock().expect("results"));
    // Reports list cases in file order, whatever order they finished in.
    results.sort_by_key(|(_, i, _)| *i);
    for (si, _, result) in results {
        suites[si].cases.push(result);
    }
    let end = jiff::Timestamp::now().to_string();
    for s in &mut suites {
        s.end = end.clone();
    }
    suites.retain(|s| !s.cases.is_empty());
    suites
}

fn skipped(case: &UnitTest, why: &str) -> CaseResult {
    CaseResult {
        id: case.id.clone(),
        state: CaseState::Skipped,
        duration: Duration::ZERO,
        execution_id: None,
        assertions: Vec::new(),
        errors: Vec::new(),
        logs: why.to_string(),
        fixtures: case.fixtures.raw.clone(),
        description: case.description.clone(),
    }
}

fn errored(case: &UnitTest, started: Instant, message: String, logs: String) -> CaseResult {
    CaseResult {
        id: case.id.clone(),
        state: CaseState::Error,
        duration: started.elapsed(),
        execution_id: None,
        assertions: Vec::new(),
        errors: vec![runner_testsuite::RunError {
            message,
            details: None,
            span: None,
        }],
        logs,
        fixtures: case.fixtures.raw.clone(),
        description: case.description.clone(),
    }
}

/// A log writer whose lines are kept for the report (the sink masks them first).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn run_case(loaded: &Loaded, case: &UnitTest, settings: &Settings) -> CaseResult {
    let started = Instant::now();
    if loaded.suite.disabled {
        return skipped(case, "the test suite is disabled");
    }
    if case.disabled {
        return skipped(case, "the test case is disabled");
    }
    if settings.stop.load(std::sync::atomic::Ordering::SeqCst) {
        return skipped(case, "not run: an earlier case failed (--fail-fast)");
    }
    // The flow, with the tasks this case's fixtures name allowed to be of types runner lacks.
    let fixture_ids: HashSet<String> = case.fixtures.tasks.iter().map(|t| t.id.clone()).collect();
    let docs = loaded.flow.docs.as_ref().expect("located in a parsed file");
    let validation = runner_core::validate_under_test(
        &docs[loaded.flow_doc],
        &crate::registry(),
        &Renderer::new(),
        &fixture_ids,
    );
    let Some(plan) = validation.plan else {
        let style = Style::plain();
        let text: String = validation
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| render(d, &loaded.flow.path, &loaded.flow.text, &style))
            .collect();
        return errored(
            case,
            started,
            format!(
                "flow {}.{} cannot run: {}",
                loaded.suite.namespace,
                loaded.suite.flow_id,
                first_line(&text)
            ),
            text,
        );
    };
    let environment = match files::environment(&settings.env_files) {
        Ok(e) => e,
        Err(e) => return errored(case, started, e, String::new()),
    };
    // Each case has its own state (KV store, uploaded namespace files): cases running side
    // by side never see each other's writes. Removed when the case ends.
    let id = runner_core::ids::friendly_id();
    let state = settings
        .places
        .storage
        .parent()
        .map_or_else(|| PathBuf::from("test-state"), |p| p.join("test-state"))
        .join(&id);
    let state_guard = RemoveOnDrop(state.clone());
    let fixtures: Vec<TaskFixture> = case
        .fixtures
        .tasks
        .iter()
        .map(|t| TaskFixture {
            id: t.id.clone(),
            value: t.value.clone(),
            // The model admits only the states a fixture can end a task run in.
            state: State::parse(&t.state).unwrap_or(State::Success),
            outputs: t.outputs.clone(),
        })
        .collect();
    let log = Captured::default();
    let flow_dir = loaded
        .flow
        .path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let places = crate::launch::Places {
        state: state.clone(),
        ..settings.places.clone()
    };
    let mut builder = crate::launch::builder(plan, &places, &settings.powers, crate::registry())
        .id(id)
        .kv(Arc::new(runner_kv::LazyKv::new(
            state.clone(),
            vec![loaded.suite.namespace.clone()],
        )))
        .namespace_files(
            loaded.suite.namespace.clone(),
            crate::launch::absolute(&flow_dir.join("_files")),
        )
        .flows(settings.folder.clone())
        .environment(environment)
        .limits(settings.limits.clone())
        .run_limits(settings.run_limits)
        .log(Box::new(log.clone()), LogFormat::Text, Level::Info)
        .inputs(case.fixtures.inputs.clone())
        .test_fixtures(fixtures, case.fixtures.files.clone());
    builder = crate::launch::flows_folder(builder, settings.folder.roots(), false);
    if let Some(t) = &case.fixtures.trigger {
        builder = builder.trigger(Json::Object(t.variables.clone()));
    }
    let logs = || String::from_utf8_lossy(&log.0.lock().expect("log buffer")).into_owned();
    let execution = match builder.start().await {
        Ok(e) => e,
        Err(e) => return errored(case, started, e.to_string(), logs()),
    };
    execution.run().await;
    let _ = execution.write_record();
    let mut assertions = Vec::new();
    let mut errors = Vec::new();
    for a in &case.assertions {
        let (mut r, mut e) =
            runner_testsuite::evaluate(a, &mut |v: &Json| execution.render_final(v));
        for result in &mut r {
            result.error_message = result.error_message.as_deref().map(|m| execution.mask(m));
            result.description = result.description.as_deref().map(|m| execution.mask(m));
            // Values compared may hold secrets: the JSON report shows them masked too.
            result.actual = mask_json(&execution, &result.actual);
            result.expected = mask_json(&execution, &result.expected);
        }
        for err in &mut e {
            err.message = execution.mask(&err.message);
            err.details = err.details.as_deref().map(|d| execution.mask(d));
        }
        assertions.append(&mut r);
        errors.append(&mut e);
    }
    drop(state_guard);
    CaseResult {
        id: case.id.clone(),
        state: CaseState::of(&assertions, &errors),
        duration: started.elapsed(),
        execution_id: Some(execution.id().to_string()),
        assertions,
        errors,
        logs: logs(),
        fixtures: mask_json(&execution, &case.fixtures.raw),
        description: case.description.clone(),
    }
}

fn mask_json(execution: &runner_core::Execution, v: &Json) -> Json {
    match v {
        Json::String(s) => Json::String(execution.mask(s)),
        Json::Array(items) => Json::Array(items.iter().map(|i| mask_json(execution, i)).collect()),
        Json::Object(m) => Json::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), mask_json(execution, v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn first_line(text: &str) -> &str {
    text.lines()
        .next()
        .unwrap_or("")
        .trim_start_matches("error: ")
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Watch mode: the cases whose state changed since the last run (new ones included), then a
/// count of the others.
fn print_changes(suites: &[SuiteResult], previous: &[SuiteResult]) {
    let before = states(previous);
    let mut unchanged = 0;
    for s in suites {
        for c in &s.cases {
            let key = (format!("{}.{}", s.namespace, s.id), c.id.clone());
            match before.get(&key) {
                Some(state) if *state == c.state => unchanged += 1,
                was => {
                    let note = was.map_or("new".to_string(), |w| format!("was {}", w.as_str()));
                    crate::say!("{} ({note}):", c.state.as_str());
                    print_result(&s.namespace, &s.id, &s.file, c);
                }
            }
        }
    }
    if unchanged > 0 {
        crate::say!("{unchanged} case(s) unchanged since the last run");
    }
}

fn print_case(suite: &TestSuite, file: &str, r: &CaseResult) {
    print_result(&suite.namespace, &suite.id, file, r);
}

fn print_result(namespace: &str, suite_id: &str, file: &str, r: &CaseResult) {
    let style = Style::stderr();
    let name = format!("{namespace}.{suite_id} › {}", r.id);
    let took = format!("{:.2}s", r.duration.as_secs_f64());
    let mut text = match r.state {
        CaseState::Success => format!("{} {name} ({took})\n", style.paint("32", "✓")),
        CaseState::Failed => format!("{} {name} ({took})\n", style.paint("31", "✗")),
        CaseState::Error => format!("{} {name} ({took})\n", style.paint("31", "!")),
        CaseState::Skipped => format!("{} {name} (skipped: {})\n", style.paint("33", "-"), r.logs),
    };
    for line in runner_testsuite::failure_lines(file, r) {
        text.push_str(&format!("    {line}\n"));
    }
    if matches!(r.state, CaseState::Error) && !r.logs.is_empty() {
        for line in r
            .logs
            .lines()
            .rev()
            .take(8)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            text.push_str(&format!("    | {line}\n"));
        }
    }
    crate::say_raw!("{text}");
}

fn summary(suites: &[SuiteResult], took: Duration) -> u8 {
    let count = |state| {
        suites
            .iter()
            .flat_map(|s| &s.cases)
            .filter(|c| c.state == state)
            .count()
    };
    let (passed, failed, errored, skipped) = (
        count(CaseState::Success),
        count(CaseState::Failed),
        count(CaseState::Error),
        count(CaseState::Skipped),
    );
    let total = passed + failed + errored + skipped;
    let verdict = if failed + errored > 0 { "FAILED" } else { "ok" };
    crate::say!(
        "\ntest result: {verdict}. {passed} passed; {failed} failed; {errored} errored; {skipped} skipped; {total} case(s) in {} suite(s); {:.2}s",
        suites.len(),
        took.as_secs_f64()
    );
    if failed + errored > 0 {
        exit::FAILED
    } else {
        exit::SUCCESS
    }
}

/// Writes through a temporary file beside `path`, so a reader never sees half a report.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(d) = dir {
        std::fs::create_dir_all(d)?;
    }
    let tmp = path.with_extension(format!("partial-{}", std::process::id()));
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}
