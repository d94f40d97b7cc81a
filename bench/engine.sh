#!/usr/bin/env bash
# Engine benchmarks (not tests): cold start of a one-task flow, a 1,000-task flow,
# `runner validate` of 100 flows, and loading at scale (one flow of 100,000 tasks, a map of
# 80,000 keys), which must stay linear. Needs hyperfine (installed from Debian when missing).
# Usage: bench/engine.sh   (prints hyperfine's tables; results go in bench/RESULTS.md by hand)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v hyperfine >/dev/null 2>&1; then
    echo "installing hyperfine (Debian package)..." >&2
    { apt-get install -y -q hyperfine || { apt-get update -q && apt-get install -y -q hyperfine; }; } >/dev/null
fi
cargo build --release --locked -q
bin=$PWD/target/release/runner
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat > "$work/one.yaml" <<'YAML'
id: one
namespace: bench
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hello
YAML
{
    printf 'id: thousand\nnamespace: bench\ntasks:\n'
    for i in $(seq 1 1000); do printf '  - id: t%d\n    type: io.kestra.plugin.core.log.Log\n    message: "line {{ task.id }}"\n' "$i"; done
} > "$work/thousand.yaml"
{
    printf 'id: big\nnamespace: bench\ntasks:\n'
    for i in $(seq 1 100000); do printf '  - id: t%d\n    type: io.kestra.plugin.core.log.Log\n    message: hi %d\n' "$i" "$i"; done
} > "$work/tasks100k.yaml"
{
    printf 'id: keys\nnamespace: bench\nvariables:\n'
    for i in $(seq 1 80000); do printf '  k%d: v%d\n' "$i" "$i"; done
    printf 'tasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n'
} > "$work/keys80k.yaml"
mkdir -p "$work/hundred"
for i in $(seq 1 100); do
    sed "s/^id: one$/id: flow$i/" flows/hello.yaml > "$work/hundred/flow$i.yaml"
done

cd "$work"
hyperfine -N --warmup 5 --runs 50 \
    -n "run one-task flow (cold start)" "$bin run one.yaml --storage $work/st" \
    -n "validate 100 flows" "$bin validate hundred" \
    -n "run 1,000 Log tasks" "$bin run thousand.yaml --storage $work/st --log-level warn"
hyperfine -N --warmup 1 --runs 5 \
    -n "validate one flow of 100,000 tasks" "$bin validate tasks100k.yaml" \
    -n "validate a map of 80,000 keys" "$bin validate keys80k.yaml"
