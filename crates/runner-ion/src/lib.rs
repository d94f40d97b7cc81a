//! Amazon Ion text, as Kestra writes it (one value per line) and reads it.
//!
//! [`write_json`] writes a JSON value as compact Ion text; [`parse`] reads Ion text into JSON
//! values, keeping what JSON can hold: timestamps and symbols become strings, decimals and
//! floats numbers, blobs base64 strings, and annotations are dropped. [`BinaryReader`] reads
//! binary Ion (what Kestra 2.0 writes) into the same [`IonValue`]s as the text reader.

mod binary;

pub use binary::{BinaryReader, VERSION_MARKER, parse_binary, value_length};

use base64::Engine;
use serde_json::{Number, Value as Json};
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
    // Most text needs no escape: copy it whole.
    if !s
        .bytes()
        .any(|b| b < 0x20 || b == 0x7f || b == b'\\' || b == quote as u8)
    {
        out.push_str(s);
        return;
    }
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

/// An Ion value with its type: what readers that care (CSV rendering) need.
#[derive(Clone, Debug, PartialEq)]
pub enum IonValue {
    Null,
    Bool(bool),
    Int(i64),
    /// Decimal text as written (`2147483645.1234`, `5.`, `1d3`).
    Decimal(String),
    Float(f64),
    /// Timestamp text as written (`2030-12-25`, `2021-05-05T10:21:12.123Z`).
    Timestamp(String),
    String(String),
    Symbol(String),
    Blob(Vec<u8>),
    Clob(String),
    List(Vec<IonValue>),
    SExp(Vec<IonValue>),
    Struct(Vec<(String, IonValue)>),
    Annotated(Vec<String>, Box<IonValue>),
}

impl IonValue {
    /// The value as JSON: timestamps, symbols and clobs as strings, decimals as numbers, blobs
    /// as base64 strings, annotations dropped.
    pub fn to_json(&self) -> Json {
        match self {
            IonValue::Null => Json::Null,
            IonValue::Bool(b) => Json::Bool(*b),
            IonValue::Int(i) => Json::from(*i),
            IonValue::Decimal(d) => d
                .replace(['d', 'D'], "e")
                .trim_end_matches('.')
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map_or(Json::String(d.clone()), Json::Number),
            IonValue::Float(f) => {
                Number::from_f64(*f).map_or_else(|| Json::String(f.to_string()), Json::Number)
            }
            IonValue::Timestamp(t)
            | IonValue::String(t)
            | IonValue::Symbol(t)
            | IonValue::Clob(t) => Json::String(t.clone()),
            IonValue::Blob(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
            IonValue::List(items) | IonValue::SExp(items) => {
                Json::Array(items.iter().map(IonValue::to_json).collect())
            }
            IonValue::Struct(fields) => Json::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
            IonValue::Annotated(_, v) => v.to_json(),
        }
    }
}

/// Reads every top-level value of `text`, as JSON (see [`IonValue::to_json`]).
pub fn parse(text: &str) -> Result<Vec<Json>, IonError> {
    Ok(parse_values(text)?.iter().map(IonValue::to_json).collect())
}

/// Reads every top-level value of `text`, with its Ion type.
pub fn parse_values(text: &str) -> Result<Vec<IonValue>, IonError> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
        depth: 0,
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

/// The deepest nesting of containers and annotations read: each level is a recursion here
/// and wherever the value is written or converted.
pub const MAX_DEPTH: usize = 256;

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    /// The bytes from `start` to here, which the caller matched as ASCII.
    fn ascii(&self, start: usize) -> String {
        std::str::from_utf8(&self.s[start..self.i])
            .unwrap_or_default()
            .to_string()
    }

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

    fn value(&mut self) -> Result<IonValue, IonError> {
        if self.depth >= MAX_DEPTH {
            return self.err(format!(
                "values nest more than {MAX_DEPTH} levels deep (lists, structs or annotations)"
            ));
        }
        self.depth += 1;
        let v = self.value_here();
        self.depth -= 1;
        v
    }

    fn value_here(&mut self) -> Result<IonValue, IonError> {
        self.skip_ws()?;
        let Some(c) = self.peek() else {
            return self.err("expected a value, found the end");
        };
        let v = match c {
            b'{' if self.s.get(self.i + 1) == Some(&b'{') => self.lob()?,
            b'{' => self.structure()?,
            b'[' => IonValue::List(self.sequence(b']')?),
            b'(' => IonValue::SExp(self.sequence(b')')?),
            b'"' => IonValue::String(self.quoted(b'"')?),
            b'\'' if self.s[self.i..].starts_with(b"'''") => IonValue::String(self.long_strings()?),
            b'\'' => {
                let sym = self.quoted(b'\'')?;
                if self.annotation_follows() {
                    return Ok(annotate(sym, self.value()?));
                }
                IonValue::Symbol(sym)
            }
            _ => {
                let token = self.token();
                if token.is_empty() {
                    return self.err(format!("unexpected character `{}`", c as char));
                }
                if self.annotation_follows() {
                    return Ok(annotate(token, self.value()?));
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
        self.ascii(start)
    }

    fn quoted(&mut self, q: u8) -> Result<String, IonError> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            // Copy the run up to the next quote or escape at once: most strings have no escape.
            let run = self.i;
            while self.peek().is_some_and(|c| c != q && c != b'\\') {
                self.i += 1;
            }
            out.extend_from_slice(&self.s[run..self.i]);
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
                Some(_) => unreachable!("the run stops at a quote or an escape"),
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

    /// `{{ base64 }}` (blob) or `{{ "text" }}` (clob).
    fn lob(&mut self) -> Result<IonValue, IonError> {
        self.i += 2;
        self.skip_ws()?;
        let v = if self.peek() == Some(b'"') {
            IonValue::Clob(self.quoted(b'"')?)
        } else {
            let start = self.i;
            while self.peek().is_some_and(|c| c != b'}') {
                self.i += 1;
            }
            let b64: String = String::from_utf8_lossy(&self.s[start..self.i])
                .split_whitespace()
                .collect();
            IonValue::Blob(
                base64::engine::general_purpose::STANDARD
                    .decode(b64.as_bytes())
                    .map_err(|e| IonError {
                        message: format!("invalid blob: {e}"),
                        offset: start,
                    })?,
            )
        };
        self.skip_ws()?;
        if !self.s[self.i..].starts_with(b"}}") {
            return self.err("expected `}}` to close a blob");
        }
        self.i += 2;
        Ok(v)
    }

    fn structure(&mut self) -> Result<IonValue, IonError> {
        self.i += 1;
        let mut fields: Vec<(String, IonValue)> = Vec::new();
        loop {
            self.skip_ws()?;
            match self.peek() {
                Some(b'}') => {
                    self.i += 1;
                    return Ok(IonValue::Struct(fields));
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
                    self.ascii(start)
                }
            };
            self.skip_ws()?;
            if self.peek() != Some(b':') {
                return self.err(format!("expected `:` after field `{key}`"));
            }
            self.i += 1;
            let v = self.value()?;
            fields.push((key, v));
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {}
                _ => return self.err("expected `,` or `}` in a struct"),
            }
        }
    }

    fn sequence(&mut self, close: u8) -> Result<Vec<IonValue>, IonError> {
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

fn annotate(annotation: String, value: IonValue) -> IonValue {
    match value {
        IonValue::Annotated(mut more, v) => {
            more.insert(0, annotation);
            IonValue::Annotated(more, v)
        }
        v => IonValue::Annotated(vec![annotation], Box::new(v)),
    }
}

/// A bare token: null (typed too), booleans, numbers, timestamps, or a symbol.
fn scalar(t: &str) -> Option<IonValue> {
    if t == "null" || t.starts_with("null.") {
        return Some(IonValue::Null);
    }
    match t {
        "true" => return Some(IonValue::Bool(true)),
        "false" => return Some(IonValue::Bool(false)),
        "nan" => return Some(IonValue::Float(f64::NAN)),
        "+inf" => return Some(IonValue::Float(f64::INFINITY)),
        "-inf" => return Some(IonValue::Float(f64::NEG_INFINITY)),
        _ => {}
    }
    let first = t.as_bytes()[0];
    if first.is_ascii_digit() || first == b'-' || first == b'+' {
        let clean = t.replace('_', "");
        // timestamps: 2024-01-02T..., 2024-01-02, 2024T, 2024-01T
        if (clean.len() >= 5 && clean.as_bytes()[4] == b'-' && !clean.starts_with('-'))
            || (clean.ends_with('T') && !clean.starts_with('-'))
        {
            return Some(IonValue::Timestamp(t.to_string()));
        }
        if let Some(hex) = clean
            .strip_prefix("0x")
            .or_else(|| clean.strip_prefix("-0x"))
        {
            let v = i64::from_str_radix(hex, 16).ok()?;
            return Some(IonValue::Int(if clean.starts_with('-') { -v } else { v }));
        }
        if let Ok(i) = clean.parse::<i64>() {
            return Some(IonValue::Int(i));
        }
        if clean.contains(['e', 'E']) {
            return clean.parse::<f64>().ok().map(IonValue::Float);
        }
        if clean.contains(['.', 'd', 'D']) {
            let check = clean.replace(['d', 'D'], "e");
            check.trim_end_matches('.').parse::<f64>().ok()?;
            return Some(IonValue::Decimal(clean));
        }
        // an integer too large for i64: keep its digits exactly
        if clean
            .trim_start_matches(['-', '+'])
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            return Some(IonValue::Decimal(clean));
        }
        return None;
    }
    Some(IonValue::Symbol(t.to_string()))
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
    fn keeps_ion_types_when_asked() {
        let v = parse_values("{d:5.,f:3.2e0,t:2030-12-25,z:2021-05-05T10:21:12.123Z,a:LocalTime::\"04:05:30\",b:{{3q2+7w==}},n:null}").unwrap();
        let IonValue::Struct(fields) = &v[0] else {
            panic!("a struct")
        };
        assert_eq!(fields[0].1, IonValue::Decimal("5.".into()));
        assert_eq!(fields[1].1, IonValue::Float(3.2));
        assert_eq!(fields[2].1, IonValue::Timestamp("2030-12-25".into()));
        assert_eq!(
            fields[3].1,
            IonValue::Timestamp("2021-05-05T10:21:12.123Z".into())
        );
        assert_eq!(
            fields[4].1,
            IonValue::Annotated(
                vec!["LocalTime".into()],
                Box::new(IonValue::String("04:05:30".into()))
            )
        );
        assert_eq!(fields[5].1, IonValue::Blob(vec![0xde, 0xad, 0xbe, 0xef]));
        assert_eq!(fields[6].1, IonValue::Null);
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
