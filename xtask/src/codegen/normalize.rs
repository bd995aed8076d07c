//! A document as both generators (and the `openapiv3` crate under
//! progenitor) can read it, whatever its version, before anything else
//! sees it. What is rewritten says the same thing:
//! - a `$ref` to a schema that is not a component of its own (a member of
//!   a component's schema, `#/components/schemas/A/definitions/b`, a body's
//!   schema under `#/paths/...`) makes that schema a component, named after
//!   where it was (`A_b`), and refers to it: the generators name
//!   components, and JSON Reference lets a document point anywhere in
//!   itself. A reference to a place that holds only a reference is that
//!   reference;
//! - any other `$ref` to a place that is not a component
//!   (`#/paths/~1a/get/responses/401`, a path item) is replaced by what it
//!   points to, once per reference;
//! - a callback given by reference (`callbacks: {x: {$ref: ..}}`) is the
//!   callback it names.
//!
//! What cannot be read is dropped, and named as a refusal:
//! - a `pattern` that is not a string (no regular expression at all).
//!
//! A document with none of these is returned as it is, not copied.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

use super::Refusal;

/// The rewriting's state.
#[derive(Default)]
struct Inliner {
    /// Each inlined reference's rewritten target, once (`None` while it is
    /// being rewritten: a reference met again then is a cycle, and stays).
    done: HashMap<String, Option<Value>>,
    /// Each hoisted schema reference's component name.
    hoisted: HashMap<String, String>,
    /// The schemas hoisted, to add to `components/schemas`.
    new_schemas: Vec<(String, Value)>,
    /// Component schema names taken.
    taken: BTreeSet<String>,
    refusals: Vec<Refusal>,
}

/// `spec` with every foreign reference replaced and every unreadable
/// keyword dropped; what was dropped.
pub(crate) fn readable(spec: &Value) -> (Cow<'_, Value>, Vec<Refusal>) {
    if !needs_work(spec, false) {
        return (Cow::Borrowed(spec), Vec::new());
    }
    let mut out = spec.clone();
    let mut inliner = Inliner {
        taken: spec["components"]["schemas"]
            .as_object()
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default(),
        ..Inliner::default()
    };
    rewrite(spec, &mut out, &mut String::new(), &mut inliner, false);
    if !inliner.new_schemas.is_empty() {
        let components = out.as_object_mut().map(|o| {
            o.entry("components")
                .or_insert_with(|| Value::Object(Map::new()))
        });
        if let Some(schemas) = components.and_then(|c| {
            c.as_object_mut().map(|c| {
                c.entry("schemas")
                    .or_insert_with(|| Value::Object(Map::new()))
            })
        }) && let Some(schemas) = schemas.as_object_mut()
        {
            schemas.extend(inliner.new_schemas);
        }
    }
    (Cow::Owned(out), inliner.refusals)
}

/// Whether a `$ref` names a component itself (`#/components/schemas/A`).
fn is_component(reference: &str) -> bool {
    reference
        .strip_prefix("#/components/")
        .is_some_and(|rest| rest.split('/').count() == 2)
}

/// Whether a `$ref` points into this document somewhere other than a
/// component of its own.
fn is_foreign(reference: &str) -> bool {
    reference.starts_with("#/") && !is_component(reference)
}

/// Whether a `pattern` member holds no regular expression (an object is a
/// member named `pattern`, not the keyword).
fn is_unreadable_pattern(pattern: &Value) -> bool {
    !pattern.is_string() && !pattern.is_object()
}

/// Whether a JSON Pointer names a schema: a component schema's part, or a
/// place below a `schema`.
fn is_schema_place(pointer: &str) -> bool {
    let tokens: Vec<&str> = pointer.split('/').skip(1).collect();
    match tokens.as_slice() {
        ["components", "schemas", _, _, ..] => true,
        [.., last] => tokens[..tokens.len() - 1].contains(&"schema") && !last.is_empty(),
        [] => false,
    }
}

/// A component name for the schema at `pointer`: its component's name
/// (`Schema` for a place under `paths`) and its last token, made unique
/// among `taken`.
fn hoisted_name(pointer: &str, taken: &mut BTreeSet<String>) -> String {
    let tokens: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let base = match tokens.as_slice() {
        [first, kind, name, ..] if first == "components" && kind == "schemas" => name.clone(),
        _ => "Schema".to_owned(),
    };
    let last = tokens.last().cloned().unwrap_or_default();
    let wanted: String = format!("{base}_{last}")
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut name = wanted.clone();
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{wanted}{n}");
        n += 1;
    }
    name
}

/// A reference to the component schema `name`.
fn component_ref(name: &str) -> Value {
    serde_json::json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// The JSON Pointer a local reference holds, percent-decoded.
fn pointer_of(reference: &str) -> Option<String> {
    let fragment = reference.strip_prefix('#')?;
    percent_encoding::percent_decode_str(fragment)
        .decode_utf8()
        .ok()
        .map(|p| p.into_owned())
}

/// Whether anything below `value` is rewritten (`in_callbacks`: `value` is
/// an operation's `callbacks` map).
fn needs_work(value: &Value, in_callbacks: bool) -> bool {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get("$ref")
                && (in_callbacks || is_foreign(reference))
            {
                return true;
            }
            if object.get("pattern").is_some_and(is_unreadable_pattern) {
                return true;
            }
            object.iter().any(|(key, member)| match member {
                Value::Object(callbacks) if key == "callbacks" => callbacks
                    .values()
                    .any(|callback| needs_work(callback, true)),
                _ => needs_work(member, false),
            })
        }
        Value::Array(items) => items.iter().any(|item| needs_work(item, false)),
        _ => false,
    }
}

/// Rewrites `out` (a copy of the part of `root` at `at`) in place.
fn rewrite(
    root: &Value,
    out: &mut Value,
    at: &mut String,
    state: &mut Inliner,
    in_callbacks: bool,
) {
    match out {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get("$ref").cloned() {
                let foreign = is_foreign(&reference);
                if foreign
                    && let Some(pointer) = pointer_of(&reference)
                    && is_schema_place(&pointer)
                {
                    if let Some(name) = state.hoisted.get(&reference) {
                        *out = component_ref(name);
                        return;
                    }
                    if let Some(target) = root.pointer(&pointer) {
                        // A place holding only a reference is that reference.
                        if target
                            .as_object()
                            .is_some_and(|t| t.len() == 1 && t.contains_key("$ref"))
                            && !state.done.contains_key(&reference)
                        {
                            state.done.insert(reference.clone(), None);
                            let mut rewritten = target.clone();
                            rewrite(root, &mut rewritten, at, state, false);
                            state.done.remove(&reference);
                            *out = rewritten;
                            return;
                        }
                        let name = hoisted_name(&pointer, &mut state.taken);
                        state.hoisted.insert(reference.clone(), name.clone());
                        let mut rewritten = target.clone();
                        rewrite(root, &mut rewritten, at, state, false);
                        *out = component_ref(&name);
                        state.new_schemas.push((name, rewritten));
                        return;
                    }
                }
                if foreign || in_callbacks {
                    match state.done.get(&reference) {
                        Some(Some(rewritten)) => {
                            *out = rewritten.clone();
                            return;
                        }
                        // A cycle: the reference stays.
                        Some(None) => return,
                        None => {
                            if let Some(target) =
                                pointer_of(&reference).and_then(|p| root.pointer(&p))
                            {
                                state.done.insert(reference.clone(), None);
                                let mut rewritten = target.clone();
                                rewrite(root, &mut rewritten, at, state, false);
                                *out = rewritten.clone();
                                state.done.insert(reference, Some(rewritten));
                                return;
                            }
                        }
                    }
                }
            }
            if object.get("pattern").is_some_and(is_unreadable_pattern) {
                object.remove("pattern");
                state.refusals.push(Refusal {
                    pointer: format!("{at}/pattern"),
                    reason: "a pattern that is not a string: left out".into(),
                });
            }
            for (key, member) in object.iter_mut() {
                let len = at.len();
                at.push('/');
                at.push_str(&key.replace('~', "~0").replace('/', "~1"));
                match member {
                    Value::Object(callbacks) if key == "callbacks" => {
                        for (name, callback) in callbacks.iter_mut() {
                            let inner = at.len();
                            at.push('/');
                            at.push_str(&name.replace('~', "~0").replace('/', "~1"));
                            rewrite(root, callback, at, state, true);
                            at.truncate(inner);
                        }
                    }
                    _ => rewrite(root, member, at, state, false),
                }
                at.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = at.len();
                at.push_str(&format!("/{i}"));
                rewrite(root, item, at, state, false);
                at.truncate(len);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_document_with_nothing_to_rewrite_is_not_copied() {
        let spec = json!({
            "paths": { "/a": { "get": { "responses": { "200": { "$ref": "#/components/responses/Ok" } } } } },
            "components": { "responses": { "Ok": { "description": "ok" } } }
        });
        let (out, refusals) = readable(&spec);
        assert!(matches!(out, Cow::Borrowed(_)));
        assert!(refusals.is_empty());
    }

    #[test]
    fn references_to_places_that_are_not_components_are_inlined_or_hoisted() {
        let spec = json!({
            "paths": {
                "/a": { "get": { "responses": {
                    "401": { "description": "no", "headers": {
                        "limit": { "schema": { "type": "integer" } } } } } } },
                "/b": { "get": { "responses": {
                    "401": { "$ref": "#/paths/~1a/get/responses/401" },
                    "200": { "description": "ok", "headers": {
                        "limit": { "$ref": "#/paths/~1a/get/responses/401/headers/limit" } } } } } },
                "/c": { "$ref": "#/paths/~1a" },
                "/d/{id}": { "get": { "responses": {
                    "400": { "$ref": "#/paths/~1d~1%7Bid%7D/get/responses/401" },
                    "401": { "description": "d" } } } }
            },
            "components": { "schemas": {
                "E": { "properties": { "at": { "type": "string" } } },
                "F": { "properties": { "at": { "$ref": "#/components/schemas/E/properties/at" },
                                       "e": { "$ref": "#/components/schemas/E" },
                                       "alias": { "$ref": "#/components/schemas/F/properties/e" } } },
                "G": { "type": "array", "items": { "$ref": "#/components/schemas/E/properties/at" } }
            } }
        });
        let (out, refusals) = readable(&spec);
        assert!(refusals.is_empty());
        assert_eq!(
            out["paths"]["/b"]["get"]["responses"]["401"]["description"],
            "no"
        );
        assert_eq!(
            out["paths"]["/b"]["get"]["responses"]["200"]["headers"]["limit"],
            json!({ "schema": { "type": "integer" } })
        );
        assert_eq!(out["paths"]["/c"], spec["paths"]["/a"]);
        // Percent-encoded, as a URI fragment may be.
        assert_eq!(
            out["paths"]["/d/{id}"]["get"]["responses"]["400"]["description"],
            "d"
        );
        // A schema inside another becomes a component of its own, once.
        assert_eq!(
            out["components"]["schemas"]["F"]["properties"]["at"],
            json!({ "$ref": "#/components/schemas/E_at" })
        );
        assert_eq!(
            out["components"]["schemas"]["G"]["items"],
            out["components"]["schemas"]["F"]["properties"]["at"]
        );
        assert_eq!(
            out["components"]["schemas"]["E_at"],
            json!({ "type": "string" })
        );
        // A place holding only a reference is that reference.
        assert_eq!(
            out["components"]["schemas"]["F"]["properties"]["alias"],
            json!({ "$ref": "#/components/schemas/E" })
        );
        // A component's own reference stays.
        assert_eq!(
            out["components"]["schemas"]["F"]["properties"]["e"],
            json!({ "$ref": "#/components/schemas/E" })
        );
    }

    #[test]
    fn a_callback_by_reference_is_the_callback_it_names_and_a_cycle_stays() {
        let spec = json!({
            "paths": { "/a": { "get": {
                "callbacks": { "done": { "$ref": "#/components/callbacks/Done" } },
                "responses": { "200": { "$ref": "#/paths/~1a/get/responses/201" },
                               "201": { "$ref": "#/paths/~1a/get/responses/200" } } } } },
            "components": { "callbacks": { "Done": { "{$request.body#/url}": { "post": {} } } } }
        });
        let (out, _) = readable(&spec);
        assert_eq!(
            out["paths"]["/a"]["get"]["callbacks"]["done"],
            json!({ "{$request.body#/url}": { "post": {} } })
        );
        // Each reference of the cycle ends at the one it started from.
        assert!(out["paths"]["/a"]["get"]["responses"]["200"]["$ref"].is_string());
    }

    #[test]
    fn a_pattern_that_is_not_a_string_is_dropped_and_named() {
        let spec = json!({ "components": { "schemas": {
            "T": { "type": "string", "pattern": 0 },
            "P": { "properties": { "pattern": { "type": "string" } } }
        } } });
        let (out, refusals) = readable(&spec);
        assert_eq!(
            out["components"]["schemas"]["T"],
            json!({ "type": "string" })
        );
        assert_eq!(
            out["components"]["schemas"]["P"],
            spec["components"]["schemas"]["P"]
        );
        assert_eq!(refusals.len(), 1);
        assert_eq!(refusals[0].pointer, "/components/schemas/T/pattern");
    }
}
