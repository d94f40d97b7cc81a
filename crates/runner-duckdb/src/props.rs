//! The properties Query and Queries share (Kestra's `DuckDbQueryInterface` and the JDBC base):
//! where the database is, the files around it, and the SQL kit's query options.

use runner_core::plugin::*;
use runner_jdbc::QueryOptions;
use serde::Deserialize;

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Database {
    /// `jdbc:duckdb:` (default: a new database, in a file of the task's working directory),
    /// `jdbc:duckdb:/abs/path.db` (a file, created if missing), `jdbc:duckdb::memory:`, or
    /// `jdbc:duckdb:md:db?motherduck_token=...` (MotherDuck; needs network).
    pub(crate) url: Option<Property<String>>,
    /// Accepted, as the JDBC base has it; DuckDB has no users.
    pub(crate) username: Option<Property<String>>,
    /// Accepted, as the JDBC base has it; DuckDB has no passwords.
    #[prop(secret)]
    pub(crate) password: Option<Property<String>>,
    /// Files written into the working directory before the SQL runs: a map of relative paths to
    /// contents or `kestra://` URIs, or a string holding that map as JSON.
    pub(crate) input_files: Option<Property<Json>>,
    /// Names of files the SQL writes: each gets a path, `{{ outputFiles.<name> }}`, and the
    /// file is kept (`outputs.<id>.outputFiles.<name>`).
    pub(crate) output_files: Option<Property<Vec<String>>>,
    /// A `kestra://` DuckDB database file to open (a copy; overrides `url`).
    pub(crate) database_uri: Option<Property<String>>,
    /// Keep the database file after the run (`outputs.<id>.databaseUri`).
    pub(crate) output_db_file: Option<Property<bool>>,
    /// Community extensions to install and load first (needs network once). Kestra's default
    /// `[ion]` is loaded when already installed, and skipped quietly when not.
    pub(crate) community_extensions: Option<Property<Vec<String>>>,
    #[serde(flatten)]
    pub(crate) options: QueryOptions,
}
