//! How much one render may do. An expression is code from the flow: without limits a short
//! one can loop for hours (`{% for %}` in `{% for %}`), produce gigabytes, or nest deep enough
//! to overflow the stack while it is parsed. Each limit fails the render with a message that
//! names it and the variable that raises it (read by the binary).

use crate::{JqSandbox, RenderError, RenderErrorKind};

#[derive(Clone, Debug)]
pub struct Limits {
    /// minijinja's fuel for one render: about one unit per instruction (and per 64 bytes
    /// the template allocates). The default takes about a second of a release build; it also
    /// bounds how late a task's `timeout` can be noticed, since a render is not interrupted.
    pub fuel: u64,
    /// The longest text one render may produce, in bytes.
    pub max_output: usize,
    /// The deepest nesting of brackets in one `{{ }}` or `{% %}`.
    pub max_depth: usize,
    /// The most operators and filters in one `{{ }}` or `{% %}`.
    pub max_operators: usize,
    /// The most `{{ }}` and `{% %}` in one template: a template can nest a value one level
    /// per statement (`{% set x = [x] %}`), and a value is dropped recursively.
    pub max_tags: usize,
    /// Where jq programs run; in-process when `None`.
    pub jq: Option<JqSandbox>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 50_000_000,
            max_output: 64 * 1024 * 1024,
            max_depth: 64,
            max_operators: 1000,
            max_tags: 1000,
            jq: None,
        }
    }
}

impl Limits {
    fn error(source: &str, detail: String) -> RenderError {
        RenderError {
            kind: RenderErrorKind::Other,
            detail,
            expression: source.to_string(),
            line: None,
        }
    }

    pub(crate) fn fuel_error(&self, source: &str) -> RenderError {
        Self::error(
            source,
            format!(
                "the expression was stopped after {} steps (RUNNER_RENDER_FUEL raises the limit)",
                self.fuel
            ),
        )
    }

    pub(crate) fn output_error(&self, source: &str) -> RenderError {
        Self::error(
            source,
            format!(
                "the expression produced more than {} MiB (RUNNER_MAX_RENDER_MB raises the limit)",
                self.max_output / (1024 * 1024)
            ),
        )
    }

    /// Refuses an expression nested or chained beyond the limits, before it is parsed:
    /// the parser and the Pebble rewrite recurse on nesting, and minijinja builds one tree
    /// level per chained operator.
    /// The rewrite of `??` repeats its left side; nested ones (`((a ?? b) ?? c) ?? d`) double it
    /// per level. Past a few levels the text would grow without bound: refused.
    pub(crate) fn check_rewritten(
        &self,
        source: &str,
        rewritten: &crate::pebble::Rewritten,
    ) -> Result<(), RenderError> {
        if rewritten.too_large || rewritten.source.len() > source.len().saturating_mul(8) + 4096 {
            return Err(Self::error(
                source,
                "`??` is nested too deeply (each level doubles the expression): write it with fewer nested `??`, or set a variable first".to_string(),
            ));
        }
        Ok(())
    }

    pub(crate) fn check_shape(&self, source: &str) -> Result<(), RenderError> {
        let b = source.as_bytes();
        let (mut i, mut in_tag, mut depth, mut ops) = (0usize, false, 0usize, 0usize);
        let mut tags = 0usize;
        while i < b.len() {
            let c = b[i];
            if !in_tag {
                if c == b'{' && matches!(b.get(i + 1), Some(b'{' | b'%')) {
                    in_tag = true;
                    (depth, ops) = (0, 0);
                    tags += 1;
                    if tags > self.max_tags {
                        return Err(Self::error(
                            source,
                            format!(
                                "the template holds more than {} expressions and statements: split it",
                                self.max_tags
                            ),
                        ));
                    }
                    i += 2;
                    continue;
                }
                i += 1;
                continue;
            }
            match c {
                b'\'' | b'"' => {
                    i += 1;
                    while i < b.len() && b[i] != c {
                        if b[i] == b'\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                }
                b'}' | b'%' if b.get(i + 1) == Some(&b'}') && depth == 0 => {
                    in_tag = false;
                    i += 1;
                }
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    if depth > self.max_depth {
                        return Err(Self::error(
                            source,
                            format!(
                                "the expression nests brackets more than {} levels deep",
                                self.max_depth
                            ),
                        ));
                    }
                }
                b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                b'+' | b'-' | b'*' | b'/' | b'%' | b'~' | b'|' | b'<' | b'>' | b'=' | b'!'
                | b'?' | b'.' => {
                    ops += 1;
                    if ops > self.max_operators {
                        return Err(Self::error(
                            source,
                            format!(
                                "the expression chains more than {} operators, filters and attributes: split it (a Set task, or several properties)",
                                self.max_operators
                            ),
                        ));
                    }
                }
                _ => {}
            }
            i += 1;
        }
        Ok(())
    }
}

/// An output that stops accepting bytes past its limit.
pub(crate) struct Capped {
    bytes: Vec<u8>,
    max: usize,
    exceeded: bool,
}

impl Capped {
    pub(crate) fn new(max: usize) -> Self {
        Capped {
            bytes: Vec::new(),
            max,
            exceeded: false,
        }
    }

    pub(crate) fn exceeded(&self) -> bool {
        self.exceeded
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > self.max {
            self.exceeded = true;
            return Err(std::io::Error::other("the render output limit is reached"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
