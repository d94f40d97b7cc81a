//! The table of task runs that ends a run, on stderr.

use runner_core::{State, TaskRunSummary};

/// `PT0.0123S` as `12.3ms`, `PT65.2S` as `1m05.2s`: the record keeps Kestra's ISO form.
pub(crate) fn human(iso: Option<&str>) -> String {
    iso.and_then(runner_model::parse_duration)
        .map_or_else(|| "-".into(), runner_model::format_human)
}

/// What a run's summary and `--watch`'s comparison read: the execution and its task runs.
#[derive(Clone, Debug)]
pub(crate) struct RunSummary {
    pub(crate) id: String,
    pub(crate) namespace: String,
    pub(crate) flow_id: String,
    pub(crate) state: State,
    pub(crate) duration: Option<String>,
    pub(crate) runs: Vec<TaskRunSummary>,
    /// The flow's `outputs:` once rendered, masked.
    pub(crate) outputs: Option<serde_json::Value>,
}

impl RunSummary {
    pub(crate) fn of(execution: &runner_core::Execution) -> RunSummary {
        let (state, duration) = execution.state();
        let (namespace, flow_id) = execution.flow();
        RunSummary {
            id: execution.id().to_string(),
            namespace: namespace.to_string(),
            flow_id: flow_id.to_string(),
            state,
            duration,
            outputs: execution.outputs().0,
            // Masked before the table is laid out: a column's width must not tell a secret's
            // length.
            runs: execution
                .task_runs()
                .into_iter()
                .map(|mut r| {
                    r.value = r.value.map(|v| execution.mask(&v));
                    r
                })
                .collect(),
        }
    }
}

/// More rows than this and a task's runs (ForEach iterations) are one line each task.
const ROWS: usize = 40;

fn label(r: &TaskRunSummary) -> String {
    match &r.value {
        Some(v) => format!("{} [{v}]", r.task_id),
        None => r.task_id.clone(),
    }
}

/// The table of task runs that ends a run, on stderr. Past a few dozen rows, the runs of one
/// task are counted by state on one line (a ForEach of 100,000 values is one line, not
/// 100,000).
pub(crate) fn summary(run: &RunSummary, state: State) -> String {
    let mut out = table(run);
    let took = human(run.duration.as_deref());
    if state == State::Paused {
        out.push_str(&format!(
            "Execution {id} of {}.{} is PAUSED: go on with `runner resume {id}` (`-i name=value` answers the Pause's onResume inputs), or end it with `runner kill {id}`\n",
            run.namespace,
            run.flow_id,
            id = run.id,
        ));
        return out;
    }
    out.push_str(&format!(
        "Execution {} of {}.{} ended {state} in {took}\n",
        run.id, run.namespace, run.flow_id
    ));
    out.push_str(&flow_outputs(run.outputs.as_ref()));
    out
}

/// The table of task runs alone (a server's execution ends with its own lines).
pub(crate) fn table(run: &RunSummary) -> String {
    let rows: Vec<(String, String, String)> = if run.runs.len() <= ROWS {
        run.runs
            .iter()
            .map(|r| {
                // A Subflow's child execution, so the reader can find its record.
                let child = r
                    .child_execution
                    .as_ref()
                    .map(|id| format!("  subflow execution {id}"))
                    .unwrap_or_default();
                (
                    label(r),
                    r.state.as_str().to_string(),
                    format!("{}{child}", human(r.duration.as_deref())),
                )
            })
            .collect()
    } else {
        let mut tasks: Vec<(&str, Vec<&TaskRunSummary>)> = Vec::new();
        for r in &run.runs {
            match tasks.iter_mut().find(|(t, _)| *t == r.task_id) {
                Some((_, list)) => list.push(r),
                None => tasks.push((&r.task_id, vec![r])),
            }
        }
        tasks
            .into_iter()
            .map(|(task, list)| {
                let mut counts: Vec<(State, usize)> = Vec::new();
                for r in &list {
                    match counts.iter_mut().find(|(s, _)| *s == r.state) {
                        Some((_, n)) => *n += 1,
                        None => counts.push((r.state, 1)),
                    }
                }
                let states = if counts.len() == 1 {
                    counts[0].0.as_str().to_string()
                } else {
                    counts
                        .iter()
                        .map(|(s, n)| format!("{s} {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let label = if list.len() == 1 {
                    label(list[0])
                } else {
                    format!("{task} ×{}", list.len())
                };
                let duration = if list.len() == 1 {
                    human(list[0].duration.as_deref())
                } else {
                    let total: f64 = list
                        .iter()
                        .filter_map(|r| r.duration.as_deref())
                        .filter_map(runner_model::parse_duration)
                        .map(|d| d.as_secs_f64())
                        .sum();
                    format!(
                        "{} in all",
                        human(Some(&runner_model::format_iso(
                            std::time::Duration::from_secs_f64(total)
                        )))
                    )
                };
                (label, states, duration)
            })
            .collect()
    };
    let width = rows
        .iter()
        .map(|(l, _, _)| l.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let state_width = rows
        .iter()
        .map(|(_, s, _)| s.chars().count())
        .max()
        .unwrap_or(9)
        .max(9);
    let mut out = format!(
        "\n{:<width$}  {:<state_width$}  DURATION\n",
        "TASK", "STATE"
    );
    for (label, states, duration) in rows {
        let _ = std::fmt::Write::write_fmt(
            &mut out,
            format_args!("{label:<width$}  {states:<state_width$}  {duration}\n"),
        );
    }
    out
}

/// The longest output value shown whole after a run; the record has every value.
const OUTPUT_CHARS: usize = 200;

/// The flow's `outputs:` after the summary, one per line (`--json` and the record have them
/// typed).
pub(crate) fn flow_outputs(outputs: Option<&serde_json::Value>) -> String {
    let Some(map) = outputs
        .and_then(|o| o.as_object())
        .filter(|m| !m.is_empty())
    else {
        return String::new();
    };
    let width = map.keys().map(|k| k.chars().count()).max().unwrap_or(0);
    let mut out = String::from("OUTPUTS\n");
    for (id, value) in map {
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let count = text.chars().count();
        let shown = if count > OUTPUT_CHARS {
            let head: String = text.chars().take(OUTPUT_CHARS).collect();
            format!("{head}… ({count} characters; the record has it whole)")
        } else {
            text
        };
        let shown = shown.replace('\n', "\n  ");
        out.push_str(&format!("  {id:<width$}  {shown}\n"));
    }
    out
}

/// What ended differently between two runs of a flow (`run --watch`): each task run whose
/// state changed, appeared or went, and the execution's state.
pub(crate) fn changes(before: &RunSummary, now: &RunSummary) -> Vec<String> {
    let states = |run: &RunSummary| -> Vec<(String, String)> {
        run.runs
            .iter()
            .map(|r| (label(r), r.state.as_str().to_string()))
            .collect()
    };
    let (old, new) = (states(before), states(now));
    let mut out = Vec::new();
    if before.state != now.state {
        out.push(format!("the execution {} -> {}", before.state, now.state));
    }
    for (label, state) in &new {
        match old.iter().find(|(l, _)| l == label) {
            Some((_, was)) if was != state => out.push(format!("{label} {was} -> {state}")),
            Some(_) => {}
            None => out.push(format!("{label} new ({state})")),
        }
    }
    for (label, _) in &old {
        if !new.iter().any(|(l, _)| l == label) {
            out.push(format!("{label} did not run"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn durations_read_like_a_person_would_write_them() {
        assert_eq!(human(Some("PT0.000268299S")), "268µs");
        assert_eq!(human(Some("PT0.0123S")), "12.3ms");
        assert_eq!(human(Some("PT2.5S")), "2.50s");
        assert_eq!(human(Some("PT1M5.25S")), "1m05.2s");
        assert_eq!(human(None), "-");
    }
}
