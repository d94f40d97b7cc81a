//! Avro values as Ion text, the way Kestra's `AvroDeserializer` maps them: dates as Ion days,
//! timestamps as UTC instants, local times and local date-times annotated, decimals as Ion
//! decimals (the scale from the schema), bytes and fixed as blobs, enums and UUIDs as strings.
//! A record `root { value: array }` (what inference makes of list rows) is unwrapped.

use apache_avro::Schema;
use apache_avro::schema::Name;
use apache_avro::types::Value;
use base64::Engine;
use jiff::Timestamp;
use jiff::civil::Time;
use jiff::tz::TimeZone;
use std::collections::HashMap;

pub(crate) struct IonWriter<'s> {
    names: HashMap<Name, &'s Schema>,
    root: &'s Schema,
}

impl<'s> IonWriter<'s> {
    pub(crate) fn new(root: &'s Schema) -> Result<Self, String> {
        let resolved =
            apache_avro::schema::ResolvedSchema::try_from(root).map_err(|e| e.to_string())?;
        let names = resolved
            .get_names()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        Ok(IonWriter { names, root })
    }

    fn resolve(&self, s: &'s Schema) -> &'s Schema {
        match s {
            Schema::Ref { name } => self.names.get(name).copied().unwrap_or(s),
            other => other,
        }
    }

    pub(crate) fn row(&self, v: &Value, out: &mut String) {
        if let (Schema::Record(r), Value::Record(fields)) = (self.resolve(self.root), v)
            && r.name.name == "root"
            && fields.len() == 1
            && fields[0].0 == "value"
            && matches!(fields[0].1, Value::Array(_) | Value::Union(_, _))
            && matches!(
                self.resolve(&r.fields[0].schema),
                Schema::Array(_) | Schema::Union(_)
            )
        {
            let inner = match &fields[0].1 {
                Value::Union(_, inner) => inner.as_ref(),
                other => other,
            };
            if matches!(inner, Value::Array(_)) {
                return self.value(inner, Some(&r.fields[0].schema), out);
            }
        }
        self.value(v, Some(self.root), out)
    }

    fn value(&self, v: &Value, schema: Option<&'s Schema>, out: &mut String) {
        let schema = schema.map(|s| self.resolve(s));
        match v {
            Value::Null => out.push_str("null"),
            Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::Long(i) => out.push_str(&i.to_string()),
            Value::Float(f) => runner_ion::write_float(f64::from(*f), out),
            Value::Double(f) => runner_ion::write_float(*f, out),
            Value::Bytes(b) | Value::Fixed(_, b) => blob(b, out),
            Value::String(s) | Value::Enum(_, s) => runner_ion::write_string(s, out),
            Value::Uuid(u) => runner_ion::write_string(&u.to_string(), out),
            Value::Union(i, inner) => {
                let branch = match schema {
                    Some(Schema::Union(u)) => u.variants().get(*i as usize),
                    _ => None,
                };
                self.value(inner, branch, out)
            }
            Value::Array(items) => {
                let item_schema = match schema {
                    Some(Schema::Array(a)) => Some(a.items.as_ref()),
                    _ => None,
                };
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.value(item, item_schema, out);
                }
                out.push(']');
            }
            Value::Map(map) => {
                let value_schema = match schema {
                    Some(Schema::Map(m)) => Some(m.types.as_ref()),
                    _ => None,
                };
                // A HashMap has no order: sort the keys so that the output is the same each run.
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    runner_ion::write_field_name(k, out);
                    out.push(':');
                    self.value(&map[k], value_schema, out);
                }
                out.push('}');
            }
            Value::Record(fields) => {
                let field_schemas = match schema {
                    Some(Schema::Record(r)) => Some(&r.fields),
                    _ => None,
                };
                out.push('{');
                for (i, (k, item)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    runner_ion::write_field_name(k, out);
                    out.push(':');
                    let s = field_schemas.and_then(|f| f.get(i)).map(|f| &f.schema);
                    self.value(item, s, out);
                }
                out.push('}');
            }
            Value::Date(days) => {
                let date = jiff::civil::Date::constant(1970, 1, 1)
                    .checked_add(jiff::Span::new().days(i64::from(*days)))
                    .unwrap_or_default();
                out.push_str(&date.to_string());
            }
            Value::Decimal(d) => {
                let scale = match schema {
                    Some(Schema::Decimal(s)) => s.scale,
                    _ => 0,
                };
                let bytes: Vec<u8> = Vec::try_from(d).unwrap_or_default();
                out.push_str(&decimal_text(&bytes, scale));
            }
            Value::BigDecimal(d) => {
                let text = d.to_string();
                out.push_str(&text);
                if !text.contains(['.', 'e', 'E']) {
                    out.push('.');
                }
            }
            Value::TimeMillis(ms) => local_time(i64::from(*ms) * 1_000_000, out),
            Value::TimeMicros(us) => local_time(us * 1000, out),
            Value::TimestampMillis(n) => instant(i128::from(*n) * 1_000_000, 3, out),
            Value::TimestampMicros(n) => instant(i128::from(*n) * 1000, 6, out),
            Value::TimestampNanos(n) => instant(i128::from(*n), 9, out),
            Value::LocalTimestampMillis(n) => local_datetime(i128::from(*n) * 1_000_000, out),
            Value::LocalTimestampMicros(n) => local_datetime(i128::from(*n) * 1000, out),
            Value::LocalTimestampNanos(n) => local_datetime(i128::from(*n), out),
            Value::Duration(d) => {
                out.push_str(&format!(
                    "{{months:{},days:{},millis:{}}}",
                    u32::from(d.months()),
                    u32::from(d.days()),
                    u32::from(d.millis())
                ));
            }
        }
    }
}

fn blob(b: &[u8], out: &mut String) {
    out.push_str("{{");
    out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
    out.push_str("}}");
}

/// Two's complement big-endian unscaled bytes at `scale` as Ion decimal text (`-12.50`).
pub(crate) fn decimal_text(bytes: &[u8], scale: usize) -> String {
    if bytes.is_empty() {
        return "0.".into();
    }
    let negative = bytes[0] & 0x80 != 0;
    // Magnitude in base 256, then in base 10, without a big-integer crate.
    let mut magnitude: Vec<u8> = if negative {
        let mut m: Vec<u8> = bytes.iter().map(|b| !b).collect();
        for b in m.iter_mut().rev() {
            let (v, carry) = b.overflowing_add(1);
            *b = v;
            if !carry {
                break;
            }
        }
        m
    } else {
        bytes.to_vec()
    };
    let mut digits = Vec::new();
    while magnitude.iter().any(|b| *b != 0) {
        let mut rem = 0u32;
        for b in magnitude.iter_mut() {
            let cur = (rem << 8) | u32::from(*b);
            *b = (cur / 10) as u8;
            rem = cur % 10;
        }
        digits.push(b'0' + rem as u8);
    }
    while digits.len() <= scale {
        digits.push(b'0');
    }
    digits.reverse();
    let text = String::from_utf8(digits).unwrap_or_default();
    let (int, frac) = text.split_at(text.len() - scale);
    format!("{}{int}.{frac}", if negative { "-" } else { "" })
}

fn nanos_time(nanos: i64) -> Time {
    let n = nanos.rem_euclid(86_400_000_000_000);
    Time::MIN
        .checked_add(jiff::SignedDuration::from_nanos(n))
        .unwrap_or(Time::MIN)
}

pub(crate) fn local_time(nanos: i64, out: &mut String) {
    out.push_str("LocalTime::");
    runner_ion::write_string(&nanos_time(nanos).to_string(), out);
}

pub(crate) fn instant(nanos: i128, digits: usize, out: &mut String) {
    let Ok(ts) = Timestamp::from_nanosecond(nanos) else {
        out.push_str("null");
        return;
    };
    let dt = ts.to_zoned_datetime(TimeZone::UTC).datetime();
    let frac = format!("{:09}", dt.subsec_nanosecond());
    out.push_str(&format!(
        "{}T{:02}:{:02}:{:02}.{}Z",
        dt.date(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        &frac[..digits]
    ));
}

fn local_datetime(nanos: i128, out: &mut String) {
    let Ok(ts) = Timestamp::from_nanosecond(nanos) else {
        out.push_str("null");
        return;
    };
    out.push_str("LocalDateTime::");
    runner_ion::write_string(
        &ts.to_zoned_datetime(TimeZone::UTC).datetime().to_string(),
        out,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_keep_their_scale() {
        assert_eq!(decimal_text(&[0x04, 0xe2], 2), "12.50");
        assert_eq!(decimal_text(&[0xfb, 0x1e], 2), "-12.50");
        assert_eq!(decimal_text(&[0x05], 3), "0.005");
        assert_eq!(decimal_text(&[0x7b], 0), "123.");
    }
}
