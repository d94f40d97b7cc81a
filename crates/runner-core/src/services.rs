//! Per-run services of task families, by type: what a run offers its tasks beyond rendering,
//! storage and logs (how script tasks may use a container engine, whether HTTP may reach
//! link-local addresses...). The binary puts them in with [`crate::ExecutionBuilder::service`];
//! a task reads one with [`crate::plugin::RunContext::service`]. A family owns its service
//! types, so adding one touches neither the engine nor the other families.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

/// A map from a type to the one value of that type a run holds.
#[derive(Clone, Default)]
pub struct Services {
    by_type: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl Services {
    /// Puts `value` in, replacing the value of the same type.
    pub fn insert<T: Any + Send + Sync>(&mut self, value: T) {
        self.by_type.insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// The value of type `T`, if the run has one.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.by_type
            .get(&TypeId::of::<T>())
            .and_then(|v| v.downcast_ref::<T>())
    }
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Services({} values)", self.by_type.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Mode(&'static str);

    #[test]
    fn one_value_per_type() {
        let mut s = Services::default();
        assert!(s.get::<Mode>().is_none());
        s.insert(Mode("process"));
        s.insert(Mode("docker"));
        s.insert(7u32);
        assert_eq!(s.get::<Mode>(), Some(&Mode("docker")));
        assert_eq!(s.get::<u32>(), Some(&7));
        assert!(s.get::<u64>().is_none());
    }
}
