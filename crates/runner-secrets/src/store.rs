use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeMap;
use std::fmt;

/// A decoded secret. It never prints its value: Debug shows `SecretValue(******)` and there is
/// no Display; read it with [`SecretValue::expose`] where it is really needed.
pub struct SecretValue(SecretString);

impl SecretValue {
    pub fn new(value: String) -> Self {
        SecretValue(SecretString::from(value))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(******)")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SecretError {
    NotFound { key: String },
    NotBase64 { variable: String, reason: String },
    NotUtf8 { variable: String },
    SubkeyNotFound { key: String, subkey: String },
    SubkeyNotJson { key: String, subkey: String },
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretError::NotFound { key } => write!(
                f,
                "Cannot find secret for key '{key}'. Set the environment variable SECRET_{} to the base64 of the \
                 value, or pass a file that defines it with --env-file",
                key.to_uppercase()
            ),
            SecretError::NotBase64 { variable, reason } => write!(
                f,
                "Could not decode secret '{variable}', make sure it is Base64-encoded ({reason}); \
                 `runner secrets encode` writes such a file from plain values"
            ),
            SecretError::NotUtf8 { variable } => {
                write!(f, "secret '{variable}' does not decode to UTF-8 text")
            }
            SecretError::SubkeyNotFound { key, subkey } => {
                write!(
                    f,
                    "Cannot find secret sub-key '{subkey}' in secret '{key}'."
                )
            }
            SecretError::SubkeyNotJson { key, subkey } => write!(
                f,
                "Failed to read secret sub-key '{subkey}' from secret '{key}'. Ensure the secret contains valid JSON value."
            ),
        }
    }
}

impl std::error::Error for SecretError {}

struct Entry {
    variable: String,
    encoded: SecretString,
}

/// The `SECRET_*` variables of a run: from the process environment and env files.
#[derive(Default)]
pub struct SecretStore {
    entries: BTreeMap<String, Entry>,
}

impl fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretStore")
            .field("names", &self.entries.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SecretStore {
    /// Keeps the variables whose name starts with `SECRET_` (case-sensitive, as Kestra does).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut store = SecretStore::default();
        for (k, v) in vars {
            store.insert(&k, v);
        }
        store
    }

    /// Adds or replaces a variable (ignored unless it starts with `SECRET_`).
    pub fn insert(&mut self, variable: &str, encoded: String) {
        if let Some(name) = variable.strip_prefix("SECRET_") {
            self.entries.insert(
                name.to_uppercase(),
                Entry {
                    variable: variable.to_string(),
                    encoded: SecretString::from(encoded),
                },
            );
        }
    }

    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(&key.to_uppercase())
    }

    /// The secret names (without `SECRET_`, uppercase).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// Each variable's text as given (base64, or not), for the masker: a value that does not
    /// decode may be a secret written in clear by mistake.
    pub fn encoded_values(&self) -> impl Iterator<Item = &str> {
        self.entries.values().map(|e| e.encoded.expose_secret())
    }

    /// The variable that holds secret `key` (`SECRET_KEY`), for messages.
    pub fn variable(&self, key: &str) -> Option<&str> {
        self.entries
            .get(&key.to_uppercase())
            .map(|e| e.variable.as_str())
    }

    /// `secret(key)`: the decoded value.
    pub fn get(&self, key: &str) -> Result<SecretValue, SecretError> {
        let entry = self
            .entries
            .get(&key.to_uppercase())
            .ok_or_else(|| SecretError::NotFound {
                key: key.to_string(),
            })?;
        let clean: String = entry
            .encoded
            .expose_secret()
            .chars()
            .filter(|c| {
                !matches!(
                    c,
                    '\n' | '\r' | '\u{2028}' | '\u{2029}' | '\u{85}' | '\u{0b}' | '\u{0c}'
                )
            })
            .collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(clean.trim().as_bytes())
            .map_err(|e| SecretError::NotBase64 {
                variable: entry.variable.clone(),
                reason: describe(&e),
            })?;
        let text = String::from_utf8(bytes).map_err(|_| SecretError::NotUtf8 {
            variable: entry.variable.clone(),
        })?;
        Ok(SecretValue::new(text))
    }

    /// `secret(key, subkey=...)`: a field of a JSON secret.
    pub fn get_subkey(&self, key: &str, subkey: &str) -> Result<SecretValue, SecretError> {
        let whole = self.get(key)?;
        let json: serde_json::Value =
            serde_json::from_str(whole.expose()).map_err(|_| SecretError::SubkeyNotJson {
                key: key.to_string(),
                subkey: subkey.to_string(),
            })?;
        match json.get(subkey) {
            Some(serde_json::Value::String(s)) => Ok(SecretValue::new(s.clone())),
            Some(serde_json::Value::Null) | None => Err(SecretError::SubkeyNotFound {
                key: key.to_string(),
                subkey: subkey.to_string(),
            }),
            Some(other) => Ok(SecretValue::new(other.to_string())),
        }
    }
}

/// The decoder's reason, without the offending bytes (they are part of a secret).
fn describe(e: &base64::DecodeError) -> String {
    match e {
        base64::DecodeError::InvalidByte(at, _) => format!("invalid character at position {at}"),
        base64::DecodeError::InvalidLength(len) => format!("invalid length {len}"),
        base64::DecodeError::InvalidLastSymbol(at, _) => {
            format!("invalid last character at position {at}")
        }
        base64::DecodeError::InvalidPadding => "invalid padding".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(pairs: &[(&str, &str)]) -> SecretStore {
        SecretStore::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn names_are_case_insensitive_and_values_decoded() {
        let s = store(&[
            ("SECRET_MY_SECRET", "eyJzZWNyZXRLZXkiOiJzZWNyZXRWYWx1ZSJ9"),
            ("OTHER", "x"),
        ]);
        assert_eq!(
            s.get("my_secret").unwrap().expose(),
            r#"{"secretKey":"secretValue"}"#
        );
        assert_eq!(
            s.get_subkey("My_Secret", "secretKey").unwrap().expose(),
            "secretValue"
        );
        assert_eq!(s.names().collect::<Vec<_>>(), ["MY_SECRET"]);
    }

    #[test]
    fn line_breaks_inside_values_are_removed() {
        let s = store(&[(
            "SECRET_NEW_LINE",
            "cGFzc3dvcmR2ZXJ5dmVyeXZleXJsb25ncGFzc3dvcmR2\nZXJ5dmVyeXZleXJsb25n\r\n",
        )]);
        assert_eq!(
            s.get("new_line").unwrap().expose(),
            "passwordveryveryveyrlongpasswordveryveryveyrlong"
        );
    }

    #[test]
    fn errors_name_the_key_or_variable_but_never_the_value() {
        let s = store(&[("SECRET_BAD", "not base64 at all!")]);
        assert_eq!(
            s.get("unknown_secret_key").unwrap_err().to_string(),
            "Cannot find secret for key 'unknown_secret_key'. Set the environment variable SECRET_UNKNOWN_SECRET_KEY to the \
             base64 of the value, or pass a file that defines it with --env-file"
        );
        let e = s.get("bad").unwrap_err().to_string();
        assert!(
            e.starts_with("Could not decode secret 'SECRET_BAD', make sure it is Base64-encoded"),
            "{e}"
        );
        assert!(!e.contains("not base64 at all"), "{e}");
        let s = store(&[("SECRET_J", "eyJhIjoxfQ==")]);
        assert_eq!(
            s.get_subkey("j", "b").unwrap_err().to_string(),
            "Cannot find secret sub-key 'b' in secret 'j'."
        );
        let s = store(&[("SECRET_T", "dGV4dA==")]);
        assert!(
            s.get_subkey("t", "b")
                .unwrap_err()
                .to_string()
                .starts_with("Failed to read secret sub-key 'b'")
        );
    }

    #[test]
    fn debug_never_shows_values() {
        let s = store(&[("SECRET_PW", "aHVudGVyMg==")]);
        let v = s.get("pw").unwrap();
        assert_eq!(format!("{v:?}"), "SecretValue(******)");
        assert!(!format!("{s:?}").contains("aHVudGVyMg"));
    }
}
