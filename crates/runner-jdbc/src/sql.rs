//! SQL text handling: splitting a script into statements, and named `:param` binds, both aware
//! of quotes, comments and dollar quotes (so `x::date` and `':not_a_param'` are left alone).
//! Kestra's splitter knows the same constructs, and MySQL's backquoted identifiers.

/// What a lexer position is inside of.
enum Region {
    Code,
    Single { escapes: bool },
    Double,
    Backtick,
    Line,
    Block(usize),
    Dollar(String),
}

/// Walks `sql`, calling `code` for each byte that is plain SQL code (not quoted or commented),
/// with its index. Returns the regions' ends via the callback only.
fn scan(sql: &str, mut code: impl FnMut(usize, u8) -> bool) {
    let b = sql.as_bytes();
    let mut region = Region::Code;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match &mut region {
            Region::Code => {
                match c {
                    b'\'' => {
                        let escapes = i > 0
                            && (b[i - 1] == b'E' || b[i - 1] == b'e')
                            && (i < 2 || !b[i - 2].is_ascii_alphanumeric());
                        region = Region::Single { escapes };
                    }
                    b'"' => region = Region::Double,
                    b'`' => region = Region::Backtick,
                    b'-' if b.get(i + 1) == Some(&b'-') => region = Region::Line,
                    b'/' if b.get(i + 1) == Some(&b'*') => {
                        region = Region::Block(1);
                        i += 1;
                    }
                    b'$' => {
                        // $tag$ where tag is empty or an identifier not starting with a digit
                        let rest = &sql[i + 1..];
                        if let Some(end) = rest.find('$') {
                            let tag = &rest[..end];
                            if tag.chars().all(|ch| ch.is_alphanumeric() || ch == '_')
                                && !tag.starts_with(|ch: char| ch.is_ascii_digit())
                            {
                                region = Region::Dollar(tag.to_string());
                                i += end + 2;
                                continue;
                            }
                        }
                        if !code(i, c) {
                            return;
                        }
                    }
                    _ => {
                        if !code(i, c) {
                            return;
                        }
                    }
                }
            }
            Region::Single { escapes } => {
                if *escapes && c == b'\\' {
                    i += 1;
                } else if c == b'\'' {
                    if b.get(i + 1) == Some(&b'\'') {
                        i += 1;
                    } else {
                        region = Region::Code;
                    }
                }
            }
            Region::Double => {
                if c == b'"' {
                    region = Region::Code;
                }
            }
            Region::Backtick => {
                if c == b'`' {
                    region = Region::Code;
                }
            }
            Region::Line => {
                if c == b'\n' {
                    region = Region::Code;
                }
            }
            Region::Block(depth) => {
                if c == b'*' && b.get(i + 1) == Some(&b'/') {
                    *depth -= 1;
                    i += 1;
                    if *depth == 0 {
                        region = Region::Code;
                    }
                } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
                    *depth += 1;
                    i += 1;
                }
            }
            Region::Dollar(tag) => {
                let close = format!("${tag}$");
                if sql[i..].starts_with(&close) {
                    i += close.len();
                    region = Region::Code;
                    continue;
                }
            }
        }
        i += 1;
    }
}

/// The statements of a script, split on `;` outside quotes, comments and dollar quotes;
/// empty statements (and comment-only ones) are dropped.
pub fn split_statements(sql: &str) -> Vec<String> {
    let mut cuts = Vec::new();
    scan(sql, |i, c| {
        if c == b';' {
            cuts.push(i);
        }
        true
    });
    let mut out = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain(std::iter::once(sql.len())) {
        let piece = sql[start..cut].trim();
        if has_code(piece) {
            out.push(piece.to_string());
        }
        start = (cut + 1).min(sql.len());
    }
    out
}

fn has_code(piece: &str) -> bool {
    let mut any = false;
    scan(piece, |_, c| {
        if !c.is_ascii_whitespace() {
            any = true;
            return false;
        }
        true
    });
    any
}

/// How a driver writes positional parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placeholders {
    /// `$1`, `$2`...: the same name gets the same number (PostgreSQL, DuckDB).
    Numbered,
    /// `?` for each use (SQLite, MySQL): a name used twice is bound twice.
    Question,
}

/// `:name` placeholders rewritten to the driver's, and the names to bind in order (each name
/// once for [`Placeholders::Numbered`], each use for [`Placeholders::Question`]). `::` casts,
/// `:=` and text inside quotes or comments are not placeholders.
pub fn bind_named(sql: &str, style: Placeholders) -> (String, Vec<String>) {
    let b = sql.as_bytes();
    let mut found: Vec<(usize, usize)> = Vec::new();
    scan(sql, |i, c| {
        if c == b':' {
            let prev_colon = i > 0 && b[i - 1] == b':';
            let next = b.get(i + 1).copied();
            let starts_name = next.is_some_and(|n| n.is_ascii_alphabetic() || n == b'_');
            if !prev_colon && next != Some(b':') && next != Some(b'=') && starts_name {
                let mut end = i + 1;
                while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
                    end += 1;
                }
                found.push((i, end));
            }
        }
        true
    });
    let mut names: Vec<String> = Vec::new();
    let mut out = String::with_capacity(sql.len());
    let mut at = 0;
    for (s, e) in found {
        let name = &sql[s + 1..e];
        out.push_str(&sql[at..s]);
        match style {
            Placeholders::Numbered => {
                let n = match names.iter().position(|x| x == name) {
                    Some(p) => p + 1,
                    None => {
                        names.push(name.to_string());
                        names.len()
                    }
                };
                out.push_str(&format!("${n}"));
            }
            Placeholders::Question => {
                names.push(name.to_string());
                out.push('?');
            }
        }
        at = e;
    }
    out.push_str(&sql[at..]);
    (out, names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_respecting_quotes_comments_and_dollar_quotes() {
        let sql = "insert into t values ('a;b'); -- c;\nselect \"x;y\" from t /* ; */;\n\
                   create function f() returns int as $$ select 1; $$ language sql;\n\
                   do $body$ begin perform 1; end $body$;;  ";
        let parts = split_statements(sql);
        assert_eq!(parts.len(), 4, "{parts:#?}");
        assert_eq!(parts[0], "insert into t values ('a;b')");
        assert!(parts[2].ends_with("$$ select 1; $$ language sql"));
        assert!(parts[3].starts_with("do $body$"));
        assert_eq!(split_statements("select 1"), ["select 1"]);
        assert!(split_statements(" ; -- only a comment\n").is_empty());
        assert_eq!(
            split_statements("select E'it\\'s;' as x; select 2").len(),
            2
        );
    }

    #[test]
    fn named_parameters_leave_casts_and_quotes_alone() {
        let (sql, names) = bind_named(
            "select :id::int, ':not', x::date, :name, :id -- :nope\nwhere a := 1",
            Placeholders::Numbered,
        );
        assert_eq!(
            sql,
            "select $1::int, ':not', x::date, $2, $1 -- :nope\nwhere a := 1"
        );
        assert_eq!(names, ["id", "name"]);
        let (sql, names) = bind_named(
            "select $$ :inside $$, arr[1:2], '10:30'",
            Placeholders::Numbered,
        );
        assert_eq!(sql, "select $$ :inside $$, arr[1:2], '10:30'");
        assert!(names.is_empty());
        let (sql, names) = bind_named("select :a, `:b`, :b, :a from t", Placeholders::Question);
        assert_eq!(sql, "select ?, `:b`, ?, ? from t");
        assert_eq!(names, ["a", "b", "a"]);
        assert_eq!(split_statements("select `a;b` from t; select 2").len(), 2);
    }
}
