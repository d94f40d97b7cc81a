//! `io.kestra.plugin.core.flow.ForEachItem`: a file cut into batches, one subflow execution
//! per batch, a few at a time; memory stays flat with the file's size.

use crate::plugin::*;
use crate::tasks::flow::subflow::Target;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;
use tokio::io::AsyncWriteExt;

pub(crate) const FOR_EACH_ITEM: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.flow.ForEachItem",
    aliases: &["io.kestra.core.tasks.flows.ForEachItem"],
    doc: "Cut `items` (a kestra:// file) into batches and run a subflow for each, with `{{ taskrun.items }}` (the batch file) and `{{ taskrun.iteration }}` in its inputs; outputs `numberOfBatches`, `iterations` (a count per state) and `uri` (the subflows' outputs, one per line).",
    example: "id: each_row\ntype: io.kestra.plugin.core.flow.ForEachItem\nitems: \"{{ outputs.extract.uri }}\"\nbatch:\n  rows: 100\nnamespace: company.team\nflowId: load\ninputs:\n  file: \"{{ taskrun.items }}\"",
    shape: runnable::<ForEachItem>(),
};

/// How many batches run at once.
const CONCURRENCY: usize = 4;

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ForEachItem {
    /// The `kestra://` file to cut into batches.
    items: Property<String>,
    /// How to cut it (default one line per batch).
    batch: Option<Batch>,
    /// The flow run per batch; `{{ taskrun.items }}` in `inputs` is the batch.
    #[serde(flatten)]
    target: Target,
}

impl RunnableTask for ForEachItem {
    fn check(&self) -> Result<(), String> {
        self.target.check()?;
        self.batch.as_ref().map_or(Ok(()), |b| b.check(true))
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let items = ctx.render(&self.items, "items")?;
            let (by, separator) = match &self.batch {
                Some(b) => b.render(ctx)?,
                None => (SplitBy::Rows(1), "\n".into()),
            };
            let batches = ctx.split_file(&items, &by, &separator).await?;
            let t = &self.target;
            let namespace = ctx.render(&t.namespace, "namespace")?;
            let flow_id = ctx.render(&t.flow_id, "flowId")?;
            let wait = t.wait.unwrap_or(true);
            let labels = t.labels(ctx)?;
            ctx.info(&format!(
                "{} batches of {items} for {namespace}.{flow_id}",
                batches.len()
            ));
            // Each batch's call, its inputs rendered with the batch as `taskrun.items`.
            let calls: Vec<Result<SubflowCall, TaskError>> = batches
                .iter()
                .enumerate()
                .map(|(i, uri)| {
                    let mut taskrun = ctx.taskrun_variable();
                    taskrun["items"] = Json::String(uri.clone());
                    taskrun["iteration"] = json!(i + 1);
                    let extra: Map<String, Json> =
                        [("taskrun".to_string(), taskrun)].into_iter().collect();
                    let inputs = match &t.inputs {
                        None => Ok(Map::new()),
                        Some(p) => match ctx.render_json_with(p.raw(), "inputs", &extra) {
                            Ok(Json::Object(m)) => Ok(m),
                            Ok(Json::Null) => Ok(Map::new()),
                            Ok(other) => Err(TaskError::property(
                                "inputs",
                                format!("a map of input values, not `{other}`"),
                            )),
                            Err(e) => Err(e),
                        },
                    };
                    inputs.map(|inputs| SubflowCall {
                        namespace: namespace.clone(),
                        flow_id: flow_id.clone(),
                        inputs,
                        labels: labels.clone(),
                        wait,
                    })
                })
                .collect();
            let outputs_uri = ctx.output_file_uri(&format!("{}.ion", crate::ids::random_u64()));
            let mut outputs_file = ctx.storage().create(&outputs_uri).await?;
            let mut counts: BTreeMap<String, u64> = BTreeMap::new();
            let mut first_error = None;
            let mut runs = futures_util::stream::iter(calls)
                .map(|call| run_one(ctx, call))
                .buffer_unordered(CONCURRENCY);
            while let Some(result) = runs.next().await {
                match result {
                    Ok(run) => {
                        let state = run.state.map_or("CREATED", State::as_str);
                        *counts.entry(state.to_string()).or_default() += 1;
                        if let Some(o) = run.outputs {
                            let line = format!("{o}\n");
                            outputs_file.write_all(line.as_bytes()).await.map_err(|e| {
                                TaskError::new(ErrorKind::Io, format!("cannot write {outputs_uri}"))
                                    .caused_by(e)
                            })?;
                        }
                    }
                    Err(e) => {
                        *counts.entry("FAILED".into()).or_default() += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            drop(runs);
            outputs_file.flush().await.map_err(|e| {
                TaskError::new(ErrorKind::Io, format!("cannot write {outputs_uri}")).caused_by(e)
            })?;
            let mut outputs = Outputs::new();
            outputs.insert("numberOfBatches".into(), json!(batches.len()));
            outputs.insert("iterations".into(), json!(counts));
            outputs.insert("uri".into(), Json::String(outputs_uri));
            if let Some(e) = first_error {
                // A batch that could not start (bad inputs, missing flow) fails the task.
                return Err(e.with_outputs(outputs));
            }
            let transmit = t.transmit_failed.unwrap_or(true);
            let worst = ["FAILED", "KILLED", "WARNING"]
                .into_iter()
                .find(|s| counts.contains_key(*s));
            match worst {
                Some(s) if transmit && wait => {
                    let state = match s {
                        "FAILED" => State::Failed,
                        "KILLED" => State::Killed,
                        _ => State::Warning,
                    };
                    Err(TaskError::Ended { state, outputs })
                }
                _ => Ok(outputs),
            }
        })
    }
}

async fn run_one(
    ctx: &RunContext,
    call: Result<SubflowCall, TaskError>,
) -> Result<SubflowRun, TaskError> {
    ctx.run_subflow(call?).await
}
