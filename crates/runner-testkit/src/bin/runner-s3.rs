//! `runner-s3`: the test kit's S3 server as a program, for the demo, the benchmarks and
//! `scripts/test.sh`: s3s-fs over a folder (one subfolder per bucket) with SigV4 checked,
//! built with the workspace so no second `cargo install` is needed.
//! Usage: runner-s3 [--host 127.0.0.1] --port N ROOT, with the key pair in
//! RUNNER_S3_ACCESS_KEY and RUNNER_S3_SECRET_KEY (not on the command line, where `ps` shows it).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("runner-s3: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut host = "127.0.0.1".to_string();
    let mut port = None;
    let mut root = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--host" => host = args.next().ok_or("--host needs a value")?,
            "--port" => {
                let p = args.next().ok_or("--port needs a value")?;
                port = Some(
                    p.parse::<u16>()
                        .map_err(|_| format!("--port {p}: not a port"))?,
                );
            }
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            other => root = Some(PathBuf::from(other)),
        }
    }
    let root = root.ok_or("give the root folder (one subfolder per bucket)")?;
    let port = port.ok_or("give --port")?;
    let key = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    let (access, secret) = (key("RUNNER_S3_ACCESS_KEY")?, key("RUNNER_S3_SECRET_KEY")?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((host.as_str(), port))
            .await
            .map_err(|e| format!("cannot listen on {host}:{port}: {e}"))?;
        let server = runner_testkit::serve_s3(listener, root, access, secret)
            .map_err(|e| format!("cannot serve the root folder: {e}"))?;
        // The line minio/minio prints when it listens, which container clients wait for.
        eprintln!("API: http://{host}:{port}");
        tokio::select! {
            _ = server => Ok(()),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}
