//! CopyIn and CopyOut against a real PostgreSQL with password authentication.

use runner_testkit::{Postgres, Run, run_flow, run_flow_with};

const TASKS: &[&[runner_core::TaskDescriptor]] = &[
    runner_core::TASKS,
    runner_core_tasks::TASKS,
    runner_postgres::TASKS,
];

/// A PostgreSQL task of `kind` with id `id`; `extra` is the rest of its properties, indented.
fn task(pg: &Postgres, id: &str, kind: &str, extra: &str) -> String {
    format!(
        "  - id: {id}\n    type: io.kestra.plugin.jdbc.postgresql.{kind}\n    url: {}\n    username: {}\n    password: {}\n{extra}",
        pg.jdbc_url(),
        pg.user,
        pg.password
    )
}

fn flow(tasks: &[String]) -> String {
    format!(
        "id: copy\nnamespace: company.team\ninputs:\n  - id: data\n    type: FILE\n    required: false\ntasks:\n{}",
        tasks.concat()
    )
}

async fn server() -> Postgres {
    let pg = Postgres::start().await;
    pg.client()
        .await
        .batch_execute(
            "create table products (id int primary key, name text, price numeric, note text);
             insert into products values
               (1, 'plain', 9.5, null),
               (2, 'with, comma', 10, 'say \"hi\"'),
               (3, 'two
lines', 0.25, '');
             create table loaded (like products);",
        )
        .await
        .expect("fixtures load");
    pg
}

async fn rows_of(pg: &Postgres, table: &str) -> Vec<String> {
    pg.client()
        .await
        .query(
            &format!(
                "select concat_ws('|', id, name, price, coalesce(note, '<null>')) from {table} order by id"
            ),
            &[],
        )
        .await
        .expect("query")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn assert_success(r: &Run) {
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
}

/// Runs a flow of one CopyOut, `out`, with the options `extra`.
async fn export(pg: &Postgres, extra: &str) -> Run {
    run_flow(TASKS, &flow(&[task(pg, "out", "CopyOut", extra)])).await
}

#[tokio::test]
async fn csv_out_then_in_round_trips_with_header_quotes_and_nulls() {
    let pg = server().await;
    let r = run_flow(
        TASKS,
        &flow(&[
            task(
                &pg,
                "out",
                "CopyOut",
                "    format: CSV\n    header: true\n    sql: select * from products order by id\n",
            ),
            task(
                &pg,
                "in",
                "CopyIn",
                "    format: CSV\n    header: true\n    table: loaded\n    from: \"{{ outputs.out.uri }}\"\n",
            ),
        ]),
    )
    .await;
    assert_success(&r);
    let out = r.outputs("out");
    assert_eq!(out["rowCount"], 3, "the header line is not a row");
    let uri = out["uri"].as_str().unwrap();
    assert!(
        uri.starts_with("kestra:///company/team/copy/executions/"),
        "{uri}"
    );
    assert_eq!(
        std::fs::read_to_string(r.file(uri)).unwrap(),
        "id,name,price,note\n1,plain,9.5,\n2,\"with, comma\",10,\"say \"\"hi\"\"\"\n3,\"two\nlines\",0.25,\"\"\n"
    );
    assert_eq!(r.outputs("in")["rowCount"], 3);
    assert_eq!(rows_of(&pg, "loaded").await, rows_of(&pg, "products").await);
    assert_eq!(
        rows_of(&pg, "loaded").await[2],
        "3|two\nlines|0.25|",
        "an empty quoted string stays a string, not NULL"
    );
}

#[tokio::test]
async fn binary_and_text_formats_round_trip_a_whole_table() {
    let pg = server().await;
    for (format, into) in [("BINARY", "loaded"), ("TEXT", "loaded_text")] {
        pg.client()
            .await
            .batch_execute(&format!(
                "create table if not exists {into} (like products); truncate {into}"
            ))
            .await
            .unwrap();
        let r = run_flow(
            TASKS,
            &flow(&[
                task(
                    &pg,
                    "out",
                    "CopyOut",
                    &format!("    format: {format}\n    table: products\n"),
                ),
                task(
                    &pg,
                    "in",
                    "CopyIn",
                    &format!(
                        "    format: {format}\n    table: {into}\n    from: \"{{{{ outputs.out.uri }}}}\"\n"
                    ),
                ),
            ]),
        )
        .await;
        assert_success(&r);
        assert_eq!(r.outputs("out")["rowCount"], 3, "{format}");
        assert_eq!(r.outputs("in")["rowCount"], 3, "{format}");
        assert_eq!(rows_of(&pg, into).await, rows_of(&pg, "products").await);
        let bytes = std::fs::read(r.file(r.outputs("out")["uri"].as_str().unwrap())).unwrap();
        if format == "BINARY" {
            assert!(bytes.starts_with(b"PGCOPY\n\xff\r\n\0"), "binary signature");
        } else {
            assert!(bytes.starts_with(b"1\tplain\t9.5\t\\N\n"), "{bytes:?}");
        }
    }
    // An empty result is zero rows in every format, not the framing messages.
    for format in ["BINARY", "CSV\n    header: true", "TEXT"] {
        let r = export(
            &pg,
            &format!("    format: {format}\n    sql: select * from products where false\n"),
        )
        .await;
        assert_success(&r);
        assert_eq!(r.outputs("out")["rowCount"], 0, "{format}");
    }
}

#[tokio::test]
async fn options_reach_copy_quoted_as_literals() {
    let pg = server().await;
    let r = export(&pg, "    format: CSV\n    delimiter: \"'\"\n    nullString: \"NULL\"\n    forceQuote: [name]\n    columns: [id, name, note]\n    table: products\n").await;
    assert_success(&r);
    let text = std::fs::read_to_string(r.file(r.outputs("out")["uri"].as_str().unwrap())).unwrap();
    assert_eq!(text.lines().next(), Some("1'\"plain\"'NULL"), "{text}");
}

/// Runs CopyIn of `content`, given as a FILE input, into `loaded` with the options `extra`.
async fn load(pg: &Postgres, content: &str, extra: &str) -> Run {
    let dir = std::env::temp_dir().join(format!("runner-copy-{}", runner_core::ids::friendly_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data.csv");
    std::fs::write(&data, content).unwrap();
    let options = format!("{extra}    table: loaded\n    from: \"{{{{ inputs.data }}}}\"\n");
    let r = run_flow_with(
        TASKS,
        &flow(&[task(pg, "in", "CopyIn", &options)]),
        &[("data", data.to_str().unwrap())],
        &[],
    )
    .await;
    std::fs::remove_dir_all(&dir).unwrap();
    r
}

#[tokio::test]
async fn copy_in_loads_a_file_input_with_columns_and_a_tab_delimiter() {
    let pg = server().await;
    let r = load(
        &pg,
        "name\tid\nfirst\t10\nsecond\t11\n",
        "    format: CSV\n    header: true\n    delimiter: \"\\t\"\n    columns: [name, id]\n",
    )
    .await;
    assert_success(&r);
    assert_eq!(r.outputs("in")["rowCount"], 2);
    assert_eq!(
        rows_of(&pg, "loaded").await,
        ["10|first|<null>", "11|second|<null>"]
    );
}

#[tokio::test]
async fn a_bad_row_loads_nothing_and_names_the_line() {
    let pg = server().await;
    // Enough good rows that the first blocks reach the server before the bad one.
    let mut csv: String = (1..=50_000).map(|i| format!("{i},n{i},1,\n")).collect();
    csv.push_str("oops,n,1,\n");
    let r = load(&pg, &csv, "    format: CSV\n").await;
    assert_eq!(r.state.as_str(), "FAILED", "{}", r.logs);
    assert!(r.logs.contains("22P02"), "SQLSTATE: {}", r.logs);
    assert!(
        r.logs.contains("line 50001"),
        "PostgreSQL's context: {}",
        r.logs
    );
    assert!(!r.logs.contains(&pg.password), "{}", r.logs);
    assert!(
        rows_of(&pg, "loaded").await.is_empty(),
        "COPY is one statement"
    );
}

#[tokio::test]
async fn a_failed_copy_out_leaves_no_file() {
    let pg = server().await;
    let r = export(
        &pg,
        "    sql: select id, 1 / (id - 3) from products order by id\n",
    )
    .await;
    assert_eq!(r.state.as_str(), "FAILED", "{}", r.logs);
    assert!(r.logs.contains("division by zero"), "{}", r.logs);
    let files: Vec<_> = walk(&r.storage)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "tmp"))
        .collect();
    assert!(files.is_empty(), "partial output left: {files:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The validation errors of a flow of one task of `kind` with the properties `extra`.
fn validation_errors(kind: &str, extra: &str) -> Vec<String> {
    let yaml = format!(
        "id: copy\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.jdbc.postgresql.{kind}\n    url: jdbc:postgresql://127.0.0.1/\n{extra}"
    );
    let registry = runner_core::Registry::new(TASKS);
    let doc = runner_model::load_str(&yaml).unwrap().remove(0);
    let v = runner_core::validate(&doc, &registry, &runner_template::Renderer::new());
    v.diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.problem.to_string())
        .collect()
}

#[test]
fn what_copy_would_refuse_is_refused_while_validating() {
    assert_eq!(
        validation_errors(
            "CopyIn",
            "    from: kestra:///x.csv\n    table: t\n    delimiter: ';;'\n"
        ),
        ["t: `delimiter` must be a single one-byte character, got 2 bytes"]
    );
    assert_eq!(
        validation_errors("CopyIn", "    from: kestra:///x.csv\n"),
        ["t: `table` is required: the table to load the file into"]
    );
    assert_eq!(
        validation_errors("CopyOut", "    format: CSV\n"),
        ["t: give `sql` (a query to copy) or `table` (a whole table)"]
    );
    assert!(validation_errors("CopyOut", "    sql: select 1\n    quote: \"'\"\n").is_empty());
}
