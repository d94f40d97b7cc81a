//! ISO-8601 durations as Java's `Duration.parse` reads them (`PT1H30M`, `P2D`, `-PT0.5S`).

use std::time::Duration;

/// Parses a Java `Duration` string. Negative durations are refused: nothing here waits backwards.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let upper = text.trim().to_ascii_uppercase();
    let s = upper.strip_prefix('+').unwrap_or(&upper);
    if s.starts_with('-') {
        return None;
    }
    let s = s.strip_prefix('P')?;
    let (date, time) = match s.find('T') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut nanos: u128 = 0;
    let mut any = false;
    if !date.is_empty() {
        let days = date.strip_suffix('D')?;
        nanos += days.parse::<u128>().ok()? * 86_400 * 1_000_000_000;
        any = true;
    }
    if let Some(mut rest) = time {
        if rest.is_empty() {
            return None;
        }
        for (unit, scale) in [('H', 3_600u128), ('M', 60), ('S', 1)] {
            if let Some(i) = rest.find(unit) {
                let number = &rest[..i];
                rest = &rest[i + 1..];
                let (whole, frac) = match number.find(['.', ',']) {
                    Some(d) if unit == 'S' => (&number[..d], &number[d + 1..]),
                    _ => (number, ""),
                };
                if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9
                {
                    return None;
                }
                if !frac.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                nanos += whole.parse::<u128>().ok()? * scale * 1_000_000_000;
                if !frac.is_empty() {
                    nanos += format!("{frac:0<9}").parse::<u128>().ok()?;
                }
                any = true;
            }
        }
        if !rest.is_empty() {
            return None;
        }
    }
    if !any {
        return None;
    }
    Some(Duration::from_nanos(u64::try_from(nanos).ok()?))
}

/// `H:mm:ss.SSS`, as Kestra's timeout message prints a duration.
pub fn format_hms(d: Duration) -> String {
    let ms = d.as_millis();
    format!(
        "{}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// A duration as people read it, the one form runner prints: `268µs`, `12.3ms`, `2.50s`,
/// `1m05.2s` (records keep Kestra's ISO form, [`format_iso`]).
pub fn format_human(d: Duration) -> String {
    let secs = d.as_secs_f64();
    match secs {
        s if s < 0.001 => format!("{}µs", d.as_micros()),
        s if s < 1.0 => format!("{:.1}ms", s * 1000.0),
        s if s < 60.0 => format!("{s:.2}s"),
        s => format!("{}m{:04.1}s", (s / 60.0) as u64, s % 60.0),
    }
}

/// Java's `Duration.toString()`: `PT1H30M`, `PT0.5S`, `PT0S`.
pub fn format_iso(d: Duration) -> String {
    let secs = d.as_secs();
    let nanos = d.subsec_nanos();
    if secs == 0 && nanos == 0 {
        return "PT0S".into();
    }
    let mut out = String::from("PT");
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        out.push_str(&format!("{h}H"));
    }
    if m > 0 {
        out.push_str(&format!("{m}M"));
    }
    if s > 0 || nanos > 0 {
        out.push_str(&s.to_string());
        if nanos > 0 {
            let frac = format!("{nanos:09}");
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        out.push('S');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_java_forms() {
        assert_eq!(parse_duration("PT1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("P2D"), Some(Duration::from_secs(172_800)));
        assert_eq!(
            parse_duration("PT1M30.5S"),
            Some(Duration::from_millis(90_500))
        );
        assert_eq!(parse_duration("pt15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("P1DT1S"), Some(Duration::from_secs(86_401)));
        for bad in ["", "P", "PT", "1H", "PT1X", "-PT1S", "PT1.5M", "P1W"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_like_java() {
        assert_eq!(format_hms(Duration::from_millis(3_723_004)), "1:02:03.004");
        assert_eq!(format_iso(Duration::from_secs(5400)), "PT1H30M");
        assert_eq!(format_iso(Duration::from_millis(500)), "PT0.5S");
        assert_eq!(format_iso(Duration::ZERO), "PT0S");
    }
}
