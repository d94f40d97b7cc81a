//! Upload, Download, List and Delete against a real S3 server (s3s) that checks signatures.
//! What was stored is read back through the server with an independent client.

use runner_testkit::{Run, S3, run_flow_with};
use serde_json::Value as Json;

/// A file the flow reads as an input, in a folder of its own that goes when the test ends
/// (the 96 MiB one included).
struct LocalFile(std::path::PathBuf);

impl std::ops::Deref for LocalFile {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for LocalFile {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn local_file(name: &str, bytes: &[u8]) -> LocalFile {
    let dir =
        std::env::temp_dir().join(format!("runner-s3-src-{}", runner_core::ids::friendly_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    LocalFile(path)
}

/// A flow with FILE inputs `a` and `b` (optional), and one S3 task of `kind` with `props`.
fn flow(s3: &S3, kind: &str, props: &str) -> String {
    format!(
        "id: s3\nnamespace: company.team\ninputs:\n  - id: a\n    type: FILE\n    required: false\n  - id: b\n    type: FILE\n    required: false\ntasks:\n  - id: t\n    type: io.kestra.plugin.aws.s3.{kind}\n    endpointOverride: {}\n    accessKeyId: {}\n    secretKeyId: {}\n    region: us-east-1\n{props}",
        s3.endpoint, s3.access_key, s3.secret_key
    )
}

async fn run(yaml: &str, inputs: &[(&str, &str)]) -> Run {
    run_flow_with(
        &[
            runner_core::TASKS,
            runner_core_tasks::TASKS,
            runner_aws::TASKS,
        ],
        yaml,
        inputs,
        &[],
    )
    .await
}

fn random_bytes(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E3779B97F4A7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[tokio::test]
async fn upload_one_file_with_its_properties() {
    let s3 = S3::start().await;
    s3.create_bucket("kestra-bucket").await;
    let src = local_file("users.csv", b"id,name\n1,Ada\n");
    let r = run(
        &flow(&s3, "Upload", "    bucket: kestra-bucket\n    from: \"{{ inputs.a }}\"\n    key: data/users.csv\n    contentType: text/csv\n    cacheControl: no-cache\n    contentDisposition: attachment\n    metadata:\n      team: data\n"),
        &[("a", src.to_str().unwrap())],
    )
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let out = r.outputs("t");
    assert_eq!(out["bucket"], "kestra-bucket");
    assert_eq!(out["key"], "data/users.csv");
    assert!(out["eTag"].as_str().is_some_and(|e| e.len() > 30), "{out}");
    assert_eq!(
        s3.get("kestra-bucket", "data/users.csv").await.unwrap(),
        b"id,name\n1,Ada\n"
    );
    let head = s3
        .client()
        .head_object()
        .bucket("kestra-bucket")
        .key("data/users.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("text/csv"));
    assert_eq!(head.cache_control(), Some("no-cache"));
    assert_eq!(head.content_disposition(), Some("attachment"));
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("team"))
            .map(String::as_str),
        Some("data")
    );
    assert!(!r.logs.contains(&s3.secret_key), "the secret key is masked");
}

#[tokio::test]
async fn upload_several_files_under_a_prefix() {
    let s3 = S3::start().await;
    s3.create_bucket("bkt").await;
    let a = local_file("a.txt", b"A");
    let b = local_file("b.txt", b"BB");
    let inputs = [("a", a.to_str().unwrap()), ("b", b.to_str().unwrap())];
    let r = run(&flow(&s3, "Upload", "    bucket: bkt\n    from:\n      - \"{{ inputs.a }}\"\n      - \"{{ inputs.b }}\"\n    key: in/\n"), &inputs).await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert_eq!(r.outputs("t")["files"]["b.txt"]["contentLength"], 2);
    assert_eq!(s3.get("bkt", "in/a.txt").await.unwrap(), b"A");
    assert_eq!(s3.get("bkt", "in/b.txt").await.unwrap(), b"BB");
    let r = run(&flow(&s3, "Upload", "    bucket: bkt\n    from:\n      first.txt: \"{{ inputs.a }}\"\n      nested/second.txt: \"{{ inputs.b }}\"\n    key: map\n"), &inputs).await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert_eq!(s3.get("bkt", "map/nested/second.txt").await.unwrap(), b"BB");
    let r = run(
        &flow(
            &s3,
            "Upload",
            "    bucket: bkt\n    from: \"[]\"\n    key: x\n",
        ),
        &[],
    )
    .await;
    assert!(
        r.logs.contains(
            "No files to upload: the 'from' property contains an empty collection or array"
        ),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn a_20_mib_file_goes_as_multipart() {
    let s3 = S3::start().await;
    s3.create_bucket("bkt").await;
    let bytes = random_bytes(20 * 1024 * 1024);
    let src = local_file("big.bin", &bytes);
    let r = run(
        &flow(
            &s3,
            "Upload",
            "    bucket: bkt\n    from: \"{{ inputs.a }}\"\n    key: big.bin\n",
        ),
        &[("a", src.to_str().unwrap())],
    )
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let etag = r.outputs("t")["eTag"].as_str().unwrap().to_string();
    assert!(
        etag.trim_matches('"').ends_with("-3"),
        "a 3-part multipart ETag, got {etag}"
    );
    assert!(
        s3.get("bkt", "big.bin").await.unwrap() == bytes,
        "the bytes read back are the bytes sent"
    );
    assert_eq!(s3.open_multipart_uploads().await, 0);
}

#[tokio::test]
async fn an_upload_stopped_half_way_leaves_nothing() {
    let s3 = S3::start().await;
    s3.create_bucket("bkt").await;
    let src = local_file("huge.bin", &random_bytes(96 * 1024 * 1024));
    let r = run(&flow(&s3, "Upload", "    bucket: bkt\n    from: \"{{ inputs.a }}\"\n    key: huge.bin\n    timeout: PT0.3S\n"), &[("a", src.to_str().unwrap())]).await;
    assert_eq!(r.state.as_str(), "FAILED", "{}", r.logs);
    assert!(r.logs.contains("Timeout after 0:00:00.300"), "{}", r.logs);
    // The abort runs in the background after the task is dropped.
    let mut open = 1;
    for _ in 0..50 {
        open = s3.open_multipart_uploads().await;
        if open == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(open, 0, "no multipart upload left open");
    assert!(s3.get("bkt", "huge.bin").await.is_none(), "no object");
}

#[tokio::test]
async fn download_list_and_delete_round_trip() {
    let s3 = S3::start().await;
    s3.create_bucket("bkt").await;
    let client = s3.client();
    for (k, v) in [
        ("data/a.csv", "1"),
        ("data/b.csv", "22"),
        ("data/c.txt", "333"),
        ("other/d.csv", "4"),
    ] {
        client
            .put_object()
            .bucket("bkt")
            .key(k)
            .body(v.as_bytes().to_vec().into())
            .content_type("text/plain")
            .send()
            .await
            .unwrap();
    }
    let r = run(
        &flow(&s3, "Download", "    bucket: bkt\n    key: data/b.csv\n"),
        &[],
    )
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let out = r.outputs("t");
    assert_eq!(out["contentLength"], 2);
    assert_eq!(out["contentType"], "text/plain");
    assert!(out["uri"].as_str().unwrap().ends_with(".csv"));
    assert_eq!(
        std::fs::read_to_string(r.file(out["uri"].as_str().unwrap())).unwrap(),
        "22"
    );

    let r = run(
        &flow(
            &s3,
            "Download",
            "    bucket: bkt\n    prefix: data/\n    regexp: .*\\.csv\n",
        ),
        &[],
    )
    .await;
    let files = r.outputs("t")["files"].as_object().unwrap().clone();
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        ["data/a.csv", "data/b.csv"]
    );

    let r = run(
        &flow(&s3, "List", "    bucket: bkt\n    prefix: data/\n"),
        &[],
    )
    .await;
    let listed = r.outputs("t");
    let keys: Vec<&str> = listed["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["data/a.csv", "data/b.csv", "data/c.txt"]);
    let r = run(
        &flow(
            &s3,
            "List",
            "    bucket: bkt\n    regexp: .*\\.csv\n    maxFiles: 2\n",
        ),
        &[],
    )
    .await;
    assert_eq!(r.outputs("t")["objects"].as_array().unwrap().len(), 2);
    assert!(
        r.logs
            .contains("3 objects match; keeping the first 2 (maxFiles)"),
        "{}",
        r.logs
    );
    assert_eq!(r.outputs("t")["objects"][0]["size"], 1);

    let r = run(
        &flow(&s3, "Delete", "    bucket: bkt\n    key: data/a.csv\n"),
        &[],
    )
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert!(
        r.outputs("t")
            .as_object()
            .unwrap()
            .contains_key("deleteMarker")
    );
    assert!(s3.get("bkt", "data/a.csv").await.is_none());

    let r = run(&flow(&s3, "Download", "    bucket: bkt\n"), &[]).await;
    assert!(
        r.logs
            .contains("Invalid configuration: either specify 'key'"),
        "{}",
        r.logs
    );
    let r = run(
        &flow(&s3, "Download", "    bucket: bkt\n    key: nope.csv\n"),
        &[],
    )
    .await;
    assert!(
        r.logs.contains("no object `nope.csv` in bucket `bkt`"),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn errors_name_what_to_check_and_write_nothing() {
    let s3 = S3::start().await;
    s3.create_bucket("bkt").await;
    let src = local_file("x.csv", b"x");
    let inputs = [("a", src.to_str().unwrap())];
    let upload = "    bucket: bkt\n    from: \"{{ inputs.a }}\"\n    key: x.csv\n";

    let wrong = flow(&s3, "Upload", upload).replace(&s3.secret_key, "not-the-secret-key-42");
    let r = run(&wrong, &inputs).await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        r.logs.contains("SignatureDoesNotMatch")
            && r.logs.contains("the secret key is probably wrong"),
        "{}",
        r.logs
    );
    assert!(!r.logs.contains("not-the-secret-key-42"), "{}", r.logs);

    let unknown = flow(&s3, "Upload", upload).replace(&s3.access_key, "AKIAUNKNOWN");
    let r = run(&unknown, &inputs).await;
    assert!(
        r.logs.contains("does not know the access key"),
        "{}",
        r.logs
    );

    let r = run(
        &flow(
            &s3,
            "Upload",
            &upload.replace("bucket: bkt", "bucket: missing-bucket"),
        ),
        &inputs,
    )
    .await;
    assert!(
        r.logs.contains("bucket `missing-bucket` does not exist"),
        "{}",
        r.logs
    );

    let r = run(
        &flow(&s3, "Upload", upload).replace(&s3.endpoint, "http://127.0.0.1:1"),
        &inputs,
    )
    .await;
    assert!(
        r.logs
            .contains("cannot reach the S3 endpoint http://127.0.0.1:1"),
        "{}",
        r.logs
    );

    let r = run(&flow(&s3, "Upload", "    bucket: bkt\n    from: kestra:///other/flow/executions/x/tasks/t/y/file.csv\n    key: x.csv\n"), &[]).await;
    assert!(
        r.logs.contains("didn't belong to the current execution"),
        "{}",
        r.logs
    );

    let r = run(
        &flow(&s3, "Upload", upload).replace(&s3.endpoint, "http://169.254.169.254"),
        &inputs,
    )
    .await;
    assert!(
        r.logs.contains("resolves to a link-local address"),
        "{}",
        r.logs
    );

    assert!(
        s3.get("bkt", "x.csv").await.is_none(),
        "nothing was written"
    );
}

#[tokio::test]
async fn credentials_and_endpoint_from_the_aws_environment() {
    let s3 = S3::start().await;
    s3.create_bucket("kestra-bucket").await;
    let src = local_file("users.csv", b"from env");
    let yaml = "id: s3\nnamespace: company.team\ninputs:\n  - id: a\n    type: FILE\ntasks:\n  - id: t\n    type: io.kestra.plugin.aws.s3.Upload\n    bucket: kestra-bucket\n    from: \"{{ inputs.a }}\"\n    key: data/users.csv\n";
    let env = [
        ("AWS_ACCESS_KEY_ID", s3.access_key.as_str()),
        ("AWS_SECRET_ACCESS_KEY", s3.secret_key.as_str()),
        ("AWS_ENDPOINT_URL_S3", s3.endpoint.as_str()),
        ("AWS_REGION", "eu-west-3"),
    ];
    let r = run_flow_with(
        &[
            runner_core::TASKS,
            runner_core_tasks::TASKS,
            runner_aws::TASKS,
        ],
        yaml,
        &[("a", src.to_str().unwrap())],
        &env,
    )
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert_eq!(
        s3.get("kestra-bucket", "data/users.csv").await.unwrap(),
        b"from env"
    );
    let r = run_flow_with(
        &[
            runner_core::TASKS,
            runner_core_tasks::TASKS,
            runner_aws::TASKS,
        ],
        yaml,
        &[("a", src.to_str().unwrap())],
        &[],
    )
    .await;
    assert!(r.logs.contains("no AWS credentials"), "{}", r.logs);
    assert_eq!(r.outputs("t"), Json::Null, "a failed upload has no outputs");
}

#[tokio::test]
async fn create_bucket_makes_it_and_a_second_time_says_it_exists() {
    let s3 = S3::start().await;
    let r = run(&flow(&s3, "CreateBucket", "    bucket: made-here\n"), &[]).await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let out = r.outputs("t");
    assert_eq!(out["bucket"], "made-here");
    assert_eq!(out["region"], "us-east-1");
    s3.client()
        .head_bucket()
        .bucket("made-here")
        .send()
        .await
        .expect("the bucket exists");
    let again = run(&flow(&s3, "CreateBucket", "    bucket: made-here\n"), &[]).await;
    assert_eq!(again.state.as_str(), "FAILED", "{}", again.logs);
    assert!(
        again.logs.contains(&format!(
            "S3 request for bucket `made-here` failed on {} (BucketAlreadyExists)\n",
            s3.endpoint
        )),
        "{}",
        again.logs
    );
}
