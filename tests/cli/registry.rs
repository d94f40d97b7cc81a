//! The registry the binary ships: every task type's example is a valid task, and its schema
//! (derived from the task's struct) documents every property.

use runner_core::{PropKind, validate};
use runner_template::Renderer;

/// Names that say a property holds a credential.
const CREDENTIAL_WORDS: &[&str] = &[
    "password",
    "passphrase",
    "token",
    "secret",
    "apikey",
    "privatekey",
    "sslkey",
];

/// Names with a credential word that count something instead (an AI model's token budget).
const NOT_CREDENTIALS: &[&str] = &["maxtokens", "maxtoken", "maxoutputtokens"];

#[test]
fn every_credential_property_is_secret() {
    let mut secret = 0;
    for t in runner::registry().iter() {
        for p in &t.properties {
            let name = p.name.to_ascii_lowercase();
            if CREDENTIAL_WORDS.iter().any(|w| name.contains(w))
                && !NOT_CREDENTIALS.contains(&name.as_str())
            {
                assert!(
                    p.secret,
                    "{}.{} holds a credential: mark it #[prop(secret)] so its value is masked",
                    t.type_name(),
                    p.name
                );
            }
            secret += usize::from(p.secret);
        }
    }
    assert!(secret > 0);
}

#[test]
fn every_property_is_documented_once() {
    for t in runner::registry().iter() {
        let mut names: Vec<&str> = t.properties.iter().map(|p| p.name).collect();
        // A task without properties must be one Kestra defines without any.
        const NONE_IN_KESTRA: &[&str] =
            &["io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles"];
        assert!(
            !names.is_empty() || NONE_IN_KESTRA.contains(&t.type_name()),
            "{} has no properties",
            t.type_name()
        );
        for p in &t.properties {
            assert!(!p.doc.is_empty(), "{}.{} has no doc", t.type_name(), p.name);
            if let PropKind::Value(ty) = p.kind {
                assert!(!ty.is_empty(), "{}.{} has no type", t.type_name(), p.name);
            } else {
                assert!(
                    t.is_flowable(),
                    "{} lists tasks but is not flowable",
                    t.type_name()
                );
            }
        }
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(
            before,
            names.len(),
            "{} names a property twice",
            t.type_name()
        );
    }
}

#[test]
fn the_schema_follows_the_struct() {
    let registry = runner::registry();
    let query = registry
        .get("io.kestra.plugin.jdbc.postgresql.Query")
        .unwrap();
    let names: Vec<&str> = query.properties.iter().map(|p| p.name).collect();
    // Flattened groups keep their place around the task's own fields.
    assert_eq!(
        &names[..5],
        ["url", "username", "password", "sql", "parameters"]
    );
    let sql = query.property("sql").unwrap();
    assert!(sql.required && sql.dynamic && sql.doc == "One SQL statement.");
    let fetch_type = query.property("fetchType").unwrap();
    assert_eq!(
        fetch_type.kind,
        PropKind::Value("STORE|FETCH|FETCH_ONE|NONE")
    );
    assert!(!fetch_type.required);
    let fetch = query.property("fetch").unwrap();
    assert!(!fetch.dynamic, "a plain bool is not rendered");
    let queries = registry
        .get("io.kestra.plugin.jdbc.postgresql.Queries")
        .unwrap();
    assert_eq!(
        queries.property("sql").unwrap().doc,
        "The SQL script: one or more statements."
    );
    assert!(queries.property("transaction").is_some());
    assert!(query.property("transaction").is_none());
    let switch = registry.get("io.kestra.plugin.core.flow.Switch").unwrap();
    assert_eq!(switch.property("cases").unwrap().kind, PropKind::TaskMap);
    assert_eq!(switch.property("defaults").unwrap().kind, PropKind::Tasks);
    let if_ = registry.get("io.kestra.plugin.core.flow.If").unwrap();
    assert!(if_.property("then").unwrap().required);
    assert!(
        !if_.property("else").unwrap().required,
        "`else` is renamed and optional"
    );
}

fn errors(yaml: &str) -> Vec<(String, u32, u32)> {
    let doc = runner_model::load_str(yaml).unwrap().remove(0);
    validate(&doc, &runner::registry(), &Renderer::new())
        .diagnostics
        .into_iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let span = d.span.unwrap();
            (d.problem.to_string(), span.line, span.col)
        })
        .collect()
}

#[test]
fn every_wrong_property_is_reported_where_it_is_written() {
    let yaml = "id: f\nnamespace: n\ntasks:\n  - id: q\n    type: io.kestra.plugin.jdbc.postgresql.Query\n    url: jdbc:postgresql://127.0.0.1/\n    sql: select 1\n    fetchSize: lots\n    sslMode: SOMETIMES\n    forcePathStyle: 1\n";
    let e = errors(yaml);
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(
        e[0].0.starts_with("Unrecognized field \"forcePathStyle\"") && e[0].1 == 10,
        "{e:?}"
    );
    assert_eq!(
        e[1],
        (
            "tasks[0].fetchSize: invalid type: string \"lots\", expected u32".to_string(),
            8,
            16
        )
    );
    assert!(
        e[2].0
            .starts_with("tasks[0].sslMode: unknown variant `SOMETIMES`")
            && (e[2].1, e[2].2) == (9, 14),
        "inside a flattened group too: {e:?}"
    );
}

#[test]
fn every_missing_required_property_is_named_in_order() {
    let yaml = "id: f\nnamespace: n\ntasks:\n  - id: q\n    type: io.kestra.plugin.jdbc.postgresql.Query\n    fetchType: FETCH\n";
    let e: Vec<String> = errors(yaml).into_iter().map(|e| e.0).collect();
    assert_eq!(
        e,
        [
            "tasks[0].url: must not be null",
            "tasks[0].sql: must not be null"
        ]
    );
}
