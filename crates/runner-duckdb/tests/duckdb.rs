//! Query and Queries against DuckDB itself (in this process): types, files, databases, errors.

use runner_testkit::{Run, run_flow};
use serde_json::{Value as Json, json};
use std::path::Path;

async fn run(yaml: &str) -> Run {
    run_flow(
        &[
            runner_core::TASKS,
            runner_core_tasks::TASKS,
            runner_duckdb::TASKS,
        ],
        yaml,
    )
    .await
}

/// A flow of one DuckDB task; `extra` is the task's YAML, indented by four spaces.
fn flow(kind: &str, extra: &str) -> String {
    format!(
        "id: duck\nnamespace: company.team\ntasks:\n  - id: q\n    type: io.kestra.plugin.jdbc.duckdb.{kind}\n{extra}"
    )
}

fn error_line(r: &Run) -> String {
    r.logs
        .lines()
        .filter(|l| l.contains("ERROR"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every file under `dir` whose name ends with `ext`.
fn files_with(dir: &Path, ext: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(ext) {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

#[test]
fn the_library_is_duckdb_1_5_5() {
    // The crate's bindings, the library and Kestra's driver must agree.
    assert_eq!(runner_duckdb::duckdb_version(), "v1.5.5");
}

const TYPES_SQL: &str = r#"    sql: |
      SELECT
        true AS b, 42::TINYINT AS ti, 32767::SMALLINT AS si, 2147483647 AS i,
        9223372036854775807::BIGINT AS bi, 255::UTINYINT AS uti, 4294967295::UINTEGER AS ui,
        18446744073709551615::UBIGINT AS ubi, 170141183460469231731687303715884105727::HUGEINT AS hi,
        1.5::FLOAT AS f, 123.456::DOUBLE AS d, 12345.123::DECIMAL(10,3) AS dec, -0.05::DECIMAL(4,2) AS small,
        'hé "x"' AS s, DATE '1992-09-20' AS dt, TIME '12:34:56.5' AS t,
        TIMESTAMP '2020-06-10 15:55:23.383345' AS ts, TIMESTAMPTZ '2001-08-22 03:04:05.321+00' AS tstz,
        INTERVAL 28 DAY AS iv, INTERVAL '1 year 2 months 3 seconds' AS iv2,
        '5d2b8e43-3c6a-4d8e-9a1f-2f1c7a9b0e11'::UUID AS u,
        [1, 2, 3] AS l, [[1], [2, NULL]] AS ll, {'a': 1, 'b': 'x'} AS st,
        MAP {'k1': 10, 'k2': 20} AS m, '\xDE\xAD'::BLOB AS bl, '{"x": [1, 2]}'::JSON AS j,
        '101'::BIT AS bit, [1.5, 2.5]::DOUBLE[2] AS arr, NULL AS n,
        [DATE '2020-01-01'] AS ld, {'when': TIMESTAMP '2020-01-01 00:00:00'} AS sts,
        union_value(num := 2) AS un, 'sad'::ENUM('sad', 'ok', 'happy') AS mood
"#;

#[tokio::test]
async fn fetch_one_maps_every_type_as_kestra_does() {
    let r = run(&flow(
        "Query",
        &format!("{TYPES_SQL}    fetchType: FETCH_ONE\n    timeZoneId: Europe/Paris\n"),
    ))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let out = r.outputs("q");
    assert_eq!(out["size"], 1);
    let row = &out["row"];
    assert_eq!(row["b"], true);
    assert_eq!(row["ti"], 42);
    assert_eq!(row["si"], 32767);
    assert_eq!(row["i"], 2147483647);
    assert_eq!(row["bi"], 9223372036854775807i64);
    assert_eq!(row["uti"], 255);
    assert_eq!(row["ui"], 4294967295u64);
    // Kestra: BigInteger, then its text.
    assert_eq!(row["ubi"], "18446744073709551615");
    assert_eq!(row["hi"], "170141183460469231731687303715884105727");
    assert_eq!(row["f"].as_f64(), Some(1.5));
    assert_eq!(row["d"].as_f64(), Some(123.456));
    assert_eq!(row["dec"].as_f64(), Some(12345.123));
    assert_eq!(row["small"].as_f64(), Some(-0.05));
    assert_eq!(row["s"], "hé \"x\"");
    assert_eq!(row["dt"], "1992-09-20");
    assert_eq!(row["t"], "12:34:56.5");
    // TIMESTAMP: the wall clock in timeZoneId (15:55 in Paris), written as the instant.
    assert_eq!(row["ts"], "2020-06-10T13:55:23.383345Z");
    assert_eq!(row["tstz"], "2001-08-22T03:04:05.321Z");
    assert_eq!(row["iv"], "28 days");
    assert_eq!(row["iv2"], "1 year 2 months 00:00:03");
    assert_eq!(row["u"], "5d2b8e43-3c6a-4d8e-9a1f-2f1c7a9b0e11");
    assert_eq!(row["l"], json!([1, 2, 3]));
    assert_eq!(row["ll"], json!([[1], [2, null]]));
    assert_eq!(row["st"], json!({"a": 1, "b": "x"}));
    assert_eq!(row["m"], json!({"k1": 10, "k2": 20}));
    assert_eq!(row["bl"], "3q0=");
    assert_eq!(row["j"], json!({"x": [1, 2]}));
    assert_eq!(row["bit"], "101");
    assert_eq!(row["arr"], json!([1.5, 2.5]));
    assert_eq!(row["n"], Json::Null);
    assert_eq!(row["ld"], json!(["2020-01-01"]));
    assert_eq!(row["sts"], json!({"when": "2019-12-31T23:00:00Z"}));
    assert_eq!(row["un"], 2);
    assert_eq!(row["mood"], "sad");
    let names: Vec<&String> = row.as_object().unwrap().keys().collect();
    assert_eq!(
        names.first().map(|s| s.as_str()),
        Some("b"),
        "column order kept"
    );
    assert_eq!(names.last().map(|s| s.as_str()), Some("mood"));
}

#[tokio::test]
async fn store_writes_kestra_ion_one_row_per_line() {
    let r = run(&flow(
        "Query",
        &format!("{TYPES_SQL}    fetchType: STORE\n    timeZoneId: Europe/Paris\n"),
    ))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let out = r.outputs("q");
    assert_eq!(out["size"], 1);
    let uri = out["uri"].as_str().unwrap();
    assert!(
        uri.starts_with("kestra:///") && uri.ends_with(".ion"),
        "{uri}"
    );
    let text = std::fs::read_to_string(r.file(uri)).unwrap();
    assert_eq!(text.lines().count(), 1);
    for part in [
        "{b:true,ti:42,",
        "ubi:\"18446744073709551615\"",
        "f:1.5e0,d:1.23456e2,dec:12345.123,small:-0.05,",
        "s:\"hé \\\"x\\\"\",dt:1992-09-20,t:LocalTime::\"12:34:56.5\",",
        "ts:ZonedDateTime::\"2020-06-10T15:55:23.383345+02:00[Europe/Paris]\",",
        "tstz:OffsetDateTime::\"2001-08-22T03:04:05.321Z\",",
        "iv:\"28 days\",",
        "l:[1,2,3],ll:[[1],[2,null]],st:{a:1,b:\"x\"},m:{k1:10,k2:20},bl:{{3q0=}},",
        "n:null,",
        "mood:\"sad\"}",
    ] {
        assert!(text.contains(part), "{part} not in {text}");
    }
    // ion-rs reads it back.
    let values: Vec<ion_rs::Element> = ion_rs::Element::read_all(text.as_bytes())
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(values.len(), 1);
}

#[tokio::test]
async fn store_streams_a_large_result_in_blocks() {
    let r = run(&flow(
        "Query",
        "    sql: SELECT range AS id, 'row ' || range AS label FROM range(300000)\n    fetchType: STORE\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let out = r.outputs("q");
    assert_eq!(out["size"], 300000);
    let text = std::fs::read_to_string(r.file(out["uri"].as_str().unwrap())).unwrap();
    assert_eq!(text.lines().count(), 300000);
    assert_eq!(text.lines().next(), Some("{id:0,label:\"row 0\"}"));
    assert_eq!(
        text.lines().last(),
        Some("{id:299999,label:\"row 299999\"}")
    );
}

#[tokio::test]
async fn input_files_and_working_dir_feed_duckdb_and_output_files_are_kept() {
    let yaml = r#"id: duck
namespace: company.team
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: "sku,price\na,1.5\nb,2.5\n"
    extension: .csv
  - id: q
    type: io.kestra.plugin.jdbc.duckdb.Query
    inputFiles:
      orders.csv: |
        product,quantity
        apple,3
        pear,5
        apple,4
      prices.csv: "{{ outputs.write.uri }}"
    outputFiles:
      - totals.parquet
    sql: |
      COPY (SELECT product, sum(quantity) AS total
            FROM read_csv_auto('{{ workingDir }}/orders.csv', header = true)
            GROUP BY product ORDER BY total DESC) TO '{{ outputFiles["totals.parquet"] }}' (FORMAT parquet)
  - id: read
    type: io.kestra.plugin.jdbc.duckdb.Query
    inputFiles:
      totals.parquet: "{{ outputs.q.outputFiles['totals.parquet'] }}"
      prices.csv: "{{ outputs.write.uri }}"
    sql: |
      SELECT t.product, t.total, (SELECT sum(price) FROM read_csv_auto('prices.csv')) AS prices
      FROM read_parquet('totals.parquet') t ORDER BY t.total DESC
    fetchType: FETCH
"#;
    let r = run(yaml).await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let q = r.outputs("q");
    assert_eq!(q["row"], Json::Null);
    assert!(q.get("size").is_none(), "no result set, no size: {q}");
    let kept = q["outputFiles"]["totals.parquet"].as_str().unwrap();
    assert!(
        kept.contains("totals.parquet_") && kept.ends_with(".tmp"),
        "{kept}"
    );
    assert!(std::fs::metadata(r.file(kept)).unwrap().len() > 0);
    let read = r.outputs("read");
    assert_eq!(
        read["rows"],
        json!([
            // The HUGEINT sum went through Parquet as a DOUBLE.
            {"product": "apple", "total": 7.0, "prices": 4.0},
            {"product": "pear", "total": 5.0, "prices": 4.0}
        ])
    );
    assert_eq!(read["size"], 2);
    assert_eq!(read["outputFiles"], json!({}));
}

#[tokio::test]
async fn queries_give_one_output_per_result_set_in_one_transaction() {
    let r = run(&flow(
        "Queries",
        "    sql: |\n      CREATE TABLE t AS SELECT range AS id FROM range(5);\n      INSERT INTO t VALUES (10);\n      SELECT count(*) AS n FROM t;\n      SELECT max(id) AS top FROM t;\n    fetchType: FETCH_ONE\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let out = r.outputs("q");
    assert_eq!(
        out["outputs"],
        json!([{"row": {"n": 6}, "size": 1}, {"row": {"top": 10}, "size": 1}])
    );
    assert_eq!(out["outputFiles"], json!({}));
    assert!(out.get("databaseUri").is_none());

    // A failing statement rolls back the whole script.
    let dir = tempdir();
    let db = dir.join("tx.db");
    let r = run(&flow(
        "Queries",
        &format!("    url: jdbc:duckdb:{}\n    sql: |\n      CREATE TABLE t (id INT);\n      INSERT INTO t VALUES (1);\n      INSERT INTO t VALUES ('not a number');\n", db.display()),
    ))
    .await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        error_line(&r).contains("Could not convert string 'not a number' to INT32"),
        "{}",
        r.logs
    );
    let r = run(&flow(
        "Query",
        &format!("    url: jdbc:duckdb:{}\n    sql: SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 't'\n    fetchType: FETCH_ONE\n", db.display()),
    ))
    .await;
    assert_eq!(r.outputs("q")["row"]["n"], 0, "rolled back: {}", r.logs);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn none_reads_nothing_and_queries_say_so() {
    let r = run(&flow(
        "Queries",
        "    sql: SELECT 1 AS a; SELECT 2 AS b\n    fetchType: NONE\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert_eq!(
        r.outputs("q")["outputs"],
        json!([{"row": null}, {"row": null}])
    );
    assert!(
        r.logs
            .contains("fetchType is set to NONE, no output will be returned")
    );
    let r = run(&flow("Query", "    sql: SELECT 1 AS a\n")).await;
    assert_eq!(r.outputs("q")["row"], Json::Null);
    assert_eq!(r.outputs("q")["outputFiles"], json!({}));
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "runner-duckdb-test-{}",
        runner_core::ids::friendly_id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[tokio::test]
async fn a_database_file_is_shared_by_the_tasks_of_a_flow_and_kept() {
    let dir = tempdir();
    let db = dir.join("shop.db");
    let yaml = format!(
        r#"id: duck
namespace: company.team
tasks:
  - id: create
    type: io.kestra.plugin.jdbc.duckdb.Queries
    url: jdbc:duckdb:{db}
    sql: |
      CREATE TABLE orders AS SELECT range AS id, range * 2 AS amount FROM range(10);
  - id: both
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: add_a
        type: io.kestra.plugin.jdbc.duckdb.Query
        url: jdbc:duckdb:{db}
        sql: INSERT INTO orders VALUES (100, 1)
      - id: add_b
        type: io.kestra.plugin.jdbc.duckdb.Query
        url: jdbc:duckdb:{db}
        sql: INSERT INTO orders VALUES (101, 1)
  - id: total
    type: io.kestra.plugin.jdbc.duckdb.Query
    url: jdbc:duckdb:{db}
    sql: SELECT count(*) AS n, sum(amount) AS s FROM orders
    fetchType: FETCH_ONE
    outputDbFile: true
  - id: reopen
    type: io.kestra.plugin.jdbc.duckdb.Query
    databaseUri: "{{{{ outputs.total.databaseUri }}}}"
    sql: SELECT count(*) AS n FROM orders
    fetchType: FETCH_ONE
"#,
        db = db.display()
    );
    let r = run(&yaml).await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    // sum() of BIGINT is a HUGEINT: text, as Kestra gives a BigInteger.
    assert_eq!(r.outputs("total")["row"], json!({"n": 12, "s": "92"}));
    let kept = r.outputs("total")["databaseUri"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(kept.ends_with("/shop.db"), "{kept}");
    assert_eq!(r.outputs("reopen")["row"], json!({"n": 12}));
    assert!(db.exists(), "the flow's own file stays where it is");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn parameters_and_after_sql() {
    let dir = tempdir();
    let db = dir.join("p.db");
    let r = run(&flow(
        "Queries",
        &format!(
            "    url: jdbc:duckdb:{}\n    sql: CREATE TABLE t (id INT, name TEXT, ts TIMESTAMP)\n",
            db.display()
        ),
    ))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let r = run(&flow(
        "Query",
        &format!(
            "    url: jdbc:duckdb:{}\n    sql: \"INSERT INTO t SELECT :id, :name, '2020-01-01 10:30:00'::TIMESTAMP\"\n    afterSQL: \"INSERT INTO t VALUES (:id + 1, 'after', NULL)\"\n    parameters:\n      id: 7\n      name: \"it's\"\n",
            db.display()
        ),
    ))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let r = run(&flow(
        "Query",
        &format!("    url: jdbc:duckdb:{}\n    sql: SELECT id, name, ts::VARCHAR AS ts FROM t ORDER BY id\n    fetchType: FETCH\n", db.display()),
    ))
    .await;
    assert_eq!(
        r.outputs("q")["rows"],
        json!([
            {"id": 7, "name": "it's", "ts": "2020-01-01 10:30:00"},
            {"id": 8, "name": "after", "ts": null}
        ])
    );
    // A name the SQL uses and the parameters lack.
    let r = run(&flow(
        "Query",
        "    sql: SELECT :missing AS x\n    parameters:\n      other: 1\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        error_line(&r).contains("`:missing` is used in the SQL but `parameters` has no `missing`"),
        "{}",
        r.logs
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn errors_say_what_is_wrong() {
    // A syntax error, with the position DuckDB reports.
    let r = run(&flow("Query", "    sql: SELECT 1 FORM t\n")).await;
    assert_eq!(r.state.as_str(), "FAILED");
    let e = error_line(&r);
    assert!(
        e.contains("Parser Error: syntax error at or near \"t\""),
        "{}",
        r.logs
    );
    assert!(r.logs.contains("LINE 1: SELECT 1 FORM t"), "{}", r.logs);

    // Two statements in Query.
    let r = run(&flow("Query", "    sql: SELECT 1; SELECT 2\n")).await;
    assert!(
        error_line(&r).contains("Query task support only a single SQL statement. Use the Queries task to run multiple statements."),
        "{}",
        r.logs
    );

    // A bad URL.
    let r = run(&flow(
        "Query",
        "    url: jdbc:postgresql://x\n    sql: SELECT 1\n",
    ))
    .await;
    assert!(
        error_line(&r).contains("URL scheme is invalid. URL should start with `jdbc:duckdb`"),
        "{}",
        r.logs
    );

    // A file that is not relative to the working directory's files.
    let r = run(&flow(
        "Query",
        "    sql: SELECT * FROM read_csv_auto('nothere.csv')\n",
    ))
    .await;
    assert!(error_line(&r).contains("nothere.csv"), "{}", r.logs);
    assert!(
        r.logs.contains("put the file there with `inputFiles`"),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn an_unreadable_database_uri_names_the_property() {
    let yaml = r#"id: duck
namespace: company.team
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: "this is not a database\n"
    extension: .db
  - id: q
    type: io.kestra.plugin.jdbc.duckdb.Query
    databaseUri: "{{ outputs.write.uri }}"
    sql: SELECT 1
"#;
    let r = run(yaml).await;
    assert_eq!(r.state.as_str(), "FAILED");
    let e = error_line(&r);
    assert!(e.contains("`databaseUri` (kestra:///"), "{}", r.logs);
    assert!(e.contains("DuckDB cannot open the database"), "{}", r.logs);
    let r = run(&flow(
        "Query",
        "    databaseUri: kestra:///company/team/duck/nothing.db\n    sql: SELECT 1\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        error_line(&r)
            .contains("`databaseUri`: cannot read `kestra:///company/team/duck/nothing.db`"),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn a_store_that_fails_midway_leaves_no_file() {
    let r = run(&flow(
        "Query",
        "    sql: SELECT CASE WHEN range < 200000 THEN range ELSE error('boom at ' || range) END AS v FROM range(1000000)\n    fetchType: STORE\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "FAILED");
    // DuckDB's worker threads race to the error: the thread that raises it stops the others,
    // and now and then the result reports a stopped thread's interruption instead of it.
    let error = error_line(&r);
    assert!(
        error.contains("boom at") || error.contains("INTERRUPT Error: Interrupted!"),
        "{}",
        r.logs
    );
    assert_eq!(files_with(&r.storage, ".ion"), Vec::<String>::new());
}

#[tokio::test]
async fn a_missing_extension_says_what_to_do() {
    // No network here for DuckDB's extension repository: its error, and what to do.
    let r = run(&flow(
        "Query",
        "    sql: SET custom_extension_repository = 'http://127.0.0.1:9/ext'\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let r = run(&flow(
        "Queries",
        "    sql: |\n      SET custom_extension_repository = 'http://127.0.0.1:9/ext';\n      INSTALL httpfs;\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "FAILED");
    let e = error_line(&r);
    assert!(e.contains("httpfs"), "{}", r.logs);
    assert!(
        r.logs.contains("INSTALL '/path/<name>.duckdb_extension'"),
        "{}",
        r.logs
    );
}
