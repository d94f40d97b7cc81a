//! `--watch`: run, then run again whenever a flow, a test suite or a namespace file under the
//! watched folders changes, until a signal ends it. Changes are found by polling modification
//! times (no platform notification API, nothing to install), and a burst of saves is waited
//! out (debounced) before the next run. Storage, state, caches and hidden folders are not
//! watched: the runs write there.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

const POLL: Duration = Duration::from_millis(300);
/// No change for this long after the last one: the burst of saves is over.
const QUIET: Duration = Duration::from_millis(300);
/// A folder with more files than this is not scanned further (a mistaken `/`).
const MAX_FILES: usize = 20_000;

type Snapshot = BTreeMap<PathBuf, (SystemTime, u64)>;

/// Runs `body` now and after every change under `roots`; `body` gets the changed files (none
/// the first time). Returns the last run's exit code once a signal (Ctrl-C) arrives.
pub(crate) fn watch(roots: &[PathBuf], mut body: impl FnMut(&[PathBuf]) -> u8) -> u8 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return crate::report(
                format!("cannot start the async runtime: {e}"),
                crate::exit::INVALID,
            );
        }
    };
    // Listening starts before the first run: a Ctrl-C during a run ends the watch too.
    let interrupted = runtime.block_on(async { crate::signals::Interrupts::install() });
    let mut interrupts = match interrupted {
        Ok(i) => i,
        Err(e) => {
            return crate::report(
                format!("cannot listen for Ctrl-C: {e}"),
                crate::exit::INVALID,
            );
        }
    };
    let mut last = snapshot(roots);
    let mut code = body(&[]);
    loop {
        crate::say!("\nwatching {} for changes (Ctrl-C ends)", shown(roots));
        let change = runtime.block_on(async {
            tokio::select! {
                _ = interrupts.next() => None,
                files = next_change(roots, &last) => Some(files),
            }
        });
        let Some((now, files)) = change else {
            return code;
        };
        last = now;
        if std::io::stderr().is_terminal() {
            crate::say_raw!("\x1b[2J\x1b[H");
        }
        crate::say!(
            "changed: {}",
            files
                .iter()
                .map(|f| f.strip_prefix(".").unwrap_or(f).display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        code = body(&files);
    }
}

async fn next_change(roots: &[PathBuf], last: &Snapshot) -> (Snapshot, Vec<PathBuf>) {
    loop {
        tokio::time::sleep(POLL).await;
        let mut now = snapshot(roots);
        if now == *last {
            continue;
        }
        // Wait until the files stop changing.
        loop {
            tokio::time::sleep(QUIET).await;
            let again = snapshot(roots);
            if again == now {
                break;
            }
            now = again;
        }
        let mut changed: Vec<PathBuf> = now
            .iter()
            .filter(|(p, stamp)| last.get(*p) != Some(stamp))
            .map(|(p, _)| p.clone())
            .collect();
        changed.extend(last.keys().filter(|p| !now.contains_key(*p)).cloned());
        if !changed.is_empty() {
            return (now, changed);
        }
    }
}

fn shown(roots: &[PathBuf]) -> String {
    roots
        .iter()
        .map(|r| format!("`{}`", r.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Flows and suites (`.yaml`, `.yml`) and every file of a `_files` folder under `roots`.
fn snapshot(roots: &[PathBuf]) -> Snapshot {
    let mut out = Snapshot::new();
    for root in roots {
        if root.is_file() {
            stamp(root, &mut out);
            continue;
        }
        let mut stack = vec![(root.clone(), false)];
        while let Some((dir, in_files)) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if out.len() >= MAX_FILES {
                    return out;
                }
                let path = entry.path();
                let name = entry.file_name();
                let name = name.to_string_lossy();
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() {
                    let skipped =
                        name.starts_with('.') || matches!(name.as_ref(), "target" | "node_modules");
                    if !skipped {
                        stack.push((path, in_files || name == "_files"));
                    }
                } else if kind.is_file() && (in_files || is_yaml(&path)) {
                    stamp(&path, &mut out);
                }
            }
        }
    }
    out
}

fn is_yaml(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "yaml" || e == "yml")
}

fn stamp(path: &Path, out: &mut Snapshot) {
    if let Ok(m) = std::fs::metadata(path) {
        out.insert(
            path.to_path_buf(),
            (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()),
        );
    }
}
