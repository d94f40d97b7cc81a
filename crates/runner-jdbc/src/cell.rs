//! One value of a result row, as Kestra's cell converters leave it, and its two written forms:
//! JSON in FETCH outputs, Ion text in STORE files.

use base64::Engine;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use serde_json::{Map, Number, Value as Json};
use std::fmt;

/// A decoded value, keeping what each Kestra output form needs.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer wider than 64 bits (HUGEINT, unsigned 64-bit), as exact decimal text.
    BigInt(String),
    /// A 32-bit float, kept apart: Kestra widens it to a double in Ion but prints it as a float
    /// in JSON.
    Float4(f32),
    Float8(f64),
    /// An exact decimal, as text (`2147483645.1234`, `-5`, `NaN`).
    Decimal(String),
    Text(String),
    Date(Date),
    /// A time of day (converted to the task's zone when it had an offset), as Kestra's
    /// LocalTime.
    Time(Time),
    Timestamp(DateTime),
    TimestampTz(jiff::ZonedDateTime),
    /// A date-time at a fixed offset, as Java's OffsetDateTime (the zone's name is not kept).
    OffsetDateTime(jiff::ZonedDateTime),
    /// An instant, as Java's Instant: an Ion timestamp in UTC in STORE files.
    Instant(jiff::Timestamp),
    /// Kestra's `P{y}Y{m}M{d}DT{h}H{mi}M{s}S`.
    Interval(String),
    Json(Json),
    Bytes(Vec<u8>),
    Array(Vec<Cell>),
    /// A map or a struct, keys in order.
    Map(Vec<(String, Cell)>),
}

/// Java's ISO_LOCAL_TIME: `HH:mm:ss` and the fraction without trailing zeros.
pub fn iso_time(t: Time) -> String {
    let mut s = format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second());
    let nanos = t.subsec_nanosecond();
    if nanos != 0 {
        s.push('.');
        s.push_str(format!("{nanos:09}").trim_end_matches('0'));
    }
    s
}

/// Java's ISO_LOCAL_DATE_TIME.
pub fn iso_datetime(dt: DateTime) -> String {
    format!("{}T{}", dt.date(), iso_time(dt.time()))
}

/// Java's ZoneOffset text: `Z`, `+02:00`.
pub fn iso_offset(secs: i32) -> String {
    if secs == 0 {
        return "Z".into();
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.abs();
    format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60)
}

/// Java's `Instant.toString` (ISO_INSTANT): UTC, the fraction in groups of three digits.
pub fn iso_instant(ts: jiff::Timestamp) -> String {
    let dt = ts.to_zoned_datetime(TimeZone::UTC).datetime();
    let mut s = format!(
        "{}T{:02}:{:02}:{:02}",
        dt.date(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    let nanos = dt.subsec_nanosecond();
    if nanos != 0 {
        let digits = format!("{nanos:09}");
        let keep = if nanos % 1_000_000 == 0 {
            3
        } else if nanos % 1_000 == 0 {
            6
        } else {
            9
        };
        s.push('.');
        s.push_str(&digits[..keep]);
    }
    s.push('Z');
    s
}

/// Java's `Float.toString` magnitude, as a JSON number (what Jackson writes for a Float).
fn float4_json(f: f32) -> Json {
    format!("{f}")
        .parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map_or(Json::Null, Json::Number)
}

impl Cell {
    /// The FETCH/FETCH_ONE output form (Kestra's JSON).
    pub fn to_json(&self) -> Json {
        match self {
            Cell::Null => Json::Null,
            Cell::Bool(b) => Json::Bool(*b),
            Cell::Int(i) => Json::from(*i),
            Cell::BigInt(s) => s
                .parse::<u64>()
                .map(Json::from)
                .or_else(|_| s.parse::<Number>().map(Json::Number))
                .unwrap_or_else(|_| Json::String(s.clone())),
            Cell::Float4(f) => float4_json(*f),
            Cell::Float8(f) => Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Cell::Decimal(d) => d
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map_or_else(|| Json::String(d.clone()), Json::Number),
            Cell::Text(s) | Cell::Interval(s) => Json::String(s.clone()),
            Cell::Date(d) => Json::String(d.to_string()),
            Cell::Time(t) => Json::String(iso_time(*t)),
            Cell::Timestamp(dt) => Json::String(iso_datetime(*dt)),
            Cell::TimestampTz(z) => {
                // Jackson writes a ZonedDateTime as an instant in UTC.
                let utc = z.timestamp().to_zoned_datetime(TimeZone::UTC);
                Json::String(format!("{}Z", iso_datetime(utc.datetime())))
            }
            Cell::OffsetDateTime(z) => Json::String(format!(
                "{}{}",
                iso_datetime(z.datetime()),
                iso_offset(z.offset().seconds())
            )),
            Cell::Instant(ts) => Json::String(iso_instant(*ts)),
            Cell::Json(v) => v.clone(),
            Cell::Bytes(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
            Cell::Array(items) => Json::Array(items.iter().map(Cell::to_json).collect()),
            Cell::Map(pairs) => Json::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect::<Map<_, _>>(),
            ),
        }
    }

    /// The STORE form: Ion text as Kestra 1.x writes it.
    pub fn write_ion(&self, out: &mut String) {
        match self {
            Cell::Null => out.push_str("null"),
            Cell::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Cell::Int(i) => {
                let _ = fmt::Write::write_fmt(out, format_args!("{i}"));
            }
            Cell::BigInt(s) => out.push_str(s),
            Cell::Float4(f) => runner_ion::write_float(f64::from(*f), out),
            Cell::Float8(f) => runner_ion::write_float(*f, out),
            Cell::Decimal(d) => match d.as_str() {
                "NaN" => out.push_str("nan"),
                "Infinity" => out.push_str("+inf"),
                "-Infinity" => out.push_str("-inf"),
                _ => {
                    out.push_str(d);
                    if !d.contains('.') {
                        out.push('.');
                    }
                }
            },
            Cell::Text(s) | Cell::Interval(s) => runner_ion::write_string(s, out),
            Cell::Date(d) => out.push_str(&d.to_string()),
            Cell::Time(t) => {
                out.push_str("LocalTime::");
                runner_ion::write_string(&iso_time(*t), out);
            }
            Cell::Timestamp(dt) => {
                out.push_str("LocalDateTime::");
                runner_ion::write_string(&iso_datetime(*dt), out);
            }
            Cell::TimestampTz(z) => {
                let zone = z
                    .time_zone()
                    .iana_name()
                    .map(|n| format!("[{n}]"))
                    .unwrap_or_default();
                let text = format!(
                    "{}{}{zone}",
                    iso_datetime(z.datetime()),
                    iso_offset(z.offset().seconds())
                );
                out.push_str("ZonedDateTime::");
                runner_ion::write_string(&text, out);
            }
            Cell::OffsetDateTime(z) => {
                out.push_str("OffsetDateTime::");
                runner_ion::write_string(
                    &format!(
                        "{}{}",
                        iso_datetime(z.datetime()),
                        iso_offset(z.offset().seconds())
                    ),
                    out,
                );
            }
            Cell::Instant(ts) => {
                // Kestra's Ion module: a timestamp in UTC, to the millisecond.
                let dt = ts.to_zoned_datetime(TimeZone::UTC).datetime();
                let _ = fmt::Write::write_fmt(
                    out,
                    format_args!(
                        "{}T{:02}:{:02}:{:02}.{:03}Z",
                        dt.date(),
                        dt.hour(),
                        dt.minute(),
                        dt.second(),
                        dt.subsec_nanosecond() / 1_000_000
                    ),
                );
            }
            Cell::Json(v) => runner_ion::write_json(v, out),
            Cell::Bytes(b) => {
                out.push_str("{{");
                out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
                out.push_str("}}");
            }
            Cell::Array(items) => {
                out.push('[');
                for (i, c) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    c.write_ion(out);
                }
                out.push(']');
            }
            Cell::Map(pairs) => {
                out.push('{');
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    runner_ion::write_field_name(k, out);
                    out.push(':');
                    v.write_ion(out);
                }
                out.push('}');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ion(c: Cell) -> String {
        let mut s = String::new();
        c.write_ion(&mut s);
        s
    }

    #[test]
    fn ion_forms_match_kestra() {
        assert_eq!(ion(Cell::Decimal("5".into())), "5.");
        assert_eq!(ion(Cell::Float4(3.2)), "3.200000047683716e0");
        assert_eq!(ion(Cell::Date(Date::constant(2030, 12, 25))), "2030-12-25");
        assert_eq!(
            ion(Cell::Time(Time::constant(4, 5, 30, 0))),
            "LocalTime::\"04:05:30\""
        );
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let z = "2004-10-19T06:23:54.25Z"
            .parse::<jiff::Timestamp>()
            .unwrap()
            .to_zoned_datetime(paris);
        assert_eq!(
            ion(Cell::TimestampTz(z.clone())),
            "ZonedDateTime::\"2004-10-19T08:23:54.25+02:00[Europe/Paris]\""
        );
        assert_eq!(
            Cell::TimestampTz(z).to_json(),
            Json::String("2004-10-19T06:23:54.25Z".into())
        );
        assert_eq!(
            ion(Cell::Bytes(vec![0xde, 0xad, 0xbe, 0xef])),
            "{{3q2+7w==}}"
        );
        assert_eq!(
            Cell::Float4(9.223372e18).to_json().as_f64(),
            Some(9.223372e18),
            "Float.toString digits, not the widened double"
        );
    }

    #[test]
    fn offsets_and_instants_as_java_writes_them() {
        let ts = "2001-08-22T10:04:05.321Z"
            .parse::<jiff::Timestamp>()
            .unwrap();
        let utc = Cell::OffsetDateTime(ts.to_zoned_datetime(TimeZone::UTC));
        assert_eq!(
            ion(utc.clone()),
            "OffsetDateTime::\"2001-08-22T10:04:05.321Z\""
        );
        assert_eq!(
            utc.to_json(),
            Json::String("2001-08-22T10:04:05.321Z".into())
        );
        let i = "2023-10-30T21:59:57.15015Z"
            .parse::<jiff::Timestamp>()
            .unwrap();
        assert_eq!(
            Cell::Instant(i).to_json(),
            Json::String("2023-10-30T21:59:57.150150Z".into())
        );
        assert_eq!(ion(Cell::Instant(i)), "2023-10-30T21:59:57.150Z");
        let whole = "2023-10-30T21:59:57Z".parse::<jiff::Timestamp>().unwrap();
        assert_eq!(iso_instant(whole), "2023-10-30T21:59:57Z");
        assert_eq!(ion(Cell::Instant(whole)), "2023-10-30T21:59:57.000Z");
    }

    #[test]
    fn maps_and_wide_integers() {
        let m = Cell::Map(vec![
            ("a".into(), Cell::Int(1)),
            ("b c".into(), Cell::Null),
            ("d".into(), Cell::Array(vec![Cell::Text("x".into())])),
        ]);
        assert_eq!(ion(m.clone()), "{a:1,'b c':null,d:[\"x\"]}");
        assert_eq!(
            m.to_json(),
            serde_json::json!({"a": 1, "b c": null, "d": ["x"]})
        );
        let big = Cell::BigInt("170141183460469231731687303715884105727".into());
        assert_eq!(ion(big.clone()), "170141183460469231731687303715884105727");
        assert!(big.to_json().is_number());
        assert_eq!(
            Cell::BigInt("18446744073709551615".into()).to_json(),
            serde_json::json!(18446744073709551615u64)
        );
    }
}
