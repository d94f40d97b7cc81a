#!/usr/bin/env bash
# `runner schema` in the real yaml-language-server (from npm, kept under target/yaml-ls): every
# flow runner accepts (flows/, and ../shared's conformance and real-world flows when they are
# there) gets no false error, each crafted mistake of tests/schema/invalid is flagged at its
# line, and a task type completes as it is typed.
# Usage: scripts/schema-test.sh [RUNNER_BINARY]   (default target/release/runner)
set -euo pipefail
cd "$(dirname "$0")/.."
runner=${1:-target/release/runner}
[ -x "$runner" ] || { echo "error: $runner is not built" >&2; exit 2; }
command -v node >/dev/null 2>&1 || { echo "error: node is needed (Debian: apt-get install nodejs npm)" >&2; exit 1; }

version=1.25.0
dir=target/yaml-ls
server=$dir/node_modules/yaml-language-server/bin/yaml-language-server
installed=$(node -p "try { require('./$dir/node_modules/yaml-language-server/package.json').version } catch { '' }")
if [ "$installed" != "$version" ]; then
    mkdir -p "$dir"
    npm install --no-audit --no-fund --silent --prefix "$dir" "yaml-language-server@$version" >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$runner" schema > "$work/flow.json"
"$runner" schema --test-suite > "$work/suite.json"

# The flows runner accepts: the schema must not flag any of them.
{
    find flows -name '*.yaml' -o -name '*.yml'
    if [ -d ../shared ]; then
        find ../shared/conformance/flows/valids -name '*.yaml' -o -name '*.yml'
        find ../shared/realworld/flows -name '*.yaml' -o -name '*.yml'
    fi
} | sort | tr '\n' '\0' \
  | xargs -0 -P 2 -n 1 sh -c '"$0" validate "$1" >/dev/null 2>&1 && echo "$1"' "$runner" \
  > "$work/valid.txt" || true
find tests/schema/invalid -type f | sort > "$work/invalid.txt"
echo "checking $(wc -l < "$work/valid.txt") accepted flows and $(wc -l < "$work/invalid.txt") mistakes"
node tests/schema/yaml_ls_check.mjs "$server" "$work/flow.json" "$work/suite.json" "$work/valid.txt" "$work/invalid.txt"
