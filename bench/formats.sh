#!/usr/bin/env bash
# Serdes benchmarks (not tests), on the release binary, against the libraries the serdes tests
# check runner's files with:
#   1. IonToAvro of ROWS rows (schema given) against fastavro writing the same rows from JSON
#      Lines (the peer's nearest row-by-row input)
#   2. IonToParquet (SNAPPY) of the same rows against pyarrow reading the JSON Lines and
#      writing Parquet with SNAPPY
#   3. ParquetToIon of runner's file against pyarrow reading it back to Python rows
# Each with hyperfine's wall time and the peak RSS of one run (GNU time).
# Usage: bench/formats.sh [ROWS]   (default 5,000,000; results go in bench/RESULTS.md by hand)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
rows=${1:-5000000}

command -v hyperfine >/dev/null 2>&1 || {
    echo "installing hyperfine (Debian package)..." >&2
    { apt-get install -y -q hyperfine || { apt-get update -q && apt-get install -y -q hyperfine; }; } >/dev/null
}
[ -x /usr/bin/time ] || apt-get install -y -q time >/dev/null
export DUCKDB_REQUIRE_LINKED=1
. scripts/duckdb-env.sh
cargo build --release --locked -q "${CARGO_DUCKDB[@]}"
bin=$repo/target/release/runner
py=$("$repo/scripts/formats-venv.sh")/bin/python

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
echo "making $rows rows as text Ion and JSON Lines in $work..." >&2
"$py" - "$rows" <<'PY'
import sys
n = int(sys.argv[1])
with open("rows.ion", "w") as ion, open("rows.jsonl", "w") as jl:
    for i in range(n):
        ion.write('{id:%d,name:"user %d",score:%d.5e0,active:%s}\n' % (i, i, i % 1000, "true" if i % 2 else "false"))
        jl.write('{"id":%d,"name":"user %d","score":%d.5,"active":%s}\n' % (i, i, i % 1000, "true" if i % 2 else "false"))
PY
schema='{"type": "record", "name": "row", "fields": [{"name": "id", "type": "long"}, {"name": "name", "type": "string"}, {"name": "score", "type": "double"}, {"name": "active", "type": "boolean"}]}'
flow() { # id type extra
    printf 'id: %s\nnamespace: bench\ninputs:\n  - id: file\n    type: FILE\ntasks:\n  - id: t\n    type: %s\n    from: "{{ inputs.file }}"\n%s' "$1" "$2" "$3" > "$1.yaml"
}
flow avro io.kestra.plugin.serdes.avro.IonToAvro "    schema: '$schema'
"
flow parquet io.kestra.plugin.serdes.parquet.IonToParquet "    compressionCodec: SNAPPY
    schema: '$schema'
"
cat > fastavro_write.py <<PY
import json, fastavro
schema = fastavro.parse_schema(json.loads('''$schema'''))
with open("rows.jsonl") as f, open("out.avro", "wb") as out:
    fastavro.writer(out, schema, (json.loads(line) for line in f))
PY
cat > pyarrow_write.py <<'PY'
import pyarrow.json as pj, pyarrow.parquet as pq
pq.write_table(pj.read_json("rows.jsonl"), "out.parquet", compression="snappy")
PY
run="$bin run --storage $work/st --log-level warn"
$run "$work/parquet.yaml" -i "file=$work/rows.ion" >/dev/null
parquet=$(find "$work/st" -name '*.parquet' | head -n 1)
flow back io.kestra.plugin.serdes.parquet.ParquetToIon ""
cat > pyarrow_read.py <<PY
import pyarrow.parquet as pq
n = 0
for batch in pq.ParquetFile("$parquet").iter_batches():
    n += len(batch.to_pylist())
print(n)
PY

bench() { # name runner-args peer-script
    echo "== $1" >&2
    hyperfine -N --warmup 1 --runs 3 \
        -n "runner ($1)" "$run $2" \
        -n "peer ($1)" "$py $3"
    runner_kib=$(/usr/bin/time -f %M $run $2 2>&1 >/dev/null | tail -n 1)
    peer_kib=$(/usr/bin/time -f %M "$py" "$3" 2>&1 >/dev/null | tail -n 1)
    echo "peak RSS ($1): runner $((runner_kib / 1024)) MiB, peer $((peer_kib / 1024)) MiB"
}
bench "Ion to Avro, $rows rows; fastavro from JSON Lines" "$work/avro.yaml -i file=$work/rows.ion" fastavro_write.py
bench "Ion to Parquet SNAPPY, $rows rows; pyarrow from JSON Lines" "$work/parquet.yaml -i file=$work/rows.ion" pyarrow_write.py
bench "Parquet to Ion, $rows rows; pyarrow to Python rows" "$work/back.yaml -i file=$parquet" pyarrow_read.py
