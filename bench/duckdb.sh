#!/usr/bin/env bash
# DuckDB benchmarks (not tests), on the release binary linked with the same libduckdb.so 1.5.5
# as the peer uses through Python's `duckdb==1.5.5` (one engine, so the difference is runner):
#   1. an aggregation over 10M rows of a Parquet file, and of the same rows as CSV
#      (runner Query FETCH against duckdb running the same SQL)
#   2. STORE of 1M rows to an Ion file (runner) against DuckDB's COPY of the same rows to JSON
#      lines (the peer's nearest row-by-row file)
# Each with hyperfine's wall time and the peak RSS of one run (GNU time).
# Usage: bench/duckdb.sh   (prints the tables; results go in bench/RESULTS.md by hand)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

for tool in hyperfine; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "installing $tool (Debian package)..." >&2
        { apt-get install -y -q "$tool" || { apt-get update -q && apt-get install -y -q "$tool"; }; } >/dev/null
    fi
done
[ -x /usr/bin/time ] || apt-get install -y -q time >/dev/null
export DUCKDB_REQUIRE_LINKED=1
. scripts/duckdb-env.sh
cargo build --release --locked -q "${CARGO_DUCKDB[@]}"
bin=$repo/target/release/runner

# The peer: DuckDB 1.5.5's Python module, in a virtual environment under target/.
venv=$repo/target/bench-duckdb-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --only-binary=:all: 'duckdb==1.5.5'
fi
py=$venv/bin/python

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
echo "making 10M rows as Parquet and CSV in $work..." >&2
"$py" - <<'PY'
import duckdb
duckdb.sql("""COPY (SELECT range AS id, range % 1000 AS k, (range * 7919) % 100000 / 100.0 AS v,
               'name ' || range AS name FROM range(10000000)) TO 'big.parquet' (FORMAT parquet)""")
duckdb.sql("COPY (SELECT * FROM 'big.parquet') TO 'big.csv' (HEADER)")
PY

agg="SELECT k, count(*) AS n, sum(v) AS total FROM read_parquet('$work/big.parquet') GROUP BY k ORDER BY k"
agg_csv="SELECT k, count(*) AS n, sum(v) AS total FROM read_csv('$work/big.csv') GROUP BY k ORDER BY k"
store="SELECT range AS id, 'name ' || range AS name, range * 1.5 AS amount, DATE '2024-01-01' + (range % 365)::INT AS day FROM range(1000000)"

flow() { # id sql fetchType
    printf 'id: %s\nnamespace: bench\ntasks:\n  - id: q\n    type: io.kestra.plugin.jdbc.duckdb.Query\n    url: "jdbc:duckdb::memory:"\n    communityExtensions: []\n    sql: "%s"\n    fetchType: %s\n' "$1" "$2" "$3" > "$1.yaml"
}
flow agg "$agg" FETCH
flow agg_csv "$agg_csv" FETCH
flow store "$store" STORE

peer() { # sql
    printf 'import duckdb\ncon = duckdb.connect()\nrows = con.sql("""%s""").fetchall()\nprint(len(rows))\n' "$1"
}
peer "$agg" > agg.py
peer "$agg_csv" > agg_csv.py
printf 'import duckdb\nduckdb.connect().sql("""COPY (%s) TO '"'"'%s/out.json'"'"' (FORMAT json)""")\n' "$store" "$work" > store.py

run="$bin run --storage $work/st --log-level warn"
for case in agg agg_csv store; do
    echo "== $case" >&2
    hyperfine -N --warmup 1 --runs 5 \
        -n "runner ($case)" "$run $work/$case.yaml" \
        -n "duckdb 1.5.5 python ($case)" "$py $work/$case.py"
    runner_kib=$(/usr/bin/time -f %M $run "$work/$case.yaml" 2>&1 >/dev/null | tail -n 1)
    peer_kib=$(/usr/bin/time -f %M "$py" "$work/$case.py" 2>&1 >/dev/null | tail -n 1)
    echo "peak RSS ($case): runner $((runner_kib / 1024)) MiB, duckdb python $((peer_kib / 1024)) MiB"
done

# 3. dbt: DbtCLI (Process runner) against `dbt build` run directly on the same project, to see
#    runner's overhead (reading run_results.json and manifest.json included). Each DbtCLI run
#    starts in a new working directory, so the direct run starts without target/ too (dbt's
#    partial parse would otherwise save it a second).
dbt_venv=$("$repo/scripts/dbt-venv.sh")
mkdir -p "$work/proj/models"
printf 'name: shop\nprofile: shop\n' > "$work/proj/dbt_project.yml"
printf 'shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: %s/dbt.duckdb\n      threads: 1\n' "$work" > "$work/proj/profiles.yml"
echo "select range as id from range(1000)" > "$work/proj/models/orders.sql"
cat > dbt.yaml <<YAML
id: dbt
namespace: bench
tasks:
  - id: dbt
    type: io.kestra.plugin.dbt.cli.DbtCLI
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    namespaceFiles:
      enabled: true
    commands:
      - dbt build --profiles-dir .
YAML
export DO_NOT_TRACK=1 PATH="$dbt_venv/bin:$PATH"
hyperfine --warmup 1 --runs 5 --prepare "rm -rf $work/proj/target $work/proj/logs" \
    -n "runner DbtCLI (dbt build)" "$bin run --storage $work/st --log-level warn --namespace-files $work/proj $work/dbt.yaml" \
    -n "dbt build" "bash -c 'cd $work/proj && dbt build --profiles-dir . --log-format text --log-format-file json --log-path logs >/dev/null'"
