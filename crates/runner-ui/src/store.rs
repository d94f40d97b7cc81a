//! Reading what runs left in storage: `{namespace}/{flow}/executions/{id}/` folders, each with
//! `execution.json` (the record, rewritten while the run goes) and `logs.jsonl`.

use serde::Deserialize;
use serde_json::Value as Json;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Component, Path, PathBuf};

/// How deep namespaces may nest under the storage folder when looking for executions.
const MAX_DEPTH: usize = 24;

/// The largest record read (a run of 100,000 task runs is about 100 MB).
const MAX_RECORD_BYTES: u64 = 512 * 1024 * 1024;

/// One execution's folder.
#[derive(Clone, Debug)]
pub(crate) struct ExecutionDir {
    pub(crate) id: String,
    pub(crate) dir: PathBuf,
}

/// Every execution folder under `root`; an unreadable folder is skipped (it is not ours).
pub(crate) fn execution_dirs(root: &Path) -> Vec<ExecutionDir> {
    let mut out = Vec::new();
    let mut todo = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            // Symbolic links are not followed: storage holds none, and a loop must not hang.
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if !kind.is_dir() {
                continue;
            }
            let path = entry.path();
            if entry.file_name() == "executions" {
                for e in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                    if e.file_type().is_ok_and(|k| k.is_dir())
                        && let Some(id) = e.file_name().to_str()
                    {
                        out.push(ExecutionDir {
                            id: id.to_string(),
                            dir: e.path(),
                        });
                    }
                }
            } else if depth < MAX_DEPTH {
                todo.push((path, depth + 1));
            }
        }
    }
    out
}

/// Where executions were last seen: a running execution's page asks for its folder twice a
/// second, and walking a storage of thousands of executions each time would be the cost.
static SEEN: std::sync::Mutex<Option<HashMap<(PathBuf, String), PathBuf>>> =
    std::sync::Mutex::new(None);

/// The folder of execution `id`, if storage has it.
pub(crate) fn find(root: &Path, id: &str) -> Option<ExecutionDir> {
    if !valid_id(id) {
        return None;
    }
    let key = (root.to_path_buf(), id.to_string());
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(dir) = seen.as_ref().and_then(|m| m.get(&key))
        && dir.is_dir()
    {
        return Some(ExecutionDir {
            id: id.to_string(),
            dir: dir.clone(),
        });
    }
    let all = execution_dirs(root);
    let map = seen.get_or_insert_with(HashMap::new);
    map.retain(|(r, _), _| r != root);
    for e in &all {
        map.insert((root.to_path_buf(), e.id.clone()), e.dir.clone());
    }
    all.into_iter().find(|e| e.id == id)
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Why a record cannot be shown.
#[derive(Debug)]
pub(crate) enum RecordProblem {
    /// No `execution.json` (yet): the run is starting, or stopped before writing one.
    Missing,
    Unreadable(String),
    TooLarge(u64),
    /// Not JSON, or not an execution: where and why.
    Corrupt(String),
}

impl std::fmt::Display for RecordProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordProblem::Missing => f.write_str(
                "it has no record yet: the run is starting, or it stopped before writing one",
            ),
            RecordProblem::Unreadable(e) => write!(f, "its record cannot be read: {e}"),
            RecordProblem::TooLarge(n) => write!(
                f,
                "its record is {} MiB, more than runner ui reads ({} MiB)",
                n / (1024 * 1024),
                MAX_RECORD_BYTES / (1024 * 1024)
            ),
            RecordProblem::Corrupt(e) => write!(f, "its record is not a valid execution: {e}"),
        }
    }
}

fn open_record(dir: &Path) -> Result<std::fs::File, RecordProblem> {
    let path = dir.join("execution.json");
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(RecordProblem::Missing),
        Err(e) => return Err(RecordProblem::Unreadable(e.to_string())),
    };
    let len = file
        .metadata()
        .map_err(|e| RecordProblem::Unreadable(e.to_string()))?
        .len();
    if len > MAX_RECORD_BYTES {
        return Err(RecordProblem::TooLarge(len));
    }
    Ok(file)
}

/// The whole record.
pub(crate) fn record(dir: &Path) -> Result<Json, RecordProblem> {
    let file = open_record(dir)?;
    let value: Json = serde_json::from_reader(BufReader::new(file))
        .map_err(|e| RecordProblem::Corrupt(e.to_string()))?;
    if !value.is_object() || value.get("state").is_none() {
        return Err(RecordProblem::Corrupt(
            "it has no `state` (it is not an execution record)".to_string(),
        ));
    }
    Ok(value)
}

/// What the list of executions shows of one; the task runs are skipped while parsing.
#[derive(Deserialize, Debug, Default)]
pub(crate) struct Summary {
    #[serde(default)]
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) namespace: String,
    #[serde(rename = "flowId", default)]
    pub(crate) flow_id: String,
    pub(crate) state: SummaryState,
    #[serde(rename = "taskRunList", default)]
    pub(crate) task_runs: Vec<serde::de::IgnoredAny>,
}

#[derive(Deserialize, Debug, Default)]
pub(crate) struct SummaryState {
    #[serde(default)]
    pub(crate) current: String,
    #[serde(rename = "startDate", default)]
    pub(crate) start: Option<String>,
    #[serde(rename = "endDate", default)]
    pub(crate) end: Option<String>,
}

pub(crate) fn summary(dir: &Path) -> Result<Summary, RecordProblem> {
    let file = open_record(dir)?;
    serde_json::from_reader(BufReader::new(file)).map_err(|e| RecordProblem::Corrupt(e.to_string()))
}

/// One log line of `logs.jsonl`.
#[derive(Clone, Debug)]
pub(crate) struct LogLine {
    pub(crate) timestamp: String,
    pub(crate) level: String,
    pub(crate) task_id: Option<String>,
    pub(crate) taskrun_id: Option<String>,
    pub(crate) message: String,
}

impl LogLine {
    pub(crate) fn parse_bytes(line: &[u8]) -> LogLine {
        LogLine::parse(&String::from_utf8_lossy(line))
    }

    /// A line that is not a log entry is shown as text, so nothing in the file is hidden.
    fn parse(line: &str) -> LogLine {
        match serde_json::from_str::<Json>(line) {
            Ok(Json::Object(m)) => {
                let s = |k: &str| m.get(k).and_then(Json::as_str).map(str::to_string);
                LogLine {
                    timestamp: s("timestamp").unwrap_or_default(),
                    level: s("level").unwrap_or_else(|| "INFO".to_string()),
                    task_id: s("taskId"),
                    taskrun_id: s("taskRunId"),
                    message: s("message").unwrap_or_default(),
                }
            }
            _ => LogLine {
                timestamp: String::new(),
                level: "INFO".to_string(),
                task_id: None,
                taskrun_id: None,
                message: line.to_string(),
            },
        }
    }
}

/// The log's lines from line `skip` on, at most `max` of the last ones; with the count of
/// every line. A line still being written (no newline yet) waits for the next read.
pub(crate) fn logs(dir: &Path, skip: usize, max: usize) -> (Vec<LogLine>, usize) {
    let Ok(file) = std::fs::File::open(dir.join("logs.jsonl")) else {
        return (Vec::new(), 0);
    };
    let mut reader = BufReader::new(file);
    let mut kept = std::collections::VecDeque::new();
    let mut count = 0;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) if buf.last() != Some(&b'\n') => break,
            Ok(_) => {}
        }
        count += 1;
        if count <= skip {
            continue;
        }
        let text = String::from_utf8_lossy(&buf[..buf.len() - 1]);
        kept.push_back(LogLine::parse(&text));
        if kept.len() > max {
            kept.pop_front();
        }
    }
    (kept.into(), count)
}

/// How much of a log is read for the task runs' errors: a larger log shows the errors of its
/// first 64 MiB.
const ERROR_SCAN_BYTES: u64 = 64 * 1024 * 1024;

/// The first ERROR line of each task run in `wanted` (a failed run's error, shown in its row),
/// by task run id. Only lines that name the level are parsed.
pub(crate) fn errors(
    dir: &Path,
    wanted: &std::collections::HashSet<&str>,
) -> HashMap<String, String> {
    let mut found = HashMap::new();
    if wanted.is_empty() {
        return found;
    }
    let Ok(file) = std::fs::File::open(dir.join("logs.jsonl")) else {
        return found;
    };
    let mut reader = BufReader::new(std::io::Read::take(file, ERROR_SCAN_BYTES));
    let mut buf = Vec::new();
    while found.len() < wanted.len() {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if !buf.windows(7).any(|w| w == b"\"ERROR\"") {
            continue;
        }
        let line = LogLine::parse_bytes(&buf);
        if line.level != "ERROR" {
            continue;
        }
        if let Some(id) = line.taskrun_id.filter(|id| wanted.contains(id.as_str())) {
            found.entry(id).or_insert(line.message);
        }
    }
    found
}

/// The file a `kestra:///` URI names, when it is inside storage; `..` and absolute tricks
/// are refused before the disk is touched.
pub(crate) fn resolve(root: &Path, uri: &str) -> Result<PathBuf, String> {
    let rest = uri
        .strip_prefix("kestra://")
        .ok_or_else(|| format!("`{uri}` is not a kestra:// URI"))?;
    let relative = Path::new(rest.trim_start_matches('/'));
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(format!("`{uri}` leaves the storage folder"));
    }
    let path = root.join(relative);
    let meta = std::fs::symlink_metadata(&path)
        .map_err(|_| format!("`{uri}` is not in storage (was the storage folder cleaned?)"))?;
    if !meta.is_file() {
        return Err(format!("`{uri}` is not a file"));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executions_are_found_at_any_namespace_depth_and_uris_stay_inside() {
        let root = std::env::temp_dir().join(format!("runner-ui-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let a = root.join("a/b/c/flow/executions/ID1");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::write(
            a.join("execution.json"),
            "{\"id\":\"ID1\",\"state\":{\"current\":\"SUCCESS\"}}",
        )
        .unwrap();
        std::fs::write(
            a.join("logs.jsonl"),
            "{\"level\":\"WARN\",\"message\":\"m1\"}\nnot json\n{\"level\":\"INFO\",\"mess",
        )
        .unwrap();
        let b = root.join("x/f/executions/ID2");
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(b.join("execution.json"), "{\"id\": ").unwrap();
        let mut ids: Vec<String> = execution_dirs(&root).into_iter().map(|e| e.id).collect();
        ids.sort();
        assert_eq!(ids, ["ID1", "ID2"]);
        assert_eq!(summary(&a).unwrap().state.current, "SUCCESS");
        assert!(matches!(record(&b), Err(RecordProblem::Corrupt(_))));
        assert!(find(&root, "../x").is_none());
        // Found again from what was seen, and not once its folder is gone.
        assert_eq!(find(&root, "ID2").unwrap().dir, b);
        std::fs::remove_dir_all(&b).unwrap();
        assert!(find(&root, "ID2").is_none());
        let (lines, count) = logs(&a, 0, 10);
        assert_eq!(count, 2, "the unfinished last line waits");
        assert_eq!(lines[0].level, "WARN");
        assert_eq!(lines[1].message, "not json");
        assert_eq!(logs(&a, 1, 10).0.len(), 1);
        assert!(resolve(&root, "kestra:///a/../../etc/passwd").is_err());
        assert!(resolve(&root, "kestra:///a/b/c/flow/executions/ID1/execution.json").is_ok());
        assert!(resolve(&root, "s3://x").is_err());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
