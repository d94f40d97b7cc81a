//! `io.kestra.plugin.serdes.avro`: Ion rows to an Avro container file (with a schema given or
//! inferred), Avro back to Ion, and the inferred schema alone. Rows stream through: the writer
//! holds one block, the reader one record.

pub(crate) mod convert;
mod infer;
pub(crate) mod to_ion;

use crate::blocking::{self, IonFile, Stop};
use crate::files::OnBadLines;
use convert::{Converter, Options};
use runner_core::plugin::*;
use serde::Deserialize;
use std::io::Write;

pub(crate) const ION_TO_AVRO: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.serdes.avro.IonToAvro",
    aliases: &["io.kestra.plugin.serdes.avro.AvroWriter"],
    doc: "Convert an Ion file of the execution to an Avro container file, with the `schema` given or inferred from the rows. Outputs: `uri`, `size`.",
    example: "id: to_avro\ntype: io.kestra.plugin.serdes.avro.IonToAvro\nfrom: \"{{ outputs.query.uri }}\"\nschema: |\n  {\"type\": \"record\", \"name\": \"user\", \"fields\": [\n    {\"name\": \"id\", \"type\": \"int\"},\n    {\"name\": \"name\", \"type\": [\"null\", \"string\"]}]}",
    shape: runnable::<IonToAvro>(),
};

pub(crate) const AVRO_TO_ION: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.serdes.avro.AvroToIon",
    aliases: &["io.kestra.plugin.serdes.avro.AvroReader"],
    doc: "Convert an Avro container file of the execution to Ion, one record per line, with the schema the file holds. Outputs: `uri`, `size`.",
    example: "id: to_ion\ntype: io.kestra.plugin.serdes.avro.AvroToIon\nfrom: \"{{ outputs.download.uri }}\"",
    shape: runnable::<AvroToIon>(),
};

pub(crate) const INFER_AVRO_SCHEMA_FROM_ION: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.serdes.avro.InferAvroSchemaFromIon",
    aliases: &[],
    doc: "Infer an Avro schema from the first rows of an Ion file; writes it as an `.avsc` file (pass `{{ read(outputs.<id>.uri) }}` as IonToAvro's `schema`). Outputs: `uri`.",
    example: "id: schema\ntype: io.kestra.plugin.serdes.avro.InferAvroSchemaFromIon\nfrom: \"{{ outputs.query.uri }}\"",
    shape: runnable::<InferAvroSchemaFromIon>(),
};

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IonToAvro {
    /// The kestra:/// Ion file.
    from: Property<String>,
    #[serde(flatten)]
    options: AvroOptions,
}

/// The conversion options IonToAvro and IonToParquet share (Kestra's `AbstractAvroConverter`).
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AvroOptions {
    /// The Avro schema as JSON text; inferred from the rows when unset.
    schema: Option<Property<String>>,
    /// Rows read to infer the schema (default 100).
    number_of_rows_to_scan: Option<Property<i64>>,
    /// Infer from every row, and read every string against the true/false/null lists whatever the field's type (default false).
    infer_all_fields: Option<Property<bool>>,
    /// Strings read as true, case-insensitively (default t, true, enabled, 1, on, yes).
    true_values: Option<Property<Vec<String>>>,
    /// Strings read as false (default f, false, disabled, 0, off, no, and the empty string).
    false_values: Option<Property<Vec<String>>>,
    /// Strings read as null where the type allows it (default "", #N/A, NA, n/a, nan, null and others).
    null_values: Option<Property<Vec<String>>>,
    /// Java pattern of dates in text (default `yyyy-MM-dd[XXX]`).
    date_format: Option<Property<String>>,
    /// Java pattern of times in text (default `HH:mm[:ss][.SSSSSS][XXX]`).
    time_format: Option<Property<String>>,
    /// Java pattern of date-times in text (default `yyyy-MM-dd'T'HH:mm[:ss][.SSSSSS][XXX]`).
    datetime_format: Option<Property<String>>,
    /// The decimal separator of numbers in text (default `.`).
    #[prop(type = "character")]
    decimal_separator: Option<Property<String>>,
    /// Fail when a row has more fields than the schema (default false).
    strict_schema: Option<Property<bool>>,
    /// Zone of date-times without one, and of local timestamps (default: the machine's).
    time_zone_id: Option<Property<String>>,
    /// A row that does not convert: ERROR fails the task (default), WARN logs and skips it, SKIP skips it.
    on_bad_lines: Option<Property<OnBadLines>>,
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct AvroToIon {
    /// The kestra:/// Avro file.
    from: Property<String>,
    /// Accepted for Kestra's flows; a record the file's schema cannot read fails the task whatever the value, since the rest of its block cannot be read either.
    on_bad_lines: Option<Property<OnBadLines>>,
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct InferAvroSchemaFromIon {
    /// The kestra:/// Ion file.
    from: Property<String>,
    /// Rows read to infer the schema (default 100).
    number_of_rows_to_scan: Option<Property<i64>>,
}

/// `schema`: JSON text of an Avro schema.
fn parse_schema(text: &str) -> Result<apache_avro::Schema, String> {
    apache_avro::Schema::parse_str(text).map_err(|e| e.to_string())
}

fn rows_to_scan(ctx: &RunContext, p: &Option<Property<i64>>) -> Result<u64, TaskError> {
    let n = ctx.render_opt(p, "numberOfRowsToScan")?.unwrap_or(100);
    if n < 1 {
        return Err(TaskError::property(
            "numberOfRowsToScan",
            "Number of rows to scan must be greater than 0",
        ));
    }
    Ok(n as u64)
}

/// Infers a schema from the first `limit` rows of `from`.
fn infer_schema(
    from: &str,
    path: &std::path::Path,
    limit: u64,
    stop: &Stop,
) -> Result<serde_json::Value, TaskError> {
    let mut rows = IonFile::open(from, path)?;
    let mut inference = infer::Inference::default();
    let mut seen = 0u64;
    while seen < limit {
        let Some((at, row)) = rows.next_value()? else {
            break;
        };
        seen += 1;
        if seen.is_multiple_of(1024) {
            stop.check()?;
        }
        inference.add(&row).map_err(|e| rows.error(at, &e))?;
    }
    inference
        .schema()
        .map_err(|e| TaskError::new(ErrorKind::BadData, format!("{from}: {e}")))
}

/// The JSON of a row for errors, cut at 250 characters as Kestra does.
fn row_text(row: &runner_ion::IonValue) -> String {
    let text = row.to_json().to_string();
    match text.char_indices().nth(250) {
        Some((at, _)) => format!("{} ...", &text[..at]),
        None => text,
    }
}

/// The options of one run, rendered and checked.
pub(crate) struct Prepared {
    pub(crate) schema: Option<String>,
    pub(crate) limit: u64,
    pub(crate) opts: Options,
    pub(crate) on_bad: OnBadLines,
}

impl AvroOptions {
    pub(crate) fn check(&self) -> Result<(), String> {
        if let Some(p) = &self.schema
            && !p.is_dynamic()
            && let Some(text) = p.raw().as_str()
        {
            parse_schema(text).map_err(|e| format!("schema: invalid avro schema: {e}"))?;
        }
        Ok(())
    }

    pub(crate) fn prepare(&self, ctx: &RunContext) -> Result<Prepared, TaskError> {
        let schema = ctx.render_opt(&self.schema, "schema")?;
        if let Some(text) = &schema {
            parse_schema(text)
                .map_err(|e| TaskError::property("schema", format!("Invalid Avro schema: {e}")))?;
        }
        let infer_all = ctx
            .render_opt(&self.infer_all_fields, "inferAllFields")?
            .unwrap_or(false);
        let limit = if infer_all {
            u64::MAX
        } else {
            rows_to_scan(ctx, &self.number_of_rows_to_scan)?
        };
        let list = |p: &Option<Property<Vec<String>>>, name: &str, default: &[&str]| {
            ctx.render_opt(p, name)
                .map(|v| v.unwrap_or_else(|| default.iter().map(|s| s.to_string()).collect()))
        };
        let separator =
            crate::files::one_char(ctx, &self.decimal_separator, "decimalSeparator", '.')?;
        let opts = Options {
            true_values: list(&self.true_values, "trueValues", convert::TRUE_VALUES)?,
            false_values: list(&self.false_values, "falseValues", convert::FALSE_VALUES)?,
            null_values: list(&self.null_values, "nullValues", convert::NULL_VALUES)?,
            date_format: ctx.render_opt(&self.date_format, "dateFormat")?,
            time_format: ctx.render_opt(&self.time_format, "timeFormat")?,
            datetime_format: ctx.render_opt(&self.datetime_format, "datetimeFormat")?,
            decimal_separator: separator,
            strict_schema: ctx
                .render_opt(&self.strict_schema, "strictSchema")?
                .unwrap_or(false),
            infer_all_fields: infer_all,
            zone: ctx.render_time_zone(&self.time_zone_id, "timeZoneId")?,
        };
        let on_bad = ctx
            .render_opt(&self.on_bad_lines, "onBadLines")?
            .unwrap_or(OnBadLines::Error);
        Ok(Prepared {
            schema,
            limit,
            opts,
            on_bad,
        })
    }
}

/// The schema given, or inferred from the first rows of `from`.
pub(crate) fn schema_for(
    given: Option<String>,
    from: &str,
    path: &std::path::Path,
    limit: u64,
    stop: &Stop,
) -> Result<apache_avro::Schema, TaskError> {
    match given {
        Some(text) => parse_schema(&text).map_err(|e| TaskError::property("schema", e)),
        None => {
            let inferred = infer_schema(from, path, limit, stop)?;
            apache_avro::Schema::parse(&inferred).map_err(|e| {
                TaskError::new(
                    ErrorKind::BadData,
                    format!("{from}: the inferred schema is not valid: {e}"),
                )
            })
        }
    }
}

/// The rows `onBadLines` lets through: counted, the first 100 kept for WARN's log lines (memory
/// stays bounded however many rows are skipped).
pub(crate) struct BadRows {
    on_bad: OnBadLines,
    pub(crate) count: u64,
    warnings: Vec<String>,
}

impl BadRows {
    pub(crate) fn new(on_bad: OnBadLines) -> Self {
        BadRows {
            on_bad,
            count: 0,
            warnings: Vec::new(),
        }
    }

    /// A row that did not convert: the task's error under ERROR (its line, the reason and the
    /// row's data), else counted.
    pub(crate) fn bad(
        &mut self,
        rows: &IonFile,
        at: usize,
        row: &runner_ion::IonValue,
        why: &str,
    ) -> Result<(), TaskError> {
        match self.on_bad {
            OnBadLines::Error => Err(rows
                .error(at, &format!("{why}, with data [{}]", row_text(row)))
                .hint("fix the data or the schema, or set `onBadLines: SKIP` to drop such rows")),
            OnBadLines::Warn | OnBadLines::Skip => {
                if self.on_bad == OnBadLines::Warn && self.warnings.len() < 100 {
                    self.warnings.push(format!("line {at}: {why}"));
                }
                self.count += 1;
                Ok(())
            }
        }
    }

    /// WARN's log lines, once the conversion has ended.
    pub(crate) fn log(&self, ctx: &RunContext) {
        for line in &self.warnings {
            ctx.log(
                Level::Warn,
                &format!("Bad record skipped (onBadLines=WARN): {line}"),
            );
        }
        let more = self.count.saturating_sub(self.warnings.len() as u64);
        if self.on_bad == OnBadLines::Warn && more > 0 {
            ctx.log(Level::Warn, &format!("{more} more bad records skipped"));
        }
    }
}

impl RunnableTask for IonToAvro {
    fn check(&self) -> Result<(), String> {
        self.options.check()
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            let Prepared {
                schema,
                limit,
                opts,
                on_bad,
            } = self.options.prepare(ctx)?;
            let path = ctx.execution_file_path(&from)?;
            let (uri, out_path) = blocking::output_file(ctx, "avro")?;
            let progress = ctx.progress("converting", ProgressUnit::Rows, None);
            let job_uri = uri.clone();
            let (size, bad) = blocking::run(move |stop| {
                let schema = schema_for(schema, &from, &path, limit, stop)?;
                let converter =
                    Converter::new(&schema, &opts).map_err(|e| TaskError::property("schema", e))?;
                let partial = PartialFile::new(&out_path);
                let file = std::fs::File::create(&out_path)
                    .map_err(|e| blocking::write_error(&job_uri, e))?;
                let mut writer = apache_avro::Writer::new(
                    &schema,
                    std::io::BufWriter::with_capacity(256 * 1024, file),
                );
                let mut rows = IonFile::open(&from, &path)?;
                let (mut size, mut bad) = (0u64, BadRows::new(on_bad));
                while let Some((at, row)) = rows.next_value()? {
                    if (size + bad.count).is_multiple_of(1024) {
                        stop.check()?;
                    }
                    let converted = converter
                        .row(&row, &schema)
                        .and_then(|v| writer.append(v).map(|_| ()).map_err(|e| e.to_string()));
                    match converted {
                        Ok(()) => size += 1,
                        Err(e) => bad.bad(&rows, at, &row, &e)?,
                    }
                }
                let inner = writer
                    .into_inner()
                    .map_err(|e| blocking::write_error(&job_uri, e))?;
                let file = inner
                    .into_inner()
                    .map_err(|e| blocking::write_error(&job_uri, e.into_error()))?;
                file.sync_data().ok();
                partial.keep();
                Ok((size, bad))
            })
            .await?;
            drop(progress);
            bad.log(ctx);
            records_metric(ctx, size);
            Ok(Outputs::from_iter([
                ("uri".to_string(), Json::String(uri)),
                ("size".to_string(), Json::from(size)),
            ]))
        })
    }
}

pub(crate) fn records_metric(ctx: &RunContext, records: u64) {
    ctx.metric(Metric {
        name: "records".into(),
        kind: MetricKind::Counter,
        value: records as f64,
        tags: Default::default(),
    });
}

impl RunnableTask for AvroToIon {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            ctx.render_opt(&self.on_bad_lines, "onBadLines")?;
            let path = ctx.execution_file_path(&from)?;
            let (uri, out_path) = blocking::output_file(ctx, "ion")?;
            let job_uri = uri.clone();
            let size = blocking::run(move |stop| {
                let input = std::fs::File::open(&path).map_err(|e| {
                    TaskError::new(ErrorKind::Io, format!("cannot read {from}")).caused_by(e)
                })?;
                let reader =
                    apache_avro::Reader::new(std::io::BufReader::with_capacity(256 * 1024, input))
                        .map_err(|e| {
                            TaskError::new(
                                ErrorKind::BadData,
                                format!("{from} is not an Avro container file: {e}"),
                            )
                        })?;
                let schema = reader.writer_schema().clone();
                let partial = PartialFile::new(&out_path);
                let file = std::fs::File::create(&out_path)
                    .map_err(|e| blocking::write_error(&job_uri, e))?;
                let mut out = std::io::BufWriter::with_capacity(256 * 1024, file);
                let writer = to_ion::IonWriter::new(&schema).map_err(|e| {
                    TaskError::new(
                        ErrorKind::BadData,
                        format!("{from}: the file's schema: {e}"),
                    )
                })?;
                let mut line = String::with_capacity(1024);
                let mut size = 0u64;
                for record in reader {
                    if size.is_multiple_of(1024) {
                        stop.check()?;
                    }
                    let record = record.map_err(|e| {
                        TaskError::new(
                            ErrorKind::BadData,
                            format!(
                                "{from}, record {}: Bad Avro record encountered: {e}",
                                size + 1
                            ),
                        )
                    })?;
                    line.clear();
                    writer.row(&record, &mut line);
                    line.push('\n');
                    out.write_all(line.as_bytes())
                        .map_err(|e| blocking::write_error(&job_uri, e))?;
                    size += 1;
                }
                out.flush()
                    .map_err(|e| blocking::write_error(&job_uri, e))?;
                partial.keep();
                Ok(size)
            })
            .await?;
            records_metric(ctx, size);
            Ok(Outputs::from_iter([
                ("uri".to_string(), Json::String(uri)),
                ("size".to_string(), Json::from(size)),
            ]))
        })
    }
}

impl RunnableTask for InferAvroSchemaFromIon {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            let limit = rows_to_scan(ctx, &self.number_of_rows_to_scan)?;
            let path = ctx.execution_file_path(&from)?;
            let schema = blocking::run(move |stop| infer_schema(&from, &path, limit, stop)).await?;
            let text = serde_json::to_string_pretty(&schema).unwrap_or_default();
            let uri = ctx.output_file_uri(&format!("{}.avsc", runner_core::ids::random_u64()));
            let mut file = ctx.storage().create(&uri).await?;
            tokio::io::AsyncWriteExt::write_all(&mut file, text.as_bytes())
                .await
                .map_err(|e| blocking::write_error(&uri, e))?;
            Ok(Outputs::from_iter([("uri".to_string(), Json::String(uri))]))
        })
    }
}
