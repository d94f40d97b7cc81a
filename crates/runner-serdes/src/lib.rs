//! Kestra's serdes tasks: CSV and JSON to and from Ion, each streamed one record at a time.

mod csv_to_ion;
mod files;
mod ion_to_csv;
mod ion_to_csv_fast;
mod ion_to_json;
mod java;
mod json_to_ion;

use runner_core::plugin::TaskDescriptor;

/// Conversions report their row count to a terminal once per this many rows (a check per row
/// costs nothing measurable; a draw request per row would).
const PROGRESS_EVERY: u64 = 4096;

#[doc(hidden)]
pub use csv_to_ion::read_all as read_csv;

/// The serdes task types.
pub const TASKS: &[TaskDescriptor] = &[
    ion_to_csv::ION_TO_CSV,
    csv_to_ion::CSV_TO_ION,
    ion_to_json::ION_TO_JSON,
    json_to_ion::JSON_TO_ION,
];
