//! dbt from PyPI (dbt-core 1.10 with the DuckDB and PostgreSQL adapters, in a virtual
//! environment scripts/dbt-venv.sh makes once under target/) run by DbtCLI, Setup and the
//! legacy tasks on the Process task runner, against a real DuckDB file and a real PostgreSQL.
//! The runs see a PATH with `dbt` and the system's folders, and no `python`.

use runner_testkit::{Postgres, Run, RunOptions, run_flow_opts};
use serde_json::{Value as Json, json};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The folder of the dbt environment (RUNNER_DBT_VENV, or made by scripts/dbt-venv.sh).
fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        if let Some(v) = std::env::var_os("RUNNER_DBT_VENV") {
            return PathBuf::from(v);
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = std::process::Command::new("bash")
            .arg(root.join("scripts/dbt-venv.sh"))
            .output()
            .expect("scripts/dbt-venv.sh runs");
        assert!(
            out.status.success(),
            "scripts/dbt-venv.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
}

/// A folder holding only `dbt` (a link into the environment), for PATH.
fn dbt_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = venv().with_extension("bin");
        std::fs::create_dir_all(&dir).unwrap();
        let link = dir.join("dbt");
        if !link.exists() {
            let _ = std::os::unix::fs::symlink(venv().join("bin/dbt"), &link);
        }
        dir
    })
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "runner-dbt-{tag}-{}",
        runner_core::ids::friendly_id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

async fn run(yaml: &str, home: &Path) -> Run {
    run_with(yaml, home, Vec::new()).await
}

async fn run_with(yaml: &str, home: &Path, more: Vec<(String, String)>) -> Run {
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/dbt-test-cache");
    run_flow_opts(
        &[
            runner_core::TASKS,
            runner_core_tasks::TASKS,
            runner_dbt::TASKS,
            runner_duckdb::TASKS,
        ],
        yaml,
        RunOptions {
            environment: vec![
                (
                    "PATH".into(),
                    format!("{}:/usr/bin:/bin", dbt_bin().display()),
                ),
                ("DO_NOT_TRACK".into(), "1".into()),
                ("HOME".into(), home.display().to_string()),
            ]
            .into_iter()
            .chain(more)
            .collect(),
            cache_dir: Some(cache),
            ..RunOptions::default()
        },
    )
    .await
}

/// A dbt project as inputFiles (indented for a task), with `models` (name, SQL) and a schema.
fn project(models: &[(&str, &str)], schema: &str) -> String {
    let mut s = String::from(
        "    inputFiles:\n      dbt_project.yml: |\n        name: shop\n        profile: shop\n",
    );
    for (name, sql) in models {
        s.push_str(&format!("      models/{name}.sql: \"{sql}\"\n"));
    }
    if !schema.is_empty() {
        s.push_str("      models/schema.yml: |\n");
        for l in schema.lines() {
            s.push_str(&format!("        {l}\n"));
        }
    }
    s
}

fn duckdb_profile(path: &Path) -> String {
    format!(
        "    profiles: |\n      shop:\n        target: dev\n        outputs:\n          dev:\n            type: duckdb\n            path: {}\n            threads: 1\n",
        path.display()
    )
}

const PROCESS: &str = "    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n";

fn stored(r: &Run, uri: &Json) -> Json {
    let text = std::fs::read_to_string(r.file(uri.as_str().expect("a URI"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn statuses(run_results: &Json) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = run_results["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["unique_id"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn metric(r: &Run, name: &str) -> Option<f64> {
    r.record["metrics"]
        .as_array()?
        .iter()
        .find(|m| m["name"] == name)
        .and_then(|m| m["value"].as_f64())
}

fn base64_encode(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

const SCHEMA: &str = "version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: id\n        data_tests: [unique, not_null]\n";

#[tokio::test]
async fn dbt_cli_builds_a_model_into_duckdb_and_reports_each_node() {
    let dir = temp_dir("build");
    let db = dir.join("shop.duckdb");
    let yaml = format!(
        "id: dbt\nnamespace: company.team\ntasks:\n  - id: dbt\n    type: io.kestra.plugin.dbt.cli.DbtCLI\n{PROCESS}{}{}    commands:\n      - dbt build\n  - id: read\n    type: io.kestra.plugin.jdbc.duckdb.Query\n    url: jdbc:duckdb:{}\n    sql: SELECT id, amount FROM orders ORDER BY id\n    fetchType: FETCH\n",
        project(
            &[(
                "orders",
                "select 1 as id, 12.5 as amount union all select 2, 7.25"
            )],
            SCHEMA
        ),
        duckdb_profile(&db),
        db.display()
    );
    let r = run(&yaml, &dir).await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let out = r.outputs("dbt");
    assert_eq!(out["exitCode"], 0);
    let results = stored(&r, &out["outputFiles"]["run_results.json"]);
    assert_eq!(
        statuses(&results),
        vec![
            ("model.shop.orders".to_string(), "success".to_string()),
            (
                "test.shop.not_null_orders_id.84ef11d8fe".to_string(),
                "pass".to_string()
            ),
            (
                "test.shop.unique_orders_id.1360ecc70e".to_string(),
                "pass".to_string()
            ),
        ],
        "{results}"
    );
    let manifest = stored(&r, &out["outputFiles"]["manifest.json"]);
    assert_eq!(manifest["nodes"]["model.shop.orders"]["name"], "orders");
    assert!(
        r.logs
            .contains("INFO  [dbt] model.shop.orders => success in "),
        "{}",
        r.logs
    );
    assert!(
        r.logs
            .contains("test.shop.unique_orders_id.1360ecc70e => pass in "),
        "{}",
        r.logs
    );
    // dbt's text logs, plain.
    assert!(
        r.logs
            .contains("Done. PASS=3 WARN=0 ERROR=0 SKIP=0 NO-OP=0 TOTAL=3"),
        "{}",
        r.logs
    );
    assert!(!r.logs.contains('\u{1b}'), "no colour codes");
    assert_eq!(metric(&r, "pass"), Some(3.0));
    assert_eq!(metric(&r, "total"), Some(3.0));
    // runner's DuckDB (1.5.5) reads what dbt's (1.5.5) wrote.
    assert_eq!(
        r.outputs("read")["rows"],
        json!([{"id": 1, "amount": 12.5}, {"id": 2, "amount": 7.25}])
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_failing_test_fails_the_task_with_dbts_message_and_a_warning_warns() {
    let dir = temp_dir("fail");
    let db = dir.join("shop.duckdb");
    let dup = [("orders", "select 1 as id union all select 1")];
    let yaml = format!(
        "id: dbt\nnamespace: company.team\ntasks:\n  - id: dbt\n    type: io.kestra.plugin.dbt.cli.DbtCLI\n{PROCESS}{}{}    commands:\n      - dbt build\n",
        project(&dup, SCHEMA),
        duckdb_profile(&db)
    );
    let r = run(&yaml, &dir).await;
    assert_eq!(r.state.as_str(), "FAILED", "{}", r.logs);
    let errors: Vec<&str> = r.logs.lines().filter(|l| l.contains("ERROR")).collect();
    let errors = errors.join("\n");
    assert!(
        errors.contains("test.shop.unique_orders_id.1360ecc70e => fail in "),
        "{}",
        r.logs
    );
    assert!(errors.contains("(1 failure)"), "{}", r.logs);
    assert!(
        errors.contains("ERROR [dbt] Command failed with exit code 1"),
        "{}",
        r.logs
    );
    assert!(
        r.logs.contains("    test.shop.unique_orders_id.1360ecc70e => fail: Got 1 result, configured to fail if != 0"),
        "{}",
        r.logs
    );
    let out = r.outputs("dbt");
    assert_eq!(out["exitCode"], 1);
    let results = stored(&r, &out["outputFiles"]["run_results.json"]);
    let failing = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["status"] == "fail")
        .unwrap();
    assert_eq!(failing["failures"], 1);
    assert_eq!(
        failing["message"],
        "Got 1 result, configured to fail if != 0"
    );

    // The same with a warning severity: dbt succeeds, the task run is a WARNING.
    let warn_schema = "version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: id\n        data_tests:\n          - unique:\n              config:\n                severity: warn\n";
    let yaml = format!(
        "id: dbt\nnamespace: company.team\ntasks:\n  - id: dbt\n    type: io.kestra.plugin.dbt.cli.DbtCLI\n{PROCESS}{}{}    commands:\n      - dbt build\n",
        project(&dup, warn_schema),
        duckdb_profile(&dir.join("warn.duckdb"))
    );
    let r = run(&yaml, &dir).await;
    assert_eq!(r.state.as_str(), "WARNING", "{}", r.logs);
    assert_eq!(r.outputs("dbt")["exitCode"], 0);
    assert!(
        r.logs
            .contains("WARN  [dbt] test.shop.unique_orders_id.1360ecc70e => warn in "),
        "{}",
        r.logs
    );
    assert!(
        r.logs.contains("Got 1 result, configured to warn if != 0"),
        "{}",
        r.logs
    );
    assert_eq!(metric(&r, "warn"), Some(1.0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn dbt_postgres_builds_a_model_on_a_real_server() {
    let pg = Postgres::start().await;
    let dir = temp_dir("pg");
    let yaml = format!(
        "id: dbt\nnamespace: company.team\ntasks:\n  - id: dbt\n    type: io.kestra.plugin.dbt.cli.DbtCLI\n{PROCESS}{}    profiles: |\n      shop:\n        target: dev\n        outputs:\n          dev:\n            type: postgres\n            host: 127.0.0.1\n            port: {}\n            user: {}\n            password: \"{{{{ secret('PG_PASSWORD') }}}}\"\n            dbname: postgres\n            schema: analytics\n            threads: 1\n    commands:\n      - dbt run\n",
        project(&[("orders", "select 1 as id, 'Ada' as customer")], ""),
        pg.port,
        pg.user
    );
    let secret = base64_encode(&pg.password);
    let r = run_with(&yaml, &dir, vec![("SECRET_PG_PASSWORD".into(), secret)]).await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert!(!r.logs.contains(&pg.password), "the password stays secret");
    let rows = pg
        .client()
        .await
        .query("select id, customer from analytics.orders", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, i32>(0), 1);
    assert_eq!(rows[0].get::<_, &str>(1), "Ada");
    let results = stored(&r, &r.outputs("dbt")["outputFiles"]["run_results.json"]);
    assert_eq!(
        statuses(&results),
        vec![("model.shop.orders".to_string(), "success".to_string())]
    );
    // dbt-postgres reports the rows a statement touched (-1 for a view): Kestra's
    // rows.affected metric.
    assert!(
        r.logs.contains("model.shop.orders => success in "),
        "{}",
        r.logs
    );
    assert_eq!(
        results["results"][0]["adapter_response"]["rows_affected"],
        -1
    );
    assert_eq!(metric(&r, "rows.affected"), Some(-1.0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_project_without_dbt_project_yml_or_adapter_says_what_to_do() {
    let dir = temp_dir("bad");
    let yaml = format!(
        "id: dbt\nnamespace: company.team\ntasks:\n  - id: dbt\n    type: io.kestra.plugin.dbt.cli.DbtCLI\n{PROCESS}{}    commands:\n      - dbt build\n",
        duckdb_profile(&dir.join("x.duckdb"))
    );
    let r = run(&yaml, &dir).await;
    assert_eq!(r.state.as_str(), "FAILED", "{}", r.logs);
    assert!(
        r.logs.contains("No dbt_project.yml found at expected path"),
        "{}",
        r.logs
    );
    assert!(
        r.logs
            .contains("`projectDir`: there is no dbt_project.yml in"),
        "{}",
        r.logs
    );

    let yaml = format!(
        "id: dbt\nnamespace: company.team\ntasks:\n  - id: dbt\n    type: io.kestra.plugin.dbt.cli.DbtCLI\n{PROCESS}{}    profiles: |\n      shop:\n        target: dev\n        outputs:\n          dev:\n            type: snowflake\n            account: x\n    commands:\n      - dbt build\n",
        project(&[("orders", "select 1 as id")], "")
    );
    let r = run(&yaml, &dir).await;
    assert_eq!(r.state.as_str(), "FAILED", "{}", r.logs);
    assert!(
        r.logs.contains("Could not find adapter type snowflake!"),
        "{}",
        r.logs
    );
    assert!(
        r.logs.contains(
            "the `snowflake` adapter is not installed where dbt runs: install dbt-snowflake"
        ),
        "{}",
        r.logs
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn setup_then_the_legacy_build_in_one_working_directory() {
    let dir = temp_dir("legacy");
    let db = dir.join("legacy.duckdb");
    let yaml = format!(
        "id: dbt\nnamespace: company.team\ntasks:\n  - id: wd\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n    tasks:\n      - id: setup\n        type: io.kestra.plugin.dbt.cli.Setup\n        taskRunner:\n          type: io.kestra.plugin.core.runner.Process\n        requirements:\n          - dbt-core==1.10.23\n          - dbt-duckdb==1.11.1\n          - duckdb==1.5.5\n        profiles:\n          shop:\n            target: dev\n            outputs:\n              dev:\n                type: duckdb\n                path: {}\n        inputFiles:\n          dbt_project.yml: |\n            name: shop\n            profile: shop\n          models/orders.sql: select 3 as id\n      - id: build\n        type: io.kestra.plugin.dbt.cli.Build\n        taskRunner:\n          type: io.kestra.plugin.core.runner.Process\n        select:\n          - orders\n",
        db.display()
    );
    let r = run(&yaml, &dir).await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let out = r.outputs("build");
    assert_eq!(out["exitCode"], 0);
    let results = stored(&r, &out["outputFiles"]["run_results.json"]);
    assert_eq!(
        statuses(&results),
        vec![("model.shop.orders".to_string(), "success".to_string())]
    );
    assert_eq!(results["args"]["select"], json!(["orders"]));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn namespace_files_are_the_project_and_the_manifest_goes_through_the_kv_store() {
    use runner_template::{KvLookup, KvRead};
    let dir = temp_dir("kv");
    let project = dir.join("project");
    std::fs::create_dir_all(project.join("models")).unwrap();
    std::fs::write(
        project.join("dbt_project.yml"),
        "name: shop\nprofile: shop\n",
    )
    .unwrap();
    std::fs::write(project.join("models/orders.sql"), "select 1 as id\n").unwrap();
    let kv = std::sync::Arc::new(runner_kv::LazyKv::new(
        dir.join("state"),
        vec!["company.team".into()],
    ));
    let yaml = format!(
        "id: dbt\nnamespace: company.team\ntasks:\n  - id: build\n    type: io.kestra.plugin.dbt.cli.DbtCLI\n{PROCESS}    namespaceFiles:\n      enabled: true\n{}    storeManifest:\n      key: shop_manifest\n      namespace: company.team\n    commands:\n      - dbt run\n  - id: again\n    type: io.kestra.plugin.dbt.cli.DbtCLI\n{PROCESS}    loadManifest:\n      key: shop_manifest\n      namespace: company.team\n    parseRunResults: false\n    commands:\n      - test -s target/manifest.json\n  - id: missing\n    type: io.kestra.plugin.dbt.cli.DbtCLI\n{PROCESS}    loadManifest:\n      key: nothing_here\n      namespace: company.team\n    commands:\n      - \"true\"\n",
        duckdb_profile(&dir.join("kv.duckdb"))
    );
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/dbt-test-cache");
    let r = run_flow_opts(
        &[
            runner_core::TASKS,
            runner_core_tasks::TASKS,
            runner_dbt::TASKS,
        ],
        &yaml,
        RunOptions {
            environment: vec![
                (
                    "PATH".into(),
                    format!("{}:/usr/bin:/bin", dbt_bin().display()),
                ),
                ("DO_NOT_TRACK".into(), "1".into()),
                ("HOME".into(), dir.display().to_string()),
            ],
            cache_dir: Some(cache),
            namespace_files: vec![("company.team".into(), project.clone())],
            kv: Some(kv.clone()),
            ..RunOptions::default()
        },
    )
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert!(
        r.logs
            .contains("Loaded 2 namespace files from 'company.team'"),
        "{}",
        r.logs
    );
    assert!(
        r.logs.contains("model.shop.orders => success in "),
        "{}",
        r.logs
    );
    match kv.lookup("company.team", "shop_manifest", false).unwrap() {
        KvLookup::Found(m) => assert_eq!(m["nodes"]["model.shop.orders"]["name"], "orders"),
        _ => panic!("no manifest in the KV store"),
    }
    assert_eq!(r.outputs("again")["exitCode"], 0, "{}", r.logs);
    assert!(
        r.logs.contains(
            "Property `loadManifest` has been used but no manifest has been found in the KV Store."
        ),
        "{}",
        r.logs
    );
    let _ = std::fs::remove_dir_all(&dir);
}
