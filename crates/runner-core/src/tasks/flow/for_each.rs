//! `io.kestra.plugin.core.flow.ForEach` and the deprecated `EachSequential`/`EachParallel`: run
//! the same tasks once per value.

use crate::context::RunContext;
use crate::error::TaskError;
use crate::plan::TaskList;
use crate::property::Property;
use crate::registry::{PropDoc, TaskDescriptor};
use crate::task::{BoxFuture, Branch, FlowableTask, Outputs, Resolution, TaskKind};
use serde::Deserialize;
use serde_json::Value as Json;

pub(crate) const FOR_EACH: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.ForEach",
    aliases: &[],
    doc: "Run tasks once per value; `concurrencyLimit` iterations at once (1 by default, 0 = all).",
    properties: &[
        PropDoc::value(
            "values",
            "list or JSON array string",
            "The values to iterate over; duplicates are dropped.",
        )
        .required(),
        PropDoc::value(
            "concurrencyLimit",
            "integer",
            "Iterations at once: 1 by default, 0 for all.",
        )
        .fixed(),
        PropDoc::tasks("tasks", "The tasks to run for each value.").required(),
    ],
    example: "id: each\ntype: io.kestra.plugin.core.flow.ForEach\nvalues: [a, b]\ntasks:\n  - id: show\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ taskrun.value }}\"",
    flowable: true,
    build: |b| {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        struct Props {
            values: Property<Json>,
            #[serde(default = "one")]
            concurrency_limit: usize,
        }
        let props = b.properties::<Props>();
        let tasks = b.tasks("tasks", true);
        let props = props?;
        Some(TaskKind::Flowable(Box::new(ForEach {
            values: props.values,
            concurrency: props.concurrency_limit,
            tasks,
        })))
    },
};

fn one() -> usize {
    1
}

pub(crate) const EACH_SEQUENTIAL: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.EachSequential",
    aliases: &["io.kestra.core.tasks.flows.EachSequential"],
    doc: "Deprecated (use ForEach): run tasks once per value, one value at a time.",
    properties: &[
        PropDoc::value(
            "value",
            "list or JSON array string",
            "The values to iterate over.",
        )
        .required(),
        PropDoc::tasks("tasks", "The tasks to run for each value.").required(),
    ],
    example: "id: each\ntype: io.kestra.plugin.core.flow.EachSequential\nvalue: [a, b]\ntasks:\n  - id: show\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ taskrun.value }}\"",
    flowable: true,
    build: |b| {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Props {
            value: Property<Json>,
        }
        let props = b.properties::<Props>();
        let tasks = b.tasks("tasks", true);
        Some(TaskKind::Flowable(Box::new(ForEach {
            values: props?.value,
            concurrency: 1,
            tasks,
        })))
    },
};

pub(crate) const EACH_PARALLEL: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.EachParallel",
    aliases: &["io.kestra.core.tasks.flows.EachParallel"],
    doc: "Deprecated (use ForEach): run tasks once per value, all values at once (`concurrent` limits).",
    properties: &[
        PropDoc::value(
            "value",
            "list or JSON array string",
            "The values to iterate over.",
        )
        .required(),
        PropDoc::value("concurrent", "integer", "Iterations at once; 0 means all.").fixed(),
        PropDoc::tasks("tasks", "The tasks to run for each value.").required(),
    ],
    example: "id: each\ntype: io.kestra.plugin.core.flow.EachParallel\nvalue: [a, b]\ntasks:\n  - id: show\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ taskrun.value }}\"",
    flowable: true,
    build: |b| {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Props {
            value: Property<Json>,
            #[serde(default)]
            concurrent: usize,
        }
        let props = b.properties::<Props>();
        let tasks = b.tasks("tasks", true);
        let props = props?;
        Some(TaskKind::Flowable(Box::new(ForEach {
            values: props.value,
            concurrency: props.concurrent,
            tasks,
        })))
    },
};

pub(crate) struct ForEach {
    values: Property<Json>,
    concurrency: usize,
    tasks: TaskList,
}

impl ForEach {
    /// The iteration values: a JSON array string is rendered then parsed; list items are
    /// rendered; objects become their JSON text. Duplicates are dropped, nulls refused.
    fn values(&self, ctx: &RunContext) -> Result<Vec<String>, TaskError> {
        let list = match self.values.raw() {
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
            Json::Array(_) => match ctx.render_json(self.values.raw(), "values")? {
                Json::Array(items) => items,
                _ => unreachable!("rendering keeps the shape of a list"),
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
        let mut out: Vec<String> = Vec::with_capacity(list.len());
        for v in list {
            let s = match v {
                Json::String(s) => s,
                other => other.to_string(),
            };
            if !out.contains(&s) {
                out.push(s);
            }
        }
        Ok(out)
    }
}

impl FlowableTask for ForEach {
    fn resolve<'a>(
        &'a self,
        ctx: &'a RunContext,
    ) -> BoxFuture<'a, Result<Resolution<'a>, TaskError>> {
        Box::pin(async move {
            let branches = self
                .values(ctx)?
                .into_iter()
                .map(|v| Branch {
                    value: Some(v),
                    tasks: &self.tasks,
                })
                .collect();
            Ok(Resolution {
                branches,
                concurrency: self.concurrency,
                outputs: Outputs::new(),
            })
        })
    }
}
