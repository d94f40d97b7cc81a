//! Tasks that change the running execution: `Exit` ends it in a chosen state,
//! `SetVariables` and `UnsetVariables` change its `vars` for the tasks after them.

use runner_core::control::ExecutionControl;
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::{Map, Value as Json};

pub(crate) const EXIT: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.execution.Exit",
    aliases: &[],
    doc: "End the execution in `state` (SUCCESS, WARNING, FAILED, KILLED or CANCELLED): no task starts after it.",
    example: "id: stop\ntype: io.kestra.plugin.core.execution.Exit\nstate: WARNING",
    shape: runnable::<Exit>(),
};

pub(crate) const SET_VARIABLES: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.execution.SetVariables",
    aliases: &[],
    doc: "Deep-merge `variables` into the execution's `vars` for the tasks after it (`overwrite`, default true).",
    example: "id: set\ntype: io.kestra.plugin.core.execution.SetVariables\nvariables:\n  env: test",
    shape: runnable::<SetVariables>(),
};

pub(crate) const UNSET_VARIABLES: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.execution.UnsetVariables",
    aliases: &[],
    doc: "Remove `variables` (dotted names) from the execution's `vars` (`ignoreMissing`, default false).",
    example: "id: unset\ntype: io.kestra.plugin.core.execution.UnsetVariables\nvariables:\n  - env",
    shape: runnable::<UnsetVariables>(),
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum ExitState {
    Success,
    Warning,
    Killed,
    Failed,
    Cancelled,
    /// Deprecated spelling (Kestra 1.3).
    Canceled,
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub(crate) struct Exit {
    /// The execution's final state (default SUCCESS).
    state: Option<Property<ExitState>>,
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetVariables {
    /// The values to merge into `vars`.
    variables: Property<Map<String, Json>>,
    /// Replace values that are set (default true); false makes that an error.
    overwrite: Option<Property<bool>>,
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct UnsetVariables {
    /// Dotted names to remove (`a.b`).
    variables: Property<Vec<String>>,
    /// A name that is not set is no error (default false).
    ignore_missing: Option<Property<bool>>,
}

impl RunnableTask for Exit {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let state = match ctx
                .render_opt(&self.state, "state")?
                .unwrap_or(ExitState::Success)
            {
                ExitState::Success => State::Success,
                ExitState::Warning => State::Warning,
                ExitState::Killed => State::Killed,
                ExitState::Failed => State::Failed,
                ExitState::Cancelled | ExitState::Canceled => State::Cancelled,
            };
            ctx.info(&format!(
                "Exiting the execution with state {}",
                state.as_str()
            ));
            ctx.exit_execution(state);
            match state {
                State::Success => Ok(Outputs::new()),
                _ => Err(TaskError::Ended {
                    state,
                    outputs: Outputs::new(),
                }),
            }
        })
    }
}

impl RunnableTask for SetVariables {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let given = ctx.render(&self.variables, "variables")?;
            let overwrite = ctx
                .render_opt(&self.overwrite, "overwrite")?
                .unwrap_or(true);
            let mut vars = match ctx.execution_vars() {
                Json::Object(m) => m,
                _ => Map::new(),
            };
            merge(&mut vars, given, overwrite, "")?;
            ctx.set_execution_vars(Json::Object(vars));
            Ok(Outputs::new())
        })
    }
}

/// Deep merge of `from` into `into`; with `overwrite` false a value already set is an error.
fn merge(
    into: &mut Map<String, Json>,
    from: Map<String, Json>,
    overwrite: bool,
    prefix: &str,
) -> Result<(), TaskError> {
    for (k, v) in from {
        let name = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match (into.get_mut(&k), v) {
            (Some(Json::Object(a)), Json::Object(b)) => merge(a, b, overwrite, &name)?,
            (Some(_), _) if !overwrite => {
                return Err(TaskError::failed(format!(
                    "`{name}` already exists and `overwrite` is set to `false`"
                )));
            }
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
    Ok(())
}

impl RunnableTask for UnsetVariables {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let names = ctx.render(&self.variables, "variables")?;
            let ignore = ctx
                .render_opt(&self.ignore_missing, "ignoreMissing")?
                .unwrap_or(false);
            let mut vars = ctx.execution_vars();
            for name in names {
                let (parent, last) = match name.rsplit_once('.') {
                    Some((p, l)) => (format!("/{}", p.replace('.', "/")), l),
                    None => (String::new(), name.as_str()),
                };
                let removed = vars
                    .pointer_mut(&parent)
                    .and_then(Json::as_object_mut)
                    .and_then(|m| m.remove(last))
                    .is_some();
                if !removed && !ignore {
                    return Err(TaskError::failed(format!(
                        "Unable to unset variable '{name}' as it doesn't exist"
                    )));
                }
            }
            ctx.set_execution_vars(vars);
            Ok(Outputs::new())
        })
    }
}
