//! Python `dependencies` on this machine: installed from PyPI into a cached environment on
//! the first run, reused on the next; the `kestra` library works unchanged inside it.

mod support;

use serde_json::json;
use support::{Options, Scratch, flow, run_script};

#[tokio::test]
async fn dependencies_install_once_and_the_kestra_library_sends_outputs() {
    let cache = Scratch::new("pycache");
    let yaml = flow(
        r#"  - id: py
    type: io.kestra.plugin.scripts.python.Script
    dependencies: ["kestra"]
    script: |
      from kestra import Kestra
      import sys
      Kestra.outputs({"answer": 42, "venv": sys.prefix != sys.base_prefix})
      Kestra.counter("rows", 7, {"t": "x"})
      Kestra.logger().warning("from the logger")
"#,
    );
    let options = || Options {
        cache_dir: Some(cache.0.clone()),
        ..Options::default()
    };
    let first = run_script(&yaml, options()).await;
    assert_eq!(first.state(), "SUCCESS", "{}", first.logs);
    assert_eq!(
        first.outputs("py")["vars"],
        json!({"answer": 42, "venv": true})
    );
    assert!(
        first.lines("py", "INFO")[0].starts_with("Installing Python dependencies kestra with "),
        "{}",
        first.logs
    );
    let warn = first.lines("py", "WARN");
    assert!(
        warn.iter().any(|l| l.ends_with("from the logger")),
        "{warn:?}"
    );
    assert_eq!(first.record["metrics"][0]["name"], "rows");
    assert_eq!(first.record["metrics"][0]["value"], 7.0);

    let second = run_script(&yaml, options()).await;
    assert_eq!(second.state(), "SUCCESS", "{}", second.logs);
    assert_eq!(second.outputs("py")["vars"]["answer"], 42);
    assert!(
        !second.logs.contains("Installing Python dependencies"),
        "the second run installed again: {}",
        second.logs
    );
    assert!(second.logs.contains("Using the cached Python environment"));
}

#[tokio::test]
async fn a_dependency_that_does_not_exist_fails_with_the_installers_words() {
    let cache = Scratch::new("pycache-bad");
    let r = run_script(
        &flow(
            r#"  - id: py
    type: io.kestra.plugin.scripts.python.Commands
    dependencies: ["runner-no-such-package-zz9"]
    commands: ["python -c 'print(1)'"]
"#,
        ),
        Options {
            cache_dir: Some(cache.0.clone()),
            ..Options::default()
        },
    )
    .await;
    assert_eq!(r.state(), "FAILED");
    assert!(
        r.logs.contains("installing the Python dependencies failed"),
        "{}",
        r.logs
    );
    assert!(r.logs.contains("runner-no-such-package-zz9"), "{}", r.logs);
    // Nothing half-built is kept for the next run.
    let kept: Vec<_> = std::fs::read_dir(cache.path("python"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_dir())
        .collect();
    assert!(kept.is_empty(), "{kept:?}");
}
