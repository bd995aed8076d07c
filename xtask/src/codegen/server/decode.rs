//! The decoders: straight-line Rust, per request schema and per operation's
//! parameters, that turns JSON bytes or parameter text into the generated
//! types and checks every constraint the spec states on the way.
//!
//! Each emitted expression has `raw` (a `&Json`), `path` (a
//! `&runtime::decode::Path`) and `errors` (a `&mut runtime::decode::Errors`)
//! in scope, or `text` (a `&str`) for parameters, and evaluates to
//! `Option<T>`: `None` after recording exactly one error for the value.
//! A keyword, format or `x-rules` kind the generator does not understand is
//! an error naming its JSON Pointer, never a silent pass.

use std::collections::BTreeSet;

use anyhow::{Context, bail};
use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};
use serde_json::Value;

use super::{FieldType, Gen};

/// What a composition predicate may ask of a member's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ValueKind {
    /// A `String`.
    Str,
    /// A generated string enum (`FromText`).
    Enum,
    /// A `chrono::NaiveDate`.
    Date,
    /// A `Vec` or `BTreeSet`.
    Set,
    /// Anything else.
    Other,
}

/// Where a scalar comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// A JSON value (`raw`).
    Json,
    /// A parameter's text (`text`).
    Text,
}

/// One member of an object schema, as its decoder needs it.
pub(super) struct Member {
    pub(super) name: String,
    pub(super) ident: Ident,
    pub(super) ty: TokenStream,
    pub(super) required: bool,
    pub(super) nullable: bool,
    pub(super) kind: ValueKind,
    pub(super) decode: TokenStream,
}

/// The keywords a request schema may use: validation keywords the decoders
/// check, and annotations they may ignore.
const KNOWN_KEYWORDS: [&str; 41] = [
    "$ref",
    "type",
    "format",
    "nullable",
    "enum",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "items",
    "minItems",
    "maxItems",
    "uniqueItems",
    "properties",
    "required",
    "additionalProperties",
    "minProperties",
    "maxProperties",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "description",
    "title",
    "example",
    "examples",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
    "x-rules",
    "x-nullable",
    "x-privileged",
    "x-enum-varnames",
    "x-extensible-enum",
    "externalDocs",
    // Which schema extending this one a value is: it validates nothing.
    "discriminator",
];

/// The string formats the decoders check, each with its check in
/// `runtime::decode::format`.
pub(crate) const CHECKED_FORMATS: [(&str, &str); 10] = [
    ("date", "date"),
    ("date-time", "date_time"),
    ("uuid", "uuid"),
    ("email", "email"),
    ("uri", "uri"),
    ("uri-reference", "uri_reference"),
    ("ipv4", "ipv4"),
    ("ipv6", "ipv6"),
    ("ip", "ip"),
    ("hostname", "hostname"),
];

/// The formats that only annotate: with the checked ones, what the
/// project's own spec may use (its Spectral rule `users-string-format`
/// lists them).
#[cfg(test)]
pub(crate) const ANNOTATION_FORMATS: [&str; 7] = [
    "int32", "int64", "float", "double", "password", "byte", "binary",
];

pub(super) use crate::codegen::naming::escape;

/// `must be a string`, `must be an object or null`.
pub(super) fn type_message(ty: &str, nullable: bool) -> String {
    let article = if matches!(ty, "array" | "integer" | "object") {
        "an"
    } else {
        "a"
    };
    let null = if nullable { " or null" } else { "" };
    format!("must be {article} {ty}{null}")
}

/// Fails on a keyword, format or `x-rules` kind of `schema` that the
/// decoders do not understand.
pub(super) fn check_keywords(schema: &Value, ptr: &str) -> anyhow::Result<()> {
    let Some(object) = schema.as_object() else {
        bail!("{ptr}: a schema must be an object");
    };
    for key in object.keys() {
        // Another vendor's extensions (`x-swagger-router-model`,
        // `x-rust-type`) say nothing about which values are valid.
        let foreign_extension = key.starts_with("x-") && !key.starts_with("x-rule");
        if !KNOWN_KEYWORDS.contains(&key.as_str()) && !foreign_extension && key != "xml" {
            bail!(
                "{ptr}/{}: the generator does not understand this keyword",
                escape(key)
            );
        }
    }
    // A `format` with no check here (`uri-template`, `google-datetime`) is
    // read as its type alone, as OpenAPI 3.0.3 lets a tool do with a format
    // it does not recognize; the project's own spec uses only the formats
    // below (`cargo xtask lint-spec`, rule `users-string-format`).
    for (i, rule) in rules(schema).enumerate() {
        let kind = rule["kind"].as_str().unwrap_or_default();
        if ![
            "message",
            "date-not-in-future",
            "property-names",
            "disjoint",
        ]
        .contains(&kind)
        {
            bail!("{ptr}/x-rules/{i}: the generator does not understand kind {kind:?}");
        }
    }
    Ok(())
}

fn rules(schema: &Value) -> impl Iterator<Item = &Value> {
    schema
        .get("x-rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// How an `x-rules` entry of kind `message` words the error of `keyword` (a
/// pointer relative to `schema`): its field, code and message.
fn wording(schema: &Value, keyword: &str) -> Option<(String, String, String)> {
    rules(schema)
        .find(|r| r["kind"] == "message" && r["keyword"] == keyword)
        .map(|r| {
            let text = |key: &str| r[key].as_str().unwrap_or_default().to_owned();
            (text("field"), text("code"), text("message"))
        })
}

/// Every component schema that a request body or parameter reaches.
pub(super) fn request_schemas(spec: &Value) -> anyhow::Result<BTreeSet<String>> {
    fn walk(spec: &Value, value: &Value, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(object) => {
                if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
                    if let Some(name) = reference.strip_prefix("#/components/schemas/") {
                        if out.insert(name.to_owned())
                            && let Some(target) = spec.pointer(&reference[1..])
                        {
                            walk(spec, target, out);
                        }
                    } else if let Some(target) = spec.pointer(reference.trim_start_matches('#')) {
                        walk(spec, target, out);
                    }
                }
                for (key, child) in object {
                    if key != "example" && key != "examples" {
                        walk(spec, child, out);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(spec, i, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    for item in spec["paths"]
        .as_object()
        .context("paths")?
        .values()
        .filter_map(Value::as_object)
    {
        for (key, op) in item {
            if key == "parameters" {
                walk(spec, op, &mut out);
                continue;
            }
            for part in ["parameters", "requestBody"] {
                if let Some(value) = op.get(part) {
                    walk(spec, value, &mut out);
                }
            }
        }
    }
    Ok(out)
}

/// Every member name a component schema marks `readOnly`: a request that
/// sends one hears `read-only` rather than `unknown-field`.
pub(super) fn read_only_members(spec: &Value) -> Vec<String> {
    let mut out = BTreeSet::new();
    for schema in spec["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, s)| s)
    {
        for (name, property) in schema["properties"].as_object().into_iter().flatten() {
            if property["readOnly"] == Value::Bool(true) {
                out.insert(name.clone());
            }
        }
    }
    out.into_iter().collect()
}

/// `if !(condition) { fail }` for one keyword of a scalar: its error, worded
/// as the schema's `x-rules` say, ends the value's checks.
fn fail(
    schema: &Value,
    keyword: &str,
    code: &str,
    message: String,
    label: &syn::Lifetime,
) -> TokenStream {
    let (code, message) =
        wording(schema, keyword).map_or((code.to_owned(), message), |(_, c, m)| (c, m));
    quote!({ errors.push(path, #code, #message); break #label None; })
}

fn number_text(value: &Value) -> String {
    value.to_string()
}

impl Gen<'_> {
    fn label(&mut self) -> syn::Lifetime {
        self.labels += 1;
        syn::Lifetime::new(&format!("'c{}", self.labels), Span::call_site())
    }

    /// The static holding `pattern`, compiled once; the pattern must compile.
    fn pattern(&mut self, pattern: &str, ptr: &str) -> anyhow::Result<TokenStream> {
        // `regex` (linear time) where it can; look-around and
        // back-references with `fancy-regex`.
        let fancy = match regex::Regex::new(pattern) {
            Ok(_) => false,
            Err(err) => match fancy_regex::Regex::new(pattern) {
                Ok(_) => true,
                Err(_) => bail!("{ptr}/pattern: {pattern:?} does not compile: {err}"),
            },
        };
        let next = self.patterns.len();
        let ident = match self.patterns.get(pattern) {
            Some((ident, _)) => ident.clone(),
            None => {
                let ident = format_ident!("P{}", next);
                self.patterns
                    .insert(pattern.to_owned(), (ident.clone(), fancy));
                self.journal.push(super::Undo::Pattern(pattern.to_owned()));
                ident
            }
        };
        Ok(quote!(crate::generated::patterns::#ident))
    }

    /// The decoder of a string, integer, number or boolean schema.
    pub(super) fn scalar_decode(
        &mut self,
        target: &Value,
        ptr: &str,
        nullable: bool,
        source: Source,
    ) -> anyhow::Result<TokenStream> {
        let ty = target["type"].as_str().unwrap_or_default();
        let label = self.label();
        let type_msg = type_message(ty, nullable);
        let mut checks = Vec::new();
        let bound = |key: &str| target.get(key).filter(|v| v.is_number());
        let convert;
        let get = match ty {
            "string" => {
                checks.push({
                    let fail = fail(
                        target,
                        "",
                        "nul-character",
                        "must not contain a NUL character".into(),
                        &label,
                    );
                    quote!(if value.contains('\0') #fail)
                });
                let max = target.get("maxLength").and_then(Value::as_u64);
                // A lower bound of 0 admits every value: no check.
                let min = target
                    .get("minLength")
                    .and_then(Value::as_u64)
                    .filter(|n| *n > 0);
                if max.is_some() || min.is_some() {
                    checks.push(quote!(let length = runtime::decode::length(&value);));
                }
                if let Some(n) = max {
                    let fail = fail(
                        target,
                        "maxLength",
                        "max-length",
                        format!("must be at most {}", count(n, "character")),
                        &label,
                    );
                    let n = n as usize;
                    checks.push(quote!(if length > #n #fail));
                }
                if let Some(n) = min {
                    let fail = fail(
                        target,
                        "minLength",
                        "min-length",
                        format!("must be at least {}", count(n, "character")),
                        &label,
                    );
                    let n = n as usize;
                    checks.push(quote!(if length < #n #fail));
                }
                if let Some(pattern) = target.get("pattern").and_then(Value::as_str) {
                    let compiled = self.pattern(pattern, ptr)?;
                    let fail = fail(
                        target,
                        "pattern",
                        "pattern",
                        format!("does not match {pattern}"),
                        &label,
                    );
                    checks.push(quote!(if !#compiled.is_match(&value) #fail));
                }
                let format = target.get("format").and_then(Value::as_str);
                let check = CHECKED_FORMATS
                    .iter()
                    .find(|(name, _)| Some(*name) == format)
                    .map(|(_, check)| format_ident!("{}", check));
                if let (Some(check), Some(format)) = (check, format) {
                    let fail = fail(
                        target,
                        "format",
                        "format",
                        format!("is not a valid {format}"),
                        &label,
                    );
                    checks.push(quote!(if !runtime::decode::format::#check(&value) #fail));
                }
                convert = match format {
                    Some("date") => {
                        quote!(chrono::NaiveDate::parse_from_str(&value, "%Y-%m-%d").ok())
                    }
                    Some("date-time") => quote!(
                        chrono::DateTime::parse_from_rfc3339(&value)
                            .ok()
                            .map(|t| t.with_timezone(&chrono::Utc))
                    ),
                    Some("uuid") => quote!(uuid::Uuid::parse_str(&value).ok()),
                    // Parameter text is checked where it lies, and copied
                    // only when the value is a `String`.
                    _ => match source {
                        Source::Json => quote!(Some(value)),
                        Source::Text => quote!(Some(value.to_owned())),
                    },
                };
                match source {
                    Source::Json => quote!(runtime::decode::string(raw)),
                    Source::Text => quote!(Some(text)),
                }
            }
            "integer" | "number" => {
                // OpenAPI 3.0's `exclusiveMinimum: true` makes `minimum` a
                // bound the value must pass, not reach.
                let exclusive = |key: &str| target.get(key) == Some(&Value::Bool(true));
                if let Some(min) = bound("minimum") {
                    let text = number_text(min);
                    let min = min.as_f64().unwrap_or_default();
                    if exclusive("exclusiveMinimum") {
                        let message = format!("must be greater than {text}");
                        let fail = fail(target, "minimum", "minimum", message, &label);
                        checks.push(quote!(if (value as f64) <= #min #fail));
                    } else {
                        let message = format!("must be at least {text}");
                        let fail = fail(target, "minimum", "minimum", message, &label);
                        checks.push(quote!(if (value as f64) < #min #fail));
                    }
                }
                if let Some(max) = bound("maximum") {
                    let text = number_text(max);
                    let max = max.as_f64().unwrap_or_default();
                    if exclusive("exclusiveMaximum") {
                        let message = format!("must be less than {text}");
                        let fail = fail(target, "maximum", "maximum", message, &label);
                        checks.push(quote!(if (value as f64) >= #max #fail));
                    } else {
                        let message = format!("must be at most {text}");
                        let fail = fail(target, "maximum", "maximum", message, &label);
                        checks.push(quote!(if (value as f64) > #max #fail));
                    }
                }
                if let Some(step) = target.get("multipleOf") {
                    let Some(by) = step.as_f64().filter(|by| *by > 0.0) else {
                        bail!("{ptr}/multipleOf: {step} is not a number above 0");
                    };
                    let message = format!("must be a multiple of {}", number_text(step));
                    let fail = fail(target, "multipleOf", "multiple-of", message, &label);
                    checks.push(quote!(if !runtime::decode::multiple_of(value as f64, #by) #fail));
                }
                if ty == "integer" {
                    if target.get("format").and_then(Value::as_str) == Some("int64") {
                        convert = quote!(Some(value));
                    } else {
                        let fail = fail(
                            target,
                            "format",
                            "format",
                            "must be a 32-bit integer".into(),
                            &label,
                        );
                        checks.push(quote!(if i32::try_from(value).is_err() #fail));
                        convert = quote!(i32::try_from(value).ok());
                    }
                    match source {
                        Source::Json => quote!(runtime::decode::integer(raw)),
                        Source::Text => quote!(text.parse::<i64>().ok()),
                    }
                } else {
                    convert = quote!(Some(value));
                    match source {
                        Source::Json => {
                            quote!(runtime::decode::number(raw).and_then(|n| n.as_f64()))
                        }
                        Source::Text => quote!(text.parse::<f64>().ok().filter(|f| f.is_finite())),
                    }
                }
            }
            "boolean" => {
                convert = quote!(Some(value));
                match source {
                    Source::Json => quote!(runtime::decode::boolean(raw)),
                    Source::Text => quote!(match text {
                        "true" => Some(true),
                        "false" => Some(false),
                        _ => None,
                    }),
                }
            }
            other => bail!("{ptr}: no scalar decoder for type {other:?}"),
        };
        let body = if checks.iter().any(|c| c.to_string().contains("break")) {
            quote!(#label: { #(#checks)* #convert })
        } else {
            quote!({ #(#checks)* #convert })
        };
        Ok(quote! {
            match #get {
                None => { errors.push(path, "type", #type_msg); None }
                Some(value) => #body
            }
        })
    }

    /// The decoder of an array schema whose items decode with `item`.
    /// A query parameter that is an array (`form` style, exploded:
    /// `?tag=a&tag=b`) from `values`, its texts in order: each item
    /// decoded from its text at `<name>.<index>`, then the counts and
    /// uniqueness, as a body's array is checked.
    pub(super) fn query_array_decode(
        &mut self,
        target: &Value,
        item: &FieldType,
    ) -> anyhow::Result<TokenStream> {
        let item_text = item
            .text
            .as_ref()
            .context("an array parameter's items must be scalars")?;
        let label = self.label();
        let checks = count_checks(
            target,
            ["maxItems", "minItems"],
            "item",
            quote!(values),
            &label,
        );
        let item_ty = value_type(item);
        let (unique_check, collect) = unique_items(target, item, &item_ty, &label);
        Ok(quote! {
            #label: {
                #(#checks)*
                let start = errors.len();
                let mut out: Vec<#item_ty> = Vec::with_capacity(values.len());
                for (index, text) in values.iter().enumerate() {
                    let path = &path.index(index);
                    let text: &str = text;
                    if let Some(value) = #item_text {
                        out.push(value);
                    }
                }
                if errors.len() > start {
                    break #label None;
                }
                #unique_check
                Some(#collect)
            }
        })
    }

    pub(super) fn array_decode(
        &mut self,
        target: &Value,
        nullable: bool,
        item: &FieldType,
    ) -> anyhow::Result<TokenStream> {
        let label = self.label();
        let type_msg = type_message("array", nullable);
        let checks = count_checks(
            target,
            ["maxItems", "minItems"],
            "item",
            quote!(items),
            &label,
        );
        let item_decode = nullable_wrap(item);
        let item_ty = value_type(item);
        let (unique_check, collect) = unique_items(target, item, &item_ty, &label);
        Ok(quote! {
            match runtime::decode::items(raw) {
                None => { errors.push(path, "type", #type_msg); None }
                Some(items) => { #label: {
                    #(#checks)*
                    let start = errors.len();
                    let mut out: Vec<#item_ty> = Vec::with_capacity(items.len());
                    for (index, raw) in items.iter().enumerate() {
                        let path = &path.index(index);
                        if let Some(value) = #item_decode {
                            out.push(value);
                        }
                    }
                    if errors.len() > start {
                        break #label None;
                    }
                    #unique_check
                    Some(#collect)
                } }
            }
        })
    }

    /// The decoder of a map: an object schema with `additionalProperties`
    /// and no `properties`.
    pub(super) fn map_decode(
        &mut self,
        target: &Value,
        ptr: &str,
        nullable: bool,
        value: &FieldType,
    ) -> anyhow::Result<TokenStream> {
        let label = self.label();
        let type_msg = type_message("object", nullable);
        let checks = count_checks(
            target,
            ["maxProperties", "minProperties"],
            "member",
            quote!(members),
            &label,
        );
        let mut name_rules = Vec::new();
        for (i, rule) in rules(target).enumerate() {
            match rule["kind"].as_str() {
                Some("property-names") => {
                    let pattern = rule["pattern"]
                        .as_str()
                        .with_context(|| format!("{ptr}/x-rules/{i}: a pattern"))?;
                    let compiled = self.pattern(pattern, &format!("{ptr}/x-rules/{i}"))?;
                    let message = rule["message"]
                        .as_str()
                        .unwrap_or("is not a valid member name");
                    name_rules.push(quote! {
                        if !#compiled.is_match(key) {
                            errors.push(path, "property-name", #message);
                            continue;
                        }
                    });
                }
                Some("message") => {
                    let keyword = rule["keyword"].as_str().unwrap_or_default();
                    if !["maxProperties", "minProperties"].contains(&keyword) {
                        bail!("{ptr}/x-rules/{i}: keyword {keyword:?} is checked nowhere");
                    }
                }
                other => bail!("{ptr}/x-rules/{i}: kind {other:?} does not apply to a map"),
            }
        }
        let value_decode = nullable_wrap(value);
        let value_ty = value_type(value);
        Ok(quote! {
            match runtime::decode::members(raw) {
                None => { errors.push(path, "type", #type_msg); None }
                Some(members) => { #label: {
                    #(#checks)*
                    let start = errors.len();
                    let mut out = std::collections::BTreeMap::<String, #value_ty>::new();
                    for (key, raw) in members {
                        let raw: &runtime::decode::Json<'_> = raw;
                        let key: &str = key;
                        let path = &path.member(key);
                        if key.contains('\0') {
                            errors.push(path, "nul-character", "must not contain a NUL character");
                            continue;
                        }
                        #(#name_rules)*
                        if out.contains_key(key) {
                            errors.push(path, "duplicate-member", "is sent more than once");
                            continue;
                        }
                        if let Some(value) = #value_decode {
                            out.insert(key.to_owned(), value);
                        }
                    }
                    if errors.len() > start {
                        break #label None;
                    }
                    Some(out)
                } }
            }
        })
    }

    /// `impl Decode` for an object schema with `properties`: members in the
    /// order they were sent, then what is missing, then the rules relating
    /// members (compositions and `x-rules`), on the decoded value.
    pub(super) fn struct_decode(
        &mut self,
        name: &str,
        schema: &Value,
        ptr: &str,
        members: &[Member],
    ) -> anyhow::Result<TokenStream> {
        let ident = format_ident!("{}", name);
        let nullable = schema.get("nullable") == Some(&Value::Bool(true));
        let type_msg = type_message("object", nullable);
        let slots: Vec<Ident> = (0..members.len())
            .map(|i| format_ident!("slot_{}", i))
            .collect();
        let slot_tys = members.iter().map(|m| {
            let ty = &m.ty;
            if m.nullable {
                quote!(Option<#ty>)
            } else {
                quote!(#ty)
            }
        });
        let arms = members.iter().zip(&slots).map(|(m, slot)| {
            let name = &m.name;
            let decode = &m.decode;
            let decode = if m.nullable {
                quote!(if runtime::decode::is_null(raw) { Some(None) } else { (#decode).map(Some) })
            } else {
                quote!(#decode)
            };
            quote!(#name => #slot.fill(path, errors, |errors| #decode),)
        });
        let other = if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
            quote!(other => runtime::decode::unknown_member(path, other, crate::generated::READ_ONLY_MEMBERS, errors),)
        } else {
            quote!(_ => {})
        };
        let mut required_checks = Vec::new();
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let index = members
                .iter()
                .position(|m| m.name == name)
                .with_context(|| format!("{ptr}/required: {name} is not among the properties"))?;
            let slot = &slots[index];
            required_checks.push(quote! {
                if #slot.is_absent() {
                    errors.push(&path.member(#name), "required", "is required");
                }
            });
        }
        let mut count_checks = Vec::new();
        if let Some(n) = schema.get("maxProperties").and_then(Value::as_u64) {
            let n = n as usize;
            let message = format!("must have at most {}", count(n as u64, "member"));
            count_checks.push(
                quote!(if members.len() > #n { errors.push(path, "max-properties", #message); }),
            );
        }
        if let Some(n) = schema
            .get("minProperties")
            .and_then(Value::as_u64)
            .filter(|n| *n > 0)
        {
            let n = n as usize;
            let message = format!("must have at least {}", count(n as u64, "member"));
            count_checks.push(
                quote!(if members.len() < #n { errors.push(path, "min-properties", #message); }),
            );
        }
        let build = members.iter().zip(&slots).map(|(m, slot)| {
            let field = &m.ident;
            if m.required {
                quote!(#field: #slot.into_option()?)
            } else {
                quote!(#field: #slot.into_option())
            }
        });
        let rules = self.object_rules(schema, ptr, members)?;
        Ok(quote! {
            impl runtime::decode::Decode for #ident {
                fn decode(
                    raw: &runtime::decode::Json<'_>,
                    path: &runtime::decode::Path<'_>,
                    errors: &mut runtime::decode::Errors,
                ) -> Option<Self> {
                    let Some(members) = runtime::decode::members(raw) else {
                        errors.push(path, "type", #type_msg);
                        return None;
                    };
                    let start = errors.len();
                    #(let mut #slots: runtime::decode::Slot<#slot_tys> = runtime::decode::Slot::Absent;)*
                    for (key, raw) in members {
                        let raw: &runtime::decode::Json<'_> = raw;
                        let key: &str = key;
                        let path = &path.member(key);
                        match key {
                            #(#arms)*
                            #other
                        }
                    }
                    #(#required_checks)*
                    #(#count_checks)*
                    #(#rules)*
                    if errors.len() > start {
                        return None;
                    }
                    Some(Self { #(#build,)* })
                }
            }
        })
    }

    /// The checks relating an object's members, on their slots (a rule
    /// whose member failed to decode passes: that member has its error):
    /// each composition unit (an `anyOf`, `oneOf`, `not`, `required` or
    /// `properties` under the object's `allOf`, or beside its properties),
    /// worded by its `x-rules` message; then the `x-rules` kinds.
    fn object_rules(
        &mut self,
        schema: &Value,
        ptr: &str,
        members: &[Member],
    ) -> anyhow::Result<Vec<TokenStream>> {
        let mut units = Vec::new();
        for keyword in ["allOf", "anyOf", "oneOf", "not"] {
            if let Some(value) = schema.get(keyword) {
                collect_units(keyword, value, "", ptr, &mut units)?;
            }
        }
        let mut out = Vec::new();
        let mut worded = BTreeSet::new();
        for (keyword_ptr, unit) in units {
            // The unit is `{keyword: value}` taken from where the keyword sits.
            let base = match keyword_ptr.rsplit_once('/') {
                Some((parent, _)) => format!("{ptr}/{parent}"),
                None => ptr.to_owned(),
            };
            let predicate = self.predicate(&unit, &base, members)?;
            let (field, code, message) = match wording(schema, &keyword_ptr) {
                Some(found) => {
                    worded.insert(keyword_ptr.clone());
                    found
                }
                None => (
                    String::new(),
                    "invalid".to_owned(),
                    format!("does not satisfy {keyword_ptr}"),
                ),
            };
            let at = if field.is_empty() {
                quote!(path)
            } else {
                quote!(&path.member(#field))
            };
            out.push(quote! {
                if !(#predicate) {
                    errors.push(#at, #code, #message);
                }
            });
        }
        for (i, rule) in rules(schema).enumerate() {
            let here = format!("{ptr}/x-rules/{i}");
            let text = |key: &str| rule[key].as_str().unwrap_or_default().to_owned();
            let member = |name: &str| {
                members
                    .iter()
                    .find(|m| m.name == name)
                    .with_context(|| format!("{here}: {name} is not a member"))
            };
            let message = text("message");
            match rule["kind"].as_str().unwrap_or_default() {
                "message" => {
                    if !worded.contains(&text("keyword")) {
                        bail!("{here}: keyword {:?} is checked nowhere", text("keyword"));
                    }
                }
                "date-not-in-future" => {
                    let field = text("field");
                    let m = member(&field)?;
                    if m.kind != ValueKind::Date {
                        bail!("{here}: {field} is not a date");
                    }
                    let present = present(members, m);
                    out.push(quote! {
                        if let Some(date) = #present && *date > runtime::decode::today() {
                            errors.push(&path.member(#field), "date-out-of-range", #message);
                        }
                    });
                }
                "disjoint" => {
                    let field = text("field");
                    let m = member(&field)?;
                    let mine = present(members, m);
                    for other in rule["others"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        let o = member(other)?;
                        if m.kind != ValueKind::Set || o.kind != ValueKind::Set {
                            bail!("{here}: {field} and {other} are not both arrays");
                        }
                        let theirs = present(members, o);
                        out.push(quote! {
                            if let (Some(mine), Some(theirs)) = (#mine, #theirs)
                                && mine.iter().any(|m| theirs.contains(m))
                            {
                                errors.push(&path.member(#field), "disjoint", #message);
                            }
                        });
                    }
                }
                other => {
                    bail!("{here}: kind {other:?} does not apply to an object with properties")
                }
            }
        }
        Ok(out)
    }

    /// A `bool` expression: whether the decoded object `value` satisfies
    /// `schema` (a composition unit).
    fn predicate(
        &mut self,
        schema: &Value,
        ptr: &str,
        members: &[Member],
    ) -> anyhow::Result<TokenStream> {
        let object = schema
            .as_object()
            .with_context(|| format!("{ptr}: a schema"))?;
        let mut parts = Vec::new();
        for (key, value) in object {
            let here = format!("{ptr}/{}", escape(key));
            match key.as_str() {
                "required" => {
                    for name in value
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        let m = members
                            .iter()
                            .find(|m| m.name == name)
                            .with_context(|| format!("{here}: {name} is not a member"))?;
                        let slot = slot(members, m);
                        parts.push(quote!(!#slot.is_absent()));
                    }
                }
                "properties" => {
                    for (name, sub) in value.as_object().into_iter().flatten() {
                        let m = members
                            .iter()
                            .find(|m| &m.name == name)
                            .with_context(|| format!("{here}: {name} is not a member"))?;
                        let sub_ptr = format!("{here}/{}", escape(name));
                        let test = self.value_predicate(sub, &sub_ptr, m.kind)?;
                        let null = null_satisfies(sub, &sub_ptr)?;
                        let slot = slot(members, m);
                        parts.push(if m.nullable {
                            quote!(match #slot.given() {
                                None => true,
                                Some(None) => #null,
                                Some(Some(v)) => #test,
                            })
                        } else {
                            quote!(match #slot.given() { None => true, Some(v) => #test })
                        });
                    }
                }
                "anyOf" | "allOf" | "oneOf" => {
                    let mut tests = Vec::new();
                    for (i, sub) in value.as_array().into_iter().flatten().enumerate() {
                        tests.push(self.predicate(sub, &format!("{here}/{i}"), members)?);
                    }
                    parts.push(match key.as_str() {
                        "anyOf" => quote!((#(#tests)||*)),
                        "allOf" => conjunction(tests),
                        _ => quote!(([#(#tests),*].iter().filter(|t| **t).count() == 1)),
                    });
                }
                "not" => {
                    let test = self.predicate(value, &here, members)?;
                    parts.push(quote!(!(#test)));
                }
                "description" | "title" | "type" if key != "type" || value == "object" => {}
                _ => {
                    bail!("{here}: the generator does not understand this keyword in a composition")
                }
            }
        }
        Ok(conjunction(parts))
    }

    /// A `bool` expression: whether a member's value `v` (not null)
    /// satisfies `schema`.
    fn value_predicate(
        &mut self,
        schema: &Value,
        ptr: &str,
        kind: ValueKind,
    ) -> anyhow::Result<TokenStream> {
        let text = match kind {
            ValueKind::Str => Some(quote!(v.as_str())),
            ValueKind::Enum => Some(quote!(runtime::decode::FromText::as_text(v))),
            _ => None,
        };
        let object = schema
            .as_object()
            .with_context(|| format!("{ptr}: a schema"))?;
        let mut parts = Vec::new();
        for (key, value) in object {
            let here = format!("{ptr}/{}", escape(key));
            let text = || {
                text.clone()
                    .with_context(|| format!("{here}: applies to text only"))
            };
            match key.as_str() {
                "enum" => {
                    let text = text()?;
                    let values: Vec<&str> = value
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    parts.push(quote!([#(#values),*].contains(&#text)));
                }
                "pattern" => {
                    let text = text()?;
                    let compiled = self.pattern(value.as_str().unwrap_or_default(), ptr)?;
                    parts.push(quote!(#compiled.is_match(#text)));
                }
                "maxLength" | "minLength" => {
                    let text = text()?;
                    let n = value.as_u64().with_context(|| format!("{here}: a count"))? as usize;
                    parts.push(if key == "maxLength" {
                        quote!(runtime::decode::length(#text) <= #n)
                    } else {
                        quote!(runtime::decode::length(#text) >= #n)
                    });
                }
                "not" => {
                    let test = self.value_predicate(value, &here, kind)?;
                    parts.push(quote!(!(#test)));
                }
                "anyOf" | "allOf" => {
                    let mut tests = Vec::new();
                    for (i, sub) in value.as_array().into_iter().flatten().enumerate() {
                        tests.push(self.value_predicate(sub, &format!("{here}/{i}"), kind)?);
                    }
                    parts.push(if key == "anyOf" {
                        quote!((#(#tests)||*))
                    } else {
                        conjunction(tests)
                    });
                }
                "description" | "title" => {}
                _ => {
                    bail!("{here}: the generator does not understand this keyword in a composition")
                }
            }
        }
        Ok(conjunction(parts))
    }

    /// `impl Decode` for an untagged union of scalars of distinct types.
    /// `structured` are the arms of its object and array members, each
    /// with its JSON type.
    pub(super) fn union_decode(
        &mut self,
        name: &str,
        schema: &Value,
        ptr: &str,
        structured: Vec<(TokenStream, &'static str)>,
    ) -> anyhow::Result<TokenStream> {
        let ident = format_ident!("{}", name);
        let keyword = if schema.get("anyOf").is_some() {
            "anyOf"
        } else {
            "oneOf"
        };
        let mut arms = Vec::new();
        let mut kinds = Vec::new();
        let mut nullable = false;
        for (i, member) in schema[keyword].as_array().into_iter().flatten().enumerate() {
            let here = format!("{ptr}/{keyword}/{i}");
            if member.get("$ref").is_some() || member["type"] == "array" {
                continue;
            }
            check_keywords(member, &here)?;
            nullable |= member.get("nullable") == Some(&Value::Bool(true));
            let ty = member["type"].as_str().unwrap_or_default();
            if kinds.contains(&ty) {
                bail!("{here}: two members of type {ty}");
            }
            kinds.push(ty);
            arms.push(match ty {
                "string" => {
                    let decode = self.scalar_decode(member, &here, false, Source::Json)?;
                    quote!(runtime::decode::Kind::String => (#decode).map(Self::String),)
                }
                "number" => {
                    if ["minimum", "maximum"].iter().any(|k| member.get(*k).is_some()) {
                        bail!("{here}: bounds on a number member are not supported");
                    }
                    quote!(runtime::decode::Kind::Number => runtime::decode::number(raw).map(Self::Number),)
                }
                "boolean" => quote!(runtime::decode::Kind::Boolean => runtime::decode::boolean(raw).map(Self::Boolean),),
                other => bail!("{here}: a member of type {other:?}"),
            });
        }
        for (arm, kind) in structured {
            if kinds.contains(&kind) {
                bail!("{ptr}/{keyword}: two members of type {kind}");
            }
            kinds.push(kind);
            arms.push(arm);
        }
        let mut words: Vec<String> = kinds
            .iter()
            .map(|k| {
                type_message(k, false)
                    .trim_start_matches("must be ")
                    .to_owned()
            })
            .collect();
        if nullable {
            words.push("null".into());
        }
        let last = words.pop().unwrap_or_default();
        let message = if words.is_empty() {
            format!("must be {last}")
        } else {
            format!("must be {} or {last}", words.join(", "))
        };
        Ok(quote! {
            impl runtime::decode::Decode for #ident {
                fn decode(
                    raw: &runtime::decode::Json<'_>,
                    path: &runtime::decode::Path<'_>,
                    errors: &mut runtime::decode::Errors,
                ) -> Option<Self> {
                    match runtime::decode::kind(raw) {
                        #(#arms)*
                        _ => { errors.push(path, "type", #message); None }
                    }
                }
            }
        })
    }

    /// `decode` for an operation's parameters of one location, read from
    /// `params` as text.
    pub(super) fn params_decode(
        &mut self,
        struct_name: &Ident,
        location: &str,
        params: &[(String, Ident, bool, TokenStream, TokenStream)],
        repeated: &BTreeSet<String>,
    ) -> TokenStream {
        // Each parameter's slot is a local of its own (`__limit`): a field
        // ident never starts with `__`, so a parameter named `start`,
        // `errors` or `params` cannot shadow the decoder's own locals.
        let local = |ident: &Ident| format_ident!("__{}", ident);
        let lets = params.iter().map(|(name, ident, required, ty, text)| {
            let ident = local(ident);
            let missing = required.then(|| quote!(errors.push(path, "required", "is required");));
            if repeated.contains(name) {
                // Every value of the name, in order: an exploded array.
                return quote! {
                    let #ident: runtime::decode::Slot<#ty> = {
                        let path = &root.member(#name);
                        let values = params.query_all(#name);
                        if values.is_empty() {
                            #missing
                            runtime::decode::Slot::Absent
                        } else {
                            match #text {
                                Some(value) => runtime::decode::Slot::Given(value),
                                None => runtime::decode::Slot::Failed,
                            }
                        }
                    };
                };
            }
            let read = match location {
                "path" => quote!(params.path(#name)),
                "query" => quote!(params.query(#name, path, errors)),
                // The name as a constant: looked up without being parsed.
                _ => {
                    let lower = name.to_ascii_lowercase();
                    quote!({
                        const NAME: http::HeaderName = http::HeaderName::from_static(#lower);
                        params.header(&NAME, path, errors)
                    })
                }
            };
            quote! {
                let #ident: runtime::decode::Slot<#ty> = {
                    let path = &root.member(#name);
                    match #read {
                        Ok(Some(text)) => {
                            let text: &str = &text;
                            match #text {
                                Some(value) => runtime::decode::Slot::Given(value),
                                None => runtime::decode::Slot::Failed,
                            }
                        }
                        Ok(None) => {
                            #missing
                            runtime::decode::Slot::Absent
                        }
                        Err(()) => runtime::decode::Slot::Failed,
                    }
                };
            }
        });
        let build = params.iter().map(|(_, ident, required, _, _)| {
            let slot = local(ident);
            if *required {
                quote!(#ident: #slot.into_option()?)
            } else {
                quote!(#ident: #slot.into_option())
            }
        });
        let doc = format!("Decodes the {location} parameters, checking each against its schema.");
        quote! {
            impl #struct_name {
                #[doc = #doc]
                pub fn decode(params: &runtime::Params<'_>, errors: &mut runtime::decode::Errors) -> Option<Self> {
                    let start = errors.len();
                    let root = runtime::decode::Path::Root;
                    #(#lets)*
                    if errors.len() > start {
                        return None;
                    }
                    Some(Self { #(#build,)* })
                }
            }
        }
    }
}

fn collect_units(
    keyword: &str,
    value: &Value,
    prefix: &str,
    ptr: &str,
    out: &mut Vec<(String, Value)>,
) -> anyhow::Result<()> {
    let here = format!("{prefix}{keyword}");
    if keyword != "allOf" {
        out.push((here, serde_json::json!({ keyword: value })));
        return Ok(());
    }
    for (i, part) in value.as_array().into_iter().flatten().enumerate() {
        let prefix = format!("{here}/{i}/");
        let object = part
            .as_object()
            .with_context(|| format!("{ptr}/{here}/{i}: a schema"))?;
        for (key, sub) in object {
            match key.as_str() {
                "allOf" | "anyOf" | "oneOf" | "not" => collect_units(key, sub, &prefix, ptr, out)?,
                "required" | "properties" => {
                    out.push((format!("{prefix}{key}"), serde_json::json!({ key: sub })));
                }
                "description" | "title" => {}
                _ => bail!(
                    "{ptr}/{prefix}{}: the generator does not understand this keyword in a composition",
                    escape(key)
                ),
            }
        }
    }
    Ok(())
}

/// Whether `null` satisfies `schema` (a member's value under a composition).
fn null_satisfies(schema: &Value, ptr: &str) -> anyhow::Result<bool> {
    let object = schema
        .as_object()
        .with_context(|| format!("{ptr}: a schema"))?;
    let mut all = true;
    for (key, value) in object {
        let here = format!("{ptr}/{}", escape(key));
        all &= match key.as_str() {
            "enum" => value.as_array().is_some_and(|v| v.contains(&Value::Null)),
            // These constrain strings only.
            "pattern" | "maxLength" | "minLength" | "description" | "title" => true,
            "not" => !null_satisfies(value, &here)?,
            "anyOf" => {
                let mut any = false;
                for (i, sub) in value.as_array().into_iter().flatten().enumerate() {
                    any |= null_satisfies(sub, &format!("{here}/{i}"))?;
                }
                any
            }
            "allOf" => {
                let mut every = true;
                for (i, sub) in value.as_array().into_iter().flatten().enumerate() {
                    every &= null_satisfies(sub, &format!("{here}/{i}"))?;
                }
                every
            }
            _ => bail!("{here}: the generator does not understand this keyword in a composition"),
        };
    }
    Ok(all)
}

/// `a && b && ...`; `true` for none.
fn conjunction(parts: Vec<TokenStream>) -> TokenStream {
    match parts.len() {
        0 => quote!(true),
        1 => parts.into_iter().next().unwrap_or_default(),
        _ => quote!((#(#parts)&&*)),
    }
}

/// The slot a member is decoded into.
fn slot(members: &[Member], m: &Member) -> Ident {
    let index = members
        .iter()
        .position(|other| std::ptr::eq(other, m))
        .unwrap_or_default();
    format_ident!("slot_{}", index)
}

/// `Option<&T>`: a member's value when it was sent, sound and not null.
fn present(members: &[Member], m: &Member) -> TokenStream {
    let slot = slot(members, m);
    if m.nullable {
        quote!(#slot.given().and_then(Option::as_ref))
    } else {
        quote!(#slot.given())
    }
}

/// `Option<T>` for a nullable type, else `T`.
fn value_type(field: &FieldType) -> TokenStream {
    let ty = &field.ty;
    if field.nullable {
        quote!(Option<#ty>)
    } else {
        quote!(#ty)
    }
}

/// `1 character`, `50 characters`.
fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The checks of a `max*` / `min*` pair on the length of `counted` (a
/// collection in scope), each ending the value's checks when it fails.
fn count_checks(
    target: &Value,
    [max, min]: [&str; 2],
    noun: &str,
    counted: TokenStream,
    label: &syn::Lifetime,
) -> Vec<TokenStream> {
    let mut checks = Vec::new();
    for (keyword, most) in [(max, true), (min, false)] {
        let Some(n) = target.get(keyword).and_then(Value::as_u64) else {
            continue;
        };
        if !most && n == 0 {
            continue;
        }
        let code = if most { "max-" } else { "min-" }.to_owned()
            + match noun {
                "item" => "items",
                _ => "properties",
            };
        let bound = if most { "at most" } else { "at least" };
        let fail = fail(
            target,
            keyword,
            &code,
            format!("must have {bound} {}", count(n, noun)),
            label,
        );
        let limit = n as usize;
        checks.push(if most {
            quote!(if #counted.len() > #limit #fail)
        } else {
            quote!(if #counted.len() < #limit #fail)
        });
    }
    checks
}

/// Whether an array schema's items are unique and have an order, so that
/// they are kept as a set: strings, integers, booleans, enums, dates,
/// identifiers (not numbers, objects or arrays).
pub(super) fn unique_as_set(target: &Value, item: &FieldType) -> bool {
    target.get("uniqueItems") == Some(&Value::Bool(true))
        && item.text.is_some()
        && item.ty.to_string() != "f64"
}

/// For an array's decoded items `out`: the `uniqueItems` check, if the
/// schema has it, and the expression collecting them (a set when the items
/// have an order; otherwise a list, its items compared as JSON values).
fn unique_items(
    target: &Value,
    item: &FieldType,
    item_ty: &TokenStream,
    label: &syn::Lifetime,
) -> (TokenStream, TokenStream) {
    if target.get("uniqueItems") != Some(&Value::Bool(true)) {
        return (quote!(), quote!(out));
    }
    let fail = fail(
        target,
        "uniqueItems",
        "unique-items",
        "has duplicate items".into(),
        label,
    );
    if !unique_as_set(target, item) {
        return (
            quote!(if !runtime::decode::all_distinct_json(items) #fail),
            quote!(out),
        );
    }
    (
        quote!(if !runtime::decode::all_distinct(&out) #fail),
        quote!(out.into_iter().collect::<std::collections::BTreeSet<#item_ty>>()),
    )
}

/// A decoder that also takes `null` when the type is nullable.
pub(super) fn nullable_wrap(field: &FieldType) -> TokenStream {
    let decode = &field.decode;
    if field.nullable {
        quote!(if runtime::decode::is_null(raw) { Some(None) } else { (#decode).map(Some) })
    } else {
        quote!(#decode)
    }
}

/// `FromText`, `decode_text` and `Decode` for a string enum.
pub(super) fn string_enum_decode(
    name: &str,
    schema: &Value,
    texts: &[&str],
    variants: &[Ident],
) -> anyhow::Result<TokenStream> {
    let ident = format_ident!("{}", name);
    let nullable = schema.get("nullable") == Some(&Value::Bool(true));
    let type_msg = type_message("string", nullable);
    let (code, message) = enum_error(schema);
    let decode = enum_decode_impl(
        &ident,
        quote!(runtime::decode::text_of(raw)),
        quote!(Self::decode_text(value, path, errors)),
        &type_msg,
    );
    // A table sorted by text, searched by halves: a lookup list of
    // hundreds of values costs a few comparisons, not one per value.
    let mut sorted: Vec<(&str, &Ident)> = texts.iter().copied().zip(variants).collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let (sorted_texts, sorted_variants): (Vec<&str>, Vec<&Ident>) = sorted.into_iter().unzip();
    Ok(quote! {
        impl runtime::decode::FromText for #ident {
            fn from_text(text: &str) -> Option<Self> {
                const SORTED: &[(&str, #ident)] = &[#((#sorted_texts, #ident::#sorted_variants),)*];
                SORTED
                    .binary_search_by(|(known, _)| (*known).cmp(text))
                    .ok()
                    .map(|i| SORTED[i].1)
            }
            fn as_text(&self) -> &'static str {
                // `*self`: an enum whose values the spec lists none of a
                // string's (`type: string, enum: [true, false]`) is empty.
                match *self {
                    #(Self::#variants => #texts,)*
                }
            }
        }
        impl #ident {
            /// Every value the spec lists, in its order.
            pub const VALUES: &'static [Self] = &[#(Self::#variants),*];
            /// The variant `text` names; otherwise an error at `path`.
            pub fn decode_text(
                text: &str,
                path: &runtime::decode::Path<'_>,
                errors: &mut runtime::decode::Errors,
            ) -> Option<Self> {
                let found = <Self as runtime::decode::FromText>::from_text(text);
                if found.is_none() {
                    errors.push(path, #code, #message);
                }
                found
            }
        }
        #decode
    })
}

/// An enum's error when a value is none of its own: worded by its `x-rules`
/// `message` for `enum`, else listing the values.
fn enum_error(schema: &Value) -> (String, String) {
    wording(schema, "enum").map_or_else(
        || {
            (
                "enum".to_owned(),
                format!("must be one of {}", schema["enum"]),
            )
        },
        |(_, code, message)| (code, message),
    )
}

/// `impl Decode` for an enum: `read` takes the JSON value's primitive
/// (`None` when it has another type), `then` turns it into a variant.
fn enum_decode_impl(
    ident: &Ident,
    read: TokenStream,
    then: TokenStream,
    type_msg: &str,
) -> TokenStream {
    quote! {
        impl runtime::decode::Decode for #ident {
            fn decode(
                raw: &runtime::decode::Json<'_>,
                path: &runtime::decode::Path<'_>,
                errors: &mut runtime::decode::Errors,
            ) -> Option<Self> {
                match #read {
                    Some(value) => #then,
                    None => { errors.push(path, "type", #type_msg); None }
                }
            }
        }
    }
}

/// `decode_text` and `Decode` for an integer enum.
pub(super) fn integer_enum_decode(
    name: &str,
    schema: &Value,
    numbers: &[i64],
    variants: &[Ident],
) -> anyhow::Result<TokenStream> {
    let ident = format_ident!("{}", name);
    let nullable = schema.get("nullable") == Some(&Value::Bool(true));
    let type_msg = type_message("integer", nullable);
    let (code, message) = enum_error(schema);
    let decode = enum_decode_impl(
        &ident,
        quote!(runtime::decode::integer(raw)),
        quote!(Self::from_number(value, path, errors)),
        &type_msg,
    );
    Ok(quote! {
        impl #ident {
            fn from_number(
                number: i64,
                path: &runtime::decode::Path<'_>,
                errors: &mut runtime::decode::Errors,
            ) -> Option<Self> {
                match number {
                    #(#numbers => Some(Self::#variants),)*
                    _ => { errors.push(path, #code, #message); None }
                }
            }

            /// The variant `text` names; otherwise an error at `path`.
            pub fn decode_text(
                text: &str,
                path: &runtime::decode::Path<'_>,
                errors: &mut runtime::decode::Errors,
            ) -> Option<Self> {
                match text.parse::<i64>() {
                    Ok(number) => Self::from_number(number, path, errors),
                    Err(_) => { errors.push(path, "type", #type_msg); None }
                }
            }
        }
        #decode
    })
}
