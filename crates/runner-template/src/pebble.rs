//! Pebble syntax that minijinja lacks, rewritten into minijinja syntax before compiling:
//! `a ?? b` and `a ??? b` (to conditionals), `c ? a : b` (to `a if c else b`),
//! `a equals b` (to `==`) and `a contains b` (to `b in a`).
//!
//! The rewrite also records which variables an expression only *tests* (left of `??`, subject of
//! `is defined`, `| default`) and which it evaluates only on some paths (ternary branches, right
//! of `??`), so the strict-undefined check can tell a real missing variable from a guarded one.

/// A template rewritten for minijinja, with what the strictness check needs to know.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Rewritten {
    pub(crate) source: String,
    /// Dotted names whose absence is expected (`x ?? y`, `x is defined`, `x | default(..)`).
    pub(crate) guarded: Vec<String>,
    /// Dotted names evaluated only on some paths (ternary branches, right of `??`).
    pub(crate) lazy: Vec<String>,
    /// A `??` operand grew past [`MAX_OPERAND`] (deep nesting doubles it per level): the
    /// rewrite stopped, and the template is refused.
    pub(crate) too_large: bool,
}

/// The longest operand of a `??` the rewrite repeats.
const MAX_OPERAND: usize = 64 * 1024;

pub(crate) fn rewrite(source: &str) -> Rewritten {
    let mut out = Rewritten::default();
    let mut rest = source;
    while let Some(start) = find_block_start(rest) {
        out.source.push_str(&rest[..start]);
        rest = &rest[start..];
        let (open, close) = if rest.starts_with("{{") {
            ("{{", "}}")
        } else if rest.starts_with("{%") {
            ("{%", "%}")
        } else {
            ("{#", "#}")
        };
        if open == "{#" {
            let end = rest.find(close).map_or(rest.len(), |i| i + 2);
            out.source.push_str(&rest[..end]);
            rest = &rest[end..];
            continue;
        }
        let inner_start = open.len();
        let Some(inner_len) = find_block_end(&rest[inner_start..], close) else {
            // Unterminated: leave it to the template parser to report.
            out.source.push_str(rest);
            return out;
        };
        let inner = &rest[inner_start..inner_start + inner_len];
        if open == "{%" && is_raw_tag(inner) {
            // Copy `{% raw %}...{% endraw %}` verbatim.
            let body_start = inner_start + inner_len + 2;
            let end = find_endraw(&rest[body_start..]).map_or(rest.len(), |e| body_start + e);
            out.source.push_str(&rest[..end]);
            rest = &rest[end..];
            continue;
        }
        let (lead, body, trail) = split_trim_markers(inner);
        let tokens = tokenize(body);
        let rewritten = rewrite_tokens(&tokens, &mut out);
        out.source.push_str(open);
        out.source.push_str(lead);
        out.source.push_str(&rewritten);
        out.source.push_str(trail);
        out.source.push_str(close);
        rest = &rest[inner_start + inner_len + close.len()..];
    }
    out.source.push_str(rest);
    out
}

fn find_block_start(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    (0..b.len().saturating_sub(1)).find(|&i| b[i] == b'{' && matches!(b[i + 1], b'{' | b'%' | b'#'))
}

/// The end of a block's inner text, skipping string literals.
fn find_block_end(s: &str, close: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            _ if b[i..].starts_with(close.as_bytes()) => return Some(i),
            _ => i += 1,
        }
    }
    None
}

fn is_raw_tag(inner: &str) -> bool {
    inner.trim_matches(|c: char| c == '-' || c.is_whitespace()) == "raw"
}

fn find_endraw(s: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = s[from..].find("{%") {
        let at = from + i;
        if let Some(len) = find_block_end(&s[at + 2..], "%}") {
            let inner = &s[at + 2..at + 2 + len];
            if inner.trim_matches(|c: char| c == '-' || c.is_whitespace()) == "endraw" {
                return Some(at + 2 + len + 2);
            }
        }
        from = at + 2;
    }
    None
}

fn split_trim_markers(inner: &str) -> (&str, &str, &str) {
    let lead = if inner.starts_with(['-', '+']) {
        &inner[..1]
    } else {
        ""
    };
    let body = &inner[lead.len()..];
    let trail = if body.ends_with(['-', '+']) {
        &body[body.len() - 1..]
    } else {
        ""
    };
    (lead, &body[..body.len() - trail.len()], trail)
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Space(String),
    Word(String),
    Str(String),
    Num(String),
    Op(String),
    /// A bracketed group: the opening char and its inner tokens.
    Group(char, Vec<Tok>),
    /// Text already rewritten: a group (its opening char) or an operator's result (`None`).
    Done(Option<char>, String),
}

impl Tok {
    fn text(&self) -> String {
        match self {
            Tok::Space(s)
            | Tok::Word(s)
            | Tok::Str(s)
            | Tok::Num(s)
            | Tok::Op(s)
            | Tok::Done(_, s) => s.clone(),
            Tok::Group(open, inner) => {
                let close = match open {
                    '(' => ')',
                    '[' => ']',
                    _ => '}',
                };
                format!(
                    "{open}{}{close}",
                    inner.iter().map(Tok::text).collect::<String>()
                )
            }
        }
    }

    fn is_space(&self) -> bool {
        matches!(self, Tok::Space(_))
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self, Tok::Op(o) if o == op)
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self, Tok::Word(x) if x == w)
    }

    /// A value on its own: a name, a literal or a bracketed group (not a keyword).
    fn is_atom(&self) -> bool {
        match self {
            Tok::Word(w) => !KEYWORDS.contains(&w.as_str()),
            Tok::Str(_) | Tok::Num(_) | Tok::Group(..) | Tok::Done(..) => true,
            _ => false,
        }
    }
}

const KEYWORDS: &[&str] = &[
    "and", "or", "not", "is", "in", "if", "else", "equals", "contains", "for", "set", "endif",
    "endfor",
];

fn tokenize(s: &str) -> Vec<Tok> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let (tokens, _) = tokenize_until(&chars, &mut i, None);
    tokens
}

fn tokenize_until(c: &[char], i: &mut usize, close: Option<char>) -> (Vec<Tok>, bool) {
    let mut out = Vec::new();
    while *i < c.len() {
        let ch = c[*i];
        if Some(ch) == close {
            *i += 1;
            return (out, true);
        }
        if ch.is_whitespace() {
            let start = *i;
            while *i < c.len() && c[*i].is_whitespace() {
                *i += 1;
            }
            out.push(Tok::Space(c[start..*i].iter().collect()));
        } else if ch == '\'' || ch == '"' {
            let start = *i;
            *i += 1;
            while *i < c.len() && c[*i] != ch {
                if c[*i] == '\\' {
                    *i += 1;
                }
                *i += 1;
            }
            *i = (*i + 1).min(c.len());
            out.push(Tok::Str(c[start..*i].iter().collect()));
        } else if ch.is_alphabetic() || ch == '_' {
            let start = *i;
            while *i < c.len() && (c[*i].is_alphanumeric() || c[*i] == '_') {
                *i += 1;
            }
            out.push(Tok::Word(c[start..*i].iter().collect()));
        } else if ch.is_ascii_digit() {
            let start = *i;
            while *i < c.len()
                && (c[*i].is_ascii_alphanumeric()
                    || c[*i] == '_'
                    || (c[*i] == '.' && c.get(*i + 1).is_some_and(char::is_ascii_digit)))
            {
                *i += 1;
            }
            out.push(Tok::Num(c[start..*i].iter().collect()));
        } else if matches!(ch, '(' | '[' | '{') {
            *i += 1;
            let closing = match ch {
                '(' => ')',
                '[' => ']',
                _ => '}',
            };
            let (inner, closed) = tokenize_until(c, i, Some(closing));
            if closed {
                out.push(Tok::Group(ch, inner));
            } else {
                // Unbalanced: keep the text as is for the parser to report.
                out.push(Tok::Op(ch.to_string()));
                out.extend(inner);
            }
        } else {
            let three: String = c[*i..(*i + 3).min(c.len())].iter().collect();
            let two: String = c[*i..(*i + 2).min(c.len())].iter().collect();
            let op = if three == "???" {
                three
            } else if ["??", "==", "!=", "<=", ">=", "..", "**", "//"].contains(&two.as_str()) {
                two
            } else {
                ch.to_string()
            };
            *i += op.chars().count();
            out.push(Tok::Op(op));
        }
    }
    (out, false)
}

fn text_of(tokens: &[Tok]) -> String {
    tokens.iter().map(Tok::text).collect()
}

/// Rewrites one expression (a token list at one nesting level).
fn rewrite_tokens(tokens: &[Tok], acc: &mut Rewritten) -> String {
    // Inner groups first: each comma-separated part is an expression of its own.
    let tokens: Vec<Tok> = tokens
        .iter()
        .map(|t| match t {
            Tok::Group(open, inner) => {
                let parts: Vec<String> = split_top(inner, ",")
                    .iter()
                    .map(
                        |part| match (*open, part.iter().position(|t| t.is_op(":"))) {
                            // `{key: value}`: rewrite the value side only; `[a:b]` is a slice.
                            ('{', Some(colon)) => format!(
                                "{}:{}",
                                text_of(&part[..colon]),
                                rewrite_tokens(&part[colon + 1..], acc)
                            ),
                            ('[', Some(_)) if !part.iter().any(|t| t.is_op("?")) => text_of(part),
                            _ => rewrite_tokens(part, acc),
                        },
                    )
                    .collect();
                let close = match open {
                    '(' => ')',
                    '[' => ']',
                    _ => '}',
                };
                Tok::Done(Some(*open), format!("{open}{}{close}", parts.join(",")))
            }
            other => other.clone(),
        })
        .collect();
    rewrite_level(&tokens, acc)
}

fn split_top(tokens: &[Tok], sep: &str) -> Vec<Vec<Tok>> {
    let mut parts = vec![Vec::new()];
    for t in tokens {
        if t.is_op(sep) {
            parts.push(Vec::new());
        } else {
            parts.last_mut().expect("one part at least").push(t.clone());
        }
    }
    parts
}

/// Ternary (lowest precedence), then `??`/`???`, `contains` and `equals` at this level.
fn rewrite_level(tokens: &[Tok], acc: &mut Rewritten) -> String {
    // Keep the spaces around the expression where they were.
    let lead = tokens.iter().take_while(|t| t.is_space()).count();
    let trail = tokens[lead..]
        .iter()
        .rev()
        .take_while(|t| t.is_space())
        .count();
    if lead > 0 || trail > 0 {
        let inner = rewrite_level(&tokens[lead..tokens.len() - trail], acc);
        return format!(
            "{}{inner}{}",
            text_of(&tokens[..lead]),
            text_of(&tokens[tokens.len() - trail..])
        );
    }
    if let Some(q) = tokens.iter().position(|t| t.is_op("?")) {
        // Find the `:` that matches this `?` (nested ternaries count).
        let mut depth = 0;
        let colon = tokens[q + 1..].iter().position(|t| {
            if t.is_op("?") {
                depth += 1;
            } else if t.is_op(":") {
                if depth == 0 {
                    return true;
                }
                depth -= 1;
            }
            false
        });
        if let Some(c) = colon {
            let c = q + 1 + c;
            let cond = rewrite_level(&tokens[..q], acc);
            let then = &tokens[q + 1..c];
            let otherwise = &tokens[c + 1..];
            acc.lazy.extend(dotted_names(then));
            acc.lazy.extend(dotted_names(otherwise));
            let then = rewrite_level(then, acc);
            let otherwise = rewrite_level(otherwise, acc);
            return format!(
                "(({}) if ({}) else ({}))",
                then.trim(),
                cond.trim(),
                otherwise.trim()
            );
        }
    }
    let mut toks: Vec<Tok> = tokens.to_vec();
    for i in 0..toks.len() {
        if toks[i].is_word("equals") {
            toks[i] = Tok::Op("==".into());
        }
        // A Kestra function call: `name(` not after `.` or `|`.
        let call = matches!(
            toks.get(i + 1),
            Some(Tok::Done(Some('('), _)) | Some(Tok::Group('(', _))
        );
        let after_dot = i > 0 && (toks[i - 1].is_op(".") || toks[i - 1].is_op("|"));
        if let Tok::Word(w) = &toks[i]
            && call
            && !after_dot
            && crate::functions::NAMES.contains(&w.as_str())
        {
            toks[i] = Tok::Word(format!("__f_{w}"));
        }
    }
    // Record what `is defined` / `| default` only test.
    for (i, t) in toks.iter().enumerate() {
        let tested = (t.is_word("is")
            && next_word(&toks, i + 1).is_some_and(|(w, j)| {
                w == "defined"
                    || w == "null"
                    || (w == "not"
                        && next_word(&toks, j + 1)
                            .is_some_and(|(w, _)| w == "defined" || w == "null"))
            }))
            || (t.is_op("|") && next_word(&toks, i + 1).is_some_and(|(w, _)| w == "default"));
        if tested {
            let start = operand_start(&toks, i);
            acc.guarded.extend(dotted_names(&toks[start..i]));
        }
    }
    // `a ~ b`: both sides as Java prints them (`true`, not minijinja's `True`).
    let mut i = 0;
    while i < toks.len() {
        if toks[i].is_op("~") {
            let end = operand_end(&toks, i + 1);
            if end > i + 1 {
                // Keep the spaces after `~` where they are.
                let first = (i + 1..end).find(|&k| !toks[k].is_space()).unwrap_or(i + 1);
                let right = text_of(&toks[first..end]);
                toks.splice(
                    first..end,
                    [Tok::Done(None, format!("__s({})", right.trim()))],
                );
            }
            let start = operand_start(&toks, i);
            let wrapped = matches!(&toks[start], Tok::Done(None, t) if t.starts_with("__s("));
            if start < i && !wrapped {
                let left = text_of(&toks[start..i]);
                let pad = if left.ends_with(char::is_whitespace) {
                    " "
                } else {
                    ""
                };
                toks.splice(
                    start..i,
                    [Tok::Done(None, format!("__s({}){pad}", left.trim()))],
                );
                i = start + 1;
            }
        }
        i += 1;
    }
    while let Some(mut op) = toks
        .iter()
        .position(|t| t.is_op("??") || t.is_op("???") || t.is_word("contains"))
    {
        // `a ?? b ?? c` is taken as `a ?? (b ?? c)`, the same value: rewritten from the
        // right, each operand appears once, where from the left the text doubles per link.
        if !toks[op].is_word("contains") {
            loop {
                let end = operand_end(&toks, op + 1);
                let next = (end..toks.len()).find(|&k| !toks[k].is_space());
                match next {
                    Some(k) if end > op + 1 && toks[k].is_op(op_text(&toks[op])) => op = k,
                    _ => break,
                }
            }
        }
        let start = operand_start(&toks, op);
        let end = operand_end(&toks, op + 1);
        if start == op || end == op + 1 {
            break; // not an operator use we understand; leave it to the parser
        }
        let left = text_of(&toks[start..op]);
        let right = text_of(&toks[op + 1..end]);
        if left.len() > MAX_OPERAND || acc.too_large {
            acc.too_large = true;
            return String::new();
        }
        let replacement = if toks[op].is_word("contains") {
            format!("({} in {})", right.trim(), left.trim())
        } else {
            acc.guarded.extend(dotted_names(&toks[start..op]));
            acc.lazy.extend(dotted_names(&toks[op + 1..end]));
            // A conditional, not a function call: the right side is evaluated only when the
            // left one is missing, as in Pebble (a `secret()` there is not looked up).
            let test = if toks[op].is_op("??") {
                "__set"
            } else {
                "defined"
            };
            let (left, right) = (left.trim(), right.trim());
            format!("(({left}) if ({left}) is {test} else __defined({right}))")
        };
        toks.splice(start..end, [Tok::Done(None, replacement)]);
    }
    text_of(&toks)
}

/// The text of an operator token (`??` or `???` here).
fn op_text(t: &Tok) -> &str {
    if t.is_op("???") { "???" } else { "??" }
}

/// A call or subscript group, which applies to the value right before it.
fn is_group(t: &Tok) -> bool {
    matches!(t, Tok::Group(..) | Tok::Done(Some(_), _))
}

fn next_word(toks: &[Tok], from: usize) -> Option<(&str, usize)> {
    toks[from..]
        .iter()
        .enumerate()
        .find(|(_, t)| !t.is_space())
        .and_then(|(k, t)| match t {
            Tok::Word(w) => Some((w.as_str(), from + k)),
            _ => None,
        })
}

/// Where the operand that ends just before `op` starts: a postfix expression (name, literal,
/// group, with `.attr`, calls, subscripts and `| filter(...)`).
fn operand_start(toks: &[Tok], op: usize) -> usize {
    let mut i = op;
    // skip spaces before the operator
    while i > 0 && toks[i - 1].is_space() {
        i -= 1;
    }
    let mut start = i;
    loop {
        if i == 0 || !toks[i - 1].is_atom() {
            return start;
        }
        i -= 1;
        // groups chain to what stands right before them: `f(x)`, `a[0]`, `a.b[0][1]`
        while is_group(&toks[i]) && i > 0 && toks[i - 1].is_atom() {
            i -= 1;
        }
        start = i;
        let mut j = i;
        while j > 0 && toks[j - 1].is_space() {
            j -= 1;
        }
        if j > 0 && (toks[j - 1].is_op(".") || toks[j - 1].is_op("|")) {
            i = j - 1;
            while i > 0 && toks[i - 1].is_space() {
                i -= 1;
            }
            continue;
        }
        return start;
    }
}

/// Where the operand that starts at `from` (after spaces) ends.
fn operand_end(toks: &[Tok], from: usize) -> usize {
    let mut i = from;
    while i < toks.len() && toks[i].is_space() {
        i += 1;
    }
    // unary minus or `not` before a value
    if i < toks.len() && (toks[i].is_op("-") || toks[i].is_word("not")) {
        i += 1;
        while i < toks.len() && toks[i].is_space() {
            i += 1;
        }
    }
    if i >= toks.len() || !toks[i].is_atom() {
        return from;
    }
    i += 1;
    loop {
        while i < toks.len() && is_group(&toks[i]) {
            i += 1;
        }
        let mut j = i;
        while j < toks.len() && toks[j].is_space() {
            j += 1;
        }
        if j < toks.len() && (toks[j].is_op(".") || toks[j].is_op("|")) {
            let mut k = j + 1;
            while k < toks.len() && toks[k].is_space() {
                k += 1;
            }
            if k < toks.len() && toks[k].is_atom() {
                i = k + 1;
                continue;
            }
        }
        return i;
    }
}

/// Dotted variable names used in a token run (`inputs.a.b`, `outputs`), for the strict check.
fn dotted_names(toks: &[Tok]) -> Vec<String> {
    let mut names = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Word(w)
                if !KEYWORDS.contains(&w.as_str())
                    && !(i > 0 && (toks[i - 1].is_op(".") || toks[i - 1].is_op("|"))) =>
            {
                let mut name = w.clone();
                let mut j = i + 1;
                while j + 1 < toks.len() && toks[j].is_op(".") {
                    if let Tok::Word(next) = &toks[j + 1] {
                        name.push('.');
                        name.push_str(next);
                        j += 2;
                    } else {
                        break;
                    }
                }
                names.push(name);
                i = j;
            }
            Tok::Group(_, inner) => {
                names.extend(dotted_names(inner));
                i += 1;
            }
            Tok::Done(_, text) => {
                let inner = text
                    .trim_start_matches(['(', '[', '{'])
                    .trim_end_matches([')', ']', '}']);
                names.extend(
                    dotted_names(&tokenize(inner))
                        .into_iter()
                        .filter(|n| !n.starts_with("__")),
                );
                i += 1;
            }
            _ => i += 1,
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Context, Renderer};
    use serde_json::{Value as Json, json};

    fn rw(s: &str) -> String {
        rewrite(s).source
    }

    /// What the rewritten template renders to: these tests hold the dialect's meaning, not
    /// the rewrite's text.
    fn render(s: &str, vars: Json) -> Result<String, String> {
        Renderer::new()
            .render_str(s, &Context::new(vars))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn coalescing_takes_the_first_value_that_is_set() {
        let v = json!({"a": null, "b": "bee", "z": 0, "list": [null, "one"], "m": {"k": false}});
        let cases = [
            ("{{ a ?? b }}", "bee"),
            ("{{ nothing ?? b }}", "bee"),
            ("{{ z ?? b }}", "0"),
            ("{{ m.k ?? b }}", "false"),
            ("{{ list[0] ?? 'x' }}", "x"),
            ("{{ list[1] ?? 'x' }}", "one"),
            ("{{ nothing.deeper ?? a ?? b }}", "bee"),
            ("{{ a ?? nothing ?? z ?? b }}", "0"),
            // `???` only replaces what is undefined: null is a value.
            ("[{{ a ??? b }}]", "[]"),
            ("{{ nothing ??? b }}", "bee"),
            // Mixed operators group left to right, as Pebble does.
            ("[{{ a ??? b ?? 'c' }}]", "[c]"),
            ("{{ 1 + nothing ?? 2 }}", "3"),
            ("{{ [nothing ?? 1, b] }}", "[1,\"bee\"]"),
            ("{{ {'k': nothing ?? 1} }}", "{\"k\":1}"),
            ("{{- nothing ?? b -}}", "bee"),
            ("{{ nothing ?? now() | date('yyyy') | length }}", "4"),
        ];
        for (t, want) in cases {
            assert_eq!(render(t, v.clone()).as_deref(), Ok(want), "{t}");
        }
        // The right side runs only when needed: a failing one is not reached.
        assert_eq!(
            render("{{ b ?? ('x' | base64decode) }}", v.clone()).as_deref(),
            Ok("bee")
        );
    }

    #[test]
    fn a_chain_grows_linearly_when_rewritten() {
        // Each operand appears once, so a long chain cannot grow the template exponentially.
        let chain = |n: usize| {
            let parts: Vec<String> = (0..n).map(|i| format!("v{i}")).collect();
            format!("{{{{ {} }}}}", parts.join(" ?? "))
        };
        let (short, long) = (rw(&chain(10)), rw(&chain(40)));
        assert!(
            long.len() < 5 * short.len(),
            "{} -> {}",
            short.len(),
            long.len()
        );
        let vars = json!({"v39": "last"});
        assert_eq!(render(&chain(40), vars).as_deref(), Ok("last"));
    }

    #[test]
    fn ternaries_and_concatenation() {
        let v = json!({"yes": true, "no": false, "b": {"c": 7}});
        let cases = [
            ("{{ 'a' ~ b.c ~ true }}", "a7true"),
            ("{{ yes ? 'y' : 'n' }}", "y"),
            ("{{ no ? 'y' : 'n' }}", "n"),
            ("{{ nothing is defined ? nothing : 'd' }}", "d"),
            ("{{ no ? 1 : yes ? 2 : 3 }}", "2"),
            ("{{ [1, no ? 2 : 3] }}", "[1,3]"),
        ];
        for (t, want) in cases {
            assert_eq!(render(t, v.clone()).as_deref(), Ok(want), "{t}");
        }
    }

    #[test]
    fn word_operators() {
        let v = json!({"a": "b", "list": ["x"]});
        assert_eq!(
            render("{{ a equals 'b' }}", v.clone()).as_deref(),
            Ok("true")
        );
        assert_eq!(
            render("{% if list contains 'x' %}y{% endif %}", v.clone()).as_deref(),
            Ok("y")
        );
        assert_eq!(
            render("{% if list contains 'z' %}y{% endif %}", v).as_deref(),
            Ok("")
        );
    }

    #[test]
    fn text_strings_raw_and_comments_are_left_alone() {
        let v = json!({"a": [1, 2, 3]});
        assert_eq!(rw("a ?? b {{ 'x ?? y' }}"), "a ?? b {{ 'x ?? y' }}");
        assert_eq!(
            render("a ?? b {{ 'x ?? y' }}", v.clone()).as_deref(),
            Ok("a ?? b x ?? y")
        );
        assert_eq!(
            render("{% raw %}{{ a ?? b }}{% endraw %}", v.clone()).as_deref(),
            Ok("{{ a ?? b }}")
        );
        assert_eq!(render("x{# a ?? b #}y", v.clone()).as_deref(), Ok("xy"));
        assert_eq!(render("{{ a[1:2] }}", v.clone()).as_deref(), Ok("[2]"));
        // A variable named like a function stays a variable.
        assert_eq!(
            render("{{ yaml(yaml).x }}", json!({"yaml": "x: 5"})).as_deref(),
            Ok("5")
        );
    }

    #[test]
    fn guarded_and_lazy_names_are_recorded() {
        let r = rewrite("{{ missing is defined ? missing : missing2 }}");
        assert!(r.guarded.contains(&"missing".to_string()));
        assert!(r.lazy.contains(&"missing2".to_string()));
        let r = rewrite("{{ inputs.a.b ?? vars.c }}");
        assert_eq!(r.guarded, ["inputs.a.b"]);
        assert_eq!(r.lazy, ["vars.c"]);
        let r = rewrite("{{ x | default('d') }}");
        assert_eq!(r.guarded, ["x"]);
    }
}
