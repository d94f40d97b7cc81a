//! Benchmark (not a test): upload a file of N MiB (default 256) with `runner run` (the release
//! binary, as a subprocess, under `/usr/bin/time` for its peak RSS) to an in-process S3 server
//! with signature checks, then the same file with `curl --aws-sigv4` to the same server.
//!
//! `cargo build --release && cargo run --release -p runner-aws --example upload_bench -- [MiB]`

use std::process::Command;
use std::time::Instant;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(256);
    let runner =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/runner");
    assert!(
        runner.exists(),
        "build the release binary first: cargo build --release"
    );
    let s3 = runner_testkit::S3::start().await;
    s3.create_bucket("bench-bucket").await;
    let dir = std::env::temp_dir().join(format!("upload-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("payload.bin");
    let chunk: Vec<u8> = (0..1024 * 1024).map(|i| (i * 31 % 251) as u8).collect();
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&file).unwrap();
        for _ in 0..mib {
            f.write_all(&chunk).unwrap();
        }
    }
    let flow = dir.join("upload.yaml");
    std::fs::write(
        &flow,
        "id: upload\nnamespace: bench\ninputs:\n  - id: file\n    type: FILE\ntasks:\n  - id: up\n    type: io.kestra.plugin.aws.s3.Upload\n    bucket: bench-bucket\n    key: runner.bin\n    from: \"{{ inputs.file }}\"\n",
    )
    .unwrap();
    let server = s3.endpoint.clone();
    let (ak, sk) = (s3.access_key.clone(), s3.secret_key.clone());
    let run = tokio::task::spawn_blocking({
        let (runner, flow, file, dir) = (runner.clone(), flow.clone(), file.clone(), dir.clone());
        move || {
            let start = Instant::now();
            let out = Command::new("/usr/bin/time")
                .args(["-f", "%M"])
                .arg(&runner)
                .args([
                    "run",
                    flow.to_str().unwrap(),
                    "--storage",
                    dir.join("st").to_str().unwrap(),
                    "--log-level",
                    "warn",
                    "-i",
                ])
                .arg(format!("file={}", file.display()))
                .env("AWS_ACCESS_KEY_ID", &ak)
                .env("AWS_SECRET_ACCESS_KEY", &sk)
                .env("AWS_ENDPOINT_URL_S3", &server)
                .env("AWS_REGION", "us-east-1")
                .output()
                .unwrap();
            (start.elapsed(), out)
        }
    })
    .await
    .unwrap();
    let (took, out) = run;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let peak_kib: f64 = stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0.0);
    println!(
        "runner Upload: {mib} MiB in {:.2}s = {:.0} MiB/s, peak RSS {:.1} MiB (includes copying the FILE input into storage)",
        took.as_secs_f64(),
        mib as f64 / took.as_secs_f64(),
        peak_kib / 1024.0
    );
    let url = format!("{}/bench-bucket/curl.bin", s3.endpoint);
    let curl = tokio::task::spawn_blocking({
        let (file, ak, sk) = (file.clone(), s3.access_key.clone(), s3.secret_key.clone());
        move || {
            let start = Instant::now();
            let out = Command::new("curl")
                .args([
                    "-sS",
                    "--fail",
                    "--aws-sigv4",
                    "aws:amz:us-east-1:s3",
                    "--user",
                ])
                .arg(format!("{ak}:{sk}"))
                .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-T"])
                .arg(&file)
                .arg(&url)
                .output()
                .unwrap();
            (start.elapsed(), out)
        }
    })
    .await
    .unwrap();
    let (took, out) = curl;
    if out.status.success() {
        println!(
            "curl --aws-sigv4: {mib} MiB in {:.2}s = {:.0} MiB/s",
            took.as_secs_f64(),
            mib as f64 / took.as_secs_f64()
        );
    } else {
        println!(
            "curl --aws-sigv4 failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stored = s3
        .client()
        .head_object()
        .bucket("bench-bucket")
        .key("runner.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(stored.content_length(), Some((mib * 1024 * 1024) as i64));
    let _ = std::fs::remove_dir_all(&dir);
}
