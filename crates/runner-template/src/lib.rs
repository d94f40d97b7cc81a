//! Kestra expressions (`{{ outputs.fetch.uri }}`): Pebble's dialect on minijinja.
//!
//! [`Renderer`] is the one seam through which every property is rendered. It rewrites the
//! Pebble syntax minijinja lacks (`??`, `???`, `c ? a : b`, `equals`, `contains`), adds
//! Kestra's filters and functions (`date`, `jq`, `secret`, `render`, ...), and follows Kestra's
//! rules: a string without `{` is returned untouched, an undefined variable is an error that
//! names it (also under filters and in `if`), maps and lists print as compact JSON, booleans in
//! lowercase, and a value is rendered once unless `render()` asks for more.

mod args;
mod dates;
mod filters;
mod functions;
mod jq;
mod limits;
mod pebble;
mod yaml;

pub use jq::{CHILD_ARG as JQ_CHILD_ARG, JqSandbox, child_main as jq_child_main};
pub use limits::Limits;

use minijinja::value::{Enumerator, Object, ObjectRepr, ValueKind};
use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value};
use runner_secrets::{Masker, SecretStore};
use serde_json::Value as Json;
use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

/// Why an expression could not be rendered, as data; `Display` words it as Kestra does.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderError {
    pub kind: RenderErrorKind,
    /// What went wrong: the parser's or filter's message, or the name not found.
    pub detail: String,
    /// The expression as written.
    pub expression: String,
    /// Line inside the template (1-based), when known.
    pub line: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenderErrorKind {
    /// The expression does not parse.
    Syntax,
    /// A variable or attribute it uses does not exist (`detail` is its name).
    Undefined,
    /// A filter, function or operation failed.
    Other,
    /// It names a function, filter or test runner does not have (`detail` says which).
    Unknown,
}

impl RenderError {
    /// Kestra's message.
    pub fn message(&self) -> String {
        self.to_string()
    }
}

/// The longest expression quoted whole in a message; a longer one is cut.
const QUOTED: usize = 300;

fn quoted(expression: &str) -> std::borrow::Cow<'_, str> {
    if expression.chars().count() <= QUOTED {
        return expression.into();
    }
    let head: String = expression.chars().take(QUOTED).collect();
    format!("{head}… ({} characters)", expression.chars().count()).into()
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = self.line.unwrap_or(1);
        let expression = quoted(&self.expression);
        match self.kind {
            RenderErrorKind::Syntax => write!(
                f,
                "{} in the expression `{expression}` at line {line}",
                self.detail
            ),
            RenderErrorKind::Unknown => {
                write!(f, "{} in the expression `{expression}`", self.detail)
            }
            RenderErrorKind::Undefined => write!(
                f,
                "Unable to find `{}` used in the expression `{expression}` at line {line}",
                self.detail
            ),
            RenderErrorKind::Other => f.write_str(&self.detail),
        }
    }
}

impl std::error::Error for RenderError {}

/// Access to internal storage for `read()`: the engine provides it, checking that a file
/// belongs to the execution being rendered.
pub trait FileAccess: Send + Sync {
    fn read(
        &self,
        path: &str,
        execution_id: Option<&str>,
        namespace: Option<&str>,
        flow_id: Option<&str>,
    ) -> Result<String, Box<dyn std::error::Error + Send + Sync>>;

    /// Namespace file `path` of `namespace`, as text.
    fn read_namespace_file(
        &self,
        namespace: &str,
        path: &str,
    ) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!(
            "Unable to read the file '{path}' of namespace '{namespace}': namespace files are not available here"
        )
        .into())
    }
}

/// One `http()` call, its arguments read.
#[derive(Clone, Debug, Default)]
pub struct HttpCall {
    pub uri: String,
    pub method: String,
    pub query: serde_json::Map<String, Json>,
    /// The body, as the flow wrote it (a string, or a value serialised for `content_type`).
    pub body: Option<Json>,
    pub content_type: String,
    pub accept: String,
    /// Each header name with its values.
    pub headers: Vec<(String, Vec<String>)>,
    /// Kestra's HttpConfiguration, as a map.
    pub options: Option<Json>,
}

/// Where `http()` sends its requests (the HTTP task crate provides it).
pub trait HttpAccess: Send + Sync {
    /// The response body, decoded (JSON becomes a value), or Kestra's error message.
    fn call(&self, call: HttpCall) -> Result<Json, String>;
}

/// What a KV lookup found.
#[derive(Clone, Debug, PartialEq)]
pub enum KvLookup {
    Found(Json),
    Missing,
    /// The key existed but its `ttl` has passed (the store has deleted it).
    Expired,
}

/// Where `kv()` reads (the KV store gives it; the engine's tasks write there).
pub trait KvRead: Send + Sync {
    /// The value of `key` in `namespace` or, with `inherit`, in the nearest parent namespace
    /// that has it (`a.b.c`, then `a.b`, then `a`). An error is a sentence for the user.
    fn lookup(&self, namespace: &str, key: &str, inherit: bool) -> Result<KvLookup, String>;
}

/// Where `errorLogs()` reads: the ERROR log lines of the execution being rendered for.
pub trait ErrorLogRead: Send + Sync {
    /// The lines so far, oldest first, as Kestra's log entries (`taskId`, `level`, `message`...).
    fn error_logs(&self) -> Json;
}

/// What the functions that reach outside the template use.
#[derive(Clone, Default)]
pub struct Hooks {
    /// `secret()` reads here.
    pub secrets: Option<Arc<SecretStore>>,
    /// Every value `secret()` returns is registered here, to be masked.
    pub masker: Option<Arc<Masker>>,
    /// `read()` reads here.
    pub files: Option<Arc<dyn FileAccess>>,
    /// `http()` sends here; without it the function says it is not available.
    pub http: Option<Arc<dyn HttpAccess>>,
    /// `kv()` reads here; without it the function says the store is not available.
    pub kv: Option<Arc<dyn KvRead>>,
    /// `errorLogs()` reads here; without it the function says there is no execution.
    pub error_logs: Option<Arc<dyn ErrorLogRead>>,
    /// How much one render may do; where jq runs.
    pub limits: Limits,
}

/// One variable's value, converted once for rendering; cloning it is cheap (shared).
#[derive(Clone, Debug, Default)]
pub struct Vars(Value);

impl Vars {
    pub fn from_json(json: &Json) -> Self {
        Vars(Value::from(minijinja::value::Serde(json)))
    }

    /// A view of shared JSON that converts only what an expression reads: building a context
    /// costs the same for a flow with ten outputs or ten thousand.
    pub fn lazy(json: Arc<Json>) -> Self {
        Vars(lazy_value(&json, &json, &[]))
    }
}

/// Part of a shared JSON document, found from the root by its path.
#[derive(Debug)]
struct LazyJson {
    root: Arc<Json>,
    path: Vec<PathStep>,
}

#[derive(Debug, Clone)]
enum PathStep {
    Key(String),
    Index(usize),
}

impl LazyJson {
    fn node(&self) -> &Json {
        let mut cur: &Json = &self.root;
        for step in &self.path {
            cur = match step {
                PathStep::Key(k) => &cur[k.as_str()],
                PathStep::Index(i) => &cur[*i],
            };
        }
        cur
    }

    fn child(&self, step: PathStep, json: &Json) -> Value {
        let mut path = self.path.clone();
        path.push(step);
        lazy_value(&self.root, json, &path)
    }
}

fn lazy_value(root: &Arc<Json>, json: &Json, path: &[PathStep]) -> Value {
    match json {
        Json::Object(_) | Json::Array(_) => Value::from_object(LazyJson {
            root: root.clone(),
            path: path.to_vec(),
        }),
        scalar => Value::from(minijinja::value::Serde(scalar)),
    }
}

impl Object for LazyJson {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match self.node() {
            Json::Array(_) => ObjectRepr::Seq,
            _ => ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match self.node() {
            Json::Object(map) => {
                let k = key.as_str()?;
                map.get(k)
                    .map(|v| self.child(PathStep::Key(k.to_string()), v))
            }
            Json::Array(items) => {
                let i = key.as_i64()?;
                let i = if i < 0 {
                    items.len().checked_sub(i.unsigned_abs() as usize)?
                } else {
                    i as usize
                };
                items.get(i).map(|v| self.child(PathStep::Index(i), v))
            }
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.node() {
            Json::Object(map) => {
                Enumerator::Values(map.keys().map(|k| Value::from(k.as_str())).collect())
            }
            Json::Array(items) => Enumerator::Seq(items.len()),
            _ => Enumerator::Empty,
        }
    }
}

/// The variables an expression can see (`flow`, `execution`, `inputs`, `outputs`, `vars`, ...).
#[derive(Clone, Debug, Default)]
pub struct Context {
    value: Value,
}

impl Context {
    pub fn new(json: Json) -> Self {
        Context {
            value: Value::from(minijinja::value::Serde(&json)),
        }
    }

    /// The variables as JSON (for a program that takes them as its bindings).
    pub fn to_json(&self) -> Json {
        serde_json::to_value(&self.value).unwrap_or_default()
    }

    /// A context from named values converted beforehand, so a render does not convert again
    /// what did not change (outputs of a long flow, for instance).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, Vars)>) -> Self {
        let map: std::collections::BTreeMap<String, Value> =
            vars.into_iter().map(|(k, v)| (k, v.0)).collect();
        Context {
            value: Value::from(map),
        }
    }
}

/// Renders Kestra expressions.
pub struct Renderer {
    env: Environment<'static>,
    limits: Limits,
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

/// The expression of a template that is `{{ expression }}` and nothing else.
fn single_expression(source: &str) -> Option<&str> {
    let inner = source.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%")).then_some(inner)
}

impl Renderer {
    /// A renderer without secrets or storage (`secret()` and `read()` report that).
    pub fn new() -> Self {
        Self::with_hooks(Hooks::default())
    }

    pub fn with_hooks(hooks: Hooks) -> Self {
        let mut env = Environment::new();
        env.set_fuel(Some(hooks.limits.fuel));
        // Chainable, so `a.b.c ?? d` and `x is defined` work on missing values; strictness is
        // ours (see `render_source`): a missing variable that is used is an error.
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .keep_trailing_newline(true)
                .build()
                .expect("default delimiters are valid"),
        );
        env.set_formatter(|out, _state, value| {
            match value.kind() {
                ValueKind::Undefined => {
                    return Err(minijinja::Error::new(
                        ErrorKind::UndefinedError,
                        "undefined value",
                    ));
                }
                ValueKind::None => {}
                // Java prints booleans in lowercase, minijinja in Python's `True`.
                ValueKind::Bool => out.write_str(if value.is_true() { "true" } else { "false" })?,
                ValueKind::Map | ValueKind::Seq | ValueKind::Iterable => {
                    let json = serde_json::to_string(value).map_err(|e| {
                        minijinja::Error::new(ErrorKind::BadSerialization, e.to_string())
                    })?;
                    out.write_str(&json)?;
                }
                _ => write!(out, "{value}")?,
            }
            Ok(())
        });
        // Pebble has no `namespace()`; in minijinja it is the one way a loop can feed a value
        // into itself (`{% set ns.x = [ns.x] %}`), nesting it deep enough that dropping it
        // overflows the stack.
        env.remove_global("namespace");
        env.add_global("null", Value::from(()));
        env.add_test("null", |v: Value| v.is_none());
        env.add_test("empty", |v: Value| {
            v.is_none()
                || v.is_undefined()
                || v.as_str().is_some_and(str::is_empty)
                || v.len() == Some(0)
        });
        env.add_test("json", |v: Value| {
            v.as_str()
                .is_some_and(|s| serde_json::from_str::<Json>(s).is_ok())
        });
        filters::register(&mut env);
        // `render_typed`'s carrier: the value as JSON, read back on the other side.
        env.add_filter("__typed", |v: Value| -> Result<String, minijinja::Error> {
            if v.is_undefined() {
                return Err(minijinja::Error::new(
                    ErrorKind::UndefinedError,
                    "undefined value",
                ));
            }
            serde_json::to_string(&v)
                .map_err(|e| minijinja::Error::new(ErrorKind::BadSerialization, e.to_string()))
        });
        let sandbox = hooks.limits.jq.clone();
        env.add_filter(
            "jq",
            move |v: Value, a: minijinja::value::Rest<minijinja::value::ValueOrKwargs>| {
                filters::jq(v, a, sandbox.as_ref())
            },
        );
        functions::register(&mut env, &hooks);
        Renderer {
            env,
            limits: hooks.limits,
        }
    }

    /// Parses `source` without rendering it.
    pub fn check(&self, source: &str) -> Result<(), RenderError> {
        if !source.contains('{') {
            return Ok(());
        }
        self.limits.check_shape(source)?;
        let rewritten = pebble::rewrite(source);
        self.limits.check_rewritten(source, &rewritten)?;
        let template = self
            .env
            .template_from_str(&rewritten.source)
            .map_err(|e| syntax_error(source, &e))?;
        match self.unknown_name(&template) {
            Some(detail) => Err(RenderError {
                kind: RenderErrorKind::Unknown,
                detail,
                expression: source.to_string(),
                line: None,
            }),
            None => Ok(()),
        }
    }

    /// The first function, filter or test `template` uses that runner does not have, said as
    /// a sentence: minijinja finds those only when the template runs, and a flow that passed
    /// `validate` must not fail later on a name.
    fn unknown_name(&self, template: &minijinja::Template<'_, '_>) -> Option<String> {
        use minijinja::machinery::Instruction;
        let compiled = minijinja::machinery::get_compiled_template(template);
        let code = std::iter::once(&compiled.instructions).chain(compiled.blocks.values());
        let instructions: Vec<&Instruction<'_>> = code
            .flat_map(|c| (0u32..).map_while(move |i| c.get(i)))
            .collect();
        // Macros and `set` names are the template's own functions.
        let locals: Vec<&str> = instructions
            .iter()
            .filter_map(|i| match i {
                Instruction::StoreLocal(name) => Some(*name),
                _ => None,
            })
            .collect();
        let function = |name: &str| self.env.globals().any(|(n, _)| n == name);
        for instruction in instructions {
            match *instruction {
                Instruction::CallFunction(name, _)
                    if !locals.contains(&name) && !function(name) =>
                {
                    return Some(if self.has_filter(name) {
                        format!("`{name}` is a filter, not a function: write `value | {name}`")
                    } else {
                        format!("Unknown function '{name}': runner does not have it")
                    });
                }
                Instruction::ApplyFilter(name, _, _) if !self.has_filter(name) => {
                    return Some(if function(name) {
                        format!(
                            "`{name}` is a function, not a filter: write `{name}(value)` instead of `value | {name}`"
                        )
                    } else {
                        format!("Unknown filter '{name}': runner does not have it")
                    });
                }
                Instruction::PerformTest(name, _, _) if !self.has_test(name) => {
                    return Some(format!("Unknown test '{name}': runner does not have it"));
                }
                _ => {}
            }
        }
        None
    }

    /// Whether `name` is a filter; minijinja does not list them, so a probe asks.
    fn has_filter(&self, name: &str) -> bool {
        self.probe(
            &format!("{{{{ none | {name} }}}}"),
            ErrorKind::UnknownFilter,
        )
    }

    fn has_test(&self, name: &str) -> bool {
        self.probe(&format!("{{{{ none is {name} }}}}"), ErrorKind::UnknownTest)
    }

    /// Whether rendering `probe` fails for any reason other than `unknown`. Names come from a
    /// compiled template, so they are identifiers.
    fn probe(&self, probe: &str, unknown: ErrorKind) -> bool {
        match self.env.render_str(probe, ()) {
            Ok(_) => true,
            Err(e) => e.kind() != unknown,
        }
    }

    /// Renders one template string.
    pub fn render_str(&self, source: &str, ctx: &Context) -> Result<String, RenderError> {
        LIMITS.with(|l| *l.borrow_mut() = Some(self.limits.clone()));
        render_source(&self.env, source, &ctx.value)
    }

    /// Renders `source` keeping the type of its value when it is one expression and nothing
    /// else (`"{{ outputs.t.rows }}"` stays a list), as Kestra's `renderTyped`; any other text
    /// renders to a string.
    pub fn render_typed(&self, source: &str, ctx: &Context) -> Result<Json, RenderError> {
        let Some(inner) = single_expression(source) else {
            return self.render_str(source, ctx).map(Json::String);
        };
        let wrapped = format!("{{{{ ({inner}) | __typed }}}}");
        let printed = self.render_str(&wrapped, ctx).map_err(|mut e| {
            // The error is about what the user wrote, not the wrapper.
            e.detail = e.detail.replace(&wrapped, source);
            e.expression = source.to_string();
            e
        })?;
        Ok(serde_json::from_str(&printed).unwrap_or(Json::String(printed)))
    }

    /// Renders every string inside `value`, map keys included; other scalars pass through.
    pub fn render_json(&self, value: &Json, ctx: &Context) -> Result<Json, RenderError> {
        Ok(match value {
            Json::String(s) => Json::String(self.render_str(s, ctx)?),
            Json::Array(items) => Json::Array(
                items
                    .iter()
                    .map(|v| self.render_json(v, ctx))
                    .collect::<Result<_, _>>()?,
            ),
            Json::Object(map) => {
                let mut out = serde_json::Map::with_capacity(map.len());
                for (k, v) in map {
                    out.insert(self.render_str(k, ctx)?, self.render_json(v, ctx)?);
                }
                Json::Object(out)
            }
            other => other.clone(),
        })
    }

    /// Every template string inside a JSON value, for syntax checks during validation.
    pub fn check_json(&self, value: &Json) -> Result<(), RenderError> {
        match value {
            Json::String(s) => self.check(s),
            Json::Array(items) => items.iter().try_for_each(|v| self.check_json(v)),
            Json::Object(map) => map
                .iter()
                .try_for_each(|(k, v)| self.check(k).and_then(|_| self.check_json(v))),
            _ => Ok(()),
        }
    }
}

/// What ends a render that waits (an `http()` call): the task's deadline (its `timeout`) and
/// the execution being killed (Ctrl-C, a failed sibling). The run sets it around each render
/// of a task ([`with_interrupt`]); what waits reads it ([`current_interrupt`]).
#[derive(Clone, Debug, Default)]
pub struct Interrupt {
    pub deadline: Option<std::time::Instant>,
    pub cancelled: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl Interrupt {
    /// Why waiting must stop now, if it must.
    pub fn reason(&self) -> Option<&'static str> {
        if self
            .cancelled
            .as_ref()
            .is_some_and(|c| c.load(std::sync::atomic::Ordering::SeqCst))
        {
            return Some("the execution was killed");
        }
        if self
            .deadline
            .is_some_and(|d| std::time::Instant::now() >= d)
        {
            return Some("the task's timeout ended it");
        }
        None
    }
}

/// Runs `f` (a render) with `interrupt` in force on this thread.
pub fn with_interrupt<R>(interrupt: Interrupt, f: impl FnOnce() -> R) -> R {
    let before = INTERRUPT.with(|i| i.replace(Some(interrupt)));
    let out = f();
    INTERRUPT.with(|i| *i.borrow_mut() = before);
    out
}

/// The interrupt of the render in progress on this thread, if the run set one.
pub fn current_interrupt() -> Option<Interrupt> {
    INTERRUPT.with(|i| i.borrow().clone())
}

thread_local! {
    /// What ends a waiting render on this thread.
    static INTERRUPT: RefCell<Option<Interrupt>> = const { RefCell::new(None) };
    /// The variables of the render in progress on this thread, for `render()` and `printContext()`.
    static CURRENT: RefCell<Vec<Value>> = const { RefCell::new(Vec::new()) };
    /// The limits of the renderer in use on this thread (`render()` renders again).
    static LIMITS: RefCell<Option<Limits>> = const { RefCell::new(None) };
}

pub(crate) fn current_limits() -> Limits {
    LIMITS.with(|l| l.borrow().clone()).unwrap_or_default()
}

pub(crate) fn current_context() -> Value {
    CURRENT
        .with(|c| c.borrow().last().cloned())
        .unwrap_or_else(|| Value::from(()))
}

/// Rewrite, compile, check that every variable used exists, render.
pub(crate) fn render_source(
    env: &Environment<'_>,
    source: &str,
    ctx: &Value,
) -> Result<String, RenderError> {
    if !source.contains('{') {
        return Ok(source.to_string());
    }
    let limits = current_limits();
    limits.check_shape(source)?;
    let rewritten = pebble::rewrite(source);
    limits.check_rewritten(source, &rewritten)?;
    let template = env
        .template_from_str(&rewritten.source)
        .map_err(|e| syntax_error(source, &e))?;
    let mut names: Vec<String> = template.undeclared_variables(true).into_iter().collect();
    names.sort_by_key(|n| (first_use(source, n), n.clone()));
    let is_global = |name: &str| {
        let root = name.split('.').next().unwrap_or(name);
        env.globals().any(|(g, _)| g == root)
    };
    let related = |name: &str, list: &[String]| {
        list.iter().any(|g| {
            g == name || g.starts_with(&format!("{name}.")) || name.starts_with(&format!("{g}."))
        })
    };
    let missing: Vec<(String, String)> = names
        .iter()
        .filter(|n| !is_global(n))
        .filter_map(|n| first_missing(ctx, n).map(|m| (n.clone(), m)))
        .collect();
    // A missing variable that is neither tested (`??`, `is defined`) nor on a path that may not
    // run (a ternary branch, the right of `??`) is an error before anything renders.
    if let Some((name, attr)) = missing
        .iter()
        .find(|(n, _)| !related(n, &rewritten.guarded) && !related(n, &rewritten.lazy))
    {
        return Err(undefined(
            attr,
            source,
            line_of(source, first_use(source, name)),
        ));
    }
    CURRENT.with(|c| c.borrow_mut().push(ctx.clone()));
    let mut out = limits::Capped::new(limits.max_output);
    let result = template
        .render_captured_to(ctx.clone(), &mut out)
        .map(|_| ());
    CURRENT.with(|c| c.borrow_mut().pop());
    if out.exceeded() {
        return Err(limits.output_error(source));
    }
    let result = result.and_then(|()| {
        String::from_utf8(out.into_bytes()).map_err(|_| {
            minijinja::Error::new(ErrorKind::InvalidOperation, "the result is not UTF-8")
        })
    });
    result.map_err(|e| {
        if e.kind() == ErrorKind::UndefinedError {
            let (name, attr) = missing
                .iter()
                .find(|(n, _)| !related(n, &rewritten.guarded))
                .or(missing.first())
                .cloned()
                .unwrap_or_else(|| ("variable".into(), "variable".into()));
            undefined(
                &attr,
                source,
                e.line()
                    .unwrap_or_else(|| line_of(source, first_use(source, &name))),
            )
        } else if e.kind() == ErrorKind::OutOfFuel {
            limits.fuel_error(source)
        } else {
            RenderError {
                kind: RenderErrorKind::Other,
                detail: describe(&e),
                expression: source.to_string(),
                line: e.line(),
            }
        }
    })
}

fn undefined(attr: &str, source: &str, line: usize) -> RenderError {
    RenderError {
        kind: RenderErrorKind::Undefined,
        detail: attr.to_string(),
        expression: source.to_string(),
        line: Some(line),
    }
}

/// Where a dotted name is first used in the source (its root as a whole word inside `{{ }}`).
fn first_use(source: &str, name: &str) -> usize {
    let root = name.split('.').next().unwrap_or(name);
    let bytes = source.as_bytes();
    let mut from = 0;
    while let Some(i) = source[from..].find(root) {
        let at = from + i;
        let before = at.checked_sub(1).map(|b| bytes[b]);
        let after = bytes.get(at + root.len()).copied();
        let word = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_');
        if !word(before)
            && !word(after)
            && before != Some(b'.')
            && source[..at].rfind("{{").is_some()
        {
            return at;
        }
        from = at + root.len();
    }
    usize::MAX
}

fn line_of(source: &str, at: usize) -> usize {
    source[..at.min(source.len())].matches('\n').count() + 1
}

/// For a dotted name (`inputs.invalid.x`), the first segment missing from the context, as Kestra
/// names it: the root when the root is missing, else the missing attribute.
fn first_missing(ctx: &Value, dotted: &str) -> Option<String> {
    let mut cur = ctx.clone();
    for segment in dotted.split('.') {
        match cur.get_attr(segment) {
            Ok(next) if !next.is_undefined() => cur = next,
            _ => return Some(segment.to_string()),
        }
    }
    None
}

fn syntax_error(source: &str, e: &minijinja::Error) -> RenderError {
    RenderError {
        kind: RenderErrorKind::Syntax,
        detail: describe(e),
        expression: source.to_string(),
        line: Some(e.line().unwrap_or(1)),
    }
}

/// minijinja's message without its `(in <string>:N)` suffix: we say where ourselves.
fn describe(e: &minijinja::Error) -> String {
    let mut s = match (e.kind(), e.detail()) {
        (ErrorKind::InvalidOperation | ErrorKind::MissingArgument, Some(d)) => d.to_string(),
        (kind, Some(d)) => format!("{kind}: {d}"),
        (kind, None) => kind.to_string(),
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        s.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    s
}

/// A value as Java's `toString` prints it inside text: `true`, compact JSON for collections.
pub(crate) fn java_string(v: &Value) -> String {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => String::new(),
        ValueKind::Bool => if v.is_true() { "true" } else { "false" }.to_string(),
        ValueKind::Map | ValueKind::Seq | ValueKind::Iterable => {
            serde_json::to_string(v).unwrap_or_default()
        }
        _ => v.as_str().map_or_else(|| v.to_string(), str::to_string),
    }
}

/// A template value as JSON (maps keep their order).
pub(crate) fn json_of(v: &Value) -> Json {
    serde_json::to_value(v).unwrap_or(Json::Null)
}

pub(crate) fn value_of(j: &Json) -> Value {
    Value::from(minijinja::value::Serde(j))
}

/// Kestra's `Slugify`: lowercase, `_` and spaces become `-`, other symbols are dropped.
pub fn slugify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.trim().chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if (c == '-' || c == '_' || c.is_whitespace()) && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// Formats a date-time with a Java `DateTimeFormatter` pattern (or a Kestra named format), as
/// the `date` filter does; serdes tasks use it for their date options.
pub fn format_java_date(
    z: &jiff::ZonedDateTime,
    pattern: &str,
) -> Result<String, DatePatternError> {
    dates::format(z, pattern, None).map_err(|reason| DatePatternError {
        pattern: pattern.to_string(),
        reason,
    })
}

/// A value as YAML text, as Kestra's `yaml` filter and its YAML serdes tasks write it.
pub fn to_yaml(v: &Json) -> String {
    yaml::to_yaml(v)
}

/// A Java `DateTimeFormatter` pattern as a jiff `strptime` format, for reading dates with it
/// (optional sections `[...]` are not handled: the caller tries with and without them).
pub fn java_pattern_to_strptime(pattern: &str) -> String {
    dates::to_strptime(pattern)
}

/// A Java date pattern that cannot be used.
#[derive(Clone, Debug, PartialEq)]
pub struct DatePatternError {
    pub pattern: String,
    pub reason: String,
}

impl fmt::Display for DatePatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for DatePatternError {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(t: &str, vars: Json) -> Result<String, RenderError> {
        Renderer::new().render_str(t, &Context::new(vars))
    }

    #[test]
    fn plain_text_is_untouched() {
        assert_eq!(
            render("no braces here }}", json!({})).unwrap(),
            "no braces here }}"
        );
    }

    #[test]
    fn maps_and_lists_print_as_compact_json() {
        let vars = json!({"list": ["string", 1, 1.123], "map": {"a": 1, "b": [true]}});
        assert_eq!(
            render("{{ list }}", vars.clone()).unwrap(),
            r#"["string",1,1.123]"#
        );
        assert_eq!(render("{{ map }}", vars).unwrap(), r#"{"a":1,"b":[true]}"#);
    }

    #[test]
    fn undefined_variables_fail_naming_them() {
        let err = render("{{ inputs.invalid }}", json!({})).unwrap_err();
        assert_eq!(err.kind, RenderErrorKind::Undefined);
        assert_eq!(
            err.message(),
            "Unable to find `inputs` used in the expression `{{ inputs.invalid }}` at line 1"
        );
        let err = render("a\n{{ inputs.nope | upper }}", json!({"inputs": {}})).unwrap_err();
        assert_eq!(
            err.message(),
            "Unable to find `nope` used in the expression `a\n{{ inputs.nope | upper }}` at line 2"
        );
        assert!(render("{% if nope %}x{% endif %}", json!({})).is_err());
    }

    #[test]
    fn syntax_errors_are_reported_by_check() {
        let r = Renderer::new();
        let err = r.check("{{ a + }}").unwrap_err();
        assert_eq!(err.kind, RenderErrorKind::Syntax);
        assert!(err.message().contains("at line 1"), "{err}");
        assert!(r.check("{{ a }}").is_ok());
    }

    #[test]
    fn render_json_renders_keys_and_nested_strings() {
        let r = Renderer::new();
        let ctx = Context::new(json!({"k": "key", "v": 2}));
        let out = r
            .render_json(&json!({"{{ k }}": ["{{ v }}", 3]}), &ctx)
            .unwrap();
        assert_eq!(out, json!({"key": ["2", 3]}));
    }

    #[test]
    fn a_rendered_value_is_not_rendered_again() {
        assert_eq!(
            render("{{ x }}", json!({"x": "{{ y }}"})).unwrap(),
            "{{ y }}"
        );
    }

    #[test]
    fn lazy_views_behave_like_converted_values() {
        let json = Arc::new(json!({"a": {"b": [1, {"c": "x"}]}, "n": null, "t": true}));
        let ctx = Context::from_vars([("o".to_string(), Vars::lazy(json))]);
        let r = Renderer::new();
        let render = |t: &str| r.render_str(t, &ctx);
        assert_eq!(
            render("{{ o.a.b[1].c }} {{ o.a.b[-1].c }} {{ o['a']['b'][0] }}").unwrap(),
            "x x 1"
        );
        assert_eq!(render("{{ o.a }}").unwrap(), r#"{"b":[1,{"c":"x"}]}"#);
        assert_eq!(
            render("{{ o.a.b | length }} {% for k in o %}{{ k }},{% endfor %}").unwrap(),
            "2 a,n,t,"
        );
        assert_eq!(render("{{ o.t }}[{{ o.n }}]").unwrap(), "true[]");
        assert_eq!(
            render("{{ o.a.zz }}").unwrap_err().message(),
            "Unable to find `zz` used in the expression `{{ o.a.zz }}` at line 1"
        );
    }

    #[test]
    fn booleans_print_in_lowercase() {
        assert_eq!(
            render("{{ 1 == 2 }} {{ t }}", json!({"t": true})).unwrap(),
            "false true"
        );
    }

    #[test]
    fn null_prints_empty() {
        assert_eq!(render("[{{ x }}]", json!({"x": null})).unwrap(), "[]");
        assert_eq!(render("{{ null }}", json!({})).unwrap(), "");
    }
}
