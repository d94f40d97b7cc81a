//! Kestra's link markup in log messages, `[[link execution="ID" flowId="F" namespace="N"]]`:
//! kept as written in records and JSON logs (Kestra's UI reads it), shown as the execution it
//! names on a terminal and as a link in `runner ui`.

/// A piece of a log message.
#[derive(Debug, PartialEq, Eq)]
pub enum LinkPart<'a> {
    Text(&'a str),
    Execution {
        id: &'a str,
        namespace: &'a str,
        flow_id: &'a str,
    },
}

/// `message` cut into text and execution links; markup that does not read as a link stays
/// text.
pub fn link_parts(message: &str) -> Vec<LinkPart<'_>> {
    let mut parts = Vec::new();
    let mut rest = message;
    while let Some(start) = rest.find("[[link ") {
        let Some(len) = rest[start..].find("]]") else {
            break;
        };
        let body = &rest[start + 7..start + len];
        let attr = |name: &str| {
            let key = format!("{name}=\"");
            let from = body.find(&key)? + key.len();
            let to = body[from..].find('"')?;
            Some(&body[from..from + to])
        };
        match (attr("execution"), attr("namespace"), attr("flowId")) {
            (Some(id), Some(namespace), Some(flow_id)) => {
                if start > 0 {
                    parts.push(LinkPart::Text(&rest[..start]));
                }
                parts.push(LinkPart::Execution {
                    id,
                    namespace,
                    flow_id,
                });
            }
            _ => parts.push(LinkPart::Text(&rest[..start + len + 2])),
        }
        rest = &rest[start + len + 2..];
    }
    if !rest.is_empty() {
        parts.push(LinkPart::Text(rest));
    }
    parts
}

/// `message` with each link written as `namespace.flowId execution ID`, for a terminal.
pub fn plain_links(message: &str) -> std::borrow::Cow<'_, str> {
    if !message.contains("[[link ") {
        return message.into();
    }
    link_parts(message)
        .into_iter()
        .map(|p| match p {
            LinkPart::Text(t) => t.to_string(),
            LinkPart::Execution {
                id,
                namespace,
                flow_id,
            } => format!("{namespace}.{flow_id} (execution {id})"),
        })
        .collect::<String>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_read_as_the_execution_they_name() {
        let m = r#"Subflow execution [[link execution="abc" flowId="child" namespace="co.team"]] started"#;
        assert_eq!(
            plain_links(m),
            "Subflow execution co.team.child (execution abc) started"
        );
        assert_eq!(
            link_parts(m)[1],
            LinkPart::Execution {
                id: "abc",
                namespace: "co.team",
                flow_id: "child"
            }
        );
        for text in ["no link", "[[link broken", "[[link other=\"x\"]] after"] {
            assert_eq!(plain_links(text), text);
        }
    }
}
