//! Path patterns as Kestra reads them (`outputFiles`, namespace file `include`/`exclude`):
//! Java's `PathMatcher` syntax, so a pattern selects the same files here as on a cluster.
//! `glob:` (the default) and `regex:` prefixes; in a glob, `*` and `?` stay within one folder,
//! `**` crosses folders, `[abc]`/`[!a-z]` are classes and `{a,b}` alternatives.

use regex::Regex;

/// One compiled pattern, matched against a whole `/`-separated path.
#[derive(Clone, Debug)]
pub struct PathPattern {
    source: String,
    regex: Regex,
}

impl PathPattern {
    /// `glob:`/`regex:` as written; no prefix means a glob. The error says what is wrong.
    pub fn new(pattern: &str) -> Result<PathPattern, String> {
        let regex = if let Some(re) = pattern.strip_prefix("regex:") {
            format!("^(?:{re})$")
        } else {
            glob_to_regex(pattern.strip_prefix("glob:").unwrap_or(pattern))?
        };
        let regex = regex::RegexBuilder::new(&regex)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| format!("`{pattern}` is not a valid pattern: {e}"))?;
        Ok(PathPattern {
            source: pattern.to_string(),
            regex,
        })
    }

    /// Whether the whole of `path` matches.
    pub fn matches(&self, path: &str) -> bool {
        self.regex.is_match(path)
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the pattern has a prefix (`glob:`, `regex:`), which Kestra keeps as written.
    pub fn has_syntax(pattern: &str) -> bool {
        pattern.starts_with("glob:") || pattern.starts_with("regex:")
    }
}

/// Java's glob rules (`sun.nio.fs.Globs`, Unix flavour) as an anchored regular expression.
fn glob_to_regex(glob: &str) -> Result<String, String> {
    let bad = |why: &str, at: usize| Err(format!("`{glob}` is not a valid glob: {why} at {at}"));
    let chars: Vec<char> = glob.chars().collect();
    let mut out = String::from("^");
    let mut in_group = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\\' => {
                let Some(&next) = chars.get(i) else {
                    return bad("nothing to escape", i);
                };
                i += 1;
                out.push_str(&regex::escape(&next.to_string()));
            }
            '/' => out.push('/'),
            '[' => {
                let negate = chars.get(i) == Some(&'!');
                if negate {
                    i += 1;
                }
                let mut class = String::new();
                let mut closed = false;
                while i < chars.len() {
                    let mut c = chars[i];
                    i += 1;
                    match c {
                        ']' => {
                            closed = true;
                            break;
                        }
                        '/' => return bad("a `/` inside `[...]`", i - 1),
                        '\\' => {
                            let Some(&next) = chars.get(i) else {
                                return bad("nothing to escape", i);
                            };
                            i += 1;
                            c = next;
                        }
                        _ => {}
                    }
                    push_class_char(&mut class, c);
                    if chars.get(i) == Some(&'-')
                        && let Some(&to) = chars.get(i + 1)
                        && to != ']'
                    {
                        if to < c {
                            return bad("a range that goes down", i);
                        }
                        class.push('-');
                        push_class_char(&mut class, to);
                        i += 2;
                    }
                }
                if !closed {
                    return bad("`[` is not closed", i);
                }
                if class.is_empty() {
                    return bad("an empty `[]`", i - 1);
                }
                out.push_str(if negate { "[[^/]&&[^" } else { "[[^/]&&[" });
                out.push_str(&class);
                out.push_str("]]");
            }
            '{' => {
                if in_group {
                    return bad("groups `{...}` cannot nest", i - 1);
                }
                out.push_str("(?:(?:");
                in_group = true;
            }
            '}' if in_group => {
                out.push_str("))");
                in_group = false;
            }
            ',' if in_group => out.push_str(")|(?:"),
            '*' => {
                if chars.get(i) == Some(&'*') {
                    out.push_str(".*");
                    i += 1;
                } else {
                    out.push_str("[^/]*");
                }
            }
            '?' => out.push_str("[^/]"),
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    if in_group {
        return bad("`{` is not closed", chars.len());
    }
    out.push('$');
    Ok(out)
}

/// One character of a `[...]` class, literal whatever it is.
fn push_class_char(class: &mut String, c: char) {
    if c.is_ascii_punctuation() {
        class.push('\\');
    }
    class.push(c);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, path: &str) -> bool {
        PathPattern::new(p).unwrap().matches(path)
    }

    #[test]
    fn star_stays_in_one_folder_and_double_star_crosses() {
        assert!(m("*.csv", "a.csv"));
        assert!(!m("*.csv", "sub/a.csv"));
        assert!(m("**.csv", "sub/a.csv"));
        assert!(m("**/*.csv", "sub/a.csv"));
        assert!(m("**/*.csv", "a/b/c.csv"));
        // Java's rule: `**/` needs a folder, so a top-level file is missed.
        assert!(!m("**/*.csv", "a.csv"));
        assert!(m("out/**", "out/x/y"));
        assert!(!m("out/**", "out"));
    }

    #[test]
    fn question_mark_classes_and_groups() {
        assert!(m("a?.txt", "ab.txt"));
        assert!(!m("a?.txt", "a/.txt"));
        assert!(m("[ab].txt", "b.txt"));
        assert!(!m("[!ab].txt", "b.txt"));
        assert!(m("[!ab].txt", "c.txt"));
        assert!(m("[a-c]1", "b1"));
        assert!(!m("[a-c]1", "d1"));
        assert!(m("*.{csv,json}", "x.json"));
        assert!(!m("*.{csv,json}", "x.txt"));
        assert!(m("\\*.txt", "*.txt"));
        assert!(!m("\\*.txt", "a.txt"));
        assert!(m("a.b", "a.b"));
        assert!(!m("a.b", "axb"));
        assert!(m("(x)+.txt", "(x)+.txt"));
    }

    #[test]
    fn prefixes_are_kept_as_written() {
        assert!(m("glob:*.txt", "a.txt"));
        assert!(m("regex:.*\\.json", "a/b.json"));
        assert!(!m("regex:a", "ab"));
    }

    #[test]
    fn bad_patterns_say_why() {
        for (p, why) in [
            ("[abc", "not closed"),
            ("{a,{b}}", "cannot nest"),
            ("{a,b", "not closed"),
            ("a\\", "nothing to escape"),
            ("[a/b]", "`/` inside"),
            ("[z-a]", "goes down"),
            ("regex:(", "not a valid pattern"),
        ] {
            let e = PathPattern::new(p).unwrap_err();
            assert!(e.contains(why), "{p}: {e}");
        }
    }
}
