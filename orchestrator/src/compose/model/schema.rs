//! Pieces of the JSON Schema that the derives cannot know: compose accepts
//! `x-` extension keys in every mapping, and short syntaxes beside the long
//! forms the model holds (DESIGN.md: schemas/ describes what berth accepts).

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

/// Every mapping accepts `x-*` keys.
pub fn allow_extensions(schema: &mut Schema) {
    schema.insert("patternProperties".into(), serde_json::json!({ "^x-": {} }));
}

/// The long form `T`, or its short form: a string (or number).
pub fn short_or<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    json_schema!({ "anyOf": [{ "type": ["string", "number"] }, generator.subschema_for::<T>()] })
}

/// A list of items in the long form `T` or a short string.
pub fn list_of_short_or<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "array", "items": short_or::<T>(generator) })
}

/// A mapping of strings, or a list of `KEY=VALUE` strings.
pub fn list_or_dict(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            { "type": "object", "additionalProperties": { "type": ["string", "number", "boolean", "null"] } },
            { "type": "array", "items": { "type": "string" } }
        ]
    })
}

/// A string, or a list of strings.
pub fn string_or_list(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "anyOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }] })
}

/// A list of names, or a mapping of names to the long form `T` (or null).
pub fn list_or_map_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            { "type": "array", "items": { "type": "string" } },
            { "type": "object", "additionalProperties": { "anyOf": [{ "type": "null" }, generator.subschema_for::<T>()] } }
        ]
    })
}

/// Anything: parts of the specification berth keeps but does not act on.
pub fn any(_: &mut SchemaGenerator) -> Schema {
    json_schema!({})
}

/// A mapping of names to `T`, where an entry may be left empty (`default:`).
pub fn map_of_nullable<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "additionalProperties": { "anyOf": [{ "type": "null" }, generator.subschema_for::<T>()] }
    })
}
