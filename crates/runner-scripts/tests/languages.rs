//! The script languages beyond shell, Python and Node on the Process task runner: Perl, PHP,
//! Lua, Go, Bun and Deno for real (scripts/test.sh installs them; Bun and Deno from npm by
//! scripts/interpreters.sh), PowerShell, .NET, Groovy and JBang through stand-ins that show
//! the command line runner builds (none of them installs here).

mod support;

use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use support::{Options, Scratch, flow, run_script};

/// The test process's PATH with `first` before it, and a HOME kept between runs (Go's build
/// cache and Deno's cache live under it).
fn environment(first: Option<&std::path::Path>) -> Vec<(String, String)> {
    let mut path = std::env::var("PATH").unwrap_or_default();
    if let Some(dir) = first {
        path = format!("{}:{path}", dir.display());
    }
    let home = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("interpreters-home");
    std::fs::create_dir_all(&home).unwrap();
    vec![
        ("PATH".into(), path),
        ("HOME".into(), home.display().to_string()),
    ]
}

/// Whether `program` is on PATH; when it is not, a failure where the interpreters are required
/// (RUNNER_REQUIRE_INTERPRETERS, set by scripts/test.sh), else a SKIPPED line.
fn available(program: &str) -> bool {
    if support::installed(program) {
        return true;
    }
    assert!(
        std::env::var_os("RUNNER_REQUIRE_INTERPRETERS").is_none(),
        "`{program}` is not on PATH and RUNNER_REQUIRE_INTERPRETERS is set (scripts/test.sh installs it)"
    );
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED the {program} part: it is not installed (scripts/test.sh installs it)"
    );
    false
}

#[tokio::test]
async fn perl_php_lua_go_bun_and_deno_scripts_run_and_send_outputs() {
    // Each script computes 1 + 2 in its language, sends it as an output through the
    // `::{json}::` line and prints a line that is logged.
    let cases: [(&str, &str, &str); 6] = [
        (
            "perl",
            "perl",
            "print '::{\"outputs\":{\"sum\":' . (1 + 2) . '}}::', \"\\n\";\n      print \"perl ok\\n\";",
        ),
        (
            "php",
            "php",
            "<?php\n      echo '::{\"outputs\":{\"sum\":' . (1 + 2) . '}}::' . \"\\n\";\n      echo \"php ok\\n\";",
        ),
        (
            "lua",
            "lua",
            "print('::{\"outputs\":{\"sum\":' .. (1 + 2) .. '}}::')\n      print('lua ok')",
        ),
        (
            "go",
            "go",
            "package main\n      import \"fmt\"\n      func main() {\n        fmt.Printf(\"::{\\\"outputs\\\":{\\\"sum\\\":%d}}::\\n\", 1+2)\n        fmt.Println(\"go ok\")\n      }",
        ),
        (
            "bun",
            "bun",
            "const n: number = 1 + 2;\n      console.log(`::{\"outputs\":{\"sum\":${n}}}::`);\n      console.log('bun ok');",
        ),
        (
            "deno",
            "deno",
            "const n: number = 1 + 2;\n      console.log(`::{\"outputs\":{\"sum\":${n}}}::`);\n      console.log('deno ok');",
        ),
    ];
    let interpreters = std::env::var_os("RUNNER_INTERPRETERS_BIN").map(std::path::PathBuf::from);
    let env = environment(interpreters.as_deref());
    let on_path = |program: &str| {
        env[0]
            .1
            .split(':')
            .any(|d| std::path::Path::new(d).join(program).is_file())
    };
    let mut tasks = String::new();
    let mut ran = Vec::new();
    for (name, program, script) in cases {
        if !on_path(program) && !available(program) {
            continue;
        }
        tasks.push_str(&format!(
            "  - id: {name}\n    type: io.kestra.plugin.scripts.{name}.Script\n    script: |\n      {script}\n"
        ));
        ran.push(name);
    }
    if ran.is_empty() {
        return;
    }
    let r = run_script(
        &flow(&tasks),
        Options {
            environment: env.clone(),
            ..Options::default()
        },
    )
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    for name in ran {
        assert_eq!(
            r.outputs(name)["vars"],
            json!({"sum": 3}),
            "{name}: {}",
            r.logs
        );
        assert_eq!(r.lines(name, "INFO"), [format!("{name} ok")], "{}", r.logs);
    }
    assert!(r.left_behind.is_empty(), "{:?}", r.left_behind);
}

#[tokio::test]
async fn a_failing_script_fails_its_task_with_the_exit_code() {
    if !available("perl") {
        return;
    }
    let r = run_script(
        &flow(
            "  - id: pl\n    type: io.kestra.plugin.scripts.perl.Script\n    script: |\n      print STDERR \"bad row\\n\";\n      exit 3;\n",
        ),
        Options {
            environment: environment(None),
            ..Options::default()
        },
    )
    .await;
    assert_eq!(r.state(), "FAILED", "{}", r.logs);
    assert_eq!(r.outputs("pl")["exitCode"], json!(3), "{}", r.logs);
    assert_eq!(r.lines("pl", "ERROR")[0], "bad row", "{}", r.logs);
}

/// Stand-ins for programs that do not install here: each prints its name and arguments, one
/// per line, then the file its last argument names when there is one.
fn stand_ins(names: &[&str]) -> Scratch {
    let bin = Scratch::new("stand-ins");
    for name in names {
        let path = bin.path(name);
        std::fs::write(
            &path,
            "#!/bin/sh\necho \"$(basename \"$0\")\"\nfor a in \"$@\"; do echo \"arg: $a\"; done\nfor last; do :; done\n[ -f \"$last\" ] && cat \"$last\"\nexit 0\n",
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

#[tokio::test]
async fn powershell_runs_its_script_by_path_with_pwsh_and_stops_on_errors() {
    let bin = stand_ins(&["pwsh"]);
    let r = run_script(
        &flow(
            "  - id: ps\n    type: io.kestra.plugin.scripts.powershell.Script\n    script: Write-Output 'hi'\n",
        ),
        Options {
            environment: environment(Some(&bin.0)),
            ..Options::default()
        },
    )
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    let lines = r.lines("ps", "INFO");
    assert_eq!(
        lines[..5],
        [
            "pwsh",
            "arg: -NoProfile",
            "arg: -NonInteractive",
            "arg: -Command",
            "arg: $ErrorActionPreference = 'Stop'",
        ],
        "{}",
        r.logs
    );
    // The last argument's second line is the script's absolute path, a .ps1 file.
    assert!(
        lines[5].starts_with('/') && lines[5].ends_with(".ps1"),
        "{lines:?}"
    );
}

#[tokio::test]
async fn dotnet_installs_dotnet_script_first_and_runs_the_csx_file() {
    let bin = stand_ins(&["dotnet", "dotnet-script"]);
    let r = run_script(
        &flow(
            "  - id: cs\n    type: io.kestra.plugin.scripts.dotnet.Script\n    beforeCommands:\n      - echo mine\n    script: Console.WriteLine(\"hi\");\n",
        ),
        Options {
            environment: environment(Some(&bin.0)),
            ..Options::default()
        },
    )
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    let lines = r.lines("cs", "INFO");
    // Kestra's order: the tool install, then the flow's beforeCommands, then the script.
    assert_eq!(
        lines[..6],
        [
            "dotnet",
            "arg: tool",
            "arg: install",
            "arg: -g",
            "arg: dotnet-script",
            "arg: --ignore-failed-sources",
        ],
        "{}",
        r.logs
    );
    assert_eq!(lines[6], "mine");
    assert_eq!(lines[7], "dotnet-script");
    assert!(lines[8].ends_with(".csx"), "{lines:?}");
    assert_eq!(lines[9], "Console.WriteLine(\"hi\");");
}

#[tokio::test]
async fn jbang_and_groovy_run_their_file_and_jbang_says_a_bad_extension() {
    let bin = stand_ins(&["jbang", "groovy"]);
    let env = environment(Some(&bin.0));
    let r = run_script(
        &flow(
            "  - id: jb\n    type: io.kestra.plugin.scripts.jbang.Script\n    extension: .jsh\n    script: System.out.println(\"hi\")\n  - id: loud\n    type: io.kestra.plugin.scripts.jbang.Script\n    quiet: false\n    script: class a {}\n  - id: gr\n    type: io.kestra.plugin.scripts.groovy.Script\n    script: println 'hi'\n",
        ),
        Options {
            environment: env.clone(),
            ..Options::default()
        },
    )
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    let jb = r.lines("jb", "INFO");
    assert_eq!(jb[..2], ["jbang", "arg: --quiet"], "{}", r.logs);
    assert!(jb[2].ends_with(".jsh"), "{jb:?}");
    assert_eq!(jb[3], "System.out.println(\"hi\")");
    let loud = r.lines("loud", "INFO");
    assert!(loud[1].ends_with(".java"), "{loud:?}");
    let gr = r.lines("gr", "INFO");
    assert!(
        gr[1].ends_with(".groovy") && gr[2] == "println 'hi'",
        "{gr:?}"
    );

    let r = run_script(
        &flow(
            "  - id: jb\n    type: io.kestra.plugin.scripts.jbang.Script\n    extension: .py\n    script: print('no')\n",
        ),
        Options {
            environment: env,
            ..Options::default()
        },
    )
    .await;
    assert_eq!(r.state(), "FAILED", "{}", r.logs);
    assert!(
        r.logs
            .contains("`.py` is not a file type JBang reads: use .java, .jsh, .kt, .groovy or .md"),
        "{}",
        r.logs
    );
}
