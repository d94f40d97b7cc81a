//! Real services for tests, started and stopped by the test itself: a throwaway PostgreSQL
//! server (pgtemp, from the machine's PostgreSQL binaries) with SCRAM password authentication,
//! so a wrong password really fails.

use pgtemp::{PgTempDB, PgTempDBBuilder};
use std::path::PathBuf;

/// A PostgreSQL server that lives as long as this value.
pub struct Postgres {
    _db: PgTempDB,
    pub port: u16,
    pub user: String,
    pub password: String,
}

/// The directory holding `initdb` and `postgres`: on PATH, or Debian's versioned directory.
fn bin_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).find(|d| d.join("initdb").exists()));
    on_path.or_else(|| {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin"))
            .filter(|d| d.join("initdb").exists())
            .collect();
        dirs.sort();
        dirs.pop()
    })
}

impl Postgres {
    /// Starts a server on a free port of 127.0.0.1, database `postgres`.
    pub async fn start() -> Postgres {
        let bin = bin_dir().unwrap_or_else(|| {
            panic!("PostgreSQL server binaries (initdb, postgres) were not found: install the Debian package `postgresql` (scripts/test.sh does)")
        });
        let password = format!("pw-{}", std::process::id());
        let db = PgTempDBBuilder::new()
            .with_bin_path(bin)
            .with_username("runner")
            .with_password(&password)
            .with_dbname("postgres")
            .with_initdb_arg("auth", "scram-sha-256")
            .start_async()
            .await;
        let port = db.db_port();
        Postgres {
            _db: db,
            port,
            user: "runner".into(),
            password,
        }
    }

    pub fn jdbc_url(&self) -> String {
        format!("jdbc:postgresql://127.0.0.1:{}/postgres", self.port)
    }

    /// A client of its own, to prepare data and check results independently of the plugin.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user(&self.user)
            .password(&self.password)
            .dbname("postgres")
            .connect(tokio_postgres::NoTls)
            .await
            .expect("connect to the test server");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }
}

/// A finished in-process run: final state, the execution record, every log line.
pub struct Run {
    pub state: runner_core::State,
    pub record: serde_json::Value,
    pub logs: String,
    pub storage: PathBuf,
}

impl Run {
    /// The outputs of the (first) task run of `task_id`.
    pub fn outputs(&self, task_id: &str) -> serde_json::Value {
        self.record["taskRunList"]
            .as_array()
            .and_then(|runs| runs.iter().find(|r| r["taskId"] == task_id))
            .map(|r| r["outputs"].clone())
            .unwrap_or(serde_json::Value::Null)
    }

    /// The local path of a `kestra:///` URI of this run.
    pub fn file(&self, uri: &str) -> PathBuf {
        self.storage.join(uri.trim_start_matches("kestra:///"))
    }
}

#[derive(Clone, Default)]
struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs a flow written inline with the given task lists, as `runner run` would, in-process.
/// Panics with the diagnostics when the flow is invalid.
pub async fn run_flow(tasks: &[&'static [runner_core::TaskDescriptor]], yaml: &str) -> Run {
    use std::sync::Arc;
    let registry = runner_core::Registry::new(tasks);
    let masker = Arc::new(runner_secrets::Masker::default());
    let renderer = Arc::new(runner_template::Renderer::with_hooks(
        runner_template::Hooks {
            masker: Some(masker.clone()),
            ..Default::default()
        },
    ));
    let doc = runner_model::load_str(yaml).expect("valid YAML").remove(0);
    let v = runner_core::validate(&doc, &registry, &renderer);
    let errors: Vec<String> = v
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{} ({})", d.problem, d.path))
        .collect();
    let plan = v.plan.unwrap_or_else(|| panic!("invalid flow: {errors:?}"));
    let storage = std::env::temp_dir().join(format!(
        "runner-testkit-{}",
        runner_core::ids::friendly_id()
    ));
    let buf = Buf::default();
    let sink = Arc::new(runner_core::log::LogSink::new(
        runner_core::log::LogFormat::Text,
        runner_core::log::Level::Debug,
        Box::new(buf.clone()),
        masker,
    ));
    let exec = Arc::new(runner_core::ExecutionShared::new(
        runner_core::ids::friendly_id(),
        plan.flow.clone(),
        renderer,
        runner_core::Storage::new(&storage),
        sink,
        serde_json::json!({}),
        plan.variables.clone(),
        serde_json::json!({}),
    ));
    let state = runner_core::Executor::new(exec.clone()).run(&plan).await;
    let logs = String::from_utf8(buf.0.lock().expect("log buffer").clone()).expect("UTF-8 logs");
    Run {
        state,
        record: exec.record(),
        logs,
        storage,
    }
}
