//! SQLite runs on a thread of its own (its API blocks): the thread opens the database, runs
//! the statements and steps through their rows, sending rows (FETCH) or Ion blocks (STORE,
//! encoded on that thread) over a bounded channel to the task, which builds Kestra's outputs
//! with the SQL kit. When the task is dropped (timeout, Ctrl-C, a failed sibling), its guard
//! interrupts SQLite (`sqlite3_interrupt`) and the execution waits for the thread to end; the
//! thread holds the working directory until then.

use crate::cell::{Declared, convert};
use jiff::tz::TimeZone;
use runner_core::plugin::*;
use runner_jdbc::sql::{Placeholders, bind_named};
use runner_jdbc::{Cell, FetchType, ResultSet, RowFormat, STORE_BLOCK};
use rusqlite::{Connection, InterruptHandle, OpenFlags};
use serde_json::Map;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub(crate) struct Job {
    /// The database file; `None`: in memory.
    pub(crate) file: Option<PathBuf>,
    pub(crate) source: String,
    pub(crate) statements: Vec<String>,
    pub(crate) after_sql: Option<String>,
    pub(crate) parameters: Map<String, Json>,
    pub(crate) fetch: FetchType,
    pub(crate) zone: TimeZone,
    pub(crate) transaction: bool,
    /// Held until the thread ends.
    pub(crate) dir: Arc<WorkingDir>,
}

enum Msg {
    Log(Level, String),
    Open(Vec<String>),
    Rows(Vec<Vec<Cell>>),
    Ion(String, u64),
    Close,
    NoRows,
    End(Result<(), TaskError>),
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

#[derive(Default)]
struct Stop {
    cancelled: AtomicBool,
    interrupt: Mutex<Option<InterruptHandle>>,
}

impl Stop {
    fn stop(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        if let Some(i) = self.interrupt.lock().expect("stop lock").as_ref() {
            i.interrupt();
        }
    }
}

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
            // An interrupt between two statements is lost: repeat it until the thread ends.
            loop {
                tokio::select! {
                    _ = &mut done => break,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => stop.stop(),
                }
            }
        });
    }
}

pub(crate) type Outcome = Option<Outputs>;

pub(crate) async fn run(ctx: &RunContext, job: Job) -> Result<Vec<Outcome>, TaskError> {
    let fetch = job.fetch;
    let (tx, mut rx) = mpsc::channel::<Msg>(4);
    let (done_tx, done_rx) = oneshot::channel::<()>();
    let stop = Arc::new(Stop::default());
    let thread_stop = stop.clone();
    std::thread::Builder::new()
        .name("runner-sqlite".into())
        .spawn(move || {
            let _done = done_tx;
            let dir = job.dir.clone();
            let end = match work(job, &tx, &thread_stop) {
                Ok(()) => Ok(()),
                Err(Failure::Gone) => return,
                Err(Failure::Task(e)) => Err(e),
            };
            let _ = tx.blocking_send(Msg::End(end));
            drop(dir);
        })
        .map_err(|e| {
            TaskError::new(ErrorKind::Other, "cannot start SQLite's thread").caused_by(e)
        })?;
    let _guard = Guard {
        stop,
        done: Some(done_rx),
        cleanup: ctx.cleanup().clone(),
    };
    let mut outcomes = Vec::new();
    let mut set: Option<ResultSet<'_>> = None;
    loop {
        let Some(msg) = rx.recv().await else {
            return Err(TaskError::new(
                ErrorKind::Other,
                "SQLite's thread ended without a result",
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
                    outcomes.push(Some(s.finish().await?));
                }
            }
            Msg::NoRows => outcomes.push(None),
            Msg::End(result) => {
                result?;
                return Ok(outcomes);
            }
        }
    }
}

fn send(tx: &mpsc::Sender<Msg>, msg: Msg) -> Result<(), Failure> {
    tx.blocking_send(msg).map_err(|_| Failure::Gone)
}

fn describe(e: &rusqlite::Error) -> TaskError {
    let text = match e {
        rusqlite::Error::SqliteFailure(_, Some(m)) => m.clone(),
        other => other.to_string(),
    };
    TaskError::new(ErrorKind::Remote, format!("SQLite: {text}"))
}

fn work(job: Job, tx: &mpsc::Sender<Msg>, stop: &Stop) -> Result<(), Failure> {
    let con = match &job.file {
        Some(f) => Connection::open_with_flags(
            f,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        ),
        None => Connection::open_in_memory(),
    }
    .map_err(|e| {
        TaskError::new(
            ErrorKind::Io,
            format!(
                "{}: SQLite cannot open the database `{}`: {e}",
                job.source,
                job.file
                    .as_ref()
                    .map_or(":memory:".into(), |f| f.display().to_string())
            ),
        )
    })?;
    // A file that is not a database shows here, before any statement.
    if job.file.is_some()
        && let Err(e) = con.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
    {
        return Err(TaskError::new(
            ErrorKind::BadData,
            format!("{}: `{}` is not a SQLite database SQLite can read: {e}", job.source, job.file.as_ref().map(|f| f.display().to_string()).unwrap_or_default()),
        )
        .hint("give a SQLite database file (the `databaseUri` output of a task with `outputDbFile: true`)")
        .into());
    }
    *stop.interrupt.lock().expect("stop lock") = Some(con.get_interrupt_handle());
    if stop.cancelled.load(Ordering::SeqCst) {
        return Err(Failure::Gone);
    }
    if job.transaction {
        con.execute_batch("BEGIN").map_err(|e| describe(&e))?;
    }
    let outcome = (|| {
        for sql in &job.statements {
            if stop.cancelled.load(Ordering::SeqCst) {
                return Err(Failure::Gone);
            }
            statement(&job, &con, tx, sql, false)?;
        }
        if let Some(after) = &job.after_sql {
            statement(&job, &con, tx, after, true)?;
        }
        Ok(())
    })();
    if job.transaction {
        match &outcome {
            Ok(()) => con.execute_batch("COMMIT").map_err(|e| describe(&e))?,
            Err(_) => {
                let _ = con.execute_batch("ROLLBACK");
            }
        }
    }
    outcome
}

fn to_sql(v: &Json) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Integer(i64::from(*b)),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::Text(s.clone()),
        other => Value::Text(other.to_string()),
    }
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
        bind_named(sql, Placeholders::Question)
    };
    let mut stmt = con.prepare(&bound).map_err(|e| describe(&e))?;
    for (i, name) in names.iter().enumerate() {
        let value = job.parameters.get(name).ok_or_else(|| {
            TaskError::property(
                "parameters",
                format!("`:{name}` is used in the SQL but `parameters` has no `{name}`"),
            )
        })?;
        stmt.raw_bind_parameter(i + 1, to_sql(value))
            .map_err(|e| describe(&e))?;
    }
    let columns = stmt.column_count();
    if columns == 0 || after {
        stmt.raw_execute().map_err(|e| describe(&e))?;
        return if after { Ok(()) } else { send(tx, Msg::NoRows) };
    }
    let names: Vec<String> = stmt.column_names().map(|s| s.to_string()).collect();
    let declared: Vec<Declared> = stmt
        .columns()
        .map(|c| Declared::of(c.decl_type()))
        .collect();
    send(tx, Msg::Open(names.clone()))?;
    if job.fetch == FetchType::None {
        // Kestra reads nothing; the statement still runs (an INSERT ... RETURNING).
        let mut rows = stmt.raw_query();
        while rows.next().map_err(|e| describe(&e))?.is_some() {}
        return send(tx, Msg::Close);
    }
    let format = RowFormat::new(names.clone());
    let unsupported = |i: usize, why: String| {
        Failure::Task(TaskError::new(
            ErrorKind::BadData,
            format!("column `{}`: {why}", names[i]),
        ))
    };
    let mut rows = stmt.raw_query();
    let mut block = String::new();
    let mut in_block = 0u64;
    let mut batch: Vec<Vec<Cell>> = Vec::new();
    while let Some(row) = rows.next().map_err(|e| describe(&e))? {
        let mut cells = Vec::with_capacity(columns);
        for (i, d) in declared.iter().enumerate() {
            let v = row.get_ref(i).map_err(|e| describe(&e))?;
            cells.push(convert(*d, v, &job.zone).map_err(|why| unsupported(i, why))?);
        }
        match job.fetch {
            FetchType::Store => {
                format
                    .ion_row(&mut block, |i, out| {
                        cells[i].write_ion(out);
                        Ok(())
                    })
                    .map_err(Failure::Task)?;
                in_block += 1;
                if block.len() >= STORE_BLOCK {
                    send(tx, Msg::Ion(std::mem::take(&mut block), in_block))?;
                    in_block = 0;
                }
            }
            FetchType::FetchOne => {
                send(tx, Msg::Rows(vec![cells]))?;
                break;
            }
            _ => {
                batch.push(cells);
                if batch.len() >= 1024 {
                    send(tx, Msg::Rows(std::mem::take(&mut batch)))?;
                }
            }
        }
    }
    if !batch.is_empty() {
        send(tx, Msg::Rows(batch))?;
    }
    if in_block > 0 {
        send(tx, Msg::Ion(block, in_block))?;
    }
    send(tx, Msg::Close)
}
