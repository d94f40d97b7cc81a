//! IonToCsv's common row without building values: a line that is one flat struct of the
//! header's fields, in its order, holding strings, ints, plain decimals, booleans, nulls and
//! UTC timestamps (what Query STORE writes) is turned into its CSV row straight from its bytes,
//! in one pass over each field. Anything else (a nested value, an annotation, a float, an
//! offset other than UTC, a non-default date pattern, an escape it does not know, a separator
//! beyond ASCII) is left to the general path, which gives the same bytes: the tests compare
//! the two on generated rows.

use crate::ion_to_csv::{QuoteMode, Style, push_field};

/// What the fast path needs of the task's style and the header, worked out once per task.
pub(crate) struct Fast<'s> {
    style: &'s Style,
    /// Each column's name, and whether Ion may write it bare (an identifier, not a keyword).
    columns: Vec<(Vec<u8>, bool)>,
    sep: u8,
    delim: u8,
    /// Bytes that make a field need quotes when quoting is only where required.
    special: [bool; 256],
    default_date: bool,
    default_date_time: bool,
}

impl<'s> Fast<'s> {
    /// None when the separator or the delimiter is not ASCII, or there are no columns: the
    /// general path handles those.
    pub(crate) fn new(style: &'s Style, columns: &[String]) -> Option<Self> {
        if columns.is_empty() {
            return None;
        }
        let (sep, delim) = (
            u8::try_from(style.separator).ok()?,
            u8::try_from(style.delimiter).ok()?,
        );
        if !sep.is_ascii() || !delim.is_ascii() {
            return None;
        }
        let mut special = [false; 256];
        for b in [sep, delim, b'\n', b'\r'] {
            special[usize::from(b)] = true;
        }
        let bare = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'$';
        let columns = columns
            .iter()
            .map(|c| {
                let c = c.as_bytes();
                let identifier = c.first().is_some_and(|f| !f.is_ascii_digit())
                    && c.iter().all(bare)
                    && !matches!(c, b"null" | b"true" | b"false" | b"nan");
                (c.to_vec(), identifier)
            })
            .collect();
        Some(Fast {
            style,
            columns,
            sep,
            delim,
            special,
            default_date: style.date == "yyyy-MM-dd",
            default_date_time: style.date_time == "yyyy-MM-dd'T'HH:mm:ss.SSS[XXX]",
        })
    }

    /// Appends the CSV row of `line` (without the line end) to `out` and returns true, or
    /// returns false, `out` then holding a partial row the caller removes.
    pub(crate) fn row(&self, line: &[u8], scratch: &mut Vec<u8>, out: &mut Vec<u8>) -> bool {
        let columns = &self.columns;
        let b = line;
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
        for (n, (column, bare)) in columns.iter().enumerate() {
            skip_ws(b, &mut i);
            if !name(b, &mut i, end, column, *bare) {
                return false;
            }
            skip_ws(b, &mut i);
            if b.get(i) != Some(&b':') || b.get(i + 1) == Some(&b':') {
                return false;
            }
            i += 1;
            skip_ws(b, &mut i);
            if n > 0 {
                out.push(self.sep);
            }
            match b.get(i) {
                Some(b'"') => match self.string(b, i + 1, end, scratch, out) {
                    Some(after) => i = after,
                    None => return false,
                },
                Some(c) if c.is_ascii_alphanumeric() || *c == b'-' => {
                    let start = i;
                    while i < end && !matches!(b[i], b',' | b'}' | b' ' | b'\t') {
                        i += 1;
                    }
                    if !self.scalar(&b[start..i], out) {
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
        true
    }

    /// A value that needs no unescaping, written as a field.
    fn field(&self, value: &[u8], out: &mut Vec<u8>) {
        match self.style.quote {
            QuoteMode::Required if !value.iter().any(|c| self.special[usize::from(*c)]) => {
                out.extend_from_slice(value);
            }
            QuoteMode::Required | QuoteMode::Always => self.quoted(value, out),
            QuoteMode::NonNumeric => push_field(out, value, self.style),
        }
    }

    /// A short string from `start` (after its quote) written as a field; the index after its
    /// closing quote. Without escapes (the common case) its bytes are copied as they are.
    fn string(
        &self,
        b: &[u8],
        start: usize,
        end: usize,
        scratch: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Option<usize> {
        let mut i = start;
        let mut special = false;
        loop {
            let c = *b[..end].get(i)?;
            match c {
                b'"' => break,
                b'\\' => return self.escaped(b, start, end, scratch, out),
                // A raw control character (or a line break) is the general path's to judge.
                0..=0x1f => return None,
                _ => special |= self.special[usize::from(c)],
            }
            i += 1;
        }
        let value = &b[start..i];
        let quote = match self.style.quote {
            QuoteMode::Required => special,
            QuoteMode::Always => true,
            QuoteMode::NonNumeric => {
                push_field(out, value, self.style);
                return Some(i + 1);
            }
        };
        if quote {
            self.quoted(value, out);
        } else {
            out.extend_from_slice(value);
        }
        Some(i + 1)
    }

    /// A string with escapes: its text into `scratch`, then written as a field.
    fn escaped(
        &self,
        b: &[u8],
        start: usize,
        end: usize,
        scratch: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Option<usize> {
        scratch.clear();
        let mut i = start;
        let mut run = start;
        while i < end {
            match b[i] {
                b'"' => {
                    scratch.extend_from_slice(&b[run..i]);
                    push_field(out, scratch, self.style);
                    return Some(i + 1);
                }
                b'\\' => {
                    scratch.extend_from_slice(&b[run..i]);
                    let c = match b.get(i + 1)? {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'\'' => b'\'',
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        _ => return None,
                    };
                    scratch.push(c);
                    i += 2;
                    run = i;
                }
                0..=0x1f => return None,
                _ => i += 1,
            }
        }
        None
    }

    fn quoted(&self, value: &[u8], out: &mut Vec<u8>) {
        out.push(self.delim);
        let mut rest = value;
        while let Some(at) = memchr::memchr(self.delim, rest) {
            out.extend_from_slice(&rest[..=at]);
            out.push(self.delim);
            rest = &rest[at + 1..];
        }
        out.extend_from_slice(rest);
        out.push(self.delim);
    }

    /// An unquoted value: null, a boolean, an int, a plain decimal, a date or a UTC timestamp.
    fn scalar(&self, t: &[u8], out: &mut Vec<u8>) -> bool {
        if t == b"null" || t.starts_with(b"null.") {
            self.field(b"", out);
            return true;
        }
        if t == b"true" || t == b"false" {
            self.field(t, out);
            return true;
        }
        if t.len() >= 10 && t[4] == b'-' {
            return self.timestamp(t, out);
        }
        let d = t.strip_prefix(b"-").unwrap_or(t);
        if !d.is_empty() && d.len() <= 18 && d.iter().all(u8::is_ascii_digit) {
            // -0 is 0 to Java, and a leading zero is not Ion.
            if (d[0] == b'0' && d.len() > 1) || t == b"-0" {
                return false;
            }
            self.field(t, out);
            return true;
        }
        if let Some(dot) = d.iter().position(|c| *c == b'.') {
            let (whole, fraction) = (&d[..dot], &d[dot + 1..]);
            let plain = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
            if !whole.is_empty()
                && plain(whole)
                && plain(fraction)
                && (whole == b"0" || whole[0] != b'0')
            {
                // Java's BigDecimal keeps the scale: `3.20` stays, `5.` is `5`.
                let t = t.strip_suffix(b".").unwrap_or(t);
                self.field(t, out);
                return true;
            }
        }
        false
    }

    /// `YYYY-MM-DD[T]` with the default date pattern, or `YYYY-MM-DDTHH:MM[:SS[.f]](Z|±00:00)`
    /// with the default date-time pattern (`yyyy-MM-dd'T'HH:mm:ss.SSS[XXX]`: UTC prints as `Z`).
    fn timestamp(&self, b: &[u8], out: &mut Vec<u8>) -> bool {
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
        if b.len() == 10 || (b.len() == 11 && b[10] == b'T') {
            if !self.default_date {
                return false;
            }
            self.field(&b[..10], out);
            return true;
        }
        if b[10] != b'T' || !self.default_date_time {
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
        self.field(&text, out);
        true
    }
}

/// The field name at `i`, bare (when `bare`, the column being an identifier) or quoted without
/// escapes, is `column`: moves past it.
fn name(b: &[u8], i: &mut usize, end: usize, column: &[u8], bare: bool) -> bool {
    match b.get(*i) {
        Some(q @ (b'\'' | b'"')) => {
            let start = *i + 1;
            let Some(len) = b[start..end].iter().position(|c| c == q || *c == b'\\') else {
                return false;
            };
            if b[start + len] != *q || !same(&b[start..start + len], column) {
                return false;
            }
            *i = start + len + 1;
            true
        }
        _ => {
            let after = *i + column.len();
            let ident = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'$';
            if !bare
                || after > end
                || !same(&b[*i..after], column)
                || b.get(after).is_some_and(ident)
            {
                return false;
            }
            *i = after;
            true
        }
    }
}

/// Short names compared in line: a call to `memcmp` per field cost more than the comparison.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

fn skip_ws(b: &[u8], i: &mut usize) {
    while *i < b.len() && matches!(b[*i], b' ' | b'\t') {
        *i += 1;
    }
}

fn two(b: &[u8], at: usize) -> Option<u32> {
    let (h, l) = (*b.get(at)?, *b.get(at + 1)?);
    (h.is_ascii_digit() && l.is_ascii_digit())
        .then(|| u32::from(h - b'0') * 10 + u32::from(l - b'0'))
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
        let mut out = Vec::new();
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                crate::ion_to_csv::push_separator(&mut out, style);
            }
            let v = fields
                .iter()
                .find(|(k, _)| k == c)
                .map(|(_, v)| render(v, style).unwrap().into_owned())
                .unwrap_or_default();
            push_field(&mut out, v.as_bytes(), style);
        }
        String::from_utf8(out).unwrap()
    }

    /// The fast row of `line`, if it takes one.
    fn fast(line: &str, columns: &[String], style: &Style) -> Option<String> {
        let (mut scratch, mut out) = (Vec::new(), Vec::new());
        Fast::new(style, columns)?
            .row(line.as_bytes(), &mut scratch, &mut out)
            .then(|| String::from_utf8(out).unwrap())
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
            "\"it's; e.g.\"",
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
        // Separators and delimiters that values hold: `.` in decimals, `-` in dates, `'`.
        let styles = [(',', '"'), (';', '\''), ('.', '"'), ('-', 'e')];
        for (quote, (separator, delimiter)) in [
            QuoteMode::Required,
            QuoteMode::Always,
            QuoteMode::NonNumeric,
        ]
        .into_iter()
        .flat_map(|q| styles.map(|s| (q, s)))
        {
            let mut s = style(quote);
            s.separator = separator;
            s.delimiter = delimiter;
            for _ in 0..1000 {
                let (a, b, c) = (rng.pick(&values), rng.pick(&values), rng.pick(&values));
                let space = rng.pick(&["", " "]);
                let line = format!("{{a:{a},{space}b:{space}{b},c:{c}}}\n");
                if let Some(out) = fast(&line, &columns, &s) {
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
        let out = fast(line, &columns, &s).expect(line);
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
        assert_eq!(
            fast("{id:1,name:\"x\"}", &columns, &s).as_deref(),
            Some("1,x")
        );
        for line in [
            "{name:\"x\",id:1}",
            "{id:1}",
            "{id:1,name:\"x\",more:2}",
            "{id:1,name:\"x\"} {id:2,name:\"y\"}",
            "[1,2]",
            "{id:1,name:\"x\" /* c */}",
        ] {
            assert_eq!(fast(line, &columns, &s), None, "{line}");
        }
        assert_eq!(
            fast("{'id':1,\"name\":\"x\",}", &columns, &s).as_deref(),
            Some("1,x")
        );
        // A column that is not an identifier is quoted in Ion; bare, it is not this row.
        let odd: Vec<String> = ["1", "null"].iter().map(|s| s.to_string()).collect();
        assert_eq!(fast("{1:1,null:2}", &odd, &s), None);
        assert_eq!(fast("{'1':1,'null':2}", &odd, &s).as_deref(), Some("1,2"));
    }
}
