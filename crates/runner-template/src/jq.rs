//! The `jq` filter on jaq: a real jq implementation; the result is always a list.
//!
//! A jq program is code from the flow, and jaq has no step budget: `def f: f; f` loops,
//! `def f: 1 + f; f` overflows the stack, `[repeat(1)]` eats memory. So when a
//! [`JqSandbox`] is configured (the binary always configures one), each program runs in a
//! child process (`runner __jq`) with no environment, a memory limit and a deadline; the
//! parent reads at most [`JqSandbox::max_output`] bytes back. Without one (library tests), it
//! runs in-process. Either way the filters that reach outside (`halt`, `halt_error`, `env`,
//! `$ENV`, `input`, `stderr`, `debug`) fail with a message instead.

use jaq_core::box_iter::box_once;
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Cv, DataT, Error, Exn, Native, ValXs, Vars, data};
use jaq_json::Val;
use serde_json::Value as Json;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

/// Where and how jq programs run in a child process.
#[derive(Clone, Debug)]
pub struct JqSandbox {
    /// The runner binary; it is started as `PROGRAM __jq`.
    pub program: PathBuf,
    /// A program running longer is killed.
    pub timeout: Duration,
    /// The child's address-space limit, in bytes.
    pub memory: u64,
    /// The most output (JSON text) read back.
    pub max_output: usize,
}

/// The argument that starts the child side (see [`child_main`]).
pub const CHILD_ARG: &str = "__jq";

/// Filters that would reach outside the expression: the process, its environment, stdin.
const BLOCKED: &[&str] = &[
    "halt",
    "env",
    "input",
    "inputs",
    "stderr_empty",
    "debug_empty",
    "input_filename",
    "get_search_list",
];

type Data = data::JustLut<Val>;

fn refuse<'a>(_: Cv<'a, Data>) -> ValXs<'a, <Data as DataT>::V<'a>> {
    box_once(Err(Exn::from(Error::str(
        "this jq filter is not available in runner (halt, env, $ENV, input, stderr and debug reach outside the expression)",
    ))))
}

/// Runs `filter` on `input`: in the sandbox when there is one.
pub(crate) fn run(
    filter: &str,
    input: &Json,
    sandbox: Option<&JqSandbox>,
) -> Result<Vec<Json>, String> {
    match sandbox {
        Some(s) => run_in_child(filter, input, s),
        None => run_here(filter, input, usize::MAX),
    }
}

/// Compiles and runs `filter` in this process; stops once the output passes `max_output`.
fn run_here(filter: &str, input: &Json, max_output: usize) -> Result<Vec<Json>, String> {
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs::<Data>()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs())
        .map(|(name, arity, native)| {
            if BLOCKED.contains(&name) {
                (name, arity, Native::<Data>::new(refuse))
            } else {
                (name, arity, native)
            }
        });
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let program = File {
        code: filter,
        path: (),
    };
    let modules = loader
        .load(&arena, program)
        .map_err(|errs| format!("jq: the program does not parse ({} error(s))", errs.len()))?;
    let compiled = Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errs| {
            let names: Vec<&str> = errs
                .iter()
                .flat_map(|(_, e)| e.iter().map(|(name, _)| *name))
                .collect();
            if names.contains(&"$ENV") {
                "jq: $ENV is not available in runner (halt, env, $ENV, input, stderr and debug reach outside the expression)".to_string()
            } else {
                // Not the names: the program may be, or hold, a secret.
                format!(
                    "jq: the program does not compile: it uses {} undefined filter(s) or variable(s)",
                    names.len()
                )
            }
        })?;
    let text = serde_json::to_string(input).map_err(|e| e.to_string())?;
    let value = jaq_json::read::parse_single(text.as_bytes()).map_err(|e| format!("jq: {e}"))?;
    let ctx = Ctx::<Data>::new(&compiled.lut, Vars::new([]));
    let mut out = Vec::new();
    let mut size = 0usize;
    for item in compiled.id.run((ctx, value)) {
        let item = item.map_err(|e| match e.get_err() {
            Ok(e) => format!("jq: error evaluating the program: {e}"),
            // Unreachable with `halt` refused, but never ends the process.
            Err(_) => "jq: the program tried to halt".to_string(),
        })?;
        let text = item.to_string();
        size += text.len();
        if size > max_output {
            return Err(too_much(max_output));
        }
        out.push(serde_json::from_str(&text).map_err(|e| format!("jq: {e}"))?);
    }
    Ok(out)
}

fn too_much(max: usize) -> String {
    format!(
        "jq: the program produced more than {} MiB (RUNNER_JQ_MAX_OUTPUT_MB raises the limit)",
        max / (1024 * 1024)
    )
}

/// The parent side: start the child, send the request, wait at most the deadline.
fn run_in_child(filter: &str, input: &Json, s: &JqSandbox) -> Result<Vec<Json>, String> {
    let request = serde_json::json!({
        "filter": filter,
        "input": input,
        "memory": s.memory,
        "maxOutput": s.max_output,
        "seconds": s.timeout.as_secs() + 1,
    });
    let mut child = std::process::Command::new(&s.program)
        .arg(CHILD_ARG)
        .env_clear()
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| {
            format!(
                "jq: cannot start its sandbox ({}): {e}",
                s.program.display()
            )
        })?;
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        let _ = child.kill();
        return Err("jq: the sandbox has no pipes".into());
    };
    let (done, finished) = std::sync::mpsc::channel();
    let limit = s.max_output as u64 + 64 * 1024;
    std::thread::spawn(move || {
        let written = serde_json::to_writer(&mut stdin, &request).map_err(|e| e.to_string());
        drop(stdin);
        let mut out = Vec::new();
        let read = stdout.take(limit).read_to_end(&mut out);
        let _ = done.send((written, read.map(|_| out)));
    });
    let outcome = finished.recv_timeout(s.timeout);
    let _ = child.kill();
    let status = child.wait().ok();
    let (written, read) = match outcome {
        Ok(result) => result,
        Err(_) => {
            return Err(format!(
                "jq: the program ran longer than {}s and was stopped (RUNNER_JQ_TIMEOUT raises the limit)",
                s.timeout.as_secs()
            ));
        }
    };
    let crashed = || {
        format!(
            "jq: the program crashed: it recursed too deeply or used more than {} MiB of memory",
            s.memory / (1024 * 1024)
        )
    };
    let out = read.map_err(|e| format!("jq: cannot read its result: {e}"))?;
    if out.is_empty() {
        return Err(match written {
            Err(e) => format!("jq: cannot send the program: {e}"),
            Ok(()) => crashed(),
        });
    }
    if out.len() as u64 >= limit {
        return Err(too_much(s.max_output));
    }
    let reply: Json = serde_json::from_slice(&out).map_err(|_| crashed())?;
    let _ = status;
    match reply {
        Json::Object(mut m) => match (m.remove("ok"), m.remove("error")) {
            (Some(Json::Array(items)), _) => Ok(items),
            (_, Some(Json::String(e))) => Err(e),
            _ => Err(crashed()),
        },
        _ => Err(crashed()),
    }
}

/// The child side, run by `runner __jq`: limits itself, runs one program from stdin, replies
/// `{"ok": [...]}` or `{"error": "..."}` on stdout.
pub fn child_main() -> std::process::ExitCode {
    let mut text = String::new();
    if std::io::stdin().read_to_string(&mut text).is_err() {
        return std::process::ExitCode::from(2);
    }
    let Ok(request) = serde_json::from_str::<Json>(&text) else {
        return std::process::ExitCode::from(2);
    };
    limit_self(
        request["memory"].as_u64().unwrap_or(1 << 30),
        request["seconds"].as_u64().unwrap_or(11),
    );
    let filter = request["filter"].as_str().unwrap_or_default();
    let max_output = request["maxOutput"]
        .as_u64()
        .and_then(|m| usize::try_from(m).ok())
        .unwrap_or(64 << 20);
    let reply = match run_here(filter, &request["input"], max_output) {
        Ok(items) => serde_json::json!({ "ok": items }),
        Err(e) => serde_json::json!({ "error": e }),
    };
    let mut stdout = std::io::stdout().lock();
    let _ = serde_json::to_writer(&mut stdout, &reply);
    let _ = stdout.flush();
    std::process::ExitCode::SUCCESS
}

#[cfg(unix)]
fn limit_self(memory: u64, seconds: u64) {
    use rustix::process::{Resource, Rlimit, setrlimit};
    let cap = |n: u64| Rlimit {
        current: Some(n),
        maximum: Some(n),
    };
    let _ = setrlimit(Resource::As, cap(memory));
    let _ = setrlimit(Resource::Cpu, cap(seconds));
}

#[cfg(not(unix))]
fn limit_self(_: u64, _: u64) {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn jq(filter: &str, input: Json) -> Result<Vec<Json>, String> {
        run(filter, &input, None)
    }

    #[test]
    fn runs_real_jq() {
        assert_eq!(
            jq(".test[0]", json!({"test": [1, 2, 3]})).unwrap(),
            [json!(1)]
        );
        assert_eq!(
            jq(".second[]", json!({"second": [1, 2, 3]})).unwrap(),
            [json!(1), json!(2), json!(3)]
        );
        assert_eq!(
            jq("map(select(. > 1)) | length", json!([1, 2, 3])).unwrap(),
            [json!(2)]
        );
        assert!(jq(".[", json!({})).is_err());
    }

    #[test]
    fn filters_that_reach_outside_are_refused() {
        for filter in [
            "halt",
            "halt_error(3)",
            "halt_error",
            "env",
            "env.PATH",
            "stderr",
            "debug",
        ] {
            let e = jq(filter, json!(1)).unwrap_err();
            assert!(e.contains("not available in runner"), "{filter}: {e}");
        }
        let e = jq("$ENV.PATH", json!(1)).unwrap_err();
        assert!(e.contains("$ENV is not available in runner"), "{e}");
        // jaq has no `input` outside its command line.
        assert!(
            jq("input", json!(1))
                .unwrap_err()
                .contains("1 undefined filter")
        );
    }

    #[test]
    fn output_is_bounded() {
        let e = run_here("range(1000000)", &json!(null), 1000).unwrap_err();
        assert!(e.contains("produced more than"), "{e}");
    }
}
