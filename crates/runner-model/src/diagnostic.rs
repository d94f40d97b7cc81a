//! What is wrong with a flow, as data; the CLI turns it into text with a source snippet.

use crate::Span;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One finding about a flow: the problem, where it is, and the property path (`tasks[0].message`).
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub problem: Problem,
    pub span: Option<Span>,
    pub path: String,
}

impl Diagnostic {
    pub fn error(problem: Problem, span: impl Into<Option<Span>>, path: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            problem,
            span: span.into(),
            path: path.into(),
        }
    }

    pub fn warning(
        problem: Problem,
        span: impl Into<Option<Span>>,
        path: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            problem,
            span: span.into(),
            path: path.into(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The kinds of problem a flow can have. Wording follows Kestra's messages where Kestra has one.
#[derive(Clone, Debug, PartialEq)]
pub enum Problem {
    Yaml {
        message: String,
    },
    NoFlow,
    NotAMap {
        found: &'static str,
    },
    Missing {
        property: String,
    },
    Empty {
        property: String,
    },
    Pattern {
        property: String,
        value: String,
        pattern: &'static str,
    },
    Size {
        property: String,
        min: usize,
        max: usize,
    },
    WrongType {
        property: String,
        expected: String,
        found: &'static str,
    },
    UnquotedExpression {
        property: String,
    },
    UnknownProperty {
        owner: String,
        property: String,
        known: Vec<String>,
    },
    UnknownTaskType {
        type_name: String,
        suggestion: Option<String>,
    },
    UnknownInputType {
        type_name: String,
    },
    /// A plugin type inside a property (a `taskRunner`) that runner does not have.
    UnavailableType {
        type_name: String,
        help: String,
    },
    MissingType {
        owner: &'static str,
    },
    Duplicate {
        what: &'static str,
        ids: Vec<String>,
    },
    SystemLabel {
        key: String,
        value: String,
    },
    InvalidValue {
        property: String,
        reason: String,
    },
    Template {
        property: String,
        reason: String,
    },
    WorkerGroup,
    /// `secret('name')` in a flow, while neither the environment nor an env file sets it.
    UnsetSecret {
        name: String,
    },
    /// A rule of one task type, with Kestra's text (e.g. Switch without any case).
    TaskRule {
        task_id: String,
        message: String,
    },
    /// A Subflow (or ForEachItem) calls a flow that none of the files checked defines (a
    /// warning, as in Kestra: the flow may be deployed separately).
    SubflowMissing {
        namespace: String,
        flow_id: String,
    },
    /// A Subflow passes an input its flow does not declare (Kestra drops it).
    SubflowUndeclaredInput {
        input: String,
        flow: String,
    },
    /// A Subflow does not pass an input its flow requires (and has no default for).
    SubflowMissingInput {
        input: String,
        flow: String,
    },
    /// A trigger type that is neither core nor known (a plugin's): a warning, since runner
    /// never fires triggers; an error under `validate --strict`.
    UnknownTriggerType {
        type_name: String,
    },
    /// A trigger condition type that is not one of Kestra's core conditions (a plugin's).
    UnknownConditionType {
        type_name: String,
    },
    /// A test suite rule, in Kestra's words where Kestra has them.
    TestSuite {
        message: String,
    },
    /// A Subflow or ForEachItem that calls its own flow.
    RecursiveFlow {
        flow: String,
    },
    /// Flows that call each other in a circle, as `a -> b -> a`.
    SubflowCycle {
        chain: Vec<String>,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Yaml { message } => write!(f, "{message}"),
            Problem::NoFlow => write!(f, "the file holds no flow"),
            Problem::NotAMap { found } => {
                write!(f, "a flow must be a map of properties, found {found}")
            }
            Problem::Missing { property } => write!(f, "{property}: must not be null"),
            Problem::Empty { property } => write!(f, "{property}: must not be empty"),
            Problem::Pattern {
                property,
                value,
                pattern,
            } => {
                write!(f, "{property}: must match \"{pattern}\" (found `{value}`)")
            }
            Problem::Size { property, min, max } => {
                write!(f, "{property}: size must be between {min} and {max}")
            }
            Problem::WrongType {
                property,
                expected,
                found,
            } => {
                write!(f, "{property}: expected {expected}, found {found}")
            }
            Problem::UnquotedExpression { property } => write!(
                f,
                "{property}: YAML read an unquoted `{{{{ ... }}}}` expression as a map"
            ),
            Problem::UnknownProperty {
                owner, property, ..
            } => {
                write!(
                    f,
                    "Unrecognized field \"{property}\" ({owner}), not marked as ignorable"
                )
            }
            Problem::UnknownTaskType { type_name, .. } => write!(f, "Invalid type: {type_name}"),
            Problem::UnknownInputType { type_name } => write!(f, "Invalid type: {type_name}"),
            Problem::UnavailableType { type_name, .. } => write!(f, "Invalid type: {type_name}"),
            Problem::MissingType { owner } => {
                write!(
                    f,
                    "Invalid type: null: missing type id property 'type' (for POJO property '{owner}')"
                )
            }
            Problem::Duplicate { what, ids } => {
                write!(f, "Duplicate {what} with name [{}]", ids.join(", "))
            }
            Problem::SystemLabel { key, value } => write!(
                f,
                "System labels can only be set by Kestra itself, offending label: {key}={value}"
            ),
            Problem::InvalidValue { property, reason } => write!(f, "{property}: {reason}"),
            Problem::Template { property, reason } => {
                write!(f, "{property}: invalid expression: {reason}")
            }
            Problem::WorkerGroup => {
                write!(f, "Worker Group is an Enterprise Edition functionality")
            }
            Problem::TaskRule { task_id, message } => write!(f, "{task_id}: {message}"),
            Problem::SubflowMissing { namespace, flow_id } => write!(
                f,
                "The subflow '{flow_id}' not found in namespace '{namespace}'."
            ),
            Problem::SubflowUndeclaredInput { input, flow } => write!(
                f,
                "input {input} isn't declared at the subflow inputs of {flow}: it will be ignored"
            ),
            Problem::SubflowMissingInput { input, flow } => write!(
                f,
                "subflow {flow} requires input `{input}`, which is not given"
            ),
            Problem::UnknownTriggerType { type_name }
            | Problem::UnknownConditionType { type_name } => {
                write!(f, "Invalid type: {type_name}")
            }
            Problem::TestSuite { message } => f.write_str(message),
            Problem::RecursiveFlow { flow } => {
                write!(f, "Invalid Flow: Recursive call to flow [{flow}]")
            }
            Problem::SubflowCycle { chain } => write!(
                f,
                "subflows call each other in a cycle: {} (it ends only if a condition stops it)",
                chain.join(" -> ")
            ),
            Problem::UnsetSecret { name } => write!(
                f,
                "secret('{name}'): SECRET_{} is not set in the environment or the given --env-file(s)",
                name.to_uppercase()
            ),
        }
    }
}

impl Problem {
    /// What the user can do about it, when there is something useful to say.
    pub fn help(&self) -> Option<String> {
        Some(match self {
            Problem::UnquotedExpression { .. } => {
                "quote the expression: `message: \"{{ inputs.name }}\"`".to_string()
            }
            Problem::UnknownProperty { property, known, .. } => {
                let mut s = match crate::suggest(property, known.iter().map(String::as_str)) {
                    Some(close) => format!("did you mean `{close}`? "),
                    None => String::new(),
                };
                s.push_str(&format!("known properties: {}", known.join(", ")));
                s
            }
            Problem::UnknownTaskType { suggestion: Some(s), .. } => format!("did you mean `{s}`?"),
            Problem::UnknownTaskType { suggestion: None, type_name } if type_name.starts_with("io.kestra.") => format!(
                "`{type_name}` is a Kestra plugin runner does not run yet: `runner test` can stand in for it with a fixture, and `runner validate --allow-unsupported` checks the rest of the flow; `runner plugins` lists the task types runner runs"
            ),
            Problem::UnknownTaskType { suggestion: None, .. } => {
                "`runner plugins` lists the task types this runner supports".to_string()
            }
            Problem::UnknownInputType { .. } => "input types are STRING, INT, FLOAT, BOOL (or BOOLEAN), DATETIME, DATE, TIME, \
                 DURATION, JSON, URI, SELECT, MULTISELECT, ARRAY, FILE, SECRET, YAML, EMAIL (uppercase)"
                .to_string(),
            Problem::UnavailableType { help, .. } => help.clone(),
            Problem::UnknownTriggerType { .. } => "a plugin trigger: runner never fires triggers, so the flow still runs (`runner run --trigger-vars FILE` gives it a `trigger`); `validate --strict` refuses it, as a Kestra server without the plugin does".to_string(),
            Problem::UnknownConditionType { .. } => "a plugin condition: runner never fires triggers nor evaluates their conditions, so the flow still runs; `validate --strict` refuses it, as a Kestra server without the plugin does".to_string(),
            Problem::MissingType { .. } => "add `type:`, for example `type: STRING`".to_string(),
            Problem::Duplicate { .. } => "every id must be unique in the flow, at any depth".to_string(),
            Problem::WorkerGroup => "remove `workerGroup`: runner executes every task locally".to_string(),
            Problem::SystemLabel { .. } => "rename the label: the `system.` prefix is reserved".to_string(),
            Problem::UnsetSecret { name } => format!(
                "the run will fail unless SECRET_{}=<base64 of the value> is exported or in an --env-file (`runner secrets encode` writes one)",
                name.to_uppercase()
            ),
            _ => return None,
        })
    }
}

/// The closest candidate to `word` by edit distance, when it is close enough to be a likely typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let word_lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (levenshtein(&word_lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

/// The closest candidate at most `max` edits from `word` (case-insensitive): a typo, not a
/// resemblance.
pub fn typo_of<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    max: usize,
) -> Option<String> {
    let word_lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (levenshtein(&word_lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= max)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_pick_close_names_only() {
        assert_eq!(
            suggest("mesage", ["message", "level"]),
            Some("message".into())
        );
        assert_eq!(suggest("zzzzzz", ["message", "level"]), None);
    }

    #[test]
    fn messages_use_kestra_wording() {
        let p = Problem::Duplicate {
            what: "task id",
            ids: vec!["a".into(), "b".into()],
        };
        assert_eq!(p.to_string(), "Duplicate task id with name [a, b]");
        let p = Problem::SystemLabel {
            key: "system.id".into(),
            value: "x".into(),
        };
        assert_eq!(
            p.to_string(),
            "System labels can only be set by Kestra itself, offending label: system.id=x"
        );
    }
}
