//! The same fixtures on Docker: `TESTENV=containers` with `--features
//! runner-testkit/containers`. The images are the ones scripts/test-images.sh builds here
//! (no registry needed), which answer as the official ones do; a user with a registry points
//! `RUNNER_TEST_POSTGRES_IMAGE=postgres:15` and `RUNNER_TEST_S3_IMAGE=minio/minio:latest` at
//! those unchanged.

use crate::{PgBackend, Postgres, S3, S3Backend};
use testcontainers_modules::minio::MinIO;
use testcontainers_modules::postgres::Postgres as PostgresImage;
use testcontainers_modules::testcontainers::core::IntoContainerPort;
use testcontainers_modules::testcontainers::runners::AsyncRunner;
use testcontainers_modules::testcontainers::{ContainerAsync, ImageExt};

pub(crate) type PostgresContainer = ContainerAsync<PostgresImage>;

/// `name:tag` from `variable`, else `default`.
fn image(variable: &str, default: &str) -> (String, String) {
    let reference = std::env::var(variable).unwrap_or_else(|_| default.to_string());
    let after_slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[after_slash..].rfind(':') {
        Some(i) => (
            reference[..after_slash + i].to_string(),
            reference[after_slash + i + 1..].to_string(),
        ),
        None => (reference, "latest".to_string()),
    }
}
pub(crate) type MinioContainer = ContainerAsync<MinIO>;

/// PostgreSQL 15 with password authentication; the user owns a database of its name.
/// `params` become server settings (`-c name=value`); a setting naming a local file (the TLS
/// certificate and key) has the file copied into the container, where the entrypoint hands
/// `/certs` to the server's user.
pub(crate) async fn postgres(user: &str, port: Option<u16>, params: &[(&str, &str)]) -> Postgres {
    let password = format!("pw-{}", runner_core::ids::random_u64() % 1_000_000);
    let (name, tag) = image(
        "RUNNER_TEST_POSTGRES_IMAGE",
        "localhost/runner-postgres:test",
    );
    let image = PostgresImage::default()
        .with_user(user)
        .with_password(&password)
        .with_db_name(user)
        .with_name(name)
        .with_tag(tag);
    let mut args = vec!["postgres".to_string()];
    let mut copies = Vec::new();
    for (k, v) in params {
        let value = if std::path::Path::new(v).is_file() {
            let name = std::path::Path::new(v)
                .file_name()
                .expect("a file name")
                .to_string_lossy()
                .into_owned();
            copies.push((format!("/certs/{name}"), std::path::PathBuf::from(v)));
            format!("/var/lib/postgresql/certs/{name}")
        } else {
            v.to_string()
        };
        args.extend(["-c".to_string(), format!("{k}={value}")]);
    }
    let mut request = image.with_cmd(args);
    for (target, source) in copies {
        request = request.with_copy_to(
            testcontainers_modules::testcontainers::CopyTargetOptions::new(target).with_mode(0o600),
            source,
        );
    }
    let request = match port {
        Some(p) => request.with_mapped_port(p, 5432.tcp()),
        None => request,
    };
    let container = request
        .start()
        .await
        .expect("start the postgres container (is Docker running?)");
    let port = container
        .get_host_port_ipv4(5432)
        .await
        .expect("the container's port");
    Postgres {
        _db: PgBackend::Container(Box::new(container)),
        port,
        user: user.into(),
        password,
    }
}

/// An S3 server (minio/minio's interface); buckets are created through the S3 API.
pub(crate) async fn minio() -> S3 {
    let (name, tag) = image("RUNNER_TEST_S3_IMAGE", "localhost/runner-s3:test");
    // A key pair of its own (both images honour these): a wrong secret must differ from the
    // access key for the tests that check which of the two S3 says is wrong.
    let access_key = "AKIARUNNERTEST".to_string();
    let secret_key = format!("secret-{}", runner_core::ids::friendly_id());
    let container = MinIO::default()
        .with_name(name)
        .with_tag(tag)
        .with_env_var("MINIO_ROOT_USER", &access_key)
        .with_env_var("MINIO_ROOT_PASSWORD", &secret_key)
        .start()
        .await
        .expect("start the minio container (is Docker running?)");
    let port = container
        .get_host_port_ipv4(9000)
        .await
        .expect("the container's port");
    S3 {
        endpoint: format!("http://127.0.0.1:{port}"),
        access_key,
        secret_key,
        backend: S3Backend::Container(Box::new(container)),
    }
}
