//! `io.kestra.plugin.core.flow.ForEach` and the deprecated `EachSequential`/`EachParallel`: run
//! the same tasks once per value.

use crate::plugin::*;
use serde::Deserialize;
use serde_json::Value as Json;

pub(crate) const FOR_EACH: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.ForEach",
    aliases: &[],
    doc: "Run tasks once per value; `concurrencyLimit` iterations at once (1 by default, 0 = all).",
    example: "id: each\ntype: io.kestra.plugin.core.flow.ForEach\nvalues: [a, b]\ntasks:\n  - id: show\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ taskrun.value }}\"",
    shape: flowable::<ForEach>(),
};

pub(crate) const EACH_SEQUENTIAL: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.EachSequential",
    aliases: &["io.kestra.core.tasks.flows.EachSequential"],
    doc: "Deprecated (use ForEach): run tasks once per value, one value at a time.",
    example: "id: each\ntype: io.kestra.plugin.core.flow.EachSequential\nvalue: [a, b]\ntasks:\n  - id: show\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ taskrun.value }}\"",
    shape: flowable::<EachSequential>(),
};

pub(crate) const EACH_PARALLEL: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.EachParallel",
    aliases: &["io.kestra.core.tasks.flows.EachParallel"],
    doc: "Deprecated (use ForEach): run tasks once per value, all values at once (`concurrent` limits).",
    example: "id: each\ntype: io.kestra.plugin.core.flow.EachParallel\nvalue: [a, b]\ntasks:\n  - id: show\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ taskrun.value }}\"",
    shape: flowable::<EachParallel>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ForEach {
    /// The values to iterate over; duplicates are dropped.
    #[prop(type = "list or JSON array string")]
    values: Property<Json>,
    /// Iterations at once: 1 by default, 0 for all.
    #[serde(default = "one")]
    concurrency_limit: usize,
    /// The tasks to run for each value.
    #[serde(skip)]
    #[prop(tasks, required)]
    tasks: TaskList,
}

fn one() -> usize {
    1
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub(crate) struct EachSequential {
    /// The values to iterate over.
    #[prop(type = "list or JSON array string")]
    value: Property<Json>,
    /// The tasks to run for each value.
    #[serde(skip)]
    #[prop(tasks, required)]
    tasks: TaskList,
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub(crate) struct EachParallel {
    /// The values to iterate over.
    #[prop(type = "list or JSON array string")]
    value: Property<Json>,
    /// Iterations at once; 0 means all.
    #[serde(default)]
    concurrent: usize,
    /// The tasks to run for each value.
    #[serde(skip)]
    #[prop(tasks, required)]
    tasks: TaskList,
}

impl FlowableTask for ForEach {
    fn resolve<'a>(
        &'a self,
        ctx: &'a RunContext,
    ) -> BoxFuture<'a, Result<Resolution<'a>, TaskError>> {
        Box::pin(async move { each(&self.values, self.concurrency_limit, &self.tasks, ctx) })
    }
}

impl FlowableTask for EachSequential {
    fn resolve<'a>(
        &'a self,
        ctx: &'a RunContext,
    ) -> BoxFuture<'a, Result<Resolution<'a>, TaskError>> {
        Box::pin(async move { each(&self.value, 1, &self.tasks, ctx) })
    }
}

impl FlowableTask for EachParallel {
    fn resolve<'a>(
        &'a self,
        ctx: &'a RunContext,
    ) -> BoxFuture<'a, Result<Resolution<'a>, TaskError>> {
        Box::pin(async move { each(&self.value, self.concurrent, &self.tasks, ctx) })
    }
}

/// One branch per distinct value, `concurrency` at once (0 = all).
fn each<'a>(
    values: &Property<Json>,
    concurrency: usize,
    tasks: &'a TaskList,
    ctx: &RunContext,
) -> Result<Resolution<'a>, TaskError> {
    let branches = self::values(values, ctx)?
        .into_iter()
        .map(|v| Branch {
            value: Some(v),
            tasks,
        })
        .collect();
    Ok(Resolution {
        branches,
        concurrency,
        outputs: Outputs::new(),
        working_dir: None,
    })
}

/// The iteration values: a JSON array string is rendered then parsed; list items are
/// rendered; objects become their JSON text. Duplicates are dropped, nulls refused.
fn values(values: &Property<Json>, ctx: &RunContext) -> Result<Vec<String>, TaskError> {
    let list = match values.raw() {
        Json::String(s) => {
            let rendered = ctx.render_str(s, "values")?;
            match serde_json::from_str::<Json>(&rendered) {
                Ok(Json::Array(items)) => items,
                _ => {
                    return Err(TaskError::property(
                        "values",
                        format!("expected a list or a JSON array, got `{rendered}`"),
                    ));
                }
            }
        }
        Json::Array(_) => match ctx.render_json(values.raw(), "values")? {
            Json::Array(items) => items,
            other => {
                return Err(TaskError::property(
                    "values",
                    format!("expected a list, got `{other}`"),
                ));
            }
        },
        other => {
            return Err(TaskError::property(
                "values",
                format!("expected a list, got `{other}`"),
            ));
        }
    };
    let nulls = list.iter().filter(|v| v.is_null()).count();
    if nulls > 0 {
        return Err(TaskError::failed(format!(
            "Found '{nulls}' null values on Each, with values={}",
            Json::Array(list.clone())
        )));
    }
    let mut seen = std::collections::HashSet::with_capacity(list.len());
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for v in list {
        let s = match v {
            Json::String(s) => s,
            other => other.to_string(),
        };
        if seen.insert(s.clone()) {
            out.push(s);
        }
    }
    Ok(out)
}
