#!/usr/bin/env bash
# A Python virtual environment with the independent tools tests check runner against: fastavro
# (Avro), openpyxl (Excel), pyarrow (Parquet) for the serdes tests, the AWS CLI that the
# AwsCLI task runs (awscli, v1: pure Python wheels), and a real MCP server for the AI agent's
# tools (mcp-server-time, the MCP project's reference time server, and the project's Python SDK
# `mcp` that the tests' own HTTP server is written on), from PyPI, kept
# in target/formats-venv/<key>/ (the key hashes the requirements and the Python), made once,
# never put on PATH. Prints its folder.
# Usage: scripts/formats-venv.sh        (the tests call it when RUNNER_FORMATS_VENV is not set)
set -euo pipefail
cd "$(dirname "$0")/.."
requirements='fastavro==1.12.1
openpyxl==3.1.5
pyarrow==26.0.1
awscli==1.46.3
mcp-server-time==2026.10.19
mcp==2.3.0'
python=$(command -v /usr/bin/python3 || command -v python3) || {
    echo "error: python3 is missing (Debian: apt-get install python3 python3-venv)" >&2
    exit 2
}
key=$( { echo "$requirements"; "$python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -c1-16)
venv=$PWD/target/formats-venv/$key
if [ ! -f "$venv/.complete" ]; then
    mkdir -p "$(dirname "$venv")"
    exec 9>"$venv.lock"
    flock 9
    if [ ! -f "$venv/.complete" ]; then
        echo "making the formats environment in $venv (once)" >&2
        rm -rf "$venv"
        "$python" -m venv "$venv" >&2
        # shellcheck disable=SC2086
        DO_NOT_TRACK=1 PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install \
            --quiet --only-binary=:all: $requirements >&2
        touch "$venv/.complete"
    fi
fi
echo "$venv"
