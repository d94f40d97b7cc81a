//! DuckDB's values, read from its vectors, as Kestra's DuckDB cell converter leaves them (the
//! SQL kit's [`Cell`]): integers that fit a Java long as numbers and wider ones (UBIGINT,
//! HUGEINT, UHUGEINT) as text, decimals exact, TIMESTAMP as its wall clock in `timeZoneId`,
//! TIMESTAMP WITH TIME ZONE as an instant at UTC, ENUM, UUID, BIT and INTERVAL as DuckDB's
//! text. Where Kestra fails the task (MAP, BLOB, TIME WITH TIME ZONE, JSON that is not an
//! object) or leaves values unconverted (elements of lists, members of structs), runner gives
//! the value: a map, the bytes, the time with its offset, the JSON, each element converted
//! like a top-level value.

use crate::engine::LogicalType;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use libduckdb_sys as ffi;
use runner_jdbc::Cell;
use std::ffi::CStr;

/// How to read one column (or a nested member), from its DuckDB type.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Null,
    Bool,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    I128,
    U128,
    F32,
    F64,
    Decimal {
        scale: u8,
        storage: Storage,
    },
    Varchar,
    Json,
    Blob,
    Bit,
    Uuid,
    Date,
    Time,
    TimeNs,
    TimeTz,
    /// TIMESTAMP in its unit: seconds, milliseconds, microseconds or nanoseconds per tick.
    Timestamp(TsUnit),
    TimestampTz,
    Interval,
    Enum {
        storage: Storage,
        names: Vec<String>,
    },
    List(Box<Kind>),
    Array(Box<Kind>, usize),
    Struct(Vec<(String, Kind)>),
    Map(Box<Kind>, Box<Kind>),
    Union(Vec<(String, Kind)>),
    Unsupported(String),
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Storage {
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    I128,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum TsUnit {
    S,
    Ms,
    Us,
    Ns,
}

fn take(s: *mut std::ffi::c_char) -> String {
    if s.is_null() {
        return String::new();
    }
    // SAFETY: a string DuckDB allocated for us.
    let text = unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned();
    unsafe { ffi::duckdb_free(s.cast()) };
    text
}

fn storage(t: ffi::duckdb_type) -> Storage {
    match t {
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_UTINYINT => Storage::U8,
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_SMALLINT => Storage::I16,
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_USMALLINT => Storage::U16,
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_INTEGER => Storage::I32,
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_UINTEGER => Storage::U32,
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_BIGINT => Storage::I64,
        _ => Storage::I128,
    }
}

impl Kind {
    /// The reader of a column of type `t`.
    pub(crate) fn of(t: &LogicalType) -> Kind {
        let raw = t.0;
        // SAFETY: a live logical type; children are owned by `LogicalType` values.
        let id = unsafe { ffi::duckdb_get_type_id(raw) };
        let child = |lt: ffi::duckdb_logical_type| Kind::of(&LogicalType(lt));
        match id {
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_SQLNULL => Kind::Null,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_BOOLEAN => Kind::Bool,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_TINYINT => Kind::I8,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_SMALLINT => Kind::I16,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_INTEGER => Kind::I32,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_BIGINT => Kind::I64,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_UTINYINT => Kind::U8,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_USMALLINT => Kind::U16,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_UINTEGER => Kind::U32,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_UBIGINT => Kind::U64,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_HUGEINT => Kind::I128,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_UHUGEINT => Kind::U128,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_FLOAT => Kind::F32,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_DOUBLE => Kind::F64,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_DECIMAL => unsafe {
                Kind::Decimal {
                    scale: ffi::duckdb_decimal_scale(raw),
                    storage: storage(ffi::duckdb_decimal_internal_type(raw)),
                }
            },
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_VARCHAR => {
                if take(unsafe { ffi::duckdb_logical_type_get_alias(raw) })
                    .eq_ignore_ascii_case("JSON")
                {
                    Kind::Json
                } else {
                    Kind::Varchar
                }
            }
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_BLOB => Kind::Blob,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_BIT => Kind::Bit,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_UUID => Kind::Uuid,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_DATE => Kind::Date,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIME => Kind::Time,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIME_NS => Kind::TimeNs,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIME_TZ => Kind::TimeTz,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIMESTAMP => Kind::Timestamp(TsUnit::Us),
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIMESTAMP_S => Kind::Timestamp(TsUnit::S),
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIMESTAMP_MS => Kind::Timestamp(TsUnit::Ms),
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIMESTAMP_NS => Kind::Timestamp(TsUnit::Ns),
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIMESTAMP_TZ => Kind::TimestampTz,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_INTERVAL => Kind::Interval,
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_ENUM => unsafe {
                let n = ffi::duckdb_enum_dictionary_size(raw);
                Kind::Enum {
                    storage: storage(ffi::duckdb_enum_internal_type(raw)),
                    names: (0..n)
                        .map(|i| take(ffi::duckdb_enum_dictionary_value(raw, u64::from(i))))
                        .collect(),
                }
            },
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_LIST => Kind::List(Box::new(child(unsafe {
                ffi::duckdb_list_type_child_type(raw)
            }))),
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_ARRAY => unsafe {
                Kind::Array(
                    Box::new(child(ffi::duckdb_array_type_child_type(raw))),
                    ffi::duckdb_array_type_array_size(raw) as usize,
                )
            },
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_STRUCT => unsafe {
                let n = ffi::duckdb_struct_type_child_count(raw);
                Kind::Struct(
                    (0..n)
                        .map(|i| {
                            (
                                take(ffi::duckdb_struct_type_child_name(raw, i)),
                                child(ffi::duckdb_struct_type_child_type(raw, i)),
                            )
                        })
                        .collect(),
                )
            },
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_MAP => unsafe {
                Kind::Map(
                    Box::new(child(ffi::duckdb_map_type_key_type(raw))),
                    Box::new(child(ffi::duckdb_map_type_value_type(raw))),
                )
            },
            ffi::DUCKDB_TYPE_DUCKDB_TYPE_UNION => unsafe {
                let n = ffi::duckdb_union_type_member_count(raw);
                Kind::Union(
                    (0..n)
                        .map(|i| {
                            (
                                take(ffi::duckdb_union_type_member_name(raw, i)),
                                child(ffi::duckdb_union_type_member_type(raw, i)),
                            )
                        })
                        .collect(),
                )
            },
            other => Kind::Unsupported(type_name(other).to_string()),
        }
    }
}

fn type_name(id: ffi::duckdb_type) -> &'static str {
    match id {
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_BIGNUM => "BIGNUM",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_GEOMETRY => "GEOMETRY",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_VARIANT => "VARIANT",
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_ANY => "ANY",
        _ => "an unknown type",
    }
}

/// One vector of a chunk, ready to read.
#[derive(Clone, Copy)]
pub(crate) struct Vector {
    vec: ffi::duckdb_vector,
    data: *const u8,
    validity: *const u64,
}

impl Vector {
    pub(crate) fn new(vec: ffi::duckdb_vector) -> Vector {
        // SAFETY: a vector of a live chunk.
        unsafe {
            Vector {
                vec,
                data: ffi::duckdb_vector_get_data(vec) as *const u8,
                validity: ffi::duckdb_vector_get_validity(vec) as *const u64,
            }
        }
    }

    fn is_null(&self, row: usize) -> bool {
        if self.validity.is_null() {
            return false;
        }
        // SAFETY: the validity mask covers every row of the vector.
        let word = unsafe { *self.validity.add(row / 64) };
        word & (1 << (row % 64)) == 0
    }

    /// The row's value, a `T` of the vector's storage.
    fn at<T: Copy>(&self, row: usize) -> T {
        // SAFETY: the caller reads the vector as its storage type; rows are in range.
        unsafe { (self.data as *const T).add(row).read_unaligned() }
    }

    fn bytes(&self, row: usize) -> &[u8] {
        // DuckDB's string_t: a u32 length, then the bytes inline when 12 or fewer, else a
        // 4-byte prefix and a pointer.
        // SAFETY: a string vector; the chunk outlives the slice's use.
        unsafe {
            let base = self.data.add(row * 16);
            let len = (base as *const u32).read_unaligned() as usize;
            if len <= 12 {
                std::slice::from_raw_parts(base.add(4), len)
            } else {
                let ptr = (base.add(8) as *const *const u8).read_unaligned();
                std::slice::from_raw_parts(ptr, len)
            }
        }
    }

    fn text(&self, row: usize) -> String {
        String::from_utf8_lossy(self.bytes(row)).into_owned()
    }

    fn list_child(&self) -> Vector {
        Vector::new(unsafe { ffi::duckdb_list_vector_get_child(self.vec) })
    }

    fn struct_child(&self, i: usize) -> Vector {
        Vector::new(unsafe { ffi::duckdb_struct_vector_get_child(self.vec, i as u64) })
    }

    fn array_child(&self) -> Vector {
        Vector::new(unsafe { ffi::duckdb_array_vector_get_child(self.vec) })
    }
}

/// Why a value could not be converted; the task fails with it.
#[derive(Debug)]
pub(crate) struct CellError(pub(crate) String);

/// What reading a value needs besides the vector: the task's zone.
pub(crate) struct Reader<'z> {
    pub(crate) zone: &'z TimeZone,
}

/// `digits` with the decimal point `scale` places from the right (`12345123`, 3: `12345.123`).
fn decimal_text(v: i128, scale: u8) -> String {
    let neg = v < 0;
    let digits = v.unsigned_abs().to_string();
    let scale = scale as usize;
    let body = if scale == 0 {
        digits
    } else if digits.len() > scale {
        format!(
            "{}.{}",
            &digits[..digits.len() - scale],
            &digits[digits.len() - scale..]
        )
    } else {
        format!("0.{}{digits}", "0".repeat(scale - digits.len()))
    };
    if neg { format!("-{body}") } else { body }
}

/// DuckDB's INTERVAL text (`1 year 2 months 3 days 04:05:06.5`).
pub(crate) fn interval_text(months: i32, days: i32, micros: i64) -> String {
    let mut parts: Vec<String> = Vec::new();
    let unit = |v: i64, name: &str, parts: &mut Vec<String>| {
        if v != 0 {
            let s = if v == 1 || v == -1 { "" } else { "s" };
            parts.push(format!("{v} {name}{s}"));
        }
    };
    if months != 0 {
        let years = months / 12;
        unit(i64::from(years), "year", &mut parts);
        unit(i64::from(months - years * 12), "month", &mut parts);
    }
    unit(i64::from(days), "day", &mut parts);
    if micros != 0 {
        let sign = if micros < 0 { "-" } else { "" };
        let m = micros.unsigned_abs();
        let (h, rest) = (m / 3_600_000_000, m % 3_600_000_000);
        let (min, rest) = (rest / 60_000_000, rest % 60_000_000);
        let (sec, frac) = (rest / 1_000_000, rest % 1_000_000);
        let mut t = format!("{sign}{h:02}:{min:02}:{sec:02}");
        if frac != 0 {
            t.push('.');
            t.push_str(format!("{frac:06}").trim_end_matches('0'));
        }
        parts.push(t);
    } else if parts.is_empty() {
        return "00:00:00".into();
    }
    parts.join(" ")
}

fn uuid_text(v: i128) -> String {
    // DuckDB stores a UUID as a HUGEINT with its top bit flipped (so they sort as text).
    let bits = (v as u128) ^ (1u128 << 127);
    let h = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn bit_text(b: &[u8]) -> String {
    // The first byte counts the padding bits at the start of the second.
    let Some((&pad, rest)) = b.split_first() else {
        return String::new();
    };
    let mut s = String::with_capacity(rest.len() * 8);
    for (i, byte) in rest.iter().enumerate() {
        for bit in (0..8).rev() {
            if i == 0 && 7 - bit < pad as usize {
                continue;
            }
            s.push(if byte >> bit & 1 == 1 { '1' } else { '0' });
        }
    }
    s
}

fn i128_at(v: &Vector, row: usize) -> i128 {
    let h: ffi::duckdb_hugeint = v.at(row);
    (i128::from(h.upper) << 64) | i128::from(h.lower)
}

fn timestamp(ticks: i64, unit: TsUnit) -> Option<jiff::Timestamp> {
    match unit {
        TsUnit::S => jiff::Timestamp::from_second(ticks).ok(),
        TsUnit::Ms => jiff::Timestamp::from_millisecond(ticks).ok(),
        TsUnit::Us => jiff::Timestamp::from_microsecond(ticks).ok(),
        TsUnit::Ns => Some(jiff::Timestamp::from_nanosecond(i128::from(ticks)).ok()?),
    }
}

fn time_of_day(nanos: i64) -> Option<Time> {
    Time::MIN
        .checked_add(jiff::SignedDuration::from_nanos(nanos))
        .ok()
}

impl Reader<'_> {
    /// The value at `row` of `v`, a vector of kind `k`.
    pub(crate) fn cell(&self, k: &Kind, v: &Vector, row: usize) -> Result<Cell, CellError> {
        if v.is_null(row) {
            return Ok(Cell::Null);
        }
        Ok(match k {
            Kind::Null => Cell::Null,
            Kind::Bool => Cell::Bool(v.at::<u8>(row) != 0),
            Kind::I8 => Cell::Int(i64::from(v.at::<i8>(row))),
            Kind::I16 => Cell::Int(i64::from(v.at::<i16>(row))),
            Kind::I32 => Cell::Int(i64::from(v.at::<i32>(row))),
            Kind::I64 => Cell::Int(v.at::<i64>(row)),
            Kind::U8 => Cell::Int(i64::from(v.at::<u8>(row))),
            Kind::U16 => Cell::Int(i64::from(v.at::<u16>(row))),
            Kind::U32 => Cell::Int(i64::from(v.at::<u32>(row))),
            // Kestra: BigInteger, written as its text.
            Kind::U64 => Cell::Text(v.at::<u64>(row).to_string()),
            Kind::I128 => Cell::Text(i128_at(v, row).to_string()),
            Kind::U128 => {
                let h: ffi::duckdb_uhugeint = v.at(row);
                Cell::Text(((u128::from(h.upper) << 64) | u128::from(h.lower)).to_string())
            }
            Kind::F32 => Cell::Float4(v.at::<f32>(row)),
            Kind::F64 => Cell::Float8(v.at::<f64>(row)),
            Kind::Decimal { scale, storage } => {
                let raw = match storage {
                    Storage::I16 => i128::from(v.at::<i16>(row)),
                    Storage::I32 => i128::from(v.at::<i32>(row)),
                    Storage::I64 => i128::from(v.at::<i64>(row)),
                    _ => i128_at(v, row),
                };
                Cell::Decimal(decimal_text(raw, *scale))
            }
            Kind::Varchar => Cell::Text(v.text(row)),
            Kind::Json => {
                let text = v.text(row);
                match serde_json::from_str(&text) {
                    Ok(j) => Cell::Json(j),
                    Err(_) => Cell::Text(text),
                }
            }
            Kind::Blob => Cell::Bytes(v.bytes(row).to_vec()),
            Kind::Bit => Cell::Text(bit_text(v.bytes(row))),
            Kind::Uuid => Cell::Text(uuid_text(i128_at(v, row))),
            Kind::Date => {
                let days = v.at::<i32>(row);
                match Date::constant(1970, 1, 1).checked_add(jiff::Span::new().days(days)) {
                    Ok(d) => Cell::Date(d),
                    Err(_) if days > 0 => Cell::Text("infinity".into()),
                    Err(_) => Cell::Text("-infinity".into()),
                }
            }
            Kind::Time => match time_of_day(v.at::<i64>(row).saturating_mul(1000)) {
                Some(t) => Cell::Time(t),
                None => Cell::Text("24:00:00".into()),
            },
            Kind::TimeNs => match time_of_day(v.at::<i64>(row)) {
                Some(t) => Cell::Time(t),
                None => Cell::Text("24:00:00".into()),
            },
            Kind::TimeTz => {
                let parts = unsafe {
                    ffi::duckdb_from_time_tz(ffi::duckdb_time_tz {
                        bits: v.at::<u64>(row),
                    })
                };
                let t = parts.time;
                let time = Time::new(t.hour as i8, t.min as i8, t.sec as i8, t.micros * 1000)
                    .unwrap_or(Time::MIN);
                Cell::Text(format!(
                    "{}{}",
                    runner_jdbc::iso_time(time),
                    runner_jdbc::iso_offset(parts.offset)
                ))
            }
            Kind::Timestamp(unit) => {
                // Kestra: the wall clock, re-labelled in timeZoneId (not shifted).
                let ticks = v.at::<i64>(row);
                match timestamp(ticks, *unit) {
                    Some(ts) => {
                        let wall: DateTime = ts.to_zoned_datetime(TimeZone::UTC).datetime();
                        match wall.to_zoned_datetime(self.zone.clone()) {
                            Ok(z) => Cell::TimestampTz(z),
                            Err(_) => Cell::Timestamp(wall),
                        }
                    }
                    None => Cell::Text(if ticks > 0 { "infinity" } else { "-infinity" }.into()),
                }
            }
            Kind::TimestampTz => {
                let ticks = v.at::<i64>(row);
                match timestamp(ticks, TsUnit::Us) {
                    Some(ts) => Cell::OffsetDateTime(ts.to_zoned_datetime(TimeZone::UTC)),
                    None => Cell::Text(if ticks > 0 { "infinity" } else { "-infinity" }.into()),
                }
            }
            Kind::Interval => {
                let i: ffi::duckdb_interval = v.at(row);
                Cell::Text(interval_text(i.months, i.days, i.micros))
            }
            Kind::Enum { storage, names } => {
                let i = match storage {
                    Storage::U8 => usize::from(v.at::<u8>(row)),
                    Storage::U16 => usize::from(v.at::<u16>(row)),
                    _ => v.at::<u32>(row) as usize,
                };
                Cell::Text(names.get(i).cloned().unwrap_or_default())
            }
            Kind::List(elem) => {
                let e: ffi::duckdb_list_entry = v.at(row);
                let child = v.list_child();
                let mut items = Vec::with_capacity(e.length as usize);
                for j in e.offset..e.offset + e.length {
                    items.push(self.cell(elem, &child, j as usize)?);
                }
                Cell::Array(items)
            }
            Kind::Array(elem, size) => {
                let child = v.array_child();
                let mut items = Vec::with_capacity(*size);
                for j in row * size..(row + 1) * size {
                    items.push(self.cell(elem, &child, j)?);
                }
                Cell::Array(items)
            }
            Kind::Struct(members) => {
                let mut pairs = Vec::with_capacity(members.len());
                for (i, (name, mk)) in members.iter().enumerate() {
                    pairs.push((name.clone(), self.cell(mk, &v.struct_child(i), row)?));
                }
                Cell::Map(pairs)
            }
            Kind::Map(key, value) => {
                let e: ffi::duckdb_list_entry = v.at(row);
                let entries = v.list_child();
                let (keys, values) = (entries.struct_child(0), entries.struct_child(1));
                let mut pairs = Vec::with_capacity(e.length as usize);
                for j in e.offset..e.offset + e.length {
                    let j = j as usize;
                    let k = match self.cell(key, &keys, j)? {
                        Cell::Text(s) => s,
                        other => match other.to_json() {
                            serde_json::Value::String(s) => s,
                            json => json.to_string(),
                        },
                    };
                    pairs.push((k, self.cell(value, &values, j)?));
                }
                Cell::Map(pairs)
            }
            Kind::Union(members) => {
                // A struct: the tag first, then one child per member.
                let tag = usize::from(v.struct_child(0).at::<u8>(row));
                match members.get(tag) {
                    Some((_, mk)) => self.cell(mk, &v.struct_child(tag + 1), row)?,
                    None => Cell::Null,
                }
            }
            Kind::Unsupported(name) => {
                return Err(CellError(format!(
                    "values of type {name} are not supported"
                )));
            }
        })
    }

    /// Writes the value's Ion (STORE), straight from the vector for the everyday scalar types.
    pub(crate) fn write_ion(
        &self,
        k: &Kind,
        v: &Vector,
        row: usize,
        out: &mut String,
    ) -> Result<(), CellError> {
        use std::fmt::Write;
        if v.is_null(row) {
            out.push_str("null");
            return Ok(());
        }
        match k {
            Kind::I32 => {
                let _ = write!(out, "{}", v.at::<i32>(row));
            }
            Kind::I64 => {
                let _ = write!(out, "{}", v.at::<i64>(row));
            }
            Kind::Varchar => match std::str::from_utf8(v.bytes(row)) {
                Ok(s) => runner_ion::write_string(s, out),
                Err(_) => runner_ion::write_string(&v.text(row), out),
            },
            Kind::F64 => runner_ion::write_float(v.at::<f64>(row), out),
            Kind::Bool => out.push_str(if v.at::<u8>(row) != 0 {
                "true"
            } else {
                "false"
            }),
            _ => self.cell(k, v, row)?.write_ion(out),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_as_duckdb_writes_them() {
        assert_eq!(interval_text(0, 28, 0), "28 days");
        assert_eq!(
            interval_text(14, 1, 3_723_500_000),
            "1 year 2 months 1 day 01:02:03.5"
        );
        assert_eq!(interval_text(-1, 0, -1_000_000), "-1 month -00:00:01");
        assert_eq!(interval_text(0, 0, 0), "00:00:00");
        assert_eq!(interval_text(24, 0, 0), "2 years");
    }

    #[test]
    fn decimals_uuids_and_bits() {
        assert_eq!(decimal_text(12345123, 3), "12345.123");
        assert_eq!(decimal_text(-5, 2), "-0.05");
        assert_eq!(decimal_text(42, 0), "42");
        assert_eq!(
            uuid_text(0x000102030405060708090a0b0c0d0e0fi128 ^ (1i128 << 127)),
            "00010203-0405-0607-0809-0a0b0c0d0e0f"
        );
        assert_eq!(bit_text(&[3, 0b0001_0110]), "10110");
    }
}
