//! Java's `toString` of the numbers Kestra reads from Ion, which is what its CSV and JSON show.

/// Java's `Double.toString`.
pub(crate) fn java_double(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let a = f.abs();
    if a == 0.0 || (1e-3..1e7).contains(&a) {
        let s = format!("{f}");
        return if s.contains('.') { s } else { format!("{s}.0") };
    }
    let s = format!("{f:e}");
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let m = if m.contains('.') {
        m.to_string()
    } else {
        format!("{m}.0")
    };
    format!("{m}E{e}")
}

/// Java's `BigDecimal.toString` of an Ion decimal's text.
pub(crate) fn java_decimal(d: &str) -> String {
    match d.split_once(['d', 'D']) {
        None => d.trim_end_matches('.').to_string(),
        Some((m, e)) => {
            let exp: i32 = e.parse().unwrap_or(0);
            let m = m.trim_end_matches('.');
            if exp > 0 {
                format!("{m}E+{exp}")
            } else if exp == 0 {
                m.to_string()
            } else {
                format!("{m}E{exp}")
            }
        }
    }
}
