#!/usr/bin/env bash
# The service images of the containers test backend (TESTENV=containers), built here with no
# image registry, each rebuilt only when what it is made of changes (a content hash label):
#   localhost/runner-postgres:test  Debian's postgresql-15 on a debootstrap minbase rootfs, with
#                                   an entrypoint that honours POSTGRES_USER, POSTGRES_PASSWORD
#                                   and POSTGRES_DB as the official image does (SCRAM, port 5432)
#   localhost/runner-s3:test        runner-s3 (s3s-fs, SigV4 checked) on the Debian rootfs of
#                                   scripts/engine.sh, answering as minio/minio does: `server
#                                   DIR`, MINIO_ROOT_USER/MINIO_ROOT_PASSWORD, port 9000
# Usage: scripts/test-images.sh RUNNER_S3_BINARY     (after scripts/engine.sh)
# Environment: RUNNER_IMAGE_CACHE (default /var/cache/runner-images) keeps the rootfs tars.
set -euo pipefail

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

bin=${1:?give the runner-s3 binary}
[ -x "$bin" ] || die "$bin is not an executable (cargo build -p runner-testkit --bin runner-s3)"
cache=${RUNNER_IMAGE_CACHE:-/var/cache/runner-images}
docker=/usr/bin/docker
[ -x "$docker" ] || docker=$(command -v docker) || die "no docker command line (scripts/engine.sh installs it)"
here=$(cd "$(dirname "$0")" && pwd)

label_of() { "$docker" image inspect -f '{{ index .Config.Labels "runner.hash" }}' "$1" 2>/dev/null || true; }

mirror() {
    local m
    m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        sed -n 's/^deb \(http[^ ]*\) .*/\1/p' | head -1 || true)
    [ -n "$m" ] || m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
        sed -n 's/^URIs: *\(http[^ ]*\).*/\1/p' | head -1 || true)
    echo "${m:-http://deb.debian.org/debian}"
}

# --- PostgreSQL ---------------------------------------------------------------------------
pg_entry=$(cat <<'SH'
#!/bin/sh
# As the official postgres image: POSTGRES_PASSWORD (required), POSTGRES_USER (postgres),
# POSTGRES_DB (the user's name); SCRAM password authentication from any address.
set -eu
: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
data=/var/lib/postgresql/data
bin=/usr/lib/postgresql/15/bin
if [ ! -s "$data/PG_VERSION" ]; then
    mkdir -p "$data" /run/postgresql
    chown -R postgres:postgres "$data" /run/postgresql
    printf '%s\n' "$POSTGRES_PASSWORD" > /tmp/pwfile
    chown postgres /tmp/pwfile
    su postgres -s /bin/sh -c "$bin/initdb -D $data -U '$user' --auth=scram-sha-256 --pwfile=/tmp/pwfile" >/dev/null
    rm -f /tmp/pwfile
    echo "host all all all scram-sha-256" >> "$data/pg_hba.conf"
    if [ "$db" != "postgres" ] && [ "$db" != "$user" ] || [ "$user" != "postgres" ]; then
        su postgres -s /bin/sh -c "$bin/postgres --single -D $data -c listen_addresses='' postgres" <<SQL >/dev/null
CREATE DATABASE "$db" OWNER "$user";
SQL
    fi
    # As the official image: the .sql files of /docker-entrypoint-initdb.d, in order, as the user.
    for f in /docker-entrypoint-initdb.d/*.sql; do
        [ -f "$f" ] || continue
        { echo "SET ROLE \"$user\";"; cat "$f"; } |
            su postgres -s /bin/sh -c "$bin/postgres --single -j -D $data -c listen_addresses='' '$db'" >/dev/null
    done
fi
# Files given in /certs (a TLS certificate and key) go to the server's user, mode 0600.
if [ -d /certs ]; then
    mkdir -p /var/lib/postgresql/certs
    cp /certs/* /var/lib/postgresql/certs/
    chown -R postgres:postgres /var/lib/postgresql/certs
    chmod 600 /var/lib/postgresql/certs/*
fi
# As the official image: `postgres -c name=value...` are the server's settings.
[ "${1:-}" = postgres ] && shift
settings=""
for a in "$@"; do settings="$settings '$a'"; done
# The official image's first (temporary) server says this on stdout: clients wait for both.
echo "database system is ready to accept connections (init done)"
exec su postgres -s /bin/sh -c "exec $bin/postgres -D $data -c listen_addresses='*' -c port=5432 $settings"
SH
)
pg_hash=$(printf '%s\npostgresql-15\n' "$pg_entry" | sha256sum | cut -c1-16)
if [ "$(label_of localhost/runner-postgres:test)" != "$pg_hash" ]; then
    tarball="$cache/debian-postgresql-15.tar"
    if [ ! -s "$tarball" ]; then
        command -v debootstrap >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
        mkdir -p "$cache"
        root=$(mktemp -d)
        trap 'rm -rf "$root"' EXIT
        suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
        log "building a Debian rootfs with postgresql-15 (debootstrap, a minute or two)"
        timeout 900 debootstrap --variant=minbase --include=postgresql-15 "$suite" "$root/deb" "$(mirror)" >"$root/debootstrap.log" 2>&1 ||
            { tail -20 "$root/debootstrap.log" >&2; die "debootstrap failed"; }
        chroot "$root/deb" apt-get clean
        rm -rf "$root/deb/var/lib/apt/lists/"* "$root/deb/var/lib/postgresql/15"
        tar -C "$root/deb" -cf "$tarball.part" .
        mv "$tarball.part" "$tarball"
        rm -rf "$root"
        trap - EXIT
    fi
    ctx=$(mktemp -d)
    trap 'rm -rf "$ctx"' EXIT
    printf '%s\n' "$pg_entry" > "$ctx/entrypoint.sh"
    chmod 755 "$ctx/entrypoint.sh"
    "$docker" import "$tarball" localhost/runner-postgres-base:test >/dev/null
    cat > "$ctx/Dockerfile" <<DOCKERFILE
FROM localhost/runner-postgres-base:test
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
EXPOSE 5432
LABEL runner.hash=$pg_hash
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
DOCKERFILE
    DOCKER_BUILDKIT=0 "$docker" build -q -t localhost/runner-postgres:test "$ctx" >/dev/null
    rm -rf "$ctx"
    trap - EXIT
    log "built localhost/runner-postgres:test"
fi

# --- S3 -----------------------------------------------------------------------------------
s3_entry=$(cat <<'SH'
#!/bin/sh
# As minio/minio: `server DIR`, MINIO_ROOT_USER / MINIO_ROOT_PASSWORD (minioadmin), port 9000;
# "API:" on stderr once it listens.
set -eu
[ "${1:-}" = server ] && shift
dir=${1:-/data}
mkdir -p "$dir"
export RUNNER_S3_ACCESS_KEY=${MINIO_ROOT_USER:-minioadmin}
export RUNNER_S3_SECRET_KEY=${MINIO_ROOT_PASSWORD:-minioadmin}
exec /usr/local/bin/runner-s3 --host 0.0.0.0 --port 9000 "$dir"
SH
)
s3_hash=$( { printf '%s\n' "$s3_entry"; sha256sum < "$bin"; } | sha256sum | cut -c1-16)
if [ "$(label_of localhost/runner-s3:test)" != "$s3_hash" ]; then
    "$docker" image inspect localhost/runner-python:test >/dev/null 2>&1 ||
        die "localhost/runner-python:test is missing: run scripts/engine.sh first"
    ctx=$(mktemp -d)
    trap 'rm -rf "$ctx"' EXIT
    cp "$bin" "$ctx/runner-s3"
    printf '%s\n' "$s3_entry" > "$ctx/entrypoint.sh"
    chmod 755 "$ctx/entrypoint.sh" "$ctx/runner-s3"
    cat > "$ctx/Dockerfile" <<DOCKERFILE
FROM localhost/runner-python:test
COPY runner-s3 /usr/local/bin/runner-s3
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
EXPOSE 9000
LABEL runner.hash=$s3_hash
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["server", "/data"]
DOCKERFILE
    DOCKER_BUILDKIT=0 "$docker" build -q -t localhost/runner-s3:test "$ctx" >/dev/null
    rm -rf "$ctx"
    trap - EXIT
    log "built localhost/runner-s3:test"
fi
