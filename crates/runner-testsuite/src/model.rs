//! A Test Suite document, read and checked as Kestra checks it (no I/O).

use runner_model::{Diagnostic, Key, Node, NodeValue, Problem, Span};
use serde_json::{Map, Value as Json};

/// A suite: the test cases of one flow.
#[derive(Clone, Debug)]
pub struct TestSuite {
    pub id: String,
    pub namespace: String,
    pub flow_id: String,
    pub description: Option<String>,
    pub disabled: bool,
    pub cases: Vec<UnitTest>,
}

#[derive(Clone, Debug)]
pub struct UnitTest {
    pub id: String,
    pub type_name: String,
    pub disabled: bool,
    pub description: Option<String>,
    pub fixtures: Fixtures,
    pub assertions: Vec<Assertion>,
    pub span: Span,
}

#[derive(Clone, Debug, Default)]
pub struct Fixtures {
    pub inputs: Map<String, Json>,
    /// Name to inline content.
    pub files: Vec<(String, String)>,
    pub tasks: Vec<TaskFixtureSpec>,
    pub trigger: Option<TriggerFixture>,
    /// The fixtures as written, for Kestra's JSON results.
    pub raw: Json,
}

#[derive(Clone, Debug)]
pub struct TaskFixtureSpec {
    pub id: String,
    pub value: Option<String>,
    /// A state name (checked).
    pub state: String,
    pub outputs: Option<Map<String, Json>>,
}

#[derive(Clone, Debug)]
pub struct TriggerFixture {
    pub id: String,
    pub type_name: String,
    pub variables: Map<String, Json>,
}

/// Kestra's assertion operators, in the order Kestra evaluates them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    IsNull,
    IsNotNull,
    EndsWith,
    StartsWith,
    EqualTo,
    Contains,
    NotEqualTo,
    GreaterThan,
    GreaterThanOrEqualTo,
    LessThan,
    LessThanOrEqualTo,
    In,
    NotIn,
}

impl Operator {
    pub const ALL: [Operator; 13] = [
        Operator::IsNull,
        Operator::IsNotNull,
        Operator::EndsWith,
        Operator::StartsWith,
        Operator::EqualTo,
        Operator::Contains,
        Operator::NotEqualTo,
        Operator::GreaterThan,
        Operator::GreaterThanOrEqualTo,
        Operator::LessThan,
        Operator::LessThanOrEqualTo,
        Operator::In,
        Operator::NotIn,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Operator::IsNull => "isNull",
            Operator::IsNotNull => "isNotNull",
            Operator::EndsWith => "endsWith",
            Operator::StartsWith => "startsWith",
            Operator::EqualTo => "equalTo",
            Operator::Contains => "contains",
            Operator::NotEqualTo => "notEqualTo",
            Operator::GreaterThan => "greaterThan",
            Operator::GreaterThanOrEqualTo => "greaterThanOrEqualTo",
            Operator::LessThan => "lessThan",
            Operator::LessThanOrEqualTo => "lessThanOrEqualTo",
            Operator::In => "in",
            Operator::NotIn => "notIn",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Assertion {
    /// `value` as written: rendered after the run.
    pub value: Json,
    pub task_id: Option<String>,
    pub description: Option<Json>,
    pub error_message: Option<Json>,
    /// Each operator given, with its expected value as written (rendered after the run).
    pub operators: Vec<(Operator, Json)>,
    pub span: Span,
}

impl Assertion {
    /// The assertion as Kestra shows it in `Could not evaluate assertion` (JSON, as written).
    pub fn displayable(&self) -> String {
        let mut m = Map::new();
        m.insert("value".into(), self.value.clone());
        if let Some(t) = &self.task_id {
            m.insert("taskId".into(), Json::String(t.clone()));
        }
        for (op, v) in &self.operators {
            m.insert(op.key().into(), v.clone());
        }
        Json::Object(m).to_string()
    }
}

/// A document is a test suite, not a flow, when it has `testCases` (a flow has `tasks`).
pub fn is_test_suite(doc: &Node) -> bool {
    doc.get("testCases").is_some() && doc.get("tasks").is_none()
}

pub(crate) const UNIT_TEST_TYPE: &str = "io.kestra.core.tests.flow.UnitTest";

/// The states a fixture can end a task run in.
/// The states a task fixture may end its task run in.
pub const FIXTURE_STATES: &[&str] = &[
    "SUCCESS",
    "WARNING",
    "FAILED",
    "KILLED",
    "CANCELLED",
    "SKIPPED",
    "RETRIED",
];

/// Reads a suite document; every problem found, or the suite.
pub fn read(doc: &Node) -> Result<TestSuite, Vec<Diagnostic>> {
    let mut r = Reader::default();
    let suite = r.suite(doc);
    match suite {
        Some(s) if r.problems.is_empty() => Ok(s),
        _ => Err(r.problems),
    }
}

#[derive(Default)]
struct Reader {
    problems: Vec<Diagnostic>,
}

impl Reader {
    fn error(&mut self, problem: Problem, span: Span, path: &str) {
        self.problems.push(Diagnostic::error(problem, span, path));
    }

    /// Refuses keys outside `known`, suggesting the closest.
    fn known_keys(&mut self, node: &Node, owner: &str, known: &[&str], path: &str) {
        for (key, _) in node.as_map().unwrap_or_default() {
            if !known.contains(&key.name.as_str()) {
                self.error(
                    Problem::UnknownProperty {
                        owner: owner.to_string(),
                        property: key.name.clone(),
                        known: known.iter().map(|k| k.to_string()).collect(),
                    },
                    key.span,
                    &join(path, &key.name),
                );
            }
        }
    }

    fn string(&mut self, node: &Node, key: &str, path: &str, required: bool) -> Option<String> {
        let at = join(path, key);
        match node.get(key) {
            None
            | Some(Node {
                value: NodeValue::Null,
                ..
            }) => {
                if required {
                    self.error(
                        Problem::Missing {
                            property: at.clone(),
                        },
                        node.span,
                        &at,
                    );
                }
                None
            }
            Some(n) => match &n.value {
                NodeValue::Str(s) => Some(s.clone()),
                NodeValue::Int(i) => Some(i.to_string()),
                NodeValue::Float(f) => Some(f.to_string()),
                NodeValue::Bool(b) => Some(b.to_string()),
                _ => {
                    self.error(
                        Problem::WrongType {
                            property: at.clone(),
                            expected: "a string".into(),
                            found: kind(n),
                        },
                        n.span,
                        &at,
                    );
                    None
                }
            },
        }
    }

    fn flag(&mut self, node: &Node, key: &str, path: &str) -> bool {
        match node.get(key).map(|n| (n, &n.value)) {
            None | Some((_, NodeValue::Null)) => false,
            Some((_, NodeValue::Bool(b))) => *b,
            Some((n, _)) => {
                let at = join(path, key);
                self.error(
                    Problem::WrongType {
                        property: at.clone(),
                        expected: "true or false".into(),
                        found: kind(n),
                    },
                    n.span,
                    &at,
                );
                false
            }
        }
    }

    fn pattern(&mut self, value: &str, node: &Node, key: &str, pattern: &'static str, ok: bool) {
        if !ok {
            let span = node.get(key).map_or(node.span, |n| n.span);
            self.error(
                Problem::Pattern {
                    property: key.to_string(),
                    value: value.to_string(),
                    pattern,
                },
                span,
                key,
            );
        }
    }

    fn suite(&mut self, doc: &Node) -> Option<TestSuite> {
        if doc.as_map().is_none() {
            self.error(Problem::NotAMap { found: kind(doc) }, doc.span, "");
            return None;
        }
        self.known_keys(
            doc,
            "the test suite",
            &[
                "id",
                "namespace",
                "flowId",
                "description",
                "disabled",
                "testCases",
            ],
            "",
        );
        let id = self.string(doc, "id", "", true);
        let namespace = self.string(doc, "namespace", "", true);
        let flow_id = self.string(doc, "flowId", "", true);
        if let Some(id) = &id {
            self.pattern(
                id,
                doc,
                "id",
                "^[a-zA-Z0-9][a-zA-Z0-9_-]*",
                id_like(id, false),
            );
        }
        if let Some(ns) = &namespace {
            let ok = ns.len() <= 150
                && ns.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && ns.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
                });
            self.pattern(ns, doc, "namespace", "^[a-z0-9][a-z0-9._-]*", ok);
        }
        if let Some(f) = &flow_id {
            self.pattern(
                f,
                doc,
                "flowId",
                "^[a-zA-Z0-9][a-zA-Z0-9._-]*",
                id_like(f, true),
            );
        }
        let description = self.string(doc, "description", "", false);
        let disabled = self.flag(doc, "disabled", "");
        let mut cases = Vec::new();
        match doc.get("testCases") {
            Some(Node {
                value: NodeValue::Seq(list),
                span,
            }) => {
                if list.is_empty() {
                    self.error(
                        Problem::Empty {
                            property: "testCases".into(),
                        },
                        *span,
                        "testCases",
                    );
                }
                let mut seen = std::collections::HashSet::new();
                for (i, c) in list.iter().enumerate() {
                    let path = format!("testCases[{i}]");
                    if let Some(case) = self.case(c, &path) {
                        if !seen.insert(case.id.clone()) {
                            self.error(
                                Problem::Duplicate {
                                    what: "test case id",
                                    ids: vec![case.id.clone()],
                                },
                                c.get("id").map_or(c.span, |n| n.span),
                                &format!("{path}.id"),
                            );
                        }
                        cases.push(case);
                    }
                }
            }
            Some(n) => self.error(
                Problem::WrongType {
                    property: "testCases".into(),
                    expected: "a list of test cases".into(),
                    found: kind(n),
                },
                n.span,
                "testCases",
            ),
            None => self.error(
                Problem::Missing {
                    property: "testCases".into(),
                },
                doc.span,
                "testCases",
            ),
        }
        Some(TestSuite {
            id: id?,
            namespace: namespace?,
            flow_id: flow_id?,
            description,
            disabled,
            cases,
        })
    }

    fn case(&mut self, node: &Node, path: &str) -> Option<UnitTest> {
        if node.as_map().is_none() {
            self.error(Problem::NotAMap { found: kind(node) }, node.span, path);
            return None;
        }
        self.known_keys(
            node,
            "a test case",
            &[
                "id",
                "type",
                "disabled",
                "description",
                "fixtures",
                "assertions",
            ],
            path,
        );
        let id = self.string(node, "id", path, true);
        let type_name = self.string(node, "type", path, true);
        if let Some(t) = &type_name
            && t != UNIT_TEST_TYPE
        {
            let span = node.get("type").map_or(node.span, |n| n.span);
            self.error(
                Problem::InvalidValue {
                    property: join(path, "type"),
                    reason: format!(
                        "`{t}` is not a test case type (the one type is {UNIT_TEST_TYPE})"
                    ),
                },
                span,
                &join(path, "type"),
            );
        }
        let disabled = self.flag(node, "disabled", path);
        let description = self.string(node, "description", path, false);
        let fixtures = match node.get("fixtures") {
            Some(f) if !f.is_null() => self.fixtures(f, &join(path, "fixtures")),
            _ => Fixtures::default(),
        };
        let mut assertions = Vec::new();
        match node.get("assertions") {
            Some(Node {
                value: NodeValue::Seq(list),
                ..
            }) => {
                for (i, a) in list.iter().enumerate() {
                    if let Some(a) = self.assertion(a, &format!("{path}.assertions[{i}]")) {
                        assertions.push(a);
                    }
                }
            }
            Some(n) => {
                let at = join(path, "assertions");
                self.error(
                    Problem::WrongType {
                        property: at.clone(),
                        expected: "a list of assertions".into(),
                        found: kind(n),
                    },
                    n.span,
                    &at,
                );
            }
            None => {
                let at = join(path, "assertions");
                self.error(
                    Problem::Missing {
                        property: at.clone(),
                    },
                    node.span,
                    &at,
                );
            }
        }
        Some(UnitTest {
            id: id?,
            type_name: type_name?,
            disabled,
            description,
            fixtures,
            assertions,
            span: node.span,
        })
    }

    fn map(&mut self, node: &Node, key: &str, path: &str) -> Option<Map<String, Json>> {
        let n = node.get(key).filter(|n| !n.is_null())?;
        match n.to_json() {
            Json::Object(m) => Some(m),
            _ => {
                let at = join(path, key);
                self.error(
                    Problem::WrongType {
                        property: at.clone(),
                        expected: "a map".into(),
                        found: kind(n),
                    },
                    n.span,
                    &at,
                );
                None
            }
        }
    }

    fn fixtures(&mut self, node: &Node, path: &str) -> Fixtures {
        self.known_keys(
            node,
            "the fixtures",
            &["inputs", "files", "tasks", "trigger"],
            path,
        );
        let inputs = self.map(node, "inputs", path).unwrap_or_default();
        let mut files = Vec::new();
        if let Some(map) = node.get("files").and_then(Node::as_map) {
            for (Key { name, span }, v) in map {
                match v.as_str() {
                    Some(content) => files.push((name.clone(), content.to_string())),
                    None => {
                        let at = format!("{path}.files.{name}");
                        self.error(
                            Problem::WrongType {
                                property: at.clone(),
                                expected: "the file's content, a string".into(),
                                found: kind(v),
                            },
                            *span,
                            &at,
                        );
                    }
                }
            }
        } else if let Some(n) = node.get("files").filter(|n| !n.is_null()) {
            let at = join(path, "files");
            self.error(
                Problem::WrongType {
                    property: at.clone(),
                    expected: "a map of file names to contents".into(),
                    found: kind(n),
                },
                n.span,
                &at,
            );
        }
        let mut tasks = Vec::new();
        if let Some(list) = node.get("tasks").and_then(Node::as_seq) {
            for (i, t) in list.iter().enumerate() {
                let at = format!("{path}.tasks[{i}]");
                self.known_keys(
                    t,
                    "a task fixture",
                    &["id", "value", "state", "outputs", "description", "assets"],
                    &at,
                );
                let id = self.string(t, "id", &at, true);
                let value = self.string(t, "value", &at, false);
                let state = self
                    .string(t, "state", &at, false)
                    .unwrap_or_else(|| "SUCCESS".into());
                if !FIXTURE_STATES.contains(&state.as_str()) {
                    let span = t.get("state").map_or(t.span, |n| n.span);
                    self.error(
                        Problem::InvalidValue {
                            property: format!("{at}.state"),
                            reason: format!(
                                "`{state}` is not a state a fixture can end a task run in (one of {})",
                                FIXTURE_STATES.join(", ")
                            ),
                        },
                        span,
                        &format!("{at}.state"),
                    );
                }
                let outputs = self.map(t, "outputs", &at);
                if let Some(id) = id {
                    tasks.push(TaskFixtureSpec {
                        id,
                        value,
                        state,
                        outputs,
                    });
                }
            }
        }
        let trigger = node.get("trigger").filter(|n| !n.is_null()).and_then(|t| {
            let at = join(path, "trigger");
            self.known_keys(t, "the trigger fixture", &["id", "type", "variables"], &at);
            let id = self.string(t, "id", &at, true);
            let type_name = self.string(t, "type", &at, true);
            let variables = self.map(t, "variables", &at).unwrap_or_default();
            Some(TriggerFixture {
                id: id?,
                type_name: type_name?,
                variables,
            })
        });
        Fixtures {
            inputs,
            files,
            tasks,
            trigger,
            raw: node.to_json(),
        }
    }

    fn assertion(&mut self, node: &Node, path: &str) -> Option<Assertion> {
        if node.as_map().is_none() {
            self.error(Problem::NotAMap { found: kind(node) }, node.span, path);
            return None;
        }
        let mut known = vec!["value", "taskId", "description", "errorMessage"];
        known.extend(Operator::ALL.iter().map(|o| o.key()));
        self.known_keys(node, "an assertion", &known, path);
        let value = match node.get("value") {
            Some(v) => v.to_json(),
            None => {
                let at = join(path, "value");
                self.error(
                    Problem::Missing {
                        property: at.clone(),
                    },
                    node.span,
                    &at,
                );
                return None;
            }
        };
        let operators: Vec<(Operator, Json)> = Operator::ALL
            .iter()
            .filter_map(|op| {
                node.get(op.key())
                    .filter(|n| !n.is_null())
                    .map(|n| (*op, n.to_json()))
            })
            .collect();
        if operators.is_empty() {
            self.error(
                Problem::TestSuite {
                    message: format!(
                        "{path}: no assertions found (give an operator: {})",
                        Operator::ALL.map(|o| o.key()).join(", ")
                    ),
                },
                node.span,
                path,
            );
        }
        Some(Assertion {
            value,
            task_id: self.string(node, "taskId", path, false),
            description: node.get("description").map(Node::to_json),
            error_message: node.get("errorMessage").map(Node::to_json),
            operators,
            span: node.span,
        })
    }
}

fn id_like(s: &str, dots: bool) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || (dots && c == '.'))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn kind(n: &Node) -> &'static str {
    match n.value {
        NodeValue::Null => "null",
        NodeValue::Bool(_) => "a boolean",
        NodeValue::Int(_) | NodeValue::Float(_) => "a number",
        NodeValue::Str(_) => "a string",
        NodeValue::Seq(_) => "a list",
        NodeValue::Map(_) => "a map",
    }
}
