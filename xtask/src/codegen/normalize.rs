//! A document as both generators (and the `openapiv3` crate under
//! progenitor) can read it, whatever its version, before anything else
//! sees it. What is rewritten says the same thing:
//! - a `$ref` to a place that is not a component of its own
//!   (`#/paths/~1a/get/responses/401`, a member of a component's schema)
//!   is replaced by what it points to: the generators name components, and
//!   JSON Reference lets a document point anywhere in itself;
//! - a callback given by reference (`callbacks: {x: {$ref: ..}}`) is the
//!   callback it names.
//!
//! What cannot be read is dropped, and named as a refusal:
//! - a `pattern` that is not a string (no regular expression at all).
//!
//! A document with none of these is returned as it is, not copied.

use std::borrow::Cow;

use serde_json::Value;

use super::Refusal;

/// How deep a reference may lead to another before it is left as it is
/// (a cycle through places that are not components).
const MAX_DEPTH: usize = 32;

/// `spec` with every foreign reference replaced and every unreadable
/// keyword dropped; what was dropped.
pub(crate) fn readable(spec: &Value) -> (Cow<'_, Value>, Vec<Refusal>) {
    if !needs_work(spec, false) {
        return (Cow::Borrowed(spec), Vec::new());
    }
    let mut out = spec.clone();
    let mut refusals = Vec::new();
    rewrite(
        spec,
        &mut out,
        &mut String::new(),
        &mut Vec::new(),
        &mut refusals,
        false,
    );
    (Cow::Owned(out), refusals)
}

/// Whether a `$ref` names a component itself (`#/components/schemas/A`).
fn is_component(reference: &str) -> bool {
    reference
        .strip_prefix("#/components/")
        .is_some_and(|rest| rest.split('/').count() == 2)
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
                && (in_callbacks || (reference.starts_with("#/") && !is_component(reference)))
            {
                return true;
            }
            if object
                .get("pattern")
                .is_some_and(|p| !p.is_string() && !p.is_object())
            {
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
/// `following` holds the references being inlined, to stop at a cycle.
fn rewrite(
    root: &Value,
    out: &mut Value,
    at: &mut String,
    following: &mut Vec<String>,
    refusals: &mut Vec<Refusal>,
    in_callbacks: bool,
) {
    match out {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get("$ref").cloned() {
                let foreign = reference.starts_with("#/") && !is_component(&reference);
                if (foreign || in_callbacks)
                    && following.len() < MAX_DEPTH
                    && !following.contains(&reference)
                    && let Some(target) = pointer_of(&reference).and_then(|p| root.pointer(&p))
                {
                    *out = target.clone();
                    following.push(reference);
                    rewrite(root, out, at, following, refusals, false);
                    following.pop();
                    return;
                }
            }
            if object
                .get("pattern")
                .is_some_and(|p| !p.is_string() && !p.is_object())
            {
                object.remove("pattern");
                refusals.push(Refusal {
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
                            rewrite(root, callback, at, following, refusals, true);
                            at.truncate(inner);
                        }
                    }
                    _ => rewrite(root, member, at, following, refusals, false),
                }
                at.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = at.len();
                at.push_str(&format!("/{i}"));
                rewrite(root, item, at, following, refusals, false);
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
    fn references_to_places_that_are_not_components_are_inlined() {
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
                                       "e": { "$ref": "#/components/schemas/E" } } }
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
        assert_eq!(
            out["components"]["schemas"]["F"]["properties"]["at"],
            json!({ "type": "string" })
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
