//! Kestra's functions: `secret`, `read`, `fileURI`, `render`, `now`, `fromJson`, `yaml`, ...

use crate::{Hooks, args::Args, current_context, dates, json_of, render_source, value_of};
use minijinja::value::{Rest, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error, ErrorKind, State, Value};
use serde_json::Value as Json;

fn fail(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

fn missing(message: &str) -> Error {
    Error::new(ErrorKind::MissingArgument, message.to_string())
}

fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// `execution.id`, `flow.namespace`, `flow.id` of the expression being rendered.
pub(crate) fn execution_of(state: &State) -> (Option<String>, Option<String>, Option<String>) {
    let get = |root: &str, attr: &str| {
        state
            .lookup(root)
            .and_then(|v| v.get_attr(attr).ok())
            .filter(|v| !v.is_undefined() && !v.is_none())
            .map(|v| text(&v))
    };
    (
        get("execution", "id"),
        get("flow", "namespace"),
        get("flow", "id"),
    )
}

/// Kestra's functions. Calls are rewritten to `__f_<name>` (see `pebble.rs`) because Pebble
/// keeps functions apart from variables: `yaml(yaml)` calls the function on the variable.
pub(crate) const NAMES: &[&str] = &[
    "secret",
    "read",
    "fileURI",
    "render",
    "renderOnce",
    "now",
    "fromJson",
    "json",
    "yaml",
    "fromIon",
    "uuid",
    "id",
    "randomInt",
    "printContext",
    "fetchContext",
    "currentEachOutput",
    "max",
    "min",
    "kv",
    "http",
    "encrypt",
    "decrypt",
    "range",
];

/// The most items `range()` makes: a list that long already takes a flow minutes to loop over.
const RANGE_MAX: i64 = 10_000_000;

/// Pebble's `range(start, end, increment)`: both ends included, counted down with a negative
/// increment. Lazy: each item is computed when it is read.
#[derive(Debug)]
struct PebbleRange {
    start: i64,
    step: i64,
    len: usize,
}

impl minijinja::value::Object for PebbleRange {
    fn repr(self: &std::sync::Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Seq
    }

    fn get_value(self: &std::sync::Arc<Self>, key: &Value) -> Option<Value> {
        let i = usize::try_from(key.as_i64()?)
            .ok()
            .filter(|i| *i < self.len)?;
        Some(Value::from(self.start + self.step * i as i64))
    }

    fn enumerate(self: &std::sync::Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Seq(self.len)
    }
}

fn range(a: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let args = Args::new(a)?;
    let int = |v: Option<Value>, name: &str| -> Result<Option<i64>, Error> {
        match v.filter(|v| !v.is_undefined() && !v.is_none()) {
            None => Ok(None),
            Some(v) => i64::try_from(v.clone()).map(Some).map_err(|_| {
                fail(format!(
                    "The 'range' function's '{name}' must be an integer, not {v}"
                ))
            }),
        }
    };
    let start = int(args.get(0, "start"), "start")?;
    let end = int(args.get(1, "end"), "end")?;
    let step = int(args.get(2, "increment"), "increment")?.unwrap_or(1);
    args.finish()?;
    let (Some(start), Some(end)) = (start, end) else {
        return Err(missing(
            "The 'range' function expects the arguments 'start' and 'end' (both included)",
        ));
    };
    if step == 0 {
        return Err(fail("The 'range' function's 'increment' must not be 0"));
    }
    let span = i128::from(end) - i128::from(start);
    let count = if (span >= 0) == (step > 0) || span == 0 {
        span / i128::from(step) + 1
    } else {
        0
    };
    if count > i128::from(RANGE_MAX) {
        return Err(fail(format!(
            "range({start}, {end}, {step}) would make {count} items; runner makes at most {RANGE_MAX}"
        )));
    }
    Ok(Value::from_object(PebbleRange {
        start,
        step,
        len: count as usize,
    }))
}

pub(crate) fn register(env: &mut Environment<'static>, hooks: &Hooks) {
    register_named(env, hooks);
    // Expose each under its internal name; the plain name stays too, for `{{ now }}`-style use.
    let globals: Vec<(String, Value)> = env
        .globals()
        .filter(|(n, _)| NAMES.contains(n))
        .map(|(n, v)| (format!("__f_{n}"), v))
        .collect();
    for (name, value) in globals {
        env.add_global(name, value);
    }
}

fn register_named(env: &mut Environment<'static>, hooks: &Hooks) {
    // `a ?? b` and `a ??? b` (see `pebble.rs`): whether `a` counts as given, and the right
    // side, which must be defined when it is used.
    env.add_test("__set", |v: Value| !v.is_undefined() && !v.is_none());
    env.add_function("__defined", |v: Value| -> Result<Value, Error> {
        if v.is_undefined() {
            Err(Error::new(ErrorKind::UndefinedError, "undefined value"))
        } else {
            Ok(v)
        }
    });
    // `a ~ b` converts both sides through this (see `pebble.rs`).
    env.add_function("__s", |v: Value| Value::from(crate::java_string(&v)));

    let secrets = hooks.secrets.clone();
    let masker = hooks.masker.clone();
    env.add_function(
        "secret",
        move |a: Rest<ValueOrKwargs>| -> Result<Value, Error> {
            let args = Args::new(a)?;
            let key = args
                .get(0, "key")
                .filter(|k| !k.is_undefined() && !k.is_none())
                .ok_or_else(|| missing("The 'secret' function expects an argument 'key'."))?;
            let key = text(&key);
            // `namespace` is accepted: secrets are global in Kestra's open-source edition.
            let _namespace = args.get(1, "namespace");
            let subkey = args
                .get(2, "subkey")
                .filter(|s| !s.is_none() && !s.is_undefined())
                .map(|s| text(&s));
            args.finish()?;
            let Some(store) = &secrets else {
                return Err(fail(
                    runner_secrets::SecretError::NotFound { key }.to_string(),
                ));
            };
            let value = match subkey {
                Some(sub) => store.get_subkey(&key, &sub),
                None => store.get(&key),
            }
            .map_err(|e| fail(e.to_string()))?;
            if let Some(m) = &masker {
                m.add(value.expose());
            }
            Ok(Value::from(value.expose().to_string()))
        },
    );

    let files = hooks.files.clone();
    env.add_function("read", move |state: &State, a: Rest<ValueOrKwargs>| -> Result<Value, Error> {
        let args = Args::new(a)?;
        let path = args.get(0, "path").filter(|p| !p.is_none() && !p.is_undefined()).ok_or_else(|| {
            missing("The 'read' function expects an argument 'path' that is a path to a namespace file or an internal storage URI.")
        })?;
        let path = text(&path);
        let other_namespace = args.get(1, "namespace").filter(|n| !n.is_none() && !n.is_undefined()).map(|n| text(&n));
        let Some(files) = &files else {
            return Err(fail(format!("Unable to read the file '{path}': no internal storage is available here")));
        };
        let (execution_id, namespace, flow_id) = execution_of(state);
        if path.starts_with("kestra://") {
            return files.read(&path, execution_id.as_deref(), namespace.as_deref(), flow_id.as_deref()).map(Value::from).map_err(|e| fail(e.to_string()));
        }
        // A namespace file: `nsfile://ns/path` (`nsfile:///path` for the flow's namespace), or
        // a path of the flow's namespace, or of `namespace=`.
        let (ns, file) = match path.strip_prefix("nsfile://") {
            Some(rest) => match rest.split_once('/') {
                Some(("", p)) => (None, p.to_string()),
                Some((n, p)) => (Some(n.to_string()), p.to_string()),
                None => (None, rest.to_string()),
            },
            None => (other_namespace, path.clone()),
        };
        let Some(ns) = ns.or(namespace) else {
            return Err(fail(format!("Unable to read the file '{path}': the flow's namespace is not known here")));
        };
        files.read_namespace_file(&ns, &file).map(Value::from).map_err(|e| fail(e.to_string()))
    });

    // A TCP port free on this machine now, as Kestra's `randomPort()` (a server a script
    // starts listens there).
    env.add_function("randomPort", || -> Result<Value, Error> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
            .map_err(|e| fail(format!("randomPort() found no free port: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| fail(format!("randomPort() found no free port: {e}")))?
            .port();
        Ok(Value::from(port))
    });

    // Kestra's tasksWithState(state='FAILED'): the task runs `tasks` holds in that state, as
    // {taskId, state}, with `value` for a loop's run.
    env.add_function(
        "tasksWithState",
        |state: &State, a: Rest<ValueOrKwargs>| -> Result<Value, Error> {
            let args = Args::new(a)?;
            let wanted = match args.get(0, "state").filter(|v| !v.is_undefined()) {
                Some(v) => text(&v).to_uppercase(),
                None => "FAILED".to_string(),
            };
            args.finish()?;
            let tasks = state
                .lookup("tasks")
                .and_then(|t| serde_json::to_value(&t).ok())
                .unwrap_or(Json::Null);
            Ok(value_of(&Json::Array(tasks_with_state(&tasks, &wanted))))
        },
    );

    let error_logs = hooks.error_logs.clone();
    env.add_function("errorLogs", move || -> Result<Value, Error> {
        let logs = error_logs.as_ref().ok_or_else(|| {
            fail("errorLogs() reads the ERROR logs of a running execution; there is none here")
        })?;
        Ok(value_of(&logs.error_logs()))
    });

    env.add_function(
        "fileURI",
        |state: &State, a: Rest<ValueOrKwargs>| -> Result<Value, Error> {
            let args = Args::new(a)?;
            let path = text(&args.req(0, "path", "fileURI")?);
            if path.contains("../") {
                return Err(fail("Path must not contain '../'"));
            }
            let (_, namespace, _) = execution_of(state);
            let namespace = namespace
                .ok_or_else(|| fail("fileURI needs the flow's namespace (`flow.namespace`)"))?;
            Ok(Value::from(format!(
                "kestra:///{}/_files/{}",
                namespace.replace('.', "/"),
                path.trim_start_matches('/')
            )))
        },
    );

    env.add_function(
        "render",
        |state: &State, a: Rest<ValueOrKwargs>| -> Result<Value, Error> {
            let args = Args::new(a)?;
            let input = args.req(0, "toRender", "render")?;
            let recursive = args.get(1, "recursive").is_none_or(|r| r.is_true());
            args.finish()?;
            render_value(state.env(), &input, recursive)
        },
    );
    env.add_function(
        "renderOnce",
        |state: &State, a: Rest<ValueOrKwargs>| -> Result<Value, Error> {
            let input = Args::new(a)?.req(0, "toRender", "renderOnce")?;
            render_value(state.env(), &input, false)
        },
    );

    env.add_function("now", |a: Rest<ValueOrKwargs>| -> Result<Value, Error> {
        let args = Args::new(a)?;
        let format = args
            .get(0, "format")
            .map(|f| text(&f))
            .unwrap_or_else(|| "iso".into());
        let tz = dates::zone(args.get(1, "timeZone").map(|t| text(&t)).as_deref()).map_err(fail)?;
        args.finish()?;
        let now = jiff::ZonedDateTime::now().with_time_zone(tz.clone());
        Ok(Value::from(
            dates::format(&now, &format, Some(&tz)).map_err(fail)?,
        ))
    });

    for name in ["fromJson", "json"] {
        env.add_function(name, |a: Rest<ValueOrKwargs>| -> Result<Value, Error> {
            let args = Args::new(a)?;
            let Some(input) = args.get(0, "json").filter(|v| !v.is_undefined()) else {
                return Err(missing(
                    "The 'fromJson' function expects an argument 'json'.",
                ));
            };
            if input.is_none() {
                return Ok(Value::from(()));
            }
            let parsed: Json = serde_json::from_str(&text(&input))
                .map_err(|e| fail(format!("Invalid json: {e}")))?;
            Ok(value_of(&parsed))
        });
    }
    env.add_function("yaml", |a: Rest<ValueOrKwargs>| -> Result<Value, Error> {
        let input = Args::new(a)?.req(0, "yaml", "yaml")?;
        if input.is_none() {
            return Ok(Value::from(()));
        }
        let docs = runner_model::load_str(&text(&input))
            .map_err(|e| fail(format!("Invalid YAML: {e}")))?;
        Ok(docs
            .first()
            .map_or(Value::from(()), |d| value_of(&d.to_json())))
    });
    env.add_function(
        "fromIon",
        |a: Rest<ValueOrKwargs>| -> Result<Value, Error> {
            let args = Args::new(a)?;
            let Some(input) = args.get(0, "ion").filter(|v| !v.is_undefined()) else {
                return Err(missing("The 'fromIon' function expects an argument 'ion'."));
            };
            if input.is_none() {
                return Ok(Value::from(()));
            }
            let mut values = runner_ion::parse(&text(&input)).map_err(|e| fail(e.to_string()))?;
            Ok(if values.is_empty() {
                Value::from(())
            } else {
                value_of(&values.remove(0))
            })
        },
    );
    env.add_function("range", range);
    env.add_function("uuid", || Value::from(uuid::Uuid::new_v4().to_string()));
    env.add_function("id", || {
        let mut n = uuid::Uuid::new_v4().as_u128();
        let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut out = Vec::new();
        while n > 0 {
            out.push(alphabet[(n % 62) as usize]);
            n /= 62;
        }
        out.reverse();
        Value::from(String::from_utf8_lossy(&out).into_owned())
    });
    env.add_function(
        "randomInt",
        |a: Rest<ValueOrKwargs>| -> Result<Value, Error> {
            let args = Args::new(a)?;
            let lower = args
                .get(0, "lower")
                .filter(|v| !v.is_undefined())
                .ok_or_else(|| {
                    missing("The 'GenerateRandomNumber' function expects an argument lower")
                })?;
            let upper = args
                .get(1, "upper")
                .filter(|v| !v.is_undefined())
                .ok_or_else(|| {
                    missing("The 'GenerateRandomNumber' function expects an argument upper")
                })?;
            let (lower, upper) = (
                i64::try_from(lower)
                    .map_err(|_| fail("randomInt: `lower` must be a whole number"))?,
                i64::try_from(upper)
                    .map_err(|_| fail("randomInt: `upper` must be a whole number"))?,
            );
            if upper < lower {
                return Err(fail("In 'GenerateRandomNumber' upper is less than lower"));
            }
            // In i128, so the widest range does not overflow.
            let span = (i128::from(upper) - i128::from(lower)) as u128 + 1;
            let offset = (uuid::Uuid::new_v4().as_u128() % span) as i128;
            Ok(Value::from((i128::from(lower) + offset) as i64))
        },
    );
    env.add_function("printContext", || -> Result<Value, Error> {
        Ok(Value::from(
            serde_json::to_string(&json_of(&current_context())).map_err(|e| fail(e.to_string()))?,
        ))
    });
    env.add_function("fetchContext", current_context);
    env.add_function(
        "currentEachOutput",
        |state: &State, a: Rest<ValueOrKwargs>| -> Result<Value, Error> {
            let mut out = Args::new(a)?.req(0, "outputs", "currentEachOutput")?;
            let mut keys: Vec<String> = Vec::new();
            if let Some(parents) = state.lookup("parents") {
                for p in parents.try_iter()?.collect::<Vec<_>>().into_iter().rev() {
                    if let Ok(v) = p.get_attr("taskrun").and_then(|t| t.get_attr("value"))
                        && let Some(s) = v.as_str()
                    {
                        keys.push(s.to_string());
                    }
                }
            }
            if let Some(v) = state
                .lookup("taskrun")
                .and_then(|t| t.get_attr("value").ok())
                .and_then(|v| v.as_str().map(str::to_string))
            {
                keys.push(v);
            }
            keys.dedup();
            for k in keys {
                let next = out.get_attr(&k)?;
                if !next.is_undefined() {
                    out = next;
                }
            }
            Ok(out)
        },
    );
    for (name, pick_max) in [("max", true), ("min", false)] {
        env.add_function(
            name,
            move |a: Rest<ValueOrKwargs>| -> Result<Value, Error> {
                let args = Args::new(a)?;
                let mut items = Vec::new();
                let mut i = 0;
                while let Some(v) = args.get(i, "") {
                    items.push(v);
                    i += 1;
                }
                let best = if pick_max {
                    items.into_iter().max()
                } else {
                    items.into_iter().min()
                };
                Ok(best.unwrap_or_else(|| Value::from(())))
            },
        );
    }
    let http = hooks.http.clone();
    env.add_function(
        "http",
        move |a: Rest<ValueOrKwargs>| -> Result<Value, Error> {
            let args = Args::new(a)?;
            let uri = args
                .get(0, "uri")
                .filter(|u| !u.is_undefined() && !u.is_none())
                .ok_or_else(|| missing("The 'http' function expects an argument 'uri'."))?;
            let get = |i: usize, name: &str| {
                args.get(i, name)
                    .filter(|v| !v.is_undefined() && !v.is_none())
            };
            let map =
                |v: Option<Value>, name: &str| -> Result<serde_json::Map<String, Json>, Error> {
                    match v.map(|v| crate::json_of(&v)) {
                        None => Ok(Default::default()),
                        Some(Json::Object(m)) => Ok(m),
                        Some(_) => Err(fail(format!(
                            "The 'http' function expects '{name}' to be a map"
                        ))),
                    }
                };
            let mut headers = Vec::new();
            for (k, v) in map(get(5, "headers"), "headers")? {
                let values = match v {
                    Json::Array(items) => items.iter().map(json_text).collect(),
                    other => vec![json_text(&other)],
                };
                headers.push((k, values));
            }
            let call = crate::HttpCall {
                uri: text(&uri),
                method: get(1, "method")
                    .map(|m| text(&m))
                    .unwrap_or_else(|| "GET".into()),
                query: map(get(2, "query"), "query")?,
                body: get(3, "body").map(|b| crate::json_of(&b)),
                content_type: get(4, "contentType")
                    .map(|c| text(&c))
                    .unwrap_or_else(|| "application/json".into()),
                accept: get(6, "accept")
                    .map(|c| text(&c))
                    .unwrap_or_else(|| "application/json".into()),
                headers,
                options: get(7, "options").map(|o| crate::json_of(&o)),
            };
            args.finish()?;
            let Some(http) = &http else {
                return Err(fail(
                    "http() is not available here (it runs during `runner run`)",
                ));
            };
            http.call(call)
                .map(|v| Value::from(minijinja::value::Serde(&v)))
                .map_err(fail)
        },
    );
    let kv = hooks.kv.clone();
    env.add_function(
        "kv",
        move |state: &State, a: Rest<ValueOrKwargs>| -> Result<Value, Error> {
            let args = Args::new(a)?;
            let key = args
                .get(0, "key")
                .filter(|k| !k.is_undefined() && !k.is_none())
                .ok_or_else(|| missing("The 'kv' function expects an argument 'key'."))?;
            let key = text(&key);
            let asked = args
                .get(1, "namespace")
                .filter(|n| !n.is_undefined() && !n.is_none())
                .map(|n| text(&n));
            // Kestra's default since 0.22: a missing key is an error unless told otherwise.
            let error_on_missing = args.get(2, "errorOnMissing").is_none_or(|v| v.is_true());
            args.finish()?;
            let Some(kv) = &kv else {
                return Err(fail(
                    "kv() is not available here: the KV store is opened by `runner run`",
                ));
            };
            let (_, flow_namespace, _) = execution_of(state);
            // The flow's own namespace, named or not, is searched with its parents.
            let inherit = asked.is_none() || asked == flow_namespace;
            let Some(namespace) = asked.or(flow_namespace) else {
                return Err(fail("kv() needs a namespace: pass `namespace`"));
            };
            match kv.lookup(&namespace, &key, inherit).map_err(fail)? {
                crate::KvLookup::Found(v) => Ok(Value::from(minijinja::value::Serde(&v))),
                crate::KvLookup::Expired if error_on_missing => {
                    Err(fail("The requested value has expired"))
                }
                crate::KvLookup::Missing if error_on_missing => Err(fail(format!(
                    "The key '{key}' does not exist in the namespace '{namespace}'."
                ))),
                _ => Ok(Value::from(())),
            }
        },
    );
    env.add_function(
        "encrypt",
        |a: Rest<ValueOrKwargs>| -> Result<Value, Error> {
            let args = Args::new(a)?;
            if args.get(0, "key").is_none() || args.get(1, "plaintext").is_none() {
                return Err(missing(
                    "The 'encrypt' function expects two arguments 'key' and 'plaintext'.",
                ));
            }
            Err(fail(
                "encrypt is not available in runner: encryption is not configured",
            ))
        },
    );
    env.add_function(
        "decrypt",
        |a: Rest<ValueOrKwargs>| -> Result<Value, Error> {
            let args = Args::new(a)?;
            if args.get(0, "key").is_none() || args.get(1, "encrypted").is_none() {
                return Err(missing(
                    "The 'decrypt' function expects two arguments 'key' and 'encrypted'.",
                ));
            }
            Err(fail(
                "decrypt is not available in runner: encryption is not configured",
            ))
        },
    );
}

/// How deep `render()` may call itself through the values it renders.
const MAX_NESTED_RENDERS: usize = 16;

thread_local! {
    static NESTED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// One level of `render()` in progress on this thread.
struct NestedRender;

impl NestedRender {
    fn enter() -> Result<NestedRender, Error> {
        let depth = NESTED.with(|n| n.get());
        if depth >= MAX_NESTED_RENDERS {
            return Err(fail(format!(
                "Too many rendering attempts: render() calls itself more than {MAX_NESTED_RENDERS} levels deep"
            )));
        }
        NESTED.with(|n| n.set(depth + 1));
        Ok(NestedRender)
    }
}

impl Drop for NestedRender {
    fn drop(&mut self) {
        NESTED.with(|n| n.set(n.get().saturating_sub(1)));
    }
}

/// `render(x)`: strings are rendered again with the current variables, up to 100 passes when
/// recursive; maps and lists have each string rendered; other values are returned as they are.
fn render_value(env: &Environment<'_>, input: &Value, recursive: bool) -> Result<Value, Error> {
    // A value that calls render() on itself would recurse until the stack overflows.
    let _depth = NestedRender::enter()?;
    let ctx = current_context();
    // The text rendered here was itself rendered (from a variable, an output, a secret): an
    // error about it must not quote it, nor a name the parser read from it, which could be a
    // piece of a secret that masking cannot recognise.
    let once = |s: &str| {
        render_source(env, s, &ctx).map_err(|e| {
            // A nested render's own message is already free of the text: passed on.
            if e.detail.contains("Too many rendering attempts") || e.detail.contains("render(): ") {
                return fail(e.detail);
            }
            let what = match e.kind {
                crate::RenderErrorKind::Syntax => "it is not a valid template",
                crate::RenderErrorKind::Undefined => "it uses a variable that is not defined",
                crate::RenderErrorKind::Other => "a filter or function in it failed",
                crate::RenderErrorKind::Unknown => "it uses a function or filter runner lacks",
            };
            fail(format!(
                "render(): {what} (line {}); the text is not shown, as it may hold a secret",
                e.line.unwrap_or(1)
            ))
        })
    };
    match input.kind() {
        ValueKind::String => {
            let mut s = text(input);
            for _ in 0..100 {
                let next = once(&s)?;
                if !recursive || next == s {
                    return Ok(Value::from(next));
                }
                s = next;
            }
            Err(fail("Too many rendering attempts"))
        }
        ValueKind::Map | ValueKind::Seq => {
            fn walk(v: &Json, f: &dyn Fn(&str) -> Result<String, Error>) -> Result<Json, Error> {
                Ok(match v {
                    Json::String(s) => Json::String(f(s)?),
                    Json::Array(a) => {
                        Json::Array(a.iter().map(|x| walk(x, f)).collect::<Result<_, _>>()?)
                    }
                    Json::Object(m) => Json::Object(
                        m.iter()
                            .map(|(k, x)| Ok((k.clone(), walk(x, f)?)))
                            .collect::<Result<_, Error>>()?,
                    ),
                    other => other.clone(),
                })
            }
            let f = |s: &str| -> Result<String, Error> {
                let mut s = s.to_string();
                for _ in 0..100 {
                    let next = once(&s)?;
                    if !recursive || next == s {
                        return Ok(next);
                    }
                    s = next;
                }
                Err(fail("Too many rendering attempts"))
            };
            Ok(value_of(&walk(&json_of(input), &f)?))
        }
        _ => Ok(input.clone()),
    }
}

/// A JSON value as header text: strings as they are, others as JSON.
fn json_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The entries of `tasks` (`<id>.state`, or `<id>.<value>.state` for a loop's runs) whose
/// state is `wanted`.
fn tasks_with_state(tasks: &Json, wanted: &str) -> Vec<Json> {
    let mut found = Vec::new();
    let Some(tasks) = tasks.as_object() else {
        return found;
    };
    let state_of = |v: Option<&Json>| v.and_then(Json::as_str).map(str::to_uppercase);
    for (task_id, runs) in tasks {
        let Some(runs) = runs.as_object() else {
            continue;
        };
        for (key, run) in runs {
            let (state, value) = if key == "state" {
                (state_of(Some(run)), None)
            } else {
                (state_of(run.get("state")), Some(key))
            };
            if state.as_deref() == Some(wanted) {
                let mut entry = serde_json::Map::new();
                entry.insert("taskId".into(), Json::String(task_id.clone()));
                entry.insert("state".into(), Json::String(wanted.to_string()));
                if let Some(v) = value {
                    entry.insert("value".into(), Json::String(v.clone()));
                }
                found.push(Json::Object(entry));
            }
        }
    }
    found
}
