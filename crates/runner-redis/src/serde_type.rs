//! How values are stored (Kestra's `SerdeType`): STRING stores a value's text, JSON its JSON.

use crate::client::{Redis, Target, parse_url};
use runner_core::plugin::*;
use serde::Deserialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum SerdeType {
    String,
    Json,
}

impl SerdeType {
    /// The stored text of `v`: a string as it is (JSON checks that it is JSON), anything else
    /// as compact JSON.
    pub(crate) fn serialize(self, v: &Json, property: &str) -> Result<String, TaskError> {
        match (self, v) {
            (SerdeType::Json, Json::String(s)) => match serde_json::from_str::<Json>(s) {
                Ok(_) => Ok(s.clone()),
                Err(e) => Err(TaskError::property(
                    property,
                    format!("with `serdeType: JSON` the value must be JSON text: {e}"),
                )
                .hint(
                    "quote a plain string as JSON (\"\\\"text\\\"\"), or use `serdeType: STRING`",
                )),
            },
            (_, Json::String(s)) => Ok(s.clone()),
            (_, other) => Ok(other.to_string()),
        }
    }

    /// A stored value read back: the text (STRING) or its JSON.
    pub(crate) fn deserialize(self, key: &str, raw: &[u8]) -> Result<Json, TaskError> {
        let text = String::from_utf8_lossy(raw);
        match self {
            SerdeType::String => Ok(Json::String(text.into_owned())),
            SerdeType::Json => serde_json::from_str(&text).map_err(|e| {
                TaskError::new(
                    ErrorKind::BadData,
                    format!("the value of `{key}` is not JSON: {e}"),
                )
                .hint("read it with `serdeType: STRING`")
            }),
        }
    }
}

/// The connection every Redis task takes.
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Connection {
    /// The server: `redis://[[user]:password@]host[:port][/db]` (never shown).
    #[prop(secret)]
    url: Property<String>,
}

impl Connection {
    pub(crate) fn check(&self) -> Result<(), String> {
        if !self.url.is_dynamic()
            && let Some(url) = self.url.raw().as_str()
        {
            parse_url(url).map_err(|e| format!("url: {e}"))?;
        }
        Ok(())
    }

    pub(crate) async fn connect(&self, ctx: &RunContext) -> Result<Redis, TaskError> {
        let url = ctx.render(&self.url, "url")?;
        let target: Target = parse_url(&url).map_err(|e| TaskError::property("url", e))?;
        Redis::connect(ctx, &target).await
    }
}

/// A counter metric of a Redis task, with its tags.
pub(crate) fn metric(ctx: &RunContext, name: &str, n: i64, tags: &[(&str, &str)]) {
    ctx.metric(Metric {
        name: name.into(),
        kind: MetricKind::Counter,
        value: n as f64,
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), Json::String(v.to_string())))
            .collect(),
    });
}
