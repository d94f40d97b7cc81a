//! `runner lsp`: a Language Server over stdio for flow files. It publishes what `runner
//! validate` says of the text as it is typed (YAML errors, unknown types with their closest
//! name, unknown and missing properties, expressions, duplicate ids, secrets the given env
//! files do not set), and `outputs.x` of a task the flow does not have; completes task types,
//! property names, enum values and `outputs.`/`inputs.`/`vars.` in expressions, shows the
//! documentation of a type or property on hover, and goes from `outputs.x`/`inputs.y` to the
//! task or input. JSON-RPC is read and written here (no framework): the server answers one
//! message at a time, and validation is the same code as `validate`, without I/O.

use crate::exit;
use runner_core::{PropKind, Registry};
use runner_model::{Node, Severity};
use serde_json::{Value as Json, json};
use std::collections::HashMap;
use std::io::{BufRead, Write};

/// The largest message accepted: a flow of many megabytes is still far below.
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

pub(crate) fn lsp(env: &crate::files::EnvFiles) -> u8 {
    // Only what the env files set counts: the editor's own environment is not the run's.
    let environment = if env.env_files.is_empty() {
        None
    } else {
        match crate::files::environment(env) {
            Ok(e) => Some(e),
            Err(e) => return crate::report(e, exit::INVALID),
        }
    };
    let registry = crate::registry();
    let mut server = Server {
        registry,
        renderer: runner_template::Renderer::new(),
        documents: HashMap::new(),
        shutdown: false,
        environment,
    };
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut output = stdout.lock();
    loop {
        let message = match read_message(&mut input) {
            Ok(Some(m)) => m,
            Ok(None) => {
                return if server.shutdown {
                    exit::SUCCESS
                } else {
                    exit::FAILED
                };
            }
            Err(e) => return crate::report(format!("lsp: {e}"), exit::FAILED),
        };
        let method = message.get("method").and_then(Json::as_str).unwrap_or("");
        if method == "exit" {
            return if server.shutdown {
                exit::SUCCESS
            } else {
                exit::FAILED
            };
        }
        let replies = server.handle(&message);
        for reply in replies {
            if write_message(&mut output, &reply).is_err() {
                return exit::FAILED;
            }
        }
    }
}

fn read_message(input: &mut impl BufRead) -> Result<Option<Json>, String> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if input.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Ok(None);
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line
            .split_once(':')
            .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        {
            length = v.1.trim().parse::<usize>().ok();
        }
    }
    let length = length.ok_or("a message without Content-Length")?;
    if length > MAX_MESSAGE {
        return Err(format!(
            "a message of {length} bytes (the most is {MAX_MESSAGE})"
        ));
    }
    let mut body = vec![0; length];
    std::io::Read::read_exact(input, &mut body).map_err(|e| e.to_string())?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| format!("a message that is not JSON: {e}"))
}

fn write_message(output: &mut impl Write, message: &Json) -> std::io::Result<()> {
    let body = message.to_string();
    write!(output, "Content-Length: {}\r\n\r\n{body}", body.len())?;
    output.flush()
}

struct Server {
    registry: Registry,
    renderer: runner_template::Renderer,
    documents: HashMap<String, String>,
    shutdown: bool,
    /// The env files' variables, when some were given.
    environment: Option<runner_core::Environment>,
}

impl Server {
    fn handle(&mut self, message: &Json) -> Vec<Json> {
        let method = message.get("method").and_then(Json::as_str).unwrap_or("");
        let params = message.get("params").cloned().unwrap_or(Json::Null);
        let id = message.get("id").cloned();
        let uri = params
            .pointer("/textDocument/uri")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string();
        let result = match method {
            "initialize" => json!({
                "capabilities": {
                    "textDocumentSync": 1,
                    "completionProvider": {"triggerCharacters": [".", " ", ":"]},
                    "hoverProvider": true,
                    "definitionProvider": true,
                },
                "serverInfo": {"name": "runner", "version": env!("CARGO_PKG_VERSION")},
            }),
            "shutdown" => {
                self.shutdown = true;
                Json::Null
            }
            "textDocument/didOpen" => {
                let text = params
                    .pointer("/textDocument/text")
                    .and_then(Json::as_str)
                    .unwrap_or("");
                self.documents.insert(uri.clone(), text.to_string());
                return vec![self.diagnostics(&uri)];
            }
            "textDocument/didChange" => {
                // Full text on every change (textDocumentSync 1).
                if let Some(text) = params
                    .get("contentChanges")
                    .and_then(Json::as_array)
                    .and_then(|c| c.last())
                    .and_then(|c| c.get("text"))
                    .and_then(Json::as_str)
                {
                    self.documents.insert(uri.clone(), text.to_string());
                }
                return vec![self.diagnostics(&uri)];
            }
            "textDocument/didClose" => {
                self.documents.remove(&uri);
                return vec![
                    json!({"jsonrpc": "2.0", "method": "textDocument/publishDiagnostics",
                    "params": {"uri": uri, "diagnostics": []}}),
                ];
            }
            "textDocument/completion" => self.completion(&uri, &params),
            "textDocument/hover" => self.hover(&uri, &params),
            "textDocument/definition" => self.definition(&uri, &params),
            _ if id.is_none() => return Vec::new(),
            _ => {
                return vec![json!({"jsonrpc": "2.0", "id": id,
                    "error": {"code": -32601, "message": format!("runner lsp does not answer {method}")}})];
            }
        };
        match id {
            Some(id) => vec![json!({"jsonrpc": "2.0", "id": id, "result": result})],
            None => Vec::new(),
        }
    }

    /// What `runner validate` says of the document, as LSP diagnostics.
    fn diagnostics(&self, uri: &str) -> Json {
        let text = self.documents.get(uri).map_or("", String::as_str);
        let mut found = check(text, &self.registry, &self.renderer);
        if let Ok(docs) = runner_model::load_str(text) {
            let docs: Vec<Node> = docs.into_iter().filter(|d| !d.is_null()).collect();
            if let Some(env) = &self.environment {
                found.extend(runner_core::unset_secrets(&docs, env));
            }
            // The text is scanned once, against the task ids of every flow of the file.
            let flows: Vec<&Node> = docs
                .iter()
                .filter(|d| !runner_testsuite::is_test_suite(d))
                .collect();
            if !flows.is_empty() {
                let ids: Vec<String> = flows.iter().flat_map(|d| task_ids(d)).collect();
                found.extend(dangling_outputs(text, &ids));
            }
        }
        let lines: Vec<&str> = text.lines().collect();
        let list: Vec<Json> = found
            .iter()
            .map(|d| {
                let (line, col, len) = d.span.map_or((0, 0, 1), |s| {
                    (
                        s.line.saturating_sub(1),
                        s.col.saturating_sub(1),
                        s.len.max(1),
                    )
                });
                // Spans count characters; LSP positions count UTF-16 units.
                let text_line = lines.get(line as usize).copied().unwrap_or("");
                let (col, end) = (
                    utf16(text_line, col as usize),
                    utf16(text_line, (col + len) as usize),
                );
                let len = end.saturating_sub(col).max(1);
                // The hint (the closest name, what to do) follows, as `validate` prints it.
                let mut message = d.problem.to_string();
                if let Some(help) = d.problem.help() {
                    message.push_str(&format!("\nhelp: {help}"));
                }
                json!({
                    "range": {"start": {"line": line, "character": col},
                              "end": {"line": line, "character": col + len}},
                    "severity": if d.severity == Severity::Error { 1 } else { 2 },
                    "source": "runner",
                    "message": message,
                })
            })
            .collect();
        json!({"jsonrpc": "2.0", "method": "textDocument/publishDiagnostics",
            "params": {"uri": uri, "diagnostics": list}})
    }

    fn completion(&self, uri: &str, params: &Json) -> Json {
        let text = self.documents.get(uri).map_or("", String::as_str);
        let (line_no, col) = position_in(params, text);
        let lines: Vec<&str> = text.lines().collect();
        let Some(line) = lines.get(line_no) else {
            return json!([]);
        };
        let before: String = line.chars().take(col).collect();
        let mut items = Vec::new();
        // In an expression: outputs., inputs., vars.
        if let Some(open) = before.rfind("{{")
            && !before[open..].contains("}}")
        {
            let expr = &before[open + 2..];
            let word = expr
                .rsplit(|c: char| !(c.is_alphanumeric() || c == '.' || c == '_' || c == '-'))
                .next()
                .unwrap_or("");
            let doc = first_document(text);
            let names: Vec<String> = match word.split_once('.') {
                Some(("outputs", rest)) if !rest.contains('.') => {
                    doc.as_ref().map(task_ids).unwrap_or_default()
                }
                Some(("inputs", rest)) if !rest.contains('.') => {
                    doc.as_ref().map(input_ids).unwrap_or_default()
                }
                Some(("vars", rest)) if !rest.contains('.') => doc
                    .as_ref()
                    .and_then(|d| d.get("variables"))
                    .and_then(Node::as_map)
                    .map(|m| m.iter().map(|(k, _)| k.name.clone()).collect())
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            for n in names {
                items.push(json!({"label": n, "kind": 6}));
            }
            return json!(items);
        }
        let trimmed = before.trim_start().trim_start_matches("- ");
        if let Some((key, value)) = trimmed.split_once(':') {
            let value = value.trim_start();
            if key.trim() == "type" {
                for t in self.registry.iter() {
                    let d = t.descriptor;
                    for name in std::iter::once(d.type_name).chain(d.aliases.iter().copied()) {
                        if name.starts_with(value) {
                            items.push(json!({"label": name, "kind": 7,
                                "documentation": d.doc}));
                        }
                    }
                }
                for name in runner_model::INPUT_TYPES {
                    if name.starts_with(value) && !value.is_empty() {
                        items.push(json!({"label": name, "kind": 20}));
                    }
                }
                return json!(items);
            }
            // An enum property's value.
            let indent = key_indent(line).map_or(0, |k| k.0);
            if let Some(p) = self
                .task_type_at(&lines, line_no, indent)
                .and_then(|t| t.property(key.trim()))
                && let PropKind::Value(kind) = p.kind
            {
                for v in kind.split('|').filter(|v| v.starts_with(value)) {
                    if kind.contains('|') {
                        items.push(json!({"label": v, "kind": 20}));
                    }
                }
            }
            return json!(items);
        }
        // A property name being typed.
        let indent = before.len() - before.trim_start().len()
            + if before.trim_start().starts_with("- ") {
                2
            } else {
                0
            };
        let present: Vec<String> = mapping_at(&lines, line_no, indent)
            .into_iter()
            .map(|(k, _, _)| k)
            .collect();
        if let Some(t) = self.task_type_at(&lines, line_no, indent) {
            for p in &t.properties {
                if p.name.starts_with(trimmed) && !present.iter().any(|k| k == p.name) {
                    items.push(json!({"label": p.name, "kind": 10, "documentation": p.doc,
                        "insertText": format!("{}: ", p.name)}));
                }
            }
            for name in runner_model::TASK_COMMON_FIELDS {
                if name.starts_with(trimmed) && !present.iter().any(|k| k == name) {
                    items.push(
                        json!({"label": name, "kind": 10, "insertText": format!("{name}: ")}),
                    );
                }
            }
        }
        json!(items)
    }

    /// The task type of the mapping whose keys are at `indent` around `line`.
    fn task_type_at(
        &self,
        lines: &[&str],
        line: usize,
        indent: usize,
    ) -> Option<&runner_core::TaskType> {
        let (_, type_name, _) = mapping_at(lines, line, indent)
            .into_iter()
            .find(|(k, _, _)| k == "type")?;
        self.registry
            .get(type_name.trim().trim_matches(['"', '\'']))
    }

    fn hover(&self, uri: &str, params: &Json) -> Json {
        let text = self.documents.get(uri).map_or("", String::as_str);
        let (line_no, col) = position_in(params, text);
        let lines: Vec<&str> = text.lines().collect();
        let Some(line) = lines.get(line_no) else {
            return Json::Null;
        };
        let Some((indent, key, value)) = key_indent(line) else {
            return Json::Null;
        };
        let markdown = |text: String| json!({"contents": {"kind": "markdown", "value": text}});
        if key == "type"
            && let Some(t) = self.registry.get(value.trim().trim_matches(['"', '\'']))
        {
            let d = t.descriptor;
            return markdown(format!("**{}**\n\n{}", d.type_name, d.doc));
        }
        // On the key: the property's documentation.
        if col <= indent + key.len()
            && let Some(p) = self
                .task_type_at(&lines, line_no, indent)
                .and_then(|t| t.property(&key))
        {
            let kind = match p.kind {
                PropKind::Value(k) => k,
                PropKind::Tasks => "list of tasks",
                PropKind::TaskMap => "map of task lists",
                PropKind::Dag => "list of {task, dependsOn}",
            };
            let required = if p.required { ", required" } else { "" };
            return markdown(format!("**{}** ({kind}{required})\n\n{}", p.name, p.doc));
        }
        Json::Null
    }

    /// From `outputs.x` or `inputs.y` under the cursor to the task or input it names.
    fn definition(&self, uri: &str, params: &Json) -> Json {
        let text = self.documents.get(uri).map_or("", String::as_str);
        let (line_no, col) = position_in(params, text);
        let Some(line) = text.lines().nth(line_no) else {
            return Json::Null;
        };
        let chars: Vec<char> = line.chars().collect();
        let word_char = |c: char| c.is_alphanumeric() || matches!(c, '.' | '_' | '-');
        let mut start = col.min(chars.len());
        while start > 0 && word_char(chars[start - 1]) {
            start -= 1;
        }
        let mut end = col.min(chars.len());
        while end < chars.len() && word_char(chars[end]) {
            end += 1;
        }
        let word: String = chars[start..end].iter().collect();
        let mut parts = word.split('.');
        let (Some(root), Some(name)) = (parts.next(), parts.next()) else {
            return Json::Null;
        };
        let Some(doc) = first_document(text) else {
            return Json::Null;
        };
        let target = match root {
            "outputs" => find_id(&doc, name, true),
            "inputs" => doc
                .get("inputs")
                .and_then(Node::as_seq)
                .and_then(|items| {
                    items
                        .iter()
                        .find(|i| i.get("id").and_then(Node::as_str) == Some(name))
                })
                .and_then(|i| i.get("id"))
                .map(|n| n.span),
            _ => None,
        };
        match target {
            Some(span) => {
                let (l, c) = (span.line.saturating_sub(1), span.col.saturating_sub(1));
                let target = text.lines().nth(l as usize).unwrap_or("");
                let start = utf16(target, c as usize);
                let end = utf16(target, (c + span.len.max(1)) as usize);
                json!({"uri": uri, "range": {"start": {"line": l, "character": start},
                    "end": {"line": l, "character": end}}})
            }
            None => Json::Null,
        }
    }
}

/// Every problem `runner validate` finds in a flow file's text, a test suite's too (the
/// language server's and the UI editor's).
pub(crate) fn check(
    text: &str,
    registry: &Registry,
    renderer: &runner_template::Renderer,
) -> Vec<runner_model::Diagnostic> {
    let docs = match runner_model::load_str(text) {
        Ok(d) => d,
        Err(e) => {
            return vec![runner_model::Diagnostic::error(
                runner_model::Problem::Yaml { message: e.message },
                e.span,
                "",
            )];
        }
    };
    let mut out = Vec::new();
    for doc in docs.iter().filter(|d| !d.is_null()) {
        if runner_testsuite::is_test_suite(doc) {
            if let Err(problems) = runner_testsuite::read(doc) {
                out.extend(problems);
            }
            continue;
        }
        out.extend(runner_core::validate(doc, registry, renderer).diagnostics);
    }
    out
}

/// `outputs.x` in an expression where the flow has no task `x`: Kestra fails it at run time.
/// Found in the text, line by line, inside `{{ }}` (a dynamic `outputs[name]` is not judged).
fn dangling_outputs(text: &str, ids: &[String]) -> Vec<runner_model::Diagnostic> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut rest = line;
        let mut offset = 0;
        while let Some(open) = rest.find("{{") {
            let inside = &rest[open + 2..];
            let close = inside.find("}}").unwrap_or(inside.len());
            let expr = &inside[..close];
            let mut from = 0;
            while let Some(at) = expr[from..].find("outputs.") {
                let start = from + at;
                // `flow.outputs.x`, `execution.outputs.x`: not a task's.
                let preceded = expr[..start]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '_');
                let name: String = expr[start + 8..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
                    .collect();
                if !preceded && !name.is_empty() && !ids.contains(&name) {
                    let col = offset + open + 2 + start + 8;
                    out.push(runner_model::Diagnostic::warning(
                        runner_model::Problem::Template {
                            property: format!("outputs.{name}"),
                            reason: match runner_model::suggest(
                                &name,
                                ids.iter().map(String::as_str),
                            ) {
                                Some(close) => format!(
                                    "the flow has no task `{name}`: did you mean `{close}`?"
                                ),
                                None => format!("the flow has no task `{name}`"),
                            },
                        },
                        runner_model::Span::new(
                            n as u32 + 1,
                            line[..col].chars().count() as u32 + 1,
                            name.chars().count() as u32,
                        ),
                        "",
                    ));
                }
                from = start + 8;
            }
            let consumed = open + 2 + close;
            offset += consumed;
            rest = &rest[consumed..];
        }
    }
    out
}

/// The cursor: its line, and its column as a character index (LSP counts UTF-16 units).
fn position_in(params: &Json, text: &str) -> (usize, usize) {
    let get = |p: &str| params.pointer(p).and_then(Json::as_u64).unwrap_or(0) as usize;
    let line = get("/position/line");
    let units = get("/position/character");
    let text_line = text.lines().nth(line).unwrap_or("");
    let mut seen = 0;
    let mut chars = 0;
    for c in text_line.chars() {
        if seen >= units {
            break;
        }
        seen += c.len_utf16();
        chars += 1;
    }
    (line, chars)
}

/// The UTF-16 offset of character `chars` of `line`.
fn utf16(line: &str, chars: usize) -> u32 {
    let within: usize = line.chars().take(chars).map(char::len_utf16).sum();
    let beyond = chars.saturating_sub(line.chars().count());
    (within + beyond) as u32
}

fn first_document(text: &str) -> Option<Node> {
    runner_model::load_str(text)
        .ok()?
        .into_iter()
        .find(|d| !d.is_null())
}

/// A line's key: the column it starts at (after `- ` for an item), its name and the rest.
fn key_indent(line: &str) -> Option<(usize, String, String)> {
    let content = line.trim_start();
    if content.starts_with('#') || content.is_empty() {
        return None;
    }
    let mut indent = line.len() - content.len();
    let mut content = content;
    while let Some(rest) = content.strip_prefix("- ") {
        indent += 2 + (rest.len() - rest.trim_start().len());
        content = rest.trim_start();
    }
    let (key, value) = content.split_once(':')?;
    if key.contains(' ') || key.is_empty() {
        return None;
    }
    Some((indent, key.to_string(), value.trim().to_string()))
}

/// The keys of the mapping around `line` whose keys start at `indent`: (key, value, line).
fn mapping_at(lines: &[&str], line: usize, indent: usize) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let starts_item = |l: &str| l.trim_start().starts_with("- ");
    // Upward to the item's first line, then downward to its end.
    let mut i = line;
    while i > 0 {
        i -= 1;
        let Some((k_indent, key, value)) = key_indent(lines[i]) else {
            continue;
        };
        if k_indent < indent {
            break;
        }
        if k_indent == indent {
            out.push((key, value, i));
            if starts_item(lines[i]) {
                break;
            }
        }
    }
    for (j, l) in lines.iter().enumerate().skip(line + 1) {
        let Some((k_indent, key, value)) = key_indent(l) else {
            continue;
        };
        if k_indent < indent || (k_indent == indent && starts_item(l)) {
            break;
        }
        if k_indent == indent {
            out.push((key, value, j));
        }
    }
    out
}

/// Every task id of a flow document, at any depth.
fn task_ids(doc: &Node) -> Vec<String> {
    let mut out = Vec::new();
    collect_ids(doc, &mut out);
    out
}

fn collect_ids(node: &Node, out: &mut Vec<String>) {
    if let Some(map) = node.as_map() {
        if node.get("type").is_some()
            && let Some(id) = node.get("id").and_then(Node::as_str)
        {
            out.push(id.to_string());
        }
        for (k, v) in map {
            // A flow's inputs and triggers have ids too; they are no task.
            if k.name != "inputs" && k.name != "triggers" {
                collect_ids(v, out);
            }
        }
    } else if let Some(items) = node.as_seq() {
        for i in items {
            collect_ids(i, out);
        }
    }
}

fn input_ids(doc: &Node) -> Vec<String> {
    doc.get("inputs")
        .and_then(Node::as_seq)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get("id").and_then(Node::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The span of task `id`'s `id` value.
fn find_id(node: &Node, id: &str, top: bool) -> Option<runner_model::Span> {
    if let Some(map) = node.as_map() {
        if !top && node.get("type").is_some() && node.get("id").and_then(Node::as_str) == Some(id) {
            return node.get("id").map(|n| n.span);
        }
        return map
            .iter()
            .filter(|(k, _)| k.name != "inputs" && k.name != "triggers")
            .find_map(|(_, v)| find_id(v, id, false));
    }
    node.as_seq()?.iter().find_map(|n| find_id(n, id, false))
}
