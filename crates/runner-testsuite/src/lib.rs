//! Kestra's flow unit tests (Test Suites, `io.kestra.core.tests.flow.UnitTest`): the suite
//! read from YAML with every problem at its `file:line:col`, the assertions with Kestra's
//! operators and messages, and the reports CI tools read (JUnit XML, Kestra's JSON results).
//! Running a case is the CLI's job; everything here is pure.

mod assertion;
mod model;
mod report;

pub use assertion::{AssertionResult, RunError, evaluate, java_text};
pub use model::{
    Assertion, FIXTURE_STATES, Fixtures, Operator, TaskFixtureSpec, TestSuite, TriggerFixture,
    UnitTest, is_test_suite, read,
};
pub use report::{CaseResult, CaseState, SuiteResult, failure_lines, junit, kestra_json};
