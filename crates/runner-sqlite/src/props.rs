//! The properties Query and Queries share (Kestra's `SqliteQueryInterface` and the JDBC base).

use runner_core::plugin::*;
use runner_jdbc::QueryOptions;
use serde::Deserialize;

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Database {
    /// `jdbc:sqlite:` or `jdbc:sqlite::memory:` (default: in memory), or
    /// `jdbc:sqlite:/abs/path.sqlite` or `jdbc:sqlite:name.sqlite` (in the working directory).
    pub(crate) url: Option<Property<String>>,
    /// Accepted, as the JDBC base has it; SQLite has no users.
    pub(crate) username: Option<Property<String>>,
    /// Accepted, as the JDBC base has it; SQLite has no passwords.
    #[prop(secret)]
    pub(crate) password: Option<Property<String>>,
    /// A `kestra://` SQLite database file to open (a copy in the working directory).
    pub(crate) sqlite_file: Option<Property<String>>,
    /// Keep the database file after the run (`outputs.<id>.databaseUri`).
    pub(crate) output_db_file: Option<Property<bool>>,
    /// Names of files the SQL writes: each gets a path, `{{ outputFiles.<name> }}`, and the
    /// file is kept (`outputs.<id>.outputFiles.<name>`).
    pub(crate) output_files: Option<Property<Vec<String>>>,
    #[serde(flatten)]
    pub(crate) options: QueryOptions,
}
