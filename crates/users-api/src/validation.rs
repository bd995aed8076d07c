//! Request validation against the spec's own schemas.
//!
//! The spec is embedded and every request schema and parameter schema is
//! compiled once with `jsonschema` (OpenAPI 3.0's `nullable` rewritten to
//! JSON Schema's `type: [T, "null"]` first). An error of a keyword that an
//! `x-rules` entry of kind `message` words is reported as that entry says
//! (its field, code and message). The other `x-rules` (what JSON Schema
//! cannot state) are then evaluated by [`check_rules`], an interpreter of the
//! rule kinds the spec defines. Nothing here knows a field by name: adding a
//! constraint to the spec adds a check.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use jsonschema::error::ValidationErrorKind;
use serde_json::{Map, Value};

use crate::types::FieldError;

/// The source spec, byte for byte.
pub const SPEC_YAML: &str = include_str!("../../../openapi/users.yaml");

/// The spec as JSON, nullability rewritten for `jsonschema`.
static ROOT: LazyLock<Value> = LazyLock::new(|| {
    let mut spec: Value = yaml_serde::from_str(SPEC_YAML).expect("the embedded spec is YAML");
    rewrite_nullable(&mut spec);
    spec
});

/// The embedded spec as JSON (YAML aliases resolved; OpenAPI 3.0
/// `nullable: true` rewritten to JSON Schema's `type: [T, "null"]`), for
/// implementations that read its vendor extensions (`x-privileged`, ...).
pub fn spec() -> &'static Value {
    &ROOT
}

/// Names of the fields a server manages, for a clearer message when a
/// request sends one.
static READ_ONLY: LazyLock<Vec<String>> = LazyLock::new(|| {
    ROOT["components"]["schemas"]["User"]["properties"]
        .as_object()
        .map(|props| {
            props
                .iter()
                .filter(|(_, p)| p["readOnly"] == Value::Bool(true))
                .map(|(name, _)| name.clone())
                .collect()
        })
        .unwrap_or_default()
});

/// How an `x-rules` entry of kind `message` words the error of a keyword.
#[derive(Debug)]
struct Wording {
    /// The member the error names, relative to the value the keyword
    /// applies to (empty: that value).
    field: String,
    code: String,
    message: String,
}

/// Every `message` wording of the spec, by the keyword's JSON Pointer in the
/// spec (e.g. `/components/schemas/AddressInput/allOf/0/anyOf`).
static WORDINGS: LazyLock<BTreeMap<String, Wording>> = LazyLock::new(|| {
    fn walk(pointer: &str, value: &Value, out: &mut BTreeMap<String, Wording>) {
        match value {
            Value::Object(object) => {
                for rule in object
                    .get("x-rules")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|r| r["kind"] == "message")
                {
                    let text = |key: &str| rule[key].as_str().unwrap_or_default().to_owned();
                    out.insert(
                        format!("{pointer}/{}", text("keyword")),
                        Wording {
                            field: text("field"),
                            code: text("code"),
                            message: text("message"),
                        },
                    );
                }
                for (key, child) in object {
                    if key != "x-rules" {
                        let key = key.replace('~', "~0").replace('/', "~1");
                        walk(&format!("{pointer}/{key}"), child, out);
                    }
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(&format!("{pointer}/{i}"), item, out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    walk("", &ROOT, &mut out);
    out
});

static VALIDATORS: LazyLock<std::sync::Mutex<BTreeMap<String, &'static jsonschema::Validator>>> =
    LazyLock::new(Default::default);

fn rewrite_nullable(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if object.remove("nullable") == Some(Value::Bool(true))
                && let Some(Value::String(ty)) = object.get("type").cloned()
            {
                object.insert("type".into(), Value::from(vec![ty, "null".to_owned()]));
            }
            for child in object.values_mut() {
                rewrite_nullable(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_nullable),
        _ => {}
    }
}

/// The compiled validator of `schema` (a JSON schema in the spec's terms,
/// e.g. `{"$ref": "#/components/schemas/UserPatch"}`), cached by its text.
fn validator(schema: &Value) -> &'static jsonschema::Validator {
    let key = schema.to_string();
    let mut cache = VALIDATORS.lock().expect("validator cache");
    if let Some(found) = cache.get(&key) {
        return found;
    }
    let mut root = match &*ROOT {
        Value::Object(object) => object.clone(),
        _ => Map::new(),
    };
    let mut schema = schema.clone();
    rewrite_nullable(&mut schema);
    if let Value::Object(keywords) = schema {
        root.extend(keywords);
    }
    let compiled = jsonschema::options()
        .should_validate_formats(true)
        .build(&Value::Object(root))
        .expect("the spec's schemas compile");
    let leaked: &'static jsonschema::Validator = Box::leak(Box::new(compiled));
    cache.insert(key, leaked);
    leaked
}

/// Every way `instance` breaks `schema`, plus the `x-rules` of the schemas
/// it passes through, by dotted field path under `prefix`.
pub fn validate(schema: &Value, instance: &Value, prefix: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for error in validator(schema).iter_errors(instance) {
        let path = dotted(prefix, error.instance_path().as_str());
        match WORDINGS.get(error.schema_path().as_str()) {
            Some(wording) => errors.push(FieldError {
                field: join(&path, &wording.field),
                message: wording.message.clone(),
                code: wording.code.clone(),
            }),
            None => errors.extend(describe(&path, error.kind())),
        }
    }
    check_rules(schema, instance, prefix, &mut errors);
    errors.sort_by(|a, b| a.field.cmp(&b.field).then(a.code.cmp(&b.code)));
    errors.dedup_by(|a, b| a.field == b.field && a.code == b.code);
    errors
}

fn dotted(prefix: &str, pointer: &str) -> String {
    let tail = pointer
        .split('/')
        .skip(1)
        .map(|token| token.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".");
    join(prefix, &tail)
}

fn join(prefix: &str, tail: &str) -> String {
    match (prefix.is_empty(), tail.is_empty()) {
        (true, _) => tail.to_owned(),
        (false, true) => prefix.to_owned(),
        (false, false) => format!("{prefix}.{tail}"),
    }
}

fn error(field: String, message: String, code: &str) -> FieldError {
    FieldError {
        field,
        message,
        code: code.to_owned(),
    }
}

fn describe(path: &str, kind: &ValidationErrorKind) -> Vec<FieldError> {
    use ValidationErrorKind as K;
    let one = |message: String, code: &str| vec![error(path.to_owned(), message, code)];
    match kind {
        K::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            vec![error(join(path, name), "is required".into(), "required")]
        }
        K::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|name| {
                if READ_ONLY.contains(name) {
                    error(join(path, name), "is read-only".into(), "read-only")
                } else {
                    error(
                        join(path, name),
                        "is not a known field".into(),
                        "unknown-field",
                    )
                }
            })
            .collect(),
        K::MaxLength { limit } => one(format!("must be at most {limit} characters"), "max-length"),
        K::MinLength { limit } => one(format!("must be at least {limit} characters"), "min-length"),
        K::Pattern { pattern } => one(format!("does not match {pattern}"), "pattern"),
        K::Format { format } => one(format!("is not a valid {format}"), "format"),
        K::Enum { options } => one(format!("must be one of {options}"), "enum"),
        K::Minimum { limit } => one(format!("must be at least {limit}"), "minimum"),
        K::Maximum { limit } => one(format!("must be at most {limit}"), "maximum"),
        K::MaxItems { limit } => one(format!("must have at most {limit} items"), "max-items"),
        K::MinItems { limit } => one(format!("must have at least {limit} items"), "min-items"),
        K::UniqueItems => one("has duplicate items".into(), "unique-items"),
        K::MaxProperties { limit } => one(
            format!("must have at most {limit} members"),
            "max-properties",
        ),
        K::MinProperties { limit } => one(
            format!("must have at least {limit} members"),
            "min-properties",
        ),
        K::Type { kind } => {
            let types: Vec<String> = match kind {
                jsonschema::error::TypeKind::Single(t) => vec![t.to_string()],
                jsonschema::error::TypeKind::Multiple(set) => {
                    set.into_iter().map(|t| t.to_string()).collect()
                }
            };
            one(format!("must be {}", article_list(&types)), "type")
        }
        K::OneOfNotValid { .. } | K::AnyOf { .. } => {
            one("is not any of the allowed kinds of value".into(), "type")
        }
        other => one(format!("is invalid ({other:?})"), "invalid"),
    }
}

/// Evaluates the `x-rules` of every schema `instance` passes through.
fn check_rules(schema: &Value, instance: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let schema = resolve(schema);
    if let Some(Value::Array(all_of)) = schema.get("allOf") {
        for part in all_of {
            check_rules(part, instance, path, errors);
        }
    }
    match instance {
        Value::Object(object) => {
            for rule in schema
                .get("x-rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                apply_rule(rule, object, path, errors);
            }
            let properties = schema.get("properties").and_then(Value::as_object);
            for (name, value) in object {
                // Rules live on objects; a scalar member has none below it.
                if !value.is_object() && !value.is_array() {
                    continue;
                }
                let here = join(path, name);
                match properties.and_then(|p| p.get(name)) {
                    Some(sub) => check_rules(sub, value, &here, errors),
                    None => {
                        if let Some(sub) =
                            schema.get("additionalProperties").filter(|s| s.is_object())
                        {
                            check_rules(sub, value, &here, errors);
                        }
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                for (i, item) in items
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_object() || v.is_array())
                {
                    check_rules(sub, item, &join(path, &i.to_string()), errors);
                }
            }
        }
        _ => {}
    }
}

fn resolve(schema: &Value) -> &Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => resolve(
            ROOT.pointer(reference.trim_start_matches('#'))
                .unwrap_or(&Value::Null),
        ),
        None => schema,
    }
}

fn apply_rule(rule: &Value, object: &Map<String, Value>, path: &str, errors: &mut Vec<FieldError>) {
    let text = |key: &str| rule.get(key).and_then(Value::as_str).unwrap_or_default();
    let field = text("field");
    let message = text("message").to_owned();
    let value = object.get(field).filter(|v| !v.is_null());
    let here = join(path, field);
    match text("kind") {
        "date-not-in-future" => {
            if let Some(Value::String(s)) = value
                && let Ok(date) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                && date > chrono::Utc::now().date_naive()
            {
                errors.push(error(here, message, "date-out-of-range"));
            }
        }
        "property-names" => {
            for name in object.keys() {
                if !regex_matches(text("pattern"), name) {
                    errors.push(error(join(path, name), message.clone(), "property-name"));
                }
            }
        }
        "disjoint" => {
            let mine = value.and_then(Value::as_array);
            for other in rule["others"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                let theirs = object.get(other).and_then(Value::as_array);
                if let (Some(mine), Some(theirs)) = (mine, theirs)
                    && mine.iter().any(|m| theirs.contains(m))
                {
                    errors.push(error(here.clone(), message.clone(), "disjoint"));
                }
            }
        }
        _ => {}
    }
}

/// `a string`, `a string or null`: JSON types in words.
fn article_list(types: &[String]) -> String {
    types
        .iter()
        .map(|t| match t.as_str() {
            "null" => "null".to_owned(),
            t @ ("array" | "integer" | "object") => format!("an {t}"),
            t => format!("a {t}"),
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

fn regex_matches(pattern: &str, text: &str) -> bool {
    // The same regex engine jsonschema uses for `pattern`.
    static CACHE: LazyLock<std::sync::Mutex<BTreeMap<String, Option<fancy_regex::Regex>>>> =
        LazyLock::new(Default::default);
    let mut cache = CACHE.lock().expect("regex cache");
    if !cache.contains_key(pattern) {
        cache.insert(pattern.to_owned(), fancy_regex::Regex::new(pattern).ok());
    }
    cache[pattern]
        .as_ref()
        .is_none_or(|re| re.is_match(text).unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(name: &str) -> Value {
        json!({ "$ref": format!("#/components/schemas/{name}") })
    }

    fn fields(errors: &[FieldError]) -> Vec<(&str, &str)> {
        errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect()
    }

    #[test]
    fn a_valid_patch_passes() {
        let errors = validate(
            &schema("UserPatch"),
            &json!({ "phone": null, "jobTitle": "CTO" }),
            "",
        );
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn every_error_is_reported_at_once_by_dotted_path() {
        let body = json!({
            "name": { "firstName": "A" },
            "address": { "city": "Boston" },
            "email": "nope",
            "resourceVersion": 3,
            "roles": ["ok", "ok"]
        });
        let errors = validate(&schema("UserCreate"), &body, "");
        assert_eq!(
            fields(&errors),
            [
                ("address.countryCode", "required"),
                ("email", "format"),
                ("name.lastName", "required"),
                ("resourceVersion", "read-only"),
                ("roles", "unique-items"),
            ]
        );
    }

    #[test]
    fn rules_from_x_rules_are_checked() {
        let body = json!({
            "name": { "firstName": "A", "lastName": "B" },
            "email": "a@example.com",
            "address": { "countryCode": "US", "zipCode": "1234" },
            "dateOfBirth": "2999-01-01",
            "timeZone": "Mars/Base",
            "customAttributes": { "9lives": true }
        });
        let errors = validate(&schema("UserCreate"), &body, "");
        assert_eq!(
            fields(&errors),
            [
                ("address.state", "required"),
                ("address.zipCode", "pattern"),
                ("customAttributes.9lives", "property-name"),
                ("dateOfBirth", "date-out-of-range"),
                ("timeZone", "lookup"),
            ]
        );
        let patch =
            json!({ "roles": ["a"], "addRoles": ["b"], "addTags": ["x"], "removeTags": ["x"] });
        let errors = validate(&schema("UserPatch"), &patch, "");
        assert_eq!(
            fields(&errors),
            [("removeTags", "disjoint"), ("roles", "exclusive")]
        );
    }
}
