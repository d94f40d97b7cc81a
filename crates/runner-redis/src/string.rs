//! `io.kestra.plugin.redis.string.*`: SET (with its options and GET), GET, DEL, INCR and TTL.

use crate::client::Reply;
use crate::serde_type::{Connection, SerdeType, metric};
use runner_core::plugin::*;
use serde::Deserialize;

pub(crate) const SET: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.redis.string.Set",
    aliases: &["io.kestra.plugin.redis.Set"],
    doc: "Set a Redis key to a value (SET), with an expiry, NX/XX and the old value (GET) as options. Outputs: `oldValue` (with `get: true`, when there was one).",
    example: "id: set\ntype: io.kestra.plugin.redis.string.Set\nurl: \"{{ secret('REDIS_URL') }}\"\nkey: \"user:{{ inputs.id }}\"\nvalue: \"{{ outputs.fetch.body }}\"\nserdeType: JSON",
    shape: runnable::<Set>(),
};

pub(crate) const GET: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.redis.string.Get",
    aliases: &["io.kestra.plugin.redis.Get"],
    doc: "Get the value of a Redis key (GET). Outputs: `data` (null when the key is missing), `key`.",
    example: "id: get\ntype: io.kestra.plugin.redis.string.Get\nurl: \"{{ secret('REDIS_URL') }}\"\nkey: \"user:{{ inputs.id }}\"\nserdeType: JSON",
    shape: runnable::<Get>(),
};

pub(crate) const DELETE: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.redis.string.Delete",
    aliases: &["io.kestra.plugin.redis.Delete"],
    doc: "Delete Redis keys (DEL). Outputs: `count` (keys deleted).",
    example: "id: delete\ntype: io.kestra.plugin.redis.string.Delete\nurl: \"{{ secret('REDIS_URL') }}\"\nkeys:\n  - \"user:{{ inputs.id }}\"",
    shape: runnable::<Delete>(),
};

pub(crate) const INCREMENT: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.redis.string.Increment",
    aliases: &[],
    doc: "Increment the number at a Redis key (INCR, INCRBY or INCRBYFLOAT), then optionally set its expiry. Outputs: `value`, `key`.",
    example: "id: count\ntype: io.kestra.plugin.redis.string.Increment\nurl: \"{{ secret('REDIS_URL') }}\"\nkey: visits",
    shape: runnable::<Increment>(),
};

pub(crate) const TTL: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.redis.string.Ttl",
    aliases: &[],
    doc: "The time to live of a Redis key in seconds (TTL): -1 without expiry, -2 when the key is missing. Outputs: `ttl`, `key`.",
    example: "id: ttl\ntype: io.kestra.plugin.redis.string.Ttl\nurl: \"{{ secret('REDIS_URL') }}\"\nkey: session",
    shape: runnable::<Ttl>(),
};

/// Kestra's Set `options`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SetOptions {
    expiration_duration: Option<Property<IsoDuration>>,
    expiration_date: Option<Property<String>>,
    must_not_exist: Option<Property<bool>>,
    must_exist: Option<Property<bool>>,
    keep_ttl: Option<Property<bool>>,
}

impl PropType for SetOptions {
    const NAME: &'static str = "Redis SET options";
}

/// Kestra's Increment `options`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ExpiryOptions {
    expiration_duration: Option<Property<IsoDuration>>,
    expiration_date: Option<Property<String>>,
}

impl PropType for ExpiryOptions {
    const NAME: &'static str = "Redis expiry options";
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Set {
    #[serde(flatten)]
    conn: Connection,
    /// The key.
    key: Property<String>,
    /// The value: a string, or any value (stored as its JSON text).
    value: Property<Json>,
    /// STRING (default) stores the text, JSON checks that a string is JSON.
    serde_type: Option<Property<SerdeType>>,
    /// Return the old value as `oldValue` (SET ... GET; Redis 6.2 or later).
    get: Option<Property<bool>>,
    /// `expirationDuration` (PX), `expirationDate` (PXAT), `mustNotExist` (NX), `mustExist` (XX), `keepTtl` (KEEPTTL).
    options: Option<SetOptions>,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Get {
    #[serde(flatten)]
    conn: Connection,
    /// The key.
    key: Property<String>,
    /// STRING (default) gives the text, JSON its value.
    serde_type: Option<Property<SerdeType>>,
    /// Fail when the key does not exist (default false: `data` is null).
    failed_on_missing: Option<Property<bool>>,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Delete {
    #[serde(flatten)]
    conn: Connection,
    /// The keys to delete.
    keys: Property<Vec<String>>,
    /// Fail when fewer keys were deleted than listed (default false).
    failed_on_missing: Option<Property<bool>>,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Increment {
    #[serde(flatten)]
    conn: Connection,
    /// The key.
    key: Property<String>,
    /// How much to add (default 1): an integer uses INCRBY, a decimal INCRBYFLOAT.
    amount: Option<Property<Json>>,
    /// `expirationDuration` (EXPIRE) or `expirationDate` (EXPIREAT), set after the increment.
    options: Option<ExpiryOptions>,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Ttl {
    #[serde(flatten)]
    conn: Connection,
    /// The key.
    key: Property<String>,
}

/// `expirationDate` as epoch milliseconds: an ISO date-time with its offset or zone.
fn epoch_millis(
    ctx: &RunContext,
    p: &Option<Property<String>>,
    property: &str,
) -> Result<Option<i64>, TaskError> {
    let Some(text) = ctx.render_opt(p, property)? else {
        return Ok(None);
    };
    let ts = text
        .parse::<jiff::ZonedDateTime>()
        .map(|z| z.timestamp())
        .or_else(|_| text.parse::<jiff::Timestamp>())
        .map_err(|_| {
            TaskError::property(
                property,
                format!(
                    "`{text}` is not a date-time with an offset (for example 2030-01-01T00:00:00Z)"
                ),
            )
        })?;
    Ok(Some(ts.as_millisecond()))
}

impl RunnableTask for Set {
    fn check(&self) -> Result<(), String> {
        self.conn.check()
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let key = ctx.render(&self.key, "key")?;
            let serde = ctx
                .render_opt(&self.serde_type, "serdeType")?
                .unwrap_or(SerdeType::String);
            let value = serde.serialize(&ctx.render(&self.value, "value")?, "value")?;
            let get = ctx.render_opt(&self.get, "get")?.unwrap_or(false);
            let o = self.options.clone().unwrap_or_default();
            let duration = ctx.render_opt(&o.expiration_duration, "options.expirationDuration")?;
            let date = epoch_millis(ctx, &o.expiration_date, "options.expirationDate")?;
            let nx = ctx
                .render_opt(&o.must_not_exist, "options.mustNotExist")?
                .unwrap_or(false);
            let xx = ctx
                .render_opt(&o.must_exist, "options.mustExist")?
                .unwrap_or(false);
            let keep_ttl = ctx
                .render_opt(&o.keep_ttl, "options.keepTtl")?
                .unwrap_or(false);
            if keep_ttl && (duration.is_some() || date.is_some()) {
                return Err(TaskError::property(
                    "options",
                    "Invalid Redis options: you can't use 'keepTtl' with 'expirationDuration' or 'expirationDate'.\nUse either keepTtl to keep existing TTL, or set a new expiration.",
                ));
            }
            let mut args: Vec<Vec<u8>> =
                vec![b"SET".to_vec(), key.into_bytes(), value.into_bytes()];
            if let Some(IsoDuration(d)) = duration {
                args.extend([
                    b"PX".to_vec(),
                    d.as_millis().max(1).to_string().into_bytes(),
                ]);
            }
            if let Some(ms) = date {
                args.extend([b"PXAT".to_vec(), ms.to_string().into_bytes()]);
            }
            if nx {
                args.push(b"NX".to_vec());
            }
            if xx {
                args.push(b"XX".to_vec());
            }
            if keep_ttl {
                args.push(b"KEEPTTL".to_vec());
            }
            if get {
                args.push(b"GET".to_vec());
            }
            let mut redis = self.conn.connect(ctx).await?;
            let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            let reply = redis.command(&refs).await?;
            let mut outputs = Outputs::new();
            if get && let Reply::Bulk(old) = reply {
                outputs.insert(
                    "oldValue".into(),
                    Json::String(String::from_utf8_lossy(&old).into_owned()),
                );
            }
            Ok(outputs)
        })
    }
}

impl RunnableTask for Get {
    fn check(&self) -> Result<(), String> {
        self.conn.check()
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let key = ctx.render(&self.key, "key")?;
            let serde = ctx
                .render_opt(&self.serde_type, "serdeType")?
                .unwrap_or(SerdeType::String);
            let fail = ctx
                .render_opt(&self.failed_on_missing, "failedOnMissing")?
                .unwrap_or(false);
            let mut redis = self.conn.connect(ctx).await?;
            let data = match redis.command(&[b"GET", key.as_bytes()]).await? {
                Reply::Bulk(raw) => serde.deserialize(&key, &raw)?,
                Reply::Nil if fail => {
                    return Err(TaskError::new(
                        ErrorKind::NotFound,
                        format!("Missing keys '{key}'"),
                    ));
                }
                _ => Json::Null,
            };
            Ok(Outputs::from_iter([
                ("data".to_string(), data),
                ("key".to_string(), Json::String(key)),
            ]))
        })
    }
}

impl RunnableTask for Delete {
    fn check(&self) -> Result<(), String> {
        self.conn.check()
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let keys = ctx.render(&self.keys, "keys")?;
            if keys.is_empty() {
                return Err(TaskError::property("keys", "names no key"));
            }
            let fail = ctx
                .render_opt(&self.failed_on_missing, "failedOnMissing")?
                .unwrap_or(false);
            let mut redis = self.conn.connect(ctx).await?;
            let mut args: Vec<&[u8]> = vec![b"DEL"];
            args.extend(keys.iter().map(|k| k.as_bytes()));
            let count = match redis.command(&args).await? {
                Reply::Int(n) => n,
                other => return Err(unexpected("DEL", &other)),
            };
            metric(ctx, "deleted.records.count", count, &[]);
            if fail && (count as usize) < keys.len() {
                return Err(TaskError::new(
                    ErrorKind::NotFound,
                    format!("Missing keys, only {count} key deleted"),
                ));
            }
            Ok(Outputs::from_iter([(
                "count".to_string(),
                Json::from(count),
            )]))
        })
    }
}

fn unexpected(command: &str, reply: &Reply) -> TaskError {
    TaskError::new(
        ErrorKind::Remote,
        format!("Redis answered {command} with an unexpected reply: {reply:?}"),
    )
}

impl RunnableTask for Increment {
    fn check(&self) -> Result<(), String> {
        self.conn.check()
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let key = ctx.render(&self.key, "key")?;
            let amount = ctx.render_opt(&self.amount, "amount")?;
            let o = self.options.clone().unwrap_or_default();
            let duration = ctx.render_opt(&o.expiration_duration, "options.expirationDuration")?;
            let date = epoch_millis(ctx, &o.expiration_date, "options.expirationDate")?;
            if duration.is_some() && date.is_some() {
                return Err(TaskError::property(
                    "options",
                    "Invalid Redis options: you can't use both 'expirationDuration' and 'expirationDate'.\nUse either expirationDuration for a relative TTL, or expirationDate for an absolute expiration time.",
                ));
            }
            // A number, or its text (`amount: "{{ inputs.n }}"`).
            let amount = match amount {
                None => None,
                Some(Json::Number(n)) => Some(n),
                Some(Json::String(s)) => match serde_json::from_str::<Json>(s.trim()) {
                    Ok(Json::Number(n)) => Some(n),
                    _ => {
                        return Err(TaskError::property(
                            "amount",
                            format!("`{s}` is not a number"),
                        ));
                    }
                },
                Some(other) => {
                    return Err(TaskError::property(
                        "amount",
                        format!("`{other}` is not a number"),
                    ));
                }
            };
            let mut redis = self.conn.connect(ctx).await?;
            let reply = match &amount {
                None => redis.command(&[b"INCR", key.as_bytes()]).await?,
                Some(n) if n.is_i64() => {
                    redis
                        .command(&[b"INCRBY", key.as_bytes(), n.to_string().as_bytes()])
                        .await?
                }
                Some(n) => {
                    redis
                        .command(&[b"INCRBYFLOAT", key.as_bytes(), n.to_string().as_bytes()])
                        .await?
                }
            };
            let value = match reply {
                Reply::Int(i) => Json::from(i),
                Reply::Bulk(b) => {
                    let text = String::from_utf8_lossy(&b).into_owned();
                    serde_json::from_str::<serde_json::Number>(&text)
                        .map(Json::Number)
                        .unwrap_or(Json::String(text))
                }
                other => return Err(unexpected("INCR", &other)),
            };
            if let Some(IsoDuration(d)) = duration
                && d.as_secs() >= 1
            {
                redis
                    .command(&[
                        b"EXPIRE",
                        key.as_bytes(),
                        d.as_secs().to_string().as_bytes(),
                    ])
                    .await?;
            }
            if let Some(ms) = date {
                redis
                    .command(&[
                        b"EXPIREAT",
                        key.as_bytes(),
                        (ms / 1000).to_string().as_bytes(),
                    ])
                    .await?;
            }
            Ok(Outputs::from_iter([
                ("value".to_string(), value),
                ("key".to_string(), Json::String(key)),
            ]))
        })
    }
}

impl RunnableTask for Ttl {
    fn check(&self) -> Result<(), String> {
        self.conn.check()
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let key = ctx.render(&self.key, "key")?;
            let mut redis = self.conn.connect(ctx).await?;
            let ttl = match redis.command(&[b"TTL", key.as_bytes()]).await? {
                Reply::Int(n) => n,
                other => return Err(unexpected("TTL", &other)),
            };
            Ok(Outputs::from_iter([
                ("ttl".to_string(), Json::from(ttl)),
                ("key".to_string(), Json::String(key)),
            ]))
        })
    }
}
