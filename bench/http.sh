#!/usr/bin/env bash
# HTTP Download benchmark (not a test): a 1 GiB file served on loopback by Python's
# http.server, fetched by `runner run` (Download task) and by `curl -o`, with wall time and
# peak RSS (GNU time). Usage: bench/http.sh [MiB]   (default 1024)
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${1:-1024}
for tool in curl python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool is needed" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { apt-get install -y -q time >/dev/null; }
cargo build --release --locked -q
bin=$PWD/target/release/runner
work=$(mktemp -d)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/www"
head -c "$((mib * 1024 * 1024))" /dev/urandom > "$work/www/big.bin"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$work/www" && exec python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
server=$!
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
cat > "$work/dl.yaml" <<YAML
id: dl
namespace: bench
tasks:
  - id: get
    type: io.kestra.plugin.core.http.Download
    uri: http://127.0.0.1:$port/big.bin
YAML
echo "Download of $mib MiB from http://127.0.0.1:$port (python3 -m http.server), 3 runs each:"
for i in 1 2 3; do
    /usr/bin/time -f "  curl -o:          %e s, peak RSS %M KiB" curl -s -o "$work/curl.bin" "http://127.0.0.1:$port/big.bin"
    rm -f "$work/curl.bin"
    /usr/bin/time -o "$work/time.txt" -f "  runner Download:  %e s, peak RSS %M KiB" "$bin" run --storage "$work/st" --log-level warn "$work/dl.yaml" >/dev/null 2>&1
    cat "$work/time.txt"
    rm -rf "$work/st"
done
