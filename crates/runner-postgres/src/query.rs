//! `io.kestra.plugin.jdbc.postgresql.Query`: one statement, its result as a row, rows or a file.

use crate::exec::{Session, prepare, run_after, run_statement};
use crate::props::{Login, Options};
use runner_core::plugin::*;
use runner_jdbc::sql::split_statements;
use serde::Deserialize;

pub(crate) const QUERY: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.jdbc.postgresql.Query",
    aliases: &[],
    doc: "Run one SQL statement on PostgreSQL; fetch its first row, all rows, or stream them to an Ion file.",
    example: "id: fetch\ntype: io.kestra.plugin.jdbc.postgresql.Query\nurl: jdbc:postgresql://127.0.0.1:5432/\nusername: app\npassword: \"{{ secret('POSTGRES_PASSWORD') }}\"\nsql: select 1 as one\nfetchType: FETCH_ONE",
    shape: runnable::<Query>(),
};

#[derive(Deserialize, Properties)]
pub(crate) struct Query {
    #[serde(flatten)]
    login: Login,
    /// One SQL statement.
    sql: Property<String>,
    #[serde(flatten)]
    options: Options,
}

impl RunnableTask for Query {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let prep = prepare(ctx, &self.login, &self.sql, &self.options, None)?;
            let statements = split_statements(&prep.sql);
            if statements.len() > 1 {
                return Err(TaskError::failed(
                    "Query task support only a single SQL statement. Use the Queries task to run multiple statements.",
                ));
            }
            let Some(sql) = statements.first() else {
                return Err(TaskError::property("sql", "the SQL holds no statement"));
            };
            let session = Session::open(&prep.target, prep.tls.as_ref(), ctx).await?;
            let output = session
                .run(async |client| {
                    let tx = client
                        .transaction()
                        .await
                        .map_err(|e| crate::connection::describe(&e, &prep.target, None))?;
                    let output = run_statement(ctx, &tx, &prep.target, sql, &prep).await?;
                    if let Some(after) = &prep.after_sql {
                        run_after(&tx, &prep.target, after, &prep).await?;
                    }
                    tx.commit()
                        .await
                        .map_err(|e| crate::connection::describe(&e, &prep.target, None))?;
                    Ok(output)
                })
                .await?;
            Ok(output.unwrap_or_else(runner_jdbc::no_result_output))
        })
    }
}
