//! `io.kestra.plugin.core.flow.Pause`: waits for `pauseDuration` (formerly `delay`), then
//! does what `behavior` says.

use crate::plugin::*;
use crate::resume::Answer;
use serde::Deserialize;
use serde_json::{Map, Value as Json};

pub(crate) const PAUSE: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.Pause",
    aliases: &["io.kestra.core.tasks.flows.Pause"],
    doc: "Pause for `pauseDuration`, then go on as `behavior` says. Without a duration it \
          waits for a manual resume: on a terminal runner asks (the `onResume` inputs too); \
          otherwise the run ends PAUSED and `runner resume EXECUTION_ID -i name=value` goes on \
          from its record (a `timeout` that passed first fails the Pause, as in Kestra).",
    example: "id: wait\ntype: io.kestra.plugin.core.flow.Pause\npauseDuration: PT0.1S",
    shape: flowable::<Pause>(),
};

/// What a Pause does when its duration (or timeout) is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Behavior {
    Resume,
    Warn,
    Fail,
    Cancel,
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Pause {
    /// Resume automatically after this duration.
    pause_duration: Option<Property<IsoDuration>>,
    /// Deprecated: `pauseDuration`.
    delay: Option<Property<IsoDuration>>,
    /// Inputs asked on resume; the Pause's `onResume` output holds their values. (Read by
    /// validation into the plan, see `Plan::on_resume`.)
    #[serde(default)]
    #[prop(type = "list of inputs")]
    #[allow(dead_code)]
    on_resume: Json,
    /// What happens when the duration is reached: RESUME (default), WARN (the Pause ends in
    /// WARNING), FAIL; CANCEL (Kestra cancels the execution) fails the task here.
    behavior: Option<Behavior>,
    /// Deprecated: tasks to run after the pause.
    #[serde(skip)]
    #[prop(tasks)]
    tasks: TaskList,
}

impl FlowableTask for Pause {
    fn resolve<'a>(
        &'a self,
        ctx: &'a RunContext,
    ) -> BoxFuture<'a, Result<Resolution<'a>, TaskError>> {
        Box::pin(async move {
            let duration = match ctx.render_opt(&self.pause_duration, "pauseDuration")? {
                Some(d) => Some(d),
                None => ctx.render_opt(&self.delay, "delay")?,
            };
            // The task's `timeout` (a property every task has) bounds the wait for a resume.
            let timeout = ctx.timeout();
            if let Some(resumed) = ctx.resumed() {
                // Kestra fails a Pause whose timeout passed before anyone resumed it.
                let waited = resumed
                    .paused_at
                    .map(|at| jiff::Timestamp::now().duration_since(at).unsigned_abs());
                if let (Some(t), Some(waited)) = (timeout, waited)
                    && waited > t
                    && self.behavior != Some(Behavior::Resume)
                {
                    return Err(TaskError::failed(format!(
                        "Pause timed out after {} before it was resumed",
                        runner_model::format_iso(t)
                    )));
                }
                ctx.info("Resumed");
                let outputs =
                    Outputs::from_iter([("onResume".to_string(), resumed.inputs.clone())]);
                return Ok(Resolution::sequence(&self.tasks, outputs));
            }
            let Some(delay) = duration else {
                return self.wait_for_resume(ctx).await;
            };
            let shown = runner_model::format_iso(delay.0);
            ctx.info(&format!("Paused for {shown}"));
            tokio::time::sleep(delay.0).await;
            match self.behavior {
                Some(Behavior::Fail) => {
                    return Err(TaskError::failed(format!(
                        "Pause ended after {shown} with behavior FAIL"
                    )));
                }
                Some(Behavior::Cancel) => {
                    return Err(TaskError::new(
                        ErrorKind::Unsupported,
                        format!("Pause ended after {shown} with behavior CANCEL, which cancels the execution in Kestra; runner fails the task instead"),
                    )
                    .hint("use behavior: FAIL to stop the flow the same way here and on Kestra"));
                }
                _ => {}
            }
            Ok(Resolution::sequence(&self.tasks, Outputs::new()))
        })
    }

    fn final_state(&self, children: State) -> State {
        let timed = self.pause_duration.is_some() || self.delay.is_some();
        if timed && self.behavior == Some(Behavior::Warn) && children == State::Success {
            State::Warning
        } else {
            children
        }
    }
}

impl Pause {
    /// No duration: a person resumes it. At a terminal runner asks (the task's `timeout`
    /// ends the wait, failing it as Kestra does); otherwise the run ends PAUSED and `runner
    /// resume` goes on from its record.
    async fn wait_for_resume<'a>(
        &'a self,
        ctx: &'a RunContext,
    ) -> Result<Resolution<'a>, TaskError> {
        let paused = || {
            ctx.info(&format!(
                "Paused: waiting for a manual resume (`runner resume {}`, or the Resume button of `runner ui`)",
                ctx.exec.id
            ));
            Err(TaskError::Ended {
                state: State::Paused,
                outputs: Outputs::new(),
            })
        };
        let Some(desk) = ctx.resume_desk() else {
            return paused();
        };
        let specs = ctx
            .exec
            .on_resume
            .get(&ctx.task_id)
            .map_or(&[][..], Vec::as_slice);
        let ask = async {
            let mut problem: Option<String> = None;
            loop {
                let answer = desk
                    .ask(&ctx.exec.id, &ctx.task_id, specs, problem.as_deref())
                    .await;
                let Some(Answer::Resume(given)) = answer else {
                    return answer;
                };
                match ctx.exec.resume_inputs(specs, &given).await {
                    Ok(values) => return Some(Answer::Resume(values)),
                    Err(e) => problem = Some(e),
                }
            }
        };
        match ask.await {
            Some(Answer::Resume(values)) => {
                ctx.info("Resumed");
                let mut values_map = Map::new();
                values_map.insert("onResume".to_string(), Json::Object(values));
                Ok(Resolution::sequence(&self.tasks, values_map))
            }
            Some(Answer::Kill) => {
                ctx.log(Level::Warn, "Killed instead of resumed");
                ctx.exec.kill_from_task();
                Err(TaskError::Ended {
                    state: State::Killed,
                    outputs: Outputs::new(),
                })
            }
            Some(Answer::Leave) | None => paused(),
        }
    }
}
