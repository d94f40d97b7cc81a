//! `io.kestra.plugin.redis.list.ListPush` (LPUSH in batches) and `ListPop` (LPOP with a count,
//! into an Ion file, until the list is empty or a cap is reached).

use crate::client::Reply;
use crate::serde_type::{Connection, SerdeType, metric};
use runner_core::plugin::*;
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};

pub(crate) const LIST_PUSH: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.redis.list.ListPush",
    aliases: &["io.kestra.plugin.redis.ListPush"],
    doc: "Push values onto the head of a Redis list (LPUSH, in batches): a list, a JSON array, or a `kestra://` Ion file of values. As in Kestra, the list ends up in reverse input order. Outputs: `count`.",
    example: "id: push\ntype: io.kestra.plugin.redis.list.ListPush\nurl: \"{{ secret('REDIS_URL') }}\"\nkey: queue\nfrom:\n  - job-1\n  - job-2",
    shape: runnable::<ListPush>(),
};

pub(crate) const LIST_POP: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.redis.list.ListPop",
    aliases: &["io.kestra.plugin.redis.ListPop"],
    doc: "Pop values from the head of a Redis list (LPOP with a count) into an Ion file, until the list is empty, `maxRecords` values or `maxDuration`. Outputs: `uri`, `count`.",
    example: "id: pop\ntype: io.kestra.plugin.redis.list.ListPop\nurl: \"{{ secret('REDIS_URL') }}\"\nkey: queue\nmaxRecords: 100",
    shape: runnable::<ListPop>(),
};

/// Values read into memory at once from an Ion file before they are pushed.
const MAX_BATCH: u32 = 100_000;

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListPush {
    #[serde(flatten)]
    conn: Connection,
    /// The list's key.
    key: Property<String>,
    /// The values: a list, a JSON array, or the `kestra://` URI of an Ion file (one value each).
    #[prop(type = "list, JSON array or file URI")]
    from: Property<Json>,
    /// STRING (default) pushes each value's text, JSON its JSON.
    serde_type: Option<Property<SerdeType>>,
    /// Values per LPUSH (default 500).
    batch_size: Option<Property<u32>>,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListPop {
    #[serde(flatten)]
    conn: Connection,
    /// The list's key.
    key: Property<String>,
    /// STRING (default) keeps each value's text, JSON reads it as JSON.
    serde_type: Option<Property<SerdeType>>,
    /// Stop after this many values (checked after each LPOP, so up to `count - 1` more are kept).
    max_records: Option<Property<u64>>,
    /// Stop after this long (checked after each LPOP).
    max_duration: Option<Property<IsoDuration>>,
    /// Values per LPOP (default 100).
    count: Option<Property<u32>>,
}

impl RunnableTask for ListPush {
    fn check(&self) -> Result<(), String> {
        self.conn.check()
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let key = ctx.render(&self.key, "key")?;
            let serde = ctx
                .render_opt(&self.serde_type, "serdeType")?
                .unwrap_or(SerdeType::String);
            let batch = ctx
                .render_opt(&self.batch_size, "batchSize")?
                .unwrap_or(500);
            if batch == 0 || batch > MAX_BATCH {
                return Err(TaskError::property(
                    "batchSize",
                    format!("must be from 1 to {MAX_BATCH}"),
                ));
            }
            let from = ctx.render(&self.from, "from")?;
            let mut redis = self.conn.connect(ctx).await?;
            let mut pending: Vec<String> = Vec::new();
            let mut count = 0u64;
            let mut push = async |values: &mut Vec<String>| -> Result<(), TaskError> {
                if values.is_empty() {
                    return Ok(());
                }
                let mut args: Vec<&[u8]> = vec![b"LPUSH", key.as_bytes()];
                args.extend(values.iter().map(|v| v.as_bytes()));
                redis.command(&args).await?;
                values.clear();
                Ok(())
            };
            let inline = match from {
                Json::Array(items) => Some(items),
                Json::String(text) => match serde_json::from_str::<Json>(&text) {
                    Ok(Json::Array(items)) => Some(items),
                    _ if text.starts_with("kestra://") => {
                        let file = ctx.open_execution_file(&text).await?;
                        let mut lines = BufReader::new(file).lines();
                        let mut number = 0usize;
                        while let Some(line) = lines.next_line().await.map_err(|e| {
                            TaskError::new(
                                ErrorKind::BadData,
                                format!("cannot read {text} as text Ion"),
                            )
                            .caused_by(e)
                        })? {
                            number += 1;
                            if line.trim().is_empty() {
                                continue;
                            }
                            let values = runner_ion::parse_values(&line).map_err(|e| {
                                TaskError::new(
                                    ErrorKind::BadData,
                                    format!("{text}, line {number}: {e}"),
                                )
                            })?;
                            for v in values {
                                pending.push(serde.serialize(&v.to_json(), "from")?);
                                count += 1;
                                if pending.len() >= batch as usize {
                                    push(&mut pending).await?;
                                }
                            }
                        }
                        None
                    }
                    _ => {
                        return Err(TaskError::property(
                            "from",
                            "must be a list, a JSON array, or the kestra:// URI of an Ion file",
                        ));
                    }
                },
                _ => {
                    return Err(TaskError::property(
                        "from",
                        "Invalid 'from' property type: give a list, a JSON array, or a kestra:// URI",
                    ));
                }
            };
            for v in inline.unwrap_or_default() {
                pending.push(serde.serialize(&v, "from")?);
                count += 1;
                if pending.len() >= batch as usize {
                    push(&mut pending).await?;
                }
            }
            push(&mut pending).await?;
            metric(ctx, "inserted.records.count", count as i64, &[]);
            Ok(Outputs::from_iter([(
                "count".to_string(),
                Json::from(count),
            )]))
        })
    }
}

impl RunnableTask for ListPop {
    fn check(&self) -> Result<(), String> {
        self.conn.check()?;
        if self.max_records.is_none() && self.max_duration.is_none() {
            return Err("maxDuration or maxRecords must be set to avoid infinite loop".into());
        }
        Ok(())
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let key = ctx.render(&self.key, "key")?;
            let serde = ctx
                .render_opt(&self.serde_type, "serdeType")?
                .unwrap_or(SerdeType::String);
            let max_records = ctx.render_opt(&self.max_records, "maxRecords")?;
            let max_duration = ctx
                .render_opt(&self.max_duration, "maxDuration")?
                .map(|d| d.0);
            if max_records.is_none() && max_duration.is_none() {
                return Err(TaskError::failed(
                    "maxDuration or maxRecords must be set to avoid infinite loop",
                ));
            }
            let per_pop = ctx.render_opt(&self.count, "count")?.unwrap_or(100);
            if per_pop == 0 || per_pop > MAX_BATCH {
                return Err(TaskError::property(
                    "count",
                    format!("must be from 1 to {MAX_BATCH}"),
                ));
            }
            let mut redis = self.conn.connect(ctx).await?;
            let uri = ctx.output_file_uri(&format!("{}.ion", runner_core::ids::random_u64()));
            let path = ctx.storage().path(&uri)?;
            let partial = PartialFile::new(&path);
            let file = ctx.storage().create(&uri).await?;
            let mut out = BufWriter::new(file);
            let write_error = |e: std::io::Error| {
                TaskError::new(ErrorKind::Io, format!("cannot write {uri}")).caused_by(e)
            };
            let started = std::time::Instant::now();
            let mut count = 0u64;
            let mut line = String::new();
            loop {
                let reply = redis
                    .command(&[b"LPOP", key.as_bytes(), per_pop.to_string().as_bytes()])
                    .await?;
                let items = match reply {
                    Reply::Array(items) if !items.is_empty() => items,
                    _ => break,
                };
                for item in items {
                    let Reply::Bulk(raw) = item else { continue };
                    line.clear();
                    runner_ion::write_json(&serde.deserialize(&key, &raw)?, &mut line);
                    line.push('\n');
                    out.write_all(line.as_bytes()).await.map_err(write_error)?;
                    count += 1;
                }
                if max_records.is_some_and(|m| count >= m)
                    || max_duration.is_some_and(|d| started.elapsed() >= d)
                {
                    break;
                }
            }
            out.flush().await.map_err(write_error)?;
            partial.keep();
            metric(ctx, "popped.records.count", count as i64, &[("key", &key)]);
            Ok(Outputs::from_iter([
                ("uri".to_string(), Json::String(uri)),
                ("count".to_string(), Json::from(count)),
            ]))
        })
    }
}
