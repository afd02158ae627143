//! The small short syntaxes: list-or-mapping (`environment`, `labels`, ...),
//! string-or-list (`dns`, `tmpfs`, ...), and commands (`command`, `entrypoint`).

use super::super::error::{Error, ErrorKind};
use super::super::node::{Key, Map, Node, Value};
use super::super::path::Path;

/// What a bare `KEY` (no `=`, or a null value) means in a list-or-mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bare {
    /// Stays null (environment: filled from the environment if set, by the caller).
    Null,
    /// Becomes an empty string (labels, sysctls).
    Empty,
}

pub fn type_error(node: &Node, path: &Path<'_>, expected: &str) -> Error {
    Error::at(node, path, ErrorKind::InvalidType { expected: expected.into(), found: node.kind().into() })
}

/// `[KEY=VALUE, KEY]` or `{KEY: VALUE}` → `{KEY: "VALUE" | null}`; scalar values become strings.
pub fn list_or_dict(node: &mut Node, path: &Path<'_>, bare: Bare) -> Result<(), Error> {
    let null_or_empty = |span| match bare {
        Bare::Null => Node::null(span),
        Bare::Empty => Node::string("", span),
    };
    let map = match std::mem::replace(&mut node.value, Value::Null) {
        Value::Seq(items) => {
            let mut map = Map::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                let Some(text) = item.scalar_text() else {
                    return Err(type_error(&item, &path.index(index), "a KEY=VALUE string"));
                };
                let (key, value) = match text.split_once('=') {
                    Some((key, value)) => (key.to_string(), Node::string(value, item.span.clone())),
                    None => (text, null_or_empty(item.span.clone())),
                };
                map.insert(Key::new(key, item.span.clone()), value);
            }
            map
        }
        Value::Map(mut map) => {
            for (key, value) in map.iter_mut() {
                match &value.value {
                    Value::Null => *value = null_or_empty(value.span.clone()),
                    Value::Seq(_) | Value::Map(_) => {
                        return Err(type_error(value, &path.key(&key.name), "a string, number or boolean"));
                    }
                    _ => value.value = Value::String(value.scalar_text().unwrap_or_default()),
                }
            }
            map
        }
        Value::Null => Map::default(),
        other => {
            node.value = other;
            return Err(type_error(node, path, "a mapping or a list of KEY=VALUE strings"));
        }
    };
    node.value = Value::Map(map);
    Ok(())
}

/// A string → a one-item list; a list must hold scalars, which become strings.
pub fn string_or_list(node: &mut Node, path: &Path<'_>) -> Result<(), Error> {
    match &mut node.value {
        Value::Seq(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                let text = item.scalar_text().ok_or_else(|| type_error(item, &path.index(index), "a string"))?;
                item.value = Value::String(text);
            }
        }
        Value::Null => node.value = Value::Seq(Vec::new()),
        Value::Map(_) => return Err(type_error(node, path, "a string or a list of strings")),
        _ => {
            let text = node.scalar_text().unwrap_or_default();
            node.value = Value::Seq(vec![Node::string(text, node.span.clone())]);
        }
    }
    Ok(())
}

/// `command: echo "a b"` → `[echo, "a b"]`, split like a shell (without expansion), as compose does.
pub fn command(node: &mut Node, path: &Path<'_>) -> Result<(), Error> {
    match &node.value {
        Value::String(text) => {
            let words = shlex::split(text).ok_or_else(|| {
                Error::invalid(node, path, format!("cannot split {text:?} into words: a quote is not closed"))
            })?;
            node.value = Value::Seq(words.into_iter().map(|w| Node::string(w, node.span.clone())).collect());
            Ok(())
        }
        Value::Null => Ok(()),
        _ => string_or_list(node, path),
    }
}

/// `{KEY: value}` where the value must be a mapping or null (→ empty mapping).
pub fn null_to_map(node: &mut Node) {
    if node.is_null() {
        node.value = Value::Map(Map::default());
    }
}

/// Sets `key` in `map` unless it is there.
pub fn default(map: &mut Map, key: &str, value: Node) {
    if !map.contains_key(key) {
        let span = value.span.clone();
        map.insert(Key::new(key, span), value);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::compose::yaml::{Limits, parse};

    fn node(text: &str) -> Node {
        parse(text, Arc::from("t.yaml"), Limits::default()).unwrap()
    }

    #[test]
    fn lists_become_mappings_of_strings() {
        let mut n = node("[A=1, B, C=x=y, D=]");
        list_or_dict(&mut n, &Path::Root, Bare::Null).unwrap();
        assert_eq!(n.to_json(), serde_json::json!({"A": "1", "B": null, "C": "x=y", "D": ""}));
        let mut n = node("{A: 1, B: true, C: ~}");
        list_or_dict(&mut n, &Path::Root, Bare::Empty).unwrap();
        assert_eq!(n.to_json(), serde_json::json!({"A": "1", "B": "true", "C": ""}));
        let mut n = node("{A: [1]}");
        assert!(list_or_dict(&mut n, &Path::Root, Bare::Null).is_err());
    }

    #[test]
    fn commands_split_like_a_shell() {
        let mut n = node(r#"'echo "a b" c\ d'"#);
        command(&mut n, &Path::Root).unwrap();
        assert_eq!(n.to_json(), serde_json::json!(["echo", "a b", "c d"]));
        let mut n = node(r#"'echo "open'"#);
        assert!(command(&mut n, &Path::Root).is_err());
        let mut n = node("[sh, -c, 1]");
        command(&mut n, &Path::Root).unwrap();
        assert_eq!(n.to_json(), serde_json::json!(["sh", "-c", "1"]));
    }
}
