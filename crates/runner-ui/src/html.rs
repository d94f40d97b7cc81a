//! The pieces every page is made of: escaping, the layout, state badges, dates.

use std::fmt::Write;

/// `s` safe inside HTML text and attribute values: the masker's own escape, so a secret a
/// page shows escaped is still found and masked on its way out.
pub(crate) fn esc(s: &str) -> String {
    runner_secrets::html_escape(s)
}

/// A whole page: the navigation, then `body`.
pub(crate) fn layout(title: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 1024);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{} · runner</title><link rel=\"icon\" href=\"data:,\"><link rel=\"stylesheet\" href=\"/assets/ui.css\"><script src=\"/assets/ui.js\" defer></script></head><body><header class=\"top\"><a class=\"brand\" href=\"/executions\">runner</a><nav><a href=\"/executions\">Executions</a><a href=\"/flows\">Flows</a><a href=\"/kv\">KV store</a></nav></header><main>{body}</main></body></html>",
        esc(title)
    );
    out
}

/// The states Kestra shows, each with its colour class; anything else is drawn grey.
pub(crate) const STATES: &[&str] = &[
    "CREATED",
    "RUNNING",
    "PAUSED",
    "RETRYING",
    "RESTARTED",
    "KILLING",
    "SUCCESS",
    "WARNING",
    "FAILED",
    "KILLED",
    "CANCELLED",
    "SKIPPED",
    "QUEUED",
    "RETRIED",
];

/// A state as a coloured label.
pub(crate) fn badge(state: &str) -> String {
    format!(
        "<span class=\"badge st-{}\" data-state=\"{}\">{}</span>",
        state_class(state),
        esc(state),
        esc(state)
    )
}

/// The class suffix of a state: its name when known, `OTHER` otherwise (never user text).
pub(crate) fn state_class(state: &str) -> &'static str {
    STATES
        .iter()
        .find(|s| **s == state)
        .copied()
        .unwrap_or("OTHER")
}

/// Whether an execution or task run in `state` will change no more.
pub(crate) fn is_terminal(state: &str) -> bool {
    matches!(
        state,
        "SUCCESS" | "WARNING" | "FAILED" | "KILLED" | "CANCELLED" | "SKIPPED" | "RETRIED"
    )
}

pub(crate) fn timestamp(s: &str) -> Option<jiff::Timestamp> {
    s.parse().ok()
}

/// A date as the pages show it: `2026-12-01 23:34:25.124` (UTC).
pub(crate) fn date(s: &str) -> String {
    match timestamp(s) {
        Some(t) => t.strftime("%Y-%m-%d %H:%M:%S%.3f").to_string(),
        None => s.to_string(),
    }
}

/// Seconds as people read them: `527µs`, `1.25s`, `3m 02s`, `1h 04m`.
pub(crate) fn seconds(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "-".to_string();
    }
    if secs < 0.001 {
        format!("{}µs", (secs * 1e6).round() as u64)
    } else if secs < 1.0 {
        format!("{}ms", (secs * 1e3).round() as u64)
    } else if secs < 60.0 {
        format!("{secs:.2}s")
    } else if secs < 3600.0 {
        let s = secs.round() as u64;
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        let m = (secs / 60.0).round() as u64;
        format!("{}h {:02}m", m / 60, m % 60)
    }
}

/// The seconds between two dates of a record (`end` absent: until now).
pub(crate) fn between(start: &str, end: Option<&str>) -> Option<f64> {
    let start = timestamp(start)?;
    let end = match end {
        Some(e) => timestamp(e)?,
        None => jiff::Timestamp::now(),
    };
    Some(end.duration_since(start).as_secs_f64())
}

/// A `<select>` option.
pub(crate) fn option(value: &str, label: &str, selected: bool) -> String {
    format!(
        "<option value=\"{}\"{}>{}</option>",
        esc(value),
        if selected { " selected" } else { "" },
        esc(label)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_durations_read_well() {
        assert_eq!(
            esc("<a href='x'>&\""),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"
        );
        assert_eq!(seconds(0.000527), "527µs");
        assert_eq!(seconds(0.25), "250ms");
        assert_eq!(seconds(1.254), "1.25s");
        assert_eq!(seconds(182.0), "3m 02s");
        assert_eq!(seconds(3840.0), "1h 04m");
        assert_eq!(state_class("<script>"), "OTHER");
        assert!(is_terminal("WARNING") && !is_terminal("RUNNING"));
    }
}
