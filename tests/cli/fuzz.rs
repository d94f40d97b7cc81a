//! Generated inputs for every parser a flow or a file reaches: the YAML loader, the validator,
//! the expression renderer (with the Pebble rewrite), the jq bridge (through its sandbox),
//! the env-file parser, age-encrypted env files, test suites, the Ion readers (text, binary,
//! framing), the CSV reader, the masker, and the requests `runner ui` answers (script protocol
//! lines are fuzzed in runner-scripts, whose parser is private). Inputs are built from each format's tokens and by mutating seeds (the example
//! flows, cases the other tests know), so they reach past the first syntax check.
//!
//! Each target must never panic, hang or overflow its stack, and holds its own invariants.
//! `cargo test` runs a few hundred cases of each (seconds). The soak runs one target for a
//! while, with fresh random seeds, and prints what it tried:
//!
//! ```text
//! RUNNER_FUZZ_SECONDS=1800 cargo test --release --test cli -- --ignored --nocapture soak_render
//! ```
//!
//! A failing case prints its seed: `RUNNER_FUZZ_SEED=<seed>` replays it.

use crate::support;

use runner_template::{Context, Renderer};
use serde_json::json;
use std::time::{Duration, Instant};

/// A small, fast generator: the same seed gives the same inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// One input: tokens of the format, random bytes now and then, or a mutated seed.
fn generate(rng: &mut Rng, tokens: &[&str], seeds: &[String]) -> Vec<u8> {
    let mut out: Vec<u8> = if !seeds.is_empty() && rng.below(2) == 0 {
        seeds[rng.below(seeds.len())].clone().into_bytes()
    } else {
        Vec::new()
    };
    if out.is_empty() {
        for _ in 0..rng.below(40) + 1 {
            out.extend_from_slice(rng.pick(tokens).as_bytes());
        }
    }
    // Mutations: insert tokens, delete or duplicate a range, change a byte.
    for _ in 0..rng.below(6) {
        let at = rng.below(out.len() + 1);
        match rng.below(5) {
            0 | 1 => {
                let t = rng.pick(tokens).as_bytes().to_vec();
                out.splice(at..at, t);
            }
            2 if !out.is_empty() => {
                let end = (at + rng.below(16)).min(out.len());
                out.drain(at.min(end)..end);
            }
            3 if !out.is_empty() => {
                let end = (at + rng.below(32)).min(out.len());
                let part = out[at.min(end)..end].to_vec();
                for _ in 0..rng.below(4) + 1 {
                    out.splice(at..at, part.iter().copied());
                }
            }
            _ if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = rng.next() as u8;
            }
            _ => {}
        }
    }
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

struct Target {
    name: &'static str,
    tokens: &'static [&'static str],
    seeds: fn() -> Vec<String>,
    /// Cases for `cargo test` (the soak runs until its time is up).
    quick: usize,
    check: fn(&[u8]),
}

fn no_seeds() -> Vec<String> {
    Vec::new()
}

/// The example flows of the repository.
fn flow_seeds() -> Vec<String> {
    let dir = support::repo_root().join("flows");
    let mut seeds: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    // A soak may also start from a corpus of real flows (read, never copied).
    if let Ok(extra) = std::env::var("RUNNER_FUZZ_SEEDS") {
        for entry in walk_yaml(std::path::Path::new(&extra)) {
            if let Ok(t) = std::fs::read_to_string(entry) {
                seeds.push(t);
            }
        }
    }
    seeds
}

fn walk_yaml(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                out.push(p);
            }
        }
    }
    out
}

const YAML: &[&str] = &[
    "id: f\n",
    "namespace: company.team\n",
    "tasks:\n",
    "  - id: t\n",
    "    type: io.kestra.plugin.core.log.Log\n",
    "    message: ",
    "hi\n",
    "\n",
    "  ",
    "- ",
    ": ",
    "&a ",
    "*a",
    "<<: *a\n",
    "{",
    "}",
    "[",
    "]",
    ",",
    "'",
    "\"",
    "#c\n",
    "---\n",
    "...\n",
    "|\n",
    ">-\n",
    "!!str ",
    "!!int ",
    "? ",
    "\t",
    "\r\n",
    "\u{feff}",
    "é",
    "{{ x }}",
    "inputs:\n  - id: i\n    type: INT\n    defaults: 3\n",
    "type: io.kestra.plugin.core.flow.Sequential\n",
    "    tasks:\n",
    "      - id: u\n",
    "errors:\n",
    "pluginDefaults:\n  - type: io.kestra\n    values:\n      x: 1\n",
    "1e999",
    "0x1F",
    "~",
    "null",
    "true",
    "- - - ",
    "%YAML 1.2\n",
    "key",
    "\\",
    "\u{0}",
];

const TEMPLATE: &[&str] = &[
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "#}",
    "{{-",
    "-}}",
    " ",
    "x",
    "y.z",
    "inputs.a",
    "outputs['t'].v",
    "1",
    "-1",
    "9223372036854775807",
    "1.5",
    "'s'",
    "\"d\"",
    "'",
    "\"",
    "??",
    "???",
    "?",
    ":",
    "~",
    "+",
    "-",
    "*",
    "/",
    "%",
    "==",
    "!=",
    "<",
    ">",
    "and",
    "or",
    "not",
    "(",
    ")",
    "[",
    "]",
    ",",
    ".",
    "|",
    "upper",
    "length",
    "first",
    "date('yyyy-MM-dd')",
    "date('yyyyyy')",
    "dateAdd(1, 'DAYS')",
    "dateAdd(-99999999999, 'YEARS')",
    "now()",
    "timestamp",
    "timestampNano",
    "range(3)",
    "range(-1)",
    "indent(2)",
    "nindent(3, '>')",
    "abbreviate(2)",
    "slice(1, 2)",
    "slice(5, 1)",
    "chunk(2)",
    "chunk(0)",
    "toJson",
    "fromJson('[1, {\"a\": 2}]')",
    "json('x')",
    "yaml('a: [1, 2]')",
    "fromIon('{a: 1}')",
    "base64encode",
    "base64decode",
    "urlencode",
    "urldecode",
    "sha256",
    "slugify",
    "substringBefore('.')",
    "replace({'a': 'b'})",
    "numberFormat('#.##')",
    "number",
    "keys",
    "values",
    "merge({'k': 1})",
    "flatten",
    "rsort",
    "default('d')",
    "render('{{ 1 }}')",
    "renderOnce(x)",
    "printContext()",
    "uuid()",
    "id()",
    "randomInt(1, 3)",
    "min(1, 2)",
    "max(3)",
    "secret('X')",
    "is defined",
    "is null",
    "is empty",
    "equals",
    "contains",
    " if ",
    " else ",
    "for i in",
    "range(2)",
    "endfor",
    "if x",
    "endif",
    "set a = 1",
    "raw",
    "endraw",
    "é",
    "\u{2028}",
    "\n",
    "{{ '{{' }}",
];

const JQ: &[&str] = &[
    ".",
    "..",
    ".a",
    ".[0]",
    ".[]",
    "[",
    "]",
    "{",
    "}",
    "|",
    ",",
    ":",
    ";",
    "(",
    ")",
    "map(",
    "select(",
    "keys",
    "length",
    "add",
    "1",
    "\"a\"",
    "null",
    "range(3)",
    "def f: ",
    "f",
    "reduce",
    " as $x ",
    "$x",
    "limit(3; ",
    "first(",
    "repeat(",
    "recurse",
    "until(",
    "while(",
    "env",
    "$ENV",
    "halt",
    "halt_error",
    "input",
    "tostring",
    "tojson",
    "fromjson",
    "@base64",
    "ascii_downcase",
    "test(\"a\")",
    "sort_by(.)",
    "group_by(.)",
    "unique",
    "if . then 1 else 2 end",
    "try error(\"x\") catch .",
    "label $out | ",
    "break $out",
    "getpath([\"a\"])",
    "paths",
    "to_entries",
    "with_entries(.)",
    "splits(\"a\")",
    "now",
    "@sh",
    "-",
    "+",
    "*",
    "/",
    "%",
];

const ENV_FILE: &[&str] = &[
    "SECRET_A=",
    "ENV_B=",
    "export ",
    "K",
    "=",
    "v",
    "'",
    "\"",
    "\\\"",
    "#",
    " # c",
    "\n",
    "\r\n",
    "\r",
    " ",
    "\t",
    "{{ \"v\" | base64encode }}",
    "{{",
    "}}",
    "aGVsbG8=",
    "é",
    "\u{0}",
    "==",
];

const ION: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    ":",
    "::",
    ",",
    "\"s\"",
    "'sym'",
    "'''long'''",
    "{{aGVsbG8=}}",
    "{{\"clob\"}}",
    "1",
    "-1",
    "1.5",
    "1.5e3",
    "1d0",
    "2024-01-01T",
    "2024-01-01T10:00:00Z",
    "null",
    "null.int",
    "true",
    "abc",
    "a",
    "b",
    "/*",
    "*/",
    "//",
    "\n",
    " ",
    "+inf",
    "nan",
    "0x10",
    "\\u00e9",
    "\"\\",
    "é",
    "$ion_1_0",
];

const ION_BINARY: &[&str] = &[
    "\u{e0}\u{1}\u{0}\u{ea}",
    "\u{0}",
    "\u{10}",
    "\u{11}",
    "\u{20}",
    "\u{21}\u{1}",
    "\u{8e}",
    "\u{b0}",
    "\u{d0}",
    "\u{d3}\u{8a}\u{21}\u{1}",
    "\u{e3}\u{81}\u{84}",
    "\u{ee}",
    "\u{f}",
    "\u{7f}",
    "\u{ff}",
];

/// Test suites: a flow's YAML tokens and the suite's own keys.
const TEST_SUITE: &[&str] = &[
    "id: s\n",
    "namespace: company.team\n",
    "flowId: hello\n",
    "testCases:\n",
    "  - id: c\n",
    "    type: io.kestra.core.tests.flow.UnitTest\n",
    "    fixtures:\n",
    "      inputs:\n        name: x\n",
    "      tasks:\n        - id: t\n          outputs:\n            v: 1\n",
    "          state: FAILED\n",
    "      files:\n        a.txt: hi\n",
    "    assertions:\n",
    "      - value: \"{{ outputs.t.v }}\"\n",
    "        equalTo: 1\n",
    "        notNull: true\n",
    "        greaterThan: ",
    "        isIn: [1, 2]\n",
    "    disabled: true\n",
    "  ",
    "- ",
    ": ",
    "\n",
    "[",
    "]",
    "{",
    "}",
    "'",
    "\"",
    "&a ",
    "*a",
    "~",
    "1e999",
    "é",
];

/// age files: the header's lines, stanzas and the MAC line, with base64 and binary bytes.
const AGE: &[&str] = &[
    "age-encryption.org/v1\n",
    "-> X25519 ",
    "-> scrypt ",
    "-> piv-p256 ",
    "TEiF0ypqr+bpvcqXNyCVJpL7OuwPdVwPL7KQEbFDOCc",
    "\n",
    "--- ",
    "Vn+54jqiiUCE+WZcEVY3f1sqHjlu/z1LCQ/T7Xm7qI0",
    "-----BEGIN AGE ENCRYPTED FILE-----\n",
    "-----END AGE ENCRYPTED FILE-----\n",
    "YWdlLWVuY3J5cHRpb24ub3JnL3YxCg==",
    "\u{0}\u{1}\u{ff}",
    "\u{7f}",
    " ",
    "=",
];

const CSV: &[&str] = &[
    ",", ";", "\"", "\"\"", "\n", "\r", "\r\n", "a", "b c", "é", " ", "\\N", "\u{feff}", "x\"y",
    "1", "",
];

/// The test suites of the repository.
fn suite_seeds() -> Vec<String> {
    walk_yaml(&support::repo_root().join("flows/tests"))
        .into_iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect()
}

fn check_test_suite(bytes: &[u8]) {
    let Ok(docs) = runner_model::load_str(&text(bytes)) else {
        return;
    };
    for doc in docs {
        if runner_testsuite::is_test_suite(&doc)
            && let Err(problems) = runner_testsuite::read(&doc)
        {
            assert!(!problems.is_empty(), "a refusal says why");
            for d in problems {
                let _ = d.problem.to_string();
            }
        }
    }
}

/// Any bytes given as an `.age` env file: refused with a reason, never a panic, and never
/// opened by a key that did not encrypt them.
fn check_age(bytes: &[u8]) {
    let (identity, _) = runner_secrets::age::generate();
    let path = std::path::Path::new("fuzz.age");
    let identities =
        runner_secrets::age::identities(path, identity.text().expect("an identity is text"))
            .expect("a generated identity reads back");
    let _ = runner_secrets::age::is_age(bytes);
    let opened = runner_secrets::age::decrypt(path, bytes, &identities, path);
    assert!(opened.is_err(), "random bytes decrypted with a fresh key");
}

fn check_yaml(bytes: &[u8]) {
    if let Ok(docs) = runner_model::load_str(&text(bytes)) {
        for d in docs {
            let _ = d.to_json();
        }
    }
}

fn check_validate(bytes: &[u8]) {
    let source = text(bytes);
    let Ok(docs) = runner_model::load_str(&source) else {
        return;
    };
    // YAML ends a line at `\n`, `\r\n` or a bare `\r`.
    let lines = source.replace("\r\n", "\n").matches(['\n', '\r']).count() as u32 + 1;
    let registry = runner::registry();
    let renderer = Renderer::new();
    for doc in docs {
        let v = runner_core::validate(&doc, &registry, &renderer);
        for d in &v.diagnostics {
            let _ = d.problem.to_string();
            let _ = d.problem.help();
            if let Some(span) = d.span {
                assert!(span.line <= lines, "a diagnostic beyond the text: {d:?}");
            }
        }
        assert_eq!(
            v.plan.is_some(),
            !v.diagnostics.iter().any(|d| d.is_error())
        );
    }
}

fn check_render(bytes: &[u8]) {
    let source = text(bytes);
    let r = Renderer::new();
    let _ = r.check(&source);
    let vars = json!({"x": "{{ 1 + 1 }}", "y": {"z": [1, "two", null]}, "inputs": {"a": 3}, "outputs": {"t": {"v": "w"}}});
    if let Ok(out) = r.render_str(&source, &Context::new(vars)) {
        assert!(out.len() <= runner_template::Limits::default().max_output);
    }
}

fn jq_renderer() -> Renderer {
    let limits = runner_template::Limits {
        jq: Some(runner_template::JqSandbox {
            program: env!("CARGO_BIN_EXE_runner").into(),
            timeout: Duration::from_secs(2),
            memory: 256 << 20,
            max_output: 1 << 20,
        }),
        ..Default::default()
    };
    Renderer::with_hooks(runner_template::Hooks {
        limits,
        ..Default::default()
    })
}

fn check_jq(bytes: &[u8]) {
    let program = text(bytes).replace('\'', "\"");
    let r = jq_renderer();
    let vars = json!({"p": program, "v": {"a": [1, 2, {"b": "c"}], "n": null}});
    match r.render_str("{{ v | jq(p) }}", &Context::new(vars)) {
        Ok(out) => assert!(out.starts_with('['), "jq always gives a list: {out}"),
        Err(e) => {
            let m = e.to_string();
            assert!(!m.contains("panicked"), "{m}");
        }
    }
}

fn check_env_file(bytes: &[u8]) {
    if let Ok(entries) = runner_secrets::env_file::parse(&text(bytes))
        && let Ok(encoded) = runner_secrets::env_file::encode(&entries)
    {
        let again = runner_secrets::env_file::parse(&encoded).expect("encode writes a valid file");
        assert_eq!(again.len(), entries.len(), "no value lost: {encoded}");
    }
}

fn check_ion(bytes: &[u8]) {
    if let Ok(values) = runner_ion::parse_values(&text(bytes)) {
        for v in values {
            let _ = v.to_json();
        }
    }
}

fn check_ion_binary(bytes: &[u8]) {
    let _ = runner_ion::parse_binary(bytes);
    let _ = runner_ion::value_length(bytes);
}

fn check_csv(bytes: &[u8]) {
    for (sep, quote) in [(',', '"'), (';', '\'')] {
        if let Ok(rows) = runner_serdes::read_csv(bytes, sep, quote, 4096) {
            assert!(rows.iter().all(|r| r.iter().all(|f| f.len() <= 4096 * 4)));
        }
    }
}

fn check_masker(bytes: &[u8]) {
    let mut s = text(bytes);
    let mut secret: String = s.chars().take(12).collect();
    // A secret written with the mask's own `*` can be spelled by a mask and the genuine text
    // beside it (`******` + `*.1.5` holds `*****.1.5`): that shows nothing of the secret. Such
    // secrets are checked with the `*` swapped for a character the text does not hold, so
    // that only the input's own bytes can spell it.
    if secret.contains('*')
        && let Some(other) = ['#', '~', '\u{1}', '\u{2}']
            .into_iter()
            .find(|c| !s.contains(*c))
    {
        s = s.replace('*', &other.to_string());
        secret = secret.replace('*', &other.to_string());
    }
    let masker = runner_secrets::Masker::default();
    if masker.add(&secret) != runner_secrets::Added::Masked {
        return;
    }
    let secret = secret.trim().to_string();
    if secret.contains('*') {
        // The text held every substitute: nothing can be told apart.
        return;
    }
    let text = format!("{s} [{secret}] {s}");
    let masked = masker.mask(&text);
    assert!(!masked.contains(&secret), "{secret:?} in {masked:?}");
    let record = json!({"id": "x", "outputs": {"v": text, secret.clone(): 1}});
    let mut masked = record;
    masker.mask_json_in_place(&mut masked, &["id"]);
    let printed = serde_json::to_string(&masked).unwrap();
    assert!(serde_json::from_str::<serde_json::Value>(&printed).is_ok());
    // Every string and key is checked, not the printed text: a secret ending in `"` would be
    // "found" there in the quote that closes a value.
    let mut strings = Vec::new();
    collect_strings(&masked["outputs"], &mut strings);
    for s in strings {
        assert!(!s.contains(&secret), "{secret:?} in {s:?} of {masked}");
    }
}

fn collect_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                out.push(k.clone());
                collect_strings(v, out);
            }
        }
        _ => {}
    }
}

/// Pieces of what a browser, or someone else, sends the UI: its paths, queries and forms.
const UI_REQUEST: &[&str] = &[
    "/",
    "/",
    "flows",
    "executions",
    "execution",
    "api",
    "logs",
    "files",
    "file",
    "kv",
    "run",
    "download",
    "outputs",
    "uploads",
    "static",
    "company.team",
    "company",
    "hello",
    "ui",
    "?",
    "&",
    "=",
    "level=",
    "ERROR",
    "TRACE",
    "q=",
    "state=",
    "FAILED",
    "flow=",
    "page=",
    "-1",
    "99999999999999999999",
    "0",
    "..",
    "%2e%2e",
    "%2F",
    "%00",
    "%",
    "%zz",
    "%C3%A9",
    "é",
    "+",
    "{",
    "}",
    "[",
    "]",
    "\"inputs\"",
    ":",
    ",",
    "\"f\"",
    "\"/etc/passwd\"",
    "\"name\"",
    "null",
    " ",
    "\t",
    "#",
    "//",
    "\\",
    "'",
    "<script>",
    "kestra:///",
    "nsfile:///",
    "x",
];

/// A `runner ui` for the fuzzer, started once per test binary, with a secret in its env file;
/// when the binary exits, its shell reads the end of stdin, stops it and removes its folder.
struct FuzzUi {
    addr: std::net::SocketAddr,
    _shell: std::process::Child,
}

const UI_SECRET: &str = "ui-fuzz-secret-8d1f0c";

/// The UI's pages, mutated: so inputs reach past "no such page".
fn ui_seeds() -> Vec<String> {
    [
        "/executions",
        "/executions?state=FAILED&flow=company.team.hello&q=x",
        "/executions/abc/logs.txt?level=ERROR&q=s",
        "/executions/abc/file?uri=kestra:///company/team/hello/x",
        "/executions/abc/download?uri=kestra:///../../etc/passwd",
        "/flows",
        "/flows/company.team/hello",
        "/flows/company.team/hello/run{\"inputs\":{\"n\":\"1\",\"f\":\"/etc/passwd\"}}",
        "/assets/ui.js",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn fuzz_ui() -> &'static FuzzUi {
    static UI: std::sync::OnceLock<FuzzUi> = std::sync::OnceLock::new();
    UI.get_or_init(|| {
        use std::io::BufRead;
        let dir = std::env::temp_dir().join(format!("runner-fuzz-ui-{}", std::process::id()));
        let flows = dir.join("flows");
        std::fs::create_dir_all(&flows).unwrap();
        std::fs::write(
            flows.join("hello.yaml"),
            "id: hello\nnamespace: company.team\ninputs:\n  - id: f\n    type: FILE\n  - id: n\n    type: INT\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ secret('TOKEN') }}\"\n",
        )
        .unwrap();
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(UI_SECRET);
        std::fs::write(dir.join(".env"), format!("SECRET_TOKEN={encoded}\n")).unwrap();
        let mut shell = std::process::Command::new("/bin/sh")
            .args(["-c", "\"$@\" & ui=$!; read -r _; kill $ui; wait $ui; rm -rf \"$FUZZ_UI_DIR\"", "sh"])
            .env("FUZZ_UI_DIR", &dir)
            .arg(env!("CARGO_BIN_EXE_runner"))
            .args(["ui", "--port", "0", "--storage"])
            .arg(dir.join("storage"))
            .arg("--flows")
            .arg(&flows)
            .arg("--env-file")
            .arg(dir.join(".env"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("runner ui starts");
        let mut line = String::new();
        std::io::BufReader::new(shell.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .trim()
            .strip_prefix("runner ui: http://")
            .unwrap_or_else(|| panic!("runner ui printed {line:?}"))
            .trim_end_matches('/');
        FuzzUi {
            addr: address.parse().unwrap(),
            _shell: shell,
        }
    })
}

/// Any request line and body: an answer, never a 5xx, a hang or a dead server, and never the
/// secret of the run's env file.
fn check_ui_request(bytes: &[u8]) {
    use std::io::{Read, Write};
    let ui = fuzz_ui();
    let method = ["GET", "POST", "HEAD", "PUT", "DELETE", "GET", "GET"][bytes.len() % 7];
    let text = String::from_utf8_lossy(bytes);
    let (target, body) = text
        .split_once('{')
        .map_or((text.as_ref(), ""), |(t, b)| (t, b));
    // A request line holds no space or line break: they become what a browser sends.
    let target: String = target
        .chars()
        .map(|c| match c {
            ' ' => "%20".to_string(),
            '\r' | '\n' | '\t' => "%0A".to_string(),
            c => c.to_string(),
        })
        .collect();
    let target = if target.starts_with('/') {
        target
    } else {
        format!("/{target}")
    };
    let body = if body.is_empty() {
        String::new()
    } else {
        format!("{{{body}")
    };
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        ui.addr,
        body.len()
    );
    let mut socket = std::net::TcpStream::connect(ui.addr).expect("the UI still answers");
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    socket.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    socket
        .read_to_end(&mut answer)
        .expect("an answer within 20 s");
    let answer = String::from_utf8_lossy(&answer);
    let status: u16 = answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "not an HTTP answer: {:?}",
                answer.chars().take(200).collect::<String>()
            )
        });
    assert!(status < 500, "{method} {target}: {status}\n{answer}");
    assert!(
        !answer.contains(UI_SECRET),
        "{method} {target} answered the secret"
    );
}

const TARGETS: &[Target] = &[
    Target {
        name: "yaml",
        tokens: YAML,
        seeds: flow_seeds,
        quick: 3000,
        check: check_yaml,
    },
    Target {
        name: "validate",
        tokens: YAML,
        seeds: flow_seeds,
        quick: 2000,
        check: check_validate,
    },
    Target {
        name: "render",
        tokens: TEMPLATE,
        seeds: no_seeds,
        quick: 3000,
        check: check_render,
    },
    Target {
        name: "jq",
        tokens: JQ,
        seeds: no_seeds,
        quick: 40,
        check: check_jq,
    },
    Target {
        name: "env_file",
        tokens: ENV_FILE,
        seeds: no_seeds,
        quick: 3000,
        check: check_env_file,
    },
    Target {
        name: "ion",
        tokens: ION,
        seeds: no_seeds,
        quick: 3000,
        check: check_ion,
    },
    Target {
        name: "ion_binary",
        tokens: ION_BINARY,
        seeds: no_seeds,
        quick: 3000,
        check: check_ion_binary,
    },
    Target {
        name: "csv",
        tokens: CSV,
        seeds: no_seeds,
        quick: 3000,
        check: check_csv,
    },
    Target {
        name: "test_suite",
        tokens: TEST_SUITE,
        seeds: suite_seeds,
        quick: 2000,
        check: check_test_suite,
    },
    Target {
        name: "age",
        tokens: AGE,
        seeds: no_seeds,
        quick: 300,
        check: check_age,
    },
    Target {
        name: "masker",
        tokens: TEMPLATE,
        seeds: no_seeds,
        quick: 2000,
        check: check_masker,
    },
    Target {
        name: "ui_request",
        tokens: UI_REQUEST,
        seeds: ui_seeds,
        quick: 300,
        check: check_ui_request,
    },
];

/// Runs `cases` inputs of `name` (or until `until`), each on a thread with a worker's 2 MiB
/// stack; reports the seed and the input of a failure.
fn fuzz(name: &str, cases: usize, until: Option<Instant>) -> usize {
    let target = TARGETS
        .iter()
        .find(|t| t.name == name)
        .expect("a known target");
    let seeds = (target.seeds)();
    let base = std::env::var("RUNNER_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            if until.is_some() {
                runner_core::ids::random_u64()
            } else {
                0x5EED_0000 + name.len() as u64
            }
        });
    let mut done = 0;
    loop {
        if until.map_or(done >= cases, |t| Instant::now() >= t) {
            return done;
        }
        let seed = base.wrapping_add(done as u64).max(1);
        let input = generate(&mut Rng(seed), target.tokens, &seeds);
        let check = target.check;
        let shown = input.clone();
        let outcome = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || check(&input))
            .unwrap()
            .join();
        if outcome.is_err() {
            panic!(
                "fuzz target `{name}` failed with RUNNER_FUZZ_SEED={seed} on {:?}",
                text(&shown)
            );
        }
        done += 1;
    }
}

fn soak(name: &str) {
    let seconds: u64 = std::env::var("RUNNER_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let start = Instant::now();
    let done = fuzz(name, 0, Some(start + Duration::from_secs(seconds)));
    println!(
        "fuzz {name}: {done} inputs in {:?}, no failure",
        start.elapsed()
    );
}

macro_rules! targets {
    ($($quick:ident, $soak:ident, $name:literal;)*) => {
        $(
            #[test]
            fn $quick() {
                let t = TARGETS.iter().find(|t| t.name == $name).unwrap();
                assert_eq!(fuzz($name, t.quick, None), t.quick);
            }

            #[test]
            #[ignore = "a soak: RUNNER_FUZZ_SECONDS=1800 cargo test --release --test cli -- --ignored"]
            fn $soak() {
                soak($name);
            }
        )*
    };
}

targets! {
    fuzz_yaml, soak_yaml, "yaml";
    fuzz_validate, soak_validate, "validate";
    fuzz_render, soak_render, "render";
    fuzz_jq, soak_jq, "jq";
    fuzz_env_file, soak_env_file, "env_file";
    fuzz_ion, soak_ion, "ion";
    fuzz_ion_binary, soak_ion_binary, "ion_binary";
    fuzz_csv, soak_csv, "csv";
    fuzz_masker, soak_masker, "masker";
    fuzz_test_suite, soak_test_suite, "test_suite";
    fuzz_age, soak_age, "age";
    fuzz_ui_request, soak_ui_request, "ui_request";
}
