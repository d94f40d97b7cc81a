//! A long query is interrupted when its task is dropped (here by `timeout`), and DuckDB's thread
//! ends: alone in its test binary, so no other test's DuckDB thread is counted.

use runner_testkit::run_flow;
use std::time::{Duration, Instant};

/// The threads of this process named like DuckDB's worker thread.
fn duckdb_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .flatten()
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|c| c.trim() == "runner-duckdb")
                })
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn a_timeout_interrupts_the_query_and_the_thread_ends() {
    let yaml = "id: duck\nnamespace: company.team\ntasks:\n  - id: q\n    type: io.kestra.plugin.jdbc.duckdb.Query\n    timeout: PT1S\n    sql: SELECT count(*) AS n FROM range(100000) a, range(100000) b WHERE (a.range * b.range) % 7 = 3\n    fetchType: FETCH_ONE\n";
    let started = Instant::now();
    let r = run_flow(
        &[
            runner_core::TASKS,
            runner_core_tasks::TASKS,
            runner_duckdb::TASKS,
        ],
        yaml,
    )
    .await;
    let took = started.elapsed();
    assert_eq!(r.state.as_str(), "FAILED", "{}", r.logs);
    assert!(r.logs.contains("Timeout after 0:00:01"), "{}", r.logs);
    assert!(took < Duration::from_secs(4), "took {took:?}");
    // The execution waited for the interrupted thread's work; the thread itself leaves the
    // process a moment after it says so (its last drops), so it is watched for a while.
    let deadline = Instant::now() + Duration::from_secs(5);
    while duckdb_threads() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(duckdb_threads(), 0, "DuckDB's thread outlived its task");
}
