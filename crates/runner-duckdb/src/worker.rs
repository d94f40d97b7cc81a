//! DuckDB runs on a thread of its own (its API blocks): the thread opens the database, runs
//! the statements and reads their results chunk by chunk, sending rows (FETCH) or Ion blocks
//! (STORE, encoded on that thread) over a bounded channel to the task, which builds Kestra's
//! outputs with the SQL kit. Nothing waits for the whole result: the channel holds a few
//! blocks. When the task is dropped (timeout, Ctrl-C, a failed sibling), its guard interrupts
//! the query and the execution waits for the thread to end; the thread holds the working
//! directory until then, so the folder goes only after DuckDB has let go of its files.

use crate::decode::{Kind, Reader, Vector};
use crate::engine::{Connection, Database, DuckError, Interrupt};
use jiff::tz::TimeZone;
use runner_core::plugin::*;
use runner_jdbc::sql::{Placeholders, bind_named};
use runner_jdbc::{Cell, FetchType, ResultSet, RowFormat, STORE_BLOCK};
use serde_json::Map;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// What the thread runs.
pub(crate) struct Job {
    pub(crate) open: String,
    /// Which property named the database, for messages (`url`, `databaseUri`).
    pub(crate) source: String,
    pub(crate) search_path: Vec<PathBuf>,
    pub(crate) extensions: Vec<String>,
    pub(crate) extensions_named: bool,
    pub(crate) statements: Vec<String>,
    pub(crate) after_sql: Option<String>,
    pub(crate) parameters: Map<String, Json>,
    pub(crate) fetch: FetchType,
    pub(crate) zone: TimeZone,
    /// Run everything in one transaction, rolled back on error.
    pub(crate) transaction: bool,
    /// Fold the write-ahead log into the file before it is kept (outputDbFile).
    pub(crate) checkpoint: bool,
    /// Held until the thread ends.
    pub(crate) dir: Arc<WorkingDir>,
}

/// What the thread tells the task.
enum Msg {
    Log(Level, String),
    /// A result set starts, with these columns.
    Open(Vec<String>),
    Rows(Vec<Vec<Cell>>),
    /// STORE rows already written as Ion lines, and how many.
    Ion(String, u64),
    /// The result set is complete.
    Close,
    /// The statement returned no rows description (DDL, INSERT...).
    NoRows,
    End(Result<(), TaskError>),
}

/// The task stopped listening: the thread ends without a word.
struct Gone;

/// Shared between the task's guard and the thread.
#[derive(Default)]
struct Stop {
    cancelled: AtomicBool,
    interrupt: Mutex<Option<Arc<Interrupt>>>,
}

impl Stop {
    fn stop(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        if let Some(i) = self.interrupt.lock().expect("stop lock").as_ref() {
            i.interrupt();
        }
    }
}

/// Interrupts the query if the task is dropped before the thread is done, and makes the
/// execution wait for the thread.
struct Guard {
    stop: Arc<Stop>,
    done: Option<oneshot::Receiver<()>>,
    cleanup: Cleanup,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let Some(mut done) = self.done.take() else {
            return;
        };
        if matches!(done.try_recv(), Err(oneshot::error::TryRecvError::Closed)) {
            return;
        }
        self.stop.stop();
        let stop = self.stop.clone();
        self.cleanup.spawn(async move {
            // An interrupt that lands between two statements is lost: repeat it until the
            // thread has ended.
            loop {
                tokio::select! {
                    _ = &mut done => break,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => stop.stop(),
                }
            }
        });
    }
}

/// One statement's outcome: its output, or none (no rows description).
pub(crate) type Outcome = Option<Outputs>;

/// Runs `job` on its thread; one outcome per statement (and one for `afterSQL`'s, dropped).
pub(crate) async fn run(ctx: &RunContext, job: Job) -> Result<Vec<Outcome>, TaskError> {
    let fetch = job.fetch;
    let (tx, mut rx) = mpsc::channel::<Msg>(4);
    let (done_tx, done_rx) = oneshot::channel::<()>();
    let stop = Arc::new(Stop::default());
    let thread_stop = stop.clone();
    std::thread::Builder::new()
        .name("runner-duckdb".into())
        .spawn(move || {
            let _done = done_tx;
            let dir = job.dir.clone();
            let result = work(job, &tx, &thread_stop);
            let end = match result {
                Ok(()) => Ok(()),
                Err(Failure::Gone) => return,
                Err(Failure::Task(e)) => Err(e),
            };
            let _ = tx.blocking_send(Msg::End(end));
            drop(dir);
        })
        .map_err(|e| {
            TaskError::new(ErrorKind::Other, "cannot start DuckDB's thread").caused_by(e)
        })?;
    let _guard = Guard {
        stop,
        done: Some(done_rx),
        cleanup: ctx.cleanup().clone(),
    };
    // Result sets are finished (their STORE files kept) only once the statement has ended
    // well: an error reported after the last rows must leave no file.
    let mut outcomes: Vec<Option<ResultSet<'_>>> = Vec::new();
    let mut set: Option<ResultSet<'_>> = None;
    loop {
        let Some(msg) = rx.recv().await else {
            return Err(TaskError::new(
                ErrorKind::Other,
                "DuckDB's thread ended without a result",
            ));
        };
        match msg {
            Msg::Log(level, text) => ctx.log(level, &text),
            Msg::Open(names) => set = Some(ResultSet::open(ctx, fetch, names).await?),
            Msg::Rows(rows) => {
                if let Some(s) = set.as_mut() {
                    for r in &rows {
                        if !s.push(r).await? {
                            break;
                        }
                    }
                }
            }
            Msg::Ion(block, count) => {
                if let Some(s) = set.as_mut() {
                    s.push_ion_block(&block, count).await?;
                }
            }
            Msg::Close => {
                if let Some(s) = set.take() {
                    outcomes.push(Some(s));
                }
            }
            Msg::NoRows => outcomes.push(None),
            Msg::End(result) => {
                result?;
                let mut finished = Vec::with_capacity(outcomes.len());
                for o in outcomes {
                    finished.push(match o {
                        Some(s) => Some(s.finish().await?),
                        None => None,
                    });
                }
                return Ok(finished);
            }
        }
    }
}

enum Failure {
    Gone,
    Task(TaskError),
}

impl From<TaskError> for Failure {
    fn from(e: TaskError) -> Failure {
        Failure::Task(e)
    }
}

impl From<Gone> for Failure {
    fn from(_: Gone) -> Failure {
        Failure::Gone
    }
}

fn send(tx: &mpsc::Sender<Msg>, msg: Msg) -> Result<(), Gone> {
    tx.blocking_send(msg).map_err(|_| Gone)
}

/// A DuckDB error as the task reports it, with what to do where DuckDB does not say.
pub(crate) fn describe(e: &DuckError) -> TaskError {
    let m = &e.message;
    let lower = m.to_ascii_lowercase();
    let mut err = TaskError::new(ErrorKind::Remote, m.clone());
    if lower.contains("extension")
        && (lower.contains("download")
            || lower.contains("install")
            || lower.contains("http")
            || lower.contains("not found"))
    {
        err = err.hint(
            "DuckDB fetches extensions from its repository the first time they are used, which needs network: run `INSTALL <name>` once on a machine with network (the extension is kept in ~/.duckdb/extensions), or install it from a file: `INSTALL '/path/<name>.duckdb_extension'` (PyPI's duckdb-extension-<name>==1.5.5 ships one for this DuckDB, 1.5.5)",
        );
    } else if lower.contains("read_ion") || lower.contains("format ion") {
        err = err.hint("`read_ion` comes from DuckDB's `ion` community extension: install it once with network (`INSTALL ion FROM community`), then it loads by default");
    } else if lower.contains("no files found") || lower.contains("no such file") {
        err = err.hint("relative file names are read in the task's working directory (`{{ workingDir }}`): put the file there with `inputFiles`");
    }
    err
}

fn open_error(job: &Job, e: &DuckError) -> TaskError {
    let lower = e.message.to_ascii_lowercase();
    let kind = if lower.contains("not a valid duckdb database") || lower.contains("version number")
    {
        ErrorKind::BadData
    } else {
        ErrorKind::Io
    };
    let mut err = TaskError::new(
        kind,
        format!(
            "{}: DuckDB cannot open the database `{}`: {}",
            job.source, job.open, e.message
        ),
    );
    if lower.contains("version number") {
        err = err.hint(format!(
            "the file was written by another DuckDB version; runner runs DuckDB {} (as Kestra's driver, 1.5.5): write it with that version (pin `duckdb==1.5.5` in Python)",
            crate::engine::library_version()
        ));
    } else if kind == ErrorKind::BadData {
        err = err.hint("give a DuckDB database file (the `databaseUri` output of a task with `outputDbFile: true`)");
    }
    err
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn work(job: Job, tx: &mpsc::Sender<Msg>, stop: &Stop) -> Result<(), Failure> {
    let db = Database::open(&job.open).map_err(|e| open_error(&job, &e))?;
    let con = db.connect().map_err(|e| open_error(&job, &e))?;
    *stop.interrupt.lock().expect("stop lock") = Some(con.interrupt_handle());
    if stop.cancelled.load(Ordering::SeqCst) {
        return Err(Failure::Gone);
    }
    // Relative file names are read in the working directory (Kestra: file_search_path).
    let search: Vec<String> = job
        .search_path
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    con.execute(&format!(
        "SET file_search_path = {}",
        quote(&search.join(","))
    ))
    .map_err(|e| describe(&e))?;
    extensions(&job, &con, tx)?;
    let outcome = statements(&job, &con, tx, stop);
    if job.transaction {
        match &outcome {
            Ok(()) => con.execute("COMMIT").map_err(|e| describe(&e))?,
            Err(_) => {
                let _ = con.execute("ROLLBACK");
            }
        }
    }
    outcome?;
    if job.checkpoint {
        con.execute("CHECKPOINT").map_err(|e| describe(&e))?;
    }
    Ok(())
}

/// `communityExtensions`: installed and loaded when the flow names them (a failure is a
/// warning, as in Kestra); Kestra's default `ion` is loaded only if already installed.
fn extensions(job: &Job, con: &Connection, tx: &mpsc::Sender<Msg>) -> Result<(), Failure> {
    for e in &job.extensions {
        if e.is_empty() || !e.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            send(
                tx,
                Msg::Log(
                    Level::Warn,
                    format!(
                        "Skipping DuckDB community extension '{e}' because the name contains unsupported characters."
                    ),
                ),
            )?;
            continue;
        }
        if con.execute(&format!("LOAD {e}")).is_ok() {
            continue;
        }
        if !job.extensions_named {
            send(
                tx,
                Msg::Log(
                    Level::Debug,
                    format!(
                        "DuckDB community extension '{e}' is not installed; read_ion needs it (INSTALL {e} FROM community)"
                    ),
                ),
            )?;
            continue;
        }
        let loaded = con
            .execute(&format!("INSTALL {e} FROM community"))
            .and_then(|()| con.execute(&format!("LOAD {e}")));
        if let Err(err) = loaded {
            send(
                tx,
                Msg::Log(
                    Level::Warn,
                    format!(
                        "Failed to install/load DuckDB community extension '{e}'. Continuing without it. message={}",
                        err.message
                    ),
                ),
            )?;
        }
    }
    Ok(())
}

fn statements(
    job: &Job,
    con: &Connection,
    tx: &mpsc::Sender<Msg>,
    stop: &Stop,
) -> Result<(), Failure> {
    if job.transaction {
        con.execute("BEGIN TRANSACTION").map_err(|e| describe(&e))?;
    }
    for sql in &job.statements {
        if stop.cancelled.load(Ordering::SeqCst) {
            return Err(Failure::Gone);
        }
        statement(job, con, tx, sql, false)?;
    }
    if let Some(after) = &job.after_sql {
        statement(job, con, tx, after, true)?;
    }
    Ok(())
}

fn statement(
    job: &Job,
    con: &Connection,
    tx: &mpsc::Sender<Msg>,
    sql: &str,
    after: bool,
) -> Result<(), Failure> {
    send(tx, Msg::Log(Level::Debug, format!("Executing SQL: {sql}")))?;
    let (bound, names) = if job.parameters.is_empty() {
        (sql.to_string(), Vec::new())
    } else {
        bind_named(sql, Placeholders::Numbered)
    };
    let mut prepared = con.prepare(&bound).map_err(|e| describe(&e))?;
    for (i, name) in names.iter().enumerate() {
        let value = job.parameters.get(name).ok_or_else(|| {
            TaskError::property(
                "parameters",
                format!("`:{name}` is used in the SQL but `parameters` has no `{name}`"),
            )
        })?;
        prepared.bind(i + 1, value).map_err(|e| describe(&e))?;
    }
    if names.is_empty() && prepared.parameter_count() > 0 && job.parameters.is_empty() {
        return Err(TaskError::property(
            "parameters",
            format!(
                "the SQL has {} parameter(s) (`?` or `$n`) and `parameters` is not set",
                prepared.parameter_count()
            ),
        )
        .into());
    }
    let mut result = prepared.execute_streaming().map_err(|e| describe(&e))?;
    if after {
        return Ok(());
    }
    if !result.returns_rows() {
        return send(tx, Msg::NoRows).map_err(Failure::from);
    }
    let columns = result.column_count();
    let names: Vec<String> = (0..columns).map(|i| result.column_name(i)).collect();
    send(tx, Msg::Open(names.clone()))?;
    if job.fetch == FetchType::None {
        return send(tx, Msg::Close).map_err(Failure::from);
    }
    let kinds: Vec<Kind> = (0..columns)
        .map(|i| Kind::of(&result.column_type(i)))
        .collect();
    let reader = Reader { zone: &job.zone };
    let unsupported = |i: usize, e: crate::decode::CellError| {
        Failure::Task(
            TaskError::new(
                ErrorKind::Unsupported,
                format!("column `{}`: {}", names[i], e.0),
            )
            .hint(format!(
                "cast it to text in the SQL: `{}::VARCHAR`",
                names[i]
            )),
        )
    };
    let format = RowFormat::new(names.clone());
    let mut block = String::new();
    let mut in_block = 0u64;
    'chunks: while let Some(chunk) = result.next_chunk().map_err(|e| describe(&e))? {
        let vectors: Vec<Vector> = (0..columns).map(|i| Vector::new(chunk.vector(i))).collect();
        match job.fetch {
            FetchType::Store => {
                for row in 0..chunk.len() {
                    format
                        .ion_row(&mut block, |i, out| {
                            reader
                                .write_ion(&kinds[i], &vectors[i], row, out)
                                .map_err(|e| {
                                    TaskError::new(
                                        ErrorKind::Unsupported,
                                        format!("column `{}`: {}", names[i], e.0),
                                    )
                                })
                        })
                        .map_err(Failure::Task)?;
                    in_block += 1;
                    if block.len() >= STORE_BLOCK {
                        send(tx, Msg::Ion(std::mem::take(&mut block), in_block))?;
                        in_block = 0;
                    }
                }
            }
            FetchType::Fetch | FetchType::FetchOne => {
                let n = if job.fetch == FetchType::FetchOne {
                    1
                } else {
                    chunk.len()
                };
                let mut rows = Vec::with_capacity(n);
                for row in 0..n {
                    let mut cells = Vec::with_capacity(columns);
                    for (i, k) in kinds.iter().enumerate() {
                        cells.push(
                            reader
                                .cell(k, &vectors[i], row)
                                .map_err(|e| unsupported(i, e))?,
                        );
                    }
                    rows.push(cells);
                }
                send(tx, Msg::Rows(rows))?;
                if job.fetch == FetchType::FetchOne {
                    break 'chunks;
                }
            }
            FetchType::None => break 'chunks,
        }
    }
    if in_block > 0 {
        send(tx, Msg::Ion(block, in_block))?;
    }
    send(tx, Msg::Close).map_err(Failure::from)
}
