//! Kestra's deprecated in-JVM script engines, `io.kestra.plugin.scripts.nashorn` (JavaScript)
//! and `jython` (Python) `Eval` and `FileTransform`, run by Node.js and Python 3 on this
//! machine: the same scripts (`row`, `rows`, `logger`, the flow's variables as bindings) in a
//! child process with the environment every Process-runner script gets. Java interop
//! (`Java.type`, `import java...`) has no equivalent there; Groovy's engine needs a JVM and is
//! not offered. Rows stream through the child's stdin and stdout, one JSON line each.

use crate::lines::{LineReader, PROTOCOL_LINE_MAX};
use runner_core::plugin::*;
use serde::Deserialize;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};

#[derive(Clone, Copy)]
enum Engine {
    Nashorn,
    Jython,
}

impl Engine {
    fn program(self) -> &'static str {
        match self {
            Engine::Nashorn => "node",
            Engine::Jython => "python3",
        }
    }

    fn wrapper(self) -> (&'static str, &'static str) {
        match self {
            Engine::Nashorn => ("runner-engine.js", NODE_WRAPPER),
            Engine::Jython => ("runner-engine.py", PYTHON_WRAPPER),
        }
    }
}

/// The child's side: reads the mode, the script's path and (Eval) the output names from its
/// arguments; rows or the variables from stdin; writes `{"row": ...}`, `{"log": ...}` and
/// (Eval) `{"result": ..., "outputs": ...}` lines to stdout. What the script prints goes to
/// stderr, so it cannot be taken for a row.
const NODE_WRAPPER: &str = r#"'use strict';
const fs = require('fs');
const send = (o) => { const t = JSON.stringify(o) + '\n'; let b = Buffer.from(t); let off = 0; while (off < b.length) { try { off += fs.writeSync(1, b, off); } catch (e) { if (e.code !== 'EAGAIN') throw e; } } };
const print = (...a) => process.stderr.write(a.map(String).join(' ') + '\n');
console.log = console.info = console.warn = console.error = console.debug = print;
const javaText = (v) => v === null || v === undefined ? 'null' : Array.isArray(v) ? '[' + v.map(javaText).join(', ') + ']' : typeof v === 'object' ? '{' + Object.entries(v).map(([k, x]) => k + '=' + javaText(x)).join(', ') + '}' : String(v);
const log = (level) => (m, ...a) => { let t = String(m); for (const x of a) t = t.replace('{}', javaText(x)); send({ log: level, message: t }); };
const logger = { trace: log('TRACE'), debug: log('DEBUG'), info: log('INFO'), warn: log('WARN'), error: log('ERROR') };
const [mode, scriptPath, ...names] = process.argv.slice(2);
const source = fs.readFileSync(scriptPath, 'utf8');
const json = (v) => JSON.parse(JSON.stringify(v === undefined ? null : v, (k, x) => typeof x === 'function' ? null : x));
if (mode === 'transform') {
  const fn = new Function('row', 'logger', 'rows', source + '\n;return [row, rows];');
  const emit = (r) => send({ row: json(r) });
  const lines = require('readline').createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on('line', (line) => {
    if (!line) return;
    const [row, rows] = fn(JSON.parse(line), logger, undefined);
    if (rows !== undefined && rows !== null) { for (const r of rows) emit(r); }
    else if (row !== null && row !== undefined) emit(row);
  });
} else {
  const vars = JSON.parse(fs.readFileSync(0, 'utf8'));
  Object.assign(globalThis, vars, { logger });
  const result = (0, eval)(source);
  const outputs = {};
  for (const n of names) outputs[n] = json(globalThis[n]);
  send({ result: json(result), outputs });
}
"#;

const PYTHON_WRAPPER: &str = r#"import ast, json, sys
_send_to = sys.stdout
sys.stdout = sys.stderr
def _send(o):
    _send_to.write(json.dumps(o, default=str) + "\n")
    _send_to.flush()
def _java(v):
    if v is None: return "null"
    if isinstance(v, bool): return "true" if v else "false"
    if isinstance(v, dict): return "{" + ", ".join(str(k) + "=" + _java(x) for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)): return "[" + ", ".join(_java(x) for x in v) + "]"
    return str(v)
class _Logger:
    def _log(self, level, message, *args):
        text = str(message)
        for a in args:
            text = text.replace("{}", _java(a), 1)
        _send({"log": level, "message": text})
    def trace(self, m, *a): self._log("TRACE", m, *a)
    def debug(self, m, *a): self._log("DEBUG", m, *a)
    def info(self, m, *a): self._log("INFO", m, *a)
    def warn(self, m, *a): self._log("WARN", m, *a)
    warning = warn
    def error(self, m, *a): self._log("ERROR", m, *a)
logger = _Logger()
_mode, _path, _names = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(_path, encoding="utf-8") as f:
    _source = f.read()
def _plain(v):
    return json.loads(json.dumps(v, default=lambda x: None))
if _mode == "transform":
    _code = compile(_source, "script", "exec")
    for _line in sys.stdin:
        if not _line.strip():
            continue
        _scope = {"row": json.loads(_line), "logger": logger}
        exec(_code, _scope)
        _rows = _scope.get("rows")
        if _rows is not None:
            for _r in _rows:
                _send({"row": _plain(_r)})
        elif _scope.get("row") is not None:
            _send({"row": _plain(_scope["row"])})
else:
    _scope = json.load(sys.stdin)
    _scope["logger"] = logger
    _tree = ast.parse(_source, "script")
    _last = None
    if _tree.body and isinstance(_tree.body[-1], ast.Expr):
        _last = ast.Expression(_tree.body.pop().value)
    exec(compile(_tree, "script", "exec"), _scope)
    _result = eval(compile(_last, "script", "eval"), _scope) if _last is not None else None
    _send({"result": _plain(_result), "outputs": {n: _plain(_scope.get(n)) for n in _names}})
"#;

macro_rules! engine_tasks {
    ($eval_const:ident, $eval:ident, $transform_const:ident, $transform:ident, $lang:literal, $engine:expr, $language:literal, $program:literal, $eval_example:literal, $transform_example:literal) => {
        pub(crate) const $eval_const: TaskDescriptor = TaskDescriptor {
            type_name: concat!("io.kestra.plugin.scripts.", $lang, ".Eval"),
            aliases: &[],
            doc: concat!("Deprecated in Kestra: evaluate a ", $language, " script once, with the flow's variables and `logger` as bindings; runner runs it with ", $program, ". Outputs: `result` (the last expression's value), `outputs` (the bindings `outputs` names)."),
            example: concat!("id: eval\ntype: io.kestra.plugin.scripts.", $lang, ".Eval\noutputs:\n  - total\nscript: ", $eval_example),
            shape: runnable::<$eval>(),
        };

        pub(crate) const $transform_const: TaskDescriptor = TaskDescriptor {
            type_name: concat!("io.kestra.plugin.scripts.", $lang, ".FileTransform"),
            aliases: &[],
            doc: concat!("Deprecated in Kestra: run a ", $language, " script on each row of an Ion file (or JSON): change `row`, set it to null to drop it, or set `rows` to emit several; runner runs it with ", $program, ". Outputs: `uri`."),
            example: concat!("id: transform\ntype: io.kestra.plugin.scripts.", $lang, ".FileTransform\nfrom: \"{{ outputs.query.uri }}\"\nscript: ", $transform_example),
            shape: runnable::<$transform>(),
        };

        #[derive(Deserialize, Properties)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        pub(crate) struct $eval {
            /// The script.
            script: Property<String>,
            /// Bindings to return as `outputs` once the script has run.
            outputs: Option<Property<Vec<String>>>,
        }

        #[derive(Deserialize, Properties)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        pub(crate) struct $transform {
            /// A kestra:/// Ion file, or JSON: a list gives one row per element, anything else one row.
            from: Property<String>,
            /// The script, run for each `row`.
            script: Property<String>,
            /// Accepted for Kestra's flows: rows are transformed in order, one at a time.
            concurrent: Option<u32>,
        }

        impl RunnableTask for $eval {
            fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
                Box::pin(eval(ctx, $engine, &self.script, &self.outputs))
            }
        }

        impl RunnableTask for $transform {
            fn check(&self) -> Result<(), String> {
                if self.concurrent.is_some_and(|c| c < 2) {
                    return Err("concurrent: must be at least 2".into());
                }
                Ok(())
            }

            fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
                Box::pin(transform(ctx, $engine, &self.from, &self.script))
            }
        }
    };
}

engine_tasks!(
    NASHORN_EVAL,
    NashornEval,
    NASHORN_FILE_TRANSFORM,
    NashornFileTransform,
    "nashorn",
    Engine::Nashorn,
    "JavaScript",
    "Node.js",
    "|\n  var total = inputs.prices.reduce(function (a, b) { return a + b; }, 0);\n  total * 2",
    "|\n  if (row['name'] === 'richard') {\n    row = null;\n  } else {\n    row['email'] = row['name'] + '@kestra.io';\n  }"
);
engine_tasks!(
    JYTHON_EVAL,
    JythonEval,
    JYTHON_FILE_TRANSFORM,
    JythonFileTransform,
    "jython",
    Engine::Jython,
    "Python",
    "Python 3",
    "|\n  total = sum(inputs['prices'])\n  total * 2",
    "|\n  if row['name'] == 'richard':\n    row = None\n  else:\n    row['email'] = row['name'] + '@kestra.io'"
);

/// The child process, started in the working directory with the script and the wrapper there.
async fn start(
    ctx: &RunContext,
    engine: Engine,
    script: &str,
    args: &[String],
) -> Result<ChildProcess, TaskError> {
    let dir = ctx.working_dir()?;
    let (wrapper_name, wrapper) = engine.wrapper();
    let wrapper_path = dir.path().join(wrapper_name);
    let script_path = dir
        .path()
        .join(format!("{}.script", runner_core::ids::random_u64()));
    let io = |e: std::io::Error| {
        TaskError::new(
            ErrorKind::Io,
            "cannot write the script to the working directory",
        )
        .caused_by(e)
    };
    tokio::fs::write(&wrapper_path, wrapper).await.map_err(io)?;
    tokio::fs::write(&script_path, script).await.map_err(io)?;
    let mut command = tokio::process::Command::new(engine.program());
    command
        .arg(&wrapper_path)
        .arg(if args.is_empty() { "transform" } else { "eval" })
        .arg(&script_path)
        .args(args.iter().skip(1))
        .current_dir(dir.path())
        .env_clear()
        .envs(ctx.process_environment())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    ctx.spawn(command).map_err(|e| {
        let program = engine.program();
        TaskError::new(
            ErrorKind::NotFound,
            format!("cannot start `{program}`: {e}"),
        )
        .hint(format!(
            "runner runs this deprecated Kestra engine with `{program}`: install it on this machine"
        ))
    })
}

/// What the child wrote on stdout: rows, log lines, the Eval result.
#[derive(Deserialize)]
struct Message {
    row: Option<Json>,
    log: Option<String>,
    message: Option<String>,
    result: Option<Json>,
    outputs: Option<Json>,
}

fn log_line(ctx: &RunContext, level: &str, message: &str) {
    let level = match level {
        "ERROR" => Level::Error,
        "WARN" => Level::Warn,
        "DEBUG" => Level::Debug,
        "TRACE" => Level::Trace,
        _ => Level::Info,
    };
    ctx.log(level, message);
}

/// Relays stderr (the script's own prints) into the task's log, line by line.
async fn relay_stderr(ctx: &RunContext, stderr: tokio::process::ChildStderr) -> Vec<String> {
    let mut lines = LineReader::new(stderr);
    // The last lines, for the error when the script fails.
    let mut tail: Vec<String> = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        ctx.log(Level::Info, &line.text);
        tail.push(line.text);
        if tail.len() > 20 {
            tail.remove(0);
        }
    }
    tail
}

fn failed(
    engine: Engine,
    status: std::io::Result<std::process::ExitStatus>,
    tail: &[String],
) -> TaskError {
    let why = match status {
        Ok(s) => s.code().map_or_else(
            || "was killed".to_string(),
            |c| format!("exited with code {c}"),
        ),
        Err(e) => format!("could not be waited for: {e}"),
    };
    // Python and Node end a failure with the error itself: show it.
    let last = tail
        .iter()
        .rev()
        .find(|l| !l.trim().is_empty())
        .cloned()
        .unwrap_or_default();
    TaskError::failed(format!(
        "the script failed ({} {why}): {last}",
        engine.program()
    ))
}

async fn eval(
    ctx: &RunContext,
    engine: Engine,
    script: &Property<String>,
    outputs: &Option<Property<Vec<String>>>,
) -> Result<Outputs, TaskError> {
    let script = ctx.render(script, "script")?;
    let names = ctx.render_opt(outputs, "outputs")?.unwrap_or_default();
    let mut args = vec!["eval".to_string()];
    args.extend(names.iter().cloned());
    let mut child = start(ctx, engine, &script, &args).await?;
    let process = child.child();
    let (Some(mut stdin), Some(stdout), Some(stderr)) = (
        process.stdin.take(),
        process.stdout.take(),
        process.stderr.take(),
    ) else {
        return Err(TaskError::failed("the script's pipes could not be opened"));
    };
    let vars = serde_json::to_vec(&ctx.variables().to_json()).unwrap_or_default();
    let feed = async move {
        let _ = stdin.write_all(&vars).await;
        drop(stdin);
    };
    let mut result = None;
    let read = async {
        let mut lines = LineReader::new(stdout);
        while let Ok(Some(line)) = lines.next_line().await {
            match serde_json::from_str::<Message>(&line.text) {
                Ok(Message {
                    log: Some(level),
                    message,
                    ..
                }) => log_line(ctx, &level, &message.unwrap_or_default()),
                Ok(Message {
                    result: r,
                    outputs: Some(o),
                    ..
                }) => result = Some((r.unwrap_or(Json::Null), o)),
                _ => ctx.log(Level::Info, &line.text),
            }
        }
    };
    let ((), (), tail) = tokio::join!(feed, read, relay_stderr(ctx, stderr));
    let status = child.wait().await;
    if !status.as_ref().is_ok_and(|s| s.success()) {
        return Err(failed(engine, status, &tail));
    }
    let Some((value, outs)) = result else {
        return Err(TaskError::failed("the script ended without its result"));
    };
    let mut out = Outputs::new();
    out.insert("result".into(), value);
    if !names.is_empty() {
        out.insert("outputs".into(), outs);
    }
    Ok(out)
}

async fn transform(
    ctx: &RunContext,
    engine: Engine,
    from: &Property<String>,
    script: &Property<String>,
) -> Result<Outputs, TaskError> {
    let from = ctx.render(from, "from")?;
    let script = ctx.render(script, "script")?;
    let mut child = start(ctx, engine, &script, &[]).await?;
    let process = child.child();
    let (Some(stdin), Some(stdout), Some(stderr)) = (
        process.stdin.take(),
        process.stdout.take(),
        process.stderr.take(),
    ) else {
        return Err(TaskError::failed("the script's pipes could not be opened"));
    };
    let uri = ctx.output_file_uri(&format!("{}.ion", runner_core::ids::random_u64()));
    let path = ctx.storage().path(&uri)?;
    let partial = PartialFile::new(&path);
    let file = ctx.storage().create(&uri).await?;
    // Rows in: each Ion value (or JSON element) as one JSON line; stops early if the script
    // ends (its stdin closes).
    let feed = async move {
        let mut stdin = BufWriter::new(stdin);
        let mut line = Vec::new();
        let mut write = async |v: &Json| -> bool {
            line.clear();
            let _ = serde_json::to_writer(&mut line, v);
            line.push(b'\n');
            stdin.write_all(&line).await.is_ok()
        };
        let result: Result<(), TaskError> = async {
            if from.starts_with("kestra://") {
                let input = ctx.open_execution_file(&from).await?;
                let mut lines = BufReader::with_capacity(256 * 1024, input).lines();
                let mut number = 0usize;
                while let Some(text) = lines.next_line().await.map_err(|e| {
                    TaskError::new(
                        ErrorKind::BadData,
                        format!("cannot read {from} as text Ion"),
                    )
                    .caused_by(e)
                })? {
                    number += 1;
                    if text.trim().is_empty() {
                        continue;
                    }
                    let values = runner_json_rows(&text).map_err(|e| {
                        TaskError::new(ErrorKind::BadData, format!("{from}, line {number}: {e}"))
                    })?;
                    for v in values {
                        if !write(&v).await {
                            return Ok(());
                        }
                    }
                }
            } else {
                let v: Json = serde_json::from_str(&from).map_err(|e| {
                    TaskError::property("from", format!("neither a kestra:// URI nor JSON: {e}"))
                })?;
                match v {
                    Json::Array(items) => {
                        for item in &items {
                            if !write(item).await {
                                return Ok(());
                            }
                        }
                    }
                    one => {
                        write(&one).await;
                    }
                }
            }
            Ok(())
        }
        .await;
        let _ = stdin.flush().await;
        drop(stdin);
        result
    };
    let read = async {
        let mut out = BufWriter::with_capacity(256 * 1024, file);
        let mut lines = LineReader::new(stdout);
        let mut count = 0u64;
        let mut text = String::new();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.dropped > 0 {
                return Err(TaskError::failed(format!(
                    "a row of the script's output is longer than {PROTOCOL_LINE_MAX} bytes"
                )));
            }
            match serde_json::from_str::<Message>(&line.text) {
                Ok(Message { row: Some(row), .. }) => {
                    text.clear();
                    runner_ion::write_json(&row, &mut text);
                    text.push('\n');
                    out.write_all(text.as_bytes()).await.map_err(|e| {
                        TaskError::new(ErrorKind::Io, format!("cannot write {uri}")).caused_by(e)
                    })?;
                    count += 1;
                }
                Ok(Message {
                    log: Some(level),
                    message,
                    ..
                }) => log_line(ctx, &level, &message.unwrap_or_default()),
                _ => ctx.log(Level::Info, &line.text),
            }
        }
        out.flush().await.map_err(|e| {
            TaskError::new(ErrorKind::Io, format!("cannot write {uri}")).caused_by(e)
        })?;
        Ok::<u64, TaskError>(count)
    };
    let (fed, count, tail) = tokio::join!(feed, read, relay_stderr(ctx, stderr));
    let status = child.wait().await;
    if !status.as_ref().is_ok_and(|s| s.success()) {
        return Err(failed(engine, status, &tail));
    }
    fed?;
    let count = count?;
    partial.keep();
    ctx.metric(Metric {
        name: "records".into(),
        kind: MetricKind::Counter,
        value: count as f64,
        tags: Default::default(),
    });
    Ok(Outputs::from_iter([("uri".to_string(), Json::String(uri))]))
}

/// One line of text Ion as JSON values (timestamps as text, decimals as numbers).
fn runner_json_rows(text: &str) -> Result<Vec<Json>, String> {
    runner_ion::parse(text).map_err(|e| e.to_string())
}
