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

say "unit, engine, plugin and CLI tests"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked 2>&1 | tee "$log"
totals=$(awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed", p, f }' "$log")

say "release build"
cargo build --release --locked

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

echo
echo "tests: $totals"
