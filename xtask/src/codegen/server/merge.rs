//! Merge patches (RFC 7396) on typed values.
//!
//! A body sent as `application/merge-patch+json` is a document of the same
//! shape as the resource's writable members, each optional: so the stored
//! resource can be read into the patch's own type and the patch merged into
//! it member by member, with no JSON in between. For every object schema a
//! merge-patch body reaches through its members and whose members are all
//! optional, the generator writes `impl runtime::merge::Merge`:
//! - a member the patch leaves out is kept;
//! - a nullable member the patch sets to `null` is removed;
//! - a member whose schema is such an object is merged into the target's
//!   (or into an empty one);
//! - a map (`additionalProperties`, no `properties`) is merged key by key,
//!   a `null` value removing its key;
//! - any other value replaces the target's (an object whose members are all
//!   required among them: the patch sends it whole).

use std::collections::BTreeSet;

use proc_macro2::{Ident, TokenStream};
use quote::quote;
use serde_json::Value;

/// How one member merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MergeKind {
    /// The patch's value replaces the target's.
    Replace,
    /// An object merged member by member (its type implements `Merge`).
    Object,
    /// A map merged key by key; `true` when its values are nullable (a
    /// `null` value removes its key).
    Map(bool),
}

/// The media type whose bodies are merge patches.
pub(super) const MERGE_PATCH: &str = "application/merge-patch+json";

/// The `$ref` target of `schema` (through a one-member `allOf`), by name.
fn referenced(schema: &Value) -> Option<&str> {
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

fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
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
/// send every member; one with both kinds is a codegen error, as replacing
/// it would drop the optional members the patch leaves out.
pub(super) fn merge_schemas(spec: &Value) -> anyhow::Result<BTreeSet<String>> {
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
                anyhow::bail!(
                    "/components/schemas/{nested}: a merge patch reaches this object, whose \
                     members are neither all optional (merged) nor all required (replaced)"
                );
            }
        }
    }
    Ok(out)
}

/// How the member whose schema is `schema` merges.
pub(super) fn merge_kind(spec: &Value, merge: &BTreeSet<String>, schema: &Value) -> MergeKind {
    if referenced(schema).is_some_and(|name| merge.contains(name)) {
        return MergeKind::Object;
    }
    let target = resolve(spec, schema);
    match target.get("additionalProperties") {
        Some(value @ Value::Object(_)) if target.get("properties").is_none() => {
            let value = resolve(spec, value);
            MergeKind::Map(
                value.get("nullable") == Some(&Value::Bool(true))
                    || value.get("x-nullable") == Some(&Value::Bool(true)),
            )
        }
        _ => MergeKind::Replace,
    }
}

/// `impl runtime::merge::Merge` for the struct `ident`, whose members are
/// `(field, nullable, kind)`.
pub(super) fn merge_impl(ident: &Ident, members: &[(Ident, bool, MergeKind)]) -> TokenStream {
    let steps = members.iter().map(|(field, nullable, kind)| {
        let set = match kind {
            MergeKind::Replace => quote!(runtime::merge::replace),
            MergeKind::Object => quote!(runtime::merge::object),
            MergeKind::Map(true) => quote!(runtime::merge::map_removing),
            MergeKind::Map(false) => quote!(runtime::merge::map_setting),
        };
        if *nullable {
            quote!(runtime::merge::nullable(&mut self.#field, patch.#field, #set);)
        } else {
            quote!(if let Some(value) = patch.#field { #set(&mut self.#field, value); })
        }
    });
    quote! {
        impl runtime::merge::Merge for #ident {
            fn merge(&mut self, patch: Self) {
                #(#steps)*
            }
        }
    }
}
