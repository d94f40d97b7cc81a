//! WorkingDirectory and namespace files, with script tasks on the Process runner.

mod support;

use support::{Options, Scratch, flow, run, run_script};

fn with_namespace_files(dir: &std::path::Path) -> Options {
    Options {
        namespace_files: vec![("company.team".into(), dir.to_path_buf())],
        ..Options::default()
    }
}

#[tokio::test]
async fn tasks_of_a_working_directory_share_one_folder_and_its_files() {
    let r = run(&flow(
        r#"  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    inputFiles:
      seed.txt: "seeded"
    outputFiles:
      - "*.out"
    tasks:
      - id: write
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - cat seed.txt > first.out
          - pwd > where.txt
      - id: read
        type: io.kestra.plugin.scripts.python.Script
        script: |
          import os
          print(open("first.out").read(), open("where.txt").read().strip() == os.getcwd())
          open("second.out", "w").write("from python")
      - id: log
        type: io.kestra.plugin.core.log.Log
        message: "{{ outputs.read.exitCode }}"
"#,
    ))
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.lines("read", "INFO"), ["seeded True"]);
    assert_eq!(r.lines("log", "INFO"), ["0"]);
    let files = &r.outputs("wd")["outputFiles"];
    assert_eq!(r.read(&files["first.out"]), "seeded");
    assert_eq!(r.read(&files["second.out"]), "from python");
    // Children are task runs of their own, under the WorkingDirectory's.
    let parent = r.task_run("wd")["id"].clone();
    assert_eq!(r.task_run("write")["parentTaskRunId"], parent);
    assert!(r.left_behind.is_empty(), "{:?}", r.left_behind);
}

#[tokio::test]
async fn a_failed_child_stops_the_others_and_fails_the_working_directory() {
    let r = run(&flow(
        r#"  - id: wd
    type: io.kestra.core.tasks.flows.WorkingDirectory
    tasks:
      - id: bad
        type: io.kestra.plugin.scripts.shell.Commands
        commands: ["exit 2"]
      - id: never
        type: io.kestra.plugin.scripts.shell.Commands
        commands: ["echo no"]
"#,
    ))
    .await;
    assert_eq!(r.state(), "FAILED");
    assert_eq!(r.state_of("wd"), "FAILED");
    assert!(r.task_run("never").is_null());
}

#[tokio::test]
async fn only_runnable_tasks_may_be_children() {
    let registry = runner_core::Registry::new(support::TASKS);
    for (tasks, message) in [
        (
            "    tasks:\n      - id: par\n        type: io.kestra.plugin.core.flow.Parallel\n        tasks:\n          - id: l\n            type: io.kestra.plugin.core.log.Log\n            message: x\n",
            "Only runnable tasks are allowed as children of a WorkingDirectory task",
        ),
        ("    tasks: []\n", "tasks: must not be empty"),
    ] {
        let yaml = flow(&format!(
            "  - id: wd\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n{tasks}"
        ));
        let doc = runner_model::load_str(&yaml).unwrap().remove(0);
        let v = runner_core::validate(&doc, &registry, &runner_template::Renderer::new());
        let errors: Vec<String> = v
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.problem.to_string())
            .collect();
        assert!(
            errors.iter().any(|e| e.contains(message)),
            "{message}: {errors:?}"
        );
    }
}

#[tokio::test]
async fn the_cache_brings_files_back_on_the_next_run() {
    let cache = Scratch::new("cache");
    let yaml = flow(
        r#"  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    cache:
      patterns: ["deps/**"]
      ttl: PT1H
    tasks:
      - id: build
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - if [ -f deps/built ]; then echo "cached $(cat deps/built)"; else mkdir -p deps && echo 1 > deps/built && echo fresh; fi
"#,
    );
    let options = || Options {
        cache_dir: Some(cache.0.clone()),
        ..Options::default()
    };
    let first = run_script(&yaml, options()).await;
    assert_eq!(first.lines("build", "INFO"), ["fresh"], "{}", first.logs);
    let second = run_script(&yaml, options()).await;
    assert_eq!(
        second.lines("build", "INFO"),
        ["cached 1"],
        "{}",
        second.logs
    );
    assert!(
        second
            .lines("wd", "INFO")
            .contains(&"Restored 1 cached files".to_string())
    );
}

#[tokio::test]
async fn namespace_files_are_copied_with_include_exclude_and_if_exists() {
    let ns = Scratch::new("ns");
    std::fs::create_dir_all(ns.path("scripts/lib")).unwrap();
    std::fs::write(ns.path("scripts/main.py"), "print('main')\n").unwrap();
    std::fs::write(ns.path("scripts/lib/util.py"), "X = 1\n").unwrap();
    std::fs::write(ns.path("data.csv"), "a\n1\n").unwrap();
    std::fs::write(ns.path("secret.env"), "no\n").unwrap();

    let r = run_script(
        &flow(
            r#"  - id: all
    type: io.kestra.plugin.scripts.shell.Commands
    namespaceFiles:
      enabled: true
      exclude: ["*.env"]
    commands:
      - find . -type f | sort
  - id: some
    type: io.kestra.plugin.scripts.python.Commands
    namespaceFiles:
      enabled: true
      include: ["scripts/**", "data.csv"]
    commands:
      - python scripts/main.py
      - ls
  - id: off
    type: io.kestra.plugin.scripts.shell.Commands
    namespaceFiles:
      enabled: false
    commands: ["ls | wc -l"]
  - id: keep
    type: io.kestra.plugin.scripts.shell.Commands
    inputFiles:
      data.csv: "mine"
    namespaceFiles:
      enabled: true
      include: ["data.csv"]
      ifExists: IGNORE
    commands: ["cat data.csv"]
"#,
        ),
        with_namespace_files(&ns.0),
    )
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    // Kestra's rule: paths start with `/` and `*` stays in one folder, so `*.env` matches
    // nothing (`**.env` or `/*.env` would); a pattern starting with a letter matches at any
    // depth.
    let all = r.lines("all", "INFO");
    assert!(
        all[0].starts_with("Loaded 4 namespace files from 'company.team' in 00:00:"),
        "{all:?}"
    );
    assert_eq!(
        all[1..],
        [
            "./data.csv",
            "./scripts/lib/util.py",
            "./scripts/main.py",
            "./secret.env"
        ]
    );
    let some = r.lines("some", "INFO");
    assert!(some[0].starts_with("Loaded 3 namespace files"), "{some:?}");
    assert_eq!(some[1..], ["main", "data.csv", "scripts"]);
    assert_eq!(r.lines("off", "INFO"), ["0"]);
    // The namespace file ran into the input file: IGNORE keeps the input file.
    assert_eq!(r.lines("keep", "INFO").last().unwrap(), "mine");
    let metrics = r.record["metrics"].as_array().unwrap();
    assert!(
        metrics
            .iter()
            .any(|m| m["name"] == "namespacefiles.count" && m["value"] == 3.0)
    );
}

#[tokio::test]
async fn if_exists_fail_and_a_missing_folder_say_so() {
    let ns = Scratch::new("ns2");
    std::fs::write(ns.path("a.txt"), "ns").unwrap();
    let r = run_script(
        &flow(
            r#"  - id: clash
    type: io.kestra.plugin.scripts.shell.Commands
    inputFiles:
      a.txt: "mine"
    namespaceFiles:
      enabled: true
      ifExists: FAIL
    commands: ["cat a.txt"]
"#,
        ),
        with_namespace_files(&ns.0),
    )
    .await;
    // inputFiles are written after namespace files: the input file wins, no clash.
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.lines("clash", "INFO").last().unwrap(), "mine");
    // A file an earlier task of a WorkingDirectory wrote does clash.
    let r2 = run_script(
        &flow(
            r#"  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: first
        type: io.kestra.plugin.scripts.shell.Commands
        commands: ["echo mine > a.txt"]
      - id: clash
        type: io.kestra.plugin.scripts.shell.Commands
        namespaceFiles:
          enabled: true
          ifExists: FAIL
        commands: ["cat a.txt"]
"#,
        ),
        with_namespace_files(&ns.0),
    )
    .await;
    assert_eq!(r2.state(), "FAILED");
    assert!(
        r2.logs
            .contains("File 'a.txt' already exists in the working directory"),
        "{}",
        r2.logs
    );

    let missing = run_script(
        &flow(
            r#"  - id: none
    type: io.kestra.plugin.scripts.shell.Commands
    namespaceFiles:
      enabled: true
    commands: ["echo ran"]
"#,
        ),
        with_namespace_files(std::path::Path::new("/nonexistent/_files")),
    )
    .await;
    assert_eq!(missing.state(), "SUCCESS");
    assert!(
        missing.lines("none", "WARN")[0].contains("/nonexistent/_files`, which is not a folder"),
        "{}",
        missing.logs
    );
}

#[tokio::test]
async fn nsfile_uris_in_input_files_read_namespace_files() {
    let ns = Scratch::new("ns3");
    std::fs::create_dir_all(ns.path("conf")).unwrap();
    std::fs::write(ns.path("conf/app.ini"), "[app]\nname=x\n").unwrap();
    let r = run_script(
        &flow(
            r#"  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    inputFiles:
      app.ini: "nsfile:///conf/app.ini"
    commands: ["grep name app.ini"]
  - id: missing
    type: io.kestra.plugin.scripts.shell.Commands
    inputFiles:
      x.ini: "nsfile:///conf/none.ini"
    commands: ["echo no"]
"#,
        ),
        with_namespace_files(&ns.0),
    )
    .await;
    assert_eq!(r.lines("sh", "INFO"), ["name=x"]);
    assert_eq!(r.state_of("missing"), "FAILED");
    assert!(
        r.logs
            .contains("File '/conf/none.ini' was not found in namespace 'company.team'."),
        "{}",
        r.logs
    );
}
