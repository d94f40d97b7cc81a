#!/usr/bin/env bash
# A Python virtual environment with dbt for the dbt tests: dbt-core with the DuckDB and
# PostgreSQL adapters, from PyPI, kept in target/dbt-venv/<key>/ (the key hashes the
# requirements and the Python), made once, never put on PATH. Prints its folder.
# Usage: scripts/dbt-venv.sh            (the tests call it when RUNNER_DBT_VENV is not set)
#
# The pins:
# - dbt-core 1.10: 1.11 and later pull dbt-core-experimental-parser, sdist-only here, whose
#   build downloads a wheel from GitHub (unreachable on these machines).
# - duckdb 1.5.5: unpinned, dbt-duckdb takes DuckDB 2.x, whose files runner's DuckDB (1.5.5,
#   Kestra's driver's version) cannot open ("version number 69").
# - --only-binary=:all:: a resolution that would build something fails at once, offline.
set -euo pipefail
cd "$(dirname "$0")/.."
requirements='dbt-core==1.10.23
dbt-duckdb==1.11.1
dbt-postgres==1.11.0
duckdb==1.5.5'
python=$(command -v /usr/bin/python3 || command -v python3) || {
    echo "error: python3 is missing (Debian: apt-get install python3 python3-venv)" >&2
    exit 2
}
key=$( { echo "$requirements"; "$python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -c1-16)
venv=$PWD/target/dbt-venv/$key
if [ ! -f "$venv/.complete" ]; then
    mkdir -p "$(dirname "$venv")"
    exec 9>"$venv.lock"
    flock 9
    if [ ! -f "$venv/.complete" ]; then
        echo "making the dbt environment in $venv (once)" >&2
        rm -rf "$venv"
        "$python" -m venv "$venv" >&2
        # shellcheck disable=SC2086
        DO_NOT_TRACK=1 PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install \
            --quiet --only-binary=:all: $requirements >&2
        touch "$venv/.complete"
    fi
fi
echo "$venv"
