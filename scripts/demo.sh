#!/usr/bin/env bash
# The headline flow on this machine, with no Docker: builds runner, starts a throwaway
# PostgreSQL on 127.0.0.1:56982 (seeded with `users`) and an S3 server with signature checks
# (runner-s3: s3s-fs, built with the workspace) on loopback, writes the three secrets to .env, encodes them with
# `runner secrets encode`, runs flows/postgres_to_s3.yaml with --env-file .env_encoded, shows
# the uploaded object, and stops everything (also on Ctrl-C or failure).
# Usage: scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
. scripts/services.sh
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# A debug build: three times faster to compile from a fresh clone than the release build
# (about 3 minutes against 9 on 2 cores, most of the difference the release binary's LTO),
# and four rows need no optimiser. The benchmarks use the release build.
export RUNNER_S3_BIN=$repo/target/debug/runner-s3
services_setup
say "building runner and its S3 server (debug build, about 3 minutes the first time)"
# DuckDB's prebuilt library (npm), when it can be had: compiling DuckDB would take 30 minutes.
. scripts/duckdb-env.sh
cargo build --locked -q "${CARGO_DUCKDB[@]}" -p runner -p runner-testkit --bins
runner=$repo/target/debug/runner

say "starting PostgreSQL on 127.0.0.1:56982"
start_postgres
pg_sql -d app_user <<'SQL'
create table users (id int primary key, first_name text, last_name text, city text);
insert into users values (1, 'Ada', 'Lovelace', 'London'), (2, 'Grace', 'Hopper', 'Arlington'),
  (3, 'Alan', 'Turing', 'Manchester'), (4, 'Katherine', 'Johnson', 'Hampton');
SQL

say "starting an S3 server (runner-s3: s3s-fs, SigV4 checked) on loopback"
start_s3 kestra-bucket

say "writing .env and encoding it with runner secrets encode"
cd "$work"
write_env .env
"$runner" secrets encode .env -o .env_encoded

say "runner run flows/postgres_to_s3.yaml --env-file .env_encoded"
AWS_ENDPOINT_URL_S3="$s3_endpoint" "$runner" run "$repo/flows/postgres_to_s3.yaml" \
    --env-file .env_encoded --storage "$work/storage"

say "the uploaded object, read back through the S3 server"
url="$s3_endpoint/kestra-bucket/data/users.csv"
size=$(s3_curl -I "$url" | tr -d '\r' | awk -F': ' 'tolower($1)=="content-length" {print $2}')
echo "key: s3://kestra-bucket/data/users.csv  size: $size bytes  first lines:"
s3_curl "$url" | head -n 3
say "done: services stop and temporary files go when this script exits"
