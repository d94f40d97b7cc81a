//! `io.kestra.plugin.jdbc.mysql.Batch`: the rows of an Ion file inserted with one prepared
//! statement, committed every `chunk` rows. The file is read line by line, so memory holds one
//! chunk's worth of nothing but the current row.

use crate::cell::parameter;
use crate::connection::{Credentials, Dialect, connect, parse_url, sql_error};
use mysql_async::prelude::Queryable;
use runner_core::plugin::*;
use runner_ion::IonValue;
use serde::Deserialize;
use tokio::io::AsyncBufReadExt;

pub(crate) const MYSQL_BATCH: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.jdbc.mysql.Batch",
    aliases: &[],
    doc: "Insert the rows of an Ion file into MySQL with a prepared statement (`sql` with `?`, or built from `table` and `columns`), committed every `chunk` rows. Outputs: `rowCount`, `updatedCount`.",
    example: "id: load\ntype: io.kestra.plugin.jdbc.mysql.Batch\nurl: jdbc:mysql://localhost:3306/shop\nusername: app\npassword: \"{{ secret('MYSQL_PASSWORD') }}\"\nfrom: \"{{ outputs.extract.uri }}\"\ntable: customers",
    shape: runnable::<Batch>(),
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum InputHandling {
    Auto,
    Stream,
    Local,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum RetryScope {
    None,
    Input,
    All,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Batch {
    /// `jdbc:mysql://host[:port][/database]`.
    url: Property<String>,
    /// The user.
    username: Option<Property<String>>,
    /// The user's password (never shown).
    #[prop(secret)]
    password: Option<Property<String>>,
    /// The kestra:/// Ion file: one row per value (a struct, or a list bound in order).
    from: Property<String>,
    /// The INSERT with `?` placeholders (default: built from `table` and `columns`).
    sql: Option<Property<String>>,
    /// Rows per commit (default 1000).
    chunk: Option<Property<u32>>,
    /// The row fields to bind, in placeholder order (default: each row's fields in order).
    columns: Option<Property<Vec<String>>>,
    /// The table: its columns are read when `columns` is unset, and the INSERT built when `sql` is.
    table: Option<Property<String>>,
    /// Accepted for Kestra's flows; runner does not retry a chunk.
    max_retries: Option<Property<u32>>,
    /// Accepted for Kestra's flows; runner does not retry a chunk.
    retry_backoff: Option<Property<IsoDuration>>,
    /// Accepted for Kestra's flows; runner always streams the file.
    input_handling: Option<Property<InputHandling>>,
    /// Accepted for Kestra's flows; runner always streams the file.
    local_buffer_max_bytes: Option<Property<u64>>,
    /// Accepted for Kestra's flows; runner does not retry a chunk.
    resume_on_retry: Option<Property<bool>>,
    /// Accepted for Kestra's flows; runner does not retry a chunk.
    retry_scope: Option<Property<RetryScope>>,
    /// The zone of zone-less date-times (default: the machine's).
    time_zone_id: Option<Property<String>>,
    /// Accepted; runner opens one connection per task run.
    connection_pooling: Option<Property<bool>>,
    /// Accepted; runner opens one connection per task run.
    connection_pool_size: Option<Property<u32>>,
}

fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// An Ion value as a statement parameter: numbers and text as themselves, timestamps as
/// MySQL date-time text (an instant in UTC), structs and lists as JSON.
fn bind(v: &IonValue) -> mysql_async::Value {
    use mysql_async::Value;
    match v {
        IonValue::Null => Value::NULL,
        IonValue::Bool(b) => Value::Int(i64::from(*b)),
        IonValue::Int(i) => Value::Int(*i),
        IonValue::Float(f) => Value::Double(*f),
        IonValue::Decimal(d) => Value::Bytes(
            d.replace(['d', 'D'], "e")
                .trim_end_matches('.')
                .as_bytes()
                .to_vec(),
        ),
        IonValue::Timestamp(t) => {
            let text = match t.parse::<jiff::Timestamp>() {
                Ok(ts) => ts.strftime("%Y-%m-%d %H:%M:%S%.f").to_string(),
                Err(_) => t.trim_end_matches('T').to_string(),
            };
            Value::Bytes(text.into_bytes())
        }
        IonValue::String(s) | IonValue::Symbol(s) | IonValue::Clob(s) => {
            Value::Bytes(s.clone().into_bytes())
        }
        IonValue::Blob(b) => Value::Bytes(b.clone()),
        IonValue::Annotated(names, inner) => {
            match (names.first().map(String::as_str), inner.as_ref()) {
                (Some("LocalDateTime" | "LocalTime" | "LocalDate"), IonValue::String(s)) => {
                    Value::Bytes(s.replacen('T', " ", 1).into_bytes())
                }
                (Some("ZonedDateTime" | "OffsetDateTime"), IonValue::String(s)) => {
                    let text = s
                        .parse::<jiff::ZonedDateTime>()
                        .map(|z| z.timestamp())
                        .or_else(|_| s.parse::<jiff::Timestamp>())
                        .map(|ts| ts.strftime("%Y-%m-%d %H:%M:%S%.f").to_string())
                        .unwrap_or_else(|_| s.clone());
                    Value::Bytes(text.into_bytes())
                }
                (_, inner) => bind(inner),
            }
        }
        other => parameter(&other.to_json()),
    }
}

impl RunnableTask for Batch {
    fn check(&self) -> Result<(), String> {
        if !self.url.is_dynamic()
            && let Some(u) = self.url.raw().as_str()
        {
            parse_url(u, Dialect::MySql).map_err(|e| format!("url: {e}"))?;
        }
        if self.sql.is_none() && self.table.is_none() {
            return Err("give `sql` (an INSERT with `?` placeholders) or `table`".into());
        }
        Ok(())
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let dialect = Dialect::MySql;
            let url = parse_url(&ctx.render(&self.url, "url")?, dialect)
                .map_err(|e| TaskError::property("url", e))?;
            let from = ctx.render(&self.from, "from")?;
            let chunk = ctx.render_opt(&self.chunk, "chunk")?.unwrap_or(1000).max(1);
            let mut columns = ctx
                .render_opt(&self.columns, "columns")?
                .unwrap_or_default();
            let table = ctx.render_opt(&self.table, "table")?;
            let sql = ctx.render_opt(&self.sql, "sql")?;
            for p in [&self.max_retries, &self.connection_pool_size] {
                ctx.render_opt(p, "maxRetries")?;
            }
            ctx.render_opt(&self.retry_backoff, "retryBackoff")?;
            ctx.render_opt(&self.input_handling, "inputHandling")?;
            ctx.render_opt(&self.local_buffer_max_bytes, "localBufferMaxBytes")?;
            ctx.render_opt(&self.resume_on_retry, "resumeOnRetry")?;
            ctx.render_opt(&self.retry_scope, "retryScope")?;
            ctx.render_opt(&self.connection_pooling, "connectionPooling")?;
            ctx.render_time_zone(&self.time_zone_id, "timeZoneId")?;
            let creds = Credentials {
                username: ctx.render_opt(&self.username, "username")?,
                password: ctx.render_opt(&self.password, "password")?,
            };
            let mut conn = connect(ctx, dialect, &url, creds, Vec::new(), None).await?;
            if let (Some(t), Some(_)) = (&table, &sql) {
                ctx.info(&format!("table '{t}' is ignored when sql is provided"));
            }
            let sql = match (sql, &table) {
                (Some(sql), _) => sql,
                (None, Some(t)) => {
                    if columns.is_empty() {
                        columns = conn
                            .exec(
                                "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position",
                                (t.as_str(),),
                            )
                            .await
                            .map_err(|e| sql_error(dialect, e))?;
                        if columns.is_empty() {
                            return Err(TaskError::property(
                                "table",
                                format!("the database has no table `{t}`"),
                            ));
                        }
                    }
                    format!(
                        "INSERT INTO {} ({}) VALUES ({})",
                        quote(t),
                        columns
                            .iter()
                            .map(|c| quote(c))
                            .collect::<Vec<_>>()
                            .join(", "),
                        vec!["?"; columns.len()].join(", ")
                    )
                }
                (None, None) => return Err(TaskError::property("sql", "give `sql` or `table`")),
            };
            let statement = conn
                .prep(sql.as_str())
                .await
                .map_err(|e| sql_error(dialect, e))?;
            let wanted = usize::from(statement.num_params());
            let file = ctx.open_execution_file(&from).await?;
            let mut lines = tokio::io::BufReader::with_capacity(256 * 1024, file).lines();
            let (mut rows, mut updated, mut batches, mut line_no) = (0u64, 0u64, 0u64, 0usize);
            let mut in_chunk = 0u32;
            let bad = |line: usize, what: String| {
                TaskError::new(ErrorKind::BadData, format!("{from}, line {line}: {what}"))
            };
            conn.query_drop("START TRANSACTION")
                .await
                .map_err(|e| sql_error(dialect, e))?;
            while let Some(line) = lines.next_line().await.map_err(|e| {
                TaskError::new(
                    ErrorKind::BadData,
                    format!("cannot read {from} as text Ion"),
                )
                .caused_by(e)
            })? {
                line_no += 1;
                if line.trim().is_empty() {
                    continue;
                }
                let values =
                    runner_ion::parse_values(&line).map_err(|e| bad(line_no, e.to_string()))?;
                for row in values {
                    let row = match row {
                        IonValue::Annotated(_, inner) => *inner,
                        other => other,
                    };
                    let mut params: Vec<mysql_async::Value> = match (&row, columns.is_empty()) {
                        (IonValue::Struct(fields), false) => columns
                            .iter()
                            .map(|c| {
                                fields
                                    .iter()
                                    .find(|(k, _)| k == c)
                                    .map_or(mysql_async::Value::NULL, |(_, v)| bind(v))
                            })
                            .collect(),
                        (IonValue::Struct(fields), true) => {
                            fields.iter().map(|(_, v)| bind(v)).collect()
                        }
                        (IonValue::List(items), _) => items.iter().map(bind).collect(),
                        _ => return Err(bad(line_no, "a row must be a struct or a list".into())),
                    };
                    if params.len() > wanted {
                        return Err(bad(
                            line_no,
                            format!(
                                "the row has {} values and the statement {wanted} placeholders",
                                params.len()
                            ),
                        )
                        .hint("name the fields to bind with `columns`"));
                    }
                    params.resize(wanted, mysql_async::Value::NULL);
                    conn.exec_drop(&statement, params).await.map_err(|e| {
                        sql_error(dialect, e).hint(format!(
                            "at row {} (line {line_no} of `from`); the chunk was rolled back",
                            rows + 1
                        ))
                    })?;
                    updated += conn.affected_rows();
                    rows += 1;
                    in_chunk += 1;
                    if in_chunk >= chunk {
                        conn.query_drop("COMMIT")
                            .await
                            .map_err(|e| sql_error(dialect, e))?;
                        conn.query_drop("START TRANSACTION")
                            .await
                            .map_err(|e| sql_error(dialect, e))?;
                        batches += 1;
                        in_chunk = 0;
                    }
                }
            }
            conn.query_drop("COMMIT")
                .await
                .map_err(|e| sql_error(dialect, e))?;
            if in_chunk > 0 {
                batches += 1;
            }
            let _ = conn.disconnect().await;
            ctx.info(&format!(
                "Successfully executed {batches} bulk queries and updated {updated} rows"
            ));
            for (name, value) in [("records", rows), ("updated", updated)] {
                ctx.metric(Metric {
                    name: name.into(),
                    kind: MetricKind::Counter,
                    value: value as f64,
                    tags: Default::default(),
                });
            }
            Ok(Outputs::from_iter([
                ("rowCount".to_string(), Json::from(rows)),
                ("updatedCount".to_string(), Json::from(updated)),
            ]))
        })
    }
}
