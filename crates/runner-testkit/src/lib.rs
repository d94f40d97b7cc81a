//! Real services for tests, started and stopped by the test itself: a throwaway PostgreSQL
//! server (pgtemp, from the machine's PostgreSQL binaries) with SCRAM password authentication,
//! so a wrong password really fails.

#[cfg(feature = "containers")]
mod containers;
pub mod contract;
pub mod git;
pub mod http;
pub mod kestra;
pub mod mock;
pub mod scripted;
pub mod servers;
pub mod smtp;

use pgtemp::{PgTempDB, PgTempDBBuilder};
use std::path::PathBuf;

/// A PostgreSQL server that lives as long as this value.
pub struct Postgres {
    _db: PgBackend,
    pub port: u16,
    pub user: String,
    pub password: String,
}

enum PgBackend {
    Local(#[allow(dead_code)] PgTempDB),
    #[cfg(feature = "containers")]
    Container(#[allow(dead_code)] Box<containers::PostgresContainer>),
}

/// `TESTENV=containers` selects Docker containers (needs the `containers` feature).
fn containers_requested() -> bool {
    let wanted = std::env::var("TESTENV").is_ok_and(|v| v == "containers");
    if wanted && !cfg!(feature = "containers") {
        panic!(
            "TESTENV=containers needs the fixtures built with `--features runner-testkit/containers`"
        );
    }
    wanted
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

fn openssl(args: &[&str]) {
    let status = std::process::Command::new("openssl")
        .args(args)
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .expect("the openssl command makes test certificates");
    assert!(status.success(), "openssl {args:?} failed");
}

/// A test certificate authority in `dir`: its certificate and key (made with `openssl`).
pub fn certificate_authority(dir: &std::path::Path, tag: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{tag}-ca.crt")),
        dir.join(format!("{tag}-ca.key")),
    );
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        &format!("/CN={tag} test CA"),
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
    ]);
    (cert, key)
}

/// A server certificate for the DNS name `name`, issued by the CA `(ca_cert, ca_key)`.
pub fn server_certificate(
    dir: &std::path::Path,
    ca: &(PathBuf, PathBuf),
    name: &str,
) -> (PathBuf, PathBuf) {
    let (cert, key, csr, ext) = (
        dir.join("server.crt"),
        dir.join("server.key"),
        dir.join("server.csr"),
        dir.join("server.ext"),
    );
    std::fs::write(
        &ext,
        format!("subjectAltName=DNS:{name}\nbasicConstraints=CA:FALSE\n"),
    )
    .expect("extensions file");
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        &format!("/CN={name}"),
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        csr.to_str().unwrap(),
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        csr.to_str().unwrap(),
        "-CA",
        ca.0.to_str().unwrap(),
        "-CAkey",
        ca.1.to_str().unwrap(),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        ext.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
    ]);
    (cert, key)
}

/// The directory holding `initdb` and `postgres`: on PATH, or Debian's versioned directory.
fn bin_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).find(|d| d.join("initdb").exists()));
    on_path.or_else(|| {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin"))
            .filter(|d| d.join("initdb").exists())
            .collect();
        dirs.sort();
        dirs.pop()
    })
}

impl Postgres {
    /// Starts a server on a free port of 127.0.0.1, database `postgres`.
    pub async fn start() -> Postgres {
        Self::start_as("runner", None).await
    }

    /// Starts a server whose superuser is `user` (with a database of the same name, which a
    /// JDBC URL without database uses), on `port` or a free one.
    pub async fn start_as(user: &str, port: Option<u16>) -> Postgres {
        Self::start_with(user, port, &[]).await
    }

    async fn start_with(user: &str, port: Option<u16>, params: &[(&str, &str)]) -> Postgres {
        if containers_requested() {
            #[cfg(feature = "containers")]
            return containers::postgres(user, port, params).await;
        }
        let bin = bin_dir().unwrap_or_else(|| {
            panic!("PostgreSQL server binaries (initdb, postgres) were not found: install the Debian package `postgresql` (scripts/test.sh does)")
        });
        let password = format!(
            "pw-{}-{}",
            std::process::id(),
            runner_core::ids::random_u64() % 100_000
        );
        let builder = PgTempDBBuilder::new()
            .with_bin_path(bin)
            .with_username(user)
            .with_password(&password)
            .with_dbname("postgres")
            .with_initdb_arg("auth", "scram-sha-256");
        let builder = params
            .iter()
            .fold(builder, |b, (k, v)| b.with_config_param(k, v));
        let builder = match port {
            Some(p) => builder.with_port(p),
            None => builder,
        };
        let db = builder.start_async().await;
        let port = db.db_port();
        let pg = Postgres {
            _db: PgBackend::Local(db),
            port,
            user: user.into(),
            password,
        };
        if user != "postgres" {
            pg.client()
                .await
                .batch_execute(&format!("create database \"{user}\""))
                .await
                .expect("create the user's database");
        }
        pg
    }

    /// A server that also accepts TLS, with a certificate for the name `localhost` (not for
    /// 127.0.0.1) issued by a test CA; returns the CA certificate as PEM, for `sslRootCert`.
    pub async fn start_tls() -> (Postgres, String) {
        let dir =
            std::env::temp_dir().join(format!("runner-pg-tls-{}", runner_core::ids::friendly_id()));
        std::fs::create_dir_all(&dir).expect("TLS directory");
        let ca = certificate_authority(&dir, "runner");
        let (cert, key) = server_certificate(&dir, &ca, "localhost");
        let pem = std::fs::read_to_string(&ca.0).expect("CA certificate");
        if is_root() {
            // The server runs as `postgres`, which must own its key (mode 0600).
            for path in [&dir, &cert, &key] {
                let status = std::process::Command::new("chown")
                    .arg("postgres")
                    .arg(path)
                    .status()
                    .expect("chown");
                assert!(status.success(), "chown {}", path.display());
            }
        }
        let pg = Self::start_with(
            "runner",
            None,
            &[
                ("ssl", "on"),
                ("ssl_cert_file", cert.to_str().unwrap()),
                ("ssl_key_file", key.to_str().unwrap()),
            ],
        )
        .await;
        (pg, pem)
    }

    pub fn jdbc_url(&self) -> String {
        format!("jdbc:postgresql://127.0.0.1:{}/postgres", self.port)
    }

    /// A client of its own, to prepare data and check results independently of the plugin.
    /// The server may still be starting (a loaded machine): connecting is retried until it
    /// accepts, for at most 30 s.
    pub async fn client(&self) -> tokio_postgres::Client {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        let (client, connection) = loop {
            let attempt = tokio_postgres::Config::new()
                .host("127.0.0.1")
                .port(self.port)
                .user(&self.user)
                .password(&self.password)
                .dbname("postgres")
                .connect(tokio_postgres::NoTls)
                .await;
            match attempt {
                Ok(pair) => break pair,
                Err(e) if tokio::time::Instant::now() < deadline && is_starting(&e) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => panic!("connect to the test server: {e:?}"),
            }
        };
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }
}

/// Whether a connection error means the server is not accepting yet (refused, or starting up).
fn is_starting(e: &tokio_postgres::Error) -> bool {
    let text = format!("{e:?}");
    text.contains("ConnectionRefused") || text.contains("starting up")
}

/// A finished in-process run: final state, the execution record, every log line.
pub struct Run {
    pub state: runner_core::State,
    pub record: serde_json::Value,
    pub logs: String,
    pub storage: PathBuf,
    /// Whether `storage` is the run's own temporary folder, removed with it.
    temporary: bool,
}

impl Drop for Run {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.storage);
        }
    }
}

impl Run {
    /// The outputs of the (first) task run of `task_id`.
    pub fn outputs(&self, task_id: &str) -> serde_json::Value {
        self.record["taskRunList"]
            .as_array()
            .and_then(|runs| runs.iter().find(|r| r["taskId"] == task_id))
            .map(|r| r["outputs"].clone())
            .unwrap_or(serde_json::Value::Null)
    }

    /// The local path of a `kestra:///` URI of this run.
    pub fn file(&self, uri: &str) -> PathBuf {
        self.storage.join(uri.trim_start_matches("kestra:///"))
    }
}

#[derive(Clone, Default)]
struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs a flow written inline with the given task lists, as `runner run` would, in-process.
/// Panics with the diagnostics when the flow is invalid.
pub async fn run_flow(tasks: &[&'static [runner_core::TaskDescriptor]], yaml: &str) -> Run {
    run_flow_with(tasks, yaml, &[], &[]).await
}

/// [`run_flow`] with input values (`name`, `value`; a FILE input takes a local path) and the
/// variables the run sees as its environment (AWS_*, SECRET_*, ...).
pub async fn run_flow_with(
    tasks: &[&'static [runner_core::TaskDescriptor]],
    yaml: &str,
    inputs: &[(&str, &str)],
    environment: &[(&str, &str)],
) -> Run {
    let options = RunOptions {
        inputs: inputs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        environment: environment
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..RunOptions::default()
    };
    run_flow_opts(tasks, yaml, options).await
}

/// What else a run may be given: inputs, its environment, namespace files, settings.
#[derive(Default)]
pub struct RunOptions {
    pub inputs: Vec<(String, String)>,
    pub environment: Vec<(String, String)>,
    /// `(namespace, folder)` of namespace files.
    pub namespace_files: Vec<(String, PathBuf)>,
    /// The run's services (a family's settings: where scripts run, the network policy...).
    pub services: runner_core::Services,
    /// Where working directories are made (default: the system's temporary folder).
    pub work_root: Option<PathBuf>,
    /// Where caches are kept (default: a folder in the storage directory).
    pub cache_dir: Option<PathBuf>,
    /// Storage directory (default: a new temporary one).
    pub storage: Option<PathBuf>,
    /// What the `http()` function calls (default: none, and it says so).
    pub http: Option<std::sync::Arc<dyn runner_template::HttpAccess>>,
    /// The KV store (default: none, and the kv tasks say so).
    pub kv: Option<std::sync::Arc<dyn runner_core::kv::KvStore>>,
    /// Where files flows upload as namespace files are kept (default: none, and the tasks
    /// that write namespace files say so).
    pub namespace_uploads: Option<PathBuf>,
    /// Kills the execution when this ends (as Ctrl-C would), with its text as the reason.
    pub stop: Option<std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send>>>,
}

/// [`run_flow`] with every option.
pub async fn run_flow_opts(
    tasks: &[&'static [runner_core::TaskDescriptor]],
    yaml: &str,
    options: RunOptions,
) -> Run {
    let registry = runner_core::Registry::new(tasks);
    let doc = runner_model::load_str(yaml).expect("valid YAML").remove(0);
    let v = runner_core::validate(&doc, &registry, &runner_template::Renderer::new());
    let errors: Vec<String> = v
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{} ({})", d.problem, d.path))
        .collect();
    let plan = v.plan.unwrap_or_else(|| panic!("invalid flow: {errors:?}"));
    let storage = options.storage.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "runner-testkit-{}",
            runner_core::ids::friendly_id()
        ))
    });
    let buf = Buf::default();
    let given: serde_json::Map<String, serde_json::Value> = options
        .inputs
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let environment = runner_core::Environment::from_variables(options.environment);
    let mut builder = runner_core::ExecutionBuilder::new(std::sync::Arc::new(plan))
        .registry(std::sync::Arc::new(runner_core::Registry::new(tasks)))
        .storage(&storage)
        .environment(environment)
        .cache_dir(options.cache_dir.unwrap_or_else(|| storage.join(".cache")))
        .log(
            Box::new(buf.clone()),
            runner_core::LogFormat::Text,
            runner_core::Level::Debug,
        )
        .inputs(given);
    if let Some(w) = options.work_root {
        builder = builder.work_root(w);
    }
    for (ns, dir) in options.namespace_files {
        builder = builder.namespace_files(ns, dir);
    }
    builder = builder.services(options.services);
    if let Some(h) = options.http {
        builder = builder.http(h);
    }
    if let Some(kv) = options.kv {
        builder = builder.kv(kv);
    }
    if let Some(dir) = options.namespace_uploads {
        builder = builder.namespace_uploads(dir);
    }
    let execution = builder.start().await.expect("valid inputs");
    let state = match options.stop {
        Some(stop) => execution.run_until(stop).await,
        None => execution.run().await,
    };
    let record = execution.record();
    execution.write_record().expect("the record is written");
    let logs = String::from_utf8(buf.0.lock().expect("log buffer").clone()).expect("UTF-8 logs");
    Run {
        state,
        record,
        logs,
        storage,
        temporary: options.storage.is_none(),
    }
}

/// An S3 server that checks SigV4 signatures (a wrong secret key gets 403): by default s3s over
/// a directory, in this process on 127.0.0.1; a MinIO container with `TESTENV=containers`. It
/// stops when this value is dropped.
pub struct S3 {
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    backend: S3Backend,
}

enum S3Backend {
    /// s3s over a directory, in this process.
    Local {
        root: PathBuf,
        server: tokio::task::JoinHandle<()>,
    },
    #[cfg(feature = "containers")]
    Container(#[allow(dead_code)] Box<containers::MinioContainer>),
}

impl S3 {
    pub async fn start() -> S3 {
        if containers_requested() {
            #[cfg(feature = "containers")]
            return containers::minio().await;
        }
        Self::start_local().await
    }

    async fn start_local() -> S3 {
        let root =
            std::env::temp_dir().join(format!("runner-s3-{}", runner_core::ids::friendly_id()));
        std::fs::create_dir_all(&root).expect("S3 root directory");
        let access_key = "AKIARUNNERTEST".to_string();
        let secret_key = format!("secret-{}", runner_core::ids::friendly_id());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let endpoint = format!("http://{}", listener.local_addr().expect("local address"));
        let server = serve_s3(
            listener,
            root.clone(),
            access_key.clone(),
            secret_key.clone(),
        )
        .expect("s3s-fs over the root directory");
        S3 {
            endpoint,
            access_key,
            secret_key,
            backend: S3Backend::Local { root, server },
        }
    }

    /// Creates a bucket.
    pub async fn create_bucket(&self, name: &str) {
        match &self.backend {
            S3Backend::Local { root, .. } => {
                std::fs::create_dir_all(root.join(name)).expect("bucket directory")
            }
            #[cfg(feature = "containers")]
            S3Backend::Container(_) => {
                self.client()
                    .create_bucket()
                    .bucket(name)
                    .send()
                    .await
                    .expect("create the bucket");
            }
        }
    }

    /// Deletes a bucket and what it holds.
    pub async fn delete_bucket(&self, name: &str) {
        match &self.backend {
            S3Backend::Local { root, .. } => {
                std::fs::remove_dir_all(root.join(name)).expect("remove the bucket directory")
            }
            #[cfg(feature = "containers")]
            S3Backend::Container(_) => {
                let client = self.client();
                let listed = client
                    .list_objects_v2()
                    .bucket(name)
                    .send()
                    .await
                    .expect("list the bucket");
                for o in listed.contents() {
                    client
                        .delete_object()
                        .bucket(name)
                        .key(o.key().unwrap_or_default())
                        .send()
                        .await
                        .expect("delete an object");
                }
                client
                    .delete_bucket()
                    .bucket(name)
                    .send()
                    .await
                    .expect("delete the bucket");
            }
        }
    }

    /// A client of its own, to check what the server holds independently of the plugin.
    pub fn client(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                &self.access_key,
                &self.secret_key,
                None,
                None,
                "testkit",
            ))
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// The bytes of an object, read back through the server.
    pub async fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let out = self
            .client()
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .ok()?;
        Some(out.body.collect().await.ok()?.into_bytes().to_vec())
    }

    /// Multipart uploads still open (none should be left behind). s3s-fs has no
    /// ListMultipartUploads, so locally this counts the uploads it keeps on disk.
    pub async fn open_multipart_uploads(&self) -> usize {
        match &self.backend {
            S3Backend::Local { root, .. } => std::fs::read_dir(root)
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .filter(|e| e.file_name().to_string_lossy().starts_with(".upload-"))
                        .count()
                })
                .unwrap_or(0),
            #[cfg(feature = "containers")]
            S3Backend::Container(_) => {
                let client = self.client();
                let buckets = client.list_buckets().send().await.expect("list buckets");
                let mut open = 0;
                for b in buckets.buckets() {
                    let out = client
                        .list_multipart_uploads()
                        .bucket(b.name().unwrap_or_default())
                        .send()
                        .await
                        .expect("list uploads");
                    open += out.uploads().len();
                }
                open
            }
        }
    }
}

impl Drop for S3 {
    // Without the `containers` feature the local backend is the only one.
    #[allow(irrefutable_let_patterns)]
    fn drop(&mut self) {
        if let S3Backend::Local { root, server } = &self.backend {
            server.abort();
            let _ = std::fs::remove_dir_all(root);
        }
    }
}

/// An S3 server over the folders of `root` (one per bucket) on `listener`, checking SigV4
/// signatures against one key pair; the test kit's and the `runner-s3` binary's.
pub fn serve_s3(
    listener: tokio::net::TcpListener,
    root: PathBuf,
    access_key: String,
    secret_key: String,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let fs = s3s_fs::FileSystem::new(&root).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    let mut builder = s3s::service::S3ServiceBuilder::new(BucketsMustExist {
        inner: fs,
        root,
        uploads: Default::default(),
    });
    builder.set_auth(s3s::auth::SimpleAuth::from_single(access_key, secret_key));
    let service = builder.build();
    Ok(tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let service = service.clone();
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                .await;
            });
        }
    }))
}

/// s3s-fs creates a missing bucket when an object is written to it; S3 answers NoSuchBucket.
/// This wrapper answers as S3 does and hands everything else to s3s-fs.
struct BucketsMustExist {
    inner: s3s_fs::FileSystem,
    root: PathBuf,
    /// Multipart uploads created through this server (bucket, key, id): s3s-fs keeps no
    /// bucket with an upload, so ListMultipartUploads answers from this list.
    uploads: std::sync::Mutex<Vec<(String, String, String)>>,
}

impl BucketsMustExist {
    fn check(&self, bucket: &str) -> s3s::S3Result<()> {
        if self.root.join(bucket).is_dir() {
            Ok(())
        } else {
            Err(s3s::s3_error!(NoSuchBucket))
        }
    }
}

#[async_trait::async_trait]
impl s3s::S3 for BucketsMustExist {
    async fn put_object(
        &self,
        req: s3s::S3Request<s3s::dto::PutObjectInput>,
    ) -> s3s::S3Result<s3s::S3Response<s3s::dto::PutObjectOutput>> {
        self.check(&req.input.bucket)?;
        self.inner.put_object(req).await
    }

    async fn create_multipart_upload(
        &self,
        req: s3s::S3Request<s3s::dto::CreateMultipartUploadInput>,
    ) -> s3s::S3Result<s3s::S3Response<s3s::dto::CreateMultipartUploadOutput>> {
        self.check(&req.input.bucket)?;
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let created = self.inner.create_multipart_upload(req).await?;
        if let Some(id) = &created.output.upload_id {
            self.uploads
                .lock()
                .expect("uploads")
                .push((bucket, key, id.clone()));
        }
        Ok(created)
    }

    async fn list_multipart_uploads(
        &self,
        req: s3s::S3Request<s3s::dto::ListMultipartUploadsInput>,
    ) -> s3s::S3Result<s3s::S3Response<s3s::dto::ListMultipartUploadsOutput>> {
        self.check(&req.input.bucket)?;
        // Open: created here and neither completed nor aborted (s3s-fs then removes its file).
        let open: Vec<s3s::dto::MultipartUpload> = self
            .uploads
            .lock()
            .expect("uploads")
            .iter()
            .filter(|(b, _, id)| {
                *b == req.input.bucket && self.root.join(format!(".upload-{id}.json")).exists()
            })
            .map(|(_, key, id)| s3s::dto::MultipartUpload {
                key: Some(key.clone()),
                upload_id: Some(id.clone()),
                ..Default::default()
            })
            .collect();
        Ok(s3s::S3Response::new(s3s::dto::ListMultipartUploadsOutput {
            bucket: Some(req.input.bucket.clone()),
            uploads: Some(open),
            ..Default::default()
        }))
    }

    async fn delete_bucket(
        &self,
        req: s3s::S3Request<s3s::dto::DeleteBucketInput>,
    ) -> s3s::S3Result<s3s::S3Response<s3s::dto::DeleteBucketOutput>> {
        self.inner.delete_bucket(req).await
    }

    async fn get_object(
        &self,
        req: s3s::S3Request<s3s::dto::GetObjectInput>,
    ) -> s3s::S3Result<s3s::S3Response<s3s::dto::GetObjectOutput>> {
        self.inner.get_object(req).await
    }

    async fn head_object(
        &self,
        req: s3s::S3Request<s3s::dto::HeadObjectInput>,
    ) -> s3s::S3Result<s3s::S3Response<s3s::dto::HeadObjectOutput>> {
        self.inner.head_object(req).await
    }

    async fn delete_object(
        &self,
        req: s3s::S3Request<s3s::dto::DeleteObjectInput>,
    ) -> s3s::S3Result<s3s::S3Response<s3s::dto::DeleteObjectOutput>> {
        self.inner.delete_object(req).await
    }

    async fn list_objects(
        &self,
        req: s3s::S3Request<s3s::dto::ListObjectsInput>,
    ) -> s3s::S3Result<s3s::S3Response<s3s::dto::ListObjectsOutput>> {
        self.inner.list_objects(req).await
    }

    async fn list_objects_v2(
        &self,
        req: s3s::S3Request<s3s::dto::ListObjectsV2Input>,
    ) -> s3s::S3Result<s3s::S3Response<s3s::dto::ListObjectsV2Output>> {
        self.inner.list_objects_v2(req).await
    }

    async fn head_bucket(
        &self,
        req: s3s::S3Request<s3s::dto::HeadBucketInput>,
    ) -> s3s::S3Result<s3s::S3Response<s3s::dto::HeadBucketOutput>> {
        self.inner.head_bucket(req).await
    }

    async fn create_bucket(
        &self,
        req: s3s::S3Request<s3s::dto::CreateBucketInput>,
    ) -> s3s::S3Result<s3s::S3Response<s3s::dto::CreateBucketOutput>> {
        self.inner.create_bucket(req).await
    }

    async fn list_buckets(
        &self,
        req: s3s::S3Request<s3s::dto::ListBucketsInput>,
    ) -> s3s::S3Result<s3s::S3Response<s3s::dto::ListBucketsOutput>> {
        self.inner.list_buckets(req).await
    }

    async fn upload_part(
        &self,
        req: s3s::S3Request<s3s::dto::UploadPartInput>,
    ) -> s3s::S3Result<s3s::S3Response<s3s::dto::UploadPartOutput>> {
        self.inner.upload_part(req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: s3s::S3Request<s3s::dto::CompleteMultipartUploadInput>,
    ) -> s3s::S3Result<s3s::S3Response<s3s::dto::CompleteMultipartUploadOutput>> {
        self.inner.complete_multipart_upload(req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: s3s::S3Request<s3s::dto::AbortMultipartUploadInput>,
    ) -> s3s::S3Result<s3s::S3Response<s3s::dto::AbortMultipartUploadOutput>> {
        self.inner.abort_multipart_upload(req).await
    }

    async fn list_parts(
        &self,
        req: s3s::S3Request<s3s::dto::ListPartsInput>,
    ) -> s3s::S3Result<s3s::S3Response<s3s::dto::ListPartsOutput>> {
        self.inner.list_parts(req).await
    }
}

/// This process's peak resident memory so far (Linux `VmHWM`), for benchmarks; 0 elsewhere.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The Python environment of the tools tests check runner against (fastavro, openpyxl,
/// pyarrow, the AWS CLI): RUNNER_FORMATS_VENV, else made (once) by scripts/formats-venv.sh.
pub fn formats_venv() -> &'static std::path::Path {
    static VENV: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    VENV.get_or_init(|| {
        if let Some(v) = std::env::var_os("RUNNER_FORMATS_VENV") {
            return PathBuf::from(v);
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = std::process::Command::new("bash")
            .arg(root.join("scripts/formats-venv.sh"))
            .output()
            .expect("scripts/formats-venv.sh runs");
        assert!(
            out.status.success(),
            "scripts/formats-venv.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
}
