//! Amazon Ion text, as Kestra writes it (one value per line) and reads it.
//!
//! [`write_json`] writes a JSON value as compact Ion text; [`parse`] reads Ion text into JSON
//! values, keeping what JSON can hold: timestamps and symbols become strings, decimals and
//! floats numbers, blobs base64 strings, and annotations are dropped.

use base64::Engine;
use serde_json::{Map, Number, Value as Json};
use std::fmt;

/// Writes `value` as compact Ion text: `{a:1,b:"x",c:[true,null]}`.
pub fn write_json(value: &Json, out: &mut String) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => {
            if n.is_f64() {
                write_float(n.as_f64().unwrap_or(f64::NAN), out);
            } else {
                out.push_str(&n.to_string());
            }
        }
        Json::String(s) => write_string(s, out),
        Json::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(v, out);
            }
            out.push(']');
        }
        Json::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_field_name(k, out);
                out.push(':');
                write_json(v, out);
            }
            out.push('}');
        }
    }
}

/// A float with an exponent, as Ion requires (`1.5e0`, `nan`, `+inf`).
pub fn write_float(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("nan");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "+inf" } else { "-inf" });
    } else {
        let s = format!("{f:e}");
        out.push_str(&s);
        if !s.contains('e') {
            out.push_str("e0");
        }
    }
}

/// A string literal with Ion's escapes.
pub fn write_string(s: &str, out: &mut String) {
    out.push('"');
    escape_into(s, '"', out);
    out.push('"');
}

fn escape_into(s: &str, quote: char, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
}

/// A field name: bare when it is an identifier and not a keyword, else quoted `'...'`.
pub fn write_field_name(name: &str, out: &mut String) {
    let bare = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && !matches!(name, "null" | "true" | "false" | "nan");
    if bare {
        out.push_str(name);
    } else {
        out.push('\'');
        escape_into(name, '\'', out);
        out.push('\'');
    }
}

/// Ion text that could not be read: what was expected, at which byte.
#[derive(Clone, Debug, PartialEq)]
pub struct IonError {
    pub message: String,
    pub offset: usize,
}

impl fmt::Display for IonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid Ion at byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for IonError {}

/// Reads every top-level value of `text`.
pub fn parse(text: &str) -> Result<Vec<Json>, IonError> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let mut out = Vec::new();
    loop {
        p.skip_ws()?;
        if p.i >= p.s.len() {
            return Ok(out);
        }
        out.push(p.value()?);
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err<T>(&self, message: impl Into<String>) -> Result<T, IonError> {
        Err(IonError {
            message: message.into(),
            offset: self.i,
        })
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) -> Result<(), IonError> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) => self.i += 1,
                Some(b'/') if self.s.get(self.i + 1) == Some(&b'/') => {
                    while self.peek().is_some_and(|c| c != b'\n') {
                        self.i += 1;
                    }
                }
                Some(b'/') if self.s.get(self.i + 1) == Some(&b'*') => {
                    let end = find(&self.s[self.i + 2..], b"*/").ok_or(IonError {
                        message: "unterminated comment".into(),
                        offset: self.i,
                    })?;
                    self.i += 2 + end + 2;
                }
                _ => return Ok(()),
            }
        }
    }

    fn value(&mut self) -> Result<Json, IonError> {
        self.skip_ws()?;
        let Some(c) = self.peek() else {
            return self.err("expected a value, found the end");
        };
        let v = match c {
            b'{' if self.s.get(self.i + 1) == Some(&b'{') => self.lob()?,
            b'{' => self.structure()?,
            b'[' => Json::Array(self.sequence(b']')?),
            b'(' => Json::Array(self.sequence(b')')?),
            b'"' => Json::String(self.quoted(b'"')?),
            b'\'' if self.s[self.i..].starts_with(b"'''") => Json::String(self.long_strings()?),
            b'\'' => {
                let sym = self.quoted(b'\'')?;
                if self.annotation_follows() {
                    return self.value();
                }
                Json::String(sym)
            }
            _ => {
                let token = self.token();
                if token.is_empty() {
                    return self.err(format!("unexpected character `{}`", c as char));
                }
                if self.annotation_follows() {
                    return self.value();
                }
                scalar(&token).ok_or(IonError {
                    message: format!("cannot read `{token}`"),
                    offset: self.i,
                })?
            }
        };
        Ok(v)
    }

    /// After a symbol: `::` makes it an annotation of the value that follows.
    fn annotation_follows(&mut self) -> bool {
        let save = self.i;
        let _ = self.skip_ws();
        if self.s[self.i..].starts_with(b"::") {
            self.i += 2;
            true
        } else {
            self.i = save;
            false
        }
    }

    fn token(&mut self) -> String {
        let start = self.i;
        while let Some(c) = self.peek() {
            let ok = c.is_ascii_alphanumeric()
                || matches!(c, b'_' | b'$' | b'.' | b'-' | b'+' | b':' | b'T');
            // `::` ends a symbol (annotation); a timestamp keeps its single colons.
            if !ok || (c == b':' && self.s.get(self.i + 1) == Some(&b':')) {
                break;
            }
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    fn quoted(&mut self, q: u8) -> Result<String, IonError> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return self.err("unterminated string"),
                Some(c) if c == q => {
                    self.i += 1;
                    return String::from_utf8(out).map_err(|_| IonError {
                        message: "string is not UTF-8".into(),
                        offset: self.i,
                    });
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = self.peek().ok_or(IonError {
                        message: "unterminated escape".into(),
                        offset: self.i,
                    })?;
                    self.i += 1;
                    match c {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'0' => out.push(0),
                        b'a' => out.push(7),
                        b'b' => out.push(8),
                        b'v' => out.push(0x0b),
                        b'f' => out.push(0x0c),
                        b'\n' => {}
                        b'x' | b'u' | b'U' => {
                            let len = match c {
                                b'x' => 2,
                                b'u' => 4,
                                _ => 8,
                            };
                            let hex = std::str::from_utf8(
                                self.s.get(self.i..self.i + len).unwrap_or_default(),
                            )
                            .unwrap_or_default();
                            let code = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32);
                            let Some(ch) = code else {
                                return self.err("invalid escape");
                            };
                            self.i += len;
                            let mut buf = [0; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        other => out.push(other),
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }

    /// `'''a''' '''b'''`: adjacent long strings concatenate.
    fn long_strings(&mut self) -> Result<String, IonError> {
        let mut out = String::new();
        while self.s[self.i..].starts_with(b"'''") {
            self.i += 3;
            let end = find(&self.s[self.i..], b"'''").ok_or(IonError {
                message: "unterminated long string".into(),
                offset: self.i,
            })?;
            let raw = String::from_utf8_lossy(&self.s[self.i..self.i + end]).into_owned();
            out.push_str(
                &raw.replace("\\n", "\n")
                    .replace("\\'", "'")
                    .replace("\\\\", "\\"),
            );
            self.i += end + 3;
            let save = self.i;
            self.skip_ws()?;
            if !self.s[self.i..].starts_with(b"'''") {
                self.i = save;
            }
        }
        Ok(out)
    }

    /// `{{ base64 }}` (blob) or `{{ "text" }}` (clob): both become strings.
    fn lob(&mut self) -> Result<Json, IonError> {
        self.i += 2;
        self.skip_ws()?;
        let v = if self.peek() == Some(b'"') {
            self.quoted(b'"')?
        } else {
            let start = self.i;
            while self.peek().is_some_and(|c| c != b'}') {
                self.i += 1;
            }
            let b64: String = String::from_utf8_lossy(&self.s[start..self.i])
                .split_whitespace()
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .map_err(|e| IonError {
                    message: format!("invalid blob: {e}"),
                    offset: start,
                })?;
            b64
        };
        self.skip_ws()?;
        if !self.s[self.i..].starts_with(b"}}") {
            return self.err("expected `}}` to close a blob");
        }
        self.i += 2;
        Ok(Json::String(v))
    }

    fn structure(&mut self) -> Result<Json, IonError> {
        self.i += 1;
        let mut map = Map::new();
        loop {
            self.skip_ws()?;
            match self.peek() {
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Json::Object(map));
                }
                None => return self.err("unterminated struct"),
                _ => {}
            }
            let key = match self.peek() {
                Some(b'"') => self.quoted(b'"')?,
                Some(b'\'') => self.quoted(b'\'')?,
                _ => {
                    let start = self.i;
                    while self
                        .peek()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'$')
                    {
                        self.i += 1;
                    }
                    if start == self.i {
                        return self.err("expected a field name");
                    }
                    String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
                }
            };
            self.skip_ws()?;
            if self.peek() != Some(b':') {
                return self.err(format!("expected `:` after field `{key}`"));
            }
            self.i += 1;
            let v = self.value()?;
            map.insert(key, v);
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {}
                _ => return self.err("expected `,` or `}` in a struct"),
            }
        }
    }

    fn sequence(&mut self, close: u8) -> Result<Vec<Json>, IonError> {
        self.i += 1;
        let mut items = Vec::new();
        loop {
            self.skip_ws()?;
            match self.peek() {
                Some(c) if c == close => {
                    self.i += 1;
                    return Ok(items);
                }
                None => return self.err("unterminated list"),
                _ => {}
            }
            items.push(self.value()?);
            self.skip_ws()?;
            if self.peek() == Some(b',') {
                self.i += 1;
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A bare token: null (typed too), booleans, numbers, timestamps, or a symbol.
fn scalar(t: &str) -> Option<Json> {
    if t == "null" || t.starts_with("null.") {
        return Some(Json::Null);
    }
    match t {
        "true" => return Some(Json::Bool(true)),
        "false" => return Some(Json::Bool(false)),
        "nan" | "+inf" | "-inf" => return Some(Json::String(t.to_string())),
        _ => {}
    }
    let first = t.as_bytes()[0];
    if first.is_ascii_digit() || first == b'-' || first == b'+' {
        let clean = t.replace('_', "");
        // timestamps: 2024-01-02T..., 2024T, 2024-01T
        if clean.len() >= 5 && clean.as_bytes()[4] == b'-'
            || clean.ends_with('T') && !clean.starts_with('-')
        {
            return Some(Json::String(t.to_string()));
        }
        if let Some(hex) = clean
            .strip_prefix("0x")
            .or_else(|| clean.strip_prefix("-0x"))
        {
            let v = i64::from_str_radix(hex, 16).ok()?;
            return Some(Json::from(if clean.starts_with('-') { -v } else { v }));
        }
        if let Ok(i) = clean.parse::<i64>() {
            return Some(Json::from(i));
        }
        let decimal = clean.replace(['d', 'D'], "e");
        return decimal
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Json::Number);
    }
    // any other identifier is a symbol
    Some(Json::String(t.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ion(v: Json) -> String {
        let mut s = String::new();
        write_json(&v, &mut s);
        s
    }

    #[test]
    fn writes_compact_ion() {
        assert_eq!(ion(json!({"empty_object": {}})), "{empty_object:{}}");
        assert_eq!(
            ion(json!({"a b": [1, 1.5, "x\"\n", null, true], "null": 1})),
            "{'a b':[1,1.5e0,\"x\\\"\\n\",null,true],'null':1}"
        );
        assert_eq!(ion(json!(null)), "null");
    }

    #[test]
    fn reads_what_kestra_writes() {
        let text = "{id:1,name:\"Zoë\",price:12.50,ratio:1.5e0,day:2024-01-02T,at:2024-01-02T03:04:05.006Z,\
                    t:LocalTime::\"10:00\",b:{{aGk=}},n:null.string,'quoted key':sym,list:[1,2]}\n{id:2}";
        let values = parse(text).unwrap();
        assert_eq!(values.len(), 2);
        let v = &values[0];
        assert_eq!(v["id"], 1);
        assert_eq!(v["name"], "Zoë");
        assert_eq!(v["price"], 12.5);
        assert_eq!(v["day"], "2024-01-02T");
        assert_eq!(v["at"], "2024-01-02T03:04:05.006Z");
        assert_eq!(v["t"], "10:00");
        assert_eq!(v["b"], "aGk=");
        assert_eq!(v["n"], Json::Null);
        assert_eq!(v["quoted key"], "sym");
        assert_eq!(values[1], json!({"id": 2}));
    }

    #[test]
    fn round_trips_strings_with_escapes() {
        let v = json!({"s": "tab\there \\ 'q' \u{1}"});
        assert_eq!(parse(&ion(v.clone())).unwrap()[0], v);
    }

    #[test]
    fn errors_say_where() {
        let e = parse("{a:1,,}").unwrap_err();
        assert!(e.to_string().starts_with("invalid Ion at byte 5"), "{e}");
        assert!(parse("{a:\"x").is_err());
    }
}
