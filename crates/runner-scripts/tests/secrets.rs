//! A secret given to a script (env, commands, input files) reaches the script but never a
//! log line, an output, a metric, the record or a stored file, in any form the script
//! prints it.

mod support;

use support::{Options, Scratch, all_bytes, flow, run_script};

const SECRET: &str = "hunter2-Sup3r-S3cret!";

fn b64(s: &str) -> String {
    use std::process::Command;
    let out = Command::new("sh")
        .args(["-c", &format!("printf %s '{s}' | base64 -w0")])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn a_secret_is_masked_in_every_form_a_script_prints_it() {
    let storage = Scratch::new("secret-storage");
    let mut options = Options {
        storage: Some(storage.0.clone()),
        ..Options::default()
    };
    options
        .environment
        .push(("SECRET_API_KEY".into(), b64(SECRET)));
    let r = run_script(
        &flow(
            r#"  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    env:
      API_KEY: "{{ secret('API_KEY') }}"
    inputFiles:
      key.txt: "{{ secret('API_KEY') }}"
    commands:
      - echo "plain $API_KEY"
      - echo "again {{ secret('API_KEY') }}" >&2
      - printf %s "$API_KEY" | base64
      - printf '{"k":"%s"}\n' "$API_KEY"
      - echo "::{\"outputs\":{\"leak\":\"$API_KEY\"},\"metrics\":[{\"name\":\"m\",\"type\":\"counter\",\"value\":1,\"tags\":{\"t\":\"$API_KEY\"}}]}::"
      - printf %s "$API_KEY" | sha256sum | cut -c1-16
      - test "$(cat key.txt)" = "$API_KEY" && echo same-file
  - id: py
    type: io.kestra.plugin.scripts.python.Script
    env:
      API_KEY: "{{ secret('API_KEY') }}"
    script: |
      import json, os, urllib.parse
      k = os.environ["API_KEY"]
      print(json.dumps({"key": k}))
      print(urllib.parse.quote(k))
"#,
        ),
        options,
    )
    .await;
    assert_eq!(r.state(), "SUCCESS", "{}", r.logs);
    let sha = {
        let out = std::process::Command::new("sh")
            .args([
                "-c",
                &format!("printf %s '{SECRET}' | sha256sum | cut -c1-16"),
            ])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    // The script had the value (its hash and the input file agree)...
    assert_eq!(
        r.lines("sh", "INFO"),
        [
            "plain ******",
            "******",
            r#"{"k":"******"}"#,
            sha.as_str(),
            "same-file"
        ]
    );
    assert_eq!(r.lines("sh", "ERROR"), ["again ******"]);
    assert_eq!(r.lines("py", "INFO"), [r#"{"key": "******"}"#, "******"]);
    // ...and no output, metric, log line, record or stored file shows it.
    assert_eq!(r.outputs("sh")["vars"]["leak"], "******");
    assert_eq!(r.record["metrics"][0]["tags"]["t"], "******");
    let encoded = b64(SECRET);
    let record = serde_json::to_string(&r.record).unwrap();
    for (what, text) in [("logs", r.logs.as_str()), ("record", record.as_str())] {
        assert!(!text.contains(SECRET), "{what} shows the secret");
        assert!(!text.contains(&encoded), "{what} shows the secret's base64");
    }
    let files = all_bytes(&storage.0);
    assert!(!files.is_empty());
    for (path, bytes) in files {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(SECRET),
            "{} holds the secret",
            path.display()
        );
        assert!(
            !text.contains(&encoded),
            "{} holds its base64",
            path.display()
        );
    }
    assert!(
        r.left_behind.is_empty(),
        "the working directory held key.txt: {:?}",
        r.left_behind
    );
}
