//! Benchmark (not a test): convert N Ion rows (the shape Query STORE writes) to CSV with
//! IonToCsv, and report rows/s and peak memory. The run includes copying the input file into
//! the execution's storage, as a FILE input does.
//!
//! `cargo run --release -p runner-serdes --example ion_to_csv_bench -- [ROWS] [binary]` (default
//! 1,000,000 rows of text Ion; `binary` writes them as binary Ion, as Kestra 2.0 does, with
//! ion-rs, in streams of 10,000 rows each starting with a version marker).

use std::io::Write;
use std::time::Instant;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rows: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let binary = std::env::args().nth(2).as_deref() == Some("binary");
    let input = std::env::temp_dir().join(format!("ion_to_csv_bench_{}.ion", std::process::id()));
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&input).expect("input file"));
        let cities = ["Paris", "Lisbon", "Oslo", "Berlin, DE"];
        let mut chunk = String::new();
        for g in 1..=rows {
            use std::fmt::Write as _;
            writeln!(
                chunk,
                "{{id:{g},first_name:\"First{g}\",last_name:\"Last \\\"{g}\\\"\",city:\"{}\",score:{}.25,created:2024-01-01T10:{:02}:00.000Z}}",
                cities[(g % 4) as usize],
                g % 1000,
                g % 60
            )
            .expect("write input");
            if g % 10_000 == 0 || g == rows {
                if binary {
                    let encoded = ion_rs::Element::read_all(chunk.as_str())
                        .expect("ion-rs reads the rows")
                        .encode_as(ion_rs::v1_0::Binary)
                        .expect("ion-rs writes binary");
                    out.write_all(&encoded).expect("write input");
                } else {
                    out.write_all(chunk.as_bytes()).expect("write input");
                }
                chunk.clear();
            }
        }
    }
    let bytes = std::fs::metadata(&input).map(|m| m.len()).unwrap_or(0);
    let before = runner_testkit::peak_rss_kib();
    let yaml = "id: bench\nnamespace: bench\ninputs:\n  - id: file\n    type: FILE\ntasks:\n  - id: to_csv\n    type: io.kestra.plugin.serdes.csv.IonToCsv\n    from: \"{{ inputs.file }}\"\n";
    let start = Instant::now();
    let run = runner_testkit::run_flow_with(
        &[runner_serdes::TASKS],
        yaml,
        &[("file", input.to_str().expect("UTF-8 path"))],
        &[],
    )
    .await;
    let took = start.elapsed();
    let _ = std::fs::remove_file(&input);
    assert_eq!(run.state.as_str(), "SUCCESS", "{}", run.logs);
    let size = run.outputs("to_csv")["size"].as_u64().expect("size");
    assert_eq!(size, rows);
    let csv = run.file(run.outputs("to_csv")["uri"].as_str().expect("uri"));
    let csv_bytes = std::fs::metadata(&csv).map(|m| m.len()).unwrap_or(0);
    // The task run alone (its RUNNING to its end), without the input's copy into storage.
    let histories = &run.record["taskRunList"][0]["state"]["histories"];
    let date = |i: usize| {
        histories[i]["date"]
            .as_str()
            .and_then(|d| d.parse::<jiff::Timestamp>().ok())
            .expect("a state date")
    };
    let last = histories.as_array().map_or(0, |h| h.len() - 1);
    let task = date(0).duration_until(date(last)).as_secs_f64();
    println!(
        "IonToCsv: {size} rows, {:.1} MiB {} Ion -> {:.1} MiB CSV, {:.2}s ({:.2}s the task run, {:.0} rows/s), peak RSS {:.1} MiB (before the run {:.1} MiB)",
        bytes as f64 / 1048576.0,
        if binary { "binary" } else { "text" },
        csv_bytes as f64 / 1048576.0,
        took.as_secs_f64(),
        task,
        size as f64 / task,
        runner_testkit::peak_rss_kib() as f64 / 1024.0,
        before as f64 / 1024.0
    );
    let _ = std::fs::remove_dir_all(&run.storage);
}
