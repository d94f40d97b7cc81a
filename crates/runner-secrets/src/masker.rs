use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine;
use std::sync::RwLock;

/// What a hidden value is replaced with.
const MASK: &str = "******";

/// Values shorter than this are not masked: masking a one-character secret (`S`, `1`, `"`)
/// would rewrite every log line and record, turning `SUCCESS` into `******UCCE******` and
/// records into invalid JSON, and would reveal the value by what it replaces. The run warns
/// about such a secret instead.
pub const MIN_MASKED_LENGTH: usize = 4;

/// The shortest line of a wrapped base64 form that is masked on its own: a few characters of
/// base64 would match unrelated text.
const WRAPPED_LINE_MIN: usize = 8;

/// What [`Masker::add`] did with a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Added {
    Masked,
    /// Shorter than [`MIN_MASKED_LENGTH`] characters: not masked.
    TooShort,
    Empty,
}

/// Hides registered values in any text. Shared by the whole run (logs, errors, records).
#[derive(Default)]
pub struct Masker {
    state: RwLock<State>,
}

#[derive(Default)]
struct State {
    /// How many values were added: text masked before a change may hold a newer secret.
    generation: u64,
    values: Vec<String>,
    patterns: Vec<String>,
    automaton: Option<AhoCorasick>,
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.state.read().map(|s| s.values.len()).unwrap_or(0);
        write!(f, "Masker({n} values)")
    }
}

impl Masker {
    /// Registers a value to hide, with the forms it may take in output.
    pub fn add(&self, value: &str) -> Added {
        let value = value.trim();
        if value.is_empty() {
            return Added::Empty;
        }
        if value.chars().count() < MIN_MASKED_LENGTH {
            return Added::TooShort;
        }
        let Ok(mut state) = self.state.write() else {
            return Added::Masked;
        };
        if state.values.iter().any(|v| v == value) {
            return Added::Masked;
        }
        state.values.push(value.to_string());
        state.generation += 1;
        let forms = forms(value);
        for f in forms {
            if !f.is_empty() && !state.patterns.contains(&f) {
                state.patterns.push(f);
            }
        }
        state.automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&state.patterns)
            .ok();
        Added::Masked
    }

    /// Masks every string in `value` (map keys too) where it holds a secret, one string at a
    /// time so the result stays valid JSON whatever the secret holds; strings under `keep`
    /// keys (ids, states, dates: the record's structure, which never holds a secret) are left
    /// as they are. Nothing is copied where no secret is found: the record of a long run is
    /// large, and most of it never saw one.
    pub fn mask_json_in_place(&self, value: &mut serde_json::Value, keep: &[&str]) {
        use serde_json::Value as Json;
        let found = |text: &str| {
            let state = match self.state.read() {
                Ok(s) => s,
                Err(poisoned) => poisoned.into_inner(),
            };
            state.automaton.as_ref().is_some_and(|ac| ac.is_match(text))
        };
        if !found_any(self) {
            return;
        }
        match value {
            Json::String(s) if found(s) => *s = self.mask(s),
            Json::Array(items) => {
                for v in items {
                    self.mask_json_in_place(v, keep);
                }
            }
            Json::Object(map) => {
                if map.keys().any(|k| !keep.contains(&k.as_str()) && found(k)) {
                    let old = std::mem::take(map);
                    for (k, v) in old {
                        let k = if keep.contains(&k.as_str()) {
                            k
                        } else {
                            self.mask(&k)
                        };
                        map.insert(k, v);
                    }
                }
                for (k, v) in map.iter_mut() {
                    if !keep.contains(&k.as_str()) {
                        self.mask_json_in_place(v, keep);
                    }
                }
            }
            _ => {}
        }
    }

    /// `text` with every registered value (in any of its forms) replaced by `******`;
    /// overlapping or touching matches become one mask, so lengths are not revealed.
    pub fn mask(&self, text: &str) -> String {
        // A poisoned lock still holds the values: keep masking with them.
        let state = match self.state.read() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        let Some(ac) = &state.automaton else {
            return text.to_string();
        };
        let mut ranges: Vec<(usize, usize)> = ac
            .find_overlapping_iter(text)
            .map(|m| (m.start(), m.end()))
            .collect();
        if ranges.is_empty() {
            return text.to_string();
        }
        ranges.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
        for (s, e) in ranges {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (s, e) in merged {
            // Matches are on byte offsets of whole UTF-8 patterns, so they fall on char boundaries.
            out.push_str(&text[at..s]);
            out.push_str(MASK);
            at = e;
        }
        out.push_str(&text[at..]);
        out
    }

    /// [`Self::mask`] for bytes that may not be UTF-8 (a downloaded file).
    pub fn mask_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        let state = match self.state.read() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        let Some(ac) = &state.automaton else {
            return bytes.to_vec();
        };
        let mut out = Vec::with_capacity(bytes.len());
        let mut at = 0;
        for (s, e) in merged_matches(ac, bytes) {
            out.extend_from_slice(&bytes[at..s]);
            out.extend_from_slice(MASK.as_bytes());
            at = e;
        }
        out.extend_from_slice(&bytes[at..]);
        out
    }

    /// How much of `buffered` can be masked and sent now when more bytes may follow: all but
    /// the end a secret could still be starting in, unless a match that is already whole
    /// reaches past it.
    fn safe_cut(&self, buffered: &[u8]) -> usize {
        let state = match self.state.read() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        let Some(ac) = &state.automaton else {
            return buffered.len();
        };
        let longest = state.patterns.iter().map(String::len).max().unwrap_or(1);
        let mut cut = buffered.len().saturating_sub(longest - 1);
        for (s, e) in merged_matches(ac, buffered) {
            if s < cut && e > cut {
                cut = e;
            }
        }
        cut
    }

    /// Changes whenever a value is added: something masked at one generation is fully masked
    /// as long as the generation has not moved.
    pub fn generation(&self) -> u64 {
        match self.state.read() {
            Ok(s) => s.generation,
            Err(poisoned) => poisoned.into_inner().generation,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.state
            .read()
            .map(|s| s.values.is_empty())
            .unwrap_or(true)
    }
}

/// The forms of a value that can reach output: itself, each of its lines and words (an error
/// message may quote the first word of a value it could not parse), its base64 at the three
/// alignments it can take inside a longer encoded text, and its JSON and URL encodings.
/// Every match in `haystack`, overlapping or touching ones joined.
fn merged_matches(ac: &AhoCorasick, haystack: &[u8]) -> Vec<(usize, usize)> {
    let mut ranges: Vec<(usize, usize)> = ac
        .find_overlapping_iter(haystack)
        .map(|m| (m.start(), m.end()))
        .collect();
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (s, e) in ranges {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// Masks what passes through it on its way to `inner`, a secret split across two writes
/// included; [`MaskingWriter::finish`] sends the rest.
pub struct MaskingWriter<'m, W: std::io::Write> {
    masker: &'m Masker,
    inner: W,
    pending: Vec<u8>,
}

impl<'m, W: std::io::Write> MaskingWriter<'m, W> {
    pub fn new(masker: &'m Masker, inner: W) -> Self {
        MaskingWriter {
            masker,
            inner,
            pending: Vec::new(),
        }
    }

    /// Masks and writes what is still held back; returns the inner writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        let rest = self.masker.mask_bytes(&self.pending);
        self.inner.write_all(&rest)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: std::io::Write> std::io::Write for MaskingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        let cut = self.masker.safe_cut(&self.pending);
        if cut > 0 {
            let masked = self.masker.mask_bytes(&self.pending[..cut]);
            self.inner.write_all(&masked)?;
            self.pending.drain(..cut);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// `value` as HTML text and attribute values show it. Web pages (`runner ui`) escape with this
/// one, so the form the masker looks for is exactly the form they print.
pub fn html_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn forms(value: &str) -> Vec<String> {
    let mut out = vec![value.to_string()];
    if value.contains('\n') {
        out.extend(
            value
                .lines()
                .map(str::trim)
                .filter(|l| l.chars().count() >= MIN_MASKED_LENGTH)
                .map(str::to_string),
        );
    }
    if value.contains(char::is_whitespace) {
        out.extend(
            value
                .split_whitespace()
                .filter(|w| w.chars().count() >= MIN_MASKED_LENGTH)
                .map(str::to_string),
        );
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let encoded = b64.encode(value);
    // Wrapped base64 (GNU base64 and Python's encodebytes at 76 columns, openssl and PEM at
    // 64) prints the encoding line by line: each line is masked. The last one's final group
    // changes with what followed the value (`echo` adds a newline) unless the value fills it.
    let whole_groups = value.len().is_multiple_of(3);
    for width in [64, 76] {
        if encoded.len() > width {
            let chunks: Vec<&str> = encoded
                .as_bytes()
                .chunks(width)
                .map(|c| std::str::from_utf8(c).unwrap_or_default())
                .collect();
            for (i, chunk) in chunks.iter().enumerate() {
                let line = if i + 1 == chunks.len() && !whole_groups {
                    &chunk[..chunk.len().saturating_sub(4)]
                } else {
                    chunk
                };
                if line.len() >= WRAPPED_LINE_MIN {
                    out.push(line.to_string());
                }
            }
        }
    }
    out.push(encoded);
    let bytes = value.as_bytes();
    for shift in 0..3 {
        if bytes.len() <= shift {
            break;
        }
        let rest = &bytes[shift..];
        let whole = rest.len() / 3 * 3;
        if whole >= 3 {
            out.push(b64.encode(&rest[..whole]));
        }
    }
    let json = serde_json::to_string(value).unwrap_or_default();
    out.push(json[1..json.len() - 1].to_string());
    out.push(url_encode(value, false));
    out.push(url_encode(value, true));
    // As a web page shows it (`runner ui`).
    out.push(html_escape(value));
    out.sort();
    out.dedup();
    out
}

fn url_encode(s: &str, plus_for_space: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' if plus_for_space => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Whether the masker holds any value at all (most runs have no secret).
fn found_any(m: &Masker) -> bool {
    let state = match m.state.read() {
        Ok(s) => s,
        Err(poisoned) => poisoned.into_inner(),
    };
    state.automaton.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `base64` (GNU, 76 columns) and `openssl base64` (64) print for `input`.
    fn wrapped(input: &[u8], width: usize) -> String {
        let e = base64::engine::general_purpose::STANDARD.encode(input);
        e.as_bytes()
            .chunks(width)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn wrapped_base64_is_masked_line_by_line() {
        let secret: String = (0..228)
            .map(|i| (b'a' + (i * 7 % 26) as u8) as char)
            .collect();
        let m = masker(&[&secret]);
        for width in [64, 76] {
            for input in [secret.clone(), format!("{secret}\n")] {
                let text = wrapped(input.as_bytes(), width);
                assert!(text.lines().count() >= 4, "{text}");
                let masked = m.mask(&text);
                // Every line is hidden but, at most, the last group of the last one (which
                // encodes the newline `echo` added, and at most two bytes of the value).
                for line in masked.lines() {
                    let hidden = line.starts_with(MASK) && line.len() <= MASK.len() + 4;
                    assert!(
                        hidden || line.len() <= 4,
                        "width {width}: `{line}` in\n{masked}"
                    );
                }
            }
        }
    }

    fn masker(values: &[&str]) -> Masker {
        let m = Masker::default();
        values.iter().for_each(|v| {
            m.add(v);
        });
        m
    }

    #[test]
    fn a_stream_is_masked_whatever_its_writes_split() {
        use std::io::Write;
        let m = masker(&["hunter2-secret"]);
        let text = "a hunter2-secret b aHVudGVyMi1zZWNyZXQ= c hunter2-secret";
        for step in [1, 2, 3, 5, 7, 13, 64] {
            let mut w = MaskingWriter::new(&m, Vec::new());
            for chunk in text.as_bytes().chunks(step) {
                w.write_all(chunk).unwrap();
            }
            let out = String::from_utf8(w.finish().unwrap()).unwrap();
            assert_eq!(out, "a ****** b ****** c ******", "writes of {step} bytes");
        }
        // Bytes that are not UTF-8 around a secret.
        let mut w = MaskingWriter::new(&m, Vec::new());
        w.write_all(b"\xff\xfehunter2-secret\x00").unwrap();
        assert_eq!(w.finish().unwrap(), b"\xff\xfe******\x00");
    }

    #[test]
    fn a_page_shows_a_secret_escaped_and_that_is_masked_too() {
        let m = masker(&["p<a>ss&word"]);
        assert_eq!(m.mask("value: p&lt;a&gt;ss&amp;word"), "value: ******");
    }

    #[test]
    fn exact_values_and_overlaps_merge() {
        let m = masker(&["abcd", "abcdef"]);
        assert_eq!(m.mask("abcdefg"), "******g");
        assert_eq!(m.mask("x abcd y"), "x ****** y");
        assert_eq!(m.mask("nothing here"), "nothing here");
        assert_eq!(masker(&["doe.com"]).mask("john@doe.com"), "john@******");
    }

    #[test]
    fn short_values_are_not_masked_and_say_so() {
        let m = Masker::default();
        for short in ["S", "1", "{", "\"", ":", "abc"] {
            assert_eq!(m.add(short), Added::TooShort, "{short}");
        }
        assert_eq!(m.add("  "), Added::Empty);
        assert_eq!(m.mask("SUCCESS {\"a\": 1}"), "SUCCESS {\"a\": 1}");
        assert_eq!(m.add("abcd"), Added::Masked);
    }

    #[test]
    fn each_word_of_a_phrase_is_masked_too() {
        let m = masker(&["correct horse battery"]);
        assert_eq!(
            m.mask("unknown statement correct"),
            "unknown statement ******"
        );
        assert_eq!(m.mask("near `battery`"), "near `******`");
    }

    #[test]
    fn json_is_masked_string_by_string() {
        let m = masker(&["hunter2", "{\"a\"}"]);
        let record = serde_json::json!({
            "id": "hunter2-not-a-secret-id",
            "outputs": {"pw": "x hunter2 y", "hunter2": 1, "j": "{\"a\"}"},
            "state": {"current": "SUCCESS"}
        });
        let mut masked = record;
        m.mask_json_in_place(&mut masked, &["id", "state"]);
        assert_eq!(
            masked,
            serde_json::json!({
                "id": "hunter2-not-a-secret-id",
                "outputs": {"pw": "x ****** y", "******": 1, "j": "******"},
                "state": {"current": "SUCCESS"}
            })
        );
    }

    #[test]
    fn each_line_of_a_multiline_secret() {
        let m = masker(&["-----BEGIN KEY-----\nMIIEvQIBADANBgkq\n-----END KEY-----"]);
        assert_eq!(m.mask("line: MIIEvQIBADANBgkq"), "line: ******");
    }

    #[test]
    fn base64_at_any_alignment() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let m = masker(&["s3cr3t-p4ss"]);
        for prefix in ["", "u:", "us:", "user:"] {
            let encoded = b64.encode(format!("{prefix}s3cr3t-p4ss"));
            let masked = m.mask(&encoded);
            assert!(masked.contains(MASK), "{prefix:?}: {encoded} -> {masked}");
            // What is left visible cannot be decoded back to the secret.
            assert!(!masked.replace(MASK, "").contains("czNjcjN0"), "{masked}");
        }
    }

    #[test]
    fn json_and_url_forms() {
        let m = masker(&["pa\"ss w/rd"]);
        assert_eq!(m.mask(r#"{"pw":"pa\"ss w/rd"}"#), r#"{"pw":"******"}"#);
        assert_eq!(
            m.mask("https://x/?p=pa%22ss%20w%2Frd"),
            "https://x/?p=******"
        );
        assert_eq!(m.mask("p=pa%22ss+w%2Frd"), "p=******");
    }

    #[test]
    fn unicode_text_stays_valid() {
        let m = masker(&["clé!"]);
        assert_eq!(m.mask("é clé! é"), "é ****** é");
    }
}
