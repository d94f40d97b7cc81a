//! Expression cases beyond the public conformance suite: one line each, template, variables,
//! and the exact output (or the start of the error).

use runner_template::{Context, FileAccess, Hooks, Renderer};
use serde_json::{Value as Json, json};
use std::sync::Arc;

fn render(r: &Renderer, template: &str, vars: Json) -> Result<String, String> {
    r.render_str(template, &Context::new(vars))
        .map_err(|e| e.to_string())
}

#[test]
fn pebble_syntax() {
    let r = Renderer::new();
    let v = json!({"a": {"b": null, "c": 0}, "list": ["x", "y"], "s": "hello"});
    let cases: &[(&str, &str)] = &[
        ("{{ a.b ?? 'dflt' }}", "dflt"),
        ("{{ a.c ?? 'dflt' }}", "0"),
        ("{{ a.nope.deeper ?? 'deep' }}", "deep"),
        ("{{ a.b ??? 'only-undefined' }}", ""),
        ("{{ a.nope ??? 'only-undefined' }}", "only-undefined"),
        ("{{ a.c == 0 ? 'zero' : 'other' }}", "zero"),
        ("{{ s equals 'hello' }}", "true"),
        ("{{ list contains 'y' }}", "true"),
        ("{{ s contains 'ell' }}", "true"),
        ("{{ a.b is null }}", "true"),
        ("{{ list is empty }}", "false"),
        ("{{ missing is defined }}", "false"),
        ("{% if a.c == 0 %}yes{% endif %}", "yes"),
        ("{% for x in list %}{{ x }}{% endfor %}", "xy"),
        ("{{ null }}", ""),
        ("{{ 10 / 4 }} {{ 7 // 2 }} {{ 2 ** 3 }}", "2.5 3 8"),
        ("{{ 'a' ~ 1 ~ true }}", "a1true"),
    ];
    for (t, want) in cases {
        assert_eq!(render(&r, t, v.clone()).as_deref(), Ok(*want), "{t}");
    }
}

#[test]
fn strict_undefined_like_kestra() {
    let r = Renderer::new();
    let v = json!({"inputs": {"a": 1}});
    for (t, missing) in [
        ("{{ nope }}", "nope"),
        ("{{ inputs.b }}", "b"),
        ("{{ inputs.b | upper }}", "b"),
        ("{% if inputs.b %}x{% endif %}", "b"),
        ("{{ inputs.b ?? other }}", "other"),
        ("x\n\n{{ inputs.c }}", "c"),
    ] {
        let e = render(&r, t, v.clone()).unwrap_err();
        assert!(
            e.starts_with(&format!(
                "Unable to find `{missing}` used in the expression `{t}`"
            )),
            "{t}: {e}"
        );
    }
    assert!(
        render(&r, "x\n\n{{ inputs.c }}", v)
            .unwrap_err()
            .ends_with("at line 3")
    );
}

#[test]
fn filters() {
    let r = Renderer::new();
    let cases: &[(&str, Json, &str)] = &[
        ("{{ 'hello world' | abbreviate(8) }}", json!({}), "hello..."),
        (
            "{{ 'hello' | base64encode }} {{ 'aGVsbG8=' | base64decode }}",
            json!({}),
            "aGVsbG8= hello",
        ),
        (
            "{{ 'hello World' | capitalize }} {{ 'hello wORLD' | title }}",
            json!({}),
            "Hello World Hello WORLD",
        ),
        ("{{ [1, [2, [3]]] | flatten }}", json!({}), "[1,2,[3]]"),
        (
            "{{ m | keys }} {{ m | values }}",
            json!({"m": {"a": 1, "b": 2}}),
            "[\"a\",\"b\"] [1,2]",
        ),
        (
            "{{ 'abcdef' | slice(1, 3) }} {{ [1,2,3] | slice(1) }}",
            json!({}),
            "bc [2,3]",
        ),
        (
            "{{ 'a b&c' | urlencode }} {{ 'a+b%26c' | urldecode }}",
            json!({}),
            "a+b%26c a b&c",
        ),
        (
            "{{ 'abc' | startsWith('ab') }} {{ 'abc' | endsWith('x') }}",
            json!({}),
            "true false",
        ),
        (
            "{{ '42' | number + 1 }} {{ '1.5' | number('DOUBLE') }}",
            json!({}),
            "43 1.5",
        ),
        (
            "{{ 1234567.891 | numberFormat('#,##0.00') }} {{ 0.5 | numberFormat('0.000') }}",
            json!({}),
            "1,234,567.89 0.500",
        ),
        ("{{ [3,1,2] | rsort }}", json!({}), "[3,2,1]"),
        (
            "{{ {'a': 1} | merge({'b': 2}) }}",
            json!({}),
            "{\"a\":1,\"b\":2}",
        ),
        (
            "{{ 'x' | sha256 }}",
            json!({}),
            "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
        ),
        (
            "{{ v | toJson }} {{ v | toIon }}",
            json!({"v": {"a": [1, "b"]}}),
            "{\"a\":[1,\"b\"]} {a:[1,\"b\"]}",
        ),
        (
            "{{ v | jq('.a[] | select(. > 1)') }}",
            json!({"v": {"a": [1, 2, 3]}}),
            "[2,3]",
        ),
        // A string holding JSON (an HTTP response body) is read as JSON first, as in Kestra.
        (
            "{{ body | jq('.users[].name') | first }} {% for u in body | jq('.users[]') %}{{ u.id }}{% endfor %}",
            json!({"body": "{\"users\":[{\"id\":1,\"name\":\"ann\"},{\"id\":2,\"name\":\"bob\"}]}"}),
            "ann 12",
        ),
        ("{{ 'plain' | jq('.') | first }}", json!({}), "plain"),
        ("{{ 'Hello World!' | slugify }}", json!({}), "hello-world"),
        (
            "{{ '' | default('d') }} {{ 'x' | default('d') }}",
            json!({}),
            "d x",
        ),
        (
            "{{ '2024-03-05T10:00:00Z' | date('yyyy/MM/dd HH:mm', timeZone='UTC') }}",
            json!({}),
            "2024/03/05 10:00",
        ),
        (
            "{{ '2024-03-05T10:00:00Z' | dateAdd(2, 'HOURS', format='HH:mm', timeZone='UTC') }}",
            json!({}),
            "12:00",
        ),
        (
            "{{ '2024-03-05T10:00:00Z' | timestamp }}",
            json!({}),
            "1709632800",
        ),
        (
            "{{ 1709632800 | date('iso_sec', timeZone='Europe/Paris') }}",
            json!({}),
            "2024-03-05T11:00:00+01:00",
        ),
    ];
    for (t, v, want) in cases {
        assert_eq!(render(&r, t, v.clone()).as_deref(), Ok(*want), "{t}");
    }
    for (t, err) in [
        (
            "{{ 'x' | date('yyyy', timeZone='Mars/Olympus') }}",
            "Unknown time-zone ID: Mars/Olympus",
        ),
        (
            "{{ 'x' | base64decode }}",
            "base64decode: the input is not base64",
        ),
        (
            "{{ 1 | chunk(2) }}",
            "'chunk' filter can only be applied to List. Actual type was: java.lang.Integer",
        ),
        (
            "{{ 'ab' | chunk(2) }}",
            "'chunk' filter can only be applied to List. Actual type was: java.lang.String",
        ),
        (
            "{{ {'a': 1} | chunk(2) }}",
            "Actual type was: java.util.LinkedHashMap",
        ),
        (
            "{{ [1] | chunk(0) }}",
            "chunk: `size` must be a positive number",
        ),
        (
            "{{ 'x' | replace({'(': 'y'}, regexp=true) }}",
            "replace: `(` is not a valid regular expression",
        ),
        (
            "{{ 'x' | date(fromat='yyyy') }}",
            "unknown keyword argument",
        ),
    ] {
        let e = render(&r, t, json!({})).unwrap_err();
        assert!(e.contains(err), "{t}: {e}");
    }
}

#[test]
fn functions() {
    let r = Renderer::new();
    let v = json!({"flow": {"namespace": "company.team", "id": "f"}, "n": "{{ m }}", "m": "{{ o }}", "o": "deep", "grow": "{{ grow }}!"});
    let cases: &[(&str, &str)] = &[
        ("{{ render(n) }}", "deep"),
        ("{{ renderOnce(n) }}", "{{ o }}"),
        ("{{ render({'k': n}) }}", "{\"k\":\"deep\"}"),
        ("{{ fromJson('{\"a\": [1]}').a[0] }}", "1"),
        ("{{ yaml('a: {b: 2}').a.b }}", "2"),
        ("{{ fromIon('{a: 1, b: \"x\"}').b }}", "x"),
        (
            "{{ fileURI('/data/x.csv') }}",
            "kestra:///company/team/_files/data/x.csv",
        ),
        ("{{ max(1, 9, 3) }} {{ min(4, 2) }}", "9 2"),
        ("{{ uuid() | length }}", "36"),
        // Pebble's range includes its end, and counts down with a negative increment.
        ("{{ range(1, 3) }}", "[1,2,3]"),
        ("{{ range(3, 1, -1) | join(',') }}", "3,2,1"),
        ("{{ range(0, 10, 4) | join(',') }}", "0,4,8"),
        ("{{ range(2, 1) | length }}", "0"),
        ("{% for i in range(1, 3) %}{{ i }}{% endfor %}", "123"),
        ("{{ range(1, 3)[2] }}", "3"),
    ];
    for (t, want) in cases {
        assert_eq!(render(&r, t, v.clone()).as_deref(), Ok(*want), "{t}");
    }
    for (t, error) in [
        ("{{ range(5) }}", "expects the arguments 'start' and 'end'"),
        ("{{ range(1, 5, 0) }}", "'increment' must not be 0"),
        (
            "{{ range(0, 100000000000) }}",
            "runner makes at most 10000000",
        ),
        ("{{ range('a', 5) }}", "'start' must be an integer"),
    ] {
        let e = render(&r, t, v.clone()).unwrap_err();
        assert!(e.contains(error), "{t}: {e}");
    }
    // Both bounds are reachable and nothing falls outside them.
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..400 {
        let n: i64 = render(&r, "{{ randomInt(-1, 2) }}", json!({}))
            .unwrap()
            .parse()
            .unwrap();
        assert!((-1..=2).contains(&n), "{n}");
        seen.insert(n);
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), [-1, 0, 1, 2]);
    assert_eq!(
        render(&r, "{{ randomInt(5, 5) }}", json!({})).as_deref(),
        Ok("5")
    );
    let wide = render(
        &r,
        "{{ randomInt(-9223372036854775807 - 1, 9223372036854775807) }}",
        json!({}),
    );
    assert!(
        wide.unwrap().parse::<i64>().is_ok(),
        "the widest range works"
    );
    assert_eq!(
        render(&r, "{{ randomInt(3, 1) }}", json!({})).unwrap_err(),
        "In 'GenerateRandomNumber' upper is less than lower"
    );
    assert_eq!(
        render(&r, "{{ render(grow) }}", v.clone()).unwrap_err(),
        "Too many rendering attempts"
    );
    assert_eq!(
        render(&r, "{{ [true, 1, 'a'] | join(',') }}", json!({})).unwrap(),
        "true,1,a"
    );
    assert!(
        render(&r, "{{ now('yyyy') }}", json!({}))
            .unwrap()
            .starts_with("20")
    );
    assert!(
        render(&r, "{{ kv('x') }}", json!({}))
            .unwrap_err()
            .contains("kv() is not available here")
    );
}

struct Files;

impl FileAccess for Files {
    fn read(
        &self,
        path: &str,
        execution_id: Option<&str>,
        _: Option<&str>,
        _: Option<&str>,
    ) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        if execution_id == Some("e1") && path == "kestra:///a/file" {
            Ok("contents".into())
        } else {
            Err(format!("cannot read {path}").into())
        }
    }
}

#[test]
fn hooks_for_secrets_masking_and_files() {
    let store = runner_secrets::SecretStore::from_vars([(
        "SECRET_API".to_string(),
        "czNjcjN0".to_string(),
    )]);
    let masker = Arc::new(runner_secrets::Masker::default());
    let r = Renderer::with_hooks(Hooks {
        secrets: Some(Arc::new(store)),
        masker: Some(masker.clone()),
        files: Some(Arc::new(Files)),
        ..Default::default()
    });
    let v = json!({"execution": {"id": "e1"}});
    assert_eq!(
        render(&r, "{{ secret('api') }}", v.clone()).unwrap(),
        "s3cr3t"
    );
    assert_eq!(
        masker.mask("the key is s3cr3t"),
        "the key is ******",
        "secret() registers what it returns"
    );
    assert_eq!(
        render(&r, "{{ read('kestra:///a/file') }}", v.clone()).unwrap(),
        "contents"
    );
    assert_eq!(
        render(&r, "{{ read('kestra:///other') }}", v).unwrap_err(),
        "cannot read kestra:///other"
    );
    assert!(
        render(&r, "{{ secret() }}", json!({}))
            .unwrap_err()
            .contains("The 'secret' function expects an argument 'key'.")
    );
}

/// Pebble evaluates the right of `??` only when the left is missing: an error there (a
/// missing secret, a failing filter) does not fail a template whose left side is set.
#[test]
fn the_right_of_coalescing_runs_only_when_needed() {
    let r = Renderer::new();
    let v = json!({"given": "yes", "nothing": null});
    let failing = "('x' | base64decode)";
    for (t, want) in [
        (format!("{{{{ given ?? {failing} }}}}"), Ok("yes")),
        (format!("{{{{ given ??? {failing} }}}}"), Ok("yes")),
        (format!("{{{{ nothing ??? {failing} }}}}"), Ok("")),
        (
            format!("{{{{ missing ?? given ?? {failing} }}}}"),
            Ok("yes"),
        ),
    ] {
        assert_eq!(render(&r, &t, v.clone()).as_deref(), want, "{t}");
    }
    for t in [
        format!("{{{{ nothing ?? {failing} }}}}"),
        format!("{{{{ missing ??? {failing} }}}}"),
    ] {
        let e = render(&r, &t, v.clone()).unwrap_err();
        assert!(
            e.contains("base64decode: the input is not base64"),
            "{t}: {e}"
        );
    }
    let e = render(&r, "{{ missing ?? other }}", v.clone()).unwrap_err();
    assert_eq!(
        e,
        "Unable to find `other` used in the expression `{{ missing ?? other }}` at line 1"
    );
}

/// The deepest shapes the limits let through render on a thread with the 8 MiB stack the
/// binary gives its workers (main threads have as much), in a debug build too.
#[test]
fn the_limits_keep_rendering_within_a_small_stack() {
    let run = || {
        let r = Renderer::new();
        let limits = runner_template::Limits::default();
        let ops = format!("{{{{ 1{} }}}}", " + 1".repeat(limits.max_operators - 1));
        assert_eq!(
            render(&r, &ops, json!({})).as_deref(),
            Ok(limits.max_operators.to_string().as_str())
        );
        let depth = limits.max_depth - 1;
        let parens = format!("{{{{ {}1{} }}}}", "(".repeat(depth), ")".repeat(depth));
        assert_eq!(render(&r, &parens, json!({})).as_deref(), Ok("1"));
        let lists = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        // The outermost list holds one item.
        assert_eq!(
            render(&r, "{{ fromJson(s) | length }}", json!({"s": lists})).as_deref(),
            Ok("1")
        );
        let ion = format!("{}1{}", "[".repeat(255), "]".repeat(255));
        // Printed back as JSON: the same text.
        assert_eq!(
            render(&r, "{{ fromIon(s) | toJson | length }}", json!({"s": ion})).as_deref(),
            Ok("511")
        );
        let yaml = format!("{}1{}", "[".repeat(255), "]".repeat(255));
        assert_eq!(
            render(&r, "{{ yaml(s) | toJson | length }}", json!({"s": yaml})).as_deref(),
            Ok("511")
        );
        // A value nested one level per statement, as deep as the tag limit allows, is
        // printed and dropped: `[[...[1]...]]` with one bracket pair per statement.
        let levels = limits.max_tags - 2;
        let nested = format!(
            "{{% set x = 1 %}}{}{{{{ x | toJson | length }}}}",
            "{% set x = [x] %}".repeat(levels)
        );
        assert_eq!(
            render(&r, &nested, json!({})).as_deref(),
            Ok((2 * levels + 1).to_string().as_str())
        );
        assert!(
            render(&r, "{% set ns = namespace(x=[]) %}", json!({}))
                .unwrap_err()
                .contains("namespace")
        );
    };
    std::thread::Builder::new()
        .stack_size(8 * 1024 * 1024)
        .spawn(run)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn render_typed_keeps_the_type_of_one_expression() {
    let r = Renderer::new();
    let ctx = Context::new(json!({"rows": [1, 2], "n": 3, "s": "x"}));
    assert_eq!(r.render_typed("{{ rows }}", &ctx).unwrap(), json!([1, 2]));
    assert_eq!(r.render_typed(" {{ n + 1 }} ", &ctx).unwrap(), json!(4));
    assert_eq!(r.render_typed("{{ s }}", &ctx).unwrap(), json!("x"));
    assert_eq!(r.render_typed("n={{ n }}", &ctx).unwrap(), json!("n=3"));
    assert_eq!(r.render_typed("plain", &ctx).unwrap(), json!("plain"));
    let err = r.render_typed("{{ nope }}", &ctx).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unable to find `nope` used in the expression `{{ nope }}` at line 1"
    );
}

/// A KV store in memory: the template crate only reads through the trait.
struct Kv(std::collections::BTreeMap<(String, String), Json>);

impl runner_template::KvRead for Kv {
    fn lookup(
        &self,
        namespace: &str,
        key: &str,
        inherit: bool,
    ) -> Result<runner_template::KvLookup, String> {
        let mut ns = namespace.to_string();
        loop {
            if let Some(v) = self.0.get(&(ns.clone(), key.to_string())) {
                return Ok(if v == &json!("EXPIRED") {
                    runner_template::KvLookup::Expired
                } else {
                    runner_template::KvLookup::Found(v.clone())
                });
            }
            match ns.rfind('.') {
                Some(i) if inherit => ns.truncate(i),
                _ => return Ok(runner_template::KvLookup::Missing),
            }
        }
    }
}

#[test]
fn kv_reads_the_store_with_kestras_arguments_and_messages() {
    let store = Kv([
        (("company".into(), "top".into()), json!({"a": 1})),
        (("company.team".into(), "n".into()), json!(7)),
        (("other".into(), "old".into()), json!("EXPIRED")),
    ]
    .into_iter()
    .collect());
    let r = Renderer::with_hooks(Hooks {
        kv: Some(Arc::new(store)),
        ..Hooks::default()
    });
    let vars = json!({"flow": {"namespace": "company.team", "id": "f"}});
    let ok = |t: &str| render(&r, t, vars.clone()).unwrap();
    let err = |t: &str| render(&r, t, vars.clone()).unwrap_err();
    assert_eq!(ok("{{ kv('n') + 1 }}"), "8");
    // Inherited from the parent namespace, typed.
    assert_eq!(ok("{{ kv('top').a }}"), "1");
    assert_eq!(ok("{{ kv(key='top', namespace='company.team').a }}"), "1");
    // Another namespace is searched alone.
    assert_eq!(ok("{{ kv('n', 'company', false) ?? 'none' }}"), "none");
    assert!(
        err("{{ kv('missing') }}")
            .contains("The key 'missing' does not exist in the namespace 'company.team'."),
        "{}",
        err("{{ kv('missing') }}")
    );
    assert_eq!(
        ok("{{ kv('missing', errorOnMissing=false) is null }}"),
        "true"
    );
    assert!(err("{{ kv('old', 'other') }}").contains("The requested value has expired"));
    assert_eq!(ok("{{ kv('old', 'other', false) is null }}"), "true");
    assert!(err("{{ kv() }}").contains("The 'kv' function expects an argument 'key'."));
}

/// `((a ?? b) ?? c) ?? ...`: each level of nesting would double the rewritten expression.
/// A few levels render; forty are refused at once with a message, not gigabytes later.
#[test]
fn nested_coalescing_is_bounded() {
    let r = Renderer::new();
    let nest = |levels: usize| {
        let mut e = "nothing".to_string();
        for i in 0..levels {
            e = format!("({e} ?? {i})");
        }
        format!("{{{{ {e} ?? 'last' }}}}")
    };
    assert_eq!(render(&r, &nest(4), json!({})).as_deref(), Ok("0"));
    let started = std::time::Instant::now();
    let err = render(&r, &nest(40), json!({})).unwrap_err();
    assert!(err.contains("`??` is nested too deeply"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert!(r.check(&nest(40)).is_err());
}

/// `check` (what `validate` runs) names what would fail at run time as unknown.
#[test]
fn check_refuses_unknown_names() {
    let r = Renderer::new();
    for (t, want) in [
        ("{{ nope() }}", "Unknown function 'nope'"),
        ("{{ 1 | nope }}", "Unknown filter 'nope'"),
        ("{{ 1 is nope }}", "Unknown test 'nope'"),
        (
            "{{ '{}' | fromJson }}",
            "`fromJson` is a function, not a filter",
        ),
        ("{{ upper('x') }}", "`upper` is a filter, not a function"),
    ] {
        let err = r.check(t).expect_err(t).to_string();
        assert!(err.contains(want), "{t}: {err}");
    }
    for ok in [
        "{{ now() }} {{ errorLogs() }} {{ randomPort() }} {{ x | jq('.') | first }}",
        "{{ x is defined and y is empty }} {{ x ?? 'd' }}",
    ] {
        assert!(r.check(ok).is_ok(), "{ok}: {:?}", r.check(ok));
    }
}

#[test]
fn random_port_is_a_free_port_and_error_logs_needs_an_execution() {
    let r = Renderer::new();
    let port: u16 = render(&r, "{{ randomPort() }}", json!({}))
        .unwrap()
        .parse()
        .unwrap();
    assert!(port > 0);
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("the port is free");
    let err = render(&r, "{{ errorLogs() }}", json!({})).unwrap_err();
    assert!(
        err.contains("errorLogs() reads the ERROR logs of a running execution"),
        "{err}"
    );
}

#[test]
fn tasks_with_state_lists_the_task_runs_in_a_state_as_kestra_does() {
    let r = Renderer::new();
    let ctx = json!({"tasks": {
        "extract": {"state": "SUCCESS"},
        "load": {"state": "FAILED"},
        "each": {"a": {"state": "FAILED"}, "b": {"state": "SUCCESS"}}
    }});
    let failed = render(
        &r,
        "{% for t in tasksWithState() %}{{ t.taskId }}{{ t.value is defined ? '[' ~ t.value ~ ']' : '' }}={{ t.state }};{% endfor %}",
        ctx.clone(),
    )
    .unwrap();
    assert_eq!(failed, "load=FAILED;each[a]=FAILED;");
    assert_eq!(
        render(
            &r,
            "{{ tasksWithState(state='success') | length }}",
            ctx.clone()
        )
        .unwrap(),
        "2"
    );
    assert_eq!(
        render(&r, "{{ tasksWithState('KILLED') is empty }}", ctx).unwrap(),
        "true"
    );
    assert!(r.check("{{ tasksWithState('FAILED') }}").is_ok());
}
