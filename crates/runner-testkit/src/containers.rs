//! The same fixtures on Docker, for users who have it: `TESTENV=containers` with
//! `--features runner-testkit/containers` (postgres and minio images).

use crate::{PgBackend, Postgres, S3, S3Backend};
use testcontainers_modules::minio::MinIO;
use testcontainers_modules::postgres::Postgres as PostgresImage;
use testcontainers_modules::testcontainers::core::IntoContainerPort;
use testcontainers_modules::testcontainers::runners::AsyncRunner;
use testcontainers_modules::testcontainers::{ContainerAsync, ImageExt};

pub(crate) type PostgresContainer = ContainerAsync<PostgresImage>;
pub(crate) type MinioContainer = ContainerAsync<MinIO>;

/// PostgreSQL 15 with password authentication; the user owns a database of its name.
pub(crate) async fn postgres(user: &str, port: Option<u16>) -> Postgres {
    let password = format!("pw-{}", runner_core::ids::random_u64() % 1_000_000);
    let image = PostgresImage::default()
        .with_user(user)
        .with_password(&password)
        .with_db_name(user)
        .with_tag("15");
    let image = match port {
        Some(p) => image.with_mapped_port(p, 5432.tcp()),
        None => image,
    };
    let container = image
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

/// MinIO with its default credentials; buckets are created through the S3 API.
pub(crate) async fn minio() -> S3 {
    let container = MinIO::default()
        .start()
        .await
        .expect("start the minio container (is Docker running?)");
    let port = container
        .get_host_port_ipv4(9000)
        .await
        .expect("the container's port");
    S3 {
        endpoint: format!("http://127.0.0.1:{port}"),
        access_key: "minioadmin".into(),
        secret_key: "minioadmin".into(),
        backend: S3Backend::Container(Box::new(container)),
    }
}
