//! `io.kestra.plugin.jdbc.postgresql.Query`: one statement, its result as a row, rows or a file.

use crate::exec::{Session, prepare, run_after, run_statement};
use crate::props::{COMMON, Props};
use crate::sql::split_statements;
use runner_core::registry::TaskDescriptor;
use runner_core::task::{BoxFuture, Outputs, RunnableTask, TaskKind};
use runner_core::{RunContext, TaskError};
use serde_json::Value as Json;

pub(crate) const QUERY: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.jdbc.postgresql.Query",
    aliases: &[],
    doc: "Run one SQL statement on PostgreSQL; fetch its first row, all rows, or stream them to an Ion file.",
    properties: &{
        let mut p = [COMMON[0]; 21];
        let mut i = 0;
        while i < 21 {
            p[i] = COMMON[i];
            i += 1;
        }
        p[3] =
            runner_core::registry::PropDoc::value("sql", "string", "One SQL statement.").required();
        p
    },
    example: "id: fetch\ntype: io.kestra.plugin.jdbc.postgresql.Query\nurl: jdbc:postgresql://127.0.0.1:5432/\nusername: app\npassword: \"{{ secret('POSTGRES_PASSWORD') }}\"\nsql: select 1 as one\nfetchType: FETCH_ONE",
    flowable: false,
    build: |b| {
        Some(TaskKind::Runnable(Box::new(Query(
            b.properties::<Props>()?,
        ))))
    },
};

pub(crate) struct Query(Props);

impl RunnableTask for Query {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let prep = prepare(ctx, &self.0)?;
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
            Ok(output.unwrap_or_else(|| Outputs::from_iter([("row".to_string(), Json::Null)])))
        })
    }
}
