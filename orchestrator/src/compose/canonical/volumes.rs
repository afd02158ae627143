//! Service `volumes`: short strings (`./data:/data:ro`, `db:/var/lib/db`,
//! `/cache`) rewritten to long entries; bind sources made absolute.

use super::super::error::Error;
use super::super::node::{Key, Node, Span, Value};
use super::super::path::Path;
use super::Context;
use super::lists::type_error;

const PROPAGATIONS: [&str; 6] = ["private", "rprivate", "shared", "rshared", "slave", "rslave"];

/// Whether a short-syntax source is a host path (else it names a volume).
fn is_host_path(source: &str) -> bool {
    source.starts_with(['.', '/', '~'])
}

/// A short volume spec, parsed.
#[derive(Debug, Default)]
struct Short {
    kind: &'static str,
    source: Option<String>,
    target: String,
    read_only: bool,
    consistency: Option<String>,
    /// `bind:` or `volume:` options, in the order compose prints them.
    options: Vec<(&'static str, Value)>,
}

impl Short {
    fn into_node(self, span: &Span) -> Node {
        let mut entries = vec![("type", Value::String(self.kind.into()))];
        entries.extend(self.source.map(|s| ("source", Value::String(s))));
        entries.push(("target", Value::String(self.target)));
        if self.read_only {
            entries.push(("read_only", Value::Bool(true)));
        }
        entries.extend(self.consistency.map(|c| ("consistency", Value::String(c))));
        let options = Node::mapping(span, self.options);
        entries.push((self.kind, options.value));
        Node::mapping(span, entries)
    }
}

fn parse_short(spec: &str, context: &Context<'_>) -> Result<Short, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [target] => (None, *target, None),
        [source, target] => (Some(*source), *target, None),
        [source, target, mode] => (Some(*source), *target, Some(*mode)),
        _ => return Err("expected [SOURCE:]TARGET[:MODE]".into()),
    };
    if target.is_empty() {
        return Err("the container path is empty".into());
    }
    if !target.starts_with('/') {
        return Err(format!("the container path {target:?} must be absolute"));
    }
    // `/data/` and `/data` are the same mount point; compose prints the clean form.
    let target = super::clean(std::path::Path::new(target)).display().to_string();
    let mut short = match source.filter(|s| !s.is_empty()) {
        None => Short { kind: "volume", target, ..Short::default() },
        Some(source) if is_host_path(source) => Short {
            kind: "bind",
            source: Some(context.resolve_path(source)),
            target,
            options: vec![("create_host_path", Value::Bool(true))],
            ..Short::default()
        },
        Some(name) => Short { kind: "volume", source: Some(name.into()), target, ..Short::default() },
    };
    for option in mode.into_iter().flat_map(|m| m.split(',')).filter(|o| !o.is_empty()) {
        let bind = short.kind == "bind";
        match option {
            "ro" => short.read_only = true,
            "rw" => short.read_only = false,
            "z" | "Z" if bind => short.options.push(("selinux", Value::String(option.into()))),
            "nocopy" if !bind => short.options.push(("nocopy", Value::Bool(true))),
            p if PROPAGATIONS.contains(&p) && bind => short.options.insert(0, ("propagation", Value::String(p.into()))),
            "cached" | "delegated" | "consistent" => short.consistency = Some(option.into()),
            other => return Err(format!("unknown or misplaced volume option {other:?} (for a {})", short.kind)),
        }
    }
    Ok(short)
}

pub fn canonicalize(node: &mut Node, path: &Path<'_>, context: &Context<'_>) -> Result<(), Error> {
    let Value::Seq(items) = &mut node.value else {
        return Err(type_error(node, path, "a list of volumes"));
    };
    for (index, item) in items.iter_mut().enumerate() {
        let item_path = path.index(index);
        match &item.value {
            Value::String(spec) => {
                let short = parse_short(spec, context)
                    .map_err(|e| Error::invalid(item, &item_path, format!("invalid volume {spec:?}: {e}")))?;
                *item = short.into_node(&item.span);
            }
            Value::Map(map) => {
                let is_bind = map.get("type").and_then(Node::as_str) == Some("bind");
                if let Some(map) = item.as_map_mut()
                    && is_bind
                    && let Some(source) = map.get_mut("source")
                    && let Some(text) = source.as_str()
                {
                    source.value = Value::String(context.resolve_path(text));
                }
                if let Some(map) = item.as_map_mut()
                    && map.get("volume").is_some_and(Node::is_null)
                {
                    let span = map.get("volume").expect("checked").span.clone();
                    map.insert(Key::new("volume", span.clone()), Node::new(Value::Map(Default::default()), span));
                }
            }
            _ => return Err(type_error(item, &item_path, "a volume string or a mapping")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(spec: &str) -> Result<serde_json::Value, String> {
        let lookup = |_: &str| None;
        let context = Context {
            base_dir: std::path::Path::new("/proj"),
            home: Some(std::path::Path::new("/home/u")),
            lookup: &lookup,
        };
        parse_short(spec, &context).map(|s| s.into_node(&Span::synthetic("test")).to_json())
    }

    #[test]
    fn the_three_kinds() {
        assert_eq!(parse("/cache").unwrap(), json!({"type": "volume", "target": "/cache", "volume": {}}));
        assert_eq!(
            parse("db:/var/lib/db").unwrap(),
            json!({"type": "volume", "source": "db", "target": "/var/lib/db", "volume": {}})
        );
        assert_eq!(
            parse("./data:/data:ro").unwrap(),
            json!({"type": "bind", "source": "/proj/data", "target": "/data", "read_only": true, "bind": {"create_host_path": true}})
        );
        assert_eq!(parse("~/x:/x").unwrap()["source"], json!("/home/u/x"));
        assert_eq!(parse("../up:/x").unwrap()["source"], json!("/up"));
    }

    #[test]
    fn options() {
        let v = parse("/src:/dst:ro,rshared,z").unwrap();
        assert_eq!(v["bind"], json!({"create_host_path": true, "propagation": "rshared", "selinux": "z"}));
        assert_eq!(parse("v:/dst:nocopy").unwrap()["volume"], json!({"nocopy": true}));
        assert!(parse("v:/dst:rshared").is_err());
        assert!(parse("/a:/b:bogus").unwrap_err().contains("bogus"));
        assert!(parse("v:relative").unwrap_err().contains("must be absolute"));
        assert!(parse("a:b:c:d").is_err());
    }
}
