//! The SDK's own emitter, over progenitor's output: the surface an
//! integrator calls.
//!
//! For every operation of the spec it writes
//! - a method on `users_client::Client` taking the path parameters, the
//!   required query and header parameters and the body, and returning
//! - a request builder in `ops` with a setter per optional parameter, `send`
//!   and `IntoFuture` (so `.await` sends it), which answers
//!   `Response<T, headers::Op>`: the typed body and the response headers the
//!   spec declares, typed;
//! - `if_none_match(&ETag)` on an operation taking `If-None-Match`, whose
//!   answer is `Conditional` (a `304` is not an error);
//! - `stream()` on an operation marked `x-pagination`, every item of every
//!   page;
//! - `<op>_with(.., change)` for an operation taking `If-Match` and a body
//!   beside a `GET` of the same path that answers an `ETag`:
//!   read-modify-write with optimistic concurrency.
//!
//! It also writes the three-state types of every merge-patch schema (module
//! `patch`), which progenitor is told to use in place of its own.
//!
//! The values progenitor's builders take are named through typify's type
//! space, the one progenitor filled, so what is written here compiles against
//! what progenitor wrote.

use std::collections::BTreeSet;

use anyhow::{Context, bail};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};
use serde_json::Value;
use typify::{TypeDetails, TypeSpace};

use super::model;
use super::naming::{escape, field_ident, ident, pascal, snake, status_name};
use super::three_state;

mod cli;
mod mock;

/// The module of doctests `generated_samples.rs` holds: each operation's Rust
/// sample, under its operation id and summary.
pub(crate) fn samples_module(samples: &[Sample]) -> String {
    let mut doc = String::from(
        "//! Code samples: each operation called through this SDK, as the API's\n\
         //! reference page shows them (beside the same request with curl). Each is\n\
         //! compiled by `cargo test --doc`, so a sample that no longer builds fails\n\
         //! the tests. `API_TOKEN` holds a bearer token.\n",
    );
    for sample in samples {
        doc.push_str(&format!("//!\n//! ## `{}`\n", sample.operation_id));
        if !sample.summary.is_empty() {
            // A summary written over several lines is one line here: each
            // line of the module's text must be a `//!` line.
            doc.push_str(&format!("//!\n//! {}\n", one_line(&sample.summary)));
        }
        doc.push_str("//!\n//! ```no_run\n");
        for line in sample.rust_doctest.lines() {
            doc.push_str(format!("//! {line}").trim_end());
            doc.push('\n');
        }
        doc.push_str("//! ```\n");
    }
    doc
}

/// A builder's setter for a member: its field's name, but `set_build` for
/// a member named `build`, the name of the builder's last step.
fn setter_ident(field: &proc_macro2::Ident) -> proc_macro2::Ident {
    if field == "build" {
        format_ident!("set_build")
    } else {
        field.clone()
    }
}

/// The module the open enums are shown in, as progenitor is told.
pub(crate) const OPEN_MODULE: &str = "crate::types";

/// The module the three-state types are written in, as progenitor is told.
pub(crate) const PATCH_MODULE: &str = "crate::patch";

/// The extension marking a paginated operation.
const PAGINATION: &str = "x-pagination";

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// What the emitter knows of the spec and of progenitor's output.
pub(crate) struct Sdk<'a> {
    /// The SDK crate's name in Rust paths, as its docs and the CLI name it.
    pub(crate) krate: &'a str,
    pub(crate) spec: &'a Value,
    /// The operations (path, method) whose successes answer different types:
    /// progenitor hands them over as bytes, decoded here by status.
    pub(crate) several: &'a BTreeSet<(String, String)>,
    /// The schemas written as three-state types.
    pub(crate) merge: &'a BTreeSet<String>,
    /// The open enums, by component name.
    pub(crate) open: &'a std::collections::BTreeMap<String, super::open_enum::OpenEnum>,
    /// The type space progenitor generated its types from.
    pub(crate) types: &'a TypeSpace,
    /// Its named types by [`type_key`] (their place in `iter_types`),
    /// built on the first lookup.
    named: std::cell::OnceCell<std::collections::HashMap<String, usize>>,
    /// The operations modelled, on the first use.
    modelled: std::cell::OnceCell<Modelled>,
}

/// What [`Sdk::modelled`] found.
struct Modelled {
    /// The document's model (every operation it represents).
    api: model::Api,
    ops: Vec<Op>,
    failed: Vec<(String, String, String)>,
}

/// How a schema's name and the Rust type typify named after it compare
/// (`dataSetList` is `DataSetList`): letters and digits, ignoring case.
fn type_key(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A parameter of an operation, as the surface takes it.
struct Param {
    name: String,
    location: String,
    required: bool,
    description: Option<String>,
    /// The type progenitor's setter takes.
    ty: TokenStream,
    /// For an integer, its primitive and bounds (checked before sending).
    integer: Option<Integer>,
    tenant: bool,
    /// The parameter's example (its own, or its schema's), for code samples.
    example: Option<Value>,
    /// Its schema, a reference resolved (for the CLI's flags).
    schema: Value,
    /// Whether that reference names an open enum.
    open: bool,
}

struct Integer {
    primitive: TokenStream,
    min: Option<i128>,
    max: Option<i128>,
}

impl Param {
    /// progenitor's setter of the parameter on its builder (`seasons[]`
    /// is `seasons`).
    fn setter(&self) -> proc_macro2::Ident {
        format_ident!("{}", super::naming::progenitor(&self.name, false))
    }

    fn is_header(&self, name: &str) -> bool {
        self.location == "header" && self.name.eq_ignore_ascii_case(name)
    }

    /// The argument type the surface takes for this parameter.
    fn arg_type(&self) -> TokenStream {
        let ty = &self.ty;
        if self.is_header("If-Match") || self.is_header("If-None-Match") {
            return quote!(&rt::ETag);
        }
        match &self.integer {
            Some(int) => int.primitive.clone(),
            None => quote!(impl TryInto<#ty, Error: ::std::fmt::Display>),
        }
    }

    /// An expression of type `Result<ty, Error>` from the argument `value`.
    fn convert(&self, value: &TokenStream) -> TokenStream {
        let ty = &self.ty;
        let name = &self.name;
        if self.is_header("If-Match") || self.is_header("If-None-Match") {
            return quote!(rt::convert::<#ty, _>(#value.as_str(), #name));
        }
        match &self.integer {
            Some(int) => {
                let min = option_tokens(int.min);
                let max = option_tokens(int.max);
                quote!(rt::bounded(#value, #name, #min, #max).and_then(|v| rt::convert::<#ty, _>(v, #name)))
            }
            None => quote!(rt::convert::<#ty, _>(#value, #name)),
        }
    }
}

/// The Rust name of the three-state type of the merge schema `name`.
pub(crate) fn patch_ident(name: &str) -> proc_macro2::Ident {
    ident(&pascal(name))
}

/// Whether a media type carries JSON (`application/json`, `+json`).
fn is_json(media: &str) -> bool {
    let essence = media.split(';').next().unwrap_or_default().trim();
    essence == "application/json" || essence.ends_with("+json") || essence == "text/json"
}

fn option_tokens(value: Option<i128>) -> TokenStream {
    match value {
        Some(v) => quote!(Some(#v)),
        None => quote!(None),
    }
}

/// One operation, as the surface presents it.
struct Op {
    id: String,
    method: String,
    path: String,
    summary: String,
    doc: String,
    /// The documented error statuses: status, description, and the
    /// component its JSON body is.
    errors: Vec<(u16, String, Option<String>)>,
    params: Vec<Param>,
    /// The body type progenitor's `body` takes, when there is a body.
    body: Option<(TokenStream, bool)>,
    /// The body's media type, when it is not `application/json`.
    media_type: Option<String>,
    /// The media types a body of bytes may go as, when there are several
    /// (`image/png`, `image/jpeg`): the runtime labels each body with the
    /// one its bytes are.
    media_types: Vec<String>,
    /// The `Accept` of an operation whose success is not JSON (an image):
    /// its media types and problems'.
    accept: Option<String>,
    /// The body's first example, for code samples.
    body_example: Option<Value>,
    /// The type of the success body (`()` when none).
    value: TokenStream,
    /// For an operation whose successes answer different types: each
    /// success's status, variant and body type (`None`: no body).
    successes: Option<Vec<(u16, proc_macro2::Ident, Option<TokenStream>)>>,
    headers: Vec<Header>,
    pagination: Option<Pagination>,
    security: model::Security,
    /// The operation's tags, first the one it is filed under.
    tags: Vec<String>,
    /// Its description alone (`doc` adds the summary and the route).
    description: Option<String>,
    /// The body's schema, a reference resolved, and its media type.
    body_schema: Option<(Value, String)>,
}

struct Header {
    name: String,
    description: Option<String>,
    required: bool,
    ty: TokenStream,
}

struct Pagination {
    cursor: String,
    next: String,
    items: String,
    item: TokenStream,
}

impl Op {
    /// The method's name, as progenitor spells it (`move` is `move_`).
    fn fn_name(&self) -> proc_macro2::Ident {
        format_ident!("{}", method_name(&self.id))
    }

    /// The builder's name, as progenitor spells it (`Self` is `Self_`,
    /// `putECU` is `PutEcu`).
    fn struct_name(&self) -> proc_macro2::Ident {
        format_ident!("{}", builder_name(&self.id))
    }

    fn headers_type(&self) -> TokenStream {
        if self.headers.is_empty() {
            quote!(rt::NoHeaders)
        } else {
            let name = self.struct_name();
            quote!(headers::#name)
        }
    }

    fn param(&self, header: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.is_header(header))
    }

    /// Parameters the caller gives positionally: path parameters, then the
    /// other required ones.
    fn positional(&self) -> Vec<&Param> {
        let mut out: Vec<&Param> = self
            .params
            .iter()
            .filter(|p| p.location == "path")
            .collect();
        out.extend(
            self.params
                .iter()
                .filter(|p| p.location != "path" && p.required && !p.tenant),
        );
        out
    }
}

impl<'a> Sdk<'a> {
    /// The emitter of `spec` over progenitor's `types`.
    pub(crate) fn new(
        spec: &'a Value,
        several: &'a BTreeSet<(String, String)>,
        merge: &'a BTreeSet<String>,
        open: &'a std::collections::BTreeMap<String, super::open_enum::OpenEnum>,
        types: &'a TypeSpace,
        krate: &'a str,
    ) -> Self {
        Self {
            krate,
            spec,
            several,
            merge,
            open,
            types,
            named: Default::default(),
            modelled: Default::default(),
        }
    }
}

impl Sdk<'_> {
    /// The generated file's tokens.
    pub(crate) fn generate(&self) -> anyhow::Result<TokenStream> {
        let patch = self.patch_types()?;
        let patch_builders = self.patch_builders()?;
        let body_builders = self.body_builders()?;
        let ops = self.operations()?;
        let errors = self.errors(ops)?;
        let open = self
            .open
            .iter()
            .map(|(name, open)| super::open_enum::tokens(name, open));
        let mut methods = Vec::new();
        let mut builders = Vec::new();
        let mut header_structs = Vec::new();
        let mut answers = Vec::new();
        let mut traits = Vec::new();
        for op in ops {
            let id = method_name(&op.id);
            let media = match &op.media_type {
                Some(media) => quote!(Some(#media)),
                None => quote!(None),
            };
            let key = op.param("Idempotency-Key").is_some();
            let security = security_table(&op.security);
            let media_types = &op.media_types;
            let accept = match &op.accept {
                Some(accept) => quote!(Some(#accept)),
                None => quote!(None),
            };
            if op.media_type.is_some()
                || !media_types.is_empty()
                || op.accept.is_some()
                || key
                || !security.is_empty()
            {
                traits.push(quote! {
                    #id => rt::OperationTraits {
                        body_media_type: #media,
                        body_media_types: &[#(#media_types),*],
                        accept: #accept,
                        idempotency_key: #key,
                        security: &[#(#security),*],
                    },
                });
            }
            methods.push(self.method(op)?);
            builders.push(self.builder(op)?);
            header_structs.push(headers_struct(op));
            answers.push(answers_enum(op));
            if let Some(rmw) = self.read_modify_write(op, ops)? {
                methods.push(rmw);
            }
        }
        let api_key_schemes: Vec<&str> = self.spec["components"]["securitySchemes"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, scheme)| scheme["type"] == "apiKey")
            .map(|(name, _)| name.as_str())
            .collect();
        Ok(quote! {
            //! The SDK's surface: a method per operation on [`Client`], the
            //! request builders they return ([`ops`]), the response headers the
            //! spec declares ([`headers`]) and the three-state types of the
            //! merge-patch schemas ([`patch`]).
            #![allow(
                clippy::too_many_arguments,
                clippy::needless_lifetimes,
                clippy::redundant_closure_call,
                clippy::new_ret_no_self
            )]
            // A spec without bodies or parameters to check leaves some of
            // these unused.
            #![allow(unused_imports)]

            use crate::types;
            use crate::runtime as rt;
            use crate::{Client, Error};

            /// The bodies of merge patches (RFC 7396). A member left out
            /// (`None`) is kept; `Some(None)` sends `null`, which clears it;
            /// `Some(Some(value))` sets it.
            pub mod patch {
                #[allow(unused_imports)]
                use crate::types;
                #(#patch)*
            }

            /// The open enums: strings the spec marks extensible, typed by the
            /// values it lists, with `Unknown` for the rest. Shown in `types`.
            pub(crate) mod open {
                #(#open)*
            }

            /// Builders of request bodies, made by each body type's `new` (its
            /// required members) or a patch type's `builder()`: setters take
            /// anything that converts, and the first value that breaks a rule
            /// fails the call (or `build()`) with an error naming the member.
            pub mod build {
                use crate::types;
                use crate::runtime as rt;
                use crate::Error;
                #(#body_builders)*
                #(#patch_builders)*
            }

            /// The successes of the operations whose success statuses answer
            /// different types, one variant per status.
            pub mod answers {
                #[allow(unused_imports)]
                use crate::types;
                #(#answers)*
            }

            #errors

            /// The response headers each operation declares, typed.
            pub mod headers {
                #[allow(unused_imports)]
                use crate::runtime as rt;
                #(#header_structs)*
            }

            /// The request builders: set optional parameters, then `.await`
            /// (or `send()`) to send.
            pub mod ops {
                #[allow(unused_imports)]
                use crate::types;
                use crate::generated;
                use crate::runtime as rt;
                use crate::Error;
                #[allow(unused_imports)]
                use super::headers;
                #(#builders)*
            }

            impl Client {
                #(#methods)*
            }

            /// The API key schemes of the spec, by name: what
            /// `ClientBuilder::api_key` takes.
            pub(crate) const API_KEY_SCHEMES: &[&str] = &[#(#api_key_schemes),*];

            /// What the runtime's hooks must know of an operation, by the name
            /// progenitor gives it: its body's media type when that is not
            /// `application/json`, whether it takes an `Idempotency-Key`, and
            /// its security requirements when one names a scheme other than a
            /// bearer token.
            pub(crate) fn operation_traits(operation_id: &str) -> rt::OperationTraits {
                match operation_id {
                    #(#traits)*
                    _ => rt::OperationTraits::default(),
                }
            }
        })
    }

    /// The three-state struct of every merge schema.
    fn patch_types(&self) -> anyhow::Result<Vec<TokenStream>> {
        let mut out = Vec::new();
        for name in self.merge {
            let ptr = format!("/components/schemas/{name}");
            let schema = &self.spec["components"]["schemas"][name];
            let ident = patch_ident(name);
            let mut fields = Vec::new();
            for (prop, member) in schema["properties"].as_object().into_iter().flatten() {
                let at = format!("{ptr}/properties/{}", escape(prop));
                let (ty, nullable) = self
                    .patch_member_type(name, prop, member)
                    .with_context(|| at.clone())?;
                let (field_ty, serde) = three_state::member(prop, &ty, false, nullable);
                let schemars = if nullable {
                    let with = quote!(crate::runtime::Nullable<#ty>).to_string();
                    quote!(#[schemars(with = #with)])
                } else {
                    quote!()
                };
                let docs = match member.get("description").and_then(Value::as_str) {
                    Some(text) => docs(Some(text)),
                    None => docs(Some(&format!("`{prop}`."))),
                };
                let field = field_ident(prop);
                fields.push(quote! {
                    #docs
                    #serde
                    #schemars
                    pub #field: #field_ty,
                });
            }
            let deny = (schema.get("additionalProperties") == Some(&Value::Bool(false)))
                .then(|| quote!(#[serde(deny_unknown_fields)]));
            let fallback = format!("A merge patch of `{name}`.");
            let docs = docs(Some(
                schema
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or(&fallback),
            ));
            out.push(quote! {
                #docs
                #[derive(Debug, Clone, Default, PartialEq, ::serde::Serialize, ::serde::Deserialize, ::schemars::JsonSchema)]
                #deny
                pub struct #ident {
                    #(#fields)*
                }
            });
        }
        Ok(out)
    }

    /// `patch::<T>::builder()` and `build::<T>`: a setter per member, and
    /// `clear_<member>` for a member that may be `null`.
    fn patch_builders(&self) -> anyhow::Result<Vec<TokenStream>> {
        let mut out = Vec::new();
        for name in self.merge {
            let ptr = format!("/components/schemas/{name}");
            let schema = &self.spec["components"]["schemas"][name];
            let ident = patch_ident(name);
            let mut setters = Vec::new();
            let mut names = BTreeSet::new();
            for (prop, member) in schema["properties"].as_object().into_iter().flatten() {
                let (ty, nullable) = self.patch_member_type(name, prop, member)?;
                let field = field_ident(prop);
                let setter = setter_ident(&field);
                let doc = format!("Sets `{prop}`.");
                let value = if nullable {
                    quote!(Some(Some(rt::convert::<#ty, _>(value, #prop)?)))
                } else {
                    quote!(Some(rt::convert::<#ty, _>(value, #prop)?))
                };
                setters.push(quote! {
                    #[doc = #doc]
                    pub fn #setter(mut self, value: impl TryInto<#ty, Error: ::std::fmt::Display>) -> Self {
                        self.value = self.value.and_then(|mut patch| {
                            patch.#field = #value;
                            Ok(patch)
                        });
                        self
                    }
                });
                names.insert(setter.to_string());
                if nullable {
                    let clear = format_ident!("clear_{}", snake(prop));
                    let doc = format!("Sends `{prop}` as `null`, which clears it.");
                    setters.push(quote! {
                        #[doc = #doc]
                        pub fn #clear(mut self) -> Self {
                            if let Ok(patch) = &mut self.value {
                                patch.#field = Some(None);
                            }
                            self
                        }
                    });
                    if !names.insert(clear.to_string()) {
                        bail!("{ptr}: two builder methods are named {clear}");
                    }
                }
            }
            let doc = format!(
                "Builds a [`crate::patch::{name}`]: made by [`crate::patch::{name}::builder`]."
            );
            let start = "A builder of this patch, starting from no change.";
            out.push(quote! {
                #[doc = #doc]
                #[derive(Debug)]
                #[must_use = "a builder does nothing until it is built or sent"]
                pub struct #ident {
                    value: Result<crate::patch::#ident, Error>,
                }

                impl crate::patch::#ident {
                    #[doc = #start]
                    pub fn builder() -> #ident {
                        #ident { value: Ok(Self::default()) }
                    }
                }

                impl #ident {
                    #(#setters)*

                    /// The patch, or the first value that broke a rule.
                    pub fn build(self) -> Result<crate::patch::#ident, Error> {
                        self.value
                    }
                }

                impl TryFrom<#ident> for crate::patch::#ident {
                    type Error = Error;
                    fn try_from(builder: #ident) -> Result<Self, Error> {
                        builder.value
                    }
                }

                impl rt::Body<crate::patch::#ident> for #ident {
                    fn into_body(self) -> Result<crate::patch::#ident, Error> {
                        self.value
                    }
                }
            });
        }
        Ok(out)
    }

    /// The object schemas request bodies are written in (merge schemas
    /// aside), and the objects their members refer to.
    fn body_schemas(&self) -> BTreeSet<String> {
        let mut todo = Vec::new();
        for op in &self.modelled().api.operations {
            for content in op.body.iter().flat_map(|b| &b.content) {
                if let Some(name) = content.schema.as_ref().and_then(three_state::referenced) {
                    todo.push(name.to_owned());
                }
            }
        }
        let mut out = BTreeSet::new();
        while let Some(name) = todo.pop() {
            let schema = &self.spec["components"]["schemas"][&name];
            if self.merge.contains(&name)
                || schema.get("properties").is_none()
                || is_nullable(schema)
                || !out.insert(name)
            {
                continue;
            }
            for member in schema["properties"]
                .as_object()
                .into_iter()
                .flat_map(|p| p.values())
            {
                let member = if member.get("items").is_some() {
                    &member["items"]
                } else {
                    member
                };
                if let Some(nested) = three_state::referenced(member) {
                    todo.push(nested.to_owned());
                }
            }
        }
        out
    }

    /// `<T>::new(required members)` and `build::<T>`, over typify's builder.
    fn body_builders(&self) -> anyhow::Result<Vec<TokenStream>> {
        let mut out = Vec::new();
        for name in self.body_schemas() {
            let schema = &self.spec["components"]["schemas"][&name];
            // A body typify typed under another name (or not at all) has no
            // builder; an operation that sends it is judged on its own.
            let Ok(ty) = self.named_type(&name) else {
                continue;
            };
            let TypeDetails::Struct(details) = ty.details() else {
                continue;
            };
            // typify's name for the type (`Foo.Bar` is `FooBar`).
            let ident = format_ident!("{}", ty.name());
            let props: Vec<_> = details.properties_info().collect();
            let mut args = Vec::new();
            let mut arg_steps = Vec::new();
            let mut arg_docs = String::new();
            let mut setters = Vec::new();
            // Required members in the order `required` lists them, then the
            // others.
            let required: Vec<&str> = schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let mut members: Vec<(&String, &Value)> = Vec::new();
            for name in &required {
                if let Some((prop, member)) = schema["properties"]
                    .as_object()
                    .and_then(|p| p.get_key_value(*name))
                {
                    members.push((prop, member));
                }
            }
            members.extend(
                schema["properties"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(prop, _)| !required.contains(&prop.as_str())),
            );
            let mut unnamed = None;
            for (prop, member) in members {
                let field = field_ident(prop);
                // typify drops what an edge of a name leaves (`Location:` is
                // `location`, where ours is `location_`).
                let wanted = field.to_string();
                let Some(info) = props
                    .iter()
                    .find(|p| p.name == wanted || p.name == wanted.trim_matches('_'))
                else {
                    unnamed = Some(prop.clone());
                    break;
                };
                let field = format_ident!("{}", info.name);
                let member_ty = self.types.get_type(&info.type_id)?;
                let (value_ty, wrap) = match (info.required, member_ty.details()) {
                    (false, TypeDetails::Option(inner)) => {
                        (self.types.get_type(&inner)?.ident(), true)
                    }
                    _ => (member_ty.ident(), false),
                };
                let convert = quote!(rt::convert::<#value_ty, _>(#field, #prop)?);
                let value = if wrap {
                    quote!(Some(#convert))
                } else {
                    convert
                };
                if info.required {
                    args.push(quote!(#field: impl TryInto<#value_ty, Error: ::std::fmt::Display>));
                    arg_steps.push(quote!(let builder = builder.#field(#value);));
                    let description = member
                        .get("description")
                        .and_then(Value::as_str)
                        .map(one_line)
                        .unwrap_or_default();
                    arg_docs.push_str(&format!("\n- `{field}` (`{prop}`): {description}"));
                } else {
                    let doc = match member.get("description").and_then(Value::as_str) {
                        Some(text) => format!("`{prop}`: {}", text.trim()),
                        None => format!("Sets `{prop}`."),
                    };
                    let setter = setter_ident(&field);
                    setters.push(quote! {
                        #[doc = #doc]
                        pub fn #setter(mut self, #field: impl TryInto<#value_ty, Error: ::std::fmt::Display>) -> Self {
                            self.inner = self.inner.and_then(|builder| Ok(builder.#field(#value)));
                            self
                        }
                    });
                }
            }
            // A member typify names otherwise: the type has no builder (its
            // value is still a body, built as typify builds it).
            if unnamed.is_some() {
                continue;
            }
            let doc = format!(
                "Builds a [`types::{name}`]: made by [`types::{name}::new`]. Every method \
                 taking a `{name}` body takes this builder too (`impl Body<types::{name}>`), \
                 so a helper can take either:\n\n\
                 ```\n\
                 # use {krate}::{{Body, build, types}};\n\
                 fn body() -> build::{name} {{ unimplemented!() }}\n\
                 fn takes(body: impl Body<types::{name}>) {{}}\n\
                 fn either(made: types::{name}) {{ takes(body()); takes(made); }}\n\
                 ```",
                krate = self.krate
            );
            let new_doc = format!(
                "A builder of a `{name}` with its required members, a [`crate::build::{name}`] whose \
                 setters are the optional ones; `.build()` checks and makes the `{name}`, and \
                 a method taking the body takes the builder as it is.\n\n# Arguments\n{arg_docs}"
            );
            out.push(quote! {
                #[doc = #doc]
                #[derive(Debug)]
                #[must_use = "a builder does nothing until it is built or sent"]
                pub struct #ident {
                    inner: Result<types::builder::#ident, Error>,
                }

                impl types::#ident {
                    #[doc = #new_doc]
                    pub fn new(#(#args),*) -> #ident {
                        let inner = (|| -> Result<_, Error> {
                            let builder = types::#ident::builder();
                            #(#arg_steps)*
                            Ok(builder)
                        })();
                        #ident { inner }
                    }
                }

                impl #ident {
                    #(#setters)*

                    /// The body, or the first value that broke a rule.
                    pub fn build(self) -> Result<types::#ident, Error> {
                        types::#ident::try_from(self.inner?)
                            .map_err(|e| Error::InvalidRequest(format!("{}: {e}", #name)))
                    }
                }

                impl TryFrom<#ident> for types::#ident {
                    type Error = Error;
                    fn try_from(builder: #ident) -> Result<Self, Error> {
                        builder.build()
                    }
                }

                impl rt::Body<types::#ident> for #ident {
                    fn into_body(self) -> Result<types::#ident, Error> {
                        self.build()
                    }
                }
            });
        }
        Ok(out)
    }

    /// The value type of a member of the merge schema `owner`, and whether
    /// it is three-state.
    fn patch_member_type(
        &self,
        owner: &str,
        prop: &str,
        member: &Value,
    ) -> anyhow::Result<(TokenStream, bool)> {
        let nullable = is_nullable(three_state::resolve(self.spec, member));
        let name = match three_state::referenced(member) {
            Some(name) => name.to_owned(),
            // The client view lifts inline members with constraints to
            // components; the others are typify's built-ins.
            None if needs_name(member) => lifted_name(owner, prop),
            None => return Ok((builtin(&without_null(member))?, nullable)),
        };
        if self.merge.contains(&name) {
            let ident = patch_ident(&name);
            return Ok((quote!(crate::patch::#ident), nullable));
        }
        if self.open.contains_key(&name) {
            let ident = super::open_enum::rust_name(&name);
            return Ok((quote!(types::#ident), nullable));
        }
        let target_nullable = three_state::referenced(member)
            .is_some_and(|n| is_nullable(&self.spec["components"]["schemas"][n]));
        let ty = self.named_type(&name)?;
        if !target_nullable {
            return Ok((ty.ident(), nullable));
        }
        // typify writes a nullable component as a newtype of an Option.
        let newtype = match ty.details() {
            TypeDetails::Newtype(newtype) => Some(newtype.inner()),
            _ => None,
        };
        let inner = match newtype {
            Some(id) => self.types.get_type(&id)?,
            None => ty,
        };
        match inner.details() {
            TypeDetails::Option(id) => Ok((self.types.get_type(&id)?.ident(), true)),
            _ => bail!("typify's type for the nullable {name} is not an Option"),
        }
    }

    /// The Rust type of the component `name`: a three-state patch type, an
    /// open enum, or typify's.
    fn component_type(&self, name: &str) -> anyhow::Result<TokenStream> {
        if self.merge.contains(name) {
            let ident = patch_ident(name);
            return Ok(quote!(crate::patch::#ident));
        }
        if self.open.contains_key(name) {
            let ident = super::open_enum::rust_name(name);
            return Ok(quote!(types::#ident));
        }
        Ok(self.named_type(name)?.ident())
    }

    fn named_type(&self, name: &str) -> anyhow::Result<typify::Type<'_>> {
        // typify spells a schema's name as a Rust type: the first named
        // type whose key is the name's, indexed once (a big spec asks
        // thousands of times).
        let named = self.named.get_or_init(|| {
            let mut named = std::collections::HashMap::new();
            for (place, t) in self.types.iter_types().enumerate() {
                if matches!(
                    t.details(),
                    TypeDetails::Struct(_) | TypeDetails::Enum(_) | TypeDetails::Newtype(_)
                ) {
                    named.entry(type_key(&t.name())).or_insert(place);
                }
            }
            named
        });
        named
            .get(&type_key(name))
            .and_then(|place| self.types.iter_types().nth(*place))
            .with_context(|| format!("progenitor generated no type named {name}"))
    }

    /// The first example `value` holds: `example`, else the first of
    /// `examples` (its `value`, a component example followed).
    fn first_example(&self, value: &Value) -> Option<Value> {
        if let Some(example) = value.get("example") {
            return Some(example.clone());
        }
        let (_, first) = value.get("examples")?.as_object()?.iter().next()?;
        let first = self.resolve(first, "examples").ok()?;
        first.get("value").cloned()
    }

    /// One code sample per operation: the call through this SDK (a
    /// `no_run` doctest, and the same lines without the hidden ones for a
    /// page) and the same request with curl. `krate` is the SDK crate's name
    /// in Rust paths.
    pub(crate) fn samples(&self, krate: &str) -> anyhow::Result<Vec<Sample>> {
        let base = self.spec["servers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|server| server["url"].as_str())
            .find(|url| url.starts_with("http"))
            .unwrap_or("https://api.example.com")
            .trim_end_matches('/')
            .to_owned();
        let bearer = self.spec["components"]["securitySchemes"]
            .as_object()
            .into_iter()
            .flatten()
            .any(|(_, scheme)| {
                scheme["scheme"]
                    .as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case("bearer"))
                    || matches!(scheme["type"].as_str(), Some("oauth2" | "openIdConnect"))
            });
        let mut samples = Vec::new();
        for op in self.operations()? {
            let doctest = rust_sample(op, krate, &base, bearer);
            let shown = doctest
                .lines()
                .filter(|line| !line.starts_with("# ") && *line != "#")
                .collect::<Vec<_>>()
                .join("\n");
            samples.push(Sample {
                operation_id: op.id.clone(),
                summary: op.summary.clone(),
                rust_doctest: doctest,
                rust: shown,
                curl: curl_sample(op, &base, bearer),
            });
        }
        Ok(samples)
    }

    /// `errors`: what each operation's documented errors are, by status, and
    /// on [`Error`] the typed reading of the spec's error schema (its code
    /// and its list of field errors) and an `is_<status>()` per documented
    /// error status.
    fn errors(&self, ops: &[Op]) -> anyhow::Result<TokenStream> {
        let mut per_op = Vec::new();
        let mut schemas = BTreeSet::new();
        let mut statuses = BTreeSet::new();
        for op in ops {
            let documented = &op.errors;
            for (status, _, schema) in documented {
                statuses.insert(*status);
                schemas.insert(schema.clone());
            }
            per_op.push((op, documented));
        }
        // One schema for every documented error: the spec's problem type.
        let problem = match schemas.len() {
            1 => schemas.into_iter().next().flatten(),
            _ => None,
        };
        let mut accessors = Vec::new();
        for status in &statuses {
            let name = format_ident!("is_{}", snake(&status_name(*status)));
            let doc = format!("Whether the server answered `{status}`.");
            accessors.push(quote! {
                #[doc = #doc]
                pub fn #name(&self) -> bool {
                    self.status().map(|s| s.as_u16()) == Some(#status)
                }
            });
        }
        // A problem schema typify did not name (a primitive, a union it
        // merged) is read as `ProblemDetails` only.
        let problem = problem.filter(|name| self.component_type(name).is_ok());
        let problem_ty = match &problem {
            Some(name) => {
                accessors.extend(self.problem_accessors(name)?);
                let ty = self.component_type(name)?;
                let doc = format!(
                    "The problem document as `types::{name}`, the spec's error schema; \
                     `None` when the server sent none, or one that is not a `{name}`."
                );
                accessors.push(quote! {
                    #[doc = #doc]
                    pub fn problem_document(&self) -> Option<#ty> {
                        self.problem()?.to().ok()
                    }
                });
                Some(ty)
            }
            None => None,
        };
        let mut enums = Vec::new();
        for (op, documented) in per_op {
            if documented.is_empty() {
                continue;
            }
            let name = op.struct_name();
            let op_id = &op.id;
            let payload = match &problem_ty {
                Some(ty) => quote!(#ty),
                None => quote!(Box<crate::ProblemDetails>),
            };
            let mut variants = Vec::new();
            let mut arms = Vec::new();
            let mut shows = Vec::new();
            for (status, description, schema) in documented {
                let variant = format_ident!("{}", status_name(*status));
                let doc = format!("`{status}`: {description}");
                // The spec's error schema shared by every error, else this
                // status's own schema, else the problem as the runtime read it.
                let own = schema
                    .as_deref()
                    .and_then(|name| self.component_type(name).ok());
                let (payload, read) = match (&problem_ty, own) {
                    (Some(_), _) => (payload.clone(), quote!(err.problem_document())),
                    (None, Some(ty)) => (quote!(#ty), quote!(err.document::<#ty>())),
                    (None, None) => (
                        payload.clone(),
                        quote!(err.problem().cloned().map(Box::new)),
                    ),
                };
                variants.push(quote!(#[doc = #doc] #variant(#payload),));
                arms.push(quote! {
                    Some(#status) => match #read {
                        Some(problem) => #name::#variant(problem),
                        None => #name::Other(err),
                    },
                });
                shows.push(quote!(#name::#variant(_) => #status,));
            }
            let doc = format!(
                "The errors `{}` documents, one variant per status with the problem the \
                 server sent; `Other` is any other failure. Made from an [`Error`] with \
                 `From`: `.await.map_err(errors::{name}::from)`.",
                op.id
            );
            enums.push(quote! {
                #[doc = #doc]
                #[derive(Debug)]
                pub enum #name {
                    #(#variants)*
                    /// Any failure the operation does not document: a
                    /// transport error, another status, a body that is not
                    /// the spec's problem.
                    Other(Error),
                }

                impl From<Error> for #name {
                    fn from(err: Error) -> Self {
                        match err.status().map(|s| s.as_u16()) {
                            #(#arms)*
                            _ => #name::Other(err),
                        }
                    }
                }

                impl #name {
                    /// The HTTP status of a documented error; `None` for
                    /// `Other` without a response.
                    pub fn status(&self) -> Option<u16> {
                        Some(match self {
                            #(#shows)*
                            #name::Other(err) => return err.status().map(|s| s.as_u16()),
                        })
                    }
                }

                impl ::std::fmt::Display for #name {
                    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        match self {
                            #name::Other(err) => err.fmt(f),
                            _ => {
                                f.write_str(#op_id)?;
                                write!(f, " answered {}", self.status().unwrap_or_default())
                            }
                        }
                    }
                }

                impl ::std::error::Error for #name {
                    fn source(&self) -> Option<&(dyn ::std::error::Error + 'static)> {
                        match self {
                            #name::Other(err) => Some(err),
                            _ => None,
                        }
                    }
                }
            });
        }
        Ok(quote! {
            /// Each operation's documented errors as an enum, by status.
            pub mod errors {
                #[allow(unused_imports)]
                use crate::types;
                use crate::Error;
                #(#enums)*
            }

            impl Error {
                #(#accessors)*
            }
        })
    }

    /// On [`Error`], a typed reader for the members of the error schema
    /// `name` a caller branches on: each member whose type is an enum of the
    /// spec (`code()`), and each list of objects (`field_errors()`, after
    /// the item type).
    fn problem_accessors(&self, name: &str) -> anyhow::Result<Vec<TokenStream>> {
        let mut out = Vec::new();
        // What the hand-written `Error` already answers, and what is taken.
        let mut taken: BTreeSet<String> = [
            "status",
            "problem",
            "detail",
            "is_retryable",
            "problem_document",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        let schema = &self.spec["components"]["schemas"][name];
        for (prop, member) in schema["properties"].as_object().into_iter().flatten() {
            if let Some(target) = three_state::referenced(member)
                && (self.open.contains_key(target)
                    || self.spec["components"]["schemas"][target]
                        .get("enum")
                        .is_some())
            {
                let method = field_ident(prop);
                let Ok(ty) = self.component_type(target) else {
                    continue;
                };
                if !taken.insert(method.to_string()) {
                    continue;
                }
                let doc = format!(
                    "The problem's `{prop}`, typed (`types::{target}`); `None` when the \
                     server sent no problem, or no `{prop}`."
                );
                out.push(quote! {
                    #[doc = #doc]
                    pub fn #method(&self) -> Option<#ty> {
                        self.problem()?.extension(#prop)
                    }
                });
            }
            if member["type"] == "array"
                && let Some(item) = three_state::referenced(&member["items"])
            {
                let method = ident(&format!("{}s", snake(item)));
                let Ok(ty) = self.component_type(item) else {
                    continue;
                };
                if !taken.insert(method.to_string()) {
                    continue;
                }
                let doc = format!(
                    "The problem's `{prop}`, each a `types::{item}`; empty when the server \
                     sent none."
                );
                out.push(quote! {
                    #[doc = #doc]
                    pub fn #method(&self) -> Vec<#ty> {
                        self.problem()
                            .and_then(|p| p.extension(#prop))
                            .unwrap_or_default()
                    }
                });
            }
        }
        Ok(out)
    }

    fn resolve<'v>(&'v self, value: &'v Value, kind: &str) -> anyhow::Result<&'v Value> {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let prefix = format!("#/components/{kind}/");
                if !reference.starts_with(&prefix) {
                    bail!("{reference} is not in #/components/{kind}");
                }
                self.spec
                    .pointer(reference.trim_start_matches('#'))
                    .with_context(|| format!("{reference} does not resolve"))
            }
            None => Ok(value),
        }
    }

    /// Every operation modelled, once per emitter: the models, and the
    /// operations it cannot model (path, method, reason).
    fn modelled(&self) -> &Modelled {
        self.modelled.get_or_init(|| {
            let api = model::Api::new(self.spec).unwrap_or_else(|_| model::Api::default());
            let by_pointer: std::collections::HashMap<&str, &model::Operation> = api
                .operations
                .iter()
                .map(|op| (op.at.as_str(), op))
                .collect();
            let refused: std::collections::HashMap<&str, &str> = api
                .refusals
                .iter()
                .map(|r| (r.pointer.as_str(), r.reason.as_str()))
                .collect();
            let mut ops = Vec::new();
            let mut failed = Vec::new();
            // In progenitor's order: by path, then its order of methods.
            for path in self.spec["paths"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(p, _)| p)
            {
                for method in METHODS {
                    let at = format!("/paths/{}/{method}", escape(path));
                    let found = match by_pointer.get(at.as_str()) {
                        Some(op) => self.operation(op),
                        None => match refused.get(at.as_str()) {
                            Some(reason) => Err(anyhow::anyhow!("{reason}")),
                            None => continue,
                        },
                    };
                    match found {
                        Ok(op) => ops.push(op),
                        Err(err) => {
                            failed.push((path.clone(), method.to_string(), format!("{err:#}")))
                        }
                    }
                }
            }
            Modelled { api, ops, failed }
        })
    }

    /// The operations the emitter cannot model: path, method and the
    /// reason, for the caller to leave out.
    pub(crate) fn unmodelled(&self) -> &[(String, String, String)] {
        &self.modelled().failed
    }

    /// Every operation's model; an error naming the first that has none.
    fn operations(&self) -> anyhow::Result<&[Op]> {
        let modelled = self.modelled();
        match modelled.failed.first() {
            Some((path, method, reason)) => {
                bail!("/paths/{}/{method}: {reason}", escape(path))
            }
            None => Ok(&modelled.ops),
        }
    }

    fn operation(&self, op: &model::Operation) -> anyhow::Result<Op> {
        let id = op.id.clone();
        let (path, method) = (op.path.as_str(), op.method.as_str());
        let mut params: Vec<Param> = Vec::new();
        for param in &op.params {
            let schema = param.schema.as_ref().unwrap_or(&Value::Null);
            let (ty, integer) = self.param_type(&id, &param.name, schema)?;
            params.push(Param {
                name: param.name.clone(),
                location: param.location.as_str().to_owned(),
                required: param.required,
                description: param.description.clone(),
                ty,
                integer,
                tenant: param.tenant_switch,
                example: self
                    .first_example(&param.raw)
                    .or_else(|| self.first_example(schema)),
                schema: self.resolve(schema, "schemas")?.clone(),
                open: self.is_open(&schema["$ref"]),
            });
        }
        let mut media_type = None;
        let mut media_types = Vec::new();
        let mut body_example = None;
        let mut body_schema = None;
        let body = match &op.body {
            Some(body) => {
                // A `+json` media type beside `application/json` (a merge
                // patch) is the more specific: it goes on the wire.
                let content = body
                    .content
                    .iter()
                    .find(|c| c.media.ends_with("+json"))
                    .or_else(|| body.content.first())
                    .context("a request body without content")?;
                let schema = content.schema.as_ref().unwrap_or(&Value::Null);
                let essence = content.media.split(';').next().unwrap_or_default().trim();
                let ty = if essence.ends_with("json")
                    || essence.ends_with("form-urlencoded")
                    || essence == "multipart/form-data"
                {
                    self.schema_type(schema, &format!("{}Body", pascal(&id)))?
                } else {
                    // Bytes or text: whatever reqwest sends as a body.
                    quote!(::reqwest::Body)
                };
                let raw = |media: &str| {
                    let essence = media.split(';').next().unwrap_or_default().trim();
                    !(essence.ends_with("json")
                        || essence.ends_with("form-urlencoded")
                        || essence.starts_with("multipart/"))
                };
                if body.content.len() > 1 && body.content.iter().all(|c| raw(&c.media)) {
                    media_types = body.content.iter().map(|c| c.media.clone()).collect();
                } else if content.media != "application/json" {
                    media_type = Some(content.media.clone());
                }
                body_example = self
                    .first_example(&content.raw)
                    .or_else(|| self.first_example(schema));
                body_schema = Some((
                    self.resolve(schema, "schemas")?.clone(),
                    content.media.clone(),
                ));
                Some((ty, body.required))
            }
            None => None,
        };
        let mut value = quote!(());
        let mut value_ref = None;
        let mut accept = None;
        let mut headers: Vec<Header> = Vec::new();
        let several = self.several.contains(&(path.to_owned(), method.to_owned()));
        // An operation that documents no success: progenitor hands over
        // whatever comes as a stream.
        if !op.responses.iter().any(|r| r.key.starts_with('2')) {
            value = quote!(::progenitor_client::ByteStream);
        }
        let mut successes = Vec::new();
        for response in op.responses.iter().filter(|r| r.key.starts_with('2')) {
            // progenitor types the JSON one of several media types.
            let first = response.json().or_else(|| response.content.first());
            let schema = first
                .and_then(|c| c.schema.as_ref())
                .unwrap_or(&Value::Null);
            if several {
                let status = &response.key;
                let code: u16 = status
                    .parse()
                    .with_context(|| format!("success status {status}"))?;
                let body = match first {
                    Some(_) => Some(self.schema_type(schema, &format!("{}Response", pascal(&id)))?),
                    None => None,
                };
                successes.push((code, format_ident!("{}", status_name(code)), body));
            } else if let Some(content) = first {
                let essence = content.media.split(';').next().unwrap_or_default().trim();
                if essence == "application/json" || essence.ends_with("+json") {
                    value = self.schema_type(schema, &format!("{}Response", pascal(&id)))?;
                    value_ref = three_state::referenced(schema).map(str::to_owned);
                } else {
                    // progenitor hands any other body over as a stream.
                    value = quote!(::progenitor_client::ByteStream);
                    // Asked for as what it is, beside the problems.
                    let mut media: Vec<&str> =
                        response.content.iter().map(|c| c.media.as_str()).collect();
                    media.push("application/problem+json");
                    accept = Some(media.join(", "));
                }
            }
            for header in &response.headers {
                if headers
                    .iter()
                    .any(|h| h.name.eq_ignore_ascii_case(&header.name))
                {
                    continue;
                }
                headers.push(Header {
                    name: header.name.clone(),
                    description: header.description.clone(),
                    required: header.required,
                    ty: header_type(&header.name, &header.schema),
                });
            }
        }
        if several {
            let name = format_ident!("{}", builder_name(&id));
            value = quote!(crate::sdk::answers::#name);
        }
        let pagination = match op.extensions.get(PAGINATION) {
            Some(marker) => Some(self.pagination(marker, value_ref.as_deref(), &params)?),
            None => None,
        };
        let errors = op
            .responses
            .iter()
            .filter_map(|r| match r.status {
                model::Status::Code(code) if code >= 400 => Some((
                    code,
                    r.description.clone(),
                    r.json()
                        .and_then(|c| c.schema.as_ref())
                        .and_then(three_state::referenced)
                        .map(str::to_owned),
                )),
                _ => None,
            })
            .collect();
        let mut doc = String::new();
        if let Some(summary) = &op.summary {
            doc.push_str(summary.trim());
            doc.push_str(".\n\n");
        }
        if let Some(description) = &op.description {
            doc.push_str(description.trim());
            doc.push_str("\n\n");
        }
        doc.push_str(&format!("`{} {path}` (`{id}`).", method.to_uppercase()));
        Ok(Op {
            id,
            method: method.to_owned(),
            path: path.to_owned(),
            summary: op.summary.clone().unwrap_or_default(),
            doc,
            errors,
            params,
            body,
            media_type,
            media_types,
            accept,
            body_example,
            value,
            headers,
            pagination,
            successes: several.then_some(successes),
            security: op.security.clone(),
            tags: op.tags.clone(),
            description: op.description.clone(),
            body_schema,
        })
    }

    fn pagination(
        &self,
        marker: &Value,
        page: Option<&str>,
        params: &[Param],
    ) -> anyhow::Result<Pagination> {
        let field = |key: &str| {
            marker
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .with_context(|| format!("{PAGINATION} needs `{key}`"))
        };
        let (cursor, next, items) = (field("cursor")?, field("nextCursor")?, field("items")?);
        if !params
            .iter()
            .any(|p| p.name == cursor && p.location == "query")
        {
            bail!("{PAGINATION}: no query parameter {cursor:?}");
        }
        let page = page.with_context(|| format!("{PAGINATION}: the page is not a component"))?;
        let schema = &self.spec["components"]["schemas"][page];
        if schema["properties"].get(&next).is_none() {
            bail!("{PAGINATION}: {page} has no member {next:?}");
        }
        let item = &schema["properties"][&items]["items"];
        if item.is_null() {
            bail!("{PAGINATION}: {page}.{items} is not an array");
        }
        let item = self.schema_type(item, &format!("{page}{}Item", pascal(&items)))?;
        Ok(Pagination {
            cursor,
            next,
            items,
            item,
        })
    }

    /// The type progenitor gives a body or response schema.
    fn schema_type(&self, schema: &Value, hint: &str) -> anyhow::Result<TokenStream> {
        if let Some(name) = three_state::referenced(schema) {
            return self.component_type(name);
        }
        // A schema that says nothing (`{}`, or none) admits any JSON.
        if schema.as_object().is_none_or(|s| s.is_empty()) {
            return Ok(quote!(::serde_json::Value));
        }
        Ok(self.named_type(hint)?.ident())
    }

    /// The type progenitor's setter for a parameter takes: the component it
    /// refers to, the type progenitor named `<operation><parameter>`, or the
    /// built-in typify gives the schema.
    fn param_type(
        &self,
        op: &str,
        name: &str,
        schema: &Value,
    ) -> anyhow::Result<(TokenStream, Option<Integer>)> {
        if let Some(reference) = three_state::referenced(schema) {
            return Ok((self.component_type(reference)?, None));
        }
        let named = pascal(&format!("{op}-{name}"));
        if let Ok(ty) = self.named_type(&named) {
            return Ok((ty.ident(), None));
        }
        // An array of a component: progenitor takes a `Vec` of its type.
        if schema["type"] == "array"
            && let Some(reference) = three_state::referenced(&schema["items"])
        {
            let item = self.component_type(reference)?;
            return Ok((quote!(::std::vec::Vec<#item>), None));
        }
        let ty = builtin(schema).with_context(|| format!("the schema of parameter {name}"))?;
        let integer = (schema["type"] == "integer").then(|| {
            let text = ty.to_string().replace(' ', "");
            let primitive = match text.rsplit("::").next().unwrap_or_default() {
                "NonZeroU8" => quote!(u8),
                "NonZeroU16" => quote!(u16),
                "NonZeroU32" => quote!(u32),
                "NonZeroU64" => quote!(u64),
                _ => ty.clone(),
            };
            Integer {
                primitive,
                min: schema
                    .get("minimum")
                    .and_then(Value::as_f64)
                    .map(|v| v as i128),
                max: schema
                    .get("maximum")
                    .and_then(Value::as_f64)
                    .map(|v| v as i128),
            }
        });
        Ok((ty, integer))
    }

    /// `Client::<op>`.
    fn method(&self, op: &Op) -> anyhow::Result<TokenStream> {
        let fn_name = op.fn_name();
        let builder = op.struct_name();
        let doc = &op.doc;
        let positional = op.positional();
        let mut args = Vec::new();
        let mut steps = Vec::new();
        let mut arg_docs = String::new();
        for param in &positional {
            let arg = param.setter();
            let ty = param.arg_type();
            args.push(quote!(#arg: #ty));
            let value = param.convert(&quote!(#arg));
            let setter = param.setter();
            steps.push(quote!(let call = call.#setter(#value?);));
            if let Some(description) = &param.description {
                arg_docs.push_str(&format!("\n- `{arg}`: {}", one_line(description)));
            }
        }
        if let Some((ty, _)) = &op.body {
            args.push(quote!(body: impl rt::Body<#ty>));
            steps.push(quote!(let call = call.body(body.into_body()?);));
        }
        if let Some(tenant) = op.params.iter().find(|p| p.tenant) {
            let setter = tenant.setter();
            let value = tenant.convert(&quote!(key));
            steps.push(quote! {
                let call = match self.tenant() {
                    Some(key) => call.#setter(#value?),
                    None => call,
                };
            });
        }
        let arg_docs = (!arg_docs.is_empty()).then(|| {
            let text = format!("\n\n# Arguments\n{arg_docs}");
            quote!(#[doc = #text])
        });
        let generated_fn = op.fn_name();
        Ok(quote! {
            #[doc = #doc]
            #arg_docs
            pub fn #fn_name(&self, #(#args),*) -> ops::#builder<'_> {
                let call = (|| -> Result<_, Error> {
                    let call = self.generated().#generated_fn();
                    #(#steps)*
                    Ok(call)
                })();
                ops::#builder::new(call)
            }
        })
    }

    /// `ops::<Op>`: the request builder.
    fn builder(&self, op: &Op) -> anyhow::Result<TokenStream> {
        let name = op.struct_name();
        let value = &op.value;
        let respond = match &op.successes {
            None => quote!(rt::respond(value)),
            Some(successes) => {
                let arms = successes.iter().map(|(code, variant, body)| match body {
                    Some(_) => quote!(#code => Ok(#value::#variant(rt::json(status, bytes)?))),
                    None => quote!(#code => Ok(#value::#variant)),
                });
                quote! {
                    rt::respond_by_status(value, |status, bytes| match status.as_u16() {
                        #(#arms,)*
                        _ => Err(Error::UnexpectedResponse {
                            status,
                            body: String::from_utf8_lossy(bytes).into_owned(),
                        }),
                    })
                    .await
                }
            }
        };
        let headers = op.headers_type();
        let doc = format!(
            "A `{} {}` request: see [`Client::{}`](crate::Client::{}).",
            op.method.to_uppercase(),
            op.path,
            op.fn_name(),
            op.fn_name()
        );
        let mut setters = Vec::new();
        for param in &op.params {
            if param.location == "path" || param.required || param.tenant {
                continue;
            }
            if param.is_header("If-None-Match") {
                continue;
            }
            let setter = param.setter();
            let ty = param.arg_type();
            let value = param.convert(&quote!(value));
            let doc = match &param.description {
                Some(text) => text.trim().to_owned(),
                None => format!("The `{}` parameter.", param.name),
            };
            let doc = format!("{doc}\n\n`{}` in the {}.", param.name, param.location);
            setters.push(quote! {
                #[doc = #doc]
                pub fn #setter(self, value: #ty) -> Self {
                    self.map(|call| Ok(call.#setter(#value?)))
                }
            });
        }
        if op.body.as_ref().is_some_and(|(_, required)| !required) {
            let (ty, _) = op.body.as_ref().unwrap();
            setters.push(quote! {
                /// The request body.
                pub fn body(self, body: impl rt::Body<#ty>) -> Self {
                    self.map(|call| Ok(call.body(body.into_body()?)))
                }
            });
        }
        let mut extra = Vec::new();
        // A parameter whose setter would be `content_type` keeps the name.
        let taken = op
            .params
            .iter()
            .any(|p| p.setter() == format_ident!("content_type"));
        if !op.media_types.is_empty() && !taken {
            // Bytes in one of several media types: the caller may name
            // which (a stream has no first bytes to read it from).
            let media = format_ident!("{}Media", name);
            let typed = format_ident!("{}As", name);
            let variants: Vec<Ident> = op
                .media_types
                .iter()
                .map(|m| format_ident!("{}", pascal(m)))
                .collect();
            let texts = &op.media_types;
            let docs = texts.iter().map(|m| format!("`{m}`"));
            let media_doc = format!("The media types `{}` takes its body in.", op.id);
            setters.push(quote! {
                /// Sends the body as `media`. Without it, bytes go as the
                /// type their first bytes are; a stream, as
                /// `application/octet-stream`. Set it last.
                pub fn content_type(self, media: #media) -> #typed<'a> {
                    #typed { call: self.call, media }
                }
            });
            let doc = format!(
                "A [`{name}`] whose body goes as a media type the caller named: see [`{name}::content_type`]."
            );
            extra.push(quote! {
                #[doc = #media_doc]
                #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
                pub enum #media {
                    #(#[doc = #docs] #variants,)*
                }

                impl #media {
                    /// The media type as the spec writes it.
                    pub fn as_str(self) -> &'static str {
                        match self { #(Self::#variants => #texts,)* }
                    }
                }

                #[doc = #doc]
                #[derive(Debug)]
                #[must_use = "a request does nothing until it is sent"]
                pub struct #typed<'a> {
                    call: Result<generated::builder::#name<'a>, Error>,
                    media: #media,
                }

                impl<'a> #typed<'a> {
                    /// Sends the request.
                    pub async fn send(self) -> Result<rt::Response<#value, #headers>, Error> {
                        match rt::sending_as(self.media.as_str(), self.call?.send()).await {
                            Ok(value) => #respond,
                            Err(err) => Err(Error::from_progenitor(err).await),
                        }
                    }
                }

                impl<'a> ::std::future::IntoFuture for #typed<'a> {
                    type Output = Result<rt::Response<#value, #headers>, Error>;
                    type IntoFuture = rt::BoxFuture<'a, Self::Output>;
                    fn into_future(self) -> Self::IntoFuture {
                        Box::pin(self.send())
                    }
                }
            });
        }
        if let Some(param) = op.param("If-None-Match") {
            let conditional = format_ident!("{}IfChanged", name);
            let setter = param.setter();
            let tag = param.convert(&quote!(etag));
            setters.push(quote! {
                /// Asks for the resource only if it changed since `etag` was
                /// read: a `304` answers [`rt::Conditional::NotModified`].
                pub fn if_none_match(self, etag: &rt::ETag) -> #conditional<'a> {
                    #conditional { call: self.call.and_then(|call| Ok(call.#setter(#tag?))) }
                }
            });
            let doc = format!("A conditional [`{name}`]: see [`{name}::if_none_match`].");
            extra.push(quote! {
                #[doc = #doc]
                #[derive(Debug)]
                #[must_use = "a request does nothing until it is sent"]
                pub struct #conditional<'a> {
                    call: Result<generated::builder::#name<'a>, Error>,
                }

                impl<'a> #conditional<'a> {
                    /// Sends the request.
                    pub async fn send(self) -> Result<rt::Conditional<rt::Response<#value, #headers>>, Error> {
                        match self.call?.send().await {
                            Ok(value) => rt::respond(value).map(rt::Conditional::Modified),
                            Err(err) => rt::not_modified_or(err).await,
                        }
                    }
                }

                impl<'a> ::std::future::IntoFuture for #conditional<'a> {
                    type Output = Result<rt::Conditional<rt::Response<#value, #headers>>, Error>;
                    type IntoFuture = rt::BoxFuture<'a, Self::Output>;
                    fn into_future(self) -> Self::IntoFuture {
                        Box::pin(self.send())
                    }
                }
            });
        }
        if let Some(pagination) = &op.pagination {
            let item = &pagination.item;
            let cursor = op
                .params
                .iter()
                .find(|p| p.name == pagination.cursor && p.location == "query")
                .context("the cursor parameter")?;
            let cursor_setter = cursor.setter();
            let cursor_value = cursor.convert(&quote!(cursor));
            let next = field_ident(&pagination.next);
            let items = field_ident(&pagination.items);
            let doc = format!(
                "Every item of every page, one page at a time: each page's `{}` is sent as `{}` for the next, until a page has none.",
                pagination.next, pagination.cursor
            );
            setters.push(quote! {
                #[doc = #doc]
                pub fn stream(self) -> rt::Pages<'a, #item> {
                    rt::pages(
                        self.call,
                        |call: generated::builder::#name<'a>| async move {
                            let page = match call.send().await {
                                Ok(value) => value.into_inner(),
                                Err(err) => return Err(Error::from_progenitor(err).await),
                            };
                            Ok((page.#items, page.#next.map(|next| next.to_string())))
                        },
                        |call: generated::builder::#name<'a>, cursor: String| Ok(call.#cursor_setter(#cursor_value?)),
                    )
                }
            });
        }
        Ok(quote! {
            #[doc = #doc]
            #[derive(Debug)]
            #[must_use = "a request does nothing until it is sent"]
            pub struct #name<'a> {
                call: Result<generated::builder::#name<'a>, Error>,
            }

            impl<'a> #name<'a> {
                pub(crate) fn new(call: Result<generated::builder::#name<'a>, Error>) -> Self {
                    Self { call }
                }

                #[allow(dead_code)]
                fn map(mut self, f: impl FnOnce(generated::builder::#name<'a>) -> Result<generated::builder::#name<'a>, Error>) -> Self {
                    self.call = self.call.and_then(f);
                    self
                }

                #(#setters)*

                /// Sends the request.
                pub async fn send(self) -> Result<rt::Response<#value, #headers>, Error> {
                    match self.call?.send().await {
                        Ok(value) => #respond,
                        Err(err) => Err(Error::from_progenitor(err).await),
                    }
                }
            }

            impl<'a> ::std::future::IntoFuture for #name<'a> {
                type Output = Result<rt::Response<#value, #headers>, Error>;
                type IntoFuture = rt::BoxFuture<'a, Self::Output>;
                fn into_future(self) -> Self::IntoFuture {
                    Box::pin(self.send())
                }
            }

            #(#extra)*
        })
    }

    /// `Client::<op>_with` for a write taking `If-Match` and a body, beside
    /// a `GET` of the same path that answers an `ETag` and takes no other
    /// required parameter.
    fn read_modify_write(&self, op: &Op, ops: &[Op]) -> anyhow::Result<Option<TokenStream>> {
        let (Some(read), Some((body, _))) = (rmw_read(op, ops), &op.body) else {
            return Ok(None);
        };
        let fn_name = format_ident!("{}_with", method_name(&op.id));
        let write = op.fn_name();
        let read_fn = read.fn_name();
        let read_value = &read.value;
        let value = &op.value;
        let headers = op.headers_type();
        let path: Vec<_> = op.positional().iter().map(|p| p.setter()).collect();
        let args: Vec<_> = op
            .positional()
            .iter()
            .map(|p| {
                let arg = p.setter();
                let ty = p.arg_type();
                quote!(#arg: #ty + Clone)
            })
            .collect();
        let doc = format!(
            "Read-modify-write with optimistic concurrency: reads with [`Client::{read_fn}`], \
             asks `change` for the body, sends it with [`Client::{write}`] and `If-Match` set to \
             the `ETag` read, and on a `412` reads again and retries, at most `max_attempts` times \
             (then [`Error::TooManyConflicts`]). If the write gets no answer its outcome is \
             unknown and `change` is not applied again: the error is [`Error::OutcomeUnknown`]."
        );
        let read_id = &read.id;
        Ok(Some(quote! {
            #[doc = #doc]
            pub async fn #fn_name<B: rt::Body<#body>>(
                &self,
                #(#args,)*
                max_attempts: u32,
                mut change: impl FnMut(&#read_value) -> B,
            ) -> Result<rt::Response<#value, #headers>, Error> {
                let attempts = max_attempts.max(1);
                for _ in 0..attempts {
                    let current = self.#read_fn(#(#path.clone()),*).send().await?;
                    let etag = rt::HasETag::optional_etag(current.headers()).cloned().ok_or_else(|| {
                        Error::InvalidResponse(format!("{} answered without an ETag", #read_id))
                    })?;
                    let body = change(&current);
                    match self.#write(#(#path.clone(),)* body).if_match(&etag).send().await {
                        Ok(done) => return Ok(done),
                        Err(err) if err.status() == Some(::reqwest::StatusCode::PRECONDITION_FAILED) => continue,
                        Err(err @ Error::Transport(_)) => return Err(Error::OutcomeUnknown(Box::new(err))),
                        Err(err) => return Err(err),
                    }
                }
                Err(Error::TooManyConflicts { attempts })
            }
        }))
    }
}

/// The read of `op`'s read-modify-write helper (`Client::<op>_with`): a
/// `GET` of the same path answering an `ETag`, when `op` takes `If-Match`,
/// a required body and no positional parameter outside the path.
fn rmw_read<'o>(op: &Op, ops: &'o [Op]) -> Option<&'o Op> {
    let (Some(_), Some((_, true))) = (op.param("If-Match"), &op.body) else {
        return None;
    };
    if op.positional().iter().any(|p| p.location != "path") {
        return None;
    }
    // The read takes the write's path arguments as they are: the same
    // types (a constrained parameter is a newtype of each operation's own).
    let types = |o: &Op| -> Vec<String> {
        o.positional()
            .iter()
            .map(|p| p.arg_type().to_string())
            .collect()
    };
    ops.iter().find(|r| {
        r.method == "get"
            && r.path == op.path
            && r.headers
                .iter()
                .any(|h| h.name.eq_ignore_ascii_case("ETag"))
            && r.positional().iter().all(|p| p.location == "path")
            && types(r) == types(op)
    })
}

/// `headers::<Op>`, with its `FromHeaders`.
/// The runtime's table of an operation's security requirements: empty when
/// the operation is open or names bearer schemes only (the runtime sends a
/// token it has to those anyway).
fn security_table(security: &model::Security) -> Vec<TokenStream> {
    let model::Security::OneOf(alternatives) = security else {
        return Vec::new();
    };
    let bearer_only = alternatives.iter().flat_map(|r| &r.0).all(|u| {
        matches!(
            u.scheme,
            model::Scheme::Bearer | model::Scheme::OAuth2 | model::Scheme::OpenIdConnect
        )
    });
    if bearer_only {
        return Vec::new();
    }
    alternatives
        .iter()
        .map(|requirement| {
            let schemes = requirement.0.iter().map(|u| match &u.scheme {
                model::Scheme::Basic => quote!(rt::Scheme::Basic),
                model::Scheme::ApiKey { location, name } => {
                    let scheme = &u.name;
                    let location = match location {
                        model::Location::Query => quote!(Query),
                        model::Location::Cookie => quote!(Cookie),
                        _ => quote!(Header),
                    };
                    quote!(rt::Scheme::ApiKey { scheme: #scheme, location: rt::KeyLocation::#location, name: #name })
                }
                // A scheme the runtime cannot send (HTTP digest, mutual TLS)
                // is asked of the bearer token, which the server refuses
                // with what it wants.
                _ => quote!(rt::Scheme::Bearer),
            });
            quote!(&[#(#schemes),*])
        })
        .collect()
}

fn headers_struct(op: &Op) -> TokenStream {
    if op.headers.is_empty() {
        return quote!();
    }
    let name = op.struct_name();
    let mut fields = Vec::new();
    let mut reads = Vec::new();
    for header in &op.headers {
        let field = header_field(&header.name);
        let ty = &header.ty;
        let lower = header.name.to_ascii_lowercase();
        let doc = match &header.description {
            Some(text) => format!("`{}`: {}", header.name, text.trim()),
            None => format!("`{}`.", header.name),
        };
        if header.required {
            fields.push(quote!(#[doc = #doc] pub #field: #ty,));
            let spelled = &header.name;
            reads.push(quote!(#field: rt::required_header(map, #lower, #spelled)?,));
        } else {
            fields.push(quote!(#[doc = #doc] pub #field: Option<#ty>,));
            reads.push(quote!(#field: rt::header(map, #lower)?,));
        }
    }
    let doc = format!(
        "The headers `{}` answers, as the spec declares them.",
        op.id
    );
    let tagged = op
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("ETag"))
        .map(|h| {
            let field = header_field(&h.name);
            let (tag, get, optional) = if h.required {
                (
                    quote!(&'a rt::ETag),
                    quote!(&self.#field),
                    quote!(Some(&self.#field)),
                )
            } else {
                (
                    quote!(Option<&'a rt::ETag>),
                    quote!(self.#field.as_ref()),
                    quote!(self.#field.as_ref()),
                )
            };
            quote! {
                impl rt::HasETag for #name {
                    type Tag<'a> = #tag;
                    fn etag(&self) -> Self::Tag<'_> {
                        #get
                    }
                    fn optional_etag(&self) -> Option<&rt::ETag> {
                        #optional
                    }
                }
            }
        });
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, PartialEq)]
        pub struct #name {
            #(#fields)*
        }

        impl rt::FromHeaders for #name {
            fn from_headers(map: &::reqwest::header::HeaderMap) -> Result<Self, crate::Error> {
                Ok(Self { #(#reads)* })
            }
        }

        #tagged
    }
}

/// `answers::<Op>`: the typed successes of an operation whose success
/// statuses answer different types.
/// progenitor's name for the method of the operation `id`.
fn method_name(id: &str) -> String {
    super::naming::progenitor(id, false)
}

/// progenitor's name for the builder of the operation `id`.
fn builder_name(id: &str) -> String {
    super::naming::progenitor(&method_name(id), true)
}

fn answers_enum(op: &Op) -> TokenStream {
    let Some(successes) = &op.successes else {
        return quote!();
    };
    let name = op.struct_name();
    let variants = successes.iter().map(|(code, variant, body)| {
        let doc = format!("`{code}`.");
        match body {
            Some(ty) => quote!(#[doc = #doc] #variant(#ty),),
            None => quote!(#[doc = #doc] #variant,),
        }
    });
    let doc = format!("What `{}` answers on success, by status.", op.id);
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, PartialEq, ::serde::Serialize)]
        #[serde(untagged)]
        pub enum #name { #(#variants)* }
    }
}

/// A header's field: its name lower-cased (header names ignore case), in
/// snake case.
fn header_field(name: &str) -> proc_macro2::Ident {
    ident(&snake(&name.to_ascii_lowercase()))
}

/// The Rust type of a response header.
fn header_type(name: &str, schema: &Value) -> TokenStream {
    if name.eq_ignore_ascii_case("ETag") {
        return quote!(rt::ETag);
    }
    match (
        schema.get("type").and_then(Value::as_str),
        schema.get("format").and_then(Value::as_str),
    ) {
        (Some("integer"), Some("int32")) => quote!(i32),
        (Some("integer"), _) => quote!(i64),
        (Some("number"), _) => quote!(f64),
        (Some("boolean"), _) => quote!(bool),
        (Some("string"), Some("uuid")) => quote!(::uuid::Uuid),
        _ => quote!(String),
    }
}

/// The type typify gives an unnamed schema without constraints of its own.
fn builtin(schema: &Value) -> anyhow::Result<TokenStream> {
    let converted: schemars::schema::Schema = serde_json::from_value(schema.clone())?;
    // typify asserts where it should refuse: its panic is an error here.
    std::panic::catch_unwind(|| -> anyhow::Result<TokenStream> {
        let mut space = TypeSpace::default();
        let id = space.add_type(&converted)?;
        Ok(space.get_type(&id)?.ident())
    })
    .map_err(|_| anyhow::anyhow!("typify cannot type the schema {schema}"))?
}

/// Whether typify names an inline schema (a string with constraints, an
/// enum, an object, an array, a composition) rather than giving it a
/// built-in type.
pub(crate) fn needs_name(schema: &Value) -> bool {
    [
        "enum",
        "pattern",
        "minLength",
        "maxLength",
        "properties",
        "additionalProperties",
        "items",
        "allOf",
        "anyOf",
        "oneOf",
    ]
    .iter()
    .any(|key| schema.get(key).is_some())
}

/// `schema` without what makes it admit `null`.
pub(crate) fn without_null(schema: &Value) -> Value {
    let mut schema = schema.clone();
    if let Value::Object(object) = &mut schema {
        object.remove("nullable");
        object.remove("x-nullable");
        if let Some(Value::Array(values)) = object.get_mut("enum") {
            values.retain(|v| !v.is_null());
        }
    }
    schema
}

/// The component the client view lifts the inline member `prop` of the
/// merge schema `owner` to.
pub(crate) fn lifted_name(owner: &str, prop: &str) -> String {
    format!("{owner}{}", pascal(prop))
}

/// Whether a schema admits `null`.
pub(crate) fn is_nullable(schema: &Value) -> bool {
    schema.get("nullable") == Some(&Value::Bool(true))
        || schema.get("x-nullable") == Some(&Value::Bool(true))
}

fn docs(text: Option<&str>) -> TokenStream {
    match text {
        Some(text) => {
            let text = text.trim_end();
            quote!(#[doc = #text])
        }
        None => quote!(),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One operation's code samples; see [`Sdk::samples`].
pub(crate) struct Sample {
    pub(crate) operation_id: String,
    pub(crate) summary: String,
    /// The Rust sample as a doctest (hidden `# ` lines included).
    pub(crate) rust_doctest: String,
    /// The Rust sample as a page shows it.
    pub(crate) rust: String,
    pub(crate) curl: String,
}

/// The Rust text of a parameter's example value as the SDK takes it.
fn rust_literal(param: &Param) -> String {
    match (&param.integer, &param.example) {
        (Some(_), Some(Value::Number(n))) => n.to_string(),
        (Some(_), _) => "1".to_owned(),
        (None, Some(Value::String(text))) => format!("{text:?}"),
        (None, Some(other)) => format!("{:?}", other.to_string()),
        (None, None) => format!("{:?}", param.name),
    }
}

/// A parameter's example value as text, for a URL or a header.
fn text_value(param: &Param) -> String {
    match &param.example {
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
        None if param.integer.is_some() => "1".to_owned(),
        None => format!("{{{}}}", param.name),
    }
}

/// The Rust path of a type the surface names, from outside the crate.
fn outside_path(ty: &TokenStream, krate: &str) -> String {
    let text = ty.to_string().replace(" :: ", "::").replace(":: ", "::");
    let text = text.trim_start_matches("::");
    match text.strip_prefix("crate::") {
        Some(rest) => format!("{krate}::{rest}"),
        None if text.starts_with("types::") => format!("{krate}::{text}"),
        None => text.to_owned(),
    }
}

fn rust_sample(op: &Op, krate: &str, base: &str, bearer: bool) -> String {
    let if_match = op.param("If-Match").is_some()
        || op.positional().iter().any(|p| p.is_header("If-None-Match"));
    let mut lines = vec![
        if if_match {
            format!("use {krate}::{{Client, ETag}};")
        } else {
            format!("use {krate}::Client;")
        },
        "# async fn sample() -> Result<(), Box<dyn std::error::Error>> {".to_owned(),
        format!("let client = Client::builder({base:?})"),
    ];
    if bearer {
        lines.push("    .bearer_token(std::env::var(\"API_TOKEN\")?)".to_owned());
    }
    lines.push("    .build()?;".to_owned());
    // An entity tag given positionally (a required `If-Match`) is passed by
    // reference; an optional one is set on the request builder.
    let mut args: Vec<String> = op
        .positional()
        .iter()
        .map(|p| {
            if p.is_header("If-Match") || p.is_header("If-None-Match") {
                "&etag".to_owned()
            } else {
                rust_literal(p)
            }
        })
        .collect();
    if let Some((ty, _)) = &op.body {
        let ty = outside_path(ty, krate);
        let example = op
            .body_example
            .clone()
            .unwrap_or(Value::Object(Default::default()));
        if ty.ends_with("reqwest::Body") {
            let text = match &example {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            lines.push(format!("let body = reqwest::Body::from({text:?});"));
        } else {
            let json = serde_json::to_string_pretty(&example).unwrap_or_default();
            lines.push(format!(
                "let body: {ty} = serde_json::from_value(serde_json::json!({json}))?;"
            ));
        }
        args.push("body".to_owned());
    }
    if if_match {
        lines.push("// The ETag the last read or write of it answered.".to_owned());
        lines.push("let etag: ETag = \"\\\"7\\\"\".parse()?;".to_owned());
    }
    lines.push(format!(
        "let answer = client\n    .{}({})",
        op.fn_name(),
        args.join(", ")
    ));
    if op.param("If-Match").is_some_and(|p| !p.required) {
        lines.push("    .if_match(&etag)".to_owned());
    }
    lines.push("    .await?;".to_owned());
    lines.push("# let _ = answer;".to_owned());
    lines.push("# Ok(())".to_owned());
    lines.push("# }".to_owned());
    lines.join("\n")
}

/// Single-quoted for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

fn curl_sample(op: &Op, base: &str, bearer: bool) -> String {
    let mut path = op.path.clone();
    for param in op.params.iter().filter(|p| p.location == "path") {
        path = path.replace(&format!("{{{}}}", param.name), &text_value(param));
    }
    let query: Vec<String> = op
        .params
        .iter()
        .filter(|p| p.location == "query" && p.required)
        .map(|p| format!("{}={}", p.name, text_value(p)))
        .collect();
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    let mut lines = vec![format!(
        "curl -X {} {}",
        op.method.to_uppercase(),
        shell_quote(&format!("{base}{path}"))
    )];
    if bearer {
        lines.push("  -H \"Authorization: Bearer $API_TOKEN\"".to_owned());
    }
    for param in op
        .params
        .iter()
        .filter(|p| p.location == "header" && (p.required || p.is_header("If-Match")))
    {
        let value = if param.is_header("If-Match") {
            "\"7\"".to_owned()
        } else {
            text_value(param)
        };
        lines.push(format!(
            "  -H {}",
            shell_quote(&format!("{}: {value}", param.name))
        ));
    }
    if op.body.is_some() {
        let media = op
            .media_type
            .as_deref()
            .or(op.media_types.first().map(String::as_str))
            .unwrap_or("application/json");
        lines.push(format!(
            "  -H {}",
            shell_quote(&format!("Content-Type: {media}"))
        ));
        let body = match &op.body_example {
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
            None => "{}".to_owned(),
        };
        lines.push(format!("  -d {}", shell_quote(&body)));
    }
    lines.join(" \\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_over_several_lines_stays_in_the_module_text() {
        let module = samples_module(&[Sample {
            operation_id: "getThing".into(),
            summary: "Gets the thing, or the\nprevious one.".into(),
            rust_doctest: "let x = 1;".into(),
            rust: String::new(),
            curl: String::new(),
        }]);
        assert!(module.contains("//! Gets the thing, or the previous one.\n"));
        assert!(
            module
                .lines()
                .all(|line| line.is_empty() || line.starts_with("//")),
            "{module}"
        );
    }
}
