//! What Query and Queries share: connecting, running one statement, and turning its result
//! into outputs, streaming rows in `fetchSize` batches.

use crate::cell::{RawCell, decode, write_ion_direct};
use crate::connection::{Target, describe, parse_url};
use crate::props::{Login, Options, Tls};
use bytes::BytesMut;
use futures_util::future::{Either, select};
use futures_util::{TryStreamExt, pin_mut};
use jiff::tz::TimeZone;
use postgres_types::{Format, IsNull, ToSql, Type, to_sql_checked};
use runner_core::plugin::{Cleanup, ErrorKind, Level, Outputs, Property, RunContext, TaskError};
use runner_jdbc::sql::{Placeholders, bind_named, split_statements};
use runner_jdbc::{FetchType, ResultSet, no_result_output};
use serde_json::{Map, Value as Json};
use std::pin::{Pin, pin};
use tokio_postgres::{Client, NoTls, Transaction};
use tokio_postgres_rustls::MakeRustlsConnect;

/// Everything rendered and ready to connect.
pub(crate) struct Prepared {
    pub(crate) target: Target,
    /// The TLS client, unless the connection is plain (sslMode DISABLE).
    pub(crate) tls: Option<rustls::ClientConfig>,
    pub(crate) sql: String,
    pub(crate) after_sql: Option<String>,
    pub(crate) parameters: Map<String, Json>,
    pub(crate) fetch: FetchType,
    pub(crate) fetch_size: u32,
    pub(crate) zone: TimeZone,
    pub(crate) transaction: bool,
}

/// Renders where and how to connect, masking every secret as soon as it is known.
pub(crate) fn connect_to(
    ctx: &RunContext,
    login: &Login,
    t: &Tls,
) -> Result<(Target, Option<rustls::ClientConfig>), TaskError> {
    let username = ctx.render_opt(&login.username, "username")?;
    let password = ctx.render_opt(&login.password, "password")?;
    if let Some(pw) = &password {
        ctx.mask(pw);
    }
    let material = crate::tls::TlsMaterial {
        root_cert: ctx.render_opt(&t.ssl_root_cert, "sslRootCert")?,
        cert: ctx.render_opt(&t.ssl_cert, "sslCert")?,
        key: ctx.render_opt(&t.ssl_key, "sslKey")?,
        key_password: ctx.render_opt(&t.ssl_key_password, "sslKeyPassword")?,
    };
    for secret in [&material.key, &material.key_password]
        .into_iter()
        .flatten()
    {
        ctx.mask(secret);
    }
    let ssl = ctx.render_opt(&t.ssl, "ssl")?.unwrap_or(false);
    let ssl_mode = ctx.render_opt(&t.ssl_mode, "sslMode")?;
    let url = ctx.render(&login.url, "url")?;
    let mut target = parse_url(&url, username, password, ssl, ssl_mode)?;
    target.password_source = login
        .password
        .as_ref()
        .filter(|pw| pw.is_dynamic())
        .and_then(|pw| pw.raw().as_str())
        .map(str::to_string);
    if let Some(pw) = &target.password {
        ctx.mask(pw);
    }
    let tls = crate::tls::client_config(target.ssl_mode, &material)?;
    Ok((target, tls))
}

/// Renders what a statement needs; `transaction` is Queries' property.
pub(crate) fn prepare(
    ctx: &RunContext,
    login: &Login,
    sql: &Property<String>,
    p: &Options,
    transaction: Option<&Property<bool>>,
) -> Result<Prepared, TaskError> {
    let (target, tls) = connect_to(ctx, login, &p.tls)?;
    let o = p.query.render(ctx)?;
    Ok(Prepared {
        target,
        tls,
        sql: ctx.render(sql, "sql")?,
        after_sql: o.after_sql,
        parameters: o.parameters,
        fetch: o.fetch,
        fetch_size: o.fetch_size,
        zone: o.zone,
        transaction: match transaction {
            Some(t) => ctx.render(t, "transaction")?,
            None => true,
        },
    })
}

/// The connection's I/O future. It is polled by the task itself (see [`Session::run`]), not
/// spawned: rows then pass from the socket to the STORE writer on one thread, with no
/// cross-thread wake-up per message (a third of the STORE time when it was spawned).
type Connection = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A connection whose running query is cancelled on the server if the task is dropped
/// (Ctrl-C, `timeout`); the open transaction then rolls back with the connection.
pub(crate) struct Session {
    client: Client,
    cancel: Option<(tokio_postgres::CancelToken, Option<MakeRustlsConnect>)>,
    connection: Option<Connection>,
    cleanup: Cleanup,
}

impl Session {
    pub(crate) async fn open(
        target: &Target,
        tls: Option<&rustls::ClientConfig>,
        ctx: &RunContext,
    ) -> Result<Session, TaskError> {
        ctx.log(
            Level::Debug,
            &format!("Connecting to PostgreSQL at {}", target.endpoint()),
        );
        let config = target.config();
        let tls = tls.map(|c| MakeRustlsConnect::new(c.clone()));
        // Errors on the connection surface on the client's next call; nothing to do here.
        let (client, connection): (Client, Connection) = match &tls {
            Some(tls) => {
                let (client, connection) = config
                    .connect(tls.clone())
                    .await
                    .map_err(|e| describe(&e, target, None))?;
                (
                    client,
                    Box::pin(async move {
                        let _ = connection.await;
                    }),
                )
            }
            None => {
                let (client, connection) = config
                    .connect(NoTls)
                    .await
                    .map_err(|e| describe(&e, target, None))?;
                (
                    client,
                    Box::pin(async move {
                        let _ = connection.await;
                    }),
                )
            }
        };
        let cancel = Some((client.cancel_token(), tls));
        Ok(Session {
            client,
            cancel,
            connection: Some(connection),
            cleanup: ctx.cleanup().clone(),
        })
    }

    /// Runs `work` with the client while this task drives the connection. When `work` ends
    /// without error there is nothing left to cancel.
    pub(crate) async fn run<T>(
        mut self,
        work: impl AsyncFnOnce(&mut Client) -> Result<T, TaskError>,
    ) -> Result<T, TaskError> {
        let mut connection = self.connection.take().expect("a session runs once");
        let result = {
            let work = work(&mut self.client);
            let mut work = pin!(work);
            match select(work.as_mut(), connection.as_mut()).await {
                Either::Left((result, _)) => result,
                // The connection ended (closed or failed): the client's calls now fail with
                // the reason, so `work` finishes on its own.
                Either::Right(((), work)) => work.await,
            }
        };
        if result.is_ok() {
            self.cancel = None;
        }
        result
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some((token, tls)) = self.cancel.take() {
            // Dropped mid-query or failed: ask the server to stop, so it does not run on
            // without us.
            self.cleanup.spawn(async move {
                let _ = match tls {
                    Some(tls) => token.cancel_query(tls).await,
                    None => token.cancel_query(NoTls).await,
                };
            });
        }
    }
}

/// A parameter sent as text: the server converts it to the type the statement expects.
struct TextParam(Option<String>);

impl std::fmt::Debug for TextParam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TextParam")
    }
}

impl ToSql for TextParam {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match &self.0 {
            None => Ok(IsNull::Yes),
            Some(s) => {
                out.extend_from_slice(s.as_bytes());
                Ok(IsNull::No)
            }
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

/// A JSON value as PostgreSQL's text input: arrays as `{...}` literals, objects as JSON.
fn param_text(v: &Json) -> Option<String> {
    match v {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        Json::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|i| match param_text(i) {
                    None => "NULL".to_string(),
                    Some(s) if matches!(i, Json::Array(_)) => s,
                    Some(s) => format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
                })
                .collect();
            Some(format!("{{{}}}", parts.join(",")))
        }
        other => Some(other.to_string()),
    }
}

fn bind(sql: &str, parameters: &Map<String, Json>) -> Result<(String, Vec<TextParam>), TaskError> {
    if parameters.is_empty() {
        return Ok((sql.to_string(), Vec::new()));
    }
    let (sql, names) = bind_named(sql, Placeholders::Numbered);
    let params = names
        .iter()
        .map(|n| {
            parameters
                .get(n)
                .map(|v| TextParam(param_text(v)))
                .ok_or_else(|| {
                    TaskError::property(
                        "parameters",
                        format!("`:{n}` is used in the SQL but `parameters` has no `{n}`"),
                    )
                })
        })
        .collect::<Result<_, _>>()?;
    Ok((sql, params))
}

/// Runs one statement inside `tx` and returns Kestra's output for it, or `None` when the
/// statement returns no rows description (an UPDATE, a DDL...).
pub(crate) async fn run_statement(
    ctx: &RunContext,
    tx: &Transaction<'_>,
    target: &Target,
    sql: &str,
    prep: &Prepared,
) -> Result<Option<Outputs>, TaskError> {
    let (bound, params) = bind(sql, &prep.parameters)?;
    ctx.log(Level::Debug, &format!("Executing SQL: {sql}"));
    let stmt = tx
        .prepare(&bound)
        .await
        .map_err(|e| describe(&e, target, Some(&bound)))?;
    if stmt.columns().is_empty() || prep.fetch == FetchType::None {
        tx.execute_raw(&stmt, params.iter())
            .await
            .map_err(|e| describe(&e, target, Some(&bound)))?;
        return Ok((!stmt.columns().is_empty()).then(no_result_output));
    }
    let names: Vec<String> = stmt
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    let portal = tx
        .bind_raw(&stmt, params.iter())
        .await
        .map_err(|e| describe(&e, target, Some(&bound)))?;
    let batch = if prep.fetch == FetchType::FetchOne {
        1
    } else {
        prep.fetch_size as i32
    };
    let types: Vec<Type> = stmt.columns().iter().map(|c| c.type_().clone()).collect();
    let mut set = ResultSet::open(ctx, prep.fetch, names.clone()).await?;
    let unsupported = |e: crate::cell::CellError| TaskError::new(ErrorKind::Unsupported, e.0);
    let mut cells = Vec::with_capacity(types.len());
    'batches: loop {
        let stream = tx
            .query_portal_raw(&portal, batch)
            .await
            .map_err(|e| describe(&e, target, Some(&bound)))?;
        pin_mut!(stream);
        let mut in_batch = 0;
        while let Some(row) = stream
            .try_next()
            .await
            .map_err(|e| describe(&e, target, Some(&bound)))?
        {
            in_batch += 1;
            if prep.fetch == FetchType::Store {
                // Most columns are written straight from their wire bytes.
                set.push_ion(|i, out| {
                    let RawCell(raw) = row
                        .try_get(i)
                        .map_err(|e| describe(&e, target, Some(&bound)))?;
                    let ty = &types[i];
                    match write_ion_direct(ty, raw, out) {
                        Some(written) => written.map_err(unsupported),
                        None => decode(&names[i], ty, raw, &prep.zone)
                            .map(|cell| cell.write_ion(out))
                            .map_err(unsupported),
                    }
                })
                .await?;
                continue;
            }
            cells.clear();
            for (i, ty) in types.iter().enumerate() {
                let RawCell(raw) = row
                    .try_get(i)
                    .map_err(|e| describe(&e, target, Some(&bound)))?;
                cells.push(decode(&names[i], ty, raw, &prep.zone).map_err(unsupported)?);
            }
            if !set.push(&cells).await? {
                break 'batches;
            }
        }
        if in_batch < batch {
            break;
        }
    }
    Ok(Some(set.finish().await?))
}

/// Runs `afterSQL` (one statement) with the same parameters.
pub(crate) async fn run_after(
    tx: &Transaction<'_>,
    target: &Target,
    after: &str,
    prep: &Prepared,
) -> Result<(), TaskError> {
    if split_statements(after).len() > 1 {
        return Err(TaskError::property(
            "afterSQL",
            "Query task afterSQL supports only a single SQL statement. Use the Queries task to run multiple statements.",
        ));
    }
    let (bound, params) = bind(after, &prep.parameters)?;
    let stmt = tx
        .prepare(&bound)
        .await
        .map_err(|e| describe(&e, target, Some(&bound)))?;
    tx.execute_raw(&stmt, params.iter())
        .await
        .map_err(|e| describe(&e, target, Some(&bound)))?;
    Ok(())
}
