#!/usr/bin/env bash
# `runner ui` benchmark (not a test): an execution of N task runs (a ForEach of N-1 Returns)
# run for real, then the time `runner ui` takes to serve its page and its live view (curl,
# 20 requests each, median), and its peak RSS. The browser's own timing of the same page
# comes from the browser tests (target/ui-browser/timing-1000-task-runs.json), printed when
# present.
# Usage: bench/ui.sh [TASK_RUNS]   (default 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1000}
cargo build --release --locked -q
bin=$PWD/target/release/runner
work=$(mktemp -d)
ui_pid=
trap '[ -n "$ui_pid" ] && pkill -P "$ui_pid" 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/flows"
cat > "$work/flows/many.yaml" <<YAML
id: many
namespace: bench
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ range(1, $((runs - 1))) }}"
    tasks:
      - id: item
        type: io.kestra.plugin.core.debug.Return
        format: "item {{ taskrun.value }}"
YAML
"$bin" run "$work/flows/many.yaml" --storage "$work/storage" >/dev/null 2>&1
id=$(basename "$(dirname "$(find "$work/storage" -name execution.json | head -n 1)")")
/usr/bin/time -f '%M' -o "$work/rss" "$bin" ui --port 0 --storage "$work/storage" --flows "$work/flows" \
    >"$work/ui.out" 2>/dev/null &
ui_pid=$!
for _ in $(seq 100); do grep -q '^runner ui:' "$work/ui.out" 2>/dev/null && break; sleep 0.05; done
base=$(sed -n 's/^runner ui: //p' "$work/ui.out")
base=${base%/}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
measure() {
    for _ in $(seq 20); do curl -s -o /dev/null -w '%{time_total}\n' "$1"; done | median
}
page=$(measure "$base/executions/$id")
live=$(measure "$base/executions/$id/live?logs=0")
list=$(measure "$base/executions")
bytes=$(curl -s "$base/executions/$id" | wc -c)
rows=$(curl -s "$base/executions/$id" | grep -o 'class="taskrun"' | wc -l)
# The server's peak RSS, once it stops.
# (GNU time does not pass a signal on: it goes to runner itself.)
pkill -INT -P "$ui_pid"; wait "$ui_pid" 2>/dev/null || true; ui_pid=
echo "execution page of $rows task runs: ${page}s ($bytes bytes); its live view: ${live}s; the executions list: ${list}s; runner ui peak RSS $(( $(cat "$work/rss") / 1024 )) MiB"
timing=target/ui-browser/timing-1000-task-runs.json
if [ -f "$timing" ]; then
    python3 - "$timing" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
print(f"in chromium (browser tests): response {t['response']:.0f} ms, DOM ready {t['domContentLoaded']:.0f} ms, load {t['load']:.0f} ms, {t['taskRuns']} task runs")
PY
fi
