//! The SDK's `mock` module (feature `mock`): `httpmock` helpers typed by the
//! spec, for testing code that uses the SDK without a server.
//!
//! For every operation, `mock::operations::<Op>When` matches what the client
//! sends (its parameters taken as the client takes them) and
//! `<Op>Then` answers each documented response with the status, the media
//! type and the required headers the spec gives it. `mock::fixtures` holds a
//! value of each schema the spec has an example of, built from that example.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::Value;

use super::{Op, Sdk, header_field, header_type, is_json, three_state};
use crate::codegen::naming::{ident, pascal, snake, status_name};

impl Sdk<'_> {
    /// The tokens of the `mock` module.
    pub(crate) fn mock(&self) -> anyhow::Result<TokenStream> {
        let ops = self.operations()?;
        let mut items = Vec::new();
        let mut trait_fns = Vec::new();
        let mut impl_fns = Vec::new();
        for op in ops {
            items.push(self.when(op)?);
            items.push(self.then(op)?);
            let fn_name = op.fn_name();
            let when = format_ident!("{}When", pascal(&op.id));
            let then = format_ident!("{}Then", pascal(&op.id));
            let doc = format!(
                "Mocks `{}` (`{} {}`).",
                op.id,
                op.method.to_uppercase(),
                op.path
            );
            trait_fns.push(quote! {
                #[doc = #doc]
                fn #fn_name<F>(&self, config: F) -> ::httpmock::Mock<'_>
                where
                    F: FnOnce(operations::#when, operations::#then);
            });
            impl_fns.push(quote! {
                fn #fn_name<F>(&self, config: F) -> ::httpmock::Mock<'_>
                where
                    F: FnOnce(operations::#when, operations::#then),
                {
                    self.mock(|when, then| {
                        config(operations::#when::new(when), operations::#then::new(then))
                    })
                }
            });
        }
        let fixtures = self.fixtures()?;
        Ok(quote! {
            //! Typed `httpmock` helpers for every operation (feature `mock`):
            //! `server.get_user(|when, then| { when.user_id(id); then.ok(&user, &etag); })`.
            //! The answers carry the status, media type and required headers
            //! the spec documents; `fixtures` holds values built from the
            //! spec's examples.
            #![allow(unused_imports, clippy::too_many_arguments)]

            pub use ::httpmock::{Mock, MockServer};

            /// The `When` (request matcher) and `Then` (answer) of each
            /// operation. `into_inner()` gives the `httpmock` type, to step
            /// outside what the spec documents.
            pub mod operations {
                use crate::types;
                use crate::runtime as rt;
                #(#items)*
            }

            /// A mock per operation on [`MockServer`].
            pub trait MockServerExt {
                #(#trait_fns)*
            }

            impl MockServerExt for ::httpmock::MockServer {
                #(#impl_fns)*
            }

            /// Values of the spec's schemas, built from its examples: a
            /// starting point for an answer, changed where a test needs.
            pub mod fixtures {
                use crate::types;
                #(#fixtures)*
            }
        })
    }

    fn when(&self, op: &Op) -> anyhow::Result<TokenStream> {
        let name = format_ident!("{}When", pascal(&op.id));
        let method = format_ident!("{}", op.method.to_uppercase());
        let pattern = format!("^{}$", path_pattern(&op.path));
        let mut setters = Vec::new();
        for param in &op.params {
            // The matcher's own methods keep their names.
            let setter = match param.setter().to_string().as_str() {
                "new" | "into_inner" | "body" => format_ident!("{}_param", param.setter()),
                _ => param.setter(),
            };
            let wire = &param.name;
            let doc = format!(
                "Matches `{wire}` ({}) as the client sends it.",
                param.location
            );
            match param.location.as_str() {
                "path" => {
                    let placeholder = format!("{{{wire}}}");
                    let Some((before, after)) = op.path.split_once(&placeholder) else {
                        continue;
                    };
                    let before = path_pattern(before);
                    let after = path_pattern(after);
                    setters.push(quote! {
                        #[doc = #doc]
                        pub fn #setter(self, value: impl ::std::fmt::Display) -> Self {
                            let value = ::regex::escape(&::progenitor_client::encode_path(&value.to_string()));
                            let re = format!("^{}{}{}$", #before, value, #after);
                            Self(self.0.path_matches(::regex::Regex::new(&re).expect("a path pattern")))
                        }
                    });
                }
                "query" | "header" => {
                    let missing = format_ident!("no_{}", setter);
                    let missing_doc = format!("Matches a request without `{wire}`.");
                    let (is, is_missing) = if param.location == "query" {
                        (quote!(query_param), quote!(query_param_missing))
                    } else {
                        (quote!(header), quote!(header_missing))
                    };
                    setters.push(quote! {
                        #[doc = #doc]
                        pub fn #setter(self, value: impl ::std::fmt::Display) -> Self {
                            Self(self.0.#is(#wire, value.to_string()))
                        }
                        #[doc = #missing_doc]
                        pub fn #missing(self) -> Self {
                            Self(self.0.#is_missing(#wire))
                        }
                    });
                }
                _ => {}
            }
        }
        if let Some((ty, _)) = &op.body
            && op.media_type.as_deref().is_none_or(is_json)
            && op.media_types.is_empty()
        {
            setters.push(quote! {
                /// Matches the JSON body: what the client sends for `body`
                /// (a value or its builder).
                pub fn body(self, body: impl rt::Body<#ty>) -> Self {
                    let body = body.into_body().expect("a body the client would send");
                    Self(self.0.json_body_obj(&body))
                }
            });
        }
        let doc = format!("What a `{}` request must be to match.", op.id);
        Ok(quote! {
            #[doc = #doc]
            pub struct #name(::httpmock::When);

            impl #name {
                /// Matches the operation's method and path.
                pub fn new(inner: ::httpmock::When) -> Self {
                    Self(inner.method(::httpmock::Method::#method)
                        .path_matches(::regex::Regex::new(#pattern).expect("a path pattern")))
                }
                /// The `httpmock` matcher.
                pub fn into_inner(self) -> ::httpmock::When {
                    self.0
                }
                #(#setters)*
            }
        })
    }

    fn then(&self, op: &Op) -> anyhow::Result<TokenStream> {
        let name = format_ident!("{}Then", pascal(&op.id));
        let responses = &self.spec["paths"][&op.path][&op.method]["responses"];
        let mut answers = Vec::new();
        for (status, response) in responses.as_object().into_iter().flatten() {
            let Ok(code) = status.parse::<u16>() else {
                continue;
            };
            let response = self.resolve(response, "responses")?;
            let method = format_ident!("{}", snake(&status_name(code)));
            let mut args = Vec::new();
            let mut steps = vec![quote!(let then = self.0.status(#code);)];
            let mut doc = format!(
                "Answers `{code}`: {}",
                response["description"].as_str().unwrap_or_default().trim()
            );
            if let Some((media, content)) = response["content"]
                .as_object()
                .and_then(|c| c.iter().next())
            {
                let hint = if code < 300 {
                    format!("{}Response", pascal(&op.id))
                } else {
                    String::new()
                };
                let ty = if is_json(media) {
                    self.schema_type(&content["schema"], &hint)
                        .unwrap_or_else(|_| quote!(::serde_json::Value))
                } else {
                    quote!(str)
                };
                args.push(quote!(body: &#ty));
                if is_json(media) {
                    steps.push(quote! {
                        let then = then.header("content-type", #media).json_body_obj(body);
                    });
                } else {
                    steps.push(quote! {
                        let then = then.header("content-type", #media).body(body);
                    });
                }
            }
            for (header, spec) in response["headers"].as_object().into_iter().flatten() {
                let spec = self.resolve(spec, "headers")?;
                if spec["required"] != Value::Bool(true) {
                    continue;
                }
                let arg = header_field(header);
                let ty = header_type(header, &spec["schema"]);
                args.push(quote!(#arg: &#ty));
                steps.push(quote!(let then = then.header(#header, #arg.to_string());));
                doc.push_str(&format!("\n\nSends `{header}`, which the spec requires."));
            }
            answers.push(quote! {
                #[doc = #doc]
                pub fn #method(self, #(#args),*) -> Self {
                    #(#steps)*
                    Self(then)
                }
            });
        }
        let doc = format!("How the mock answers a matched `{}` request.", op.id);
        Ok(quote! {
            #[doc = #doc]
            pub struct #name(::httpmock::Then);

            impl #name {
                /// Wraps an `httpmock` answer.
                pub fn new(inner: ::httpmock::Then) -> Self {
                    Self(inner)
                }
                /// The `httpmock` answer.
                pub fn into_inner(self) -> ::httpmock::Then {
                    self.0
                }
                /// Adds a header the spec leaves optional.
                pub fn header(self, name: &str, value: impl ::std::fmt::Display) -> Self {
                    Self(self.0.header(name, value.to_string()))
                }
                #(#answers)*
            }
        })
    }

    /// A function per schema the spec has an example of (its own, or the
    /// first example of a JSON response or body of it), returning the
    /// example as the schema's type.
    fn fixtures(&self) -> anyhow::Result<Vec<TokenStream>> {
        let mut examples: BTreeMap<String, Value> = BTreeMap::new();
        for (_, item) in self.spec["paths"].as_object().into_iter().flatten() {
            for (_, op) in item.as_object().into_iter().flatten() {
                for (_, response) in op["responses"].as_object().into_iter().flatten() {
                    let response = self.resolve(response, "responses")?;
                    for (media, content) in response["content"].as_object().into_iter().flatten() {
                        let Some(schema) = three_state::referenced(&content["schema"]) else {
                            continue;
                        };
                        if !is_json(media) || examples.contains_key(schema) {
                            continue;
                        }
                        if let Some(example) = self.first_example(content) {
                            examples.insert(schema.to_owned(), example);
                        }
                    }
                }
            }
        }
        for (name, schema) in self.spec["components"]["schemas"]
            .as_object()
            .into_iter()
            .flatten()
        {
            if schema["type"] == "object"
                && let Some(example) = schema.get("example")
            {
                examples
                    .entry(name.clone())
                    .or_insert_with(|| example.clone());
            }
        }
        let mut out = Vec::new();
        let mut names = std::collections::BTreeSet::new();
        for (schema, example) in examples {
            if self.merge.contains(&schema) {
                continue;
            }
            // A schema typify gave no type of its own has no fixture.
            let Ok(ty) = self.component_type(&schema) else {
                continue;
            };
            let fn_name = ident(&snake(&schema));
            if !names.insert(fn_name.to_string()) {
                continue;
            }
            let text = serde_json::to_string_pretty(&example)?;
            let doc = format!(
                "A `types::{schema}` built from the spec's example:\n\n```json\n{text}\n```"
            );
            let expect = format!("the spec's example of {schema} is a {schema}");
            out.push(quote! {
                #[doc = #doc]
                pub fn #fn_name() -> #ty {
                    ::serde_json::from_str(#text).expect(#expect)
                }
            });
        }
        Ok(out)
    }
}

/// A regex for (part of) a templated path, unanchored: each `{param}` is
/// one segment.
fn path_pattern(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&regex::escape(&rest[..start]));
        let end = rest[start..]
            .find('}')
            .map_or(rest.len(), |e| start + e + 1);
        out.push_str("[^/]*");
        rest = &rest[end..];
    }
    out.push_str(&regex::escape(rest));
    out
}
