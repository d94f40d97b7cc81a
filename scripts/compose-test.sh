#!/usr/bin/env bash
# docker-compose.yaml for real, on a machine without an image registry: PostgreSQL, the S3
# server and the runner image from local images (docker/compose.local.yaml), the headline
# flow run with .env_encoded, the uploaded object read back, and no secret in `compose logs`.
# Usage: scripts/compose-test.sh [RUNNER_BINARY]   (default target/release/runner; after
# scripts/engine.sh and scripts/test-images.sh); everything it starts is removed when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
    compose=(docker-compose)
else
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || die "docker compose is missing (Debian: apt-get install docker-compose)"
    log "installing docker-compose (Debian package)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-compose >/dev/null
    compose=(docker-compose)
fi
bin=$(realpath "${1:-target/release/runner}" 2>/dev/null) || die "${1:-target/release/runner} is missing: cargo build --release"
[ -x "$bin" ] || die "$bin is not an executable: cargo build --release"

# The runner image: the local Debian image with the binary (no registry, no rebuild).
ctx=$(mktemp -d)
work=$(mktemp -d)
cleanup() {
    (cd "$work" && "${compose[@]}" -p runnercompose -f docker-compose.yaml -f docker/compose.local.yaml down -v --remove-orphans >/dev/null 2>&1) || true
    rm -rf "$ctx" "$work"
}
trap cleanup EXIT INT TERM
cp "$bin" "$ctx/runner"
# A binary that links DuckDB's library (scripts/duckdb-env.sh) takes it along; its rpath names
# a folder of this machine, so the library goes where the image's loader looks.
libduckdb=$(ldd "$bin" 2>/dev/null | awk '$1 == "libduckdb.so" { print $3 }')
if [ -n "$libduckdb" ]; then
    [ -f "$libduckdb" ] || die "$bin needs libduckdb.so, which is not found (. scripts/duckdb-env.sh)"
    cp "$libduckdb" "$ctx/libduckdb.so"
    printf 'FROM localhost/runner-python:test\nCOPY libduckdb.so /usr/local/lib/libduckdb.so\nRUN ldconfig\nCOPY runner /usr/local/bin/runner\nWORKDIR /work\nENTRYPOINT ["runner"]\n' > "$ctx/Dockerfile"
else
    printf 'FROM localhost/runner-python:test\nCOPY runner /usr/local/bin/runner\nWORKDIR /work\nENTRYPOINT ["runner"]\n' > "$ctx/Dockerfile"
fi
DOCKER_BUILDKIT=0 docker build -q -t localhost/runner:test "$ctx" >/dev/null 2>"$ctx/build.log" ||
    { cat "$ctx/build.log" >&2; die "cannot build localhost/runner:test"; }

# A copy of the project's compose setup, with secrets of its own in .env (never in the repo).
cp -r docker-compose.yaml docker flows "$work/"
cd "$work"
pg_password="pg-$(head -c 12 /dev/urandom | base64 | tr -dc A-Za-z0-9)"
s3_access="AKIA$(head -c 9 /dev/urandom | base64 | tr -dc A-Z0-9)"
s3_secret="$(head -c 24 /dev/urandom | base64 | tr -dc A-Za-z0-9)"
printf 'POSTGRES_PASSWORD=%s\nAWS_ACCESS_KEY=%s\nAWS_SECRET_KEY=%s\n' "$pg_password" "$s3_access" "$s3_secret" > .env
"$bin" secrets encode .env -o .env_encoded 2>/dev/null
dc=("${compose[@]}" -p runnercompose -f docker-compose.yaml -f docker/compose.local.yaml)
log "docker compose up runner (PostgreSQL, S3, the headline flow)"
# `run` starts what the runner service depends on (healthy PostgreSQL and S3, the bucket made)
# and returns the flow's exit code.
if ! "${dc[@]}" run --rm runner > compose-up.log 2>&1; then
    tail -40 compose-up.log >&2
    die "the runner service failed"
fi
grep -q "ended SUCCESS" compose-up.log || { tail -40 compose-up.log >&2; die "the flow did not end SUCCESS"; }
# The object, read back through the S3 server with a signed request.
size=$(curl -sS --fail --aws-sigv4 "aws:amz:eu-central-1:s3" --user "$s3_access:$s3_secret" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" http://127.0.0.1:9000/kestra-bucket/data/users.csv | wc -c)
[ "$size" -gt 100 ] || die "data/users.csv holds $size bytes"
grep -q 'Lovelace' < <(curl -sS --fail --aws-sigv4 "aws:amz:eu-central-1:s3" --user "$s3_access:$s3_secret" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" http://127.0.0.1:9000/kestra-bucket/data/users.csv) ||
    die "data/users.csv does not hold the users table"
# No secret, plain or base64, in what compose printed or logged.
"${dc[@]}" logs --no-color > compose-logs.txt 2>&1
for v in "$pg_password" "$s3_secret" "$(printf %s "$pg_password" | base64)" "$(printf %s "$s3_secret" | base64)"; do
    if grep -qF -- "$v" compose-logs.txt compose-up.log; then
        die "a secret is in the compose logs"
    fi
done
echo "compose: the headline flow uploaded data/users.csv ($size bytes); no secret in the logs"
