//! The one renderer of user-facing problems: `error: ...`, `--> file:line:col`, the source line
//! with a caret, and `help: ...`.

use runner_model::{Diagnostic, Severity};
use std::fmt::Write;
use std::io::IsTerminal;
use std::path::Path;

pub(crate) struct Style {
    color: bool,
}

/// `--color`, set once before a command runs.
static COLOR: std::sync::OnceLock<crate::cli::ColorArg> = std::sync::OnceLock::new();

pub(crate) fn set_color(choice: crate::cli::ColorArg) {
    let _ = COLOR.set(choice);
}

/// Whether stderr gets colours: `--color always|never`, else a terminal without NO_COLOR
/// (set and not empty, as no-color.org says).
pub(crate) fn colors() -> bool {
    match COLOR.get().copied().unwrap_or(crate::cli::ColorArg::Auto) {
        crate::cli::ColorArg::Always => true,
        crate::cli::ColorArg::Never => false,
        crate::cli::ColorArg::Auto => {
            std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

impl Style {
    pub(crate) fn stderr() -> Self {
        Style { color: colors() }
    }

    /// No colours (text kept for reports).
    pub(crate) fn plain() -> Self {
        Style { color: false }
    }

    pub(crate) fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub(crate) fn error_label(&self) -> String {
        self.paint("1;31", "error")
    }

    pub(crate) fn warning_label(&self) -> String {
        self.paint("1;33", "warning")
    }
}

/// A file's text with where each line starts, so a diagnostic finds its line at once.
pub(crate) struct Source {
    text: String,
    starts: Vec<usize>,
}

impl Source {
    pub(crate) fn new(text: String) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Source { text, starts }
    }

    /// The whole text.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Line `n` (1-based), without its line break.
    fn line(&self, n: u32) -> Option<&str> {
        let i = usize::try_from(n).ok()?.checked_sub(1)?;
        let start = *self.starts.get(i)?;
        let end = self.starts.get(i + 1).map_or(self.text.len(), |e| e - 1);
        self.text.get(start..end).map(|l| l.trim_end_matches('\r'))
    }
}

/// The widest source line shown; a longer one is cut around the column.
const SHOWN: usize = 160;

/// `line` cut to about [`SHOWN`] characters around `col` (1-based), and the column in the cut.
fn window(line: &str, col: usize) -> (String, usize) {
    let count = line.chars().count();
    if count <= SHOWN {
        return (line.to_string(), col);
    }
    let from = col
        .saturating_sub(SHOWN / 2)
        .min(count.saturating_sub(SHOWN));
    let mut cut: String = line.chars().skip(from).take(SHOWN).collect();
    let mut col = col - from;
    if from > 0 {
        cut.insert(0, '…');
        col += 1;
    }
    if from + SHOWN < count {
        cut.push('…');
    }
    (cut, col)
}

/// Renders one diagnostic about `path` whose source is `source`.
pub(crate) fn render(d: &Diagnostic, path: &Path, source: &Source, style: &Style) -> String {
    let mut out = String::new();
    let label = match d.severity {
        Severity::Error => style.error_label(),
        Severity::Warning => style.paint("1;33", "warning"),
    };
    let message = d.problem.to_string();
    let _ = writeln!(out, "{label}: {message}");
    match d.span {
        Some(span) => {
            let _ = writeln!(out, "  --> {}:{}:{}", path.display(), span.line, span.col);
            if let Some(line) = source.line(span.line) {
                let (line, col) = window(line, span.col as usize);
                let number = span.line.to_string();
                let pad = " ".repeat(number.len());
                let lead: String = line
                    .chars()
                    .take(col.saturating_sub(1))
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                let room = line
                    .chars()
                    .count()
                    .saturating_sub(col.saturating_sub(1))
                    .max(1);
                let carets = "^".repeat((span.len.max(1) as usize).min(room));
                let _ = writeln!(out, " {pad} |");
                let _ = writeln!(out, " {number} | {line}");
                let _ = writeln!(out, " {pad} | {lead}{}", style.paint("1;31", &carets));
            }
        }
        None => {
            let _ = writeln!(out, "  --> {}", path.display());
        }
    }
    if !d.path.is_empty() && !message.contains(&d.path) {
        let _ = writeln!(out, "   = property: {}", d.path);
    }
    if let Some(help) = d.problem.help() {
        let _ = writeln!(out, "   = help: {help}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_found_and_long_ones_cut_around_the_column() {
        let s = Source::new("a\r\nbb\n\nlast".to_string());
        assert_eq!(s.line(1), Some("a"));
        assert_eq!(s.line(2), Some("bb"));
        assert_eq!(s.line(3), Some(""));
        assert_eq!(s.line(4), Some("last"));
        assert_eq!(s.line(5), None);
        assert_eq!(s.line(0), None);
        let long = format!("{}X{}", "a".repeat(5000), "b".repeat(5000));
        let (cut, col) = window(&long, 5001);
        assert!(cut.chars().count() <= SHOWN + 2, "{}", cut.len());
        assert_eq!(cut.chars().nth(col - 1), Some('X'));
        assert!(cut.starts_with('…') && cut.ends_with('…'));
        assert_eq!(window("short", 3), ("short".to_string(), 3));
    }
}
