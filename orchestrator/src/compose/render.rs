//! `compose config` output: the typed project, in the layout `docker compose config`
//! prints, with the `x-` extensions the model does not type put back in place.

use serde_json::Value as Json;

use super::load::Loaded;
use super::node::{Node, Value};

/// The project as JSON, extensions included.
pub fn to_json(loaded: &Loaded) -> Json {
    let mut out = serde_json::to_value(&loaded.project).expect("the model serializes to JSON");
    restore_extensions(&mut out, &loaded.tree);
    out
}

pub fn to_yaml_string(loaded: &Loaded) -> String {
    serde_norway::to_string(&to_json(loaded)).expect("JSON values serialize to YAML")
}

pub fn to_json_string(loaded: &Loaded) -> String {
    serde_json::to_string_pretty(&to_json(loaded)).expect("JSON values serialize")
}

/// Copies `x-*` keys from the tree into the output objects at the same place.
fn restore_extensions(out: &mut Json, node: &Node) {
    match (out, &node.value) {
        (Json::Object(object), Value::Map(map)) => {
            for (key, value) in map {
                match object.get_mut(&key.name) {
                    Some(existing) => restore_extensions(existing, value),
                    None if key.name.starts_with("x-") => {
                        object.insert(key.name.clone(), value.to_json());
                    }
                    None => {}
                }
            }
        }
        (Json::Array(items), Value::Seq(nodes)) if items.len() == nodes.len() => {
            for (item, node) in items.iter_mut().zip(nodes) {
                restore_extensions(item, node);
            }
        }
        _ => {}
    }
}
