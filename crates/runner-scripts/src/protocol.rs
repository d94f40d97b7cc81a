//! Kestra's script output protocol: a line that is exactly `::{json}::`, on stdout or
//! stderr, carries `outputs` (merged into `vars`), `metrics` (counter, timer) and `logs`
//! (re-logged at their level) instead of being logged.

use runner_core::plugin::{Json, Level, Metric, MetricKind};
use serde::Deserialize;
use serde_json::Map;

/// What one output line is.
#[derive(Debug, PartialEq)]
pub(crate) enum Line {
    /// Not a protocol line: log it.
    Text,
    /// A protocol line, read.
    Message(Message),
    /// A protocol line whose JSON is wrong: Kestra's warning, `Invalid outputs '<why>'`.
    Invalid(String),
}

#[derive(Debug, Default, PartialEq)]
pub(crate) struct Message {
    pub(crate) outputs: Map<String, Json>,
    pub(crate) metrics: Vec<MetricLine>,
    pub(crate) logs: Vec<(Level, String)>,
}

/// A metric as the line gave it (kept apart from `Metric` for comparison in tests).
#[derive(Debug, PartialEq)]
pub(crate) struct MetricLine {
    pub(crate) name: String,
    pub(crate) kind: MetricKind,
    pub(crate) value: f64,
    pub(crate) tags: Map<String, Json>,
}

impl From<MetricLine> for Metric {
    fn from(m: MetricLine) -> Metric {
        Metric {
            name: m.name,
            kind: m.kind,
            value: m.value,
            tags: m.tags,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    #[serde(default)]
    outputs: Option<Map<String, Json>>,
    #[serde(default)]
    metrics: Option<Vec<WireMetric>>,
    #[serde(default)]
    logs: Option<Vec<WireLog>>,
    /// Kestra 1.x lineage assets: accepted, not kept.
    #[serde(default)]
    #[allow(dead_code)]
    assets: Option<Json>,
}

#[derive(Deserialize)]
struct WireMetric {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    value: Json,
    #[serde(default)]
    tags: Option<Map<String, Json>>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
}

#[derive(Deserialize)]
struct WireLog {
    level: String,
    message: Json,
}

/// Reads one line (without its line break).
pub(crate) fn parse(line: &str) -> Line {
    let Some(body) = line
        .strip_prefix("::")
        .and_then(|l| l.strip_suffix("::"))
        .filter(|b| b.starts_with('{') && b.ends_with('}'))
    else {
        return Line::Text;
    };
    let wire: Wire = match serde_json::from_str(body) {
        Ok(w) => w,
        Err(e) => return Line::Invalid(e.to_string()),
    };
    let mut message = Message {
        outputs: wire.outputs.unwrap_or_default(),
        ..Message::default()
    };
    for m in wire.metrics.unwrap_or_default() {
        let kind = match m.kind.as_str() {
            "counter" => MetricKind::Counter,
            "timer" => MetricKind::Timer,
            other => {
                return Line::Invalid(format!(
                    "metric `{}`: unknown type `{other}` (counter or timer)",
                    m.name
                ));
            }
        };
        let value = match (&m.value, kind) {
            (Json::Number(n), _) => n.as_f64(),
            (Json::String(s), MetricKind::Timer) => iso_seconds(s),
            _ => None,
        };
        let Some(value) = value.filter(|v| v.is_finite()) else {
            return Line::Invalid(format!(
                "metric `{}`: the value {} is not a number{}",
                m.name,
                m.value,
                if kind == MetricKind::Timer {
                    " of seconds or an ISO-8601 duration"
                } else {
                    ""
                }
            ));
        };
        message.metrics.push(MetricLine {
            name: m.name,
            kind,
            value,
            tags: m.tags.unwrap_or_default(),
        });
    }
    for l in wire.logs.unwrap_or_default() {
        let Some(level) = Level::parse(&l.level.to_ascii_uppercase()) else {
            return Line::Invalid(format!(
                "log level `{}` is not one of TRACE, DEBUG, INFO, WARN, ERROR",
                l.level
            ));
        };
        let text = match l.message {
            Json::String(s) => s,
            other => other.to_string(),
        };
        message.logs.push((level, text));
    }
    Line::Message(message)
}

/// `PT1.5S`-style durations as seconds (timers sent as text).
fn iso_seconds(s: &str) -> Option<f64> {
    let d: jiff::SignedDuration = s.parse().ok()?;
    Some(d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(line: &str) -> Message {
        match parse(line) {
            Line::Message(m) => m,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn plain_lines_are_text() {
        for line in [
            "hello",
            "",
            "::",
            ":: {\"outputs\":{}}::",
            "::{\"outputs\":{}}:: ",
            " ::{\"outputs\":{}}::",
            "::[1]::",
            "::{\"outputs\":{}}",
        ] {
            assert_eq!(parse(line), Line::Text, "{line:?}");
        }
    }

    #[test]
    fn outputs_are_read() {
        let m = message(r#"::{"outputs":{"a":1,"b":{"c":[true,null]}}}::"#);
        assert_eq!(
            Json::Object(m.outputs),
            json!({"a":1,"b":{"c":[true,null]}})
        );
        assert!(m.metrics.is_empty() && m.logs.is_empty());
        assert_eq!(message("::{}::"), Message::default());
    }

    #[test]
    fn metrics_are_read_with_their_type_and_tags() {
        let m = message(
            r#"::{"metrics":[{"name":"rows","type":"counter","value":3,"tags":{"t":"x"}},{"name":"took","type":"timer","value":1.5},{"name":"iso","type":"timer","value":"PT2.25S"}]}::"#,
        );
        assert_eq!(
            m.metrics,
            vec![
                MetricLine {
                    name: "rows".into(),
                    kind: MetricKind::Counter,
                    value: 3.0,
                    tags: json!({"t":"x"}).as_object().unwrap().clone(),
                },
                MetricLine {
                    name: "took".into(),
                    kind: MetricKind::Timer,
                    value: 1.5,
                    tags: Map::new(),
                },
                MetricLine {
                    name: "iso".into(),
                    kind: MetricKind::Timer,
                    value: 2.25,
                    tags: Map::new(),
                },
            ]
        );
    }

    #[test]
    fn logs_are_read_at_their_level() {
        let m = message(
            r#"::{"logs":[{"level":"WARN","message":"careful"},{"level":"debug","message":"d"},{"level":"ERROR","message":{"x":1}}]}::"#,
        );
        assert_eq!(
            m.logs,
            vec![
                (Level::Warn, "careful".to_string()),
                (Level::Debug, "d".to_string()),
                (Level::Error, r#"{"x":1}"#.to_string()),
            ]
        );
    }

    #[test]
    fn malformed_lines_say_why() {
        for (line, why) in [
            ("::{not json}::", "key must be a string"),
            (r#"::{"outputs":[1]}::"#, "invalid type"),
            (r#"::{"outputz":{}}::"#, "unknown field"),
            (
                r#"::{"metrics":[{"name":"m","type":"gauge","value":1}]}::"#,
                "unknown type `gauge`",
            ),
            (
                r#"::{"metrics":[{"name":"m","type":"counter","value":"x"}]}::"#,
                "not a number",
            ),
            (
                r#"::{"metrics":[{"name":"m","type":"timer","value":"soon"}]}::"#,
                "ISO-8601",
            ),
            (
                r#"::{"metrics":[{"type":"counter","value":1}]}::"#,
                "missing field `name`",
            ),
            (
                r#"::{"logs":[{"level":"LOUD","message":"x"}]}::"#,
                "log level `LOUD`",
            ),
        ] {
            match parse(line) {
                Line::Invalid(e) => assert!(e.contains(why), "{line}: {e}"),
                other => panic!("{line}: {other:?}"),
            }
        }
    }

    /// Generated lines from the protocol's own tokens: any line a script prints is text, a
    /// message or a reason, never a panic, and a message's metrics are numbers.
    #[test]
    fn generated_lines_never_panic() {
        const TOKENS: &[&str] = &[
            "::",
            "{",
            "}",
            "[",
            "]",
            "\"outputs\"",
            "\"metrics\"",
            "\"logs\"",
            ":",
            ",",
            "\"name\"",
            "\"type\"",
            "\"counter\"",
            "\"timer\"",
            "\"value\"",
            "\"tags\"",
            "\"level\"",
            "\"message\"",
            "\"ERROR\"",
            "1",
            "-1e308",
            "1e999",
            "null",
            "true",
            "\"x\"",
            "\"\\u0000\"",
            "é",
            " ",
            "\\",
            "\"",
        ];
        let mut state: u64 = 0x5EED;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let mut line = String::from("::{");
            for _ in 0..next() % 24 {
                line.push_str(TOKENS[(next() % TOKENS.len() as u64) as usize]);
            }
            line.push_str("}::");
            if let Line::Message(m) = parse(&line) {
                for metric in m.metrics {
                    assert!(metric.value.is_finite(), "{line}");
                }
            }
        }
    }
}
