//! The storage tasks that work item by item on a file of Ion lines (or any lines): FilterItems,
//! DeduplicateItems and Reverse. Each reads as it writes; only DeduplicateItems keeps
//! something per distinct key.

use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::{Value as Json, json};
use std::collections::HashMap;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};

pub(crate) const FILTER_ITEMS: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.storage.FilterItems",
    aliases: &["io.kestra.core.tasks.storages.FilterItems"],
    doc: "Keep (INCLUDE) or drop (EXCLUDE) the items of an Ion file for which `filterCondition`, rendered with the item's fields as variables, is true; outputs `uri`, `processedItemsTotal`, `droppedItemsTotal`.",
    example: "id: big\ntype: io.kestra.plugin.core.storage.FilterItems\nfrom: \"{{ outputs.query.uri }}\"\nfilterCondition: \"{{ amount > 100 }}\"",
    shape: runnable::<FilterItems>(),
};

pub(crate) const DEDUPLICATE_ITEMS: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.storage.DeduplicateItems",
    aliases: &["io.kestra.core.tasks.storages.DeduplicateItems"],
    doc: "Keep the last item of an Ion file for each key `expr` renders (with the item's fields as variables), in file order; outputs `uri`, `numKeys`, `processedItemsTotal`, `droppedItemsTotal`.",
    example: "id: latest\ntype: io.kestra.plugin.core.storage.DeduplicateItems\nfrom: \"{{ outputs.query.uri }}\"\nexpr: \"{{ id }}\"",
    shape: runnable::<DeduplicateItems>(),
};

pub(crate) const REVERSE: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.storage.Reverse",
    aliases: &["io.kestra.core.tasks.storages.Reverse"],
    doc: "Write the lines of a file in reverse order (read from the end, streamed); `uri` is the result.",
    example: "id: reverse\ntype: io.kestra.plugin.core.storage.Reverse\nfrom: \"{{ outputs.write.uri }}\"",
    shape: runnable::<Reverse>(),
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum FilterType {
    Include,
    Exclude,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum ErrorOrNull {
    Fail,
    Include,
    Exclude,
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct FilterItems {
    /// The `kestra://` file of Ion lines.
    from: Property<String>,
    /// Rendered per item, with its fields as variables; true keeps (INCLUDE) or drops it.
    filter_condition: String,
    /// What a true condition does (default INCLUDE).
    filter_type: Option<Property<FilterType>>,
    /// When the condition fails or gives null: FAIL (default), INCLUDE or EXCLUDE.
    error_or_null_behavior: Option<Property<ErrorOrNull>>,
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct DeduplicateItems {
    /// The `kestra://` file of Ion lines.
    from: Property<String>,
    /// Rendered per item, with its fields as variables: the key.
    expr: String,
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Reverse {
    /// The `kestra://` file.
    from: Property<String>,
    /// Written after each line (default a newline).
    separator: Option<Property<String>>,
    /// Accepted when UTF-8.
    charset: Option<Property<String>>,
}

/// The longest line these tasks read.
const MAX_LINE: usize = 64 << 20;

/// Lines of a stored file, one at a time, without their line break.
struct Lines {
    reader: BufReader<tokio::fs::File>,
    uri: String,
    buf: Vec<u8>,
}

impl Lines {
    async fn open(ctx: &RunContext, uri: &str) -> Result<Lines, TaskError> {
        let file = ctx.open_execution_file(uri).await?;
        Ok(Lines {
            reader: BufReader::with_capacity(256 << 10, file),
            uri: uri.to_string(),
            buf: Vec::new(),
        })
    }

    async fn next(&mut self) -> Result<Option<String>, TaskError> {
        self.buf.clear();
        let n = (&mut self.reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut self.buf)
            .await
            .map_err(|e| {
                TaskError::new(ErrorKind::Io, format!("cannot read {}", self.uri)).caused_by(e)
            })?;
        if n == 0 {
            return Ok(None);
        }
        if self.buf.len() > MAX_LINE && !self.buf.ends_with(b"\n") {
            return Err(TaskError::new(
                ErrorKind::BadData,
                format!("{} has a line longer than {} MiB", self.uri, MAX_LINE >> 20),
            ));
        }
        while self.buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            self.buf.pop();
        }
        String::from_utf8(std::mem::take(&mut self.buf))
            .map(Some)
            .map_err(|_| TaskError::new(ErrorKind::BadData, format!("{} is not UTF-8", self.uri)))
    }
}

/// An item's fields as variables (an Ion struct on one line).
fn item_vars(uri: &str, line: &str) -> Result<Json, TaskError> {
    match runner_ion::parse(line) {
        Ok(values) => match values.into_iter().next() {
            Some(v @ Json::Object(_)) => Ok(v),
            Some(other) => Ok(json!({ "value": other })),
            None => Ok(json!({})),
        },
        Err(e) => Err(TaskError::new(
            ErrorKind::BadData,
            format!("{uri}: an item is not Ion ({e}): `{}`", shorten(line)),
        )),
    }
}

fn shorten(line: &str) -> String {
    match line.char_indices().nth(120) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line.to_string(),
    }
}

/// A new `.ion` file of this task run, written through a buffer; removed if dropped unfinished.
struct Output {
    uri: String,
    path: std::path::PathBuf,
    out: BufWriter<tokio::fs::File>,
    done: bool,
}

impl Output {
    async fn create(ctx: &RunContext, extension: &str) -> Result<Output, TaskError> {
        let uri = ctx.output_file_uri(&format!("{}{extension}", runner_core::ids::random_u64()));
        let path = ctx.storage().path(&uri)?;
        let file = ctx.storage().create(&uri).await?;
        Ok(Output {
            uri,
            path,
            out: BufWriter::with_capacity(64 << 10, file),
            done: false,
        })
    }

    async fn line(&mut self, text: &str, separator: &str) -> Result<(), TaskError> {
        let io =
            |e| TaskError::new(ErrorKind::Io, format!("cannot write {}", self.uri)).caused_by(e);
        self.out.write_all(text.as_bytes()).await.map_err(io)?;
        self.out.write_all(separator.as_bytes()).await.map_err(io)
    }

    async fn finish(mut self) -> Result<String, TaskError> {
        self.out.flush().await.map_err(|e| {
            TaskError::new(ErrorKind::Io, format!("cannot write {}", self.uri)).caused_by(e)
        })?;
        self.done = true;
        Ok(self.uri.clone())
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if !self.done {
            // No half-written result is left behind.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl RunnableTask for FilterItems {
    fn check(&self) -> Result<(), String> {
        runner_template::Renderer::new()
            .check(&self.filter_condition)
            .map_err(|e| format!("filterCondition: {e}"))
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            let keep_when = ctx
                .render_opt(&self.filter_type, "filterType")?
                .unwrap_or(FilterType::Include);
            let on_error = ctx
                .render_opt(&self.error_or_null_behavior, "errorOrNullBehavior")?
                .unwrap_or(ErrorOrNull::Fail);
            let mut lines = Lines::open(ctx, &from).await?;
            let mut out = Output::create(ctx, ".ion").await?;
            let (mut processed, mut dropped) = (0u64, 0u64);
            while let Some(line) = lines.next().await? {
                if line.trim().is_empty() {
                    continue;
                }
                let vars = item_vars(&from, &line)?;
                let rendered = ctx.render_str_in(&self.filter_condition, "filterCondition", vars);
                // As Kestra: what renders is tested for truth ("", "0", "false" are false); an
                // error is what errorOrNullBehavior decides.
                let matched = match rendered {
                    Ok(r) => Some(is_truthy(&r)),
                    Err(_) if on_error != ErrorOrNull::Fail => None,
                    Err(e) => return Err(e),
                };
                let include = match matched {
                    Some(m) => m == (keep_when == FilterType::Include),
                    None => on_error == ErrorOrNull::Include,
                };
                processed += 1;
                if include {
                    out.line(&line, "\n").await?;
                } else {
                    dropped += 1;
                }
            }
            let uri = out.finish().await?;
            let mut outputs = Outputs::new();
            outputs.insert("uri".into(), Json::String(uri));
            outputs.insert("processedItemsTotal".into(), json!(processed));
            outputs.insert("droppedItemsTotal".into(), json!(dropped));
            Ok(outputs)
        })
    }
}

impl RunnableTask for DeduplicateItems {
    fn check(&self) -> Result<(), String> {
        runner_template::Renderer::new()
            .check(&self.expr)
            .map_err(|e| format!("expr: {e}"))
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            // First pass: the last position of each key (memory grows with distinct keys only).
            let mut last: HashMap<String, u64> = HashMap::new();
            let mut lines = Lines::open(ctx, &from).await?;
            let mut index = 0u64;
            while let Some(line) = lines.next().await? {
                if line.trim().is_empty() {
                    continue;
                }
                let key = ctx.render_str_in(&self.expr, "expr", item_vars(&from, &line)?)?;
                last.insert(key, index);
                index += 1;
            }
            // Second pass: each item that is the last of its key, in file order.
            let keep: std::collections::HashSet<u64> = last.values().copied().collect();
            let mut lines = Lines::open(ctx, &from).await?;
            let mut out = Output::create(ctx, ".ion").await?;
            let mut i = 0u64;
            while let Some(line) = lines.next().await? {
                if line.trim().is_empty() {
                    continue;
                }
                if keep.contains(&i) {
                    out.line(&line, "\n").await?;
                }
                i += 1;
            }
            let uri = out.finish().await?;
            let mut outputs = Outputs::new();
            outputs.insert("uri".into(), Json::String(uri));
            outputs.insert("numKeys".into(), json!(last.len()));
            outputs.insert("processedItemsTotal".into(), json!(index));
            outputs.insert("droppedItemsTotal".into(), json!(index - keep.len() as u64));
            Ok(outputs)
        })
    }
}

impl RunnableTask for Reverse {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            if let Some(c) = ctx.render_opt(&self.charset, "charset")?
                && !c.eq_ignore_ascii_case("utf-8")
                && !c.eq_ignore_ascii_case("utf8")
            {
                return Err(TaskError::property(
                    "charset",
                    format!("`{c}`: runner reads UTF-8 only"),
                ));
            }
            let separator = ctx
                .render_opt(&self.separator, "separator")?
                .unwrap_or_else(|| "\n".into());
            let source = ctx.execution_file_path(&from)?;
            let extension = match from
                .rsplit('/')
                .next()
                .and_then(|n| n.rfind('.').map(|i| &n[i..]))
            {
                Some(e) => e.to_string(),
                None => ".tmp".to_string(),
            };
            let mut out = Output::create(ctx, &extension).await?;
            // Read from the end in blocks: a line is complete once the break before it is seen.
            let mut file = tokio::fs::File::open(&source).await.map_err(|e| {
                TaskError::new(ErrorKind::Io, format!("cannot read {from}")).caused_by(e)
            })?;
            let io = |e: std::io::Error| {
                TaskError::new(ErrorKind::Io, format!("cannot read {from}")).caused_by(e)
            };
            let size = file.metadata().await.map_err(io)?.len();
            let mut pos = size;
            const BLOCK: u64 = 64 << 10;
            let mut tail: Vec<u8> = Vec::new();
            let mut first = true;
            while pos > 0 {
                let start = pos.saturating_sub(BLOCK);
                let mut block = vec![0u8; (pos - start) as usize];
                tokio::io::AsyncSeekExt::seek(&mut file, std::io::SeekFrom::Start(start))
                    .await
                    .map_err(io)?;
                file.read_exact(&mut block).await.map_err(io)?;
                block.extend_from_slice(&tail);
                tail.clear();
                let mut end = block.len();
                // The file's own last line break ends no line.
                if first {
                    first = false;
                    if block.last() == Some(&b'\n') {
                        end -= 1;
                        if end > 0 && block[end - 1] == b'\r' {
                            end -= 1;
                        }
                    }
                }
                while let Some(nl) = block[..end].iter().rposition(|b| *b == b'\n') {
                    let mut line = &block[nl + 1..end];
                    if line.last() == Some(&b'\r') {
                        line = &line[..line.len() - 1];
                    }
                    out.line(&String::from_utf8_lossy(line), &separator).await?;
                    end = nl;
                }
                if end > MAX_LINE {
                    return Err(TaskError::new(
                        ErrorKind::BadData,
                        format!("{from} has a line longer than {} MiB", MAX_LINE >> 20),
                    ));
                }
                tail = block[..end].to_vec();
                pos = start;
            }
            // What is left is the file's first line.
            if size > 0 {
                let line = tail.strip_suffix(b"\r").unwrap_or(&tail);
                out.line(&String::from_utf8_lossy(line), &separator).await?;
            }
            let uri = out.finish().await?;
            let mut outputs = Outputs::new();
            outputs.insert("uri".into(), Json::String(uri));
            Ok(outputs)
        })
    }
}
