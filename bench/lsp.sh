#!/usr/bin/env bash
# `runner lsp`: how long after a change of a 200-task flow its diagnostics arrive (the
# server validates the whole text, as `runner validate` does), median of 50 changes.
# Usage: bench/lsp.sh [RUNNER_BINARY]   (default target/release/runner)
set -euo pipefail
cd "$(dirname "$0")/.."
runner=${1:-target/release/runner}
python3 - "$runner" <<'PY'
import json, statistics, subprocess, sys, time

p = subprocess.Popen([sys.argv[1], "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

def send(m):
    body = json.dumps(m).encode()
    p.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    p.stdin.flush()

def read():
    length = 0
    while True:
        line = p.stdout.readline().strip()
        if not line:
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return json.loads(p.stdout.read(length))

def until(pred):
    while True:
        m = read()
        if pred(m):
            return m

send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}})
until(lambda m: m.get("id") == 1)
tasks = "".join(
    f"  - id: t{i}\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ outputs.t{max(i, 1) - 1} ?? 'x' }}}}\"\n"
    for i in range(200))
text = "id: big\nnamespace: company.team\ntasks:\n" + tasks
uri = "file:///bench/big.yaml"
send({"jsonrpc": "2.0", "method": "textDocument/didOpen",
      "params": {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}}})
until(lambda m: m.get("method") == "textDocument/publishDiagnostics")
took = []
for v in range(2, 52):
    changed = text.replace("  - id: t150\n", f"  - id: t150{'x' * (v % 2)}\n")
    start = time.perf_counter()
    send({"jsonrpc": "2.0", "method": "textDocument/didChange",
          "params": {"textDocument": {"uri": uri, "version": v}, "contentChanges": [{"text": changed}]}})
    until(lambda m: m.get("method") == "textDocument/publishDiagnostics")
    took.append((time.perf_counter() - start) * 1000)
send({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
until(lambda m: m.get("id") == 2)
send({"jsonrpc": "2.0", "method": "exit"})
p.wait(10)
print(f"runner lsp, 200-task flow ({len(text)} bytes): diagnostics {statistics.median(took):.1f} ms median, "
      f"{max(took):.1f} ms max after a change (target < 50 ms)")
PY
