//! YAML text to [`Node`] trees, one per document, with YAML 1.2 core-schema scalars.

use crate::{Key, Node, NodeValue, Span};
use saphyr_parser::{Event, Parser, ScalarStyle, Span as YSpan};
use std::collections::HashMap;
use std::fmt;

/// The YAML could not be read: a syntax error or a duplicate key.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadError {
    pub message: String,
    pub span: Span,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.message, self.span)
    }
}

impl std::error::Error for LoadError {}

/// The deepest nesting of lists and maps: each level is a recursion when the tree is read,
/// converted or dropped, and real flows stay far below it.
pub const MAX_DEPTH: usize = 256;

/// The most values aliases may copy in one document. Each `*alias` copies its anchor's tree,
/// so nine levels of nine aliases make a few hundred bytes expand to billions of values (the
/// "billion laughs"); real flows use a handful of small anchors.
pub const MAX_ALIAS_VALUES: usize = 100_000;

/// Parses every document of `text`.
pub fn load_str(text: &str) -> Result<Vec<Node>, LoadError> {
    // YAML ends a line at `\n`, `\r\n` or a bare `\r`; the parser places what it finds at the
    // end of the stream (an implicit null, an unexpected end) one line past the last.
    let last_line = text.replace("\r\n", "\n").matches(['\n', '\r']).count() + 1;
    // The parser takes a NUL for the end of the stream and reports that instead.
    if let Some(at) = text.find('\0') {
        let before = &text[..at];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        return Err(LoadError {
            message: "invalid YAML: the text holds a NUL character (U+0000), which YAML does not allow: remove it".into(),
            span: Span::new(line as u32, col as u32, 1),
        });
    }
    let mut builder = Builder {
        last_line,
        ..Builder::default()
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| LoadError {
            message: format!("invalid YAML: {}{}", e.info(), yaml_hint(e.info())),
            span: Span::new(
                e.marker().line().min(last_line) as u32,
                e.marker().col() as u32 + 1,
                1,
            ),
        })?;
        builder.push(event, span)?;
    }
    Ok(builder.docs)
}

/// What to do about the parser's most common complaints.
fn yaml_hint(info: &str) -> &'static str {
    if info.contains("mapping values are not allowed") {
        "; a `key: value` is where YAML expects a value: check this line's indentation, or quote a value that holds `: `"
    } else if info.contains("did not find expected key") {
        "; check the indentation of this line against the keys above it"
    } else if info.contains("found character that cannot start any token") {
        "; a tab indents this line (YAML indents with spaces), or a value starting with `@` or a backquote needs quotes"
    } else if info.contains("did not find expected '-' indicator")
        || info.contains("did not find expected node content")
    {
        "; check the indentation of the list items around this line"
    } else {
        ""
    }
}

enum Frame {
    Seq(Vec<Node>, Span, usize),
    Map(MapFrame),
}

struct MapFrame {
    entries: Vec<(Key, Node)>,
    /// The names in `entries` once there are many, so a duplicate is found without scanning
    /// them all (small maps, most of them, are scanned).
    names: std::collections::HashSet<String>,
    span: Span,
    anchor: usize,
    pending: Option<Key>,
    /// Keys that came from a merge (`<<`): a later explicit key replaces them.
    merged: Vec<String>,
}

/// Maps up to this many entries find a key by scanning; bigger ones keep a set.
const SCAN: usize = 16;

impl MapFrame {
    fn has(&self, name: &str) -> bool {
        if self.entries.len() <= SCAN {
            self.entries.iter().any(|(k, _)| k.name == name)
        } else {
            self.names.contains(name)
        }
    }

    fn push(&mut self, key: Key, node: Node) {
        if self.entries.len() == SCAN {
            self.names = self.entries.iter().map(|(k, _)| k.name.clone()).collect();
        }
        if self.entries.len() >= SCAN {
            self.names.insert(key.name.clone());
        }
        self.entries.push((key, node));
    }
}

#[derive(Default)]
struct Builder {
    docs: Vec<Node>,
    stack: Vec<Frame>,
    /// Each anchored node, with the number of values it holds.
    anchors: HashMap<usize, (Node, usize)>,
    /// Values copied by aliases so far in this document.
    aliased: usize,
    /// The number of the text's last line: no span points below it.
    last_line: usize,
}

fn to_span(s: &YSpan, last_line: usize) -> Span {
    if s.start.line() > last_line {
        return Span::new(last_line as u32, 1, 1);
    }
    let len = if s.end.line() == s.start.line() {
        s.end.col().saturating_sub(s.start.col())
    } else {
        1
    };
    Span::new(s.start.line() as u32, s.start.col() as u32 + 1, len as u32)
}

impl Builder {
    fn push(&mut self, event: Event<'_>, yspan: YSpan) -> Result<(), LoadError> {
        let span = to_span(&yspan, self.last_line);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|t| t.suffix.clone());
                let node = Node::new(resolve_scalar(&text, style, tag.as_deref()), span);
                self.value(node, anchor)?;
            }
            Event::SequenceStart(anchor, _) => {
                self.deeper(span)?;
                self.stack.push(Frame::Seq(Vec::new(), span, anchor))
            }
            Event::MappingStart(anchor, _) => {
                self.deeper(span)?;
                self.stack.push(Frame::Map(MapFrame {
                    entries: Vec::new(),
                    names: Default::default(),
                    span,
                    anchor,
                    pending: None,
                    merged: Vec::new(),
                }))
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq(items, span, anchor)) = self.stack.pop() {
                    self.value(Node::new(NodeValue::Seq(items), span), anchor)?;
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map(m)) = self.stack.pop() {
                    self.value(Node::new(NodeValue::Map(m.entries), m.span), m.anchor)?;
                }
            }
            Event::Alias(id) => {
                let (node, size) = self.anchors.get(&id).ok_or_else(|| LoadError {
                    message: "invalid YAML: alias to an unknown anchor".into(),
                    span,
                })?;
                self.aliased = self.aliased.saturating_add(*size);
                if self.aliased > MAX_ALIAS_VALUES {
                    return Err(LoadError {
                        message: format!(
                            "invalid YAML: aliases copy more than {MAX_ALIAS_VALUES} values (a \"billion laughs\" document?): use fewer or smaller anchors"
                        ),
                        span,
                    });
                }
                let node = node.clone();
                self.value(Node { span, ..node }, 0)?;
            }
            Event::DocumentEnd => {
                self.anchors.clear();
                self.aliased = 0;
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentStart(_) | Event::Nothing => {}
        }
        Ok(())
    }

    fn deeper(&self, span: Span) -> Result<(), LoadError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(LoadError {
                message: format!(
                    "invalid YAML: lists and maps nest more than {MAX_DEPTH} levels deep"
                ),
                span,
            });
        }
        Ok(())
    }

    /// Places a finished node: as a document, a list item, a map key or a map value.
    fn value(&mut self, node: Node, anchor: usize) -> Result<(), LoadError> {
        if anchor > 0 {
            let size = count_values(&node);
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq(items, ..)) => items.push(node),
            Some(Frame::Map(m)) => match m.pending.take() {
                None => {
                    let name = match &node.value {
                        NodeValue::Str(s) => s.clone(),
                        NodeValue::Int(i) => i.to_string(),
                        NodeValue::Float(f) => f.to_string(),
                        NodeValue::Bool(b) => b.to_string(),
                        NodeValue::Null => "null".to_string(),
                        // `message: {{ x }}` unquoted reaches us as a map used as a key; keep it
                        // (as `{...}` text) so the flow reader can say "quote the expression".
                        NodeValue::Map(_) => format!("{{{}}}", node.to_json()),
                        NodeValue::Seq(_) => {
                            return Err(LoadError {
                                message: "a map key must be a plain value, not a list or a map"
                                    .into(),
                                span: node.span,
                            });
                        }
                    };
                    if let Some(i) = m.merged.iter().position(|k| *k == name) {
                        m.merged.remove(i);
                        m.entries.retain(|(k, _)| k.name != name);
                    } else if name != "<<" && m.has(&name) {
                        let mut path = key_path(&self.stack);
                        path.push(name);
                        return Err(LoadError {
                            message: format!("Duplicate field '{}'", path.join(".")),
                            span: node.span,
                        });
                    }
                    m.pending = Some(Key {
                        name,
                        span: node.span,
                    });
                }
                Some(key) if key.name == "<<" => merge_into(m, node),
                Some(key) => {
                    m.push(key, node);
                }
            },
        }
        Ok(())
    }
}

/// The keys above the node being read (a map whose key is pending holds it), for messages.
fn key_path(stack: &[Frame]) -> Vec<String> {
    stack
        .iter()
        .filter_map(|f| match f {
            Frame::Map(MapFrame {
                pending: Some(k), ..
            }) => Some(k.name.clone()),
            _ => None,
        })
        .collect()
}

/// YAML merge keys (`<<: *base`): entries already present win.
fn merge_into(frame: &mut MapFrame, node: Node) {
    let sources = match node.value {
        NodeValue::Map(m) => vec![m],
        NodeValue::Seq(items) => items
            .into_iter()
            .filter_map(|n| match n.value {
                NodeValue::Map(m) => Some(m),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    for source in sources {
        for (k, v) in source {
            if !frame.has(&k.name) {
                frame.merged.push(k.name.clone());
                frame.push(k, v);
            }
        }
    }
}

/// The values in a tree (itself included), iteratively: trees can be large.
fn count_values(node: &Node) -> usize {
    let mut count = 0;
    let mut todo = vec![node];
    while let Some(n) = todo.pop() {
        count += 1;
        match &n.value {
            NodeValue::Seq(items) => todo.extend(items.iter()),
            NodeValue::Map(entries) => todo.extend(entries.iter().map(|(_, v)| v)),
            _ => {}
        }
    }
    count
}

fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> NodeValue {
    if let Some(tag) = tag {
        match tag {
            "str" => return NodeValue::Str(text.to_string()),
            "int" => {
                if let Some(v) = parse_int(text) {
                    return NodeValue::Int(v);
                }
            }
            "float" => {
                if let Some(v) = parse_float(text).or_else(|| parse_int(text).map(|i| i as f64)) {
                    return NodeValue::Float(v);
                }
            }
            "bool" => {
                if let Some(b) = parse_bool(text) {
                    return NodeValue::Bool(b);
                }
            }
            "null" => return NodeValue::Null,
            _ => {}
        }
    }
    if style != ScalarStyle::Plain {
        return NodeValue::Str(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return NodeValue::Null,
        _ => {}
    }
    if let Some(b) = parse_bool(text) {
        return NodeValue::Bool(b);
    }
    if let Some(i) = parse_int(text) {
        return NodeValue::Int(i);
    }
    if let Some(f) = parse_float(text) {
        return NodeValue::Float(f);
    }
    NodeValue::Str(text.to_string())
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

fn parse_int(text: &str) -> Option<i64> {
    let (neg, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let value = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if let Some(oct) = digits.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -value } else { value })
}

fn parse_float(text: &str) -> Option<f64> {
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    // YAML 1.2 core: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], Some(&mantissa[i + 1..])),
        None => (mantissa, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let ok_mantissa = match frac {
        Some(f) => digits(int) && digits(f) && !(int.is_empty() && f.is_empty()),
        None => !int.is_empty() && digits(int) && exp.is_some(),
    };
    let ok_exp = exp.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    if ok_mantissa && ok_exp {
        text.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        load_str(text).unwrap().remove(0)
    }

    #[test]
    fn scalars_follow_the_core_schema() {
        let n =
            one("a: 1\nb: 1.5\nc: true\nd: ~\ne: '1'\nf: yes\ng: 0x1f\nh: 1e3\ni: .5\nj: 1.2.3\n");
        let v = |k: &str| n.get(k).unwrap().value.clone();
        assert_eq!(v("a"), NodeValue::Int(1));
        assert_eq!(v("b"), NodeValue::Float(1.5));
        assert_eq!(v("c"), NodeValue::Bool(true));
        assert_eq!(v("d"), NodeValue::Null);
        assert_eq!(v("e"), NodeValue::Str("1".into()));
        assert_eq!(v("f"), NodeValue::Str("yes".into()));
        assert_eq!(v("g"), NodeValue::Int(31));
        assert_eq!(v("h"), NodeValue::Float(1000.0));
        assert_eq!(v("i"), NodeValue::Float(0.5));
        assert_eq!(v("j"), NodeValue::Str("1.2.3".into()));
    }

    #[test]
    fn positions_are_one_based() {
        let n = one("id: x\ntasks:\n  - id: a\n    type: t\n");
        let task = &n.get("tasks").unwrap().as_seq().unwrap()[0];
        let (key, value) = task.entry("type").unwrap();
        assert_eq!((key.span.line, key.span.col), (4, 5));
        assert_eq!(
            (value.span.line, value.span.col, value.span.len),
            (4, 11, 1)
        );
    }

    #[test]
    fn duplicate_keys_name_the_path() {
        let err = load_str("variables:\n  tf: 1\n  tf: 2\n").unwrap_err();
        assert_eq!(err.message, "Duplicate field 'variables.tf'");
        assert_eq!((err.span.line, err.span.col), (3, 3));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = load_str("a:\n  - b\n c: [\n").unwrap_err();
        assert!(err.message.starts_with("invalid YAML"), "{}", err.message);
        assert!(err.span.line >= 3);
    }

    #[test]
    fn a_nul_character_is_named_where_it_is() {
        let err = load_str("id: x\nmessage: \"hi\0there\"\n").unwrap_err();
        assert!(err.message.contains("NUL character"), "{}", err.message);
        assert_eq!((err.span.line, err.span.col), (2, 13));
    }

    #[test]
    fn indentation_mistakes_get_a_hint() {
        let err = load_str("id: x\ntasks:\n  - id: a\n    type: t\n   message: hi\n").unwrap_err();
        assert!(err.message.contains("indentation"), "{}", err.message);
        let err = load_str("a: b: c\n").unwrap_err();
        assert!(
            err.message
                .contains("mapping values are not allowed in this context; a `key: value`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn what_the_parser_finds_at_the_end_points_at_the_last_line() {
        // `? ` is a map whose key and value are implicit nulls the parser places on line 2.
        let n = one("? ");
        let NodeValue::Map(entries) = &n.value else {
            panic!("{n:?}")
        };
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].0.span.line, 1);
        assert!(entries[0].1.span.line <= 1);
        assert_eq!(load_str("a: [").unwrap_err().span.line, 1);
    }

    #[test]
    fn several_documents_and_anchors() {
        let docs = load_str("a: &x {k: 1}\nb: *x\n---\nc: 2\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(
            docs[0].get("b").unwrap().to_json(),
            docs[0].get("a").unwrap().to_json()
        );
        assert_eq!(docs[1].get("c").unwrap().value, NodeValue::Int(2));
    }

    #[test]
    fn merge_keys_fill_missing_entries() {
        let n = one("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n");
        assert_eq!(
            n.get("m").unwrap().to_json().to_string(),
            r#"{"x":1,"y":3}"#
        );
    }
}
