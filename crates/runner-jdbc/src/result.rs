//! One result set becoming Kestra's output: `row` (FETCH_ONE), `rows` (FETCH), an Ion file in
//! storage (STORE, `uri`), and `size`.

use crate::cell::Cell;
use crate::props::FetchType;
use runner_core::plugin::{
    ErrorKind, FileProgress, Outputs, PartialFile, Progress, ProgressUnit, RunContext, TaskError,
};
use serde_json::{Map, Value as Json};
use tokio::io::AsyncWriteExt;

/// The size of the blocks STORE writes: large enough that a write costs little per row.
pub const STORE_BLOCK: usize = 256 * 1024;

/// How much more of the STORE file must be written before the next task hears of it: a
/// flush costs a wait, and an Upload sends 8 MiB parts.
const SHARE_STEP: u64 = 4 * 1024 * 1024;

/// The output of a statement that returned a result nobody reads (fetchType NONE): Kestra
/// still writes `row: null`.
pub fn no_result_output() -> Outputs {
    Outputs::from_iter([("row".to_string(), Json::Null)])
}

/// A result's column names, with their Ion field prefixes (`name:`) computed once: they are
/// the same on every row.
pub struct RowFormat {
    names: Vec<String>,
    ion_names: Vec<String>,
}

impl RowFormat {
    pub fn new(names: Vec<String>) -> RowFormat {
        let ion_names = names
            .iter()
            .map(|n| {
                let mut t = String::new();
                runner_ion::write_field_name(n, &mut t);
                t.push(':');
                t
            })
            .collect();
        RowFormat { names, ion_names }
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// A row as Kestra's FETCH outputs show it: a map in column order (a later column of the
    /// same label wins, as in Kestra).
    pub fn json_row(&self, cells: &[Cell]) -> Json {
        let mut m = Map::with_capacity(self.names.len());
        for (n, c) in self.names.iter().zip(cells) {
            m.insert(n.clone(), c.to_json());
        }
        Json::Object(m)
    }

    /// Appends a row as one Ion struct and a newline; `cell(i, out)` writes column `i`.
    pub fn ion_row(
        &self,
        out: &mut String,
        mut cell: impl FnMut(usize, &mut String) -> Result<(), TaskError>,
    ) -> Result<(), TaskError> {
        out.push('{');
        for (i, name) in self.ion_names.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(name);
            cell(i, out)?;
        }
        out.push_str("}\n");
        Ok(())
    }
}

/// One result set being read: rows are pushed as the driver reads them.
pub struct ResultSet<'c> {
    ctx: &'c RunContext,
    fetch: FetchType,
    format: RowFormat,
    row: Json,
    rows: Vec<Json>,
    size: u64,
    store: Option<StoreFile>,
    /// STORE rows are appended here and written out in blocks of about [`STORE_BLOCK`] bytes.
    block: String,
    /// Rows so far, on a terminal; updated once per block written.
    progress: Progress,
}

impl<'c> ResultSet<'c> {
    /// A result set with these columns; STORE creates its file now.
    pub async fn open(
        ctx: &'c RunContext,
        fetch: FetchType,
        names: Vec<String>,
    ) -> Result<ResultSet<'c>, TaskError> {
        let store = if fetch == FetchType::Store {
            Some(StoreFile::create(ctx).await?)
        } else {
            None
        };
        let progress = if store.is_some() {
            ctx.progress("storing", ProgressUnit::Rows, None)
        } else {
            Progress::none()
        };
        Ok(ResultSet {
            ctx,
            fetch,
            format: RowFormat::new(names),
            row: Json::Null,
            rows: Vec::new(),
            size: 0,
            store,
            block: String::new(),
            progress,
        })
    }

    pub fn fetch(&self) -> FetchType {
        self.fetch
    }

    pub fn format(&self) -> &RowFormat {
        &self.format
    }

    /// Whether rows are still wanted: NONE wants none, FETCH_ONE only its first.
    pub fn wants_rows(&self) -> bool {
        match self.fetch {
            FetchType::None => false,
            FetchType::FetchOne => self.size == 0,
            FetchType::Fetch | FetchType::Store => true,
        }
    }

    /// Adds one row; false once no further row is wanted.
    pub async fn push(&mut self, cells: &[Cell]) -> Result<bool, TaskError> {
        if !self.wants_rows() {
            return Ok(false);
        }
        self.size += 1;
        match self.fetch {
            FetchType::Store => {
                self.format.ion_row(&mut self.block, |i, out| {
                    cells[i].write_ion(out);
                    Ok(())
                })?;
                self.write_if_full().await?;
            }
            FetchType::Fetch => self.rows.push(self.format.json_row(cells)),
            FetchType::FetchOne => self.row = self.format.json_row(cells),
            FetchType::None => {}
        }
        Ok(self.wants_rows())
    }

    /// STORE's fast path: one row written straight into the file's block, `cell(i, out)`
    /// writing column `i`'s Ion (a driver that can skip building [`Cell`]s).
    pub async fn push_ion(
        &mut self,
        cell: impl FnMut(usize, &mut String) -> Result<(), TaskError>,
    ) -> Result<(), TaskError> {
        debug_assert_eq!(self.fetch, FetchType::Store);
        self.size += 1;
        self.format.ion_row(&mut self.block, cell)?;
        self.write_if_full().await
    }

    /// A block of rows already written as Ion lines (`count` of them), from a driver that
    /// encodes on its own thread.
    pub async fn push_ion_block(&mut self, block: &str, count: u64) -> Result<(), TaskError> {
        self.size += count;
        self.block.push_str(block);
        self.write_if_full().await
    }

    async fn write_if_full(&mut self) -> Result<(), TaskError> {
        if self.block.len() >= STORE_BLOCK
            && let Some(f) = self.store.as_mut()
        {
            f.write(&mut self.block).await?;
            self.progress.set(self.size);
        }
        Ok(())
    }

    /// Kestra's output for this result set; STORE's file is complete once this returns.
    pub async fn finish(mut self) -> Result<Outputs, TaskError> {
        let mut out = Outputs::new();
        out.insert("row".into(), std::mem::take(&mut self.row));
        if let Some(mut f) = self.store.take() {
            f.write(&mut self.block).await?;
            out.insert("uri".into(), Json::String(f.complete().await?));
        }
        if self.fetch == FetchType::Fetch {
            out.insert("rows".into(), Json::Array(std::mem::take(&mut self.rows)));
        }
        if self.fetch != FetchType::None {
            out.insert("size".into(), Json::from(self.size));
        }
        let _ = self.ctx;
        Ok(out)
    }
}

/// The STORE file, offered to the next task while it grows (an Upload sends its parts). It is
/// removed unless completed: a query that fails or is cancelled leaves no half-written file.
pub struct StoreFile {
    file: tokio::fs::File,
    guard: PartialFile,
    written: u64,
    /// Bytes reported to the next task so far.
    shared: u64,
    progress: FileProgress,
    pub uri: String,
}

impl StoreFile {
    /// A new `<digits>.ion` file of this task run, named as Kestra names STORE files.
    pub async fn create(ctx: &RunContext) -> Result<StoreFile, TaskError> {
        let name = format!("{}.ion", runner_core::ids::random_u64());
        let uri = ctx.output_file_uri(&name);
        let file = ctx.storage().create(&uri).await?;
        let guard = PartialFile::new(ctx.storage().path(&uri)?);
        Ok(StoreFile {
            file,
            guard,
            written: 0,
            shared: 0,
            progress: ctx.share_growing_file(&uri),
            uri,
        })
    }

    /// Appends `block` and empties it.
    pub async fn write(&mut self, block: &mut String) -> Result<(), TaskError> {
        self.file
            .write_all(block.as_bytes())
            .await
            .map_err(|e| self.error(e))?;
        self.written += block.len() as u64;
        block.clear();
        if self.progress.is_followed() && self.written - self.shared >= SHARE_STEP {
            self.flush().await?;
        }
        Ok(())
    }

    /// Waits for the writes in flight (tokio writes in the background, so this is where the
    /// last write's error shows) and reports what is now final.
    pub async fn flush(&mut self) -> Result<(), TaskError> {
        let flushed = self.file.flush().await;
        flushed.map_err(|e| self.error(e))?;
        self.shared = self.written;
        self.progress.written(self.written);
        Ok(())
    }

    /// Flushes the file and keeps it; its URI.
    pub async fn complete(mut self) -> Result<String, TaskError> {
        self.flush().await?;
        self.guard.keep();
        Ok(self.uri)
    }

    fn error(&self, e: std::io::Error) -> TaskError {
        TaskError::new(
            ErrorKind::Io,
            format!("cannot write the STORE file {}", self.uri),
        )
        .hint("check the free space and permissions of the storage directory (--storage)")
        .caused_by(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_written_as_kestra_writes_them() {
        let f = RowFormat::new(vec!["id".into(), "first name".into()]);
        let cells = [Cell::Int(1), Cell::Text("Ada".into())];
        let mut out = String::new();
        f.ion_row(&mut out, |i, o| {
            cells[i].write_ion(o);
            Ok(())
        })
        .unwrap();
        assert_eq!(out, "{id:1,'first name':\"Ada\"}\n");
        assert_eq!(
            f.json_row(&cells),
            serde_json::json!({"id": 1, "first name": "Ada"})
        );
    }
}
