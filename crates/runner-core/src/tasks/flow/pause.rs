//! `io.kestra.plugin.core.flow.Pause`: waits for `delay`, then goes on.

use crate::context::RunContext;
use crate::error::TaskError;
use crate::plan::TaskList;
use crate::property::{IsoDuration, Property};
use crate::registry::{PropDoc, TaskDescriptor};
use crate::task::{BoxFuture, FlowableTask, Outputs, Resolution, TaskKind};
use serde::Deserialize;
use serde_json::Value as Json;

pub(crate) const PAUSE: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.Pause",
    aliases: &["io.kestra.core.tasks.flows.Pause"],
    doc: "Pause for `delay`, then resume. Without `delay` Kestra waits for a manual resume, which \
          runner cannot receive: such a run fails (after `timeout` when set).",
    properties: &[
        PropDoc::value(
            "delay",
            "duration",
            "Resume automatically after this duration.",
        ),
        PropDoc::value(
            "timeout",
            "duration",
            "Without delay: fail after this duration, as Kestra does.",
        ),
        PropDoc::value(
            "onResume",
            "list of inputs",
            "Inputs asked on resume (accepted, not asked: runner resumes by delay).",
        ),
        PropDoc::value(
            "behavior",
            "RESUME|WARN|FAIL|CANCEL",
            "What happens when the timeout is reached.",
        ),
        PropDoc::tasks("tasks", "Deprecated: tasks to run after the pause."),
    ],
    example: "id: wait\ntype: io.kestra.plugin.core.flow.Pause\ndelay: PT0.1S",
    flowable: true,
    build: |b| {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        struct Props {
            delay: Option<Property<IsoDuration>>,
            timeout: Option<Property<IsoDuration>>,
            #[serde(default)]
            #[allow(dead_code)]
            on_resume: Json,
            behavior: Option<String>,
        }
        let props = b.properties::<Props>();
        let tasks = b.tasks("tasks", false);
        let props = props?;
        Some(TaskKind::Flowable(Box::new(Pause {
            delay: props.delay,
            timeout: props.timeout,
            behavior: props.behavior,
            tasks,
        })))
    },
};

pub(crate) struct Pause {
    delay: Option<Property<IsoDuration>>,
    timeout: Option<Property<IsoDuration>>,
    behavior: Option<String>,
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
                    if self.behavior.as_deref() != Some("RESUME") {
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
