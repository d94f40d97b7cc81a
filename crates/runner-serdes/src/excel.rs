//! `io.kestra.plugin.serdes.excel`: Ion rows to an `.xlsx` workbook (one sheet per file, rows
//! streamed to disk by the writer's constant-memory mode) and `.xlsx` sheets to Ion (cells read
//! one at a time from the sheet's XML).

use crate::avro::records_metric;
use crate::blocking::{self, IonFile, Stop};
use crate::java_values::{Temporal, java_string, temporal};
use runner_core::plugin::*;
use runner_ion::IonValue;
use serde::Deserialize;
use std::io::Write;
use std::path::{Path, PathBuf};

pub(crate) const ION_TO_EXCEL: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.serdes.excel.IonToExcel",
    aliases: &[],
    doc: "Write Ion files of the execution to an Excel workbook (`.xlsx`): one sheet, or one sheet per entry of a map of sheet name to file. Outputs: `uri`, `size`.",
    example: "id: to_excel\ntype: io.kestra.plugin.serdes.excel.IonToExcel\nfrom: \"{{ outputs.query.uri }}\"\nsheetsTitle: Users",
    shape: runnable::<IonToExcel>(),
};

pub(crate) const EXCEL_TO_ION: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.serdes.excel.ExcelToIon",
    aliases: &[],
    doc: "Read the sheets of an Excel workbook (`.xlsx`) of the execution into Ion files, one per sheet, a struct per row keyed by the header (or a list per row). Outputs: `uris` (sheet name to file), `size`.",
    example: "id: to_ion\ntype: io.kestra.plugin.serdes.excel.ExcelToIon\nfrom: \"{{ outputs.download.uri }}\"",
    shape: runnable::<ExcelToIon>(),
};

/// Excel's last row: a sheet holds 1,048,576.
const MAX_ROWS: u32 = 1 << 20;
const MAX_COLUMNS: usize = 16_384;

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct IonToExcel {
    /// The kestra:/// Ion file, or a map of sheet name to Ion file.
    #[prop(type = "string or map of sheet name to file URI")]
    from: Property<Json>,
    /// The sheet's name when `from` is one file (default `Sheet`).
    sheets_title: Option<Property<String>>,
    /// Write the first row's field names as a header row (default true).
    header: Option<Property<bool>>,
    /// Give date cells the `dateFormat` number format (default true).
    styles: Option<Property<bool>>,
    /// Output encoding: accepted for Kestra's flows; a workbook's text is always UTF-8.
    charset: Option<Property<String>>,
    /// The Excel number format of date cells (default `yyyy-MM-dd`).
    date_format: Option<Property<String>>,
    /// Accepted for Kestra's flows; not used by the Excel writer.
    time_format: Option<Property<String>>,
    /// Accepted for Kestra's flows; not used by the Excel writer.
    date_time_format: Option<Property<String>>,
    /// Zone an instant's date is taken in (default: the machine's).
    time_zone_id: Option<Property<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum ValueRender {
    FormattedValue,
    UnformattedValue,
    Formula,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum DateTimeRender {
    SerialNumber,
    FormattedString,
    UnformattedValue,
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ExcelToIon {
    /// The kestra:/// `.xlsx` file.
    from: Property<String>,
    /// The sheets to read (default: all of them).
    sheets_title: Option<Property<Vec<String>>>,
    /// The first row (after `skipRows`) holds the field names (default true).
    header: Option<Property<bool>>,
    /// Rows skipped before the header, or before the data without one (default 0).
    skip_rows: Option<u32>,
    /// Accepted for Kestra's flows: empty cells are null either way, and rows are kept.
    skip_empty_rows: Option<Property<bool>>,
    /// How cells are read: UNFORMATTED_VALUE (default; numbers as floats), FORMATTED_VALUE (text), FORMULA (the cached result).
    value_render: Option<Property<ValueRender>>,
    /// How date cells are read: UNFORMATTED_VALUE (default; `yyyy-MM-dd` text), SERIAL_NUMBER, FORMATTED_STRING.
    date_time_render: Option<Property<DateTimeRender>>,
    /// Input encoding: accepted for Kestra's flows; a workbook's text is always UTF-8.
    charset: Option<Property<String>>,
}

/// The sheets `from` names, in order: (sheet name, URI).
fn sheets(from: Json, title: String) -> Result<Vec<(String, String)>, TaskError> {
    let out = match from {
        Json::String(uri) => vec![(title, uri)],
        Json::Object(map) => {
            let mut out = Vec::with_capacity(map.len());
            for (name, v) in map {
                match v {
                    Json::String(uri) => out.push((name, uri)),
                    _ => {
                        return Err(TaskError::property(
                            &format!("from.{name}"),
                            "must be the kestra:// URI of an Ion file",
                        ));
                    }
                }
            }
            out
        }
        _ => {
            return Err(TaskError::property(
                "from",
                "Invalid variable: 'from' must be a file URI or a map of sheet name to file URI",
            ));
        }
    };
    if out.is_empty() {
        return Err(TaskError::property("from", "names no sheet"));
    }
    for (name, _) in &out {
        if name.is_empty()
            || name.chars().count() > 31
            || name.contains(['[', ']', ':', '*', '?', '/', '\\'])
        {
            return Err(TaskError::property(
                "sheetsTitle",
                format!(
                    "`{name}` cannot name an Excel sheet: 1 to 31 characters, none of []:*?/\\"
                ),
            ));
        }
    }
    Ok(out)
}

struct Writing {
    header: bool,
    styles: bool,
    date_format: String,
    zone: jiff::tz::TimeZone,
}

fn excel_error(uri: &str, e: rust_xlsxwriter::XlsxError) -> TaskError {
    TaskError::new(ErrorKind::Io, format!("cannot write {uri}: {e}"))
}

/// Days since Excel's epoch (1899-12-30), with the time as the fraction.
fn serial(dt: jiff::civil::DateTime) -> f64 {
    let days = (dt.date() - jiff::civil::Date::constant(1899, 12, 30)).get_days();
    let t = dt.time();
    let secs = f64::from(t.hour()) * 3600.0
        + f64::from(t.minute()) * 60.0
        + f64::from(t.second())
        + f64::from(t.subsec_nanosecond()) / 1e9;
    f64::from(days) + secs / 86_400.0
}

fn write_sheet(
    workbook: &mut rust_xlsxwriter::Workbook,
    name: &str,
    from: &str,
    path: &Path,
    w: &Writing,
    uri: &str,
    stop: &Stop,
) -> Result<u64, TaskError> {
    let date_style = rust_xlsxwriter::Format::new().set_num_format(&w.date_format);
    let sheet = workbook
        .add_worksheet_with_constant_memory()
        .map_err(|e| excel_error(uri, e))?;
    sheet.set_name(name).map_err(|e| excel_error(uri, e))?;
    let mut rows = IonFile::open(from, path)?;
    let mut next_row: u32 = 0;
    let mut records = 0u64;
    while let Some((at, row)) = rows.next_value()? {
        if records.is_multiple_of(1024) {
            stop.check()?;
        }
        let row = match row {
            IonValue::Annotated(_, inner) => *inner,
            other => other,
        };
        let cells: Vec<&IonValue> = match &row {
            IonValue::Struct(fields) => {
                if w.header && next_row == 0 {
                    for (col, (k, _)) in fields.iter().enumerate() {
                        let col = column(col, &rows, at)?;
                        sheet
                            .write_string(0, col, k)
                            .map_err(|e| excel_error(uri, e))?;
                    }
                    next_row = 1;
                }
                fields.iter().map(|(_, v)| v).collect()
            }
            IonValue::List(items) | IonValue::SExp(items) => {
                if w.header {
                    return Err(rows
                        .error(at, "Invalid data of type List with header")
                        .hint("set `header: false` to write list rows"));
                }
                items.iter().collect()
            }
            // Kestra counts other values but writes nothing for them.
            _ => {
                records += 1;
                continue;
            }
        };
        if next_row >= MAX_ROWS {
            return Err(rows
                .error(
                    at,
                    &format!(
                        "the sheet `{name}` is full: an Excel sheet holds at most {MAX_ROWS} rows"
                    ),
                )
                .hint("split the rows over several files, one sheet each (`from` as a map)"));
        }
        for (col, v) in cells.into_iter().enumerate() {
            let col = column(col, &rows, at)?;
            write_cell(sheet, next_row, col, v, w, &date_style).map_err(|e| excel_error(uri, e))?;
        }
        next_row += 1;
        records += 1;
    }
    Ok(records)
}

fn column(col: usize, rows: &IonFile, at: usize) -> Result<u16, TaskError> {
    if col >= MAX_COLUMNS {
        return Err(rows.error(
            at,
            &format!(
                "a row of more than {MAX_COLUMNS} values: an Excel sheet has {MAX_COLUMNS} columns"
            ),
        ));
    }
    Ok(col as u16)
}

fn write_cell(
    sheet: &mut rust_xlsxwriter::Worksheet,
    row: u32,
    col: u16,
    v: &IonValue,
    w: &Writing,
    date_style: &rust_xlsxwriter::Format,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let date = match temporal(v) {
        Some(Temporal::LocalDate(d)) => Some(d.to_datetime(jiff::civil::Time::midnight())),
        Some(Temporal::LocalDateTime(dt)) => Some(dt),
        // An instant's date in the zone, as Kestra writes it (the time is dropped).
        Some(Temporal::Instant(t)) => Some(
            t.to_zoned_datetime(w.zone.clone())
                .date()
                .to_datetime(jiff::civil::Time::midnight()),
        ),
        _ => None,
    };
    if let Some(dt) = date {
        let n = serial(dt);
        if w.styles {
            sheet.write_number_with_format(row, col, n, date_style)?;
        } else {
            sheet.write_number(row, col, n)?;
        }
        return Ok(());
    }
    match v {
        IonValue::Null => {}
        IonValue::Bool(b) => {
            sheet.write_boolean(row, col, *b)?;
        }
        IonValue::Int(i) if i.unsigned_abs() < (1 << 53) => {
            sheet.write_number(row, col, *i as f64)?;
        }
        IonValue::Float(f) if f.is_finite() => {
            sheet.write_number(row, col, *f)?;
        }
        IonValue::Decimal(d) => match d.replace(['d', 'D'], "e").parse::<f64>() {
            Ok(f) if f.is_finite() => {
                sheet.write_number(row, col, f)?;
            }
            _ => {
                sheet.write_string(row, col, java_string(v))?;
            }
        },
        IonValue::String(s) if s.starts_with("Formula:") => {
            sheet.write_formula(row, col, &s["Formula:".len()..])?;
        }
        IonValue::Annotated(_, inner) if temporal(v).is_none() => {
            write_cell(sheet, row, col, inner, w, date_style)?;
        }
        other => {
            sheet.write_string(row, col, java_string(other))?;
        }
    }
    Ok(())
}

impl RunnableTask for IonToExcel {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let title = ctx
                .render_opt(&self.sheets_title, "sheetsTitle")?
                .unwrap_or_else(|| "Sheet".into());
            let sheets = sheets(ctx.render(&self.from, "from")?, title)?;
            ctx.render_opt(&self.charset, "charset")?;
            ctx.render_opt(&self.time_format, "timeFormat")?;
            ctx.render_opt(&self.date_time_format, "dateTimeFormat")?;
            let w = Writing {
                header: ctx.render_opt(&self.header, "header")?.unwrap_or(true),
                styles: ctx.render_opt(&self.styles, "styles")?.unwrap_or(true),
                date_format: ctx
                    .render_opt(&self.date_format, "dateFormat")?
                    .unwrap_or_else(|| "yyyy-MM-dd".into()),
                zone: ctx.render_time_zone(&self.time_zone_id, "timeZoneId")?,
            };
            let mut inputs = Vec::with_capacity(sheets.len());
            for (name, uri) in sheets {
                let path = ctx.execution_file_path(&uri)?;
                inputs.push((name, uri, path));
            }
            let (uri, out_path) = blocking::output_file(ctx, "xlsx")?;
            let job_uri = uri.clone();
            let counts = blocking::run(move |stop| {
                let partial = PartialFile::new(&out_path);
                let mut workbook = rust_xlsxwriter::Workbook::new();
                // The constant-memory sheets spill their rows to temporary files: beside the
                // output, in storage, not in the system's /tmp.
                let spill = out_path.parent().unwrap_or(Path::new("."));
                workbook
                    .set_tempdir(spill)
                    .map_err(|e| excel_error(&job_uri, e))?;
                let mut counts = Vec::with_capacity(inputs.len());
                for (name, from, path) in &inputs {
                    counts.push((
                        name.clone(),
                        write_sheet(&mut workbook, name, from, path, &w, &job_uri, stop)?,
                    ));
                }
                stop.check()?;
                workbook
                    .save(&out_path)
                    .map_err(|e| excel_error(&job_uri, e))?;
                partial.keep();
                Ok(counts)
            })
            .await?;
            let mut size = 0;
            for (name, n) in counts {
                size += n;
                let mut tags = serde_json::Map::new();
                tags.insert("sheet".into(), Json::String(name));
                ctx.metric(Metric {
                    name: "records".into(),
                    kind: MetricKind::Counter,
                    value: n as f64,
                    tags,
                });
            }
            Ok(Outputs::from_iter([
                ("uri".to_string(), Json::String(uri)),
                ("size".to_string(), Json::from(size)),
            ]))
        })
    }
}

struct Reading {
    header: bool,
    skip_rows: u32,
    value: ValueRender,
    date: DateTimeRender,
}

impl RunnableTask for ExcelToIon {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            let wanted = ctx.render_opt(&self.sheets_title, "sheetsTitle")?;
            ctx.render_opt(&self.skip_empty_rows, "skipEmptyRows")?;
            ctx.render_opt(&self.charset, "charset")?;
            let r = Reading {
                header: ctx.render_opt(&self.header, "header")?.unwrap_or(true),
                skip_rows: self.skip_rows.unwrap_or(0),
                value: ctx
                    .render_opt(&self.value_render, "valueRender")?
                    .unwrap_or(ValueRender::UnformattedValue),
                date: ctx
                    .render_opt(&self.date_time_render, "dateTimeRender")?
                    .unwrap_or(DateTimeRender::UnformattedValue),
            };
            let path = ctx.execution_file_path(&from)?;
            // One output file per sheet, named before the thread starts.
            let probe = ctx.output_file_uri("sheet.ion");
            let base = probe.trim_end_matches("sheet.ion").to_string();
            let dir = ctx
                .storage()
                .path(&probe)?
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let (sheets, total) =
                blocking::run(move |stop| read_workbook(&from, &path, wanted, &r, &dir, stop))
                    .await?;
            let mut uris = serde_json::Map::new();
            for (name, file) in sheets {
                uris.insert(name, Json::String(format!("{}{file}", base)));
            }
            records_metric(ctx, total);
            Ok(Outputs::from_iter([
                ("uris".to_string(), Json::Object(uris)),
                ("size".to_string(), Json::from(total)),
            ]))
        })
    }
}

fn read_error(from: &str, e: impl std::fmt::Display) -> TaskError {
    TaskError::new(
        ErrorKind::BadData,
        format!("{from} is not a readable .xlsx workbook: {e}"),
    )
    .hint("ExcelToIon reads Excel 2007+ workbooks (.xlsx); save .xls or .ods files as .xlsx first")
}

/// Reads the selected sheets of the workbook at `path`, each to `dir/<n>.ion`; returns (sheet
/// name, file name) pairs and the rows written.
fn read_workbook(
    from: &str,
    path: &Path,
    wanted: Option<Vec<String>>,
    r: &Reading,
    dir: &Path,
    stop: &Stop,
) -> Result<(Vec<(String, String)>, u64), TaskError> {
    use calamine::Reader;
    let file = std::fs::File::open(path)
        .map_err(|e| TaskError::new(ErrorKind::Io, format!("cannot read {from}")).caused_by(e))?;
    let mut book: calamine::Xlsx<_> =
        calamine::Xlsx::new(std::io::BufReader::new(file)).map_err(|e| read_error(from, e))?;
    let names = book.sheet_names();
    let selected: Vec<String> = match wanted {
        None => names.clone(),
        Some(w) => {
            if let Some(missing) = w.iter().find(|n| !names.contains(n)) {
                return Err(TaskError::property(
                    "sheetsTitle",
                    format!(
                        "the workbook has no sheet `{missing}`; its sheets: {}",
                        names.join(", ")
                    ),
                ));
            }
            w
        }
    };
    std::fs::create_dir_all(dir).map_err(|e| blocking::write_error(from, e))?;
    let mut partials = Vec::new();
    let mut out = Vec::new();
    let mut total = 0;
    for name in selected {
        let file = format!("{}.ion", runner_core::ids::random_u64());
        let target: PathBuf = dir.join(&file);
        partials.push(PartialFile::new(&target));
        let cells = book
            .worksheet_cells_reader(&name)
            .map_err(|e| read_error(from, e))?;
        total += read_sheet(from, cells, r, &target, stop)?;
        out.push((name, file));
    }
    for p in partials {
        p.keep();
    }
    Ok((out, total))
}

/// One sheet's rows to Ion text: returns the data rows written.
fn read_sheet<RS: std::io::Read + std::io::Seek>(
    from: &str,
    mut cells: calamine::XlsxCellReader<'_, RS>,
    r: &Reading,
    target: &Path,
    stop: &Stop,
) -> Result<u64, TaskError> {
    let file = std::fs::File::create(target).map_err(|e| blocking::write_error(from, e))?;
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, file);
    let mut header: Option<Vec<String>> = None;
    let mut width: Option<usize> = None;
    let mut rows_seen: u32 = 0;
    let mut written = 0u64;
    let mut current: Option<(u32, Vec<(u32, IonValue)>)> = None;
    let mut line = String::with_capacity(1024);
    let mut finish_row =
        |cells_of_row: Vec<(u32, IonValue)>, line: &mut String| -> Result<bool, TaskError> {
            let index = rows_seen;
            rows_seen += 1;
            if index < r.skip_rows {
                return Ok(false);
            }
            if r.header && header.is_none() {
                let last = cells_of_row
                    .iter()
                    .map(|(c, _)| *c)
                    .max()
                    .map_or(0, |c| c + 1);
                let mut names: Vec<String> = (0..last).map(|c| format!("Column{c}")).collect();
                for (c, v) in &cells_of_row {
                    if !matches!(v, IonValue::Null) {
                        names[*c as usize] = match v {
                            IonValue::String(s) => s.clone(),
                            other => java_string(other),
                        };
                    }
                }
                header = Some(names);
                return Ok(false);
            }
            line.clear();
            match &header {
                Some(names) => {
                    // A repeated name keeps its first place and its last column's value.
                    let mut fields: Vec<(String, IonValue)> = Vec::with_capacity(names.len());
                    for (c, name) in names.iter().enumerate() {
                        let v = cells_of_row
                            .iter()
                            .find(|(col, _)| *col as usize == c)
                            .map(|(_, v)| v.clone())
                            .unwrap_or(IonValue::Null);
                        match fields.iter_mut().find(|(n, _)| n == name) {
                            Some(slot) => slot.1 = v,
                            None => fields.push((name.clone(), v)),
                        }
                    }
                    write_ion(&IonValue::Struct(fields), line);
                }
                None => {
                    let w = *width.get_or_insert_with(|| {
                        cells_of_row
                            .iter()
                            .map(|(c, _)| *c as usize + 1)
                            .max()
                            .unwrap_or(0)
                    });
                    let mut items = vec![IonValue::Null; w];
                    for (c, v) in cells_of_row {
                        if (c as usize) < w {
                            items[c as usize] = v;
                        }
                    }
                    write_ion(&IonValue::List(items), line);
                }
            }
            line.push('\n');
            Ok(true)
        };
    loop {
        let cell = cells.next_cell().map_err(|e| read_error(from, e))?;
        let row = cell.as_ref().map_or(u32::MAX, |c| c.get_position().0);
        if current.as_ref().is_some_and(|(r0, _)| *r0 != row) {
            let (_, row_cells) = current.take().unwrap_or_default();
            if finish_row(row_cells, &mut line)? {
                out.write_all(line.as_bytes())
                    .map_err(|e| blocking::write_error(from, e))?;
                written += 1;
                if written.is_multiple_of(1024) {
                    stop.check()?;
                }
            }
        }
        let Some(cell) = cell else {
            break;
        };
        let (row, col) = cell.get_position();
        if col as usize >= MAX_COLUMNS {
            continue;
        }
        let value = render_cell(cell.get_value(), r);
        current
            .get_or_insert_with(|| (row, Vec::new()))
            .1
            .push((col, value));
    }
    out.flush().map_err(|e| blocking::write_error(from, e))?;
    Ok(written)
}

fn write_ion(v: &IonValue, out: &mut String) {
    match v {
        IonValue::Null => out.push_str("null"),
        IonValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        IonValue::Float(f) => runner_ion::write_float(*f, out),
        IonValue::Int(i) => out.push_str(&i.to_string()),
        IonValue::Timestamp(t) => out.push_str(t),
        IonValue::String(s) => runner_ion::write_string(s, out),
        IonValue::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_ion(item, out);
            }
            out.push(']');
        }
        IonValue::Struct(fields) => {
            out.push('{');
            for (i, (k, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                runner_ion::write_field_name(k, out);
                out.push(':');
                write_ion(item, out);
            }
            out.push('}');
        }
        other => runner_ion::write_string(&java_string(other), out),
    }
}

/// An Excel serial date-time as a civil date-time (1900 date system).
fn from_serial(n: f64) -> Option<jiff::civil::DateTime> {
    let days = n.floor();
    // Excel keeps milliseconds at best; rounding there undoes the float's error.
    let nanos = ((n - days) * 86_400e3).round() as i64 * 1_000_000;
    let date = jiff::civil::Date::constant(1899, 12, 30)
        .checked_add(jiff::Span::new().days(days as i64))
        .ok()?;
    date.to_datetime(jiff::civil::Time::midnight())
        .checked_add(jiff::SignedDuration::from_nanos(nanos))
        .ok()
}

/// Java's `DataFormatter` text of a number in the General format: no `.0` on whole numbers.
fn general(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn render_cell(v: &calamine::DataRef<'_>, r: &Reading) -> IonValue {
    use calamine::DataRef;
    let formatted = r.value == ValueRender::FormattedValue;
    match v {
        DataRef::Empty | DataRef::Error(_) => IonValue::Null,
        DataRef::String(s) => IonValue::String(s.clone()),
        DataRef::SharedString(s) => IonValue::String(s.to_string()),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => IonValue::String(s.clone()),
        DataRef::Bool(b) if formatted => IonValue::String(if *b { "TRUE" } else { "FALSE" }.into()),
        DataRef::Bool(b) => IonValue::Bool(*b),
        DataRef::Int(i) if formatted => IonValue::String(i.to_string()),
        DataRef::Int(i) => IonValue::Float(*i as f64),
        DataRef::Float(f) if formatted => IonValue::String(general(*f)),
        DataRef::Float(f) => IonValue::Float(*f),
        DataRef::DateTime(d) => {
            let n = d.as_f64();
            let Some(dt) = from_serial(n) else {
                return IonValue::Float(n);
            };
            match (r.date, formatted) {
                (DateTimeRender::SerialNumber, _) => IonValue::Float(n),
                (DateTimeRender::FormattedString, _) => {
                    if dt.time() == jiff::civil::Time::midnight() {
                        IonValue::String(dt.date().to_string())
                    } else {
                        IonValue::String(dt.to_string())
                    }
                }
                // FORMATTED_VALUE with dates unformatted: a java.util.Date, an instant.
                (DateTimeRender::UnformattedValue, true) => {
                    let ts = dt
                        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                        .map(|z| z.timestamp());
                    match ts {
                        Ok(ts) => IonValue::Timestamp(format!("{}", ts)),
                        Err(_) => IonValue::Float(n),
                    }
                }
                (DateTimeRender::UnformattedValue, false) => {
                    IonValue::String(dt.date().to_string())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_dates_round_trip() {
        let dt = jiff::civil::date(2021, 5, 5).at(12, 0, 0, 0);
        assert_eq!(serial(dt), 44321.5);
        assert_eq!(from_serial(44321.5), Some(dt));
        assert_eq!(general(1.0), "1");
        assert_eq!(general(1.25), "1.25");
    }
}
