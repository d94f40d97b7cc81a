//! `io.kestra.plugin.core.flow.Pause`: waits for `delay`, then goes on.

use crate::plugin::*;
use serde::Deserialize;
use serde_json::Value as Json;

pub(crate) const PAUSE: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.Pause",
    aliases: &["io.kestra.core.tasks.flows.Pause"],
    doc: "Pause for `delay`, then resume. Without `delay` Kestra waits for a manual resume, which \
          runner cannot receive: such a run fails (after `timeout` when set).",
    example: "id: wait\ntype: io.kestra.plugin.core.flow.Pause\ndelay: PT0.1S",
    shape: flowable::<Pause>(),
};

/// What a Pause does when its timeout is reached.
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
    delay: Option<Property<IsoDuration>>,
    /// Without delay: fail after this duration, as Kestra does.
    timeout: Option<Property<IsoDuration>>,
    /// Inputs asked on resume (accepted, not asked: runner resumes by delay).
    #[serde(default)]
    #[prop(type = "list of inputs")]
    #[allow(dead_code)]
    on_resume: Json,
    /// What happens when the timeout is reached.
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
            match (
                ctx.render_opt(&self.delay, "delay")?,
                ctx.render_opt(&self.timeout, "timeout")?,
            ) {
                (Some(delay), _) => {
                    ctx.info(&format!("Paused for {}", runner_model::format_iso(delay.0)));
                    tokio::time::sleep(delay.0).await;
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
                        "this Pause waits for a manual resume, which runner cannot receive: set `delay` to resume automatically",
                    ));
                }
            }
            Ok(Resolution::sequence(&self.tasks, Outputs::new()))
        })
    }
}
