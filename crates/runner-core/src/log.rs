//! Log events of a run: one line each on the sink (stderr for the CLI), text or JSON, masked.

use jiff::Timestamp;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    runner_derive::PropType,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "TRACE" => Level::Trace,
            "DEBUG" => Level::Debug,
            "INFO" => Level::Info,
            "WARN" => Level::Warn,
            "ERROR" => Level::Error,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

pub(crate) use runner_secrets::Masker;

/// Where log events go.
#[derive(Clone)]
pub(crate) struct LogSink {
    format: LogFormat,
    min_level: Level,
    out: Arc<Mutex<Box<dyn Write + Send>>>,
    masker: Arc<Masker>,
    /// For a subflow's lines: `namespace.flowId`, so a reader tells parent from child.
    flow: Option<String>,
    /// The execution's own log in storage (`logs.jsonl`, JSON lines, masked), which `runner
    /// ui` reads; each execution has its own, a subflow's included.
    file: Option<Arc<Mutex<std::fs::File>>>,
    /// The execution's ERROR lines, kept for `errorLogs()`.
    error_logs: Option<Arc<ErrorLogs>>,
}

/// The latest ERROR lines of one execution, for `errorLogs()` in its `errors:` branch: at most
/// [`ErrorLogs::MAX`] of them, each cut to [`ErrorLogs::MAX_CHARS`], so a task that logs
/// errors in a loop cannot grow memory.
pub(crate) struct ErrorLogs {
    namespace: String,
    flow_id: String,
    execution_id: String,
    lines: Mutex<std::collections::VecDeque<serde_json::Value>>,
}

impl ErrorLogs {
    const MAX: usize = 100;
    const MAX_CHARS: usize = 8192;

    pub(crate) fn new(namespace: &str, flow_id: &str, execution_id: &str) -> Self {
        ErrorLogs {
            namespace: namespace.to_string(),
            flow_id: flow_id.to_string(),
            execution_id: execution_id.to_string(),
            lines: Mutex::default(),
        }
    }

    fn push(&self, mut entry: serde_json::Map<String, serde_json::Value>) {
        if let Some(serde_json::Value::String(m)) = entry.get_mut("message")
            && let Some((cut, _)) = m.char_indices().nth(Self::MAX_CHARS)
        {
            m.truncate(cut);
            m.push('…');
        }
        entry.insert("namespace".into(), self.namespace.clone().into());
        entry.insert("flowId".into(), self.flow_id.clone().into());
        entry.insert("executionId".into(), self.execution_id.clone().into());
        let mut lines = self.lines.lock().expect("error logs lock");
        if lines.len() == Self::MAX {
            lines.pop_front();
        }
        lines.push_back(serde_json::Value::Object(entry));
    }
}

impl runner_template::ErrorLogRead for ErrorLogs {
    fn error_logs(&self) -> serde_json::Value {
        let lines = self.lines.lock().expect("error logs lock");
        serde_json::Value::Array(lines.iter().cloned().collect())
    }
}

/// One event.
pub(crate) struct LogEvent<'a> {
    pub level: Level,
    pub task_id: Option<&'a str>,
    pub taskrun_id: Option<&'a str>,
    pub message: &'a str,
}

impl LogSink {
    pub(crate) fn new(
        format: LogFormat,
        min_level: Level,
        out: Box<dyn Write + Send>,
        masker: Arc<Masker>,
    ) -> Self {
        LogSink {
            format,
            min_level,
            out: Arc::new(Mutex::new(out)),
            masker,
            flow: None,
            file: None,
            error_logs: None,
        }
    }

    /// The same output for a subflow's execution, its lines marked with its flow.
    pub(crate) fn for_subflow(&self, namespace: &str, flow_id: &str) -> Self {
        LogSink {
            flow: Some(format!("{namespace}.{flow_id}")),
            // It writes its own execution's log and keeps its own errors.
            file: None,
            error_logs: None,
            ..self.clone()
        }
    }

    /// The same output, each line also written to `file` as JSON.
    pub(crate) fn with_file(&self, file: std::fs::File) -> Self {
        LogSink {
            file: Some(Arc::new(Mutex::new(file))),
            ..self.clone()
        }
    }

    /// The same output, its ERROR lines also kept in `error_logs`.
    pub(crate) fn with_error_logs(&self, error_logs: Arc<ErrorLogs>) -> Self {
        LogSink {
            error_logs: Some(error_logs),
            ..self.clone()
        }
    }

    pub(crate) fn masker(&self) -> &Arc<Masker> {
        &self.masker
    }

    pub(crate) fn enabled(&self, level: Level) -> bool {
        level >= self.min_level
    }

    pub(crate) fn emit(&self, event: LogEvent<'_>) {
        if !self.enabled(event.level) {
            return;
        }
        let now = Timestamp::now();
        let message = self.masker.mask(event.message);
        let json = |flow: Option<&str>| {
            let mut obj = serde_json::Map::new();
            obj.insert("timestamp".into(), now.to_string().into());
            obj.insert("level".into(), event.level.as_str().into());
            if let Some(flow) = flow {
                obj.insert("subflow".into(), flow.into());
            }
            if let Some(t) = event.task_id {
                obj.insert("taskId".into(), t.into());
            }
            if let Some(t) = event.taskrun_id {
                obj.insert("taskRunId".into(), t.into());
            }
            obj.insert("message".into(), message.as_str().into());
            obj
        };
        if event.level == Level::Error
            && let Some(errors) = &self.error_logs
        {
            errors.push(json(None));
        }
        if let Some(file) = &self.file {
            let mut line = serde_json::Value::Object(json(None)).to_string();
            line.push('\n');
            // One write per line, so a reader never sees half of one; a full disk must not
            // fail the run (the record says how it ended).
            let _ = file
                .lock()
                .expect("log file lock")
                .write_all(line.as_bytes());
        }
        let line = match self.format {
            LogFormat::Text => {
                let task = match (&self.flow, event.task_id) {
                    (Some(flow), Some(t)) => format!("[{flow} > {t}] "),
                    (Some(flow), None) => format!("[{flow}] "),
                    (None, Some(t)) => format!("[{t}] "),
                    (None, None) => String::new(),
                };
                // Kestra's link markup (kept in JSON lines) reads as the execution it names.
                let body = runner_model::plain_links(&message).replace('\n', "\n    ");
                format!(
                    "{} {:<5} {task}{body}\n",
                    now.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"),
                    event.level.as_str()
                )
            }
            LogFormat::Json => {
                format!(
                    "{}\n",
                    serde_json::Value::Object(json(self.flow.as_deref()))
                )
            }
        };
        let mut out = self.out.lock().expect("log lock");
        // A closed stderr must not fail the run.
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_are_masked_and_filtered_by_level() {
        let buf = Buf::default();
        let masker = Arc::new(Masker::default());
        masker.add("hunter2");
        let sink = LogSink::new(LogFormat::Json, Level::Info, Box::new(buf.clone()), masker);
        sink.emit(LogEvent {
            level: Level::Debug,
            task_id: None,
            taskrun_id: None,
            message: "hidden",
        });
        sink.emit(LogEvent {
            level: Level::Info,
            task_id: Some("t"),
            taskrun_id: None,
            message: "pw=hunter2",
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1);
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["message"], "pw=******");
        assert_eq!(v["taskId"], "t");
    }
}
