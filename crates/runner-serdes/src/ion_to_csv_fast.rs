//! IonToCsv's common row without building values: a line that is one flat struct of the
//! header's fields, in its order, holding strings, ints, plain decimals, booleans, nulls and
//! UTC timestamps (what Query STORE writes) is turned into its CSV row straight from the text.
//! Anything else (a nested value, an annotation, a float, an offset other than UTC, a
//! non-default date pattern, an escape it does not know) is left to the general path, which
//! gives the same bytes: the tests compare the two on generated rows.

use crate::ion_to_csv::{Style, push_field};

/// Appends the CSV row of `line` (without the line end) to `out` and returns true, or returns
/// false, `out` then holding a partial row the caller removes.
pub(crate) fn row(
    line: &str,
    columns: &[String],
    style: &Style,
    scratch: &mut String,
    out: &mut String,
) -> bool {
    let b = line.as_bytes();
    let mut end = b.len();
    while end > 0 && b[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    let mut i = 0;
    skip_ws(b, &mut i);
    if b.get(i) != Some(&b'{') || end == 0 || b[end - 1] != b'}' {
        return false;
    }
    i += 1;
    let end = end - 1;
    for (n, column) in columns.iter().enumerate() {
        skip_ws(b, &mut i);
        // The field name, bare or quoted without escapes.
        let name = match b.get(i) {
            Some(b'\'') | Some(b'"') => {
                let q = b[i];
                let start = i + 1;
                let Some(len) = b[start..end].iter().position(|c| *c == q || *c == b'\\') else {
                    return false;
                };
                if b[start + len] != q {
                    return false;
                }
                i = start + len + 1;
                &line[start..start + len]
            }
            _ => {
                let start = i;
                while i < end && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$') {
                    i += 1;
                }
                &line[start..i]
            }
        };
        if name != column {
            return false;
        }
        skip_ws(b, &mut i);
        if b.get(i) != Some(&b':') || b.get(i + 1) == Some(&b':') {
            return false;
        }
        i += 1;
        skip_ws(b, &mut i);
        if n > 0 {
            out.push(style.separator);
        }
        match b.get(i) {
            Some(b'"') => {
                let Some(after) = string(line, i + 1, end, scratch) else {
                    return false;
                };
                i = after;
                push_field(out, scratch, style);
            }
            Some(c) if c.is_ascii_alphanumeric() || *c == b'-' => {
                let start = i;
                while i < end && !matches!(b[i], b',' | b'}' | b' ' | b'\t') {
                    i += 1;
                }
                if !scalar(&line[start..i], style, out) {
                    return false;
                }
            }
            _ => return false,
        }
        skip_ws(b, &mut i);
        if n + 1 < columns.len() {
            if b.get(i) != Some(&b',') {
                return false;
            }
            i += 1;
        } else {
            if i < end && b[i] == b',' {
                i += 1;
                skip_ws(b, &mut i);
            }
            if i != end {
                return false;
            }
        }
    }
    !columns.is_empty()
}

fn skip_ws(b: &[u8], i: &mut usize) {
    while *i < b.len() && matches!(b[*i], b' ' | b'\t') {
        *i += 1;
    }
}

/// A short string's text into `scratch`, from `start` (after its quote); the index after its
/// closing quote.
fn string(line: &str, start: usize, end: usize, scratch: &mut String) -> Option<usize> {
    let b = line.as_bytes();
    scratch.clear();
    let mut i = start;
    let mut run = start;
    while i < end {
        match b[i] {
            b'"' => {
                scratch.push_str(&line[run..i]);
                return Some(i + 1);
            }
            b'\\' => {
                scratch.push_str(&line[run..i]);
                let c = match b.get(i + 1)? {
                    b'"' => '"',
                    b'\\' => '\\',
                    b'/' => '/',
                    b'\'' => '\'',
                    b'n' => '\n',
                    b't' => '\t',
                    b'r' => '\r',
                    _ => return None,
                };
                scratch.push(c);
                i += 2;
                run = i;
            }
            _ => i += 1,
        }
    }
    None
}

/// An unquoted value: null, a boolean, an int, a plain decimal, a date or a UTC timestamp.
fn scalar(t: &str, style: &Style, out: &mut String) -> bool {
    if t == "null" || t.starts_with("null.") {
        push_field(out, "", style);
        return true;
    }
    if t == "true" || t == "false" {
        push_field(out, t, style);
        return true;
    }
    let b = t.as_bytes();
    if b.len() >= 10 && b[4] == b'-' {
        return timestamp(b, style, out);
    }
    let digits = t.strip_prefix('-').unwrap_or(t);
    let d = digits.as_bytes();
    if !d.is_empty() && d.len() <= 18 && d.iter().all(u8::is_ascii_digit) {
        // -0 is 0 to Java, and a leading zero is not Ion.
        if (d[0] == b'0' && d.len() > 1) || t == "-0" {
            return false;
        }
        push_field(out, t, style);
        return true;
    }
    if let Some((whole, fraction)) = digits.split_once('.') {
        let plain = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
        if !whole.is_empty()
            && plain(whole)
            && plain(fraction)
            && (whole == "0" || !whole.starts_with('0'))
        {
            // Java's BigDecimal keeps the scale: `3.20` stays, `5.` is `5`.
            push_field(out, t.trim_end_matches('.'), style);
            return true;
        }
        return false;
    }
    false
}

fn two(b: &[u8], at: usize) -> Option<u32> {
    let (h, l) = (*b.get(at)?, *b.get(at + 1)?);
    (h.is_ascii_digit() && l.is_ascii_digit())
        .then(|| u32::from(h - b'0') * 10 + u32::from(l - b'0'))
}

/// `YYYY-MM-DD[T]` with the default date pattern, or `YYYY-MM-DDTHH:MM[:SS[.f]](Z|±00:00)` with
/// the default date-time pattern (`yyyy-MM-dd'T'HH:mm:ss.SSS[XXX]`: UTC prints as `Z`).
fn timestamp(b: &[u8], style: &Style, out: &mut String) -> bool {
    if b.len() < 10
        || b[4] != b'-'
        || b[7] != b'-'
        || !b[..4].iter().all(u8::is_ascii_digit)
        || b[0] == b'0'
    {
        return false;
    }
    let (Some(month), Some(day)) = (two(b, 5), two(b, 8)) else {
        return false;
    };
    if !(1..=12).contains(&month) || !(1..=28).contains(&day) {
        // Days 29 to 31 depend on the month (and year): the general path checks them.
        return false;
    }
    let date = std::str::from_utf8(&b[..10]).unwrap_or("");
    if b.len() == 10 || (b.len() == 11 && b[10] == b'T') {
        if style.date != "yyyy-MM-dd" {
            return false;
        }
        push_field(out, date, style);
        return true;
    }
    if b[10] != b'T' || style.date_time != "yyyy-MM-dd'T'HH:mm:ss.SSS[XXX]" {
        return false;
    }
    let (Some(hour), Some(minute)) = (two(b, 11), two(b, 14)) else {
        return false;
    };
    if b.get(13) != Some(&b':') || hour > 23 || minute > 59 {
        return false;
    }
    let mut i = 16;
    let mut second = 0;
    let mut millis = [b'0'; 3];
    if b.get(i) == Some(&b':') {
        let Some(s) = two(b, i + 1) else {
            return false;
        };
        if s > 59 {
            return false;
        }
        second = s;
        i += 3;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return false;
            }
            // SSS shows milliseconds, the finer digits cut off.
            for (k, c) in b[start..i].iter().take(3).enumerate() {
                millis[k] = *c;
            }
        }
    }
    if !matches!(&b[i..], b"Z" | b"+00:00" | b"-00:00") {
        return false;
    }
    // `YYYY-MM-DDTHH:MM:SS.SSSZ`, built on the stack.
    let mut text = [0u8; 24];
    text[..10].copy_from_slice(&b[..10]);
    text[10] = b'T';
    for (k, v) in [hour, minute, second].into_iter().enumerate() {
        text[11 + k * 3] = b'0' + (v / 10) as u8;
        text[12 + k * 3] = b'0' + (v % 10) as u8;
        if k < 2 {
            text[13 + k * 3] = b':';
        }
    }
    text[19] = b'.';
    text[20..23].copy_from_slice(&millis);
    text[23] = b'Z';
    match std::str::from_utf8(&text) {
        Ok(t) => {
            push_field(out, t, style);
            true
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ion_to_csv::{QuoteMode, render};
    use jiff::tz::TimeZone;

    fn style(quote: QuoteMode) -> Style {
        Style {
            separator: ',',
            delimiter: '"',
            quote,
            date: "yyyy-MM-dd".into(),
            time: "HH:mm:ss[XXX]".into(),
            date_time: "yyyy-MM-dd'T'HH:mm:ss.SSS[XXX]".into(),
            zone: TimeZone::get("Europe/Lisbon").unwrap(),
        }
    }

    /// The row as the general path writes it.
    fn general(line: &str, columns: &[String], style: &Style) -> String {
        let runner_ion::IonValue::Struct(fields) =
            runner_ion::parse_values(line).unwrap().remove(0)
        else {
            panic!("{line}")
        };
        let mut out = String::new();
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                out.push(style.separator);
            }
            let v = fields
                .iter()
                .find(|(k, _)| k == c)
                .map(|(_, v)| render(v, style).unwrap().into_owned())
                .unwrap_or_default();
            push_field(&mut out, &v, style);
        }
        out
    }

    /// A small deterministic generator (no crate for it).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[(self.next() % items.len() as u64) as usize]
        }
    }

    #[test]
    fn the_fast_row_is_the_general_rows_bytes_or_declines() {
        let values = [
            "1",
            "-42",
            "0",
            "-0",
            "123456789012345678",
            "1234567890123456789",
            "007",
            "3.25",
            "-0.5",
            "5.",
            "3.20",
            "0.000",
            "1d2",
            "1.5e3",
            "2.5e0",
            "null",
            "null.string",
            "true",
            "false",
            "nan",
            "\"plain\"",
            "\"with, comma\"",
            "\"quote \\\" inside\"",
            "\"back\\\\slash\"",
            "\"tab\\there\"",
            "\"line\\nbreak\"",
            "\"\\u00e9\"",
            "\"\"",
            "\"é ü 日本\"",
            "2024-01-01",
            "2024-02-29",
            "2024-12-31T",
            "2024-01-01T10:21Z",
            "2024-01-01T10:21:12Z",
            "2024-01-01T10:21:12.1Z",
            "2024-01-01T10:21:12.123456789Z",
            "2024-06-01T23:59:59.999+00:00",
            "2024-06-01T10:00:00-00:00",
            "2024-06-01T10:00:00+02:00",
            "0999-01-01T00:00:00Z",
            "LocalDateTime::\"2021-05-05T12:21:00\"",
            "[1,2]",
            "{a:1}",
            "sym",
            "'quoted sym'",
        ];
        let columns: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut fast_rows = 0;
        for quote in [
            QuoteMode::Required,
            QuoteMode::Always,
            QuoteMode::NonNumeric,
        ] {
            let s = style(quote);
            for _ in 0..3000 {
                let (a, b, c) = (rng.pick(&values), rng.pick(&values), rng.pick(&values));
                let space = rng.pick(&["", " "]);
                let line = format!("{{a:{a},{space}b:{space}{b},c:{c}}}\n");
                let mut scratch = String::new();
                let mut out = String::new();
                if row(&line, &columns, &s, &mut scratch, &mut out) {
                    fast_rows += 1;
                    assert_eq!(out, general(&line, &columns, &s), "{line}");
                }
            }
        }
        assert!(fast_rows > 1000, "the fast path took only {fast_rows} rows");
    }

    #[test]
    fn the_rows_query_store_writes_take_the_fast_path() {
        let s = style(QuoteMode::Required);
        let columns: Vec<String> = ["id", "first_name", "last_name", "city", "score", "created"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let line = "{id:7,first_name:\"First7\",last_name:\"Last \\\"7\\\"\",city:\"Berlin, DE\",score:7.25,created:2024-01-01T10:07:00.000Z}\n";
        let (mut scratch, mut out) = (String::new(), String::new());
        assert!(row(line, &columns, &s, &mut scratch, &mut out), "{line}");
        assert_eq!(out, general(line, &columns, &s));
        assert_eq!(
            out,
            "7,First7,\"Last \"\"7\"\"\",\"Berlin, DE\",7.25,2024-01-01T10:07:00.000Z"
        );
    }

    #[test]
    fn rows_that_are_not_the_header_in_order_decline() {
        let s = style(QuoteMode::Required);
        let columns: Vec<String> = ["id", "name"].iter().map(|s| s.to_string()).collect();
        let mut scratch = String::new();
        let mut out = String::new();
        assert!(row(
            "{id:1,name:\"x\"}",
            &columns,
            &s,
            &mut scratch,
            &mut out
        ));
        assert_eq!(out, "1,x");
        for line in [
            "{name:\"x\",id:1}",
            "{id:1}",
            "{id:1,name:\"x\",more:2}",
            "{id:1,name:\"x\"} {id:2,name:\"y\"}",
            "[1,2]",
            "{id:1,name:\"x\" /* c */}",
        ] {
            out.clear();
            assert!(!row(line, &columns, &s, &mut scratch, &mut out), "{line}");
        }
        out.clear();
        assert!(row(
            "{'id':1,\"name\":\"x\",}",
            &columns,
            &s,
            &mut scratch,
            &mut out
        ));
        assert_eq!(out, "1,x");
    }
}
