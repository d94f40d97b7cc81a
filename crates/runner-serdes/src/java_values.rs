//! What Kestra's Ion reader makes of a value: the Java type the Avro and Excel converters see,
//! and its `String.valueOf`. Ion timestamps are instants (a day alone is a `LocalDate`); the
//! annotations runner and Kestra write (`LocalDateTime::"..."`) name the other temporal types.

use crate::java::{java_decimal, java_double};
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{Offset, TimeZone};
use jiff::{Timestamp, ZonedDateTime};
use runner_ion::IonValue;

/// A date or time value, as the Java type Kestra reads.
#[derive(Clone, Debug)]
pub(crate) enum Temporal {
    LocalDate(Date),
    LocalTime(Time),
    OffsetTime(Time, Offset),
    LocalDateTime(DateTime),
    Instant(Timestamp),
    /// A `ZonedDateTime` or `OffsetDateTime`: an instant with its own zone.
    Zoned(ZonedDateTime),
}

impl Temporal {
    /// The value's instant; a local value is read in `zone`.
    pub(crate) fn instant(&self, zone: &TimeZone) -> Option<Timestamp> {
        match self {
            Temporal::Instant(t) => Some(*t),
            Temporal::Zoned(z) => Some(z.timestamp()),
            Temporal::LocalDateTime(dt) => dt
                .to_zoned_datetime(zone.clone())
                .ok()
                .map(|z| z.timestamp()),
            Temporal::LocalDate(d) => d
                .to_zoned_datetime(zone.clone())
                .ok()
                .map(|z| z.timestamp()),
            Temporal::LocalTime(_) | Temporal::OffsetTime(..) => None,
        }
    }

    /// The value's local date-time in `zone` (an instant is moved there; a local value kept).
    pub(crate) fn local(&self, zone: &TimeZone) -> Option<DateTime> {
        match self {
            Temporal::LocalDateTime(dt) => Some(*dt),
            Temporal::LocalDate(d) => Some(d.to_datetime(Time::midnight())),
            Temporal::Zoned(z) => Some(z.datetime()),
            Temporal::Instant(t) => Some(t.to_zoned_datetime(zone.clone()).datetime()),
            Temporal::LocalTime(_) | Temporal::OffsetTime(..) => None,
        }
    }

    /// Java's `toString` of the value.
    pub(crate) fn java_string(&self) -> String {
        match self {
            Temporal::LocalDate(d) => d.to_string(),
            Temporal::LocalTime(t) => java_time(*t),
            Temporal::OffsetTime(t, o) => format!("{}{}", java_time(*t), java_offset(*o)),
            Temporal::LocalDateTime(dt) => format!("{}T{}", dt.date(), java_time(dt.time())),
            Temporal::Instant(t) => {
                let dt = t.to_zoned_datetime(TimeZone::UTC).datetime();
                format!("{}T{}Z", dt.date(), java_time_seconds(dt.time()))
            }
            Temporal::Zoned(z) => {
                let name = z
                    .time_zone()
                    .iana_name()
                    .map(|n| format!("[{n}]"))
                    .unwrap_or_default();
                format!(
                    "{}T{}{}{name}",
                    z.date(),
                    java_time(z.time()),
                    java_offset(z.offset())
                )
            }
        }
    }
}

/// `HH:mm`, then seconds and fraction only when not zero (Java's `LocalTime.toString`).
pub(crate) fn java_time(t: Time) -> String {
    if t.second() == 0 && t.subsec_nanosecond() == 0 {
        format!("{:02}:{:02}", t.hour(), t.minute())
    } else {
        java_time_seconds(t)
    }
}

/// `HH:mm:ss` with the fraction in groups of three digits (Java's `Instant.toString`).
fn java_time_seconds(t: Time) -> String {
    let mut s = format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second());
    let nanos = t.subsec_nanosecond();
    if nanos != 0 {
        let digits = format!("{nanos:09}");
        let len = if nanos % 1_000_000 == 0 {
            3
        } else if nanos % 1000 == 0 {
            6
        } else {
            9
        };
        s.push('.');
        s.push_str(&digits[..len]);
    }
    s
}

fn java_offset(o: Offset) -> String {
    if o.seconds() == 0 {
        return "Z".into();
    }
    let s = o.seconds().abs();
    let sign = if o.seconds() < 0 { '-' } else { '+' };
    format!("{sign}{:02}:{:02}", s / 3600, (s % 3600) / 60)
}

/// The temporal value `v` holds, if it is one.
pub(crate) fn temporal(v: &IonValue) -> Option<Temporal> {
    match v {
        IonValue::Timestamp(t) => timestamp(t),
        IonValue::Annotated(names, inner) => {
            let IonValue::String(text) = inner.as_ref() else {
                return None;
            };
            match names.first().map(String::as_str)? {
                "LocalDate" => text.parse().ok().map(Temporal::LocalDate),
                "LocalTime" => text.parse().ok().map(Temporal::LocalTime),
                "LocalDateTime" => text.parse().ok().map(Temporal::LocalDateTime),
                "OffsetTime" => offset_time(text),
                "ZonedDateTime" | "OffsetDateTime" => zoned(text),
                _ => None,
            }
        }
        _ => None,
    }
}

/// An Ion timestamp: a day is a `LocalDate`, anything with a time an `Instant`.
fn timestamp(t: &str) -> Option<Temporal> {
    let t = t.trim_end_matches('T');
    if !t.contains('T') {
        // `2021`, `2021-05T` and `2021-05-05` are all days (the first of the month or year).
        let parts: Vec<&str> = t.split('-').collect();
        let n = |i: usize| parts.get(i).and_then(|p| p.parse::<i8>().ok()).unwrap_or(1);
        let year: i16 = parts.first()?.parse().ok()?;
        return Date::new(year, n(1), n(2)).ok().map(Temporal::LocalDate);
    }
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Some(Temporal::Instant(ts));
    }
    // Ion allows `-00:00` (unknown offset) and minutes without seconds; jiff parses both, and
    // a timestamp with no offset at all is not Ion.
    None
}

fn zoned(text: &str) -> Option<Temporal> {
    if let Ok(z) = text.parse::<ZonedDateTime>() {
        return Some(Temporal::Zoned(z));
    }
    let ts = text.parse::<Timestamp>().ok()?;
    let offset = offset_suffix(text)?;
    Some(Temporal::Zoned(
        ts.to_zoned_datetime(TimeZone::fixed(offset)),
    ))
}

fn offset_time(text: &str) -> Option<Temporal> {
    let offset = offset_suffix(text)?;
    let end = text.rfind(['+', '-', 'Z']).unwrap_or(text.len());
    let time = text[..end].parse().ok()?;
    Some(Temporal::OffsetTime(time, offset))
}

fn offset_suffix(text: &str) -> Option<Offset> {
    if text.ends_with('Z') {
        return Some(Offset::UTC);
    }
    let at = text.rfind(['+', '-'])?;
    let (h, m) = text[at + 1..].split_once(':')?;
    let secs = h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60;
    Offset::from_seconds(if text[at..].starts_with('-') {
        -secs
    } else {
        secs
    })
    .ok()
}

/// Java's `String.valueOf` of the value Kestra reads: what a `string` Avro field or an Excel
/// text cell holds.
pub(crate) fn java_string(v: &IonValue) -> String {
    if let Some(t) = temporal(v) {
        return t.java_string();
    }
    match v {
        IonValue::Null => "null".into(),
        IonValue::Bool(b) => b.to_string(),
        IonValue::Int(i) => i.to_string(),
        IonValue::Decimal(d) => java_decimal(d),
        IonValue::Float(f) => java_double(*f),
        IonValue::Timestamp(t) => t.clone(),
        IonValue::String(s) | IonValue::Symbol(s) | IonValue::Clob(s) => s.clone(),
        IonValue::Blob(b) => String::from_utf8_lossy(b).into_owned(),
        IonValue::List(items) | IonValue::SExp(items) => {
            let parts: Vec<String> = items.iter().map(java_string).collect();
            format!("[{}]", parts.join(", "))
        }
        IonValue::Struct(fields) => {
            let parts: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{k}={}", java_string(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        IonValue::Annotated(_, inner) => java_string(inner),
    }
}

/// The name of the Java class Kestra's Ion reader gives the value, for errors.
pub(crate) fn java_class(v: &IonValue) -> &'static str {
    if let Some(t) = temporal(v) {
        return match t {
            Temporal::LocalDate(_) => "LocalDate",
            Temporal::LocalTime(_) => "LocalTime",
            Temporal::OffsetTime(..) => "OffsetTime",
            Temporal::LocalDateTime(_) => "LocalDateTime",
            Temporal::Instant(_) => "Instant",
            Temporal::Zoned(_) => "ZonedDateTime",
        };
    }
    match v {
        IonValue::Null => "null",
        IonValue::Bool(_) => "Boolean",
        IonValue::Int(i) if i32::try_from(*i).is_ok() => "Integer",
        IonValue::Int(_) => "Long",
        IonValue::Decimal(_) => "BigDecimal",
        IonValue::Float(_) => "Double",
        IonValue::Timestamp(_) => "Instant",
        IonValue::String(_) | IonValue::Symbol(_) | IonValue::Clob(_) => "String",
        IonValue::Blob(_) => "byte[]",
        IonValue::List(_) | IonValue::SExp(_) => "List",
        IonValue::Struct(_) => "Map",
        IonValue::Annotated(_, inner) => java_class(inner),
    }
}

/// An Ion decimal's (or a number's) text as (negative, digits without leading zeros, scale):
/// `-12.50` is (true, "1250", 2), `1d3` is (false, "1", -3).
pub(crate) fn decimal_parts(text: &str) -> Option<(bool, String, i64)> {
    let text = text.trim();
    let (negative, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exp) = match rest.split_once(['d', 'D', 'e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().ok()?),
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let digits: String = format!("{int}{frac}").trim_start_matches('0').to_string();
    Some((negative, digits, frac.len() as i64 - exp))
}
