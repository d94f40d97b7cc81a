# Shared by scripts/demo.sh, scripts/test.sh and the benchmarks (sourced, not run): a throwaway
# PostgreSQL on 127.0.0.1:56982 with role app_user, and an S3 server on loopback with SigV4
# checks (runner-s3: s3s-fs, built with the workspace by `cargo build --release`).
# Call `services_setup` first; `services_stop` is installed as the EXIT/INT/TERM trap.

die() { echo "error: $*" >&2; exit 2; }

services_setup() {
    command -v cargo >/dev/null || die "cargo is missing: install the Rust toolchain (rustup.rs)"
    command -v curl >/dev/null || die "curl is missing (Debian: apt-get install curl)"
    pgbin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)" 2>/dev/null || true)
    if [ ! -x "$pgbin/initdb" ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            echo "installing PostgreSQL (Debian package)..." >&2
            apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null
            pgbin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
        else
            die "PostgreSQL server binaries are missing: install the Debian package postgresql"
        fi
    fi
    # The release build's by default (the benchmarks); the demo uses its debug build.
    s3s=${RUNNER_S3_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/release/runner-s3}
    work=$(mktemp -d /tmp/runner-services.XXXXXX)
    chmod 755 "$work"
    s3_pid=""
    trap services_stop EXIT INT TERM
    pg_password="pg-$(head -c 12 /dev/urandom | base64 | tr -dc A-Za-z0-9)"
    s3_access="AKIA$(head -c 9 /dev/urandom | base64 | tr -dc A-Z0-9)"
    s3_secret="$(head -c 24 /dev/urandom | base64 | tr -dc A-Za-z0-9)"
}

as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

services_stop() {
    set +e
    [ -n "${s3_pid:-}" ] && kill "$s3_pid" 2>/dev/null
    [ -f "${work:-/nonexistent}/pg/postmaster.pid" ] && as_postgres "$pgbin/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1
    [ -n "${work:-}" ] && rm -rf "$work"
}

# start_postgres: initdb with SCRAM auth, start on 127.0.0.1:56982, create database app_user.
start_postgres() {
    mkdir -p "$work/pg" "$work/sock"
    printf '%s\n' "$pg_password" > "$work/pwfile"
    if [ "$(id -u)" = 0 ]; then chown postgres "$work/pg" "$work/sock" "$work/pwfile"; fi
    as_postgres "$pgbin/initdb" -D "$work/pg" -U app_user --auth=scram-sha-256 --pwfile="$work/pwfile" >/dev/null
    rm -f "$work/pwfile"
    as_postgres "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg/server.log" -w \
        -o "-p 56982 -c listen_addresses=127.0.0.1 -k $work/sock" start >/dev/null
    pg_sql -d postgres -c "create database app_user"
}

# pg_sql ARGS...: psql as app_user (password from the environment, never on the command line).
pg_sql() {
    PGPASSWORD="$pg_password" psql -q -h 127.0.0.1 -p 56982 -U app_user "$@" >/dev/null
}

# start_s3 BUCKET: runner-s3 on a free loopback port; sets s3_port and s3_endpoint. Needs the
# release build (`cargo build --release`, which builds runner-s3 beside runner).
start_s3() {
    [ -x "$s3s" ] || die "$s3s is missing: build it first (cargo build --release)"
    s3_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mkdir -p "$work/s3/$1"
    RUNNER_S3_ACCESS_KEY="$s3_access" RUNNER_S3_SECRET_KEY="$s3_secret" \
        "$s3s" --host 127.0.0.1 --port "$s3_port" "$work/s3" >"$work/s3.log" 2>&1 &
    s3_pid=$!
    s3_endpoint="http://127.0.0.1:$s3_port"
    for _ in $(seq 1 100); do curl -s -o /dev/null "$s3_endpoint/" && return 0; sleep 0.1; done
    die "the S3 server did not start (see $work/s3.log)"
}

# s3_curl ARGS...: curl signed with SigV4 for the test server.
s3_curl() {
    curl -sS --fail --aws-sigv4 "aws:amz:eu-central-1:s3" --user "$s3_access:$s3_secret" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}

# write_env FILE: the three secrets of the headline flow, plain.
write_env() {
    printf 'POSTGRES_PASSWORD=%s\nAWS_ACCESS_KEY=%s\nAWS_SECRET_KEY=%s\n' "$pg_password" "$s3_access" "$s3_secret" > "$1"
}
