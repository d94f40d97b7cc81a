//! Query and Queries against SQLite itself (in this process): types by declared type, files,
//! databases kept and reopened, errors, cancellation.

use runner_testkit::{Run, run_flow};
use serde_json::{Value as Json, json};
use std::time::{Duration, Instant};

async fn run(yaml: &str) -> Run {
    run_flow(
        &[
            runner_core::TASKS,
            runner_core_tasks::TASKS,
            runner_sqlite::TASKS,
        ],
        yaml,
    )
    .await
}

fn flow(kind: &str, extra: &str) -> String {
    format!(
        "id: lite\nnamespace: company.team\ntasks:\n  - id: q\n    type: io.kestra.plugin.jdbc.sqlite.{kind}\n{extra}"
    )
}

fn errors(r: &Run) -> String {
    r.logs
        .lines()
        .filter(|l| l.contains("ERROR"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Kestra's SqliteTest table, in short: every declared type its converter knows.
const TABLE: &str = r#"    sql: |
      CREATE TABLE lite_types (
        id INTEGER, flag BOOLEAN, price REAL, label TEXT, raw BLOB, doc JSON,
        d DATE, dt DATETIME, ts TIMESTAMP, t TIME, n NUMERIC);
      INSERT INTO lite_types VALUES (1, 1, 12.5, 'Ada', x'DEADBEEF', '{"a": 1}',
        '2023-10-30', '2023-10-30 22:59:57.150150', '2023-10-30T22:59:57+01:00', '12:34:56', NULL);
      SELECT * FROM lite_types;
"#;

#[tokio::test]
async fn fetch_converts_by_declared_type_as_kestra_does() {
    let r = run(&flow(
        "Queries",
        &format!("{TABLE}    fetchType: FETCH\n    timeZoneId: Europe/Paris\n"),
    ))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let out = r.outputs("q");
    assert_eq!(
        out["outputs"],
        json!([{"row": null, "rows": [{
            "id": 1, "flag": 1, "price": 12.5, "label": "Ada", "raw": "3q2+7w==",
            "doc": "{\"a\": 1}", "d": "2023-10-30",
            "dt": "2023-10-30T21:59:57.150150Z", "ts": "2023-10-30T21:59:57Z",
            "t": "12:34:56", "n": null
        }], "size": 1}])
    );
    assert!(
        out.get("outputFiles").is_none(),
        "omitted when none, as in Kestra"
    );
}

#[tokio::test]
async fn store_writes_kestra_ion() {
    let r = run(&flow(
        "Queries",
        &format!("{TABLE}    fetchType: STORE\n    timeZoneId: Europe/Paris\n"),
    ))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let out = &r.outputs("q")["outputs"][0];
    assert_eq!(out["size"], 1);
    let text = std::fs::read_to_string(r.file(out["uri"].as_str().unwrap())).unwrap();
    assert_eq!(
        text,
        "{id:1,flag:1,price:1.25e1,label:\"Ada\",raw:{{3q2+7w==}},doc:\"{\\\"a\\\": 1}\",d:2023-10-30,dt:2023-10-30T21:59:57.150Z,ts:2023-10-30T21:59:57.000Z,t:LocalTime::\"12:34:56\",n:null}\n"
    );
}

#[tokio::test]
async fn a_database_is_kept_reopened_and_rolled_back_on_error() {
    let yaml = r#"id: lite
namespace: company.team
tasks:
  - id: build
    type: io.kestra.plugin.jdbc.sqlite.Queries
    url: jdbc:sqlite:shop.sqlite
    outputDbFile: true
    sql: |
      CREATE TABLE orders (id INTEGER PRIMARY KEY, amount REAL);
      INSERT INTO orders (amount) VALUES (12.5), (7.25);
  - id: failing
    type: io.kestra.plugin.jdbc.sqlite.Queries
    sqliteFile: "{{ outputs.build.databaseUri }}"
    allowFailure: true
    sql: |
      INSERT INTO orders (amount) VALUES (1);
      INSERT INTO nowhere VALUES (1);
  - id: read
    type: io.kestra.plugin.jdbc.sqlite.Query
    sqliteFile: "{{ outputs.build.databaseUri }}"
    sql: SELECT count(*) AS n, sum(amount) AS total FROM orders WHERE amount > :min
    parameters:
      min: 1
    fetchType: FETCH_ONE
"#;
    let r = run(yaml).await;
    assert_eq!(r.state.as_str(), "WARNING", "{}", r.logs);
    let kept = r.outputs("build")["databaseUri"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(kept.ends_with("/shop.sqlite"), "{kept}");
    assert!(
        r.logs.contains("SQLite: no such table: nowhere"),
        "{}",
        r.logs
    );
    assert_eq!(r.outputs("read")["row"], json!({"n": 2, "total": 19.75}));
    assert_eq!(r.outputs("read")["size"], 1);
}

#[tokio::test]
async fn errors_name_what_is_wrong() {
    let r = run(&flow("Query", "    sql: SELEC 1\n")).await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        errors(&r).contains("SQLite: near \"SELEC\": syntax error"),
        "{}",
        r.logs
    );

    let r = run(&flow(
        "Query",
        "    url: \"jdbc:duckdb:\"\n    sql: SELECT 1\n",
    ))
    .await;
    assert!(
        errors(&r).contains("URL scheme is invalid. URL should start with `jdbc:sqlite`"),
        "{}",
        r.logs
    );

    let yaml = "id: lite\nnamespace: company.team\ntasks:\n  - id: w\n    type: io.kestra.plugin.core.storage.Write\n    content: not a database at all, but long enough to be read as one by mistake\n  - id: q\n    type: io.kestra.plugin.jdbc.sqlite.Query\n    sqliteFile: \"{{ outputs.w.uri }}\"\n    sql: SELECT 1\n";
    let r = run(yaml).await;
    assert_eq!(r.state.as_str(), "FAILED");
    let e = errors(&r);
    assert!(e.contains("`sqliteFile` (kestra:///"), "{}", r.logs);
    assert!(e.contains("is not a SQLite database"), "{}", r.logs);

    let r = run(&flow(
        "Query",
        "    sql: SELECT 'yesterday' AS v\n    fetchType: FETCH\n",
    ))
    .await;
    assert_eq!(r.outputs("q")["rows"], json!([{"v": "yesterday"}]));
    let r = run(&flow(
        "Queries",
        "    sql: |\n      CREATE TABLE e (at DATETIME);\n      INSERT INTO e VALUES ('yesterday');\n      SELECT at FROM e;\n    fetchType: FETCH\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        errors(&r).contains("column `at`: Unsupported SQLite datetime format: yesterday"),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn a_timeout_interrupts_a_long_query() {
    let started = Instant::now();
    let r = run(&flow(
        "Query",
        "    timeout: PT1S\n    sql: WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000000000) SELECT count(*) AS n FROM c\n    fetchType: FETCH_ONE\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "FAILED", "{}", r.logs);
    assert!(r.logs.contains("Timeout after 0:00:01"), "{}", r.logs);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r.outputs("q"), Json::Null);
}
