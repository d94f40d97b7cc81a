//! Binary Ion 1.0, what Kestra 2.0 writes: read one top-level value at a time, keeping the
//! local symbol table between values. Values come out as the text reader gives them, so every
//! consumer renders both encodings the same way.

use crate::{IonError, IonValue};

/// The binary version marker that starts every binary Ion stream.
pub const VERSION_MARKER: [u8; 4] = [0xE0, 0x01, 0x00, 0xEA];

const SYSTEM_SYMBOLS: [&str; 10] = [
    "$0",
    "$ion",
    "$ion_1_0",
    "$ion_symbol_table",
    "name",
    "version",
    "imports",
    "symbols",
    "max_id",
    "$ion_shared_symbol_table",
];
const ION_SYMBOL_TABLE: usize = 3;
const IMPORTS: usize = 6;
const SYMBOLS: usize = 7;

fn err(message: impl Into<String>, offset: usize) -> IonError {
    IonError {
        message: message.into(),
        offset,
    }
}

/// How many bytes the top-level value that starts `head` takes (type descriptor, length and
/// body), or `None` when `head` is too short to tell yet.
pub fn value_length(head: &[u8]) -> Option<usize> {
    let td = *head.first()?;
    if td == 0xE0 {
        return Some(VERSION_MARKER.len());
    }
    let (kind, low) = (td >> 4, td & 0x0F);
    if kind == 0x1 || low == 15 {
        return Some(1);
    }
    if low == 14 || (kind == 0xD && low == 1) {
        let mut n = 0usize;
        for (i, b) in head[1..].iter().enumerate() {
            n = (n << 7) | usize::from(b & 0x7F);
            if b & 0x80 != 0 {
                return Some(1 + i + 1 + n);
            }
        }
        return None;
    }
    Some(1 + usize::from(low))
}

/// Reads binary Ion values one by one; holds the symbol table the stream has declared.
pub struct BinaryReader {
    symbols: Vec<String>,
    /// Bytes read before the current value, for error offsets.
    offset: usize,
}

impl Default for BinaryReader {
    fn default() -> Self {
        BinaryReader {
            symbols: SYSTEM_SYMBOLS.iter().map(|s| s.to_string()).collect(),
            offset: 0,
        }
    }
}

impl BinaryReader {
    /// One whole top-level value as framed by [`value_length`]. System values (the version
    /// marker, symbol tables, padding) update the reader and give `None`.
    pub fn read(&mut self, bytes: &[u8]) -> Result<Option<IonValue>, IonError> {
        let start = self.offset;
        self.offset += bytes.len();
        if bytes.first() == Some(&0xE0) {
            if bytes != VERSION_MARKER {
                return Err(err("not an Ion 1.0 version marker", start));
            }
            self.symbols.truncate(SYSTEM_SYMBOLS.len());
            return Ok(None);
        }
        let mut cur = Cursor {
            s: bytes,
            i: 0,
            base: start,
            depth: 0,
        };
        if bytes.first().is_some_and(|td| td >> 4 == 0) && bytes[0] != 0x0F {
            return Ok(None);
        }
        let value = cur.value(&self.symbols)?;
        if let IonValue::Annotated(names, inner) = &value
            && names.first().map(String::as_str) == Some(SYSTEM_SYMBOLS[ION_SYMBOL_TABLE])
            && let IonValue::Struct(fields) = inner.as_ref()
        {
            self.symbol_table(fields, start)?;
            return Ok(None);
        }
        Ok(Some(value))
    }

    fn symbol_table(&mut self, fields: &[(String, IonValue)], at: usize) -> Result<(), IonError> {
        let append = fields.iter().any(|(k, v)| {
            k == SYSTEM_SYMBOLS[IMPORTS]
                && *v == IonValue::Symbol(SYSTEM_SYMBOLS[ION_SYMBOL_TABLE].into())
        });
        if let Some((_, IonValue::List(imports))) =
            fields.iter().find(|(k, _)| k == SYSTEM_SYMBOLS[IMPORTS])
            && !imports.is_empty()
        {
            return Err(err(
                "the stream imports shared symbol tables, which runner cannot resolve",
                at,
            ));
        }
        if !append {
            self.symbols.truncate(SYSTEM_SYMBOLS.len());
        }
        for (k, v) in fields {
            if k == SYSTEM_SYMBOLS[SYMBOLS]
                && let IonValue::List(items) = v
            {
                for item in items {
                    let next = format!("${}", self.symbols.len());
                    self.symbols.push(match item {
                        IonValue::String(s) => s.clone(),
                        _ => next,
                    });
                }
            }
        }
        Ok(())
    }
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
    base: usize,
    /// Containers and annotations around this cursor (see [`crate::MAX_DEPTH`]).
    depth: usize,
}

impl<'a> Cursor<'a> {
    fn fail(&self, message: &str) -> IonError {
        err(message, self.base + self.i)
    }

    fn byte(&mut self) -> Result<u8, IonError> {
        let b = *self
            .s
            .get(self.i)
            .ok_or_else(|| self.fail("the value ends early"))?;
        self.i += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], IonError> {
        if self.s.len() - self.i < n {
            return Err(self.fail("the value ends early"));
        }
        let out = &self.s[self.i..self.i + n];
        self.i += n;
        Ok(out)
    }

    fn var_uint(&mut self) -> Result<usize, IonError> {
        let mut n = 0usize;
        loop {
            let b = self.byte()?;
            n = n
                .checked_mul(128)
                .ok_or_else(|| self.fail("a length overflows"))?
                | usize::from(b & 0x7F);
            if b & 0x80 != 0 {
                return Ok(n);
            }
        }
    }

    /// A VarUInt field of a timestamp, as a signed number (range-checked by the caller).
    fn field(&mut self) -> Result<i64, IonError> {
        let n = self.var_uint()?;
        i64::try_from(n).map_err(|_| self.fail("a timestamp field overflows"))
    }

    /// A VarInt; `None` is negative zero (an unknown timestamp offset).
    fn var_int(&mut self) -> Result<Option<i64>, IonError> {
        let first = self.byte()?;
        let negative = first & 0x40 != 0;
        let mut n = i64::from(first & 0x3F);
        let mut last = first & 0x80 != 0;
        while !last {
            let b = self.byte()?;
            n = n
                .checked_mul(128)
                .ok_or_else(|| self.fail("an integer overflows"))?
                | i64::from(b & 0x7F);
            last = b & 0x80 != 0;
        }
        Ok(match (negative, n) {
            (true, 0) => None,
            (true, n) => Some(-n),
            (false, n) => Some(n),
        })
    }

    fn length(&mut self, low: u8) -> Result<usize, IonError> {
        if low == 14 {
            self.var_uint()
        } else {
            Ok(usize::from(low))
        }
    }

    fn value(&mut self, symbols: &[String]) -> Result<IonValue, IonError> {
        if self.depth >= crate::MAX_DEPTH {
            return Err(self.fail(&format!(
                "values nest more than {} levels deep (lists, structs or annotations)",
                crate::MAX_DEPTH
            )));
        }
        let td = self.byte()?;
        let (kind, low) = (td >> 4, td & 0x0F);
        if low == 15 && kind != 0x1 {
            return Ok(IonValue::Null);
        }
        if kind == 0x1 {
            return match low {
                0 => Ok(IonValue::Bool(false)),
                1 => Ok(IonValue::Bool(true)),
                _ => Err(self.fail("a bool with an invalid length")),
            };
        }
        let len = if kind == 0xD && low == 1 {
            self.var_uint()?
        } else {
            self.length(low)?
        };
        let base = self.base + self.i;
        let body = self.take(len)?;
        let mut inner = Cursor {
            s: body,
            i: 0,
            base,
            depth: self.depth + 1,
        };
        inner.typed(kind, symbols)
    }

    fn magnitude(&self, bytes: &[u8]) -> Result<u128, IonError> {
        if bytes.len() > 16 {
            return Err(self.fail("an integer larger than 128 bits"));
        }
        Ok(bytes.iter().fold(0u128, |n, b| (n << 8) | u128::from(*b)))
    }

    fn symbol(&self, sid: usize, symbols: &[String]) -> Result<String, IonError> {
        symbols
            .get(sid)
            .cloned()
            .ok_or_else(|| self.fail(&format!("symbol ${sid} is not in the symbol table")))
    }

    /// The body of a value of type `kind` (this cursor spans exactly the body).
    fn typed(&mut self, kind: u8, symbols: &[String]) -> Result<IonValue, IonError> {
        let body = self.s;
        Ok(match kind {
            0x0 => IonValue::Null,
            0x2 | 0x3 => {
                let m = self.magnitude(body)?;
                if kind == 0x3 && m == 0 {
                    return Err(self.fail("negative zero is not an integer"));
                }
                let signed = i128::try_from(m)
                    .ok()
                    .map(|v| if kind == 0x3 { -v } else { v })
                    .and_then(|v| i64::try_from(v).ok());
                match signed {
                    Some(n) => IonValue::Int(n),
                    // Too large for i64: keep the digits exactly, as a decimal.
                    None => IonValue::Decimal(format!("{}{m}", if kind == 0x3 { "-" } else { "" })),
                }
            }
            0x4 => match body.len() {
                0 => IonValue::Float(0.0),
                4 => IonValue::Float(f64::from(f32::from_be_bytes(
                    body.try_into().expect("4 bytes"),
                ))),
                8 => IonValue::Float(f64::from_be_bytes(body.try_into().expect("8 bytes"))),
                _ => return Err(self.fail("a float that is not 0, 4 or 8 bytes")),
            },
            0x5 => {
                if body.is_empty() {
                    return Ok(IonValue::Decimal("0.".into()));
                }
                let exponent = self.var_int()?.unwrap_or(0);
                if exponent.unsigned_abs() > MAX_EXPONENT {
                    return Err(self.fail(&format!(
                        "a decimal exponent beyond ±{MAX_EXPONENT} is not supported"
                    )));
                }
                let rest = &body[self.i..];
                let (negative, m) = match rest.split_first() {
                    None => (false, 0),
                    Some((first, tail)) => {
                        let mut bytes = vec![first & 0x7F];
                        bytes.extend_from_slice(tail);
                        (first & 0x80 != 0, self.magnitude(&bytes)?)
                    }
                };
                IonValue::Decimal(decimal_text(negative, m, exponent))
            }
            0x6 => IonValue::Timestamp(self.timestamp()?),
            0x7 => {
                let sid = usize::try_from(self.magnitude(body)?)
                    .map_err(|_| self.fail("a symbol id overflows"))?;
                IonValue::Symbol(self.symbol(sid, symbols)?)
            }
            0x8 => IonValue::String(
                String::from_utf8(body.to_vec()).map_err(|_| self.fail("a string is not UTF-8"))?,
            ),
            0x9 => IonValue::Clob(String::from_utf8_lossy(body).into_owned()),
            0xA => IonValue::Blob(body.to_vec()),
            0xB | 0xC => {
                let mut items = Vec::new();
                while self.i < body.len() {
                    if self.padding()? {
                        continue;
                    }
                    items.push(self.value(symbols)?);
                }
                if kind == 0xB {
                    IonValue::List(items)
                } else {
                    IonValue::SExp(items)
                }
            }
            0xD => {
                let mut fields = Vec::new();
                while self.i < body.len() {
                    let sid = self.var_uint()?;
                    if self.padding()? {
                        continue;
                    }
                    let name = self.symbol(sid, symbols)?;
                    fields.push((name, self.value(symbols)?));
                }
                IonValue::Struct(fields)
            }
            0xE => {
                let annotations_len = self.var_uint()?;
                let end = self.i + annotations_len;
                let mut names = Vec::new();
                while self.i < end {
                    let sid = self.var_uint()?;
                    names.push(self.symbol(sid, symbols)?);
                }
                let value = self.value(symbols)?;
                IonValue::Annotated(names, Box::new(value))
            }
            _ => return Err(self.fail("a reserved type code")),
        })
    }

    /// Skips a NOP pad if one starts here.
    fn padding(&mut self) -> Result<bool, IonError> {
        match self.s.get(self.i) {
            Some(td) if td >> 4 == 0 && td & 0x0F != 15 => {
                let low = td & 0x0F;
                self.i += 1;
                let len = self.length(low)?;
                self.take(len)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn timestamp(&mut self) -> Result<String, IonError> {
        let offset = self.var_int()?;
        let year = self.field()?;
        if !(1..=9999).contains(&year) {
            return Err(self.fail("a timestamp year outside 1-9999"));
        }
        if offset.is_some_and(|o| o.abs() >= 1440) {
            return Err(self.fail("a timestamp offset of a day or more"));
        }
        let more = |c: &Self| c.i < c.s.len();
        let month = if more(self) {
            Some(self.field()?)
        } else {
            None
        };
        let day = if more(self) {
            Some(self.field()?)
        } else {
            None
        };
        if month.is_some_and(|m| !(1..=12).contains(&m))
            || day.is_some_and(|d| !(1..=31).contains(&d))
        {
            return Err(self.fail("a timestamp month or day out of range"));
        }
        let (Some(month), Some(day)) = (month, day) else {
            return Ok(match month {
                Some(m) => format!("{year:04}-{m:02}T"),
                None => format!("{year:04}T"),
            });
        };
        if !more(self) {
            return Ok(format!("{year:04}-{month:02}-{day:02}"));
        }
        let hour = self.field()?;
        let minute = self.field()?;
        let second = if more(self) {
            Some(self.field()?)
        } else {
            None
        };
        if hour > 23 || minute > 59 || second.is_some_and(|s| s > 60) {
            return Err(self.fail("a timestamp time out of range"));
        }
        let mut fraction = String::new();
        if more(self) {
            let exponent = self.var_int()?.unwrap_or(0);
            if !(-MAX_FRACTION..=0).contains(&exponent) {
                return Err(self.fail("a timestamp fraction finer than 10^-30 or positive"));
            }
            let rest = &self.s[self.i..];
            let coefficient = match rest.split_first() {
                None => 0,
                Some((first, tail)) => {
                    let mut bytes = vec![first & 0x7F];
                    bytes.extend_from_slice(tail);
                    self.magnitude(&bytes)?
                }
            };
            self.i = self.s.len();
            if exponent < 0 {
                let digits = (-exponent) as usize;
                fraction = format!(".{coefficient:0digits$}");
            }
        }
        // The binary form holds UTC; the text form shows local time at the offset.
        let local_minutes = offset.unwrap_or(0);
        let (days, minutes) = {
            let total = hour * 60 + minute + local_minutes;
            (total.div_euclid(1440), total.rem_euclid(1440))
        };
        let (y, m, d) = civil_from_days(days_from_civil(year, month, day) + days);
        let mut text = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}",
            minutes / 60,
            minutes % 60
        );
        if let Some(s) = second {
            text.push_str(&format!(":{s:02}{fraction}"));
        }
        match offset {
            None => text.push_str("-00:00"),
            Some(0) => text.push('Z'),
            Some(o) => text.push_str(&format!(
                "{}{:02}:{:02}",
                if o < 0 { '-' } else { '+' },
                o.abs() / 60,
                o.abs() % 60
            )),
        }
        Ok(text)
    }
}

/// The largest decimal exponent read: a larger one would print thousands of zeros.
const MAX_EXPONENT: u64 = 10_000;
/// The finest timestamp fraction read (10^-30).
const MAX_FRACTION: i64 = 30;

/// A decimal as Ion text: plain digits with a point when the exponent is not positive.
fn decimal_text(negative: bool, magnitude: u128, exponent: i64) -> String {
    let sign = if negative { "-" } else { "" };
    let digits = magnitude.to_string();
    if exponent > 0 {
        return format!("{sign}{digits}d{exponent}");
    }
    if exponent == 0 {
        return format!("{sign}{digits}.");
    }
    let scale = (-exponent) as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// Every user value of a whole binary Ion stream (for tests and small files).
pub fn parse_binary(bytes: &[u8]) -> Result<Vec<IonValue>, IonError> {
    let mut reader = BinaryReader::default();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let n = value_length(&bytes[i..]).ok_or_else(|| err("the stream ends early", i))?;
        if i + n > bytes.len() {
            return Err(err("the stream ends inside a value", i));
        }
        if let Some(v) = reader.read(&bytes[i..i + n])? {
            out.push(v);
        }
        i += n;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_reads_back_what_ion_rs_writes_from_the_same_text() {
        let text = r#"{id:1,name:"Ann \"A\"",score:2147483645.1234,big:1d3,small:-0.05,f:3.25e0,ok:true,none:null,at:2021-05-05T10:21:12.123Z,paris:2021-05-05T12:21:12+02:00,day:2030-12-25,blob:{{3q2+7w==}},tags:[a,"b",null],zoned:ZonedDateTime::"2021-05-05T12:21:12+02:00[Europe/Paris]",huge:123456789012345678901234567890}
{id:2,name:"日本",nested:{x:[1,-2]},neg:-9223372036854775808,minute:2024-02-29T23:30-01:00}
"#;
        let expected = crate::parse_values(text).unwrap();
        let binary = ion_rs::Element::read_all(text)
            .unwrap()
            .encode_as(ion_rs::v1_0::Binary)
            .unwrap();
        assert!(binary.starts_with(&VERSION_MARKER));
        let got = parse_binary(&binary).unwrap();
        assert_eq!(got.len(), 2);
        for (g, e) in got.iter().zip(&expected) {
            let (IonValue::Struct(g), IonValue::Struct(e)) = (g, e) else {
                panic!("structs expected");
            };
            for ((gk, gv), (ek, ev)) in g.iter().zip(e) {
                assert_eq!(gk, ek);
                match (gk.as_str(), gv) {
                    ("huge", IonValue::Decimal(d)) => {
                        assert_eq!(d, "123456789012345678901234567890")
                    }
                    _ => assert_eq!(gv, ev, "field {gk}"),
                }
            }
            assert_eq!(g.len(), e.len());
        }
    }

    #[test]
    fn truncated_and_foreign_input_is_an_error() {
        let binary = ion_rs::Element::read_all("{a:\"hello\"}")
            .unwrap()
            .encode_as(ion_rs::v1_0::Binary)
            .unwrap();
        let cut = &binary[..binary.len() - 2];
        assert!(parse_binary(cut).unwrap_err().message.contains("ends"));
        assert!(parse_binary(&[0xE0, 0x01, 0x01, 0xEA]).is_err());
        assert_eq!(decimal_text(true, 5, -3), "-0.005");
        assert_eq!(decimal_text(false, 5, 0), "5.");
    }

    #[test]
    fn values_found_by_fuzzing_are_errors_not_panics() {
        let with_marker = |v: &[u8]| [&VERSION_MARKER[..], v].concat();
        // A decimal of exponent -1048575 once padded a million zeros, then panicked.
        let e = parse_binary(&with_marker(&[0x53, 0x7F, 0x7F, 0xFF])).unwrap_err();
        assert!(e.message.contains("decimal exponent beyond"), "{e:?}");
        // Timestamps: year 0, a 25-hour offset, hour 99.
        for value in [
            vec![0x62, 0x80, 0x80],
            vec![0x64, 0x0B, 0xDC, 0x0F, 0xE8],
            vec![0x67, 0x80, 0x0F, 0xE8, 0x81, 0x81, 0xE3, 0x80],
        ] {
            let e = parse_binary(&with_marker(&value)).unwrap_err();
            assert!(e.message.contains("timestamp"), "{value:?}: {e:?}");
        }
    }
}
