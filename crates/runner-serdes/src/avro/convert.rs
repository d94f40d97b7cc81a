//! Ion values to Avro values against a schema, by Kestra's rules (`AvroConverter`): strings are
//! parsed into the field's type, the true/false/null lists apply, unions take the first branch
//! that converts. Where Kestra fails on valid data (an Ion decimal into a `double`, an int into
//! a decimal scaled wrong, a blob written as `[B@...`), runner converts it as the data says.

use crate::java_values::{Temporal, decimal_parts, java_class, java_string, temporal};
use apache_avro::Schema;
use apache_avro::schema::{Name, RecordSchema};
use apache_avro::types::Value;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime};
use runner_ion::IonValue;
use std::collections::HashMap;

/// The conversion options of IonToAvro and IonToParquet.
pub(crate) struct Options {
    pub(crate) true_values: Vec<String>,
    pub(crate) false_values: Vec<String>,
    pub(crate) null_values: Vec<String>,
    pub(crate) date_format: Option<String>,
    pub(crate) time_format: Option<String>,
    pub(crate) datetime_format: Option<String>,
    pub(crate) decimal_separator: char,
    pub(crate) strict_schema: bool,
    pub(crate) infer_all_fields: bool,
    pub(crate) zone: TimeZone,
}

pub(crate) const TRUE_VALUES: &[&str] = &["t", "true", "enabled", "1", "on", "yes"];
pub(crate) const FALSE_VALUES: &[&str] = &["f", "false", "disabled", "0", "off", "no", ""];
pub(crate) const NULL_VALUES: &[&str] = &[
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "1.#IND", "1.#QNAN", "NA", "n/a",
    "nan", "null",
];

/// Converts rows for one schema; named types are looked up by their full name.
pub(crate) struct Converter<'s> {
    names: HashMap<Name, &'s Schema>,
    opts: &'s Options,
}

fn text(v: &IonValue) -> Option<&str> {
    match v {
        IonValue::String(s) | IonValue::Symbol(s) => Some(s),
        IonValue::Annotated(_, inner) => text(inner),
        _ => None,
    }
}

fn unannotated(v: &IonValue) -> &IonValue {
    match v {
        IonValue::Annotated(_, inner) if temporal(v).is_none() => unannotated(inner),
        other => other,
    }
}

impl<'s> Converter<'s> {
    pub(crate) fn new(schema: &'s Schema, opts: &'s Options) -> Result<Self, String> {
        let resolved =
            apache_avro::schema::ResolvedSchema::try_from(schema).map_err(|e| e.to_string())?;
        let names = resolved
            .get_names()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        Ok(Converter { names, opts })
    }

    fn resolve(&self, s: &'s Schema) -> Result<&'s Schema, String> {
        match s {
            Schema::Ref { name } => self
                .names
                .get(name)
                .copied()
                .or_else(|| {
                    self.names
                        .iter()
                        .find(|(k, _)| k.name == name.name)
                        .map(|(_, v)| *v)
                })
                .ok_or_else(|| format!("the schema names an undefined type `{}`", name.name)),
            other => Ok(other),
        }
    }

    /// One top-level row: a struct by field names (or positional `colN` keys), a list
    /// positionally, or the whole list when the schema is the inferred `root { value: array }`.
    pub(crate) fn row(&self, row: &IonValue, schema: &'s Schema) -> Result<Value, String> {
        let Schema::Record(record) = self.resolve(schema)? else {
            return self.value(row, schema);
        };
        let row = unannotated(row);
        match row {
            IonValue::Struct(fields) => {
                if self.opts.strict_schema && fields.len() > record.fields.len() {
                    return Err(format!(
                        "Data contains more fields than schema: the row has {} fields [{}], the schema {} [{}]",
                        fields.len(),
                        fields
                            .iter()
                            .map(|(k, _)| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        record.fields.len(),
                        record
                            .fields
                            .iter()
                            .map(|f| f.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    ));
                }
                let positional = !fields.is_empty()
                    && fields.iter().all(|(k, _)| {
                        k.strip_prefix("col")
                            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                    });
                if positional {
                    let values: Vec<&IonValue> = fields.iter().map(|(_, v)| v).collect();
                    return self.positional(&values, record);
                }
                self.record(fields, record)
            }
            IonValue::List(items) | IonValue::SExp(items) => {
                let wrapper = record.name.name == "root"
                    && record.fields.len() == 1
                    && record.fields[0].name == "value"
                    && matches!(self.resolve(&record.fields[0].schema), Ok(Schema::Array(_)));
                if wrapper {
                    return self.record(&[("value".to_string(), row.clone())], record);
                }
                let values: Vec<&IonValue> = items.iter().collect();
                self.positional(&values, record)
            }
            other => Err(format!(
                "Unable to convert row of type: {}",
                java_class(other)
            )),
        }
    }

    fn positional(&self, values: &[&IonValue], record: &'s RecordSchema) -> Result<Value, String> {
        if self.opts.strict_schema && values.len() > record.fields.len() {
            return Err(format!(
                "Data contains more fields than schema: the row has {} values, the schema {} fields",
                values.len(),
                record.fields.len()
            ));
        }
        let mut out = Vec::with_capacity(record.fields.len());
        for (i, field) in record.fields.iter().enumerate() {
            let v = values.get(i).copied().unwrap_or(&IonValue::Null);
            let converted = self
                .value(v, &field.schema)
                .map_err(|e| format!("on field '{}': {e}", field.name))?;
            out.push((field.name.clone(), converted));
        }
        Ok(Value::Record(out))
    }

    fn record(
        &self,
        fields: &[(String, IonValue)],
        record: &'s RecordSchema,
    ) -> Result<Value, String> {
        let mut out = Vec::with_capacity(record.fields.len());
        for field in &record.fields {
            let found = fields.iter().find(|(k, _)| *k == field.name).or_else(|| {
                let aliases = field.aliases.as_deref().unwrap_or_default();
                fields.iter().find(|(k, _)| aliases.iter().any(|a| a == k))
            });
            let converted = match (found, &field.default) {
                (Some((_, v)), _) => self.value(v, &field.schema),
                // An absent field takes its schema default (Kestra writes null and fails on
                // a non-null type).
                (None, Some(default)) => {
                    let v = Value::from(default.clone());
                    v.resolve(&field.schema).map_err(|e| e.to_string())
                }
                (None, None) => self.value(&IonValue::Null, &field.schema),
            };
            let converted = converted.map_err(|e| format!("on field '{}': {e}", field.name))?;
            out.push((field.name.clone(), converted));
        }
        Ok(Value::Record(out))
    }

    fn is_null(&self, v: &IonValue) -> bool {
        match unannotated(v) {
            IonValue::Null => true,
            other => text(other).is_some_and(|t| self.opts.null_values.iter().any(|n| n == t)),
        }
    }

    fn boolean(&self, t: &str) -> Option<bool> {
        if self
            .opts
            .true_values
            .iter()
            .any(|v| v.eq_ignore_ascii_case(t))
        {
            Some(true)
        } else if self
            .opts
            .false_values
            .iter()
            .any(|v| v.eq_ignore_ascii_case(t))
        {
            Some(false)
        } else {
            None
        }
    }

    /// A number's text with the decimal separator made a point.
    fn number_text(&self, t: &str) -> String {
        let t = t.trim();
        if self.opts.decimal_separator == '.' {
            t.to_string()
        } else {
            t.replacen(self.opts.decimal_separator, ".", 1)
        }
    }

    /// One value for `schema`.
    pub(crate) fn value(&self, v: &IonValue, schema: &'s Schema) -> Result<Value, String> {
        let schema = self.resolve(schema)?;
        if self.opts.infer_all_fields
            && let Some(t) = text(v)
        {
            // Kestra's `inferAllFields` reads every string against the lists first, whatever
            // the field's type.
            if self.opts.null_values.iter().any(|n| n == t) && !matches!(schema, Schema::String) {
                return self.value(&IonValue::Null, schema);
            }
            if let Some(b) = self.boolean(t)
                && !matches!(schema, Schema::String)
            {
                return self.value(&IonValue::Bool(b), schema);
            }
        }
        let v = unannotated(v);
        if let Schema::Union(union) = schema {
            let mut reasons = Vec::new();
            for (i, branch) in union.variants().iter().enumerate() {
                let attempt = match self.resolve(branch)? {
                    Schema::Null if self.is_null(v) => Ok(Value::Null),
                    Schema::Null => Err("not null".to_string()),
                    _ if matches!(v, IonValue::Null) => Err("null".to_string()),
                    _ => self.value(v, branch),
                };
                match attempt {
                    Ok(value) => return Ok(Value::Union(i as u32, Box::new(value))),
                    Err(e) => reasons.push(e),
                }
            }
            return Err(format!(
                "Invalid data for schema \"UNION\" {}: {} ({})",
                schema_json(schema),
                java_string(v),
                reasons.join("; ")
            ));
        }
        if let Schema::Null = schema {
            return if self.is_null(v) {
                Ok(Value::Null)
            } else {
                Err(format!(
                    "Unknown type for null values, found {}",
                    java_class(v)
                ))
            };
        }
        if matches!(v, IonValue::Null) {
            return Err(format!(
                "null value for the non-nullable type {}",
                schema_json(schema)
            ));
        }
        let cast = || {
            format!(
                "cannot convert {} `{}` to {}",
                java_class(v),
                java_string(v),
                schema_json(schema)
            )
        };
        let parse_err = |t: &str| format!("cannot read `{t}` as {}", schema_json(schema));
        Ok(match schema {
            Schema::Boolean => match v {
                IonValue::Bool(b) => Value::Boolean(*b),
                IonValue::Int(1) => Value::Boolean(true),
                IonValue::Int(0) => Value::Boolean(false),
                _ => match text(v).and_then(|t| self.boolean(t)) {
                    Some(b) => Value::Boolean(b),
                    None => return Err(cast()),
                },
            },
            Schema::Int => match v {
                IonValue::Int(i) => Value::Int(i32::try_from(*i).map_err(|_| cast())?),
                _ => match text(v) {
                    Some(t) => Value::Int(t.trim().parse().map_err(|_| parse_err(t))?),
                    None => return Err(cast()),
                },
            },
            Schema::Long => match v {
                IonValue::Int(i) => Value::Long(*i),
                _ => match text(v) {
                    Some(t) => Value::Long(t.trim().parse().map_err(|_| parse_err(t))?),
                    None => return Err(cast()),
                },
            },
            Schema::Float | Schema::Double => {
                let f = match v {
                    IonValue::Int(i) => *i as f64,
                    IonValue::Float(f) => *f,
                    IonValue::Decimal(d) => {
                        d.replace(['d', 'D'], "e").parse().map_err(|_| cast())?
                    }
                    _ => match text(v) {
                        Some(t) => self.number_text(t).parse().map_err(|_| parse_err(t))?,
                        None => return Err(cast()),
                    },
                };
                if matches!(schema, Schema::Float) {
                    Value::Float(f as f32)
                } else {
                    Value::Double(f)
                }
            }
            Schema::String => Value::String(java_string(v)),
            Schema::Bytes => match v {
                IonValue::Blob(b) => Value::Bytes(b.clone()),
                other => Value::Bytes(java_string(other).into_bytes()),
            },
            Schema::Fixed(fixed) => {
                let bytes = match v {
                    IonValue::Blob(b) => b.clone(),
                    other => java_string(other).into_bytes(),
                };
                if bytes.len() != fixed.size {
                    return Err(format!(
                        "Invalid length for fixed size, found {}, expected {}",
                        bytes.len(),
                        fixed.size
                    ));
                }
                Value::Fixed(fixed.size, bytes)
            }
            Schema::Enum(e) => {
                let s = java_string(v);
                match e.symbols.iter().position(|x| *x == s) {
                    Some(i) => Value::Enum(i as u32, s),
                    None => {
                        return Err(format!(
                            "Invalid enum value, found {s}, expected [{}]",
                            e.symbols.join(", ")
                        ));
                    }
                }
            }
            Schema::Uuid => {
                let t = text(v).ok_or_else(cast)?;
                Value::Uuid(apache_avro::Uuid::parse_str(t.trim()).map_err(|_| parse_err(t))?)
            }
            Schema::Array(array) => match v {
                IonValue::List(items) | IonValue::SExp(items) => Value::Array(
                    items
                        .iter()
                        .map(|i| self.value(i, &array.items))
                        .collect::<Result<_, _>>()?,
                ),
                _ => return Err(cast()),
            },
            Schema::Map(map) => match v {
                IonValue::Struct(fields) => Value::Map(
                    fields
                        .iter()
                        .map(|(k, i)| Ok((k.clone(), self.value(i, &map.types)?)))
                        .collect::<Result<_, String>>()?,
                ),
                _ => return Err(cast()),
            },
            Schema::Record(record) => match v {
                IonValue::Struct(fields) => self.record(fields, record)?,
                _ => return Err(cast()),
            },
            Schema::Decimal(d) => {
                let digits = match v {
                    IonValue::Decimal(t) => t.clone(),
                    IonValue::Int(i) => i.to_string(),
                    IonValue::Float(f) => format!("{f:e}"),
                    _ => match text(v) {
                        Some(t) => self.number_text(t),
                        None => return Err(cast()),
                    },
                };
                let unscaled =
                    unscaled(&digits, d.scale, d.precision).ok_or_else(|| parse_err(&digits))??;
                Value::Decimal(apache_avro::Decimal::from(twos_complement(unscaled)))
            }
            Schema::BigDecimal => {
                let digits = match v {
                    IonValue::Decimal(t) => t.replace(['d', 'D'], "e"),
                    other => self.number_text(&java_string(other)),
                };
                Value::BigDecimal(digits.parse().map_err(|_| parse_err(&digits))?)
            }
            Schema::Date => {
                let date = match temporal(v) {
                    Some(Temporal::Instant(t)) => {
                        t.to_zoned_datetime(self.opts.zone.clone()).date()
                    }
                    Some(t) => t.local(&self.opts.zone).ok_or_else(cast)?.date(),
                    None => {
                        let t = text(v).ok_or_else(cast)?;
                        parse_date(t, self.opts.date_format.as_deref())
                            .ok_or_else(|| parse_err(t))?
                    }
                };
                Value::Date(days(date))
            }
            Schema::TimeMillis | Schema::TimeMicros => {
                let time = match temporal(v) {
                    Some(Temporal::LocalTime(t) | Temporal::OffsetTime(t, _)) => t,
                    Some(_) => return Err(cast()),
                    None => {
                        let t = text(v).ok_or_else(cast)?;
                        parse_time(t, self.opts.time_format.as_deref())
                            .ok_or_else(|| parse_err(t))?
                    }
                };
                let micros =
                    (time.hour() as i64 * 3600 + time.minute() as i64 * 60 + time.second() as i64)
                        * 1_000_000
                        + time.subsec_nanosecond() as i64 / 1000;
                if matches!(schema, Schema::TimeMillis) {
                    Value::TimeMillis((micros / 1000) as i32)
                } else {
                    Value::TimeMicros(micros)
                }
            }
            Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => self.timestamp(v, schema).ok_or_else(cast)??,
            Schema::Duration => return Err(cast()),
            Schema::Null | Schema::Union(_) | Schema::Ref { .. } => unreachable!("handled above"),
        })
    }

    /// A timestamp type: numbers are epoch values in the type's unit; text is read with
    /// `datetimeFormat`; local types hold the wall time in `timeZoneId`.
    fn timestamp(&self, v: &IonValue, schema: &Schema) -> Option<Result<Value, String>> {
        let local = matches!(
            schema,
            Schema::LocalTimestampMillis
                | Schema::LocalTimestampMicros
                | Schema::LocalTimestampNanos
        );
        let unit: i128 = match schema {
            Schema::TimestampMillis | Schema::LocalTimestampMillis => 1_000_000,
            Schema::TimestampMicros | Schema::LocalTimestampMicros => 1000,
            _ => 1,
        };
        let epoch = |n: i64| -> Result<Value, String> { Ok(make(schema, n)) };
        if let IonValue::Int(n) = v {
            return Some(epoch(*n));
        }
        let zone = &self.opts.zone;
        let instant: Timestamp = match temporal(v) {
            Some(Temporal::LocalDateTime(dt)) if local => {
                return Some(Ok(make(schema, local_nanos(dt).div_euclid(unit) as i64)));
            }
            Some(t) => t.instant(zone)?,
            None => {
                let t = text(v)?;
                if let Ok(n) = t.trim().parse::<i64>() {
                    return Some(epoch(n));
                }
                match parse_datetime(t, self.opts.datetime_format.as_deref(), zone) {
                    Some(ts) => ts,
                    None => {
                        return Some(Err(format!(
                            "cannot read `{t}` as {} (datetimeFormat)",
                            schema_json(schema)
                        )));
                    }
                }
            }
        };
        let nanos = if local {
            local_nanos(instant.to_zoned_datetime(zone.clone()).datetime())
        } else {
            instant.as_nanosecond()
        };
        Some(Ok(make(schema, (nanos.div_euclid(unit)) as i64)))
    }
}

fn make(schema: &Schema, n: i64) -> Value {
    match schema {
        Schema::TimestampMillis => Value::TimestampMillis(n),
        Schema::TimestampMicros => Value::TimestampMicros(n),
        Schema::TimestampNanos => Value::TimestampNanos(n),
        Schema::LocalTimestampMillis => Value::LocalTimestampMillis(n),
        Schema::LocalTimestampMicros => Value::LocalTimestampMicros(n),
        _ => Value::LocalTimestampNanos(n),
    }
}

/// Nanoseconds from 1970-01-01T00:00 to a wall time, as if it were UTC.
fn local_nanos(dt: DateTime) -> i128 {
    dt.to_zoned_datetime(TimeZone::UTC)
        .map(|z| z.timestamp().as_nanosecond())
        .unwrap_or_default()
}

fn days(d: Date) -> i32 {
    (d - Date::constant(1970, 1, 1)).get_days()
}

/// The unscaled value of decimal text at `scale`, rounded half-even; None when the text is not
/// a number, an error when it needs more than `precision` digits.
fn unscaled(text: &str, scale: usize, precision: usize) -> Option<Result<i128, String>> {
    let (negative, digits, from_scale) = decimal_parts(text)?;
    let mut digits: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
    let shift = scale as i64 - from_scale;
    if shift >= 0 {
        digits.extend(std::iter::repeat_n(0, shift as usize));
    } else {
        let cut = (-shift) as usize;
        let keep = digits.len().saturating_sub(cut);
        let dropped = &digits[keep..];
        let mut padded = vec![0u8; cut - dropped.len()];
        padded.extend_from_slice(dropped);
        digits.truncate(keep);
        let half = padded[0].cmp(&5).then_with(|| {
            if padded[1..].iter().any(|d| *d != 0) {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        });
        let odd = digits.last().is_some_and(|d| d % 2 == 1);
        if half == std::cmp::Ordering::Greater || half == std::cmp::Ordering::Equal && odd {
            let mut i = digits.len();
            loop {
                if i == 0 {
                    digits.insert(0, 1);
                    break;
                }
                i -= 1;
                if digits[i] == 9 {
                    digits[i] = 0;
                } else {
                    digits[i] += 1;
                    break;
                }
            }
        }
    }
    while digits.first() == Some(&0) {
        digits.remove(0);
    }
    if digits.len() > precision || digits.len() > 38 {
        return Some(Err(format!(
            "`{text}` needs {} digits at scale {scale}; the decimal's precision is {precision}",
            digits.len()
        )));
    }
    let mut n: i128 = 0;
    for d in digits {
        n = n * 10 + i128::from(d);
    }
    Some(Ok(if negative { -n } else { n }))
}

/// Big-endian two's complement in as few bytes as hold the value.
fn twos_complement(n: i128) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let mut start = 0;
    while start < 15 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    bytes[start..].to_vec()
}

/// The variants of a Java pattern with its optional sections `[...]` kept, then dropped.
fn pattern_variants(pattern: &str) -> [String; 2] {
    let kept: String = pattern.chars().filter(|c| *c != '[' && *c != ']').collect();
    let mut dropped = String::new();
    let mut depth = 0;
    for c in pattern.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            c if depth == 0 => dropped.push(c),
            _ => {}
        }
    }
    [kept, dropped]
}

fn with_pattern<T>(t: &str, pattern: &str, parse: impl Fn(&str, &str) -> Option<T>) -> Option<T> {
    pattern_variants(pattern).iter().find_map(|p| {
        let strp = runner_template::java_pattern_to_strptime(p);
        parse(&strp, t.trim())
    })
}

fn parse_date(t: &str, format: Option<&str>) -> Option<Date> {
    match format {
        None => t.trim().get(..10)?.parse().ok(),
        Some(p) => with_pattern(t, p, |f, t| {
            Date::strptime(f, t)
                .ok()
                .or_else(|| ZonedDateTime::strptime(f, t).ok().map(|z| z.date()))
        }),
    }
}

fn parse_time(t: &str, format: Option<&str>) -> Option<Time> {
    match format {
        None => {
            let t = t.trim();
            let end = t[1..].find(['+', '-', 'Z']).map_or(t.len(), |i| i + 1);
            t[..end].parse().ok()
        }
        Some(p) => with_pattern(t, p, |f, t| {
            jiff::fmt::strtime::parse(f, t).ok()?.to_time().ok()
        }),
    }
}

fn parse_datetime(t: &str, format: Option<&str>, zone: &TimeZone) -> Option<Timestamp> {
    let t = t.trim();
    match format {
        None => t
            .parse::<ZonedDateTime>()
            .map(|z| z.timestamp())
            .or_else(|_| t.parse::<Timestamp>())
            .ok()
            .or_else(|| {
                let dt: DateTime = t.parse().ok()?;
                dt.to_zoned_datetime(zone.clone())
                    .ok()
                    .map(|z| z.timestamp())
            }),
        Some(p) => with_pattern(t, p, |f, t| {
            ZonedDateTime::strptime(f, t)
                .map(|z| z.timestamp())
                .ok()
                .or_else(|| {
                    let dt = DateTime::strptime(f, t).ok()?;
                    dt.to_zoned_datetime(zone.clone())
                        .ok()
                        .map(|z| z.timestamp())
                })
        }),
    }
}

/// A schema's JSON for messages, cut short.
pub(crate) fn schema_json(s: &Schema) -> String {
    let text = serde_json::to_string(s).unwrap_or_default();
    if text.len() > 120 {
        let mut end = 120;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{} ...", &text[..end])
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_scaled_half_even() {
        assert_eq!(unscaled("12", 2, 10), Some(Ok(1200)));
        assert_eq!(unscaled("-1.005", 2, 10), Some(Ok(-100)));
        assert_eq!(unscaled("1.015", 2, 10), Some(Ok(102)));
        assert_eq!(unscaled("1.0151", 2, 10), Some(Ok(102)));
        assert_eq!(unscaled("2.5", 0, 10), Some(Ok(2)));
        assert_eq!(unscaled("0.004", 2, 10), Some(Ok(0)));
        assert_eq!(unscaled("9.995", 2, 10), Some(Ok(1000)));
        assert_eq!(unscaled("1d3", 0, 10), Some(Ok(1000)));
        assert!(matches!(unscaled("123.4", 2, 4), Some(Err(_))));
        assert_eq!(unscaled("x", 2, 4), None);
        assert_eq!(twos_complement(255), vec![0, 255]);
        assert_eq!(twos_complement(-1), vec![0xff]);
        assert_eq!(twos_complement(-129), vec![0xff, 0x7f]);
    }

    #[test]
    fn dates_count_days_from_the_epoch() {
        assert_eq!(days(Date::constant(1970, 1, 2)), 1);
        assert_eq!(days(Date::constant(1969, 12, 31)), -1);
        assert_eq!(days(Date::constant(2021, 5, 5)), 18752);
        assert_eq!(
            parse_date("05/05/2021", Some("dd/MM/yyyy")),
            Some(Date::constant(2021, 5, 5))
        );
        assert_eq!(
            parse_time("12:21", None),
            Some(Time::constant(12, 21, 0, 0))
        );
        assert_eq!(
            parse_time("12:21:12+02:00", None),
            Some(Time::constant(12, 21, 12, 0))
        );
    }
}
