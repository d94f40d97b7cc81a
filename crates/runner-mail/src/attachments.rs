//! `attachments` and `embeddedImages`: Kestra's `{uri, name, contentType}` items, given as a
//! YAML list, a JSON string of a list or of one item, or a JSON string holding such a string.
//! Every file is found before anything is sent, so a wrong URI fails the task with nothing
//! sent.

use runner_core::plugin::*;
use std::path::PathBuf;

/// One file to send, as written in the flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Attachment {
    pub(crate) uri: String,
    pub(crate) name: String,
    pub(crate) content_type: String,
}

/// A file to send, found in storage.
#[derive(Clone, Debug)]
pub(crate) struct Found {
    pub(crate) name: String,
    pub(crate) content_type: String,
    pub(crate) path: PathBuf,
    pub(crate) size: u64,
}

/// The items of `value` (already rendered), in Kestra's accepted forms.
pub(crate) fn parse(value: Option<Json>, property: &str) -> Result<Vec<Attachment>, TaskError> {
    let wrong = || {
        TaskError::property(
            property,
            format!("The `{property}` attribute must be a String or a List"),
        )
    };
    let mut value = value.unwrap_or(Json::Null);
    // A string holds JSON; a string whose JSON is a string holds JSON once more.
    for _ in 0..2 {
        if let Json::String(text) = &value {
            if text.trim().is_empty() {
                return Ok(Vec::new());
            }
            value = serde_json::from_str(text).map_err(|e| {
                TaskError::property(
                    property,
                    format!("the text is not a JSON list of {{uri, name, contentType}} ({e})"),
                )
            })?;
        }
    }
    let items = match value {
        Json::Null => return Ok(Vec::new()),
        Json::Array(items) => items,
        one @ Json::Object(_) => vec![one],
        _ => return Err(wrong()),
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let at = format!("{property}[{i}]");
            let Json::Object(map) = item else {
                return Err(TaskError::property(
                    &at,
                    "each item is a map of `uri`, `name` and `contentType`",
                ));
            };
            let text = |key: &str| -> Result<Option<String>, TaskError> {
                match map.get(key) {
                    None | Some(Json::Null) => Ok(None),
                    Some(Json::String(s)) => Ok(Some(s.clone())),
                    Some(other) => Err(TaskError::property(
                        &format!("{at}.{key}"),
                        format!("must be a string, not {other}"),
                    )),
                }
            };
            if let Some(key) = map
                .keys()
                .find(|k| !["uri", "name", "contentType"].contains(&k.as_str()))
            {
                return Err(TaskError::property(
                    &at,
                    format!("unknown key `{key}` (an item has `uri`, `name` and `contentType`)"),
                ));
            }
            let uri = text("uri")?.ok_or_else(|| {
                TaskError::property(
                    &format!("{at}.uri"),
                    "the kestra:// URI of the file is required",
                )
            })?;
            let name = text("name")?
                .filter(|n| !n.trim().is_empty())
                .ok_or_else(|| {
                    TaskError::property(&format!("{at}.name"), "the file name is required")
                })?;
            Ok(Attachment {
                uri,
                name,
                content_type: text("contentType")?
                    .unwrap_or_else(|| "application/octet-stream".into()),
            })
        })
        .collect()
}

/// Finds every item's file in this execution's storage, checking its size; an error names the
/// item and its URI.
pub(crate) fn find(
    ctx: &RunContext,
    items: Vec<Attachment>,
    property: &str,
) -> Result<Vec<Found>, TaskError> {
    let mut found = Vec::with_capacity(items.len());
    for (i, a) in items.into_iter().enumerate() {
        if !a.uri.starts_with("kestra://") {
            return Err(TaskError::property(
                &format!("{property}[{i}].uri"),
                format!(
                    "`{}` is not a kestra:// URI: attach a file of this execution (the `uri` output of an earlier task)",
                    a.uri
                ),
            ));
        }
        let path = ctx.execution_file_path(&a.uri).map_err(|e| {
            TaskError::new(
                ErrorKind::NotFound,
                format!("{property}[{i}] (`{}`): {e}", a.name),
            )
            .hint("nothing was sent; check the URI: it must be a file an earlier task of this execution stored")
        })?;
        let size = std::fs::metadata(&path)
            .map_err(|e| {
                TaskError::new(
                    ErrorKind::Io,
                    format!("{property}[{i}]: cannot read `{}`", a.uri),
                )
                .caused_by(e)
            })?
            .len();
        found.push(Found {
            name: a.name,
            content_type: a.content_type,
            path,
            size,
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(uri: &str, name: &str, ct: &str) -> Attachment {
        Attachment {
            uri: uri.into(),
            name: name.into(),
            content_type: ct.into(),
        }
    }

    #[test]
    fn every_form_kestra_takes_is_read() {
        let list = json!([{"uri": "kestra:///a", "name": "a.csv", "contentType": "text/csv"}]);
        let want = vec![one("kestra:///a", "a.csv", "text/csv")];
        assert_eq!(parse(Some(list.clone()), "attachments").unwrap(), want);
        assert_eq!(
            parse(Some(Json::String(list.to_string())), "attachments").unwrap(),
            want
        );
        // JSON of a JSON string, decoded once more.
        let twice = Json::String(Json::String(list.to_string()).to_string());
        assert_eq!(parse(Some(twice), "attachments").unwrap(), want);
        let single = json!({"uri": "kestra:///b", "name": "b.bin"});
        assert_eq!(
            parse(Some(single), "attachments").unwrap(),
            vec![one("kestra:///b", "b.bin", "application/octet-stream")]
        );
        assert!(parse(None, "attachments").unwrap().is_empty());
        assert!(parse(Some(json!("  ")), "attachments").unwrap().is_empty());
    }

    #[test]
    fn wrong_shapes_say_what_is_expected() {
        let e = parse(Some(json!(3)), "embeddedImages").unwrap_err();
        assert_eq!(
            e.to_string(),
            "property `embeddedImages`: The `embeddedImages` attribute must be a String or a List"
        );
        let e = parse(Some(json!([{"uri": "kestra:///a"}])), "attachments").unwrap_err();
        assert_eq!(
            e.to_string(),
            "property `attachments[0].name`: the file name is required"
        );
        let e = parse(Some(json!([{"url": "x", "name": "n"}])), "attachments").unwrap_err();
        assert!(e.to_string().contains("unknown key `url`"), "{e}");
    }
}
