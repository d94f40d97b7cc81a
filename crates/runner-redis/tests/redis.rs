//! The Redis tasks against a real server: Debian's `redis-server`, started here on a free
//! loopback port with a password and an ACL user, stopped when the test ends.

use runner_core::State;
use runner_testkit::{Run, run_flow_with};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const PASSWORD: &str = "s3cret-Pa55word";
const APP_PASSWORD: &str = "app-only-Pa55";

struct Server {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A redis-server on 127.0.0.1 with `requirepass` and a user `app` limited to keys `app:*`;
/// returned once it says it is ready (its log, not a timer).
fn start() -> Server {
    let binary = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("redis-server is installed (Debian: apt-get install redis-server; scripts/test.sh does)");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // An ACL rule has spaces, which the command line splits: the settings go in a file.
    let dir = std::env::temp_dir().join(format!("runner-redis-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("redis.conf");
    std::fs::write(
        &config,
        format!(
            "port {port}\nbind 127.0.0.1\nsave \"\"\nappendonly no\ndir {}\nrequirepass {PASSWORD}\nuser app on >{APP_PASSWORD} ~app:* +@all\n",
            dir.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(binary)
        .arg(&config)
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis-server starts");
    let out = BufReader::new(child.stdout.take().unwrap());
    for line in out.lines() {
        let line = line.unwrap();
        if line.contains("Ready to accept connections") {
            return Server { child, port, dir };
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("redis-server ended before it was ready");
}

async fn run(server: &Server, tasks: &str, inputs: &[(&str, &str)]) -> Run {
    let url = format!("redis://:{PASSWORD}@127.0.0.1:{}/0", server.port);
    let secret = base64(&url);
    let yaml = format!(
        "id: redis\nnamespace: test\ninputs:\n  - id: file\n    type: FILE\n    required: false\ntasks:\n{}",
        tasks.replace("URL", "\"{{ secret('REDIS_URL') }}\"")
    );
    let run = run_flow_with(
        &[runner_redis::TASKS],
        &yaml,
        inputs,
        &[("SECRET_REDIS_URL", secret.as_str())],
    )
    .await;
    // The password never reaches a log line or the record.
    assert!(!run.logs.contains(PASSWORD), "{}", run.logs);
    assert!(!run.record.to_string().contains(PASSWORD));
    run
}

fn base64(s: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test]
async fn strings_are_set_read_counted_and_deleted() {
    let server = start();
    let run = run(
        &server,
        r#"  - id: set
    type: io.kestra.plugin.redis.string.Set
    url: URL
    key: "user:1"
    value: {"name": "Ada", "langs": ["en", "fr"]}
    serdeType: JSON
    options:
      expirationDuration: PT1H
  - id: again
    type: io.kestra.plugin.redis.Set
    url: URL
    key: "user:1"
    value: "plain text"
    get: true
    options:
      keepTtl: true
  - id: refused
    type: io.kestra.plugin.redis.string.Set
    url: URL
    key: "user:1"
    value: "not written"
    options:
      mustNotExist: true
  - id: get
    type: io.kestra.plugin.redis.string.Get
    url: URL
    key: "user:1"
  - id: ttl
    type: io.kestra.plugin.redis.string.Ttl
    url: URL
    key: "user:1"
  - id: count
    type: io.kestra.plugin.redis.string.Increment
    url: URL
    key: visits
  - id: count_more
    type: io.kestra.plugin.redis.string.Increment
    url: URL
    key: visits
    amount: 41
  - id: half
    type: io.kestra.plugin.redis.string.Increment
    url: URL
    key: ratio
    amount: 0.5
  - id: delete
    type: io.kestra.plugin.redis.Delete
    url: URL
    keys: ["user:1", "visits", "nothing"]
  - id: missing
    type: io.kestra.plugin.redis.Get
    url: URL
    key: "user:1"
    serdeType: JSON
"#,
        &[],
    )
    .await;
    assert_eq!(run.state, State::Success, "{}", run.logs);
    assert_eq!(run.outputs("set"), serde_json::json!({}));
    assert_eq!(
        run.outputs("again")["oldValue"],
        r#"{"name":"Ada","langs":["en","fr"]}"#
    );
    assert_eq!(run.outputs("get")["data"], "plain text");
    let ttl = run.outputs("ttl")["ttl"].as_i64().unwrap();
    assert!((3500..=3600).contains(&ttl), "keepTtl kept the hour: {ttl}");
    assert_eq!(run.outputs("count")["value"], 1);
    assert_eq!(run.outputs("count_more")["value"], 42);
    assert_eq!(run.outputs("half")["value"], 0.5);
    assert_eq!(run.outputs("delete")["count"], 2);
    assert_eq!(run.outputs("missing")["data"], serde_json::Value::Null);
}

#[tokio::test]
async fn lists_are_pushed_in_batches_and_popped_to_a_file() {
    let server = start();
    let ion = std::env::temp_dir().join(format!(
        "runner-redis-{}.ion",
        runner_core::ids::random_u64()
    ));
    std::fs::write(&ion, "{id:3}\n{id:4}\n\"five\"\n").unwrap();
    let run = run(
        &server,
        r#"  - id: push
    type: io.kestra.plugin.redis.list.ListPush
    url: URL
    key: queue
    batchSize: 2
    from: ["a", "b", "c"]
  - id: push_json
    type: io.kestra.plugin.redis.ListPush
    url: URL
    key: queue
    from: '[1, 2]'
  - id: push_file
    type: io.kestra.plugin.redis.list.ListPush
    url: URL
    key: queue
    from: "{{ inputs.file }}"
  - id: pop
    type: io.kestra.plugin.redis.list.ListPop
    url: URL
    key: queue
    count: 3
    maxRecords: 4
  - id: rest
    type: io.kestra.plugin.redis.ListPop
    url: URL
    key: queue
    maxDuration: PT10S
"#,
        &[("file", ion.to_str().unwrap())],
    )
    .await;
    let _ = std::fs::remove_file(&ion);
    assert_eq!(run.state, State::Success, "{}", run.logs);
    assert_eq!(run.outputs("push")["count"], 3);
    assert_eq!(run.outputs("push_json")["count"], 2);
    assert_eq!(run.outputs("push_file")["count"], 3);
    // LPUSH puts each value at the head: the list is the input reversed.
    let pop = run.outputs("pop");
    assert_eq!(
        pop["count"], 6,
        "two pops of 3: the cap is checked after each"
    );
    let first = std::fs::read_to_string(run.file(pop["uri"].as_str().unwrap())).unwrap();
    assert_eq!(
        first,
        "\"five\"\n\"{\\\"id\\\":4}\"\n\"{\\\"id\\\":3}\"\n\"2\"\n\"1\"\n\"c\"\n"
    );
    let rest = run.outputs("rest");
    assert_eq!(rest["count"], 2);
    let second = std::fs::read_to_string(run.file(rest["uri"].as_str().unwrap())).unwrap();
    assert_eq!(second, "\"b\"\n\"a\"\n");
}

#[tokio::test]
async fn bad_credentials_and_addresses_fail_clearly() {
    let server = start();
    let port = server.port;
    let yaml = |url: &str| {
        format!(
            "id: redis\nnamespace: test\ntasks:\n  - id: get\n    type: io.kestra.plugin.redis.string.Get\n    url: \"{url}\"\n    key: app:x\n"
        )
    };
    // A wrong password: refused, and the password is not quoted.
    let run = run_flow_with(
        &[runner_redis::TASKS],
        &yaml(&format!("redis://:wrong-Pa55@127.0.0.1:{port}")),
        &[],
        &[],
    )
    .await;
    assert_eq!(run.state, State::Failed);
    assert!(
        run.logs.contains("refused the credentials of `url`"),
        "{}",
        run.logs
    );
    assert!(!run.logs.contains("wrong-Pa55"), "{}", run.logs);
    // No password at all.
    let run = run_flow_with(
        &[runner_redis::TASKS],
        &yaml(&format!("redis://127.0.0.1:{port}")),
        &[],
        &[],
    )
    .await;
    assert_eq!(run.state, State::Failed);
    assert!(run.logs.contains("needs a password"), "{}", run.logs);
    // An ACL user: its own keys only.
    let ok = run_flow_with(
        &[runner_redis::TASKS],
        &yaml(&format!("redis://app:{APP_PASSWORD}@127.0.0.1:{port}")),
        &[],
        &[],
    )
    .await;
    assert_eq!(ok.state, State::Success, "{}", ok.logs);
    let denied = yaml(&format!("redis://app:{APP_PASSWORD}@127.0.0.1:{port}"))
        .replace("key: app:x", "key: other");
    let run = run_flow_with(&[runner_redis::TASKS], &denied, &[], &[]).await;
    assert_eq!(run.state, State::Failed);
    assert!(
        run.logs.contains("Redis refused GET: NOPERM"),
        "{}",
        run.logs
    );
    // Cloud metadata addresses are refused before connecting.
    let run = run_flow_with(
        &[runner_redis::TASKS],
        &yaml("redis://169.254.169.254:6379"),
        &[],
        &[],
    )
    .await;
    assert_eq!(run.state, State::Failed);
    assert!(
        run.logs.contains("link-local address 169.254.169.254"),
        "{}",
        run.logs
    );
    // Nothing listens: unreachable, with the address and no credentials.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let run = run_flow_with(
        &[runner_redis::TASKS],
        &yaml(&format!("redis://:pw-x@127.0.0.1:{closed}")),
        &[],
        &[],
    )
    .await;
    assert_eq!(run.state, State::Failed);
    assert!(
        run.logs.contains(&format!(
            "cannot connect to Redis at redis://127.0.0.1:{closed}/0"
        )),
        "{}",
        run.logs
    );
    assert!(!run.logs.contains("pw-x"));
}

#[test]
fn a_pop_without_a_cap_and_a_bad_url_fail_validation() {
    let registry = runner_core::Registry::new(&[runner_redis::TASKS]);
    let problems = |task: &str| {
        let yaml = format!("id: f\nnamespace: t\ntasks:\n{task}");
        let doc = runner_model::load_str(&yaml).unwrap().remove(0);
        let v = runner_core::validate(&doc, &registry, &runner_template::Renderer::new());
        v.diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.problem.to_string())
            .collect::<Vec<_>>()
    };
    let p = problems(
        "  - id: pop\n    type: io.kestra.plugin.redis.list.ListPop\n    url: redis://localhost\n    key: q\n",
    );
    assert!(
        p.iter()
            .any(|e| e.contains("maxDuration or maxRecords must be set")),
        "{p:?}"
    );
    let p = problems(
        "  - id: get\n    type: io.kestra.plugin.redis.string.Get\n    url: \"localhost:6379\"\n    key: q\n",
    );
    assert!(
        p.iter().any(|e| e.contains("must start with redis://")),
        "{p:?}"
    );
}
