//! The explicit task registry: each plugin crate exports a slice of [`TaskDescriptor`]s and the
//! binary joins them. No linker magic: what `runner plugins` lists is exactly this table.
//!
//! A descriptor names a task type and says how to build it; its properties are not written in
//! it but derived from the task's struct ([`Properties`]), so the struct serde reads and the
//! documentation cannot disagree.

use crate::plan::TaskList;
use crate::task::{FlowableTask, RunnableTask, TaskKind};
use crate::validate::TaskBuilder;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;
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
    /// A list of `{task, dependsOn}` (Dag `tasks`), read in an order that honours every
    /// dependency.
    Dag,
}

/// One property of a task type, with its user documentation.
#[derive(Clone, Copy, Debug)]
pub struct PropDoc {
    pub name: &'static str,
    pub kind: PropKind,
    pub required: bool,
    /// Rendered with the run's variables when the task reads it.
    pub dynamic: bool,
    /// A credential: what it holds is masked in every log, error, output and record.
    pub secret: bool,
    pub doc: &'static str,
}

/// A task's properties, derived from its struct with `#[derive(Properties)]`.
pub trait Properties {
    /// Appends the documentation of each property, in the order of the struct's fields.
    fn docs(out: &mut Vec<PropDoc>);

    /// Moves the task lists the validator read (`#[prop(tasks)]` fields) into the task.
    fn take_tasks(&mut self, _lists: &mut TaskLists) {}

    /// Marks the credential properties (`#[prop(secret)]`), so that rendering them registers
    /// their values with the run's masker; called once the task is read.
    fn seal(&mut self) {}

    /// Reads the value of property `name` alone, so that each wrong property is reported
    /// where it is written (serde stops at the first, and loses the place inside a
    /// `flatten`). `None` when `name` is not one of these properties.
    fn check_property(name: &str, value: &Json) -> Option<Result<(), ValueError>>;
}

/// Why one property's value does not fit its type.
#[derive(Debug)]
pub struct ValueError {
    /// Where inside the value (`[2].name`); empty for the value itself.
    pub path: String,
    pub message: String,
}

/// Reads `value` as a `T`, for [`Properties::check_property`].
pub fn check_value<T: DeserializeOwned>(value: &Json) -> Result<(), ValueError> {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(_) => Ok(()),
        Err(e) => {
            let path = e.path().to_string();
            Err(ValueError {
                path: if path == "." { String::new() } else { path },
                message: e.into_inner().to_string(),
            })
        }
    }
}

/// The deserialization error of a polymorphic property (a `taskRunner`) whose `type` names a
/// plugin runner does not have; the validator reports it as Kestra does, `Invalid type: X`.
pub fn unavailable_type(type_name: &str, help: &str) -> String {
    format!("{UNAVAILABLE}{type_name}\n{help}")
}

const UNAVAILABLE: &str = "unavailable plugin type: ";

/// The type and help of an [`unavailable_type`] message.
pub(crate) fn parse_unavailable_type(message: &str) -> Option<(&str, &str)> {
    message.strip_prefix(UNAVAILABLE)?.split_once('\n')
}

/// How a value type is named in the documentation (`string`, `duration`, `STORE|FETCH`).
pub trait PropType {
    const NAME: &'static str;
}

macro_rules! prop_type {
    ($name:literal: $($t:ty),+) => {
        $(impl PropType for $t {
            const NAME: &'static str = $name;
        })+
    };
}

prop_type!("string": String);
prop_type!("boolean": bool);
prop_type!("integer": u8, u16, u32, u64, usize, i8, i16, i32, i64);
prop_type!("number": f32, f64);
prop_type!("any": serde_json::Value);
prop_type!("map": serde_json::Map<String, serde_json::Value>);

impl<T> PropType for Vec<T> {
    const NAME: &'static str = "list";
}

impl<V> PropType for std::collections::BTreeMap<String, V> {
    const NAME: &'static str = "map";
}

impl<V> PropType for std::collections::HashMap<String, V> {
    const NAME: &'static str = "map";
}

/// The task lists of one flowable task, read by the validator before the task is built.
#[derive(Default)]
pub struct TaskLists {
    lists: Vec<(&'static str, TaskList)>,
    maps: Vec<(&'static str, Vec<(String, TaskList)>)>,
}

impl TaskLists {
    pub(crate) fn insert(&mut self, name: &'static str, tasks: TaskList) {
        self.lists.push((name, tasks));
    }

    pub(crate) fn insert_map(&mut self, name: &'static str, map: Vec<(String, TaskList)>) {
        self.maps.push((name, map));
    }

    /// The tasks of property `name` (empty when it was not given).
    pub fn tasks(&mut self, name: &str) -> TaskList {
        match self.lists.iter().position(|(n, _)| *n == name) {
            Some(i) => self.lists.swap_remove(i).1,
            None => Vec::new(),
        }
    }

    /// The map of task lists of property `name`, in source order.
    pub fn task_map(&mut self, name: &str) -> Vec<(String, TaskList)> {
        match self.maps.iter().position(|(n, _)| *n == name) {
            Some(i) => self.maps.swap_remove(i).1,
            None => Vec::new(),
        }
    }
}

/// What kind of task a type is and how to build it; made by [`runnable`] or [`flowable`].
#[derive(Clone, Copy)]
pub struct Shape {
    pub(crate) docs: fn(&mut Vec<PropDoc>),
    pub(crate) flowable: bool,
    pub(crate) build: fn(&mut TaskBuilder<'_, '_>) -> Option<TaskKind>,
}

/// A task that does work: its struct `T` is its properties.
pub const fn runnable<T>() -> Shape
where
    T: RunnableTask + Properties + DeserializeOwned + 'static,
{
    Shape {
        docs: T::docs,
        flowable: false,
        build: build_runnable::<T>,
    }
}

/// A task that runs other tasks: its struct `T` is its properties, task lists included.
pub const fn flowable<T>() -> Shape
where
    T: FlowableTask + Properties + DeserializeOwned + 'static,
{
    Shape {
        docs: T::docs,
        flowable: true,
        build: build_flowable::<T>,
    }
}

fn build_runnable<T>(b: &mut TaskBuilder<'_, '_>) -> Option<TaskKind>
where
    T: RunnableTask + Properties + DeserializeOwned + 'static,
{
    let mut task = b.properties::<T>()?;
    if let Err(rule) = task.check() {
        b.rule(&rule);
        return None;
    }
    task.seal();
    Some(TaskKind::Runnable(Box::new(task)))
}

fn build_flowable<T>(b: &mut TaskBuilder<'_, '_>) -> Option<TaskKind>
where
    T: FlowableTask + Properties + DeserializeOwned + 'static,
{
    // Properties first, then the children, so diagnostics come in source order; children are
    // read even when a property is wrong, so their problems are reported too.
    let task = b.properties::<T>();
    let before = b.errors_so_far();
    let mut lists = b.task_lists();
    let children_failed = b.errors_so_far() > before;
    let mut task = task?;
    task.take_tasks(&mut lists);
    // A rule about the children (Switch's "No task defined") would only echo their errors.
    if children_failed {
        return None;
    }
    if let Err(rule) = task.check() {
        b.rule(&rule);
        return None;
    }
    task.seal();
    Some(TaskKind::Flowable(Box::new(task)))
}

/// A task type: its Kestra name and aliases, documentation, and how to build it from a flow.
pub struct TaskDescriptor {
    pub type_name: &'static str,
    pub aliases: &'static [&'static str],
    pub doc: &'static str,
    /// A minimal task of this type, in YAML; a test validates every one.
    pub example: &'static str,
    pub shape: Shape,
}

/// A registered task type with its properties, derived once.
pub struct TaskType {
    pub descriptor: &'static TaskDescriptor,
    pub properties: Vec<PropDoc>,
}

impl TaskType {
    /// Whether tasks of this type start a flow named by their `namespace` and `flowId`
    /// (Subflow, ForEachItem): what cross-flow checks follow.
    pub fn calls_flow(&self) -> bool {
        self.property("namespace").is_some() && self.property("flowId").is_some()
    }
}

impl TaskType {
    pub fn type_name(&self) -> &'static str {
        self.descriptor.type_name
    }

    /// Flowable tasks also take `errors` and `finally` lists, read by the validator.
    pub fn is_flowable(&self) -> bool {
        self.descriptor.shape.flowable
    }

    pub fn property(&self, name: &str) -> Option<&PropDoc> {
        self.properties.iter().find(|p| p.name == name)
    }
}

/// Every task type this runner can execute.
pub struct Registry {
    types: Vec<TaskType>,
    by_name: HashMap<&'static str, usize>,
}

impl Registry {
    /// Joins the plugins' lists. A type or alias registered twice is a programming error.
    pub fn new(lists: &[&'static [TaskDescriptor]]) -> Self {
        let mut types = Vec::new();
        let mut by_name = HashMap::new();
        for list in lists {
            for d in list.iter() {
                let index = types.len();
                let mut properties = Vec::new();
                (d.shape.docs)(&mut properties);
                types.push(TaskType {
                    descriptor: d,
                    properties,
                });
                for name in std::iter::once(&d.type_name).chain(d.aliases) {
                    let previous = by_name.insert(*name, index);
                    assert!(previous.is_none(), "task type `{name}` is registered twice");
                }
            }
        }
        Registry { types, by_name }
    }

    pub fn get(&self, type_name: &str) -> Option<&TaskType> {
        self.by_name.get(type_name).map(|i| &self.types[*i])
    }

    /// Whether `type_name` (or an alias) names a type that starts a flow by `namespace` and
    /// `flowId`.
    pub fn calls_flow(&self, type_name: &str) -> bool {
        self.get(type_name).is_some_and(TaskType::calls_flow)
    }

    pub fn iter(&self) -> impl Iterator<Item = &TaskType> + '_ {
        self.types.iter()
    }

    /// The known type closest to an unknown one: same simple name in another package first,
    /// then a near spelling of the simple name.
    pub fn suggest(&self, type_name: &str) -> Option<String> {
        let package = |n: &str| n.rsplit_once('.').map_or("", |(p, _)| p).to_string();
        let simple = |n: &str| n.rsplit('.').next().unwrap_or(n).to_string();
        let names: Vec<&str> = self.types.iter().map(|t| t.type_name()).collect();
        // A class name misspelt within a package runner has.
        let wanted = package(type_name);
        let siblings: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| package(n) == wanted)
            .collect();
        let simples: Vec<String> = siblings.iter().map(|n| simple(n)).collect();
        if let Some(best) =
            runner_model::suggest(&simple(type_name), simples.iter().map(String::as_str))
        {
            return siblings
                .into_iter()
                .find(|n| simple(n) == best)
                .map(String::from);
        }
        // Else a typo of the whole name (`postgres` for `postgresql`); a type of another
        // family that only shares a class name (`bigquery.Query`) is not a suggestion.
        runner_model::typo_of(type_name, names, 3)
    }
}
