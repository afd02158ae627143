//! Merging compose files (several `-f`, and `extends`), with the rules of the
//! Compose Specification ("Merge and override"), on the long-form trees:
//! - mappings merge key by key, the later file winning for scalars;
//! - `command`, `entrypoint` and `healthcheck.test` are replaced whole;
//! - `ports`, `volumes`, `secrets` and `configs` merge entries that share their
//!   unique key (ports: host_ip + target + published + protocol; the others:
//!   target) and append the rest;
//! - other sequences are appended, without repeating an entry;
//! - `logging` with a different driver replaces the old one;
//! - `!reset` removes the inherited value, `!override` replaces it.

use super::node::{Map, MergeTag, Node, Value};

/// Merges a whole file over the files before it.
pub fn merge(base: Node, over: Node) -> Node {
    merge_at(base, over, &mut Vec::new()).unwrap_or_else(|| Node::null(super::node::Span::synthetic("merge")))
}

/// Merges a service over the service it extends.
pub fn merge_service(base: Node, over: Node) -> Node {
    let mut path = vec!["services".to_string(), "*".to_string()];
    let span = over.span.clone();
    merge_at(base, over, &mut path).unwrap_or_else(|| Node::new(Value::Map(Map::default()), span))
}

#[derive(Clone, Copy)]
enum Rule {
    Merge,
    Replace,
    /// Entries with the same key are merged; others appended.
    ByKey(fn(&Node) -> Option<String>),
}

fn rule(path: &[String]) -> Rule {
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    match path.as_slice() {
        ["services", _, "command" | "entrypoint"] | ["services", _, "healthcheck", "test"] => Rule::Replace,
        ["services", _, "ports"] => Rule::ByKey(port_key),
        ["services", _, "volumes"] => Rule::ByKey(|n| field(n, "target")),
        ["services", _, "secrets" | "configs"] => Rule::ByKey(|n| field(n, "target").or_else(|| field(n, "source"))),
        _ => Rule::Merge,
    }
}

fn field(node: &Node, key: &str) -> Option<String> {
    node.get_path(&[key]).and_then(Node::scalar_text)
}

fn port_key(node: &Node) -> Option<String> {
    let parts = ["host_ip", "target", "published", "protocol"].map(|k| field(node, k).unwrap_or_default());
    Some(parts.join("|"))
}

/// `None` when the result is to be removed (`!reset`).
fn merge_at(base: Node, mut over: Node, path: &mut Vec<String>) -> Option<Node> {
    match over.tag {
        MergeTag::Reset => return None,
        MergeTag::Override => {
            over.tag = MergeTag::Merge;
            return Some(over);
        }
        MergeTag::Merge => {}
    }
    let rule = rule(path);
    let span = over.span.clone();
    let value = match (base.value, over.value) {
        (_, over) if matches!(rule, Rule::Replace) => over,
        (Value::Map(base), Value::Map(over)) => {
            if is_logging(path) && driver_changed(&base, &over) {
                Value::Map(over)
            } else {
                Value::Map(merge_maps(base, over, path))
            }
        }
        (Value::Seq(base), Value::Seq(over)) => Value::Seq(merge_seqs(base, over, rule, path)),
        (_, over) => over,
    };
    Some(Node::new(value, span))
}

fn is_logging(path: &[String]) -> bool {
    path.len() == 3 && path[0] == "services" && path[2] == "logging"
}

fn driver_changed(base: &Map, over: &Map) -> bool {
    let driver = |m: &Map| m.get("driver").and_then(Node::scalar_text);
    driver(over).is_some() && driver(base) != driver(over)
}

fn merge_maps(mut base: Map, over: Map, path: &mut Vec<String>) -> Map {
    for (key, value) in over {
        // Service names are wildcards in the rules.
        let segment = if path.len() == 1 && path[0] == "services" { "*".to_string() } else { key.name.clone() };
        path.push(segment);
        let merged = match base.get_index_of(key.name.as_str()) {
            Some(index) => {
                let (_, old) = base.shift_remove_index(index).expect("index from get_index_of");
                merge_at(old, value, path).map(|merged| (index, merged))
            }
            None => merge_at(Node::null(value.span.clone()), value, path).map(|merged| (base.len(), merged)),
        };
        path.pop();
        if let Some((index, merged)) = merged {
            base.shift_insert(index.min(base.len()), key, merged);
        }
    }
    base
}

fn merge_seqs(mut base: Vec<Node>, over: Vec<Node>, rule: Rule, path: &mut Vec<String>) -> Vec<Node> {
    for item in over {
        match rule {
            Rule::ByKey(key_of) => {
                let key = key_of(&item);
                match base.iter().position(|b| key.is_some() && key_of(b) == key) {
                    Some(index) => {
                        let old = std::mem::replace(&mut base[index], Node::null(item.span.clone()));
                        match merge_at(old, item, path) {
                            Some(merged) => base[index] = merged,
                            None => {
                                base.remove(index);
                            }
                        }
                    }
                    None => base.push(item),
                }
            }
            Rule::Merge | Rule::Replace => {
                if !base.iter().any(|b| b.to_json() == item.to_json()) {
                    base.push(item);
                }
            }
        }
    }
    base
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::compose::yaml::{Limits, parse};

    fn node(text: &str) -> Node {
        parse(text, Arc::from("t.yaml"), Limits::default()).unwrap()
    }

    fn merged(base: &str, over: &str) -> serde_json::Value {
        merge(node(base), node(over)).to_json()
    }

    #[test]
    fn mappings_merge_and_scalars_are_replaced() {
        let out = merged(
            "services: {web: {image: a, environment: {A: '1', B: '1'}}}",
            "services: {web: {image: b, environment: {B: '2', C: '3'}}, db: {image: c}}",
        );
        assert_eq!(
            out,
            serde_json::json!({"services": {"web": {"image": "b", "environment": {"A": "1", "B": "2", "C": "3"}}, "db": {"image": "c"}}})
        );
    }

    #[test]
    fn commands_are_replaced_not_appended() {
        let out = merged(
            "services: {web: {command: [a, b], entrypoint: [x], healthcheck: {test: [CMD, a], retries: 3}}}",
            "services: {web: {command: [c], healthcheck: {test: [CMD, b]}}}",
        );
        assert_eq!(out["services"]["web"]["command"], serde_json::json!(["c"]));
        assert_eq!(out["services"]["web"]["entrypoint"], serde_json::json!(["x"]));
        assert_eq!(out["services"]["web"]["healthcheck"], serde_json::json!({"test": ["CMD", "b"], "retries": 3}));
    }

    #[test]
    fn ports_merge_by_their_unique_key() {
        let out = merged(
            "services: {web: {ports: [{target: 80, published: '8080', protocol: tcp}, {target: 53, protocol: udp}]}}",
            "services: {web: {ports: [{target: 80, published: '8080', protocol: tcp, mode: host}, {target: 443, protocol: tcp}]}}",
        );
        assert_eq!(
            out["services"]["web"]["ports"],
            serde_json::json!([
                {"target": 80, "published": "8080", "protocol": "tcp", "mode": "host"},
                {"target": 53, "protocol": "udp"},
                {"target": 443, "protocol": "tcp"}
            ])
        );
    }

    #[test]
    fn volumes_merge_by_target() {
        let out = merged(
            "services: {web: {volumes: [{type: bind, source: /a, target: /data}, {type: volume, source: v, target: /v}]}}",
            "services: {web: {volumes: [{type: bind, source: /b, target: /data, read_only: true}]}}",
        );
        assert_eq!(
            out["services"]["web"]["volumes"],
            serde_json::json!([
                {"type": "bind", "source": "/b", "target": "/data", "read_only": true},
                {"type": "volume", "source": "v", "target": "/v"}
            ])
        );
    }

    #[test]
    fn other_sequences_append_without_repeats() {
        let out = merged("services: {web: {cap_add: [A, B], dns: [1.1.1.1]}}", "services: {web: {cap_add: [B, C]}}");
        assert_eq!(out["services"]["web"]["cap_add"], serde_json::json!(["A", "B", "C"]));
        assert_eq!(out["services"]["web"]["dns"], serde_json::json!(["1.1.1.1"]));
    }

    #[test]
    fn reset_and_override_tags() {
        let out = merged(
            "services: {web: {ports: [{target: 80}], environment: {A: '1'}, command: [a]}}",
            "services: {web: {ports: !reset [], environment: !override {B: '2'}}}",
        );
        assert_eq!(out["services"]["web"], serde_json::json!({"environment": {"B": "2"}, "command": ["a"]}));
    }

    #[test]
    fn logging_with_another_driver_is_replaced() {
        let base = "services: {web: {logging: {driver: syslog, options: {a: '1'}}}}";
        let out = merged(base, "services: {web: {logging: {driver: json-file, options: {b: '2'}}}}");
        assert_eq!(
            out["services"]["web"]["logging"],
            serde_json::json!({"driver": "json-file", "options": {"b": "2"}})
        );
        let out = merged(base, "services: {web: {logging: {options: {b: '2'}}}}");
        assert_eq!(
            out["services"]["web"]["logging"],
            serde_json::json!({"driver": "syslog", "options": {"a": "1", "b": "2"}})
        );
    }

    #[test]
    fn extends_uses_the_service_rules() {
        let out = merge_service(
            node("{image: a, command: [x, y], ports: [{target: 1}]}"),
            node("{command: [z], ports: [{target: 2}]}"),
        );
        assert_eq!(
            out.to_json(),
            serde_json::json!({"image": "a", "command": ["z"], "ports": [{"target": 1}, {"target": 2}]})
        );
    }
}
