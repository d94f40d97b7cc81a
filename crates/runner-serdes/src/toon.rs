//! `io.kestra.plugin.serdes.toon.JsonToToon` and `ToonToJson`: JSON to TOON (Token-Oriented
//! Object Notation) and back, in the subset Kestra writes: two-space indents, `,` between
//! values, arrays as `key[N]: a,b` (primitives), `key[N]{f1,f2}:` with a row per object
//! (objects of the same keys and primitive values) or `key[N]:` with `- ` items. A root array
//! is streamed both ways (read twice to write it: its shape first, then its elements); other
//! values are read whole, as Kestra reads every document.

use crate::files::utf8_only;
use crate::json_to_ion::Records;
use runner_core::plugin::*;
use serde::Deserialize;
use serde::de::DeserializeSeed;
use serde_json::{Map, Value as Json};
use std::io::{BufRead, Write};

pub(crate) const JSON_TO_TOON: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.serdes.toon.JsonToToon",
    aliases: &[],
    doc: "Convert a JSON document to TOON, the compact notation for language models: objects as `key: value`, uniform arrays of objects as one header and a row each. Outputs: `uri`, `size` (the root array's elements, else 1).",
    example: "id: to_toon\ntype: io.kestra.plugin.serdes.toon.JsonToToon\nfrom: \"{{ outputs.fetch.uri }}\"",
    shape: runnable::<JsonToToon>(),
};

pub(crate) const TOON_TO_JSON: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.serdes.toon.ToonToJson",
    aliases: &[],
    doc: "Convert a TOON document to JSON (pretty-printed). Outputs: `uri`, `size` (the array elements read).",
    example: "id: to_json\ntype: io.kestra.plugin.serdes.toon.ToonToJson\nfrom: \"{{ outputs.to_toon.uri }}\"",
    shape: runnable::<ToonToJson>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct JsonToToon {
    /// The kestra:/// JSON file.
    from: Property<String>,
    /// Input encoding: UTF-8.
    charset: Option<Property<String>>,
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ToonToJson {
    /// The kestra:/// TOON file.
    from: Property<String>,
    /// Input encoding: UTF-8.
    charset: Option<Property<String>>,
}

// ---------------------------------------------------------------- writing TOON

/// TOON's text of a primitive.
fn scalar(v: &Json) -> String {
    match v {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => number(n),
        Json::String(s) => string(s),
        _ => unreachable!("a primitive"),
    }
}

/// A plain decimal: no exponent, no trailing zeros, no `-0`.
fn number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f == 0.0 {
        return "0".into();
    }
    // Rust writes an f64 without exponent and without trailing zeros.
    format!("{f}")
}

fn looks_numeric(s: &str) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let int_ok = !int.is_empty() && int.bytes().all(|b| b.is_ascii_digit());
    let frac_ok = frac.bytes().all(|b| b.is_ascii_digit());
    let plain = int_ok && frac_ok && !(body.contains('.') && frac.is_empty());
    let exponent = s.parse::<f64>().is_ok() && s.bytes().any(|b| b == b'e' || b == b'E');
    plain || exponent || (int.len() > 1 && int.starts_with('0') && int_ok)
}

fn string(s: &str) -> String {
    let quote = s.is_empty()
        || s.trim() != s
        || matches!(s, "true" | "false" | "null")
        || looks_numeric(s)
        || s.starts_with('-')
        || s.chars().any(|c| {
            matches!(
                c,
                ':' | '"' | '\\' | '[' | ']' | '{' | '}' | '\n' | '\r' | '\t' | ','
            )
        });
    if !quote {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn key(k: &str) -> String {
    let mut chars = k.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if plain {
        k.to_string()
    } else {
        string_quoted(k)
    }
}

fn string_quoted(s: &str) -> String {
    let q = string(s);
    if q.starts_with('"') {
        q
    } else {
        format!("\"{q}\"")
    }
}

fn primitive(v: &Json) -> bool {
    !v.is_object() && !v.is_array()
}

/// The fields of a table: every item an object with the first's keys and primitive values.
fn table_fields<'a>(items: impl Iterator<Item = &'a Json>) -> Option<Vec<String>> {
    let mut fields: Option<Vec<String>> = None;
    for item in items {
        let Json::Object(m) = item else { return None };
        if m.is_empty() || !m.values().all(primitive) {
            return None;
        }
        match &fields {
            None => fields = Some(m.keys().cloned().collect()),
            Some(f) => {
                if f.len() != m.len() || !f.iter().all(|k| m.contains_key(k)) {
                    return None;
                }
            }
        }
    }
    fields
}

/// Writes lines joined by `\n`, with no newline after the last.
struct Toon<W: Write> {
    out: W,
    started: bool,
}

impl<W: Write> Toon<W> {
    fn line(&mut self, depth: usize, text: &str) -> std::io::Result<()> {
        if self.started {
            self.out.write_all(b"\n")?;
        }
        self.started = true;
        for _ in 0..depth {
            self.out.write_all(b"  ")?;
        }
        self.out.write_all(text.as_bytes())
    }

    /// `prefix` then `key: value` (the prefix is `- ` for a list item's first field); nested
    /// lines at `child`.
    fn field(
        &mut self,
        depth: usize,
        prefix: &str,
        k: &str,
        v: &Json,
        child: usize,
    ) -> std::io::Result<()> {
        let k = key(k);
        match v {
            Json::Object(m) => {
                self.line(depth, &format!("{prefix}{k}:"))?;
                self.object(child, m)
            }
            Json::Array(items) => self.array(depth, &format!("{prefix}{k}"), items, child),
            v => self.line(depth, &format!("{prefix}{k}: {}", scalar(v))),
        }
    }

    fn object(&mut self, depth: usize, m: &Map<String, Json>) -> std::io::Result<()> {
        for (k, v) in m {
            self.field(depth, "", k, v, depth + 1)?;
        }
        Ok(())
    }

    /// An array with its header `head[N]`; items at `child`.
    fn array(
        &mut self,
        depth: usize,
        head: &str,
        items: &[Json],
        child: usize,
    ) -> std::io::Result<()> {
        let n = items.len();
        if items.iter().all(primitive) {
            let values: Vec<String> = items.iter().map(scalar).collect();
            let sep = if values.is_empty() { "" } else { " " };
            return self.line(depth, &format!("{head}[{n}]:{sep}{}", values.join(",")));
        }
        if let Some(fields) = table_fields(items.iter()) {
            self.table_header(depth, head, n, &fields)?;
            for item in items {
                self.row(child, &fields, item)?;
            }
            return Ok(());
        }
        self.line(depth, &format!("{head}[{n}]:"))?;
        for item in items {
            self.item(child, item)?;
        }
        Ok(())
    }

    fn table_header(
        &mut self,
        depth: usize,
        head: &str,
        n: usize,
        fields: &[String],
    ) -> std::io::Result<()> {
        let names: Vec<String> = fields.iter().map(|f| key(f)).collect();
        self.line(depth, &format!("{head}[{n}]{{{}}}:", names.join(",")))
    }

    fn row(&mut self, depth: usize, fields: &[String], item: &Json) -> std::io::Result<()> {
        let values: Vec<String> = fields.iter().map(|f| scalar(&item[f])).collect();
        self.line(depth, &values.join(","))
    }

    /// A list item: `- value`, `- [N]: ...`, or an object whose first field follows `- `.
    fn item(&mut self, depth: usize, v: &Json) -> std::io::Result<()> {
        match v {
            Json::Object(m) if m.is_empty() => self.line(depth, "-"),
            Json::Object(m) => {
                let mut fields = m.iter();
                let (k, first) = fields.next().expect("not empty");
                self.field(depth, "- ", k, first, depth + 2)?;
                for (k, v) in fields {
                    self.field(depth + 1, "", k, v, depth + 2)?;
                }
                Ok(())
            }
            Json::Array(items) => self.array(depth, "- ", items, depth + 1),
            v => self.line(depth, &format!("- {}", scalar(v))),
        }
    }
}

/// What the first reading of a root array says of it.
#[derive(Default)]
struct Shape {
    count: u64,
    all_primitive: bool,
    fields: Option<Vec<String>>,
    uniform: bool,
}

/// The first non-blank byte of a JSON file (past a byte order mark).
fn first_byte(path: &std::path::Path) -> std::io::Result<Option<u8>> {
    let mut reader = std::io::BufReader::new(std::fs::File::open(path)?);
    loop {
        let head = reader.fill_buf()?;
        if head.is_empty() {
            return Ok(None);
        }
        let skip = head
            .iter()
            .take_while(|b| b.is_ascii_whitespace() || matches!(b, 0xEF | 0xBB | 0xBF))
            .count();
        if skip < head.len() {
            return Ok(Some(head[skip]));
        }
        let n = head.len();
        reader.consume(n);
    }
}

fn each_element(
    path: &std::path::Path,
    from: &str,
    emit: &mut dyn FnMut(&Json) -> Result<(), String>,
) -> Result<u64, TaskError> {
    let file = std::fs::File::open(path)
        .map_err(|e| TaskError::new(ErrorKind::Io, format!("cannot read {from}")).caused_by(e))?;
    let reader = std::io::BufReader::with_capacity(256 * 1024, file);
    let mut size = 0u64;
    let mut de = serde_json::Deserializer::from_reader(reader);
    Records {
        emit,
        size: &mut size,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end())
    .map_err(|e| {
        TaskError::new(
            ErrorKind::BadData,
            format!(
                "{from}, line {}, column {}: Invalid JSON: {e}",
                e.line(),
                e.column()
            ),
        )
    })?;
    Ok(size)
}

/// JSON file to TOON file; the root array's element count, else 1.
fn json_to_toon(
    input: &std::path::Path,
    output: &std::path::Path,
    from: &str,
    uri: &str,
    stop: &crate::blocking::Stop,
) -> Result<u64, TaskError> {
    let write_error = |e: std::io::Error| crate::blocking::write_error(uri, e);
    let Some(first) = first_byte(input)
        .map_err(|e| TaskError::new(ErrorKind::Io, format!("cannot read {from}")).caused_by(e))?
    else {
        return Err(TaskError::new(
            ErrorKind::BadData,
            format!("{from}: Invalid JSON: empty input"),
        ));
    };
    let target = std::fs::File::create(output).map_err(write_error)?;
    let mut toon = Toon {
        out: std::io::BufWriter::with_capacity(256 * 1024, target),
        started: false,
    };
    let size = if first == b'[' {
        // First the shape (how many, and whether they make a table), then the elements.
        let mut shape = Shape {
            all_primitive: true,
            uniform: true,
            ..Shape::default()
        };
        each_element(input, from, &mut |v| {
            shape.count += 1;
            shape.all_primitive &= primitive(v);
            if shape.uniform {
                match table_fields(std::iter::once(v)) {
                    Some(f) => match &shape.fields {
                        None => shape.fields = Some(f),
                        Some(known) => {
                            shape.uniform =
                                known.len() == f.len() && known.iter().all(|k| f.contains(k));
                        }
                    },
                    None => shape.uniform = false,
                }
            }
            if shape.count.is_multiple_of(4096) && stop.stopped() {
                return Err("stopped".into());
            }
            Ok(())
        })?;
        let n = shape.count;
        let io = |e: std::io::Error| e.to_string();
        if shape.all_primitive {
            // One line, as Kestra writes it.
            let mut values = Vec::new();
            each_element(input, from, &mut |v| {
                values.push(scalar(v));
                Ok(())
            })?;
            let sep = if values.is_empty() { "" } else { " " };
            toon.line(0, &format!("[{n}]:{sep}{}", values.join(",")))
                .map_err(write_error)?;
        } else if let (true, Some(fields)) = (shape.uniform, shape.fields.clone()) {
            toon.table_header(0, "", n as usize, &fields)
                .map_err(write_error)?;
            each_element(input, from, &mut |v| toon.row(1, &fields, v).map_err(io))?;
        } else {
            toon.line(0, &format!("[{n}]:")).map_err(write_error)?;
            each_element(input, from, &mut |v| toon.item(1, v).map_err(io))?;
        }
        n
    } else {
        each_element(input, from, &mut |v| {
            match v {
                Json::Object(m) => toon.object(0, m),
                v => toon.line(0, &scalar(v)),
            }
            .map_err(|e| e.to_string())
        })?;
        1
    };
    toon.out.flush().map_err(write_error)?;
    Ok(size)
}

// ---------------------------------------------------------------- reading TOON

/// One line: its number, depth and text (indentation off).
struct Line {
    number: usize,
    depth: usize,
    text: String,
}

struct Lines<R: BufRead> {
    reader: R,
    peeked: Option<Line>,
    number: usize,
    from: String,
}

impl<R: BufRead> Lines<R> {
    fn error(&self, number: usize, message: &str) -> TaskError {
        TaskError::new(
            ErrorKind::BadData,
            format!("{}, line {number}: {message}", self.from),
        )
    }

    fn peek(&mut self) -> Result<Option<&Line>, TaskError> {
        if self.peeked.is_none() {
            self.peeked = self.read()?;
        }
        Ok(self.peeked.as_ref())
    }

    fn next(&mut self) -> Result<Option<Line>, TaskError> {
        match self.peeked.take() {
            Some(l) => Ok(Some(l)),
            None => self.read(),
        }
    }

    /// The next line at exactly `depth`, if the next line is one.
    fn next_at(&mut self, depth: usize) -> Result<Option<Line>, TaskError> {
        match self.peek()? {
            Some(l) if l.depth == depth => self.next(),
            Some(l) if l.depth > depth => {
                let n = l.number;
                Err(self.error(n, "Invalid indentation: deeper than its parent allows"))
            }
            _ => Ok(None),
        }
    }

    fn read(&mut self) -> Result<Option<Line>, TaskError> {
        let mut raw = String::new();
        loop {
            raw.clear();
            let n = self.reader.read_line(&mut raw).map_err(|e| {
                TaskError::new(ErrorKind::Io, format!("cannot read {}", self.from)).caused_by(e)
            })?;
            if n == 0 {
                return Ok(None);
            }
            self.number += 1;
            let text = raw.trim_end_matches(['\n', '\r']);
            if text.trim().is_empty() {
                continue;
            }
            let spaces = text.len() - text.trim_start_matches(' ').len();
            if text[spaces..].starts_with('\t') {
                return Err(self.error(self.number, "Invalid indentation: tabs are not allowed"));
            }
            if !spaces.is_multiple_of(2) {
                return Err(self.error(
                    self.number,
                    "Invalid indentation: must be a multiple of 2 spaces",
                ));
            }
            return Ok(Some(Line {
                number: self.number,
                depth: spaces / 2,
                text: text[spaces..].to_string(),
            }));
        }
    }
}

/// A parsed scalar: null, booleans, quoted strings, plain decimals; anything else as text.
fn parse_scalar(text: &str) -> Result<Json, String> {
    let t = text.trim();
    match t {
        "null" => return Ok(Json::Null),
        "true" => return Ok(Json::Bool(true)),
        "false" => return Ok(Json::Bool(false)),
        _ => {}
    }
    if t.starts_with('"') {
        let (s, rest) = unquote(t)?;
        if !rest.trim().is_empty() {
            return Err(format!("text after a quoted string: `{rest}`"));
        }
        return Ok(Json::String(s));
    }
    let body = t.strip_prefix('-').unwrap_or(t);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let decimal = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !(body.contains('.') && frac.is_empty());
    if decimal && let Ok(n) = serde_json::from_str::<serde_json::Number>(t.trim_start_matches('+'))
    {
        return Ok(Json::Number(n));
    }
    Ok(Json::String(t.to_string()))
}

/// A quoted string at the start of `t`, and what follows it.
fn unquote(t: &str) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut chars = t.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &t[i + 1..])),
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                other => return Err(format!("an unknown escape `\\{}`", other.unwrap_or(' '))),
            },
            c => out.push(c),
        }
    }
    Err("a quoted string that does not end".into())
}

/// `text` split at the commas outside quotes.
fn split_values(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A field's head: `key`, `key[N]`, `key[N]{f1,f2}` or `[N]...` (no key), then `:` and the rest.
struct Head {
    key: Option<String>,
    count: Option<usize>,
    fields: Option<Vec<String>>,
    rest: String,
}

fn parse_head(text: &str) -> Option<Head> {
    let (key, after) = if text.starts_with('"') {
        let (k, rest) = unquote(text).ok()?;
        (Some(k), rest)
    } else if text.starts_with('[') {
        (None, text)
    } else {
        let end = text.find(['[', ':'])?;
        let k = &text[..end];
        if k.is_empty() || k.contains(' ') && !k.trim().is_empty() && k.trim() != k {
            return None;
        }
        (Some(k.trim().to_string()), &text[end..])
    };
    let (count, after) = match after.strip_prefix('[') {
        Some(rest) => {
            let close = rest.find(']')?;
            (
                Some(rest[..close].trim().parse::<usize>().ok()?),
                &rest[close + 1..],
            )
        }
        None => (None, after),
    };
    let (fields, after) = match after.strip_prefix('{') {
        Some(rest) => {
            let close = rest.find('}')?;
            let names = split_values(&rest[..close])
                .into_iter()
                .map(|f| match parse_scalar(f) {
                    Ok(Json::String(s)) => s,
                    _ => f.trim().to_string(),
                })
                .collect();
            (Some(names), &rest[close + 1..])
        }
        None => (None, after),
    };
    let rest = after.strip_prefix(':')?;
    if key.is_none() && count.is_none() {
        return None;
    }
    Some(Head {
        key,
        count,
        fields,
        rest: rest.trim().to_string(),
    })
}

struct Reader<R: BufRead> {
    lines: Lines<R>,
    /// Array elements read, all depths.
    size: u64,
}

impl<R: BufRead> Reader<R> {
    /// An array of `head` declared on line `at`; items at `child`, each given to `each`.
    fn array(
        &mut self,
        head: &Head,
        at: usize,
        child: usize,
        each: &mut dyn FnMut(Json) -> Result<(), TaskError>,
    ) -> Result<(), TaskError> {
        let n = head.count.unwrap_or(0);
        let mut got = 0usize;
        if let Some(fields) = &head.fields {
            while let Some(line) = self.lines.next_at(child)? {
                let values = split_values(&line.text);
                if values.len() != fields.len() {
                    return Err(self.lines.error(
                        line.number,
                        &format!(
                            "a row of {} values where the header names {} fields",
                            values.len(),
                            fields.len()
                        ),
                    ));
                }
                let mut row = Map::new();
                for (f, v) in fields.iter().zip(values) {
                    row.insert(
                        f.clone(),
                        parse_scalar(v).map_err(|e| self.lines.error(line.number, &e))?,
                    );
                }
                got += 1;
                self.size += 1;
                each(Json::Object(row))?;
            }
        } else if !head.rest.is_empty() {
            for v in split_values(&head.rest) {
                got += 1;
                self.size += 1;
                each(parse_scalar(v).map_err(|e| self.lines.error(at, &e))?)?;
            }
        } else {
            while let Some(line) = self.lines.next_at(child)? {
                let item = self.item(line)?;
                got += 1;
                self.size += 1;
                each(item)?;
            }
        }
        if got != n {
            return Err(self
                .lines
                .error(at, &format!("the header says {n} items, {got} follow")));
        }
        Ok(())
    }

    fn collect(&mut self, head: &Head, at: usize, child: usize) -> Result<Json, TaskError> {
        let mut items = Vec::new();
        self.array(head, at, child, &mut |v| {
            items.push(v);
            Ok(())
        })?;
        Ok(Json::Array(items))
    }

    /// A field's value: its array, its nested object (at `child`), or its scalar.
    fn value(&mut self, head: &Head, at: usize, child: usize) -> Result<Json, TaskError> {
        if head.count.is_some() {
            return self.collect(head, at, child);
        }
        if head.rest.is_empty() {
            return self.object(child).map(Json::Object);
        }
        parse_scalar(&head.rest).map_err(|e| self.lines.error(at, &e))
    }

    /// The fields at `depth`.
    fn object(&mut self, depth: usize) -> Result<Map<String, Json>, TaskError> {
        let mut m = Map::new();
        while let Some(line) = self.lines.next_at(depth)? {
            let (k, v) = self.field(&line.text, line.number, depth + 1)?;
            m.insert(k, v);
        }
        Ok(m)
    }

    fn field(&mut self, text: &str, at: usize, child: usize) -> Result<(String, Json), TaskError> {
        let Some(head) = parse_head(text) else {
            return Err(self.lines.error(at, "expected `key: value`"));
        };
        let Some(k) = head.key.clone() else {
            return Err(self
                .lines
                .error(at, "an array without a key inside an object"));
        };
        let v = self.value(&head, at, child)?;
        Ok((k, v))
    }

    /// A list item (`- ...`) at the line's depth.
    fn item(&mut self, line: Line) -> Result<Json, TaskError> {
        let Some(rest) = line.text.strip_prefix('-') else {
            return Err(self
                .lines
                .error(line.number, "expected a list item `- ...`"));
        };
        let rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(Json::Object(Map::new()));
        }
        match parse_head(rest) {
            Some(head) if head.key.is_none() => self.collect(&head, line.number, line.depth + 1),
            Some(_) => {
                let (k, v) = self.field(rest, line.number, line.depth + 2)?;
                let mut m = Map::new();
                m.insert(k, v);
                m.extend(self.object(line.depth + 1)?);
                Ok(Json::Object(m))
            }
            None => parse_scalar(rest).map_err(|e| self.lines.error(line.number, &e)),
        }
    }
}

/// Pretty JSON of `v`, its lines after the first indented by `indent` levels.
fn pretty(v: &Json, indent: usize) -> String {
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    text.replace('\n', &format!("\n{}", "  ".repeat(indent)))
}

/// TOON file to JSON file; the array elements read. A root array, and the arrays of a root
/// object's fields, are written element by element.
fn toon_to_json(
    input: &std::path::Path,
    output: &std::path::Path,
    from: &str,
    uri: &str,
    stop: &crate::blocking::Stop,
) -> Result<u64, TaskError> {
    let write_error = |e: std::io::Error| crate::blocking::write_error(uri, e);
    let file = std::fs::File::open(input)
        .map_err(|e| TaskError::new(ErrorKind::Io, format!("cannot read {from}")).caused_by(e))?;
    let mut reader = Reader {
        lines: Lines {
            reader: std::io::BufReader::with_capacity(256 * 1024, file),
            peeked: None,
            number: 0,
            from: from.to_string(),
        },
        size: 0,
    };
    let target = std::fs::File::create(output).map_err(write_error)?;
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, target);
    let io = |e: std::io::Error| crate::blocking::write_error(uri, e);
    // Writes a streamed array's elements at `indent`.
    let stream = |reader: &mut Reader<_>,
                  out: &mut dyn Write,
                  head: &Head,
                  at: usize,
                  indent: usize|
     -> Result<(), TaskError> {
        out.write_all(b"[").map_err(io)?;
        let mut first = true;
        let pad = "  ".repeat(indent + 1);
        reader.array(head, at, indent.max(1), &mut |v| {
            stop.check()?;
            let sep = if first { "" } else { "," };
            first = false;
            write!(out, "{sep}\n{pad}{}", pretty(&v, indent + 1)).map_err(io)
        })?;
        if !first {
            write!(out, "\n{}", "  ".repeat(indent)).map_err(io)?;
        }
        out.write_all(b"]").map_err(io)
    };
    let Some(first) = reader.lines.next()? else {
        out.write_all(b"{}").map_err(io)?;
        out.flush().map_err(write_error)?;
        return Ok(0);
    };
    if first.depth != 0 {
        return Err(reader.lines.error(
            first.number,
            "Invalid indentation: the document starts indented",
        ));
    }
    match parse_head(&first.text) {
        Some(head) if head.key.is_none() => {
            stream(&mut reader, &mut out, &head, first.number, 0)?;
        }
        Some(mut head) => {
            out.write_all(b"{").map_err(io)?;
            let mut line = Some(first);
            let mut n = 0;
            while let Some(l) = line {
                if n > 0 {
                    head = parse_head(&l.text)
                        .ok_or_else(|| reader.lines.error(l.number, "expected `key: value`"))?;
                }
                let Some(k) = head.key.clone() else {
                    return Err(reader
                        .lines
                        .error(l.number, "an array without a key inside an object"));
                };
                let sep = if n == 0 { "" } else { "," };
                write!(out, "{sep}\n  {}: ", Json::String(k)).map_err(io)?;
                if head.count.is_some() {
                    stream(&mut reader, &mut out, &head, l.number, 1)?;
                } else {
                    let v = reader.value(&head, l.number, 1)?;
                    out.write_all(pretty(&v, 1).as_bytes()).map_err(io)?;
                }
                n += 1;
                line = reader.lines.next_at(0)?;
            }
            out.write_all(b"\n}").map_err(io)?;
        }
        None => {
            let v = parse_scalar(&first.text).map_err(|e| reader.lines.error(first.number, &e))?;
            if let Some(l) = reader.lines.next()? {
                return Err(reader
                    .lines
                    .error(l.number, "more after a document that is one value"));
            }
            out.write_all(v.to_string().as_bytes()).map_err(io)?;
        }
    }
    out.flush().map_err(write_error)?;
    Ok(reader.size)
}

/// A conversion from the execution's file `from` to a new file of extension `ext`, on a
/// blocking thread; the output removed unless it finished. Outputs `uri` and `size`.
async fn convert(
    ctx: &RunContext,
    from: &Property<String>,
    charset: &Option<Property<String>>,
    ext: &str,
    job: fn(
        &std::path::Path,
        &std::path::Path,
        &str,
        &str,
        &crate::blocking::Stop,
    ) -> Result<u64, TaskError>,
) -> Result<Outputs, TaskError> {
    let from = ctx.render(from, "from")?;
    utf8_only(ctx.render_opt(charset, "charset")?)?;
    let input = ctx.execution_file_path(&from)?;
    let (uri, path) = crate::blocking::output_file(ctx, ext)?;
    let job_uri = uri.clone();
    let size = crate::blocking::run(move |stop| {
        let partial = PartialFile::new(&path);
        let size = job(&input, &path, &from, &job_uri, stop)?;
        partial.keep();
        Ok(size)
    })
    .await?;
    crate::avro::records_metric(ctx, size);
    Ok(Outputs::from_iter([
        ("uri".to_string(), Json::String(uri)),
        ("size".to_string(), Json::from(size)),
    ]))
}

impl RunnableTask for JsonToToon {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(convert(
            ctx,
            &self.from,
            &self.charset,
            "toon",
            json_to_toon,
        ))
    }
}

impl RunnableTask for ToonToJson {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(convert(
            ctx,
            &self.from,
            &self.charset,
            "json",
            toon_to_json,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn encode(v: &Json) -> String {
        let dir =
            std::env::temp_dir().join(format!("runner-toon-{}", runner_core::ids::friendly_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (input, output) = (dir.join("in.json"), dir.join("out.toon"));
        std::fs::write(&input, v.to_string()).unwrap();
        json_to_toon(
            &input,
            &output,
            "in.json",
            "out",
            &crate::blocking::Stop::never(),
        )
        .unwrap();
        let text = std::fs::read_to_string(&output).unwrap();
        let back = output.with_extension("json");
        toon_to_json(
            &output,
            &back,
            "out.toon",
            "back",
            &crate::blocking::Stop::never(),
        )
        .unwrap();
        let parsed: Json = serde_json::from_str(&std::fs::read_to_string(&back).unwrap()).unwrap();
        assert_eq!(&parsed, v, "round trip of\n{text}");
        let _ = std::fs::remove_dir_all(&dir);
        text
    }

    #[test]
    fn objects_tables_and_lists_are_written_as_kestra_writes_them() {
        let v = json!({"name": "Ada", "age": 36, "tags": ["math", "code"], "users": [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Grace"}], "address": {"city": "London", "zip": "007"}, "empty": {}});
        assert_eq!(
            encode(&v),
            "name: Ada\nage: 36\ntags[2]: math,code\nusers[2]{id,name}:\n  1,Ada\n  2,Grace\naddress:\n  city: London\n  zip: \"007\"\nempty:"
        );
        let mixed = json!({"items": [{"id": 1, "parts": [1, 2]}, "x", [3, 4], {}, {"a": {"b": 1}, "c": 2}]});
        assert_eq!(
            encode(&mixed),
            "items[5]:\n  - id: 1\n    parts[2]: 1,2\n  - x\n  - [2]: 3,4\n  -\n  - a:\n      b: 1\n    c: 2"
        );
    }

    #[test]
    fn strings_are_quoted_where_they_would_read_as_something_else() {
        for (s, want) in [
            ("", "\"\""),
            (" pad", "\" pad\""),
            ("true", "\"true\""),
            ("12", "\"12\""),
            ("1.5", "\"1.5\""),
            ("-x", "\"-x\""),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \\\"hi\\\"\""),
            ("two\nlines", "\"two\\nlines\""),
            ("plain words", "plain words"),
        ] {
            assert_eq!(string(s), want, "{s:?}");
        }
        assert_eq!(
            encode(&json!({"n": 1.50, "big": 1e21, "k": 100})),
            "n: 1.5\nbig: 1000000000000000000000\nk: 100"
        );
        assert_eq!(scalar(&json!(-0.0)), "0");
        assert_eq!(encode(&json!({"a b": 1, "1x": 2})), "\"a b\": 1\n\"1x\": 2");
    }

    #[test]
    fn root_arrays_stream_as_tables_lists_or_one_line() {
        assert_eq!(
            encode(&json!([{"a": 1, "b": "x"}, {"b": "y", "a": 2}])),
            "[2]{a,b}:\n  1,x\n  2,y"
        );
        assert_eq!(encode(&json!([1, "two", null])), "[3]: 1,two,null");
        assert_eq!(encode(&json!([{"a": [1]}, 2])), "[2]:\n  - a[1]: 1\n  - 2");
        assert_eq!(encode(&json!([])), "[0]:");
    }

    #[test]
    fn bad_toon_says_where() {
        let dir =
            std::env::temp_dir().join(format!("runner-toon-{}", runner_core::ids::friendly_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let input = dir.join("bad.toon");
        for (text, said) in [
            (
                "a:\n   b: 1",
                "line 2: Invalid indentation: must be a multiple of 2 spaces",
            ),
            (
                "users[3]{id}:\n  1\n  2",
                "line 1: the header says 3 items, 2 follow",
            ),
            (
                "t[1]{a,b}:\n  1",
                "line 2: a row of 1 values where the header names 2 fields",
            ),
            (
                "just words\nmore",
                "line 2: more after a document that is one value",
            ),
        ] {
            std::fs::write(&input, text).unwrap();
            let e = toon_to_json(
                &input,
                &dir.join("o.json"),
                "bad.toon",
                "o",
                &crate::blocking::Stop::never(),
            )
            .unwrap_err();
            assert!(e.to_string().contains(said), "{text:?}: {e}");
        }
        std::fs::write(&input, "").unwrap();
        toon_to_json(
            &input,
            &dir.join("o.json"),
            "bad.toon",
            "o",
            &crate::blocking::Stop::never(),
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("o.json")).unwrap(), "{}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
