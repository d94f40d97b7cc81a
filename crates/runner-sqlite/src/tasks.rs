//! `io.kestra.plugin.jdbc.sqlite.Query` (one statement) and `Queries` (a script, in one
//! transaction by default).

use crate::location;
use crate::props::Database;
use crate::worker::{self, Job};
use runner_core::plugin::*;
use runner_jdbc::sql::split_statements;
use runner_jdbc::{FetchType, fetch_metric};
use serde::Deserialize;

pub(crate) const QUERY: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.jdbc.sqlite.Query",
    aliases: &[],
    doc: "Run one SQL statement on SQLite, in this process (in memory, a database file, or a `kestra://` one); fetch its first row, all rows, or stream them to an Ion file.",
    example: "id: query\ntype: io.kestra.plugin.jdbc.sqlite.Query\nsql: |\n  WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 10)\n  SELECT count(*) AS numbers, sum(x) AS total FROM n\nfetchType: FETCH_ONE",
    shape: runnable::<Query>(),
};

pub(crate) const QUERIES: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.jdbc.sqlite.Queries",
    aliases: &[],
    doc: "Run a SQL script on SQLite, in this process (split on `;` outside quotes and comments), in one transaction by default; one output per statement that returns rows.",
    example: "id: build\ntype: io.kestra.plugin.jdbc.sqlite.Queries\nurl: jdbc:sqlite:shop.sqlite\noutputDbFile: true\nsql: |\n  CREATE TABLE orders (id INTEGER PRIMARY KEY, placed DATETIME, amount REAL);\n  INSERT INTO orders (placed, amount) VALUES ('2024-01-02 10:00:00', 12.5), ('2024-01-03 11:30:00', 7.25);\n  SELECT count(*) AS n, sum(amount) AS total FROM orders;\nfetchType: FETCH_ONE",
    shape: runnable::<Queries>(),
};

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Query {
    /// One SQL statement; `{{ workingDir }}` and `{{ outputFiles.<name> }}` are known.
    sql: Property<String>,
    #[serde(flatten)]
    db: Database,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Queries {
    /// The SQL script: one or more statements.
    sql: Property<String>,
    #[serde(flatten)]
    db: Database,
    /// Run all statements in one transaction, rolled back on error (default true).
    transaction: Option<Property<bool>>,
}

impl RunnableTask for Query {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let loc = location::prepare(ctx, &self.db).await?;
            let o = self.db.options.render(ctx)?;
            let sql = ctx.render_with(&self.sql, "sql", &loc.vars)?;
            let statements = split_statements(&sql);
            if statements.len() > 1 {
                return Err(TaskError::failed(
                    "Query task support only a single SQL statement. Use the Queries task to run multiple statements.",
                ));
            }
            if statements.is_empty() {
                return Err(TaskError::property("sql", "the SQL holds no statement"));
            }
            let after_sql = match o.after_sql {
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
            let job = Job {
                file: loc.file.clone(),
                source: loc.source.clone(),
                statements,
                transaction: after_sql.is_some(),
                after_sql,
                parameters: o.parameters,
                fetch: o.fetch,
                zone: o.zone,
                dir: loc.dir.clone(),
            };
            let outcomes = worker::run(ctx, job).await?;
            let mut out = outcomes
                .into_iter()
                .flatten()
                .last()
                .unwrap_or_else(runner_jdbc::no_result_output);
            fetch_metric(
                ctx,
                o.fetch,
                out.get("size").and_then(Json::as_u64).unwrap_or(0),
            );
            loc.keep(ctx, &mut out).await?;
            Ok(out)
        })
    }
}

impl RunnableTask for Queries {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let loc = location::prepare(ctx, &self.db).await?;
            let o = self.db.options.render(ctx)?;
            let sql = ctx.render_with(&self.sql, "sql", &loc.vars)?;
            let transaction = ctx
                .render_opt(&self.transaction, "transaction")?
                .unwrap_or(true);
            let job = Job {
                file: loc.file.clone(),
                source: loc.source.clone(),
                statements: split_statements(&sql),
                after_sql: None,
                parameters: o.parameters,
                fetch: o.fetch,
                zone: o.zone,
                transaction,
                dir: loc.dir.clone(),
            };
            let outcomes = worker::run(ctx, job).await?;
            let mut outputs = Vec::new();
            let mut total = 0;
            for mut out in outcomes.into_iter().flatten() {
                match o.fetch {
                    FetchType::None => {
                        ctx.info("fetchType is set to NONE, no output will be returned")
                    }
                    // Kestra's Queries reports 1 for FETCH_ONE even when no row came.
                    FetchType::FetchOne => {
                        out.insert("size".into(), Json::from(1));
                    }
                    _ => {}
                }
                total += out.get("size").and_then(Json::as_u64).unwrap_or(0);
                outputs.push(Json::Object(out));
            }
            fetch_metric(ctx, o.fetch, total);
            let mut out = Outputs::new();
            out.insert("outputs".into(), Json::Array(outputs));
            loc.keep(ctx, &mut out).await?;
            Ok(out)
        })
    }
}
