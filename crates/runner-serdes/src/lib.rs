//! Kestra's serdes tasks. For now `io.kestra.plugin.serdes.csv.IonToCsv` (alias `CsvWriter`):
//! an Ion file of the execution to CSV, streamed one row at a time.

mod ion_to_csv;

use runner_core::registry::TaskDescriptor;

/// The serdes task types.
pub const TASKS: &[TaskDescriptor] = &[ion_to_csv::ION_TO_CSV];
