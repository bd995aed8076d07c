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

use crate::codegen::three_state::{referenced, resolve};

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
