//! YAML text → [`Node`] tree, with positions, anchors, aliases and merge keys.
//!
//! We drive yaml-rust2's pull parser ourselves instead of using its loader:
//! the loader recurses once per nesting level and clones every alias eagerly,
//! so a hostile file could exhaust the stack or memory. Here the tree is built
//! with an explicit stack, and nesting depth, file size and the number of nodes
//! (aliases included, so "billion laughs" files stop early) are all bounded.

use std::collections::HashMap;
use std::sync::Arc;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::error::{Error, ErrorKind};
use super::node::{Key, Map, MergeTag, Node, Span, Value};

/// Bounds on what one file may make the loader do.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_depth: usize,
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // A 300-service stack is about 10,000 nodes and 100 KiB; these leave
        // ample room for real files while keeping a hostile one cheap.
        Limits { max_bytes: 16 << 20, max_depth: 64, max_nodes: 1_000_000 }
    }
}

/// Parses one YAML document. An empty file gives a `Null` node.
pub fn parse(text: &str, file: Arc<str>, limits: Limits) -> Result<Node, Error> {
    if text.len() > limits.max_bytes {
        return Err(Error::at_span(
            &Span::new(file, 0, 0),
            "",
            ErrorKind::Limit(format!(
                "the file is {} bytes, more than the {} bytes a compose file may have",
                text.len(),
                limits.max_bytes
            )),
        ));
    }
    Builder { file, limits, stack: Vec::new(), anchors: HashMap::new(), nodes: 0, root: None, last_plain: false }
        .run(&mut Parser::new_from_str(text))
}

enum Frame {
    Seq { start: Span, tag: MergeTag, anchor: usize, items: Vec<Node> },
    Map { start: Span, tag: MergeTag, anchor: usize, entries: Vec<(Key, bool, Node)>, key: Option<(Key, bool)> },
}

struct Builder {
    file: Arc<str>,
    limits: Limits,
    stack: Vec<Frame>,
    /// Anchored nodes with their node counts, so an alias is charged its full size.
    anchors: HashMap<usize, (Node, usize)>,
    nodes: usize,
    root: Option<Node>,
    /// Whether the last scalar was plain (unquoted): only a plain `<<` merges.
    last_plain: bool,
}

impl Builder {
    fn span(&self, mark: &Marker) -> Span {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Span::new(self.file.clone(), clamp(mark.line()), clamp(mark.col() + 1))
    }

    fn error(&self, span: Span, kind: ErrorKind) -> Error {
        Error::at_span(&span, "", kind)
    }

    fn run<T: Iterator<Item = char>>(mut self, parser: &mut Parser<T>) -> Result<Node, Error> {
        let mut documents = 0;
        loop {
            let (event, mark) = parser.next_token().map_err(|e| {
                let span = self.span(e.marker());
                self.error(span, ErrorKind::Syntax(e.info().to_string()))
            })?;
            let span = self.span(&mark);
            match event {
                Event::StreamEnd => break,
                Event::StreamStart | Event::Nothing | Event::DocumentEnd => {}
                Event::DocumentStart => {
                    documents += 1;
                    if documents > 1 {
                        return Err(self.error(
                            span,
                            ErrorKind::Syntax("a compose file holds one YAML document; found a second `---`".into()),
                        ));
                    }
                }
                Event::Scalar(text, style, anchor, tag) => {
                    let merge_tag = self.merge_tag(tag.as_ref(), &span)?;
                    let force_string = tag.as_ref().is_some_and(|t| t.suffix == "str");
                    let value = resolve_scalar(text, style, force_string);
                    let mut node = Node::new(value, span);
                    node.tag = merge_tag;
                    self.charge(1, &node.span)?;
                    self.last_plain = style == TScalarStyle::Plain;
                    self.complete(node, anchor, 1)?;
                    self.last_plain = false;
                }
                Event::Alias(id) => {
                    let Some((target, count)) = self.anchors.get(&id).cloned() else {
                        return Err(self.error(span, ErrorKind::Syntax("alias to an unknown anchor".into())));
                    };
                    self.charge(count, &span)?;
                    self.complete(target, 0, count)?;
                }
                Event::SequenceStart(anchor, tag) => {
                    let tag = self.merge_tag(tag.as_ref(), &span)?;
                    self.open(Frame::Seq { start: span, tag, anchor, items: Vec::new() })?;
                }
                Event::MappingStart(anchor, tag) => {
                    let tag = self.merge_tag(tag.as_ref(), &span)?;
                    self.open(Frame::Map { start: span, tag, anchor, entries: Vec::new(), key: None })?;
                }
                Event::SequenceEnd => {
                    let Some(Frame::Seq { start, tag, anchor, items }) = self.stack.pop() else {
                        return Err(self.error(span, ErrorKind::Syntax("unbalanced sequence".into())));
                    };
                    let mut node = Node::new(Value::Seq(items), start);
                    node.tag = tag;
                    self.charge(1, &node.span)?;
                    let count = if anchor > 0 { node.count() } else { 0 };
                    self.complete(node, anchor, count)?;
                }
                Event::MappingEnd => {
                    let Some(Frame::Map { start, tag, anchor, entries, .. }) = self.stack.pop() else {
                        return Err(self.error(span, ErrorKind::Syntax("unbalanced mapping".into())));
                    };
                    // The parser marks a block mapping's start after its first key;
                    // users read a mapping as starting at that key.
                    let start = entries.first().map_or(start, |(key, _, _)| key.span.clone());
                    let map = build_map(entries, &self.path())?;
                    let mut node = Node::new(Value::Map(map), start);
                    node.tag = tag;
                    self.charge(1, &node.span)?;
                    let count = if anchor > 0 { node.count() } else { 0 };
                    self.complete(node, anchor, count)?;
                }
            }
        }
        Ok(self.root.unwrap_or_else(|| Node::null(Span::new(self.file.clone(), 1, 1))))
    }

    /// The key path of the node being built, from the open frames (`services.web`).
    fn path(&self) -> String {
        let mut path = String::new();
        for frame in &self.stack {
            match frame {
                Frame::Map { key: Some((key, _)), .. } => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(&key.name);
                }
                Frame::Seq { items, .. } => path.push_str(&format!("[{}]", items.len())),
                Frame::Map { key: None, .. } => {}
            }
        }
        path
    }

    fn merge_tag(&self, tag: Option<&Tag>, span: &Span) -> Result<MergeTag, Error> {
        let Some(tag) = tag else {
            return Ok(MergeTag::Merge);
        };
        match (tag.handle.as_str(), tag.suffix.as_str()) {
            ("!", "reset") => Ok(MergeTag::Reset),
            ("!", "override") => Ok(MergeTag::Override),
            // Core-schema tags (`!!str`, `!!int`, ...) only steer scalar resolution.
            ("tag:yaml.org,2002:", _) => Ok(MergeTag::Merge),
            (handle, suffix) => Err(self.error(
                span.clone(),
                ErrorKind::Syntax(format!("unknown YAML tag {handle}{suffix} (compose knows !reset and !override)")),
            )),
        }
    }

    fn charge(&mut self, nodes: usize, span: &Span) -> Result<(), Error> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > self.limits.max_nodes {
            return Err(self.error(
                span.clone(),
                ErrorKind::Limit(format!(
                    "the file expands to more than {} nodes (are aliases nested into a \"billion laughs\"?)",
                    self.limits.max_nodes
                )),
            ));
        }
        Ok(())
    }

    fn open(&mut self, frame: Frame) -> Result<(), Error> {
        if self.stack.len() >= self.limits.max_depth {
            let span = match &frame {
                Frame::Seq { start, .. } | Frame::Map { start, .. } => start.clone(),
            };
            return Err(
                self.error(span, ErrorKind::Limit(format!("nesting deeper than {} levels", self.limits.max_depth)))
            );
        }
        self.stack.push(frame);
        Ok(())
    }

    /// Hands a finished node to its parent (or makes it the document root).
    fn complete(&mut self, node: Node, anchor: usize, count: usize) -> Result<(), Error> {
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), count.max(1)));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => {
                match key.take() {
                    Some((key, plain)) => entries.push((key, plain, node)),
                    None => {
                        let plain = self.last_plain;
                        let name = match &node.value {
                            Value::String(s) => s.clone(),
                            Value::Null => String::new(),
                            Value::Seq(_) | Value::Map(_) => {
                                return Err(self.error(
                                    node.span,
                                    ErrorKind::Syntax(
                                        "a mapping key must be a plain value, not a list or mapping".into(),
                                    ),
                                ));
                            }
                            _ => node.scalar_text().unwrap_or_default(),
                        };
                        // A quoted "<<" is an ordinary key, not a merge.
                        let is_merge = name == "<<" && node.tag == MergeTag::Merge && plain;
                        *key = Some((Key::new(name, node.span), is_merge));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Builds a mapping, rejecting duplicate keys and applying merge keys (`<<`):
/// keys written in the mapping win over merged ones, and earlier merged
/// mappings win over later ones.
fn build_map(entries: Vec<(Key, bool, Node)>, path: &str) -> Result<Map, Error> {
    let mut map = Map::with_capacity(entries.len());
    let mut merges = Vec::new();
    for (key, is_merge, value) in entries {
        if is_merge {
            merges.push(value);
            continue;
        }
        if map.contains_key(key.name.as_str()) {
            let name = key.name.clone();
            return Err(Error::at_span(&key.span, path, ErrorKind::DuplicateKey(name)));
        }
        map.insert(key, value);
    }
    for merge in merges {
        let sources = match merge.value {
            Value::Map(source) => vec![source],
            Value::Seq(items) => items
                .into_iter()
                .map(|item| match item.value {
                    Value::Map(source) => Ok(source),
                    other => Err(Error::at_span(
                        &item.span,
                        "",
                        ErrorKind::InvalidType {
                            expected: "a mapping to merge with <<".into(),
                            found: other.kind().into(),
                        },
                    )),
                })
                .collect::<Result<_, _>>()?,
            other => {
                return Err(Error::at_span(
                    &merge.span,
                    "",
                    ErrorKind::InvalidType {
                        expected: "a mapping to merge with <<".into(),
                        found: other.kind().into(),
                    },
                ));
            }
        };
        for source in sources {
            for (key, value) in source {
                map.entry(key).or_insert(value);
            }
        }
    }
    Ok(map)
}

/// Resolves a scalar with the YAML 1.2 core schema, as Compose (go-yaml v3) does:
/// `yes`/`no`/`on`/`off` stay strings and `8080:80` is not a base-60 number.
fn resolve_scalar(text: String, style: TScalarStyle, force_string: bool) -> Value {
    if style != TScalarStyle::Plain || force_string {
        return Value::String(text);
    }
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(int) = parse_int(&text) {
        return Value::Int(int);
    }
    if is_float(&text)
        && let Ok(f) = text.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::String(text)
}

fn parse_int(text: &str) -> Option<i64> {
    if let Some(oct) = text.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok();
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok();
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_float(text: &str) -> bool {
    let s = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (mantissa, None),
    };
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac {
        Some(frac) => digits(int) && digits(frac) && !(int.is_empty() && frac.is_empty()),
        None => !int.is_empty() && digits(int),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok && (frac.is_some() || exponent.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Node, Error> {
        parse(text, Arc::from("compose.yaml"), Limits::default())
    }

    #[test]
    fn scalars_follow_the_core_schema() {
        let node = load("a: 1\nb: 1.5\nc: yes\nd: true\ne: ~\nf: '1'\ng: 8080:80\nh: 0x1F\ni: 1e3\nj: .5\n").unwrap();
        let json = node.to_json();
        assert_eq!(
            json,
            serde_json::json!({"a": 1, "b": 1.5, "c": "yes", "d": true, "e": null, "f": "1", "g": "8080:80", "h": 31, "i": 1000.0, "j": 0.5})
        );
    }

    #[test]
    fn spans_point_at_each_node() {
        let node = load("services:\n  web:\n    image: nginx\n").unwrap();
        let image = node.get_path(&["services", "web", "image"]).unwrap();
        assert_eq!((image.span.line, image.span.col), (3, 12));
        let web = node.get_path(&["services"]).unwrap().as_map().unwrap();
        let (key, _) = web.get_key_value("web").unwrap();
        assert_eq!((key.span.line, key.span.col), (2, 3));
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let text = "x-base: &base\n  image: busybox\n  environment: {A: '1'}\nservices:\n  a:\n    <<: *base\n    image: alpine\n  b: *base\n";
        let node = load(text).unwrap().to_json();
        assert_eq!(node["services"]["a"], serde_json::json!({"image": "alpine", "environment": {"A": "1"}}));
        assert_eq!(node["services"]["b"], serde_json::json!({"image": "busybox", "environment": {"A": "1"}}));
    }

    #[test]
    fn merge_key_list_prefers_earlier_maps() {
        let text = "a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc:\n  <<: [*a, *b]\n  w: 0\n";
        let node = load(text).unwrap().to_json();
        assert_eq!(node["c"], serde_json::json!({"w": 0, "x": 1, "y": 1, "z": 2}));
    }

    #[test]
    fn duplicate_keys_are_rejected_with_their_line() {
        let err = load("services:\n  web: {image: a}\n  web: {image: b}\n").unwrap_err();
        assert_eq!(err.to_string(), "compose.yaml:3:3: services: key \"web\" is defined twice in the same mapping");
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let err = load("services:\n  web:\n    image: \"nginx\n").unwrap_err();
        assert!(matches!(*err.kind, ErrorKind::Syntax(_)), "{err}");
        assert!(err.to_string().starts_with("compose.yaml:"), "{err}");
    }

    #[test]
    fn alias_bombs_stop_at_the_node_limit() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let err = load(&text).unwrap_err();
        assert!(matches!(*err.kind, ErrorKind::Limit(_)), "{err}");
    }

    #[test]
    fn deep_nesting_stops_at_the_depth_limit() {
        // Flow nesting is stopped by the parser's own recursion limit ...
        let text = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(load(&text).is_err());
        // ... block nesting by ours.
        let text: String = (0..200).map(|depth| format!("{}a:\n", " ".repeat(depth))).collect();
        let err = load(&text).unwrap_err();
        assert!(matches!(*err.kind, ErrorKind::Limit(_)), "{err}");
    }

    #[test]
    fn reset_and_override_tags_are_kept() {
        let node = load("ports: !reset []\ncommand: !override [a]\n").unwrap();
        assert_eq!(node.get_path(&["ports"]).unwrap().tag, MergeTag::Reset);
        assert_eq!(node.get_path(&["command"]).unwrap().tag, MergeTag::Override);
        assert!(load("a: !custom 1\n").is_err());
    }

    #[test]
    fn empty_file_is_null_and_second_document_is_an_error() {
        assert!(load("# nothing\n").unwrap().is_null());
        assert!(load("a: 1\n---\nb: 2\n").is_err());
    }
}
