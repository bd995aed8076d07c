//! `cargo xtask spec-diff`: every difference between the spec as last
//! released (`openapi/released/users.yaml`) and `openapi/users.yaml`, each
//! classified as breaking for clients, breaking for servers, or compatible.
//!
//! The rules follow oasdiff's published checks (their ids are kept, e.g.
//! `request-property-max-length-decreased`), read from both sides of the
//! contract: a change breaks clients when a request a client sends today may
//! be refused, or an answer it reads today may no longer come or may not
//! decode; it breaks servers when an implementation of the released spec no
//! longer conforms (an operation to add, a value to accept, a member to
//! send). A difference can break both.
//!
//! The command fails when a difference is breaking and `info.version` has not
//! been given a new major version, and when the SDK's crate version is not
//! `info.version`.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::spec;

/// The spec as last released.
pub(crate) const RELEASED: &str = "openapi/released/users.yaml";
/// The crate whose version follows `info.version`.
const SDK_MANIFEST: &str = "crates/users-client/Cargo.toml";

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One difference between the two specs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    /// Where, as a JSON Pointer into the current spec (or the released one,
    /// for what was removed).
    pub(crate) pointer: String,
    /// The rule, named as oasdiff names its check.
    pub(crate) rule: String,
    pub(crate) breaks_clients: bool,
    pub(crate) breaks_servers: bool,
    pub(crate) what: String,
}

impl Change {
    pub(crate) fn class(&self) -> &'static str {
        match (self.breaks_clients, self.breaks_servers) {
            (true, true) => "breaking for clients and servers",
            (true, false) => "breaking for clients",
            (false, true) => "breaking for servers",
            (false, false) => "compatible",
        }
    }

    fn is_breaking(&self) -> bool {
        self.breaks_clients || self.breaks_servers
    }
}

/// Which way a schema's values travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Sent by clients, read by servers.
    Request,
    /// Sent by servers, read by clients.
    Response,
}

/// Who a tightened constraint breaks: the sender (a value it sends may now
/// be refused) is the client for requests; for responses, the receiver (a
/// client) is broken by a loosened one and the sender (a server) by a
/// tightened one.
fn tightened(direction: Direction) -> (bool, bool) {
    match direction {
        Direction::Request => (true, false),
        Direction::Response => (false, true),
    }
}

fn loosened(direction: Direction) -> (bool, bool) {
    match direction {
        Direction::Request => (false, true),
        Direction::Response => (true, false),
    }
}

struct Differ<'a> {
    old: &'a Value,
    new: &'a Value,
    changes: Vec<Change>,
    /// `$ref` pairs being compared, so recursive schemas end.
    visiting: BTreeSet<(String, String, bool)>,
}

/// Every difference between `old` and `new`, in document order.
pub(crate) fn diff(old: &Value, new: &Value) -> Vec<Change> {
    let mut differ = Differ {
        old,
        new,
        changes: Vec::new(),
        visiting: BTreeSet::new(),
    };
    differ.info();
    differ.paths();
    differ.changes
}

fn escape(text: &str) -> String {
    text.replace('~', "~0").replace('/', "~1")
}

fn resolve<'v>(root: &'v Value, value: &'v Value) -> &'v Value {
    let mut value = value;
    for _ in 0..16 {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => match root.pointer(reference.trim_start_matches('#')) {
                Some(target) => value = target,
                None => return value,
            },
            None => return value,
        }
    }
    value
}

fn reference(value: &Value) -> Option<&str> {
    value.get("$ref").and_then(Value::as_str)
}

fn num(value: &Value, key: &str) -> Option<f64> {
    value.get(key).and_then(Value::as_f64)
}

fn flag(value: &Value, key: &str) -> bool {
    value.get(key) == Some(&Value::Bool(true))
}

impl Differ<'_> {
    fn push(
        &mut self,
        pointer: String,
        rule: impl Into<String>,
        (breaks_clients, breaks_servers): (bool, bool),
        what: String,
    ) {
        self.changes.push(Change {
            pointer,
            rule: rule.into(),
            breaks_clients,
            breaks_servers,
            what,
        });
    }

    fn info(&mut self) {
        let (old, new) = (&self.old["info"]["version"], &self.new["info"]["version"]);
        if old != new {
            self.push(
                "/info/version".into(),
                "api-version-changed",
                (false, false),
                format!("{old} → {new}"),
            );
        }
    }

    fn paths(&mut self) {
        let (old_root, new_root) = (self.old, self.new);
        let empty = serde_json::Map::new();
        let old_paths = old_root["paths"].as_object().unwrap_or(&empty);
        let new_paths = new_root["paths"].as_object().unwrap_or(&empty);
        for (path, old_item) in old_paths {
            let at = format!("/paths/{}", escape(path));
            let new_item = new_paths.get(path);
            for method in METHODS {
                let Some(old_op) = old_item.get(method) else {
                    continue;
                };
                let here = format!("{at}/{method}");
                match new_item.and_then(|item| item.get(method)) {
                    None => self.push(
                        here,
                        "api-removed-without-deprecation",
                        (true, false),
                        format!("{} {path} was removed", method.to_uppercase()),
                    ),
                    Some(new_op) => {
                        self.operation(&here, old_item, old_op, new_item.unwrap(), new_op)
                    }
                }
            }
        }
        for (path, new_item) in new_paths {
            for method in METHODS {
                if new_item.get(method).is_none()
                    || old_paths.get(path).and_then(|i| i.get(method)).is_some()
                {
                    continue;
                }
                self.push(
                    format!("/paths/{}/{method}", escape(path)),
                    "endpoint-added",
                    (false, true),
                    format!(
                        "{} {path} was added: every server must implement it",
                        method.to_uppercase()
                    ),
                );
            }
        }
    }

    /// Parameters by (location, name): path-level ones, overridden by the
    /// operation's.
    fn params<'v>(root: &'v Value, item: &'v Value, op: &'v Value) -> Vec<&'v Value> {
        let mut out: Vec<&Value> = Vec::new();
        for param in crate::spec::declared_parameters(item, op) {
            let param = resolve(root, param);
            out.retain(|p| !(p["name"] == param["name"] && p["in"] == param["in"]));
            out.push(param);
        }
        out
    }

    fn operation(
        &mut self,
        at: &str,
        old_item: &Value,
        old: &Value,
        new_item: &Value,
        new: &Value,
    ) {
        if old.get("operationId") != new.get("operationId") {
            self.push(
                format!("{at}/operationId"),
                "operation-id-changed",
                (true, true),
                format!(
                    "operationId {} → {}: the SDK method and the server trait method are renamed",
                    old["operationId"], new["operationId"]
                ),
            );
        }
        if !flag(old, "deprecated") && flag(new, "deprecated") {
            self.push(
                format!("{at}/deprecated"),
                "endpoint-deprecated",
                (false, false),
                "the operation is deprecated".into(),
            );
        }
        let (old_root, new_root) = (self.old, self.new);
        let old_params = Self::params(old_root, old_item, old);
        let new_params = Self::params(new_root, new_item, new);
        for old_param in &old_params {
            let (name, location) = (
                old_param["name"].as_str().unwrap_or(""),
                old_param["in"].as_str().unwrap_or(""),
            );
            let here = format!("{at}/parameters/{location}/{}", escape(name));
            match new_params
                .iter()
                .find(|p| p["name"] == old_param["name"] && p["in"] == old_param["in"])
            {
                None => self.push(
                    here,
                    "request-parameter-removed",
                    (true, false),
                    format!("{location} parameter {name} was removed"),
                ),
                Some(new_param) => {
                    if !flag(old_param, "required") && flag(new_param, "required") {
                        self.push(
                            here.clone(),
                            "request-parameter-became-required",
                            (true, false),
                            format!("{location} parameter {name} is now required"),
                        );
                    }
                    if flag(old_param, "required") && !flag(new_param, "required") {
                        self.push(
                            here.clone(),
                            "request-parameter-became-optional",
                            (false, true),
                            format!("{location} parameter {name} is now optional: servers must do without it"),
                        );
                    }
                    self.schema(
                        &format!("{here}/schema"),
                        &old_param["schema"],
                        &new_param["schema"],
                        Direction::Request,
                        "request-parameter",
                    );
                }
            }
        }
        for new_param in &new_params {
            if old_params
                .iter()
                .any(|p| p["name"] == new_param["name"] && p["in"] == new_param["in"])
            {
                continue;
            }
            let (name, location) = (
                new_param["name"].as_str().unwrap_or(""),
                new_param["in"].as_str().unwrap_or(""),
            );
            let here = format!("{at}/parameters/{location}/{}", escape(name));
            if flag(new_param, "required") {
                self.push(
                    here,
                    "new-required-request-parameter",
                    (true, true),
                    format!("new required {location} parameter {name}"),
                );
            } else {
                self.push(
                    here,
                    "new-optional-request-parameter",
                    (false, true),
                    format!("new optional {location} parameter {name}: servers must accept it"),
                );
            }
        }
        self.request_body(at, old.get("requestBody"), new.get("requestBody"));
        self.responses(at, &old["responses"], &new["responses"]);
    }

    fn request_body(&mut self, at: &str, old: Option<&Value>, new: Option<&Value>) {
        let here = format!("{at}/requestBody");
        let (old_root, new_root) = (self.old, self.new);
        match (
            old.map(|b| resolve(old_root, b)),
            new.map(|b| resolve(new_root, b)),
        ) {
            (None, None) => {}
            (None, Some(new)) => {
                let required = flag(new, "required");
                self.push(
                    here,
                    if required {
                        "request-body-added-required"
                    } else {
                        "request-body-added-optional"
                    },
                    (required, true),
                    "the operation now takes a body".into(),
                );
            }
            (Some(_), None) => self.push(
                here,
                "request-body-removed",
                (true, false),
                "the operation no longer takes a body".into(),
            ),
            (Some(old), Some(new)) => {
                if !flag(old, "required") && flag(new, "required") {
                    self.push(
                        here.clone(),
                        "request-body-became-required",
                        (true, false),
                        "the body is now required".into(),
                    );
                }
                self.content(&here, &old["content"], &new["content"], Direction::Request);
            }
        }
    }

    fn content(&mut self, at: &str, old: &Value, new: &Value, direction: Direction) {
        let empty = serde_json::Map::new();
        let old = old.as_object().unwrap_or(&empty);
        let new = new.as_object().unwrap_or(&empty);
        let (removed, added) = match direction {
            Direction::Request => (
                "request-body-media-type-removed",
                "request-body-media-type-added",
            ),
            Direction::Response => ("response-media-type-removed", "response-media-type-added"),
        };
        for (media, old_media) in old {
            let here = format!("{at}/content/{}", escape(media));
            match new.get(media) {
                None => self.push(
                    here,
                    removed,
                    (true, true),
                    format!("media type {media} was removed"),
                ),
                Some(new_media) => self.schema(
                    &format!("{here}/schema"),
                    &old_media["schema"],
                    &new_media["schema"],
                    direction,
                    match direction {
                        Direction::Request => "request-property",
                        Direction::Response => "response-property",
                    },
                ),
            }
        }
        for media in new.keys() {
            if !old.contains_key(media) {
                self.push(
                    format!("{at}/content/{}", escape(media)),
                    added,
                    match direction {
                        Direction::Request => (false, true),
                        Direction::Response => (true, false),
                    },
                    format!("media type {media} was added"),
                );
            }
        }
    }

    fn responses(&mut self, at: &str, old: &Value, new: &Value) {
        let empty = serde_json::Map::new();
        let old = old.as_object().unwrap_or(&empty);
        let new = new.as_object().unwrap_or(&empty);
        let (old_root, new_root) = (self.old, self.new);
        for (status, old_response) in old {
            let here = format!("{at}/responses/{status}");
            let success = status.starts_with('2');
            match new.get(status) {
                None => self.push(
                    here,
                    if success {
                        "response-success-status-removed"
                    } else {
                        "response-non-success-status-removed"
                    },
                    (success, false),
                    format!("status {status} was removed"),
                ),
                Some(new_response) => {
                    let old_response = resolve(old_root, old_response);
                    let new_response = resolve(new_root, new_response);
                    for (name, _) in old_response
                        .get("headers")
                        .and_then(Value::as_object)
                        .into_iter()
                        .flatten()
                    {
                        let kept = new_response
                            .get("headers")
                            .and_then(Value::as_object)
                            .is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case(name)));
                        if !kept {
                            self.push(
                                format!("{here}/headers/{}", escape(name)),
                                "response-header-removed",
                                (true, false),
                                format!("response header {name} was removed"),
                            );
                        }
                    }
                    self.content(
                        &here,
                        &old_response["content"],
                        &new_response["content"],
                        Direction::Response,
                    );
                }
            }
        }
        for status in new.keys() {
            if old.contains_key(status) {
                continue;
            }
            let success = status.starts_with('2');
            self.push(
                format!("{at}/responses/{status}"),
                if success {
                    "response-success-status-added"
                } else {
                    "response-non-success-status-added"
                },
                (true, false),
                format!("status {status} was added: clients must handle it"),
            );
        }
    }

    /// Compares two schemas travelling in `direction`; `kind` prefixes the
    /// rule ids (`request-property`, `response-property`,
    /// `request-parameter`).
    fn schema(&mut self, at: &str, old: &Value, new: &Value, direction: Direction, kind: &str) {
        let key = (
            reference(old).unwrap_or_default().to_owned(),
            reference(new).unwrap_or_default().to_owned(),
            direction == Direction::Request,
        );
        if !key.0.is_empty() && !key.1.is_empty() && !self.visiting.insert(key.clone()) {
            return;
        }
        let (old_root, new_root) = (self.old, self.new);
        let old = resolve(old_root, old);
        let new = resolve(new_root, new);
        self.compare(at, old, new, direction, kind);
        if !key.0.is_empty() && !key.1.is_empty() {
            self.visiting.remove(&key);
        }
    }

    fn compare(&mut self, at: &str, old: &Value, new: &Value, direction: Direction, kind: &str) {
        let rule = |suffix: &str| rule_id(kind, suffix);
        // A one-member allOf is the member (the spec wraps $refs to add
        // keywords beside them).
        let unwrap = |root: &Value, schema: &Value| -> Value {
            match schema.get("allOf").and_then(Value::as_array) {
                Some(all) if all.len() == 1 => {
                    let mut merged = resolve(root, &all[0]).clone();
                    if let (Value::Object(target), Value::Object(source)) = (&mut merged, schema) {
                        for (k, v) in source {
                            if k != "allOf" {
                                target.insert(k.clone(), v.clone());
                            }
                        }
                    }
                    merged
                }
                _ => schema.clone(),
            }
        };
        let old = &unwrap(self.old, old);
        let new = &unwrap(self.new, new);
        if old.get("type") != new.get("type") {
            self.push(
                format!("{at}/type"),
                rule("type-changed"),
                (true, true),
                format!("type {} → {}", old["type"], new["type"]),
            );
            return;
        }
        if old.get("format") != new.get("format") {
            self.push(
                format!("{at}/format"),
                rule("format-changed"),
                (true, true),
                format!("format {} → {}", old["format"], new["format"]),
            );
        }
        match (
            flag(old, "nullable") || flag(old, "x-nullable"),
            flag(new, "nullable") || flag(new, "x-nullable"),
        ) {
            (true, false) => self.push(
                format!("{at}/nullable"),
                rule("became-not-nullable"),
                tightened(direction),
                "null is no longer allowed".into(),
            ),
            (false, true) => self.push(
                format!("{at}/nullable"),
                rule("became-nullable"),
                loosened(direction),
                "null is now allowed".into(),
            ),
            _ => {}
        }
        if !flag(old, "x-privileged")
            && flag(new, "x-privileged")
            && direction == Direction::Request
        {
            self.push(
                format!("{at}/x-privileged"),
                rule("became-privileged"),
                (true, false),
                "only privileged callers may send it now".into(),
            );
        }
        self.enums(at, old, new, direction, kind);
        // Upper bounds: lowered or added is tighter; lower bounds: raised or
        // added is tighter.
        for (key, name, upper) in [
            ("maxLength", "max-length", true),
            ("maximum", "max", true),
            ("maxItems", "max-items", true),
            ("maxProperties", "max-properties", true),
            ("minLength", "min-length", false),
            ("minimum", "min", false),
            ("minItems", "min-items", false),
            ("minProperties", "min-properties", false),
        ] {
            let (a, b) = (num(old, key), num(new, key));
            let (suffix, tighter, what) = match (a, b) {
                (Some(a), Some(b)) if a == b => continue,
                (Some(a), Some(b)) => (
                    if b < a { "decreased" } else { "increased" },
                    (b < a) == upper,
                    format!("{key} {a} → {b}"),
                ),
                (None, Some(b)) => ("set", true, format!("{key} {b} was added")),
                (Some(a), None) => (
                    if upper { "increased" } else { "decreased" },
                    false,
                    format!("{key} {a} was removed"),
                ),
                (None, None) => continue,
            };
            let classes = if tighter {
                tightened(direction)
            } else {
                loosened(direction)
            };
            self.push(
                format!("{at}/{key}"),
                rule(&format!("{name}-{suffix}")),
                classes,
                what,
            );
        }
        match (old.get("pattern"), new.get("pattern")) {
            (a, b) if a == b => {}
            (None, Some(p)) => self.push(
                format!("{at}/pattern"),
                rule("pattern-added"),
                tightened(direction),
                format!("pattern {p} was added"),
            ),
            (Some(p), None) => self.push(
                format!("{at}/pattern"),
                rule("pattern-removed"),
                loosened(direction),
                format!("pattern {p} was removed"),
            ),
            (Some(a), Some(b)) => self.push(
                format!("{at}/pattern"),
                rule("pattern-changed"),
                (true, true),
                format!("pattern {a} → {b}"),
            ),
            _ => {}
        }
        if !flag(old, "uniqueItems") && flag(new, "uniqueItems") {
            self.push(
                format!("{at}/uniqueItems"),
                rule("unique-items-added"),
                tightened(direction),
                "items must now be unique".into(),
            );
        }
        self.objects(at, old, new, direction, kind);
        if old.get("items").is_some() || new.get("items").is_some() {
            self.schema(
                &format!("{at}/items"),
                &old["items"],
                &new["items"],
                direction,
                kind,
            );
        }
        for keyword in ["oneOf", "anyOf", "allOf"] {
            let (Some(a), Some(b)) = (
                old.get(keyword).and_then(Value::as_array),
                new.get(keyword).and_then(Value::as_array),
            ) else {
                if old.get(keyword).is_some() != new.get(keyword).is_some() {
                    self.push(
                        format!("{at}/{keyword}"),
                        rule("composition-changed"),
                        (true, true),
                        format!("{keyword} was added or removed"),
                    );
                }
                continue;
            };
            if a.len() != b.len() {
                let (clients, servers) = match (keyword, b.len() > a.len()) {
                    // More alternatives: looser; more conjuncts: tighter.
                    ("allOf", true) => tightened(direction),
                    ("allOf", false) => loosened(direction),
                    (_, true) => loosened(direction),
                    (_, false) => tightened(direction),
                };
                self.push(
                    format!("{at}/{keyword}"),
                    rule("composition-changed"),
                    (clients, servers),
                    format!("{keyword} has {} members, not {}", b.len(), a.len()),
                );
            }
            for (i, (a, b)) in a.iter().zip(b).enumerate() {
                self.schema(&format!("{at}/{keyword}/{i}"), a, b, direction, kind);
            }
        }
    }

    fn enums(&mut self, at: &str, old: &Value, new: &Value, direction: Direction, kind: &str) {
        let values = |schema: &Value| -> Option<Vec<Value>> {
            schema.get("enum").and_then(Value::as_array).cloned()
        };
        let (old_values, new_values) = (values(old), values(new));
        match (&old_values, &new_values) {
            (None, Some(_)) => self.push(
                format!("{at}/enum"),
                rule_id(kind, "enum-added"),
                tightened(direction),
                "values are now limited to a list".into(),
            ),
            (Some(_), None) => self.push(
                format!("{at}/enum"),
                rule_id(kind, "enum-removed"),
                loosened(direction),
                "values are no longer limited to a list".into(),
            ),
            (Some(a), Some(b)) => {
                let removed: Vec<&Value> = a.iter().filter(|v| !b.contains(v)).collect();
                let added: Vec<&Value> = b.iter().filter(|v| !a.contains(v)).collect();
                if !removed.is_empty() {
                    self.push(
                        format!("{at}/enum"),
                        rule_id(kind, "enum-value-removed"),
                        tightened(direction),
                        format!("values removed: {removed:?}"),
                    );
                }
                if !added.is_empty() {
                    self.push(
                        format!("{at}/enum"),
                        rule_id(kind, "enum-value-added"),
                        loosened(direction),
                        format!("values added: {added:?}"),
                    );
                }
            }
            (None, None) => {}
        }
        // A response member whose enum is documented as extensible
        // (`x-extensible-enum`) is read as text: new values break no client.
        let (Some(a), Some(b)) = (
            old.get("x-extensible-enum").and_then(Value::as_array),
            new.get("x-extensible-enum").and_then(Value::as_array),
        ) else {
            return;
        };
        let added: Vec<&Value> = b.iter().filter(|v| !a.contains(v)).collect();
        if !added.is_empty() {
            self.push(
                format!("{at}/x-extensible-enum"),
                rule_id(kind, "extensible-enum-value-added"),
                (false, direction == Direction::Request),
                format!("values added to an extensible enum: {added:?}"),
            );
        }
    }

    fn objects(&mut self, at: &str, old: &Value, new: &Value, direction: Direction, kind: &str) {
        let empty = serde_json::Map::new();
        let old_props = old
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let new_props = new
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let required = |schema: &Value| -> BTreeSet<String> {
            schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        };
        let (old_required, new_required) = (required(old), required(new));
        let closed =
            |schema: &Value| schema.get("additionalProperties") == Some(&Value::Bool(false));
        for (name, old_prop) in old_props {
            let here = format!("{at}/properties/{}", escape(name));
            match new_props.get(name) {
                None => match direction {
                    Direction::Request => self.push(
                        here,
                        rule_id(kind, "removed"),
                        (closed(new), false),
                        format!(
                            "member {name} was removed{}",
                            if closed(new) {
                                " from a closed object: clients sending it are refused"
                            } else {
                                ""
                            }
                        ),
                    ),
                    Direction::Response => self.push(
                        here,
                        rule_id(kind, "removed"),
                        (true, false),
                        format!("member {name} is no longer answered"),
                    ),
                },
                Some(new_prop) => {
                    match (old_required.contains(name), new_required.contains(name)) {
                        (false, true) => self.push(
                            here.clone(),
                            rule_id(kind, "became-required"),
                            match direction {
                                Direction::Request => (true, false),
                                Direction::Response => (false, true),
                            },
                            format!("member {name} is now required"),
                        ),
                        (true, false) => self.push(
                            here.clone(),
                            rule_id(kind, "became-optional"),
                            match direction {
                                Direction::Request => (false, true),
                                Direction::Response => (true, false),
                            },
                            format!("member {name} is now optional"),
                        ),
                        _ => {}
                    }
                    self.schema(&here, old_prop, new_prop, direction, kind);
                }
            }
        }
        for name in new_props.keys() {
            if old_props.contains_key(name) {
                continue;
            }
            let here = format!("{at}/properties/{}", escape(name));
            let required = new_required.contains(name);
            let (rule, classes, what) = match (direction, required) {
                (Direction::Request, true) => (
                    "new-required-request-property",
                    (true, true),
                    format!("new required member {name}"),
                ),
                (Direction::Request, false) => (
                    "new-optional-request-property",
                    (false, true),
                    format!("new optional member {name}: servers must accept it"),
                ),
                (Direction::Response, true) => (
                    "new-required-response-property",
                    (false, true),
                    format!("new member {name} every answer must carry"),
                ),
                (Direction::Response, false) => (
                    "new-optional-response-property",
                    (false, false),
                    format!("new optional member {name}"),
                ),
            };
            self.push(here, rule, classes, what);
        }
        match (closed(old), closed(new)) {
            (false, true) => self.push(
                format!("{at}/additionalProperties"),
                rule_id(kind, "became-closed"),
                tightened(direction),
                "unknown members are now refused".into(),
            ),
            (true, false) => self.push(
                format!("{at}/additionalProperties"),
                rule_id(kind, "became-open"),
                loosened(direction),
                "unknown members are now allowed".into(),
            ),
            _ => {}
        }
    }
}

/// The rule id `<kind>-<suffix>`.
fn rule_id(kind: &str, suffix: &str) -> String {
    format!("{kind}-{suffix}")
}

/// The major version of a semantic version.
fn major(version: &Value) -> Option<u64> {
    version.as_str()?.split('.').next()?.parse().ok()
}

/// Runs the command: prints every difference with its class, and fails on
/// an unversioned breaking change or an SDK version that does not follow
/// the spec's.
pub(crate) fn run(root: &Path) -> anyhow::Result<()> {
    let released = spec::load_value(&root.join(RELEASED))
        .with_context(|| format!("the released spec ({RELEASED})"))?;
    let current = spec::load_value(&root.join(spec::SPEC_PATH))?;
    let changes = diff(&released, &current);
    if changes.is_empty() {
        println!("{} and {RELEASED} describe the same API", spec::SPEC_PATH);
    }
    for change in &changes {
        println!(
            "{:<34} {:<48} {}\n{:<34} {}",
            change.class(),
            change.rule,
            change.pointer,
            "",
            change.what
        );
    }
    let breaking: Vec<&Change> = changes.iter().filter(|c| c.is_breaking()).collect();
    let (old_major, new_major) = (
        major(&released["info"]["version"]),
        major(&current["info"]["version"]),
    );
    if !breaking.is_empty() && new_major <= old_major {
        bail!(
            "{} breaking difference(s) from the released spec, but info.version {} keeps the major version of {}: bump it, or make the change compatible",
            breaking.len(),
            current["info"]["version"],
            released["info"]["version"]
        );
    }
    let manifest = std::fs::read_to_string(root.join(SDK_MANIFEST))?;
    let sdk_version = manifest
        .lines()
        .find_map(|line| line.strip_prefix("version = "))
        .map(|v| v.trim().trim_matches('"').to_owned())
        .with_context(|| format!("{SDK_MANIFEST} states no version of its own"))?;
    let spec_version = current["info"]["version"].as_str().unwrap_or_default();
    if sdk_version != spec_version {
        bail!(
            "users-client is version {sdk_version}, the spec's info.version is {spec_version}: the SDK's version follows the spec's"
        );
    }
    println!(
        "{} difference(s), {} breaking; users-client {sdk_version} follows info.version",
        changes.len(),
        breaking.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec() -> Value {
        spec::load_value(&spec::project_root().join(spec::SPEC_PATH)).unwrap()
    }

    fn at<'v>(spec: &'v mut Value, pointer: &str) -> &'v mut Value {
        spec.pointer_mut(pointer)
            .unwrap_or_else(|| panic!("{pointer} is not in the spec"))
    }

    const USERS: &str = "/paths/~1v1~1users";
    const USER: &str = "/paths/~1v1~1users~1{userId}";
    const SCHEMAS: &str = "/components/schemas";

    type Mutation = fn(&mut Value);

    /// A change to the spec, the rule that must report it and the class it
    /// must get (breaks clients, breaks servers). `base` prepares the
    /// released side when the change needs a starting point the spec does
    /// not have.
    struct Case {
        name: &'static str,
        base: Option<Mutation>,
        head: Mutation,
        rule: &'static str,
        class: (bool, bool),
    }

    const C: (bool, bool) = (true, false);
    const S: (bool, bool) = (false, true);
    const CS: (bool, bool) = (true, true);
    const OK: (bool, bool) = (false, false);

    fn catalogue() -> Vec<Case> {
        vec![
            Case {
                name: "an operation removed",
                base: None,
                head: |s| {
                    at(s, USER).as_object_mut().unwrap().remove("delete");
                },
                rule: "api-removed-without-deprecation",
                class: C,
            },
            Case {
                name: "an operation added",
                base: None,
                head: |s| {
                    at(s, USER)["head"] = at(s, &format!("{USER}/get")).clone();
                    at(s, &format!("{USER}/head"))["operationId"] = json!("headUser");
                },
                rule: "endpoint-added",
                class: S,
            },
            Case {
                name: "an operationId renamed",
                base: None,
                head: |s| at(s, &format!("{USER}/get"))["operationId"] = json!("fetchUser"),
                rule: "operation-id-changed",
                class: CS,
            },
            Case {
                name: "a deprecation",
                base: None,
                head: |s| at(s, &format!("{USER}/get"))["deprecated"] = json!(true),
                rule: "endpoint-deprecated",
                class: OK,
            },
            Case {
                name: "a query parameter removed",
                base: None,
                head: |s| {
                    at(s, &format!("{USERS}/get/parameters"))
                        .as_array_mut()
                        .unwrap()
                        .pop();
                },
                rule: "request-parameter-removed",
                class: C,
            },
            Case {
                name: "a new required parameter",
                base: None,
                head: |s| {
                    at(s, &format!("{USERS}/get/parameters")).as_array_mut().unwrap().push(json!({ "name": "team", "in": "query", "required": true, "schema": { "type": "string" } }))
                },
                rule: "new-required-request-parameter",
                class: CS,
            },
            Case {
                name: "a new optional parameter",
                base: None,
                head: |s| {
                    at(s, &format!("{USERS}/get/parameters")).as_array_mut().unwrap().push(json!({ "name": "team", "in": "query", "schema": { "type": "string" } }))
                },
                rule: "new-optional-request-parameter",
                class: S,
            },
            Case {
                name: "a parameter made required",
                base: None,
                head: |s| at(s, "/components/parameters/IfMatch")["required"] = json!(true),
                rule: "request-parameter-became-required",
                class: C,
            },
            Case {
                name: "a parameter's maximum lowered",
                base: None,
                head: |s| at(s, "/components/parameters/Limit/schema")["maximum"] = json!(50),
                rule: "request-parameter-max-decreased",
                class: C,
            },
            Case {
                name: "a parameter's maximum raised",
                base: None,
                head: |s| at(s, "/components/parameters/Limit/schema")["maximum"] = json!(500),
                rule: "request-parameter-max-increased",
                class: S,
            },
            Case {
                name: "a parameter's type changed",
                base: None,
                head: |s| at(s, "/components/parameters/Limit/schema")["type"] = json!("string"),
                rule: "request-parameter-type-changed",
                class: CS,
            },
            Case {
                name: "a request member's maxLength lowered",
                base: None,
                head: |s| at(s, &format!("{SCHEMAS}/JobTitle"))["maxLength"] = json!(50),
                rule: "request-property-max-length-decreased",
                class: C,
            },
            Case {
                name: "a request member's minLength raised",
                base: None,
                head: |s| at(s, &format!("{SCHEMAS}/JobTitle"))["minLength"] = json!(3),
                rule: "request-property-min-length-increased",
                class: C,
            },
            Case {
                name: "a request member's maxLength raised",
                base: None,
                head: |s| at(s, &format!("{SCHEMAS}/JobTitle"))["maxLength"] = json!(200),
                rule: "request-property-max-length-increased",
                class: S,
            },
            Case {
                name: "a new required request member",
                base: None,
                head: |s| {
                    at(s, &format!("{SCHEMAS}/UserCreate/properties"))["nickname"] =
                        json!({ "type": "string" });
                    at(s, &format!("{SCHEMAS}/UserCreate/required"))
                        .as_array_mut()
                        .unwrap()
                        .push(json!("nickname"));
                },
                rule: "new-required-request-property",
                class: CS,
            },
            Case {
                name: "a new optional request member",
                base: None,
                head: |s| {
                    at(s, &format!("{SCHEMAS}/UserCreate/properties"))["nickname"] =
                        json!({ "type": "string" })
                },
                rule: "new-optional-request-property",
                class: S,
            },
            Case {
                name: "a request member made required",
                base: None,
                head: |s| {
                    at(s, &format!("{SCHEMAS}/UserCreate/required"))
                        .as_array_mut()
                        .unwrap()
                        .push(json!("phone"))
                },
                rule: "request-property-became-required",
                class: C,
            },
            Case {
                name: "a request member removed from a closed object",
                base: None,
                head: |s| {
                    at(s, &format!("{SCHEMAS}/UserCreate/properties"))
                        .as_object_mut()
                        .unwrap()
                        .remove("position");
                },
                rule: "request-property-removed",
                class: C,
            },
            Case {
                name: "a request enum narrowed",
                base: None,
                head: |s| {
                    at(s, &format!("{SCHEMAS}/UserPatch/properties/gender/enum"))
                        .as_array_mut()
                        .unwrap()
                        .retain(|v| v != "undisclosed")
                },
                rule: "request-property-enum-value-removed",
                class: C,
            },
            Case {
                name: "a request enum widened",
                base: None,
                head: |s| {
                    at(s, &format!("{SCHEMAS}/UserPatch/properties/gender/enum"))
                        .as_array_mut()
                        .unwrap()
                        .insert(0, json!("other"))
                },
                rule: "request-property-enum-value-added",
                class: S,
            },
            Case {
                name: "a request member's type changed",
                base: None,
                head: |s| {
                    at(s, &format!("{SCHEMAS}/UserPatch/properties/jobTitle"))["type"] =
                        json!("integer")
                },
                rule: "request-property-type-changed",
                class: CS,
            },
            Case {
                name: "a request member no longer nullable",
                base: None,
                head: |s| {
                    at(s, &format!("{SCHEMAS}/UserPatch/properties/phone"))
                        .as_object_mut()
                        .unwrap()
                        .remove("nullable");
                },
                rule: "request-property-became-not-nullable",
                class: C,
            },
            Case {
                name: "a pattern added to a request member",
                base: None,
                head: |s| at(s, &format!("{SCHEMAS}/JobTitle"))["pattern"] = json!("^[A-Z]"),
                rule: "request-property-pattern-added",
                class: C,
            },
            Case {
                name: "a request member made privileged",
                base: None,
                head: |s| {
                    at(s, &format!("{SCHEMAS}/UserPatch/properties/jobTitle"))["x-privileged"] =
                        json!(true)
                },
                rule: "request-property-became-privileged",
                class: C,
            },
            Case {
                name: "a request object closed",
                base: Some(|s| {
                    at(s, &format!("{SCHEMAS}/UserCreate"))
                        .as_object_mut()
                        .unwrap()
                        .remove("additionalProperties");
                }),
                head: |s| {
                    at(s, &format!("{SCHEMAS}/UserCreate"))["additionalProperties"] = json!(false)
                },
                rule: "request-property-became-closed",
                class: C,
            },
            Case {
                name: "a request media type changed",
                base: None,
                head: |s| {
                    let content = at(s, &format!("{USER}/patch/requestBody/content"))
                        .as_object_mut()
                        .unwrap();
                    let media = content.remove("application/merge-patch+json").unwrap();
                    content.insert("application/json-patch+json".into(), media);
                },
                rule: "request-body-media-type-removed",
                class: CS,
            },
            Case {
                name: "a response media type changed",
                base: None,
                head: |s| {
                    let content = at(s, &format!("{USER}/get/responses/200/content"))
                        .as_object_mut()
                        .unwrap();
                    let media = content.remove("application/json").unwrap();
                    content.insert("application/hal+json".into(), media);
                },
                rule: "response-media-type-removed",
                class: CS,
            },
            Case {
                name: "a response member removed",
                base: None,
                head: |s| {
                    at(s, &format!("{SCHEMAS}/User/properties"))
                        .as_object_mut()
                        .unwrap()
                        .remove("jobTitle");
                },
                rule: "response-property-removed",
                class: C,
            },
            Case {
                name: "a response member made optional",
                base: None,
                head: |s| {
                    at(s, &format!("{SCHEMAS}/User/required"))
                        .as_array_mut()
                        .unwrap()
                        .retain(|v| v != "email")
                },
                rule: "response-property-became-optional",
                class: C,
            },
            Case {
                name: "a response member made nullable",
                base: None,
                head: |s| {
                    at(s, &format!("{SCHEMAS}/User/properties/email"))["nullable"] = json!(true)
                },
                rule: "response-property-became-nullable",
                class: C,
            },
            Case {
                name: "a new required response member",
                base: None,
                head: |s| {
                    at(s, &format!("{SCHEMAS}/User/properties"))["nickname"] =
                        json!({ "type": "string" });
                    at(s, &format!("{SCHEMAS}/User/required"))
                        .as_array_mut()
                        .unwrap()
                        .push(json!("nickname"));
                },
                rule: "new-required-response-property",
                class: S,
            },
            Case {
                name: "a new optional response member",
                base: None,
                head: |s| {
                    at(s, &format!("{SCHEMAS}/User/properties"))["nickname"] =
                        json!({ "type": "string" })
                },
                rule: "new-optional-response-property",
                class: OK,
            },
            Case {
                name: "a closed response enum widened",
                base: Some(|s| {
                    let gender = at(s, &format!("{SCHEMAS}/User/properties/gender"));
                    gender["enum"] = json!(["male", "female", "undisclosed"]);
                    gender.as_object_mut().unwrap().remove("x-extensible-enum");
                }),
                head: |s| {
                    let gender = at(s, &format!("{SCHEMAS}/User/properties/gender"));
                    gender["enum"] = json!(["male", "female", "undisclosed", "other"]);
                    gender.as_object_mut().unwrap().remove("x-extensible-enum");
                },
                rule: "response-property-enum-value-added",
                class: C,
            },
            Case {
                name: "an extensible response enum widened",
                base: None,
                head: |s| {
                    at(
                        s,
                        &format!("{SCHEMAS}/User/properties/gender/x-extensible-enum"),
                    )
                    .as_array_mut()
                    .unwrap()
                    .push(json!("other"))
                },
                rule: "response-property-extensible-enum-value-added",
                class: OK,
            },
            Case {
                name: "a success status removed",
                base: None,
                head: |s| {
                    let responses = at(s, &format!("{USER}/delete/responses"))
                        .as_object_mut()
                        .unwrap();
                    let gone = responses.remove("204").unwrap();
                    responses.insert("200".into(), gone);
                },
                rule: "response-success-status-removed",
                class: C,
            },
            Case {
                name: "an error status added",
                base: None,
                head: |s| {
                    at(s, &format!("{USERS}/get/responses"))["409"] =
                        json!({ "$ref": "#/components/responses/Conflict" })
                },
                rule: "response-non-success-status-added",
                class: C,
            },
            Case {
                name: "a response header removed",
                base: None,
                head: |s| {
                    at(s, &format!("{USER}/get/responses/200/headers"))
                        .as_object_mut()
                        .unwrap()
                        .remove("ETag");
                },
                rule: "response-header-removed",
                class: C,
            },
        ]
    }

    #[test]
    fn the_spec_does_not_differ_from_itself_and_words_are_not_differences() {
        let base = spec();
        assert_eq!(diff(&base, &base), []);
        let mut reworded = base.clone();
        at(&mut reworded, &format!("{USER}/get"))["description"] = json!("Reworded.");
        at(&mut reworded, &format!("{SCHEMAS}/JobTitle"))["example"] = json!("CTO");
        assert_eq!(diff(&base, &reworded), []);
    }

    #[test]
    fn every_mutation_of_the_catalogue_is_classified_as_expected() {
        let cases = catalogue();
        assert!(
            cases.len() >= 25,
            "the catalogue has {} mutations",
            cases.len()
        );
        let mut failures = Vec::new();
        for case in &cases {
            let mut base = spec();
            if let Some(prepare) = case.base {
                prepare(&mut base);
            }
            let mut head = base.clone();
            (case.head)(&mut head);
            let changes = diff(&base, &head);
            let found = changes.iter().find(|c| c.rule == case.rule);
            match found {
                Some(change) if (change.breaks_clients, change.breaks_servers) == case.class => {}
                Some(change) => failures.push(format!(
                    "{}: {} is {}, expected ({}, {})",
                    case.name,
                    case.rule,
                    change.class(),
                    case.class.0,
                    case.class.1
                )),
                None => failures.push(format!(
                    "{}: no {} among {:?}",
                    case.name,
                    case.rule,
                    changes.iter().map(|c| c.rule.as_str()).collect::<Vec<_>>()
                )),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn a_breaking_change_needs_a_major_version_and_the_sdk_follows_it() {
        let root = tempfile::tempdir().unwrap();
        let write = |released: &Value, current: &Value, sdk_version: &str| {
            for (path, value) in [(RELEASED, released), (spec::SPEC_PATH, current)] {
                let path = root.path().join(path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, serde_json::to_string(value).unwrap()).unwrap();
            }
            let manifest = root.path().join(SDK_MANIFEST);
            std::fs::create_dir_all(manifest.parent().unwrap()).unwrap();
            std::fs::write(
                manifest,
                format!("[package]\nname = \"users-client\"\nversion = \"{sdk_version}\"\n"),
            )
            .unwrap();
        };
        let released = spec();
        let version = released["info"]["version"].as_str().unwrap().to_owned();
        write(&released, &released, &version);
        run(root.path()).expect("no difference passes");

        let mut broken = released.clone();
        at(&mut broken, USER)
            .as_object_mut()
            .unwrap()
            .remove("delete");
        write(&released, &broken, &version);
        let err =
            run(root.path()).expect_err("a breaking change under the same major version fails");
        assert!(err.to_string().contains("1 breaking difference"), "{err}");

        let next = format!("{}.0.0", major(&released["info"]["version"]).unwrap() + 1);
        broken["info"]["version"] = json!(next);
        write(&released, &broken, &version);
        let err = run(root.path()).expect_err("the SDK must follow the new version");
        assert!(err.to_string().contains("follows the spec"), "{err}");
        write(&released, &broken, &next);
        run(root.path()).expect("a major bump with the SDK following passes");
    }
}
