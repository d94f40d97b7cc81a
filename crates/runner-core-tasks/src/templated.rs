//! `io.kestra.plugin.core.templating.TemplatedTask`: a task whose whole YAML is rendered at
//! run time, then validated and run like any task written in the flow.

use runner_core::control::ExecutionControl;
use runner_core::plugin::*;
use serde::Deserialize;

pub(crate) const TEMPLATED_TASK: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.templating.TemplatedTask",
    aliases: &["io.kestra.core.tasks.templating.TemplatedTask"],
    doc: "Render `spec` (the YAML of a runnable task, with its `type`), then validate and run it; its outputs are the task's.",
    example: "id: dynamic\ntype: io.kestra.plugin.core.templating.TemplatedTask\nspec: |\n  type: io.kestra.plugin.core.debug.Return\n  format: \"{{ flow.id }}\"",
    shape: runnable::<TemplatedTask>(),
};

const SELF: &[&str] = &[
    "io.kestra.plugin.core.templating.TemplatedTask",
    "io.kestra.core.tasks.templating.TemplatedTask",
];

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub(crate) struct TemplatedTask {
    /// The task's YAML, rendered before it is read.
    spec: Property<String>,
}

impl RunnableTask for TemplatedTask {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let spec = ctx.render(&self.spec, "spec")?;
            let Some(types) = ctx.task_types() else {
                return Err(TaskError::new(
                    ErrorKind::Unsupported,
                    "no task types are known here, so the templated task cannot be built",
                ));
            };
            // The rendered task, as the one task of a flow: validated exactly like one written
            // in the file.
            let indented: String = spec.lines().map(|l| format!("    {l}\n")).collect();
            let text = format!(
                "id: templated\nnamespace: {}\ntasks:\n  - id: {}\n{indented}",
                ctx.namespace(),
                ctx.task_id()
            );
            let invalid =
                |why: String| TaskError::failed(format!("The templated task is invalid: {why}"));
            let docs = runner_model::load_str(&text).map_err(|e| invalid(e.message))?;
            let doc = docs
                .first()
                .ok_or_else(|| invalid("the spec is empty".into()))?;
            if let Some(t) = doc
                .get("tasks")
                .and_then(|t| t.as_seq())
                .and_then(|t| t.first())
                .and_then(|t| t.get("type"))
                .and_then(|t| t.as_str())
                && SELF.contains(&t)
            {
                return Err(TaskError::failed(
                    "The templated task cannot be of type 'io.kestra.plugin.core.templating.TemplatedTask'",
                ));
            }
            let v = runner_core::validate(doc, types, &runner_template::Renderer::new());
            let Some(plan) = v.plan else {
                let first = v
                    .diagnostics
                    .iter()
                    .find(|d| d.is_error())
                    .map(|d| d.problem.to_string())
                    .unwrap_or_default();
                return Err(invalid(first));
            };
            let Some(task) = plan.tasks.first() else {
                return Err(invalid("no task".into()));
            };
            match &task.kind {
                TaskKind::Runnable(r) => r.run(ctx).await,
                TaskKind::Flowable(_) => Err(TaskError::failed(
                    "The templated task must be a runnable task",
                )),
            }
        })
    }
}
