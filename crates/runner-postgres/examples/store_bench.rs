//! Benchmark (not a test): stream N rows of `users` to a STORE file and report rows/s and peak
//! memory, next to `psql \copy` of the same query on the same server in the same run.
//!
//! `cargo run --release -p runner-postgres --example store_bench -- [ROWS]` (default 1,000,000).

use std::time::Instant;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rows: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let pg = runner_testkit::Postgres::start().await;
    let client = pg.client().await;
    client
        .batch_execute(&format!(
            "create table users as select g as id, 'First' || g as first_name, 'Last' || g as last_name, \
             (array['Paris','Lisbon','Oslo','Berlin'])[1 + g % 4] as city from generate_series(1, {rows}) g"
        ))
        .await
        .expect("seed");
    let sql = "select id, first_name, last_name, city from users";
    let before = runner_testkit::peak_rss_kib();
    let yaml = format!(
        "id: bench\nnamespace: bench\ntasks:\n  - id: fetch\n    type: io.kestra.plugin.jdbc.postgresql.Query\n    url: {}\n    username: {}\n    password: {}\n    sql: {sql}\n    fetchType: STORE\n",
        pg.jdbc_url(),
        pg.user,
        pg.password
    );
    let start = Instant::now();
    let run = runner_testkit::run_flow(
        &[
            runner_core::TASKS,
            runner_core_tasks::TASKS,
            runner_postgres::TASKS,
        ],
        &yaml,
    )
    .await;
    let took = start.elapsed();
    assert_eq!(run.state.as_str(), "SUCCESS", "{}", run.logs);
    let size = run.outputs("fetch")["size"].as_u64().unwrap();
    let file = run.file(run.outputs("fetch")["uri"].as_str().unwrap());
    let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    println!(
        "runner STORE: {size} rows, {:.1} MiB Ion, {:.2}s, {:.0} rows/s, peak RSS {:.1} MiB (before the run {:.1} MiB)",
        bytes as f64 / 1048576.0,
        took.as_secs_f64(),
        size as f64 / took.as_secs_f64(),
        runner_testkit::peak_rss_kib() as f64 / 1024.0,
        before as f64 / 1024.0
    );
    let out = std::env::temp_dir().join("store_bench_copy.csv");
    let start = Instant::now();
    let status = std::process::Command::new("psql")
        .env("PGPASSWORD", &pg.password)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &pg.port.to_string(),
            "-U",
            &pg.user,
            "-d",
            "postgres",
            "-q",
            "-c",
        ])
        .arg(format!("\\copy ({sql}) to '{}' csv", out.display()))
        .status();
    match status {
        Ok(s) if s.success() => {
            println!("psql \\copy (CSV): {:.2}s", start.elapsed().as_secs_f64())
        }
        other => println!("psql \\copy could not run: {other:?}"),
    }
    let _ = std::fs::remove_file(out);
    let _ = std::fs::remove_dir_all(&run.storage);
}
