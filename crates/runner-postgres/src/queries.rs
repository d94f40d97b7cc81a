//! `io.kestra.plugin.jdbc.postgresql.Queries`: a script of statements, in one transaction by
//! default; one output per statement that returns rows.

use crate::exec::{Session, prepare, run_statement};
use crate::props::{Login, Options};
use runner_core::plugin::*;
use runner_jdbc::sql::split_statements;
use serde::Deserialize;

pub(crate) const QUERIES: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.jdbc.postgresql.Queries",
    aliases: &[],
    doc: "Run a SQL script on PostgreSQL (split on `;` outside quotes, comments and dollar quotes), in one transaction by default.",
    example: "id: setup\ntype: io.kestra.plugin.jdbc.postgresql.Queries\nurl: jdbc:postgresql://127.0.0.1:5432/\nusername: app\npassword: \"{{ secret('POSTGRES_PASSWORD') }}\"\nsql: |\n  create table t (id int);\n  insert into t values (1);",
    shape: runnable::<Queries>(),
};

#[derive(Deserialize, Properties)]
pub(crate) struct Queries {
    #[serde(flatten)]
    login: Login,
    /// The SQL script: one or more statements.
    sql: Property<String>,
    #[serde(flatten)]
    options: Options,
    /// Run all statements in one transaction, rolled back on error (default true).
    transaction: Option<Property<bool>>,
}

impl RunnableTask for Queries {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let prep = prepare(
                ctx,
                &self.login,
                &self.sql,
                &self.options,
                self.transaction.as_ref(),
            )?;
            let statements = split_statements(&prep.sql);
            let session = Session::open(&prep.target, prep.tls.as_ref(), ctx).await?;
            let describe =
                |e: tokio_postgres::Error| crate::connection::describe(&e, &prep.target, None);
            let outputs = session
                .run(async |client| {
                    let mut outputs = Vec::new();
                    if prep.transaction {
                        let tx = client.transaction().await.map_err(describe)?;
                        for sql in &statements {
                            if let Some(out) =
                                run_statement(ctx, &tx, &prep.target, sql, &prep).await?
                            {
                                outputs.push(Json::Object(out));
                            }
                        }
                        tx.commit().await.map_err(describe)?;
                    } else {
                        // Without a transaction each statement commits on its own.
                        for sql in &statements {
                            let tx = client.transaction().await.map_err(describe)?;
                            if let Some(out) =
                                run_statement(ctx, &tx, &prep.target, sql, &prep).await?
                            {
                                outputs.push(Json::Object(out));
                            }
                            tx.commit().await.map_err(describe)?;
                        }
                    }
                    Ok(outputs)
                })
                .await?;
            Ok(Outputs::from_iter([(
                "outputs".to_string(),
                Json::Array(outputs),
            )]))
        })
    }
}
