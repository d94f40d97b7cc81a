//! `runner plugins`: every task type of the registry with its aliases and properties.

use crate::cli::Format;
use crate::exit;
use runner_core::{PropDoc, PropKind};
use serde_json::{Value as Json, json};

fn kind(p: &PropDoc) -> &'static str {
    match p.kind {
        PropKind::Value(t) => t,
        PropKind::Tasks => "list of tasks",
        PropKind::TaskMap => "map of task lists",
        PropKind::Dag => "list of {task, dependsOn}",
    }
}

pub(crate) fn plugins(format: Format) -> u8 {
    let registry = crate::registry();
    let mut out = String::new();
    match format {
        Format::Json => {
            let list: Vec<Json> = registry
                .iter()
                .map(|t| {
                    let props: Vec<Json> = t
                        .properties
                        .iter()
                        .map(|p| {
                            json!({"name": p.name, "type": kind(p), "required": p.required, "dynamic": p.dynamic, "secret": p.secret, "description": p.doc})
                        })
                        .collect();
                    let d = t.descriptor;
                    json!({"type": d.type_name, "aliases": d.aliases, "description": d.doc, "flowable": t.is_flowable(), "example": d.example, "properties": props})
                })
                .collect();
            out = serde_json::to_string_pretty(&list).unwrap_or_default();
            out.push('\n');
        }
        Format::Text => {
            use std::fmt::Write;
            for t in registry.iter() {
                let d = t.descriptor;
                let _ = writeln!(out, "{}", d.type_name);
                let _ = writeln!(out, "    {}", d.doc);
                if !d.aliases.is_empty() {
                    let _ = writeln!(out, "    aliases: {}", d.aliases.join(", "));
                }
                for p in &t.properties {
                    let req = if p.required { ", required" } else { "" };
                    let _ = writeln!(out, "    - {} ({}{req}): {}", p.name, kind(p), p.doc);
                }
            }
        }
    }
    match crate::write_stdout(out.as_bytes()) {
        Ok(()) => exit::SUCCESS,
        Err(e) => crate::report(format!("cannot print the list: {e}"), exit::FAILED),
    }
}

/// `runner plugins TYPE`: one task type (found by its name or an alias) with its properties
/// and example.
pub(crate) fn one(type_name: &str, format: Format) -> u8 {
    let registry = crate::registry();
    let Some(t) = registry.get(type_name) else {
        let hint = registry
            .suggest(type_name)
            .map(|s| format!(": did you mean `{s}`?"))
            .unwrap_or_else(|| ": `runner plugins` lists them".to_string());
        return crate::report(
            format!("{type_name} is not a task type runner supports{hint}"),
            exit::INVALID,
        );
    };
    let d = t.descriptor;
    let out = match format {
        Format::Json => {
            let props: Vec<Json> = t
                .properties
                .iter()
                .map(|p| json!({"name": p.name, "type": kind(p), "required": p.required, "dynamic": p.dynamic, "secret": p.secret, "description": p.doc}))
                .collect();
            let mut s = serde_json::to_string_pretty(&json!({"type": d.type_name, "aliases": d.aliases, "description": d.doc, "flowable": t.is_flowable(), "example": d.example, "properties": props})).unwrap_or_default();
            s.push('\n');
            s
        }
        Format::Text => {
            use std::fmt::Write;
            let mut out = String::new();
            let _ = writeln!(out, "{}\n\n{}\n", d.type_name, d.doc);
            if !d.aliases.is_empty() {
                let _ = writeln!(out, "Also known as: {}\n", d.aliases.join(", "));
            }
            let _ = writeln!(out, "Properties:");
            for p in &t.properties {
                let mut notes = vec![kind(p).to_string()];
                if p.required {
                    notes.push("required".into());
                }
                if p.dynamic {
                    notes.push("dynamic".into());
                }
                if p.secret {
                    notes.push("secret: masked everywhere".into());
                }
                let _ = writeln!(out, "  {:<24} {} ({})", p.name, p.doc, notes.join(", "));
            }
            let _ = writeln!(out, "\nExample:");
            for line in d.example.lines() {
                let _ = writeln!(out, "  {line}");
            }
            out
        }
    };
    match crate::write_stdout(out.as_bytes()) {
        Ok(()) => exit::SUCCESS,
        Err(e) => crate::report(format!("cannot print it: {e}"), exit::FAILED),
    }
}
