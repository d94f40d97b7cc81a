//! AwsCLI with the real AWS CLI (awscli from PyPI, scripts/formats-venv.sh) against the S3 test
//! server, which checks every request's signature: the credentials reached the CLI, through a
//! file and not the environment.

use runner_testkit::{S3, run_flow_with};
use std::path::PathBuf;

/// The folder with the `aws` program (the formats environment, see
/// runner_testkit::formats_venv).
fn aws_bin() -> PathBuf {
    let bin = runner_testkit::formats_venv().join("bin");
    assert!(bin.join("aws").is_file(), "no aws in {}", bin.display());
    bin
}

#[tokio::test]
async fn the_cli_works_on_a_signed_server_with_the_flows_credentials_and_no_secret_in_its_environment()
 {
    let s3 = S3::start().await;
    let path = format!("{}:/usr/bin:/bin", aws_bin().display());
    let yaml = format!(
        r#"id: cli
namespace: company.team
tasks:
  - id: aws
    type: io.kestra.plugin.aws.cli.AwsCLI
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    accessKeyId: {key}
    secretKeyId: "{{{{ secret('AWS_SECRET') }}}}"
    region: us-east-1
    endpointOverride: {endpoint}
    env:
      PATH: "{path}"
    outputFiles:
      - env.txt
      - "**"
    commands:
      - aws s3 mb s3://cli-bucket
      - printf 'hello from the cli' > hello.txt
      - aws s3 cp hello.txt s3://cli-bucket/greetings/hello.txt
      - env > env.txt
      - echo "::{{\"outputs\":{{\"keys\":$(aws s3api list-objects-v2 --bucket cli-bucket --query 'Contents[].Key' | tr -d ' \n')}}}}::"
      - aws s3 cp s3://cli-bucket/greetings/hello.txt - | sed 's/^/read back=/'
"#,
        key = s3.access_key,
        endpoint = s3.endpoint,
    );
    let secret = runner_secrets_b64(&s3.secret_key);
    let r = run_flow_with(
        &[
            runner_core::TASKS,
            runner_core_tasks::TASKS,
            runner_aws::TASKS,
        ],
        &yaml,
        &[],
        &[("SECRET_AWS_SECRET", secret.as_str())],
    )
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let outputs = &r.outputs("aws");
    assert_eq!(
        outputs["vars"]["keys"],
        serde_json::json!(["greetings/hello.txt"]),
        "{}",
        r.logs
    );
    assert!(
        r.logs.contains("read back=hello from the cli"),
        "{}",
        r.logs
    );
    // The object is on the server, read with an independent client.
    let object = s3
        .client()
        .get_object()
        .bucket("cli-bucket")
        .key("greetings/hello.txt")
        .send()
        .await
        .unwrap();
    let body = object.body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], b"hello from the cli");
    // The region, the endpoint and the credentials file reached the CLI; the secret did not
    // reach its environment, nor any log line.
    let env = std::fs::read_to_string(r.file(outputs["outputFiles"]["env.txt"].as_str().unwrap()))
        .unwrap();
    assert!(env.contains("AWS_DEFAULT_REGION=us-east-1"), "{env}");
    assert!(env.contains("AWS_DEFAULT_OUTPUT=json"), "{env}");
    assert!(env.contains("AWS_SHARED_CREDENTIALS_FILE="), "{env}");
    assert!(
        !env.contains(&s3.secret_key),
        "the secret is in the CLI's environment"
    );
    assert!(!r.logs.contains(&s3.secret_key));
    // The credentials file went before the outputFiles were kept: no glob took it.
    for (name, uri) in outputs["outputFiles"].as_object().unwrap() {
        let kept = std::fs::read(r.file(uri.as_str().unwrap())).unwrap();
        assert!(
            !String::from_utf8_lossy(&kept).contains(&s3.secret_key),
            "{name} holds the secret"
        );
        assert!(!name.contains("credentials"), "{name} was kept");
    }
    assert!(
        outputs["outputFiles"].get("hello.txt").is_some(),
        "{outputs}"
    );
}

#[tokio::test]
async fn a_wrong_key_fails_with_the_clis_message_and_exit_code() {
    let s3 = S3::start().await;
    let path = format!("{}:/usr/bin:/bin", aws_bin().display());
    let yaml = format!(
        "id: cli\nnamespace: company.team\ntasks:\n  - id: aws\n    type: io.kestra.plugin.aws.cli.AwsCLI\n    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n    accessKeyId: {}\n    secretKeyId: not-the-secret\n    region: us-east-1\n    endpointOverride: {}\n    env:\n      PATH: \"{path}\"\n    commands:\n      - aws s3 mb s3://denied\n",
        s3.access_key, s3.endpoint
    );
    let r = run_flow_with(
        &[
            runner_core::TASKS,
            runner_core_tasks::TASKS,
            runner_aws::TASKS,
        ],
        &yaml,
        &[],
        &[],
    )
    .await;
    assert_eq!(r.state.as_str(), "FAILED", "{}", r.logs);
    assert!(
        r.logs.contains("SignatureDoesNotMatch") || r.logs.contains("AccessDenied"),
        "{}",
        r.logs
    );
    assert!(
        r.logs.contains("Command failed with exit code 1"),
        "{}",
        r.logs
    );
    assert_eq!(r.outputs("aws")["exitCode"], 1);
}

fn runner_secrets_b64(value: &str) -> String {
    use std::io::Write;
    // base64 as Kestra's SECRET_ variables hold it, without a dependency for it.
    let table = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.write_all(&[table[((n >> (18 - 6 * i)) & 63) as usize]])
                    .unwrap();
            } else {
                out.push(b'=');
            }
        }
    }
    String::from_utf8(out).unwrap()
}
