//! Kestra's serdes tasks: CSV, JSON, Avro, Parquet, Excel, XML and YAML to and from Ion, TOON, and Markdown, each streamed one record at a
//! time.

mod avro;
mod blocking;
mod csv_to_ion;
mod excel;
mod files;
mod ion_to_csv;
mod ion_to_csv_fast;
mod ion_to_json;
mod java;
mod java_values;
mod json_to_ion;
mod json_to_jsonl;
mod markdown;
mod parquet;
mod toon;
mod xml;
mod yaml;

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
    avro::ION_TO_AVRO,
    avro::AVRO_TO_ION,
    avro::INFER_AVRO_SCHEMA_FROM_ION,
    excel::ION_TO_EXCEL,
    excel::EXCEL_TO_ION,
    json_to_jsonl::JSON_TO_JSONL,
    yaml::YAML_TO_ION,
    yaml::ION_TO_YAML,
    yaml::JSON_TO_YAML,
    yaml::YAML_TO_JSON,
    markdown::HTML_TO_MARKDOWN,
    markdown::MARKDOWN_TO_HTML,
    markdown::MARKDOWN_TO_TEXT,
    xml::ION_TO_XML,
    xml::XML_TO_ION,
    parquet::ION_TO_PARQUET,
    parquet::PARQUET_TO_ION,
    toon::JSON_TO_TOON,
    toon::TOON_TO_JSON,
];
