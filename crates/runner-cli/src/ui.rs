//! `runner ui`: serves runner-ui over the storage folder and the flows folder. This module
//! gives it what only the binary has: validation (the registry) and a way to start a run
//! (this same binary's `run`, as a child process, so a flow can never take the UI down).

use crate::cli::UiArgs;
use crate::exit;
use runner_core::flow_calls;
use runner_ui::{Catalog, FlowEntry, Launched, Launcher, Note, Ui};
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How much of a launched run's output is kept to show when it fails before its record.
const OUTPUT_TAIL: usize = 16 * 1024;

pub(crate) fn ui(args: UiArgs) -> u8 {
    let flows = if args.flows.is_empty() {
        vec![if Path::new("flows").is_dir() {
            PathBuf::from("flows")
        } else {
            PathBuf::from(".")
        }]
    } else {
        args.flows.clone()
    };
    for f in &flows {
        if !f.is_dir() {
            return crate::report(
                format!("--flows `{}` is not a folder", f.display()),
                exit::INVALID,
            );
        }
    }
    let storage = args
        .storage
        .clone()
        .unwrap_or_else(|| PathBuf::from(".runner/storage"));
    let state = args.state.clone().unwrap_or_else(|| {
        storage
            .parent()
            .map_or_else(|| PathBuf::from("state"), |p| p.join("state"))
    });
    let environment = match crate::files::environment(&args.env) {
        Ok(e) => e,
        Err(e) => return crate::report(e, exit::INVALID),
    };
    let masker = Arc::new(runner_core::Masker::default());
    for problem in environment.mask_all(&masker) {
        crate::say!("warning: {problem}");
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            return crate::report(
                format!("cannot find this program's path: {e}"),
                exit::FAILED,
            );
        }
    };
    let loopback = args.host.is_loopback();
    let token = (!loopback).then(new_token);
    let listener = match std::net::TcpListener::bind((args.host, args.port)) {
        Ok(l) => l,
        Err(e) => {
            return crate::report(
                format!(
                    "cannot listen on {}:{}: {e} (another program has the port? give --port N, or 0 for any free one)",
                    args.host, args.port
                ),
                exit::INVALID,
            );
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(args.port);
    let ui = Ui {
        storage: storage.clone(),
        uploads: uploads_of(&state),
        catalog: Arc::new(FolderCatalog {
            roots: flows.clone(),
        }),
        launcher: Arc::new(ChildLauncher {
            exe,
            storage: storage.clone(),
            state: state.clone(),
            flows: flows.clone(),
            env_files: args.env.env_files.clone(),
            identity: args.env.identity.clone(),
            runs: Mutex::new(HashMap::new()),
        }),
        kv: Arc::new(StateKv { state }),
        masker,
        token: token.clone(),
        port,
    };
    // 0.0.0.0 is no address to open (browsers refuse it): the loopback one is, and other
    // machines use this one's name in its place.
    let host = if loopback || args.host.is_unspecified() {
        "127.0.0.1".to_string()
    } else if args.host.is_ipv6() {
        format!("[{}]", args.host)
    } else {
        args.host.to_string()
    };
    let address = match &token {
        Some(t) => format!("http://{host}:{port}/?token={t}"),
        None => format!("http://{host}:{port}/"),
    };
    // On stdout, alone on its line: scripts and tests read the address from here.
    let _ = crate::write_stdout(format!("runner ui: {address}\n").as_bytes());
    crate::say!(
        "storage: {}, flows: {} (Ctrl-C stops)",
        storage.display(),
        flows
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if args.host.is_unspecified() {
        crate::say!(
            "listening on every address of this machine: from another one, put its name or address in place of 127.0.0.1"
        );
    }
    if args.open {
        open_browser(&address);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return crate::report(format!("cannot start the async runtime: {e}"), exit::FAILED);
        }
    };
    let served = runtime.block_on(async move {
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        tokio::select! {
            r = runner_ui::serve(listener, Arc::new(ui)) => r,
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    });
    match served {
        Ok(()) => exit::SUCCESS,
        Err(e) => crate::report(format!("the UI stopped: {e}"), exit::FAILED),
    }
}

/// Where the Run form's uploads wait for their run.
fn uploads_of(state: &Path) -> PathBuf {
    state.join("ui-uploads")
}

fn new_token() -> String {
    // Two ids: 128 random bits is plenty, and the friendly form is easy to copy.
    format!(
        "{}{}",
        runner_core::ids::friendly_id(),
        runner_core::ids::friendly_id()
    )
}

fn open_browser(address: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    match std::process::Command::new(opener)
        .arg(address)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(_) => {}
        Err(e) => crate::say!("cannot open a browser ({opener}: {e}): open {address}"),
    }
}

/// The flows folders, read and validated again for each page.
struct FolderCatalog {
    roots: Vec<PathBuf>,
}

impl Catalog for FolderCatalog {
    fn flows(&self) -> Vec<FlowEntry> {
        self.read(None)
    }

    fn find(&self, namespace: &str, id: &str) -> Option<FlowEntry> {
        self.read(Some((namespace, id))).into_iter().next()
    }

    fn check(&self, text: &str) -> Vec<Note> {
        check_text(text)
    }
}

impl FolderCatalog {
    /// Every flow of the folders, or only `namespace.id` (the others are parsed, not
    /// validated).
    fn read(&self, only: Option<(&str, &str)>) -> Vec<FlowEntry> {
        let registry = crate::registry();
        let renderer = runner_template::Renderer::new();
        // A folder or file that cannot be read is listed with why (the flows page shows it),
        // not left out in silence.
        let unreadable = |file: PathBuf, message: String| FlowEntry {
            namespace: None,
            id: None,
            file,
            source: String::new(),
            document: 0,
            notes: vec![Note {
                line: 0,
                col: 0,
                error: true,
                message,
            }],
            valid: false,
        };
        let paths = match crate::files::collect(&self.roots) {
            Ok(p) => p,
            Err(e) if only.is_none() => return vec![unreadable(self.roots[0].clone(), e)],
            Err(_) => return Vec::new(),
        };
        let mut out = Vec::new();
        // What `validate` checks across flows: the flows each shown flow calls, by name.
        let mut known: BTreeMap<String, flow_calls::Declared> = BTreeMap::new();
        let mut calls: BTreeMap<String, Vec<flow_calls::Call>> = BTreeMap::new();
        for path in paths {
            let file = match crate::files::read(&path) {
                Ok(f) => f,
                Err(e) if only.is_none() => {
                    out.push(unreadable(path.clone(), e));
                    continue;
                }
                Err(_) => continue,
            };
            let source = file.text.text().to_string();
            let docs = match &file.docs {
                Ok(d) => d,
                Err(_) if only.is_some() => continue,
                Err(d) => {
                    out.push(FlowEntry {
                        namespace: None,
                        id: None,
                        file: path.clone(),
                        source,
                        document: 0,
                        notes: vec![note(d)],
                        valid: false,
                    });
                    continue;
                }
            };
            for (i, doc) in docs.iter().enumerate() {
                if runner_testsuite::is_test_suite(doc) {
                    continue;
                }
                let text = |k: &str| {
                    doc.get(k)
                        .and_then(runner_model::Node::as_str)
                        .map(str::to_string)
                };
                let name = text("namespace")
                    .zip(text("id"))
                    .map(|(ns, id)| format!("{ns}.{id}"));
                if let Some(n) = &name {
                    known
                        .entry(n.clone())
                        .or_insert_with(|| flow_calls::declared(doc));
                }
                if only.is_some_and(|(ns, id)| {
                    text("namespace").as_deref() != Some(ns) || text("id").as_deref() != Some(id)
                }) {
                    continue;
                }
                if let Some(n) = name {
                    let found = flow_calls::calls(doc, &registry);
                    if !found.is_empty() {
                        calls.insert(n, found);
                    }
                }
                let v = runner_core::validate(doc, &registry, &renderer);
                out.push(FlowEntry {
                    namespace: text("namespace"),
                    id: text("id"),
                    file: path.clone(),
                    source: source.clone(),
                    document: i,
                    notes: v.diagnostics.iter().map(note).collect(),
                    valid: v.plan.is_some(),
                });
            }
        }
        let problems = flow_calls::check(&calls, &known);
        for entry in &mut out {
            let Some(found) = entry
                .namespace
                .as_ref()
                .zip(entry.id.as_ref())
                .and_then(|(ns, id)| problems.get(&format!("{ns}.{id}")))
            else {
                continue;
            };
            for d in found {
                entry.notes.push(note(d));
                if d.is_error() {
                    entry.valid = false;
                }
            }
        }
        out
    }
}

/// What validation says of an edited text, as the editor page shows it.
fn check_text(text: &str) -> Vec<Note> {
    let registry = crate::registry();
    crate::lsp::check(text, &registry, &runner_template::Renderer::new())
        .iter()
        .map(note)
        .collect()
}

fn note(d: &runner_model::Diagnostic) -> Note {
    Note {
        line: d.span.map_or(0, |s| s.line),
        col: d.span.map_or(0, |s| s.col),
        error: d.severity == runner_model::Severity::Error,
        message: d.problem.to_string(),
    }
}

/// The KV store of the state folder the UI's runs use, opened for each page.
struct StateKv {
    state: PathBuf,
}

impl runner_ui::KvView for StateKv {
    fn entries(&self, namespace: Option<&str>) -> Result<Vec<runner_ui::KvEntry>, String> {
        use runner_core::kv::{KvLookup, KvRead, KvStore};
        // No store yet: no key (opening would create one).
        if !self.state.join(runner_kv::FILE_NAME).is_file() {
            return Ok(Vec::new());
        }
        let store = runner_kv::SqliteKv::open(&self.state).map_err(|e| e.to_string())?;
        let keys = store.all_keys().map_err(|e| e.to_string())?;
        Ok(keys
            .into_iter()
            .filter(|k| namespace.is_none_or(|ns| k.namespace == ns))
            .map(|k| {
                // An expired key is not read: reading it would delete it. Values are read for
                // one namespace's page only.
                let value = (!k.expired && namespace.is_some())
                    .then(|| store.lookup(&k.namespace, &k.key, false).ok())
                    .flatten()
                    .and_then(|l| match l {
                        KvLookup::Found(v) => Some(v),
                        _ => None,
                    });
                runner_ui::KvEntry {
                    namespace: k.namespace,
                    key: k.key,
                    kv_type: k.kv_type,
                    version: k.version,
                    updated: k.updated,
                    expires: k.expires,
                    expired: k.expired,
                    value,
                }
            })
            .collect())
    }
}

/// Starts runs as `runner run` child processes, with the UI's storage, state, flows and env
/// files; the inputs go on stdin, so a SECRET input never reaches a file or the process list.
struct ChildLauncher {
    exe: PathBuf,
    storage: PathBuf,
    state: PathBuf,
    flows: Vec<PathBuf>,
    env_files: Vec<PathBuf>,
    identity: Option<PathBuf>,
    runs: Mutex<HashMap<String, Arc<Mutex<Launched>>>>,
}

impl Launcher for ChildLauncher {
    fn launch(
        &self,
        flow: &FlowEntry,
        inputs: serde_json::Map<String, serde_json::Value>,
    ) -> Result<String, String> {
        use std::process::{Command, Stdio};
        let id = runner_core::ids::friendly_id();
        let mut command = Command::new(&self.exe);
        command
            .arg("run")
            .arg(&flow.file)
            .arg("--storage")
            .arg(&self.storage)
            .arg("--state")
            .arg(&self.state)
            .args([
                "--execution-id",
                &id,
                "--inputs-file",
                "-",
                "--progress",
                "never",
            ]);
        for f in &self.flows {
            command.arg("--flows").arg(f);
        }
        for f in &self.env_files {
            command.arg("--env-file").arg(f);
        }
        // The credentials this process sealed away: the child seals them again at once.
        command.envs(crate::seal::credential_vars());
        if let Some(i) = &self.identity {
            command.arg("--identity").arg(i);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start `{} run`: {e}", self.exe.display()))?;
        // The Run form's uploads among the inputs: the run copies them into storage, then
        // they go.
        let uploads = uploads_of(&self.state);
        let uploaded: Vec<PathBuf> = inputs
            .values()
            .filter_map(|v| v.as_str())
            .map(PathBuf::from)
            .filter(|p| p.starts_with(&uploads))
            .filter_map(|p| p.parent().map(Path::to_path_buf))
            .collect();
        if let Some(mut stdin) = child.stdin.take() {
            let text = serde_json::Value::Object(inputs).to_string();
            stdin
                .write_all(text.as_bytes())
                .map_err(|e| format!("cannot pass the inputs to the run: {e}"))?;
        }
        let launched = follow(child, move || {
            for dir in uploaded {
                let _ = std::fs::remove_dir_all(dir);
            }
        });
        self.runs
            .lock()
            .expect("runs lock")
            .insert(id.clone(), launched.clone());
        // Answer once the run has its folder (the page then shows it), or has ended.
        let began = Instant::now();
        while began.elapsed() < Duration::from_secs(10) {
            if runner_ui::has_execution(&self.storage, &id)
                || launched.lock().expect("launch lock").exit_code.is_some()
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Ok(id)
    }

    fn status(&self, execution_id: &str) -> Option<Launched> {
        let runs = self.runs.lock().expect("runs lock");
        runs.get(execution_id)
            .map(|l| l.lock().expect("launch lock").clone())
    }

    fn go_on(&self, execution_id: &str, action: &runner_ui::Action) -> Result<(), String> {
        use runner_ui::Action;
        use std::process::{Command, Stdio};
        let mut command = Command::new(&self.exe);
        let verb = match action {
            Action::Resume(_) => "resume",
            Action::Restart => "restart",
            Action::Kill => "kill",
        };
        command
            .args([verb, execution_id, "--storage"])
            .arg(&self.storage);
        if !matches!(action, Action::Kill) {
            command
                .arg("--state")
                .arg(&self.state)
                .args(["--progress", "never"]);
            for f in &self.flows {
                command.arg("--flows").arg(f);
            }
            for f in &self.env_files {
                command.arg("--env-file").arg(f);
            }
            command.envs(crate::seal::credential_vars());
            if let Some(i) = &self.identity {
                command.arg("--identity").arg(i);
            }
        }
        if matches!(action, Action::Resume(_)) {
            command.args(["--inputs-file", "-"]);
        }
        let before = execution_state(&self.storage, execution_id);
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start `{} {verb}`: {e}", self.exe.display()))?;
        if let (Action::Resume(inputs), Some(mut stdin)) = (action, child.stdin.take()) {
            let text = serde_json::Value::Object(inputs.clone()).to_string();
            stdin
                .write_all(text.as_bytes())
                .map_err(|e| format!("cannot pass the inputs: {e}"))?;
        }
        let launched = follow(child, || {});
        // Answer once the execution's state moved on, or the command ended.
        let began = Instant::now();
        while began.elapsed() < Duration::from_secs(30) {
            let l = launched.lock().expect("launch lock").clone();
            let moved = execution_state(&self.storage, execution_id) != before;
            match l.exit_code {
                // 3: it went on and reached another Pause.
                Some(0 | 3) => return Ok(()),
                Some(code) if !moved => {
                    let said = l
                        .output
                        .lines()
                        .find(|line| line.starts_with("error"))
                        .unwrap_or(l.output.trim())
                        .trim_start_matches("error: ")
                        .to_string();
                    return Err(if said.is_empty() {
                        format!("`runner {verb}` ended with exit code {code}")
                    } else {
                        said
                    });
                }
                _ if moved => return Ok(()),
                _ => {}
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Ok(())
    }
}

/// Follows a child `runner` process on a thread of its own: its stderr (masked by the child)
/// is read to its end, so it never blocks on a full pipe, and its tail kept; then its exit
/// code, then `after`.
fn follow(
    mut child: std::process::Child,
    after: impl FnOnce() + Send + 'static,
) -> Arc<Mutex<Launched>> {
    let launched = Arc::new(Mutex::new(Launched {
        exit_code: None,
        output: String::new(),
    }));
    let keep = launched.clone();
    let mut stderr = child.stderr.take();
    std::thread::spawn(move || {
        let mut tail: Vec<u8> = Vec::new();
        if let Some(err) = stderr.as_mut() {
            let mut buf = [0u8; 8192];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > OUTPUT_TAIL {
                    tail.drain(..tail.len() - OUTPUT_TAIL);
                }
                keep.lock().expect("launch lock").output =
                    String::from_utf8_lossy(&tail).into_owned();
            }
        }
        let code = child.wait().map(|s| s.code().unwrap_or(-1)).unwrap_or(-1);
        keep.lock().expect("launch lock").exit_code = Some(code);
        after();
    });
    launched
}

/// The state an execution's record says, if it can be read.
fn execution_state(storage: &Path, id: &str) -> Option<String> {
    let dir = runner_ui::execution_folder(storage, id)?;
    let text = std::fs::read_to_string(dir.join("execution.json")).ok()?;
    let record: serde_json::Value = serde_json::from_str(&text).ok()?;
    record["state"]["current"].as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flows_pages_show_what_validate_says_across_flows() {
        let dir = std::env::temp_dir().join(format!("runner-ui-catalog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("child.yaml"),
            "id: child\nnamespace: company.team\ninputs:\n  - id: day\n    type: STRING\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("parent.yaml"),
            "id: parent\nnamespace: company.team\ntasks:\n  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: company.team\n    flowId: child\n",
        )
        .unwrap();
        let catalog = FolderCatalog {
            roots: vec![dir.clone()],
        };
        let listed = catalog
            .flows()
            .into_iter()
            .find(|f| f.id.as_deref() == Some("parent"))
            .unwrap();
        for parent in [catalog.find("company.team", "parent").unwrap(), listed] {
            assert!(!parent.valid);
            let messages: Vec<&str> = parent.notes.iter().map(|n| n.message.as_str()).collect();
            assert!(
                parent.notes.iter().any(|n| n.error
                    && n.message
                        == "subflow company.team.child requires input `day`, which is not given"),
                "{messages:?}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
