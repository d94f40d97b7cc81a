//! The kv tasks and `kv()` against the real SQLite store in a temporary state directory:
//! values, types, messages, and what survives from one execution to the next.

use runner_core::kv::KvStore;
use runner_kv::SqliteKv;
use runner_testkit::{Run, RunOptions, run_flow_opts};
use serde_json::{Value as Json, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn state_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "runner-kv-test-{tag}-{}",
        runner_core::ids::friendly_id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn run_in(state: &Path, namespace: &str, tasks: &str, environment: &[(&str, &str)]) -> Run {
    run_at(state, namespace, tasks, environment, None).await
}

/// A clock the test moves: the store reads the time from it.
#[derive(Clone)]
struct TestClock(Arc<std::sync::atomic::AtomicI64>);

impl TestClock {
    fn new() -> TestClock {
        TestClock(Arc::new(std::sync::atomic::AtomicI64::new(
            1_767_225_600_000, // 2026-01-01T00:00:00Z
        )))
    }

    fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }

    fn clock(&self) -> runner_kv::Clock {
        let now = self.0.clone();
        Arc::new(move || now.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// [`run_in`] with the store reading the time from `clock`.
async fn run_at(
    state: &Path,
    namespace: &str,
    tasks: &str,
    environment: &[(&str, &str)],
    clock: Option<&TestClock>,
) -> Run {
    let mut store = SqliteKv::open(state)
        .unwrap()
        .with_flow_namespaces([namespace.to_string()]);
    if let Some(c) = clock {
        store = store.with_clock(c.clock());
    }
    let yaml = format!("id: kv\nnamespace: {namespace}\ntasks:\n{tasks}");
    run_flow_opts(
        &[
            runner_core::TASKS,
            runner_core_tasks::TASKS,
            runner_kv::TASKS,
        ],
        &yaml,
        RunOptions {
            kv: Some(Arc::new(store)),
            environment: environment
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..RunOptions::default()
        },
    )
    .await
}

fn task_state(r: &Run, id: &str) -> String {
    r.record["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["taskId"] == id)
        .map(|t| t["state"]["current"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("no task run {id}: {}", r.logs))
}

#[tokio::test]
async fn values_keep_their_types_across_executions() {
    let state = state_dir("types");
    let first = run_in(
        &state,
        "company.team",
        r#"  - id: rows
    type: io.kestra.plugin.core.output.OutputValues
    values:
      n: 3
  - id: list
    type: io.kestra.plugin.core.kv.Set
    key: list
    value: "{{ [1, 2, outputs.rows.values.n] }}"
  - id: text
    type: io.kestra.plugin.core.kv.Set
    key: text
    value: "n={{ outputs.rows.values.n }}"
  - id: number
    type: io.kestra.plugin.core.kv.Set
    key: number
    value: "42"
    kvType: NUMBER
  - id: flag
    type: io.kestra.plugin.core.kv.Set
    key: flag
    value: "TRUE"
    kvType: BOOLEAN
  - id: doc
    type: io.kestra.plugin.core.kv.Set
    key: doc
    value: '{"a": {"b": 1}}'
    kvType: JSON
    kvDescription: a document
  - id: parent
    type: io.kestra.plugin.core.kv.Set
    namespace: company
    key: shared
    value: from the parent
"#,
        &[],
    )
    .await;
    assert_eq!(first.state.as_str(), "SUCCESS", "{}", first.logs);

    // A second execution, with a store opened afresh: what the first one wrote is there.
    let second = run_in(
        &state,
        "company.team",
        r#"  - id: get
    type: io.kestra.plugin.core.kv.Get
    key: list
  - id: inherited
    type: io.kestra.plugin.core.kv.Get
    key: shared
  - id: missing
    type: io.kestra.plugin.core.kv.Get
    key: nothing
  - id: keys
    type: io.kestra.plugin.core.kv.GetKeys
  - id: some_keys
    type: io.kestra.plugin.core.kv.GetKeys
    prefix: "n"
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ kv('number') + 1 }} {{ kv('flag') }} {{ kv('doc').a.b }} {{ kv('text') }} {{ kv('list') | length }} {{ kv('shared') }}"
"#,
        &[],
    )
    .await;
    assert_eq!(second.state.as_str(), "SUCCESS", "{}", second.logs);
    assert_eq!(second.outputs("get")["value"], json!([1, 2, 3]));
    assert_eq!(
        second.outputs("inherited")["value"],
        json!("from the parent")
    );
    assert_eq!(second.outputs("missing")["value"], Json::Null);
    assert_eq!(
        second.outputs("keys")["keys"],
        json!(["doc", "flag", "list", "number", "text"])
    );
    assert_eq!(second.outputs("some_keys")["keys"], json!(["number"]));
    assert_eq!(
        second.outputs("show")["value"],
        json!("43 true 1 n=3 3 from the parent")
    );
    let store = SqliteKv::open(&state).unwrap();
    let doc = store
        .all_keys()
        .unwrap()
        .into_iter()
        .find(|k| k.key == "doc")
        .unwrap();
    assert_eq!(doc.kv_type.as_deref(), Some("JSON"));
    assert_eq!(doc.description.as_deref(), Some("a document"));
    assert_eq!(doc.version, 1);
}

#[tokio::test]
async fn kestras_messages_for_bad_keys_missing_values_and_overwrite() {
    let state = state_dir("messages");
    let r = run_in(
        &state,
        "company.team",
        r#"  - id: first
    type: io.kestra.plugin.core.kv.Set
    key: k
    value: 1
  - id: again
    type: io.kestra.plugin.core.kv.Set
    key: k
    value: 2
    overwrite: false
    allowFailure: true
  - id: bad_key
    type: io.kestra.plugin.core.kv.Set
    key: "_nope"
    value: 1
    allowFailure: true
  - id: required
    type: io.kestra.plugin.core.kv.Get
    key: absent
    errorOnMissing: true
    allowFailure: true
  - id: function
    type: io.kestra.plugin.core.debug.Return
    format: "{{ kv('absent') }}"
    allowFailure: true
  - id: elsewhere
    type: io.kestra.plugin.core.kv.Get
    namespace: nowhere
    key: k
    allowFailure: true
  - id: bad_number
    type: io.kestra.plugin.core.kv.Set
    key: n
    value: twelve
    kvType: NUMBER
    allowFailure: true
  - id: delete
    type: io.kestra.plugin.core.kv.Delete
    key: k
  - id: delete_again
    type: io.kestra.plugin.core.kv.Delete
    key: k
"#,
        &[],
    )
    .await;
    assert_eq!(r.state.as_str(), "WARNING", "{}", r.logs);
    for id in [
        "again",
        "bad_key",
        "required",
        "function",
        "elsewhere",
        "bad_number",
    ] {
        assert_eq!(task_state(&r, id), "WARNING", "{id}: {}", r.logs);
    }
    for expected in [
        "Cannot set value for key 'k'. Key already exists and `overwrite` is set to `false`.",
        "Key must start with an alphanumeric character (uppercase or lowercase) and can contain alphanumeric characters (uppercase or lowercase), dots (.), underscores (_), and hyphens (-) only.",
        "No value found for key 'absent' in namespace 'company.team' and `errorOnMissing` is set to true",
        "The key 'absent' does not exist in the namespace 'company.team'.",
        "Cannot access the KV store. The namespace 'nowhere' does not exist.",
        "`twelve` is not a number (kvType NUMBER)",
    ] {
        assert!(r.logs.contains(expected), "{expected}\n{}", r.logs);
    }
    assert_eq!(r.outputs("delete")["deleted"], json!(true));
    assert_eq!(r.outputs("delete_again")["deleted"], json!(false));
    // The refused overwrite left the first value; the key is gone after Delete.
    assert!(
        SqliteKv::open(&state)
            .unwrap()
            .all_keys()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn ttl_expires_a_value_and_purge_removes_expired_keys() {
    let state = state_dir("ttl");
    let clock = TestClock::new();
    let set = run_at(
        &state,
        "company",
        r#"  - id: short
    type: io.kestra.plugin.core.kv.Set
    key: short
    value: soon gone
    ttl: PT0.2S
  - id: long
    type: io.kestra.plugin.core.kv.Set
    key: long
    value: stays
    ttl: P1D
  - id: other
    type: io.kestra.plugin.core.kv.Set
    key: tmp_other
    value: also expiring
    ttl: PT0.2S
  - id: fresh
    type: io.kestra.plugin.core.debug.Return
    format: "{{ kv('tmp_other', errorOnMissing=false) ?? 'gone' }}"
"#,
        &[],
        Some(&clock),
    )
    .await;
    assert_eq!(set.state.as_str(), "SUCCESS", "{}", set.logs);
    assert_eq!(set.outputs("fresh")["value"], json!("also expiring"));
    // 199 ms later the short values still live; at 200 ms they have expired.
    clock.advance(199);
    let before = run_at(
        &state,
        "company",
        "  - id: keys\n    type: io.kestra.plugin.core.kv.GetKeys\n",
        &[],
        Some(&clock),
    )
    .await;
    assert_eq!(
        before.outputs("keys")["keys"],
        json!(["long", "short", "tmp_other"])
    );
    clock.advance(1);
    let r = run_at(
        &state,
        "company",
        r#"  - id: expired_fn
    type: io.kestra.plugin.core.debug.Return
    format: "{{ kv('tmp_other', errorOnMissing=false) ?? 'gone' }}"
  - id: purge
    type: io.kestra.plugin.core.kv.PurgeKV
    namespaces: [company]
  - id: get_expired
    type: io.kestra.plugin.core.kv.Get
    key: short
  - id: keys
    type: io.kestra.plugin.core.kv.GetKeys
"#,
        &[],
        Some(&clock),
    )
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.outputs("expired_fn")["value"], json!("gone"));
    // `tmp_other` was deleted when kv() read it expired; `short` by the purge.
    assert_eq!(r.outputs("purge")["size"], json!(1));
    assert_eq!(r.outputs("get_expired")["value"], Json::Null);
    assert_eq!(r.outputs("keys")["keys"], json!(["long"]));
}

#[tokio::test]
async fn an_expired_value_fails_get_with_kestras_message() {
    let state = state_dir("expired");
    let clock = TestClock::new();
    let set = run_at(
        &state,
        "company",
        "  - id: short\n    type: io.kestra.plugin.core.kv.Set\n    key: short\n    value: soon gone\n    ttl: PT0.1S\n",
        &[],
        Some(&clock),
    )
    .await;
    assert_eq!(set.state.as_str(), "SUCCESS", "{}", set.logs);
    clock.advance(100);
    let r = run_at(
        &state,
        "company",
        "  - id: get\n    type: io.kestra.plugin.core.kv.Get\n    key: short\n",
        &[],
        Some(&clock),
    )
    .await;
    assert_eq!(r.state.as_str(), "FAILED", "{}", r.logs);
    assert!(
        r.logs.contains("The requested value has expired"),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn put_merges_into_the_stored_value() {
    let state = state_dir("put");
    let r = run_in(
        &state,
        "company",
        r#"  - id: set
    type: io.kestra.plugin.core.kv.Set
    key: settings
    value:
      limits:
        rows: 10
        cols: 2
      name: a
  - id: merge
    type: io.kestra.plugin.core.kv.Put
    key: settings
    value:
      limits:
        rows: 20
  - id: patch
    type: io.kestra.plugin.core.kv.Put
    key: settings
    value:
      - key: limits.depth
        value: 3
      - key: owner.team
        value: "{{ flow.namespace }}"
  - id: required
    type: io.kestra.plugin.core.kv.Put
    key: absent
    value: 1
    errorOnMissing: true
    allowFailure: true
  - id: get
    type: io.kestra.plugin.core.kv.Get
    key: settings
"#,
        &[],
    )
    .await;
    assert_eq!(r.state.as_str(), "WARNING", "{}", r.logs);
    assert_eq!(
        r.outputs("get")["value"],
        json!({"limits": {"rows": 20, "cols": 2, "depth": 3}, "name": "a", "owner": {"team": "company"}})
    );
    assert!(
        r.logs.contains("No value found for key 'absent' in namespace 'company' and `errorOnMissing` is set to true"),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn a_secret_is_never_written_to_the_store() {
    let state = state_dir("secret");
    let secret = "kv-secret-value-7781";
    let encoded = base64_of(secret);
    let r = run_in(
        &state,
        "company",
        r#"  - id: set
    type: io.kestra.plugin.core.kv.Set
    key: token
    value: "Bearer {{ secret('TOKEN') }}"
    allowFailure: true
  - id: put
    type: io.kestra.plugin.core.kv.Put
    key: token2
    value:
      auth: "{{ secret('TOKEN') }}"
    allowFailure: true
"#,
        &[("SECRET_TOKEN", &encoded)],
    )
    .await;
    assert_eq!(r.state.as_str(), "WARNING", "{}", r.logs);
    assert_eq!(task_state(&r, "set"), "WARNING");
    assert_eq!(task_state(&r, "put"), "WARNING");
    assert!(
        r.logs.contains("the value for key 'token2' holds a secret"),
        "{}",
        r.logs
    );
    assert!(
        r.logs
            .contains("holds a secret: runner does not write secrets into the KV store"),
        "{}",
        r.logs
    );
    assert!(
        SqliteKv::open(&state)
            .unwrap()
            .all_keys()
            .unwrap()
            .is_empty()
    );
    // Not a byte of it anywhere in the state directory (the database and its journals).
    for entry in std::fs::read_dir(&state).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the secret is on disk"
        );
    }
    assert!(!r.logs.contains(secret));
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn without_a_store_the_tasks_say_where_it_comes_from() {
    let yaml = "id: kv\nnamespace: company\ntasks:\n  - id: get\n    type: io.kestra.plugin.core.kv.Get\n    key: k\n";
    let r = run_flow_opts(
        &[
            runner_core::TASKS,
            runner_core_tasks::TASKS,
            runner_kv::TASKS,
        ],
        yaml,
        RunOptions::default(),
    )
    .await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        r.logs.contains("the KV store is not open in this run"),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn the_legacy_state_tasks_keep_a_map_between_runs() {
    let state = state_dir("legacy");
    let first = run_in(
        &state,
        "company",
        r#"  - id: set
    type: io.kestra.core.tasks.states.Set
    data:
      a: 1
  - id: more
    type: io.kestra.plugin.core.state.Set
    data:
      b: "{{ 1 + 1 }}"
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["x", "y"]
    tasks:
      - id: per_value
        type: io.kestra.plugin.core.state.Set
        name: seen
        data:
          v: "{{ taskrun.value }}"
"#,
        &[],
    )
    .await;
    assert_eq!(first.state.as_str(), "SUCCESS", "{}", first.logs);
    assert_eq!(first.outputs("more")["count"], json!(2));
    assert_eq!(first.outputs("more")["key"], json!("state.kv.default"));
    let second = run_in(
        &state,
        "company",
        r#"  - id: get
    type: io.kestra.plugin.core.state.Get
  - id: other
    type: io.kestra.plugin.core.state.Get
    name: nothing
  - id: delete
    type: io.kestra.plugin.core.state.Delete
  - id: gone
    type: io.kestra.plugin.core.state.Get
    errorOnMissing: true
    allowFailure: true
"#,
        &[],
    )
    .await;
    assert_eq!(second.state.as_str(), "WARNING", "{}", second.logs);
    assert_eq!(second.outputs("get")["data"], json!({"a": 1, "b": "2"}));
    assert_eq!(second.outputs("get")["count"], json!(2));
    assert_eq!(second.outputs("other")["data"], json!({}));
    assert_eq!(second.outputs("delete")["deleted"], json!(true));
    assert!(
        second
            .logs
            .contains("Unable to find the state file 'state.kv.default'"),
        "{}",
        second.logs
    );
    // One state per ForEach value.
    let keys: Vec<String> = SqliteKv::open(&state)
        .unwrap()
        .all_keys()
        .unwrap()
        .into_iter()
        .map(|k| k.key)
        .collect();
    assert_eq!(
        keys,
        vec!["state.kv.seen.x".to_string(), "state.kv.seen.y".to_string()]
    );
}
