//! Secrets as a user supplies them, and proof that no form of a secret leaves the process.

use crate::support;

use base64::Engine;
use serde_json::Value as Json;
use support::{Done, Sandbox, walk};

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

const SHOW: &str = "id: show\nnamespace: company.team\ntasks:\n  - id: use\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ secret('db_password') }}\"\n";

#[test]
fn secret_from_the_environment_is_case_insensitive_and_masked() {
    let s = Sandbox::new();
    s.write("show.yaml", SHOW);
    let out = Done(
        s.cmd(&["run", "show.yaml", "--storage", "st", "--json"])
            .env("SECRET_DB_PASSWORD", b64("hunter2-XYZ"))
            .output()
            .unwrap(),
    );
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(
        record["taskRunList"][0]["outputs"]["value"], "******",
        "the record never holds the value"
    );
    assert!(!(out.stdout() + &out.stderr()).contains("hunter2-XYZ"));
}

/// A missing secret stops the run before its first task: nothing is written (no KV entry, no
/// execution folder), and a plain `.env` given as secrets is recognised.
#[test]
fn a_missing_secret_stops_the_run_before_any_task() {
    let s = Sandbox::new();
    s.write(
        "show.yaml",
        "id: show\nnamespace: company.team\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.kv.Set\n    key: k\n    value: v\n  - id: use\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ secret('db_password') }}\"\n",
    );
    let out = s.run(&["run", "show.yaml", "--storage", "st", "--state", "state"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    let err = out.stderr();
    assert!(
        err.contains("Cannot find secret for key 'db_password'."),
        "{err}"
    );
    assert!(
        err.contains("SECRET_DB_PASSWORD")
            && err.contains("--env-file")
            && err.contains("nothing ran"),
        "{err}"
    );
    assert!(!err.contains("first"), "no task started: {err}");
    assert!(
        !s.dir.join("st").exists() && !s.dir.join("state").exists(),
        "nothing written"
    );
    // The usual first-hour mistake: a plain .env where an encoded one is read.
    s.write(".env", "DB_PASSWORD=hunter2-XYZ\n");
    let out = s.run(&["run", "show.yaml", "--env-file", ".env"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    let err = out.stderr();
    assert!(
        err.contains("`DB_PASSWORD` is set, but as a plain value")
            && err.contains("runner secrets encode .env"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn invalid_base64_names_the_variable_not_the_value() {
    let s = Sandbox::new();
    s.write("show.yaml", SHOW);
    let out = Done(
        s.cmd(&["run", "show.yaml", "--storage", "st"])
            .env("SECRET_DB_PASSWORD", "pl@in-text-value!")
            .output()
            .unwrap(),
    );
    assert_eq!(out.code(), 1);
    let err = out.stderr();
    assert!(
        err.contains(
            "Could not decode secret 'SECRET_DB_PASSWORD', make sure it is Base64-encoded"
        ),
        "{err}"
    );
    assert!(!err.contains("pl@in-text-value!"), "{err}");
}

#[test]
fn env_file_from_the_kestra_guide_shell_loop() {
    let s = Sandbox::new();
    s.write("show.yaml", SHOW);
    s.write(".env", "DB_PASSWORD=short-pw\n");
    // The loop of Kestra's guide, for short values (no wrapping).
    let status = std::process::Command::new("bash")
        .current_dir(&s.dir)
        .args(["-c", "while IFS='=' read -r key value; do echo \"SECRET_$key=$(echo -n \"$value\" | base64)\"; done < .env > .env_encoded"])
        .status()
        .unwrap();
    assert!(status.success());
    let out = s.run(&[
        "run",
        "show.yaml",
        "--storage",
        "st",
        "--env-file",
        ".env_encoded",
        "--json",
    ]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(!(out.stdout() + &out.stderr()).contains("short-pw"));
}

#[test]
fn wrapped_base64_in_an_env_file_is_refused_with_the_line() {
    let s = Sandbox::new();
    s.write("show.yaml", SHOW);
    let long = "v".repeat(100);
    let wrapped = std::process::Command::new("bash")
        .args(["-c", &format!("echo -n '{long}' | base64")])
        .output()
        .unwrap();
    let wrapped = String::from_utf8(wrapped.stdout).unwrap();
    assert!(wrapped.trim().contains('\n'), "base64 wraps long values");
    s.write(".env_encoded", &format!("SECRET_DB_PASSWORD={wrapped}"));
    let out = s.run(&[
        "run",
        "show.yaml",
        "--storage",
        "st",
        "--env-file",
        ".env_encoded",
    ]);
    assert_eq!(out.code(), 2);
    assert!(out.stderr().contains(".env_encoded:2:"), "{}", out.stderr());
    assert!(
        out.stderr().contains("base64 -w0") && out.stderr().contains("runner secrets encode"),
        "{}",
        out.stderr()
    );
}

#[test]
fn env_file_macro_form_is_rendered_once() {
    let s = Sandbox::new();
    s.write("show.yaml", SHOW);
    s.write(
        ".env_encoded",
        "SECRET_DB_PASSWORD={{ \"macro-value\" | base64encode }}\nENV_REGION=eu-west-3\n",
    );
    let out = s.run(&[
        "eval",
        "--env-file",
        ".env_encoded",
        "{{ secret('DB_PASSWORD') }} {{ envs.region }}",
    ]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(out.stdout(), "macro-value eu-west-3");
}

#[test]
fn secrets_encode_handles_tricky_values() {
    let s = Sandbox::new();
    let api_key = "k".repeat(80) + &"Z9".repeat(42);
    assert_eq!(api_key.len(), 164);
    s.write(".env", &format!("# my secrets\nAPI_KEY={api_key}\nWITH_EQUALS=a=b==c\nQUOTED=\"say \\\"hi\\\"\"\nSINGLE='no # comment here'\nUNICODE=Zoë ☃ 東京\nexport SPACED = padded value \n"));
    let out = s.run(&["secrets", "encode"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let meta = std::fs::metadata(s.dir.join(".env_encoded")).unwrap();
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o600
    );
    let encoded = std::fs::read_to_string(s.dir.join(".env_encoded")).unwrap();
    assert!(
        encoded.lines().all(|l| !l.contains(&api_key)),
        "values are encoded"
    );
    let expect = [
        ("api_key", api_key.as_str()),
        ("with_equals", "a=b==c"),
        ("quoted", "say \"hi\""),
        ("single", "no # comment here"),
        ("unicode", "Zoë ☃ 東京"),
        ("spaced", "padded value"),
    ];
    for (name, value) in expect {
        let out = s.run(&[
            "eval",
            "--env-file",
            ".env_encoded",
            &format!("{{{{ secret('{name}') }}}}"),
        ]);
        assert_eq!(out.code(), 0, "{name}: {}", out.stderr());
        assert_eq!(out.stdout(), value, "{name}");
    }
    let again = s.run(&["secrets", "encode"]);
    assert_eq!(again.code(), 1, "refuses to overwrite");
    assert!(again.stderr().contains("pass --force"));
    assert_eq!(s.run(&["secrets", "encode", "--force"]).code(), 0);
}

/// A flow that logs one secret in every form a log can carry; nothing of it may come out.
#[test]
fn no_form_of_a_secret_leaves_the_process() {
    let s = Sandbox::new();
    let secret = "Sup3r$ecret/Value+42";
    let multiline = "first-line-abc\nsecond-line-xyz";
    s.write(
        "leak.yaml",
        r#"id: leak
namespace: company.team
inputs:
  - id: token
    type: SECRET
tasks:
  - id: forms
    type: io.kestra.plugin.core.log.Log
    message:
      - "raw {{ secret('pw') }}"
      - "base64 {{ secret('pw') | base64encode }}"
      - "shifted {{ ('u:' ~ secret('pw')) | base64encode }} {{ ('us:' ~ secret('pw')) | base64encode }}"
      - "json {{ {'k': secret('pw')} | toJson }}"
      - "url https://x/?p={{ secret('pw') | urlencode }}"
      - "line {{ secret('multi') }}"
      - "input {{ inputs.token }}"
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: "{{ secret('pw') }}"
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "failed with {{ secret('pw') }} inside"
errors:
  - id: cause
    type: io.kestra.plugin.core.log.Log
    message: "{{ secret('pw') ~ undefined_thing }}"
"#,
    );
    let out = Done(
        s.cmd(&[
            "run",
            "leak.yaml",
            "--storage",
            "st",
            "--json",
            "-i",
            "token=input-secret-987",
        ])
        .env("SECRET_PW", b64(secret))
        .env("SECRET_MULTI", b64(multiline))
        .output()
        .unwrap(),
    );
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let err = out.stderr();
    assert!(
        err.contains("raw ******") && err.contains("failed with ****** inside"),
        "{err}"
    );
    // Each logged form is there, masked: the masking did not just drop the lines.
    let line_of = |prefix: &str| -> String {
        err.lines()
            .find_map(|l| {
                l.split_once("[forms] ")
                    .map(|(_, m)| m)
                    .filter(|m| m.starts_with(prefix))
            })
            .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{err}"))
            .to_string()
    };
    // Each logged form is there, masked: the masking did not just drop the lines.
    assert_eq!(line_of("raw "), "raw ******");
    assert_eq!(line_of("base64 "), "base64 ******");
    assert_eq!(line_of("json "), r#"json {"k":"******"}"#);
    assert_eq!(line_of("url "), "url https://x/?p=******");
    assert_eq!(line_of("line "), "line ******");
    assert_eq!(line_of("input "), "input ******");
    let shifted = line_of("shifted ");
    assert_eq!(shifted.matches("******").count(), 2, "{shifted}");
    let mut everything = out.stdout().into_bytes();
    everything.extend(out.stderr().into_bytes());
    let logs_json = Done(
        s.cmd(&[
            "run",
            "leak.yaml",
            "--storage",
            "st",
            "--log-format",
            "json",
            "-i",
            "token=input-secret-987",
        ])
        .env("SECRET_PW", b64(secret))
        .env("SECRET_MULTI", b64(multiline))
        .output()
        .unwrap(),
    );
    assert_eq!(logs_json.code(), 1, "{}", logs_json.stderr());
    let json_lines: Vec<Json> = logs_json
        .stderr()
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let messages: Vec<&str> = json_lines
        .iter()
        .filter_map(|l| l["message"].as_str())
        .collect();
    for expected in ["raw ******", "url https://x/?p=******", "input ******"] {
        assert!(messages.contains(&expected), "{expected} in {messages:?}");
    }
    everything.extend(logs_json.stderr().into_bytes());
    for file in walk(&s.dir.join("st")) {
        everything.extend(std::fs::read(file).unwrap());
    }
    let text = String::from_utf8_lossy(&everything);
    let json_escaped = serde_json::to_string(secret).unwrap();
    for needle in [
        secret.to_string(),
        b64(secret),
        json_escaped[1..json_escaped.len() - 1].to_string(),
        "Sup3r%24ecret%2FValue%2B42".to_string(),
        "first-line-abc".to_string(),
        "second-line-xyz".to_string(),
        "input-secret-987".to_string(),
        b64(&format!("u:{secret}"))[4..20].to_string(),
        b64(&format!("us:{secret}"))[4..20].to_string(),
    ] {
        assert!(!text.contains(&needle), "`{needle}` leaked:\n{text}");
    }
}

#[test]
fn validate_warns_about_unset_secrets() {
    let s = Sandbox::new();
    s.write("show.yaml", SHOW);
    let out = s.run(&["validate", "show.yaml"]);
    assert_eq!(out.code(), 0, "a warning does not fail validation");
    assert!(
        out.stderr()
            .contains("warning: secret('db_password'): SECRET_DB_PASSWORD is not set"),
        "{}",
        out.stderr()
    );
    assert!(
        out.stderr().contains("--> show.yaml:6:13"),
        "{}",
        out.stderr()
    );
    let out = Done(
        s.cmd(&["validate", "show.yaml"])
            .env("SECRET_DB_PASSWORD", b64("x"))
            .output()
            .unwrap(),
    );
    assert!(!out.stderr().contains("warning"), "{}", out.stderr());
}

#[test]
fn a_failing_expression_in_an_env_file_never_shows_its_value() {
    let s = Sandbox::new();
    s.write("show.yaml", SHOW);
    for (text, why) in [
        (
            "SECRET_DB_PASSWORD={{ hunter2plain | base64encode }}\n",
            "it uses a variable",
        ),
        (
            "SECRET_DB_PASSWORD={{ \"hunter2plain\" | nosuchfilter }}\n",
            "a filter or function failed",
        ),
        (
            "SECRET_DB_PASSWORD={{ \"hunter2plain\" | }}\n",
            "a syntax error",
        ),
    ] {
        s.write(".env_bad", text);
        for (args, code) in [
            (
                vec![
                    "run",
                    "show.yaml",
                    "--storage",
                    "st",
                    "--env-file",
                    ".env_bad",
                ],
                2,
            ),
            (vec!["validate", "show.yaml", "--env-file", ".env_bad"], 2),
            (vec!["eval", "--env-file", ".env_bad", "{{ 1 }}"], 2),
        ] {
            let out = s.run(&args);
            let all = out.stdout() + &out.stderr();
            assert_eq!(out.code(), code, "{args:?}: {all}");
            assert!(
                all.contains(".env_bad:1: cannot render the value of `SECRET_DB_PASSWORD`"),
                "{args:?}: {all}"
            );
            assert!(all.contains(why), "{args:?}: {all}");
            assert!(!all.contains("hunter2plain"), "{args:?} leaked: {all}");
        }
    }
}

/// Runs Debian's `age` or `age-keygen` in the sandbox (scripts/test.sh installs them).
fn age_tool(s: &Sandbox, args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    let mut cmd = std::process::Command::new(args[0]);
    cmd.args(&args[1..]).current_dir(&s.dir);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{} is needed (Debian: apt-get install age): {e}", args[0]));
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        if let Some(bytes) = stdin {
            input.write_all(bytes).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

fn public_key(s: &Sandbox, identity: &str) -> String {
    let out = age_tool(s, &["age-keygen", "-y", identity], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn an_env_file_encrypted_with_the_age_tool_runs_without_touching_the_disk() {
    let s = Sandbox::new();
    s.write("show.yaml", SHOW);
    assert!(
        age_tool(&s, &["age-keygen", "-o", "key.txt"], None)
            .status
            .success()
    );
    let recipient = public_key(&s, "key.txt");
    let plain = format!("SECRET_DB_PASSWORD={}\n", b64("age-protected-pw"));
    let sealed = age_tool(
        &s,
        &["age", "-r", &recipient, "-o", "secrets.age"],
        Some(plain.as_bytes()),
    );
    assert!(
        sealed.status.success(),
        "{}",
        String::from_utf8_lossy(&sealed.stderr)
    );
    let before: Vec<_> = walk(&s.dir);
    let out = s.run(&[
        "run",
        "show.yaml",
        "--storage",
        "st",
        "--env-file",
        "secrets.age",
        "--identity",
        "key.txt",
        "--json",
    ]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let record: Json = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(record["taskRunList"][0]["outputs"]["value"], "******");
    // The secret was read (the task rendered it), and nothing but the storage was written.
    let mut everything = out.stdout() + &out.stderr();
    for f in walk(&s.dir) {
        if !before.contains(&f) {
            assert!(f.starts_with(s.dir.join("st")), "wrote {}", f.display());
        }
        everything.push_str(&String::from_utf8_lossy(&std::fs::read(&f).unwrap()));
    }
    assert!(!everything.contains("age-protected-pw"));
    // The identity may come from RUNNER_AGE_IDENTITY, as a path or as the key itself.
    let key = std::fs::read_to_string(s.dir.join("key.txt")).unwrap();
    let secret_key = key
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap();
    for value in ["key.txt", secret_key] {
        let out = Done(
            s.cmd(&[
                "eval",
                "--env-file",
                "secrets.age",
                "{{ secret('DB_PASSWORD') }}",
            ])
            .env("RUNNER_AGE_IDENTITY", value)
            .output()
            .unwrap(),
        );
        assert_eq!(out.code(), 0, "{}", out.stderr());
        assert_eq!(out.stdout(), "age-protected-pw");
    }
}

#[test]
fn secrets_encrypt_writes_what_the_age_tool_decrypts() {
    let s = Sandbox::new();
    s.write(".env", "DB_PASSWORD=encrypted-by-runner\nAPI_KEY=k=v==\n");
    assert!(
        age_tool(&s, &["age-keygen", "-o", "key.txt"], None)
            .status
            .success()
    );
    let recipient = public_key(&s, "key.txt");
    s.write("team.txt", &format!("# the team\n{recipient}\n"));
    let out = s.run(&["secrets", "encrypt", "-R", "team.txt"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let meta = std::fs::metadata(s.dir.join(".env.age")).unwrap();
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o600
    );
    let sealed = std::fs::read_to_string(s.dir.join(".env.age")).unwrap();
    assert!(
        sealed.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"),
        "armored"
    );
    assert!(
        !sealed.contains("encrypted-by-runner") && !sealed.contains(&b64("encrypted-by-runner"))
    );
    let opened = age_tool(&s, &["age", "-d", "-i", "key.txt", ".env.age"], None);
    assert!(
        opened.status.success(),
        "{}",
        String::from_utf8_lossy(&opened.stderr)
    );
    let text = String::from_utf8(opened.stdout).unwrap();
    assert_eq!(
        text,
        format!(
            "# Written by `runner secrets encode`: each value is base64, read with secret('NAME').\nSECRET_DB_PASSWORD={}\nSECRET_API_KEY={}\n",
            b64("encrypted-by-runner"),
            b64("k=v==")
        )
    );
    let again = s.run(&["secrets", "encrypt", "-r", &recipient]);
    assert_eq!(again.code(), 1, "refuses to overwrite");
    assert!(again.stderr().contains("pass --force"));
}

#[test]
fn secrets_encrypt_without_recipients_makes_a_private_identity_that_runs_decrypt_with() {
    let s = Sandbox::new();
    s.write(".env", "DB_PASSWORD=own-identity-pw\n");
    s.write("show.yaml", SHOW);
    let home = s.dir.join("home");
    let with_home = |args: &[&str]| {
        Done(
            s.cmd(args)
                .env("HOME", &home)
                .env_remove("XDG_CONFIG_HOME")
                .output()
                .unwrap(),
        )
    };
    let out = with_home(&["secrets", "encrypt"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let identity = home.join(".config/runner/age-identity.txt");
    assert!(
        out.stderr().contains(&identity.display().to_string()),
        "{}",
        out.stderr()
    );
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&identity).unwrap().permissions()
        ) & 0o777,
        0o600
    );
    let out = with_home(&[
        "run",
        "show.yaml",
        "--storage",
        "st",
        "--env-file",
        ".env.age",
        "--json",
    ]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(!(out.stdout() + &out.stderr()).contains("own-identity-pw"));
    // A second encryption reuses the identity.
    let out = with_home(&["secrets", "encrypt", "-o", "second.age"]);
    assert_eq!(out.code(), 0);
    assert!(
        !out.stderr().contains("made an age identity"),
        "{}",
        out.stderr()
    );
    let decrypted = age_tool(
        &s,
        &["age", "-d", "-i", identity.to_str().unwrap(), "second.age"],
        None,
    );
    assert!(decrypted.status.success());
}

#[test]
fn a_wrong_identity_or_a_damaged_file_names_the_file_not_the_content() {
    let s = Sandbox::new();
    s.write("show.yaml", SHOW);
    assert!(
        age_tool(&s, &["age-keygen", "-o", "key.txt"], None)
            .status
            .success()
    );
    assert!(
        age_tool(&s, &["age-keygen", "-o", "other.txt"], None)
            .status
            .success()
    );
    let recipient = public_key(&s, "key.txt");
    let plain = format!("SECRET_DB_PASSWORD={}\n", b64("never-shown-pw"));
    let sealed = age_tool(
        &s,
        &["age", "-a", "-r", &recipient, "-o", "secrets.age"],
        Some(plain.as_bytes()),
    );
    assert!(sealed.status.success());
    let mut all = String::new();
    let out = s.run(&[
        "run",
        "show.yaml",
        "--storage",
        "st",
        "--env-file",
        "secrets.age",
        "--identity",
        "other.txt",
    ]);
    all.push_str(&out.stderr());
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("the identity in `other.txt` cannot decrypt `secrets.age`"),
        "{}",
        out.stderr()
    );
    let mut damaged = std::fs::read(s.dir.join("secrets.age")).unwrap();
    let at = damaged.len() / 2;
    damaged[at] = if damaged[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(s.dir.join("damaged.age"), damaged).unwrap();
    let out = s.run(&[
        "run",
        "show.yaml",
        "--storage",
        "st",
        "--env-file",
        "damaged.age",
        "--identity",
        "key.txt",
    ]);
    all.push_str(&out.stderr());
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("`damaged.age` is not a readable age file"),
        "{}",
        out.stderr()
    );
    let out = s.run(&[
        "run",
        "show.yaml",
        "--storage",
        "st",
        "--env-file",
        "secrets.age",
        "--identity",
        "show.yaml",
    ]);
    all.push_str(&out.stderr());
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr().contains("`show.yaml` holds no age identity"),
        "{}",
        out.stderr()
    );
    assert!(!all.contains("never-shown-pw") && !all.contains(&b64("never-shown-pw")));
}
