//! OpenAPI 3.1 lowered to the 3.0 both generators (and progenitor) read.
//!
//! A 3.1 document's schemas are JSON Schema 2020-12; what a 3.0 schema says
//! differently is rewritten, keyword by keyword, wherever a schema can be:
//! - `type: [T, "null"]` is `type: T, nullable: true`; several non-null types
//!   are an `anyOf` of one schema per type; `type: "null"` alone is
//!   `nullable: true`;
//! - an `anyOf` / `oneOf` branch `{type: "null"}` is dropped and the schema
//!   is `nullable`;
//! - `const: v` is `enum: [v]`;
//! - a numeric `exclusiveMinimum` / `exclusiveMaximum` is the bound with the
//!   boolean flag;
//! - `examples: [..]` (a schema's list) is `example`, the first;
//! - a boolean schema is `{}` (`true`) or `{not: {}}` (`false`), where a
//!   schema stands (`additionalProperties` keeps its boolean, as 3.0 has it).
//!
//! The document becomes `openapi: 3.0.3` without what 3.0 has no place for
//! (`webhooks`, `jsonSchemaDialect`, `components/pathItems`, the license's
//! `identifier`, the info's `summary`). A 3.0 document is returned as it is.

use serde_json::{Map, Value, json};

/// `spec` as OpenAPI 3.0.3 when it is 3.1; otherwise unchanged.
pub(crate) fn to_30(spec: &Value) -> std::borrow::Cow<'_, Value> {
    if !spec["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.1"))
    {
        return std::borrow::Cow::Borrowed(spec);
    }
    let mut out = spec.clone();
    out["openapi"] = json!("3.0.3");
    if let Some(object) = out.as_object_mut() {
        object.remove("webhooks");
        object.remove("jsonSchemaDialect");
        object.entry("paths").or_insert_with(|| json!({}));
    }
    if let Some(components) = out["components"].as_object_mut() {
        components.remove("pathItems");
    }
    if let Some(info) = out["info"].as_object_mut() {
        info.remove("summary");
        if let Some(license) = info.get_mut("license").and_then(Value::as_object_mut) {
            license.remove("identifier");
        }
    }
    lower(&mut out);
    std::borrow::Cow::Owned(out)
}

/// The keywords whose value is a map of names to schemas: the map itself
/// is not a schema (a member may be named `const` or `type`).
const NAMED_SCHEMAS: [&str; 5] = [
    "properties",
    "patternProperties",
    "schemas",
    "$defs",
    "definitions",
];

/// The keywords whose value is one schema, or a list of schemas.
const SCHEMA_KEYWORDS: [&str; 13] = [
    "items",
    "not",
    "contains",
    "if",
    "then",
    "else",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
    "allOf",
    "anyOf",
    "oneOf",
    "prefixItems",
];

/// A boolean schema as the object that says the same.
fn unbool(schema: &mut Value) {
    match schema {
        Value::Bool(true) => *schema = json!({}),
        Value::Bool(false) => *schema = json!({ "not": {} }),
        _ => {}
    }
}

/// Rewrites every schema-like object below `value`.
fn lower(value: &mut Value) {
    match value {
        Value::Object(object) => {
            lower_schema(object);
            for (key, member) in object.iter_mut() {
                match member {
                    Value::Object(named) if NAMED_SCHEMAS.contains(&key.as_str()) => {
                        named.values_mut().for_each(|schema| {
                            unbool(schema);
                            lower(schema);
                        });
                    }
                    Value::Array(schemas) if SCHEMA_KEYWORDS.contains(&key.as_str()) => {
                        schemas.iter_mut().for_each(|schema| {
                            unbool(schema);
                            lower(schema);
                        });
                    }
                    // Data, not schemas.
                    _ if matches!(key.as_str(), "example" | "default" | "enum")
                        || key.starts_with("x-") => {}
                    _ => {
                        if SCHEMA_KEYWORDS.contains(&key.as_str()) {
                            unbool(member);
                        }
                        lower(member);
                    }
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(lower),
        _ => {}
    }
}

/// One object, if it is a schema: the keywords 3.0 spells differently.
fn lower_schema(object: &mut Map<String, Value>) {
    // `type` as a list (only a schema has one).
    if let Some(Value::Array(types)) = object.get("type").cloned() {
        let null = types.iter().any(|t| t == "null");
        let others: Vec<Value> = types.into_iter().filter(|t| t != "null").collect();
        object.remove("type");
        match others.as_slice() {
            [] => {}
            [one] => {
                object.insert("type".into(), one.clone());
            }
            several => {
                let branches = several.iter().map(|t| json!({ "type": t })).collect();
                object.insert("anyOf".into(), Value::Array(branches));
            }
        }
        if null {
            object.insert("nullable".into(), json!(true));
        }
    } else if object.get("type") == Some(&json!("null")) {
        object.remove("type");
        object.insert("nullable".into(), json!(true));
    }
    // A `null` branch of a union.
    for keyword in ["anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = object.get_mut(keyword) {
            let before = branches.len();
            branches.retain(|b| b != &json!({ "type": "null" }));
            if branches.len() < before {
                object.insert("nullable".into(), json!(true));
            }
        }
    }
    if let Some(value) = object.remove("const") {
        object.insert("enum".into(), json!([value]));
    }
    for (exclusive, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if let Some(n @ Value::Number(_)) = object.get(exclusive).cloned() {
            object.insert(bound.into(), n);
            object.insert(exclusive.into(), json!(true));
        }
    }
    if let Some(Value::Array(examples)) = object.get("examples").cloned() {
        object.remove("examples");
        if let Some(first) = examples.into_iter().next() {
            object.entry("example").or_insert(first);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_30_document_is_not_touched() {
        let spec =
            json!({ "openapi": "3.0.3", "components": { "schemas": { "A": { "const": 1 } } } });
        assert!(matches!(to_30(&spec), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn boolean_schemas_become_objects_and_data_stays() {
        let spec = json!({
            "openapi": "3.1.0",
            "components": { "schemas": {
                "A": { "type": "object", "additionalProperties": false, "properties": {
                    "additionalProperties": false,
                    "any": true,
                    "list": { "type": "array", "items": false, "example": { "items": true } }
                } },
                "U": { "anyOf": [true, { "type": "string" }] }
            } }
        });
        let out = to_30(&spec);
        let a = &out["components"]["schemas"]["A"];
        assert_eq!(a["additionalProperties"], json!(false));
        assert_eq!(
            a["properties"]["additionalProperties"],
            json!({ "not": {} })
        );
        assert_eq!(a["properties"]["any"], json!({}));
        assert_eq!(a["properties"]["list"]["items"], json!({ "not": {} }));
        assert_eq!(a["properties"]["list"]["example"], json!({ "items": true }));
        assert_eq!(out["components"]["schemas"]["U"]["anyOf"][0], json!({}));
    }

    #[test]
    fn the_31_keywords_become_their_30_spelling() {
        let spec = json!({
            "openapi": "3.1.0",
            "info": { "title": "T", "version": "1", "summary": "s",
                      "license": { "name": "MIT", "identifier": "MIT" } },
            "webhooks": { "a": {} },
            "components": { "schemas": {
                "Name": { "type": ["string", "null"], "examples": ["Ada", "Alan"] },
                "Id": { "type": ["string", "integer"] },
                "Kind": { "const": "user" },
                "Age": { "type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 150 },
                "Ref": { "anyOf": [{ "$ref": "#/components/schemas/Name" }, { "type": "null" }] },
                "Nothing": { "type": "null" },
                "Keyword": { "type": "object", "properties": {
                    "const": { "type": "string" },
                    "type": { "type": ["string", "null"] }
                } }
            } },
            "paths": { "/a": { "get": { "responses": { "200": { "description": "A",
                "content": { "application/json": {
                    "schema": { "type": ["object", "null"] },
                    "examples": { "one": { "value": { "a": 1 } } }
                } } } } } } }
        });
        let lowered = to_30(&spec).into_owned();
        assert_eq!(lowered["openapi"], "3.0.3");
        assert!(lowered.get("webhooks").is_none());
        assert!(lowered["info"].get("summary").is_none());
        assert_eq!(lowered["info"]["license"], json!({ "name": "MIT" }));
        let schemas = &lowered["components"]["schemas"];
        assert_eq!(
            schemas["Name"],
            json!({ "type": "string", "nullable": true, "example": "Ada" })
        );
        assert_eq!(
            schemas["Id"],
            json!({ "anyOf": [{ "type": "string" }, { "type": "integer" }] })
        );
        assert_eq!(schemas["Kind"], json!({ "enum": ["user"] }));
        assert_eq!(
            schemas["Age"],
            json!({ "type": "integer", "minimum": 0, "exclusiveMinimum": true,
                    "maximum": 150, "exclusiveMaximum": true })
        );
        assert_eq!(
            schemas["Ref"],
            json!({ "anyOf": [{ "$ref": "#/components/schemas/Name" }], "nullable": true })
        );
        assert_eq!(schemas["Nothing"], json!({ "nullable": true }));
        // Members named like keywords are members, not keywords.
        assert_eq!(
            schemas["Keyword"]["properties"],
            json!({ "const": { "type": "string" }, "type": { "type": "string", "nullable": true } })
        );
        let media =
            &lowered["paths"]["/a"]["get"]["responses"]["200"]["content"]["application/json"];
        assert_eq!(
            media["schema"],
            json!({ "type": "object", "nullable": true })
        );
        // A media type's `examples` is a map, not a schema's list: kept.
        assert_eq!(media["examples"]["one"]["value"], json!({ "a": 1 }));
    }
}
