//! `runner validate PATH...`: every flow of every file, checked without running anything.

use crate::diagnostics::{Style, render};
use crate::exit;
use crate::files;
use runner_core::unset_secrets;
use runner_template::Renderer;
use std::io::Write;
use std::path::PathBuf;

pub(crate) fn validate_paths(paths: &[PathBuf], env_files: &files::EnvFiles) -> u8 {
    let style = Style::stderr();
    let environment = match files::environment(env_files) {
        Ok(e) => e,
        Err(e) => return crate::report(e, exit::INVALID),
    };
    let files = match files::collect(paths) {
        Ok(f) => f,
        Err(e) => return crate::report(e, exit::INVALID),
    };
    if files.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return crate::report(
            format!("no .yaml or .yml file under {}", shown.join(", ")),
            exit::FAILED,
        );
    }
    let registry = crate::registry();
    let renderer = Renderer::new();
    let (mut valid, mut invalid, mut unreadable) = (0usize, 0usize, 0usize);
    let mut stdout = std::io::stdout().lock();
    for path in &files {
        let Some((file, results)) = files::load(path, &registry, &renderer, &style) else {
            unreadable += 1;
            continue;
        };
        if let Ok(docs) = &file.docs {
            for warning in unset_secrets(docs, &environment) {
                crate::say_raw!("{}", render(&warning, &file.path, &file.text, &style));
            }
        }
        for (name, plan) in results {
            match (plan, name) {
                (Some(_), Some(name)) => {
                    valid += 1;
                    let _ = writeln!(stdout, "✓ {name}");
                }
                (_, name) => {
                    invalid += 1;
                    let what = name.unwrap_or_else(|| file.path.display().to_string());
                    let _ = writeln!(stdout, "✘ {what} ({})", file.path.display());
                }
            }
        }
    }
    if unreadable > 0 {
        crate::say!(
            "{unreadable} file(s) could not be read, {invalid} invalid flow(s), {valid} valid"
        );
        exit::INVALID
    } else if invalid > 0 {
        crate::say!("{invalid} invalid flow(s), {valid} valid");
        exit::FAILED
    } else {
        exit::SUCCESS
    }
}
