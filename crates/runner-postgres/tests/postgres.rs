//! Query and Queries against a real PostgreSQL with password authentication.

use runner_testkit::{Postgres, Run, run_flow};
use serde_json::{Value as Json, json};

const COLUMNS: &str = "concert_id, available, a, b, c, d, play_time, library_record, floatn_test, double_test, real_test, numeric_test, date_type, time_type, timez_type, timestamp_type, timestampz_type, interval_type, pay_by_quarter, schedule, json_type, jsonb_type, blob_type, tsvector_col, hstore_type";

async fn server_with_types() -> Postgres {
    let pg = Postgres::start().await;
    pg.client()
        .await
        .batch_execute(include_str!("fixtures.sql"))
        .await
        .expect("fixtures load");
    pg
}

/// A flow with one PostgreSQL task; `extra` is indented YAML for the task.
fn flow(pg: &Postgres, kind: &str, extra: &str) -> String {
    format!(
        "id: pg\nnamespace: company.team\ntasks:\n  - id: q\n    type: io.kestra.plugin.jdbc.postgresql.{kind}\n    url: {}\n    username: {}\n    password: {}\n{extra}",
        pg.jdbc_url(),
        pg.user,
        pg.password
    )
}

async fn run(yaml: &str) -> Run {
    run_flow(
        &[
            runner_core::TASKS,
            runner_core_tasks::TASKS,
            runner_postgres::TASKS,
        ],
        yaml,
    )
    .await
}

/// Kestra's asserted values (its PgsqlTest.checkRow), in our output form.
fn check_row(row: &Json, id: i64) {
    assert_eq!(row["concert_id"], id);
    assert_eq!(row["available"], true);
    assert_eq!(row["a"], "four");
    assert_eq!(row["b"], "This is a varchar");
    assert_eq!(row["c"], "This is a text column data");
    assert_eq!(row["d"], Json::Null);
    assert_eq!(row["play_time"], 32767);
    assert_eq!(row["library_record"], 9223372036854775807i64);
    assert_eq!(row["floatn_test"].as_f64(), Some(9.223372036854776e18));
    assert_eq!(row["double_test"].as_f64(), Some(9.223372036854776e18));
    assert_eq!(row["real_test"].as_f64(), Some(9.223372e18));
    assert_eq!(row["numeric_test"].as_f64(), Some(2147483645.1234));
    assert_eq!(row["date_type"], "2030-12-25");
    assert_eq!(row["time_type"], "04:05:30");
    assert_eq!(
        row["timez_type"], "13:05:06",
        "04:05:06 PST seen in Europe/Paris on 1970-01-01"
    );
    assert_eq!(row["timestamp_type"], "2004-10-19T10:23:54.999999");
    assert_eq!(row["timestampz_type"], "2004-10-19T06:23:54.25Z");
    assert_eq!(row["interval_type"], "P10Y4M5DT0H0M10S");
    assert_eq!(row["pay_by_quarter"], json!([100, 200, 300]));
    assert_eq!(
        row["schedule"],
        json!([["meeting", "lunch"], ["training", "presentation"]])
    );
    assert_eq!(row["json_type"], json!({"color": "red", "value": "#f00"}));
    assert_eq!(row["jsonb_type"], json!({"color": "blue", "value": "#0f0"}));
    assert_eq!(row["blob_type"], "3q2+7w==");
    assert_eq!(
        row["tsvector_col"],
        "'brown':4 'dice':2 'dog':9 'fox':5 'fuzzi':1 'jump':6 'lazi':8 'quick':3"
    );
    assert_eq!(row["hstore_type"], json!({"foo": "bar", "hello": "world"}));
}

#[tokio::test]
async fn fetch_one_and_fetch_convert_every_column() {
    let pg = server_with_types().await;
    let r = run(&flow(&pg, "Query", &format!("    sql: select {COLUMNS} from pgsql_types order by concert_id\n    fetchType: FETCH_ONE\n    timeZoneId: Europe/Paris\n"))).await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let out = r.outputs("q");
    assert_eq!(out["size"], 1);
    check_row(&out["row"], 1);

    let r = run(&flow(&pg, "Query", &format!("    sql: select {COLUMNS} from pgsql_types order by concert_id\n    fetchType: FETCH\n    timeZoneId: Europe/Paris\n"))).await;
    let out = r.outputs("q");
    assert_eq!(out["size"], 2);
    assert_eq!(out["row"], Json::Null);
    check_row(&out["rows"][0], 1);
    check_row(&out["rows"][1], 2);
}

#[tokio::test]
async fn store_writes_kestra_ion_one_row_per_line() {
    let pg = server_with_types().await;
    let r = run(&flow(&pg, "Query", &format!("    sql: select {COLUMNS} from pgsql_types order by concert_id\n    fetchType: STORE\n    timeZoneId: Europe/Paris\n"))).await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let out = r.outputs("q");
    assert_eq!(out["size"], 2);
    let uri = out["uri"].as_str().unwrap();
    assert!(
        uri.starts_with(&format!(
            "kestra:///company/team/pg/executions/{}/tasks/q/",
            r.record["id"].as_str().unwrap()
        )) && uri.ends_with(".ion"),
        "{uri}"
    );
    let text = std::fs::read_to_string(r.file(uri)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    let first = lines[0];
    for fragment in [
        "{concert_id:1,available:true,a:\"four\",b:\"This is a varchar\"",
        "d:null,play_time:32767,library_record:9223372036854775807,floatn_test:9.223372036854776e18",
        "real_test:9.223372036854776e18",
        "numeric_test:2147483645.1234,date_type:2030-12-25,time_type:LocalTime::\"04:05:30\",timez_type:LocalTime::\"13:05:06\"",
        "timestamp_type:LocalDateTime::\"2004-10-19T10:23:54.999999\"",
        "timestampz_type:ZonedDateTime::\"2004-10-19T08:23:54.25+02:00[Europe/Paris]\"",
        "interval_type:\"P10Y4M5DT0H0M10S\",pay_by_quarter:[100,200,300],schedule:[[\"meeting\",\"lunch\"],[\"training\",\"presentation\"]]",
        "json_type:{color:\"red\",value:\"#f00\"}",
        "blob_type:{{3q2+7w==}}",
        "hstore_type:{foo:\"bar\",hello:\"world\"}}",
    ] {
        assert!(first.contains(fragment), "missing `{fragment}` in\n{first}");
    }
    // Read back with the Ion reader, value by value.
    let rows = runner_ion::parse(&text).unwrap();
    assert_eq!(rows[1]["concert_id"], 2);
    assert_eq!(rows[0]["numeric_test"].as_f64(), Some(2147483645.1234));
    assert_eq!(
        rows[0]["timestampz_type"],
        "2004-10-19T08:23:54.25+02:00[Europe/Paris]"
    );
    assert_eq!(rows[0]["blob_type"], "3q2+7w==");
}

#[tokio::test]
async fn edge_values_void_empty_and_unsupported() {
    let pg = server_with_types().await;
    let r = run(&flow(&pg, "Query", "    sql: select concert_id from pgsql_types where b = 'random'\n    fetchType: FETCH_ONE\n")).await;
    assert_eq!(r.outputs("q"), json!({"row": null, "size": 0}));
    let r = run(&flow(&pg, "Query", "    sql: SELECT 'someString' as stringvalue, pg_sleep(0) as voidvalue\n    fetchType: FETCH_ONE\n")).await;
    assert_eq!(
        r.outputs("q")["row"],
        json!({"stringvalue": "someString", "voidvalue": null})
    );
    let r = run(&flow(
        &pg,
        "Query",
        "    sql: select item from pgsql_types\n    fetchType: FETCH_ONE\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        r.logs
            .contains("PGobject of type [inventory_item] is not supported"),
        "{}",
        r.logs
    );
    let r = run(&flow(
        &pg,
        "Query",
        "    sql: select '10.0.0.1'::inet as ip\n    fetchType: FETCH\n",
    ))
    .await;
    assert!(
        r.logs.contains("PGobject of type [inet] is not supported"),
        "{}",
        r.logs
    );
    let r = run(&flow(
        &pg,
        "Query",
        "    sql: select '[1,2]'::json as j\n    fetchType: FETCH_ONE\n",
    ))
    .await;
    assert!(
        r.logs
            .contains("Invalid data type [json] with value [[1,2]]"),
        "{}",
        r.logs
    );
    let r = run(&flow(&pg, "Query", "    sql: select 1 as one\n")).await;
    assert_eq!(
        r.outputs("q"),
        json!({"row": null}),
        "fetchType NONE fetches nothing"
    );
}

#[tokio::test]
async fn named_parameters_keep_casts_and_quoted_text() {
    let pg = server_with_types().await;
    let r = run(&flow(
        &pg,
        "Query",
        "    sql: \"select :id::int + 1 as next, '2024-01-01'::date as d, ':not_a_param' as t, :name as name, :list::int[] as l\"\n    parameters:\n      id: 41\n      name: Zoë\n      list: [1, 2]\n    fetchType: FETCH_ONE\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert_eq!(
        r.outputs("q")["row"],
        json!({"next": 42, "d": "2024-01-01", "t": ":not_a_param", "name": "Zoë", "l": [1, 2]})
    );
    let r = run(&flow(&pg, "Query", "    sql: select :missing as x\n    parameters:\n      other: 1\n    fetchType: FETCH_ONE\n")).await;
    assert!(
        r.logs
            .contains("`:missing` is used in the SQL but `parameters` has no `missing`"),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn after_sql_commits_with_the_query_or_rolls_back() {
    let pg = server_with_types().await;
    let client = pg.client().await;
    client
        .batch_execute("UPDATE pgsql_types SET b = 'pending'")
        .await
        .unwrap();
    let r = run(&flow(&pg, "Query", "    sql: SELECT b FROM pgsql_types WHERE b = 'pending' LIMIT 1\n    afterSQL: UPDATE pgsql_types SET b = :status\n    parameters:\n      status: processed\n    fetchType: FETCH_ONE\n")).await;
    assert_eq!(r.outputs("q")["row"]["b"], "pending");
    let b: String = client
        .query_one("SELECT b FROM pgsql_types LIMIT 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(b, "processed");

    let r = run(&flow(&pg, "Query", "    sql: UPDATE pgsql_types SET b = 'changed'\n    afterSQL: UPDATE non_existent_table SET x = 'y'\n")).await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        r.logs
            .contains("relation \"non_existent_table\" does not exist (SQLSTATE 42P01)"),
        "{}",
        r.logs
    );
    let b: String = client
        .query_one("SELECT b FROM pgsql_types LIMIT 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(b, "processed", "the failed afterSQL rolled the query back");
}

#[tokio::test]
async fn queries_run_in_one_transaction_and_roll_back_on_error() {
    let pg = server_with_types().await;
    let client = pg.client().await;
    let r = run(&flow(
        &pg,
        "Queries",
        "    sql: |\n      create table t (id int, s text);\n      insert into t values (1, 'a;b'), (2, $$c;d$$); -- a; comment\n      select id, s from t order by id;\n      select count(*) as n from t\n    fetchType: FETCH\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let outs = &r.outputs("q")["outputs"];
    assert_eq!(outs.as_array().unwrap().len(), 2);
    assert_eq!(
        outs[0]["rows"],
        json!([{"id": 1, "s": "a;b"}, {"id": 2, "s": "c;d"}])
    );
    assert_eq!(outs[1]["rows"][0]["n"], 2);

    let r = run(&flow(
        &pg,
        "Queries",
        "    sql: |\n      insert into t values (3, 'x');\n      insert into nope values (1);\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "FAILED");
    let n: i64 = client
        .query_one("select count(*) from t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2, "the whole script rolled back");

    let r = run(&flow(&pg, "Queries", "    transaction: false\n    sql: |\n      insert into t values (4, 'kept');\n      insert into nope values (1);\n")).await;
    assert_eq!(r.state.as_str(), "FAILED");
    let n: i64 = client
        .query_one("select count(*) from t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        n, 3,
        "without a transaction, statements before the error stay"
    );
}

#[tokio::test]
async fn query_refuses_several_statements() {
    let pg = server_with_types().await;
    let r = run(&flow(&pg, "Query", "    sql: select 1; select 2\n")).await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(r.logs.contains("Query task support only a single SQL statement. Use the Queries task to run multiple statements."), "{}", r.logs);
}

#[tokio::test]
async fn errors_say_what_is_wrong_without_the_password() {
    let pg = Postgres::start().await;
    let wrong = flow(&pg, "Query", "    sql: select 1\n").replace(
        &format!("password: {}", pg.password),
        "password: not-the-password-123",
    );
    let r = run(&wrong).await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        r.logs
            .contains("password authentication failed for user \"runner\" (SQLSTATE 28P01)"),
        "{}",
        r.logs
    );
    assert!(
        r.logs.contains("check `username` and `password`"),
        "{}",
        r.logs
    );
    assert!(
        !r.logs.contains("not-the-password-123") && !r.logs.contains(&pg.password),
        "{}",
        r.logs
    );

    let r = run(&flow(&pg, "Query", "    sql: select 1\n")
        .replace(&pg.jdbc_url(), "jdbc:postgresql://127.0.0.1:1/postgres"))
    .await;
    assert!(
        r.logs
            .contains("cannot connect to PostgreSQL at 127.0.0.1:1")
            && r.logs.contains("refused"),
        "{}",
        r.logs
    );

    let r = run(
        &flow(&pg, "Query", "    sql: select 1\n").replace("127.0.0.1", "no-such-host.invalid")
    )
    .await;
    assert!(
        r.logs
            .contains("cannot connect to PostgreSQL at no-such-host.invalid"),
        "{}",
        r.logs
    );

    let r = run(&flow(&pg, "Query", "    sql: select 1\n").replace(
        &pg.jdbc_url(),
        &format!("jdbc:postgresql://127.0.0.1:{}/missing_db", pg.port),
    ))
    .await;
    assert!(
        r.logs.contains("(SQLSTATE 3D000)") && r.logs.contains("the database does not exist"),
        "{}",
        r.logs
    );

    let r = run(&flow(&pg, "Query", "    sql: selec 1\n")).await;
    assert!(r.logs.contains("syntax error at or near \"selec\" (SQLSTATE 42601) at character 1 (line 1, near `selec 1`)"), "{}", r.logs);
}

#[tokio::test]
async fn timeout_cancels_the_query_on_the_server() {
    let pg = Postgres::start().await;
    let r = run(&flow(
        &pg,
        "Query",
        "    sql: select pg_sleep(30)\n    timeout: PT0.5S\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(r.logs.contains("Timeout after 0:00:00.500"), "{}", r.logs);
    let client = pg.client().await;
    let mut still_running = 1;
    for _ in 0..50 {
        still_running = client
            .query_one("select count(*) from pg_stat_activity where query like 'select pg_sleep(30)%' and state = 'active'", &[])
            .await
            .unwrap()
            .get::<_, i64>(0);
        if still_running == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(still_running, 0, "the server stopped the query");
}

#[tokio::test]
async fn a_connection_killed_mid_query_fails_the_task() {
    let pg = Postgres::start().await;
    let admin = pg.client().await;
    let killer = async {
        // Wait until the task's query runs, then end its backend from another session.
        for _ in 0..100 {
            let killed: i64 = admin
                .query_one("select count(pg_terminate_backend(pid)) from pg_stat_activity where query like 'select pg_sleep(30)%' and state = 'active'", &[])
                .await
                .unwrap()
                .get(0);
            if killed > 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the query never started");
    };
    let yaml = flow(&pg, "Query", "    sql: select pg_sleep(30)\n");
    let started = std::time::Instant::now();
    let (r, ()) = tokio::join!(run(&yaml), killer);
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        r.logs
            .contains("terminating connection due to administrator command"),
        "{}",
        r.logs
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[tokio::test]
async fn store_streams_in_fetch_size_batches() {
    let pg = Postgres::start().await;
    pg.client().await.batch_execute("create table big as select g as id, md5(g::text) as h from generate_series(1, 25000) g").await.unwrap();
    let r = run(&flow(
        &pg,
        "Query",
        "    sql: select id, h from big order by id\n    fetchType: STORE\n    fetchSize: 1000\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.outputs("q")["size"], 25000);
    let text = std::fs::read_to_string(r.file(r.outputs("q")["uri"].as_str().unwrap())).unwrap();
    assert_eq!(text.lines().count(), 25000);
    assert!(text.lines().last().unwrap().starts_with("{id:25000,h:\""));
}

/// The STORE file read by an independent Ion implementation (ion-rs), value by value.
#[tokio::test]
async fn store_file_reads_back_with_ion_rs() {
    use ion_rs::{Decimal, Element, IonType};
    let pg = server_with_types().await;
    let r = run(&flow(&pg, "Query", &format!("    sql: select {COLUMNS} from pgsql_types order by concert_id\n    fetchType: STORE\n    timeZoneId: Europe/Paris\n"))).await;
    let text = std::fs::read(r.file(r.outputs("q")["uri"].as_str().unwrap())).unwrap();
    let rows = Element::read_all(&text).expect("ion-rs reads the file");
    assert_eq!(rows.len(), 2);
    let row = rows
        .get(0)
        .unwrap()
        .as_struct()
        .expect("each row is a struct");
    let get = |name: &str| row.get(name).unwrap_or_else(|| panic!("no field {name}"));
    assert_eq!(get("concert_id").as_i64(), Some(1));
    assert_eq!(get("available").as_bool(), Some(true));
    assert_eq!(get("a").as_string(), Some("four"));
    assert!(get("d").is_null());
    assert_eq!(get("play_time").as_i64(), Some(32767));
    assert_eq!(get("library_record").as_i64(), Some(i64::MAX));
    assert_eq!(get("double_test").as_float(), Some(9.223372036854776e18));
    assert_eq!(get("real_test").ion_type(), IonType::Float);
    assert_eq!(
        get("numeric_test").as_decimal(),
        Some(Decimal::new(21_474_836_451_234_i64, -4))
    );
    let date = get("date_type")
        .as_timestamp()
        .expect("a date is an Ion timestamp");
    assert_eq!(date.to_string(), "2030-12-25T");
    let time = get("time_type");
    assert_eq!(time.as_string(), Some("04:05:30"));
    assert_eq!(
        time.annotations().iter().next().and_then(|a| a.text()),
        Some("LocalTime")
    );
    assert_eq!(
        get("timestamp_type")
            .annotations()
            .iter()
            .next()
            .and_then(|a| a.text()),
        Some("LocalDateTime")
    );
    assert_eq!(
        get("timestampz_type").as_string(),
        Some("2004-10-19T08:23:54.25+02:00[Europe/Paris]")
    );
    assert_eq!(get("interval_type").as_string(), Some("P10Y4M5DT0H0M10S"));
    let quarters: Vec<i64> = get("pay_by_quarter")
        .as_sequence()
        .unwrap()
        .elements()
        .map(|e| e.as_i64().unwrap())
        .collect();
    assert_eq!(quarters, [100, 200, 300]);
    assert_eq!(
        get("schedule")
            .as_sequence()
            .unwrap()
            .get(1)
            .unwrap()
            .as_sequence()
            .unwrap()
            .get(0)
            .unwrap()
            .as_string(),
        Some("training")
    );
    assert_eq!(
        get("json_type")
            .as_struct()
            .unwrap()
            .get("color")
            .unwrap()
            .as_string(),
        Some("red")
    );
    assert_eq!(
        get("blob_type").as_blob(),
        Some(&[0xde, 0xad, 0xbe, 0xef][..])
    );
    assert_eq!(
        get("hstore_type")
            .as_struct()
            .unwrap()
            .get("hello")
            .unwrap()
            .as_string(),
        Some("world")
    );
    assert_eq!(
        rows.get(1)
            .unwrap()
            .as_struct()
            .unwrap()
            .get("concert_id")
            .unwrap()
            .as_i64(),
        Some(2)
    );
}

fn tls_flow(pg: &Postgres, host: &str, extra: &str) -> String {
    flow(pg, "Query", &format!("    sql: select ssl from pg_stat_ssl where pid = pg_backend_pid()\n    fetchType: FETCH_ONE\n{extra}"))
        .replace("127.0.0.1", host)
}

fn indent_pem(pem: &str) -> String {
    pem.lines().map(|l| format!("      {l}\n")).collect()
}

#[tokio::test]
async fn tls_modes_encrypt_and_verify_as_pgjdbc_does() {
    let (pg, ca) = Postgres::start_tls().await;
    let r = run(&tls_flow(&pg, "127.0.0.1", "    sslMode: REQUIRE\n")).await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert_eq!(
        r.outputs("q")["row"]["ssl"],
        true,
        "the connection is encrypted"
    );

    let root = format!("    sslRootCert: |\n{}", indent_pem(&ca));
    let r = run(&tls_flow(
        &pg,
        "localhost",
        &format!("    sslMode: VERIFY_FULL\n{root}"),
    ))
    .await;
    assert_eq!(r.outputs("q")["row"]["ssl"], true, "{}", r.logs);
    // The certificate names `localhost`, not 127.0.0.1: VERIFY_CA accepts it, VERIFY_FULL does not.
    let r = run(&tls_flow(
        &pg,
        "127.0.0.1",
        &format!("    sslMode: VERIFY_CA\n{root}"),
    ))
    .await;
    assert_eq!(r.outputs("q")["row"]["ssl"], true, "{}", r.logs);
    let r = run(&tls_flow(
        &pg,
        "127.0.0.1",
        &format!("    sslMode: VERIFY_FULL\n{root}"),
    ))
    .await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        r.logs.contains("cannot connect to PostgreSQL at 127.0.0.1")
            && r.logs
                .contains("certificate not valid for name \"127.0.0.1\""),
        "{}",
        r.logs
    );

    let other_dir = std::env::temp_dir().join(format!(
        "runner-other-ca-{}",
        runner_core::ids::friendly_id()
    ));
    std::fs::create_dir_all(&other_dir).unwrap();
    let (other, _) = runner_testkit::certificate_authority(&other_dir, "other");
    let wrong = format!(
        "    sslRootCert: |\n{}",
        indent_pem(&std::fs::read_to_string(other).unwrap())
    );
    let r = run(&tls_flow(
        &pg,
        "localhost",
        &format!("    sslMode: VERIFY_FULL\n{wrong}"),
    ))
    .await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        r.logs.contains("UnknownIssuer") || r.logs.contains("BadSignature"),
        "{}",
        r.logs
    );

    let r = run(&tls_flow(&pg, "127.0.0.1", "    sslMode: VERIFY_FULL\n")).await;
    assert!(
        r.logs
            .contains("give the CA certificate (PEM text) in `sslRootCert`"),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn require_against_a_server_without_tls_says_so() {
    let pg = Postgres::start().await;
    let r = run(&flow(
        &pg,
        "Query",
        "    sql: select 1 as one\n    fetchType: FETCH_ONE\n    sslMode: REQUIRE\n",
    ))
    .await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        r.logs.contains("cannot connect to PostgreSQL at 127.0.0.1"),
        "{}",
        r.logs
    );
    assert!(
        r.logs
            .contains("server does not support TLS\n    help: use `sslMode: DISABLE` or `PREFER`"),
        "{}",
        r.logs
    );
    let r = run(&flow(
        &pg,
        "Query",
        "    sql: select 1 as one\n    fetchType: FETCH_ONE\n",
    ))
    .await;
    assert_eq!(
        r.outputs("q")["row"]["one"],
        1,
        "the default (PREFER) falls back to a plain connection"
    );
}
