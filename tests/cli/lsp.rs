//! `runner lsp` as an editor drives it: JSON-RPC over a pipe, diagnostics as the text
//! changes, completion, hover and definition.

use crate::support::Sandbox;
use serde_json::{Value as Json, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};

struct Client {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next: u64,
}

impl Client {
    fn start(s: &Sandbox) -> Client {
        Client::start_with(s, &["lsp"])
    }

    fn start_with(s: &Sandbox, args: &[&str]) -> Client {
        let mut child = s
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut c = Client {
            child,
            stdin,
            stdout,
            next: 1,
        };
        let init = c.request("initialize", json!({"processId": null, "capabilities": {}}));
        assert_eq!(init["capabilities"]["hoverProvider"], true, "{init}");
        c.notify("initialized", json!({}));
        c
    }

    fn send(&mut self, message: Json) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn read(&mut self) -> Json {
        let mut length = 0;
        loop {
            let mut line = String::new();
            assert!(
                self.stdout.read_line(&mut line).unwrap() > 0,
                "the server closed"
            );
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.strip_prefix("Content-Length: ") {
                length = v.parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        self.stdout.read_exact(&mut body).unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    fn request(&mut self, method: &str, params: Json) -> Json {
        let id = self.next;
        self.next += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let m = self.read();
            if m["id"] == id {
                return m["result"].clone();
            }
        }
    }

    fn notify(&mut self, method: &str, params: Json) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The diagnostics published after a change.
    fn diagnostics(&mut self) -> Vec<Json> {
        loop {
            let m = self.read();
            if m["method"] == "textDocument/publishDiagnostics" {
                return m["params"]["diagnostics"].as_array().unwrap().clone();
            }
        }
    }

    fn change(&mut self, uri: &str, version: u64, text: &str) -> Vec<Json> {
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version},
                   "contentChanges": [{"text": text}]}),
        );
        self.diagnostics()
    }

    fn stop(mut self) {
        let r = self.request("shutdown", Json::Null);
        assert!(r.is_null());
        self.notify("exit", Json::Null);
        assert!(self.child.wait().unwrap().success());
    }
}

const FLOW: &str = "id: hello
namespace: company.team
inputs:
  - id: name
    type: STRING
tasks:
  - id: greet
    type: io.kestra.plugin.core.log.Log
    message: \"Hello {{ inputs.name }}\"
  - id: query
    type: io.kestra.plugin.jdbc.postgresql.Query
    url: jdbc:postgresql://localhost/app
    sql: select 1
    fetchType: FETCH_ONE
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ outputs.query.row }}\"
";

fn pos(line: u64, character: u64) -> Json {
    json!({"textDocument": {"uri": "file:///p/flows/hello.yaml"}, "position": {"line": line, "character": character}})
}

#[test]
fn diagnostics_follow_the_text_as_it_is_typed() {
    let s = Sandbox::new();
    let mut c = Client::start(&s);
    let uri = "file:///p/flows/hello.yaml";
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": FLOW}}),
    );
    assert_eq!(c.diagnostics(), Vec::<Json>::new());
    // A typo in a property: the error is on its line, with the closest name.
    let typo = c.change(uri, 2, &FLOW.replace("    message:", "    mesage:"));
    let at = |line: u64| -> Vec<&str> {
        typo.iter()
            .filter(|d| d["range"]["start"]["line"] == line && d["severity"] == 1)
            .map(|d| d["message"].as_str().unwrap())
            .collect()
    };
    assert!(at(8).iter().any(|m| m.contains("\"mesage\"")), "{typo:?}");
    // ... and the property it should have been is missing, said at the task.
    assert!(
        at(6)
            .iter()
            .any(|m| m.contains("message: must not be null")),
        "{typo:?}"
    );
    assert_eq!(typo.len(), 2, "{typo:?}");
    // An unknown type, with a suggestion.
    let unknown = c.change(uri, 3, &FLOW.replace("core.log.Log", "core.log.Lgo"));
    assert!(
        unknown.iter().any(|d| d["message"]
            .as_str()
            .unwrap()
            .contains("io.kestra.plugin.core.log.Log")),
        "{unknown:?}"
    );
    // Broken YAML, then fixed.
    let broken = c.change(
        uri,
        4,
        "id: x\nnamespace: a\ntasks:\n  - id: t\n   type: oops\n",
    );
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert_eq!(c.change(uri, 5, FLOW), Vec::<Json>::new());
    c.stop();
}

#[test]
fn a_dangling_output_and_an_unset_secret_are_warnings() {
    let s = Sandbox::new();
    s.write(".env_encoded", "SECRET_SET=c2V0\n");
    let mut c = Client::start_with(&s, &["lsp", "--env-file", ".env_encoded"]);
    let uri = "file:///p/flows/w.yaml";
    let text = "id: w\nnamespace: company.team\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ outputs.first.x }} {{ outputs.nope.value }} {{ execution.outputs.y }} {{ secret('SET') }} {{ secret('UNSET') }}\"\n";
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}}),
    );
    let d = c.diagnostics();
    let messages: Vec<&str> = d.iter().map(|d| d["message"].as_str().unwrap()).collect();
    assert_eq!(d.len(), 2, "{messages:?}");
    assert!(d.iter().all(|d| d["severity"] == 2), "{d:?}");
    let dangling = d
        .iter()
        .find(|d| d["message"].as_str().unwrap().contains("no task `nope`"))
        .unwrap_or_else(|| panic!("{messages:?}"));
    // At `nope`, on its line.
    assert_eq!(
        dangling["range"]["start"],
        json!({"line": 5, "character": 47}),
        "{dangling}"
    );
    assert!(
        messages.iter().any(|m| m.contains("SECRET_UNSET")),
        "{messages:?}"
    );
    c.stop();
}

#[test]
fn completion_hover_and_definition() {
    let s = Sandbox::new();
    let mut c = Client::start(&s);
    let uri = "file:///p/flows/hello.yaml";
    let text = format!("{FLOW}  - id: more\n    type: io.kestra.plugin.core.log.\n");
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}}),
    );
    c.diagnostics();
    let labels = |r: &Json| -> Vec<String> {
        r.as_array()
            .unwrap()
            .iter()
            .map(|i| i["label"].as_str().unwrap().to_string())
            .collect()
    };
    // A task type as it is typed.
    let types = labels(&c.request("textDocument/completion", pos(18, 34)));
    assert!(
        types.contains(&"io.kestra.plugin.core.log.Log".to_string()),
        "{types:?}"
    );
    assert!(
        types
            .iter()
            .all(|t| t.starts_with("io.kestra.plugin.core.log.")),
        "{types:?}"
    );
    // An enum's values.
    let text = FLOW.replace("fetchType: FETCH_ONE", "fetchType: F");
    c.change(uri, 2, &text);
    let values = labels(&c.request("textDocument/completion", pos(13, 16)));
    assert_eq!(values, ["FETCH", "FETCH_ONE"]);
    // Property names of the task's type, not those already written.
    let text = FLOW.replace(
        "    fetchType: FETCH_ONE\n",
        "    fetchType: FETCH_ONE\n    fe\n",
    );
    c.change(uri, 3, &text);
    let props = labels(&c.request("textDocument/completion", pos(14, 6)));
    assert!(props.contains(&"fetchSize".to_string()), "{props:?}");
    assert!(!props.contains(&"fetchType".to_string()), "{props:?}");
    // In an expression: the flow's task ids and inputs.
    c.change(uri, 4, FLOW);
    let outputs = labels(&c.request("textDocument/completion", pos(16, 24)));
    assert_eq!(outputs, ["greet", "query", "after"]);
    let inputs = labels(&c.request("textDocument/completion", pos(8, 30)));
    assert_eq!(inputs, ["name"]);
    // Hover: a type's and a property's documentation.
    let hover = c.request("textDocument/hover", pos(10, 12));
    assert!(
        hover["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("postgresql.Query"),
        "{hover}"
    );
    let hover = c.request("textDocument/hover", pos(13, 6));
    assert!(
        hover["contents"]["value"]
            .as_str()
            .unwrap()
            .starts_with("**fetchType**"),
        "{hover}"
    );
    // Definition: from outputs.query to the task, from inputs.name to the input.
    let def = c.request("textDocument/definition", pos(16, 24));
    assert_eq!(
        def["range"]["start"],
        json!({"line": 9, "character": 8}),
        "{def}"
    );
    let def = c.request("textDocument/definition", pos(8, 25));
    assert_eq!(
        def["range"]["start"],
        json!({"line": 3, "character": 8}),
        "{def}"
    );
    c.stop();
}

#[test]
fn a_large_flow_is_checked_within_50_ms_of_a_change() {
    let s = Sandbox::new();
    let mut c = Client::start(&s);
    let uri = "file:///p/flows/big.yaml";
    let mut text = String::from("id: big\nnamespace: company.team\ntasks:\n");
    for i in 0..200 {
        text.push_str(&format!(
            "  - id: t{i}\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ outputs.t{} ?? 'x' }}}}\"\n",
            i.max(1) - 1
        ));
    }
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}}),
    );
    assert_eq!(c.diagnostics(), Vec::<Json>::new());
    // The figure is the release binary's (bench/RESULTS.md); a debug build only shows it ends.
    let started = std::time::Instant::now();
    let d = c.change(uri, 2, &text.replace("  - id: t150\n", "  - id: t 150\n"));
    let took = started.elapsed();
    // The id that is no id, and the next task's reference to the name it had.
    assert_eq!(d.len(), 2, "{d:?}");
    assert!(
        d[1]["message"]
            .as_str()
            .unwrap()
            .contains("no task `t150`: did you mean"),
        "{d:?}"
    );
    eprintln!("diagnostics of a 200-task flow after a change: {took:?}");
    c.stop();
}

#[test]
fn positions_count_utf16_units_as_lsp_clients_do() {
    let s = Sandbox::new();
    let mut c = Client::start(&s);
    let uri = "file:///p/flows/u.yaml";
    // The emoji is one character and two UTF-16 units: columns after it move by one.
    let text = "id: u\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: \"😀 {{ outputs.nope.x }}\"\n";
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}}),
    );
    let d = c.diagnostics();
    assert_eq!(d.len(), 1, "{d:?}");
    let line = "    message: \"😀 {{ outputs.nope.x }}\"";
    let units = line[..line.find("nope").unwrap()].encode_utf16().count();
    assert_eq!(
        d[0]["range"]["start"],
        json!({"line": 5, "character": units}),
        "{d:?}"
    );
    assert_eq!(d[0]["range"]["end"]["character"], units + 4);
    // A cursor given in UTF-16 units finds the word: definition from `outputs.t`.
    let fixed = text.replace("outputs.nope.x", "outputs.t.x");
    c.change(uri, 2, &fixed);
    let at = line[..line.find("nope").unwrap()].encode_utf16().count() as u64;
    let def = c.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": uri}, "position": {"line": 5, "character": at}}),
    );
    assert_eq!(
        def["range"]["start"],
        json!({"line": 3, "character": 8}),
        "{def}"
    );
    c.stop();
}
