//! What dbt leaves in `target/` and `logs/` after a run, read as Kestra reads it
//! (`ResultParser`): each node of `run_results.json` logged (`<unique_id> => <status> in 0.20s
//! (1 failure)`, then its message) at the level of its state, with its metrics; the file and
//! `manifest.json` kept as `outputFiles`; the JSON log file read for warnings (Kestra's WARNING
//! state) and the final counts (Kestra's `pass`, `warn`, `error`, `skip`, `total` counters).

use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::Map;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
struct RunResults {
    #[serde(default)]
    results: Vec<NodeResult>,
}

#[derive(Deserialize)]
struct NodeResult {
    #[serde(default)]
    status: String,
    #[serde(default)]
    execution_time: Option<f64>,
    #[serde(default)]
    adapter_response: Map<String, Json>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    failures: Option<i64>,
    #[serde(default)]
    unique_id: String,
}

/// What the artifacts said.
#[derive(Default)]
pub(crate) struct Summary {
    /// `<unique_id>: <message>` of each node that failed or errored.
    pub(crate) failures: Vec<String>,
    /// A node warned, or dbt logged a warning.
    pub(crate) warned: bool,
}

/// Kestra's state for a node status; an unknown status (`no-op`, `reused`) is a success here
/// (Kestra fails the task on it).
fn level_of(status: &str) -> (Level, bool, bool) {
    match status {
        "error" | "fail" | "runtime_error" => (Level::Error, true, false),
        "warn" => (Level::Warn, false, true),
        _ => (Level::Info, false, false),
    }
}

/// Logs each node of `run_results.json` as Kestra does, with its metrics.
fn parse_run_results(ctx: &RunContext, text: &str, summary: &mut Summary) -> Result<(), TaskError> {
    let parsed: RunResults = serde_json::from_str(text).map_err(|e| {
        TaskError::new(
            ErrorKind::BadData,
            "dbt's target/run_results.json is not what dbt writes",
        )
        .caused_by(e)
    })?;
    for r in parsed.results {
        let (level, failed, warned) = level_of(&r.status);
        let mut line = format!("{} => {}", r.unique_id, r.status);
        if let Some(t) = r.execution_time {
            line.push_str(&format!(" in {t:.2}s"));
        }
        if let Some(n) = r.failures.filter(|n| *n > 0) {
            line.push_str(&format!(" ({n} failure{})", if n == 1 { "" } else { "s" }));
        }
        ctx.log(level, &line);
        let message = r.message.as_deref().map(str::trim).unwrap_or_default();
        if !message.is_empty() {
            ctx.log(level, message);
        }
        if failed {
            summary.failures.push(if message.is_empty() {
                format!("{} => {}", r.unique_id, r.status)
            } else {
                format!("{} => {}: {message}", r.unique_id, r.status)
            });
        }
        summary.warned |= warned;
        for (key, name) in [
            ("rows_affected", "rows.affected"),
            ("bytes_processed", "bytes.processed"),
        ] {
            let value = match r.adapter_response.get(key) {
                Some(Json::Number(n)) => n.as_f64(),
                Some(Json::String(s)) => s.parse().ok(),
                _ => None,
            };
            if let Some(value) = value {
                let mut tags = Map::new();
                tags.insert("node".into(), Json::String(r.unique_id.clone()));
                ctx.metric(Metric {
                    name: name.into(),
                    kind: MetricKind::Counter,
                    value,
                    tags,
                });
            }
        }
    }
    Ok(())
}

/// A copy of `file` in this task run's storage, as `name`.
async fn keep(ctx: &RunContext, file: &Path, name: &str) -> Result<String, TaskError> {
    let uri = ctx.output_file_uri(name);
    let dest = ctx.storage().path(&uri)?;
    let io = |e: std::io::Error| {
        TaskError::new(ErrorKind::Io, format!("cannot keep dbt's {name}")).caused_by(e)
    };
    if let Some(parent) = dest.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(io)?;
    }
    let guard = PartialFile::new(dest.clone());
    tokio::fs::copy(file, &dest).await.map_err(io)?;
    guard.keep();
    Ok(uri)
}

/// Where the artifacts are, and what to do with them.
pub(crate) struct Artifacts<'a> {
    /// `<working dir>/<projectDir>`.
    pub(crate) project: PathBuf,
    pub(crate) parse_run_results: bool,
    /// Read `manifest.json` (DbtCLI; the legacy tasks `Deps`, `Freshness` and `List` read
    /// nothing).
    pub(crate) manifest: bool,
    /// `storeManifest`: where to put the manifest in the KV store.
    pub(crate) store_manifest: Option<(String, String)>,
    /// The JSON log files and how much of each was there before the run.
    pub(crate) logs: &'a [(PathBuf, u64)],
}

/// Reads the artifacts after a run (successful or not) into `files` (the `outputFiles`
/// output) and the logs and metrics.
pub(crate) async fn read(
    ctx: &RunContext,
    a: &Artifacts<'_>,
    files: &mut Map<String, Json>,
) -> Result<Summary, TaskError> {
    let mut summary = Summary::default();
    let target = a.project.join("target");
    if a.manifest {
        let manifest = target.join("manifest.json");
        if manifest.is_file() {
            if let Some((namespace, key)) = &a.store_manifest {
                let text = tokio::fs::read_to_string(&manifest).await.map_err(|e| {
                    TaskError::new(ErrorKind::Io, "cannot read dbt's manifest.json").caused_by(e)
                })?;
                let value: Json = serde_json::from_str(&text).map_err(|e| {
                    TaskError::new(ErrorKind::BadData, "dbt's manifest.json is not JSON")
                        .caused_by(e)
                })?;
                ctx.kv()?
                    .set(KvWrite {
                        namespace: namespace.clone(),
                        key: key.clone(),
                        value,
                        kv_type: Some("JSON".into()),
                        description: None,
                        ttl: None,
                        overwrite: true,
                    })
                    .map_err(|e| {
                        TaskError::property(
                            "storeManifest",
                            format!("cannot store the manifest: {e}"),
                        )
                    })?;
            }
            files.insert(
                "manifest.json".into(),
                Json::String(keep(ctx, &manifest, "manifest.json").await?),
            );
        } else {
            ctx.log(
                Level::Warn,
                &format!(
                    "dbt manifest not found at {} (assets will NOT be emitted)",
                    manifest.display()
                ),
            );
        }
    }
    let results = target.join("run_results.json");
    if a.parse_run_results && results.is_file() {
        let text = tokio::fs::read_to_string(&results).await.map_err(|e| {
            TaskError::new(ErrorKind::Io, "cannot read dbt's run_results.json").caused_by(e)
        })?;
        parse_run_results(ctx, &text, &mut summary)?;
        files.insert(
            "run_results.json".into(),
            Json::String(keep(ctx, &results, "run_results.json").await?),
        );
    }
    for (log, before) in a.logs {
        read_log(ctx, log, *before, &mut summary).await;
    }
    Ok(summary)
}

/// The size of each log file now (what the run appends comes after).
pub(crate) fn log_sizes(paths: Vec<PathBuf>) -> Vec<(PathBuf, u64)> {
    paths
        .into_iter()
        .map(|p| {
            let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
            (p, len)
        })
        .collect()
}

/// The part of dbt's JSON log file this run wrote: a `warn` line makes the run a WARNING (as
/// Kestra's log consumer does), the final counts become counters.
async fn read_log(ctx: &RunContext, path: &Path, from: u64, summary: &mut Summary) {
    let Ok(bytes) = tokio::fs::read(path).await else {
        return;
    };
    let start = (from as usize).min(bytes.len());
    for line in String::from_utf8_lossy(&bytes[start..]).lines() {
        let Ok(Json::Object(event)) = serde_json::from_str::<Json>(line) else {
            continue;
        };
        let info = event.get("info").cloned().unwrap_or(Json::Null);
        if info["level"] == "warn" {
            summary.warned = true;
        }
        if let Some(Json::Object(stats)) = event.get("data").and_then(|d| d.get("stats")) {
            for (name, value) in stats {
                if let Some(v) = value.as_f64() {
                    ctx.metric(Metric {
                        name: name.clone(),
                        kind: MetricKind::Counter,
                        value: v,
                        tags: Map::new(),
                    });
                }
            }
        }
    }
}
