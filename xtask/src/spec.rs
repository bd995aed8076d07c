//! Loading `openapi/users.yaml`.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The spec, relative to the project root.
pub(crate) const SPEC_PATH: &str = "openapi/users.yaml";

/// The workspace root (the parent of this crate's manifest directory).
pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the root")
        .to_path_buf()
}

/// The spec as a JSON value (YAML aliases resolved), for checks that walk it
/// generically.
pub(crate) fn load_value(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    // A JSON document is YAML too, but the JSON parser reads it far faster.
    if text.trim_start().starts_with('{')
        && let Ok(value) = serde_json::from_str(&text)
    {
        return Ok(value);
    }
    yaml_serde::from_str(&text).with_context(|| format!("parsing {} as YAML", path.display()))
}

/// The spec parsed by `openapiv3`, the parser progenitor uses.
pub(crate) fn load(path: &Path) -> anyhow::Result<openapiv3::OpenAPI> {
    let value = load_value(path)?;
    serde_json::from_value(value)
        .with_context(|| format!("{} is not an OpenAPI 3.0 document", path.display()))
}

/// An operation's parameters as written: the path item's, then the
/// operation's own (which override a path item's of the same name and
/// location; the caller resolves references and applies that).
pub(crate) fn declared_parameters<'v>(
    item: &'v serde_json::Value,
    op: &'v serde_json::Value,
) -> impl Iterator<Item = &'v serde_json::Value> {
    let list = |holder: &'v serde_json::Value| {
        holder
            .get("parameters")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
    };
    list(item).chain(list(op))
}
