//! `runner schema`: a JSON Schema of a flow file as runner reads it (or of a test suite, with
//! `--test-suite`), for editors that validate and complete YAML against one
//! (yaml-language-server: VS Code's YAML extension, Neovim, Helix...). Draft-07, which those
//! read best: every task type with its properties, their documentation, types and enums, one
//! `if`/`then` per type so that a misspelt property is flagged where it is written.
//!
//! Where a value may be an expression (`{{ ... }}`), a string is accepted beside the type:
//! the schema never refuses what Kestra renders at run time. A task's required properties are
//! said in their descriptions, not enforced: `pluginDefaults` may supply them, which a schema
//! of one task cannot see. `runner validate` checks those, expressions and references
//! between tasks; the schema must never flag a flow runner accepts.

use crate::exit;
use runner_core::{PropDoc, PropKind, Registry};
use serde_json::{Map, Value as Json, json};

const DRAFT: &str = "http://json-schema.org/draft-07/schema#";

pub(crate) fn schema(test_suite: bool) -> u8 {
    match crate::write_stdout(text(test_suite).as_bytes()) {
        Ok(()) => exit::SUCCESS,
        Err(e) => crate::report(format!("cannot print the schema: {e}"), exit::FAILED),
    }
}

/// The schema of flows (or of test suites), as the file holds it.
pub(crate) fn text(test_suite: bool) -> String {
    let doc = if test_suite {
        test_suite_schema()
    } else {
        flow_schema(&crate::registry())
    };
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

/// A string that holds an expression: what a dynamic property takes instead of its value.
fn expression() -> Json {
    json!({"type": "string", "pattern": "\\{\\{|\\{%"})
}

/// A value of `base`, an expression, or nothing (`key:` with no value, which Kestra reads as
/// not set).
fn or_expression(base: Json) -> Json {
    json!({"anyOf": [base, {"type": ["string", "null"]}]})
}

/// `A|B|C` in upper case: an enum's values, as the property documentation writes them.
fn enum_values(kind: &str) -> Option<Vec<&str>> {
    let values: Vec<&str> = kind.split('|').collect();
    (values.len() > 1
        && values.iter().all(|v| {
            !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        }))
    .then_some(values)
}

/// The schema of one property, from the type its documentation names.
fn property(p: &PropDoc, task: &Json) -> Json {
    let mut schema = match p.kind {
        PropKind::Tasks => json!({"type": ["array", "null"], "items": task}),
        PropKind::TaskMap => {
            json!({"type": "object", "additionalProperties": {"type": ["array", "null"], "items": task}})
        }
        PropKind::Dag => json!({"type": "array", "items": {
            "type": "object",
            "required": ["task"],
            "properties": {
                "task": task,
                "dependsOn": {"type": "array", "items": {"type": "string"}},
            },
            "additionalProperties": false,
        }}),
        PropKind::Value(kind) => match kind {
            // Kestra reads a number or a boolean written where a string goes (`port: 21`).
            "string" | "character" => json!({"type": ["string", "number", "boolean", "null"]}),
            "duration" => json!({"type": ["string", "null"]}),
            "boolean" => or_expression(json!({"type": "boolean"})),
            "integer" => or_expression(json!({"type": "integer"})),
            "number" => or_expression(json!({"type": "number"})),
            "map" | "object" => or_expression(json!({"type": "object"})),
            k if k.starts_with("list") => or_expression(json!({"type": "array"})),
            k => match enum_values(k) {
                Some(values) => {
                    json!({"anyOf": [{"enum": values}, expression(), {"type": "null"}]})
                }
                None => json!({}),
            },
        },
    };
    if let Some(m) = schema.as_object_mut() {
        let mut doc = p.doc.to_string();
        if p.required {
            doc.push_str(" (required)");
        }
        m.insert("description".into(), Json::String(doc));
    }
    schema
}

/// What every task has, whatever its type (the type's names are listed once, on the task).
fn common_properties() -> Map<String, Json> {
    let mut m = Map::new();
    m.insert(
        "id".into(),
        json!({"type": "string", "pattern": "^[a-zA-Z0-9][a-zA-Z0-9_-]*$", "description": "The task's id, unique in the flow."}),
    );
    m.insert("type".into(), json!({"type": "string"}));
    for name in runner_model::TASK_COMMON_FIELDS {
        let schema = match *name {
            "id" | "type" => continue,
            "description" | "version" => json!({"type": "string"}),
            "timeout" => {
                json!({"type": "string", "description": "An ISO-8601 duration (PT5M): the task fails after it."})
            }
            "runIf" => {
                json!({"type": ["string", "boolean"], "description": "The task runs only when this renders to something other than false, 0 or empty."})
            }
            "disabled" | "allowFailure" | "allowWarning" | "logToFile" => {
                or_expression(json!({"type": "boolean"}))
            }
            "logLevel" => json!({"enum": runner_model::LOG_LEVELS}),
            "retry" | "workerGroup" => json!({"type": "object"}),
            _ => json!({}),
        };
        m.insert((*name).to_string(), schema);
    }
    m
}

fn flow_schema(registry: &Registry) -> Json {
    let task = json!({"$ref": "#/definitions/task"});
    let mut type_names: Vec<&str> = Vec::new();
    for t in registry.iter() {
        type_names.push(t.descriptor.type_name);
        type_names.extend(t.descriptor.aliases.iter().copied());
    }
    let mut definitions = Map::new();
    let mut branches = Vec::new();
    for t in registry.iter() {
        let d = t.descriptor;
        let mut properties = common_properties();
        for p in &t.properties {
            properties.insert(p.name.to_string(), property(p, &task));
        }
        if t.is_flowable() {
            for list in ["errors", "finally"] {
                properties
                    .entry(list)
                    .or_insert_with(|| json!({"type": "array", "items": task}));
            }
        }
        let key = format!("task:{}", d.type_name);
        definitions.insert(
            key.clone(),
            json!({
                "type": "object",
                "description": d.doc,
                "properties": properties,
                "required": ["id", "type"],
                "additionalProperties": false,
            }),
        );
        for name in std::iter::once(d.type_name).chain(d.aliases.iter().copied()) {
            branches.push(json!({
                "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                "then": {"$ref": format!("#/definitions/{key}")},
            }));
        }
    }
    definitions.insert(
        "task".into(),
        json!({
            "type": "object",
            "required": ["id", "type"],
            "properties": {
                "id": {"type": "string"},
                "type": {"enum": type_names, "description": "The task type (`runner plugins` lists them)."},
            },
            "allOf": branches,
        }),
    );
    definitions.insert("input".into(), input_schema());
    let tasks = json!({"type": "array", "items": task});
    json!({
        "$schema": DRAFT,
        "$id": "https://runner.local/schema/flow.json",
        "title": "Kestra flow (as runner reads it)",
        "type": "object",
        "required": ["id", "namespace", "tasks"],
        "properties": {
            "id": {"type": "string", "pattern": "^[a-zA-Z0-9][a-zA-Z0-9._-]*$", "description": "The flow's id, unique in its namespace."},
            "namespace": {"type": "string", "description": "Lower-case words separated by dots (company.team)."},
            "revision": {"type": "integer"},
            "description": {"type": "string"},
            "labels": {"anyOf": [
                {"type": "object"},
                {"type": "array", "items": {"type": "object", "properties": {"key": {"type": "string"}, "value": {}}}},
            ]},
            "inputs": {"type": "array", "items": {"$ref": "#/definitions/input"}},
            "variables": {"type": "object"},
            "tasks": tasks,
            "errors": tasks,
            "finally": tasks,
            "afterExecution": tasks,
            "listeners": {"type": "array"},
            "outputs": {"type": "array", "items": {
                "type": "object",
                "required": ["id", "value"],
                "properties": {
                    "id": {"type": "string"},
                    "type": {"type": "string"},
                    "value": {},
                    "description": {"type": "string"},
                    "displayName": {"type": "string"},
                    "required": {"type": "boolean"},
                },
                "additionalProperties": false,
            }},
            "triggers": {"type": "array", "items": {"type": "object", "required": ["id", "type"], "properties": {"id": {"type": "string"}, "type": {"type": "string"}}}},
            "pluginDefaults": {"type": "array", "items": plugin_default()},
            "taskDefaults": {"type": "array", "items": plugin_default()},
            "concurrency": {"type": "object"},
            "retry": {"type": "object"},
            "disabled": {"type": "boolean"},
            "deleted": {"type": "boolean"},
            "sla": {"type": "array"},
            "checks": {"type": "array"},
            "tenantId": {"type": "string"},
            "workerGroup": {"type": "object"},
        },
        "additionalProperties": false,
        "definitions": definitions,
    })
}

fn plugin_default() -> Json {
    json!({
        "type": "object",
        "required": ["type", "values"],
        "properties": {
            "type": {"type": "string", "description": "A task type, or a prefix of types (io.kestra.plugin.jdbc)."},
            "values": {"type": "object"},
            "forced": {"type": "boolean"},
        },
        "additionalProperties": false,
    })
}

/// An input: its common properties, and those of its type.
fn input_schema() -> Json {
    let mut branches = Vec::new();
    for type_name in runner_model::INPUT_TYPES {
        let mut properties = Map::new();
        for name in runner_model::INPUT_COMMON_FIELDS
            .iter()
            .chain(runner_model::input_extra_fields(type_name))
        {
            let schema = match *name {
                "type" => json!({"const": type_name}),
                "required" | "allowCustomValue" | "isRadio" => json!({"type": "boolean"}),
                "id" | "name" | "description" | "displayName" | "validator" | "expression"
                | "itemType" | "extension" | "after" | "before" => json!({"type": "string"}),
                "dependsOn" => json!({"type": "object"}),
                "values" | "options" | "allowedFileExtensions" => {
                    or_expression(json!({"type": "array"}))
                }
                _ => json!({}),
            };
            properties.insert((*name).to_string(), schema);
        }
        branches.push(json!({
            "if": {"properties": {"type": {"const": type_name}}, "required": ["type"]},
            "then": {"properties": properties, "additionalProperties": false},
        }));
    }
    json!({
        "type": "object",
        "required": ["type"],
        "properties": {
            "id": {"type": "string"},
            "type": {"enum": runner_model::INPUT_TYPES},
        },
        "allOf": branches,
    })
}

fn test_suite_schema() -> Json {
    let mut assertion = Map::new();
    for (name, schema) in [
        ("value", json!({})),
        ("taskId", json!({"type": "string"})),
        ("description", json!({"type": "string"})),
        ("errorMessage", json!({"type": "string"})),
    ] {
        assertion.insert(name.into(), schema);
    }
    for op in runner_testsuite::Operator::ALL {
        assertion.insert(op.key().into(), json!({}));
    }
    json!({
        "$schema": DRAFT,
        "$id": "https://runner.local/schema/test-suite.json",
        "title": "Kestra test suite (as runner reads it)",
        "type": "object",
        "required": ["id", "namespace", "flowId", "testCases"],
        "properties": {
            "id": {"type": "string"},
            "namespace": {"type": "string"},
            "flowId": {"type": "string"},
            "description": {"type": "string"},
            "disabled": {"type": "boolean"},
            "testCases": {"type": "array", "items": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"type": "string"},
                    "type": {"type": "string"},
                    "disabled": {"type": "boolean"},
                    "description": {"type": "string"},
                    "fixtures": {
                        "type": "object",
                        "properties": {
                            "inputs": {"type": "object"},
                            "files": {"type": "object"},
                            "tasks": {"type": "array", "items": {
                                "type": "object",
                                "required": ["id"],
                                "properties": {
                                    "id": {"type": "string"},
                                    "value": {"type": "string"},
                                    "state": {"enum": runner_testsuite::FIXTURE_STATES},
                                    "outputs": {"type": "object"},
                                    "description": {"type": "string"},
                                    "assets": {},
                                },
                                "additionalProperties": false,
                            }},
                            "trigger": {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "string"},
                                    "type": {"type": "string"},
                                    "variables": {"type": "object"},
                                },
                                "additionalProperties": false,
                            },
                        },
                        "additionalProperties": false,
                    },
                    "assertions": {"type": "array", "items": {
                        "type": "object",
                        "properties": assertion,
                        "additionalProperties": false,
                    }},
                },
                "additionalProperties": false,
            }},
        },
        "additionalProperties": false,
    })
}
