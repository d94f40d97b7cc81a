//! The one renderer of user-facing problems: `error: ...`, `--> file:line:col`, the source line
//! with a caret, and `help: ...`.

use runner_model::{Diagnostic, Severity};
use std::fmt::Write;
use std::io::IsTerminal;
use std::path::Path;

pub(crate) struct Style {
    color: bool,
}

impl Style {
    pub(crate) fn stderr() -> Self {
        Style {
            color: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub(crate) fn error_label(&self) -> String {
        self.paint("1;31", "error")
    }
}

/// Renders one diagnostic about `path` whose source is `text`.
pub(crate) fn render(d: &Diagnostic, path: &Path, text: &str, style: &Style) -> String {
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
            if let Some(line) = text.lines().nth(span.line.saturating_sub(1) as usize) {
                let number = span.line.to_string();
                let pad = " ".repeat(number.len());
                let lead: String = line
                    .chars()
                    .take(span.col.saturating_sub(1) as usize)
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                let carets = "^".repeat(span.len.max(1) as usize);
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
