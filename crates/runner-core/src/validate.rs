//! Validation: a flow as written becomes a [`Plan`], or a list of positioned diagnostics.
//! Pure: no network, no files, no secrets, no clock.

use crate::inputs::InputSpec;
use crate::log::Level;
use crate::plan::{Common, FlowInfo, Plan, Retry, RetryKind, TaskList, TaskNode};
use crate::property::{IsoDuration, Property};
use crate::registry::{PropKind, Properties, Registry, TaskLists, TaskType};
use crate::task::TaskKind;
use runner_model::{
    Diagnostic, Node, NodeValue, Problem, RawTask, Reader, Span, TASK_COMMON_FIELDS, join,
    looks_like_unquoted_expression, read_flow,
};
use runner_template::Renderer;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;
use std::collections::HashSet;

/// What validation found: the plan when there is no error, and every diagnostic (warnings too).
pub struct Validation {
    pub plan: Option<Plan>,
    pub diagnostics: Vec<Diagnostic>,
    /// `namespace.id` when the top level could be read, for reports.
    pub name: Option<String>,
}

/// Validates one YAML document holding a flow.
pub fn validate(doc: &Node, registry: &Registry, renderer: &Renderer) -> Validation {
    validate_under_test(doc, registry, renderer, &HashSet::new())
}

/// Validates a flow for a test case: a task of a type runner does not know is accepted when
/// its id is in `fixtures` (a fixture stands in for it; a run no fixture covers fails).
pub fn validate_under_test(
    doc: &Node,
    registry: &Registry,
    renderer: &Renderer,
    fixtures: &HashSet<String>,
) -> Validation {
    validate_with(doc, registry, renderer, fixtures, false)
}

/// Validates a flow that may use Kestra plugins runner does not run (`runner validate
/// --allow-unsupported`): each such task is a warning, and the rest of the flow, those tasks'
/// ids and expressions included, is checked as usual. The plan it gives is not for running.
pub fn validate_allowing_unsupported(
    doc: &Node,
    registry: &Registry,
    renderer: &Renderer,
) -> Validation {
    validate_with(doc, registry, renderer, &HashSet::new(), true)
}

fn validate_with(
    doc: &Node,
    registry: &Registry,
    renderer: &Renderer,
    fixtures: &HashSet<String>,
    allow_unsupported: bool,
) -> Validation {
    let mut v = Validator {
        registry,
        renderer,
        fixtures,
        allow_unsupported,
        diagnostics: Vec::new(),
        ids: HashSet::new(),
        duplicates: Vec::new(),
        duplicate_ids: HashSet::new(),
        defaults: Vec::new(),
        in_handler: 0,
        handlers: HashSet::new(),
        on_resume: std::collections::HashMap::new(),
    };
    let Some(flow) = read_flow(doc, &mut v.diagnostics) else {
        return Validation {
            plan: None,
            diagnostics: v.diagnostics,
            name: None,
        };
    };
    for key in ["pluginDefaults", "taskDefaults"] {
        v.read_plugin_defaults(doc.get(key));
    }
    let tasks = v.task_list(flow.task_list("tasks"), "tasks");
    v.in_handler += 1;
    let errors = v.task_list(flow.task_list("errors"), "errors");
    let finally = v.task_list(flow.task_list("finally"), "finally");
    let after_execution = v.task_list(flow.task_list("afterExecution"), "afterExecution");
    v.in_handler -= 1;
    if let Some(listeners) = doc.get("listeners").and_then(Node::as_seq) {
        for (i, l) in listeners.iter().enumerate() {
            v.task_list(
                l.get("tasks").filter(|n| !n.is_null()),
                &format!("listeners[{i}].tasks"),
            );
        }
    }
    if !v.duplicates.is_empty() {
        let ids: Vec<String> = v.duplicates.iter().map(|(id, _)| id.clone()).collect();
        let span = v.duplicates[0].1;
        v.diagnostics.push(Diagnostic::error(
            Problem::Duplicate {
                what: "task id",
                ids,
            },
            span,
            "tasks",
        ));
    }
    for (i, output) in flow.outputs.iter().enumerate() {
        v.check_templates(&output.value, &format!("outputs[{i}].value"));
    }
    for (i, input) in flow.inputs.iter().enumerate() {
        if let Some(d) = &input.defaults {
            v.check_templates(d, &format!("inputs[{i}].defaults"));
        }
    }
    let mut inputs = Vec::with_capacity(flow.inputs.len());
    for input in &flow.inputs {
        match InputSpec::read(input) {
            Ok(spec) => inputs.push(spec),
            Err(reason) => {
                // The model reports a pattern that does not compile at all.
                let path = format!("inputs.{}.validator", input.id);
                if !v.diagnostics.iter().any(|d| d.path == path) {
                    v.error(
                        Problem::InvalidValue {
                            property: path.clone(),
                            reason,
                        },
                        input.node.get("validator").map(|n| n.span),
                        path,
                    );
                }
            }
        }
    }
    for span in recursive_calls(doc, registry, &flow.namespace, &flow.id) {
        v.error(
            Problem::RecursiveFlow {
                flow: format!("{}.{}", flow.namespace, flow.id),
            },
            span,
            "tasks",
        );
    }
    let (triggers, trigger_problems) = crate::trigger::read(doc);
    v.diagnostics.extend(trigger_problems);
    let name = Some(format!("{}.{}", flow.namespace, flow.id));
    if v.diagnostics.iter().any(Diagnostic::is_error) {
        return Validation {
            plan: None,
            diagnostics: v.diagnostics,
            name,
        };
    }
    let plan = Plan {
        flow: FlowInfo {
            id: flow.id.clone(),
            namespace: flow.namespace.clone(),
            revision: flow.revision.unwrap_or(1),
            description: flow.description.clone(),
        },
        labels: flow.labels.clone(),
        inputs,
        variables: flow
            .variables
            .as_ref()
            .map_or(Json::Object(Default::default()), Node::to_json),
        tasks,
        errors,
        finally,
        after_execution,
        outputs: flow.outputs.clone(),
        trigger_count: doc
            .get("triggers")
            .and_then(Node::as_seq)
            .map_or(0, <[Node]>::len),
        triggers,
        disabled: flow.disabled,
        handlers: v.handlers,
        on_resume: v.on_resume,
    };
    Validation {
        plan: Some(plan),
        diagnostics: v.diagnostics,
        name,
    }
}

/// Core task types that Kestra removed, with what to use instead.
const REMOVED_TYPES: &[(&str, &str)] = &[
    (
        "io.kestra.plugin.core.flow.Template",
        "templates were removed from Kestra (and runner has no template store): move the template's tasks into a flow and call it with io.kestra.plugin.core.flow.Subflow",
    ),
    (
        "io.kestra.core.tasks.flows.Template",
        "templates were removed from Kestra (and runner has no template store): move the template's tasks into a flow and call it with io.kestra.plugin.core.flow.Subflow",
    ),
];

/// Where a Subflow or ForEachItem of the flow calls the flow itself (Kestra refuses it).
fn recursive_calls(doc: &Node, registry: &Registry, namespace: &str, id: &str) -> Vec<Span> {
    let mut found = Vec::new();
    let mut todo = vec![doc];
    while let Some(node) = todo.pop() {
        match &node.value {
            NodeValue::Seq(items) => todo.extend(items),
            NodeValue::Map(entries) => {
                let text = |k: &str| node.get(k).and_then(Node::as_str);
                if text("type").is_some_and(|t| registry.calls_flow(t))
                    && text("namespace") == Some(namespace)
                    && text("flowId") == Some(id)
                {
                    found.push(node.get("flowId").map_or(node.span, |n| n.span));
                }
                todo.extend(entries.iter().map(|(_, v)| v));
            }
            _ => {}
        }
    }
    found
}

struct PluginDefault {
    type_name: String,
    forced: bool,
    values: Vec<(runner_model::Key, Node)>,
}

pub(crate) struct Validator<'r> {
    registry: &'r Registry,
    renderer: &'r Renderer,
    /// Task ids a test fixture stands in for.
    fixtures: &'r HashSet<String>,
    /// Kestra plugin types runner lacks are warnings (`validate --allow-unsupported`).
    allow_unsupported: bool,
    diagnostics: Vec<Diagnostic>,
    ids: HashSet<String>,
    duplicates: Vec<(String, Span)>,
    duplicate_ids: HashSet<String>,
    defaults: Vec<PluginDefault>,
    /// Above 0 while the tasks of an `errors`, `finally` or `afterExecution` list are read.
    in_handler: usize,
    /// The ids of those tasks (see [`Plan::handlers`]).
    handlers: HashSet<String>,
    /// Each Pause's `onResume` inputs, by task id.
    on_resume: std::collections::HashMap<String, Vec<InputSpec>>,
}

impl Validator<'_> {
    fn error(&mut self, problem: Problem, span: impl Into<Option<Span>>, path: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::error(problem, span, path));
    }

    fn read_plugin_defaults(&mut self, node: Option<&Node>) {
        for item in node.and_then(Node::as_seq).unwrap_or_default() {
            let (Some(type_name), Some(values)) = (
                item.get("type").and_then(Node::as_str),
                item.get("values").and_then(Node::as_map),
            ) else {
                continue;
            };
            let forced = matches!(
                item.get("forced").map(|n| &n.value),
                Some(NodeValue::Bool(true))
            );
            self.defaults.push(PluginDefault {
                type_name: type_name.to_string(),
                forced,
                values: values.to_vec(),
            });
        }
    }

    /// Kestra's pluginDefaults: values for tasks whose type starts with the default's type;
    /// forced ones win over the task's own values.
    fn with_defaults<'n>(&self, node: &'n Node) -> std::borrow::Cow<'n, Node> {
        let Some(type_name) = node.get("type").and_then(Node::as_str) else {
            return std::borrow::Cow::Borrowed(node);
        };
        // Kestra's test is a plain prefix: a default for `...postgresql.Query` also reaches
        // `...postgresql.Queries`.
        let applies = |d: &PluginDefault| type_name.starts_with(&d.type_name);
        if !self.defaults.iter().any(applies) {
            return std::borrow::Cow::Borrowed(node);
        }
        let mut out = node.clone();
        let NodeValue::Map(entries) = &mut out.value else {
            return std::borrow::Cow::Owned(out);
        };
        for d in &self.defaults {
            if !applies(d) {
                continue;
            }
            for (k, v) in &d.values {
                match entries.iter().position(|(e, _)| e.name == k.name) {
                    Some(i) if d.forced => entries[i] = (k.clone(), v.clone()),
                    Some(_) => {}
                    None => entries.push((k.clone(), v.clone())),
                }
            }
        }
        std::borrow::Cow::Owned(out)
    }

    fn task_list(&mut self, node: Option<&Node>, path: &str) -> TaskList {
        let Some(node) = node else {
            return Vec::new();
        };
        let Some(items) = node.as_seq() else {
            Reader {
                diagnostics: &mut self.diagnostics,
            }
            .wrong_type(node, path, "a list of tasks");
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| self.task(item, &format!("{path}[{i}]")))
            .collect()
    }

    fn task(&mut self, node: &Node, path: &str) -> Option<TaskNode> {
        let node = self.with_defaults(node);
        let raw = Reader {
            diagnostics: &mut self.diagnostics,
        }
        .task(&node, path)?;
        if !raw.id.is_empty()
            && !self.ids.insert(raw.id.clone())
            && self.duplicate_ids.insert(raw.id.clone())
        {
            let span = raw.node.get("id").map_or(raw.node.span, |n| n.span);
            self.duplicates.push((raw.id.clone(), span));
        }
        if self.in_handler > 0 {
            self.handlers.insert(raw.id.clone());
        }
        let registry = self.registry;
        let Some(task_type) = registry.get(&raw.type_name) else {
            // Core types Kestra itself dropped: say what replaces them.
            if let Some((_, help)) = REMOVED_TYPES.iter().find(|(t, _)| *t == raw.type_name) {
                self.error(
                    Problem::UnavailableType {
                        type_name: raw.type_name.clone(),
                        help: (*help).to_string(),
                    },
                    raw.type_span,
                    join(path, "type"),
                );
                return None;
            }
            let unsupported = self.allow_unsupported && raw.type_name.starts_with("io.kestra.");
            if unsupported {
                self.diagnostics.push(Diagnostic::warning(
                    Problem::UnknownTaskType {
                        type_name: raw.type_name.clone(),
                        suggestion: None,
                    },
                    raw.type_span,
                    join(path, "type"),
                ));
                // Its own properties are the plugin's, unknown here; their expressions are not.
                for (key, value) in raw.properties.iter().map(|p| (&p.0, &p.1)) {
                    self.check_templates(value, &join(path, &key.name));
                }
            }
            if unsupported || self.fixtures.contains(&raw.id) {
                let common = self.common(&raw, path)?;
                return Some(TaskNode {
                    id: raw.id.clone(),
                    type_name: raw.type_name.clone(),
                    common,
                    kind: TaskKind::Runnable(Box::new(crate::fixture::StandIn {
                        type_name: raw.type_name.clone(),
                    })),
                    errors: Vec::new(),
                    finally: Vec::new(),
                });
            }
            let suggestion = self.registry.suggest(&raw.type_name);
            self.error(
                Problem::UnknownTaskType {
                    type_name: raw.type_name.clone(),
                    suggestion,
                },
                raw.type_span,
                join(path, "type"),
            );
            return None;
        };
        let before = self.error_count();
        self.unknown_properties(&raw, task_type, path);
        let common = self.common(&raw, path);
        let mut builder = TaskBuilder {
            v: self,
            raw: &raw,
            path: path.to_string(),
            task_type,
        };
        let kind = (task_type.descriptor.shape.build)(&mut builder);
        let (errors, finally) = if task_type.is_flowable() {
            builder.v.in_handler += 1;
            let lists = (
                builder.tasks("errors", false),
                builder.tasks("finally", false),
            );
            builder.v.in_handler -= 1;
            lists
        } else {
            (Vec::new(), Vec::new())
        };
        if task_type.type_name() == crate::tasks::PAUSE_TYPE {
            self.read_on_resume(&raw, path);
        }
        let disabled = matches!(
            raw.node.get("disabled").map(|n| &n.value),
            Some(NodeValue::Bool(true))
        );
        if self.error_count() > before || disabled {
            return None;
        }
        Some(TaskNode {
            id: raw.id.clone(),
            type_name: task_type.type_name().to_string(),
            common: common?,
            kind: kind?,
            errors,
            finally,
        })
    }

    /// A Pause's `onResume` inputs, checked as a flow's inputs are.
    fn read_on_resume(&mut self, raw: &runner_model::RawTask<'_>, path: &str) {
        let at = join(path, "onResume");
        let defs = runner_model::read_inputs(
            &mut Reader {
                diagnostics: &mut self.diagnostics,
            },
            raw.node.get("onResume"),
            &at,
        );
        let mut specs = Vec::with_capacity(defs.len());
        for def in &defs {
            match InputSpec::read(def) {
                Ok(spec) => specs.push(spec),
                Err(reason) => self.error(
                    Problem::InvalidValue {
                        property: join(&at, &def.id),
                        reason,
                    },
                    def.node.span,
                    join(&at, &def.id),
                ),
            }
        }
        self.on_resume.insert(raw.id.clone(), specs);
    }

    fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    fn unknown_properties(&mut self, raw: &RawTask<'_>, task_type: &TaskType, path: &str) {
        let known = |name: &str| {
            task_type.property(name).is_some()
                || (task_type.is_flowable() && (name == "errors" || name == "finally"))
        };
        for (key, _) in &raw.properties {
            if !known(&key.name) {
                let mut names: Vec<String> = task_type
                    .properties
                    .iter()
                    .map(|p| p.name.to_string())
                    .collect();
                if task_type.is_flowable() {
                    names.extend(["errors".to_string(), "finally".to_string()]);
                }
                names.extend(TASK_COMMON_FIELDS.iter().map(|s| s.to_string()));
                self.error(
                    Problem::UnknownProperty {
                        owner: format!("task `{}` of type {}", raw.id, task_type.type_name()),
                        property: key.name.clone(),
                        known: names,
                    },
                    key.span,
                    join(path, &key.name),
                );
            }
        }
    }

    fn common(&mut self, raw: &RawTask<'_>, path: &str) -> Option<Common> {
        let mut common = Common {
            allow_failure: matches!(
                raw.common("allowFailure").map(|n| &n.value),
                Some(NodeValue::Bool(true))
            ),
            log_to_file: matches!(
                raw.common("logToFile").map(|n| &n.value),
                Some(NodeValue::Bool(true))
            ),
            allow_warning: matches!(
                raw.common("allowWarning").map(|n| &n.value),
                Some(NodeValue::Bool(true))
            ),
            log_level: raw
                .common("logLevel")
                .and_then(Node::as_str)
                .and_then(Level::parse),
            ..Common::default()
        };
        if let Some(n) = raw.common("runIf") {
            common.run_if = Some(match &n.value {
                NodeValue::Str(s) => {
                    self.check_templates(n, &join(path, "runIf"));
                    s.clone()
                }
                NodeValue::Bool(b) => b.to_string(),
                NodeValue::Int(i) => i.to_string(),
                _ => {
                    Reader {
                        diagnostics: &mut self.diagnostics,
                    }
                    .wrong_type(
                        n,
                        &join(path, "runIf"),
                        "an expression string",
                    );
                    return None;
                }
            });
        }
        if let Some(n) = raw.common("timeout") {
            self.check_templates(n, &join(path, "timeout"));
            common.timeout = Some(self.deserialize::<Property<IsoDuration>>(
                n,
                &n.to_json(),
                &join(path, "timeout"),
            )?);
        }
        if let Some(n) = raw.common("retry") {
            common.retry = Some(self.retry(n, &join(path, "retry"))?);
        }
        Some(common)
    }

    fn retry(&mut self, node: &Node, path: &str) -> Option<Retry> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        struct Spec {
            #[serde(rename = "type")]
            kind: String,
            interval: Option<IsoDuration>,
            max_interval: Option<IsoDuration>,
            min_interval: Option<IsoDuration>,
            delay_factor: Option<f64>,
            max_attempt: Option<u32>,
            max_duration: Option<IsoDuration>,
            #[serde(default)]
            warning_on_retry: bool,
            behavior: Option<String>,
        }
        let spec: Spec = self.deserialize(node, &node.to_json(), path)?;
        let need = |v: &mut Self, d: Option<IsoDuration>, name: &str| {
            if d.is_none() {
                v.error(
                    Problem::Missing {
                        property: join(path, name),
                    },
                    node.span,
                    join(path, name),
                );
            }
            d.map(|d| d.0)
        };
        let kind = match spec.kind.as_str() {
            "constant" => RetryKind::Constant {
                interval: need(self, spec.interval, "interval")?,
            },
            "exponential" => {
                let interval = need(self, spec.interval, "interval");
                let max_interval = need(self, spec.max_interval, "maxInterval");
                RetryKind::Exponential {
                    interval: interval?,
                    max_interval: max_interval?,
                    delay_factor: spec.delay_factor.unwrap_or(2.0),
                }
            }
            "random" => {
                let min_interval = need(self, spec.min_interval, "minInterval");
                let max_interval = need(self, spec.max_interval, "maxInterval");
                RetryKind::Random {
                    min_interval: min_interval?,
                    max_interval: max_interval?,
                }
            }
            other => {
                self.error(
                    Problem::InvalidValue {
                        property: join(path, "type"),
                        reason: format!(
                            "unknown retry type `{other}`: use constant, exponential or random"
                        ),
                    },
                    node.get("type").map_or(node.span, |n| n.span),
                    join(path, "type"),
                );
                return None;
            }
        };
        if spec.max_attempt == Some(0) {
            self.error(
                Problem::InvalidValue {
                    property: join(path, "maxAttempt"),
                    reason: "must be greater than or equal to 1".into(),
                },
                node.get("maxAttempt").map(|n| n.span),
                join(path, "maxAttempt"),
            );
            return None;
        }
        if let Some(b) = spec.behavior.as_deref()
            && b != "RETRY_FAILED_TASK"
            && b != "CREATE_NEW_EXECUTION"
        {
            self.error(
                Problem::InvalidValue {
                    property: join(path, "behavior"),
                    reason: "must be RETRY_FAILED_TASK or CREATE_NEW_EXECUTION".into(),
                },
                node.get("behavior").map(|n| n.span),
                join(path, "behavior"),
            );
            return None;
        }
        Some(Retry {
            kind,
            max_attempt: spec.max_attempt,
            max_duration: spec.max_duration.map(|d| d.0),
            warning_on_retry: spec.warning_on_retry,
        })
    }

    /// Deserializes `json` (made from `node`) into `T`, reporting a failure at the exact node.
    fn deserialize<T: DeserializeOwned>(
        &mut self,
        node: &Node,
        json: &Json,
        path: &str,
    ) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(json.clone()) {
            Ok(t) => Some(t),
            Err(e) => {
                let inner = e.inner().to_string();
                let sub = e.path().to_string();
                let sub = if sub == "." { String::new() } else { sub };
                self.value_error(node, &sub, inner, path);
                None
            }
        }
    }

    /// Reports that the value at `sub` inside `node` (the value of `path`) is wrong.
    fn value_error(&mut self, node: &Node, sub: &str, reason: String, path: &str) {
        let at = node.locate(sub);
        let property = join(path, sub);
        if let Some((type_name, help)) = crate::registry::parse_unavailable_type(&reason) {
            let property = join(&property, "type");
            let span = at.get("type").map_or(at.span, |t| t.span);
            self.error(
                Problem::UnavailableType {
                    type_name: type_name.to_string(),
                    help: help.to_string(),
                },
                span,
                property,
            );
            return;
        }
        let problem = if let Some(field) = reason
            .strip_prefix("missing field `")
            .and_then(|s| s.strip_suffix('`'))
        {
            let property = join(&property, field);
            self.error(
                Problem::Missing {
                    property: property.clone(),
                },
                at.span,
                property,
            );
            return;
        } else if looks_like_unquoted_expression(at) {
            Problem::UnquotedExpression {
                property: property.clone(),
            }
        } else {
            Problem::InvalidValue {
                property: property.clone(),
                reason,
            }
        };
        self.error(problem, at.span, property);
    }

    /// Parses every expression under `node`. A function, filter or test runner does not have
    /// is an error: the run would fail on it. A syntax error is a warning, as Kestra saves such
    /// a flow and fails only when the property is rendered; `validate --strict` refuses it.
    fn check_templates(&mut self, node: &Node, path: &str) {
        match &node.value {
            NodeValue::Str(s) => {
                if let Err(e) = self.renderer.check(s) {
                    let unknown = e.kind == runner_template::RenderErrorKind::Unknown;
                    let problem = Problem::Template {
                        property: path.to_string(),
                        reason: e.to_string(),
                    };
                    if unknown {
                        self.error(problem, node.span, path);
                    } else {
                        self.diagnostics
                            .push(Diagnostic::warning(problem, node.span, path));
                    }
                }
            }
            NodeValue::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.check_templates(item, &format!("{path}[{i}]"));
                }
            }
            NodeValue::Map(entries) => {
                // YAML turns an unquoted `{{ x }}` into a map keyed by a map: always a mistake.
                if entries.len() == 1
                    && entries[0].0.name.starts_with('{')
                    && entries[0].1.is_null()
                {
                    self.error(
                        Problem::UnquotedExpression {
                            property: path.to_string(),
                        },
                        node.span,
                        path,
                    );
                    return;
                }
                for (k, v) in entries {
                    self.check_templates(v, &join(path, &k.name));
                }
            }
            _ => {}
        }
    }
}

/// What a task type's `build` function reads its properties through.
pub(crate) struct TaskBuilder<'v, 'r> {
    v: &'v mut Validator<'r>,
    raw: &'v RawTask<'v>,
    path: String,
    task_type: &'r TaskType,
}

impl TaskBuilder<'_, '_> {
    /// The task's value properties (not its task lists) as the typed struct `T`. Each
    /// property is read alone first, so every wrong one is reported at its place.
    pub(crate) fn properties<T: DeserializeOwned + Properties>(&mut self) -> Option<T> {
        let mut map = serde_json::Map::new();
        let mut props = Vec::new();
        let mut wrong = false;
        for key_node in &self.raw.properties {
            let (key, node) = *key_node;
            let is_value = self
                .task_type
                .property(&key.name)
                .is_some_and(|p| matches!(p.kind, PropKind::Value(_)));
            if !is_value {
                continue;
            }
            let path = join(&self.path, &key.name);
            self.v.check_templates(node, &path);
            let json = node.to_json();
            if let Some(Err(e)) = T::check_property(&key.name, &json) {
                self.v.value_error(node, &e.path, e.message, &path);
                wrong = true;
            }
            map.insert(key.name.clone(), json);
            props.push(*key_node);
        }
        // Every missing required property, in the order the task documents them (serde would
        // name one, in the order of its fields and flattened groups).
        let task_type = self.task_type;
        for p in &task_type.properties {
            if p.required
                && matches!(p.kind, PropKind::Value(_))
                && !self.raw.properties.iter().any(|(k, _)| k.name == p.name)
            {
                let property = join(&self.path, p.name);
                self.v.error(
                    Problem::Missing {
                        property: property.clone(),
                    },
                    self.raw.node.span,
                    property,
                );
                wrong = true;
            }
        }
        if wrong {
            return None;
        }
        match serde_path_to_error::deserialize::<_, T>(Json::Object(map)) {
            Ok(t) => Some(t),
            Err(e) => {
                // Only now the properties become a node, to find where the error is.
                let sub = e.path().to_string();
                let sub = if sub == "." { String::new() } else { sub };
                let entries = props.into_iter().cloned().collect();
                let node = Node::new(NodeValue::Map(entries), self.raw.node.span);
                self.v
                    .value_error(&node, &sub, e.into_inner().to_string(), &self.path);
                None
            }
        }
    }

    /// Every task-list property of this type, read (and validated) in declaration order.
    pub(crate) fn task_lists(&mut self) -> TaskLists {
        let mut lists = TaskLists::default();
        let task_type = self.task_type;
        for p in &task_type.properties {
            match p.kind {
                PropKind::Tasks => lists.insert(p.name, self.tasks(p.name, p.required)),
                PropKind::TaskMap => lists.insert_map(p.name, self.task_map(p.name)),
                PropKind::Dag => lists.insert(p.name, self.dag(p.name)),
                PropKind::Value(_) => {}
            }
        }
        lists
    }

    /// The task list under `key`; a missing or empty list is an error when `required`.
    pub(crate) fn tasks(&mut self, key: &str, required: bool) -> TaskList {
        let path = join(&self.path, key);
        match self.raw.node.get(key) {
            None => {
                if required {
                    self.v.error(
                        Problem::Empty {
                            property: path.clone(),
                        },
                        self.raw.node.span,
                        path,
                    );
                }
                Vec::new()
            }
            Some(n) if n.is_null() || n.as_seq().is_some_and(<[Node]>::is_empty) => {
                if required {
                    self.v.error(
                        Problem::Empty {
                            property: path.clone(),
                        },
                        n.span,
                        path,
                    );
                }
                Vec::new()
            }
            Some(n) => self.v.task_list(Some(n), &path),
        }
    }

    /// A Dag's `[{task, dependsOn}]`: the tasks in an order where each comes after what it
    /// depends on (the source order otherwise), or Kestra's error for a dependency on no task
    /// or a cycle.
    pub(crate) fn dag(&mut self, key: &str) -> TaskList {
        let path = join(&self.path, key);
        let Some(node) = self.raw.node.get(key).filter(|n| !n.is_null()) else {
            self.v.error(
                Problem::TaskRule {
                    task_id: self.raw.id.clone(),
                    message: "No task defined".into(),
                },
                self.raw.node.span,
                path,
            );
            return Vec::new();
        };
        let Some(items) = node.as_seq() else {
            Reader {
                diagnostics: &mut self.v.diagnostics,
            }
            .wrong_type(node, &path, "a list of {task, dependsOn}");
            return Vec::new();
        };
        let mut tasks = Vec::new();
        let mut depends: Vec<Vec<String>> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            let Some(task) = item.get("task") else {
                self.v.error(
                    Problem::Missing {
                        property: format!("{item_path}.task"),
                    },
                    item.span,
                    format!("{item_path}.task"),
                );
                continue;
            };
            let one = Node::new(NodeValue::Seq(vec![task.clone()]), task.span);
            let built = self.v.task_list(Some(&one), &format!("{item_path}.task"));
            let deps: Vec<String> = item
                .get("dependsOn")
                .and_then(Node::as_seq)
                .map(|d| {
                    d.iter()
                        .filter_map(|n| n.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            for t in built {
                tasks.push(t);
                depends.push(deps.clone());
            }
        }
        let index: std::collections::HashMap<&str, usize> = tasks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.as_str(), i))
            .collect();
        let missing: Vec<String> = depends
            .iter()
            .flatten()
            .filter(|d| !index.contains_key(d.as_str()))
            .cloned()
            .collect();
        if !missing.is_empty() {
            self.v.error(
                Problem::TaskRule {
                    task_id: self.raw.id.clone(),
                    message: format!("Not existing task id in dependency: {}", missing.join(", ")),
                },
                node.span,
                path,
            );
            return Vec::new();
        }
        // Kahn's order, the first ready task in source order each time: linear in the size.
        let mut waiting: Vec<usize> = depends.iter().map(Vec::len).collect();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); tasks.len()];
        for (i, deps) in depends.iter().enumerate() {
            for d in deps {
                dependents[index[d.as_str()]].push(i);
            }
        }
        let mut ready: std::collections::BTreeSet<usize> =
            (0..tasks.len()).filter(|&i| waiting[i] == 0).collect();
        let mut order = Vec::with_capacity(tasks.len());
        while let Some(i) = ready.pop_first() {
            order.push(i);
            for &j in &dependents[i] {
                waiting[j] -= 1;
                if waiting[j] == 0 {
                    ready.insert(j);
                }
            }
        }
        if order.len() < tasks.len() {
            // Left: the cycles and what hangs below them; peel off what no one left needs.
            let mut left: Vec<bool> = waiting.iter().map(|w| *w > 0).collect();
            let mut needed: Vec<usize> = (0..tasks.len())
                .map(|i| dependents[i].iter().filter(|&&j| left[j]).count())
                .collect();
            let mut peel: Vec<usize> = (0..tasks.len())
                .filter(|&i| left[i] && needed[i] == 0)
                .collect();
            while let Some(i) = peel.pop() {
                left[i] = false;
                for d in &depends[i] {
                    let j = index[d.as_str()];
                    if left[j] {
                        needed[j] -= 1;
                        if needed[j] == 0 {
                            peel.push(j);
                        }
                    }
                }
            }
            let cyclic: Vec<String> = (0..tasks.len())
                .filter(|&i| left[i])
                .map(|i| tasks[i].id.clone())
                .collect();
            self.v.error(
                Problem::TaskRule {
                    task_id: self.raw.id.clone(),
                    message: format!("Cyclic dependency detected: {}", cyclic.join(", ")),
                },
                node.span,
                path,
            );
            return Vec::new();
        }
        let mut slots: Vec<Option<TaskNode>> = tasks.into_iter().map(Some).collect();
        order.into_iter().filter_map(|i| slots[i].take()).collect()
    }

    /// A map from a key to a task list (Switch `cases`), in source order.
    pub(crate) fn task_map(&mut self, key: &str) -> Vec<(String, TaskList)> {
        let path = join(&self.path, key);
        let Some(node) = self.raw.node.get(key).filter(|n| !n.is_null()) else {
            return Vec::new();
        };
        let Some(entries) = node.as_map() else {
            Reader {
                diagnostics: &mut self.v.diagnostics,
            }
            .wrong_type(node, &path, "a map from a value to a list of tasks");
            return Vec::new();
        };
        entries
            .iter()
            .map(|(k, n)| {
                (
                    k.name.clone(),
                    self.v.task_list(Some(n), &join(&path, &k.name)),
                )
            })
            .collect()
    }

    /// A rule of this task type is broken; `message` uses Kestra's words.
    /// How many errors the flow has so far.
    pub(crate) fn errors_so_far(&self) -> usize {
        self.v.error_count()
    }

    pub(crate) fn rule(&mut self, message: &str) {
        let problem = Problem::TaskRule {
            task_id: self.raw.id.clone(),
            message: message.to_string(),
        };
        self.v.error(problem, self.raw.node.span, self.path.clone());
    }
}

/// A warning for each `secret('X')` in `docs` (the flows of one file) that `environment` does
/// not set; each name once, at its first use.
pub fn unset_secrets(docs: &[Node], environment: &crate::Environment) -> Vec<Diagnostic> {
    fn walk(node: &Node, out: &mut Vec<(String, Span)>) {
        match &node.value {
            NodeValue::Str(s) => {
                let mut rest = s.as_str();
                while let Some(i) = rest.find("secret(") {
                    rest = &rest[i + 7..];
                    let arg = rest.trim_start();
                    if let Some(q) = arg.chars().next().filter(|c| *c == '\'' || *c == '"')
                        && let Some(end) = arg[1..].find(q)
                    {
                        out.push((arg[1..1 + end].to_string(), node.span));
                    }
                }
            }
            NodeValue::Seq(items) => items.iter().for_each(|n| walk(n, out)),
            NodeValue::Map(entries) => entries.iter().for_each(|(_, n)| walk(n, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    for doc in docs {
        walk(doc, &mut found);
    }
    let mut seen = std::collections::HashSet::new();
    found
        .into_iter()
        .filter(|(name, _)| !environment.secrets().contains(name))
        .filter(|(name, _)| seen.insert(name.to_uppercase()))
        .map(|(name, span)| Diagnostic::warning(Problem::UnsetSecret { name }, span, ""))
        .collect()
}
