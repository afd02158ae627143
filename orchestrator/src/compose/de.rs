//! A serde `Deserializer` over the [`Node`] tree, so the typed model is plain
//! `#[derive(Deserialize)]` while every error still names file, line and key path.
//!
//! Three things set it apart from deserializing JSON:
//! - errors are located: the innermost node that sees an error stamps its span
//!   and key path on it (an unknown key points at the key itself);
//! - scalars are coerced to what the field asks for, because interpolation
//!   produces strings (`published: ${PORT}` must still become a number), and
//!   Compose accepts `A: 1` where it wants a string;
//! - in a struct, `x-` extension keys the struct does not declare are skipped:
//!   the Compose Specification allows them anywhere.

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, Unexpected,
    VariantAccess, Visitor,
};

use super::error::{Error, ErrorKind};
use super::node::{Key, Node, Span, Value};
use super::path::Path;

/// Deserializes the typed value `T` from a tree.
pub fn from_node<T: DeserializeOwned>(node: &Node) -> Result<T, Error> {
    from_node_at(node, &Path::Root)
}

/// Like [`from_node`], for a subtree found at `path`.
pub fn from_node_at<T: DeserializeOwned>(node: &Node, path: &Path<'_>) -> Result<T, Error> {
    T::deserialize(NodeDe { node, path }).map_err(|e| e.into_error(node, path))
}

/// The error serde passes around; located on its way out of the tree.
#[derive(Debug)]
pub struct DeError {
    kind: ErrorKind,
    location: Option<(Span, String)>,
}

impl DeError {
    fn locate(mut self, span: &Span, path: &Path<'_>) -> Self {
        if self.location.is_none() {
            self.location = Some((span.clone(), path.to_string()));
        }
        self
    }

    fn into_error(self, node: &Node, path: &Path<'_>) -> Error {
        let (span, path) = self.location.unwrap_or_else(|| (node.span.clone(), path.to_string()));
        Error::at_span(&span, path, self.kind)
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError { kind: ErrorKind::Invalid(msg.to_string()), location: None }
    }

    fn invalid_type(unexpected: Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        let kind = ErrorKind::InvalidType {
            expected: describe_expected(&expected.to_string()),
            found: describe_unexpected(&unexpected),
        };
        DeError { kind, location: None }
    }

    fn invalid_value(unexpected: Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        let kind = ErrorKind::Invalid(format!(
            "invalid value {}: expected {}",
            describe_unexpected(&unexpected),
            describe_expected(&expected.to_string())
        ));
        DeError { kind, location: None }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let kind = ErrorKind::Invalid(format!(
            "invalid value {variant:?}: expected one of {}",
            expected.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", ")
        ));
        DeError { kind, location: None }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let kind = ErrorKind::UnknownKey { key: field.to_string(), suggestion: nearest(field, expected) };
        DeError { kind, location: None }
    }

    fn missing_field(field: &'static str) -> Self {
        DeError { kind: ErrorKind::MissingKey(field.to_string()), location: None }
    }
}

/// The valid key closest to a misspelt one, if any is close enough to be a typo.
fn nearest(field: &str, expected: &[&str]) -> Option<String> {
    expected
        .iter()
        .filter(|candidate| !candidate.starts_with("x-"))
        .map(|candidate| (strsim::damerau_levenshtein(field, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 3))
        .min()
        .map(|(_, candidate)| candidate.to_string())
}

/// serde names Rust types ("u16", "struct Service"); users think in YAML.
fn describe_expected(expected: &str) -> String {
    match expected {
        "u8" => "an integer between 0 and 255".into(),
        "u16" => "an integer between 0 and 65535".into(),
        "u32" | "u64" | "usize" => "a non-negative integer".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "an integer".into(),
        "f32" | "f64" => "a number".into(),
        "a borrowed string" | "a string" | "string" => "a string".into(),
        other if other.starts_with("struct ") || other.starts_with("a map") => "a mapping".into(),
        other if other.starts_with("a sequence") || other.starts_with("tuple") => "a sequence".into(),
        other => other.to_string(),
    }
}

fn describe_unexpected(unexpected: &Unexpected<'_>) -> String {
    match unexpected {
        Unexpected::Str(s) => format!("the string {s:?}"),
        Unexpected::Signed(i) => format!("the number {i}"),
        Unexpected::Unsigned(u) => format!("the number {u}"),
        Unexpected::Float(f) => format!("the number {f}"),
        Unexpected::Bool(b) => format!("the boolean {b}"),
        Unexpected::Unit | Unexpected::Option => "null".into(),
        Unexpected::Seq => "a sequence".into(),
        Unexpected::Map => "a mapping".into(),
        other => other.to_string(),
    }
}

struct NodeDe<'n, 'p> {
    node: &'n Node,
    path: &'p Path<'p>,
}

impl<'n, 'p> NodeDe<'n, 'p> {
    fn locate(&self, error: DeError) -> DeError {
        error.locate(&self.node.span, self.path)
    }

    fn unexpected(&self) -> Unexpected<'n> {
        match &self.node.value {
            Value::Null => Unexpected::Unit,
            Value::Bool(b) => Unexpected::Bool(*b),
            Value::Int(i) => Unexpected::Signed(*i),
            Value::Float(f) => Unexpected::Float(*f),
            Value::String(s) => Unexpected::Str(s),
            Value::Seq(_) => Unexpected::Seq,
            Value::Map(_) => Unexpected::Map,
        }
    }

    fn type_error(&self, expected: &dyn de::Expected) -> DeError {
        self.locate(de::Error::invalid_type(self.unexpected(), expected))
    }

    fn visit_map_filtered<'de, V: Visitor<'de>>(
        self,
        visitor: V,
        declared: Option<&'static [&'static str]>,
    ) -> Result<V::Value, DeError> {
        let Value::Map(map) = &self.node.value else {
            return Err(self.type_error(&visitor));
        };
        let entries = map
            .iter()
            .filter(|(key, _)| match declared {
                Some(fields) => !key.name.starts_with("x-") || fields.contains(&key.name.as_str()),
                None => true,
            })
            .collect::<Vec<_>>();
        let access = NodeMap { entries: entries.into_iter(), value: None, path: self.path };
        visitor.visit_map(access).map_err(|e| self.locate(e))
    }
}

/// Parses a string that came from interpolation as the number a field asks for.
fn int_from(node: &Node) -> Option<i64> {
    match &node.value {
        Value::Int(i) => Some(*i),
        Value::String(s) => s.trim().parse().ok(),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
        _ => None,
    }
}

fn bool_from(node: &Node) -> Option<bool> {
    match &node.value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "on" => Some(true),
            "false" | "no" | "n" | "off" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

macro_rules! deserialize_int {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            match int_from(self.node) {
                Some(i) => visitor.visit_i64(i).map_err(|e| self.locate(e)),
                None => Err(self.type_error(&visitor)),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for NodeDe<'_, '_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result = match &self.node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::String(s) => visitor.visit_str(s),
            Value::Seq(items) => visitor.visit_seq(NodeSeq { items: items.iter().enumerate(), path: self.path }),
            Value::Map(_) => return self.visit_map_filtered(visitor, None),
        };
        result.map_err(|e| self.locate(e))
    }

    deserialize_int! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match bool_from(self.node) {
            Some(b) => visitor.visit_bool(b).map_err(|e| self.locate(e)),
            None => Err(self.type_error(&visitor)),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let number = match &self.node.value {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        match number {
            Some(f) => visitor.visit_f64(f).map_err(|e| self.locate(e)),
            None => Err(self.type_error(&visitor)),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::String(s) => visitor.visit_str(s).map_err(|e| self.locate(e)),
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
                let text = self.node.scalar_text().unwrap_or_default();
                visitor.visit_str(&text).map_err(|e| self.locate(e))
            }
            _ => Err(self.type_error(&visitor)),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node.value {
            Value::Null => visitor.visit_none().map_err(|e| self.locate(e)),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node.value {
            Value::Null => visitor.visit_unit().map_err(|e| self.locate(e)),
            _ => Err(self.type_error(&visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Seq(items) => visitor
                .visit_seq(NodeSeq { items: items.iter().enumerate(), path: self.path })
                .map_err(|e| self.locate(e)),
            _ => Err(self.type_error(&visitor)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.visit_map_filtered(visitor, None)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.visit_map_filtered(visitor, Some(fields))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::String(_) | Value::Int(_) | Value::Bool(_) | Value::Float(_) => {
                let text = self.node.scalar_text().unwrap_or_default();
                visitor.visit_enum(text.into_deserializer()).map_err(|e: DeError| self.locate(e))
            }
            Value::Map(map) if map.len() == 1 => {
                let (key, value) = map.iter().next().expect("one entry");
                let path = self.path.key(&key.name);
                visitor.visit_enum(NodeEnum { key, value, path: &path }).map_err(|e| e.locate(&value.span, &path))
            }
            _ => Err(self.type_error(&visitor)),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

struct NodeSeq<'n, 'p, I: Iterator<Item = (usize, &'n Node)>> {
    items: I,
    path: &'p Path<'p>,
}

impl<'de, 'n, I: Iterator<Item = (usize, &'n Node)>> SeqAccess<'de> for NodeSeq<'n, '_, I> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        let Some((index, node)) = self.items.next() else {
            return Ok(None);
        };
        let path = self.path.index(index);
        seed.deserialize(NodeDe { node, path: &path }).map(Some).map_err(|e| e.locate(&node.span, &path))
    }
}

struct NodeMap<'n, 'p, I: Iterator<Item = (&'n Key, &'n Node)>> {
    entries: I,
    value: Option<(&'n Key, &'n Node)>,
    path: &'p Path<'p>,
}

impl<'de, 'n, I: Iterator<Item = (&'n Key, &'n Node)>> MapAccess<'de> for NodeMap<'n, '_, I> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some((key, value));
        let path = self.path.key(&key.name);
        seed.deserialize(key.name.as_str().into_deserializer())
            .map(Some)
            .map_err(|e: DeError| e.locate(&key.span, &path))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let (key, node) = self.value.take().expect("serde asks for a value after its key");
        let path = self.path.key(&key.name);
        seed.deserialize(NodeDe { node, path: &path }).map_err(|e| e.locate(&node.span, &path))
    }
}

struct NodeEnum<'n, 'p> {
    key: &'n Key,
    value: &'n Node,
    path: &'p Path<'p>,
}

impl<'de, 'n, 'p> EnumAccess<'de> for NodeEnum<'n, 'p> {
    type Error = DeError;
    type Variant = NodeDe<'n, 'p>;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self::Variant), DeError> {
        let variant = seed.deserialize(self.key.name.as_str().into_deserializer())?;
        Ok((variant, NodeDe { node: self.value, path: self.path }))
    }
}

impl<'de> VariantAccess<'de> for NodeDe<'_, '_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.node.value {
            Value::Null => Ok(()),
            _ => Err(self.type_error(&"nothing")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(self, fields: &'static [&'static str], visitor: V) -> Result<V::Value, DeError> {
        self.visit_map_filtered(visitor, Some(fields))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use serde::Deserialize;

    use super::*;
    use crate::compose::yaml::{Limits, parse};

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Service {
        image: Option<String>,
        #[serde(default)]
        environment: BTreeMap<String, Option<String>>,
        #[serde(default)]
        ports: Vec<Port>,
        read_only: Option<bool>,
        #[serde(rename = "x-berth")]
        berth: Option<BTreeMap<String, bool>>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Port {
        target: u16,
        published: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct File {
        services: BTreeMap<String, Service>,
    }

    fn load(text: &str) -> Result<File, Error> {
        from_node(&parse(text, Arc::from("compose.yaml"), Limits::default()).unwrap())
    }

    #[test]
    fn coerces_interpolated_strings_and_numbers() {
        let file = load("services:\n  web:\n    image: 1.25\n    read_only: 'true'\n    environment: {A: 1, B: ~}\n    ports: [{target: '80', published: 8080}]\n").unwrap();
        let web = &file.services["web"];
        assert_eq!(web.image.as_deref(), Some("1.25"));
        assert_eq!(web.read_only, Some(true));
        assert_eq!(web.environment["A"].as_deref(), Some("1"));
        assert_eq!(web.environment["B"], None);
        assert_eq!(web.ports, vec![Port { target: 80, published: Some("8080".into()) }]);
    }

    #[test]
    fn unknown_key_points_at_the_key_and_suggests() {
        let err = load("services:\n  web:\n    image: nginx\n    enviroment: {}\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "compose.yaml:4:5: services.web.enviroment: unknown key \"enviroment\" (did you mean \"environment\"?)"
        );
    }

    #[test]
    fn wrong_type_names_the_value_and_path() {
        let err = load("services:\n  web:\n    ports: [{target: http}]\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "compose.yaml:3:22: services.web.ports[0].target: expected an integer between 0 and 65535, found the string \"http\""
        );
        let err = load("services:\n  web:\n    ports: [{target: 70000}]\n").unwrap_err();
        assert!(err.to_string().contains("services.web.ports[0].target"), "{err}");
    }

    #[test]
    fn missing_key_points_at_the_mapping() {
        let err = load("services:\n  web:\n    ports:\n      - published: '80'\n").unwrap_err();
        assert_eq!(err.to_string(), "compose.yaml:4:9: services.web.ports[0]: missing required key \"target\"");
    }

    #[test]
    fn undeclared_extensions_are_skipped_and_declared_ones_read() {
        let file = load("services:\n  web:\n    x-other: {anything: [1]}\n    x-berth: {restart_on_unhealthy: true}\n")
            .unwrap();
        assert!(file.services["web"].berth.as_ref().unwrap()["restart_on_unhealthy"]);
    }
}
