//! Kestra flows as written.
//!
//! [`load_str`] turns YAML text into [`Node`] trees that keep the line and column of every value
//! and key; [`read_flow`] reads the top level of a flow from one tree and reports what breaks
//! Kestra's structural rules as [`Diagnostic`]s. Nothing here does I/O: task types and templates
//! are checked by `runner-core`, which knows the registry.

mod diagnostic;
mod duration;
mod flow;
mod link;
mod loader;
mod node;
mod span;

pub use diagnostic::{Diagnostic, Problem, Severity, suggest, typo_of};
pub use duration::{format_hms, format_human, format_iso, parse_duration};
pub use flow::{
    FLOW_FIELDS, INPUT_COMMON_FIELDS, INPUT_TYPES, LOG_LEVELS, Label, RawFlow, RawInput, RawOutput,
    RawTask, Reader, TASK_COMMON_FIELDS, input_extra_fields, is_task_id, join,
    looks_like_unquoted_expression, read_flow, read_inputs,
};
pub use link::{LinkPart, link_parts, plain_links};
pub use loader::{LoadError, MAX_ALIAS_VALUES, MAX_DEPTH, load_str};
pub use node::{Key, Node, NodeValue};
pub use span::Span;
