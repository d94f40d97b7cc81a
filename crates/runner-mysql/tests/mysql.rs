//! The MySQL and MariaDB tasks against a real server: Debian's MariaDB, a fresh data folder
//! per test, started unprivileged on a free loopback port with a password user, stopped when
//! the test ends. MariaDB speaks MySQL's protocol, so both families' tasks run against it.

use runner_core::State;
use runner_testkit::{Run, run_flow_with};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

const PASSWORD: &str = "app-Pa55-w0rd";

struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// A MariaDB server with a database `shop` and a user `app` (password auth) that owns it;
/// returned once the server's log says it is ready.
fn start() -> Server {
    assert!(
        std::path::Path::new("/usr/sbin/mariadbd").exists(),
        "mariadbd is installed (Debian: apt-get install mariadb-server; scripts/test.sh does)"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir =
        std::env::temp_dir().join(format!("runner-mariadb-{}", runner_core::ids::random_u64()));
    // Its own temporary folder: servers of tests running at once must not share /tmp (one's
    // bootstrap once lost a temporary table there while another started).
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    // As root, the server runs as Debian's `mysql` user, never as root.
    let user: Vec<String> = if is_root() {
        let ok = Command::new("chown")
            .args(["-R", "mysql:"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(ok.success());
        vec!["--user=mysql".into()]
    } else {
        Vec::new()
    };
    let data = dir.join("data");
    let out = Command::new("mariadb-install-db")
        .args([
            "--no-defaults",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ])
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--tmpdir={}", tmp.display()))
        .args(&user)
        .output()
        .expect("mariadb-install-db runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let socket = dir.join("sock");
    let mut child = Command::new("/usr/sbin/mariadbd")
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--socket={}", socket.display()))
        .arg(format!("--tmpdir={}", tmp.display()))
        .arg(format!("--pid-file={}", dir.join("pid").display()))
        .args(["--bind-address=127.0.0.1", &format!("--port={port}")])
        .args(&user)
        .stderr(Stdio::piped())
        .spawn()
        .expect("mariadbd starts");
    let log = BufReader::new(child.stderr.take().unwrap());
    let mut ready = false;
    for line in log.lines() {
        if line.unwrap().contains("ready for connections") {
            ready = true;
            break;
        }
    }
    let server = Server { child, port, dir };
    assert!(ready, "mariadbd ended before it was ready");
    let setup = format!(
        "CREATE DATABASE shop CHARACTER SET utf8mb4; CREATE USER 'app'@'%' IDENTIFIED BY '{PASSWORD}'; GRANT ALL ON shop.* TO 'app'@'%';"
    );
    let out = Command::new("mariadb")
        .arg("--no-defaults")
        .arg(format!("--socket={}", socket.display()))
        .args(["-u", "root", "-e", &setup])
        .output()
        .expect("mariadb runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server
}

async fn run(server: &Server, tasks: &str, inputs: &[(&str, &str)]) -> Run {
    let yaml = format!(
        "id: mysql\nnamespace: test\ninputs:\n  - id: file\n    type: FILE\n    required: false\ntasks:\n{}",
        tasks
            .replace(
                "URL_MYSQL",
                &format!("jdbc:mysql://127.0.0.1:{}/shop", server.port)
            )
            .replace(
                "URL_MARIADB",
                &format!("jdbc:mariadb://127.0.0.1:{}/shop", server.port)
            )
            .replace(
                "AUTH",
                "username: app\n    password: \"{{ secret('DB_PASSWORD') }}\""
            )
    );
    let encoded = base64(PASSWORD);
    let run = run_flow_with(
        &[runner_mysql::TASKS],
        &yaml,
        inputs,
        &[("SECRET_DB_PASSWORD", encoded.as_str())],
    )
    .await;
    assert!(!run.logs.contains(PASSWORD), "{}", run.logs);
    assert!(!run.record.to_string().contains(PASSWORD));
    run
}

fn base64(s: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in s.as_bytes().chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char
            } else {
                '='
            });
        }
    }
    out
}

const CREATE: &str = r#"  - id: create
    type: io.kestra.plugin.jdbc.mysql.Queries
    url: URL_MYSQL
    AUTH
    sql: |
      CREATE TABLE t (
        id INT PRIMARY KEY, big BIGINT UNSIGNED, flag TINYINT(1), small SMALLINT,
        price DECIMAL(10,2), ratio FLOAT, score DOUBLE, day DATE, at DATETIME(6),
        stamp TIMESTAMP(3) NULL, clock TIME, yr YEAR, doc JSON, bin VARBINARY(4),
        name VARCHAR(40), note TEXT);
      INSERT INTO t VALUES
        (1, 18446744073709551615, 1, -3, 12.50, 1.5, 2.25, '2024-01-31', '2050-12-31 22:59:57.150150',
         '2004-10-19 10:23:54.999', '04:05:30', 2025, '{"color": "red"}', x'00ff', 'Ada 😀', NULL),
        (2, 1, 0, 7, -0.01, 0.5, 1e300, '1999-12-31', '2000-01-01 00:00:00', NULL, '23:59:59', 1999, '[1]', NULL, 'Grace', 'x');
"#;

#[tokio::test]
async fn values_are_read_as_each_driver_reads_them() {
    let server = start();
    let tasks = format!(
        "{CREATE}{}",
        r#"  - id: mysql
    type: io.kestra.plugin.jdbc.mysql.Query
    url: URL_MYSQL
    AUTH
    sql: SELECT * FROM t ORDER BY id
    fetchType: FETCH
  - id: mariadb
    type: io.kestra.plugin.jdbc.mariadb.Query
    url: URL_MARIADB
    AUTH
    timeZoneId: UTC
    sql: SELECT id, at, stamp, doc FROM t WHERE id = :id
    parameters:
      id: 1
    fetchType: FETCH_ONE
  - id: store
    type: io.kestra.plugin.jdbc.mysql.Query
    url: URL_MYSQL
    AUTH
    sql: SELECT id, price, day, at, clock, flag FROM t ORDER BY id
    fetchType: STORE
"#
    );
    let run = run(&server, &tasks, &[]).await;
    assert_eq!(run.state, State::Success, "{}", run.logs);
    let rows = &run.outputs("mysql")["rows"];
    assert_eq!(run.outputs("mysql")["size"], 2);
    assert_eq!(
        rows[0],
        json!({"id": 1, "big": "18446744073709551615", "flag": true, "small": -3, "price": 12.50,
               "ratio": 1.5, "score": 2.25, "day": "2024-01-31", "at": "2050-12-31T22:59:57.15015",
               "stamp": "2004-10-19T10:23:54.999Z", "clock": "04:05:30", "yr": "2025-01-01",
               "doc": "{\"color\": \"red\"}", "bin": "AP8=", "name": "Ada 😀", "note": null})
    );
    assert_eq!(rows[1]["score"], 1e300);
    assert_eq!(rows[1]["flag"], false);
    let one = &run.outputs("mariadb")["row"];
    assert_eq!(one["id"], 1);
    assert_eq!(one["at"], "2050-12-31T22:59:57.15015Z");
    let store = run.outputs("store");
    assert_eq!(store["size"], 2);
    let ion = std::fs::read_to_string(run.file(store["uri"].as_str().unwrap())).unwrap();
    assert_eq!(
        ion.lines().next().unwrap(),
        "{id:1,price:12.50,day:2024-01-31,at:LocalDateTime::\"2050-12-31T22:59:57.15015\",clock:LocalTime::\"04:05:30\",flag:true}"
    );
}

#[tokio::test]
async fn scripts_commit_or_roll_back_and_batches_insert() {
    let server = start();
    let ion = std::env::temp_dir().join(format!(
        "runner-mysql-{}.ion",
        runner_core::ids::random_u64()
    ));
    let mut rows = String::new();
    for i in 1..=2500 {
        rows.push_str(&format!(
            "{{id:{i},name:\"user {i}\",joined:2024-01-02T03:04:05Z}}\n"
        ));
    }
    std::fs::write(&ion, rows).unwrap();
    let tasks = r#"  - id: setup
    type: io.kestra.plugin.jdbc.mariadb.Queries
    url: URL_MARIADB
    AUTH
    sql: |
      CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(40), joined DATETIME);
      CREATE TABLE audit (event VARCHAR(20) NOT NULL);
  - id: load
    type: io.kestra.plugin.jdbc.mysql.Batch
    url: URL_MYSQL
    AUTH
    from: "{{ inputs.file }}"
    table: users
    chunk: 1000
  - id: failing
    type: io.kestra.plugin.jdbc.mariadb.Queries
    url: URL_MARIADB
    AUTH
    allowFailure: true
    sql: |
      INSERT INTO audit VALUES ('first');
      INSERT INTO audit VALUES (NULL);
  - id: autocommit
    type: io.kestra.plugin.jdbc.mariadb.Queries
    url: URL_MARIADB
    AUTH
    allowFailure: true
    transaction: false
    sql: |
      INSERT INTO audit VALUES ('kept');
      INSERT INTO audit VALUES (NULL);
  - id: check
    type: io.kestra.plugin.jdbc.mysql.Queries
    url: URL_MYSQL
    AUTH
    fetchType: FETCH
    sql: |
      SELECT event FROM audit;
      SELECT count(*) AS n, max(name) AS last, min(joined) AS first FROM users WHERE id > :min;
    parameters:
      min: 2000
"#;
    let run = run(&server, tasks, &[("file", ion.to_str().unwrap())]).await;
    let _ = std::fs::remove_file(&ion);
    assert_eq!(run.state, State::Warning, "{}", run.logs);
    assert_eq!(
        run.outputs("load"),
        json!({"rowCount": 2500, "updatedCount": 2500})
    );
    assert!(
        run.logs
            .contains("Successfully executed 3 bulk queries and updated 2500 rows"),
        "{}",
        run.logs
    );
    assert!(
        run.logs
            .contains("MariaDB error 1048 (23000): Column 'event' cannot be null"),
        "{}",
        run.logs
    );
    let outputs = &run.outputs("check")["outputs"];
    // The failed script's first insert was rolled back; without a transaction it stayed.
    assert_eq!(outputs[0]["rows"], json!([{"event": "kept"}]));
    assert_eq!(
        outputs[1]["rows"],
        json!([{"n": 500, "last": "user 2500", "first": "2024-01-02T03:04:05"}])
    );
}

#[tokio::test]
async fn errors_say_what_and_where() {
    let server = start();
    let port = server.port;
    let tasks = r#"  - id: two
    type: io.kestra.plugin.jdbc.mysql.Query
    url: URL_MYSQL
    AUTH
    allowFailure: true
    sql: SELECT 1; SELECT 2
  - id: syntax
    type: io.kestra.plugin.jdbc.mariadb.Query
    url: URL_MARIADB
    AUTH
    allowFailure: true
    sql: SELEC 1
  - id: infile
    type: io.kestra.plugin.jdbc.mariadb.Queries
    url: URL_MARIADB
    AUTH
    inputFile: "a,1\nb,2\n"
    fetchType: FETCH
    sql: |
      CREATE TABLE kv (k VARCHAR(5), v INT);
      LOAD DATA LOCAL INFILE '{{ inputFile }}' INTO TABLE kv FIELDS TERMINATED BY ',';
      SELECT k, v FROM kv ORDER BY k;
  - id: other_file
    type: io.kestra.plugin.jdbc.mariadb.Query
    url: URL_MARIADB
    AUTH
    allowFailure: true
    sql: LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE kv
"#;
    let r = run(&server, tasks, &[]).await;
    assert!(r.logs.contains("Query task support only a single SQL statement. Use the Queries task to run multiple statements."), "{}", r.logs);
    assert!(
        r.logs
            .contains("MariaDB error 1064 (42000): You have an error in your SQL syntax"),
        "{}",
        r.logs
    );
    assert_eq!(
        r.outputs("infile")["outputs"][0]["rows"],
        json!([{"k": "a", "v": 1}, {"k": "b", "v": 2}])
    );
    // The server asked for a file other than `inputFile`: the client refused to send it.
    assert_eq!(
        r.outputs("other_file"),
        serde_json::Value::Null,
        "{}",
        r.logs
    );
    assert!(r.logs.contains("[other_file]"), "{}", r.logs);
    assert!(!r.logs.contains("root:x:0:0"), "{}", r.logs);
    assert!(
        r.logs
            .contains("LOAD DATA LOCAL INFILE may read only the task's `{{ inputFile }}`"),
        "{}",
        r.logs
    );
    // A wrong password: refused, the password not quoted.
    let yaml = format!(
        "id: f\nnamespace: t\ntasks:\n  - id: q\n    type: io.kestra.plugin.jdbc.mysql.Query\n    url: jdbc:mysql://127.0.0.1:{port}/shop\n    username: app\n    password: wrong-Pa55\n    sql: SELECT 1\n"
    );
    let r = run_flow_with(&[runner_mysql::TASKS], &yaml, &[], &[]).await;
    assert_eq!(r.state, State::Failed);
    assert!(
        r.logs
            .contains("refused the login: Access denied for user 'app'"),
        "{}",
        r.logs
    );
    assert!(!r.logs.contains("wrong-Pa55"));
    let yaml = yaml.replace(&format!("127.0.0.1:{port}"), "169.254.169.254:3306");
    let r = run_flow_with(&[runner_mysql::TASKS], &yaml, &[], &[]).await;
    assert_eq!(r.state, State::Failed);
    assert!(
        r.logs.contains("link-local address 169.254.169.254"),
        "{}",
        r.logs
    );
}

#[test]
fn a_url_of_another_database_fails_validation() {
    let registry = runner_core::Registry::new(&[runner_mysql::TASKS]);
    let yaml = "id: f\nnamespace: t\ntasks:\n  - id: q\n    type: io.kestra.plugin.jdbc.mysql.Query\n    url: jdbc:postgresql://localhost/db\n    sql: SELECT 1\n";
    let doc = runner_model::load_str(yaml).unwrap().remove(0);
    let v = runner_core::validate(&doc, &registry, &runner_template::Renderer::new());
    let problems: Vec<String> = v
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.problem.to_string())
        .collect();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("URL scheme is invalid. URL should start with `jdbc:mysql`")),
        "{problems:?}"
    );
}
