//! An Avro schema from Ion rows, as Kestra's `InferAvroSchema` builds it: a record `root` (in
//! namespace `io.kestra.plugin.serdes.avro`) whose fields are all nullable with default null,
//! nested structs as records named after their field, conflicting types as unions. Decimals
//! are inferred as strings, as Kestra does; integers beyond 32 bits as `long` (Kestra fails).

use crate::java_values::{Temporal, temporal};
use runner_ion::IonValue;
use serde_json::{Value as Json, json};
use std::collections::HashSet;

#[derive(Clone, Debug, PartialEq)]
enum Ty {
    Null,
    Bool,
    Int,
    Long,
    Double,
    String,
    Bytes,
    Timestamp,
    Date,
    Time,
    Array(Box<Ty>),
    Record(Vec<(String, Ty)>),
    Union(Vec<Ty>),
}

/// The types seen so far; rows are added one at a time, so inference holds no row.
#[derive(Default)]
pub(crate) struct Inference {
    root: Option<Ty>,
    /// Rows were lists: the root is `root { value: array<...> }`.
    lists: Option<bool>,
    rows: u64,
}

impl Inference {
    pub(crate) fn add(&mut self, row: &IonValue) -> Result<(), String> {
        let row = match row {
            IonValue::Annotated(_, inner) if temporal(row).is_none() => inner.as_ref(),
            other => other,
        };
        let (ty, list) = match row {
            IonValue::Struct(_) => (of(row), false),
            IonValue::List(_) | IonValue::SExp(_) => (of(row), true),
            _ => {
                return Err(format!(
                    "Unable to infer an Avro schema from a row of type {}: rows must be structs or lists",
                    crate::java_values::java_class(row)
                ));
            }
        };
        if self.lists.is_some_and(|l| l != list) {
            return Err("rows mix structs and lists: give `schema`".into());
        }
        self.lists = Some(list);
        self.rows += 1;
        self.root = Some(match self.root.take() {
            None => ty,
            Some(prev) => merge(prev, ty),
        });
        Ok(())
    }

    /// The schema as JSON.
    pub(crate) fn schema(&self) -> Result<Json, String> {
        let Some(root) = &self.root else {
            return Err("Cannot infer Avro schema from ION input: the file appears to be empty or contains no valid records.".into());
        };
        let mut names = HashSet::new();
        names.insert("root".to_string());
        let fields = match (root, self.lists) {
            (Ty::Array(_), Some(true)) => vec![("value".to_string(), root.clone())],
            (Ty::Record(fields), _) => fields.clone(),
            _ => Vec::new(),
        };
        Ok(json!({
            "type": "record",
            "name": "root",
            "namespace": "io.kestra.plugin.serdes.avro",
            "fields": fields_json(&fields, &mut names)?,
        }))
    }
}

fn of(v: &IonValue) -> Ty {
    if let Some(t) = temporal(v) {
        return match t {
            Temporal::LocalDate(_) => Ty::Date,
            Temporal::LocalTime(_) | Temporal::OffsetTime(..) => Ty::Time,
            _ => Ty::Timestamp,
        };
    }
    match v {
        IonValue::Null => Ty::Null,
        IonValue::Bool(_) => Ty::Bool,
        IonValue::Int(i) if i32::try_from(*i).is_ok() => Ty::Int,
        IonValue::Int(_) => Ty::Long,
        IonValue::Float(_) => Ty::Double,
        IonValue::Decimal(_)
        | IonValue::String(_)
        | IonValue::Symbol(_)
        | IonValue::Clob(_)
        | IonValue::Timestamp(_) => Ty::String,
        IonValue::Blob(_) => Ty::Bytes,
        IonValue::List(items) | IonValue::SExp(items) => {
            Ty::Array(Box::new(items.iter().map(of).fold(Ty::Null, merge)))
        }
        IonValue::Struct(fields) => {
            let mut out: Vec<(String, Ty)> = Vec::with_capacity(fields.len());
            for (k, v) in fields {
                let t = of(v);
                match out.iter_mut().find(|(name, _)| name == k) {
                    Some((_, prev)) => *prev = merge(std::mem::replace(prev, Ty::Null), t),
                    None => out.push((k.clone(), t)),
                }
            }
            Ty::Record(out)
        }
        IonValue::Annotated(_, inner) => of(inner),
    }
}

/// Whether two types merge into one (rather than sitting side by side in a union).
fn same_kind(a: &Ty, b: &Ty) -> bool {
    matches!(
        (a, b),
        (Ty::Int | Ty::Long, Ty::Int | Ty::Long)
            | (Ty::Array(_), Ty::Array(_))
            | (Ty::Record(_), Ty::Record(_))
    ) || a == b
}

fn merge(a: Ty, b: Ty) -> Ty {
    match (a, b) {
        (Ty::Null, t) | (t, Ty::Null) => t,
        (Ty::Int, Ty::Long) | (Ty::Long, Ty::Int) => Ty::Long,
        (Ty::Array(x), Ty::Array(y)) => Ty::Array(Box::new(merge(*x, *y))),
        (Ty::Record(mut x), Ty::Record(y)) => {
            for (k, t) in y {
                match x.iter_mut().find(|(name, _)| *name == k) {
                    Some((_, prev)) => *prev = merge(std::mem::replace(prev, Ty::Null), t),
                    None => x.push((k, t)),
                }
            }
            Ty::Record(x)
        }
        (Ty::Union(mut members), t) | (t, Ty::Union(mut members)) => {
            let incoming = match t {
                Ty::Union(more) => more,
                one => vec![one],
            };
            for t in incoming {
                match members.iter().position(|m| same_kind(m, &t)) {
                    Some(i) => {
                        let m = std::mem::replace(&mut members[i], Ty::Null);
                        members[i] = merge(m, t);
                    }
                    None => members.push(t),
                }
            }
            Ty::Union(members)
        }
        (a, b) if a == b => a,
        (a, b) => Ty::Union(vec![a, b]),
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn fields_json(fields: &[(String, Ty)], names: &mut HashSet<String>) -> Result<Json, String> {
    let mut out = Vec::with_capacity(fields.len());
    for (name, ty) in fields {
        if !valid_name(name) {
            return Err(format!(
                "the field name `{name}` is not an Avro name (letters, digits and `_`, not starting with a digit): rename it before this task, or give `schema` with `aliases`"
            ));
        }
        out.push(json!({
            "name": name,
            "type": nullable(ty, name, names)?,
            "default": null,
        }));
    }
    Ok(Json::Array(out))
}

/// `["null", T...]`: every inferred value may be null.
fn nullable(ty: &Ty, name: &str, names: &mut HashSet<String>) -> Result<Json, String> {
    let members: Vec<&Ty> = match ty {
        Ty::Null => return Ok(json!("null")),
        Ty::Union(m) => m.iter().collect(),
        one => vec![one],
    };
    let mut out = vec![json!("null")];
    for m in members {
        out.push(plain(m, name, names)?);
    }
    Ok(Json::Array(out))
}

fn plain(ty: &Ty, name: &str, names: &mut HashSet<String>) -> Result<Json, String> {
    Ok(match ty {
        Ty::Null => json!("null"),
        Ty::Bool => json!("boolean"),
        Ty::Int => json!("int"),
        Ty::Long => json!("long"),
        Ty::Double => json!("double"),
        Ty::String => json!("string"),
        Ty::Bytes => json!("bytes"),
        Ty::Timestamp => json!({"type": "long", "logicalType": "local-timestamp-millis"}),
        Ty::Date => json!({"type": "int", "logicalType": "date"}),
        Ty::Time => json!({"type": "int", "logicalType": "time-millis"}),
        Ty::Array(items) => {
            let items = match items.as_ref() {
                Ty::Null => json!(["null", "string"]),
                t => nullable(t, name, names)?,
            };
            json!({"type": "array", "items": items})
        }
        Ty::Record(fields) => {
            // Record names are unique in a schema: a second `address` is `address_2`.
            let mut unique = name.to_string();
            let mut n = 1;
            while !names.insert(unique.clone()) {
                n += 1;
                unique = format!("{name}_{n}");
            }
            json!({"type": "record", "name": unique, "fields": fields_json(fields, names)?})
        }
        Ty::Union(members) => {
            let parts: Result<Vec<Json>, String> =
                members.iter().map(|m| plain(m, name, names)).collect();
            Json::Array(parts?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(ion: &str) -> Json {
        let mut inference = Inference::default();
        for v in runner_ion::parse_values(ion).unwrap() {
            inference.add(&v).unwrap();
        }
        inference.schema().unwrap()
    }

    #[test]
    fn fields_are_nullable_and_conflicts_are_unions() {
        let s = infer("{a:1,b:\"x\",c:{d:1.5e0}} {a:5000000000,b:2,e:2021-05-05}");
        assert_eq!(
            s["fields"],
            json!([
                {"name": "a", "type": ["null", "long"], "default": null},
                {"name": "b", "type": ["null", "string", "int"], "default": null},
                {"name": "c", "type": ["null", {"type": "record", "name": "c", "fields": [
                    {"name": "d", "type": ["null", "double"], "default": null}]}], "default": null},
                {"name": "e", "type": ["null", {"type": "int", "logicalType": "date"}], "default": null},
            ])
        );
        apache_avro::Schema::parse(&s).unwrap();
        let lists = infer("[1,2] [3]");
        assert_eq!(lists["fields"][0]["name"], "value");
        assert!(Inference::default().schema().is_err());
        let mut bad = Inference::default();
        assert!(bad.add(&IonValue::Int(1)).is_err());
    }
}
