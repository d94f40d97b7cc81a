//! The KV store across processes: what one `runner run` writes the next reads, concurrent
//! writers lose nothing, and `runner kv` reads and changes the same store.

use crate::support;

use serde_json::{Value as Json, json};
use support::Sandbox;

const COUNTER: &str = r#"id: counter
namespace: demo.team
tasks:
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: "{{ kv('count', errorOnMissing=false) ?? 0 }}"
  - id: bump
    type: io.kestra.plugin.core.kv.Set
    key: count
    value: "{{ outputs.read.value | number + 1 }}"
    kvType: NUMBER
"#;

#[test]
fn a_value_survives_from_one_run_to_the_next() {
    let s = Sandbox::new();
    s.write("counter.yaml", COUNTER);
    for _ in 0..3 {
        let out = s.run(&["run", "counter.yaml"]);
        assert_eq!(out.code(), 0, "{}", out.stderr());
    }
    // The default state directory is beside the default storage.
    assert!(s.dir.join(".runner/state/kv.sqlite3").is_file());
    let out = s.run(&["kv", "get", "demo.team", "count"]);
    assert_eq!(
        (out.code(), out.stdout().as_str()),
        (0, "3\n"),
        "{}",
        out.stderr()
    );
    // `runner kv set` seeds a value a run reads.
    let out = s.run(&["kv", "set", "demo.team", "count", "41", "--type", "NUMBER"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let out = s.run(&["run", "counter.yaml", "--json"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(record["taskRunList"][0]["outputs"]["value"], json!("41"));
    let out = s.run(&["kv", "get", "demo.team", "count"]);
    assert_eq!(out.stdout(), "42\n");
    let out = s.run(&["kv", "list", "--format", "json"]);
    let keys: Json = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(keys[0]["key"], "count");
    assert_eq!(keys[0]["type"], "NUMBER");
    assert_eq!(keys[0]["version"], 5);
}

#[test]
fn a_run_that_does_not_use_the_store_creates_no_state() {
    let s = Sandbox::new();
    s.write(
        "hello.yaml",
        "id: hello\nnamespace: demo\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
    );
    let out = s.run(&["run", "hello.yaml"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(!s.dir.join(".runner/state").exists());
}

#[test]
fn concurrent_processes_writing_the_same_store_lose_nothing() {
    let s = Sandbox::new();
    s.write(
        "writer.yaml",
        r#"id: writer
namespace: demo
inputs:
  - id: name
    type: STRING
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ range(0, 39) }}"
    concurrencyLimit: 4
    tasks:
      - id: own
        type: io.kestra.plugin.core.kv.Set
        key: "{{ inputs.name }}-{{ taskrun.value }}"
        value: "{{ taskrun.value }}"
      - id: shared
        type: io.kestra.plugin.core.kv.Set
        key: shared
        value: "{{ inputs.name }}"
      - id: merged
        type: io.kestra.plugin.core.kv.Put
        key: "merged"
        value:
          - key: "{{ inputs.name }}.v{{ taskrun.value }}"
            value: true
"#,
    );
    let children: Vec<_> = (0..4)
        .map(|i| {
            s.cmd(&["run", "writer.yaml", "-i", &format!("name=p{i}")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = s.run(&["kv", "list", "demo", "--format", "json"]);
    let keys: Json = serde_json::from_str(&out.stdout()).unwrap();
    let names: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    // 4 processes x 40 own keys, `shared` and `merged`.
    assert_eq!(names.len(), 4 * 40 + 2, "{names:?}");
    for i in 0..4 {
        for v in 0..40 {
            assert!(names.contains(&format!("p{i}-{v}").as_str()));
        }
    }
    // Every read-modify-write of `merged` by every process is in it.
    let out = s.run(&["kv", "get", "demo", "merged"]);
    let merged: Json = serde_json::from_str(&out.stdout()).unwrap();
    for i in 0..4 {
        assert_eq!(
            merged[format!("p{i}")].as_object().map(|m| m.len()),
            Some(40),
            "{merged}"
        );
    }
    let out = s.run(&["kv", "get", "demo", "shared"]);
    assert!(
        ["\"p0\"\n", "\"p1\"\n", "\"p2\"\n", "\"p3\"\n"].contains(&out.stdout().as_str()),
        "{}",
        out.stdout()
    );
}

#[test]
fn kv_command_errors_name_the_key_and_exit_non_zero() {
    let s = Sandbox::new();
    let state = s.dir.join("st");
    let state = state.to_str().unwrap();
    let out = s.run(&["kv", "--state", state, "set", "demo", "k", "v"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let cases: [(&[&str], i32, &str); 7] = [
        (
            &["set", "../../etc", "k", "v"],
            2,
            "`../../etc` is not a namespace",
        ),
        (&["list", "a/b"], 2, "`a/b` is not a namespace"),
        (
            &["get", "demo", "nope"],
            1,
            "The key 'nope' does not exist in the namespace 'demo'.",
        ),
        (
            &["get", "elsewhere", "k"],
            1,
            "Cannot access the KV store. The namespace 'elsewhere' does not exist.",
        ),
        (
            &["set", "demo", "_k", "v"],
            2,
            "Key must start with an alphanumeric character",
        ),
        (
            &["set", "demo", "n", "x", "--type", "NUMBER"],
            2,
            "`x` is not a number (kvType NUMBER)",
        ),
        (
            &["set", "demo", "n", "1", "--ttl", "soon"],
            2,
            "`soon` is not an ISO-8601 duration",
        ),
    ];
    for (args, code, message) in cases {
        let mut all = vec!["kv", "--state", state];
        all.extend_from_slice(args);
        let out = s.run(&all);
        assert_eq!(out.code(), code, "{args:?}: {}", out.stderr());
        assert!(out.stderr().contains(message), "{args:?}: {}", out.stderr());
    }
    let out = s.run(&["kv", "--state", state, "delete", "demo", "k"]);
    assert_eq!(out.code(), 0);
    let out = s.run(&["kv", "--state", state, "delete", "demo", "k"]);
    assert_eq!(out.code(), 1);
    let out = s.run(&["kv", "--state", state, "list"]);
    assert_eq!((out.code(), out.stdout().as_str()), (0, ""));
}
