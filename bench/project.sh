#!/usr/bin/env bash
# Local-project benchmarks (not a test): a ForEachItem of 10,000 rows in batches of 100 into
# a subflow of one Log task (wall time and peak RSS, GNU time), and the cost of one `kv()`
# read (a flow rendering it N times, minus the same flow rendering a constant).
# Usage: bench/project.sh [ROWS] [KV_READS]   (defaults 10000 and 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-10000}
reads=${2:-2000}
[ -x /usr/bin/time ] || { apt-get install -y -q time >/dev/null; }
cargo build --release --locked -q
bin=$PWD/target/release/runner
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/flows"
cat > "$work/flows/fei.yaml" <<YAML
id: fei
namespace: bench
tasks:
  - id: rows
    type: io.kestra.plugin.core.storage.Write
    content: "{% for i in range(1, $rows) %}row-{{ i }},value-{{ i }}\n{% endfor %}"
    extension: .csv
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{ outputs.rows.uri }}"
    batch:
      rows: 100
    namespace: bench
    flowId: one_log
    inputs:
      file: "{{ taskrun.items }}"
YAML
cat > "$work/flows/one_log.yaml" <<YAML
id: one_log
namespace: bench
inputs:
  - id: file
    type: FILE
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "batch {{ inputs.file }}"
YAML
echo "ForEachItem of $rows rows in batches of 100 (one subflow of one Log task each), 3 runs:"
for i in 1 2 3; do
    /usr/bin/time -o "$work/time.txt" -f "  %e s, peak RSS %M KiB" \
        "$bin" run --storage "$work/st" --log-level warn "$work/flows/fei.yaml" >/dev/null 2>"$work/err.txt" \
        || { cat "$work/err.txt"; exit 1; }
    cat "$work/time.txt"
    rm -rf "$work/st"
done
kv_flow() {
    cat > "$work/kv.yaml" <<YAML
id: kv
namespace: bench
tasks:
  - id: set
    type: io.kestra.plugin.core.kv.Set
    key: k
    value: "{{ 41 }}"
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: "{% for i in range(1, $reads) %}{{ $1 }}{% endfor %}"
YAML
}
echo "kv() read cost ($reads reads in one render, minus $reads constants; best of 5):"
best() {
    local best=999999
    for _ in 1 2 3 4 5; do
        local t0 t1
        t0=$(date +%s%N)
        "$bin" run --storage "$work/st" --state "$work/state" --log-level warn "$work/kv.yaml" >/dev/null 2>&1
        t1=$(date +%s%N)
        local ms=$(( (t1 - t0) / 1000 ))
        [ "$ms" -lt "$best" ] && best=$ms
    done
    echo "$best"
}
kv_flow "kv('k')"
with_kv=$(best)
kv_flow "41"
without=$(best)
echo "  with kv(): ${with_kv} µs, without: ${without} µs, per read: $(( (with_kv - without) * 1000 / reads )) ns"
