//! The explicit task registry: each plugin crate exports a slice of [`TaskDescriptor`]s and the
//! binary joins them. No linker magic: what `runner plugins` lists is exactly this table.

use crate::task::TaskKind;
use crate::validate::TaskBuilder;
use std::collections::HashMap;

/// How a property is filled in a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropKind {
    /// A value; the text says of what type (`string`, `duration`, `map`...).
    Value(&'static str),
    /// A list of tasks.
    Tasks,
    /// A map from a key to a list of tasks (Switch `cases`).
    TaskMap,
}

/// One property of a task type, with its user documentation.
#[derive(Clone, Copy, Debug)]
pub struct PropDoc {
    pub name: &'static str,
    pub kind: PropKind,
    pub required: bool,
    /// Rendered with the run's variables when the task reads it.
    pub dynamic: bool,
    pub doc: &'static str,
}

impl PropDoc {
    pub const fn value(name: &'static str, type_doc: &'static str, doc: &'static str) -> Self {
        PropDoc {
            name,
            kind: PropKind::Value(type_doc),
            required: false,
            dynamic: true,
            doc,
        }
    }

    pub const fn required(self) -> Self {
        PropDoc {
            required: true,
            ..self
        }
    }

    pub const fn fixed(self) -> Self {
        PropDoc {
            dynamic: false,
            ..self
        }
    }

    pub const fn tasks(name: &'static str, doc: &'static str) -> Self {
        PropDoc {
            name,
            kind: PropKind::Tasks,
            required: false,
            dynamic: false,
            doc,
        }
    }

    pub const fn task_map(name: &'static str, doc: &'static str) -> Self {
        PropDoc {
            name,
            kind: PropKind::TaskMap,
            required: false,
            dynamic: false,
            doc,
        }
    }
}

/// A task type: its Kestra name and aliases, documentation, and how to build it from a flow.
pub struct TaskDescriptor {
    pub type_name: &'static str,
    pub aliases: &'static [&'static str],
    pub doc: &'static str,
    pub properties: &'static [PropDoc],
    /// A minimal task of this type, in YAML; a test validates every one.
    pub example: &'static str,
    /// Flowable tasks also take `errors` and `finally` lists, read by the validator.
    pub flowable: bool,
    /// Builds the task from its properties; `None` when problems were reported to the builder.
    pub build: fn(&mut TaskBuilder<'_, '_>) -> Option<TaskKind>,
}

/// Every task type this runner can execute.
pub struct Registry {
    descriptors: Vec<&'static TaskDescriptor>,
    by_name: HashMap<&'static str, usize>,
}

impl Registry {
    pub fn new(lists: &[&'static [TaskDescriptor]]) -> Self {
        let mut descriptors = Vec::new();
        let mut by_name = HashMap::new();
        for list in lists {
            for d in list.iter() {
                let index = descriptors.len();
                descriptors.push(d);
                for name in std::iter::once(&d.type_name).chain(d.aliases) {
                    let previous = by_name.insert(*name, index);
                    assert!(previous.is_none(), "task type `{name}` is registered twice");
                }
            }
        }
        Registry {
            descriptors,
            by_name,
        }
    }

    pub fn get(&self, type_name: &str) -> Option<&'static TaskDescriptor> {
        self.by_name.get(type_name).map(|i| self.descriptors[*i])
    }

    pub fn iter(&self) -> impl Iterator<Item = &'static TaskDescriptor> + '_ {
        self.descriptors.iter().copied()
    }

    /// The known type closest to an unknown one: same simple name in another package first,
    /// then a near spelling of the simple name.
    pub fn suggest(&self, type_name: &str) -> Option<String> {
        let simple = |n: &str| n.rsplit('.').next().unwrap_or(n).to_string();
        let wanted = simple(type_name);
        if let Some(d) = self
            .descriptors
            .iter()
            .find(|d| simple(d.type_name) == wanted)
        {
            return Some(d.type_name.to_string());
        }
        let simples: Vec<String> = self
            .descriptors
            .iter()
            .map(|d| simple(d.type_name))
            .collect();
        let best = runner_model::suggest(&wanted, simples.iter().map(String::as_str))?;
        self.descriptors
            .iter()
            .find(|d| simple(d.type_name) == best)
            .map(|d| d.type_name.to_string())
    }
}
