#!/usr/bin/env bash
# The flow editor of `runner ui`: CodeMirror 6 and its YAML mode from npm (pinned in
# crates/runner-ui/editor/package-lock.json), bundled with esbuild into one file under
# target/ui-editor. Prints the bundle's path; a build with RUNNER_UI_EDITOR_JS set to it puts
# the editor in the binary (without it, the editor page is a plain text area).
# Usage: export RUNNER_UI_EDITOR_JS=$(scripts/editor-bundle.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
src=crates/runner-ui/editor
dir=target/ui-editor
out=$dir/editor.js
mkdir -p "$dir"
# Rebuilt only when the pinned packages or the entry changed.
stamp=$(cat "$src/package-lock.json" "$src/entry.js" | sha256sum | cut -c1-16)
if [ ! -s "$out" ] || [ "$(cat "$dir/stamp" 2>/dev/null)" != "$stamp" ]; then
    command -v npm >/dev/null 2>&1 || { echo "error: npm is needed to build the editor" >&2; exit 1; }
    cp "$src/package.json" "$src/package-lock.json" "$src/entry.js" "$dir/"
    (cd "$dir" && npm ci --no-audit --no-fund --silent >/dev/null)
    "$dir/node_modules/.bin/esbuild" "$dir/entry.js" --bundle --minify --format=iife \
        --legal-comments=eof --log-level=warning --outfile="$out.tmp"
    mv "$out.tmp" "$out"
    echo "$stamp" > "$dir/stamp"
fi
echo "$PWD/$out"
