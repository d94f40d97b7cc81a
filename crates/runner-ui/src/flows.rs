//! The flows folder: each flow with its source (highlighted, its diagnostics at their lines),
//! its topology and a Run form built from its inputs; starting a run and the form's uploads.

use crate::html::{esc, layout};
use crate::server::{Reply, percent_encode};
use crate::{FlowEntry, Ui};
use http_body_util::BodyExt;
use hyper::StatusCode;
use runner_model::Node;
use serde_json::{Value as Json, json};
use std::fmt::Write;

/// The largest file the Run form uploads.
const MAX_UPLOAD_BYTES: u64 = 1024 * 1024 * 1024;

pub(crate) fn list(ui: &Ui) -> Reply {
    let flows = ui.catalog.flows();
    let mut body = String::from("<h1>Flows</h1>");
    if flows.is_empty() {
        body.push_str("<p class=\"notice\">No flow found in the flows folder (give it with <code>runner ui --flows DIR</code>).</p>");
    }
    body.push_str("<table class=\"flows\" id=\"flows\"><thead><tr><th>Namespace</th><th>Flow</th><th>File</th><th>Validation</th></tr></thead><tbody>");
    for f in &flows {
        let errors = f.notes.iter().filter(|n| n.error).count();
        let warnings = f.notes.len() - errors;
        let status = match (f.valid, errors, warnings) {
            (true, _, 0) => "<span class=\"ok\">valid</span>".to_string(),
            (true, _, w) => format!(
                "<span class=\"warn\">valid, {w} warning{}</span>",
                plural(w)
            ),
            (false, e, _) => format!("<span class=\"problem-text\">{e} error{}</span>", plural(e)),
        };
        let name = match (&f.namespace, &f.id) {
            (Some(ns), Some(id)) => format!(
                "<a href=\"/flows/{}/{}\">{}</a>",
                percent_encode(ns),
                percent_encode(id),
                esc(id)
            ),
            _ => "<em>no id</em>".to_string(),
        };
        let _ = write!(
            body,
            "<tr class=\"flow\" data-flow=\"{}\"><td>{}</td><td>{name}</td><td><code>{}</code></td><td>{status}</td></tr>",
            esc(f.id.as_deref().unwrap_or("")),
            esc(f.namespace.as_deref().unwrap_or("")),
            esc(&f.file.display().to_string()),
        );
        // A file that is no flow at all still says why, here.
        if f.id.is_none() {
            for n in &f.notes {
                // A file that could not be read has no position.
                let at = if n.line == 0 {
                    String::new()
                } else {
                    format!(":{}:{}", n.line, n.col)
                };
                let _ = write!(
                    body,
                    "<tr class=\"note-row\"><td></td><td colspan=\"3\" class=\"problem-text\">{}{at}: {}</td></tr>",
                    esc(&f.file.display().to_string()),
                    esc(&n.message)
                );
            }
        }
    }
    body.push_str("</tbody></table>");
    Reply::html(layout("Flows", &body))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn find(ui: &Ui, namespace: &str, id: &str) -> Option<FlowEntry> {
    ui.catalog.find(namespace, id)
}

pub(crate) fn page(ui: &Ui, namespace: &str, id: &str) -> Reply {
    let Some(flow) = find(ui, namespace, id) else {
        return Reply::problem(
            StatusCode::NOT_FOUND,
            "No such flow",
            &format!("the flows folder has no flow {namespace}.{id}"),
        );
    };
    let mut body = format!(
        "<h1>Flow {}.<span id=\"flow-id\">{}</span></h1><p class=\"facts\"><code>{}</code> · <a href=\"/executions?namespace={}&amp;flow={}\">Its executions</a> · <a id=\"edit-link\" href=\"/flows/{}/{}/edit\">Edit</a></p>",
        esc(namespace),
        esc(id),
        esc(&flow.file.display().to_string()),
        percent_encode(namespace),
        percent_encode(id),
        percent_encode(namespace),
        percent_encode(id),
    );
    let doc = runner_model::load_str(&flow.source)
        .ok()
        .and_then(|d| d.into_iter().filter(|d| !d.is_null()).nth(flow.document));
    if flow.valid {
        body.push_str(&run_form(namespace, id, doc.as_ref()));
    } else {
        body.push_str("<p class=\"problem-text\" id=\"not-runnable\">This flow has errors (below, at their lines): fix them to run it.</p>");
    }
    if let Some(roots) = crate::topology::from_source(&flow.source, flow.document) {
        let _ = write!(
            body,
            "<section><h2>Topology</h2>{}</section>",
            crate::topology::render(&roots, &Default::default())
        );
    }
    let _ = write!(body, "<section><h2>Source</h2>{}</section>", source(&flow));
    Reply::html(layout(&format!("Flow {namespace}.{id}"), &body))
}

/// The file's lines, highlighted, each diagnostic under its line with a caret at its column.
fn source(flow: &FlowEntry) -> String {
    let mut out = String::new();
    if !flow.notes.is_empty() {
        out.push_str("<ul class=\"notes\" id=\"notes\">");
        for n in &flow.notes {
            let _ = write!(
                out,
                "<li class=\"{}\"><a href=\"#L{}\">{}:{}:{}</a> {}</li>",
                if n.error { "error" } else { "warning" },
                n.line,
                esc(&flow.file.display().to_string()),
                n.line,
                n.col,
                esc(&n.message)
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("<table class=\"source\" id=\"source\"><tbody>");
    for (i, line) in flow.source.lines().enumerate() {
        let number = i as u32 + 1;
        let notes: Vec<_> = flow.notes.iter().filter(|n| n.line == number).collect();
        let class = if notes.iter().any(|n| n.error) {
            " class=\"has-error\""
        } else if notes.is_empty() {
            ""
        } else {
            " class=\"has-warning\""
        };
        let _ = write!(
            out,
            "<tr id=\"L{number}\"{class}><td class=\"ln\">{number}</td><td class=\"code\">{}</td></tr>",
            highlight(line)
        );
        for n in notes {
            let _ = write!(
                out,
                "<tr class=\"note {}\"><td></td><td class=\"code\">{}^ {}</td></tr>",
                if n.error { "error" } else { "warning" },
                " ".repeat(n.col.saturating_sub(1) as usize),
                esc(&n.message)
            );
        }
    }
    out.push_str("</tbody></table>");
    out
}

/// One YAML line with its key, comment and `{{ }}` expressions marked.
fn highlight(line: &str) -> String {
    let (code, comment) = split_comment(line);
    let mut out = String::new();
    let indent = code.len() - code.trim_start().len();
    out.push_str(&code[..indent]);
    let mut rest = &code[indent..];
    if let Some(r) = rest.strip_prefix("- ") {
        out.push_str("<span class=\"y-dash\">- </span>");
        rest = r;
    }
    if let Some(colon) = key_end(rest) {
        let _ = write!(out, "<span class=\"y-key\">{}</span>", esc(&rest[..colon]));
        rest = &rest[colon..];
    }
    // Expressions inside the value.
    let mut value = rest;
    while let Some(start) = value.find("{{") {
        out.push_str(&esc(&value[..start]));
        let end = value[start..]
            .find("}}")
            .map_or(value.len(), |e| start + e + 2);
        let _ = write!(
            out,
            "<span class=\"y-expr\">{}</span>",
            esc(&value[start..end])
        );
        value = &value[end..];
    }
    out.push_str(&esc(value));
    if !comment.is_empty() {
        let _ = write!(out, "<span class=\"y-comment\">{}</span>", esc(comment));
    }
    out
}

/// Where a plain `key:` ends, if the line starts with one.
fn key_end(s: &str) -> Option<usize> {
    let end = s.find(':')?;
    let key = &s[..end];
    let after = &s[end + 1..];
    (!key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || "_-.".contains(c))
        && (after.is_empty() || after.starts_with(' ')))
    .then_some(end)
}

/// A line's code and its comment (`#` at the start or after a space, outside quotes).
fn split_comment(line: &str) -> (&str, &str) {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' && prev.is_whitespace() => return (&line[..i], &line[i..]),
            None => {}
        }
        prev = c;
    }
    (line, "")
}

/// The Run form: a widget per declared input, by its type.
fn run_form(namespace: &str, id: &str, doc: Option<&Node>) -> String {
    let mut out = format!(
        "<section class=\"run\"><h2>Run</h2><form id=\"run-form\" data-namespace=\"{}\" data-flow=\"{}\">",
        esc(namespace),
        esc(id)
    );
    let inputs = doc
        .and_then(|d| d.get("inputs"))
        .and_then(Node::as_seq)
        .unwrap_or_default();
    for input in inputs {
        out.push_str(&input_widget(input));
    }
    out.push_str("<p><button type=\"submit\" id=\"run-button\">Run</button> <span id=\"run-status\" role=\"status\"></span></p></form></section>");
    out
}

pub(crate) fn input_widget(input: &Node) -> String {
    let text = |k: &str| input.get(k).and_then(Node::as_str).unwrap_or("");
    let id = text("id");
    let kind = text("type").to_ascii_uppercase();
    let required = input
        .get("required")
        .map(|n| !matches!(n.value, runner_model::NodeValue::Bool(false)))
        .unwrap_or(true);
    let defaults = input
        .get("defaults")
        .filter(|d| !d.is_null())
        .map(Node::to_json);
    let default_text = match &defaults {
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let label = [text("displayName"), id]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or(id);
    let name = esc(id);
    let req = if required && defaults.is_none() {
        " required"
    } else {
        ""
    };
    let value_attr = format!(" value=\"{}\"", esc(&default_text));
    let values: Vec<String> = input
        .get("values")
        .or_else(|| input.get("options"))
        .and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .map(|v| match v.to_json() {
            Json::String(s) => s,
            other => other.to_string(),
        })
        .collect();
    let field = match kind.as_str() {
        "INT" => format!(
            "<input type=\"number\" step=\"1\" name=\"{name}\" data-kind=\"INT\"{value_attr}{req}>"
        ),
        "FLOAT" => format!(
            "<input type=\"number\" step=\"any\" name=\"{name}\" data-kind=\"FLOAT\"{value_attr}{req}>"
        ),
        "BOOLEAN" | "BOOL" => format!(
            "<input type=\"checkbox\" name=\"{name}\" data-kind=\"BOOLEAN\"{}>",
            if defaults == Some(Json::Bool(true)) {
                " checked"
            } else {
                ""
            }
        ),
        "DATE" => {
            format!("<input type=\"date\" name=\"{name}\" data-kind=\"DATE\"{value_attr}{req}>")
        }
        "TIME" => format!(
            "<input type=\"time\" step=\"1\" name=\"{name}\" data-kind=\"TIME\"{value_attr}{req}>"
        ),
        "DATETIME" => format!(
            "<input type=\"datetime-local\" step=\"1\" name=\"{name}\" data-kind=\"DATETIME\" value=\"{}\"{req}>",
            esc(default_text.trim_end_matches('Z'))
        ),
        "SECRET" => format!(
            "<input type=\"password\" name=\"{name}\" data-kind=\"SECRET\" autocomplete=\"off\"{req}>"
        ),
        "EMAIL" => {
            format!("<input type=\"email\" name=\"{name}\" data-kind=\"EMAIL\"{value_attr}{req}>")
        }
        "URI" => format!("<input type=\"url\" name=\"{name}\" data-kind=\"URI\"{value_attr}{req}>"),
        "FILE" => format!("<input type=\"file\" name=\"{name}\" data-kind=\"FILE\"{req}>"),
        "SELECT" | "ENUM" => {
            let mut s = format!("<select name=\"{name}\" data-kind=\"SELECT\"{req}>");
            if defaults.is_none() {
                s.push_str("<option value=\"\"></option>");
            }
            for v in &values {
                s.push_str(&crate::html::option(v, v, *v == default_text));
            }
            s.push_str("</select>");
            s
        }
        "MULTISELECT" => {
            let chosen: Vec<String> = match &defaults {
                Some(Json::Array(a)) => a
                    .iter()
                    .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
                    .collect(),
                _ => Vec::new(),
            };
            let mut s = format!("<select multiple name=\"{name}\" data-kind=\"MULTISELECT\"{req}>");
            for v in &values {
                s.push_str(&crate::html::option(v, v, chosen.contains(v)));
            }
            s.push_str("</select>");
            s
        }
        "JSON" | "ARRAY" | "YAML" => format!(
            "<textarea name=\"{name}\" data-kind=\"{}\" rows=\"4\"{req}>{}</textarea>",
            esc(&kind),
            esc(&match &defaults {
                Some(Json::String(s)) => s.clone(),
                Some(v) => serde_json::to_string_pretty(v).unwrap_or_default(),
                None => String::new(),
            })
        ),
        // STRING, DURATION and any type this form has no widget for: text, typed by the run.
        _ => format!(
            "<input type=\"text\" name=\"{name}\" data-kind=\"{}\"{value_attr}{req}{}>",
            esc(&kind),
            if kind == "DURATION" {
                " placeholder=\"PT5M\""
            } else {
                ""
            }
        ),
    };
    let description = text("description");
    format!(
        "<div class=\"input\" data-input=\"{name}\"><label><span class=\"input-name\">{}{}</span> <span class=\"input-type\">{}</span> {field}</label>{}</div>",
        esc(label),
        if req.is_empty() { "" } else { " *" },
        esc(&kind),
        if description.is_empty() {
            String::new()
        } else {
            format!("<p class=\"input-help\">{}</p>", esc(description))
        }
    )
}

/// `POST /flows/{ns}/{id}/run` with `{"inputs": {...}, "files": {input: upload}}`.
pub(crate) fn run(ui: &Ui, namespace: &str, id: &str, body: &[u8]) -> Reply {
    let Some(flow) = find(ui, namespace, id) else {
        return Reply::json_error(
            StatusCode::NOT_FOUND,
            &format!("the flows folder has no flow {namespace}.{id}"),
        );
    };
    if !flow.valid {
        return Reply::json_error(
            StatusCode::BAD_REQUEST,
            "this flow has errors: fix them to run it",
        );
    }
    let inputs = match form_inputs(ui, body, &file_inputs(&flow)) {
        Ok(i) => i,
        Err(reply) => return reply,
    };
    match ui.launcher.launch(&flow, inputs) {
        Ok(execution) => Reply::json(&json!({
            "executionId": execution,
            "url": format!("/executions/{execution}"),
        })),
        Err(e) => Reply::json_error(StatusCode::BAD_REQUEST, &e),
    }
}

/// The inputs a form posted (`{"inputs": {...}, "files": {input: upload}}`), its uploads as
/// the paths of their files.
pub(crate) fn form_inputs(
    ui: &Ui,
    body: &[u8],
    file_inputs: &[String],
) -> Result<serde_json::Map<String, Json>, Reply> {
    let form: Json = serde_json::from_slice(body).map_err(|e| {
        Reply::json_error(
            StatusCode::BAD_REQUEST,
            &format!("the form is not JSON: {e}"),
        )
    })?;
    let mut inputs = form
        .get("inputs")
        .and_then(Json::as_object)
        .cloned()
        .unwrap_or_default();
    // A FILE input's value is an upload of this UI, never a path of the server's: a path
    // would copy any file the server can read into storage and serve it back.
    if let Some(name) = inputs.keys().find(|k| file_inputs.contains(k)) {
        return Err(Reply::json_error(
            StatusCode::BAD_REQUEST,
            &format!(
                "input `{name}` is a FILE: upload the file with the form (`files`), a path is not accepted"
            ),
        ));
    }
    if let Some(files) = form.get("files").and_then(Json::as_object) {
        for (name, upload) in files {
            let Some(path) = upload.as_str().and_then(|u| uploaded(ui, u)) else {
                return Err(Reply::json_error(
                    StatusCode::BAD_REQUEST,
                    &format!("the file of input `{name}` was not uploaded: choose it again"),
                ));
            };
            inputs.insert(name.clone(), Json::String(path.display().to_string()));
        }
    }
    Ok(inputs)
}

/// The ids of the flow's FILE inputs.
fn file_inputs(flow: &FlowEntry) -> Vec<String> {
    let doc = runner_model::load_str(&flow.source)
        .ok()
        .and_then(|d| d.into_iter().filter(|d| !d.is_null()).nth(flow.document));
    file_ids(
        doc.as_ref()
            .and_then(|d| d.get("inputs"))
            .and_then(Node::as_seq)
            .unwrap_or_default(),
    )
}

/// The ids of the FILE inputs among input definitions.
pub(crate) fn file_ids(inputs: &[Node]) -> Vec<String> {
    inputs
        .iter()
        .filter(|i| {
            i.get("type")
                .and_then(Node::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("FILE"))
        })
        .filter_map(|i| i.get("id").and_then(Node::as_str).map(str::to_string))
        .collect()
}

/// The file an upload id names: the one file of its folder.
fn uploaded(ui: &Ui, upload: &str) -> Option<std::path::PathBuf> {
    if upload.is_empty() || !upload.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    std::fs::read_dir(ui.uploads.join(upload))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_file())
}

/// `PUT /uploads?name=FILE`: the body streamed to a file of its own; its upload id.
pub(crate) async fn upload(ui: &Ui, name: &str, mut body: hyper::body::Incoming) -> Reply {
    use tokio::io::AsyncWriteExt;
    let name: String = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_alphanumeric() || "._- ".contains(*c))
        .collect();
    let name = if name.is_empty() || name.starts_with('.') {
        format!("upload{name}")
    } else {
        name
    };
    let upload = uuid::Uuid::new_v4().simple().to_string();
    let dir = ui.uploads.join(&upload);
    let fail = |e: String| Reply::json_error(StatusCode::INTERNAL_SERVER_ERROR, &e);
    if let Err(e) = tokio::fs::create_dir_all(&dir).await {
        return fail(format!(
            "cannot keep the upload in `{}`: {e}",
            dir.display()
        ));
    }
    let path = dir.join(&name);
    let mut file = match tokio::fs::File::create(&path).await {
        Ok(f) => f,
        Err(e) => return fail(format!("cannot keep the upload: {e}")),
    };
    let mut written: u64 = 0;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            let _ = tokio::fs::remove_dir_all(&dir).await;
            return Reply::json_error(StatusCode::BAD_REQUEST, "the upload was cut off");
        };
        if let Ok(data) = frame.into_data() {
            written += data.len() as u64;
            if written > MAX_UPLOAD_BYTES {
                drop(file);
                let _ = tokio::fs::remove_dir_all(&dir).await;
                return Reply::json_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the file is larger than 1 GiB: give it with `runner run -i NAME=PATH`",
                );
            }
            if let Err(e) = file.write_all(&data).await {
                drop(file);
                let _ = tokio::fs::remove_dir_all(&dir).await;
                return fail(format!("cannot keep the upload: {e}"));
            }
        }
    }
    if let Err(e) = file.flush().await {
        return fail(format!("cannot keep the upload: {e}"));
    }
    Reply::json(&json!({ "upload": upload, "bytes": written }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_lines_are_highlighted_and_escaped() {
        let h = highlight("  - message: \"<b>{{ inputs.name }}</b>\" # says hi");
        assert!(h.contains("<span class=\"y-key\">message</span>"));
        assert!(h.contains("<span class=\"y-expr\">{{ inputs.name }}</span>"));
        assert!(h.contains("&lt;b&gt;"));
        assert!(h.contains("<span class=\"y-comment\"># says hi</span>"));
        assert_eq!(split_comment("a: 'x # y'").1, "");
    }
}
