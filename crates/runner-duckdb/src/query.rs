//! `io.kestra.plugin.jdbc.duckdb.Query`: one statement, its result as a row, rows or a file.

use crate::location;
use crate::props::Database;
use crate::worker::{self, Job};
use runner_core::plugin::*;
use runner_jdbc::sql::split_statements;
use serde::Deserialize;

pub(crate) const QUERY: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.jdbc.duckdb.Query",
    aliases: &[],
    doc: "Run one SQL statement on DuckDB, in this process: on files of the working directory (`inputFiles`, `{{ workingDir }}`), a database file, or a new database; fetch its first row, all rows, or stream them to an Ion file.",
    example: "id: totals\ntype: io.kestra.plugin.jdbc.duckdb.Query\ninputFiles:\n  orders.csv: |\n    product,quantity\n    apple,3\n    pear,5\n    apple,4\nsql: |\n  SELECT product, sum(quantity) AS total\n  FROM read_csv_auto('{{ workingDir }}/orders.csv', header = true)\n  GROUP BY product ORDER BY total DESC\nfetchType: FETCH",
    shape: runnable::<Query>(),
};

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Query {
    /// One SQL statement; `{{ workingDir }}`, `{{ outputFiles.<name> }}` and `{{ dbFilePath }}`
    /// are known.
    sql: Property<String>,
    #[serde(flatten)]
    db: Database,
}

impl RunnableTask for Query {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let loc = location::prepare(ctx, &self.db).await?;
            let o = self.db.options.render(ctx)?;
            let sql = ctx.render_with(&self.sql, "sql", &loc.vars)?;
            let mut statements = split_statements(&sql);
            let counted = statements
                .iter()
                .filter(|s| !s.to_ascii_lowercase().starts_with("set file_search_path"))
                .count();
            if counted > 1 {
                return Err(TaskError::failed(
                    "Query task support only a single SQL statement. Use the Queries task to run multiple statements.",
                ));
            }
            if counted == 0 {
                return Err(TaskError::property("sql", "the SQL holds no statement"));
            }
            let wd = loc.dir.path().display().to_string();
            for s in statements.iter_mut() {
                *s = relative_filenames(s, &wd);
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
                open: loc.open.clone(),
                source: loc.source.clone(),
                search_path: loc.search_path.clone(),
                extensions: loc.extensions.clone(),
                extensions_named: loc.extensions_named,
                statements,
                transaction: after_sql.is_some(),
                after_sql,
                parameters: o.parameters,
                fetch: o.fetch,
                zone: o.zone,
                checkpoint: loc.output_db,
                dir: loc.dir.clone(),
            };
            let outcomes = worker::run(ctx, job).await?;
            let mut out = outcomes
                .into_iter()
                .flatten()
                .last()
                .unwrap_or_else(runner_jdbc::no_result_output);
            crate::queries::fetch_metric(ctx, o.fetch, out.get("size").and_then(Json::as_u64));
            loc.keep(ctx, &mut out).await?;
            Ok(out)
        })
    }
}

/// Kestra's `filename=true` rewrite: on a one-line statement that asks DuckDB for the
/// `filename` column, the column is made relative to the working directory.
fn relative_filenames(sql: &str, wd: &str) -> String {
    let lower = sql.to_ascii_lowercase();
    if lower.contains('\n') || !asks_filename(&lower) {
        return sql.to_string();
    }
    let escaped: String = wd
        .chars()
        .flat_map(|c| {
            let esc = c.is_ascii_punctuation().then_some('\\');
            esc.into_iter().chain(std::iter::once(c))
        })
        .collect::<String>()
        .replace('\'', "''");
    format!(
        "SELECT * REPLACE(regexp_replace(filename, '^{escaped}/', '') AS filename) FROM ({})",
        sql.trim_end().trim_end_matches(';')
    )
}

fn asks_filename(lower: &str) -> bool {
    let mut rest = lower;
    while let Some(at) = rest.find("filename") {
        let after = rest[at + "filename".len()..].trim_start();
        if let Some(v) = after.strip_prefix('=') {
            let v = v.trim_start();
            if v.starts_with("true") || v.starts_with('1') {
                return true;
            }
        }
        rest = &rest[at + 1..];
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filename_columns_are_made_relative_on_one_line_only() {
        let s = relative_filenames(
            "SELECT * FROM read_csv('a/*.csv', filename = true);",
            "/w/d-1",
        );
        assert_eq!(
            s,
            "SELECT * REPLACE(regexp_replace(filename, '^\\/w\\/d\\-1/', '') AS filename) FROM (SELECT * FROM read_csv('a/*.csv', filename = true))"
        );
        let two_lines = "SELECT *\nFROM read_csv('a.csv', filename=1)";
        assert_eq!(relative_filenames(two_lines, "/w"), two_lines);
        assert_eq!(relative_filenames("SELECT 1", "/w"), "SELECT 1");
    }
}
