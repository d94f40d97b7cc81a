//! JSON values as YAML text, as Kestra's `yaml` filter prints them (Jackson YAML, quotes only
//! where needed, list items indented by one space).

use serde_json::Value as Json;

pub(crate) fn to_yaml(v: &Json) -> String {
    let mut out = String::new();
    write(v, 0, &mut out);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn write(v: &Json, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Json::Array(items) if !items.is_empty() => {
            for item in items {
                out.push_str(&format!("{pad} - "));
                match item {
                    Json::Object(m) if !m.is_empty() => {
                        let mut inner = String::new();
                        write(item, indent + 3, &mut inner);
                        out.push_str(inner.trim_start());
                    }
                    Json::Array(a) if !a.is_empty() => {
                        out.push('\n');
                        write(item, indent + 3, out);
                    }
                    _ => {
                        out.push_str(&scalar(item));
                        out.push('\n');
                    }
                }
            }
        }
        Json::Object(map) if !map.is_empty() => {
            for (k, val) in map {
                out.push_str(&format!("{pad}{}:", scalar(&Json::String(k.clone()))));
                match val {
                    Json::Object(m) if !m.is_empty() => {
                        out.push('\n');
                        write(val, indent + 2, out);
                    }
                    Json::Array(a) if !a.is_empty() => {
                        out.push('\n');
                        write(val, indent, out);
                    }
                    _ => {
                        out.push(' ');
                        out.push_str(&scalar(val));
                        out.push('\n');
                    }
                }
            }
        }
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn scalar(v: &Json) -> String {
    match v {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => {
            let needs_quotes = s.is_empty()
                || matches!(
                    s.to_ascii_lowercase().as_str(),
                    "null" | "true" | "false" | "~" | "yes" | "no" | "on" | "off"
                )
                || s.parse::<f64>().is_ok()
                || s.starts_with(|c: char| " -?:,[]{}#&*!|>'\"%@`".contains(c))
                || s.ends_with(' ')
                || s.contains(": ")
                || s.contains(" #")
                || s.contains('\n');
            if needs_quotes {
                serde_json::to_string(s).unwrap_or_default()
            } else {
                s.clone()
            }
        }
        Json::Array(_) => "[]".into(),
        Json::Object(_) => "{}".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prints_like_jackson_yaml() {
        assert_eq!(to_yaml(&json!("string")), "string\n");
        assert_eq!(to_yaml(&json!(1.123)), "1.123\n");
        assert_eq!(
            to_yaml(&json!(["string", 1, 1.123])),
            " - string\n - 1\n - 1.123\n"
        );
        assert_eq!(
            to_yaml(&json!({"a": 1, "b": {"c": "true"}, "l": [1]})),
            "a: 1\nb:\n  c: \"true\"\nl:\n - 1\n"
        );
    }
}
