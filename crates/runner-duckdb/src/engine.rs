//! DuckDB's C API behind safe types: a database from the process's instance cache (two tasks
//! of a run on one file share it, as two connections of one database), a connection with an
//! interrupt any thread may call, prepared statements with binds, and streaming results read
//! chunk by chunk.

use libduckdb_sys as ffi;
use serde_json::Value as Json;
use std::ffi::{CStr, CString, c_char};
use std::ptr;
use std::sync::{Arc, Mutex, OnceLock};

/// An error DuckDB reported: its message (`Parser Error: ...`, with the line and caret it
/// gives).
#[derive(Debug, Clone)]
pub(crate) struct DuckError {
    pub(crate) message: String,
}

impl DuckError {
    fn new(message: impl Into<String>) -> DuckError {
        DuckError {
            message: message.into(),
        }
    }
}

impl std::fmt::Display for DuckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Reads and frees a C string DuckDB allocated.
unsafe fn take_c_string(s: *mut c_char) -> Option<String> {
    if s.is_null() {
        return None;
    }
    // SAFETY: DuckDB gives a NUL-terminated string it allocated with duckdb_malloc.
    let text = unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned();
    unsafe { ffi::duckdb_free(s.cast()) };
    Some(text)
}

/// Reads a C string DuckDB owns.
unsafe fn borrowed(s: *const c_char) -> Option<String> {
    if s.is_null() {
        return None;
    }
    // SAFETY: a NUL-terminated string that lives as long as its owner (the caller's object).
    Some(unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned())
}

fn c_string(s: &str) -> Result<CString, DuckError> {
    CString::new(s).map_err(|_| DuckError::new("the text holds a NUL character"))
}

struct InstanceCache(ffi::duckdb_instance_cache);
// SAFETY: DuckDB's instance cache is internally synchronised (a mutex around its map).
unsafe impl Send for InstanceCache {}
unsafe impl Sync for InstanceCache {}

/// The process's instance cache: two tasks opening one database file get the same database
/// (DuckDB allows one writer instance per file), each with its own connection.
fn cache() -> ffi::duckdb_instance_cache {
    static CACHE: OnceLock<InstanceCache> = OnceLock::new();
    CACHE
        .get_or_init(|| InstanceCache(unsafe { ffi::duckdb_create_instance_cache() }))
        .0
}

/// DuckDB's version (`v1.5.5`).
pub(crate) fn library_version() -> String {
    // SAFETY: a static string.
    unsafe { borrowed(ffi::duckdb_library_version()) }.unwrap_or_default()
}

/// A handle on a database (closed when dropped; the database itself closes, and checkpoints,
/// when its last handle does).
pub(crate) struct Database(ffi::duckdb_database);
// SAFETY: a database handle may be used and closed from any thread.
unsafe impl Send for Database {}

impl Database {
    /// Opens `path` (a file, `:memory:` or a DuckDB URL such as `md:`).
    pub(crate) fn open(path: &str) -> Result<Database, DuckError> {
        let c_path = c_string(path)?;
        let mut db: ffi::duckdb_database = ptr::null_mut();
        let mut err: *mut c_char = ptr::null_mut();
        // SAFETY: valid pointers; on failure DuckDB sets `err`, which we free.
        let rc = unsafe {
            if path == ":memory:" {
                ffi::duckdb_open_ext(c_path.as_ptr(), &mut db, ptr::null_mut(), &mut err)
            } else {
                ffi::duckdb_get_or_create_from_cache(
                    cache(),
                    c_path.as_ptr(),
                    &mut db,
                    ptr::null_mut(),
                    &mut err,
                )
            }
        };
        if rc != ffi::DuckDBSuccess {
            let message = unsafe { take_c_string(err) }
                .unwrap_or_else(|| "DuckDB could not open the database".into());
            if !db.is_null() {
                unsafe { ffi::duckdb_close(&mut db) };
            }
            return Err(DuckError::new(message));
        }
        Ok(Database(db))
    }

    pub(crate) fn connect(self) -> Result<Connection, DuckError> {
        let mut con: ffi::duckdb_connection = ptr::null_mut();
        // SAFETY: an open database.
        let rc = unsafe { ffi::duckdb_connect(self.0, &mut con) };
        if rc != ffi::DuckDBSuccess {
            return Err(DuckError::new("DuckDB could not connect to the database"));
        }
        Ok(Connection {
            con,
            interrupt: Arc::new(Interrupt(Mutex::new(Handle(con)))),
            _db: self,
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // SAFETY: ours, closed once.
        unsafe { ffi::duckdb_close(&mut self.0) };
    }
}

struct Handle(ffi::duckdb_connection);
// SAFETY: duckdb_interrupt may be called from any thread while the connection lives; the
// mutex keeps the pointer from being used after the connection closed.
unsafe impl Send for Handle {}

/// Stops the query running on a connection, from any thread; does nothing once the
/// connection is closed.
pub(crate) struct Interrupt(Mutex<Handle>);

impl Interrupt {
    pub(crate) fn interrupt(&self) {
        let h = self.0.lock().expect("interrupt lock");
        if !h.0.is_null() {
            // SAFETY: the connection is open (cleared under this lock before it closes).
            unsafe { ffi::duckdb_interrupt(h.0) };
        }
    }
}

/// A connection (its field order: closed before its database).
pub(crate) struct Connection {
    con: ffi::duckdb_connection,
    interrupt: Arc<Interrupt>,
    _db: Database,
}
// SAFETY: a connection is used by one thread at a time (the worker), and may move to it.
unsafe impl Send for Connection {}

impl Connection {
    pub(crate) fn interrupt_handle(&self) -> Arc<Interrupt> {
        self.interrupt.clone()
    }

    /// Runs SQL that returns nothing the task reads (SET, BEGIN, COMMIT, CHECKPOINT...).
    pub(crate) fn execute(&self, sql: &str) -> Result<(), DuckError> {
        let c_sql = c_string(sql)?;
        let mut result: ffi::duckdb_result = unsafe { std::mem::zeroed() };
        // SAFETY: an open connection; the result is destroyed whatever happened.
        let rc = unsafe { ffi::duckdb_query(self.con, c_sql.as_ptr(), &mut result) };
        let outcome = if rc == ffi::DuckDBSuccess {
            Ok(())
        } else {
            Err(result_error(&mut result))
        };
        unsafe { ffi::duckdb_destroy_result(&mut result) };
        outcome
    }

    pub(crate) fn prepare(&self, sql: &str) -> Result<Prepared, DuckError> {
        let c_sql = c_string(sql)?;
        let mut stmt: ffi::duckdb_prepared_statement = ptr::null_mut();
        // SAFETY: an open connection; the statement is destroyed by `Prepared` or here.
        let rc = unsafe { ffi::duckdb_prepare(self.con, c_sql.as_ptr(), &mut stmt) };
        let prepared = Prepared(stmt);
        if rc != ffi::DuckDBSuccess {
            let message = unsafe { borrowed(ffi::duckdb_prepare_error(stmt)) }
                .unwrap_or_else(|| "DuckDB could not prepare the statement".into());
            return Err(DuckError::new(message));
        }
        Ok(prepared)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.interrupt.0.lock().expect("interrupt lock").0 = ptr::null_mut();
        // SAFETY: ours, disconnected once, after the interrupt can no longer reach it.
        unsafe { ffi::duckdb_disconnect(&mut self.con) };
    }
}

fn result_error(result: &mut ffi::duckdb_result) -> DuckError {
    // SAFETY: a result DuckDB filled in (an error result holds its message).
    let message = unsafe { borrowed(ffi::duckdb_result_error(result)) }
        .unwrap_or_else(|| "DuckDB reported an error without a message".into());
    DuckError { message }
}

/// A prepared statement.
pub(crate) struct Prepared(ffi::duckdb_prepared_statement);

impl Drop for Prepared {
    fn drop(&mut self) {
        // SAFETY: ours (a failed prepare still gives a statement to destroy).
        unsafe { ffi::duckdb_destroy_prepare(&mut self.0) };
    }
}

impl Prepared {
    pub(crate) fn parameter_count(&self) -> usize {
        unsafe { ffi::duckdb_nparams(self.0) as usize }
    }

    /// Binds a parameter (from 1) from a JSON value: nulls, booleans, numbers and text as
    /// themselves, lists and maps as their JSON text.
    pub(crate) fn bind(&mut self, index: usize, value: &Json) -> Result<(), DuckError> {
        let i = index as u64;
        // SAFETY: a prepared statement and an index DuckDB checks.
        let rc = unsafe {
            match value {
                Json::Null => ffi::duckdb_bind_null(self.0, i),
                Json::Bool(b) => ffi::duckdb_bind_boolean(self.0, i, *b),
                Json::Number(n) => {
                    if let Some(v) = n.as_i64() {
                        ffi::duckdb_bind_int64(self.0, i, v)
                    } else if let Some(v) = n.as_u64() {
                        ffi::duckdb_bind_uint64(self.0, i, v)
                    } else {
                        ffi::duckdb_bind_double(self.0, i, n.as_f64().unwrap_or(f64::NAN))
                    }
                }
                Json::String(s) => {
                    let c = c_string(s)?;
                    ffi::duckdb_bind_varchar(self.0, i, c.as_ptr())
                }
                other => {
                    let c = c_string(&other.to_string())?;
                    ffi::duckdb_bind_varchar(self.0, i, c.as_ptr())
                }
            }
        };
        if rc != ffi::DuckDBSuccess {
            return Err(DuckError::new(format!(
                "parameter {index} could not be bound: {}",
                unsafe { borrowed(ffi::duckdb_prepare_error(self.0)) }.unwrap_or_default()
            )));
        }
        Ok(())
    }

    /// Runs the statement; a result that returns rows is read chunk by chunk as it is made.
    pub(crate) fn execute_streaming(&mut self) -> Result<QueryResult, DuckError> {
        let mut pending: ffi::duckdb_pending_result = ptr::null_mut();
        // SAFETY: a prepared statement; the pending result is destroyed below.
        let rc = unsafe { ffi::duckdb_pending_prepared_streaming(self.0, &mut pending) };
        if rc != ffi::DuckDBSuccess {
            let message = unsafe { borrowed(ffi::duckdb_pending_error(pending)) }
                .unwrap_or_else(|| "DuckDB could not start the statement".into());
            unsafe { ffi::duckdb_destroy_pending(&mut pending) };
            return Err(DuckError::new(message));
        }
        let mut result: ffi::duckdb_result = unsafe { std::mem::zeroed() };
        let rc = unsafe { ffi::duckdb_execute_pending(pending, &mut result) };
        unsafe { ffi::duckdb_destroy_pending(&mut pending) };
        if rc != ffi::DuckDBSuccess {
            let e = result_error(&mut result);
            unsafe { ffi::duckdb_destroy_result(&mut result) };
            return Err(e);
        }
        Ok(QueryResult { result })
    }
}

/// A result being read.
pub(crate) struct QueryResult {
    result: ffi::duckdb_result,
}

impl Drop for QueryResult {
    fn drop(&mut self) {
        // SAFETY: ours.
        unsafe { ffi::duckdb_destroy_result(&mut self.result) };
    }
}

impl QueryResult {
    /// Whether the statement returns rows (a query), not a count of changed rows or nothing:
    /// what a JDBC `execute` answers with `true`.
    pub(crate) fn returns_rows(&self) -> bool {
        // SAFETY: a live result (the C API reads it by value).
        let kind = unsafe { ffi::duckdb_result_return_type(self.result) };
        kind == ffi::duckdb_result_type_DUCKDB_RESULT_TYPE_QUERY_RESULT
    }

    pub(crate) fn column_count(&self) -> usize {
        let mut r = self.result;
        unsafe { ffi::duckdb_column_count(&mut r) as usize }
    }

    pub(crate) fn column_name(&self, i: usize) -> String {
        let mut r = self.result;
        unsafe { borrowed(ffi::duckdb_column_name(&mut r, i as u64)) }.unwrap_or_default()
    }

    pub(crate) fn column_type(&self, i: usize) -> LogicalType {
        let mut r = self.result;
        LogicalType(unsafe { ffi::duckdb_column_logical_type(&mut r, i as u64) })
    }

    /// The next chunk of rows; `None` at the end.
    pub(crate) fn next_chunk(&mut self) -> Result<Option<Chunk>, DuckError> {
        // SAFETY: a live result; the chunk is destroyed by `Chunk`.
        let chunk = unsafe { ffi::duckdb_fetch_chunk(self.result) };
        if chunk.is_null() {
            let has_error = !unsafe { ffi::duckdb_result_error(&mut self.result) }.is_null();
            if has_error {
                return Err(result_error(&mut self.result));
            }
            return Ok(None);
        }
        let chunk = Chunk(chunk);
        if chunk.len() == 0 {
            // An empty chunk ends the result too, and may come with an error.
            let has_error = !unsafe { ffi::duckdb_result_error(&mut self.result) }.is_null();
            if has_error {
                return Err(result_error(&mut self.result));
            }
            return Ok(None);
        }
        Ok(Some(chunk))
    }
}

/// Up to 2048 rows of a result.
pub(crate) struct Chunk(ffi::duckdb_data_chunk);

impl Drop for Chunk {
    fn drop(&mut self) {
        unsafe { ffi::duckdb_destroy_data_chunk(&mut self.0) };
    }
}

impl Chunk {
    pub(crate) fn len(&self) -> usize {
        unsafe { ffi::duckdb_data_chunk_get_size(self.0) as usize }
    }

    pub(crate) fn vector(&self, column: usize) -> ffi::duckdb_vector {
        unsafe { ffi::duckdb_data_chunk_get_vector(self.0, column as u64) }
    }
}

/// A column's type (destroyed when dropped).
pub(crate) struct LogicalType(pub(crate) ffi::duckdb_logical_type);

impl Drop for LogicalType {
    fn drop(&mut self) {
        unsafe { ffi::duckdb_destroy_logical_type(&mut self.0) };
    }
}
