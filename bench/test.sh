#!/usr/bin/env bash
# `runner test` benchmark (not a test): 100 test cases of a 5-task flow (one task mocked by a
# fixture, four run: a Return, a ForEach of two, a Write, an OutputValues), each case with two
# assertions; wall time and peak RSS with -j 1 and -j 2, 3 runs each, medians.
# Usage: bench/test.sh [CASES]   (default 100)
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${1:-100}
[ -x /usr/bin/time ] || { apt-get install -y -q time >/dev/null; }
cargo build --release --locked -q
bin=$PWD/target/release/runner
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/flows" "$work/tests"
cat > "$work/flows/five.yaml" <<'YAML'
id: five
namespace: bench
inputs:
  - id: n
    type: INT
    defaults: 1
tasks:
  - id: extract
    type: io.kestra.plugin.jdbc.postgresql.Query
    url: jdbc:postgresql://db.invalid:5432/x
    sql: select 1
    fetchType: FETCH_ONE
  - id: double
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.extract.row.n * 2 }}"
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: item
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}-{{ inputs.n }}"
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: "n={{ inputs.n }}"
  - id: out
    type: io.kestra.plugin.core.output.OutputValues
    values:
      sum: "{{ outputs.double.value }}"
YAML
{
    printf 'id: five_tests\nnamespace: bench\nflowId: five\ntestCases:\n'
    for i in $(seq 1 "$cases"); do
        cat <<YAML
  - id: case_$i
    type: io.kestra.core.tests.flow.UnitTest
    fixtures:
      inputs: {n: $i}
      tasks:
        - id: extract
          outputs: {row: {n: $i}}
    assertions:
      - value: "{{ outputs.double.value }}"
        equalTo: $((i * 2))
      - value: "{{ read(outputs.write.uri) }}"
        equalTo: "n=$i"
YAML
    done
} > "$work/tests/five_test.yaml"
cd "$work"
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
printf '%-6s %-10s %-12s %s\n' jobs wall "peak RSS" "runs (s)"
for j in 1 2; do
    walls=() rss=()
    for run in 1 2 3; do
        rm -rf .runner
        /usr/bin/time -f '%e %M' -o time.txt "$bin" test tests --flows flows -j "$j" > /dev/null 2> out.txt \
            || { cat out.txt >&2; exit 1; }
        grep -q "$cases passed" out.txt || { cat out.txt >&2; exit 1; }
        read -r w m < time.txt
        walls+=("$w") rss+=("$m")
    done
    w=$(printf '%s\n' "${walls[@]}" | median)
    m=$(printf '%s\n' "${rss[@]}" | median)
    printf '%-6s %-10s %-12s %s\n' "$j" "${w}s" "$((m / 1024)) MiB" "${walls[*]}"
done
