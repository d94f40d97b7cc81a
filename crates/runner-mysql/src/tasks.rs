//! `jdbc.mysql.Query`/`Queries` and `jdbc.mariadb.Query`/`Queries`: the SQL run statement by
//! statement on one connection, each result set read row by row into the kit's
//! [`ResultSet`] (STORE writes rows to Ion as they arrive).

use crate::cell::{Converter, parameter};
use crate::connection::{Credentials, Dialect, Url, connect, parse_url, sql_error};
use mysql_async::prelude::{Protocol, Queryable};
use mysql_async::{Conn, Params, QueryResult};
use runner_core::plugin::*;
use runner_jdbc::sql::{Placeholders, bind_named, split_statements};
use runner_jdbc::{FetchType, QueryOptions, RenderedOptions, ResultSet, fetch_metric};
use serde::Deserialize;
use serde_json::Map;

macro_rules! descriptor {
    ($name:ident, $type_name:literal, $shape:ty, $doc:literal, $example:literal) => {
        pub(crate) const $name: TaskDescriptor = TaskDescriptor {
            type_name: $type_name,
            aliases: &[],
            doc: $doc,
            example: $example,
            shape: runnable::<$shape>(),
        };
    };
}

descriptor!(
    MYSQL_QUERY,
    "io.kestra.plugin.jdbc.mysql.Query",
    MySqlQuery,
    "Run one SQL statement on MySQL; fetch its first row, all rows, or stream them to an Ion file.",
    "id: query\ntype: io.kestra.plugin.jdbc.mysql.Query\nurl: jdbc:mysql://localhost:3306/shop\nusername: app\npassword: \"{{ secret('MYSQL_PASSWORD') }}\"\nsql: SELECT id, name FROM customers\nfetchType: STORE"
);
descriptor!(
    MYSQL_QUERIES,
    "io.kestra.plugin.jdbc.mysql.Queries",
    MySqlQueries,
    "Run a SQL script on MySQL, in one transaction by default; one output per statement that returns rows.",
    "id: load\ntype: io.kestra.plugin.jdbc.mysql.Queries\nurl: jdbc:mysql://localhost:3306/shop\nusername: app\npassword: \"{{ secret('MYSQL_PASSWORD') }}\"\nsql: |\n  INSERT INTO audit (event) VALUES ('load');\n  SELECT count(*) AS n FROM audit;\nfetchType: FETCH_ONE"
);
descriptor!(
    MARIADB_QUERY,
    "io.kestra.plugin.jdbc.mariadb.Query",
    MariaDbQuery,
    "Run one SQL statement on MariaDB; fetch its first row, all rows, or stream them to an Ion file.",
    "id: query\ntype: io.kestra.plugin.jdbc.mariadb.Query\nurl: jdbc:mariadb://localhost:3306/shop\nusername: app\npassword: \"{{ secret('MARIADB_PASSWORD') }}\"\nsql: SELECT id, name FROM customers\nfetchType: FETCH"
);
descriptor!(
    MARIADB_QUERIES,
    "io.kestra.plugin.jdbc.mariadb.Queries",
    MariaDbQueries,
    "Run a SQL script on MariaDB, in one transaction by default; one output per statement that returns rows.",
    "id: load\ntype: io.kestra.plugin.jdbc.mariadb.Queries\nurl: jdbc:mariadb://localhost:3306/shop\nusername: app\npassword: \"{{ secret('MARIADB_PASSWORD') }}\"\nsql: |\n  CREATE TABLE IF NOT EXISTS audit (event VARCHAR(20));\n  SELECT count(*) AS n FROM audit;\nfetchType: FETCH_ONE"
);

/// The connection and options every MySQL and MariaDB Query and Queries takes.
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Database {
    /// `jdbc:mysql://host[:port][/database]` (MariaDB: `jdbc:mariadb://` too).
    pub(crate) url: Property<String>,
    /// The user.
    pub(crate) username: Option<Property<String>>,
    /// The user's password (never shown).
    #[prop(secret)]
    pub(crate) password: Option<Property<String>>,
    /// A `kestra://` file (or text) put at `{{ inputFile }}`, the one file `LOAD DATA LOCAL INFILE` may read.
    pub(crate) input_file: Option<Property<String>>,
    #[serde(flatten)]
    pub(crate) options: QueryOptions,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QueryProps {
    /// One SQL statement (several with `allowMultiQueries=true` in the URL); `{{ inputFile }}` is known.
    sql: Property<String>,
    #[serde(flatten)]
    db: Database,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QueriesProps {
    /// The SQL script: statements separated by `;`.
    sql: Property<String>,
    #[serde(flatten)]
    db: Database,
    /// Run all statements in one transaction, rolled back on error (default true).
    transaction: Option<Property<bool>>,
}

macro_rules! task {
    ($name:ident, $props:ty, $dialect:expr, $run:ident) => {
        #[derive(Deserialize, Properties)]
        #[serde(rename_all = "camelCase")]
        pub(crate) struct $name {
            #[serde(flatten)]
            props: $props,
        }

        impl RunnableTask for $name {
            fn check(&self) -> Result<(), String> {
                check_url(&self.props.db.url, $dialect)
            }

            fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
                Box::pin($run(&self.props, ctx, $dialect))
            }
        }
    };
}

task!(MySqlQuery, QueryProps, Dialect::MySql, run_query);
task!(MariaDbQuery, QueryProps, Dialect::MariaDb, run_query);
task!(MySqlQueries, QueriesProps, Dialect::MySql, run_queries);
task!(MariaDbQueries, QueriesProps, Dialect::MariaDb, run_queries);

fn check_url(url: &Property<String>, dialect: Dialect) -> Result<(), String> {
    if !url.is_dynamic()
        && let Some(u) = url.raw().as_str()
    {
        parse_url(u, dialect).map_err(|e| format!("url: {e}"))?;
    }
    Ok(())
}

/// What a task run opened: the connection, the options, and the variables its SQL sees.
pub(crate) struct Session {
    pub(crate) conn: Conn,
    pub(crate) url: Url,
    pub(crate) options: RenderedOptions,
    pub(crate) vars: Map<String, Json>,
    pub(crate) converter: Converter,
}

/// Renders the connection, writes `inputFile`, connects.
pub(crate) async fn open(
    ctx: &RunContext,
    db: &Database,
    dialect: Dialect,
) -> Result<Session, TaskError> {
    let url = parse_url(&ctx.render(&db.url, "url")?, dialect)
        .map_err(|e| TaskError::property("url", e))?;
    let options = db.options.render(ctx)?;
    let creds = Credentials {
        username: ctx.render_opt(&db.username, "username")?,
        password: ctx.render_opt(&db.password, "password")?,
    };
    // `{{ inputFile }}` is always a path in the working directory, as in Kestra; LOAD DATA
    // LOCAL may read that one file and no other.
    let wd = ctx.working_dir()?;
    let input_path = wd.path().join("inputFile");
    if let Some(from) = ctx.render_opt(&db.input_file, "inputFile")? {
        if from.starts_with("kestra://") {
            let mut src = ctx.open_execution_file(&from).await?;
            let mut dst = tokio::fs::File::create(&input_path).await.map_err(|e| {
                TaskError::new(
                    ErrorKind::Io,
                    "cannot write inputFile in the working directory",
                )
                .caused_by(e)
            })?;
            tokio::io::copy(&mut src, &mut dst).await.map_err(|e| {
                TaskError::new(ErrorKind::Io, format!("cannot copy {from} to inputFile"))
                    .caused_by(e)
            })?;
        } else {
            tokio::fs::write(&input_path, from.as_bytes())
                .await
                .map_err(|e| {
                    TaskError::new(
                        ErrorKind::Io,
                        "cannot write inputFile in the working directory",
                    )
                    .caused_by(e)
                })?;
        }
    }
    let mut vars = Map::new();
    vars.insert(
        "inputFile".into(),
        Json::String(input_path.display().to_string()),
    );
    // MySQL's TIMESTAMP values come in the session's zone: UTC makes them instants, as
    // Connector/J reads them for Kestra.
    let setup = match dialect {
        Dialect::MySql => vec!["SET time_zone = '+00:00'".to_string()],
        Dialect::MariaDb => Vec::new(),
    };
    let conn = connect(ctx, dialect, &url, creds, setup, Some(input_path)).await?;
    let converter = Converter {
        dialect,
        zone: options.zone.clone(),
    };
    Ok(Session {
        conn,
        url,
        options,
        vars,
        converter,
    })
}

/// Reads every result set of `result`: one kit output per result set that has columns.
async fn read_results<P: Protocol>(
    ctx: &RunContext,
    dialect: Dialect,
    result: &mut QueryResult<'_, 'static, P>,
    converter: &Converter,
    fetch: FetchType,
) -> Result<Vec<Outputs>, TaskError> {
    let mut outputs = Vec::new();
    loop {
        match result.columns().filter(|c| !c.is_empty()) {
            Some(columns) => {
                let names = columns.iter().map(|c| c.name_str().into_owned()).collect();
                let mut set = ResultSet::open(ctx, fetch, names).await?;
                let mut cells = Vec::with_capacity(columns.len());
                while let Some(row) = result.next().await.map_err(|e| sql_error(dialect, e))? {
                    // FETCH_ONE and NONE still read the rest, so the connection stays usable.
                    if !set.wants_rows() {
                        continue;
                    }
                    cells.clear();
                    for (i, column) in columns.iter().enumerate() {
                        let v = row.as_ref(i).unwrap_or(&mysql_async::Value::NULL);
                        let cell = converter
                            .cell(v, column)
                            .map_err(|e| TaskError::new(ErrorKind::BadData, e))?;
                        cells.push(cell);
                    }
                    set.push(&cells).await?;
                }
                outputs.push(set.finish().await?);
            }
            None => {
                result.next().await.map_err(|e| sql_error(dialect, e))?;
            }
        }
        if result.is_empty() {
            break;
        }
    }
    Ok(outputs)
}

/// Runs one statement (or a multi-statement text): its result sets' outputs.
async fn execute(
    ctx: &RunContext,
    dialect: Dialect,
    s: &mut Session,
    sql: &str,
    fetch: FetchType,
) -> Result<Vec<Outputs>, TaskError> {
    let Session {
        conn,
        options,
        converter,
        ..
    } = s;
    if options.parameters.is_empty() {
        let mut result = conn
            .query_iter(sql)
            .await
            .map_err(|e| sql_error(dialect, e))?;
        read_results(ctx, dialect, &mut result, converter, fetch).await
    } else {
        let (text, names) = bind_named(sql, Placeholders::Question);
        let values: Vec<mysql_async::Value> = names
            .iter()
            .map(|n| {
                options
                    .parameters
                    .get(n)
                    .map_or(mysql_async::Value::NULL, parameter)
            })
            .collect();
        let params = if values.is_empty() {
            Params::Empty
        } else {
            Params::Positional(values)
        };
        let mut result = conn
            .exec_iter(text, params)
            .await
            .map_err(|e| sql_error(dialect, e))?;
        read_results(ctx, dialect, &mut result, converter, fetch).await
    }
}

/// Runs `body` in a transaction: committed when it succeeds, rolled back when it fails.
async fn in_transaction<T>(
    dialect: Dialect,
    s: &mut Session,
    body: impl AsyncFnOnce(&mut Session) -> Result<T, TaskError>,
) -> Result<T, TaskError> {
    s.conn
        .query_drop("START TRANSACTION")
        .await
        .map_err(|e| sql_error(dialect, e))?;
    match body(s).await {
        Ok(v) => {
            s.conn
                .query_drop("COMMIT")
                .await
                .map_err(|e| sql_error(dialect, e))?;
            Ok(v)
        }
        Err(e) => {
            // Best effort: a broken connection rolls back on the server when it closes.
            let _ = s.conn.query_drop("ROLLBACK").await;
            Err(e)
        }
    }
}

async fn run_query(
    p: &QueryProps,
    ctx: &RunContext,
    dialect: Dialect,
) -> Result<Outputs, TaskError> {
    let mut s = open(ctx, &p.db, dialect).await?;
    let sql = ctx.render_with(&p.sql, "sql", &s.vars)?;
    let statements = split_statements(&sql);
    if statements.is_empty() {
        return Err(TaskError::property("sql", "the SQL holds no statement"));
    }
    // Kestra runs several statements in one Query only when the URL allows multi-queries.
    let multi = s.url.allow_multi_queries;
    if statements.len() > 1 && !multi {
        return Err(TaskError::failed(
            "Query task support only a single SQL statement. Use the Queries task to run multiple statements.",
        ));
    }
    let after_sql = match s.options.after_sql.clone() {
        Some(a) => {
            let pieces = split_statements(&a);
            if pieces.len() > 1 {
                return Err(TaskError::property(
                    "afterSQL",
                    "Query task afterSQL supports only a single SQL statement. Use the Queries task to run multiple statements.",
                ));
            }
            pieces.into_iter().next()
        }
        None => None,
    };
    let fetch = s.options.fetch;
    let text = if multi {
        sql.clone()
    } else {
        statements[0].clone()
    };
    let outputs = match after_sql {
        Some(after) => {
            in_transaction(dialect, &mut s, async |s| {
                let out = execute(ctx, dialect, s, &text, fetch).await?;
                execute(ctx, dialect, s, &after, FetchType::None).await?;
                Ok(out)
            })
            .await?
        }
        None => execute(ctx, dialect, &mut s, &text, fetch).await?,
    };
    // The first result set is the Query's output.
    let out = outputs
        .into_iter()
        .next()
        .unwrap_or_else(runner_jdbc::no_result_output);
    fetch_metric(
        ctx,
        fetch,
        out.get("size").and_then(Json::as_u64).unwrap_or(0),
    );
    let _ = s.conn.disconnect().await;
    Ok(out)
}

async fn run_queries(
    p: &QueriesProps,
    ctx: &RunContext,
    dialect: Dialect,
) -> Result<Outputs, TaskError> {
    let mut s = open(ctx, &p.db, dialect).await?;
    let sql = ctx.render_with(&p.sql, "sql", &s.vars)?;
    let transaction = ctx
        .render_opt(&p.transaction, "transaction")?
        .unwrap_or(true);
    let fetch = s.options.fetch;
    let statements = split_statements(&sql);
    let run_all = async |s: &mut Session| -> Result<Vec<Outputs>, TaskError> {
        let mut all = Vec::new();
        for (i, statement) in statements.iter().enumerate() {
            let outs = execute(ctx, dialect, s, statement, fetch)
                .await
                .map_err(|e| e.hint(format!("in statement {} of `sql`", i + 1)))?;
            all.extend(outs);
        }
        Ok(all)
    };
    let outcomes = if transaction {
        in_transaction(dialect, &mut s, run_all).await?
    } else {
        run_all(&mut s).await?
    };
    let mut outputs = Vec::new();
    let mut total = 0;
    for mut out in outcomes {
        match fetch {
            FetchType::None => ctx.info("fetchType is set to NONE, no output will be returned"),
            // Kestra's Queries reports 1 for FETCH_ONE even when no row came.
            FetchType::FetchOne => {
                out.insert("size".into(), Json::from(1));
            }
            _ => {}
        }
        total += out.get("size").and_then(Json::as_u64).unwrap_or(0);
        outputs.push(Json::Object(out));
    }
    fetch_metric(ctx, fetch, total);
    let _ = s.conn.disconnect().await;
    Ok(Outputs::from_iter([(
        "outputs".to_string(),
        Json::Array(outputs),
    )]))
}
