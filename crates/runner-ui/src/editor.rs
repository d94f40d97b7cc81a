//! A flow's editor page: its file's text in an editor (CodeMirror when the binary carries its
//! bundle, else a text area), what validation says of it as it is typed, the topology beside
//! it, Save (the file is written whole, atomically, and only if nobody changed it on disk since
//! it was opened) and Save & Run (the flow's page, with its Run form).

use crate::html::{esc, layout};
use crate::server::{Reply, percent_encode};
use crate::{FlowEntry, Ui};
use hyper::StatusCode;
use serde_json::{Value as Json, json};

/// The editor's bundle (scripts/editor-bundle.sh), empty when the binary was built without it.
pub(crate) const BUNDLE: &str = include_str!(concat!(env!("OUT_DIR"), "/editor.js"));

/// The most text an edit may post: a flow file is far smaller.
const MAX_TEXT: usize = 4 * 1024 * 1024;

/// A version of a file's text, to tell whether it changed on disk (FNV-1a, 64 bits).
fn version(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn flow(ui: &Ui, namespace: &str, id: &str) -> Result<FlowEntry, Reply> {
    ui.catalog.find(namespace, id).ok_or_else(|| {
        Reply::json_error(
            StatusCode::NOT_FOUND,
            &format!("the flows folder has no flow {namespace}.{id}"),
        )
    })
}

/// `GET /flows/{ns}/{id}/edit`.
pub(crate) fn page(ui: &Ui, namespace: &str, id: &str) -> Reply {
    let Ok(flow) = flow(ui, namespace, id) else {
        return Reply::problem(
            StatusCode::NOT_FOUND,
            "No such flow",
            &format!("the flows folder has no flow {namespace}.{id}"),
        );
    };
    let script = if BUNDLE.is_empty() {
        String::new()
    } else {
        // Before ui.js (deferred in order), so the page finds the editor.
        "<script src=\"/assets/editor.js\" defer></script>".to_string()
    };
    let body = format!(
        "{script}<h1>Edit {}.{}</h1><p class=\"facts\"><code>{}</code> · <a href=\"/flows/{}/{}\">Back to the flow</a></p>\
         <div id=\"editor\" class=\"editor\" data-namespace=\"{}\" data-flow=\"{}\" data-version=\"{}\">\
         <div class=\"editor-main\"><textarea id=\"editor-source\" spellcheck=\"false\" rows=\"30\">{}</textarea>\
         <p><button type=\"button\" id=\"save-button\">Save</button> <button type=\"button\" id=\"save-run-button\">Save &amp; Run</button> \
         <span id=\"editor-status\" role=\"status\"></span></p>\
         <h2>Problems</h2><ul id=\"editor-problems\"></ul></div>\
         <div class=\"editor-side\"><h2>Topology</h2><div id=\"editor-topology\">{}</div></div></div>",
        esc(namespace),
        esc(id),
        esc(&flow.file.display().to_string()),
        percent_encode(namespace),
        percent_encode(id),
        esc(namespace),
        esc(id),
        version(&flow.source),
        esc(&flow.source),
        topology(&flow.source, flow.document),
    );
    Reply::html(layout(&format!("Edit {namespace}.{id}"), &body))
}

fn topology(text: &str, document: usize) -> String {
    crate::topology::from_source(text, document)
        .map(|roots| crate::topology::render(&roots, &Default::default()))
        .unwrap_or_default()
}

fn text_of(body: &[u8]) -> Result<(String, Option<String>), Reply> {
    let form: Json = serde_json::from_slice(body).map_err(|e| {
        Reply::json_error(
            StatusCode::BAD_REQUEST,
            &format!("the body is not JSON: {e}"),
        )
    })?;
    let text = form
        .get("text")
        .and_then(Json::as_str)
        .ok_or_else(|| Reply::json_error(StatusCode::BAD_REQUEST, "the body has no `text`"))?;
    if text.len() > MAX_TEXT {
        return Err(Reply::json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "a flow file of more than 4 MiB is not edited here",
        ));
    }
    let expected = form
        .get("version")
        .and_then(Json::as_str)
        .map(str::to_string);
    Ok((text.to_string(), expected))
}

/// `POST /flows/{ns}/{id}/check` with `{"text"}`: the problems and the topology of the text.
pub(crate) fn check(ui: &Ui, namespace: &str, id: &str, body: &[u8]) -> Reply {
    let flow = match flow(ui, namespace, id) {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    let (text, _) = match text_of(body) {
        Ok(t) => t,
        Err(reply) => return reply,
    };
    let problems: Vec<Json> = ui
        .catalog
        .check(&text)
        .iter()
        .map(|n| json!({"line": n.line, "col": n.col, "error": n.error, "message": n.message}))
        .collect();
    Reply::json(&json!({
        "problems": problems,
        "topology": topology(&text, flow.document),
    }))
}

/// `POST /flows/{ns}/{id}/save` with `{"text", "version"}`: writes the flow's own file (never
/// a path the request names), refusing when it changed on disk since `version`.
pub(crate) fn save(ui: &Ui, namespace: &str, id: &str, body: &[u8]) -> Reply {
    let flow = match flow(ui, namespace, id) {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    let (text, expected) = match text_of(body) {
        Ok(t) => t,
        Err(reply) => return reply,
    };
    let on_disk = std::fs::read_to_string(&flow.file).unwrap_or_default();
    if expected.as_deref() != Some(version(&on_disk).as_str()) {
        return Reply::json_error(
            StatusCode::CONFLICT,
            &format!(
                "{} changed on disk since it was opened here: reload the page to edit what is there (your text is still in the editor: copy it first)",
                flow.file.display()
            ),
        );
    }
    // Through a temporary file beside it, so a reader never sees half of it.
    let temporary = flow.file.with_extension("yaml.saving");
    let written = std::fs::write(&temporary, &text).and_then(|()| {
        if let Ok(meta) = std::fs::metadata(&flow.file) {
            let _ = std::fs::set_permissions(&temporary, meta.permissions());
        }
        std::fs::rename(&temporary, &flow.file)
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temporary);
        return Reply::json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot write {}: {e}", flow.file.display()),
        );
    }
    // The text may have changed the flow's id: its page is then found under the new one.
    let (ns, flow_id) =
        new_name(&text, flow.document).unwrap_or_else(|| (namespace.to_string(), id.to_string()));
    Reply::json(&json!({
        "version": version(&text),
        "url": format!("/flows/{}/{}", percent_encode(&ns), percent_encode(&flow_id)),
    }))
}

fn new_name(text: &str, document: usize) -> Option<(String, String)> {
    let doc = runner_model::load_str(text)
        .ok()?
        .into_iter()
        .filter(|d| !d.is_null())
        .nth(document)?;
    Some((
        doc.get("namespace")?.as_str()?.to_string(),
        doc.get("id")?.as_str()?.to_string(),
    ))
}
