#!/usr/bin/env bash
# The headline flow on this machine, with no Docker: builds runner, starts a throwaway
# PostgreSQL on 127.0.0.1:56982 (seeded with `users`) and an S3 server with signature checks
# (s3s-fs) on loopback, writes the three secrets to .env, encodes them with
# `runner secrets encode`, runs flows/postgres_to_s3.yaml with --env-file .env_encoded, shows
# the uploaded object, and stops everything (also on Ctrl-C or failure).
# Usage: scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "error: $*" >&2; exit 2; }

command -v cargo >/dev/null || die "cargo is missing: install the Rust toolchain (rustup.rs)"
command -v curl >/dev/null || die "curl is missing (Debian: apt-get install curl)"
pgbin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)" 2>/dev/null || true)
if [ ! -x "$pgbin/initdb" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing PostgreSQL (Debian package)"
        apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null
        pgbin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
    else
        die "PostgreSQL server binaries are missing: install the Debian package postgresql"
    fi
fi
if ! command -v s3s-fs >/dev/null && [ ! -x "$HOME/.cargo/bin/s3s-fs" ]; then
    say "installing the s3s-fs S3 server (cargo install, a few minutes the first time)"
    cargo install s3s-fs --version 0.14.1 --features binary --locked
fi
s3s=$(command -v s3s-fs || echo "$HOME/.cargo/bin/s3s-fs")

say "building runner"
cargo build --release --locked -q
runner=$repo/target/release/runner

work=$(mktemp -d /tmp/runner-demo.XXXXXX)
chmod 755 "$work"
pg_pid_file="$work/pg/postmaster.pid"
s3_pid=""
as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
cleanup() {
    set +e
    [ -n "$s3_pid" ] && kill "$s3_pid" 2>/dev/null
    [ -f "$pg_pid_file" ] && as_postgres "$pgbin/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

pg_password="pg-$(head -c 12 /dev/urandom | base64 | tr -dc A-Za-z0-9)"
s3_access="AKIADEMO$(head -c 6 /dev/urandom | base64 | tr -dc A-Z0-9)"
s3_secret="$(head -c 24 /dev/urandom | base64 | tr -dc A-Za-z0-9)"

say "starting PostgreSQL on 127.0.0.1:56982"
mkdir -p "$work/pg" "$work/sock"
printf '%s\n' "$pg_password" > "$work/pwfile"
[ "$(id -u)" = 0 ] && chown postgres "$work/pg" "$work/sock" "$work/pwfile"
as_postgres "$pgbin/initdb" -D "$work/pg" -U app_user --auth=scram-sha-256 --pwfile="$work/pwfile" >/dev/null
rm -f "$work/pwfile"
as_postgres "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg/server.log" -w \
    -o "-p 56982 -c listen_addresses=127.0.0.1 -k $work/sock" start >/dev/null
export PGPASSWORD="$pg_password"
psql -q -h 127.0.0.1 -p 56982 -U app_user -d postgres -c "create database app_user" >/dev/null
psql -q -h 127.0.0.1 -p 56982 -U app_user -d app_user >/dev/null <<'SQL'
create table users (id int primary key, first_name text, last_name text, city text);
insert into users values (1, 'Ada', 'Lovelace', 'London'), (2, 'Grace', 'Hopper', 'Arlington'),
  (3, 'Alan', 'Turing', 'Manchester'), (4, 'Katherine', 'Johnson', 'Hampton');
SQL
unset PGPASSWORD

say "starting an S3 server (s3s-fs, SigV4 checked) on loopback"
s3_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/s3/kestra-bucket"
"$s3s" --host 127.0.0.1 --port "$s3_port" --access-key "$s3_access" --secret-key "$s3_secret" "$work/s3" >"$work/s3.log" 2>&1 &
s3_pid=$!
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$s3_port/" && break; sleep 0.1; done

say "writing .env and encoding it with runner secrets encode"
cd "$work"
cat > .env <<ENV
POSTGRES_PASSWORD=$pg_password
AWS_ACCESS_KEY=$s3_access
AWS_SECRET_KEY=$s3_secret
ENV
"$runner" secrets encode .env -o .env_encoded

say "runner run flows/postgres_to_s3.yaml --env-file .env_encoded"
AWS_ENDPOINT_URL_S3="http://127.0.0.1:$s3_port" "$runner" run "$repo/flows/postgres_to_s3.yaml" \
    --env-file .env_encoded --storage "$work/storage"

say "the uploaded object, read back through the S3 server"
url="http://127.0.0.1:$s3_port/kestra-bucket/data/users.csv"
s3get() { curl -sS --fail --aws-sigv4 "aws:amz:eu-central-1:s3" --user "$s3_access:$s3_secret" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"; }
size=$(s3get -I "$url" | tr -d '\r' | awk -F': ' 'tolower($1)=="content-length" {print $2}')
echo "key: s3://kestra-bucket/data/users.csv  size: $size bytes  first lines:"
s3get "$url" | head -n 3
say "done: services stopped, temporary files removed"
