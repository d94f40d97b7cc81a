//! Linked builds (no `bundled` feature): this crate's test binaries find libduckdb.so where it
//! was linked from (DUCKDB_LIB_DIR), even with a cleared environment; without DUCKDB_LIB_DIR,
//! a note says how to get the library (the link would fail on `-lduckdb`).

fn main() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    if std::env::var_os("CARGO_FEATURE_BUNDLED").is_some() {
        return;
    }
    match std::env::var_os("DUCKDB_LIB_DIR") {
        Some(dir) => println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.to_string_lossy()),
        None => println!(
            "cargo:warning=DuckDB is linked, not compiled, in this build: run `. scripts/duckdb-env.sh` first (it fetches libduckdb.so 1.5.5 and sets DUCKDB_LIB_DIR), or build with `--features runner-duckdb/bundled` (about 30 minutes on 2 cores)"
        ),
    }
}
