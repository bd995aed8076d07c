//! Shared helpers for the integration tests in `it/`.

use std::path::PathBuf;

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
