//! `io.kestra.plugin.core.flow.Pause`: waits for `pauseDuration` (formerly `delay`), then
//! does what `behavior` says.

use crate::plugin::*;
use serde::Deserialize;
use serde_json::Value as Json;

pub(crate) const PAUSE: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.Pause",
    aliases: &["io.kestra.core.tasks.flows.Pause"],
    doc: "Pause for `pauseDuration`, then go on as `behavior` says. Without a duration Kestra \
          waits for a manual resume, which runner cannot receive: such a run fails (after \
          `timeout` when set).",
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
    /// Without delay: fail after this duration, as Kestra does.
    timeout: Option<Property<IsoDuration>>,
    /// Inputs asked on resume (accepted, not asked: runner resumes by delay).
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
            match (duration, ctx.render_opt(&self.timeout, "timeout")?) {
                (Some(delay), _) => {
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
                }
                (None, Some(timeout)) => {
                    ctx.info(&format!(
                        "Paused until timeout {}: runner cannot receive a manual resume",
                        runner_model::format_iso(timeout.0)
                    ));
                    tokio::time::sleep(timeout.0).await;
                    if self.behavior != Some(Behavior::Resume) {
                        return Err(TaskError::failed(format!(
                            "Pause timed out after {}",
                            runner_model::format_iso(timeout.0)
                        )));
                    }
                }
                (None, None) => {
                    return Err(TaskError::failed(
                        "this Pause waits for a manual resume, which runner cannot receive: set `pauseDuration` to resume automatically",
                    ));
                }
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
