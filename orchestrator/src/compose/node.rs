//! The YAML tree the loader works on: every node remembers where it came from.
//!
//! Interpolation, canonicalisation, `extends` and the merge of several files all
//! rewrite this tree; because each node keeps its [`Span`], an error found at any
//! stage can still name the file, line and column the user wrote.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use indexmap::IndexMap;

/// A position in a source file (1-based line and column).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub file: Arc<str>,
    pub line: u32,
    pub col: u32,
}

impl Span {
    pub fn new(file: Arc<str>, line: u32, col: u32) -> Self {
        Span { file, line, col }
    }

    /// A span for values that come from no file (command-line flags, defaults).
    pub fn synthetic(what: &str) -> Self {
        Span { file: Arc::from(what), line: 0, col: 0 }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 { write!(f, "{}", self.file) } else { write!(f, "{}:{}:{}", self.file, self.line, self.col) }
    }
}

/// How a node of an override file combines with the node it overrides
/// (the Compose Specification's `!reset` and `!override` YAML tags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MergeTag {
    #[default]
    Merge,
    /// `!reset`: remove the value inherited from earlier files.
    Reset,
    /// `!override`: replace the inherited value instead of merging with it.
    Override,
}

/// A node of the tree: a value and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
    pub tag: MergeTag,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Node>),
    Map(Map),
}

impl Node {
    pub fn new(value: Value, span: Span) -> Self {
        Node { span, value, tag: MergeTag::Merge }
    }

    pub fn null(span: Span) -> Self {
        Node::new(Value::Null, span)
    }

    pub fn string(s: impl Into<String>, span: Span) -> Self {
        Node::new(Value::String(s.into()), span)
    }

    /// A mapping of the given entries, every node at `span` (long forms written for a short one).
    pub fn mapping(span: &Span, entries: impl IntoIterator<Item = (&'static str, Value)>) -> Node {
        let map = entries.into_iter().map(|(k, v)| (Key::new(k, span.clone()), Node::new(v, span.clone()))).collect();
        Node::new(Value::Map(map), span.clone())
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_map_mut(&mut self) -> Option<&mut Map> {
        match &mut self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_seq_mut(&mut self) -> Option<&mut Vec<Node>> {
        match &mut self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The scalar as the text a user would have written, for places where
    /// Compose accepts any scalar as a string (environment values, labels).
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Null => None,
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(format_float(*f)),
            Value::String(s) => Some(s.clone()),
            Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// Follows a path of map keys; `None` where a key is missing or a node is no map.
    pub fn get_path(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(self, |node, key| node.as_map()?.get(*key))
    }

    /// The number of nodes in this subtree, this one included.
    pub fn count(&self) -> usize {
        1 + match &self.value {
            Value::Seq(items) => items.iter().map(Node::count).sum(),
            Value::Map(map) => map.values().map(Node::count).sum(),
            _ => 0,
        }
    }

    /// The kind of value, for "expected a map, found a string" messages.
    pub fn kind(&self) -> &'static str {
        self.value.kind()
    }

    /// Converts to JSON, dropping spans (for hashing and for tests).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::String(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(map) => J::Object(map.iter().map(|(k, v)| (k.to_string(), v.to_json())).collect()),
        }
    }

    /// Builds a tree from JSON, every node carrying `span` (used when a short
    /// syntax is rewritten into its long form: the long form points at the
    /// short one the user wrote).
    pub fn from_json(json: &serde_json::Value, span: &Span) -> Node {
        use serde_json::Value as J;
        let value = match json {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Value::String(s.clone()),
            J::Array(items) => Value::Seq(items.iter().map(|i| Node::from_json(i, span)).collect()),
            J::Object(obj) => {
                let mut map = Map::default();
                for (k, v) in obj {
                    map.insert(Key::new(k.clone(), span.clone()), Node::from_json(v, span));
                }
                Value::Map(map)
            }
        };
        Node::new(value, span.clone())
    }
}

impl Value {
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::String(_) => "a string",
            Value::Seq(_) => "a sequence",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Formats a float the way YAML users expect (`1.5`, `3.0`, `.inf`).
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        ".nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { ".inf".into() } else { "-.inf".into() }
    } else if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.1}")
    } else {
        f.to_string()
    }
}

/// A mapping key: its text and where it was written. Equality and hashing
/// look at the text only, so a [`Map`] can be indexed by `&str`.
#[derive(Clone, Debug)]
pub struct Key {
    pub name: String,
    pub span: Span,
}

impl Key {
    pub fn new(name: impl Into<String>, span: Span) -> Self {
        Key { name: name.into(), span }
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl Borrow<str> for Key {
    fn borrow(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// A mapping that keeps the order the keys were written in.
pub type Map = IndexMap<Key, Node>;
