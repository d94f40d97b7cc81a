//! The headline flow end to end: `runner run flows/postgres_to_s3.yaml` against a real
//! PostgreSQL on 127.0.0.1:56982 and an S3 server with signature checks, secrets from an env
//! file, as a user runs it. The object is read back through the server and parsed with ion-rs.

use crate::support;

use base64::Engine;
use runner_testkit::{Postgres, S3};
use std::path::{Path, PathBuf};
use std::process::Output;

/// The flow's PostgreSQL port is fixed: these tests take turns.
static PORT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

struct Headline {
    pg: Postgres,
    s3: S3,
    dir: PathBuf,
}

impl Headline {
    async fn start(rows: u32) -> Headline {
        let pg = Postgres::start_as("app_user", Some(56982)).await;
        connect(&pg)
            .await
            .batch_execute(&format!(
                "create table users (id int primary key, first_name text, last_name text, city text);
                 insert into users select g, 'First ' || g, 'Last \"' || g || '\"', (array['Paris','Lisbon','Zürich'])[1 + g % 3]
                 from generate_series(1, {rows}) g"
            ))
            .await
            .expect("seed users");
        let s3 = S3::start().await;
        s3.create_bucket("kestra-bucket").await;
        let dir =
            std::env::temp_dir().join(format!("runner-e2e-{}", runner_core::ids::friendly_id()));
        std::fs::create_dir_all(&dir).unwrap();
        Headline { pg, s3, dir }
    }

    /// The plain values a user would put in `.env`.
    fn plain_env(&self) -> String {
        format!(
            "POSTGRES_PASSWORD={}\nAWS_ACCESS_KEY={}\nAWS_SECRET_KEY={}\n",
            self.pg.password, self.s3.access_key, self.s3.secret_key
        )
    }

    fn secrets(&self) -> [&str; 3] {
        [&self.pg.password, &self.s3.access_key, &self.s3.secret_key]
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_runner"));
        cmd.args(args)
            .current_dir(&self.dir)
            .env("NO_COLOR", "1")
            .env("AWS_ENDPOINT_URL_S3", &self.s3.endpoint);
        for (k, _) in std::env::vars() {
            if ["SECRET_", "ENV_", "RUNNER_", "AWS_"]
                .iter()
                .any(|p| k.starts_with(p))
                && k != "AWS_ENDPOINT_URL_S3"
            {
                cmd.env_remove(k);
            }
        }
        cmd
    }

    async fn run(&self, args: &[&str], env: &[(&str, String)]) -> Output {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().await.unwrap()
    }

    /// Every byte the run left: stdout, stderr and every file under the storage directory.
    fn everything(&self, out: &Output) -> String {
        let mut all = String::from_utf8_lossy(&out.stdout).into_owned();
        all.push_str(&String::from_utf8_lossy(&out.stderr));
        for f in walk(&self.dir.join("st")) {
            all.push_str(&String::from_utf8_lossy(&std::fs::read(f).unwrap()));
        }
        all
    }

    fn assert_no_secret(&self, out: &Output) {
        let all = self.everything(out);
        for s in self.secrets() {
            assert!(!all.contains(s), "a secret leaked:\n{all}");
            assert!(!all.contains(&b64(s)), "a secret's base64 leaked:\n{all}");
        }
    }

    /// Removes the uploaded object, so the next run must upload it again.
    async fn delete_upload(&self) {
        self.s3
            .client()
            .delete_object()
            .bucket("kestra-bucket")
            .key("data/users.csv")
            .send()
            .await
            .unwrap();
        assert!(
            self.s3
                .get("kestra-bucket", "data/users.csv")
                .await
                .is_none()
        );
    }

    /// The uploaded object, parsed with ion-rs, as (id, first_name, last_name, city).
    async fn uploaded_rows(&self) -> Option<Vec<(i64, String, String, String)>> {
        let bytes = self.s3.get("kestra-bucket", "data/users.csv").await?;
        let rows = ion_rs::Element::read_all(&bytes).expect("the object is Ion");
        Some(
            rows.iter()
                .map(|r| {
                    let s = r.as_struct().unwrap();
                    let text = |k: &str| s.get(k).unwrap().as_string().unwrap().to_string();
                    (
                        s.get("id").unwrap().as_i64().unwrap(),
                        text("first_name"),
                        text("last_name"),
                        text("city"),
                    )
                })
                .collect(),
        )
    }

    async fn table_rows(&self) -> Vec<(i64, String, String, String)> {
        connect(&self.pg)
            .await
            .query("select id, first_name, last_name, city from users", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| (i64::from(r.get::<_, i32>(0)), r.get(1), r.get(2), r.get(3)))
            .collect()
    }
}

impl Drop for Headline {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn connect(pg: &Postgres) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(pg.port)
        .user(&pg.user)
        .password(&pg.password)
        .dbname(&pg.user)
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect as the flow's user");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flat_map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() { walk(&p) } else { vec![p] }
        })
        .collect()
}

fn flow() -> String {
    support::repo_root()
        .join("flows/postgres_to_s3.yaml")
        .display()
        .to_string()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn the_flow_moves_every_row_with_secrets_from_runner_secrets_encode() {
    let _turn = PORT.lock().await;
    let h = Headline::start(500).await;
    std::fs::write(h.dir.join(".env"), h.plain_env()).unwrap();
    let enc = h.run(&["secrets", "encode"], &[]).await;
    assert!(enc.status.success(), "{}", stderr(&enc));
    let out = h
        .run(
            &[
                "run",
                &flow(),
                "--env-file",
                ".env_encoded",
                "--storage",
                "st",
                "--json",
            ],
            &[],
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut got = h.uploaded_rows().await.expect("the object exists");
    let mut want = h.table_rows().await;
    got.sort();
    want.sort();
    assert_eq!(got.len(), 500);
    assert_eq!(got, want, "the object holds exactly the table's rows");
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["taskRunList"][0]["outputs"]["size"], 500);
    assert_eq!(record["taskRunList"][1]["outputs"]["key"], "data/users.csv");
    h.assert_no_secret(&out);
}

#[tokio::test]
async fn secrets_from_the_environment_the_guide_loop_and_the_macro_form() {
    let _turn = PORT.lock().await;
    let h = Headline::start(20).await;
    // 1. Process environment.
    let env = [
        ("SECRET_POSTGRES_PASSWORD", b64(&h.pg.password)),
        ("SECRET_AWS_ACCESS_KEY", b64(&h.s3.access_key)),
        ("SECRET_AWS_SECRET_KEY", b64(&h.s3.secret_key)),
    ];
    let out = h.run(&["run", &flow(), "--storage", "st"], &env).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    h.assert_no_secret(&out);
    assert_eq!(h.uploaded_rows().await.unwrap().len(), 20);
    h.delete_upload().await;
    // 2. The shell loop of Kestra's guide.
    std::fs::write(h.dir.join(".env"), h.plain_env()).unwrap();
    let status = std::process::Command::new("bash")
        .current_dir(&h.dir)
        .args(["-c", "while IFS='=' read -r key value; do echo \"SECRET_$key=$(echo -n \"$value\" | base64)\"; done < .env > .env_loop"])
        .status()
        .unwrap();
    assert!(status.success());
    let out = h
        .run(
            &["run", &flow(), "--env-file", ".env_loop", "--storage", "st"],
            &[],
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    h.assert_no_secret(&out);
    assert_eq!(h.uploaded_rows().await.unwrap().len(), 20);
    h.delete_upload().await;
    // 3. The macro form.
    let macros = format!(
        "SECRET_POSTGRES_PASSWORD={{{{ \"{}\" | base64encode }}}}\nSECRET_AWS_ACCESS_KEY={{{{ \"{}\" | base64encode }}}}\nSECRET_AWS_SECRET_KEY={{{{ \"{}\" | base64encode }}}}\n",
        h.pg.password, h.s3.access_key, h.s3.secret_key
    );
    std::fs::write(h.dir.join(".env_macro"), macros).unwrap();
    let out = h
        .run(
            &[
                "run",
                &flow(),
                "--env-file",
                ".env_macro",
                "--storage",
                "st",
            ],
            &[],
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(h.uploaded_rows().await.unwrap().len(), 20);
    h.assert_no_secret(&out);
}

#[tokio::test]
async fn each_failure_says_what_to_check_and_writes_nothing() {
    let _turn = PORT.lock().await;
    let h = Headline::start(10).await;
    let good = |k: &str| match k {
        "POSTGRES_PASSWORD" => b64(&h.pg.password),
        "AWS_ACCESS_KEY" => b64(&h.s3.access_key),
        _ => b64(&h.s3.secret_key),
    };
    let env = |over: &str, value: Option<&str>| -> Vec<(&'static str, String)> {
        let mut e = Vec::new();
        for (var, name) in [
            ("SECRET_POSTGRES_PASSWORD", "POSTGRES_PASSWORD"),
            ("SECRET_AWS_ACCESS_KEY", "AWS_ACCESS_KEY"),
            ("SECRET_AWS_SECRET_KEY", "AWS_SECRET_KEY"),
        ] {
            if name == over {
                if let Some(v) = value {
                    e.push((var, b64(v)));
                }
            } else {
                e.push((var, good(name)));
            }
        }
        e
    };
    let cases: [(&str, Option<&str>, &str); 4] = [
        (
            "POSTGRES_PASSWORD",
            Some("wrong-pg-password"),
            "password authentication failed for user \"app_user\" (SQLSTATE 28P01)\n    help: check `username` and `password` ({{ secret('POSTGRES_PASSWORD') }})",
        ),
        (
            "AWS_SECRET_KEY",
            Some("wrong-s3-secret"),
            "the secret key is probably wrong; check `secretKeyId` ({{ secret('AWS_SECRET_KEY') }})",
        ),
        (
            "AWS_ACCESS_KEY",
            None,
            "Cannot find secret for key 'AWS_ACCESS_KEY'.",
        ),
        ("none", None, "bucket `kestra-bucket` does not exist"),
    ];
    for (which, value, message) in cases {
        if which == "none" {
            h.s3.delete_bucket("kestra-bucket").await;
        }
        let out = h
            .run(&["run", &flow(), "--storage", "st"], &env(which, value))
            .await;
        let err = stderr(&out);
        // A missing secret is found before the first task: nothing ran (2).
        let code = if value.is_none() && which != "none" {
            2
        } else {
            1
        };
        assert_eq!(out.status.code(), Some(code), "{which}: {err}");
        assert!(
            err.contains(message),
            "{which}: expected `{message}` in\n{err}"
        );
        assert!(
            h.uploaded_rows().await.is_none(),
            "{which}: no object written"
        );
        for v in ["wrong-pg-password", "wrong-s3-secret"] {
            assert!(!err.contains(v), "{which}: a wrong secret was printed");
        }
        h.assert_no_secret(&out);
    }
}

#[cfg(unix)]
#[tokio::test]
async fn ctrl_c_during_the_upload_leaves_no_object_and_no_parts() {
    use tokio::io::AsyncBufReadExt;
    let _turn = PORT.lock().await;
    // About 25 MiB of Ion: a multipart upload.
    let h = Headline::start(350_000).await;
    let mut cmd = h.command(&["run", &flow(), "--storage", "st"]);
    for (k, v) in &secret_env(&h, None) {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("Uploading") {
            break;
        }
    }
    assert!(seen.contains("Uploading"), "the upload started: {seen}");
    // Interrupt once the server holds the open multipart upload: parts are in flight.
    let mut open = false;
    for _ in 0..500 {
        open = h.s3.open_multipart_uploads().await > 0;
        if open {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(open, "the multipart upload opened on the server");
    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    while let Some(line) = lines.next_line().await.unwrap() {
        seen.push_str(&line);
        seen.push('\n');
    }
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(1), "{seen}");
    assert!(
        seen.contains("write_to_s3") && seen.contains("KILLED"),
        "{seen}"
    );
    assert_eq!(
        open_uploads_settled(&h).await,
        0,
        "no multipart upload left open"
    );
    assert!(h.uploaded_rows().await.is_none(), "no object");
}

#[tokio::test]
async fn the_csv_flow_matches_psql_csv_output() {
    let _turn = PORT.lock().await;
    let h = Headline::start(300).await;
    let env = [
        ("SECRET_POSTGRES_PASSWORD", b64(&h.pg.password)),
        ("SECRET_AWS_ACCESS_KEY", b64(&h.s3.access_key)),
        ("SECRET_AWS_SECRET_KEY", b64(&h.s3.secret_key)),
    ];
    let csv_flow = support::repo_root()
        .join("flows/postgres_to_s3_csv.yaml")
        .display()
        .to_string();
    let out = h.run(&["run", &csv_flow, "--storage", "st"], &env).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let uploaded = String::from_utf8(
        h.s3.get("kestra-bucket", "data/users.csv")
            .await
            .expect("the object exists"),
    )
    .unwrap();
    let psql = std::process::Command::new("psql")
        .env("PGPASSWORD", &h.pg.password)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            "56982",
            "-U",
            "app_user",
            "-d",
            "app_user",
            "--csv",
            "-c",
        ])
        .arg("select id, first_name, last_name, city from users")
        .output()
        .expect("psql runs");
    assert!(
        psql.status.success(),
        "{}",
        String::from_utf8_lossy(&psql.stderr)
    );
    assert_eq!(
        uploaded,
        String::from_utf8(psql.stdout).unwrap(),
        "the CSV equals psql --csv of the same query"
    );
    h.assert_no_secret(&out);
}

/// The secrets of the headline flow as `SECRET_*` variables, `AWS_SECRET_KEY` replaced when
/// `wrong_s3_secret` is given.
fn secret_env(h: &Headline, wrong_s3_secret: Option<&str>) -> Vec<(&'static str, String)> {
    vec![
        ("SECRET_POSTGRES_PASSWORD", b64(&h.pg.password)),
        ("SECRET_AWS_ACCESS_KEY", b64(&h.s3.access_key)),
        (
            "SECRET_AWS_SECRET_KEY",
            b64(wrong_s3_secret.unwrap_or(&h.s3.secret_key)),
        ),
    ]
}

/// Runs runner with the headline secrets; also returns the most multipart uploads seen open on
/// the server meanwhile.
async fn run_watching_uploads(h: &Headline, args: &[&str]) -> (Output, usize) {
    let done = std::sync::atomic::AtomicBool::new(false);
    let run = async {
        let out = h.run(args, &secret_env(h, None)).await;
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        out
    };
    let watch = async {
        let mut most = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            most = most.max(h.s3.open_multipart_uploads().await);
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        most
    };
    tokio::join!(run, watch)
}

/// Waits for the aborts the run left to the cleanup, then counts open multipart uploads.
async fn open_uploads_settled(h: &Headline) -> usize {
    let mut open = usize::MAX;
    for _ in 0..50 {
        open = h.s3.open_multipart_uploads().await;
        if open == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    open
}

#[tokio::test]
async fn the_upload_sends_parts_while_the_query_still_writes() {
    let _turn = PORT.lock().await;
    // About 25 MiB of Ion: three full 8 MiB parts can go before the query ends.
    let h = Headline::start(350_000).await;
    let out = h
        .run(
            &["run", &flow(), "--storage", "st", "--log-level", "debug"],
            &secret_env(&h, None),
        )
        .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let line = err
        .lines()
        .find(|l| {
            l.contains(
                "Continuing the multipart upload started while the previous task wrote the file",
            )
        })
        .unwrap_or_else(|| panic!("the upload adopted the parts sent early:\n{err}"));
    let parts: u32 = line
        .split(": ")
        .last()
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a part count in `{line}`"));
    assert!((1..=3).contains(&parts), "{line}");
    // Kestra's order is unchanged: the upload's task run starts after the query's ends.
    let query_done = err.find("[fetch]").unwrap();
    assert!(
        err.rfind("[fetch]").unwrap() < err.find("[write_to_s3]").unwrap(),
        "{err}"
    );
    assert!(query_done < err.find("[write_to_s3]").unwrap());
    let mut got = h.uploaded_rows().await.expect("the object exists");
    let mut want = h.table_rows().await;
    got.sort();
    want.sort();
    assert_eq!(got.len(), 350_000);
    assert_eq!(got, want, "the object holds exactly the table's rows");
    assert_eq!(open_uploads_settled(&h).await, 0);
    h.assert_no_secret(&out);

    // Sent early with a wrong key, nothing is adopted: the upload itself fails, as it says.
    let out = h
        .run(
            &["run", &flow(), "--storage", "st2"],
            &secret_env(&h, Some("wrong-s3-secret")),
        )
        .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the secret key is probably wrong; check `secretKeyId`"),
        "{err}"
    );
    assert!(!err.contains("wrong-s3-secret"));
    assert_eq!(open_uploads_settled(&h).await, 0);
}

#[tokio::test]
async fn a_query_failing_after_parts_went_leaves_no_object_and_no_parts() {
    let _turn = PORT.lock().await;
    let h = Headline::start(350_000).await;
    // The last row divides by zero: about 25 MiB are written (and parts sent) first. No
    // `order by`, so rows leave the table scan one by one instead of after a sort.
    let yaml = std::fs::read_to_string(flow()).unwrap().replace(
        "sql: select id, first_name, last_name, city from users",
        "sql: select id, first_name, last_name, city, 1 / (350000 - id) as boom from users",
    );
    assert!(yaml.contains("1 / (350000 - id)"));
    std::fs::write(h.dir.join("failing.yaml"), yaml).unwrap();
    let (out, most_open) =
        run_watching_uploads(&h, &["run", "failing.yaml", "--storage", "st"]).await;
    assert_eq!(most_open, 1, "one upload was open while the query ran");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("division by zero"), "{err}");
    assert!(
        !err.contains("[write_to_s3]"),
        "the upload never ran:\n{err}"
    );
    assert_eq!(
        open_uploads_settled(&h).await,
        0,
        "no multipart upload left open"
    );
    assert!(h.uploaded_rows().await.is_none(), "no object");
    h.assert_no_secret(&out);
}

#[tokio::test]
async fn parts_sent_for_another_key_are_aborted_and_the_run_uploads_its_own() {
    let _turn = PORT.lock().await;
    let h = Headline::start(350_000).await;
    // The preview of the upload has its own task run id: its key differs from the run's.
    let yaml = std::fs::read_to_string(flow())
        .unwrap()
        .replace("key: data/users.csv", "key: \"data/{{ taskrun.id }}.ion\"");
    assert!(yaml.contains("{{ taskrun.id }}"));
    std::fs::write(h.dir.join("keyed.yaml"), yaml).unwrap();
    let args = [
        "run",
        "keyed.yaml",
        "--storage",
        "st",
        "--log-level",
        "debug",
        "--json",
    ];
    let (out, most_open) = run_watching_uploads(&h, &args).await;
    assert!(most_open >= 1, "parts went early for the preview's key");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("Continuing the multipart upload"), "{err}");
    assert!(
        err.contains("renders differently here") && err.contains("it is aborted"),
        "{err}"
    );
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = record["taskRunList"][1]["outputs"]["key"].as_str().unwrap();
    let taskrun = record["taskRunList"][1]["id"].as_str().unwrap();
    assert_eq!(key, format!("data/{taskrun}.ion"));
    let object =
        h.s3.get("kestra-bucket", key)
            .await
            .expect("the run's object");
    let stored = record["taskRunList"][0]["outputs"]["uri"].as_str().unwrap();
    let stored = std::fs::read(
        h.dir
            .join("st")
            .join(stored.trim_start_matches("kestra:///")),
    )
    .expect("the query's file");
    assert!(
        stored.len() > 16 << 20,
        "a multipart upload: {}",
        stored.len()
    );
    assert!(object == stored, "the object is the query's file");
    assert_eq!(
        open_uploads_settled(&h).await,
        0,
        "the early upload was aborted"
    );
    h.assert_no_secret(&out);
}
