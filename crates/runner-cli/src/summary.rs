//! The table of task runs that ends a run, on stderr.

use runner_core::State;
use serde_json::Value as Json;

/// `PT0.0123S` as `12.3ms`, `PT65.2S` as `1m05.2s`: the record keeps Kestra's ISO form.
fn human(iso: Option<&str>) -> String {
    let Some(d) = iso.and_then(runner_model::parse_duration) else {
        return "-".into();
    };
    let secs = d.as_secs_f64();
    match secs {
        s if s < 0.001 => format!("{}µs", d.as_micros()),
        s if s < 1.0 => format!("{:.1}ms", s * 1000.0),
        s if s < 60.0 => format!("{s:.2}s"),
        s => format!("{}m{:04.1}s", (s / 60.0) as u64, s % 60.0),
    }
}

/// The table of task runs that ends a run, on stderr.
pub(crate) fn summary(record: &Json, state: State) -> String {
    let runs = record["taskRunList"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let label = |r: &Json| match r["value"].as_str() {
        Some(v) => format!("{} [{v}]", r["taskId"].as_str().unwrap_or_default()),
        None => r["taskId"].as_str().unwrap_or_default().to_string(),
    };
    let width = runs
        .iter()
        .map(|r| label(r).chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = format!("\n{:<width$}  {:<9}  DURATION\n", "TASK", "STATE");
    for r in &runs {
        let duration = human(r["state"]["duration"].as_str());
        // A Subflow's child execution, so the reader can find its record.
        let child = r["outputs"]["executionId"]
            .as_str()
            .map(|id| format!("  subflow execution {id}"))
            .unwrap_or_default();
        let _ = std::fmt::Write::write_fmt(
            &mut out,
            format_args!(
                "{:<width$}  {:<9}  {duration}{child}\n",
                label(r),
                r["state"]["current"].as_str().unwrap_or_default()
            ),
        );
    }
    let took = human(record["state"]["duration"].as_str());
    out.push_str(&format!(
        "Execution {} of {}.{} ended {state} in {took}\n",
        record["id"].as_str().unwrap_or_default(),
        record["namespace"].as_str().unwrap_or_default(),
        record["flowId"].as_str().unwrap_or_default()
    ));
    out
}

/// What ended differently between two runs of a flow (`run --watch`): each task run whose
/// state changed, appeared or went, and the execution's state.
pub(crate) fn changes(before: &Json, now: &Json) -> Vec<String> {
    let states = |record: &Json| -> Vec<(String, String)> {
        record["taskRunList"]
            .as_array()
            .map(|runs| {
                runs.iter()
                    .map(|r| {
                        let task = r["taskId"].as_str().unwrap_or_default();
                        let label = match r["value"].as_str() {
                            Some(v) => format!("{task} [{v}]"),
                            None => task.to_string(),
                        };
                        (
                            label,
                            r["state"]["current"].as_str().unwrap_or("?").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (old, new) = (states(before), states(now));
    let mut out = Vec::new();
    let execution = |r: &Json| r["state"]["current"].as_str().unwrap_or("?").to_string();
    if execution(before) != execution(now) {
        out.push(format!(
            "the execution {} -> {}",
            execution(before),
            execution(now)
        ));
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
