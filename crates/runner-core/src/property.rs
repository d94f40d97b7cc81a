//! `Property<T>`: a task property kept as written until the task renders it (Kestra's model).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value as Json;
use std::marker::PhantomData;

/// A dynamic property: the raw value from the flow, rendered through the run context when the
/// task reads it. A literal value (no `{{`) is type-checked while the flow is validated.
pub struct Property<T> {
    raw: Json,
    /// A credential (`#[prop(secret)]`): what it renders to is masked in everything the run
    /// prints or keeps, and it is never shown as written.
    secret: bool,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for Property<T> {
    fn clone(&self) -> Self {
        Property {
            raw: self.raw.clone(),
            secret: self.secret,
            _type: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Property<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.secret {
            f.write_str("Property(******)")
        } else {
            write!(f, "Property({})", self.raw)
        }
    }
}

impl<T: DeserializeOwned> Property<T> {
    pub fn from_json(raw: Json) -> Self {
        Property {
            raw,
            secret: false,
            _type: PhantomData,
        }
    }

    pub fn raw(&self) -> &Json {
        &self.raw
    }

    /// True when the value holds an expression to render.
    pub fn is_dynamic(&self) -> bool {
        has_template(&self.raw)
    }

    /// True for a credential: its rendered value is registered with the run's masker.
    pub fn is_secret(&self) -> bool {
        self.secret
    }
}

/// A property, or a group of them, that can hold credentials: `#[prop(secret)]` fields are
/// sealed once the task is read, so that rendering them registers what they hold with the
/// run's masker. A struct of nested options with credential fields implements it by sealing
/// those fields.
pub trait Seal {
    fn seal(&mut self);
}

impl<T> Seal for Property<T> {
    fn seal(&mut self) {
        self.secret = true;
    }
}

impl<S: Seal> Seal for Option<S> {
    fn seal(&mut self) {
        if let Some(s) = self {
            s.seal();
        }
    }
}

impl<S: Seal> Seal for Vec<S> {
    fn seal(&mut self) {
        for s in self {
            s.seal();
        }
    }
}

impl<S: Seal> Seal for Box<S> {
    fn seal(&mut self) {
        (**self).seal();
    }
}

/// Every string inside a rendered value (a secret property's), for the masker.
pub(crate) fn strings_of(v: &Json, out: &mut Vec<String>) {
    match v {
        Json::String(s) => out.push(s.clone()),
        Json::Number(n) => out.push(n.to_string()),
        Json::Array(items) => items.iter().for_each(|i| strings_of(i, out)),
        Json::Object(m) => m.values().for_each(|i| strings_of(i, out)),
        Json::Bool(_) | Json::Null => {}
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Property<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Json::deserialize(d)?;
        if !has_template(&raw) {
            convert::<T>(raw.clone()).map_err(serde::de::Error::custom)?;
        }
        Ok(Property {
            raw,
            secret: false,
            _type: PhantomData,
        })
    }
}

pub(crate) fn has_template(v: &Json) -> bool {
    match v {
        Json::String(s) => s.contains("{{") || s.contains("{%"),
        Json::Array(a) => a.iter().any(has_template),
        Json::Object(m) => m.iter().any(|(k, v)| k.contains("{{") || has_template(v)),
        _ => false,
    }
}

/// Turns a (rendered) value into `T`, reading strings as JSON scalars where `T` needs a number,
/// a boolean or a list, and numbers or booleans as text where `T` needs a string.
pub(crate) fn convert<T: DeserializeOwned>(v: Json) -> Result<T, String> {
    let first = match serde_json::from_value::<T>(v.clone()) {
        Ok(t) => return Ok(t),
        Err(e) => e.to_string(),
    };
    match &v {
        Json::String(s) => {
            if let Ok(parsed) = serde_json::from_str::<Json>(s.trim())
                && let Ok(t) = serde_json::from_value::<T>(parsed)
            {
                return Ok(t);
            }
        }
        Json::Number(_) | Json::Bool(_) => {
            if let Ok(t) = serde_json::from_value::<T>(Json::String(v.to_string())) {
                return Ok(t);
            }
        }
        _ => {}
    }
    Err(first)
}

/// An ISO-8601 duration (`PT30S`), as Java's `Duration` reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsoDuration(pub std::time::Duration);

impl crate::registry::PropType for IsoDuration {
    const NAME: &'static str = "duration";
}

impl<'de> Deserialize<'de> for IsoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        runner_model::parse_duration(&s)
            .map(IsoDuration)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "`{s}` is not an ISO-8601 duration (for example PT30S, PT5M, P1D)"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn convert_reads_strings_as_scalars_when_needed() {
        assert_eq!(convert::<i64>(json!("42")).unwrap(), 42);
        assert!(convert::<bool>(json!("true")).unwrap());
        assert_eq!(convert::<String>(json!(42)).unwrap(), "42");
        assert_eq!(convert::<Vec<i32>>(json!("[1,2]")).unwrap(), vec![1, 2]);
        assert!(convert::<i64>(json!("abc")).is_err());
    }

    #[test]
    fn literals_are_checked_when_read() {
        assert!(serde_json::from_value::<Property<IsoDuration>>(json!("PT1S")).is_ok());
        let err = serde_json::from_value::<Property<IsoDuration>>(json!("soon")).unwrap_err();
        assert!(
            err.to_string().contains("not an ISO-8601 duration"),
            "{err}"
        );
        // an expression is only checked once rendered
        assert!(serde_json::from_value::<Property<IsoDuration>>(json!("{{ inputs.d }}")).is_ok());
    }
}
