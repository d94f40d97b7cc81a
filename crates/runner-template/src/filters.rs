//! Kestra's filters (and Pebble's, where they differ from minijinja's).

use crate::{args::Args, dates, json_of, value_of};
use base64::Engine;
use minijinja::value::{Rest, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error, ErrorKind, Value};
use serde_json::Value as Json;

fn fail(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

fn text(v: &Value) -> String {
    match v.as_str() {
        Some(s) => s.to_string(),
        None if v.is_none() || v.is_undefined() => String::new(),
        None => v.to_string(),
    }
}

pub(crate) fn register(env: &mut Environment<'static>) {
    type F = fn(Value, Rest<ValueOrKwargs>) -> Result<Value, Error>;
    let filters: &[(&str, F)] = &[
        ("abbreviate", abbreviate),
        ("base64encode", |v, _| {
            Ok(Value::from(
                base64::engine::general_purpose::STANDARD.encode(text(&v)),
            ))
        }),
        ("base64decode", base64decode),
        ("capitalize", |v, _| {
            let s = text(&v);
            let mut c = s.chars();
            Ok(Value::from(
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect::<String>())
                    .unwrap_or_default(),
            ))
        }),
        ("title", |v, _| {
            let mut out = String::new();
            let mut start = true;
            for c in text(&v).chars() {
                if start && c.is_alphabetic() {
                    out.extend(c.to_uppercase());
                } else {
                    out.push(c);
                }
                start = c.is_whitespace();
            }
            Ok(Value::from(out))
        }),
        ("chunk", chunk),
        ("date", date),
        ("dateAdd", date_add),
        ("default", default),
        ("endsWith", |v, a| {
            Ok(Value::from(text(&v).ends_with(&text(
                &Args::new(a)?.req(0, "value", "endsWith")?,
            ))))
        }),
        ("escapeChar", escape_char),
        ("first", first),
        ("flatten", flatten),
        ("indent", |v, a| indent(v, a, false)),
        ("nindent", |v, a| indent(v, a, true)),
        ("join", |v, a| {
            let sep = Args::new(a)?
                .get(0, "separator")
                .map(|s| text(&s))
                .unwrap_or_default();
            let items: Vec<String> = v.try_iter()?.map(|i| crate::java_string(&i)).collect();
            Ok(Value::from(items.join(&sep)))
        }),
        ("json", to_json),
        ("toJson", to_json),
        ("keys", keys),
        ("last", last),
        ("md5", |v, _| {
            Ok(Value::from(hex(&md5::Md5::digest_bytes(
                text(&v).as_bytes(),
            ))))
        }),
        ("sha1", |v, _| {
            Ok(Value::from(hex(&sha1::Sha1::digest_bytes(
                text(&v).as_bytes(),
            ))))
        }),
        ("sha256", |v, _| {
            Ok(Value::from(hex(&sha2::Sha256::digest_bytes(
                text(&v).as_bytes(),
            ))))
        }),
        ("sha512", |v, _| {
            Ok(Value::from(hex(&sha2::Sha512::digest_bytes(
                text(&v).as_bytes(),
            ))))
        }),
        ("merge", merge),
        ("number", number),
        ("numberFormat", number_format),
        ("replace", replace),
        ("rsort", |v, _| {
            let mut items: Vec<Value> = v.try_iter()?.collect();
            items.sort_by(|a, b| b.cmp(a));
            Ok(Value::from(items))
        }),
        ("slice", slice),
        ("slugify", |v, _| Ok(Value::from(crate::slugify(&text(&v))))),
        ("startsWith", |v, a| {
            Ok(Value::from(text(&v).starts_with(&text(
                &Args::new(a)?.req(0, "value", "startsWith")?,
            ))))
        }),
        ("substringBefore", |v, a| {
            substring(v, a, "substringBefore", |s, sep| {
                s.find(sep)
                    .map(|i| s[..i].to_string())
                    .unwrap_or_else(|| s.to_string())
            })
        }),
        ("substringAfter", |v, a| {
            substring(v, a, "substringAfter", |s, sep| {
                s.find(sep)
                    .map(|i| s[i + sep.len()..].to_string())
                    .unwrap_or_default()
            })
        }),
        ("substringBeforeLast", |v, a| {
            substring(v, a, "substringBeforeLast", |s, sep| {
                s.rfind(sep)
                    .map(|i| s[..i].to_string())
                    .unwrap_or_else(|| s.to_string())
            })
        }),
        ("substringAfterLast", |v, a| {
            substring(v, a, "substringAfterLast", |s, sep| {
                s.rfind(sep)
                    .map(|i| s[i + sep.len()..].to_string())
                    .unwrap_or_default()
            })
        }),
        ("timestamp", |v, a| timestamp(v, a, 0)),
        ("timestampMicro", |v, a| timestamp(v, a, 1)),
        ("timestampNano", |v, a| timestamp(v, a, 2)),
        ("toIon", to_ion),
        ("urldecode", urldecode),
        ("urlencode", |v, _| {
            // Java's URLEncoder (form encoding), as Pebble's filter: spaces become `+`.
            let mut out = String::new();
            for b in text(&v).bytes() {
                match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                        out.push(b as char)
                    }
                    b' ' => out.push('+'),
                    _ => out.push_str(&format!("%{b:02X}")),
                }
            }
            Ok(Value::from(out))
        }),
        ("values", values),
        ("yaml", |v, _| {
            Ok(Value::from(crate::yaml::to_yaml(&json_of(&v))))
        }),
    ];
    for (name, f) in filters {
        env.add_filter(*name, *f);
    }
}

trait DigestBytes {
    fn digest_bytes(data: &[u8]) -> Vec<u8>;
}

impl<D: sha2::Digest> DigestBytes for D {
    fn digest_bytes(data: &[u8]) -> Vec<u8> {
        D::digest(data).to_vec()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn abbreviate(v: Value, a: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let max = Args::new(a)?.req(0, "length", "abbreviate")?;
    let max =
        usize::try_from(max).map_err(|_| fail("abbreviate: `length` must be a positive number"))?;
    let s = text(&v);
    if s.chars().count() <= max {
        return Ok(Value::from(s));
    }
    let keep = max.saturating_sub(3);
    Ok(Value::from(format!(
        "{}...",
        s.chars().take(keep).collect::<String>()
    )))
}

fn base64decode(v: Value, _: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let s = text(&v);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| fail(format!("base64decode: the input is not base64 ({e})")))?;
    Ok(Value::from(String::from_utf8_lossy(&bytes).into_owned()))
}

/// The Java class Kestra's messages name for a value read from JSON (Jackson's choices).
fn java_class(v: &Value) -> &'static str {
    match v.kind() {
        ValueKind::Number if v.is_integer() => match i64::try_from(v.clone()) {
            Ok(i) if i32::try_from(i).is_ok() => "java.lang.Integer",
            Ok(_) => "java.lang.Long",
            Err(_) => "java.math.BigInteger",
        },
        ValueKind::Number => "java.lang.Double",
        ValueKind::String => "java.lang.String",
        ValueKind::Bool => "java.lang.Boolean",
        ValueKind::Map => "java.util.LinkedHashMap",
        ValueKind::Seq => "java.util.ArrayList",
        ValueKind::Bytes => "[B",
        _ => "null",
    }
}

fn chunk(v: Value, a: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let size = usize::try_from(Args::new(a)?.req(0, "size", "chunk")?)
        .map_err(|_| fail("chunk: `size` must be a positive number"))?;
    if size == 0 {
        return Err(fail("chunk: `size` must be a positive number"));
    }
    if v.kind() != ValueKind::Seq {
        return Err(fail(format!(
            "'chunk' filter can only be applied to List. Actual type was: {}",
            java_class(&v)
        )));
    }
    let items: Vec<Value> = v.try_iter()?.collect();
    Ok(Value::from(
        items
            .chunks(size)
            .map(|c| Value::from(c.to_vec()))
            .collect::<Vec<_>>(),
    ))
}

fn date(v: Value, a: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let args = Args::new(a)?;
    let format = args
        .get(0, "format")
        .map(|f| text(&f))
        .unwrap_or_else(|| "iso".into());
    let tz_name = args.get(1, "timeZone").map(|t| text(&t));
    let existing = args.get(2, "existingFormat").map(|t| text(&t));
    args.finish()?;
    let tz = dates::zone(tz_name.as_deref()).map_err(fail)?;
    let z = dates::to_zoned(&v, &tz, existing.as_deref()).map_err(fail)?;
    Ok(Value::from(
        dates::format(&z, &format, Some(&tz)).map_err(fail)?,
    ))
}

fn date_add(v: Value, a: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let args = Args::new(a)?;
    let amount = i64::try_from(args.req(0, "amount", "dateAdd")?)
        .map_err(|_| fail("dateAdd: `amount` must be a whole number"))?;
    let unit = text(&args.req(1, "unit", "dateAdd")?);
    let format = args
        .get(2, "format")
        .map(|f| text(&f))
        .unwrap_or_else(|| "iso".into());
    let tz_name = args.get(3, "timeZone").map(|t| text(&t));
    let existing = args.get(4, "existingFormat").map(|t| text(&t));
    args.finish()?;
    let tz = dates::zone(tz_name.as_deref()).map_err(fail)?;
    let z = dates::to_zoned(&v, &tz, existing.as_deref()).map_err(fail)?;
    let z = dates::add(&z, amount, &unit).map_err(fail)?;
    Ok(Value::from(
        dates::format(&z, &format, Some(&tz)).map_err(fail)?,
    ))
}

fn timestamp(v: Value, a: Rest<ValueOrKwargs>, precision: u8) -> Result<Value, Error> {
    let args = Args::new(a)?;
    let tz_name = args.get(0, "timeZone").map(|t| text(&t));
    let existing = args.get(1, "existingFormat").map(|t| text(&t));
    args.finish()?;
    let tz = dates::zone(tz_name.as_deref()).map_err(fail)?;
    let z = dates::to_zoned(&v, &tz, existing.as_deref()).map_err(fail)?;
    let secs = z.timestamp().as_second();
    let nanos = i64::from(z.subsec_nanosecond());
    // Kestra's micro and nano variants add the sub-second part to seconds scaled to nanoseconds.
    let scaled = |extra: i64| {
        secs.checked_mul(1_000_000_000)
            .and_then(|n| n.checked_add(extra))
            .ok_or_else(|| fail("timestamp: the date is too far for a nanosecond count"))
    };
    Ok(Value::from(match precision {
        0 => secs,
        1 => scaled(nanos / 1000)?,
        _ => scaled(nanos)?,
    }))
}

fn default(v: Value, a: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let fallback = Args::new(a)?
        .get(0, "default")
        .unwrap_or_else(|| Value::from(""));
    let empty = v.is_undefined()
        || v.is_none()
        || v.as_str().is_some_and(str::is_empty)
        || (matches!(v.kind(), ValueKind::Seq | ValueKind::Map) && v.len() == Some(0));
    Ok(if empty { fallback } else { v })
}

fn escape_char(v: Value, a: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let kind = text(&Args::new(a)?.req(0, "type", "escapeChar")?);
    let s = text(&v);
    Ok(Value::from(match kind.as_str() {
        "single" => s.replace('\'', "\\'"),
        "double" => s.replace('"', "\\\""),
        "shell" => s.replace('\'', "'\\''"),
        other => {
            return Err(fail(format!(
                "escapeChar: unknown type `{other}` (use single, double or shell)"
            )));
        }
    }))
}

fn first(v: Value, _: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    if let Some(s) = v.as_str() {
        return Ok(s
            .chars()
            .next()
            .map(|c| Value::from(c.to_string()))
            .unwrap_or_else(|| Value::from(())));
    }
    Ok(v.try_iter()?.next().unwrap_or_else(|| Value::from(())))
}

fn last(v: Value, _: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    if let Some(s) = v.as_str() {
        return Ok(s
            .chars()
            .last()
            .map(|c| Value::from(c.to_string()))
            .unwrap_or_else(|| Value::from(())));
    }
    Ok(v.try_iter()?.last().unwrap_or_else(|| Value::from(())))
}

fn flatten(v: Value, _: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut out = Vec::new();
    for item in v.try_iter()? {
        if item.kind() == ValueKind::Seq {
            out.extend(item.try_iter()?);
        } else {
            out.push(item);
        }
    }
    Ok(Value::from(out))
}

/// `indent(amount, prefix=" ")`: every line but the first; `nindent` adds a line break first and
/// indents every line. Line breaks are kept as found (`\r\n`, `\r` or `\n`).
fn indent(v: Value, a: Rest<ValueOrKwargs>, leading: bool) -> Result<Value, Error> {
    let args = Args::new(a)?;
    let amount =
        usize::try_from(args.req(0, "amount", if leading { "nindent" } else { "indent" })?)
            .map_err(|_| fail("indent: `amount` must be a positive number"))?;
    let prefix = args
        .get(1, "prefix")
        .map(|p| text(&p))
        .unwrap_or_else(|| " ".into());
    args.finish()?;
    if v.is_none() || v.is_undefined() {
        return Ok(Value::from(""));
    }
    let s = text(&v);
    let sep = if s.contains("\r\n") {
        "\r\n"
    } else if s.contains('\r') {
        "\r"
    } else {
        "\n"
    };
    let lines: Vec<&str> = s.split(sep).collect();
    // The result is built here, outside the render's output limit: bound it first.
    let grown = lines
        .len()
        .checked_mul(amount)
        .and_then(|n| n.checked_mul(prefix.len()))
        .and_then(|n| n.checked_add(s.len()));
    let limit = crate::current_limits().max_output;
    if grown.is_none_or(|n| n > limit) {
        return Err(fail(format!(
            "indent: {amount} characters on {} line(s) would exceed the {} MiB render limit",
            lines.len(),
            limit / (1024 * 1024)
        )));
    }
    let pad = prefix.repeat(amount);
    let body = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 && !leading {
                l.to_string()
            } else {
                format!("{pad}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join(sep);
    Ok(Value::from(if leading {
        format!("{sep}{body}")
    } else {
        body
    }))
}

pub(crate) fn jq(
    v: Value,
    a: Rest<ValueOrKwargs>,
    sandbox: Option<&crate::JqSandbox>,
) -> Result<Value, Error> {
    let filter = text(&Args::new(a)?.req(0, "expression", "jq")?);
    // Kestra reads a string input as JSON first (`outputs.req.body | jq(...)` where the body is
    // the response text); a string that is not JSON stays a string.
    let input = match v.as_str().map(serde_json::from_str::<Json>) {
        Some(Ok(parsed)) => parsed,
        _ => json_of(&v),
    };
    let out = crate::jq::run(&filter, &input, sandbox).map_err(fail)?;
    Ok(value_of(&Json::Array(out)))
}

fn to_json(v: Value, _: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    Ok(Value::from(
        serde_json::to_string(&json_of(&v)).map_err(|e| fail(e.to_string()))?,
    ))
}

fn to_ion(v: Value, _: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut out = String::new();
    runner_ion::write_json(&json_of(&v), &mut out);
    Ok(Value::from(out))
}

fn keys(v: Value, _: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    match v.kind() {
        ValueKind::Seq => Ok(Value::from(
            (0..v.len().unwrap_or(0) as i64).collect::<Vec<_>>(),
        )),
        ValueKind::Map => Ok(Value::from(v.try_iter()?.collect::<Vec<_>>())),
        other => Err(fail(format!(
            "'keys' filter can only be applied to a map or a list, not {other}"
        ))),
    }
}

fn values(v: Value, _: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    match json_of(&v) {
        Json::Object(m) => Ok(value_of(&Json::Array(
            m.into_iter().map(|(_, v)| v).collect(),
        ))),
        Json::Array(a) => Ok(value_of(&Json::Array(a))),
        _ => Err(fail(format!(
            "'values' filter can only be applied to a map, not {}",
            v.kind()
        ))),
    }
}

fn merge(v: Value, a: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let other = json_of(&Args::new(a)?.req(0, "items", "merge")?);
    Ok(value_of(&match (json_of(&v), other) {
        (Json::Object(mut a), Json::Object(b)) => {
            a.extend(b);
            Json::Object(a)
        }
        (Json::Array(mut a), Json::Array(b)) => {
            a.extend(b);
            Json::Array(a)
        }
        (Json::Array(mut a), b) => {
            a.push(b);
            Json::Array(a)
        }
        _ => return Err(fail("merge: both sides must be maps, or lists")),
    }))
}

fn number(v: Value, a: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let kind = Args::new(a)?
        .get(0, "type")
        .map(|t| text(&t).to_uppercase());
    let s = text(&v);
    let s = s.trim();
    let parsed = match kind.as_deref() {
        Some("INT" | "LONG" | "BIGINTEGER") => {
            s.parse::<i64>().map(Value::from).map_err(|e| e.to_string())
        }
        Some("FLOAT" | "DOUBLE" | "BIGDECIMAL") => {
            s.parse::<f64>().map(Value::from).map_err(|e| e.to_string())
        }
        Some(other) => {
            return Err(fail(format!(
                "number: unknown type `{other}` (INT, LONG, FLOAT, DOUBLE, BIGDECIMAL, BIGINTEGER)"
            )));
        }
        None => s
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| s.parse::<f64>().map(Value::from))
            .map_err(|e| e.to_string()),
    };
    parsed.map_err(|e| fail(format!("number: `{s}` is not a number ({e})")))
}

/// Java `DecimalFormat` patterns: `#` optional digit, `0` required digit, `,` grouping, `.`.
fn number_format(v: Value, a: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let pattern = text(&Args::new(a)?.req(0, "format", "numberFormat")?);
    let n = f64::try_from(v.clone())
        .map_err(|_| fail(format!("numberFormat: `{v}` is not a number")))?;
    let (int_pat, frac_pat) = pattern.split_once('.').unwrap_or((&pattern, ""));
    let max_frac = frac_pat.chars().filter(|c| *c == '#' || *c == '0').count();
    let min_frac = frac_pat.chars().filter(|c| *c == '0').count();
    let min_int = int_pat.chars().filter(|c| *c == '0').count();
    let grouping = int_pat.rfind(',').map(|i| int_pat.len() - i - 1);
    // Java rounds HALF_EVEN; formatting with the maximum digits then trimming follows it closely.
    let fixed = format!("{:.*}", max_frac, n.abs());
    let (int_part, frac_part) = fixed.split_once('.').unwrap_or((&fixed, ""));
    let mut frac = frac_part.to_string();
    while frac.len() > min_frac && frac.ends_with('0') {
        frac.pop();
    }
    let mut int = int_part.trim_start_matches('0').to_string();
    while int.len() < min_int.max(if frac.is_empty() { 1 } else { min_int }) {
        int.insert(0, '0');
    }
    if int.is_empty() {
        int.push('0');
    }
    if let Some(g) = grouping.filter(|g| *g > 0) {
        let digits: Vec<char> = int.chars().collect();
        let mut grouped = String::new();
        for (i, c) in digits.iter().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(g) {
                grouped.push(',');
            }
            grouped.push(*c);
        }
        int = grouped;
    }
    let sign = if n < 0.0
        && (int.chars().any(|c| c != '0' && c != ',') || frac.chars().any(|c| c != '0'))
    {
        "-"
    } else {
        ""
    };
    Ok(Value::from(if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }))
}

/// Pebble's `replace({'a': 'b'}, regexp=false)`, and the two-argument form.
fn replace(v: Value, a: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let args = Args::new(a)?;
    let first = args.req(0, "replace_pairs", "replace")?;
    let regexp = args.get(1, "regexp").is_some_and(|r| r.is_true());
    let pairs: Vec<(String, String)> = match json_of(&first) {
        Json::Object(m) => m
            .into_iter()
            .map(|(k, v)| {
                (
                    k,
                    match v {
                        Json::String(s) => s,
                        other => other.to_string(),
                    },
                )
            })
            .collect(),
        Json::String(from) => {
            let to = args.get(1, "to").map(|t| text(&t)).unwrap_or_default();
            return Ok(Value::from(text(&v).replace(&from, &to)));
        }
        _ => {
            return Err(fail(
                "replace: expects a map of replacements, e.g. replace({'a': 'b'})",
            ));
        }
    };
    let mut s = text(&v);
    for (from, to) in pairs {
        s = if regexp {
            let re = regex::Regex::new(&from).map_err(|e| {
                fail(format!(
                    "replace: `{from}` is not a valid regular expression: {e}"
                ))
            })?;
            // Java writes groups as `$1`; the regex crate reads `$1x` as a group named `1x`.
            let to = java_replacement(&to);
            re.replace_all(&s, to.as_str()).into_owned()
        } else {
            s.replace(&from, &to)
        };
    }
    Ok(Value::from(s))
}

fn java_replacement(to: &str) -> String {
    let mut out = String::new();
    let mut chars = to.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            let mut n = String::new();
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                n.push(*d);
                chars.next();
            }
            out.push_str(&format!("${{{n}}}"));
        } else if c == '\\' {
            if let Some(next) = chars.next() {
                if next == '$' {
                    out.push_str("$$");
                } else {
                    out.push(next);
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Pebble's `slice(fromIndex, toIndex)` on text or lists.
fn slice(v: Value, a: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let args = Args::new(a)?;
    let from = args
        .get(0, "fromIndex")
        .map(i64::try_from)
        .transpose()
        .map_err(|_| fail("slice: `fromIndex` must be a number"))?
        .unwrap_or(0);
    let len = v.len().unwrap_or(0) as i64;
    let to = args
        .get(1, "toIndex")
        .map(i64::try_from)
        .transpose()
        .map_err(|_| fail("slice: `toIndex` must be a number"))?
        .unwrap_or(len);
    if from < 0 || to > len || from > to {
        return Err(fail(format!(
            "slice: indexes {from}..{to} are out of range for a length of {len}"
        )));
    }
    let (from, to) = (from as usize, to as usize);
    if let Some(s) = v.as_str() {
        return Ok(Value::from(
            s.chars().skip(from).take(to - from).collect::<String>(),
        ));
    }
    Ok(Value::from(
        v.try_iter()?.skip(from).take(to - from).collect::<Vec<_>>(),
    ))
}

fn substring(
    v: Value,
    a: Rest<ValueOrKwargs>,
    name: &str,
    f: fn(&str, &str) -> String,
) -> Result<Value, Error> {
    let sep = text(&Args::new(a)?.req(0, "separator", name)?);
    Ok(Value::from(f(&text(&v), &sep)))
}

fn urldecode(v: Value, _: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let s = text(&v);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    Err(_) => return Err(fail(format!("urldecode: invalid escape `%{hex}`"))),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    Ok(Value::from(String::from_utf8_lossy(&out).into_owned()))
}
