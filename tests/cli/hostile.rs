//! A flow is code from strangers: each class of hostile or careless input gets a clear error,
//! the right exit code, in bounded time and memory, with no panic and no secret in any output.
//! Every run here is measured by GNU time (the peak memory of runner and its jq sandbox) under
//! a 60-second `timeout`, so a regression shows as a failure, not a hung CI.

use crate::support;

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
        // `ready` marks the moment the run is under way: the task after it starts at once.
        s.write(
            "f.yaml",
            &format!(
                "id: hostile\nnamespace: company.team\ntasks:\n  - id: ready\n    type: io.kestra.plugin.core.log.Log\n    message: ready\n  - id: t\n{task}  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: never\n"
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
        let started = if task == sleep {
            "Waiting for"
        } else {
            "[ready] ready"
        };
        while !first.contains(started) {
            first.clear();
            assert!(stderr.read_line(&mut first).unwrap() > 0);
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
    // A secret without spaces that the parser stops halfway through: `Zq9vHalf` would be read
    // as a statement or variable name, a piece masking does not know.
    let half = "Zq9vHalf-7Kp2Rx";
    for message in [
        "{{ [1] | jq(secret('pw')) }}",
        "{{ render('{% ' ~ secret('pw') ~ ' %}') }}",
        "{{ render('{{ ' ~ secret('pw') ~ ' }}') }}",
        "{{ render('{% ' ~ secret('half') ~ ' %}') }}",
        "{{ render('{{ ' ~ secret('half') ~ ' }}') }}",
    ] {
        s.write("f.yaml", &log(message));
        let o = hostile(
            &s,
            &["run", "f.yaml", "--storage", "st"],
            &[("SECRET_PW", &b64(secret)), ("SECRET_HALF", &b64(half))],
        );
        o.ended_cleanly(10);
        assert_eq!(o.code(), 1, "{message}: {}", o.err());
        let mut all = o.out() + &o.err();
        for f in walk(&s.dir.join("st")) {
            all.push_str(&String::from_utf8_lossy(&std::fs::read(f).unwrap()));
        }
        for word in ["hunter", "alpha", "bravo", "Zq9v", "7Kp2"] {
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

/// `--allow-link-local` reaches every task that speaks HTTP (Request, Download, the webhook
/// notifications and `http()`), through the command line: without it each is refused as a
/// link-local address, with it none is (the connection is attempted).
#[test]
fn allow_link_local_reaches_every_http_task() {
    let s = Sandbox::new();
    let flow = r#"id: metadata
namespace: company.team
tasks:
  - id: request
    type: io.kestra.plugin.core.http.Request
    uri: http://169.254.169.254/latest/meta-data/
    allowFailure: true
    options:
      timeout:
        connectTimeout: PT0.3S
  - id: download
    type: io.kestra.plugin.core.http.Download
    uri: http://169.254.169.254/latest/meta-data/
    allowFailure: true
    options:
      timeout:
        connectTimeout: PT0.3S
  - id: slack
    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: http://169.254.169.254/latest/meta-data/
    payload: '{"text": "hi"}'
    allowFailure: true
    options:
      connectTimeout: PT0.3S
  - id: function
    type: io.kestra.plugin.core.log.Log
    allowFailure: true
    message: "{{ http(uri='http://169.254.169.254/latest/meta-data/', options={'timeout': {'connectTimeout': 'PT0.3S'}}) }}"
"#;
    s.write("metadata.yaml", flow);
    let refused = s.run(&["run", "metadata.yaml", "--task-runner", "process"]);
    let text = refused.stderr();
    for task in ["request", "download", "slack", "function"] {
        let line = text
            .lines()
            .find(|l| l.contains(&format!("[{task}]")) && l.contains("ERROR"))
            .unwrap_or_else(|| panic!("no error for {task}: {text}"));
        assert!(line.contains("link-local"), "{task}: {line}");
    }
    let allowed = s.run(&[
        "run",
        "metadata.yaml",
        "--task-runner",
        "process",
        "--allow-link-local",
    ]);
    let text = allowed.stderr();
    assert!(!text.contains("link-local"), "{text}");
    for task in ["request", "download", "slack"] {
        assert!(text.contains(&format!("[{task}]")), "{task} ran: {text}");
    }
}

/// Files under `dir` (a run's storage) holding `needle`.
fn files_holding(dir: &std::path::Path, needle: &str) -> Vec<String> {
    walk(dir)
        .into_iter()
        .filter(|f| {
            std::fs::read(f).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        })
        .map(|f| f.display().to_string())
        .collect()
}

/// A script on the Process runner sees none of runner's credentials: not in its environment,
/// not in runner's `/proc/<pid>/environ` (even as root, who can read any process's), and runner's
/// `/proc/<pid>/cmdline` does not name the env file. What the script saw is kept in a file of
/// storage, which nothing masks.
#[cfg(target_os = "linux")]
#[test]
fn scripts_cannot_read_runners_credentials() {
    let s = Sandbox::new();
    let db_password = "hunter2-db-password-7f3a";
    s.write(".env_encoded", &format!("SECRET_DB={}\n", b64(db_password)));
    s.write(
        "f.yaml",
        r#"id: creds
namespace: company.team
tasks:
  - id: look
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    outputFiles: [seen.txt]
    commands:
      - echo "aws=[$AWS_SECRET_ACCESS_KEY] age=[$RUNNER_AGE_IDENTITY] env=[$ENV_TOKEN] secret=[$SECRET_DB] other=[$SECRET_OTHER]" > seen.txt
      - env >> seen.txt
      - cat /proc/$PPID/environ >> seen.txt 2>&1 || echo "environ unreadable" >> seen.txt
      - echo >> seen.txt
      - tr '\0' ' ' < /proc/$PPID/cmdline >> seen.txt 2>&1 || echo "cmdline unreadable" >> seen.txt
"#,
    );
    let aws = "aws-secret-value-12345678";
    let age = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ";
    let env_token = "env-token-value-2468";
    let other = "other-secret-value-1357";
    let out = s
        .cmd(&[
            "run",
            "f.yaml",
            "--env-file",
            ".env_encoded",
            "--task-runner",
            "process",
        ])
        .env("AWS_SECRET_ACCESS_KEY", aws)
        .env("RUNNER_AGE_IDENTITY", age)
        .env("ENV_TOKEN", env_token)
        .env("SECRET_OTHER", b64(other))
        .output()
        .unwrap();
    let done = Done(out);
    assert_eq!(done.code(), 0, "{}", done.stderr());
    let storage = s.dir.join(".runner/storage");
    let seen = walk(&storage)
        .into_iter()
        .find(|f| f.to_string_lossy().ends_with("seen.txt"))
        .expect("the script's file is in storage");
    let text = std::fs::read_to_string(&seen).unwrap();
    assert!(
        text.contains("aws=[] age=[] env=[] secret=[] other=[]"),
        "{text}"
    );
    // runner's command line names no env file: it was replaced before the script started.
    assert!(text.contains("--env-file sealed:0"), "{text}");
    for value in [aws, age, env_token, other, db_password, ".env_encoded"] {
        assert!(!text.contains(value), "the script saw `{value}`: {text}");
    }
    for value in [aws, age, env_token, other, db_password] {
        let found = files_holding(&s.dir, value);
        assert!(found.is_empty(), "`{value}` is in {found:?}");
        assert!(!done.stderr().contains(value) && !done.stdout().contains(value));
    }
}

/// Processes a script leaves (a `setsid` daemon, a background job holding the output open) go
/// with their task: the run ends as soon as the script does, SUCCESS, and no process is left.
#[cfg(target_os = "linux")]
#[test]
fn processes_do_not_outlive_their_task() {
    let s = Sandbox::new();
    s.write(
        "f.yaml",
        r#"id: orphans
namespace: company.team
tasks:
  - id: daemon
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    timeout: PT20S
    commands:
      - setsid sleep 987 >/dev/null 2>&1 &
      - setsid sleep 988 &
      - (sleep 989 &) &
      - echo started
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: done
"#,
    );
    let started = Instant::now();
    let done = s.run(&["run", "f.yaml", "--task-runner", "process"]);
    assert_eq!(done.code(), 0, "{}", done.stderr());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the run waited for the orphans: {:?}",
        started.elapsed()
    );
    assert!(done.stderr().contains("[after] done"), "{}", done.stderr());
    for marker in ["sleep 987", "sleep 988", "sleep 989"] {
        let left = processes_running(marker);
        assert!(left.is_empty(), "`{marker}` outlived its task: {left:?}");
    }
}

/// The live processes (not zombies) whose command line is `cmdline`.
fn processes_running(cmdline: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let line = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let line = String::from_utf8_lossy(&line).replace('\0', " ");
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z'));
        if !zombie && line.trim() == cmdline {
            found.push(pid);
        }
    }
    found
}

/// A long secret piped through `base64` (76 columns) or `openssl base64` (64) prints several
/// lines, each of which is masked.
#[cfg(target_os = "linux")]
#[test]
fn wrapped_base64_of_a_secret_is_masked() {
    let s = Sandbox::new();
    let secret: String = (0..228)
        .map(|i| (b'A' + (i * 11 % 26) as u8) as char)
        .collect();
    s.write(".env_encoded", &format!("SECRET_LONG={}\n", b64(&secret)));
    s.write(
        "f.yaml",
        r#"id: wrapped
namespace: company.team
tasks:
  - id: b64
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    env:
      LONG: "{{ secret('LONG') }}"
    commands:
      - echo "$LONG" | base64
      - printf '%s' "$LONG" | base64 -w 64
"#,
    );
    let done = s.run(&[
        "run",
        "f.yaml",
        "--env-file",
        ".env_encoded",
        "--task-runner",
        "process",
    ]);
    assert_eq!(done.code(), 0, "{}", done.stderr());
    let text = done.stderr();
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(&secret);
    for width in [64, 76] {
        for chunk in encoded.as_bytes().chunks(width) {
            let line = std::str::from_utf8(chunk).unwrap();
            assert!(
                !text.contains(&line[..line.len().min(60)]),
                "`{line}` is shown:\n{text}"
            );
        }
    }
    assert!(text.matches("******").count() >= 8, "{text}");
}

/// `nsfile://` does not follow a link out of the namespace folder, to a file or through a
/// linked folder.
#[cfg(unix)]
#[test]
fn nsfile_does_not_follow_links_out_of_the_namespace() {
    let s = Sandbox::new();
    s.write("outside/secret.txt", "outside-content-9137");
    s.write("_files/inside.txt", "inside-content");
    std::os::unix::fs::symlink(
        s.dir.join("outside/secret.txt"),
        s.dir.join("_files/leak.txt"),
    )
    .unwrap();
    std::os::unix::fs::symlink(s.dir.join("outside"), s.dir.join("_files/linked")).unwrap();
    for target in ["leak.txt", "linked/secret.txt"] {
        s.write(
            "f.yaml",
            &format!(
                "id: ns\nnamespace: company.team\ntasks:\n  - id: copy\n    type: io.kestra.plugin.scripts.shell.Commands\n    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n    inputFiles:\n      got.txt: nsfile:///{target}\n      ok.txt: nsfile:///inside.txt\n    commands:\n      - cat got.txt\n"
            ),
        );
        let done = s.run(&["run", "f.yaml", "--task-runner", "process"]);
        assert_eq!(done.code(), 1, "{target}: {}", done.stderr());
        let text = done.stderr();
        assert!(!text.contains("outside-content-9137"), "{text}");
        assert!(text.contains("is a symbolic link"), "{target}: {text}");
    }
}

/// A FIFO given where runner reads a file is refused at once, not waited on.
#[cfg(unix)]
#[test]
fn fifos_are_refused_not_waited_on() {
    let s = Sandbox::new();
    let fifo = s.dir.join("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    s.write("f.yaml", &log("hi"));
    let fifo = fifo.to_str().unwrap();
    for args in [
        vec!["run", "f.yaml", "--env-file", fifo],
        vec!["run", "f.yaml", "--inputs-file", fifo],
        vec!["run", fifo],
        vec!["validate", fifo],
    ] {
        let o = hostile(&s, &args, &[]);
        o.ended_cleanly(5);
        assert_eq!(o.code(), 2, "{args:?}: {}", o.err());
        assert!(
            o.err().contains("is not a regular file"),
            "{args:?}: {}",
            o.err()
        );
    }
}

/// `secrets encode --force` replaces a link at its output; it never writes through it into the
/// file the link names.
#[cfg(unix)]
#[test]
fn secrets_encode_does_not_write_through_a_link() {
    let s = Sandbox::new();
    s.write(".env", "PASSWORD=hunter2-value\n");
    let victim = s.write("victim.txt", "keep me");
    std::os::unix::fs::symlink(&victim, s.dir.join(".env_encoded")).unwrap();
    let done = s.run(&["secrets", "encode", ".env", "-o", ".env_encoded", "--force"]);
    assert_eq!(done.code(), 0, "{}", done.stderr());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    let out = s.dir.join(".env_encoded");
    assert!(
        !std::fs::symlink_metadata(&out)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("\nSECRET_PASSWORD=")
    );
}

/// A BOOLEAN input takes true or false; `yes`, `1` or nothing is an error, not a silent false.
#[test]
fn boolean_inputs_take_true_or_false_only() {
    let s = Sandbox::new();
    s.write(
        "f.yaml",
        "id: b\nnamespace: company.team\ninputs:\n  - id: flag\n    type: BOOLEAN\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: \"flag={{ inputs.flag }}\"\n",
    );
    for ok in ["true", "TRUE", "false", " False "] {
        let done = s.run(&["run", "f.yaml", "-i", &format!("flag={ok}")]);
        assert_eq!(done.code(), 0, "{ok}: {}", done.stderr());
        let expected = ok.trim().to_ascii_lowercase();
        assert!(
            done.stderr().contains(&format!("flag={expected}")),
            "{ok}: {}",
            done.stderr()
        );
    }
    for bad in ["yes", "1", ""] {
        let done = s.run(&["run", "f.yaml", "-i", &format!("flag={bad}")]);
        assert_eq!(done.code(), 2, "`{bad}`: {}", done.stderr());
        assert!(
            done.stderr().contains("BOOLEAN"),
            "`{bad}`: {}",
            done.stderr()
        );
    }
}

/// outputFiles that name a link or a place outside the working directory are not kept, and
/// the task says so, naming each.
#[cfg(unix)]
#[test]
fn output_files_that_are_not_kept_are_named() {
    let s = Sandbox::new();
    s.write(
        "f.yaml",
        r#"id: outs
namespace: company.team
tasks:
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    outputFiles: ["*.txt", "../escape.txt", "/etc/passwd"]
    commands:
      - echo kept > kept.txt
      - ln -s /etc/passwd link.txt
"#,
    );
    let done = s.run(&["run", "f.yaml", "--task-runner", "process", "--json"]);
    assert_eq!(done.code(), 0, "{}", done.stderr());
    let record: Json = serde_json::from_str(&done.stdout()).unwrap();
    let files = record["taskRunList"][0]["outputs"]["outputFiles"]
        .as_object()
        .unwrap();
    assert_eq!(files.keys().collect::<Vec<_>>(), ["kept.txt"]);
    let err = done.stderr();
    assert!(
        err.contains("`link.txt` is a symbolic link: it is not kept"),
        "{err}"
    );
    assert!(
        err.contains("`../escape.txt` is outside the working directory"),
        "{err}"
    );
    assert!(
        err.contains("`/etc/passwd` is outside the working directory"),
        "{err}"
    );
}

/// What runner decided for secrets at rest (docs/secrets.md): a file a task writes is stored as
/// written, secret included, as Kestra stores it; the record and the logs mask it.
#[test]
fn files_tasks_write_are_stored_as_written_records_are_masked() {
    let s = Sandbox::new();
    let secret = "at-rest-secret-5521";
    s.write(".env_encoded", &format!("SECRET_X={}\n", b64(secret)));
    s.write(
        "f.yaml",
        "id: rest\nnamespace: company.team\ntasks:\n  - id: w\n    type: io.kestra.plugin.core.storage.Write\n    content: \"{{ secret('X') }}\"\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ secret('X') }} {{ read(outputs.w.uri) }}\"\n",
    );
    let done = s.run(&["run", "f.yaml", "--env-file", ".env_encoded", "--json"]);
    assert_eq!(done.code(), 0, "{}", done.stderr());
    assert!(!done.stderr().contains(secret) && !done.stdout().contains(secret));
    let holding = files_holding(&s.dir.join(".runner"), secret);
    assert_eq!(holding.len(), 1, "{holding:?}");
    assert!(holding[0].contains("/tasks/w/"), "{holding:?}");
}

/// A server that accepts connections and never answers; it lives as long as the listener.
fn silent_server() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/slow", listener.local_addr().unwrap());
    (listener, url)
}

/// `http()` inside a render is bounded by the task's timeout and by a kill, like any task.
#[cfg(unix)]
#[test]
fn http_in_a_render_honours_timeout_and_interrupt() {
    use std::io::BufRead;
    let (_listener, url) = silent_server();
    let s = Sandbox::new();
    s.write(
        "f.yaml",
        &format!(
            "id: h\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    timeout: PT2S\n    message: \"{{{{ http(uri='{url}') }}}}\"\n"
        ),
    );
    let started = Instant::now();
    let done = s.run(&["run", "f.yaml"]);
    assert_eq!(done.code(), 1, "{}", done.stderr());
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert!(done.stderr().contains("timeout"), "{}", done.stderr());

    // Without a timeout, Ctrl-C ends it at once.
    s.write(
        "g.yaml",
        &format!(
            "id: g\nnamespace: company.team\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.log.Log\n    message: calling\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{{{ http(uri='{url}') }}}}\"\n"
        ),
    );
    let mut child = s
        .cmd(&["run", "g.yaml"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("[first] calling") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0);
    }
    let interrupted = Instant::now();
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(1), "{rest}");
    assert!(
        interrupted.elapsed() < Duration::from_secs(3),
        "Ctrl-C took {:?}: {rest}",
        interrupted.elapsed()
    );
}

/// The metadata address in its IPv6 wrappings is refused like the plain one, by Request and by
/// `http()`.
#[test]
fn wrapped_metadata_addresses_are_refused() {
    let s = Sandbox::new();
    for host in [
        "[::ffff:169.254.169.254]",
        "[::ffff:a9fe:a9fe]",
        "[64:ff9b::169.254.169.254]",
        "[fd00:ec2::254]",
        "2852039166",
        "0xa9.0xfe.0xa9.0xfe",
    ] {
        s.write(
            "f.yaml",
            &format!(
                "id: m\nnamespace: company.team\ntasks:\n  - id: r\n    type: io.kestra.plugin.core.http.Request\n    uri: http://{host}/latest/meta-data/\n    allowFailure: true\n  - id: f\n    type: io.kestra.plugin.core.log.Log\n    allowFailure: true\n    message: \"{{{{ http(uri='http://{host}/latest/meta-data/') }}}}\"\n"
            ),
        );
        let done = s.run(&["run", "f.yaml"]);
        let text = done.stderr();
        for task in ["[r]", "[f]"] {
            let line = text
                .lines()
                .find(|l| l.contains(task) && l.contains("ERROR"))
                .unwrap_or_else(|| panic!("{host}: no error for {task}: {text}"));
            assert!(line.contains("link-local"), "{host} {task}: {line}");
        }
    }
}

/// A ForEach of subflows whose rendered flowId calls the flow itself multiplies executions at
/// each level: the run stops at its most executions, with a message, in seconds.
#[test]
fn self_calling_subflows_are_bounded() {
    let s = Sandbox::new();
    s.write(
        "fan.yaml",
        "id: fan\nnamespace: company.team\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: \"{{ range(1, 30) }}\"\n    tasks:\n      - id: call\n        type: io.kestra.plugin.core.flow.Subflow\n        namespace: company.team\n        flowId: \"{{ 'fa' ~ 'n' }}\"\n        wait: false\n",
    );
    let started = Instant::now();
    let o = hostile(
        &s,
        &["run", "fan.yaml", "--storage", "st"],
        &[("RUNNER_MAX_EXECUTIONS", "200")],
    );
    o.ended_cleanly(60);
    // The subflows are not waited for: the top flow's own tasks succeed; the calls past the
    // bound fail, in the executions that made them, and say why.
    assert!(
        o.err()
            .contains("This run has started 200 executions, subflows included"),
        "{}",
        &o.err()[..o.err().len().min(4000)]
    );
    let executions = walk(&s.dir.join("st"))
        .into_iter()
        .filter(|f| f.ends_with("execution.json"))
        .count();
    assert_eq!(executions, 200, "{executions} executions");
    assert!(started.elapsed() < Duration::from_secs(60));
}

/// Loops nested twenty deep multiply their task runs past any memory: the execution stops at
/// its most task runs, says so once, and ends.
#[test]
fn nested_loops_are_bounded_by_task_runs() {
    let s = Sandbox::new();
    let mut task = String::from("type: io.kestra.plugin.core.debug.Return\nformat: x\n");
    for depth in 0..22 {
        let inner: String = task.lines().map(|l| format!("    {l}\n")).collect();
        task = format!(
            "type: io.kestra.plugin.core.flow.ForEach\nvalues: [1, 2]\ntasks:\n  - id: l{depth}\n{inner}"
        );
    }
    let body: String = task.lines().map(|l| format!("    {l}\n")).collect();
    s.write(
        "deep.yaml",
        &format!(
            "id: deep\nnamespace: company.team\ntasks:\n  - id: top\n{}",
            &body[..]
        ),
    );
    let o = hostile(
        &s,
        &["run", "deep.yaml", "--storage", "st"],
        &[("RUNNER_MAX_TASK_RUNS", "3000")],
    );
    o.ended_cleanly(60);
    assert_eq!(o.code(), 1, "{}", &o.err()[..o.err().len().min(2000)]);
    assert_eq!(
        o.err()
            .matches("This execution has 3000 task runs, the most one execution may")
            .count(),
        1,
        "{}",
        &o.err()[..o.err().len().min(2000)]
    );
}

/// A SIGTERM in the middle of a large ForEach ends the run within a second or so, record
/// written.
#[cfg(unix)]
#[test]
fn a_signal_ends_a_large_run_at_once() {
    use std::io::BufRead;
    let s = Sandbox::new();
    s.write(
        "big.yaml",
        "id: big\nnamespace: company.team\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.log.Log\n    message: going\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: \"{{ range(1, 300000) }}\"\n    tasks:\n      - id: r\n        type: io.kestra.plugin.core.debug.Return\n        format: \"{{ taskrun.value }}\"\n",
    );
    let mut child = s
        .cmd(&["run", "big.yaml", "--storage", "st"])
        .env("RUNNER_MAX_TASK_RUNS", "400000")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("[first] going") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0);
    }
    // Some thousands of task runs in.
    std::thread::sleep(Duration::from_millis(1500));
    let signalled = Instant::now();
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(1), "{rest}");
    let took = signalled.elapsed();
    assert!(took < Duration::from_secs(3), "SIGTERM took {took:?}");
    assert_eq!(record(&s)["state"]["current"], "KILLED");
}
