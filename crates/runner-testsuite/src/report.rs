//! Results of a run of suites: Kestra's JSON shapes (`TestSuiteRunResult`, `UnitTestResult`)
//! and a JUnit XML report (the format GitHub Actions, GitLab and Jenkins render). Every text
//! given here is already masked by the caller.

use crate::assertion::{AssertionResult, RunError};
use serde_json::{Map, Value as Json, json};
use std::fmt::Write;
use std::time::Duration;

/// Kestra's `TestState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaseState {
    Success,
    Failed,
    Error,
    Skipped,
}

impl CaseState {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::Success => "SUCCESS",
            CaseState::Failed => "FAILED",
            CaseState::Error => "ERROR",
            CaseState::Skipped => "SKIPPED",
        }
    }

    /// Kestra's rule: any error makes it ERROR, else any failed assertion FAILED.
    pub fn of(results: &[AssertionResult], errors: &[RunError]) -> CaseState {
        if !errors.is_empty() {
            CaseState::Error
        } else if results.iter().any(|r| !r.is_success) {
            CaseState::Failed
        } else {
            CaseState::Success
        }
    }
}

#[derive(Clone, Debug)]
pub struct CaseResult {
    pub id: String,
    pub state: CaseState,
    pub duration: Duration,
    pub execution_id: Option<String>,
    pub assertions: Vec<AssertionResult>,
    pub errors: Vec<RunError>,
    /// The execution's log lines (masked), for the report's system-out.
    pub logs: String,
    pub fixtures: Json,
    pub description: Option<String>,
}

#[derive(Clone, Debug)]
pub struct SuiteResult {
    pub id: String,
    pub namespace: String,
    pub flow_id: String,
    /// The suite file, as given on the command line.
    pub file: String,
    pub start: String,
    pub end: String,
    pub cases: Vec<CaseResult>,
}

impl SuiteResult {
    /// Kestra's suite state: the first ERROR, else FAILED if any failed, else SKIPPED when
    /// every case was, else SUCCESS.
    pub fn state(&self) -> CaseState {
        if self.cases.iter().any(|c| c.state == CaseState::Error) {
            CaseState::Error
        } else if self.cases.iter().any(|c| c.state == CaseState::Failed) {
            CaseState::Failed
        } else if self.cases.iter().all(|c| c.state == CaseState::Skipped) {
            CaseState::Skipped
        } else {
            CaseState::Success
        }
    }

    fn count(&self, state: CaseState) -> usize {
        self.cases.iter().filter(|c| c.state == state).count()
    }
}

fn assertion_json(r: &AssertionResult) -> Json {
    let mut m = Map::new();
    m.insert("operator".into(), json!(r.operator));
    m.insert("expected".into(), r.expected.clone());
    m.insert("actual".into(), r.actual.clone());
    m.insert("isSuccess".into(), json!(r.is_success));
    for (k, v) in [
        ("taskId", &r.task_id),
        ("description", &r.description),
        ("errorMessage", &r.error_message),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    }
    Json::Object(m)
}

/// Kestra's `TestSuiteRunResult` for each suite.
pub fn kestra_json(suites: &[SuiteResult]) -> Json {
    Json::Array(
        suites
            .iter()
            .map(|s| {
                json!({
                    "id": format!("{}.{}", s.namespace, s.id),
                    "testSuiteId": s.id,
                    "namespace": s.namespace,
                    "flowId": s.flow_id,
                    "state": s.state().as_str(),
                    "startDate": s.start,
                    "endDate": s.end,
                    "results": s.cases.iter().map(|c| json!({
                        "testId": c.id,
                        "testType": crate::model::UNIT_TEST_TYPE,
                        "executionId": c.execution_id,
                        "url": null,
                        "state": c.state.as_str(),
                        "assertionResults": c.assertions.iter().map(assertion_json).collect::<Vec<_>>(),
                        "errors": c.errors.iter().map(|e| json!({"message": e.message, "details": e.details})).collect::<Vec<_>>(),
                        "fixtures": c.fixtures,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

/// The failure text of a case: each failed assertion's message with where it is.
pub fn failure_lines(file: &str, c: &CaseResult) -> Vec<String> {
    let mut out = Vec::new();
    for r in c.assertions.iter().filter(|r| !r.is_success) {
        let mut line = format!(
            "{} ({file}:{}:{})",
            r.error_message.as_deref().unwrap_or("assertion failed"),
            r.span.line,
            r.span.col
        );
        if let Some(d) = &r.description {
            line = format!("{d}: {line}");
        }
        out.push(line);
    }
    for e in &c.errors {
        let mut line = e.message.clone();
        if let Some(d) = &e.details {
            line.push_str(&format!(" {d}"));
        }
        if let Some(span) = e.span {
            line.push_str(&format!(" ({file}:{}:{})", span.line, span.col));
        }
        out.push(line);
    }
    out
}

/// A JUnit XML report: one `<testsuite>` per suite, one `<testcase>` per case, failures and
/// errors with their messages, `<skipped/>` for disabled cases, the case's logs as
/// `<system-out>`.
pub fn junit(suites: &[SuiteResult]) -> String {
    let total = |state| suites.iter().map(|s| s.count(state)).sum::<usize>();
    let cases: usize = suites.iter().map(|s| s.cases.len()).sum();
    let time: Duration = suites
        .iter()
        .flat_map(|s| s.cases.iter().map(|c| c.duration))
        .sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"runner test\" tests=\"{cases}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        total(CaseState::Failed),
        total(CaseState::Error),
        total(CaseState::Skipped),
        time.as_secs_f64()
    );
    for s in suites {
        let name = format!("{}.{}", s.namespace, s.id);
        let suite_time: Duration = s.cases.iter().map(|c| c.duration).sum();
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\" timestamp=\"{}\" file=\"{}\">",
            esc(&name),
            s.cases.len(),
            s.count(CaseState::Failed),
            s.count(CaseState::Error),
            s.count(CaseState::Skipped),
            suite_time.as_secs_f64(),
            esc(&s.start),
            esc(&s.file)
        );
        let _ = writeln!(
            x,
            "    <properties><property name=\"flow\" value=\"{}\"/></properties>",
            esc(&format!("{}.{}", s.namespace, s.flow_id))
        );
        for c in &s.cases {
            let _ = write!(
                x,
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\" file=\"{}\">",
                esc(&c.id),
                esc(&name),
                c.duration.as_secs_f64(),
                esc(&s.file)
            );
            x.push('\n');
            let lines = failure_lines(&s.file, c);
            match c.state {
                CaseState::Skipped => x.push_str("      <skipped message=\"disabled\"/>\n"),
                CaseState::Failed => {
                    let first = lines.first().cloned().unwrap_or_default();
                    let _ = writeln!(
                        x,
                        "      <failure message=\"{}\" type=\"AssertionFailed\">{}</failure>",
                        esc(&first),
                        esc(&lines.join("\n"))
                    );
                }
                CaseState::Error => {
                    let first = lines.first().cloned().unwrap_or_default();
                    let _ = writeln!(
                        x,
                        "      <error message=\"{}\" type=\"Error\">{}</error>",
                        esc(&first),
                        esc(&lines.join("\n"))
                    );
                }
                CaseState::Success => {}
            }
            if !c.logs.is_empty() {
                let _ = writeln!(x, "      <system-out>{}</system-out>", esc(&c.logs));
            }
            x.push_str("    </testcase>\n");
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

/// XML text and attribute escaping; characters XML 1.0 cannot hold become U+FFFD.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}
