#!/usr/bin/env bash
# `runner ui` in a real browser: Debian's chromium and chromium-driver (installed when
# missing), selenium in a virtual environment under target/, and the tests of
# crates/runner-ui/browser/test_ui.py against a runner binary.
# Usage: scripts/browser-test.sh [RUNNER_BINARY]   (default target/release/runner)
# Without a browser and no way to install one, the tests say SKIPPED, unless
# RUNNER_REQUIRE_BROWSER is set (CI), where that is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
runner=${1:-target/release/runner}
[ -x "$runner" ] || { echo "error: $runner is not built (cargo build --release)" >&2; exit 2; }

skip() {
    if [ -n "${RUNNER_REQUIRE_BROWSER:-}" ]; then
        echo "error: $*, and RUNNER_REQUIRE_BROWSER is set" >&2
        exit 1
    fi
    echo "SKIPPED: the browser tests ($*)"
    exit 0
}

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing chromium and chromium-driver (Debian packages)"
        if ! DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null 2>&1; then
            apt-get update -q >/dev/null
            DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null \
                || skip "chromium could not be installed"
        fi
    else
        skip "chromium and chromedriver are missing (Debian: apt-get install chromium chromium-driver)"
    fi
fi

# selenium, pinned; a venv of its own (Debian's Python refuses pip installs outside one).
venv=target/browser-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c 'import selenium' 2>/dev/null || "$venv/bin/pip" install -q "selenium==4.51.0"

artifacts=target/ui-browser
mkdir -p "$artifacts"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
RUNNER_BIN="$runner" RUNNER_UI_ARTIFACTS="$artifacts" "$venv/bin/python" -W ignore::ResourceWarning \
    crates/runner-ui/browser/test_ui.py 2>&1 | tee "$log" || status=$?
ran=$(sed -n 's/^Ran \([0-9]*\) tests\? .*/\1/p' "$log")
failed=$(grep -cE '^(FAIL|ERROR):' "$log" || true)
echo "browser: $(( ${ran:-0} - failed )) passed, $failed failed (chromium $(chromium --version 2>/dev/null | awk '{print $2}')); screenshots in $artifacts/screenshots"
exit $status
