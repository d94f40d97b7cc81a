//! A YAML document as a tree whose every node and key keeps its position.

use crate::Span;
use serde_json::{Map, Number, Value as Json};

/// One YAML node with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: NodeValue,
    pub span: Span,
}

/// A mapping key with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in source order; duplicate keys are refused by the loader.
    Map(Vec<(Key, Node)>),
}

impl Node {
    pub fn new(value: NodeValue, span: Span) -> Self {
        Node { value, span }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            NodeValue::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            NodeValue::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, NodeValue::Null)
    }

    /// The entry `key` of a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    pub fn entry(&self, key: &str) -> Option<(&Key, &Node)> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(k, v)| (k, v))
    }

    /// What YAML made of this node, in words, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self.value {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Int(_) => "an integer",
            NodeValue::Float(_) => "a number",
            NodeValue::Str(_) => "a string",
            NodeValue::Seq(_) => "a list",
            NodeValue::Map(_) => "a map",
        }
    }

    /// The node as JSON, which typed properties are deserialized from.
    pub fn to_json(&self) -> Json {
        match &self.value {
            NodeValue::Null => Json::Null,
            NodeValue::Bool(b) => Json::Bool(*b),
            NodeValue::Int(i) => Json::Number((*i).into()),
            NodeValue::Float(f) => Number::from_f64(*f).map_or(Json::Null, Json::Number),
            NodeValue::Str(s) => Json::String(s.clone()),
            NodeValue::Seq(items) => Json::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for (k, v) in entries {
                    map.insert(k.name.clone(), v.to_json());
                }
                Json::Object(map)
            }
        }
    }

    /// Follows a serde path (`a.b[2].c`) down the tree; returns the deepest node reached.
    pub fn locate(&self, path: &str) -> &Node {
        let mut node = self;
        for segment in path_segments(path) {
            let next = match segment {
                Segment::Key(k) => node.get(k),
                Segment::Index(i) => node.as_seq().and_then(|s| s.get(i)),
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        node
    }

    /// The span of the key `name` in this mapping, if present.
    pub fn key_span(&self, name: &str) -> Option<Span> {
        self.entry(name).map(|(k, _)| k.span)
    }
}

enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

fn path_segments(path: &str) -> impl Iterator<Item = Segment<'_>> {
    path.split('.')
        .filter(|s| !s.is_empty() && *s != "?")
        .flat_map(|part| {
            let mut out = Vec::new();
            let (key, rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if !key.is_empty() {
                out.push(Segment::Key(key));
            }
            for idx in rest.split('[').filter(|s| !s.is_empty()) {
                if let Ok(i) = idx.trim_end_matches(']').parse() {
                    out.push(Segment::Index(i));
                }
            }
            out
        })
}

#[cfg(test)]
mod tests {
    use crate::load_str;

    #[test]
    fn locate_follows_keys_and_indexes() {
        let docs = load_str("a:\n  b:\n    - x: 1\n    - y: 2\n").unwrap();
        let n = docs[0].locate("a.b[1].y");
        assert_eq!(n.span.line, 4);
        assert_eq!(n.span.col, 10);
        // unknown tail stops at the deepest node reached
        assert_eq!(docs[0].locate("a.b[1].nope").span.line, 4);
    }

    #[test]
    fn to_json_keeps_order_and_types() {
        let docs = load_str("z: 1\na: [true, 1.5, null, 'x']\n").unwrap();
        assert_eq!(
            docs[0].to_json().to_string(),
            r#"{"z":1,"a":[true,1.5,null,"x"]}"#
        );
    }
}
