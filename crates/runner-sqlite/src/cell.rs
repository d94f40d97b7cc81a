//! SQLite's values as Kestra's SQLite cell converter leaves them: by the column's declared
//! type, `date` a date, `datetime` and `timestamp` an instant (text read as ISO or
//! `yyyy-MM-dd HH:mm:ss[.fff]`, a local time taken in `timeZoneId`; a number as milliseconds
//! since 1970, or a Julian day when it is real), `time` a time of day; anything else as
//! SQLite stores it (integers, reals, text, blobs; booleans are integers, JSON is text).

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use runner_jdbc::Cell;
use rusqlite::types::ValueRef;

/// How a column converts, from its declared type (lowercased, as Kestra compares it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Declared {
    Date,
    DateTime,
    Time,
    Other,
}

impl Declared {
    pub(crate) fn of(decl: Option<&str>) -> Declared {
        match decl.map(str::to_ascii_lowercase).as_deref() {
            Some("date") => Declared::Date,
            Some("datetime" | "timestamp") => Declared::DateTime,
            Some("time") => Declared::Time,
            _ => Declared::Other,
        }
    }
}

fn text(v: &ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(r) => Some(r.to_string()),
        _ => None,
    }
}

/// A date-time text as Kestra reads it; a local one is taken in `zone`.
pub(crate) fn parse_datetime(s: &str, zone: &TimeZone) -> Option<jiff::Timestamp> {
    let s = s.trim();
    if let Ok(z) = s.parse::<jiff::ZonedDateTime>() {
        return Some(z.timestamp());
    }
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Some(ts);
    }
    let local = s
        .parse::<DateTime>()
        .ok()
        .or_else(|| s.replacen(' ', "T", 1).parse::<DateTime>().ok())
        .or_else(|| s.parse::<Date>().ok().map(|d| d.to_datetime(Time::MIN)))?;
    local
        .to_zoned_datetime(zone.clone())
        .ok()
        .map(|z| z.timestamp())
}

pub(crate) fn convert(
    declared: Declared,
    v: ValueRef<'_>,
    zone: &TimeZone,
) -> Result<Cell, String> {
    if matches!(v, ValueRef::Null) {
        return Ok(Cell::Null);
    }
    match declared {
        Declared::Date => {
            let t = text(&v).unwrap_or_default();
            return t
                .trim()
                .parse::<Date>()
                .map(Cell::Date)
                .map_err(|_| format!("Text '{t}' could not be parsed as a date (yyyy-MM-dd)"));
        }
        Declared::Time => {
            let t = text(&v).unwrap_or_default();
            return t
                .trim()
                .parse::<Time>()
                .map(Cell::Time)
                .map_err(|_| format!("Text '{t}' could not be parsed as a time (HH:mm:ss)"));
        }
        Declared::DateTime => {
            return match v {
                ValueRef::Text(t) => {
                    let s = String::from_utf8_lossy(t);
                    parse_datetime(&s, zone)
                        .map(Cell::Instant)
                        .ok_or_else(|| format!("Unsupported SQLite datetime format: {s}"))
                }
                ValueRef::Integer(ms) => jiff::Timestamp::from_millisecond(ms)
                    .map(Cell::Instant)
                    .map_err(|_| format!("Unsupported SQLite datetime value: {ms}")),
                ValueRef::Real(jd) => {
                    let ms = ((jd - 2_440_587.5) * 86_400_000.0).round() as i64;
                    jiff::Timestamp::from_millisecond(ms)
                        .map(Cell::Instant)
                        .map_err(|_| format!("Unsupported SQLite datetime value: {jd}"))
                }
                _ => Err("Unsupported SQLite datetime value: a blob".into()),
            };
        }
        Declared::Other => {}
    }
    Ok(match v {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(i) => Cell::Int(i),
        ValueRef::Real(r) => Cell::Float8(r),
        ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Cell::Bytes(b.to_vec()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_are_read_as_kestra_reads_them() {
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let c = convert(
            Declared::DateTime,
            ValueRef::Text(b"2023-10-30 22:59:57.150150"),
            &paris,
        )
        .unwrap();
        assert_eq!(
            c.to_json(),
            serde_json::json!("2023-10-30T21:59:57.150150Z"),
            "Kestra's SqliteTest value"
        );
        for (s, want) in [
            ("2023-10-30T22:59:57Z", "2023-10-30T22:59:57Z"),
            ("2023-10-30T22:59:57+01:00", "2023-10-30T21:59:57Z"),
            ("2023-10-30", "2023-10-29T23:00:00Z"),
        ] {
            assert_eq!(
                convert(Declared::DateTime, ValueRef::Text(s.as_bytes()), &paris)
                    .unwrap()
                    .to_json(),
                serde_json::json!(want),
                "{s}"
            );
        }
        assert_eq!(
            convert(Declared::DateTime, ValueRef::Text(b"yesterday"), &paris).unwrap_err(),
            "Unsupported SQLite datetime format: yesterday"
        );
        assert_eq!(
            convert(Declared::DateTime, ValueRef::Integer(1_000), &paris)
                .unwrap()
                .to_json(),
            serde_json::json!("1970-01-01T00:00:01Z")
        );
        assert_eq!(Declared::of(Some("TIMESTAMP")), Declared::DateTime);
        assert_eq!(Declared::of(Some("DATETIME(3)")), Declared::Other);
    }
}
