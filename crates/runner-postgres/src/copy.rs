//! `io.kestra.plugin.jdbc.postgresql.CopyIn` and `CopyOut`: a storage file into a table, or a
//! table or query into a storage file, through PostgreSQL's COPY protocol. Both stream: the
//! file goes to the server in blocks as it is read, and the server's rows go to the file as
//! they arrive, so memory does not depend on the size of the data.

use crate::connection::{Target, describe};
use crate::exec::{Session, connect_to};
use crate::props::{Login, Tls};
use bytes::Bytes;
use futures_util::{SinkExt, TryStreamExt, pin_mut};
use runner_core::plugin::*;
use serde::Deserialize;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub(crate) const COPY_IN: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.jdbc.postgresql.CopyIn",
    aliases: &[],
    doc: "Load a storage file (TEXT, CSV or BINARY) into a PostgreSQL table with COPY ... FROM STDIN, streamed.",
    example: "id: load\ntype: io.kestra.plugin.jdbc.postgresql.CopyIn\nurl: jdbc:postgresql://127.0.0.1:5432/\nusername: app\npassword: \"{{ secret('POSTGRES_PASSWORD') }}\"\nformat: CSV\nheader: true\nfrom: \"{{ outputs.export.uri }}\"\ntable: products",
    shape: runnable::<CopyIn>(),
};

pub(crate) const COPY_OUT: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.jdbc.postgresql.CopyOut",
    aliases: &[],
    doc: "Write a PostgreSQL table or query to a storage file (TEXT, CSV or BINARY) with COPY ... TO STDOUT, streamed.",
    example: "id: export\ntype: io.kestra.plugin.jdbc.postgresql.CopyOut\nurl: jdbc:postgresql://127.0.0.1:5432/\nusername: app\npassword: \"{{ secret('POSTGRES_PASSWORD') }}\"\nformat: CSV\nheader: true\nsql: select * from products",
    shape: runnable::<CopyOut>(),
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum CopyFormat {
    Text,
    Csv,
    Binary,
}

/// Kestra's `AbstractCopy`: the connection and COPY's options, each written into the statement
/// only when set, so PostgreSQL's defaults apply otherwise.
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CopyOptions {
    #[serde(flatten)]
    login: Login,
    #[serde(flatten)]
    tls: Tls,
    /// The table (optionally schema-qualified).
    table: Option<Property<String>>,
    /// The columns to copy (default: all of the table's).
    columns: Option<Property<Vec<String>>>,
    /// TEXT (default), CSV or BINARY.
    format: Option<Property<CopyFormat>>,
    /// Copy each row's OID (tables with OIDs only; PostgreSQL 12 removed them).
    oids: Option<Property<bool>>,
    /// Load rows already frozen, as after VACUUM FREEZE (CopyIn).
    freeze: Option<Property<bool>>,
    /// One one-byte character between columns (default tab in TEXT, comma in CSV).
    delimiter: Option<Property<String>>,
    /// The string that stands for NULL (default `\N` in TEXT, an unquoted empty string in CSV).
    null_string: Option<Property<String>>,
    /// CSV: the first line holds the column names (written by CopyOut, skipped by CopyIn).
    header: Option<Property<bool>>,
    /// CSV: the quoting character (default `"`).
    quote: Option<Property<String>>,
    /// CSV: the character before a quote inside a quoted value (default: the quote).
    escape: Option<Property<String>>,
    /// CSV, CopyOut: columns whose non-NULL values are always quoted; `["*"]` for all.
    force_quote: Option<Property<Vec<String>>>,
    /// CSV, CopyIn: columns never matched against the null string.
    force_not_null: Option<Property<Vec<String>>>,
    /// CSV, CopyIn: columns matched against the null string even when quoted.
    force_null: Option<Property<Vec<String>>>,
    /// The file's encoding (default: the client encoding, UTF8).
    encoding: Option<Property<String>>,
    /// Seconds without a message from the server before the copy fails (default 0: no limit).
    socket_timeout: Option<Property<u64>>,
}

impl CopyOptions {
    /// Static values that COPY would refuse, said before anything runs.
    fn check(&self) -> Result<(), String> {
        let characters = [
            ("delimiter", &self.delimiter),
            ("quote", &self.quote),
            ("escape", &self.escape),
        ];
        for (name, value) in characters {
            if let Some(p) = value.as_ref().filter(|p| !p.is_dynamic())
                && let Some(s) = p.raw().as_str()
            {
                one_byte(name, s)?;
            }
        }
        Ok(())
    }

    /// Renders the connection and the statement: COPY of `query` (CopyOut's `sql`) or of the
    /// table and its columns, then `direction` (`FROM STDIN` or `TO STDOUT`), then the options.
    fn prepare(
        &self,
        ctx: &RunContext,
        query: Option<&str>,
        direction: &str,
    ) -> Result<Copy, TaskError> {
        let (target, tls) = connect_to(ctx, &self.login, &self.tls)?;
        let format = ctx
            .render_opt(&self.format, "format")?
            .unwrap_or(CopyFormat::Text);
        let mut sql = String::from("COPY ");
        match query {
            Some(q) => {
                sql.push('(');
                sql.push_str(q);
                sql.push(')');
            }
            None => {
                // Validation refuses a copy with neither (see the tasks' `check`).
                let Some(table) = ctx.render_opt(&self.table, "table")? else {
                    return Err(TaskError::property("table", "missing"));
                };
                sql.push_str(&table);
                let columns = ctx
                    .render_opt(&self.columns, "columns")?
                    .unwrap_or_default();
                if !columns.is_empty() {
                    sql.push_str(&format!(" ({})", columns.join(", ")));
                }
            }
        }
        sql.push(' ');
        sql.push_str(direction);

        let mut options = Vec::new();
        if format != CopyFormat::Text {
            options.push(format!(
                "FORMAT {}",
                if format == CopyFormat::Csv {
                    "CSV"
                } else {
                    "BINARY"
                }
            ));
        }
        if ctx.render_opt(&self.oids, "oids")? == Some(true) {
            options.push("OIDS".to_string());
        }
        if ctx.render_opt(&self.freeze, "freeze")? == Some(true) {
            options.push("FREEZE".to_string());
        }
        let delimiter = ctx.render_opt(&self.delimiter, "delimiter")?;
        if let Some(d) = &delimiter {
            one_byte("delimiter", d).map_err(|e| TaskError::property("delimiter", e))?;
            options.push(format!("DELIMITER {}", literal(d)));
        }
        if let Some(n) = ctx.render_opt(&self.null_string, "nullString")? {
            options.push(format!("NULL {}", literal(&n)));
        }
        let header = ctx.render_opt(&self.header, "header")?;
        if let Some(h) = header {
            options.push(format!("HEADER {}", if h { "TRUE" } else { "FALSE" }));
        }
        for (name, value) in [("quote", &self.quote), ("escape", &self.escape)] {
            if let Some(c) = ctx.render_opt(value, name)? {
                one_byte(name, &c).map_err(|e| TaskError::property(name, e))?;
                options.push(format!("{} {}", name.to_uppercase(), literal(&c)));
            }
        }
        let force_quote = ctx
            .render_opt(&self.force_quote, "forceQuote")?
            .unwrap_or_default();
        if force_quote == ["*"] {
            options.push("FORCE_QUOTE *".to_string());
        } else if !force_quote.is_empty() {
            options.push(format!("FORCE_QUOTE ({})", force_quote.join(", ")));
        }
        for (keyword, name, value) in [
            ("FORCE_NOT_NULL", "forceNotNull", &self.force_not_null),
            ("FORCE_NULL", "forceNull", &self.force_null),
        ] {
            let columns = ctx.render_opt(value, name)?.unwrap_or_default();
            if !columns.is_empty() {
                options.push(format!("{keyword} ({})", columns.join(", ")));
            }
        }
        if let Some(e) = ctx.render_opt(&self.encoding, "encoding")? {
            options.push(format!("ENCODING {}", literal(&e)));
        }
        if !options.is_empty() {
            sql.push_str(&format!(" WITH ({})", options.join(", ")));
        }
        let idle = ctx
            .render_opt(&self.socket_timeout, "socketTimeout")?
            .filter(|s| *s > 0)
            .map(Duration::from_secs)
            .or(target.socket_timeout);
        Ok(Copy {
            target,
            tls,
            sql,
            // The server sends one message per row (protocol docs), plus the CSV header line
            // and the binary trailer (its header rides with the first row); those are not rows.
            framing: match format {
                CopyFormat::Csv if header == Some(true) => 1,
                CopyFormat::Binary => 1,
                _ => 0,
            },
            idle,
        })
    }
}

/// A COPY statement ready to run.
struct Copy {
    target: Target,
    tls: Option<rustls::ClientConfig>,
    sql: String,
    /// Messages of COPY TO that are not rows.
    framing: u64,
    /// The longest wait for the server (`socketTimeout`).
    idle: Option<Duration>,
}

impl Copy {
    /// Waits for `step`, no longer than `socketTimeout` when one is set.
    async fn within<T>(
        &self,
        step: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, TaskError> {
        let result = match self.idle {
            Some(limit) => tokio::time::timeout(limit, step).await.map_err(|_| {
                TaskError::new(
                    ErrorKind::Unreachable,
                    format!(
                        "PostgreSQL at {} sent nothing for {} s (socketTimeout)",
                        self.target.endpoint(),
                        limit.as_secs()
                    ),
                )
                .hint("raise socketTimeout, or set it to 0 for no limit")
            })?,
            None => step.await,
        };
        result.map_err(|e| describe(&e, &self.target, Some(&self.sql)))
    }
}

fn one_byte(name: &str, value: &str) -> Result<(), String> {
    if value.len() == 1 {
        Ok(())
    } else {
        Err(format!(
            "`{name}` must be a single one-byte character, got {} bytes",
            value.len()
        ))
    }
}

/// A string literal for the COPY options: quotes doubled, so a `'` delimiter stays one.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn rows_output(rows: u64) -> Outputs {
    Outputs::from_iter([("rowCount".to_string(), Json::from(rows))])
}

fn rows_metric(ctx: &RunContext, rows: u64) {
    ctx.metric(Metric {
        name: "rows".to_string(),
        kind: MetricKind::Counter,
        value: rows as f64,
        tags: Default::default(),
    });
}

/// How much of the file goes to the server per message.
const BLOCK: usize = 256 * 1024;

#[derive(Deserialize, Properties)]
pub(crate) struct CopyIn {
    #[serde(flatten)]
    options: CopyOptions,
    /// The storage file to load (`kestra:///...`).
    from: Property<String>,
}

impl RunnableTask for CopyIn {
    fn check(&self) -> Result<(), String> {
        if self.options.table.is_none() {
            return Err("`table` is required: the table to load the file into".to_string());
        }
        self.options.check()
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            let copy = self.options.prepare(ctx, None, "FROM STDIN")?;
            let mut file = ctx.open_execution_file(&from).await?;
            ctx.log(Level::Debug, &format!("Starting query: {}", copy.sql));
            let session = Session::open(&copy.target, copy.tls.as_ref(), ctx).await?;
            let rows = session
                .run(async |client| {
                    let sink = copy.within(client.copy_in::<_, Bytes>(&copy.sql)).await?;
                    pin_mut!(sink);
                    loop {
                        let mut block = Vec::with_capacity(BLOCK);
                        let n = (&mut file)
                            .take(BLOCK as u64)
                            .read_to_end(&mut block)
                            .await
                            .map_err(|e| {
                                TaskError::new(ErrorKind::Io, format!("cannot read {from}"))
                                    .caused_by(e)
                            })?;
                        if n == 0 {
                            break;
                        }
                        copy.within(sink.send(Bytes::from(block))).await?;
                    }
                    // Until the server has the end of the data nothing is committed; a
                    // failure before this aborts the COPY and loads no row.
                    copy.within(sink.as_mut().finish()).await
                })
                .await?;
            rows_metric(ctx, rows);
            Ok(rows_output(rows))
        })
    }
}

#[derive(Deserialize, Properties)]
pub(crate) struct CopyOut {
    #[serde(flatten)]
    options: CopyOptions,
    /// A SELECT, VALUES, or INSERT/UPDATE/DELETE with RETURNING, whose rows are copied
    /// (default: the whole `table`).
    sql: Option<Property<String>>,
}

impl RunnableTask for CopyOut {
    fn check(&self) -> Result<(), String> {
        if self.sql.is_none() && self.options.table.is_none() {
            return Err("give `sql` (a query to copy) or `table` (a whole table)".to_string());
        }
        self.options.check()
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let query = ctx.render_opt(&self.sql, "sql")?;
            let copy = self.options.prepare(ctx, query.as_deref(), "TO STDOUT")?;
            ctx.log(Level::Debug, &format!("Starting query: {}", copy.sql));
            let session = Session::open(&copy.target, copy.tls.as_ref(), ctx).await?;
            // Kestra stores a temporary file of its working directory, named like this.
            let uri = ctx.output_file_uri(&format!("{}.tmp", runner_core::ids::random_u64()));
            let mut file = ctx.storage().create(&uri).await?;
            let partial = PartialFile::new(ctx.storage().path(&uri)?);
            let write_error = |e: std::io::Error| {
                TaskError::new(ErrorKind::Io, format!("cannot write {uri}"))
                    .hint(
                        "check the free space and permissions of the storage directory (--storage)",
                    )
                    .caused_by(e)
            };
            let messages = session
                .run(async |client| {
                    let stream = copy.within(client.copy_out(&copy.sql)).await?;
                    pin_mut!(stream);
                    let mut messages = 0u64;
                    let mut block = Vec::with_capacity(BLOCK);
                    while let Some(data) = copy.within(stream.try_next()).await? {
                        messages += 1;
                        block.extend_from_slice(&data);
                        if block.len() >= BLOCK {
                            file.write_all(&block).await.map_err(write_error)?;
                            block.clear();
                        }
                    }
                    file.write_all(&block).await.map_err(write_error)?;
                    file.flush().await.map_err(write_error)?;
                    Ok(messages)
                })
                .await?;
            partial.keep();
            let rows = messages.saturating_sub(copy.framing);
            rows_metric(ctx, rows);
            let mut out = rows_output(rows);
            out.insert("uri".to_string(), Json::String(uri));
            Ok(out)
        })
    }
}
