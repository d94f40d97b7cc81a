//! dotenv files: `KEY=value` lines with comments, `export `, quotes and CRLF endings.

use base64::Engine;
use std::fmt;

/// One `KEY=value` of a file, with its line number.
#[derive(Clone, PartialEq)]
pub struct EnvEntry {
    pub key: String,
    pub value: String,
    pub line: usize,
}

impl fmt::Debug for EnvEntry {
    // Values are secrets more often than not.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EnvEntry({} at line {})", self.key, self.line)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnvFileError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for EnvFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for EnvFileError {}

fn is_key(k: &str) -> bool {
    let mut chars = k.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

fn looks_like_base64(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// Parses a dotenv text. Values are returned as written (quotes removed, escapes of double
/// quotes applied); rendering `{{ }}` in them is the caller's business.
pub fn parse(text: &str) -> Result<Vec<EnvEntry>, EnvFileError> {
    let mut entries: Vec<EnvEntry> = Vec::new();
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut i = 0;
    while i < lines.len() {
        let number = i + 1;
        let raw = lines[i];
        i += 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let Some((key, rest)) = line.split_once('=') else {
            if looks_like_base64(line)
                && entries
                    .last()
                    .is_some_and(|e| e.line == number - 1 && e.key.starts_with("SECRET_"))
            {
                return Err(EnvFileError {
                    line: number,
                    message: "this looks like the continuation of a base64 value that was wrapped over several lines \
                              (`base64` wraps at 76 characters): encode with `base64 -w0`, or write the plain values in \
                              a .env file and run `runner secrets encode`"
                        .into(),
                });
            }
            return Err(EnvFileError {
                line: number,
                message: "expected `KEY=value`".into(),
            });
        };
        let key = key.trim();
        let padding_only = !rest.trim().is_empty() && rest.trim().bytes().all(|b| b == b'=');
        if padding_only
            && looks_like_base64(key)
            && entries.last().is_some_and(|e| e.key.starts_with("SECRET_"))
        {
            return Err(EnvFileError {
                line: number,
                message: "this looks like the end of a base64 value that was wrapped over several lines \
                          (`base64` wraps at 76 characters): encode with `base64 -w0`, or use `runner secrets encode`"
                    .into(),
            });
        }
        if !is_key(key) {
            if looks_like_base64(line)
                && entries.last().is_some_and(|e| e.key.starts_with("SECRET_"))
            {
                return Err(EnvFileError {
                    line: number,
                    message: "this looks like the continuation of a wrapped base64 value: encode with `base64 -w0` \
                              or use `runner secrets encode`"
                        .into(),
                });
            }
            return Err(EnvFileError {
                line: number,
                message: format!("`{key}` is not a valid variable name"),
            });
        }
        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                // A quoted value may span lines until its closing quote.
                let mut body = rest[1..].to_string();
                loop {
                    if let Some(end) = closing_quote(&body, q) {
                        let after = body[end + 1..].trim();
                        if !after.is_empty() && !after.starts_with('#') {
                            return Err(EnvFileError {
                                line: number,
                                message: format!(
                                    "unexpected text after the closing quote of `{key}`"
                                ),
                            });
                        }
                        body.truncate(end);
                        break;
                    }
                    if i >= lines.len() {
                        return Err(EnvFileError {
                            line: number,
                            message: format!("the value of `{key}` has no closing {q}"),
                        });
                    }
                    body.push('\n');
                    body.push_str(lines[i]);
                    i += 1;
                }
                if q == '"' { unescape(&body) } else { body }
            }
            _ => {
                // Unquoted: an inline comment starts at ` #`.
                let v = match rest.find(" #") {
                    Some(at) => &rest[..at],
                    None => rest,
                };
                v.trim_end().to_string()
            }
        };
        entries.retain(|e| e.key != key);
        entries.push(EnvEntry {
            key: key.to_string(),
            value,
            line: number,
        });
    }
    Ok(entries)
}

fn closing_quote(s: &str, q: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if q == '"' && c == '\\' && !escaped {
            escaped = true;
            continue;
        }
        if c == q && !escaped {
            return Some(i);
        }
        escaped = false;
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// The `SECRET_`-prefixed base64 file for plain entries, as `runner secrets encode` writes it:
/// one unwrapped line per value; a key already starting with `SECRET_` is not prefixed again.
pub fn encode(entries: &[EnvEntry]) -> Result<String, EnvFileError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = String::from(
        "# Written by `runner secrets encode`: each value is base64, read with secret('NAME').\n",
    );
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    for e in entries {
        let name = if e.key.starts_with("SECRET_") {
            e.key.clone()
        } else {
            format!("SECRET_{}", e.key)
        };
        // `A=` and `SECRET_A=` (or `A=` twice) would both become SECRET_A: one would be lost.
        if let Some(first) = seen.insert(name.clone(), e.line) {
            return Err(EnvFileError {
                line: e.line,
                message: format!(
                    "this value becomes {name}, as the one on line {first} does: keep one of them"
                ),
            });
        }
        out.push_str(&format!("{name}={}\n", b64.encode(&e.value)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(text: &str) -> Vec<(String, String)> {
        parse(text)
            .unwrap()
            .into_iter()
            .map(|e| (e.key, e.value))
            .collect()
    }

    #[test]
    fn dotenv_forms() {
        let text = "# comment\n\nexport A=1\r\nB = two words # note\nC='single # kept'\nD=\"line\\nbreak \\\"q\\\"\"\nE=a=b=c\nF=\nG=\"multi\nline\"\n";
        assert_eq!(
            kv(text),
            [
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("C".into(), "single # kept".into()),
                ("D".into(), "line\nbreak \"q\"".into()),
                ("E".into(), "a=b=c".into()),
                ("F".into(), String::new()),
                ("G".into(), "multi\nline".into()),
            ]
        );
    }

    #[test]
    fn wrapped_base64_is_refused_with_a_reason() {
        let text = "SECRET_KEY=cGFzc3dvcmR2ZXJ5dmVyeXZleXJsb25ncGFzc3dvcmR2ZXJ5dmVyeXZleXJsb25ncGFzc3dvcmR2\nZXJ5dmVyeXZleXJsb25n\n";
        let e = parse(text).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(
            e.message.contains("wrapped over several lines"),
            "{}",
            e.message
        );
        let e = parse("SECRET_K=YWJj\nZGVm==\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("wrapped"), "{}", e.message);
    }

    #[test]
    fn bad_lines_say_what_is_expected() {
        assert_eq!(
            parse("JUSTAWORD\n").unwrap_err().message,
            "expected `KEY=value`"
        );
        assert_eq!(
            parse("1X=2\n").unwrap_err().message,
            "`1X` is not a valid variable name"
        );
        assert!(
            parse("A=\"open\n")
                .unwrap_err()
                .message
                .contains("no closing")
        );
    }

    #[test]
    fn encode_writes_one_line_per_value() {
        let key = "k".repeat(164);
        let entries = parse(&format!(
            "API_KEY={key}\nPW='p=a\"s s'\nSECRET_ALREADY=x\nU=Zoë\n"
        ))
        .unwrap();
        let out = encode(&entries).unwrap();
        let back = parse(&out).unwrap();
        assert_eq!(back.len(), 4);
        assert!(out.lines().all(|l| l.len() < 300), "no wrapping");
        let store = crate::SecretStore::from_vars(back.into_iter().map(|e| (e.key, e.value)));
        assert_eq!(store.get("api_key").unwrap().expose(), key);
        assert_eq!(store.get("PW").unwrap().expose(), "p=a\"s s");
        assert_eq!(store.get("already").unwrap().expose(), "x");
        assert_eq!(store.get("u").unwrap().expose(), "Zoë");
    }
}

#[cfg(test)]
mod collisions {
    #[test]
    fn two_values_that_would_become_one_secret_are_refused() {
        let entries = super::parse("A=1\nB=2\nSECRET_A=3\n").unwrap();
        let e = super::encode(&entries).unwrap_err();
        assert_eq!(e.line, 3);
        assert_eq!(
            e.message,
            "this value becomes SECRET_A, as the one on line 1 does: keep one of them"
        );
    }
}
