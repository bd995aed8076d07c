//! The server-stub generator: `openapi/users.yaml` to `crates/users-api/src/generated.rs`.
//!
//! It writes, from the spec alone:
//! - a type for every object, enum and `oneOf` / `anyOf` schema, with serde and
//!   `utoipa::ToSchema`, the spec's descriptions, examples, formats,
//!   constraints and nullability as `#[schema(...)]` attributes (scalar and
//!   array components are inlined where they are used, as their constraints
//!   are);
//! - per operation: `IntoParams` structs for path, query and header
//!   parameters, a request struct, two enums with one variant per documented
//!   status (with its headers) implementing `IntoResponse` (the answers below
//!   400, and the errors, built from a `runtime::Refused` of a documented
//!   status), and a free handler function annotated with `#[utoipa::path]`;
//! - the API trait (named after `info.title`: `UsersApi`), the `router` and the `ApiDoc` derive;
//! - `OPERATIONS`, the table the hand-written runtime validates requests with.
//!
//! utoipa cannot say some things with attributes: a map's `maxProperties` and
//! the members of a `oneOf` / `anyOf`, and the `allOf` / `anyOf` / `not` that
//! relate an object's members. For those the generator writes a `schema_with`
//! function or a `PartialSchema` impl built from the same spec data.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, bail};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};
use serde_json::Value;

mod decode;
mod merge;

use super::model::{self, Location, MediaKind, Status};
use super::naming::{const_ident, field_ident, ident, pascal, snake, status_name};

/// The string formats the decoders check or leave as annotations: what the
/// project's own spec may use.
#[cfg(test)]
pub(crate) fn known_formats() -> impl Iterator<Item = &'static str> {
    decode::CHECKED_FORMATS
        .into_iter()
        .map(|(name, _)| name)
        .chain(decode::ANNOTATION_FORMATS)
}

/// What a spec's entry in `openapi/codegen.toml` tells the server
/// generator.
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    /// The trait's name, in place of the one from `info.title`.
    pub(crate) trait_name: Option<String>,
    /// The API's own error body, in place of a problem document.
    pub(crate) error: Option<super::config::ErrorType>,
}

impl Options {
    pub(crate) fn of(target: &super::config::Target) -> Self {
        Self {
            trait_name: target.trait_name.clone(),
            error: target.error.clone(),
        }
    }
}

/// The generated file's contents.
pub(crate) fn generate(
    source: &Value,
    options: &Options,
) -> anyhow::Result<(String, Vec<super::Refusal>)> {
    let lifted = super::lift::lift(source);
    let spec = &lifted;
    let (mut operations, mut refusals) = operations(spec)?;
    let api = match &options.trait_name {
        Some(name) => ident(name),
        None => super::model::trait_name(spec),
    };
    let schemas = spec["components"]["schemas"]
        .as_object()
        .context("components/schemas")?;
    // The component schemas a body names directly: each gets a type, a
    // newtype when it is an array or a scalar.
    let bodies: BTreeSet<&str> = operations
        .iter()
        .flat_map(|op| {
            op.body
                .iter()
                .flat_map(Body::named)
                .chain(op.responses.iter().filter_map(|r| match &r.body {
                    Some(ResponseBody::Json { schema, .. }) => schema.as_deref(),
                    _ => None,
                }))
        })
        .collect();
    // A schema the generator cannot type is left out, and so is every
    // schema that refers to it, until what is left generates.
    let mut refused: BTreeMap<String, String> = BTreeMap::new();
    // An object a merge patch reaches that it can neither merge nor
    // replace is left out, and so is every patch that reaches it.
    let (merge_schemas, conflicts) = super::three_state::merge_schemas(spec);
    for (name, reason) in conflicts {
        refused.insert(
            name.clone(),
            format!("/components/schemas/{name}: {reason}"),
        );
    }
    let (mut generator, types) = loop {
        let mut generator = Gen {
            spec,
            api: api.clone(),
            items: Vec::new(),
            emitted: BTreeSet::new(),
            header_types: Vec::new(),
            compositions: Vec::new(),
            request_schemas: decode::request_schemas(spec)?,
            merge_schemas: merge_schemas.clone(),
            member_names: BTreeMap::new(),
            patterns: BTreeMap::new(),
            labels: 0,
            journal: Vec::new(),
            refused: refused.keys().cloned().collect(),
            error: options.error.clone(),
        };
        let mut newly = Vec::new();
        for (name, schema) in schemas {
            if refused.contains_key(name) {
                continue;
            }
            let saved = generator.savepoint();
            // Types are named as their schemas: a name that is not a Rust
            // identifier (`200Result`, `System.Object`) is left out.
            let result = if syn::parse_str::<syn::Ident>(name).is_err() {
                Err(anyhow::anyhow!(
                    "its name is not a Rust identifier, which the server generator names its type"
                ))
            } else if is_named(schema) {
                generator.named_type(name, schema)
            } else if bodies.contains(name.as_str()) {
                generator.newtype(name, schema)
            } else {
                // Inlined where it is used: only checked here.
                let ptr = format!("/components/schemas/{}", decode::escape(name));
                let checked = generator.savepoint();
                let result = generator.field_type(schema, name, &ptr).map(drop);
                generator.roll_back(checked);
                result
            };
            if let Err(err) = result {
                generator.roll_back(saved);
                newly.push((name.clone(), format!("{err:#}")));
            }
        }
        if newly.is_empty() {
            let types = std::mem::take(&mut generator.items);
            break (generator, types);
        }
        refused.extend(newly);
    };
    for (name, reason) in &refused {
        refusals.push(super::Refusal {
            pointer: format!("/components/schemas/{}", decode::escape(name)),
            reason: reason.clone(),
        });
    }
    let mut op_items = Vec::new();
    let mut kept = Vec::new();
    for op in operations.drain(..) {
        let saved = generator.savepoint();
        let named = op
            .body
            .iter()
            .flat_map(Body::named)
            .chain(
                op.responses
                    .iter()
                    .flat_map(|r| r.body.iter().flat_map(ResponseBody::named)),
            )
            .find(|name| refused.contains_key(*name) || !schemas.contains_key(*name));
        let pascal_id = op.model.names.pascal.clone();
        let clash = super::lift::OPERATION_TYPES
            .iter()
            .map(|suffix| format!("{pascal_id}{suffix}"))
            .find(|own| schemas.contains_key(own) || generator.emitted.contains(own));
        let result = match (named, clash) {
            (Some(name), _) => Err(anyhow::anyhow!("its body schema {name} is left out")),
            (None, Some(own)) => Err(anyhow::anyhow!(
                "its generated type {own} would have the name of a schema"
            )),
            (None, None) => generator.operation(&op),
        };
        match result {
            Ok(tokens) => {
                op_items.push(tokens);
                kept.push(op);
            }
            Err(err) => {
                generator.roll_back(saved);
                refusals.push(super::Refusal {
                    pointer: op.model.at.clone(),
                    reason: format!("{err:#}"),
                });
            }
        }
    }
    let operations = kept;
    let inline_types = std::mem::take(&mut generator.items);
    let title = spec["info"]["title"].as_str().unwrap_or_default();
    let router = router(&operations, &api, options.error.as_ref())?;
    let api = api_trait(&operations, &api, title);
    let table = table(&operations);
    let doc = api_doc(
        spec,
        &operations,
        &generator.header_types,
        &generator.compositions,
    )?;
    let read_only = decode::read_only_members(spec);
    let member_names = generator.member_names.values();
    let patterns = generator.patterns.iter().map(|(pattern, (ident, fancy))| {
        let doc = format!("`{pattern}`");
        if *fancy {
            quote! {
                #[doc = #doc]
                pub(crate) static #ident: LazyLock<crate::runtime::decode::LookaroundPattern> =
                    LazyLock::new(|| crate::runtime::decode::LookaroundPattern::new(#pattern));
            }
        } else {
            quote! {
                #[doc = #doc]
                pub(crate) static #ident: LazyLock<regex::Regex> =
                    LazyLock::new(|| regex::Regex::new(#pattern).expect("checked by the generator"));
            }
        }
    });
    let tokens = quote! {
        #![allow(clippy::all, missing_docs, unused_imports, non_camel_case_types)]
        use std::sync::Arc;
        use axum::response::{IntoResponse, Response};
        use serde::{Deserialize, Serialize};
        use serde_json::json;
        use crate::runtime;

        /// The types of the spec's schemas, with a decoder for each type a
        /// request uses.
        pub mod types {
            use serde::{Deserialize, Serialize};
            use serde_json::json;
            use crate::runtime;
            #(#types)*
            #(#inline_types)*
        }
        use types::*;

        /// The JSON name of every member of every object type and parameter
        /// struct, as constants (`names::user::ACTIVATED_AT`): code that must
        /// name a member in JSON names it through these, and a member the
        /// spec renames or drops fails to compile there.
        pub mod names {
            #(#member_names)*
        }

        /// Every member name the spec marks read-only somewhere: a request
        /// that sends one hears `read-only` rather than `unknown-field`.
        pub const READ_ONLY_MEMBERS: &[&str] = &[#(#read_only),*];

        /// The `pattern`s of the spec, each compiled once. (A pattern of a
        /// schema only responses use may have no decoder to check it.)
        #[allow(dead_code)]
        pub(crate) mod patterns {
            use std::sync::LazyLock;
            #(#patterns)*
        }

        #(#op_items)*
        #api
        #router
        #table
        #doc
    };
    Ok((super::format_rust(tokens)?, refusals))
}

/// Whether the component `from` holds the component `to` directly: as a
/// member, or as a member of a member it holds, and so on (an array or a
/// map of it is on the heap and does not count).
fn holds(spec: &Value, from: &str, to: &str) -> bool {
    let schemas = &spec["components"]["schemas"];
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_owned()];
    while let Some(name) = todo.pop() {
        if name == to {
            return true;
        }
        if !seen.insert(name.clone()) {
            continue;
        }
        for member in schemas[&name]["properties"]
            .as_object()
            .into_iter()
            .flat_map(|p| p.values())
        {
            if let Some(next) = super::three_state::referenced(member) {
                todo.push(next.to_owned());
            }
        }
    }
    false
}

/// The keyword of a scalar union schema (`oneOf` or `anyOf` without
/// properties), if it is one.
fn union_keyword(schema: &Value) -> Option<&'static str> {
    if schema.get("properties").is_some() {
        return None;
    }
    ["oneOf", "anyOf"]
        .into_iter()
        .find(|k| schema.get(*k).is_some())
}

/// Whether a schema becomes a Rust type of its own (rather than being inlined).
fn is_named(schema: &Value) -> bool {
    schema.get("properties").is_some()
        || schema.get("enum").is_some()
        || union_keyword(schema).is_some()
}

/// What [`Gen::roll_back`] needs to undo what was generated after it.
struct Savepoint {
    items: usize,
    header_types: usize,
    compositions: usize,
    journal: usize,
    labels: usize,
}

/// A key a generator added to one of its sets, undone by a roll-back.
enum Undo {
    Emitted(String),
    MemberNames(String),
    Pattern(String),
}

struct Gen<'a> {
    spec: &'a Value,
    /// The API's own error body, answered as problems are.
    error: Option<super::config::ErrorType>,
    /// The trait an implementation implements (`UsersApi`).
    api: Ident,
    /// Component schemas left out: a reference to one is an error.
    refused: BTreeSet<String>,
    items: Vec<TokenStream>,
    emitted: BTreeSet<String>,
    /// Types that document response headers; utoipa refers to them, so the
    /// document must list them as components.
    header_types: Vec<String>,
    /// Object schemas with `allOf`, `anyOf` or `not` beside their properties
    /// (rules relating members), by name: utoipa's derive cannot state them,
    /// so the document gets them from a generated modifier.
    compositions: Vec<(String, serde_json::Map<String, Value>)>,
    /// Component schemas a request body or parameter reaches: each object
    /// among them gets a generated decoder.
    request_schemas: BTreeSet<String>,
    /// The schemas merge patches are applied to as typed values.
    merge_schemas: BTreeSet<String>,
    /// A module of member-name constants per object type, by module name.
    member_names: BTreeMap<String, TokenStream>,
    /// The `pattern`s the decoders use, each compiled once, by text: its
    /// static, and whether it needs `fancy-regex` (look-around).
    patterns: BTreeMap<String, (Ident, bool)>,
    /// A counter for the labels of generated check blocks.
    labels: usize,
    /// The keys added to `emitted`, `member_names` and `patterns`, in
    /// order: a savepoint is its length, so taking one costs nothing
    /// however many types a big spec has.
    journal: Vec<Undo>,
}

/// Keywords an object schema may carry beside `properties` to relate its
/// members; each must be stated in the served document too.
const COMPOSITION_KEYWORDS: [&str; 3] = ["allOf", "anyOf", "not"];

/// A field's Rust type, its `#[schema]` arguments and how it is decoded.
struct FieldType {
    ty: TokenStream,
    attrs: Vec<TokenStream>,
    nullable: bool,
    /// An expression of type `Option<ty>` decoding `raw` (a non-null
    /// `&RawValue`) at `path` into `errors`.
    decode: TokenStream,
    /// The same from a parameter's text (`text: &str`), for scalars.
    text: Option<TokenStream>,
    /// What a composition predicate may ask of the value.
    kind: decode::ValueKind,
}

impl Gen<'_> {
    /// A point to return to when what follows is left out. Only the sets
    /// are copied; what grows is cut back to its length.
    fn savepoint(&self) -> Savepoint {
        Savepoint {
            items: self.items.len(),
            header_types: self.header_types.len(),
            compositions: self.compositions.len(),
            journal: self.journal.len(),
            labels: self.labels,
        }
    }

    /// Records the type `name` as emitted; whether it was not yet.
    fn emit(&mut self, name: &str) -> bool {
        let new = self.emitted.insert(name.to_owned());
        if new {
            self.journal.push(Undo::Emitted(name.to_owned()));
        }
        new
    }

    /// Forgets everything generated since `point`.
    fn roll_back(&mut self, point: Savepoint) {
        self.items.truncate(point.items);
        self.header_types.truncate(point.header_types);
        self.compositions.truncate(point.compositions);
        for undo in self.journal.drain(point.journal..).rev() {
            match undo {
                Undo::Emitted(name) => {
                    self.emitted.remove(&name);
                }
                Undo::MemberNames(module) => {
                    self.member_names.remove(&module);
                }
                Undo::Pattern(pattern) => {
                    self.patterns.remove(&pattern);
                }
            }
        }
        self.labels = point.labels;
    }

    /// The schema a `$ref` points at (cloned, so the generator stays free to
    /// record new items) and the component's name.
    fn resolve(&self, schema: &Value) -> (Value, Option<String>) {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let name = reference.rsplit('/').next().unwrap().to_owned();
            let target = self
                .spec
                .pointer(reference.trim_start_matches('#'))
                .expect("refs resolve");
            return (target.clone(), Some(name));
        }
        (schema.clone(), None)
    }

    /// The type of a property or parameter schema; `hint` names inline
    /// enums, `ptr` is the schema's JSON Pointer (for errors).
    fn field_type(&mut self, schema: &Value, hint: &str, ptr: &str) -> anyhow::Result<FieldType> {
        if let Some(Value::Array(all_of)) = schema.get("allOf")
            && all_of.len() == 1
        {
            return self.field_type(&all_of[0], hint, &format!("{ptr}/allOf/0"));
        }
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let Some(name) = reference.strip_prefix("#/components/schemas/") else {
                bail!("{ptr}: {reference} is not a component schema");
            };
            if self.refused.contains(name) {
                bail!("{ptr}: it refers to {name}, which is left out");
            }
            if syn::parse_str::<syn::Ident>(name).is_err() {
                bail!("{ptr}: it refers to {name}, whose name is not a Rust identifier");
            }
            if self.spec.pointer(&reference[1..]).is_none() {
                bail!("{ptr}: {reference} does not resolve");
            }
        }
        let (target, name) = self.resolve(schema);
        let target = &target;
        let nullable = target.get("nullable") == Some(&Value::Bool(true));
        if let Some(name) = name {
            let ptr = format!("/components/schemas/{name}");
            if is_named(target) {
                decode::check_keywords(target, &ptr)?;
                let ident = format_ident!("{}", name);
                let is_enum = target.get("enum").is_some();
                return Ok(FieldType {
                    ty: quote!(#ident),
                    attrs: Vec::new(),
                    nullable,
                    decode: quote!(<#ident as runtime::decode::Decode>::decode(raw, path, errors)),
                    text: is_enum.then(|| quote!(#ident::decode_text(text, path, errors))),
                    kind: if is_enum {
                        decode::ValueKind::Enum
                    } else {
                        decode::ValueKind::Other
                    },
                });
            }
            return self.field_type(target, hint, &ptr);
        }
        if union_keyword(target).is_some() {
            // An inline union (a member that is a string or an object):
            // a type of its own, named by the hint.
            return self.map_value_type(target, hint, ptr);
        }
        decode::check_keywords(target, ptr)?;
        let mut attrs = constraint_attrs(target);
        let mut kind = decode::ValueKind::Other;
        let mut text = None;
        let (ty, decode) = match target.get("type").and_then(Value::as_str) {
            Some("string" | "integer") if target.get("enum").is_some() => {
                let ident = format_ident!("{}", hint);
                self.enum_type(hint, target)?;
                attrs.clear();
                if target["type"] == "string" {
                    kind = decode::ValueKind::Enum;
                }
                text = Some(quote!(#ident::decode_text(text, path, errors)));
                (
                    quote!(#ident),
                    quote!(<#ident as runtime::decode::Decode>::decode(raw, path, errors)),
                )
            }
            Some("string") => {
                let ty = match target.get("format").and_then(Value::as_str) {
                    Some("date") => {
                        kind = decode::ValueKind::Date;
                        quote!(chrono::NaiveDate)
                    }
                    Some("date-time") => quote!(chrono::DateTime<chrono::Utc>),
                    Some("uuid") => quote!(uuid::Uuid),
                    Some(format) => {
                        attrs.push(quote!(format = #format));
                        kind = decode::ValueKind::Str;
                        quote!(String)
                    }
                    None => {
                        kind = decode::ValueKind::Str;
                        quote!(String)
                    }
                };
                text = Some(self.scalar_decode(target, ptr, nullable, decode::Source::Text)?);
                (
                    ty,
                    self.scalar_decode(target, ptr, nullable, decode::Source::Json)?,
                )
            }
            Some("integer" | "number" | "boolean") => {
                let ty = match (
                    target["type"].as_str(),
                    target.get("format").and_then(Value::as_str),
                ) {
                    (Some("integer"), Some("int64")) => quote!(i64),
                    (Some("integer"), _) => quote!(i32),
                    (Some("number"), _) => quote!(f64),
                    _ => quote!(bool),
                };
                text = Some(self.scalar_decode(target, ptr, nullable, decode::Source::Text)?);
                (
                    ty,
                    self.scalar_decode(target, ptr, nullable, decode::Source::Json)?,
                )
            }
            Some("array") => {
                let item = self.field_type(
                    &target["items"],
                    &format!("{hint}Item"),
                    &format!("{ptr}/items"),
                )?;
                attrs.extend(item.attrs.iter().cloned());
                let item_ty = &item.ty;
                // A set needs items with an order: strings, integers,
                // booleans, enums, dates, identifiers. Other unique items
                // (objects, arrays, numbers) stay a list, checked as JSON.
                let set = decode::unique_as_set(target, &item);
                let ty = if set {
                    kind = decode::ValueKind::Set;
                    quote!(std::collections::BTreeSet<#item_ty>)
                } else {
                    kind = decode::ValueKind::Set;
                    quote!(Vec<#item_ty>)
                };
                let decode = self.array_decode(target, nullable, &item)?;
                (ty, decode)
            }
            Some("object") if target.get("properties").is_none() => {
                match target.get("additionalProperties") {
                    Some(Value::Bool(true)) | None => {
                        attrs.clear();
                        let message = decode::type_message("object", nullable);
                        (
                            quote!(serde_json::Map<String, serde_json::Value>),
                            quote! {
                                match runtime::decode::kind(raw) {
                                    runtime::decode::Kind::Object => match raw.to_value() {
                                        serde_json::Value::Object(map) => Some(map),
                                        _ => None,
                                    },
                                    _ => { errors.push(path, "type", #message); None }
                                }
                            },
                        )
                    }
                    Some(values) => {
                        let value = self.map_value_type(
                            values,
                            &format!("{hint}Value"),
                            &format!("{ptr}/additionalProperties"),
                        )?;
                        let value_ty = if value.nullable {
                            let ty = &value.ty;
                            quote!(Option<#ty>)
                        } else {
                            value.ty.clone()
                        };
                        let map_ty = quote!(std::collections::BTreeMap<String, #value_ty>);
                        // utoipa has no attribute for maxProperties on a field.
                        let fn_name = format_ident!("{}_schema", snake(hint));
                        let max = target.get("maxProperties").and_then(Value::as_u64);
                        let max = max
                            .map(|m| m as usize)
                            .map(|m| quote!(.max_properties(Some(#m))));
                        // A nullable member type already says so in its own schema.
                        let plain_ty = &value.ty;
                        // A free-form object (a JSON map) has no schema of
                        // its own in utoipa: it is an object.
                        let value_schema = if plain_ty.to_string()
                            == quote!(serde_json::Map<String, serde_json::Value>).to_string()
                        {
                            quote!(utoipa::openapi::RefOr::T(
                                utoipa::openapi::schema::Schema::Object(
                                    utoipa::openapi::schema::ObjectBuilder::new()
                                        .schema_type(utoipa::openapi::schema::Type::Object)
                                        .build()
                                )
                            ))
                        } else {
                            quote!(<#plain_ty as utoipa::PartialSchema>::schema())
                        };
                        let object_type = if nullable {
                            quote!(utoipa::openapi::schema::SchemaType::from_iter([
                                utoipa::openapi::schema::Type::Object,
                                utoipa::openapi::schema::Type::Null,
                            ]))
                        } else {
                            quote!(utoipa::openapi::schema::Type::Object)
                        };
                        self.items.push(quote! {
                            pub(crate) fn #fn_name() -> utoipa::openapi::schema::Object {
                                utoipa::openapi::schema::ObjectBuilder::new()
                                    .schema_type(#object_type)
                                    .additional_properties(Some(#value_schema))
                                    #max
                                    .build()
                            }
                        });
                        attrs = vec![quote!(schema_with = #fn_name)];
                        let decode = self.map_decode(target, ptr, nullable, &value)?;
                        (map_ty, decode)
                    }
                }
            }
            // No type and nothing else that constrains: any JSON value.
            None if target.as_object().is_some_and(|schema| {
                schema.keys().all(|key| {
                    matches!(
                        key.as_str(),
                        "description"
                            | "title"
                            | "example"
                            | "examples"
                            | "default"
                            | "nullable"
                            | "externalDocs"
                            | "xml"
                            | "readOnly"
                            | "writeOnly"
                            | "deprecated"
                    ) || (key.starts_with("x-") && !key.starts_with("x-rule"))
                })
            }) =>
            {
                (
                    quote!(serde_json::Value),
                    quote!({
                        let _ = errors;
                        Some(raw.to_value())
                    }),
                )
            }
            other => bail!("{ptr}: no Rust type for {hint}: type {other:?}"),
        };
        Ok(FieldType {
            ty,
            attrs,
            nullable,
            decode,
            text,
            kind,
        })
    }

    fn map_value_type(
        &mut self,
        schema: &Value,
        hint: &str,
        ptr: &str,
    ) -> anyhow::Result<FieldType> {
        let (target, name) = self.resolve(schema);
        if union_keyword(&target).is_some() {
            let type_name = name.clone().unwrap_or_else(|| hint.to_owned());
            let ptr = name.map_or_else(|| ptr.to_owned(), |n| format!("/components/schemas/{n}"));
            decode::check_keywords(&target, &ptr)?;
            let nullable = self.one_of_type(&type_name, &target, &ptr)?
                || target.get("nullable") == Some(&Value::Bool(true));
            let ident = format_ident!("{}", type_name);
            return Ok(FieldType {
                ty: quote!(#ident),
                attrs: Vec::new(),
                nullable,
                decode: quote!(<#ident as runtime::decode::Decode>::decode(raw, path, errors)),
                text: None,
                kind: decode::ValueKind::Other,
            });
        }
        self.field_type(schema, hint, ptr)
    }

    /// A newtype for an array or scalar component schema a body names:
    /// `pub struct Pets(pub Vec<Pet>)`, transparent to serde.
    fn newtype(&mut self, name: &str, schema: &Value) -> anyhow::Result<()> {
        let ptr = format!("/components/schemas/{}", decode::escape(name));
        let field = self.field_type(schema, name, &ptr)?;
        let ident = format_ident!("{}", name);
        let ty = &field.ty;
        let decode = &field.decode;
        let docs = doc_comment(schema);
        let message =
            decode::type_message(schema["type"].as_str().unwrap_or("value"), field.nullable);
        let (ty, decode) = if field.nullable {
            (quote!(Option<#ty>), decode::nullable_wrap(&field))
        } else {
            (
                quote!(#ty),
                quote! {
                    if runtime::decode::is_null(raw) {
                        errors.push(path, "type", #message);
                        None
                    } else {
                        #decode
                    }
                },
            )
        };
        let decodes = self.request_schemas.contains(name);
        // A scalar's schema is written out, constraints and format
        // included (utoipa's derive gives a newtype its Rust type's schema:
        // a `format: binary` string limited to 2 MiB would be any string).
        let scalar = matches!(
            schema["type"].as_str(),
            Some("string" | "integer" | "number" | "boolean")
        ) && schema.get("enum").is_none();
        if scalar {
            let built = scalar_schema(schema)?;
            let description = schema["description"]
                .as_str()
                .map(|d| quote!(.description(Some(#d))));
            self.items.push(quote! {
                #docs
                #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
                #[serde(transparent)]
                pub struct #ident(pub #ty);
                impl utoipa::PartialSchema for #ident {
                    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                        #built #description .into()
                    }
                }
                impl utoipa::ToSchema for #ident {}
            });
        } else {
            self.items.push(quote! {
                #docs
                #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
                #[serde(transparent)]
                pub struct #ident(pub #ty);
            });
        }
        if !decodes {
            return Ok(());
        }
        self.items.push(quote! {
            impl runtime::decode::Decode for #ident {
                fn decode(
                    raw: &runtime::decode::Json<'_>,
                    path: &runtime::decode::Path<'_>,
                    errors: &mut runtime::decode::Errors,
                ) -> Option<Self> {
                    (#decode).map(Self)
                }
            }
        });
        Ok(())
    }

    /// A struct, enum or `oneOf` type for a component schema.
    fn named_type(&mut self, name: &str, schema: &Value) -> anyhow::Result<()> {
        let ptr = format!("/components/schemas/{name}");
        if union_keyword(schema).is_some() {
            self.one_of_type(name, schema, &ptr)?;
            return Ok(());
        }
        if schema.get("enum").is_some() {
            return self.enum_type(name, schema);
        }
        if !self.emit(name) {
            return Ok(());
        }
        let decodes = self.request_schemas.contains(name);
        if decodes {
            decode::check_keywords(schema, &ptr)?;
        }
        let ident = format_ident!("{}", name);
        let required: BTreeSet<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut fields = Vec::new();
        let mut members = Vec::new();
        let mut merges = Vec::new();
        for (prop, prop_schema) in schema["properties"].as_object().unwrap() {
            let mut field = self.field_type(
                prop_schema,
                &format!("{name}{}", pascal(prop)),
                &format!("{ptr}/properties/{}", decode::escape(prop)),
            )?;
            // A member whose type holds this one again (`ListMatcher` holds a
            // `ValueMatcher`, which holds a `ListMatcher`) is boxed: a type
            // cannot hold itself without indirection.
            if let Some(target) = super::three_state::referenced(prop_schema)
                && holds(self.spec, target, name)
            {
                let (ty, decode) = (&field.ty, &field.decode);
                field.ty = quote!(Box<#ty>);
                field.decode = quote!((#decode).map(Box::new));
            }
            merges.push((
                field_ident(prop),
                field.nullable,
                merge::merge_kind(self.spec, &self.merge_schemas, prop_schema),
            ));
            members.push(decode::Member {
                name: prop.clone(),
                ident: field_ident(prop),
                ty: field.ty.clone(),
                required: required.contains(prop.as_str()),
                nullable: field.nullable,
                kind: field.kind,
                decode: field.decode.clone(),
            });
            fields.push(field_tokens(
                prop,
                prop_schema,
                field,
                required.contains(prop.as_str()),
            ));
        }
        let composition: serde_json::Map<String, Value> = COMPOSITION_KEYWORDS
            .iter()
            .filter_map(|k| schema.get(*k).map(|v| ((*k).to_owned(), v.clone())))
            .collect();
        if !composition.is_empty() {
            self.compositions.push((name.to_owned(), composition));
        }
        let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
        let deny = closed.then(|| quote!(#[serde(deny_unknown_fields)]));
        let mut container = Vec::new();
        if let Some(n) = schema.get("minProperties").and_then(Value::as_u64) {
            let n = n as usize;
            container.push(quote!(min_properties = #n));
        }
        if let Some(example) = schema.get("example") {
            let example = json_tokens(example);
            container.push(quote!(example = json!(#example)));
        }
        let container = (!container.is_empty()).then(|| quote!(#[schema(#(#container),*)]));
        let docs = doc_comment(schema);
        let merges_into = self.merge_schemas.contains(name);
        // A merge patch's type is also the document it merges into, which
        // starts empty.
        let default = merges_into.then(|| quote!(Default,));
        self.items.push(quote! {
            #docs
            #[derive(Debug, Clone, PartialEq, #default Serialize, Deserialize, utoipa::ToSchema)]
            #deny
            #container
            pub struct #ident {
                #(#fields)*
            }
        });
        if merges_into {
            self.items.push(merge::merge_impl(&ident, &merges));
        }
        let names = members.iter().map(|m| &m.name);
        let privileged = members
            .iter()
            .filter(|m| schema["properties"][&m.name]["x-privileged"] == Value::Bool(true))
            .map(|m| &m.name);
        let nullable = members.iter().filter(|m| m.nullable).map(|m| &m.name);
        self.items.push(quote! {
            impl #ident {
                /// Every member the schema declares, in its order.
                pub const MEMBERS: &'static [&'static str] = &[#(#names),*];
                /// The members marked `x-privileged`.
                pub const PRIVILEGED_MEMBERS: &'static [&'static str] = &[#(#privileged),*];
                /// The members that may be `null`.
                pub const NULLABLE_MEMBERS: &'static [&'static str] = &[#(#nullable),*];
            }
        });
        self.member_names(name, members.iter().map(|m| m.name.as_str()))?;
        if decodes {
            let decoder = self.struct_decode(name, schema, &ptr, &members)?;
            self.items.push(decoder);
        }
        Ok(())
    }

    /// `names::<type>`: the JSON name of each member of the type `name` as a
    /// constant, so that code which must name a member in JSON (a stored
    /// document, a field error) names it through the spec.
    fn member_names<'n>(
        &mut self,
        name: &str,
        members: impl Iterator<Item = &'n str>,
    ) -> anyhow::Result<()> {
        let module = snake(name);
        let mut consts = BTreeMap::new();
        for member in members {
            let ident = const_ident(member);
            if let Some(other) = consts.insert(ident.to_string(), member) {
                bail!("{name}: members {other:?} and {member:?} are both named {ident}");
            }
        }
        let consts = consts.iter().map(|(ident, member)| {
            let ident = format_ident!("{}", ident);
            let doc = format!("`{member}`");
            quote!(#[doc = #doc] pub const #ident: &str = #member;)
        });
        let doc = format!("The JSON names of `{name}`'s members.");
        let module_ident = ident(&module);
        let tokens = quote! {
            #[doc = #doc]
            pub mod #module_ident { #(#consts)* }
        };
        match self.member_names.entry(module.clone()) {
            std::collections::btree_map::Entry::Occupied(_) => {
                bail!("{name}: another type's member names are already in names::{module}");
            }
            std::collections::btree_map::Entry::Vacant(vacant) => {
                vacant.insert(tokens);
                self.journal.push(Undo::MemberNames(module));
            }
        }
        Ok(())
    }

    fn enum_type(&mut self, name: &str, schema: &Value) -> anyhow::Result<()> {
        if !self.emit(name) {
            return Ok(());
        }
        let ident = format_ident!("{}", name);
        let values: Vec<&Value> = schema["enum"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| !v.is_null())
            .collect();
        let docs = doc_comment(schema);
        if schema["type"] == "integer" {
            if let Some(odd) = values.iter().find(|v| v.as_i64().is_none()) {
                bail!("/components/schemas/{name}: the integer enum lists {odd}");
            }
            let variants = values.iter().map(|v| {
                let n = v.as_i64().unwrap_or_default() as i32;
                let variant = format_ident!("V{}", n as u32);
                quote!(#variant = #n,)
            });
            self.items.push(quote! {
                #docs
                #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde_repr::Serialize_repr, serde_repr::Deserialize_repr, utoipa::ToSchema)]
                #[repr(i32)]
                pub enum #ident { #(#variants)* }
            });
            let numbers: Vec<i64> = values.iter().filter_map(|v| v.as_i64()).collect();
            let variants: Vec<Ident> = numbers
                .iter()
                .map(|n| format_ident!("V{}", *n as u32))
                .collect();
            let decoder = decode::integer_enum_decode(name, schema, &numbers, &variants)?;
            self.items.push(decoder);
            return Ok(());
        }
        let texts: Vec<&str> = values.iter().filter_map(|v| v.as_str()).collect();
        let names = match schema.get("x-enum-varnames").and_then(Value::as_array) {
            Some(given) => given_variant_names(given, texts.len()),
            None => variant_names(&texts),
        }
        .with_context(|| format!("enum {name}"))?;
        let variants = texts.iter().zip(&names).map(|(text, variant)| {
            let variant = format_ident!("{}", variant);
            quote!(#[serde(rename = #text)] #variant,)
        });
        self.items.push(quote! {
            #docs
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
            pub enum #ident { #(#variants)* }
        });
        let variants: Vec<Ident> = names.iter().map(|n| format_ident!("{}", n)).collect();
        let decoder = decode::string_enum_decode(name, schema, &texts, &variants)?;
        self.items.push(decoder);
        Ok(())
    }

    /// An untagged enum for a `oneOf` or `anyOf` of members of distinct JSON
    /// types (so at most one member ever matches): scalars, one object
    /// schema of its own (`$ref`), one array; returns whether a member is
    /// nullable. Its schema is written out because utoipa's derive cannot
    /// put constraints on a variant's field.
    fn one_of_type(&mut self, name: &str, schema: &Value, ptr: &str) -> anyhow::Result<bool> {
        let keyword = union_keyword(schema).context("a union")?;
        let members = schema[keyword].as_array().unwrap();
        let nullable = members
            .iter()
            .any(|m| m.get("nullable") == Some(&Value::Bool(true)));
        if !self.emit(name) {
            return Ok(nullable);
        }
        let ident = format_ident!("{}", name);
        let mut variants = Vec::new();
        let mut schemas = Vec::new();
        // Object and array members: each its decoder's arm and its kind.
        let mut structured = Vec::new();
        let mut decodable = true;
        for (i, member) in members.iter().enumerate() {
            let here = format!("{ptr}/{keyword}/{i}");
            let (target, component) = self.resolve(member);
            if let Some(component) = component {
                // An object schema of its own: boxed, as it may hold the
                // union again.
                let field = self.field_type(member, &format!("{name}{i}"), &here)?;
                if target.get("properties").is_none() && target["type"] != "object"
                    || union_keyword(&target).is_some()
                {
                    bail!("{here}: a member that is neither a scalar nor an object");
                }
                let variant = format_ident!("{}", pascal(&component));
                let (ty, decode) = (&field.ty, &field.decode);
                variants.push(quote!(#variant(Box<#ty>),));
                schemas.push(quote!(utoipa::openapi::Ref::from_schema_name(#component)));
                structured.push((
                    quote!(runtime::decode::Kind::Object => (#decode).map(|v| Self::#variant(Box::new(v))),),
                    "object",
                ));
                // Its decoder exists when a request reaches it, and so does
                // this union's; otherwise no request decodes either.
                decodable &= self.request_schemas.contains(&component);
                continue;
            }
            if member["type"] == "array" {
                let field = self.field_type(member, &format!("{name}Array"), &here)?;
                let (ty, decode) = (&field.ty, &field.decode);
                variants.push(quote!(Array(#ty),));
                let json = serde_json::to_string(member)?;
                schemas.push(quote!(serde_json::from_str::<utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>>(#json).expect("an array schema")));
                structured.push((
                    quote!(runtime::decode::Kind::Array => (#decode).map(Self::Array),),
                    "array",
                ));
                continue;
            }
            let (variant, ty, kind) = match member["type"].as_str() {
                Some("string") => (format_ident!("String"), quote!(String), quote!(String)),
                // serde_json's Number keeps 3 as 3 (an f64 would answer 3.0).
                Some("number") => (
                    format_ident!("Number"),
                    quote!(serde_json::Number),
                    quote!(Number),
                ),
                Some("boolean") => (format_ident!("Boolean"), quote!(bool), quote!(Boolean)),
                other => bail!("{keyword} member of type {other:?} in {name}"),
            };
            variants.push(quote!(#variant(#ty),));
            let _ = kind;
            schemas.push(scalar_schema(member)?);
        }
        let mut names = BTreeSet::new();
        if let Some(twice) = variants
            .iter()
            .map(|v| {
                v.to_string()
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .find(|v| !names.insert(v.clone()))
        {
            bail!("{ptr}/{keyword}: two members would be variant {twice}");
        }
        let builder = if keyword == "anyOf" {
            quote!(utoipa::openapi::schema::AnyOfBuilder)
        } else {
            quote!(utoipa::openapi::schema::OneOfBuilder)
        };
        let docs = doc_comment(schema);
        self.items.push(quote! {
            #docs
            #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
            #[serde(untagged)]
            pub enum #ident { #(#variants)* }
            impl utoipa::PartialSchema for #ident {
                fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                    #builder::new()
                        #(.item(#schemas))*
                        .into()
                }
            }
            impl utoipa::ToSchema for #ident {}
        });
        if decodable {
            let decoder = self.union_decode(name, schema, ptr, structured)?;
            self.items.push(decoder);
        }
        Ok(nullable)
    }

    fn operation(&mut self, op: &Operation) -> anyhow::Result<TokenStream> {
        let pascal_id = op.model.names.pascal.clone();
        let mut out = Vec::new();
        let mut request_fields = Vec::new();
        let mut param_structs = Vec::new();
        for (location, suffix, parameter_in) in [
            (Location::Path, "Path", quote!(Path)),
            (Location::Query, "Query", quote!(Query)),
            (Location::Header, "Headers", quote!(Header)),
        ] {
            let params: Vec<&model::Parameter> = op
                .model
                .params
                .iter()
                .filter(|p| p.location == location)
                .collect();
            if params.is_empty() {
                continue;
            }
            let struct_name = format_ident!("{}{}", pascal_id, suffix);
            let mut fields = Vec::new();
            let mut decoders = Vec::new();
            let mut repeated = BTreeSet::new();
            for param in params {
                let name = param.name.as_str();
                let param_schema = param.schema.as_ref().unwrap_or(&Value::Null);
                let hint = format!("{pascal_id}{}", pascal(name));
                let ptr = format!("{}/parameters/{}", op.model.at, decode::escape(name));
                let field = self.field_type(param_schema, &hint, &ptr)?;
                let ident = field_ident(name);
                let required = param.required;
                // A query array (form style, exploded) is every value sent
                // under its name.
                let (schema, component) = self.resolve(param_schema);
                // An inline enum's type is no component of the document:
                // its schema is written in place.
                let inline_enum = component.is_none() && schema.get("enum").is_some();
                let array_text = if location == Location::Query && schema["type"] == "array" {
                    let item = self.field_type(
                        &schema["items"],
                        &format!("{hint}Item"),
                        &format!("{ptr}/items"),
                    )?;
                    repeated.insert(name.to_owned());
                    Some(self.query_array_decode(&schema, &item)?)
                } else {
                    None
                };
                let mut text = match array_text {
                    Some(text) => text,
                    None => field.text.clone().with_context(|| {
                        format!("{}: parameter {name} is not a scalar", op.model.id)
                    })?,
                };
                let mut field = field;
                // HTTP's own conditional headers arrive parsed (RFC 9110).
                if location == Location::Header
                    && let Some(typed) = typed_header(name)
                {
                    text = quote! {
                        (#text).and_then(|value: String| runtime::decode::typed_header::<#typed>(&value, path, errors))
                    };
                    field.ty = typed;
                    field.attrs.push(if required {
                        quote!(value_type = String)
                    } else {
                        quote!(value_type = Option<String>)
                    });
                }
                decoders.push((
                    name.to_owned(),
                    ident.clone(),
                    required,
                    field.ty.clone(),
                    text,
                ));
                let ty = field.ty;
                let ty = if required { ty } else { quote!(Option<#ty>) };
                let mut attrs = field.attrs;
                if inline_enum {
                    attrs.push(quote!(inline));
                }
                attrs.push(quote!(rename = #name));
                if !required {
                    attrs.push(quote!(nullable = false));
                }
                let docs = doc_comment(&param.raw);
                // The router applies a tenant switch; the implementation sees
                // its effect (`RequestContext::account`), not the raw value.
                let vis = if param.tenant_switch {
                    quote!(pub(crate))
                } else {
                    quote!(pub)
                };
                fields.push(quote! {
                    #docs
                    #[param(#(#attrs),*)]
                    #vis #ident: #ty,
                });
            }
            out.push(quote! {
                #[derive(Debug, Clone, PartialEq, utoipa::IntoParams)]
                #[into_params(parameter_in = #parameter_in)]
                pub struct #struct_name { #(#fields)* }
            });
            self.member_names(
                &struct_name.to_string(),
                decoders.iter().map(|(name, ..)| name.as_str()),
            )?;
            out.push(self.params_decode(&struct_name, location.as_str(), &decoders, &repeated));
            let field = format_ident!("{}", location.as_str());
            request_fields.push(quote!(pub #field: #struct_name,));
            param_structs.push(quote!(#struct_name));
        }
        if let Some(body) = &op.body {
            let ty = body.field_type();
            request_fields.push(quote!(pub body: #ty,));
        }
        let request = format_ident!("{}Request", pascal_id);
        let doc = format!(
            "What `{}` received, validated against the spec.",
            op.model.id
        );
        out.push(quote! {
            #[doc = #doc]
            #[derive(Debug, Clone, PartialEq)]
            pub struct #request { #(#request_fields)* }
        });
        out.push(self.response_enum(op)?);
        out.push(handler(op, &param_structs, &self.api)?);
        Ok(quote!(#(#out)*))
    }

    /// A type whose schema documents a response header (utoipa's header
    /// syntax takes a type and nothing else).
    fn header_type(&mut self, name: &str, schema: &Value) -> anyhow::Result<()> {
        let type_name = format!("{}Header", pascal(name));
        if !self.emit(&type_name) {
            return Ok(());
        }
        self.header_types.push(type_name.clone());
        let ident = format_ident!("{}", type_name);
        let schema = scalar_schema(schema)?;
        let doc = format!("The schema of the `{name}` response header.");
        self.items.push(quote! {
            #[doc = #doc]
            #[derive(Debug)]
            pub struct #ident;
            impl utoipa::PartialSchema for #ident {
                fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                    #schema.into()
                }
            }
            impl utoipa::ToSchema for #ident {}
        });
        Ok(())
    }

    /// The operation's answers: `{Op}Response`, the documented answers
    /// below 400, and `{Op}Refusal`, the documented errors. An error the spec
    /// answers with `application/problem+json` holds a
    /// [`runtime::Refused`] of its status, and the refusal is built from one
    /// (`From`, so `?` works) only for a status the operation documents: an
    /// undocumented status does not compile.
    fn response_enum(&mut self, op: &Operation) -> anyhow::Result<TokenStream> {
        let pascal_id = op.model.names.pascal.clone();
        let (errors, answers): (Vec<&ResponseSpec>, Vec<&ResponseSpec>) =
            op.responses.iter().partition(|r| r.status.is_error());
        let mut out = Vec::new();
        for (name, responses, doc) in [
            (
                format_ident!("{pascal_id}Response"),
                answers,
                format!(
                    "Every answer below 400 the spec documents for `{}`.",
                    op.model.id
                ),
            ),
            (
                format_ident!("{pascal_id}Refusal"),
                errors,
                format!(
                    "Every error the spec documents for `{}`; a documented problem \
                     is built from a `runtime::Refused` of its status.",
                    op.model.id
                ),
            ),
        ] {
            // The statuses documented by number, and the ranges.
            let mut explicit = BTreeSet::new();
            let mut classes = BTreeSet::new();
            for response in &responses {
                match response.status {
                    Status::Code(code) => explicit.insert(code),
                    Status::Range(class) => classes.insert(class),
                    Status::Default => false,
                };
            }
            let mut variants = Vec::new();
            let mut arms = Vec::new();
            let mut froms = Vec::new();
            for response in responses {
                let (variant, arm, from) =
                    self.response_variant(&name, response, &explicit, &classes)?;
                variants.push(variant);
                arms.push(arm);
                froms.extend(from);
            }
            out.push(quote! {
                #[doc = #doc]
                #[derive(Debug, Clone, PartialEq)]
                pub enum #name { #(#variants)* }
                impl IntoResponse for #name {
                    fn into_response(self) -> Response {
                        match self { #(#arms)* }
                    }
                }
                #(#froms)*
            });
        }
        Ok(quote!(#(#out)*))
    }

    /// One documented response: its variant of `owner`, its arm of
    /// `into_response`, and the `From<runtime::Refused<S>>` impls that build
    /// it (a problem response; for a range or `default`, every registered
    /// status of it that neither `explicit` documents by number nor, for
    /// `default`, one of the ranges `classes` does).
    fn response_variant(
        &mut self,
        owner: &Ident,
        response: &ResponseSpec,
        explicit: &BTreeSet<u16>,
        classes: &BTreeSet<u16>,
    ) -> anyhow::Result<(TokenStream, TokenStream, Vec<TokenStream>)> {
        let variant = format_ident!("{}", variant(response.status));
        let docs = &response.description;
        let mut fields = Vec::new();
        let mut header_sets = Vec::new();
        for (header, schema) in &response.headers {
            self.header_type(header, schema)?;
            let ident = field_ident(header);
            if let Some(typed) = typed_header(header) {
                fields.push(quote!(#ident: #typed,));
                header_sets.push(quote! {
                    headers::HeaderMapExt::typed_insert(response.headers_mut(), #ident);
                });
                continue;
            }
            let (ty, value) = if header == "Retry-After" {
                (quote!(u64), quote!(#ident.to_string()))
            } else {
                (quote!(String), quote!(#ident))
            };
            fields.push(quote!(#ident: #ty,));
            header_sets.push(quote! {
                if let Ok(value) = http::HeaderValue::from_str(&#value) {
                    response.headers_mut().insert(#header, value);
                }
            });
        }
        let header_names: Vec<Ident> = response
            .headers
            .iter()
            .map(|(h, _)| field_ident(h))
            .collect();
        let finish = |make: TokenStream| {
            if header_sets.is_empty() {
                make
            } else {
                quote! {
                    let mut response = #make;
                    #(#header_sets)*
                    response
                }
            }
        };
        // A problem document, or the API's own error body in its place.
        let problem = match &response.body {
            Some(ResponseBody::Json { media, schema }) => {
                media == PROBLEM_JSON
                    || self.error.as_ref().is_some_and(|error| {
                        *media == error.media_type && schema.as_deref() == Some(&*error.schema)
                    })
            }
            _ => false,
        };
        if problem && response.status.is_error() {
            // A problem document: the runtime writes it.
            let (ty, make, codes) = match response.status {
                Status::Code(code) => (
                    {
                        let code = proc_macro2::Literal::u16_unsuffixed(code);
                        quote!(runtime::Refused<#code>)
                    },
                    quote!(problem.into_response()),
                    vec![code],
                ),
                Status::Range(class) => (
                    quote!(Box<runtime::Rejection>),
                    {
                        let class = proc_macro2::Literal::u16_unsuffixed(class);
                        quote!(runtime::ranged(#class, *problem))
                    },
                    registered(class * 100..class * 100 + 100, explicit),
                ),
                Status::Default => (
                    quote!(Box<runtime::Rejection>),
                    quote!(runtime::ranged(0, *problem)),
                    registered(400..600, explicit)
                        .into_iter()
                        .filter(|code| !classes.contains(&(code / 100)))
                        .collect(),
                ),
            };
            let response_tokens = finish(make);
            let (variant_tokens, arm, froms) = if fields.is_empty() {
                // A number holds its `Refused` as it is; a range or
                // `default` the `Rejection` inside it.
                let held = match response.status {
                    Status::Code(_) => quote!(problem),
                    _ => quote!(problem.into()),
                };
                let froms = codes
                    .iter()
                    .map(|code| {
                        let code = proc_macro2::Literal::u16_unsuffixed(*code);
                        quote! {
                            impl From<runtime::Refused<#code>> for #owner {
                                fn from(problem: runtime::Refused<#code>) -> Self {
                                    Self::#variant(#held)
                                }
                            }
                        }
                    })
                    .collect();
                (
                    quote! {
                        #[doc = #docs]
                        #variant(#ty),
                    },
                    quote!(Self::#variant(problem) => { #response_tokens }),
                    froms,
                )
            } else {
                // Headers the spec documents with it: built whole, as
                // `Self::TooManyRequests { problem, retry_after }`.
                (
                    quote! {
                        #[doc = #docs]
                        #variant { problem: #ty, #(#fields)* },
                    },
                    quote!(Self::#variant { problem, #(#header_names),* } => { #response_tokens }),
                    Vec::new(),
                )
            };
            return Ok((variant_tokens, arm, froms));
        }
        let (status_field, status) = match response.status {
            Status::Code(code) => (None, quote!(http::StatusCode::from_u16(#code).unwrap())),
            Status::Range(_) | Status::Default => {
                (Some(quote!(status: http::StatusCode,)), quote!(status))
            }
        };
        // A body the implementation gives (`user.into()`) or lends
        // (`Arc<T>`, `.into()` too): either way it is not copied.
        let body_part = response.body.as_ref().map(|body| match body {
            ResponseBody::Json { schema, .. } => {
                let ty = json_type(schema.as_deref());
                quote!(body: runtime::Body<#ty>,)
            }
            ResponseBody::Bytes { .. } => quote!(body: axum::body::Bytes,),
        });
        // Bytes in one of several media types: the implementation names
        // which, from the documented ones.
        let stem = owner.to_string();
        let stem = stem
            .strip_suffix("Response")
            .or_else(|| stem.strip_suffix("Refusal"))
            .unwrap_or(&stem);
        let mut items = Vec::new();
        let media_choice = match &response.body {
            Some(ResponseBody::Bytes { media }) if media.len() > 1 => {
                let (ty, item) = media_enum(&format_ident!("{stem}{variant}Media"), media);
                // An enum of the media types gives its header; any header
                // value is one.
                let header = match item {
                    Some(_) => quote!(content_type.as_header()),
                    None => quote!(content_type),
                };
                items.extend(item);
                Some((ty, header))
            }
            _ => None,
        };
        let content_type_part = media_choice
            .as_ref()
            .map(|(ty, _)| quote!(content_type: #ty,));
        let binding: Vec<Ident> = (!matches!(response.status, Status::Code(_)))
            .then(|| format_ident!("status"))
            .into_iter()
            .chain(header_names)
            .chain(response.body.as_ref().map(|_| format_ident!("body")))
            .chain(media_choice.as_ref().map(|_| format_ident!("content_type")))
            .collect();
        let make = match &response.body {
            Some(ResponseBody::Json { media, .. }) => quote! {
                runtime::json_response(#status, #media, &body)
            },
            Some(ResponseBody::Bytes { .. }) if media_choice.is_some() => {
                let header = &media_choice.as_ref().expect("a choice").1;
                quote! {
                    (#status, [(http::header::CONTENT_TYPE, #header)], body).into_response()
                }
            }
            Some(ResponseBody::Bytes { media }) => {
                let media = &media[0].0;
                quote! {
                    (#status, [(http::header::CONTENT_TYPE, #media)], body).into_response()
                }
            }
            None => quote! {
                #status.into_response()
            },
        };
        let response_tokens = finish(make);
        Ok((
            quote! {
                #[doc = #docs]
                #variant { #body_part #content_type_part #status_field #(#fields)* },
            },
            quote!(Self::#variant { #(#binding),* } => { #response_tokens }),
            items,
        ))
    }
}

/// The media type the runtime answers problems with.
const PROBLEM_JSON: &str = "application/problem+json";

/// The type of the `content_type` field of a response that may come in
/// any of `media`, and the items that define it: an enum named `name` of
/// the media types when each is one type (`image/png`), else any header
/// value (a range such as `image/*` names no one type).
fn media_enum(
    name: &Ident,
    media: &[(String, Option<String>)],
) -> (TokenStream, Option<TokenStream>) {
    let variants: Vec<Ident> = media
        .iter()
        .map(|(m, _)| format_ident!("{}", pascal(m)))
        .collect();
    let concrete = media.iter().all(|(m, _)| !m.contains('*'));
    let distinct = variants.iter().collect::<BTreeSet<_>>().len() == variants.len();
    if !concrete || !distinct {
        return (quote!(http::HeaderValue), None);
    }
    let texts: Vec<&str> = media.iter().map(|(m, _)| m.as_str()).collect();
    let docs = texts.iter().map(|m| format!("`{m}`"));
    let doc = format!(
        "The media types the answer may come in: {}.",
        texts.join(", ")
    );
    let item = quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum #name {
            #(#[doc = #docs] #variants,)*
        }
        impl #name {
            /// Every one, in the spec's order.
            pub const ALL: &[Self] = &[#(Self::#variants),*];
            /// The media type as the spec writes it.
            pub fn as_str(self) -> &'static str {
                match self { #(Self::#variants => #texts,)* }
            }
            /// The one `media` names (its essence, in any case), if any.
            pub fn from_essence(media: &str) -> Option<Self> {
                let essence = media.split(';').next().unwrap_or_default().trim();
                Self::ALL.iter().copied().find(|m| m.as_str().eq_ignore_ascii_case(essence))
            }
            fn as_header(self) -> http::HeaderValue {
                http::HeaderValue::from_static(self.as_str())
            }
        }
    };
    (quote!(#name), Some(item))
}

/// The registered statuses (those with a reason phrase) in `range` that
/// `explicit` does not document by number.
fn registered(range: std::ops::Range<u16>, explicit: &BTreeSet<u16>) -> Vec<u16> {
    range
        .filter(|code| !explicit.contains(code))
        .filter(|code| {
            http::StatusCode::from_u16(*code)
                .ok()
                .and_then(|status| status.canonical_reason())
                .is_some()
        })
        .collect()
}

/// A `utoipa` builder expression for a scalar schema: type, nullability,
/// format and constraints.
fn scalar_schema(schema: &Value) -> anyhow::Result<TokenStream> {
    let kind = match schema["type"].as_str() {
        Some("string") => quote!(String),
        Some("integer") => quote!(Integer),
        Some("number") => quote!(Number),
        Some("boolean") => quote!(Boolean),
        other => bail!("no scalar schema for type {other:?}"),
    };
    let schema_type = if schema.get("nullable") == Some(&Value::Bool(true)) {
        quote!(utoipa::openapi::schema::SchemaType::from_iter([
            utoipa::openapi::schema::Type::#kind,
            utoipa::openapi::schema::Type::Null,
        ]))
    } else {
        quote!(utoipa::openapi::schema::Type::#kind)
    };
    let format = schema.get("format").and_then(Value::as_str).map(|format| {
        let known = match format {
            "int32" => Some(quote!(Int32)),
            "int64" => Some(quote!(Int64)),
            _ => None,
        };
        match known {
            Some(known) => quote!(.format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(
                utoipa::openapi::schema::KnownFormat::#known
            )))),
            None => {
                quote!(.format(Some(utoipa::openapi::schema::SchemaFormat::Custom(#format.into()))))
            }
        }
    });
    let usize_of = |key: &str| schema.get(key).and_then(Value::as_u64).map(|n| n as usize);
    let max_length = usize_of("maxLength").map(|n| quote!(.max_length(Some(#n))));
    let min_length = usize_of("minLength").map(|n| quote!(.min_length(Some(#n))));
    let minimum = schema
        .get("minimum")
        .and_then(Value::as_f64)
        .map(|n| quote!(.minimum(Some(#n))));
    let maximum = schema
        .get("maximum")
        .and_then(Value::as_f64)
        .map(|n| quote!(.maximum(Some(#n))));
    let pattern = schema
        .get("pattern")
        .and_then(Value::as_str)
        .map(|p| quote!(.pattern(Some(#p))));
    Ok(quote! {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(#schema_type)
            #format #min_length #max_length #minimum #maximum #pattern
    })
}

fn field_tokens(prop: &str, schema: &Value, field: FieldType, required: bool) -> TokenStream {
    let ident = field_ident(prop);
    let ty = field.ty;
    let mut attrs = field.attrs;
    if let Some(example) = schema.get("example") {
        let example = json_tokens(example);
        attrs.push(quote!(example = json!(#example)));
    }
    if schema.get("readOnly") == Some(&Value::Bool(true)) {
        attrs.push(quote!(read_only));
    }
    if schema.get("writeOnly") == Some(&Value::Bool(true)) {
        attrs.push(quote!(write_only));
    }
    let docs = doc_comment(schema);
    if !required && !field.nullable {
        attrs.push(quote!(nullable = false));
    }
    let (ty, serde) = super::three_state::member(prop, &ty, required, field.nullable);
    let schema_attr = (!attrs.is_empty()).then(|| quote!(#[schema(#(#attrs),*)]));
    quote! {
        #docs
        #serde
        #schema_attr
        pub #ident: #ty,
    }
}

/// `#[schema]` arguments for a scalar or array schema's constraints.
fn constraint_attrs(schema: &Value) -> Vec<TokenStream> {
    let mut attrs = Vec::new();
    for (key, attr) in [
        ("minLength", "min_length"),
        ("maxLength", "max_length"),
        ("minItems", "min_items"),
        ("maxItems", "max_items"),
    ] {
        if let Some(n) = schema.get(key).and_then(Value::as_u64) {
            let attr = format_ident!("{}", attr);
            let n = n as usize;
            attrs.push(quote!(#attr = #n));
        }
    }
    for (key, attr) in [
        ("minimum", "minimum"),
        ("maximum", "maximum"),
        ("multipleOf", "multiple_of"),
    ] {
        if let Some(n) = schema.get(key).and_then(Value::as_f64) {
            // An exclusive bound is written as OpenAPI 3.1 (utoipa's model)
            // writes it: `exclusiveMinimum: 0` rather than `minimum: 0`.
            let exclusive = match key {
                "minimum" => Some("exclusive_minimum"),
                "maximum" => Some("exclusive_maximum"),
                _ => None,
            }
            .filter(|_| {
                schema.get(format!("exclusive{}", &pascal(key))) == Some(&Value::Bool(true))
            });
            let attr = format_ident!("{}", exclusive.unwrap_or(attr));
            attrs.push(quote!(#attr = #n));
        }
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        attrs.push(quote!(pattern = #pattern));
    }
    attrs
}

fn doc_comment(schema: &Value) -> TokenStream {
    match schema.get("description").and_then(Value::as_str) {
        Some(text) => {
            let text = text.trim_end();
            quote!(#[doc = #text])
        }
        None => quote!(),
    }
}

fn json_tokens(value: &Value) -> TokenStream {
    let text = value.to_string();
    // A value Rust's lexer does not take as written (a number out of its
    // range, say) is read from its text when the program runs.
    text.parse().unwrap_or_else(|_| {
        quote!((::serde_json::from_str::<::serde_json::Value>(#text).expect("JSON from the spec")))
    })
}

/// An operation the server serves: the model's, with what the server
/// reads of it.
struct Operation {
    model: model::Operation,
    security: Security,
    body: Option<Body>,
    responses: Vec<ResponseSpec>,
}

/// Who may call an operation.
enum Security {
    /// Anyone: the spec names no requirement, or allows `{}`.
    Open,
    /// Any one of these requirements, each met by every scheme in it (a
    /// bearer token, HTTP basic or an API key) with its scopes.
    OneOf(Vec<Vec<model::SchemeUse>>),
}

struct Body {
    /// Every JSON media type the body may come as, all with the one schema.
    media: Vec<String>,
    /// The component its JSON is; `None`: any JSON.
    schema: Option<String>,
    /// The other media types it may come as (XML, forms, images, `*/*`),
    /// handed over as sent, each with the component its schema names.
    raw: Vec<(String, Option<String>)>,
    /// The largest raw body the spec allows: the `maxLength` every raw
    /// media type's (binary) schema states; `None`: the router's limit.
    max_bytes: Option<usize>,
    description: Option<String>,
}

impl Body {
    /// The request's `body` field: the decoded JSON, the raw body, or
    /// either.
    fn field_type(&self) -> TokenStream {
        let json = json_type(self.schema.as_deref());
        match (self.media.is_empty(), self.raw.is_empty()) {
            (false, true) => json,
            (true, _) => quote!(runtime::RawBody),
            (false, false) => quote!(runtime::Payload<#json>),
        }
    }

    /// The components it names: its JSON's and its raw media types'.
    fn named(&self) -> impl Iterator<Item = &str> {
        self.schema
            .as_deref()
            .into_iter()
            .chain(self.raw.iter().filter_map(|(_, schema)| schema.as_deref()))
    }

    /// The runtime function that reads it.
    fn reader(&self) -> TokenStream {
        let json = json_type(self.schema.as_deref());
        match (self.media.is_empty(), self.raw.is_empty()) {
            (false, true) => quote!(runtime::body::<#json>),
            (true, _) => quote!(runtime::raw_body),
            (false, false) => quote!(runtime::payload::<#json>),
        }
    }
}

/// The response enum's variant of a status: the reason (`NotFound`), the
/// class (`ClientError` for `4XX`) or `Default`.
fn variant(status: Status) -> String {
    match status {
        Status::Code(code) => status_name(code),
        Status::Range(class) => match class {
            1 => "Informational",
            2 => "Success",
            3 => "Redirection",
            4 => "ClientError",
            _ => "ServerError",
        }
        .to_owned(),
        Status::Default => "Default".to_owned(),
    }
}

/// How utoipa's `responses(...)` spells a status.
fn utoipa_status(status: Status) -> TokenStream {
    match status {
        Status::Code(code) => quote!(#code),
        Status::Range(class) => {
            let range = format!("{class}XX");
            quote!(#range)
        }
        Status::Default => quote!("default"),
    }
}

/// What a response carries.
enum ResponseBody {
    /// JSON of a component schema (`None`: any JSON), under `media`.
    Json {
        media: String,
        schema: Option<String>,
    },
    /// Bytes under one of `media` (a schema-less or binary body), each
    /// with the component its schema names; with more than one, the
    /// implementation says which.
    Bytes {
        media: Vec<(String, Option<String>)>,
    },
}

impl ResponseBody {
    /// The component schemas it names: a response in another media type
    /// shows its schema's type in the served document, so that type must
    /// be there too.
    fn named(&self) -> impl Iterator<Item = &str> {
        let (json, media) = match self {
            Self::Json { schema, .. } => (schema.as_deref(), &[][..]),
            Self::Bytes { media } => (None, media.as_slice()),
        };
        json.into_iter()
            .chain(media.iter().filter_map(|(_, schema)| schema.as_deref()))
    }
}

struct ResponseSpec {
    status: Status,
    description: String,
    body: Option<ResponseBody>,
    /// Header names and their schemas.
    headers: Vec<(String, Value)>,
}

/// Every operation the generator takes, and a refusal for each it leaves
/// out (the model's and the server's own).
fn operations(spec: &Value) -> anyhow::Result<(Vec<Operation>, Vec<super::Refusal>)> {
    let api = model::Api::new(spec)?;
    let mut refusals = api.refusals;
    let mut out = Vec::new();
    for op in api.operations {
        let at = op.at.clone();
        match served(op, &spec["components"]["schemas"]) {
            Ok(op) => out.push(op),
            Err(err) => refusals.push(super::Refusal {
                pointer: at,
                reason: format!("{err:#}"),
            }),
        }
    }
    Ok((out, refusals))
}

/// The operation as the server serves it, or why it cannot (`components`:
/// the document's component schemas, which raw bodies' limits are read
/// from).
fn served(op: model::Operation, components: &Value) -> anyhow::Result<Operation> {
    for param in &op.params {
        let name = &param.name;
        let at = format!("parameter {name}");
        let style = param.style.as_deref();
        match (param.location, style) {
            (Location::Path, None | Some("simple"))
            | (Location::Query, None | Some("form"))
            | (Location::Header, None | Some("simple")) => {}
            (Location::Cookie, _) => bail!("{at}: cookie parameters are not supported"),
            (location, style) => bail!(
                "{at}: a {} parameter in style {:?} is not supported",
                location.as_str(),
                style.unwrap_or_default()
            ),
        }
        let Some(schema) = &param.schema else {
            bail!("{at}: a parameter described by `content` rather than a schema");
        };
        if param.explode == Some(false) && schema["type"] == "array" {
            bail!("{at}: `explode: false` arrays are not supported");
        }
    }
    // After lifting, JSON content names a component or says nothing of its
    // schema (none, or `{}`): any JSON.
    let component = |content: &model::Content| -> anyhow::Result<Option<String>> {
        match (&content.schema, content.component()) {
            (_, Some(name)) => Ok(Some(name.to_owned())),
            (None, None) => Ok(None),
            (Some(schema), None) if schema.as_object().is_some_and(|s| s.is_empty()) => Ok(None),
            (Some(_), None) => bail!("a body schema that is neither a component nor empty"),
        }
    };
    let body = match &op.body {
        Some(body) => {
            // JSON is decoded against its one schema; any other media type
            // is handed over as sent.
            let mut schemas = BTreeSet::new();
            let mut raw = Vec::new();
            for content in &body.content {
                if content.kind == MediaKind::Json {
                    schemas.insert(component(content)?);
                } else {
                    raw.push((
                        content.media.clone(),
                        content.component().map(str::to_owned),
                    ));
                }
            }
            if schemas.len() > 1 {
                bail!("the body's JSON media types name different schemas: {schemas:?}");
            }
            // A limit only when every raw media type states one.
            let max_bytes = body
                .content
                .iter()
                .filter(|c| c.kind != MediaKind::Json)
                .map(|c| {
                    let schema = match c.component() {
                        Some(name) => components.get(name),
                        None => c.schema.as_ref(),
                    };
                    schema
                        .and_then(|s| s.get("maxLength"))
                        .and_then(Value::as_u64)
                        .and_then(|n| usize::try_from(n).ok())
                })
                .collect::<Option<Vec<usize>>>()
                .and_then(|limits| limits.into_iter().max());
            Some(Body {
                media: body
                    .content
                    .iter()
                    .filter(|c| c.kind == MediaKind::Json)
                    .map(|c| c.media.clone())
                    .collect(),
                schema: schemas.pop_first().flatten(),
                raw,
                max_bytes,
                description: body.description.clone(),
            })
        }
        None => None,
    };
    let mut responses = Vec::new();
    for response in &op.responses {
        let body = match (response.json(), response.content.first()) {
            (Some(json), _) => Some(ResponseBody::Json {
                media: json.media.clone(),
                schema: component(json)?,
            }),
            // `*/*` with no schema says nothing of a body: there is none.
            (None, Some(content)) if content.kind == MediaKind::Any && content.schema.is_none() => {
                None
            }
            (None, Some(_)) => Some(ResponseBody::Bytes {
                media: response
                    .content
                    .iter()
                    .map(|c| (c.media.clone(), c.component().map(str::to_owned)))
                    .collect(),
            }),
            (None, None) => None,
        };
        responses.push(ResponseSpec {
            status: response.status,
            description: response.description.clone(),
            body,
            headers: response
                .headers
                .iter()
                .map(|h| (h.name.clone(), h.schema.clone()))
                .collect(),
        });
    }
    let security = match &op.security {
        model::Security::Open => Security::Open,
        model::Security::OneOf(alternatives) => {
            for scheme in alternatives.iter().flat_map(|r| &r.0) {
                if let model::Scheme::Http(_) | model::Scheme::MutualTls = scheme.scheme {
                    bail!(
                        "security scheme {} ({}): the router reads bearer tokens, HTTP basic and API keys",
                        scheme.name,
                        match &scheme.scheme {
                            model::Scheme::Http(word) => format!("http {word}"),
                            other => other.kind().to_owned(),
                        }
                    );
                }
            }
            Security::OneOf(alternatives.iter().map(|r| r.0.clone()).collect())
        }
    };
    Ok(Operation {
        model: op,
        security,
        body,
        responses,
    })
}

fn handler(
    op: &Operation,
    param_structs: &[TokenStream],
    api: &Ident,
) -> anyhow::Result<TokenStream> {
    let fn_name = op.model.names.function.clone();
    let method = format_ident!("{}", op.model.method);
    let path = &op.model.path;
    let id = &op.model.id;
    let tags = &op.model.tags;
    let tags = (!tags.is_empty()).then(|| quote!(tags = [#(#tags),*],));
    let summary = op.model.summary.as_deref().unwrap_or_default();
    let description = op.model.description.as_deref().unwrap_or_default().trim();
    let security = match &op.security {
        Security::Open => None,
        Security::OneOf(alternatives) => {
            let requirements = alternatives.iter().map(|requirement| {
                let uses = requirement.iter().map(|u| {
                    let (name, scopes) = (&u.name, &u.scopes);
                    quote!(#name = [#(#scopes),*])
                });
                quote!((#(#uses),*))
            });
            Some(quote!(security(#(#requirements),*),))
        }
    };
    let request = format_ident!("{}Request", op.model.names.pascal.clone());
    let request_body = op.body.as_ref().map(|body| {
        let ty = json_type(body.schema.as_deref());
        let media = &body.media;
        // A raw media type shows the component its schema names, else bytes.
        let raw = body.raw.iter().map(|(media, schema)| match schema {
            Some(name) => {
                let ty = json_type(Some(name));
                quote!((#ty = #media))
            }
            None => quote!((Vec<u8> = #media)),
        });
        let content = media.iter().map(|media| quote!((#ty = #media))).chain(raw);
        let description = body.description.clone().unwrap_or_default();
        quote!(request_body(content(#(#content),*), description = #description),)
    });
    let responses = op.responses.iter().map(|r| {
        let status = utoipa_status(r.status);
        let description = &r.description;
        let body = r.body.as_ref().map(|body| match body {
            ResponseBody::Json { media, schema } => {
                let ty = json_type(schema.as_deref());
                quote!(body = #ty, content_type = #media,)
            }
            ResponseBody::Bytes { media } if media.len() == 1 && media[0].1.is_none() => {
                let media = &media[0].0;
                quote!(body = [u8], content_type = #media,)
            }
            // Each media type with the component its schema names.
            ResponseBody::Bytes { media } => {
                let content = media.iter().map(|(media, schema)| match schema {
                    Some(name) => {
                        let ty = json_type(Some(name));
                        quote!((#ty = #media))
                    }
                    None => quote!((Vec<u8> = #media)),
                });
                quote!(content(#(#content),*),)
            }
        });
        let headers = r.headers.iter().map(|(h, _)| {
            let ty = format_ident!("{}Header", pascal(h));
            quote!((#h = types::#ty))
        });
        quote!((status = #status, description = #description, #body headers(#(#headers),*)))
    });
    let index = op.model.names.constant.clone();
    let pascal_id = op.model.names.pascal.clone();
    let mut decodes = Vec::new();
    let mut names = Vec::new();
    for (location, suffix) in [
        (Location::Path, "Path"),
        (Location::Query, "Query"),
        (Location::Header, "Headers"),
    ] {
        if op.model.params.iter().any(|p| p.location == location) {
            let field = format_ident!("{}", location.as_str());
            let ty = format_ident!("{}{}", pascal_id, suffix);
            decodes.push(quote!(let #field = #ty::decode(&params, &mut errors);));
            names.push(field);
        }
    }
    let body_decode = op.body.as_ref().map(|body| {
        let reader = body.reader();
        // Only JSON is decoded, and only JSON has errors to collect.
        let errors = (!body.media.is_empty()).then(|| quote!(, &mut errors));
        quote! {
            let body = #reader(&operation_specs::#index, &served.options, &parts, body #errors).await?;
        }
    });
    if op.body.is_some() {
        names.push(format_ident!("body"));
    }
    let unused_body = op.body.is_none().then(|| quote!(let _ = body;));
    // The parameter naming another tenant is applied here, not handed over.
    let switch = match op.model.params.iter().find(|p| p.tenant_switch) {
        Some(param) => {
            let location = format_ident!("{}", param.location.as_str());
            let field = field_ident(&param.name);
            quote!(#location.as_ref().and_then(|p| p.#field.as_deref()))
        }
        None => quote!(None),
    };
    let parts_binding = if decodes.is_empty() {
        quote!(parts)
    } else {
        quote!(mut parts)
    };
    let params_decl = (!decodes.is_empty()).then(|| {
        quote! {
            let path_params = runtime::path_params(&mut parts).await?;
            let params = runtime::Params::new(&parts, &path_params);
        }
    });
    let decodes_json = op.body.as_ref().is_some_and(|b| !b.media.is_empty());
    let errors_decl = if decodes.is_empty() && !decodes_json {
        quote!(let errors = runtime::decode::Errors::default();)
    } else {
        quote!(let mut errors = runtime::decode::Errors::default();)
    };
    Ok(quote! {
        #[utoipa::path(
            #method,
            path = #path,
            operation_id = #id,
            #tags
            summary = #summary,
            description = #description,
            params(#(#param_structs),*),
            #request_body
            responses(#(#responses),*),
            #security
        )]
        pub fn #fn_name<A: #api>(
            served: runtime::Served<A>,
            request: axum::extract::Request,
        ) -> impl std::future::Future<Output = Response> + Send {
            // The request is taken apart before the future starts, so the
            // future holds its parts once; everything before the
            // implementation runs is one inner future that ends before the
            // call starts, so the decoders' scratch is not held during it,
            // and the decoded request is moved into the call, not kept
            // beside it. (A smaller future is a smaller allocation per
            // request.)
            let (#parts_binding, body) = request.into_parts();
            async move {
            let api = &*served.api;
            let prepared = async {
                #unused_body
                let caller = runtime::authorize(api, &operation_specs::#index, &parts).await?;
                #params_decl
                #errors_decl
                #(#decodes)*
                let context = runtime::context(caller, #switch, &errors)?;
                #body_decode
                match (#(#names,)*) {
                    (#(Some(#names),)*) if errors.is_empty() => {
                        Ok((context, #request { #(#names,)* }))
                    }
                    _ => Err(runtime::Rejection::from_errors(errors)),
                }
            };
            let (context, request) = match prepared.await {
                Ok(prepared) => prepared,
                Err(rejection) => {
                    return served.answered(&operation_specs::#index, rejection.into_response());
                }
            };
            let response = runtime::answer(api.#fn_name(context, request).await);
            served.answered(&operation_specs::#index, response)
            }
        }
    })
}

fn api_trait(ops: &[Operation], api: &Ident, title: &str) -> TokenStream {
    let methods = ops.iter().map(|op| {
        let name = op.model.names.function.clone();
        let request = format_ident!("{}Request", op.model.names.pascal.clone());
        let response = format_ident!("{}Response", op.model.names.pascal.clone());
        let refusal = format_ident!("{}Refusal", op.model.names.pascal.clone());
        let doc = format!(
            "`{} {}`: {}",
            op.model.method.to_uppercase(),
            op.model.path,
            op.model.summary.as_deref().unwrap_or_default()
        );
        quote! {
            #[doc = #doc]
            fn #name(&self, ctx: runtime::RequestContext<Self::Claims>, req: #request)
                -> impl std::future::Future<Output = Result<#response, #refusal>> + Send;
        }
    });
    let doc = format!("{title}: one method per operation of the spec.");
    quote! {
        #[doc = #doc]
        ///
        /// The router has authenticated the caller (into the implementation's
        /// own `Claims`), checked the operation's scope, applied the account
        /// switch and decoded every parameter and the body before a method is
        /// called. A method answers with one of the operation's documented
        /// responses below 400 (`Ok`), or with one of its documented errors
        /// (`Err`): a problem is a [`runtime::Refused`] of its status, which
        /// converts (`?`) into the operation's refusal only when the spec
        /// documents that status for it, so an undocumented status does
        /// not compile.
        pub trait #api: runtime::Authenticator {
            #(#methods)*
        }
    }
}

fn router(
    ops: &[Operation],
    api: &Ident,
    error: Option<&super::config::ErrorType>,
) -> anyhow::Result<TokenStream> {
    let mut by_path: BTreeMap<&str, Vec<&Operation>> = BTreeMap::new();
    for op in ops {
        by_path.entry(op.model.path.as_str()).or_default().push(op);
    }
    let routes = by_path.iter().map(|(path, ops)| {
        let mut chain = ops.iter().map(|op| {
            let method = format_ident!("{}", op.model.method);
            let handler = op.model.names.function.clone();
            quote!(#method(runtime::Handle(#handler::<A>)))
        });
        let first = chain.next().unwrap();
        let rest = chain.map(|c| quote!(.#c));
        quote!(.route(#path, axum::routing::#first #(#rest)*))
    });
    // An API with its own error body answers every problem the runtime
    // writes in it.
    let (error_doc, error_layer) = match error {
        Some(error) => {
            let ty = format_ident!("{}", error.schema);
            let media = &error.media_type;
            (
                format!(
                    " Every problem is answered as a [`types::{ty}`] (`{media}`), made from \
                     the problem by its `From<runtime::ProblemDetails>`."
                ),
                quote!(.layer(tower::util::MapResponseLayer::new(
                    runtime::error_body::<types::#ty>(#media)
                ))),
            )
        }
        None => (String::new(), TokenStream::new()),
    };
    let mut router_doc = vec![
        " The API over `api`: every operation's route, problem+json for".to_owned(),
        " unknown routes (404) and methods (405 with `Allow`), an".to_owned(),
        " `x-request-id` on every request and response.".to_owned(),
    ];
    if !error_doc.is_empty() {
        router_doc.push(error_doc);
    }
    Ok(quote! {
        /// Every operation's route over `api`, served as `options` say.
        pub fn routes<A: #api>(api: Arc<A>, options: runtime::RouterOptions) -> axum::Router {
            axum::Router::new()
                #(#routes)*
                .with_state(runtime::Served { api, options })
        }

        /// The API over `api`, with the default [`runtime::RouterOptions`].
        pub fn router<A: #api>(api: Arc<A>) -> axum::Router {
            router_with(api, runtime::RouterOptions::default())
        }

        #(#[doc = #router_doc])*
        pub fn router_with<A: #api>(api: Arc<A>, options: runtime::RouterOptions) -> axum::Router {
            routes(api, options)
                .fallback(runtime::not_found)
                .method_not_allowed_fallback(|method: http::Method, uri: http::Uri| async move {
                    runtime::method_not_allowed(operation_specs::ALL, &method, &uri)
                })
                #error_layer
                .layer(runtime::RequestIdLayer)
        }
    })
}

fn table(ops: &[Operation]) -> TokenStream {
    let consts = ops.iter().map(|op| {
        let name = op.model.names.constant.clone();
        let id = &op.model.id;
        let method = op.model.method.to_uppercase();
        let path = &op.model.path;
        let security = match &op.security {
            Security::Open => Vec::new(),
            Security::OneOf(alternatives) => alternatives
                .iter()
                .map(|requirement| {
                    let schemes = requirement.iter().map(scheme_spec);
                    quote!(&[#(#schemes),*])
                })
                .collect(),
        };
        let body = match &op.body {
            Some(body) => {
                let media = &body.media;
                let raw = body.raw.iter().map(|(media, _)| media);
                let schema = match &body.schema {
                    Some(name) => quote!(Some(#name)),
                    None => quote!(None),
                };
                let max_bytes = match body.max_bytes {
                    Some(n) => quote!(Some(#n)),
                    None => quote!(None),
                };
                quote!(Some(runtime::BodySpec {
                    media_types: &[#(#media),*],
                    raw_media_types: &[#(#raw),*],
                    schema: #schema,
                    max_bytes: #max_bytes,
                }))
            }
            None => quote!(None),
        };
        let statuses = op.responses.iter().filter_map(|r| match r.status {
            Status::Code(code) => Some(code),
            _ => None,
        });
        let classes = op.responses.iter().filter_map(|r| match r.status {
            Status::Range(class) => Some(class),
            _ => None,
        });
        let default = op.responses.iter().any(|r| r.status == Status::Default);
        let parameters = op.model.params.iter().map(|param| {
            let name = &param.name;
            let location = param.location.as_str();
            let required = param.required;
            quote!(runtime::ParameterSpec { name: #name, location: #location, required: #required })
        });
        quote! {
            pub const #name: runtime::OperationSpec = runtime::OperationSpec {
                operation_id: #id,
                statuses: &[#(#statuses),*],
                status_classes: &[#(#classes),*],
                default_response: #default,
                method: #method,
                path: #path,
                security: &[#(#security),*],
                parameters: &[#(#parameters),*],
                body: #body,
            };
        }
    });
    let names = ops.iter().map(|op| op.model.names.constant.clone());
    quote! {
        /// What each operation takes, for the runtime's validation.
        pub mod operation_specs {
            use crate::runtime;
            #(#consts)*
            /// Every operation, in spec order.
            pub const ALL: &[&runtime::OperationSpec] = &[#(&#names),*];
        }
    }
}

/// The type of JSON of a component (`None`: any JSON).
fn json_type(schema: Option<&str>) -> TokenStream {
    match schema {
        Some(name) => {
            let ident = format_ident!("{}", name);
            quote!(#ident)
        }
        None => quote!(serde_json::Value),
    }
}

/// The runtime's `SchemeSpec` of a scheme a requirement names.
fn scheme_spec(scheme: &model::SchemeUse) -> TokenStream {
    let (name, scopes) = (&scheme.name, &scheme.scopes);
    let kind = match &scheme.scheme {
        model::Scheme::Basic => quote!(runtime::SchemeKind::Basic),
        model::Scheme::ApiKey { location, name } => {
            let location = match location {
                Location::Query => quote!(Query),
                Location::Cookie => quote!(Cookie),
                _ => quote!(Header),
            };
            quote!(runtime::SchemeKind::ApiKey { location: runtime::KeyLocation::#location, name: #name })
        }
        // Bearer, OAuth 2.0 and OpenID Connect: the checks of `served`
        // leave no other.
        _ => quote!(runtime::SchemeKind::Bearer),
    };
    quote!(runtime::SchemeSpec { name: #name, kind: #kind, scopes: &[#(#scopes),*] })
}

fn api_doc(
    spec: &Value,
    ops: &[Operation],
    header_types: &[String],
    compositions: &[(String, serde_json::Map<String, Value>)],
) -> anyhow::Result<TokenStream> {
    let composition_inserts = compositions.iter().map(|(name, keywords)| {
        let inserts = keywords.iter().map(|(keyword, value)| {
            let value = json_tokens(value);
            quote!(extensions.insert(#keyword.to_owned(), json!(#value));)
        });
        quote! {
            if let Some(utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::Object(object))) =
                components.schemas.get_mut(#name)
            {
                let extensions = object.extensions.get_or_insert_with(Default::default);
                #(#inserts)*
            }
        }
    });
    let header_types = header_types.iter().map(|h| format_ident!("{}", h));
    let info = &spec["info"];
    let title = info["title"].as_str().unwrap_or_default();
    let version = info["version"].as_str().unwrap_or_default();
    let description = info["description"].as_str().unwrap_or_default().trim_end();
    let paths = ops.iter().map(|op| op.model.names.function.clone());
    let tags = spec["tags"].as_array().into_iter().flatten().map(|tag| {
        let name = tag["name"].as_str().unwrap();
        let description = tag["description"].as_str().unwrap_or_default();
        quote!((name = #name, description = #description))
    });
    let mut schemes = BTreeSet::new();
    for op in ops {
        if let Security::OneOf(alternatives) = &op.security {
            schemes.extend(alternatives.iter().flatten().map(|u| u.name.as_str()));
        }
    }
    let mut scheme_inserts = Vec::new();
    for name in schemes {
        let scheme = &spec["components"]["securitySchemes"][name];
        let description = scheme["description"]
            .as_str()
            .unwrap_or_default()
            .trim_end();
        let definition = if scheme["type"] == "http"
            && scheme["scheme"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case("bearer"))
        {
            let format = scheme["bearerFormat"].as_str().unwrap_or("JWT");
            quote! {
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format(#format)
                        .description(Some(#description))
                        .build(),
                )
            }
        } else {
            // HTTP basic, API keys, OAuth 2.0 and OpenID Connect as the
            // spec writes them.
            let json = json_tokens(scheme);
            quote! {
                serde_json::from_value::<SecurityScheme>(json!(#json))
                    .expect("a security scheme the generator checked")
            }
        };
        scheme_inserts.push(quote!(components.add_security_scheme(#name, #definition);));
    }
    let servers = spec["servers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|server| {
            let url = server["url"].as_str().unwrap();
            let description = server["description"].as_str().unwrap_or_default();
            quote!((url = #url, description = #description))
        });
    let contact = &info["contact"];
    let (c_name, c_url, c_email) = (
        contact["name"].as_str().unwrap_or_default(),
        contact["url"].as_str().unwrap_or_default(),
        contact["email"].as_str().unwrap_or_default(),
    );
    let license = &info["license"];
    let (l_name, l_url) = (
        license["name"].as_str().unwrap_or_default(),
        license["url"].as_str().unwrap_or_default(),
    );
    Ok(quote! {
        /// The OpenAPI document of this crate, built from the handlers'
        /// `#[utoipa::path]` annotations and the types' `ToSchema` derives.
        #[derive(Debug, utoipa::OpenApi)]
        #[openapi(
            info(
                title = #title,
                version = #version,
                description = #description,
                contact(name = #c_name, url = #c_url, email = #c_email),
                license(name = #l_name, url = #l_url),
            ),
            servers(#(#servers),*),
            paths(#(#paths),*),
            components(schemas(#(types::#header_types),*)),
            tags(#(#tags),*),
            modifiers(&SecuritySchemes, &Compositions),
        )]
        pub struct ApiDoc;

        /// Adds the security schemes the operations' requirements name.
        #[derive(Debug)]
        struct SecuritySchemes;
        impl utoipa::Modify for SecuritySchemes {
            #[allow(unused_variables, unused_imports)]
            fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
                use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
                let components = openapi.components.get_or_insert_with(Default::default);
                #(#scheme_inserts)*
            }
        }

        /// Adds the `allOf` / `anyOf` / `not` keywords that relate an object's
        /// members: utoipa's model has no field for them beside `properties`,
        /// so they ride in the schema's extension map, which is written out
        /// flat.
        #[derive(Debug)]
        struct Compositions;
        impl utoipa::Modify for Compositions {
            #[allow(unused_variables)]
            fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
                let components = openapi.components.get_or_insert_with(Default::default);
                #(#composition_inserts)*
            }
        }
    })
}

/// The `headers` type of an HTTP header whose syntax RFC 9110 defines, for
/// the conditional-request headers an implementation compares: it gets them
/// parsed, never as text.
fn typed_header(name: &str) -> Option<TokenStream> {
    match name.to_ascii_lowercase().as_str() {
        "etag" => Some(quote!(headers::ETag)),
        "if-match" => Some(quote!(headers::IfMatch)),
        "if-none-match" => Some(quote!(headers::IfNoneMatch)),
        _ => None,
    }
}

/// The variant names a spec gives in `x-enum-varnames` (OpenAPI Generator's
/// extension): one per non-null value, distinct, each a Rust identifier.
fn given_variant_names(given: &[Value], values: usize) -> anyhow::Result<Vec<String>> {
    let names: Vec<String> = given
        .iter()
        .map(|n| {
            n.as_str()
                .map(str::to_owned)
                .context("x-enum-varnames holds strings")
        })
        .collect::<anyhow::Result<_>>()?;
    if names.len() != values {
        bail!(
            "x-enum-varnames has {} names for {values} values",
            names.len()
        );
    }
    if names.iter().collect::<BTreeSet<_>>().len() != names.len() {
        bail!("x-enum-varnames repeats a name");
    }
    if let Some(bad) = names.iter().find(|n| syn::parse_str::<Ident>(n).is_err()) {
        bail!("x-enum-varnames: {bad:?} is not a Rust identifier");
    }
    Ok(names)
}

/// Rust variant names for string enum values, in order: each run of
/// letters and digits capitalized (`America/New_York` is `AmericaNewYork`).
/// When two values would share a name (`Etc/GMT+1`, `Etc/GMT-1`), every
/// separator is spelled out instead (`EtcSlashGMTPlus1`); values that still
/// collide are an error.
fn variant_names(values: &[&str]) -> anyhow::Result<Vec<String>> {
    fn name(value: &str, spell: bool) -> String {
        let mut out = String::new();
        let mut upper = true;
        for c in value.chars() {
            if c.is_ascii_alphanumeric() {
                if upper {
                    out.push(c.to_ascii_uppercase());
                } else {
                    out.push(c);
                }
                upper = false;
            } else {
                if spell {
                    out.push_str(&match c {
                        '+' => "Plus".to_owned(),
                        '-' => "Minus".to_owned(),
                        '/' => "Slash".to_owned(),
                        '_' => "Underscore".to_owned(),
                        '.' => "Dot".to_owned(),
                        ' ' => "Space".to_owned(),
                        other => format!("U{:04X}", u32::from(other)),
                    });
                }
                upper = true;
            }
        }
        if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
            out.insert(0, 'V');
        }
        // The one keyword a capitalized word can be (`self`).
        if out == "Self" {
            out.push('_');
        }
        out
    }
    for spell in [false, true] {
        let names: Vec<String> = values.iter().map(|v| name(v, spell)).collect();
        if names.iter().collect::<BTreeSet<_>>().len() == names.len() {
            return Ok(names);
        }
    }
    bail!("enum values without distinct Rust names: {values:?}")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn enum_variant_names() {
        assert_eq!(
            variant_names(&["America/New_York", "en-us"]).unwrap(),
            ["AmericaNewYork", "EnUs"]
        );
        // A link relation `self` is no keyword.
        assert_eq!(
            variant_names(&["self", "related"]).unwrap(),
            ["Self_", "Related"]
        );
        // Names that would collide spell their separators out.
        assert_eq!(
            variant_names(&["Etc/GMT+1", "Etc/GMT-1"]).unwrap(),
            ["EtcSlashGMTPlus1", "EtcSlashGMTMinus1"]
        );
        // The spec's own names win, and are checked.
        let given = [
            serde_json::json!("GmtPlus1"),
            serde_json::json!("GmtMinus1"),
        ];
        assert_eq!(
            given_variant_names(&given, 2).unwrap(),
            ["GmtPlus1", "GmtMinus1"]
        );
        assert!(given_variant_names(&given, 3).is_err());
        assert!(given_variant_names(&[given[0].clone(), given[0].clone()], 2).is_err());
        assert!(given_variant_names(&[serde_json::json!("Not A Name")], 1).is_err());
    }

    #[test]
    fn constraints_become_schema_attributes() {
        let schema = serde_json::json!({
            "type": "string", "minLength": 1, "maxLength": 50, "pattern": "^a"
        });
        let attrs: Vec<String> = constraint_attrs(&schema)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            attrs,
            [
                "min_length = 1usize",
                "max_length = 50usize",
                "pattern = \"^a\""
            ]
        );
    }

    /// An API with its own error body: its documented errors are built as
    /// problems are (`Refused` of their status), the router turns every
    /// problem into that body, and the trait is named as configured. An
    /// inline enum parameter is written in place, and a member with no type
    /// takes any JSON.
    #[test]
    fn an_error_type_of_its_own_is_answered_as_problems_are() {
        let error = serde_json::json!({ "application/x-err+json": { "schema": {
            "$ref": "#/components/schemas/Err" } } });
        let spec = serde_json::json!({
            "openapi": "3.0.3",
            "info": { "title": "Things", "version": "1" },
            "paths": { "/things/{id}": { "put": {
                "operationId": "putThing",
                "parameters": [
                    { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } },
                    { "name": "order", "in": "query", "schema": { "type": "string", "enum": ["up", "down"] } }
                ],
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "$ref": "#/components/schemas/Thing" } } } },
                "responses": {
                    "204": { "description": "Done." },
                    "404": { "description": "None.", "content": error }
                }
            } } },
            "components": { "schemas": {
                "Err": { "type": "object", "required": ["status"],
                         "properties": { "status": { "type": "string" } } },
                "Thing": { "type": "object", "properties": { "value": { "description": "Anything." } } }
            } }
        });
        let options = Options {
            trait_name: Some("ThingStore".into()),
            error: Some(super::super::config::ErrorType {
                schema: "Err".into(),
                media_type: "application/x-err+json".into(),
            }),
        };
        let (code, refusals) = generate(&spec, &options).unwrap();
        assert!(refusals.is_empty(), "{refusals:?}");
        assert!(
            code.contains("pub trait ThingStore"),
            "the configured trait name"
        );
        assert!(
            code.contains("runtime::Refused<404>"),
            "404 is built as a problem"
        );
        assert!(
            code.contains("runtime::error_body::<types::Err>(\"application/x-err+json\")"),
            "the router answers problems as the error type"
        );
        assert!(
            code.contains("pub value: Option<serde_json::Value>"),
            "any JSON"
        );
        assert!(
            code.contains("inline"),
            "the inline enum parameter is written in place"
        );

        // Without the option, the same response is a body like any other.
        let (plain, _) = generate(&spec, &Options::default()).unwrap();
        assert!(!plain.contains("runtime::Refused<404>"));
        assert!(!plain.contains("error_body"));
        assert!(plain.contains("pub trait ThingsApi"));
    }

    #[test]
    fn every_operation_gets_a_handler_a_request_and_a_response() {
        let spec = fixture();
        let code = generate_strict(&spec).unwrap();
        for op in operations(&spec).unwrap().0 {
            let pascal = op.model.names.pascal.clone();
            assert!(
                code.contains(&format!("pub struct {pascal}Request")),
                "{}",
                op.model.id
            );
            assert!(
                code.contains(&format!("pub enum {pascal}Response")),
                "{}",
                op.model.id
            );
            assert!(
                code.contains(&format!("pub fn {}<A: WidgetsApi>", snake(&op.model.id))),
                "{}",
                op.model.id
            );
            assert!(
                code.contains(&format!("operation_id = \"{}\"", op.model.id)),
                "{}",
                op.model.id
            );
        }
    }

    /// A problem response is built from a `runtime::Refused` of its status:
    /// each registered status has one `From` impl (a number before its
    /// range, a range before `default`), none for what is undocumented.
    #[test]
    fn problems_are_built_only_for_documented_statuses() {
        let problem = serde_json::json!({ "application/problem+json": { "schema": {
            "type": "object", "properties": { "title": { "type": "string" } }
        } } });
        let spec = serde_json::json!({
            "openapi": "3.0.3",
            "info": { "title": "Things", "version": "1" },
            "paths": {
                "/things": { "get": { "operationId": "getThings", "responses": {
                    "200": { "description": "Things." },
                    "404": { "description": "None.", "content": problem },
                    "4XX": { "description": "Refused.", "content": problem },
                    "default": { "description": "Failed.", "content": problem }
                } } },
                "/others": { "get": { "operationId": "getOthers", "responses": {
                    "200": { "description": "Others." },
                    "409": { "description": "Taken.", "content": problem }
                } } }
            }
        });
        let (code, refusals) = generate(&spec, &Options::default()).unwrap();
        assert!(refusals.is_empty(), "{refusals:#?}");
        let from = |status: u16, op: &str| {
            code.matches(&format!(
                "impl From<runtime::Refused<{status}>> for {op}Refusal"
            ))
            .count()
        };
        for status in [400, 404, 418, 422, 500, 503] {
            assert_eq!(from(status, "GetThings"), 1, "{status}");
        }
        assert_eq!(from(409, "GetOthers"), 1);
        for status in [400, 404, 500] {
            assert_eq!(from(status, "GetOthers"), 0, "{status}");
        }
        // Unregistered statuses have no marker of their own.
        assert_eq!(from(499, "GetThings"), 0);
        assert!(code.contains("NotFound(runtime::Refused<404>)"));
        assert!(code.contains("ClientError(Box<runtime::Rejection>)"));
        assert!(code.contains("runtime::ranged(4, *problem)"));
        assert!(code.contains("runtime::ranged(0, *problem)"));
        assert!(code.contains("Output = Result<GetThingsResponse, GetThingsRefusal>"));
    }

    /// The generated code, or the refusals as an error (strict mode).
    fn generate_strict(spec: &serde_json::Value) -> anyhow::Result<String> {
        let (code, refusals) = generate(spec, &Options::default())?;
        if !refusals.is_empty() {
            let list: Vec<String> = refusals
                .iter()
                .map(|r| format!("{}: {}", r.pointer, r.reason))
                .collect();
            anyhow::bail!("{}", list.join("\n"));
        }
        Ok(code)
    }

    #[test]
    fn security_schemes_become_the_routers_table() {
        let spec = spec_with(|spec| {
            let schemes = &mut spec["components"]["securitySchemes"];
            schemes["key"] = serde_json::json!({ "type": "apiKey", "in": "query", "name": "k" });
            schemes["basic"] = serde_json::json!({ "type": "http", "scheme": "basic" });
            schemes["digest"] = serde_json::json!({ "type": "http", "scheme": "digest" });
            spec["paths"]["/widgets"]["get"]["security"] = serde_json::json!([
                { "key": [], "basic": [] },
                { "bearerAuth": ["widgets:read"] },
            ]);
            spec["paths"]["/widgets"]["post"]["security"] = serde_json::json!([{ "digest": [] }]);
        });
        let (code, refusals) = generate(&spec, &Options::default()).unwrap();
        let flat: String = code.split_whitespace().collect::<Vec<_>>().join(" ");
        let flat = flat.replace("( ", "(").replace(" )", ")");
        assert!(
            flat.contains(
                r#"security(("basic" = [], "key" = []), ("bearerAuth" = ["widgets:read"]))"#
            ),
            "the utoipa attribute lists both requirements (a requirement's schemes by name)"
        );
        assert!(flat.contains(
            r#"kind: runtime::SchemeKind::ApiKey { location: runtime::KeyLocation::Query, name: "k", }"#
        ));
        assert!(flat.contains(r#"name: "basic", kind: runtime::SchemeKind::Basic, scopes: &[],"#));
        let refusals: Vec<String> = refusals
            .iter()
            .map(|r| format!("{}: {}", r.pointer, r.reason))
            .collect();
        assert_eq!(
            refusals,
            [
                "/paths/~1widgets/post: security scheme digest (http digest): the router reads bearer tokens, HTTP basic and API keys"
            ]
        );
    }

    /// The generators' test API (`fixtures/widgets.yaml`).
    pub(crate) fn fixture() -> serde_json::Value {
        yaml_serde::from_str(include_str!("fixtures/widgets.yaml")).unwrap()
    }

    fn spec_with(change: impl FnOnce(&mut serde_json::Value)) -> serde_json::Value {
        let mut spec = fixture();
        change(&mut spec);
        spec
    }

    #[test]
    fn a_member_whose_type_holds_its_owner_is_boxed() {
        let spec = spec_with(|spec| {
            let schemas = &mut spec["components"]["schemas"];
            schemas["ListMatcher"] = serde_json::json!({ "type": "object", "properties": {
                "oneOf": { "$ref": "#/components/schemas/ValueMatcher" },
                "all": { "type": "array", "items": { "$ref": "#/components/schemas/ValueMatcher" } },
            } });
            schemas["ValueMatcher"] = serde_json::json!({ "type": "object", "properties": {
                "list": { "$ref": "#/components/schemas/ListMatcher" },
                "exact": { "type": "string" },
            } });
        });
        let code = generate_strict(&spec).unwrap();
        assert!(
            code.contains("pub one_of: Option<Box<ValueMatcher>>"),
            "boxed"
        );
        assert!(code.contains("pub list: Option<Box<ListMatcher>>"), "boxed");
        assert!(
            code.contains("pub all: Option<Vec<ValueMatcher>>"),
            "on the heap already"
        );
    }

    #[test]
    fn parameters_named_as_the_decoders_locals_do_not_shadow_them() {
        let spec = spec_with(|spec| {
            let params = spec["paths"]["/widgets"]["get"]["parameters"]
                .as_array_mut()
                .unwrap();
            for name in ["start", "errors", "params", "root"] {
                params.push(serde_json::json!({ "name": name, "in": "query", "schema": { "type": "string" } }));
            }
        });
        let code = generate_strict(&spec).unwrap();
        let flat: String = code.split_whitespace().collect::<Vec<_>>().join(" ");
        for name in ["start", "errors", "params", "root"] {
            assert!(
                flat.contains(&format!("let __{name}: runtime::decode::Slot<String>")),
                "{name}"
            );
            assert!(
                flat.contains(&format!("{name}: __{name}.into_option(),")),
                "{name}"
            );
        }
        assert!(flat.contains("let start = errors.len();"));
    }

    #[test]
    fn unique_items_without_an_order_stay_a_list_checked_as_json() {
        let spec = spec_with(|spec| {
            spec["components"]["schemas"]["WidgetCreate"]["properties"]["owners"] = serde_json::json!({
                "type": "array",
                "uniqueItems": true,
                "items": { "$ref": "#/components/schemas/Owner" },
            });
            spec["components"]["schemas"]["WidgetCreate"]["properties"]["weights"] = serde_json::json!({
                "type": "array",
                "uniqueItems": true,
                "items": { "type": "number" },
            });
        });
        let code = generate_strict(&spec).unwrap();
        let flat: String = code.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains("pub owners: Option<Vec<Owner>>"), "a list");
        assert!(flat.contains("pub weights: Option<Vec<f64>>"), "a list");
        assert!(
            flat.contains("pub tags: Option<std::collections::BTreeSet<String>>"),
            "a set"
        );
        assert_eq!(
            flat.matches("if !runtime::decode::all_distinct_json(items)")
                .count(),
            2,
            "both lists are checked on the items as sent"
        );
    }

    #[test]
    fn a_union_of_a_string_and_an_object_is_decoded_by_the_json_type_sent() {
        let spec = spec_with(|spec| {
            spec["components"]["schemas"]["WidgetCreate"]["properties"]["holder"] = serde_json::json!({
                "nullable": true,
                "anyOf": [
                    { "type": "string", "maxLength": 10 },
                    { "$ref": "#/components/schemas/Owner" },
                    { "type": "array", "items": { "type": "string" } },
                ],
            });
        });
        let code = generate_strict(&spec).unwrap();
        let flat: String = code.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains("pub enum WidgetCreateHolder { String(String), Owner(Box<Owner>), Array(Vec<String>), }"),
            "one variant per member"
        );
        assert!(
            flat.contains("pub holder: Option<Option<WidgetCreateHolder>>"),
            "nullable"
        );
        assert!(flat.contains(
            "runtime::decode::Kind::Object => { (<Owner as runtime::decode::Decode>::decode(raw, path, errors)) .map(|v| Self::Owner(Box::new(v))) }"
        ));
        assert!(flat.contains(r#""must be a string, an object or an array""#));
        // Two members of one JSON type could both match: refused.
        let spec = spec_with(|spec| {
            spec["components"]["schemas"]["WidgetCreate"]["properties"]["holder"] = serde_json::json!({
                "oneOf": [
                    { "$ref": "#/components/schemas/Owner" },
                    { "$ref": "#/components/schemas/Dimensions" },
                ],
            });
        });
        let error = generate_strict(&spec).unwrap_err();
        assert!(
            format!("{error:#}").contains("holder/oneOf: two members of type object"),
            "{error:#}"
        );
    }

    #[test]
    fn exclusive_bounds_and_multiples_are_checked() {
        let spec = spec_with(|spec| {
            spec["components"]["schemas"]["WidgetCreate"]["properties"]["price"] = serde_json::json!({
                "type": "number",
                "minimum": 0, "exclusiveMinimum": true,
                "maximum": 100, "exclusiveMaximum": true,
                "multipleOf": 0.25,
            });
            spec["components"]["schemas"]["WidgetCreate"]["properties"]["count"] = serde_json::json!({
                "type": "integer", "minimum": 5, "exclusiveMinimum": false, "multipleOf": 5,
            });
        });
        let code = generate_strict(&spec).unwrap();
        let flat: String = code.split_whitespace().collect::<Vec<_>>().join(" ");
        for check in [
            r#"if (value as f64) <= 0f64 { errors.push(path, "minimum", "must be greater than 0");"#,
            r#"if (value as f64) >= 100f64 { errors.push(path, "maximum", "must be less than 100");"#,
            r#"if !runtime::decode::multiple_of(value as f64, 0.25f64) {"#,
            r#"(path, "multiple-of", "must be a multiple of 0.25");"#,
            r#"if (value as f64) < 5f64 { errors.push(path, "minimum", "must be at least 5");"#,
            r#"if !runtime::decode::multiple_of(value as f64, 5f64) {"#,
            r#"(path, "multiple-of", "must be a multiple of 5");"#,
            "#[schema( exclusive_minimum = 0f64, exclusive_maximum = 100f64, multiple_of = 0.25f64,",
            "#[schema(minimum = 5f64, multiple_of = 5f64, nullable = false)] pub count",
        ] {
            assert!(flat.contains(check), "{check}");
        }
        let spec = spec_with(|spec| {
            spec["components"]["schemas"]["WidgetCreate"]["properties"]["count"] =
                serde_json::json!({ "type": "integer", "multipleOf": 0 });
        });
        let error = generate_strict(&spec).unwrap_err();
        assert!(format!("{error:#}").contains("count/multipleOf: 0 is not a number above 0"));
    }

    #[test]
    fn a_schema_of_annotations_alone_is_any_value() {
        let spec = spec_with(|spec| {
            spec["components"]["schemas"]["WidgetCreate"]["properties"]["extra"] = serde_json::json!({
                "nullable": true,
                "default": null,
                "description": "Anything the caller keeps here.",
                "externalDocs": { "url": "https://example.com" },
            });
        });
        let code = generate_strict(&spec).unwrap();
        let flat: String = code.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains("pub extra: Option<Option<serde_json::Value>>"),
            "any value, null told from absent"
        );
        // A rule is not an annotation: the schema is refused, not read as any value.
        let spec = spec_with(|spec| {
            spec["components"]["schemas"]["WidgetCreate"]["properties"]["extra"] =
                serde_json::json!({ "x-rules": [{ "kind": "luhn" }] });
        });
        assert!(generate_strict(&spec).is_err());
    }

    #[test]
    fn a_format_without_a_check_is_read_as_its_type() {
        let spec = spec_with(|spec| {
            spec["components"]["schemas"]["Contact"]["format"] = "idn-email".into()
        });
        let code = generate_strict(&spec).unwrap();
        assert!(code.contains(r#"format = "idn-email""#), "documented");
        assert!(!code.contains("is not a valid idn-email"), "not checked");
    }

    #[test]
    fn what_the_decoders_cannot_check_is_an_error_naming_its_pointer() {
        type Change = Box<dyn FnOnce(&mut serde_json::Value)>;
        let cases: [(&str, Change); 4] = [
            (
                "/components/schemas/Label/additionalItems",
                Box::new(|spec| {
                    spec["components"]["schemas"]["Label"]["additionalItems"] = false.into()
                }),
            ),
            (
                "/components/schemas/WidgetPatch/x-rules/0",
                Box::new(|spec| {
                    spec["components"]["schemas"]["WidgetPatch"]["x-rules"][0]["kind"] =
                        "luhn".into()
                }),
            ),
            (
                "/components/schemas/Code/pattern",
                Box::new(|spec| spec["components"]["schemas"]["Code"]["pattern"] = "([".into()),
            ),
            (
                "/components/schemas/Dimensions/allOf/0/anyOf/0/properties/unit/const",
                Box::new(|spec| {
                    spec["components"]["schemas"]["Dimensions"]["allOf"][0]["anyOf"][0]["properties"]
                        ["unit"] = serde_json::json!({ "const": "in" })
                }),
            ),
        ];
        for (pointer, change) in cases {
            let error = generate_strict(&spec_with(change)).unwrap_err();
            assert!(
                format!("{error:#}").contains(pointer),
                "{pointer}: {error:#}"
            );
        }
    }

    #[test]
    fn merge_patches_merge_objects_and_maps_and_replace_the_rest() {
        let spec = spec_with(|_| {});
        let code = generate_strict(&spec).unwrap();
        for merged in ["WidgetPatch", "DimensionsPatch"] {
            assert!(
                code.contains(&format!("impl runtime::merge::Merge for {merged} ")),
                "{merged}"
            );
        }
        // An object a patch must send whole is replaced, not merged.
        assert!(!code.contains("impl runtime::merge::Merge for Owner "));
        assert!(!code.contains("impl runtime::merge::Merge for WidgetCreate "));
        let merge = &code[code
            .find("impl runtime::merge::Merge for WidgetPatch ")
            .unwrap()..];
        let merge = &merge[..merge.find("\n    }\n").unwrap()];
        assert!(
            merge.contains("runtime::merge::object(&mut self.dimensions, value)"),
            "{merge}"
        );
        assert!(
            merge.contains("runtime::merge::map_removing(&mut self.attributes, value)"),
            "{merge}"
        );
        assert!(
            merge.contains("runtime::merge::replace(&mut self.owner, value)"),
            "{merge}"
        );
        // An object with required and optional members cannot be either.
        let spec = spec_with(|spec| {
            spec["components"]["schemas"]["DimensionsPatch"]["required"] =
                serde_json::json!(["unit"]);
        });
        let error = generate_strict(&spec).unwrap_err();
        assert!(
            format!("{error:#}").contains("/components/schemas/DimensionsPatch"),
            "{error:#}"
        );
    }

    #[test]
    fn parameters_the_router_cannot_read_stop_generation() {
        use serde_json::json;
        for (param, expected) in [
            (
                json!({ "name": "session", "in": "cookie", "schema": { "type": "string" } }),
                "cookie parameters are not supported",
            ),
            (
                json!({ "name": "ids", "in": "query", "style": "pipeDelimited", "schema": { "type": "array", "items": { "type": "string" } } }),
                "is not supported",
            ),
        ] {
            let spec = spec_with(|spec| {
                spec["paths"]["/widgets"]["get"]["parameters"]
                    .as_array_mut()
                    .unwrap()
                    .push(param)
            });
            let error = generate_strict(&spec).unwrap_err();
            let text = format!("{error:#}");
            assert!(text.contains("/paths/~1widgets/get: parameter"), "{text}");
            assert!(text.contains(expected), "{text}");
        }
    }

    #[test]
    fn member_names_are_constants_and_must_not_collide() {
        let code = generate_strict(&spec_with(|_| {})).unwrap();
        assert!(code.contains("pub const ACTIVATED_AT: &str = \"activatedAt\";"));
        assert!(code.contains("pub mod list_widgets_query {"));
        let spec = spec_with(|spec| {
            spec["components"]["schemas"]["Settings"]["properties"]["retry_delay_minutes"] =
                serde_json::json!({ "type": "integer" });
        });
        let error = generate_strict(&spec).unwrap_err();
        assert!(
            format!("{error:#}").contains("RETRY_DELAY_MINUTES"),
            "{error:#}"
        );
    }

    #[test]
    fn a_message_rule_for_no_keyword_is_an_error() {
        let spec = spec_with(|spec| {
            spec["components"]["schemas"]["WidgetPatch"]["x-rules"][1]["keyword"] =
                "allOf/9/not".into()
        });
        let error = generate_strict(&spec).unwrap_err();
        assert!(
            format!("{error:#}").contains("/components/schemas/WidgetPatch/x-rules/1"),
            "{error:#}"
        );
    }

    /// A body in media types other than JSON is handed over as sent: alone
    /// as a `RawBody`, beside JSON as a `Payload` whose JSON is decoded.
    #[test]
    fn bodies_in_other_media_types_are_handed_over_raw() {
        let spec = serde_json::json!({
            "openapi": "3.0.3",
            "info": { "title": "Files", "version": "1" },
            "paths": {
                "/pets": { "post": {
                    "operationId": "addPet",
                    "requestBody": { "required": true, "content": {
                        "application/json": { "schema": { "$ref": "#/components/schemas/Pet" } },
                        "application/xml": { "schema": { "$ref": "#/components/schemas/Pet" } },
                        "application/x-www-form-urlencoded": { "schema": { "$ref": "#/components/schemas/Pet" } }
                    } },
                    "responses": { "204": { "description": "Added." } }
                } },
                "/files": { "put": {
                    "operationId": "putFile",
                    "requestBody": { "required": true, "content": {
                        "application/octet-stream": { "schema": { "type": "string", "format": "binary" } },
                        "image/*": {}
                    } },
                    "responses": { "204": { "description": "Stored." } }
                } }
            },
            "components": { "schemas": { "Pet": {
                "type": "object", "required": ["name"], "properties": { "name": { "type": "string" } }
            } } }
        });
        let (code, refusals) = generate(&spec, &Options::default()).unwrap();
        assert!(refusals.is_empty(), "{refusals:#?}");
        for expected in [
            "pub body: runtime::Payload<Pet>,",
            "let body = runtime::payload::<",
            "raw_media_types: &[\"application/x-www-form-urlencoded\", \"application/xml\"],",
            "(Pet = \"application/xml\")",
            "pub body: runtime::RawBody,",
            "let body = runtime::raw_body(",
            "media_types: &[],",
            "raw_media_types: &[\"application/octet-stream\", \"image/*\"],",
            "(Vec<u8>= \"image/*\")",
        ] {
            assert!(code.contains(expected), "{expected}\n{code}");
        }
    }

    /// Shapes another API's spec has: no security, no components, inline
    /// bodies, `default` and range responses, a hyphenated `operationId`, a
    /// keyword as a member, `head`, and no `operationId` at all.
    #[test]
    fn another_apis_shapes_generate() {
        let spec = serde_json::json!({
            "openapi": "3.0.3",
            "info": { "title": "Things", "version": "1" },
            "paths": {
                "/things": {
                    "get": {
                        "operationId": "GET-THINGS",
                        "responses": {
                            "200": { "description": "Things.", "content": { "application/json": { "schema": {
                                "type": "array",
                                "items": { "type": "object", "properties": { "move": { "type": "string" } } }
                            } } } },
                            "4XX": { "description": "A problem.", "content": { "application/json": { "schema": {
                                "type": "object", "properties": { "message": { "type": "string" } }
                            } } } },
                            "default": { "description": "Anything else." }
                        }
                    },
                    "head": { "responses": { "204": { "description": "There are things." } } },
                    "post": {
                        "operationId": "addThing",
                        "requestBody": { "required": true, "content": { "application/json": { "schema": {
                            "type": "object", "required": ["move"], "properties": { "move": { "type": "string", "maxLength": 5 } }
                        } } } },
                        "responses": { "201": { "description": "Added.", "content": { "text/plain": { "schema": { "type": "string" } } } } }
                    }
                }
            }
        });
        let (code, refusals) = generate(&spec, &Options::default()).unwrap();
        assert!(refusals.is_empty(), "{refusals:#?}");
        for expected in [
            "pub fn get_things<A: ThingsApi>",
            "pub fn head_things<A: ThingsApi>",
            "pub struct GetThingsOkBody(pub Vec<GetThingsOkBodyItem>);",
            "pub move_: Option<String>,",
            "ClientError {\n        body: runtime::Body<GetThingsStatus4XXBody>,\n        status: http::StatusCode,\n    },",
            "Default { status: http::StatusCode },",
            "Created { body: axum::body::Bytes },",
            "pub body: AddThingBody,",
            "impl runtime::decode::Decode for AddThingBody",
            "security: &[],",
            "status_classes: &[4u16],",
            "default_response: true,",
        ] {
            assert!(code.contains(expected), "{expected}");
        }
        // A scheme the router cannot read is left out, named.
        let mut keyed = spec;
        keyed["components"]["securitySchemes"] =
            serde_json::json!({ "key": { "type": "http", "scheme": "digest" } });
        keyed["paths"]["/things"]["post"]["security"] = serde_json::json!([{ "key": [] }]);
        let (code, refusals) = generate(&keyed, &Options::default()).unwrap();
        assert_eq!(refusals.len(), 1, "{refusals:#?}");
        assert_eq!(refusals[0].pointer, "/paths/~1things/post");
        assert!(
            refusals[0].reason.contains("http digest"),
            "{}",
            refusals[0].reason
        );
        assert!(!code.contains("pub fn add_thing<A: ThingsApi>"));
        assert!(code.contains("pub fn get_things<A: ThingsApi>"));
    }

    #[test]
    fn an_unsupported_schema_is_an_error_not_a_guess() {
        let mut spec = fixture();
        spec["components"]["schemas"]["WidgetCreate"]["properties"]["blob"] = serde_json::json!({
            "oneOf": [{ "type": "object", "properties": { "a": { "type": "string" } } }, { "type": "string" }]
        });
        let (_, refusals) = generate(&spec, &Options::default()).unwrap();
        assert!(
            refusals
                .iter()
                .any(|r| r.pointer == "/components/schemas/WidgetCreate"),
            "{refusals:?}"
        );
        assert!(
            refusals
                .iter()
                .any(|r| r.pointer == "/paths/~1widgets/post"),
            "an operation whose body is left out is left out: {refusals:?}"
        );
    }
}
