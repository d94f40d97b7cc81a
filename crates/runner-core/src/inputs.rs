//! Flow inputs: the values given for a run, checked and typed as Kestra does.

use crate::storage::{ExecutionPrefix, Storage, StorageError};
use runner_model::{Node, NodeValue, RawInput, format_iso, parse_duration};
use serde_json::{Map, Value as Json};
use std::fmt;
use std::path::Path;

#[derive(Debug)]
pub enum InputError {
    /// Kestra's `Invalid input for `id`, <reason>, but received `value``.
    Invalid {
        id: String,
        reason: String,
        received: String,
    },
    Unknown {
        id: String,
        declared: Vec<String>,
    },
    File {
        id: String,
        path: String,
        source: std::io::Error,
    },
    Storage(StorageError),
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Invalid {
                id,
                reason,
                received,
            } => {
                write!(
                    f,
                    "Invalid input for `{id}`, {reason}, but received `{received}`"
                )
            }
            InputError::Unknown { id, declared } if declared.is_empty() => {
                write!(f, "unknown input `{id}`: the flow declares no inputs")
            }
            InputError::Unknown { id, declared } => {
                write!(
                    f,
                    "unknown input `{id}`: the flow declares {}",
                    declared.join(", ")
                )
            }
            InputError::File { id, path, source } => {
                write!(f, "input `{id}`: cannot read `{path}`: {source}")
            }
            InputError::Storage(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for InputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InputError::File { source, .. } => Some(source),
            InputError::Storage(e) => Some(e),
            _ => None,
        }
    }
}

/// An input as the flow declares it, read once while the flow is validated: `run`, `eval`
/// and test fixtures type values through it, and its pattern is compiled once.
#[derive(Clone, Debug)]
pub struct InputSpec {
    pub id: String,
    /// Kestra's type name (`STRING`, `INT`, ...), as messages show it.
    pub type_name: String,
    pub required: bool,
    pub defaults: Option<Json>,
    /// `validator` (STRING, SECRET, EMAIL): as written, and anchored to the whole value.
    validator: Option<(String, regex::Regex)>,
    /// `min`/`max` (INT, FLOAT, DURATION).
    min: Option<Json>,
    max: Option<Json>,
    /// `after`/`before` (DATE, TIME, DATETIME).
    after: Option<String>,
    before: Option<String>,
    /// `values` (or `options`) of SELECT, ENUM, MULTISELECT.
    values: Vec<String>,
    allow_custom: bool,
    /// Items of ARRAY and MULTISELECT.
    item_type: String,
}

impl InputSpec {
    /// Reads a declared input; the flow's structural rules were checked by the model.
    pub(crate) fn read(raw: &RawInput) -> Result<InputSpec, String> {
        let field = |key: &str| {
            raw.node
                .get(key)
                .filter(|n| !n.is_null())
                .map(Node::to_json)
        };
        let validator = match raw.node.get("validator").and_then(Node::as_str) {
            Some(p) => Some((
                p.to_string(),
                regex::Regex::new(&format!("^(?:{p})$")).map_err(|e| e.to_string())?,
            )),
            None => None,
        };
        Ok(InputSpec {
            id: raw.id.clone(),
            type_name: raw.type_name.clone(),
            required: raw.required,
            defaults: raw.defaults.as_ref().map(Node::to_json),
            validator,
            min: field("min"),
            max: field("max"),
            after: field("after").map(|v| text(&v)),
            before: field("before").map(|v| text(&v)),
            values: raw
                .node
                .get("values")
                .or_else(|| raw.node.get("options"))
                .and_then(Node::as_seq)
                .map(|s| s.iter().map(|n| text(&n.to_json())).collect())
                .unwrap_or_default(),
            allow_custom: matches!(
                raw.node.get("allowCustomValue").map(|n| &n.value),
                Some(NodeValue::Bool(true))
            ),
            item_type: raw
                .node
                .get("itemType")
                .and_then(Node::as_str)
                .unwrap_or("STRING")
                .to_string(),
        })
    }

    /// A value typed as `type_name` with no other rule (a flow output's `type`).
    pub(crate) fn of_type(id: &str, type_name: &str) -> InputSpec {
        InputSpec {
            id: id.to_string(),
            type_name: type_name.to_string(),
            required: true,
            defaults: None,
            validator: None,
            min: None,
            max: None,
            after: None,
            before: None,
            values: Vec::new(),
            allow_custom: false,
            item_type: "STRING".into(),
        }
    }

    /// The default typed as the input's type (FILE defaults stay URIs), for `eval --flow`.
    pub fn typed_default(&self) -> Option<Json> {
        let d = self.defaults.as_ref()?;
        if self.type_name == "FILE" {
            return Some(d.clone());
        }
        Some(coerce(self, d).unwrap_or_else(|_| d.clone()))
    }
}

/// The typed values of every declared input, nested by dots (`a.b` becomes `inputs.a.b`),
/// and the values of SECRET inputs (to mask).
pub(crate) struct ResolvedInputs {
    pub values: Json,
    pub secrets: Vec<(String, String)>,
}

/// Checks and types `given` against the flow's inputs; FILE inputs given as local paths are
/// copied into the execution's storage.
pub(crate) async fn resolve_inputs(
    defs: &[InputSpec],
    given: &Map<String, Json>,
    storage: &Storage,
    prefix: &ExecutionPrefix,
    renderer: &runner_template::Renderer,
    base: &Map<String, Json>,
) -> Result<ResolvedInputs, InputError> {
    let declared: Vec<String> = defs.iter().map(|d| d.id.clone()).collect();
    if let Some(id) = given.keys().find(|k| !declared.contains(k)) {
        return Err(InputError::Unknown {
            id: id.clone(),
            declared,
        });
    }
    let mut flat = Map::new();
    let mut secrets = Vec::new();
    for def in defs {
        let value = match given.get(&def.id) {
            Some(v) if !v.is_null() => Some(v.clone()),
            // Kestra renders a dynamic default (`{{ now() }}`), seeing the inputs before it.
            _ => match &def.defaults {
                Some(Json::String(t)) if t.contains("{{") || t.contains("{%") => {
                    let mut vars = base.clone();
                    vars.insert("inputs".into(), nest(flat.clone()));
                    let context = runner_template::Context::new(Json::Object(vars));
                    Some(renderer.render_typed(t, &context).map_err(|e| {
                        invalid(
                            def,
                            format!("its default could not be rendered: {e}"),
                            &Json::String(t.clone()),
                        )
                    })?)
                }
                other => other.clone(),
            },
        };
        let Some(value) = value else {
            if def.required {
                return Err(invalid(def, "missing required input".into(), &Json::Null));
            }
            flat.insert(def.id.clone(), Json::Null);
            continue;
        };
        let typed = if def.type_name == "FILE" {
            file_input(def, &value, storage, prefix).await?
        } else {
            coerce(def, &value).map_err(|reason| invalid(def, reason, &value))?
        };
        if def.type_name == "SECRET"
            && let Some(s) = typed.as_str()
        {
            secrets.push((def.id.clone(), s.to_string()));
        }
        flat.insert(def.id.clone(), typed);
    }
    Ok(ResolvedInputs {
        values: nest(flat),
        secrets,
    })
}

fn invalid(def: &InputSpec, reason: String, value: &Json) -> InputError {
    let received = match value {
        Json::Null => "null".to_string(),
        Json::String(s) if def.type_name == "SECRET" => "*".repeat(s.len().min(8)),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    InputError::Invalid {
        id: def.id.clone(),
        reason,
        received,
    }
}

/// The typed defaults of `specs`, nested like run inputs (for `eval --flow`).
pub fn default_inputs(specs: &[InputSpec]) -> Json {
    nest(
        specs
            .iter()
            .filter_map(|s| Some((s.id.clone(), s.typed_default()?)))
            .collect(),
    )
}

/// `{"a.b": 1, "c": 2}` to `{"a": {"b": 1}, "c": 2}`.
fn nest(flat: Map<String, Json>) -> Json {
    let mut root = Map::new();
    for (key, value) in flat {
        let mut parts: Vec<&str> = key.split('.').collect();
        let last = parts.pop().unwrap_or_default().to_string();
        let mut cur = &mut root;
        for p in parts {
            let entry = cur
                .entry(p.to_string())
                .or_insert_with(|| Json::Object(Map::new()));
            if !entry.is_object() {
                *entry = Json::Object(Map::new());
            }
            cur = entry.as_object_mut().expect("made an object above");
        }
        cur.insert(last, value);
    }
    Json::Object(root)
}

fn text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn expected(type_name: &str, value: &Json, why: impl fmt::Display) -> String {
    format!(
        "Expected `{type_name}` but received `{}` with errors:\n```\n{why}\n```",
        text(value)
    )
}

/// Types one value as input type `def.type_name` (also used for flow outputs).
pub(crate) fn coerce(def: &InputSpec, value: &Json) -> Result<Json, String> {
    coerce_as(&def.type_name, def, value)
}

fn coerce_as(type_name: &str, def: &InputSpec, value: &Json) -> Result<Json, String> {
    Ok(match type_name {
        "STRING" | "SECRET" | "EMAIL" => {
            let s = text(value);
            if let Some((pattern, re)) = &def.validator
                && !re.is_match(&s)
            {
                return Err(format!("it must match the pattern `{pattern}`"));
            }
            if type_name == "EMAIL" {
                let ok = s
                    .split_once('@')
                    .is_some_and(|(a, b)| !a.is_empty() && b.contains('.') && !b.ends_with('.'));
                if !ok {
                    return Err(expected("EMAIL", value, "not an email address"));
                }
            }
            Json::String(s)
        }
        "INT" => {
            let n: i64 = match value {
                Json::Number(n) if n.is_i64() => n.as_i64().unwrap_or_default(),
                other => text(other)
                    .trim()
                    .parse::<i32>()
                    .map_err(|e| expected("INT", other, e))?
                    .into(),
            };
            check_range(def, n as f64)?;
            Json::from(n)
        }
        "FLOAT" => {
            let f: f64 = match value {
                Json::Number(n) => n.as_f64().unwrap_or_default(),
                other => text(other)
                    .trim()
                    .parse::<f64>()
                    .map_err(|e| expected("FLOAT", other, e))?,
            };
            // Rust reads `NaN`, `inf` and `1e999` (infinite); none is a value a flow can use,
            // and JSON cannot hold them.
            if !f.is_finite() {
                return Err(expected("FLOAT", value, "not a finite number"));
            }
            check_range(def, f)?;
            serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)
        }
        // Kestra reads anything but `true` as false; a `yes`, `1` or empty value then turns
        // into false in silence. Only its two words are taken here.
        "BOOLEAN" | "BOOL" => match value {
            Json::Bool(b) => Json::Bool(*b),
            other => match text(other).trim().to_ascii_lowercase().as_str() {
                "true" => Json::Bool(true),
                "false" => Json::Bool(false),
                _ => return Err(expected("BOOLEAN", value, "write true or false")),
            },
        },
        "DATETIME" => {
            let s = text(value);
            let ts: jiff::Timestamp = s
                .trim()
                .parse()
                .map_err(|e| expected("DATETIME", value, e))?;
            check_order(def, |b| {
                b.parse::<jiff::Timestamp>().ok().map(|b| ts.cmp(&b))
            })?;
            Json::String(ts.to_string())
        }
        "DATE" => {
            let s = text(value);
            let d: jiff::civil::Date = s.trim().parse().map_err(|e| expected("DATE", value, e))?;
            check_order(def, |b| {
                b.parse::<jiff::civil::Date>().ok().map(|b| d.cmp(&b))
            })?;
            Json::String(d.to_string())
        }
        "TIME" => {
            let s = text(value);
            let t: jiff::civil::Time = s.trim().parse().map_err(|e| expected("TIME", value, e))?;
            check_order(def, |b| {
                b.parse::<jiff::civil::Time>().ok().map(|b| t.cmp(&b))
            })?;
            Json::String(s.trim().to_string())
        }
        "DURATION" => {
            let s = text(value);
            let d = parse_duration(&s).ok_or_else(|| {
                expected("DURATION", value, "Text cannot be parsed to a Duration")
            })?;
            if let Some(min) = def
                .min
                .as_ref()
                .and_then(|m| m.as_str().and_then(parse_duration))
                && d < min
            {
                return Err(format!("it must be more than `{}`", format_iso(min)));
            }
            if let Some(max) = def
                .max
                .as_ref()
                .and_then(|m| m.as_str().and_then(parse_duration))
                && d > max
            {
                return Err(format!("it must be less than `{}`", format_iso(max)));
            }
            Json::String(format_iso(d))
        }
        "JSON" => match value {
            Json::String(s) => serde_json::from_str(s).map_err(|e| expected("JSON", value, e))?,
            other => other.clone(),
        },
        "YAML" => match value {
            Json::String(s) => {
                let docs = runner_model::load_str(s).map_err(|e| expected("YAML", value, e))?;
                docs.first().map_or(Json::Null, Node::to_json)
            }
            other => other.clone(),
        },
        "URI" => {
            let s = text(value);
            let ok = s.split_once("://").is_some_and(|(scheme, rest)| {
                !scheme.is_empty()
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
                    && !rest.is_empty()
                    && !rest.contains(char::is_whitespace)
            });
            if !ok {
                return Err(expected("URI", value, "not a valid URI"));
            }
            Json::String(s)
        }
        "SELECT" | "ENUM" => {
            let s = text(value);
            let values = &def.values;
            if !values.is_empty() && !def.allow_custom && !values.contains(&s) {
                return Err(format!(
                    "it must match the values `[{}]`",
                    values.join(", ")
                ));
            }
            Json::String(s)
        }
        "MULTISELECT" | "ARRAY" => {
            let items = match value {
                Json::Array(a) => a.clone(),
                Json::String(s) => match serde_json::from_str::<Json>(s) {
                    Ok(Json::Array(a)) => a,
                    _ => return Err(expected(type_name, value, "not a JSON array")),
                },
                other => return Err(expected(type_name, other, "not a list")),
            };
            let item_type = def.item_type.as_str();
            let values = &def.values;
            let mut out = Vec::with_capacity(items.len());
            for item in &items {
                let typed = coerce_as(item_type, def, item)?;
                if type_name == "MULTISELECT"
                    && !values.is_empty()
                    && !values.contains(&text(&typed))
                {
                    return Err(format!(
                        "it must match the values `[{}]`",
                        values.join(", ")
                    ));
                }
                out.push(typed);
            }
            Json::Array(out)
        }
        _ => value.clone(),
    })
}

fn check_range(def: &InputSpec, n: f64) -> Result<(), String> {
    if let Some(min) = &def.min
        && min.as_f64().is_some_and(|m| n < m)
    {
        return Err(format!("it must be more than `{}`", text(min)));
    }
    if let Some(max) = &def.max
        && max.as_f64().is_some_and(|m| n > m)
    {
        return Err(format!("it must be less than `{}`", text(max)));
    }
    Ok(())
}

fn check_order(
    def: &InputSpec,
    cmp: impl Fn(&str) -> Option<std::cmp::Ordering>,
) -> Result<(), String> {
    use std::cmp::Ordering;
    if let Some(after) = &def.after
        && cmp(after) != Some(Ordering::Greater)
    {
        return Err(format!("it must be after `{after}`"));
    }
    if let Some(before) = &def.before
        && cmp(before) != Some(Ordering::Less)
    {
        return Err(format!("it must be before `{before}`"));
    }
    Ok(())
}

/// A FILE input: a `kestra://` URI is kept; a local path is copied into the execution's storage.
async fn file_input(
    def: &InputSpec,
    value: &Json,
    storage: &Storage,
    prefix: &ExecutionPrefix,
) -> Result<Json, InputError> {
    let given = text(value);
    if given.starts_with("kestra://") {
        storage.path(&given).map_err(InputError::Storage)?;
        return Ok(Json::String(given));
    }
    let path = Path::new(given.strip_prefix("file://").unwrap_or(&given));
    let file_error = |source| InputError::File {
        id: def.id.clone(),
        path: given.clone(),
        source,
    };
    // A device or a pipe (`/dev/zero`) would be copied without end.
    let meta = std::fs::metadata(path).map_err(file_error)?;
    if !meta.is_file() {
        return Err(file_error(std::io::Error::other(
            "not a regular file (a folder, device or pipe): give a file",
        )));
    }
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let uri = prefix.input_file(&def.id, &name);
    let src = tokio::fs::File::open(path)
        .await
        .map_err(|source| InputError::File {
            id: def.id.clone(),
            path: given.clone(),
            source,
        })?;
    let dst = storage.create(&uri).await.map_err(InputError::Storage)?;
    if let Err(source) = crate::storage::copy_file(src, dst).await {
        // No half-copied input is left behind.
        if let Ok(partial) = storage.path(&uri) {
            let _ = tokio::fs::remove_file(partial).await;
        }
        return Err(file_error(source));
    }
    Ok(Json::String(uri))
}
