# DuckDB's C library for builds that link it instead of compiling it (sourced, not run):
# `. scripts/duckdb-env.sh` fetches libduckdb.so 1.5.5 from the npm package of DuckDB's Node
# bindings once (its sha256 checked), keeps it in target/duckdb-lib/, and exports
#   DUCKDB_LIB_DIR        where libduckdb-sys links it from (and the binaries' rpath)
#   LD_LIBRARY_PATH       so test binaries and the processes they start find it
#   CARGO_DUCKDB          the cargo flags of such a build: (--no-default-features --features runner/families)
# The default features compile DuckDB into the binary instead (what users install, the Dockerfile):
# about 30 minutes on 2 cores, which is why CI, scripts/test.sh and developers link it.
# Where npm is missing and the library is not cached, CARGO_DUCKDB stays empty (a bundled
# build) and a note says so; DUCKDB_REQUIRE_LINKED=1 makes that an error (CI).
#
# The library pairs with the `duckdb` crate =1.10505.0 (DuckDB 1.5.5): change both together.
DUCKDB_NPM_VERSION=1.5.5-r.5
_duckdb_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_duckdb_dir="$_duckdb_root/target/duckdb-lib/$DUCKDB_NPM_VERSION"

_duckdb_fetch() {
    local pkg sha
    case "$(uname -m)" in
        x86_64)
            pkg=@duckdb/node-bindings-linux-x64
            sha=fc23f12e376c47be520f75221288281906e7942e8fd6f6ce4849198ba60d0405
            ;;
        aarch64)
            # The same release exists for arm64; its checksum is not pinned here.
            pkg=@duckdb/node-bindings-linux-arm64
            sha=
            ;;
        *)
            echo "note: no prebuilt libduckdb for $(uname -m): DuckDB is compiled into the binary (slow)" >&2
            return 1
            ;;
    esac
    command -v npm >/dev/null 2>&1 || {
        echo "note: npm is missing (Debian: apt-get install npm), so DuckDB is compiled into the binary (about 30 minutes on 2 cores)" >&2
        return 1
    }
    local tmp
    tmp=$(mktemp -d)
    if ! (cd "$tmp" && npm pack --silent "$pkg@$DUCKDB_NPM_VERSION" >/dev/null 2>"$tmp/npm.log"); then
        cat "$tmp/npm.log" >&2
        echo "error: npm pack $pkg@$DUCKDB_NPM_VERSION failed" >&2
        rm -rf "$tmp"
        return 1
    fi
    tar -xzf "$tmp"/*.tgz -C "$tmp" package/libduckdb.so
    if [ -n "$sha" ] && ! echo "$sha  $tmp/package/libduckdb.so" | sha256sum -c --quiet - >/dev/null 2>&1; then
        echo "error: libduckdb.so from $pkg@$DUCKDB_NPM_VERSION does not have the expected sha256 $sha" >&2
        rm -rf "$tmp"
        return 1
    fi
    mkdir -p "$_duckdb_dir"
    mv "$tmp/package/libduckdb.so" "$_duckdb_dir/libduckdb.so"
    rm -rf "$tmp"
}

if [ -f "$_duckdb_dir/libduckdb.so" ] || _duckdb_fetch; then
    export DUCKDB_LIB_DIR="$_duckdb_dir"
    export LD_LIBRARY_PATH="$_duckdb_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    CARGO_DUCKDB=(--no-default-features --features runner/families)
elif [ -n "${DUCKDB_REQUIRE_LINKED:-}" ]; then
    echo "error: the prebuilt libduckdb could not be had, and DUCKDB_REQUIRE_LINKED is set" >&2
    return 1 2>/dev/null || exit 1
else
    CARGO_DUCKDB=()
fi
unset -f _duckdb_fetch
unset _duckdb_root _duckdb_dir
