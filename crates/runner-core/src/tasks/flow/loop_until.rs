//! `io.kestra.plugin.core.flow.LoopUntil` (alias `WaitFor`): its tasks again and again, every
//! `checkFrequency.interval`, until `condition` is true or a maximum is reached.

use crate::plugin::*;
use serde::Deserialize;
use serde_json::json;

pub(crate) const LOOP_UNTIL: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.LoopUntil",
    aliases: &["io.kestra.plugin.core.flow.WaitFor"],
    doc: "Run `tasks`, then test `condition`; while it is false, wait `checkFrequency.interval` (PT1M) and run them again, up to `maxIterations` or `maxDuration`. Output: `iterationCount` (from 1, visible to the tasks).",
    example: "id: poll\ntype: io.kestra.plugin.core.flow.LoopUntil\ncondition: \"{{ outputs.check.value == '3' }}\"\ncheckFrequency:\n  interval: PT0.1S\n  maxIterations: 10\ntasks:\n  - id: check\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.poll.iterationCount }}\"",
    shape: flowable::<LoopUntil>(),
};

#[derive(Clone, Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct CheckFrequency {
    /// The most rounds (default: no limit).
    max_iterations: Option<Property<u32>>,
    /// The longest the loop may take (default: no limit).
    max_duration: Option<Property<IsoDuration>>,
    /// The wait between two rounds (default PT1M).
    interval: Option<Property<IsoDuration>>,
}

impl PropType for CheckFrequency {
    const NAME: &'static str = "{maxIterations, maxDuration, interval}";
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct LoopUntil {
    /// Tested after each round; true ends the loop.
    condition: Property<String>,
    /// Fail when a maximum is reached before the condition (default false).
    fail_on_max_reached: Option<Property<bool>>,
    /// How often, how many times and how long.
    check_frequency: Option<CheckFrequency>,
    /// The tasks of each round.
    #[serde(skip)]
    #[prop(tasks, required)]
    tasks: TaskList,
}

fn count(n: u32) -> Outputs {
    let mut out = Outputs::new();
    out.insert("iterationCount".into(), json!(n));
    out
}

impl FlowableTask for LoopUntil {
    fn resolve<'a>(
        &'a self,
        _ctx: &'a RunContext,
    ) -> BoxFuture<'a, Result<Resolution<'a>, TaskError>> {
        Box::pin(async move { Ok(Resolution::sequence(&self.tasks, count(1))) })
    }

    fn again<'a>(
        &'a self,
        ctx: &'a RunContext,
        iteration: u32,
    ) -> BoxFuture<'a, Result<Option<Outputs>, TaskError>> {
        Box::pin(async move {
            let done = ctx.render(&self.condition, "condition")?;
            if crate::tasks::is_truthy(&done) {
                return Ok(None);
            }
            let freq = self.check_frequency.clone();
            let max_iterations = match &freq {
                Some(f) => ctx.render_opt(&f.max_iterations, "checkFrequency.maxIterations")?,
                None => None,
            };
            let max_duration = match &freq {
                Some(f) => ctx.render_opt(&f.max_duration, "checkFrequency.maxDuration")?,
                None => None,
            };
            let interval = match &freq {
                Some(f) => ctx.render_opt(&f.interval, "checkFrequency.interval")?,
                None => None,
            }
            .map_or(std::time::Duration::from_secs(60), |d| d.0);
            let elapsed = jiff::Timestamp::now().duration_since(ctx.started());
            let reached = if max_iterations.is_some_and(|m| iteration >= m) {
                Some("Max iterations reached")
            } else if max_duration
                .is_some_and(|m| elapsed.as_secs_f64() + interval.as_secs_f64() > m.0.as_secs_f64())
            {
                Some("Max duration reached")
            } else {
                None
            };
            if let Some(why) = reached {
                if ctx
                    .render_opt(&self.fail_on_max_reached, "failOnMaxReached")?
                    .unwrap_or(false)
                {
                    return Err(TaskError::failed(why));
                }
                ctx.log(Level::Warn, why);
                return Ok(None);
            }
            tokio::time::sleep(interval).await;
            Ok(Some(count(iteration + 1)))
        })
    }
}
