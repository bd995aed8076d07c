//! The server side of the contract: the document `users_api::ApiDoc` builds
//! from its `#[utoipa::path]` annotations and `ToSchema` derives says exactly
//! what `openapi/users.yaml` says, once both are normalized
//! (`users_tests::normalize_document`: operations, parameters, bodies and
//! media types, statuses, headers, security and scopes, schemas with every
//! constraint, nullability unified between 3.0 and 3.1).

use serde_json::Value;
use users_tests::{
    CONSTRAINT_KEYWORDS, count_constraints, normalize_document, schema_differences, spec_text,
    spec_value,
};
use utoipa::OpenApi;

fn api_doc() -> Value {
    serde_json::to_value(users_api::ApiDoc::openapi()).unwrap()
}

fn differences(spec: &Value, doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    schema_differences(
        "",
        &normalize_document(spec),
        &normalize_document(doc),
        &mut out,
    );
    out
}

/// Constraint keywords a request or response of each operation carries,
/// counted straight from the raw spec: its own walk, following `$ref`s, not
/// the normalizer's.
fn independent_constraint_count(spec: &Value) -> usize {
    fn count(spec: &Value, value: &Value) -> usize {
        match value {
            Value::Object(object) => {
                if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
                    return count(
                        spec,
                        spec.pointer(reference.trim_start_matches('#')).unwrap(),
                    );
                }
                object
                    .iter()
                    .filter(|(k, _)| !k.starts_with("x-") && *k != "example" && *k != "examples")
                    .map(|(k, v)| {
                        let own = CONSTRAINT_KEYWORDS.contains(&k.as_str())
                            && !(k == "uniqueItems" && v == &Value::Bool(false));
                        usize::from(own) + count(spec, v)
                    })
                    .sum()
            }
            Value::Array(items) => items.iter().map(|v| count(spec, v)).sum(),
            _ => 0,
        }
    }
    let mut total = 0;
    for item in spec["paths"].as_object().unwrap().values() {
        let shared = count(spec, &item["parameters"]);
        for method in ["get", "put", "post", "delete", "patch"] {
            if let Some(op) = item.get(method) {
                total += shared
                    + count(spec, &op["parameters"])
                    + count(spec, &op["requestBody"])
                    + count(spec, &op["responses"]);
            }
        }
    }
    total
}

#[test]
fn the_served_document_says_what_the_spec_says() {
    let spec = spec_value();
    let doc = api_doc();
    assert_eq!(doc["openapi"], "3.1.0");
    let diff = differences(&spec, &doc);
    assert!(diff.is_empty(), "spec | ApiDoc:\n{diff:#?}");

    // The normalizer drops no constraint.
    let normalized = normalize_document(&spec);
    let independent = independent_constraint_count(&spec);
    assert_eq!(count_constraints(&normalized), independent);
    assert!(independent > 300, "only {independent} constraints");

    insta::assert_yaml_snapshot!("api_contract", normalize_document(&doc));
}

#[test]
fn a_change_to_either_side_alone_is_caught() {
    // The spec changes (a temporary copy), the annotations do not.
    let changed = spec_text().replacen("maxLength: 5000", "maxLength: 4000", 1);
    let changed: Value = yaml_serde::from_str(&changed).unwrap();
    let diff = differences(&changed, &api_doc());
    assert!(
        diff.iter()
            .any(|d| d.contains("description/maxLength: 4000.0 | 5000.0")),
        "{diff:#?}"
    );

    // The annotations change, the spec does not.
    let mut doc = api_doc();
    doc["components"]["schemas"]["UserCreate"]["properties"]["jobTitle"]
        .as_object_mut()
        .unwrap()
        .remove("maxLength");
    let diff = differences(&spec_value(), &doc);
    assert!(
        diff.iter()
            .any(|d| d.contains("jobTitle/maxLength: 75.0 | absent")),
        "{diff:#?}"
    );
}
