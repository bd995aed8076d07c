//! Three-state members: what both generators emit for the schemas a merge
//! patch (RFC 7396) is written in, where an optional member has three states
//! a plain `Option` cannot hold. Left out, it is kept (nothing is sent);
//! `null` clears it; a value sets it. One shape, one serde form, for the
//! server's types (utoipa derives) and the SDK's (schemars derives).

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::quote;
use serde_json::Value;

/// A member's Rust type and its serde attribute, from its value type `ty`:
/// a required member is `ty` (`Option<ty>` when nullable); an optional one
/// is `Option<ty>`, skipped when `None`; an optional nullable one is
/// `Option<Option<ty>>`, where `Some(None)` is sent as `null`.
pub(crate) fn member(
    prop: &str,
    ty: &TokenStream,
    required: bool,
    nullable: bool,
) -> (TokenStream, TokenStream) {
    match (required, nullable) {
        (true, false) => (quote!(#ty), quote!(#[serde(rename = #prop)])),
        (true, true) => (quote!(Option<#ty>), quote!(#[serde(rename = #prop)])),
        (false, false) => (
            quote!(Option<#ty>),
            quote!(#[serde(rename = #prop, default, skip_serializing_if = "Option::is_none")]),
        ),
        (false, true) => (
            quote!(Option<Option<#ty>>),
            quote!(#[serde(rename = #prop, default, skip_serializing_if = "Option::is_none", with = "::serde_with::rust::double_option")]),
        ),
    }
}

/// The media type whose bodies are merge patches.
pub(crate) const MERGE_PATCH: &str = "application/merge-patch+json";

/// The `$ref` target of `schema` (through a one-member `allOf`), by name.
pub(crate) fn referenced(schema: &Value) -> Option<&str> {
    if let Some(Value::Array(all_of)) = schema.get("allOf")
        && all_of.len() == 1
    {
        return referenced(&all_of[0]);
    }
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
}

pub(crate) fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match referenced(schema) {
        Some(name) => &spec["components"]["schemas"][name],
        None => schema,
    }
}

/// Whether `schema` is an object whose members are all optional.
fn all_optional_object(schema: &Value) -> bool {
    schema.get("properties").is_some_and(Value::is_object)
        && schema
            .get("required")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
}

/// The component schemas that get `impl Merge`: the bodies of operations
/// that take a merge patch, and the all-optional objects they reach through
/// their members. An object member whose members are all required is
/// replaced whole, which is what RFC 7396's merge gives when the patch must
/// send every member; one with both kinds is named with why beside them, as
/// replacing it would drop the optional members the patch leaves out (the
/// server generator leaves it out, and what reaches it).
pub(crate) fn merge_schemas(spec: &Value) -> (BTreeSet<String>, Vec<(String, String)>) {
    let mut conflicts = Vec::new();
    let mut out = BTreeSet::new();
    let mut todo: Vec<String> = Vec::new();
    for item in spec["paths"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
    {
        for op in item.as_object().into_iter().flat_map(|o| o.values()) {
            if let Some(name) = referenced(&op["requestBody"]["content"][MERGE_PATCH]["schema"]) {
                todo.push(name.to_owned());
            }
        }
    }
    while let Some(name) = todo.pop() {
        let schema = &spec["components"]["schemas"][&name];
        if !all_optional_object(schema) || !out.insert(name) {
            continue;
        }
        for member in schema["properties"]
            .as_object()
            .into_iter()
            .flat_map(|p| p.values())
        {
            let Some(nested) = referenced(member) else {
                continue;
            };
            let target = &spec["components"]["schemas"][nested];
            if all_optional_object(target) {
                todo.push(nested.to_owned());
            } else if let (Some(Value::Object(properties)), Some(Value::Array(required))) =
                (target.get("properties"), target.get("required"))
                && properties.len() > required.len()
            {
                conflicts.push((
                    nested.to_owned(),
                    "a merge patch reaches this object, whose members are neither all \
                     optional (merged) nor all required (replaced)"
                        .to_owned(),
                ));
            }
        }
    }
    (out, conflicts)
}
