//! Open enums: a string the spec marks `x-extensible-enum` (values the API
//! may add to) becomes, in the SDK, a Rust enum of the values it lists plus
//! `Unknown(String)`, so a value the SDK does not know yet still decodes.
//!
//! Where a component is a closed `enum` of the same values (what requests
//! send, checked by the server), the open enum takes that component's name
//! and replaces it: requests and responses share one type. An inline member
//! is given the component `<Schema><Member>` in the client view. The values
//! must make distinct Rust names; otherwise the member stays a string.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::{Value, json};

use super::naming::{ident, pascal};

/// The extension listing the known values of an extensible string.
const EXTENSIBLE: &str = "x-extensible-enum";

/// One open enum of the client view.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OpenEnum {
    pub(crate) values: Vec<String>,
    pub(crate) description: Option<String>,
}

/// Finds every extensible string among the components and their members
/// (and array items of members), points each at the component that names
/// its open enum, and returns those enums by component name.
pub(crate) fn collect(spec: &mut Value) -> BTreeMap<String, OpenEnum> {
    let mut found = BTreeMap::new();
    let Some(schemas) = spec["components"]["schemas"].as_object().cloned() else {
        return found;
    };
    // Closed string enums, by their set of values.
    let closed: BTreeMap<BTreeSet<String>, String> = schemas
        .iter()
        .filter_map(|(name, schema)| Some((string_values(schema.get("enum")?)?, name.clone())))
        .collect();
    let mut lifted = BTreeMap::new();
    for (name, schema) in &schemas {
        if let Some(values) = extensible(schema) {
            found.insert(name.clone(), open(values, schema));
            continue;
        }
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            continue;
        };
        for (prop, member) in properties {
            let (member, pointer) = match member.get("items") {
                Some(items) => (
                    items,
                    format!("/components/schemas/{name}/properties/{prop}/items"),
                ),
                None => (
                    member,
                    format!("/components/schemas/{name}/properties/{prop}"),
                ),
            };
            let Some(values) = extensible(member) else {
                continue;
            };
            let set: BTreeSet<String> = values.iter().cloned().collect();
            let target = match closed.get(&set) {
                Some(component) => component.clone(),
                None => {
                    let component = format!("{name}{}", pascal(prop));
                    if schemas.contains_key(&component) {
                        continue;
                    }
                    lifted.insert(
                        component.clone(),
                        json!({ "type": "string", "enum": values }),
                    );
                    component
                }
            };
            let description = member
                .get("description")
                .or_else(|| schemas.get(&target).and_then(|s| s.get("description")));
            let entry = OpenEnum {
                values: values.clone(),
                description: description.and_then(Value::as_str).map(str::to_owned),
            };
            found.entry(target.clone()).or_insert(entry);
            // The member's own description goes with the lifted type: typify
            // reads `$ref` beside siblings as a type of its own.
            if let Some(slot) = spec.pointer_mut(&pointer) {
                *slot = json!({ "$ref": format!("#/components/schemas/{target}") });
            }
        }
    }
    for (name, schema) in lifted {
        spec["components"]["schemas"][name] = schema;
    }
    found
}

fn open(values: Vec<String>, schema: &Value) -> OpenEnum {
    OpenEnum {
        values,
        description: schema
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}

/// The values of an extensible string whose values make distinct names.
fn extensible(schema: &Value) -> Option<Vec<String>> {
    if schema.get("type").and_then(Value::as_str) != Some("string") || schema.get("enum").is_some()
    {
        return None;
    }
    let values: Vec<String> = schema
        .get(EXTENSIBLE)?
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect::<Option<_>>()?;
    let names: BTreeSet<String> = values.iter().map(|v| pascal(v)).collect();
    let nameable = !values.is_empty()
        && names.len() == values.len()
        && names
            .iter()
            .all(|n| n.starts_with(|c: char| c.is_ascii_alphabetic()));
    nameable.then_some(values)
}

fn string_values(values: &Value) -> Option<BTreeSet<String>> {
    values
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// The Rust name of the open enum of the component `name`.
pub(crate) fn rust_name(name: &str) -> proc_macro2::Ident {
    ident(&pascal(name))
}

/// The Rust of the open enum `name`.
pub(crate) fn tokens(name: &str, open: &OpenEnum) -> TokenStream {
    let variants: Vec<proc_macro2::Ident> = open.values.iter().map(|v| ident(&pascal(v))).collect();
    let ident = rust_name(name);
    let unknown = ["Unknown", "Other", "UnknownValue"]
        .into_iter()
        .find(|name| !variants.iter().any(|v| v == name))
        .map(|name| format_ident!("{name}"))
        .unwrap_or_else(|| format_ident!("Unlisted"));
    let values = &open.values;
    let docs: Vec<String> = values.iter().map(|v| format!("`{v}`.")).collect();
    let doc = format!(
        "{}\n\nAn open enum: the API may add values, and a value this SDK does not \
         know yet reads as `{unknown}` and is sent back as it came.",
        open.description
            .as_deref()
            .map(str::trim)
            .unwrap_or(&format!("One of the values `{name}` lists.")),
    );
    let schema_name = name.to_owned();
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum #ident {
            #(#[doc = #docs] #variants,)*
            /// A value this SDK does not know yet.
            #unknown(String),
        }

        impl #ident {
            /// Every value this SDK knows.
            pub const KNOWN: &'static [#ident] = &[#(#ident::#variants),*];

            /// The value as sent on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    #(#ident::#variants => #values,)*
                    #ident::#unknown(value) => value,
                }
            }
        }

        impl ::std::fmt::Display for #ident {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<str> for #ident {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for #ident {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl From<&str> for #ident {
            fn from(value: &str) -> Self {
                match value {
                    #(#values => #ident::#variants,)*
                    other => #ident::#unknown(other.to_owned()),
                }
            }
        }

        impl From<String> for #ident {
            fn from(value: String) -> Self {
                match #ident::from(value.as_str()) {
                    #ident::#unknown(_) => #ident::#unknown(value),
                    known => known,
                }
            }
        }

        impl From<&String> for #ident {
            fn from(value: &String) -> Self {
                #ident::from(value.as_str())
            }
        }

        impl ::std::str::FromStr for #ident {
            type Err = ::std::convert::Infallible;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Ok(#ident::from(value))
            }
        }

        impl ::serde::Serialize for #ident {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for #ident {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(#ident::from)
            }
        }

        impl ::schemars::JsonSchema for #ident {
            fn schema_name() -> String {
                #schema_name.to_owned()
            }
            fn json_schema(_: &mut ::schemars::r#gen::SchemaGenerator) -> ::schemars::schema::Schema {
                ::schemars::schema::SchemaObject {
                    instance_type: Some(::schemars::schema::InstanceType::String.into()),
                    extensions: [(
                        #EXTENSIBLE.to_owned(),
                        ::serde_json::json!([#(#values),*]),
                    )]
                    .into_iter()
                    .collect(),
                    ..Default::default()
                }
                .into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_joins_the_closed_enum_of_its_values_or_gets_a_component() {
        let mut spec = json!({
            "components": { "schemas": {
                "Status": { "type": "string", "enum": ["on", "off"] },
                "Thing": { "type": "object", "properties": {
                    "status": { "type": "string", "x-extensible-enum": ["off", "on"] },
                    "kind": { "type": "string", "x-extensible-enum": ["a", "b"], "description": "Kind." },
                    "clash": { "type": "string", "x-extensible-enum": ["a-b", "a_b"] },
                    "tags": { "type": "array", "items": { "type": "string", "x-extensible-enum": ["x"] } }
                }}
            }}
        });
        let found = collect(&mut spec);
        assert_eq!(
            found.keys().collect::<Vec<_>>(),
            ["Status", "ThingKind", "ThingTags"]
        );
        assert_eq!(found["ThingKind"].description.as_deref(), Some("Kind."));
        let thing = &spec["components"]["schemas"]["Thing"]["properties"];
        assert_eq!(
            thing["status"],
            json!({ "$ref": "#/components/schemas/Status" })
        );
        assert_eq!(thing["kind"]["$ref"], "#/components/schemas/ThingKind");
        assert_eq!(
            thing["tags"]["items"]["$ref"],
            "#/components/schemas/ThingTags"
        );
        // Values that name the same variant stay a plain string.
        assert_eq!(thing["clash"]["type"], "string");
        assert_eq!(
            spec["components"]["schemas"]["ThingKind"]["enum"],
            json!(["a", "b"])
        );
    }
}
