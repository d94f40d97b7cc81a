#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what is missing, then runs the unit,
# engine, CLI and conformance tests. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }

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
command -v ruby >/dev/null 2>&1 || need+=(ruby)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing ${need[*]} (Debian packages)"
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
say "container engine for the Docker task runner tests"
if host=$(scripts/engine.sh); then
    export DOCKER_HOST=$host RUNNER_REQUIRE_ENGINE=1
    echo "engine at $DOCKER_HOST"
elif [ -n "${RUNNER_REQUIRE_ENGINE:-}" ]; then
    echo "error: no container engine, and RUNNER_REQUIRE_ENGINE is set" >&2
    exit 1
else
    echo "SKIPPED: the Docker task runner tests (no container engine could be started here)"
fi

say "unit, engine, plugin and CLI tests"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked 2>&1 | tee "$log"
totals=$(awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed", p, f }' "$log")

# The same PostgreSQL, S3 and end-to-end suites a second time, on containers of images built
# here (scripts/test-images.sh), through testcontainers. Their containers are removed when
# the tests end, fail or are interrupted; one left behind fails the run.
containers_totals="skipped (no container engine)"
if [ -n "${DOCKER_HOST:-}" ]; then
    say "PostgreSQL, S3 and end-to-end suites on containers (TESTENV=containers)"
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
    TESTENV=containers cargo test --locked --features runner-testkit/containers \
        -p runner --test e2e 2>&1 | tee -a "$clog"
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

say "release build"
cargo build --release --locked

# `runner ui` in Debian's chromium over WebDriver, against the release binary.
say "runner ui in a browser (scripts/browser-test.sh)"
browser_out=$(mktemp)
scripts/browser-test.sh target/release/runner 2>&1 | tee "$browser_out"
browser_totals=$(grep -E '^(browser:|SKIPPED)' "$browser_out" | tail -n 1)
rm -f "$browser_out"

# The demo, as a new user runs it: one build, its own S3 server (runner-s3), the headline
# flow, the object read back.
say "the demo (scripts/demo.sh)"
demo_out=$(scripts/demo.sh 2>&1) || { echo "$demo_out"; echo "error: scripts/demo.sh failed" >&2; exit 1; }
echo "$demo_out" | tail -n 5
if ! grep -q "key: s3://kestra-bucket/data/users.csv  size: [1-9]" <<<"$demo_out"; then
    echo "$demo_out"
    echo "error: the demo did not upload data/users.csv" >&2
    exit 1
fi

# The example test suites (flows/tests), run by `runner test` as a user runs them, against a
# throwaway PostgreSQL and S3 server (scripts/services.sh); the JUnit report is kept in target/.
say "runner test flows (Kestra test suites)"
(
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
    target/release/runner secrets encode "$work/.env" -o "$work/.env_encoded" 2>/dev/null
    AWS_ENDPOINT_URL_S3="$s3_endpoint" target/release/runner test flows --flows flows \
        --env-file "$work/.env_encoded" --storage "$work/storage" --junit target/runner-test-junit.xml
)

# docker-compose.yaml for real, with the local images (docker/compose.local.yaml).
if [ -n "${DOCKER_HOST:-}" ]; then
    say "docker compose (scripts/compose-test.sh)"
    scripts/compose-test.sh
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
    say "Kestra conformance suite"
    report=$(python3 "$shared/check.py" --runner target/release/runner)
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
    say "conformance suite skipped: $shared not found"
fi

# The engine goes if this run started it (an engine that was already running stays).
scripts/engine.sh --stop

echo
echo "tests: $totals (local backend); containers backend: $containers_totals; $browser_totals"
