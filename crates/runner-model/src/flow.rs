//! The flow as written: top-level fields read from a [`Node`], with Kestra's structural rules.
//! Task properties stay as nodes here; the task registry (in `runner-core`) types them.

use crate::{Diagnostic, Key, Node, NodeValue, Problem, Span};

/// Top-level fields Kestra's flow has; anything else is an unknown property.
pub const FLOW_FIELDS: &[&str] = &[
    "id",
    "namespace",
    "revision",
    "description",
    "labels",
    "inputs",
    "variables",
    "tasks",
    "errors",
    "finally",
    "afterExecution",
    "listeners",
    "outputs",
    "triggers",
    "pluginDefaults",
    "taskDefaults",
    "concurrency",
    "retry",
    "disabled",
    "deleted",
    "sla",
    "checks",
    "tenantId",
    "workerGroup",
];

/// Properties every task has, whatever its type.
pub const TASK_COMMON_FIELDS: &[&str] = &[
    "id",
    "type",
    "description",
    "retry",
    "timeout",
    "disabled",
    "runIf",
    "allowFailure",
    "allowWarning",
    "logLevel",
    "logToFile",
    "workerGroup",
    "version",
    // Kestra 1.x lineage metadata (inputs and outputs a task declares); runner keeps none.
    "assets",
];

/// The input types Kestra knows (uppercase, case-sensitive).
pub const INPUT_TYPES: &[&str] = &[
    "STRING",
    "ENUM",
    "SELECT",
    "INT",
    "FLOAT",
    "BOOLEAN",
    // Kestra 0.24's name; BOOLEAN is the deprecated one.
    "BOOL",
    "DATETIME",
    "DATE",
    "TIME",
    "DURATION",
    "FILE",
    "JSON",
    "URI",
    "SECRET",
    "ARRAY",
    "MULTISELECT",
    "YAML",
    "EMAIL",
];

/// Properties every input has, whatever its type.
pub const INPUT_COMMON_FIELDS: &[&str] = &[
    "id",
    "name",
    "type",
    "description",
    "required",
    "defaults",
    "displayName",
    "dependsOn",
    "prefill",
];

/// The properties an input of `type_name` has beyond the common ones.
pub fn input_extra_fields(type_name: &str) -> &'static [&'static str] {
    match type_name {
        "STRING" | "SECRET" => &["validator"],
        "INT" | "FLOAT" | "DURATION" => &["min", "max"],
        "DATE" | "TIME" | "DATETIME" => &["after", "before"],
        "SELECT" | "ENUM" => &["values", "expression", "allowCustomValue", "isRadio"],
        "MULTISELECT" => &[
            "values",
            "options",
            "expression",
            "itemType",
            "allowCustomValue",
        ],
        "ARRAY" => &["itemType"],
        "FILE" => &["extension", "allowedFileExtensions"],
        _ => &[],
    }
}

/// A flow as written, with its structural problems already reported.
#[derive(Clone, Debug)]
pub struct RawFlow {
    pub node: Node,
    pub id: String,
    pub namespace: String,
    pub revision: Option<i64>,
    pub description: Option<String>,
    pub labels: Vec<Label>,
    pub inputs: Vec<RawInput>,
    pub variables: Option<Node>,
    pub outputs: Vec<RawOutput>,
    pub disabled: bool,
}

impl RawFlow {
    /// The task list under `key` (`tasks`, `errors`, `finally`, `afterExecution`), when present.
    pub fn task_list(&self, key: &str) -> Option<&Node> {
        self.node.get(key).filter(|n| !n.is_null())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    pub key: String,
    pub value: String,
}

#[derive(Clone, Debug)]
pub struct RawInput {
    pub id: String,
    pub type_name: String,
    pub required: bool,
    pub defaults: Option<Node>,
    pub node: Node,
}

#[derive(Clone, Debug)]
pub struct RawOutput {
    pub id: String,
    pub type_name: Option<String>,
    pub value: Node,
    /// Kestra's default is true; an optional output that fails to render is null.
    pub required: bool,
}

/// A task as written: its id, type, common properties and the rest left as nodes, borrowed
/// from the document (a flowable's children are read where they are, never copied).
#[derive(Clone, Debug)]
pub struct RawTask<'n> {
    pub id: String,
    pub type_name: String,
    pub type_span: Span,
    pub node: &'n Node,
    /// The properties that are not common task properties, for the task type to read.
    pub properties: Vec<&'n (Key, Node)>,
}

impl RawTask<'_> {
    pub fn common(&self, name: &str) -> Option<&Node> {
        self.node.get(name).filter(|n| !n.is_null())
    }
}

/// Collects diagnostics while reading a document.
pub struct Reader<'a> {
    pub diagnostics: &'a mut Vec<Diagnostic>,
}

impl Reader<'_> {
    pub fn error(
        &mut self,
        problem: Problem,
        span: impl Into<Option<Span>>,
        path: impl Into<String>,
    ) {
        self.diagnostics
            .push(Diagnostic::error(problem, span, path));
    }

    fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            NodeValue::Str(s) => Some(s.clone()),
            NodeValue::Int(i) => Some(i.to_string()),
            NodeValue::Float(f) => Some(f.to_string()),
            NodeValue::Bool(b) => Some(b.to_string()),
            NodeValue::Null => None,
            NodeValue::Map(_) => {
                self.wrong_type(node, path, "a string");
                None
            }
            NodeValue::Seq(_) => {
                self.wrong_type(node, path, "a string");
                None
            }
        }
    }

    fn bool(&mut self, node: Option<&Node>, path: &str, default: bool) -> bool {
        match node.map(|n| &n.value) {
            None | Some(NodeValue::Null) => default,
            Some(NodeValue::Bool(b)) => *b,
            Some(NodeValue::Str(s)) if s == "true" || s == "false" => s == "true",
            Some(_) => {
                self.wrong_type(node.unwrap(), path, "a boolean (true or false)");
                default
            }
        }
    }

    /// A map where a string or list was expected is most often an unquoted `{{ }}`: say so.
    pub fn wrong_type(&mut self, node: &Node, path: &str, expected: &str) {
        let problem = if looks_like_unquoted_expression(node) {
            Problem::UnquotedExpression {
                property: path.to_string(),
            }
        } else {
            Problem::WrongType {
                property: path.to_string(),
                expected: expected.to_string(),
                found: node.kind(),
            }
        };
        self.error(problem, node.span, path);
    }

    pub fn unknown_keys(&mut self, node: &Node, known: &[&str], owner: &str, path: &str) {
        for (key, _) in node.as_map().unwrap_or_default() {
            if !known.contains(&key.name.as_str()) {
                self.error(
                    Problem::UnknownProperty {
                        owner: owner.to_string(),
                        property: key.name.clone(),
                        known: known.iter().map(|s| s.to_string()).collect(),
                    },
                    key.span,
                    join(path, &key.name),
                );
            }
        }
    }

    /// Reads the common shape of a task; `None` when it lacks a usable id or type.
    pub fn task<'n>(&mut self, node: &'n Node, path: &str) -> Option<RawTask<'n>> {
        let Some(entries) = node.as_map() else {
            self.wrong_type(node, path, "a task (a map with `id` and `type`)");
            return None;
        };
        let id = match node.get("id") {
            Some(n) => self.string(n, &join(path, "id")),
            None => None,
        };
        let id = match id {
            Some(id) => {
                if !is_task_id(&id) {
                    let span = node.get("id").map(|n| n.span);
                    self.error(
                        Problem::Pattern {
                            property: join(path, "id"),
                            value: id.clone(),
                            pattern: "^[a-zA-Z0-9][a-zA-Z0-9_-]*",
                        },
                        span,
                        join(path, "id"),
                    );
                }
                id
            }
            None => {
                self.error(
                    Problem::Missing {
                        property: join(path, "id"),
                    },
                    node.span,
                    join(path, "id"),
                );
                String::new()
            }
        };
        let type_node = node.get("type");
        let type_name = match type_node.and_then(|n| self.string(n, &join(path, "type"))) {
            Some(t) => t,
            None => {
                self.error(
                    Problem::MissingType { owner: "tasks" },
                    node.span,
                    join(path, "type"),
                );
                return None;
            }
        };
        for flag in ["disabled", "allowFailure", "allowWarning", "logToFile"] {
            let p = join(path, flag);
            self.bool(node.get(flag), &p, false);
        }
        if let Some(wg) = node.get("workerGroup").filter(|n| !n.is_null()) {
            self.error(Problem::WorkerGroup, wg.span, join(path, "workerGroup"));
        }
        if let Some(level) = node.get("logLevel").filter(|n| !n.is_null()) {
            let ok = level.as_str().is_some_and(|l| LOG_LEVELS.contains(&l));
            if !ok {
                self.error(
                    Problem::InvalidValue {
                        property: join(path, "logLevel"),
                        reason: format!("must be one of {}", LOG_LEVELS.join(", ")),
                    },
                    level.span,
                    join(path, "logLevel"),
                );
            }
        }
        let properties = entries
            .iter()
            .filter(|(k, _)| !TASK_COMMON_FIELDS.contains(&k.name.as_str()))
            .collect();
        Some(RawTask {
            id,
            type_name,
            type_span: type_node.map_or(node.span, |n| n.span),
            node,
            properties,
        })
    }
}

pub const LOG_LEVELS: &[&str] = &["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];

pub fn join(path: &str, key: &str) -> String {
    match (path.is_empty(), key.is_empty()) {
        (true, _) => key.to_string(),
        (_, true) => path.to_string(),
        _ => format!("{path}.{key}"),
    }
}

/// `message: {{ x }}` reaches us as `{ { x: null }: null }` flattened by YAML into a map whose
/// single key is itself a map or whose key text starts with `{`.
pub fn looks_like_unquoted_expression(node: &Node) -> bool {
    match &node.value {
        NodeValue::Map(entries) => {
            entries.len() == 1
                && (entries[0].0.name.starts_with('{')
                    || matches!(entries[0].1.value, NodeValue::Null))
        }
        _ => false,
    }
}

pub fn is_task_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn is_flow_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn is_namespace(ns: &str) -> bool {
    let mut chars = ns.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

fn is_input_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Reads the top level of one document. Task lists are checked by the validator, which knows
/// the task types; everything else is checked here.
pub fn read_flow(node: &Node, diagnostics: &mut Vec<Diagnostic>) -> Option<RawFlow> {
    let mut r = Reader { diagnostics };
    if node.as_map().is_none() {
        r.error(Problem::NotAMap { found: node.kind() }, node.span, "");
        return None;
    }
    r.unknown_keys(node, FLOW_FIELDS, "flow", "");

    let id = identifier(
        &mut r,
        node,
        "id",
        100,
        is_flow_id,
        "^[a-zA-Z0-9][a-zA-Z0-9._-]*",
    );
    let namespace = identifier(
        &mut r,
        node,
        "namespace",
        150,
        is_namespace,
        "^[a-z0-9][a-z0-9._-]*",
    );

    let revision = match node.get("revision").map(|n| &n.value) {
        None | Some(NodeValue::Null) => None,
        Some(NodeValue::Int(i)) if *i >= 1 => Some(*i),
        Some(_) => {
            let n = node.get("revision").unwrap();
            r.error(
                Problem::InvalidValue {
                    property: "revision".into(),
                    reason: "must be greater than or equal to 1".into(),
                },
                n.span,
                "revision",
            );
            None
        }
    };
    let description = node
        .get("description")
        .and_then(|n| r.string(n, "description"));
    let disabled = r.bool(node.get("disabled"), "disabled", false);
    r.bool(node.get("deleted"), "deleted", false);
    let labels = read_labels(&mut r, node.get("labels"));
    let inputs = read_inputs(&mut r, node.get("inputs"), "inputs");
    let variables = node.get("variables").filter(|n| !n.is_null()).cloned();
    if let Some(v) = &variables
        && v.as_map().is_none()
    {
        r.wrong_type(v, "variables", "a map");
    }
    let outputs = read_outputs(&mut r, node.get("outputs"));
    read_triggers(&mut r, node.get("triggers"));
    for key in ["pluginDefaults", "taskDefaults"] {
        read_plugin_defaults(&mut r, node.get(key), key);
    }
    read_concurrency(&mut r, node.get("concurrency"));
    if let Some(wg) = node.get("workerGroup").filter(|n| !n.is_null()) {
        r.error(Problem::WorkerGroup, wg.span, "workerGroup");
    }
    for key in ["sla", "checks"] {
        if let Some(n) = node.get(key).filter(|n| !n.is_null())
            && n.as_seq().is_none()
        {
            r.wrong_type(n, key, "a list");
        }
    }
    match node.get("tasks") {
        None => r.error(
            Problem::Empty {
                property: "tasks".into(),
            },
            node.span,
            "tasks",
        ),
        Some(n) => match &n.value {
            NodeValue::Null => r.error(
                Problem::Empty {
                    property: "tasks".into(),
                },
                n.span,
                "tasks",
            ),
            NodeValue::Seq(items) if items.is_empty() => r.error(
                Problem::Empty {
                    property: "tasks".into(),
                },
                n.span,
                "tasks",
            ),
            NodeValue::Seq(_) => {}
            _ => r.wrong_type(n, "tasks", "a list of tasks"),
        },
    }
    if let Some(listeners) = node.get("listeners").and_then(Node::as_seq) {
        for (i, l) in listeners.iter().enumerate() {
            let path = format!("listeners[{i}].tasks");
            match l.get("tasks").map(|t| &t.value) {
                Some(NodeValue::Seq(items)) if !items.is_empty() => {}
                _ => r.error(
                    Problem::Empty {
                        property: path.clone(),
                    },
                    l.span,
                    path,
                ),
            }
        }
    }

    Some(RawFlow {
        node: node.clone(),
        id: id.unwrap_or_default(),
        namespace: namespace.unwrap_or_default(),
        revision,
        description,
        labels,
        inputs,
        variables,
        outputs,
        disabled,
    })
}

fn identifier(
    r: &mut Reader<'_>,
    node: &Node,
    key: &str,
    max: usize,
    valid: fn(&str) -> bool,
    pattern: &'static str,
) -> Option<String> {
    let Some(n) = node.get(key).filter(|n| !n.is_null()) else {
        r.error(
            Problem::Missing {
                property: key.into(),
            },
            node.span,
            key,
        );
        return None;
    };
    let value = r.string(n, key)?;
    if value.is_empty() || value.chars().count() > max {
        r.error(
            Problem::Size {
                property: key.into(),
                min: 1,
                max,
            },
            n.span,
            key,
        );
    }
    if !valid(&value) {
        r.error(
            Problem::Pattern {
                property: key.into(),
                value: value.clone(),
                pattern,
            },
            n.span,
            key,
        );
    }
    Some(value)
}

fn read_labels(r: &mut Reader<'_>, node: Option<&Node>) -> Vec<Label> {
    let Some(node) = node.filter(|n| !n.is_null()) else {
        return Vec::new();
    };
    let mut labels = Vec::new();
    let mut check = |r: &mut Reader<'_>, key: String, value: String, span: Span| {
        if key.starts_with("system.") && key != "system.readOnly" {
            r.error(
                Problem::SystemLabel {
                    key: key.clone(),
                    value: value.clone(),
                },
                span,
                "labels",
            );
        }
        labels.push(Label { key, value });
    };
    match &node.value {
        NodeValue::Map(entries) => {
            for (k, v) in entries {
                let path = format!("labels.{}", k.name);
                let value = r.string(v, &path).unwrap_or_default();
                check(r, k.name.clone(), value, k.span);
            }
        }
        NodeValue::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let path = format!("labels[{i}]");
                match (item.get("key"), item.get("value")) {
                    (Some(k), Some(v)) => {
                        let key = r.string(k, &join(&path, "key")).unwrap_or_default();
                        let value = r.string(v, &join(&path, "value")).unwrap_or_default();
                        check(r, key, value, item.span);
                    }
                    _ => r.wrong_type(item, &path, "a label `{key: ..., value: ...}`"),
                }
            }
        }
        _ => r.wrong_type(node, "labels", "a map or a list of `{key, value}`"),
    }
    labels
}

/// A list of input definitions at `at` (a flow's `inputs`, a Pause's `onResume`).
pub fn read_inputs(r: &mut Reader<'_>, node: Option<&Node>, at: &str) -> Vec<RawInput> {
    let Some(node) = node.filter(|n| !n.is_null()) else {
        return Vec::new();
    };
    let Some(items) = node.as_seq() else {
        r.wrong_type(node, at, "a list of inputs");
        return Vec::new();
    };
    let mut inputs: Vec<RawInput> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut duplicates = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("{at}[{i}]");
        if item.as_map().is_none() {
            r.wrong_type(item, &path, "an input (a map with `id` and `type`)");
            continue;
        }
        let id_node = item.get("id").or_else(|| item.get("name"));
        let id = id_node.and_then(|n| r.string(n, &join(&path, "id")));
        let Some(id) = id else {
            r.error(
                Problem::Missing {
                    property: join(&path, "id"),
                },
                item.span,
                join(&path, "id"),
            );
            continue;
        };
        let path = format!("{at}.{id}");
        if !is_input_id(&id) {
            r.error(
                Problem::Pattern {
                    property: join(&path, "id"),
                    value: id.clone(),
                    pattern: "^[a-zA-Z0-9][.a-zA-Z0-9_-]*",
                },
                id_node.map(|n| n.span),
                join(&path, "id"),
            );
        }
        let Some(type_name) = item
            .get("type")
            .and_then(|n| r.string(n, &join(&path, "type")))
        else {
            r.error(
                Problem::MissingType { owner: "inputs" },
                item.span,
                join(&path, "type"),
            );
            continue;
        };
        if !INPUT_TYPES.contains(&type_name.as_str()) {
            r.error(
                Problem::UnknownInputType {
                    type_name: type_name.clone(),
                },
                item.get("type").map(|n| n.span),
                join(&path, "type"),
            );
            continue;
        }
        let mut known: Vec<&str> = INPUT_COMMON_FIELDS.to_vec();
        known.extend_from_slice(input_extra_fields(&type_name));
        r.unknown_keys(item, &known, &format!("input of type {type_name}"), &path);
        let required = r.bool(item.get("required"), &join(&path, "required"), true);
        let defaults = item.get("defaults").filter(|n| !n.is_null()).cloned();
        if type_name == "FILE"
            && let Some(d) = &defaults
            && !d.as_str().is_some_and(|s| s.starts_with("kestra://"))
        {
            r.error(
                Problem::TaskRule {
                    task_id: id.clone(),
                    message: "no `defaults` can be set for inputs of type 'FILE'".into(),
                },
                d.span,
                join(&path, "defaults"),
            );
        }
        if matches!(type_name.as_str(), "ARRAY" | "MULTISELECT") {
            let item_type = item.get("itemType").and_then(Node::as_str);
            if type_name == "ARRAY" && item_type.is_none() {
                r.error(
                    Problem::Missing {
                        property: join(&path, "itemType"),
                    },
                    item.span,
                    join(&path, "itemType"),
                );
            }
            if item_type == Some("ARRAY") {
                r.error(
                    Problem::TaskRule {
                        task_id: id.clone(),
                        message: "`itemType` cannot be `ARRAY`".into(),
                    },
                    item.get("itemType").map(|n| n.span),
                    join(&path, "itemType"),
                );
            } else if let Some(t) = item_type
                && !INPUT_TYPES.contains(&t)
            {
                r.error(
                    Problem::UnknownInputType {
                        type_name: t.to_string(),
                    },
                    item.get("itemType").map(|n| n.span),
                    join(&path, "itemType"),
                );
            }
        }
        if let Some(v) = item.get("validator").and_then(Node::as_str)
            && let Err(e) = regex::Regex::new(v)
        {
            let reason = format!(
                "`{v}` is not a valid regular expression: {}",
                first_line(&e.to_string())
            );
            r.error(
                Problem::InvalidValue {
                    property: join(&path, "validator"),
                    reason,
                },
                item.get("validator").map(|n| n.span),
                join(&path, "validator"),
            );
        }
        if matches!(type_name.as_str(), "SELECT" | "ENUM" | "MULTISELECT")
            && item.get("values").is_none()
            && item.get("options").is_none()
            && item.get("expression").is_none()
        {
            r.error(
                Problem::Missing {
                    property: join(&path, "values"),
                },
                item.span,
                join(&path, "values"),
            );
        }
        if !seen.insert(id.clone()) && !duplicates.contains(&id) {
            duplicates.push(id.clone());
        }
        inputs.push(RawInput {
            id,
            type_name,
            required,
            defaults,
            node: item.clone(),
        });
    }
    if !duplicates.is_empty() {
        r.error(
            Problem::Duplicate {
                what: "input",
                ids: duplicates,
            },
            node.span,
            at,
        );
    }
    inputs
}

fn first_line(s: &str) -> &str {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
}

fn read_outputs(r: &mut Reader<'_>, node: Option<&Node>) -> Vec<RawOutput> {
    let Some(node) = node.filter(|n| !n.is_null()) else {
        return Vec::new();
    };
    let Some(items) = node.as_seq() else {
        r.wrong_type(node, "outputs", "a list of outputs");
        return Vec::new();
    };
    let mut outputs: Vec<RawOutput> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut duplicates = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("outputs[{i}]");
        if item.as_map().is_none() {
            r.wrong_type(
                item,
                &path,
                "an output (a map with `id`, `type` and `value`)",
            );
            continue;
        }
        r.unknown_keys(
            item,
            &[
                "id",
                "type",
                "value",
                "description",
                "displayName",
                "required",
            ],
            "output",
            &path,
        );
        let Some(id) = item.get("id").and_then(|n| r.string(n, &join(&path, "id"))) else {
            r.error(
                Problem::Missing {
                    property: join(&path, "id"),
                },
                item.span,
                join(&path, "id"),
            );
            continue;
        };
        let Some(value) = item.get("value").filter(|n| !n.is_null()) else {
            r.error(
                Problem::Missing {
                    property: join(&path, "value"),
                },
                item.span,
                join(&path, "value"),
            );
            continue;
        };
        let type_name = item
            .get("type")
            .and_then(|n| r.string(n, &join(&path, "type")));
        if let Some(t) = &type_name
            && !INPUT_TYPES.contains(&t.as_str())
        {
            r.error(
                Problem::UnknownInputType {
                    type_name: t.clone(),
                },
                item.get("type").map(|n| n.span),
                join(&path, "type"),
            );
        }
        if !seen.insert(id.clone()) && !duplicates.contains(&id) {
            duplicates.push(id.clone());
        }
        let required = r.bool(item.get("required"), &join(&path, "required"), true);
        outputs.push(RawOutput {
            id,
            type_name,
            value: value.clone(),
            required,
        });
    }
    if !duplicates.is_empty() {
        r.error(
            Problem::Duplicate {
                what: "output",
                ids: duplicates,
            },
            node.span,
            "outputs",
        );
    }
    outputs
}

/// Triggers are checked for shape only: runner does not schedule flows.
fn read_triggers(r: &mut Reader<'_>, node: Option<&Node>) {
    let Some(node) = node.filter(|n| !n.is_null()) else {
        return;
    };
    let Some(items) = node.as_seq() else {
        r.wrong_type(node, "triggers", "a list of triggers");
        return;
    };
    let mut seen = std::collections::HashSet::new();
    let mut duplicates = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("triggers[{i}]");
        if item.as_map().is_none() {
            r.wrong_type(item, &path, "a trigger (a map with `id` and `type`)");
            continue;
        }
        match item.get("id").and_then(|n| r.string(n, &join(&path, "id"))) {
            Some(id) => {
                if !seen.insert(id.clone()) && !duplicates.contains(&id) {
                    duplicates.push(id.clone());
                }
            }
            None => r.error(
                Problem::Missing {
                    property: join(&path, "id"),
                },
                item.span,
                join(&path, "id"),
            ),
        }
        if item.get("type").and_then(Node::as_str).is_none() {
            r.error(
                Problem::MissingType { owner: "triggers" },
                item.span,
                join(&path, "type"),
            );
        }
    }
    if !duplicates.is_empty() {
        r.error(
            Problem::Duplicate {
                what: "trigger id",
                ids: duplicates,
            },
            node.span,
            "triggers",
        );
    }
}

fn read_plugin_defaults(r: &mut Reader<'_>, node: Option<&Node>, key: &str) {
    let Some(node) = node.filter(|n| !n.is_null()) else {
        return;
    };
    let Some(items) = node.as_seq() else {
        r.wrong_type(node, key, "a list of `{type, forced, values}`");
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let path = format!("{key}[{i}]");
        if item.as_map().is_none() {
            r.wrong_type(item, &path, "a map `{type, forced, values}`");
            continue;
        }
        r.unknown_keys(item, &["type", "forced", "values"], "plugin default", &path);
        if item.get("type").and_then(Node::as_str).is_none() {
            r.error(
                Problem::Missing {
                    property: join(&path, "type"),
                },
                item.span,
                join(&path, "type"),
            );
        }
        r.bool(item.get("forced"), &join(&path, "forced"), false);
        if let Some(v) = item.get("values")
            && v.as_map().is_none()
        {
            r.wrong_type(v, &join(&path, "values"), "a map of property values");
        }
    }
}

fn read_concurrency(r: &mut Reader<'_>, node: Option<&Node>) {
    let Some(node) = node.filter(|n| !n.is_null()) else {
        return;
    };
    if node.as_map().is_none() {
        r.wrong_type(node, "concurrency", "a map `{limit, behavior}`");
        return;
    }
    r.unknown_keys(node, &["limit", "behavior"], "concurrency", "concurrency");
    match node.get("limit").map(|n| &n.value) {
        Some(NodeValue::Int(i)) if *i >= 1 => {}
        _ => r.error(
            Problem::InvalidValue {
                property: "concurrency.limit".into(),
                reason: "must be greater than or equal to 1".into(),
            },
            node.get("limit").map_or(node.span, |n| n.span),
            "concurrency.limit",
        ),
    }
    if let Some(b) = node.get("behavior")
        && !b
            .as_str()
            .is_some_and(|s| ["QUEUE", "CANCEL", "FAIL"].contains(&s))
    {
        r.error(
            Problem::InvalidValue {
                property: "concurrency.behavior".into(),
                reason: "must be one of QUEUE, CANCEL, FAIL".into(),
            },
            b.span,
            "concurrency.behavior",
        );
    }
}
