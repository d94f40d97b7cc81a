//! `io.kestra.plugin.serdes.xml`: Ion rows to an XML document (one `<item>` per row, written as
//! they come) and XML to Ion rows, typed as org.json reads XML (numbers, booleans, attributes as
//! keys, repeated elements as lists). With a `query` path the records are the path's last
//! elements, read one at a time; without one the document is read whole (bounded).

use crate::blocking::{self, IonFile};
use crate::files::utf8_only;
use crate::java::java_double;
use crate::java_values::{Temporal, temporal};
use base64::Engine;
use quick_xml::events::Event;
use runner_core::plugin::*;
use runner_ion::IonValue;
use serde::Deserialize;
use serde_json::{Map, Value as Json};
use std::io::{BufRead, Write};

/// The largest document read whole (without `query`).
const MAX_DOCUMENT: u64 = 64 * 1024 * 1024;
/// How deep elements may nest.
const MAX_DEPTH: usize = 256;

pub(crate) const ION_TO_XML: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.serdes.xml.IonToXml",
    aliases: &["io.kestra.plugin.serdes.xml.XmlWriter"],
    doc: "Convert an Ion file of the execution to XML: one `<item>` per row inside `<rootName>`. Outputs: `uri`, `size`.",
    example: "id: to_xml\ntype: io.kestra.plugin.serdes.xml.IonToXml\nfrom: \"{{ outputs.query.uri }}\"\nrootName: users",
    shape: runnable::<IonToXml>(),
};

pub(crate) const XML_TO_ION: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.serdes.xml.XmlToIon",
    aliases: &["io.kestra.plugin.serdes.xml.XmlReader"],
    doc: "Convert an XML file of the execution to Ion: the elements `query` names (a `/`-separated path from the root), or the document's repeated items. Outputs: `uri`, `size`.",
    example: "id: to_ion\ntype: io.kestra.plugin.serdes.xml.XmlToIon\nfrom: \"{{ outputs.download.uri }}\"\nquery: /catalog/book",
    shape: runnable::<XmlToIon>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct IonToXml {
    /// The kestra:/// Ion file.
    from: Property<String>,
    /// The root element's name (default `items`).
    root_name: Option<Property<String>>,
    /// Output encoding: UTF-8.
    charset: Option<Property<String>>,
    /// Zone zoned date-times are shown in (default: the machine's).
    time_zone_id: Option<Property<String>>,
}

/// Kestra's `parserConfiguration`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ParserConfiguration {
    force_list: Option<Property<Vec<String>>>,
}

impl PropType for ParserConfiguration {
    const NAME: &'static str = "XML parser configuration";
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct XmlToIon {
    /// The kestra:/// XML file.
    from: Property<String>,
    /// Input encoding: UTF-8.
    charset: Option<Property<String>>,
    /// A `/`-separated path of element names from the root (`/catalog/book`): each such element is a record.
    query: Option<Property<String>>,
    /// `forceList`: element names always read as lists.
    parser_configuration: Option<ParserConfiguration>,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.to_ascii_lowercase().starts_with("xml")
}

fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            // XML 1.0 cannot hold these control characters at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// A scalar's text as Jackson writes it in XML.
fn scalar(v: &IonValue, zone: &jiff::tz::TimeZone) -> String {
    if let Some(t) = temporal(v) {
        return match t {
            Temporal::Zoned(z) => {
                let moved = z.timestamp().to_zoned_datetime(zone.clone());
                Temporal::Zoned(
                    jiff::tz::Offset::from_seconds(moved.offset().seconds())
                        .map(|o| {
                            moved
                                .timestamp()
                                .to_zoned_datetime(jiff::tz::TimeZone::fixed(o))
                        })
                        .unwrap_or(moved),
                )
                .java_string()
            }
            other => other.java_string(),
        };
    }
    match v {
        IonValue::Null => String::new(),
        IonValue::Bool(b) => b.to_string(),
        IonValue::Int(i) => i.to_string(),
        IonValue::Decimal(d) => crate::java::java_decimal(d),
        IonValue::Float(f) => java_double(*f),
        IonValue::Blob(b) => base64::engine::general_purpose::STANDARD.encode(b),
        IonValue::Annotated(_, inner) => scalar(inner, zone),
        other => crate::java_values::java_string(other),
    }
}

/// One field as elements: `<name>value</name>`; a list repeats the name inside a wrapper of
/// the same name, as Jackson's XML mapper does.
fn element(
    name: &str,
    v: &IonValue,
    depth: usize,
    zone: &jiff::tz::TimeZone,
    out: &mut String,
) -> Result<(), String> {
    if !valid_name(name) {
        return Err(format!(
            "the field name `{name}` is not an XML element name"
        ));
    }
    if depth > MAX_DEPTH {
        return Err("values nested deeper than 256 levels".into());
    }
    let pad = "  ".repeat(depth);
    let v = match v {
        IonValue::Annotated(_, inner) if temporal(v).is_none() => inner.as_ref(),
        other => other,
    };
    match v {
        IonValue::Null => out.push_str(&format!("{pad}<{name}/>\n")),
        IonValue::Struct(fields) => {
            out.push_str(&format!("{pad}<{name}>\n"));
            for (k, x) in fields {
                element(k, x, depth + 1, zone, out)?;
            }
            out.push_str(&format!("{pad}</{name}>\n"));
        }
        IonValue::List(items) | IonValue::SExp(items) => {
            out.push_str(&format!("{pad}<{name}>\n"));
            for x in items {
                element(name, x, depth + 1, zone, out)?;
            }
            out.push_str(&format!("{pad}</{name}>\n"));
        }
        scalar_value => {
            out.push_str(&format!("{pad}<{name}>"));
            escape(&scalar(scalar_value, zone), out);
            out.push_str(&format!("</{name}>\n"));
        }
    }
    Ok(())
}

impl RunnableTask for IonToXml {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            let root = ctx
                .render_opt(&self.root_name, "rootName")?
                .unwrap_or_else(|| "items".into());
            if !valid_name(&root) {
                return Err(TaskError::property(
                    "rootName",
                    format!("`{root}` is not an XML element name"),
                ));
            }
            utf8_only(ctx.render_opt(&self.charset, "charset")?)?;
            let zone = ctx.render_time_zone(&self.time_zone_id, "timeZoneId")?;
            let path = ctx.execution_file_path(&from)?;
            let (uri, out_path) = blocking::output_file(ctx, "xml")?;
            let job_uri = uri.clone();
            let size = blocking::run(move |stop| {
                let partial = PartialFile::new(&out_path);
                let file = std::fs::File::create(&out_path)
                    .map_err(|e| blocking::write_error(&job_uri, e))?;
                let mut out = std::io::BufWriter::with_capacity(256 * 1024, file);
                let write = |out: &mut std::io::BufWriter<std::fs::File>, text: &str| {
                    out.write_all(text.as_bytes())
                        .map_err(|e| blocking::write_error(&job_uri, e))
                };
                write(
                    &mut out,
                    &format!("<?xml version='1.0' encoding='UTF-8'?>\n<{root}>\n"),
                )?;
                let mut rows = IonFile::open(&from, &path)?;
                let (mut size, mut text) = (0u64, String::new());
                while let Some((at, row)) = rows.next_value()? {
                    if size.is_multiple_of(1024) {
                        stop.check()?;
                    }
                    text.clear();
                    element("item", &row, 1, &zone, &mut text).map_err(|e| rows.error(at, &e))?;
                    write(&mut out, &text)?;
                    size += 1;
                }
                write(&mut out, &format!("</{root}>\n"))?;
                out.flush()
                    .map_err(|e| blocking::write_error(&job_uri, e))?;
                partial.keep();
                Ok(size)
            })
            .await?;
            crate::avro::records_metric(ctx, size);
            Ok(Outputs::from_iter([
                ("uri".to_string(), Json::String(uri)),
                ("size".to_string(), Json::from(size)),
            ]))
        })
    }
}

/// org.json's `stringToValue`: booleans, null, numbers (no leading zeros), else the text.
fn typed(text: &str) -> Json {
    let t = text.trim();
    if t.eq_ignore_ascii_case("true") {
        return Json::Bool(true);
    }
    if t.eq_ignore_ascii_case("false") {
        return Json::Bool(false);
    }
    if t.eq_ignore_ascii_case("null") {
        return Json::Null;
    }
    let digits = t.strip_prefix('-').unwrap_or(t);
    let numeric = digits.chars().next().is_some_and(|c| c.is_ascii_digit())
        && !(digits.len() > 1 && digits.starts_with('0') && !digits.starts_with("0."));
    if numeric {
        if let Ok(i) = t.parse::<i64>() {
            return Json::from(i);
        }
        if let Ok(n) = t.parse::<serde_json::Number>() {
            return Json::Number(n);
        }
    }
    Json::String(text.to_string())
}

/// An element being read: its attributes and children as keys, its text.
#[derive(Default)]
struct Building {
    name: String,
    map: Map<String, Json>,
    text: String,
    has_children: bool,
}

impl Building {
    fn add(&mut self, key: String, v: Json, force_list: &[String]) {
        match self.map.get_mut(&key) {
            Some(Json::Array(items)) => items.push(v),
            Some(existing) => {
                let first = std::mem::take(existing);
                *existing = Json::Array(vec![first, v]);
            }
            None if force_list.contains(&key) => {
                self.map.insert(key, Json::Array(vec![v]));
            }
            None => {
                self.map.insert(key, v);
            }
        }
    }

    /// The element's value: typed text alone, an empty string when empty, else its map with
    /// the text as `content`.
    fn value(mut self) -> Json {
        let text = self.text.trim();
        if self.map.is_empty() && !self.has_children {
            return if text.is_empty() {
                Json::String(String::new())
            } else {
                typed(text)
            };
        }
        if !text.is_empty() {
            let t = typed(text);
            self.map.insert("content".into(), t);
        }
        Json::Object(self.map)
    }
}

fn local(name: &str) -> String {
    name.to_string()
}

fn bad(from: &str, e: impl std::fmt::Display) -> TaskError {
    TaskError::new(
        ErrorKind::BadData,
        format!("{from} is not well-formed XML: {e}"),
    )
}

/// Reads elements from `reader` with `emit(name, value)` for each element closed at `target`
/// depth (1: the root's children ...); elements above it are only walked.
fn read_elements<R: BufRead>(
    from: &str,
    reader: &mut quick_xml::Reader<R>,
    force_list: &[String],
    keep: &mut dyn FnMut(usize, &str) -> bool,
    emit: &mut dyn FnMut(String, Json) -> Result<(), TaskError>,
) -> Result<(), TaskError> {
    let mut buf = Vec::new();
    // The open elements being built (only inside a kept element).
    let mut stack: Vec<Building> = Vec::new();
    let mut depth = 0usize;
    // The depth at which the current kept element started.
    let mut kept_at: Option<usize> = None;
    loop {
        buf.clear();
        let event = reader.read_event_into(&mut buf).map_err(|e| bad(from, e))?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                let empty = matches!(event, Event::Empty(_));
                let name = local(start.name().as_ref());
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(bad(from, "elements nested deeper than 256 levels"));
                }
                if kept_at.is_none() && keep(depth, &name) {
                    kept_at = Some(depth);
                }
                if kept_at.is_some() {
                    let mut b = Building {
                        name: name.clone(),
                        ..Building::default()
                    };
                    for attr in start.attributes() {
                        let attr = attr.map_err(|e| bad(from, e))?;
                        let key = local(attr.key.as_ref());
                        if key.starts_with("xmlns") {
                            continue;
                        }
                        let value = attr
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .map_err(|e| bad(from, e))?;
                        b.add(key, typed(&value), force_list);
                    }
                    if let Some(parent) = stack.last_mut() {
                        parent.has_children = true;
                    }
                    stack.push(b);
                }
                if empty {
                    close(&mut stack, &mut depth, &mut kept_at, force_list, emit)?;
                }
            }
            Event::End(_) => close(&mut stack, &mut depth, &mut kept_at, force_list, emit)?,
            Event::Text(t) => {
                if let Some(b) = stack.last_mut() {
                    b.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(b) = stack.last_mut() {
                    b.text.push_str(&t.xml10_content());
                }
            }
            // `&amp;`, `&#233;`: references come apart from the text around them.
            Event::GeneralRef(r) => {
                if let Some(b) = stack.last_mut() {
                    if let Some(c) = r.resolve_char_ref().map_err(|e| bad(from, e))? {
                        b.text.push(c);
                    } else {
                        let name = r.xml10_content();
                        match quick_xml::escape::resolve_predefined_entity(&name) {
                            Some(text) => b.text.push_str(text),
                            None => {
                                return Err(bad(
                                    from,
                                    format!(
                                        "the entity `&{name};` is not defined (DTDs are not read)"
                                    ),
                                ));
                            }
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(())
}

fn close(
    stack: &mut Vec<Building>,
    depth: &mut usize,
    kept_at: &mut Option<usize>,
    force_list: &[String],
    emit: &mut dyn FnMut(String, Json) -> Result<(), TaskError>,
) -> Result<(), TaskError> {
    if kept_at.is_some() {
        if let Some(done) = stack.pop() {
            let name = done.name.clone();
            let value = done.value();
            match stack.last_mut() {
                Some(parent) => parent.add(name, value, force_list),
                None => emit(name, value)?,
            }
        }
        if *kept_at == Some(*depth) {
            *kept_at = None;
        }
    }
    *depth = depth.saturating_sub(1);
    Ok(())
}

impl RunnableTask for XmlToIon {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            utf8_only(ctx.render_opt(&self.charset, "charset")?)?;
            let query = ctx.render_opt(&self.query, "query")?;
            let force_list = match &self.parser_configuration {
                Some(c) => ctx
                    .render_opt(&c.force_list, "parserConfiguration.forceList")?
                    .unwrap_or_default(),
                None => Vec::new(),
            };
            let path = ctx.execution_file_path(&from)?;
            let (uri, out_path) = blocking::output_file(ctx, "ion")?;
            let job_uri = uri.clone();
            let size = blocking::run(move |stop| {
                let input = std::fs::File::open(&path)
                    .map_err(|e| TaskError::new(ErrorKind::Io, format!("cannot read {from}")).caused_by(e))?;
                let partial = PartialFile::new(&out_path);
                let file = std::fs::File::create(&out_path).map_err(|e| blocking::write_error(&job_uri, e))?;
                let mut out = std::io::BufWriter::with_capacity(256 * 1024, file);
                let mut size = 0u64;
                let mut text = String::new();
                let mut write = |v: &Json| -> Result<(), TaskError> {
                    text.clear();
                    runner_ion::write_json(v, &mut text);
                    text.push('\n');
                    size += 1;
                    if size.is_multiple_of(1024) {
                        stop.check()?;
                    }
                    out.write_all(text.as_bytes()).map_err(|e| blocking::write_error(&job_uri, e))
                };
                match query {
                    Some(q) => {
                        let names: Vec<String> = q.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect();
                        if names.is_empty() {
                            return Err(TaskError::property("query", "names no element: give a path such as /catalog/book"));
                        }
                        let mut reader = quick_xml::Reader::from_reader(std::io::BufReader::with_capacity(256 * 1024, input));
                        // An element is walked while its path is a prefix of the query; the
                        // query's last elements are records.
                        let mut path_ok: Vec<bool> = vec![true];
                        let mut keep = |depth: usize, name: &str| -> bool {
                            path_ok.truncate(depth);
                            let parent_ok = path_ok.last().copied().unwrap_or(false);
                            let here = parent_ok && names.get(depth - 1).is_some_and(|n| n == name);
                            path_ok.push(here);
                            here && depth == names.len()
                        };
                        let mut emit = |_: String, v: Json| write(&v);
                        read_elements(&from, &mut reader, &force_list, &mut keep, &mut emit)?;
                    }
                    None => {
                        let meta = input.metadata().map_err(|e| TaskError::new(ErrorKind::Io, format!("cannot read {from}")).caused_by(e))?;
                        if meta.len() > MAX_DOCUMENT {
                            return Err(TaskError::new(
                                ErrorKind::BadData,
                                format!("{from} is larger than 64 MiB: without `query` the document is read whole"),
                            )
                            .hint("give `query`, the path of the elements that are the records, to read them one at a time"));
                        }
                        let mut reader = quick_xml::Reader::from_reader(std::io::BufReader::new(input));
                        let mut root: Option<(String, Json)> = None;
                        let mut keep = |depth: usize, _: &str| depth == 1;
                        let mut emit = |name: String, v: Json| {
                            root = Some((name, v));
                            Ok(())
                        };
                        read_elements(&from, &mut reader, &force_list, &mut keep, &mut emit)?;
                        for record in document_records(root) {
                            write(&record)?;
                        }
                    }
                }
                out.flush().map_err(|e| blocking::write_error(&job_uri, e))?;
                partial.keep();
                Ok(size)
            })
            .await?;
            crate::avro::records_metric(ctx, size);
            Ok(Outputs::from_iter([
                ("uri".to_string(), Json::String(uri)),
                ("size".to_string(), Json::from(size)),
            ]))
        })
    }
}

/// Kestra's records of a whole document `{root: value}`: the elements of a list that is the
/// root's value or its only child's value, else the document as one record.
fn document_records(root: Option<(String, Json)>) -> Vec<Json> {
    let Some((name, value)) = root else {
        return vec![Json::Object(Map::new())];
    };
    match value {
        Json::Array(items) => items,
        Json::Object(map) if map.len() == 1 && map.values().next().is_some_and(Json::is_array) => {
            match map.into_iter().next() {
                Some((_, Json::Array(items))) => items,
                _ => Vec::new(),
            }
        }
        other => {
            let mut doc = Map::new();
            doc.insert(name, other);
            vec![Json::Object(doc)]
        }
    }
}
