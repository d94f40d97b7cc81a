//! A flow is code from strangers: each class of hostile or careless input gets a clear error,
//! the right exit code, in bounded time and memory, with no panic and no secret in any output.
//! Every run here is measured by GNU time (the peak memory of runner and its jq sandbox) under
//! a 60-second `timeout`, so a regression shows as a failure, not a hung CI.

mod support;

use serde_json::Value as Json;
use std::time::{Duration, Instant};
use support::{Done, Sandbox, walk};

/// The peak memory allowed to each run (runner and its jq sandbox, which holds at most 256
/// MiB), in KiB.
const MEMORY_KIB: u64 = 300 * 1024;

struct Outcome {
    done: Done,
    took: Duration,
    peak_kib: u64,
}

impl Outcome {
    fn code(&self) -> i32 {
        self.done.code()
    }
    fn err(&self) -> String {
        self.done.stderr()
    }
    fn out(&self) -> String {
        self.done.stdout()
    }
    /// No panic, no abort, no kill: a clear end within `seconds`.
    fn ended_cleanly(&self, seconds: u64) -> &Self {
        let err = self.err();
        assert!(
            !err.contains("panicked") && !err.contains("internal error"),
            "{err}"
        );
        assert!(!err.contains("overflowed its stack"), "{err}");
        assert!(matches!(self.code(), 0..=2), "exit {}: {err}", self.code());
        assert!(
            self.took < Duration::from_secs(seconds),
            "took {:?}: {err}",
            self.took
        );
        assert!(
            self.peak_kib < MEMORY_KIB,
            "peak memory {} MiB: {err}",
            self.peak_kib / 1024
        );
        self
    }
}

/// GNU time, which reports a process tree's peak memory (scripts/test.sh installs it).
const TIME: &str = "/usr/bin/time";

/// Runs runner with `args`, with `env` added to a clean environment, measuring it.
fn hostile(s: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    assert!(
        std::path::Path::new(TIME).exists(),
        "these tests measure memory with GNU time: install it (Debian: apt-get install time)"
    );
    let peak = s
        .dir
        .join(format!("peak-{}", runner_core::ids::friendly_id()));
    let mut script = format!(
        "exec timeout -s KILL 60 {TIME} -f %M -o '{}' {}",
        peak.display(),
        env!("CARGO_BIN_EXE_runner")
    );
    for (i, _) in args.iter().enumerate() {
        script.push_str(&format!(" \"${}\"", i + 1));
    }
    let mut cmd = std::process::Command::new("bash");
    cmd.arg("-c").arg(script).arg("bash").args(args);
    cmd.current_dir(&s.dir).env("NO_COLOR", "1");
    for (k, _) in std::env::vars() {
        if ["SECRET_", "ENV_", "RUNNER_", "AWS_"]
            .iter()
            .any(|p| k.starts_with(p))
        {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let output = cmd.output().unwrap();
    let took = start.elapsed();
    let text = std::fs::read_to_string(&peak).unwrap_or_default();
    let _ = std::fs::remove_file(&peak);
    Outcome {
        done: Done(output),
        took,
        // GNU time's last line; its earlier ones say when the command failed.
        peak_kib: text
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(u64::MAX),
    }
}

fn one_task(task: &str) -> String {
    format!("id: hostile\nnamespace: company.team\ntasks:\n  - id: t\n{task}")
}

fn log(message: &str) -> String {
    one_task(&format!(
        "    type: io.kestra.plugin.core.log.Log\n    message: '{}'\n",
        message.replace('\'', "''")
    ))
}

/// The execution record the run left in `st`.
fn record(s: &Sandbox) -> Json {
    let path = walk(&s.dir.join("st"))
        .into_iter()
        .find(|p| p.ends_with("execution.json"))
        .expect("the run wrote its record");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn jq_cannot_end_the_process_or_read_its_environment() {
    let s = Sandbox::new();
    for filter in [
        "halt_error(7)",
        "halt",
        "env",
        "env.AWS_SECRET_ACCESS_KEY",
        "$ENV",
    ] {
        s.write("f.yaml", &log(&format!("{{{{ [1] | jq('{filter}') }}}}")));
        let o = hostile(
            &s,
            &["run", "f.yaml", "--storage", "st"],
            &[
                ("AWS_SECRET_ACCESS_KEY", "aws-secret-in-clear"),
                ("SECRET_PW", &b64("pw-secret-value")),
            ],
        );
        o.ended_cleanly(10);
        assert_eq!(o.code(), 1, "{filter}: {}", o.err());
        assert!(
            o.err().contains("not available in runner"),
            "{filter}: {}",
            o.err()
        );
        assert!(o.err().contains("ended FAILED"), "the summary is printed");
        assert_eq!(record(&s)["state"]["current"], "FAILED");
        let all = o.out() + &o.err();
        assert!(!all.contains("aws-secret-in-clear") && !all.contains("pw-secret-value"));
    }
}

#[test]
fn jq_that_never_ends_or_explodes_is_stopped() {
    let s = Sandbox::new();
    let cases = [
        (
            "def f: f; f",
            "ran longer than 2s and was stopped (RUNNER_JQ_TIMEOUT",
        ),
        ("until(false; .)", "ran longer than 2s"),
        ("def f: 1 + f; f", "the program crashed"),
        // Whichever comes first: the memory limit or the deadline.
        ("[repeat(1)]", "the program crashed|ran longer than 2s"),
        (
            "[range(100000000)]",
            "the program crashed|ran longer than 2s",
        ),
        (
            "range(100000000)",
            "produced more than 1 MiB (RUNNER_JQ_MAX_OUTPUT_MB",
        ),
    ];
    for (filter, message) in cases {
        s.write("f.yaml", &log(&format!("{{{{ 1 | jq('{filter}') }}}}")));
        let o = hostile(
            &s,
            &["run", "f.yaml", "--storage", "st"],
            &[("RUNNER_JQ_TIMEOUT", "2"), ("RUNNER_JQ_MAX_OUTPUT_MB", "1")],
        );
        o.ended_cleanly(20);
        assert_eq!(o.code(), 1, "{filter}: {}", o.err());
        assert!(
            message.split('|').any(|m| o.err().contains(m)),
            "{filter}: {}",
            o.err()
        );
        assert_eq!(record(&s)["taskRunList"][0]["state"]["current"], "FAILED");
    }
}

#[test]
fn busy_expressions_run_out_of_fuel_and_output_is_capped() {
    let s = Sandbox::new();
    s.write(
        "loop.yaml",
        &log("{% for i in range(1, 100000) %}{% for j in range(1, 100000) %}{% endfor %}{% endfor %}"),
    );
    let o = hostile(
        &s,
        &["run", "loop.yaml", "--storage", "st"],
        &[("RUNNER_RENDER_FUEL", "1000000")],
    );
    o.ended_cleanly(10);
    assert_eq!(o.code(), 1);
    assert!(
        o.err().contains(
            "the expression was stopped after 1000000 steps (RUNNER_RENDER_FUEL raises the limit)"
        ),
        "{}",
        o.err()
    );
    s.write(
        "big.yaml",
        &log(
            "{% for i in range(1, 20000) %}{% for j in range(1, 10000) %}x{% endfor %}{% endfor %}",
        ),
    );
    let o = hostile(
        &s,
        &["run", "big.yaml", "--storage", "st"],
        &[
            ("RUNNER_RENDER_FUEL", "100000000000"),
            ("RUNNER_MAX_RENDER_MB", "1"),
        ],
    );
    o.ended_cleanly(30);
    assert!(
        o.err().contains(
            "the expression produced more than 1 MiB (RUNNER_MAX_RENDER_MB raises the limit)"
        ),
        "{}",
        o.err()
    );
    s.write("indent.yaml", &log("{{ 'x' | indent(1000000000) }}"));
    let o = hostile(&s, &["run", "indent.yaml", "--storage", "st"], &[]);
    o.ended_cleanly(10);
    assert!(
        o.err().contains("would exceed the 64 MiB render limit"),
        "{}",
        o.err()
    );
}

#[test]
fn a_task_timeout_ends_a_busy_render() {
    let s = Sandbox::new();
    s.write(
        "slow.yaml",
        &one_task(
            "    type: io.kestra.plugin.core.log.Log\n    timeout: PT0.5S\n    message: \"{% for i in range(1, 100000) %}{% for j in range(1, 100000) %}{% endfor %}{% endfor %}\"\n",
        ),
    );
    // One render is not interrupted: its fuel bounds how late the timeout is noticed.
    let o = hostile(
        &s,
        &["run", "slow.yaml", "--storage", "st"],
        &[("RUNNER_RENDER_FUEL", "5000000")],
    );
    o.ended_cleanly(20);
    assert_eq!(o.code(), 1);
    assert_eq!(record(&s)["taskRunList"][0]["state"]["current"], "FAILED");
}

#[cfg(unix)]
#[test]
fn every_ending_signal_kills_the_execution_and_writes_the_record() {
    use std::io::BufRead;
    let slow_render = "    type: io.kestra.plugin.core.log.Log\n    message: \"{% for i in range(1, 100000) %}{% for j in range(1, 100000) %}{% endfor %}{% endfor %}\"\n";
    let sleep = "    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT60S\n";
    for (signal, task) in [
        ("TERM", slow_render),
        ("TERM", sleep),
        ("HUP", sleep),
        ("QUIT", sleep),
        ("INT", slow_render),
    ] {
        let s = Sandbox::new();
        s.write(
            "f.yaml",
            &format!(
                "{}  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: never\n",
                one_task(task)
            ),
        );
        let start = Instant::now();
        let mut child = s
            .cmd(&["run", "f.yaml", "--storage", "st"])
            .env("RUNNER_RENDER_FUEL", "20000000")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        // The run has started once the execution is RUNNING: its record exists in memory and
        // the first task is on its way.
        let mut first = String::new();
        if task == sleep {
            while !first.contains("Waiting for") {
                first.clear();
                assert!(stderr.read_line(&mut first).unwrap() > 0);
            }
        } else {
            // The render starts at once; give it a moment in which it is surely busy.
            std::thread::sleep(Duration::from_millis(300));
        }
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
        let code = child.wait().unwrap().code();
        assert_eq!(code, Some(1), "SIG{signal}: {rest}");
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "SIG{signal} took {:?}",
            start.elapsed()
        );
        assert!(
            rest.contains(&format!(
                "Interrupted (SIG{signal}): the execution was killed"
            )),
            "SIG{signal}: {rest}"
        );
        let r = record(&s);
        assert_eq!(r["state"]["current"], "KILLED", "SIG{signal}");
        assert!(
            r["taskRunList"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["taskId"] != "after")
        );
    }
}

#[test]
fn yaml_bombs_and_deep_nesting_are_refused_quickly() {
    let s = Sandbox::new();
    let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x]\n");
    for i in 1..9u8 {
        let (name, prev) = ((b'a' + i) as char, (b'a' + i - 1) as char);
        bomb.push_str(&format!(
            "{name}: &{name} [{}]\n",
            vec![format!("*{prev}"); 9].join(",")
        ));
    }
    let flow = format!(
        "{bomb}id: p\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    );
    s.write("bomb.yaml", &flow);
    let o = hostile(&s, &["validate", "bomb.yaml"], &[]);
    o.ended_cleanly(5);
    assert_eq!(o.code(), 1);
    assert!(
        o.err().contains("aliases copy more than 100000 values"),
        "{}",
        o.err()
    );
    // The same document as inputs, and through yaml().
    s.write(
        "hello.yaml",
        &log("hi {{ inputs.x ?? '' }}").replace(
            "tasks:",
            "inputs:\n  - id: x\n    type: STRING\n    required: false\ntasks:",
        ),
    );
    s.write("inputs.yaml", &bomb);
    let o = hostile(
        &s,
        &[
            "run",
            "hello.yaml",
            "--inputs-file",
            "inputs.yaml",
            "--storage",
            "st",
        ],
        &[],
    );
    o.ended_cleanly(5);
    assert_eq!(o.code(), 2);
    assert!(o.err().contains("aliases copy more than"), "{}", o.err());
    let deep = format!(
        "id: p\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: {}x{}\n",
        "[".repeat(20000),
        "]".repeat(20000)
    );
    s.write("deep.yaml", &deep);
    let o = hostile(&s, &["validate", "deep.yaml"], &[]);
    o.ended_cleanly(5);
    assert_eq!(o.code(), 1);
    // The YAML parser's own limit comes first for flow style; block style reaches ours.
    assert!(
        o.err().contains("invalid YAML: recursion limit exceeded"),
        "{}",
        o.err()
    );
    let mut block = String::from("id: p\nnamespace: n\nvariables:\n");
    for level in 0..300 {
        block.push_str(&format!("{}k:\n", "  ".repeat(level + 1)));
    }
    block.push_str("tasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n");
    s.write("block.yaml", &block);
    let o = hostile(&s, &["validate", "block.yaml"], &[]);
    o.ended_cleanly(5);
    assert!(
        o.err()
            .contains("lists and maps nest more than 256 levels deep"),
        "{}",
        o.err()
    );
}

#[test]
fn deep_or_long_expressions_are_refused_before_they_are_parsed() {
    let s = Sandbox::new();
    let cases = [
        (
            format!("{{{{ {}1{} }}}}", "(".repeat(10000), ")".repeat(10000)),
            "the expression nests brackets more than 64 levels deep",
        ),
        (
            format!("{{{{ 1{} }}}}", " + 1".repeat(20000)),
            "the expression chains more than 1000 operators",
        ),
        (
            format!("{{{{ x{} }}}}", " | upper".repeat(5000)),
            "the expression chains more than 1000 operators",
        ),
        (
            // The rewrite of `??` stays linear: 20 levels render (and say what is missing).
            format!("{{{{ a{}{} }}}}", " ?? (b".repeat(20), ")".repeat(20)),
            "Unable to find",
        ),
        (
            format!("{{{{ a{}{} }}}}", " ?? (b".repeat(60), ")".repeat(60)),
            "template exceeds maximum recursion limits",
        ),
        (
            "{{ now() | dateAdd(9223372036854775807, 'DAYS') }}".to_string(),
            "dateAdd: 9223372036854775807 DAYS is out of the range of dates",
        ),
        (
            format!("{{{{ now() | date('{}') }}}}", "y".repeat(50000)),
            "Too many pattern letters: y repeated 50000 times (at most 19)",
        ),
        (
            format!(
                "{{{{ fromJson('{}1{}') }}}}",
                "[".repeat(50000),
                "]".repeat(50000)
            ),
            "recursion limit exceeded",
        ),
        (
            format!(
                "{{{{ fromIon('{}1{}') }}}}",
                "[".repeat(50000),
                "]".repeat(50000)
            ),
            "nest more than 256 levels deep",
        ),
        ("{{ é }}".to_string(), "syntax error"),
        (
            // A loop cannot feed a value into itself (Pebble has no namespace()).
            "{% set ns = namespace(x=[]) %}{% for i in range(1, 100000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}".to_string(),
            "Unable to find `namespace`",
        ),
        (
            format!("{{% set x = 1 %}}{}{{{{ x }}}}", "{% set x = [x] %}".repeat(5000)),
            "the template holds more than 1000 expressions and statements",
        ),
    ];
    for (template, message) in cases {
        let o = hostile(&s, &["eval", &template], &[]);
        o.ended_cleanly(10);
        assert_eq!(o.code(), 1, "{}", &template[..template.len().min(60)]);
        assert!(o.err().contains(message), "{message}: {}", o.err());
        assert!(o.err().len() < 4000, "the message is not the whole input");
    }
    s.write("vars.json", r#"{"x": "{{ render(x) }}"}"#);
    let o = hostile(&s, &["eval", "--vars", "vars.json", "{{ render(x) }}"], &[]);
    o.ended_cleanly(10);
    assert!(
        o.err().contains("Too many rendering attempts"),
        "{}",
        o.err()
    );
}

#[test]
fn deep_ion_files_fail_the_serdes_tasks() {
    let s = Sandbox::new();
    s.write(
        "deep.ion",
        &format!("{}1{}\n", "[".repeat(30000), "]".repeat(30000)),
    );
    for task in [
        "io.kestra.plugin.serdes.json.IonToJson",
        "io.kestra.plugin.serdes.csv.IonToCsv",
    ] {
        s.write(
            "f.yaml",
            &format!("id: p\nnamespace: n\ninputs:\n  - id: f\n    type: FILE\ntasks:\n  - id: t\n    type: {task}\n    from: \"{{{{ inputs.f }}}}\"\n"),
        );
        let o = hostile(
            &s,
            &["run", "f.yaml", "-i", "f=deep.ion", "--storage", "st"],
            &[],
        );
        o.ended_cleanly(10);
        assert_eq!(o.code(), 1, "{task}: {}", o.err());
        assert!(
            o.err().contains("nest more than 256 levels deep"),
            "{task}: {}",
            o.err()
        );
    }
}

#[cfg(unix)]
#[test]
fn closed_and_full_outputs_do_not_crash() {
    let s = Sandbox::new();
    s.write("hello.yaml", &log("hello"));
    let bin = env!("CARGO_BIN_EXE_runner");
    let out = std::process::Command::new("bash")
        .current_dir(&s.dir)
        .args([
            "-c",
            &format!("{bin} run hello.yaml --storage st 2>&1 | head -c 10 > /dev/null; echo ${{PIPESTATUS[0]}}"),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "0",
        "a closed pipe ends quietly"
    );
    assert_eq!(record(&s)["state"]["current"], "SUCCESS");
    let o = hostile(
        &s,
        &["run", "hello.yaml", "--storage", "st2", "--json"],
        &[],
    );
    assert_eq!(o.code(), 0);
    let full = std::process::Command::new("bash")
        .current_dir(&s.dir)
        .args([
            "-c",
            &format!("{bin} run hello.yaml --storage st --json > /dev/full"),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&full.stderr);
    assert_eq!(full.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot print the record"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn one_character_secrets_do_not_corrupt_output_and_are_announced() {
    let s = Sandbox::new();
    s.write("hello.yaml", &log("hello {{ 1 + 1 }}"));
    for short in ["S", "1", "{", "\"", ":"] {
        let o = hostile(
            &s,
            &["run", "hello.yaml", "--storage", "st", "--json"],
            &[("SECRET_SHORT", &b64(short))],
        );
        assert_eq!(o.code(), 0, "{short}: {}", o.err());
        let record: Json =
            serde_json::from_str(&o.out()).unwrap_or_else(|e| panic!("{short}: {e}"));
        assert_eq!(record["state"]["current"], "SUCCESS");
        assert!(o.err().contains("hello 2"), "{}", o.err());
        assert!(o.err().contains("SUCCESS"), "{}", o.err());
        assert!(
            o.err()
                .contains("SECRET_SHORT holds fewer than 4 characters: it is not masked"),
            "{}",
            o.err()
        );
    }
}

#[test]
fn the_summary_does_not_reveal_a_secret_length() {
    let s = Sandbox::new();
    s.write(
        "each.yaml",
        &one_task("    type: io.kestra.plugin.core.flow.ForEach\n    values: \"{{ [secret('pw')] }}\"\n    tasks:\n      - id: inner\n        type: io.kestra.plugin.core.log.Log\n        message: x\n"),
    );
    let table = |secret: &str| {
        let o = hostile(
            &s,
            &["run", "each.yaml", "--storage", "st"],
            &[("SECRET_PW", &b64(secret))],
        );
        assert_eq!(o.code(), 0, "{}", o.err());
        assert!(!o.err().contains(secret));
        o.err()
            .lines()
            .skip_while(|l| !l.starts_with("TASK"))
            .take_while(|l| !l.starts_with("Execution"))
            // Each row's label and where its columns start: nothing depends on the secret.
            .map(|l| {
                let label = l.split("  ").next().unwrap_or_default().to_string();
                format!("{label}:{:?}:{:?}", l.find("SUCCESS"), l.find("DURATION"))
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(table("short-pw"), table("a-much-longer-secret-value-here"));
}

#[test]
fn error_messages_do_not_quote_pieces_of_a_secret() {
    let s = Sandbox::new();
    let secret = "hunter alpha bravo";
    for message in [
        "{{ [1] | jq(secret('pw')) }}",
        "{{ render('{% ' ~ secret('pw') ~ ' %}') }}",
        "{{ render('{{ ' ~ secret('pw') ~ ' }}') }}",
    ] {
        s.write("f.yaml", &log(message));
        let o = hostile(
            &s,
            &["run", "f.yaml", "--storage", "st"],
            &[("SECRET_PW", &b64(secret))],
        );
        o.ended_cleanly(10);
        assert_eq!(o.code(), 1, "{message}: {}", o.err());
        let mut all = o.out() + &o.err();
        for f in walk(&s.dir.join("st")) {
            all.push_str(&String::from_utf8_lossy(&std::fs::read(f).unwrap()));
        }
        for word in ["hunter", "alpha", "bravo"] {
            assert!(!all.contains(word), "{message} shows `{word}`:\n{all}");
        }
    }
}

#[test]
fn bad_inputs_and_files_are_command_line_errors() {
    let s = Sandbox::new();
    s.write(
        "f.yaml",
        "id: p\nnamespace: n\ninputs:\n  - id: f\n    type: FILE\n    required: false\n  - id: x\n    type: FLOAT\n    required: false\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
    );
    let o = hostile(
        &s,
        &["run", "f.yaml", "-i", "f=/dev/zero", "--storage", "st"],
        &[],
    );
    o.ended_cleanly(5);
    assert_eq!(o.code(), 2, "{}", o.err());
    assert!(o.err().contains("not a regular file"), "{}", o.err());
    assert!(
        walk(&s.dir.join("st"))
            .iter()
            .all(|p| !p.to_string_lossy().contains("/inputs/")),
        "no partial copy"
    );
    for bad in ["NaN", "inf", "-inf", "1e999"] {
        let o = hostile(
            &s,
            &[
                "run",
                "f.yaml",
                "-i",
                &format!("x={bad}"),
                "--storage",
                "st",
            ],
            &[],
        );
        assert_eq!(o.code(), 2, "{bad}: {}", o.err());
        assert!(
            o.err().contains("not a finite number"),
            "{bad}: {}",
            o.err()
        );
    }
    s.write("not-a-dir", "a file where the storage should go");
    let o = hostile(&s, &["run", "f.yaml", "--storage", "not-a-dir/st"], &[]);
    assert_eq!(o.code(), 2, "{}", o.err());
    assert!(o.err().contains("cannot be written"), "{}", o.err());
    assert!(!o.err().contains("[t]"), "nothing ran: {}", o.err());
    for args in [
        vec!["validate", "missing.yaml"],
        vec!["eval", "--vars", "missing.json", "{{ 1 }}"],
        vec!["run", "f.yaml", "--inputs-file", "/dev/zero"],
        vec!["run", "f.yaml", "--env-file", "/dev/zero"],
        vec!["validate", "/dev/zero"],
    ] {
        let o = hostile(&s, &args, &[]);
        o.ended_cleanly(5);
        assert_eq!(o.code(), 2, "{args:?}: {}", o.err());
    }
    s.write(
        "big.json",
        &format!("{{\"k\": \"{}\"}}", "x".repeat(2 * 1024 * 1024)),
    );
    let o = hostile(
        &s,
        &["eval", "--vars", "big.json", "{{ 1 }}"],
        &[("RUNNER_MAX_FILE_MB", "1")],
    );
    assert_eq!(o.code(), 2);
    assert!(
        o.err()
            .contains("is larger than 1 MiB: RUNNER_MAX_FILE_MB raises the limit"),
        "{}",
        o.err()
    );
}

#[cfg(unix)]
#[test]
fn validate_stays_inside_the_folder_it_was_given() {
    let s = Sandbox::new();
    s.write(
        "outside/secret-flow.yaml",
        "id: outside\nnamespace: n\ntasks: []\n",
    );
    s.write("flows/ok.yaml", &log("hi"));
    std::os::unix::fs::symlink(
        s.dir.join("outside/secret-flow.yaml"),
        s.dir.join("flows/link.yaml"),
    )
    .unwrap();
    std::os::unix::fs::symlink(s.dir.join("outside"), s.dir.join("flows/dir-link")).unwrap();
    std::os::unix::fs::symlink(
        s.dir.join("flows/ok.yaml"),
        s.dir.join("flows/inside-link.yaml"),
    )
    .unwrap();
    let o = hostile(&s, &["validate", "flows"], &[]);
    assert_eq!(o.code(), 0, "{}", o.err());
    assert_eq!(o.out(), "✓ company.team.hostile\n✓ company.team.hostile\n");
}

#[test]
fn long_lines_are_cut_around_the_error() {
    let s = Sandbox::new();
    let flow = format!(
        "id: p\nnamespace: n\ntasks:\n  - {{id: t, type: io.kestra.plugin.core.log.Log, message: \"{}\", mesage: x}}\n",
        "a".repeat(20000)
    );
    s.write("long.yaml", &flow);
    let o = hostile(&s, &["validate", "long.yaml"], &[]);
    assert_eq!(o.code(), 1);
    assert!(
        o.err().contains("Unrecognized field \"mesage\""),
        "{}",
        o.err()
    );
    assert!(
        o.err().lines().all(|l| l.chars().count() < 400),
        "{}",
        o.err()
    );
    assert!(o.err().contains("…"), "{}", o.err());
}
