//! Arguments of a filter or function, given by position or by name as Pebble allows
//! (`date('yyyy')` or `date(format='yyyy')`).

use minijinja::value::{Kwargs, Rest, ValueOrKwargs, from_args};
use minijinja::{Error, ErrorKind, Value};

pub(crate) struct Args {
    positional: Vec<Value>,
    named: Option<Kwargs>,
}

impl Args {
    pub(crate) fn new(rest: Rest<ValueOrKwargs>) -> Result<Self, Error> {
        let values: Vec<Value> = rest.0.into_iter().map(ValueOrKwargs::into_value).collect();
        let (positional, named): (&[Value], Kwargs) = from_args(&values)?;
        Ok(Args {
            positional: positional.to_vec(),
            named: Some(named),
        })
    }

    /// Argument `index`, or the one named `name`.
    pub(crate) fn get(&self, index: usize, name: &str) -> Option<Value> {
        if let Some(v) = self.positional.get(index) {
            return Some(v.clone());
        }
        self.named
            .as_ref()
            .and_then(|k| k.get::<Option<Value>>(name).ok().flatten())
    }

    /// A required argument; its absence is an error worded as Kestra's.
    pub(crate) fn req(&self, index: usize, name: &str, owner: &str) -> Result<Value, Error> {
        self.get(index, name)
            .filter(|v| !v.is_undefined())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::MissingArgument,
                    format!("The '{owner}' function expects an argument '{name}'."),
                )
            })
    }

    /// Refuses named arguments that nothing read (a typo in a name).
    pub(crate) fn finish(&self) -> Result<(), Error> {
        match &self.named {
            Some(k) => k.assert_all_used(),
            None => Ok(()),
        }
    }
}
