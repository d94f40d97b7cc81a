//! One value of a result row, decoded from PostgreSQL's binary format for every type of
//! Kestra's cell converter into the SQL kit's [`Cell`], which writes it as Kestra does.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use postgres_types::{FromSql, Kind, Type};
pub(crate) use runner_jdbc::Cell;
use serde_json::Value as Json;
use std::fmt;

/// A column's raw bytes, whatever its type (the statement's columns give the type).
pub(crate) struct RawCell<'a>(pub(crate) Option<&'a [u8]>);

impl<'a> FromSql<'a> for RawCell<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawCell(Some(raw)))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawCell(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// The types read as text.
fn is_text(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN | Type::CHAR
    )
}

/// Writes a value of the everyday scalar types (text, integers, booleans) straight from its
/// wire bytes, as `decode` then [`Cell::write_ion`] would, without building a `Cell`: STORE
/// spends most of its own time on these. `None`: the type needs `decode`.
pub(crate) fn write_ion_direct(
    ty: &Type,
    raw: Option<&[u8]>,
    out: &mut String,
) -> Option<Result<(), CellError>> {
    use std::fmt::Write;
    let Some(b) = raw else {
        out.push_str("null");
        return Some(Ok(()));
    };
    if is_text(ty) {
        return Some(match std::str::from_utf8(b) {
            Ok(text) => {
                runner_ion::write_string(text, out);
                Ok(())
            }
            Err(_) => Err(not_utf8()),
        });
    }
    let int = match *ty {
        Type::BOOL => {
            out.push_str(if b.first().copied().unwrap_or(0) != 0 {
                "true"
            } else {
                "false"
            });
            return Some(Ok(()));
        }
        Type::INT2 => i16_at(b, 0).map(i64::from),
        Type::INT4 => i32_at(b, 0).map(i64::from),
        Type::INT8 => i64_at(b, 0),
        _ => return None,
    };
    Some(int.map(|i| {
        let _ = write!(out, "{i}");
    }))
}

/// Why a value cannot be converted; the task fails with this text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CellError(pub(crate) String);

impl fmt::Display for CellError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn be<const N: usize>(b: &[u8], at: usize) -> Result<[u8; N], CellError> {
    b.get(at..at + N)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| CellError("truncated value from the server".into()))
}

fn i16_at(b: &[u8], at: usize) -> Result<i16, CellError> {
    Ok(i16::from_be_bytes(be(b, at)?))
}
fn i32_at(b: &[u8], at: usize) -> Result<i32, CellError> {
    Ok(i32::from_be_bytes(be(b, at)?))
}
fn i64_at(b: &[u8], at: usize) -> Result<i64, CellError> {
    Ok(i64::from_be_bytes(be(b, at)?))
}

fn utf8(b: &[u8]) -> Result<String, CellError> {
    String::from_utf8(b.to_vec()).map_err(|_| not_utf8())
}

fn not_utf8() -> CellError {
    CellError("a text value is not valid UTF-8".into())
}

const PG_EPOCH_DAYS: i64 = 10_957; // 2000-01-01 - 1970-01-01

fn pg_date(days: i32) -> Result<Date, CellError> {
    let epoch = Date::constant(2000, 1, 1);
    epoch
        .checked_add(jiff::Span::new().days(i64::from(days)))
        .map_err(|_| CellError(format!("date out of range ({days} days)")))
}

fn pg_time(micros: i64) -> Result<Time, CellError> {
    Time::MIN
        .checked_add(jiff::SignedDuration::from_micros(micros))
        .map_err(|_| CellError(format!("time out of range ({micros} µs)")))
}

fn pg_timestamp(micros: i64) -> Result<jiff::Timestamp, CellError> {
    jiff::Timestamp::from_microsecond(micros + PG_EPOCH_DAYS * 86_400_000_000)
        .map_err(|_| CellError(format!("timestamp out of range ({micros} µs)")))
}

/// Decodes one column value. `tz` is the task's `timeZoneId` (or the machine's zone).
pub(crate) fn decode(
    column: &str,
    ty: &Type,
    raw: Option<&[u8]>,
    tz: &TimeZone,
) -> Result<Cell, CellError> {
    let Some(b) = raw else { return Ok(Cell::Null) };
    if let Kind::Array(elem) = ty.kind() {
        return decode_array(column, elem, b, tz);
    }
    if let Kind::Domain(base) = ty.kind() {
        return decode(column, base, raw, tz);
    }
    if matches!(ty.kind(), Kind::Enum(_)) {
        return Ok(Cell::Text(utf8(b)?));
    }
    if matches!(ty.kind(), Kind::Composite(_)) {
        return Err(CellError(format!(
            "PGobject of type [{}] is not supported",
            ty.name()
        )));
    }
    Ok(match *ty {
        Type::BOOL => Cell::Bool(b.first().copied().unwrap_or(0) != 0),
        Type::INT2 => Cell::Int(i64::from(i16_at(b, 0)?)),
        Type::INT4 => Cell::Int(i64::from(i32_at(b, 0)?)),
        Type::INT8 => Cell::Int(i64_at(b, 0)?),
        Type::OID => Cell::Int(i64::from(u32::from_be_bytes(be(b, 0)?))),
        Type::FLOAT4 => Cell::Float4(f32::from_be_bytes(be(b, 0)?)),
        Type::FLOAT8 => Cell::Float8(f64::from_be_bytes(be(b, 0)?)),
        Type::NUMERIC => Cell::Decimal(numeric(b)?),
        _ if is_text(ty) => Cell::Text(utf8(b)?),
        Type::UUID => {
            let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
            if h.len() != 32 {
                return Err(CellError("a uuid value is not 16 bytes".into()));
            }
            Cell::Text(format!(
                "{}-{}-{}-{}-{}",
                &h[..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..]
            ))
        }
        Type::DATE => Cell::Date(pg_date(i32_at(b, 0)?)?),
        Type::TIME => {
            // Kestra reads TIME through java.sql.Time: the fraction of a second is dropped.
            let t = pg_time(i64_at(b, 0)?)?;
            Cell::Time(t.with().subsec_nanosecond(0).build().unwrap_or(t))
        }
        Type::TIMETZ => {
            // Kestra: the time at its offset, as an instant on 1970-01-01, seen in the task's zone.
            let micros = i64_at(b, 0)?;
            let west = i64::from(i32_at(b, 8)?);
            let utc_micros = micros + west * 1_000_000;
            let ts = jiff::Timestamp::from_microsecond(utc_micros.rem_euclid(86_400_000_000))
                .map_err(|_| CellError("timetz out of range".into()))?;
            let t = ts.to_zoned_datetime(tz.clone()).time();
            Cell::Time(t.with().subsec_nanosecond(0).build().unwrap_or(t))
        }
        Type::TIMESTAMP => {
            let ts = pg_timestamp(i64_at(b, 0)?)?;
            Cell::Timestamp(ts.to_zoned_datetime(TimeZone::UTC).datetime())
        }
        Type::TIMESTAMPTZ => {
            Cell::TimestampTz(pg_timestamp(i64_at(b, 0)?)?.to_zoned_datetime(tz.clone()))
        }
        Type::INTERVAL => {
            let micros = i64_at(b, 0)?;
            let days = i32_at(b, 8)?;
            let months = i32_at(b, 12)?;
            let secs = micros / 1_000_000;
            Cell::Interval(format!(
                "P{}Y{}M{}DT{}H{}M{}S",
                months / 12,
                months % 12,
                days,
                secs / 3600,
                secs / 60 % 60,
                secs % 60
            ))
        }
        Type::JSON | Type::JSONB => {
            let text = if *ty == Type::JSONB {
                b.get(1..).unwrap_or_default()
            } else {
                b
            };
            let value: Json = serde_json::from_slice(text)
                .map_err(|e| CellError(format!("invalid {} value: {e}", ty.name())))?;
            if !value.is_object() {
                return Err(CellError(format!(
                    "Invalid data type [{}] with value [{}]",
                    ty.name(),
                    value
                )));
            }
            Cell::Json(value)
        }
        Type::BYTEA => Cell::Bytes(b.to_vec()),
        Type::VOID => Cell::Null,
        Type::TS_VECTOR => Cell::Text(tsvector(b)?),
        ref other if other.name() == "hstore" => Cell::Map(
            hstore(b)?
                .into_iter()
                .map(|(k, v)| (k, v.map_or(Cell::Null, Cell::Text)))
                .collect(),
        ),
        ref other if other.name() == "citext" => Cell::Text(utf8(b)?),
        ref other => {
            let name = other.name();
            return Err(CellError(match name {
                "inet" | "cidr" | "macaddr" | "macaddr8" | "bit" | "varbit" | "money" => {
                    format!("PGobject of type [{name}] is not supported")
                }
                _ => format!(
                    "Data of type '{name}' for column '{column}' is not supported, the column type is '{name}'"
                ),
            }));
        }
    })
}

fn decode_array(column: &str, elem: &Type, b: &[u8], tz: &TimeZone) -> Result<Cell, CellError> {
    let ndim = i32_at(b, 0)? as usize;
    if ndim == 0 {
        return Ok(Cell::Array(Vec::new()));
    }
    let mut dims = Vec::with_capacity(ndim);
    for d in 0..ndim {
        dims.push(i32_at(b, 12 + d * 8)?.max(0) as usize);
    }
    let mut at = 12 + ndim * 8;
    let total: usize = dims.iter().product();
    let mut flat = Vec::with_capacity(total);
    for _ in 0..total {
        let len = i32_at(b, at)?;
        at += 4;
        if len < 0 {
            flat.push(Cell::Null);
        } else {
            let end = at + len as usize;
            let bytes = b
                .get(at..end)
                .ok_or_else(|| CellError("truncated array from the server".into()))?;
            flat.push(decode(column, elem, Some(bytes), tz)?);
            at = end;
        }
    }
    // Nest the flat list by dimensions, innermost last.
    fn nest(items: &mut std::vec::IntoIter<Cell>, dims: &[usize]) -> Cell {
        if dims.len() == 1 {
            return Cell::Array(items.take(dims[0]).collect());
        }
        Cell::Array((0..dims[0]).map(|_| nest(items, &dims[1..])).collect())
    }
    Ok(nest(&mut flat.into_iter(), &dims))
}

/// numeric's binary form (base-10000 digits, weight, sign, display scale) as decimal text.
fn numeric(b: &[u8]) -> Result<String, CellError> {
    let ndigits = i16_at(b, 0)? as usize;
    let weight = i32::from(i16_at(b, 2)?);
    let sign = u16::from_be_bytes(be(b, 4)?);
    let dscale = u16::from_be_bytes(be(b, 6)?) as usize;
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => {}
    }
    let mut digits = Vec::with_capacity(ndigits);
    for i in 0..ndigits {
        digits.push(i16_at(b, 8 + i * 2)?);
    }
    let mut int_part = String::new();
    for w in 0..=weight.max(-1) {
        let d = digits.get(w as usize).copied().unwrap_or(0);
        if int_part.is_empty() {
            if d != 0 {
                int_part = d.to_string();
            }
        } else {
            int_part.push_str(&format!("{d:04}"));
        }
    }
    if int_part.is_empty() {
        int_part.push('0');
    }
    let mut frac = String::new();
    let mut i = weight + 1;
    while frac.len() < dscale {
        let d = if i < 0 {
            0
        } else {
            digits.get(i as usize).copied().unwrap_or(0)
        };
        frac.push_str(&format!("{d:04}"));
        i += 1;
    }
    frac.truncate(dscale);
    let sign = if sign == 0x4000 { "-" } else { "" };
    Ok(if frac.is_empty() {
        format!("{sign}{int_part}")
    } else {
        format!("{sign}{int_part}.{frac}")
    })
}

/// tsvector's binary form as its text form: `'brown':4 'dice':2A`.
fn tsvector(b: &[u8]) -> Result<String, CellError> {
    let count = i32_at(b, 0)? as usize;
    let mut at = 4;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let end = b[at..]
            .iter()
            .position(|c| *c == 0)
            .map(|p| at + p)
            .ok_or_else(|| CellError("truncated tsvector".into()))?;
        let lexeme = utf8(&b[at..end])?.replace('\'', "''");
        at = end + 1;
        let npos = u16::from_be_bytes(be(b, at)?) as usize;
        at += 2;
        let mut positions = Vec::with_capacity(npos);
        for _ in 0..npos {
            let p = u16::from_be_bytes(be(b, at)?);
            at += 2;
            let weight = match p >> 14 {
                3 => "A",
                2 => "B",
                1 => "C",
                _ => "",
            };
            positions.push(format!("{}{weight}", p & 0x3fff));
        }
        out.push(if positions.is_empty() {
            format!("'{lexeme}'")
        } else {
            format!("'{lexeme}':{}", positions.join(","))
        });
    }
    Ok(out.join(" "))
}

fn hstore(b: &[u8]) -> Result<Vec<(String, Option<String>)>, CellError> {
    let count = i32_at(b, 0)? as usize;
    let mut at = 4;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let klen = i32_at(b, at)? as usize;
        at += 4;
        let key = utf8(
            b.get(at..at + klen)
                .ok_or_else(|| CellError("truncated hstore".into()))?,
        )?;
        at += klen;
        let vlen = i32_at(b, at)?;
        at += 4;
        let value = if vlen < 0 {
            None
        } else {
            let v = utf8(
                b.get(at..at + vlen as usize)
                    .ok_or_else(|| CellError("truncated hstore".into()))?,
            )?;
            at += vlen as usize;
            Some(v)
        };
        out.push((key, value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric_bytes(ndigits: i16, weight: i16, sign: u16, dscale: u16, digits: &[i16]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(ndigits.to_be_bytes());
        b.extend(weight.to_be_bytes());
        b.extend(sign.to_be_bytes());
        b.extend(dscale.to_be_bytes());
        for d in digits {
            b.extend(d.to_be_bytes());
        }
        b
    }

    /// The STORE fast path writes exactly what decoding then writing would.
    #[test]
    fn direct_ion_matches_decoded_ion() {
        let tz = TimeZone::UTC;
        let cases: Vec<(Type, Option<Vec<u8>>)> = vec![
            (Type::TEXT, Some(b"plain".to_vec())),
            (
                Type::VARCHAR,
                Some("quote \" back \\ tab \t nl \n é 日本".as_bytes().to_vec()),
            ),
            (Type::BPCHAR, Some(b"pad  ".to_vec())),
            (Type::NAME, Some(b"pg_class".to_vec())),
            (Type::CHAR, Some(b"x".to_vec())),
            (Type::UNKNOWN, Some(Vec::new())),
            (Type::BOOL, Some(vec![1])),
            (Type::BOOL, Some(vec![0])),
            (Type::INT2, Some((-32768i16).to_be_bytes().to_vec())),
            (Type::INT4, Some(2147483647i32.to_be_bytes().to_vec())),
            (Type::INT8, Some(i64::MIN.to_be_bytes().to_vec())),
            (Type::INT8, None),
            (Type::TEXT, None),
        ];
        for (ty, raw) in cases {
            let mut direct = String::new();
            write_ion_direct(&ty, raw.as_deref(), &mut direct)
                .expect("a direct type")
                .unwrap();
            let mut decoded = String::new();
            decode("c", &ty, raw.as_deref(), &tz)
                .unwrap()
                .write_ion(&mut decoded);
            assert_eq!(direct, decoded, "{ty}");
        }
        // Other types go through decode; bad bytes fail the same way on both paths.
        let mut out = String::new();
        assert!(write_ion_direct(&Type::NUMERIC, Some(&[0; 8]), &mut out).is_none());
        assert!(write_ion_direct(&Type::TIMESTAMPTZ, Some(&[0; 8]), &mut out).is_none());
        let bad = Some(&[0xff, 0xfe][..]);
        assert_eq!(
            write_ion_direct(&Type::TEXT, bad, &mut out)
                .unwrap()
                .unwrap_err(),
            decode("c", &Type::TEXT, bad, &tz).unwrap_err()
        );
        let short = Some(&[0, 1][..]);
        assert_eq!(
            write_ion_direct(&Type::INT4, short, &mut out)
                .unwrap()
                .unwrap_err(),
            decode("c", &Type::INT4, short, &tz).unwrap_err()
        );
    }

    #[test]
    fn numeric_is_exact() {
        // 2147483645.1234 = 21 4748 3645 . 1234
        assert_eq!(
            numeric(&numeric_bytes(4, 2, 0, 4, &[21, 4748, 3645, 1234])).unwrap(),
            "2147483645.1234"
        );
        assert_eq!(
            numeric(&numeric_bytes(1, 0, 0x4000, 0, &[5])).unwrap(),
            "-5"
        );
        assert_eq!(
            numeric(&numeric_bytes(1, -1, 0, 3, &[500])).unwrap(),
            "0.050"
        );
        assert_eq!(numeric(&numeric_bytes(0, 0, 0, 2, &[])).unwrap(), "0.00");
        assert_eq!(numeric(&numeric_bytes(1, 1, 0, 0, &[1])).unwrap(), "10000");
    }
}
