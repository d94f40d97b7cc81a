//! Kestra's `date`, `dateAdd` and `timestamp*` filters: Java `DateTimeFormatter` patterns and
//! Kestra's named formats, on jiff.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime};
use std::fmt::Write;

/// Kestra's named formats (`AbstractDate.FORMATTERS`), as Java patterns.
fn named(format: &str) -> Option<&'static str> {
    Some(match format {
        "iso" => "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
        "iso_sec" => "yyyy-MM-dd'T'HH:mm:ssXXX",
        "sql" => "yyyy-MM-dd HH:mm:ss.SSSSSS",
        "sql_seq" => "yyyy-MM-dd HH:mm:ss",
        "iso_local_date" => "yyyy-MM-dd",
        "iso_date" => "yyyy-MM-ddXXX",
        "iso_local_time" => "HH:mm:ss[.n]",
        "iso_time" => "HH:mm:ss[.n]XXX",
        "iso_offset_time" => "HH:mm:ss[.n]XXX",
        "iso_local_date_time" => "yyyy-MM-dd'T'HH:mm:ss[.n]",
        "iso_date_time" | "iso_zoned_date_time" => "yyyy-MM-dd'T'HH:mm:ss[.n]XXX'['VV']'",
        "iso_instant" => "INSTANT",
        "iso_ordinal_date" => "yyyy-DDDXXX",
        "iso_week_date" => "YYYY-'W'ww-eXXX",
        "rfc_1123_date_time" => "EEE, d MMM yyyy HH:mm:ss 'GMT'",
        // Java's localized styles for the default (US English) locale.
        "short" => "M/d/yy, h:mm a",
        "medium" => "MMM d, yyyy, h:mm:ss a",
        "long" => "MMMM d, yyyy 'at' h:mm:ss a z",
        "full" => "EEEE, MMMM d, yyyy 'at' h:mm:ss a zzzz",
        _ => return None,
    })
}

pub(crate) fn zone(name: Option<&str>) -> Result<TimeZone, String> {
    match name {
        None => Ok(TimeZone::system()),
        Some(n) => TimeZone::get(n).map_err(|_| format!("Unknown time-zone ID: {n}")),
    }
}

/// What the `date` filters accept: epoch seconds, or text read as a zoned date-time, then a
/// local date-time, then a local date (at midnight) in `tz`, as Kestra does.
pub(crate) fn to_zoned(
    value: &minijinja::Value,
    tz: &TimeZone,
    existing_format: Option<&str>,
) -> Result<ZonedDateTime, String> {
    if let Ok(secs) = i64::try_from(value.clone()) {
        let ts = Timestamp::from_second(secs).map_err(|e| e.to_string())?;
        return Ok(ts.to_zoned_datetime(tz.clone()));
    }
    let Some(text) = value.as_str() else {
        return Err(format!("cannot read `{value}` as a date"));
    };
    let text = text.trim();
    if let Some(pattern) = existing_format {
        let pattern = named(pattern).unwrap_or(pattern);
        let strp = to_strptime(pattern);
        if let Ok(z) = ZonedDateTime::strptime(&strp, text) {
            return Ok(z);
        }
        if let Ok(dt) = DateTime::strptime(&strp, text) {
            return dt.to_zoned_datetime(tz.clone()).map_err(|e| e.to_string());
        }
        if let Ok(d) = Date::strptime(&strp, text) {
            return d.to_zoned_datetime(tz.clone()).map_err(|e| e.to_string());
        }
        return Err(format!(
            "Text '{text}' could not be parsed with the format `{pattern}`"
        ));
    }
    if let Ok(z) = text.parse::<ZonedDateTime>() {
        return Ok(z);
    }
    if let Ok(ts) = text.parse::<Timestamp>() {
        // An offset without a zone name: keep the offset, as Java's ZonedDateTime.parse does.
        let offset = parse_offset_suffix(text).unwrap_or(jiff::tz::Offset::UTC);
        return Ok(ts.to_zoned_datetime(TimeZone::fixed(offset)));
    }
    if let Ok(dt) = text.parse::<DateTime>() {
        return dt.to_zoned_datetime(tz.clone()).map_err(|e| e.to_string());
    }
    if let Ok(d) = text.parse::<Date>() {
        return d.to_zoned_datetime(tz.clone()).map_err(|e| e.to_string());
    }
    Err(format!("Text '{text}' could not be parsed as a date"))
}

fn parse_offset_suffix(text: &str) -> Option<jiff::tz::Offset> {
    if text.ends_with('Z') || text.ends_with('z') {
        return Some(jiff::tz::Offset::UTC);
    }
    let i = text.rfind(['+', '-'])?;
    let off = &text[i..];
    let sign = if off.starts_with('-') { -1 } else { 1 };
    let digits: String = off[1..].chars().filter(char::is_ascii_digit).collect();
    let (h, m) = match digits.len() {
        2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    jiff::tz::Offset::from_seconds(sign * (h * 3600 + m * 60)).ok()
}

/// Formats `z` (converted to `tz` when given) with a named format or a Java pattern.
pub(crate) fn format(
    z: &ZonedDateTime,
    format: &str,
    tz: Option<&TimeZone>,
) -> Result<String, String> {
    let z = match tz {
        Some(tz) => z.with_time_zone(tz.clone()),
        None => z.clone(),
    };
    let pattern = named(format).unwrap_or(format);
    if pattern == "INSTANT" {
        return Ok(z.timestamp().to_string());
    }
    format_pattern(&z, pattern)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Appends `v` zero-padded to `width` digits.
fn pad(out: &mut String, v: i64, width: usize) {
    let _ = write!(out, "{v:0width$}");
}

/// Java `DateTimeFormatter.ofPattern` letters: y u M L d D H h k K m s S n a E e X x Z z V,
/// quoted text, and `[...]` optional sections (printed when they have something to print).
fn format_pattern(z: &ZonedDateTime, pattern: &str) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let mut j = i + 1;
            if j < chars.len() && chars[j] == '\'' {
                out.push('\'');
                i += 2;
                continue;
            }
            while j < chars.len() {
                if chars[j] == '\'' {
                    if j + 1 < chars.len() && chars[j + 1] == '\'' {
                        out.push('\'');
                        j += 2;
                        continue;
                    }
                    break;
                }
                out.push(chars[j]);
                j += 1;
            }
            i = j + 1;
            continue;
        }
        if c == '[' || c == ']' {
            i += 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            out.push(c);
            i += 1;
            continue;
        }
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        // Java accepts at most 19 digits of a field; a longer run is a mistake, and a
        // padding width past the formatter's range would panic.
        if n > 19 {
            return Err(format!(
                "Too many pattern letters: {c} repeated {n} times (at most 19)"
            ));
        }
        i += n;
        let offset = z.offset();
        let off_secs = offset.seconds();
        match c {
            'y' | 'u' | 'Y' => {
                let y = i64::from(z.year());
                if n == 2 {
                    pad(&mut out, y.rem_euclid(100), 2)
                } else {
                    pad(&mut out, y, n.max(4).min(n.max(1)))
                }
            }
            'M' | 'L' => {
                let m = z.month() as usize;
                match n {
                    1 => out.push_str(&m.to_string()),
                    2 => pad(&mut out, m as i64, 2),
                    3 => out.push_str(&MONTHS[m - 1][..3]),
                    _ => out.push_str(MONTHS[m - 1]),
                }
            }
            'd' => pad(&mut out, i64::from(z.day()), n),
            'D' => pad(&mut out, i64::from(z.day_of_year()), n),
            'H' => pad(&mut out, i64::from(z.hour()), n),
            'k' => pad(
                &mut out,
                if z.hour() == 0 {
                    24
                } else {
                    i64::from(z.hour())
                },
                n,
            ),
            'h' => pad(&mut out, ((i64::from(z.hour()) + 11) % 12) + 1, n),
            'K' => pad(&mut out, i64::from(z.hour()) % 12, n),
            'm' => pad(&mut out, i64::from(z.minute()), n),
            's' => pad(&mut out, i64::from(z.second()), n),
            'S' => {
                // The first n digits of the nine-digit fraction, zeros beyond nine.
                let nanos = i64::from(z.subsec_nanosecond());
                if n <= 9 {
                    pad(&mut out, nanos / 10i64.pow(9 - n as u32), n);
                } else {
                    pad(&mut out, nanos, 9);
                    out.extend(std::iter::repeat_n('0', n - 9));
                }
            }
            'n' => out.push_str(&z.subsec_nanosecond().to_string()),
            'a' => out.push_str(if z.hour() < 12 { "AM" } else { "PM" }),
            'E' => {
                let d = DAYS[z.weekday().to_monday_zero_offset() as usize];
                out.push_str(if n >= 4 { d } else { &d[..3] });
            }
            'e' | 'c' => pad(&mut out, i64::from(z.weekday().to_sunday_one_offset()), n),
            'w' => pad(&mut out, i64::from(z.date().iso_week_date().week()), n),
            'X' | 'x' | 'Z' => {
                if c == 'X' && off_secs == 0 {
                    out.push('Z');
                } else {
                    let sign = if off_secs < 0 { '-' } else { '+' };
                    let a = off_secs.abs();
                    let (h, m) = (a / 3600, a / 60 % 60);
                    let colon = match (c, n) {
                        ('Z', 5) => true,
                        ('Z', _) => false,
                        (_, 1) => {
                            out.push_str(&format!("{sign}{h:02}"));
                            if m != 0 {
                                out.push_str(&format!("{m:02}"));
                            }
                            continue;
                        }
                        (_, 2) | (_, 4) => false,
                        _ => true,
                    };
                    if colon {
                        out.push_str(&format!("{sign}{h:02}:{m:02}"));
                    } else {
                        out.push_str(&format!("{sign}{h:02}{m:02}"));
                    }
                }
            }
            'V' => out.push_str(z.time_zone().iana_name().unwrap_or("UTC")),
            'z' | 'v' => {
                let info = z.time_zone().to_offset_info(z.timestamp());
                out.push_str(info.abbreviation());
            }
            other => return Err(format!("Unknown pattern letter: {other}")),
        }
    }
    Ok(out)
}

/// A Java pattern as a jiff strptime format, for `existingFormat`.
pub(crate) fn to_strptime(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '\'' {
                out.push(chars[j]);
                j += 1;
            }
            i = j + 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            if c == '%' {
                out.push('%');
            }
            out.push(c);
            i += 1;
            continue;
        }
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        i += n;
        out.push_str(match (c, n) {
            ('y' | 'u', 2) => "%y",
            ('y' | 'u', _) => "%Y",
            ('M', 1 | 2) => "%m",
            ('M', 3) => "%b",
            ('M', _) => "%B",
            ('d', _) => "%d",
            ('H', _) => "%H",
            ('h', _) => "%I",
            ('m', _) => "%M",
            ('s', _) => "%S",
            ('S', _) => "%f",
            ('a', _) => "%p",
            ('E', 1..=3) => "%a",
            ('E', _) => "%A",
            ('X' | 'x' | 'Z', _) => "%:z",
            ('V', _) => "%Q",
            _ => "",
        });
    }
    out
}

/// `dateAdd(amount, unit)` with a Java `ChronoUnit` name.
pub(crate) fn add(z: &ZonedDateTime, amount: i64, unit: &str) -> Result<ZonedDateTime, String> {
    use jiff::Span;
    let out_of_range = || format!("dateAdd: {amount} {unit} is out of the range of dates");
    let times = |k: i64| amount.checked_mul(k).ok_or_else(out_of_range);
    let span = match unit.to_ascii_uppercase().as_str() {
        "NANOS" => Span::new().try_nanoseconds(amount),
        "MICROS" => Span::new().try_microseconds(amount),
        "MILLIS" => Span::new().try_milliseconds(amount),
        "SECONDS" => Span::new().try_seconds(amount),
        "MINUTES" => Span::new().try_minutes(amount),
        "HOURS" => Span::new().try_hours(amount),
        "HALF_DAYS" => Span::new().try_hours(times(12)?),
        "DAYS" => Span::new().try_days(amount),
        "WEEKS" => Span::new().try_weeks(amount),
        "MONTHS" => Span::new().try_months(amount),
        "YEARS" => Span::new().try_years(amount),
        "DECADES" => Span::new().try_years(times(10)?),
        "CENTURIES" => Span::new().try_years(times(100)?),
        "MILLENNIA" => Span::new().try_years(times(1000)?),
        other => {
            return Err(format!(
                "Unsupported unit: {other} (use a ChronoUnit such as DAYS or HOURS)"
            ));
        }
    }
    .map_err(|_| out_of_range())?;
    z.checked_add(span).map_err(|_| out_of_range())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zoned(s: &str) -> ZonedDateTime {
        to_zoned(&minijinja::Value::from(s), &TimeZone::UTC, None).unwrap()
    }

    #[test]
    fn kestra_date_cases() {
        let paris = zone(Some("Europe/Paris")).unwrap();
        let z = zoned("2013-09-08T15:19:12Z");
        assert_eq!(
            format(&z, "iso", Some(&paris)).unwrap(),
            "2013-09-08T17:19:12.000000+02:00"
        );
        let z = zoned("2013-09-08T15:19:12.123456Z");
        assert_eq!(
            format(&z, "iso_sec", Some(&paris)).unwrap(),
            "2013-09-08T17:19:12+02:00"
        );
        let z = zoned("2013-09-08T16:19:12.123456+01:00");
        assert_eq!(
            format(&z, "iso", Some(&paris)).unwrap(),
            "2013-09-08T17:19:12.123456+02:00"
        );
        let local = to_zoned(
            &minijinja::Value::from("2013-09-08T16:19:12.123456"),
            &paris,
            None,
        )
        .unwrap();
        assert_eq!(
            format(&local, "yyyy-MM-dd HH:mm:ss.SSSSSSXXX", Some(&paris)).unwrap(),
            "2013-09-08 16:19:12.123456+02:00"
        );
        let local = to_zoned(
            &minijinja::Value::from("2013-09-08T16:19:12.123456"),
            &TimeZone::UTC,
            None,
        )
        .unwrap();
        assert_eq!(
            format(
                &local,
                "yyyy-MM-dd HH:mm:ss.SSSSSSXXX",
                Some(&TimeZone::UTC)
            )
            .unwrap(),
            "2013-09-08 16:19:12.123456Z"
        );
        // Fractions: the first n of nine digits, zeros past nine; padded fields.
        let z = zoned("2024-01-02T03:04:05.012345678Z");
        assert_eq!(
            format(
                &z,
                "S|SS|SSS|SSSSSS|SSSSSSSSS|SSSSSSSSSSS|yy|yyyy|k|h|d|dd",
                Some(&TimeZone::UTC)
            )
            .unwrap(),
            "0|01|012|012345|012345678|01234567800|24|2024|3|3|2|02"
        );
        let added = add(&zoned("2013-09-08T16:19:12.123456+01:00"), -1, "DAYS").unwrap();
        assert_eq!(
            format(&added, "iso", Some(&paris)).unwrap(),
            "2013-09-07T17:19:12.123456+02:00"
        );
    }

    #[test]
    fn patterns_and_names() {
        let z = zoned("2024-03-05T07:08:09Z");
        assert_eq!(
            format(&z, "EEEE d MMMM yy 'at' h a", None).unwrap(),
            "Tuesday 5 March 24 at 7 AM"
        );
        assert_eq!(format(&z, "sql_seq", None).unwrap(), "2024-03-05 07:08:09");
        assert_eq!(
            format(&z, "iso_instant", None).unwrap(),
            "2024-03-05T07:08:09Z"
        );
        assert_eq!(format(&z, "yyyyMMdd", None).unwrap(), "20240305");
        assert!(format(&z, "qqq", None).is_err());
        let epoch = to_zoned(&minijinja::Value::from(0), &TimeZone::UTC, None).unwrap();
        assert_eq!(
            format(&epoch, "iso_sec", None).unwrap(),
            "1970-01-01T00:00:00Z"
        );
        let d = to_zoned(
            &minijinja::Value::from("05/03/2024"),
            &TimeZone::UTC,
            Some("dd/MM/yyyy"),
        )
        .unwrap();
        assert_eq!(format(&d, "yyyy-MM-dd", None).unwrap(), "2024-03-05");
    }
}
