//! `io.kestra.plugin.jdbc.duckdb.Queries`: a script of statements, in one transaction by
//! default; one output per statement that returns rows.

use crate::location;
use crate::props::Database;
use crate::worker::{self, Job};
use runner_core::plugin::*;
use runner_jdbc::FetchType;
use runner_jdbc::sql::split_statements;
use serde::Deserialize;

pub(crate) const QUERIES: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.jdbc.duckdb.Queries",
    aliases: &[],
    doc: "Run a SQL script on DuckDB, in this process (split on `;` outside quotes and comments), in one transaction by default; one output per statement that returns rows.",
    example: "id: build\ntype: io.kestra.plugin.jdbc.duckdb.Queries\noutputDbFile: true\nsql: |\n  CREATE TABLE sales AS SELECT range AS id, range % 7 AS day FROM range(1000);\n  SELECT day, count(*) AS n FROM sales GROUP BY day ORDER BY day;\nfetchType: FETCH",
    shape: runnable::<Queries>(),
};

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Queries {
    /// The SQL script: one or more statements; `{{ workingDir }}`, `{{ outputFiles.<name> }}`
    /// and `{{ dbFilePath }}` are known.
    sql: Property<String>,
    #[serde(flatten)]
    db: Database,
    /// Run all statements in one transaction, rolled back on error (default true).
    transaction: Option<Property<bool>>,
}

/// Kestra's `fetch.size` counter: the rows read, tagged with how.
pub(crate) fn fetch_metric(ctx: &RunContext, fetch: FetchType, rows: Option<u64>) {
    runner_jdbc::fetch_metric(ctx, fetch, rows.unwrap_or(0));
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
                open: loc.open.clone(),
                source: loc.source.clone(),
                search_path: loc.search_path.clone(),
                extensions: loc.extensions.clone(),
                extensions_named: loc.extensions_named,
                statements: split_statements(&sql),
                after_sql: None,
                parameters: o.parameters,
                fetch: o.fetch,
                zone: o.zone,
                transaction,
                checkpoint: loc.output_db,
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
            fetch_metric(ctx, o.fetch, Some(total));
            let mut out = Outputs::new();
            out.insert("outputs".into(), Json::Array(outputs));
            loc.keep(ctx, &mut out).await?;
            Ok(out)
        })
    }
}
