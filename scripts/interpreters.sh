#!/usr/bin/env bash
# Bun and Deno for the script-language tests, from their npm packages (the binaries are in
# the packages' platform dependencies: no download from elsewhere), kept in
# target/interpreters/<versions>/, installed once. Prints the folder to put on PATH.
# Usage: PATH="$(scripts/interpreters.sh):$PATH" cargo test -p runner-scripts --test languages
set -euo pipefail
cd "$(dirname "$0")/.."
packages='bun@1.4.5 deno@2.9.6'
command -v npm >/dev/null 2>&1 || {
    echo "error: npm is missing (Debian: apt-get install npm)" >&2
    exit 2
}
dir=$PWD/target/interpreters/$(echo "$packages" | sha256sum | cut -c1-16)
if [ ! -f "$dir/.complete" ]; then
    mkdir -p "$(dirname "$dir")"
    exec 9>"$dir.lock"
    flock 9
    if [ ! -f "$dir/.complete" ]; then
        echo "installing $packages from npm into $dir (once)" >&2
        rm -rf "$dir"
        mkdir -p "$dir"
        # shellcheck disable=SC2086
        npm install --silent --no-audit --no-fund --prefix "$dir" $packages >&2
        "$dir/node_modules/.bin/bun" --version >/dev/null
        "$dir/node_modules/.bin/deno" --version >/dev/null
        touch "$dir/.complete"
    fi
fi
echo "$dir/node_modules/.bin"
