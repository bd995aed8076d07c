//! Shared helpers for the integration tests in `it/`.

use std::path::PathBuf;

/// The workspace README's Rust snippets are compiled as doctests, so they
/// cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct WorkspaceReadme;

/// The workspace root.
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives below the root")
        .to_path_buf()
}

/// The text of `openapi/users.yaml`.
pub fn spec_text() -> String {
    std::fs::read_to_string(project_root().join("openapi/users.yaml")).expect("reading the spec")
}

/// The spec as a JSON value, YAML aliases resolved.
pub fn spec_value() -> serde_json::Value {
    yaml_serde::from_str(&spec_text()).expect("the spec is YAML")
}

/// The spec parsed by `openapiv3`, as progenitor reads it.
pub fn spec() -> openapiv3::OpenAPI {
    serde_json::from_value(spec_value()).expect("the spec is OpenAPI 3.0")
}

/// The spec's own example user (`#/components/examples/User/value`).
pub fn example_user() -> serde_json::Value {
    spec_value()
        .pointer("/components/examples/User/value")
        .expect("the spec has an example user")
        .clone()
}

/// JSON Schema keywords that constrain a value (as opposed to shaping it).
pub const CONSTRAINT_KEYWORDS: [&str; 13] = [
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
];

/// A schema reduced to what a contract compares: `$ref`s resolved against
/// `root` (a document with `components/schemas`), single-member `allOf`
/// merged (longer ones kept, as `not`, `anyOf` and `oneOf` are),
/// documentation dropped (`description`, `example`, `title`,
/// `default`, `readOnly`, `writeOnly`, vendor extensions), nullability unified
/// (`nullable: true`, `null` never in `enum`), numbers as floats, integer
/// widths as `int32`/`int64`, `additionalProperties: true` as absent.
pub fn normalize_schema(root: &serde_json::Value, schema: &serde_json::Value) -> serde_json::Value {
    use serde_json::{Map, Value};
    let Value::Object(object) = schema else {
        return schema.clone();
    };
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        let target = root
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("unresolved {reference}"));
        return normalize_schema(root, target);
    }
    // OpenAPI 3.1 writes an optional reference as `oneOf: [{type: null}, X]`.
    if let Some(Value::Array(one_of)) = object.get("oneOf")
        && one_of.len() == 2
        && let Some(other) = one_of
            .iter()
            .find(|s| s.get("type") != Some(&Value::from("null")))
        && one_of
            .iter()
            .any(|s| s.get("type") == Some(&Value::from("null")))
    {
        let mut inner = normalize_schema(root, other);
        if let Some(map) = inner.as_object_mut() {
            map.insert("nullable".into(), Value::Bool(true));
        }
        return inner;
    }
    let mut out = Map::new();
    if let Some(Value::Array(all_of)) = object.get("allOf")
        && all_of.len() == 1
        && let Value::Object(merged) = normalize_schema(root, &all_of[0])
    {
        out = merged;
    }
    for (key, value) in object {
        let value = match key.as_str() {
            "type"
            | "format"
            | "required"
            | "enum"
            | "nullable"
            | "items"
            | "properties"
            | "additionalProperties"
            | "oneOf"
            | "anyOf"
            | "not" => value.clone(),
            // A single-member `allOf` was merged above; more members relate
            // an object's members and are compared as they are.
            "allOf" if value.as_array().is_some_and(|a| a.len() > 1) => value.clone(),
            k if CONSTRAINT_KEYWORDS.contains(&k) => value.clone(),
            _ => continue,
        };
        let value = match key.as_str() {
            // OpenAPI 3.1 writes nullability into `type`.
            "type" if value.is_array() => {
                let types: Vec<&Value> = value
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|t| *t != "null")
                    .collect();
                if types.len() < value.as_array().unwrap().len() {
                    out.insert("nullable".into(), Value::Bool(true));
                }
                match types.as_slice() {
                    [one] => (*one).clone(),
                    _ => Value::from(types.into_iter().cloned().collect::<Vec<_>>()),
                }
            }
            "items" => normalize_schema(root, &value),
            "properties" => Value::Object(
                value
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(name, s)| (name.clone(), normalize_schema(root, s)))
                    .collect(),
            ),
            "additionalProperties" => match value {
                // `true` and `{}` both allow anything.
                Value::Bool(true) => continue,
                Value::Object(ref o) if o.is_empty() => continue,
                Value::Bool(false) => Value::Bool(false),
                schema => normalize_schema(root, &schema),
            },
            "not" => normalize_schema(root, &value),
            "oneOf" | "anyOf" | "allOf" => Value::Array(
                value
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| normalize_schema(root, s))
                    .collect(),
            ),
            "required" => {
                let mut names: Vec<String> = value
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_owned())
                    .collect();
                names.sort();
                if names.is_empty() {
                    continue;
                }
                Value::from(names)
            }
            "enum" => {
                let values: Vec<Value> = value
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|v| !v.is_null())
                    .map(float)
                    .collect();
                Value::Array(values)
            }
            "nullable" if value != Value::Bool(true) => continue,
            "uniqueItems" if value != Value::Bool(true) => continue,
            "format" => match value.as_str() {
                Some("uint64" | "int64") => Value::from("int64"),
                Some("uint32" | "int32" | "uint" | "int") => Value::from("int32"),
                Some("double" | "float") => continue,
                _ => value,
            },
            _ => float(&value),
        };
        out.insert(key.clone(), value);
    }
    Value::Object(out)
}

fn float(value: &serde_json::Value) -> serde_json::Value {
    match value.as_f64() {
        Some(f) if value.is_number() => serde_json::Value::from(f),
        _ => value.clone(),
    }
}

/// Every place where two normalized schemas differ, as `path: left | right`.
pub fn schema_differences(
    path: &str,
    left: &serde_json::Value,
    right: &serde_json::Value,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    match (left, right) {
        (Value::Object(l), Value::Object(r)) => {
            let keys: std::collections::BTreeSet<&String> = l.keys().chain(r.keys()).collect();
            for key in keys {
                let here = format!("{path}/{key}");
                match (l.get(key), r.get(key)) {
                    (Some(a), Some(b)) => schema_differences(&here, a, b, out),
                    (a, b) => out.push(format!("{here}: {} | {}", show(a), show(b))),
                }
            }
        }
        (Value::Array(l), Value::Array(r))
            if l.len() == r.len() && l.iter().all(Value::is_object) =>
        {
            for (i, (a, b)) in l.iter().zip(r).enumerate() {
                schema_differences(&format!("{path}/{i}"), a, b, out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(format!("{path}: {a} | {b}")),
    }
}

fn show(value: Option<&serde_json::Value>) -> String {
    value.map_or_else(|| "absent".to_owned(), ToString::to_string)
}

/// A schema with its `$ref` (and a single-member `allOf`) resolved one level,
/// documentation kept: what instance building reads.
pub fn resolve<'a>(
    root: &'a serde_json::Value,
    schema: &'a serde_json::Value,
) -> serde_json::Value {
    use serde_json::Value;
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let target = root
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("unresolved {reference}"));
        return resolve(root, target);
    }
    // `allOf: [$ref]` beside siblings is a reference with annotations; an
    // `allOf` of one inline schema is a constraint of its own and stays.
    if let Some(Value::Array(all_of)) = schema.get("allOf")
        && all_of.len() == 1
        && all_of[0].get("$ref").is_some()
    {
        let mut merged = resolve(root, &all_of[0]);
        for (key, value) in schema.as_object().unwrap() {
            if key != "allOf" {
                merged[key] = value.clone();
            }
        }
        return merged;
    }
    schema.clone()
}

/// The spec as other tools' JSON Schema reads it: OpenAPI 3.0's
/// `nullable: true` becomes `type: [T, "null"]`.
pub fn spec_as_json_schema() -> serde_json::Value {
    fn rewrite(value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::Object(object) => {
                if object.remove("nullable") == Some(Value::Bool(true))
                    && let Some(Value::String(ty)) = object.get("type").cloned()
                {
                    object.insert("type".into(), serde_json::json!([ty, "null"]));
                }
                object.values_mut().for_each(rewrite);
            }
            Value::Array(items) => items.iter_mut().for_each(rewrite),
            _ => {}
        }
    }
    let mut spec = spec_value();
    rewrite(&mut spec);
    spec
}

/// A small valid instance of `schema`: required members only (or the first
/// member where at least one is needed), leaves from the spec's examples.
pub fn valid_instance(root: &serde_json::Value, schema: &serde_json::Value) -> serde_json::Value {
    use serde_json::{Map, Value, json};
    let schema = resolve(root, schema);
    if let Some(example) = schema.get("example")
        && schema.get("type").is_none_or(|t| t != "array")
    {
        return example.clone();
    }
    if let Some(Value::Array(values)) = schema.get("enum") {
        return values.iter().find(|v| !v.is_null()).cloned().unwrap();
    }
    if let Some(Value::Array(variants)) = schema.get("oneOf").or_else(|| schema.get("anyOf")) {
        return valid_instance(root, &variants[0]);
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => {
            let mut out = Map::new();
            let properties = schema.get("properties").and_then(Value::as_object);
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for name in &required {
                out.insert(
                    (*name).to_owned(),
                    valid_instance(root, &properties.unwrap()[*name]),
                );
            }
            let min = schema
                .get("minProperties")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            // Where members must be added, take plain ones with an example:
            // a relation list or a flag could trigger a rule of its own.
            if let Some(properties) = properties {
                for (name, property) in properties {
                    if out.len() as u64 >= min {
                        break;
                    }
                    let property_schema = resolve(root, property);
                    let scalar =
                        !matches!(property_schema["type"].as_str(), Some("array" | "object"));
                    if scalar && property_schema.get("example").is_some() {
                        out.insert(name.clone(), valid_instance(root, property));
                    }
                }
            }
            Value::Object(out)
        }
        Some("array") => json!([]),
        Some("integer") => schema.get("minimum").cloned().unwrap_or(json!(1)),
        Some("number") => json!(1.5),
        Some("boolean") => json!(true),
        Some("string") => match schema.get("format").and_then(Value::as_str) {
            Some("date") => json!("1980-12-20"),
            Some("date-time") => json!("2026-01-02T03:04:05Z"),
            Some("uuid") => json!("3fa85f64-5717-4562-b3fc-2c963f66afa6"),
            Some("email") => json!("someone@example.com"),
            _ => json!("x"),
        },
        other => panic!("no instance for type {other:?}"),
    }
}

/// One constraint of a request schema and an instance that breaks it.
#[derive(Debug, Clone)]
pub struct ConstraintCase {
    /// `Schema/path/to/field keyword value`, e.g. `UserCreate/name/firstName maxLength 50`.
    pub id: String,
    /// The dotted field path the error should name, e.g. `name.firstName`.
    pub field: String,
    /// A valid instance of the schema except for this one constraint.
    pub instance: serde_json::Value,
    /// Whether the constraint is one of the schema's `x-rules` (checked by
    /// the server only) rather than a JSON Schema keyword.
    pub rule: bool,
}

/// Makes `instance` (an object of `object_schema`) fail `sub`, a schema
/// relating its members: `required` (a member left out) or `properties`
/// whose members carry a `pattern`, an `enum` or a `not`.
fn break_schema(
    root: &serde_json::Value,
    object_schema: &serde_json::Value,
    sub: &serde_json::Value,
    instance: &mut serde_json::Value,
) {
    use serde_json::{Value, json};
    for (keyword, value) in sub.as_object().unwrap() {
        match keyword.as_str() {
            "required" => {
                for name in value.as_array().unwrap() {
                    instance
                        .as_object_mut()
                        .unwrap()
                        .remove(name.as_str().unwrap());
                }
            }
            "properties" => {
                for (name, member) in value.as_object().unwrap() {
                    let broken = if member.get("pattern").is_some() {
                        json!("!!!!!")
                    } else if let Some(Value::Array(values)) = member.get("enum") {
                        json!(format!("not-{}", values[0].as_str().unwrap_or("member")))
                    } else if let Some(not) = member.get("not") {
                        let mut value = valid_instance(root, &object_schema["properties"][name]);
                        satisfy_value(not, &mut value);
                        value
                    } else {
                        panic!("no way to break {member}")
                    };
                    instance[name] = broken;
                }
            }
            other => panic!("no way to break `{other}`"),
        }
    }
}

/// Makes `instance` satisfy `sub` (the schema under a `not`): `anyOf` (its
/// first member), `required` (every member set to a valid value) or
/// `properties` with an `enum`.
fn satisfy_schema(
    root: &serde_json::Value,
    object_schema: &serde_json::Value,
    sub: &serde_json::Value,
    instance: &mut serde_json::Value,
) {
    for (keyword, value) in sub.as_object().unwrap() {
        match keyword.as_str() {
            "anyOf" => satisfy_schema(root, object_schema, &value[0], instance),
            "required" => {
                for name in value.as_array().unwrap() {
                    let name = name.as_str().unwrap();
                    instance[name] = valid_instance(root, &object_schema["properties"][name]);
                }
            }
            "properties" => {
                for (name, member) in value.as_object().unwrap() {
                    satisfy_value(member, &mut instance[name.as_str()]);
                }
            }
            other => panic!("no way to satisfy `{other}`"),
        }
    }
}

fn satisfy_value(schema: &serde_json::Value, value: &mut serde_json::Value) {
    match schema.get("enum").and_then(serde_json::Value::as_array) {
        Some(values) => *value = values[0].clone(),
        None => panic!("no way to satisfy {schema}"),
    }
}

/// Every constraint keyword (plus `required`, `enum`, `format` and closed
/// objects) in the named component schema, each with a breaking instance.
pub fn constraint_cases(root: &serde_json::Value, schema_name: &str) -> Vec<ConstraintCase> {
    let schema = root["components"]["schemas"][schema_name].clone();
    let base = valid_instance(root, &schema);
    let mut out = Vec::new();
    walk(root, schema_name, &schema, &mut Vec::new(), &base, &mut out);
    out
}

fn walk(
    root: &serde_json::Value,
    name: &str,
    schema: &serde_json::Value,
    path: &mut Vec<String>,
    base: &serde_json::Value,
    out: &mut Vec<ConstraintCase>,
) {
    use serde_json::{Value, json};
    let schema = resolve(root, schema);
    let here = |keyword: &str, value: &Value| {
        let at = if path.is_empty() {
            String::new()
        } else {
            format!("/{}", path.join("/"))
        };
        format!("{name}{at} {keyword} {value}")
    };
    // Map members are set under the key `k0` (see `set_at`).
    let field = path
        .iter()
        .map(|s| if s == "*" { "k0" } else { s.as_str() })
        .collect::<Vec<_>>()
        .join(".");
    let with = |value: Value| set_at(root, &schema_at(root, name), base, path, value);
    let example = valid_instance(root, &schema);
    let mut push = |id: String, field: String, instance: Value| {
        let rule = id.contains(" x-rules ");
        out.push(ConstraintCase {
            id,
            field,
            instance,
            rule,
        })
    };
    let text = example.as_str().unwrap_or("x").to_owned();
    if let Some(n) = schema.get("maxLength").and_then(Value::as_u64) {
        let last = text.chars().last().unwrap_or('a');
        let long: String = text
            .chars()
            .chain(std::iter::repeat(last))
            .take(n as usize + 1)
            .collect();
        push(
            here("maxLength", &json!(n)),
            field.clone(),
            with(json!(long)),
        );
    }
    if let Some(n) = schema.get("minLength").and_then(Value::as_u64)
        && n > 0
    {
        let short: String = text.chars().take(n as usize - 1).collect();
        push(
            here("minLength", &json!(n)),
            field.clone(),
            with(json!(short)),
        );
    }
    if let Some(pattern) = schema.get("pattern") {
        let len = text.chars().count().max(1);
        let matcher = regex::Regex::new(pattern.as_str().unwrap()).unwrap();
        // The example's length in a character the pattern refuses.
        let broken = ["!", " ", "\u{7f}"]
            .iter()
            .map(|c| c.repeat(len))
            .find(|candidate| !matcher.is_match(candidate))
            .unwrap_or_else(|| panic!("{name}: no way to break {pattern}"));
        push(here("pattern", pattern), field.clone(), with(json!(broken)));
    }
    if let Some(Value::Array(values)) = schema.get("enum") {
        let bad = if schema["type"] == "integer" {
            json!(1)
        } else {
            json!("not-a-member")
        };
        // A long list (a lookup) is named by its length.
        let shown = if values.len() > 12 {
            json!(format!("{} values", values.len()))
        } else {
            Value::Array(values.clone())
        };
        push(here("enum", &shown), field.clone(), with(bad));
    }
    if let Some(min) = schema.get("minimum").and_then(Value::as_i64) {
        push(
            here("minimum", &json!(min)),
            field.clone(),
            with(json!(min - 1)),
        );
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_i64) {
        push(
            here("maximum", &json!(max)),
            field.clone(),
            with(json!(max + 1)),
        );
    }
    if let Some(format) = schema.get("format").and_then(Value::as_str) {
        let bad = match format {
            "email" => Some("not-an-email"),
            "uuid" => Some("not-a-uuid"),
            "date" => Some("2020-13-45"),
            "date-time" => Some("not-a-time"),
            "uri" => Some("not a uri"),
            _ => None,
        };
        if let Some(bad) = bad {
            push(
                here("format", &json!(format)),
                field.clone(),
                with(json!(bad)),
            );
        }
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("array") => {
            let item = valid_instance(root, &schema["items"]);
            let uuids = resolve(root, &schema["items"]).get("format") == Some(&json!("uuid"));
            // Distinct valid items: the i-th UUID, or the example with `i` appended.
            let member = |i: usize| match &item {
                Value::String(_) if uuids => {
                    json!(format!("00000000-0000-4000-8000-{:012x}", i + 1))
                }
                Value::String(s) => json!(format!("{s}{i}")),
                other => other.clone(),
            };
            if let Some(n) = schema.get("maxItems").and_then(Value::as_u64) {
                let items: Vec<Value> = (0..=n as usize).map(member).collect();
                push(
                    here("maxItems", &json!(n)),
                    field.clone(),
                    with(Value::Array(items)),
                );
            }
            if schema.get("uniqueItems") == Some(&json!(true)) {
                push(
                    here("uniqueItems", &json!(true)),
                    field.clone(),
                    with(json!([member(0), member(0)])),
                );
            }
            path.push("0".into());
            let base = set_at(
                root,
                &schema_at(root, name),
                base,
                &path[..path.len() - 1],
                json!([item]),
            );
            walk(root, name, &schema["items"], path, &base, out);
            path.pop();
        }
        Some("object") => {
            let object = valid_instance(root, &schema);
            let at = |name: &str| {
                if field.is_empty() {
                    name.to_owned()
                } else {
                    format!("{field}.{name}")
                }
            };
            for rule in schema
                .get("x-rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let kind = rule["kind"].as_str().unwrap();
                let target = rule["field"].as_str().unwrap_or_default();
                let others: Vec<&str> = rule["others"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let mut broken = object.clone();
                let (at_field, id_value) = match kind {
                    // Words an enum's error: the enum case covers it.
                    "message" if rule["keyword"] == "enum" => continue,
                    // Words the error of a keyword relating members
                    // (`allOf/0/anyOf`, `allOf/1/not`): break that keyword.
                    "message" => {
                        let keyword = rule["keyword"].as_str().unwrap();
                        let sub = schema
                            .pointer(&format!("/{keyword}"))
                            .unwrap_or_else(|| panic!("{name}: no keyword {keyword}"));
                        match keyword.rsplit('/').next() {
                            Some("anyOf") => {
                                for member in sub.as_array().unwrap() {
                                    break_schema(root, &schema, member, &mut broken);
                                }
                            }
                            Some("not") => satisfy_schema(root, &schema, sub, &mut broken),
                            other => panic!("{name}: no case for a message on {other:?}"),
                        }
                        (at(target), json!(keyword))
                    }
                    "date-not-in-future" => {
                        broken[target] = json!("2999-01-01");
                        (at(target), json!(target))
                    }
                    "property-names" => {
                        let value = valid_instance(root, &schema["additionalProperties"]);
                        broken["9lives"] = value;
                        (at("9lives"), rule["pattern"].clone())
                    }
                    "disjoint" => {
                        let list = resolve(root, &schema["properties"][target]);
                        let shared = valid_instance(root, &list["items"]);
                        broken[target] = json!([shared]);
                        broken[others[0]] = json!([shared]);
                        (at(target), json!(target))
                    }
                    other => panic!("no case for rule kind {other}"),
                };
                push(
                    here(&format!("x-rules {kind}"), &id_value),
                    at_field,
                    with(broken),
                );
            }
            if let Some(n) = schema.get("maxProperties").and_then(Value::as_u64) {
                let value = schema
                    .get("additionalProperties")
                    .filter(|s| s.is_object())
                    .map_or(json!(true), |s| valid_instance(root, s));
                let map: serde_json::Map<String, Value> =
                    (0..=n).map(|i| (format!("k{i}"), value.clone())).collect();
                push(
                    here("maxProperties", &json!(n)),
                    field.clone(),
                    with(Value::Object(map)),
                );
            }
            if let Some(n) = schema.get("minProperties").and_then(Value::as_u64)
                && n > 0
            {
                push(
                    here("minProperties", &json!(n)),
                    field.clone(),
                    with(json!({})),
                );
            }
            let current = valid_instance(root, &schema);
            if schema.get("additionalProperties") == Some(&json!(false)) {
                let mut extended = current.clone();
                extended["unexpectedMember"] = json!(true);
                let at = if field.is_empty() {
                    "unexpectedMember".to_owned()
                } else {
                    format!("{field}.unexpectedMember")
                };
                push(
                    here("additionalProperties", &json!(false)),
                    at,
                    with(extended),
                );
            }
            for required in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let required = required.as_str().unwrap();
                let mut missing = current.clone();
                missing.as_object_mut().unwrap().remove(required);
                let at = if field.is_empty() {
                    required.to_owned()
                } else {
                    format!("{field}.{required}")
                };
                push(here("required", &json!(required)), at, with(missing));
            }
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (property, sub) in properties {
                    path.push(property.clone());
                    walk(root, name, sub, path, base, out);
                    path.pop();
                }
            }
            if let Some(values) = schema.get("additionalProperties").filter(|s| s.is_object()) {
                path.push("*".into());
                walk(root, name, values, path, base, out);
                path.pop();
            }
        }
        _ => {}
    }
    if let Some(Value::Array(variants)) = schema.get("oneOf").or_else(|| schema.get("anyOf")) {
        for variant in variants {
            walk(root, name, variant, path, base, out);
        }
    }
}

fn schema_at(root: &serde_json::Value, name: &str) -> serde_json::Value {
    root["components"]["schemas"][name].clone()
}

/// `base` with the member at `path` set to `value`, creating valid parents
/// on the way (`*` is a map key, a number an array index).
pub fn set_at(
    root: &serde_json::Value,
    schema: &serde_json::Value,
    base: &serde_json::Value,
    path: &[String],
    value: serde_json::Value,
) -> serde_json::Value {
    use serde_json::{Value, json};
    let Some((head, rest)) = path.split_first() else {
        return value;
    };
    let schema = resolve(root, schema);
    if let Ok(index) = head.parse::<usize>() {
        let item_schema = &schema["items"];
        let mut items = base.as_array().cloned().unwrap_or_default();
        while items.len() <= index {
            items.push(valid_instance(root, item_schema));
        }
        items[index] = set_at(root, item_schema, &items[index], rest, value);
        return Value::Array(items);
    }
    let (key, child_schema) = if head == "*" {
        ("k0".to_owned(), schema["additionalProperties"].clone())
    } else {
        (head.clone(), schema["properties"][head].clone())
    };
    let mut object = match base {
        Value::Object(_) => base.clone(),
        _ => valid_instance(root, &schema),
    };
    if !object.is_object() {
        object = json!({});
    }
    let child = object
        .get(&key)
        .cloned()
        .unwrap_or_else(|| valid_instance(root, &child_schema));
    object[&key] = set_at(root, &child_schema, &child, rest, value);
    object
}

/// An OpenAPI document (3.0 or 3.1) reduced to its contract: per operation
/// (`METHOD /path`) the operationId, tags, parameters (path-level ones
/// merged in), request body, responses with media types and headers, and
/// security with scopes; plus the security schemes. Schemas are normalized
/// with [`normalize_schema`], `$ref`s resolved against the document itself.
pub fn normalize_document(doc: &serde_json::Value) -> serde_json::Value {
    use serde_json::{Map, Value, json};
    let resolve = |value: &Value| -> Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => doc
                .pointer(reference.trim_start_matches('#'))
                .cloned()
                .unwrap_or(Value::Null),
            None => value.clone(),
        }
    };
    let schema = |value: &Value| normalize_schema(doc, value);
    let mut operations = Map::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        let shared: Vec<Value> = item["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(resolve)
            .collect();
        for method in ["get", "put", "post", "delete", "patch"] {
            let Some(op) = item.get(method) else { continue };
            let mut parameters = Map::new();
            let own = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(resolve);
            for param in shared.iter().cloned().chain(own) {
                let mut param_schema = schema(&param["schema"]);
                // A parameter is text on the wire; 3.1 generators mark
                // optional ones nullable, which no parameter can be.
                if let Some(object) = param_schema.as_object_mut() {
                    object.remove("nullable");
                }
                parameters.insert(
                    format!(
                        "{} {}",
                        param["in"].as_str().unwrap(),
                        param["name"].as_str().unwrap()
                    ),
                    json!({ "required": param["required"] == true, "schema": param_schema }),
                );
            }
            let body = op.get("requestBody").map(|body| {
                let body = resolve(body);
                let content: Map<String, Value> = body["content"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(media, c)| (media.clone(), schema(&c["schema"])))
                    .collect();
                json!({ "required": body["required"] == true, "content": content })
            });
            let mut responses = Map::new();
            for (status, response) in op["responses"].as_object().into_iter().flatten() {
                let response = resolve(response);
                let content: Map<String, Value> = response["content"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(media, c)| (media.clone(), schema(&c["schema"])))
                    .collect();
                let headers: Map<String, Value> = response["headers"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, h)| (name.clone(), schema(&resolve(h)["schema"])))
                    .collect();
                responses.insert(
                    status.clone(),
                    json!({ "content": content, "headers": headers }),
                );
            }
            operations.insert(
                format!("{} {path}", method.to_uppercase()),
                json!({
                    "operationId": op["operationId"],
                    "tags": op["tags"],
                    "parameters": parameters,
                    "requestBody": body,
                    "responses": responses,
                    // An operation without its own requirement has the
                    // document's.
                    "security": op.get("security").unwrap_or(&doc["security"]),
                }),
            );
        }
    }
    let schemes: Map<String, Value> = doc["components"]["securitySchemes"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, s)| {
            (
                name.clone(),
                json!({ "type": s["type"], "scheme": s["scheme"], "bearerFormat": s["bearerFormat"] }),
            )
        })
        .collect();
    json!({ "operations": operations, "securitySchemes": schemes })
}

/// Counts the constraint keywords in a normalized document.
pub fn count_constraints(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Object(object) => object
            .iter()
            .map(|(k, v)| {
                usize::from(CONSTRAINT_KEYWORDS.contains(&k.as_str())) + count_constraints(v)
            })
            .sum(),
        serde_json::Value::Array(items) => items.iter().map(count_constraints).sum(),
        _ => 0,
    }
}
