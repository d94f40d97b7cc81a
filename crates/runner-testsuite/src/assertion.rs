//! An assertion evaluated as Kestra's `Assertion.run` evaluates it: one result per operator,
//! with Kestra's failure messages, or an error when a value cannot be rendered or compared.

use crate::model::{Assertion, Operator};
use runner_model::Span;
use serde_json::Value as Json;

/// One operator's outcome (Kestra's `AssertionResult`).
#[derive(Clone, Debug)]
pub struct AssertionResult {
    pub operator: &'static str,
    pub expected: Json,
    pub actual: Json,
    pub is_success: bool,
    pub task_id: Option<String>,
    pub description: Option<String>,
    pub error_message: Option<String>,
    /// Where the assertion is in the suite file.
    pub span: Span,
}

/// An assertion that could not run (Kestra's `AssertionRunError`).
#[derive(Clone, Debug)]
pub struct RunError {
    pub message: String,
    pub details: Option<String>,
    pub span: Option<Span>,
}

/// Evaluates `a`, rendering each value with `render` (the execution's final variables).
pub fn evaluate(
    a: &Assertion,
    render: &mut dyn FnMut(&Json) -> Result<Json, String>,
) -> (Vec<AssertionResult>, Vec<RunError>) {
    let could_not = |why: String| RunError {
        message: format!("Could not evaluate assertion: `{}`", a.displayable()),
        details: Some(format!("error was: {why}")),
        span: Some(a.span),
    };
    let query = match &a.value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    let text = |v: &Option<Json>, render: &mut dyn FnMut(&Json) -> Result<Json, String>| {
        v.as_ref()
            .map(|v| render(v).map(|r| java_text(&r)))
            .transpose()
    };
    let actual = match render(&a.value) {
        Ok(v) => v,
        Err(e) => return (Vec::new(), vec![could_not(e)]),
    };
    let (user_message, description) =
        match (text(&a.error_message, render), text(&a.description, render)) {
            (Ok(m), Ok(d)) => (m, d),
            (Err(e), _) | (_, Err(e)) => return (Vec::new(), vec![could_not(e)]),
        };
    let mut results = Vec::new();
    for (op, expected_raw) in &a.operators {
        let expected = match render(expected_raw) {
            Ok(v) => v,
            Err(e) => return (results, vec![could_not(e)]),
        };
        let shown_actual = java_text(&actual);
        let outcome: Result<(bool, Json, String), String> = match op {
            Operator::IsNull | Operator::IsNotNull => {
                let flag = truthy(&expected);
                let null_expected = if *op == Operator::IsNull { flag } else { !flag };
                let ok = null_expected == actual.is_null();
                let message = if null_expected {
                    format!("expected '{query}' to be null but was '{shown_actual}'")
                } else {
                    format!("expected '{query}' to be not null but was 'null'")
                };
                Ok((ok, Json::String(op.key().into()), message))
            }
            Operator::EqualTo | Operator::NotEqualTo => {
                let same = equal(&expected, &actual);
                let shown = java_text(&expected);
                if *op == Operator::EqualTo {
                    Ok((
                        same,
                        expected.clone(),
                        format!("expected '{query}' to equal '{shown}' but was '{shown_actual}'"),
                    ))
                } else {
                    Ok((
                        !same,
                        expected.clone(),
                        format!("expected '{query}' to not equal '{shown}'"),
                    ))
                }
            }
            Operator::StartsWith | Operator::EndsWith | Operator::Contains => {
                let want = java_text(&expected);
                let (ok, verb) = match op {
                    Operator::StartsWith => (shown_actual.starts_with(&want), "start with"),
                    Operator::EndsWith => (shown_actual.ends_with(&want), "end with"),
                    _ => (shown_actual.contains(&want), "contain"),
                };
                Ok((
                    ok,
                    Json::String(want.clone()),
                    format!("expected '{query}' to {verb} '{want}' but was '{shown_actual}'"),
                ))
            }
            Operator::GreaterThan
            | Operator::GreaterThanOrEqualTo
            | Operator::LessThan
            | Operator::LessThanOrEqualTo => match (as_double(&expected), as_double(&actual)) {
                (Some(want), Some(got)) => {
                    let (ok, verb) = match op {
                        Operator::GreaterThan => (got > want, "be greater than"),
                        Operator::GreaterThanOrEqualTo => {
                            (got >= want, "be greater than or equal to")
                        }
                        Operator::LessThan => (got < want, "be less than"),
                        _ => (got <= want, "be less than or equal to"),
                    };
                    Ok((
                        ok,
                        serde_json::Number::from_f64(want).map_or(Json::Null, Json::Number),
                        format!(
                            "expected '{query}' to {verb} '{}' but was '{shown_actual}'",
                            java_double(want)
                        ),
                    ))
                }
                _ => Err("Could not parse value as a Double".to_string()),
            },
            Operator::In | Operator::NotIn => {
                let list = string_list(&expected);
                let found = list.contains(&shown_actual);
                let shown = format!("[{}]", list.join(", "));
                let expected = Json::Array(list.into_iter().map(Json::String).collect());
                if *op == Operator::In {
                    Ok((
                        found,
                        expected,
                        format!("expected '{query}' to contain '{shown}' but was '{shown_actual}'"),
                    ))
                } else {
                    Ok((
                        !found,
                        expected,
                        format!(
                            "expected '{query}' to not contain '{shown}' but was '{shown_actual}'"
                        ),
                    ))
                }
            }
        };
        match outcome {
            Ok((ok, expected, message)) => results.push(AssertionResult {
                operator: op.key(),
                expected,
                actual: actual.clone(),
                is_success: ok,
                task_id: a.task_id.clone(),
                description: description.clone(),
                error_message: (!ok).then(|| user_message.clone().unwrap_or(message)),
                span: a.span,
            }),
            Err(why) => return (results, vec![could_not(why)]),
        }
    }
    (results, Vec::new())
}

/// A value as Java's `toString` shows it: strings as they are, lists `[a, b]`, maps `{k=v}`.
pub fn java_text(v: &Json) -> String {
    match v {
        Json::Null => "null".into(),
        Json::String(s) => s.clone(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::Array(items) => format!(
            "[{}]",
            items.iter().map(java_text).collect::<Vec<_>>().join(", ")
        ),
        Json::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{k}={}", java_text(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Java's `Double.toString` for the values tests use: `5.0`, `2.5`.
fn java_double(d: f64) -> String {
    if d.fract() == 0.0 && d.abs() < 1e7 {
        format!("{d:.1}")
    } else {
        d.to_string()
    }
}

fn as_double(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn truthy(v: &Json) -> bool {
    match v {
        Json::Bool(b) => *b,
        Json::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Equality as a test author means it: the same JSON value (5 and 5.0 alike), or, for a
/// string against a number or boolean, the same text (`"5"` and `5`).
fn equal(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::String(_), Json::Number(_) | Json::Bool(_))
        | (Json::Number(_) | Json::Bool(_), Json::String(_)) => java_text(a) == java_text(b),
        _ => a == b,
    }
}

/// `in`/`notIn`: a list of values as strings (a string holding a JSON list is read as one).
fn string_list(v: &Json) -> Vec<String> {
    match v {
        Json::Array(items) => items.iter().map(java_text).collect(),
        Json::String(s) => match serde_json::from_str::<Json>(s) {
            Ok(Json::Array(items)) => items.iter().map(java_text).collect(),
            _ => vec![s.clone()],
        },
        Json::Null => Vec::new(),
        other => vec![java_text(other)],
    }
}
