//! `io.kestra.plugin.serdes.parquet`: Ion rows to a Parquet file through the Avro conversion
//! (the schema given or inferred, as Kestra's parquet-avro writer takes it), one row group at a
//! time, and Parquet back to Ion row by row. runner writes flat schemas: primitive and logical
//! fields, nullable or not; nested records, arrays and maps are refused with a message.

use crate::avro::convert::Converter;
use crate::avro::to_ion::{decimal_text, instant, local_time};
use crate::avro::{AvroOptions, BadRows, Prepared, records_metric, schema_for};
use crate::blocking::{self, IonFile};
use apache_avro::Schema as Avro;
use apache_avro::types::Value;
use base64::Engine;
use parquet::basic::{
    Compression, DecimalType, GzipLevel, LogicalType, Repetition, TimeType, TimeUnit,
    TimestampType, Type as Physical, ZstdLevel,
};
use parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, DoubleType, FloatType, Int32Type, Int64Type,
};
use parquet::file::properties::{WriterProperties, WriterVersion};
use parquet::file::reader::FileReader;
use parquet::record::Field;
use parquet::schema::types::Type;
use runner_core::plugin::*;
use serde::Deserialize;
use std::io::Write;
use std::sync::Arc;

pub(crate) const ION_TO_PARQUET: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.serdes.parquet.IonToParquet",
    aliases: &["io.kestra.plugin.serdes.parquet.ParquetWriter"],
    doc: "Convert an Ion file of the execution to a Parquet file, with the Avro `schema` given or inferred from the rows (flat schemas). Outputs: `uri`, `size`.",
    example: "id: to_parquet\ntype: io.kestra.plugin.serdes.parquet.IonToParquet\nfrom: \"{{ outputs.query.uri }}\"\ncompressionCodec: SNAPPY",
    shape: runnable::<IonToParquet>(),
};

pub(crate) const PARQUET_TO_ION: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.serdes.parquet.ParquetToIon",
    aliases: &["io.kestra.plugin.serdes.parquet.ParquetReader"],
    doc: "Convert a Parquet file of the execution to Ion, one row per line. Outputs: `uri`, `size`.",
    example: "id: to_ion\ntype: io.kestra.plugin.serdes.parquet.ParquetToIon\nfrom: \"{{ outputs.download.uri }}\"",
    shape: runnable::<ParquetToIon>(),
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "UPPERCASE")]
enum Codec {
    Uncompressed,
    Snappy,
    Gzip,
    Zstd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
enum Version {
    V1,
    V2,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IonToParquet {
    /// The kestra:/// Ion file.
    from: Property<String>,
    #[serde(flatten)]
    options: AvroOptions,
    /// UNCOMPRESSED, SNAPPY, GZIP or ZSTD (default GZIP).
    compression_codec: Option<Property<Codec>>,
    /// V1 or V2 data pages (default V2).
    parquet_version: Option<Property<Version>>,
    /// Bytes of row data per row group (default 134217728): memory holds one row group.
    row_group_size: Option<Property<u64>>,
    /// Bytes per data page (default 1048576).
    page_size: Option<Property<u32>>,
    /// Bytes per dictionary page (default 1048576).
    dictionary_page_size: Option<Property<u32>>,
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ParquetToIon {
    /// The kestra:/// Parquet file.
    from: Property<String>,
}

/// One column's values of the current row group, and its definition levels when nullable.
enum Values {
    Bool(Vec<bool>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Bytes(Vec<ByteArray>),
}

struct Column {
    name: String,
    optional: bool,
    /// The Avro type of a present value (the non-null branch).
    avro: Avro,
    values: Values,
    levels: Vec<i16>,
}

/// The Parquet column of an Avro field (parquet-avro's mapping), or why it cannot be one.
fn column(name: &str, schema: &Avro) -> Result<(Type, Column), String> {
    let (optional, inner) = match schema {
        Avro::Union(u) => {
            let variants = u.variants();
            let non_null: Vec<&Avro> = variants
                .iter()
                .filter(|v| !matches!(v, Avro::Null))
                .collect();
            if non_null.len() != 1 || variants.len() != 2 {
                return Err(format!(
                    "the field `{name}` is a union of several types: Parquet columns take one type (or it and null)"
                ));
            }
            (true, non_null[0].clone())
        }
        other => (false, other.clone()),
    };
    let (physical, logical, values) = match &inner {
        Avro::Boolean => (Physical::BOOLEAN, None, Values::Bool(Vec::new())),
        Avro::Int => (Physical::INT32, None, Values::I32(Vec::new())),
        Avro::Long => (Physical::INT64, None, Values::I64(Vec::new())),
        Avro::Float => (Physical::FLOAT, None, Values::F32(Vec::new())),
        Avro::Double => (Physical::DOUBLE, None, Values::F64(Vec::new())),
        Avro::String | Avro::Uuid => (
            Physical::BYTE_ARRAY,
            Some(LogicalType::String),
            Values::Bytes(Vec::new()),
        ),
        Avro::Enum(_) => (
            Physical::BYTE_ARRAY,
            Some(LogicalType::Enum),
            Values::Bytes(Vec::new()),
        ),
        Avro::Bytes | Avro::Fixed(_) => (Physical::BYTE_ARRAY, None, Values::Bytes(Vec::new())),
        Avro::Decimal(d) => (
            Physical::BYTE_ARRAY,
            Some(LogicalType::Decimal(DecimalType {
                scale: d.scale as i32,
                precision: d.precision as i32,
            })),
            Values::Bytes(Vec::new()),
        ),
        Avro::Date => (
            Physical::INT32,
            Some(LogicalType::Date),
            Values::I32(Vec::new()),
        ),
        Avro::TimeMillis => (
            Physical::INT32,
            Some(LogicalType::Time(TimeType {
                is_adjusted_to_u_t_c: true,
                unit: TimeUnit::MILLIS,
            })),
            Values::I32(Vec::new()),
        ),
        Avro::TimeMicros => (
            Physical::INT64,
            Some(LogicalType::Time(TimeType {
                is_adjusted_to_u_t_c: true,
                unit: TimeUnit::MICROS,
            })),
            Values::I64(Vec::new()),
        ),
        Avro::TimestampMillis | Avro::LocalTimestampMillis => (
            Physical::INT64,
            Some(LogicalType::Timestamp(TimestampType {
                is_adjusted_to_u_t_c: matches!(inner, Avro::TimestampMillis),
                unit: TimeUnit::MILLIS,
            })),
            Values::I64(Vec::new()),
        ),
        Avro::TimestampMicros | Avro::LocalTimestampMicros => (
            Physical::INT64,
            Some(LogicalType::Timestamp(TimestampType {
                is_adjusted_to_u_t_c: matches!(inner, Avro::TimestampMicros),
                unit: TimeUnit::MICROS,
            })),
            Values::I64(Vec::new()),
        ),
        Avro::Record(_) | Avro::Array(_) | Avro::Map(_) | Avro::Ref { .. } => {
            return Err(format!(
                "the field `{name}` is a nested record, array or map: runner writes flat Parquet schemas only for now"
            ));
        }
        other => {
            return Err(format!(
                "the field `{name}`'s type {other:?} has no Parquet column in runner"
            ));
        }
    };
    let mut builder = Type::primitive_type_builder(name, physical)
        .with_repetition(if optional {
            Repetition::OPTIONAL
        } else {
            Repetition::REQUIRED
        })
        .with_logical_type(logical.clone());
    if let Some(LogicalType::Decimal(DecimalType { scale, precision })) = logical {
        builder = builder.with_precision(precision).with_scale(scale);
    }
    let t = builder
        .build()
        .map_err(|e| format!("the field `{name}`: {e}"))?;
    Ok((
        t,
        Column {
            name: name.to_string(),
            optional,
            avro: inner,
            values,
            levels: Vec::new(),
        },
    ))
}

impl Column {
    /// Appends one row's value; returns its approximate size in bytes.
    fn push(&mut self, v: &Value) -> Result<usize, String> {
        let v = match v {
            Value::Union(_, inner) => inner.as_ref(),
            other => other,
        };
        if matches!(v, Value::Null) {
            if !self.optional {
                return Err(format!("null for the non-nullable field `{}`", self.name));
            }
            self.levels.push(0);
            return Ok(1);
        }
        if self.optional {
            self.levels.push(1);
        }
        let bad = || {
            format!(
                "the field `{}` holds {v:?}, not its schema type {:?}",
                self.name, self.avro
            )
        };
        Ok(match (&mut self.values, v) {
            (Values::Bool(out), Value::Boolean(b)) => {
                out.push(*b);
                1
            }
            (Values::I32(out), Value::Int(i) | Value::Date(i) | Value::TimeMillis(i)) => {
                out.push(*i);
                4
            }
            (
                Values::I64(out),
                Value::Long(i)
                | Value::TimeMicros(i)
                | Value::TimestampMillis(i)
                | Value::TimestampMicros(i)
                | Value::LocalTimestampMillis(i)
                | Value::LocalTimestampMicros(i),
            ) => {
                out.push(*i);
                8
            }
            (Values::F32(out), Value::Float(f)) => {
                out.push(*f);
                4
            }
            (Values::F64(out), Value::Double(f)) => {
                out.push(*f);
                8
            }
            (Values::Bytes(out), Value::String(s) | Value::Enum(_, s)) => {
                out.push(ByteArray::from(s.as_bytes().to_vec()));
                s.len() + 4
            }
            (Values::Bytes(out), Value::Uuid(u)) => {
                out.push(ByteArray::from(u.to_string().into_bytes()));
                40
            }
            (Values::Bytes(out), Value::Bytes(b) | Value::Fixed(_, b)) => {
                out.push(ByteArray::from(b.clone()));
                b.len() + 4
            }
            (Values::Bytes(out), Value::Decimal(d)) => {
                let bytes: Vec<u8> = Vec::try_from(d).map_err(|e| e.to_string())?;
                let n = bytes.len();
                out.push(ByteArray::from(bytes));
                n + 4
            }
            _ => return Err(bad()),
        })
    }

    fn write(
        &mut self,
        rg: &mut parquet::file::writer::SerializedRowGroupWriter<'_, std::fs::File>,
    ) -> parquet::errors::Result<()> {
        let Some(mut writer) = rg.next_column()? else {
            return Err(parquet::errors::ParquetError::General(
                "more columns than the schema".into(),
            ));
        };
        let levels = self.optional.then_some(self.levels.as_slice());
        match &mut self.values {
            Values::Bool(v) => writer.typed::<BoolType>().write_batch(v, levels, None)?,
            Values::I32(v) => writer.typed::<Int32Type>().write_batch(v, levels, None)?,
            Values::I64(v) => writer.typed::<Int64Type>().write_batch(v, levels, None)?,
            Values::F32(v) => writer.typed::<FloatType>().write_batch(v, levels, None)?,
            Values::F64(v) => writer.typed::<DoubleType>().write_batch(v, levels, None)?,
            Values::Bytes(v) => writer
                .typed::<ByteArrayType>()
                .write_batch(v, levels, None)?,
        };
        writer.close()?;
        match &mut self.values {
            Values::Bool(v) => v.clear(),
            Values::I32(v) => v.clear(),
            Values::I64(v) => v.clear(),
            Values::F32(v) => v.clear(),
            Values::F64(v) => v.clear(),
            Values::Bytes(v) => v.clear(),
        }
        self.levels.clear();
        Ok(())
    }
}

impl RunnableTask for IonToParquet {
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
            let compression = match ctx
                .render_opt(&self.compression_codec, "compressionCodec")?
                .unwrap_or(Codec::Gzip)
            {
                Codec::Uncompressed => Compression::UNCOMPRESSED,
                Codec::Snappy => Compression::SNAPPY,
                Codec::Gzip => Compression::GZIP(GzipLevel::default()),
                Codec::Zstd => Compression::ZSTD(ZstdLevel::default()),
            };
            let version = match ctx
                .render_opt(&self.parquet_version, "parquetVersion")?
                .unwrap_or(Version::V2)
            {
                Version::V1 => WriterVersion::PARQUET_1_0,
                Version::V2 => WriterVersion::PARQUET_2_0,
            };
            let row_group = ctx
                .render_opt(&self.row_group_size, "rowGroupSize")?
                .unwrap_or(128 * 1024 * 1024)
                .max(1);
            let page = ctx
                .render_opt(&self.page_size, "pageSize")?
                .unwrap_or(1 << 20)
                .max(1) as usize;
            let dictionary = ctx
                .render_opt(&self.dictionary_page_size, "dictionaryPageSize")?
                .unwrap_or(1 << 20)
                .max(1) as usize;
            let props = Arc::new(
                WriterProperties::builder()
                    .set_compression(compression)
                    .set_writer_version(version)
                    .set_data_page_size_limit(page)
                    .set_dictionary_page_size_limit(dictionary)
                    .set_dictionary_enabled(true)
                    .build(),
            );
            let path = ctx.execution_file_path(&from)?;
            let (uri, out_path) = blocking::output_file(ctx, "parquet")?;
            let job_uri = uri.clone();
            let (size, bad) = blocking::run(move |stop| {
                let avro = schema_for(schema, &from, &path, limit, stop)?;
                let Avro::Record(record) = &avro else {
                    return Err(TaskError::property(
                        "schema",
                        "the schema must be a record: Parquet rows are records",
                    ));
                };
                let mut fields = Vec::with_capacity(record.fields.len());
                let mut columns = Vec::with_capacity(record.fields.len());
                for f in &record.fields {
                    let (t, c) =
                        column(&f.name, &f.schema).map_err(|e| TaskError::property("schema", e))?;
                    fields.push(Arc::new(t));
                    columns.push(c);
                }
                let parquet_schema = Arc::new(
                    Type::group_type_builder(&record.name.name)
                        .with_fields(fields)
                        .build()
                        .map_err(|e| TaskError::property("schema", e.to_string()))?,
                );
                let converter =
                    Converter::new(&avro, &opts).map_err(|e| TaskError::property("schema", e))?;
                let partial = PartialFile::new(&out_path);
                let file = std::fs::File::create(&out_path)
                    .map_err(|e| blocking::write_error(&job_uri, e))?;
                let write_error = |e: parquet::errors::ParquetError| {
                    TaskError::new(ErrorKind::Io, format!("cannot write {job_uri}: {e}"))
                };
                let mut writer =
                    parquet::file::writer::SerializedFileWriter::new(file, parquet_schema, props)
                        .map_err(write_error)?;
                let mut rows = IonFile::open(&from, &path)?;
                let (mut size, mut bad, mut pending, mut in_group) =
                    (0u64, BadRows::new(on_bad), 0u64, 0u64);
                let flush =
                    |writer: &mut parquet::file::writer::SerializedFileWriter<std::fs::File>,
                     columns: &mut Vec<Column>|
                     -> parquet::errors::Result<()> {
                        let mut rg = writer.next_row_group()?;
                        for c in columns.iter_mut() {
                            c.write(&mut rg)?;
                        }
                        rg.close()?;
                        Ok(())
                    };
                while let Some((at, row)) = rows.next_value()? {
                    if (size + bad.count).is_multiple_of(1024) {
                        stop.check()?;
                    }
                    let converted = converter.row(&row, &avro).and_then(|v| match v {
                        Value::Record(values) => Ok(values),
                        other => Err(format!("a row converted to {other:?}, not a record")),
                    });
                    // A row goes in whole or not at all: check every field before appending.
                    let converted = converted.and_then(|values| {
                        for (c, (_, v)) in columns.iter().zip(&values) {
                            let v = match v {
                                Value::Union(_, inner) => inner.as_ref(),
                                other => other,
                            };
                            if matches!(v, Value::Null) && !c.optional {
                                return Err(format!(
                                    "null for the non-nullable field `{}`",
                                    c.name
                                ));
                            }
                        }
                        Ok(values)
                    });
                    match converted {
                        Ok(values) => {
                            for (c, (_, v)) in columns.iter_mut().zip(&values) {
                                pending += c.push(v).map_err(|e| rows.error(at, &e))? as u64;
                            }
                            size += 1;
                            in_group += 1;
                            if pending >= row_group {
                                flush(&mut writer, &mut columns).map_err(write_error)?;
                                pending = 0;
                                in_group = 0;
                            }
                        }
                        Err(e) => bad.bad(&rows, at, &row, &e)?,
                    }
                }
                if in_group > 0 {
                    flush(&mut writer, &mut columns).map_err(write_error)?;
                }
                writer.close().map_err(write_error)?;
                partial.keep();
                Ok((size, bad))
            })
            .await?;
            bad.log(ctx);
            records_metric(ctx, size);
            Ok(Outputs::from_iter([
                ("uri".to_string(), Json::String(uri)),
                ("size".to_string(), Json::from(size)),
            ]))
        })
    }
}

/// A Parquet value as Ion text, as Kestra's reader maps it: days, UTC instants, annotated
/// local times, decimals with their scale, blobs.
fn write_field(f: &Field, out: &mut String) {
    match f {
        Field::Null => out.push_str("null"),
        Field::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Field::Byte(i) => out.push_str(&i.to_string()),
        Field::Short(i) => out.push_str(&i.to_string()),
        Field::Int(i) => out.push_str(&i.to_string()),
        Field::Long(i) => out.push_str(&i.to_string()),
        Field::UByte(i) => out.push_str(&i.to_string()),
        Field::UShort(i) => out.push_str(&i.to_string()),
        Field::UInt(i) => out.push_str(&i.to_string()),
        Field::ULong(i) => out.push_str(&i.to_string()),
        Field::Float16(x) => runner_ion::write_float(f64::from(*x), out),
        Field::Float(x) => runner_ion::write_float(f64::from(*x), out),
        Field::Double(x) => runner_ion::write_float(*x, out),
        Field::Decimal(d) => {
            let text = decimal_text(d.data(), d.scale().max(0) as usize);
            out.push_str(&text);
        }
        Field::Str(s) => runner_ion::write_string(s, out),
        Field::Bytes(b) => {
            out.push_str("{{");
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(b.data()));
            out.push_str("}}");
        }
        Field::Date(days) => {
            let d = jiff::civil::Date::constant(1970, 1, 1)
                .checked_add(jiff::Span::new().days(i64::from(*days)))
                .unwrap_or_default();
            out.push_str(&d.to_string());
        }
        Field::TimeMillis(ms) => local_time(i64::from(*ms) * 1_000_000, out),
        Field::TimeMicros(us) => local_time(us * 1000, out),
        Field::TimestampMillis(ms) => instant(i128::from(*ms) * 1_000_000, 3, out),
        Field::TimestampMicros(us) => instant(i128::from(*us) * 1000, 6, out),
        Field::Group(row) => {
            out.push('{');
            for (i, (k, v)) in row.get_column_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                runner_ion::write_field_name(k, out);
                out.push(':');
                write_field(v, out);
            }
            out.push('}');
        }
        Field::ListInternal(list) => {
            out.push('[');
            for (i, v) in list.elements().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_field(v, out);
            }
            out.push(']');
        }
        Field::MapInternal(map) => {
            out.push('{');
            for (i, (k, v)) in map.entries().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let key = match k {
                    Field::Str(s) => s.clone(),
                    other => other.to_string(),
                };
                runner_ion::write_field_name(&key, out);
                out.push(':');
                write_field(v, out);
            }
            out.push('}');
        }
    }
}

impl RunnableTask for ParquetToIon {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            let path = ctx.execution_file_path(&from)?;
            let (uri, out_path) = blocking::output_file(ctx, "ion")?;
            let job_uri = uri.clone();
            let size = blocking::run(move |stop| {
                let input = std::fs::File::open(&path).map_err(|e| {
                    TaskError::new(ErrorKind::Io, format!("cannot read {from}")).caused_by(e)
                })?;
                let reader = parquet::file::serialized_reader::SerializedFileReader::new(input)
                    .map_err(|e| {
                        TaskError::new(
                            ErrorKind::BadData,
                            format!("{from} is not a Parquet file: {e}"),
                        )
                    })?;
                let partial = PartialFile::new(&out_path);
                let file = std::fs::File::create(&out_path)
                    .map_err(|e| blocking::write_error(&job_uri, e))?;
                let mut out = std::io::BufWriter::with_capacity(256 * 1024, file);
                let rows = reader.get_row_iter(None).map_err(|e| {
                    TaskError::new(ErrorKind::BadData, format!("{from} cannot be read: {e}"))
                })?;
                let (mut size, mut line) = (0u64, String::new());
                for row in rows {
                    if size.is_multiple_of(1024) {
                        stop.check()?;
                    }
                    let row = row.map_err(|e| {
                        TaskError::new(ErrorKind::BadData, format!("{from}, row {}: {e}", size + 1))
                    })?;
                    line.clear();
                    write_field(&Field::Group(row), &mut line);
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
