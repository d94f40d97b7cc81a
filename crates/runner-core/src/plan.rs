//! The validated flow: every task typed, every template parsed. Only the executor acts on it.

use crate::inputs::InputSpec;
use crate::log::Level;
use crate::property::{IsoDuration, Property};
use crate::task::TaskKind;
use runner_model::{Label, RawOutput};
use serde_json::Value as Json;
use std::time::Duration;

pub type TaskList = Vec<TaskNode>;

/// One task of the plan with its common properties and its local `errors`/`finally`.
pub struct TaskNode {
    pub id: String,
    pub type_name: String,
    pub common: Common,
    pub kind: TaskKind,
    pub errors: TaskList,
    pub finally: TaskList,
}

/// Properties every task has.
#[derive(Clone, Debug, Default)]
pub struct Common {
    pub run_if: Option<String>,
    pub timeout: Option<Property<IsoDuration>>,
    pub retry: Option<Retry>,
    pub allow_failure: bool,
    pub allow_warning: bool,
    pub log_level: Option<Level>,
    /// Also write this task's log lines to a file in internal storage.
    pub log_to_file: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Retry {
    pub kind: RetryKind,
    pub max_attempt: Option<u32>,
    pub max_duration: Option<Duration>,
    pub warning_on_retry: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RetryKind {
    Constant {
        interval: Duration,
    },
    Exponential {
        interval: Duration,
        max_interval: Duration,
        delay_factor: f64,
    },
    Random {
        min_interval: Duration,
        max_interval: Duration,
    },
}

impl Retry {
    /// The wait before attempt `next` (2 for the first retry), or `None` when no attempt is left.
    pub fn delay_before(&self, next: u32, elapsed: Duration) -> Option<Duration> {
        if self.max_attempt.is_some_and(|max| next > max) {
            return None;
        }
        let delay = match &self.kind {
            RetryKind::Constant { interval } => *interval,
            RetryKind::Exponential {
                interval,
                max_interval,
                delay_factor,
            } => {
                let factor = delay_factor.powi(next.saturating_sub(2) as i32);
                interval.mul_f64(factor).min(*max_interval)
            }
            RetryKind::Random {
                min_interval,
                max_interval,
            } => {
                let span = max_interval.saturating_sub(*min_interval);
                let r = (uuid::Uuid::new_v4().as_u128() % 1_000_000) as f64 / 1_000_000.0;
                *min_interval + span.mul_f64(r)
            }
        };
        if self.max_duration.is_some_and(|max| elapsed + delay > max) {
            return None;
        }
        Some(delay)
    }
}

#[derive(Clone, Debug)]
pub struct FlowInfo {
    pub id: String,
    pub namespace: String,
    pub revision: i64,
    pub description: Option<String>,
}

/// A flow ready to execute.
pub struct Plan {
    pub flow: FlowInfo,
    pub labels: Vec<Label>,
    pub inputs: Vec<InputSpec>,
    pub variables: Json,
    pub tasks: TaskList,
    pub errors: TaskList,
    pub finally: TaskList,
    pub after_execution: TaskList,
    pub outputs: Vec<RawOutput>,
    pub trigger_count: usize,
    pub triggers: Vec<crate::trigger::TriggerSpec>,
    pub disabled: bool,
    /// The ids of tasks in `errors`, `finally` and `afterExecution` lists, at any depth: a
    /// restart runs them again rather than keeping how they ended.
    pub handlers: std::collections::HashSet<String>,
    /// Each Pause's `onResume` inputs, by task id: what a resume is asked for.
    pub on_resume: std::collections::HashMap<String, Vec<InputSpec>>,
}

impl Plan {
    /// Every task of the plan at any depth, in order, for listings.
    pub fn task_count(&self) -> usize {
        fn count(list: &TaskList) -> usize {
            list.iter()
                .map(|t| 1 + count(&t.errors) + count(&t.finally))
                .sum()
        }
        count(&self.tasks)
            + count(&self.errors)
            + count(&self.finally)
            + count(&self.after_execution)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_follow_the_policy() {
        let s = Duration::from_secs;
        let r = Retry {
            kind: RetryKind::Exponential {
                interval: s(1),
                max_interval: s(5),
                delay_factor: 2.0,
            },
            max_attempt: Some(4),
            max_duration: None,
            warning_on_retry: false,
        };
        assert_eq!(r.delay_before(2, s(0)), Some(s(1)));
        assert_eq!(r.delay_before(3, s(0)), Some(s(2)));
        assert_eq!(r.delay_before(4, s(0)), Some(s(4)));
        assert_eq!(r.delay_before(5, s(0)), None);
        let c = Retry {
            kind: RetryKind::Constant { interval: s(10) },
            max_attempt: None,
            max_duration: Some(s(25)),
            warning_on_retry: false,
        };
        assert_eq!(c.delay_before(2, s(10)), Some(s(10)));
        assert_eq!(c.delay_before(3, s(20)), None);
        let rand = Retry {
            kind: RetryKind::Random {
                min_interval: s(1),
                max_interval: s(2),
            },
            max_attempt: Some(3),
            max_duration: None,
            warning_on_retry: false,
        };
        let d = rand.delay_before(2, s(0)).unwrap();
        assert!(d >= s(1) && d <= s(2));
    }
}
