//! Secrets as Kestra's open-source edition has them, and the masker.
//!
//! - [`SecretStore`]: secret `NAME` is the variable `SECRET_NAME` holding the base64 of the value
//!   (line breaks removed first, standard alphabet); names are case-insensitive. Values are
//!   decoded when looked up, so an error names the variable.
//! - [`env_file`]: dotenv files for `--env-file`, and `runner secrets encode`.
//! - [`age`]: env files encrypted at rest, as the `age` tool writes them.
//! - [`Masker`]: every log line, error and record passes through it; it hides each registered
//!   value in the forms GitHub Actions hides (the value, each line, base64 at any alignment,
//!   JSON-escaped and URL-encoded), merging overlapping matches into one `******`.

pub mod age;
pub mod env_file;
mod masker;
mod store;

pub use masker::{Added, MIN_MASKED_LENGTH, Masker, MaskingWriter, html_escape};
pub use store::{SecretError, SecretStore, SecretValue};
