//! Names for the schemas a spec writes inline.
//!
//! The server generator types what `components/schemas` names. Before it
//! runs, every inline schema that becomes a type of its own (a body, an
//! object member that is itself an object, the items of an array of
//! objects) is moved there under a name taken from where it was written:
//!
//! | written at | named |
//! |---|---|
//! | an operation's request body | `<Operation>Body` |
//! | an operation's response | `<Operation><Status>Body` (`ListPetsOkBody`, `GetPetDefaultBody`) |
//! | `components/requestBodies/<Name>` or `components/responses/<Name>` | `<Name>Body` |
//! | member `m` of schema `S` | `<S><M>` |
//! | the items of schema `S` (or of its member `m`) | `<S>Item` (`<S><M>Item`) |
//! | the values of a map member `m` of schema `S` | `<S><M>Value` |
//!
//! Request bodies written alike (the same text, in any operation) share the
//! first one's type, and so do responses; a merge patch's never shares
//! another body's. A name another schema already has gets a numeric
//! suffix. Operations with no `operationId` get one from their method and
//! path (`post /streams` is `postStreams`), here and in the client view
//! alike.
//!
//! Two compositions are also read as what they describe, for the server:
//! - a component that is the `allOf` of plain objects (and of components
//!   that are), as the one object;
//! - a `oneOf` / `anyOf` of one-value string enums, as the one string enum.

use serde_json::{Value, json};

use super::naming::{pascal, status_name};

/// The methods an operation may be declared under, in the order the
/// generators emit them.
pub(crate) const METHODS: [&str; 8] = [
    "get", "post", "put", "patch", "delete", "head", "options", "trace",
];

/// Every operation of a spec, as (path, method).
pub(crate) fn operations(spec: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            if item.get(method).is_some() {
                out.push((path.clone(), method.to_owned()));
            }
        }
    }
    out
}

/// The operation (path, method) a JSON Pointer is in.
pub(crate) fn operation_at(pointer: &str) -> Option<(String, String)> {
    let mut tokens = pointer.strip_prefix("/paths/")?.split('/');
    let path = super::naming::unescape(tokens.next()?);
    let method = tokens.next()?;
    METHODS.contains(&method).then(|| (path, method.to_owned()))
}

/// The `operationId` of an operation that has none: its method and path in
/// camel case.
pub(crate) fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_owned();
    id.push_str(&pascal(path));
    id
}

/// Gives every operation an `operationId`.
pub(crate) fn name_operations(spec: &mut Value) {
    let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        for method in METHODS {
            if let Some(op) = item.get_mut(method).and_then(Value::as_object_mut)
                && !op.contains_key("operationId")
            {
                op.insert("operationId".into(), operation_id(method, path).into());
            }
        }
    }
}

/// The spec with its inline types moved to `components/schemas`.
pub(crate) fn lift(source: &Value) -> Value {
    lift_parts(source, true)
}

/// The spec with its inline body and response schemas moved to
/// `components/schemas` (the client view: typify names members itself).
pub(crate) fn lift_bodies(source: &Value) -> Value {
    lift_parts(source, false)
}

fn lift_parts(source: &Value, members: bool) -> Value {
    let mut spec = source.clone();
    name_operations(&mut spec);
    if members {
        rust_schema_names(&mut spec);
    }
    if !spec["components"].is_object() {
        spec["components"] = json!({});
    }
    if !spec["components"]["schemas"].is_object() {
        spec["components"]["schemas"] = json!({});
    }
    let mut lifted: Vec<(String, Value)> = Vec::new();
    let mut taken: std::collections::BTreeSet<String> = spec["components"]["schemas"]
        .as_object()
        .map(|s| s.keys().cloned().collect())
        .unwrap_or_default();
    let mut claim = |wanted: String, schema: Value, lifted: &mut Vec<(String, Value)>| {
        let name = unique(&wanted, &mut taken);
        lifted.push((name.clone(), schema));
        json!({ "$ref": format!("#/components/schemas/{name}") })
    };
    // Bodies: one type per schema written alike.
    let mut alike = Alike::default();
    if let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            for method in METHODS {
                let Some(op) = item.get_mut(method) else {
                    continue;
                };
                let id = pascal(op["operationId"].as_str().unwrap_or(method));
                if let Some(body) = op.get_mut("requestBody") {
                    lift_content(
                        body,
                        &format!("{id}Body"),
                        Role::Request,
                        &mut lifted,
                        &mut claim,
                        &mut alike,
                    );
                }
                if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
                    for (status, response) in responses.iter_mut() {
                        let name = format!("{id}{}Body", status_word(status));
                        lift_content(
                            response,
                            &name,
                            Role::Response,
                            &mut lifted,
                            &mut claim,
                            &mut alike,
                        );
                    }
                }
            }
        }
    }
    for (kind, role) in [
        ("requestBodies", Role::Request),
        ("responses", Role::Response),
    ] {
        if let Some(items) = spec["components"]
            .get_mut(kind)
            .and_then(Value::as_object_mut)
        {
            for (name, item) in items.iter_mut() {
                lift_content(
                    item,
                    &format!("{}Body", pascal(name)),
                    role,
                    &mut lifted,
                    &mut claim,
                    &mut alike,
                );
            }
        }
    }
    if members {
        references_beside_annotations(&mut spec);
    }
    flatten_all_of(&mut spec);
    join_enum_unions(&mut spec);
    // Members, items and values, of the components and of what was lifted,
    // until nothing inline is left.
    let mut queue: Vec<String> = spec["components"]["schemas"]
        .as_object()
        .map(|s| s.keys().cloned().collect())
        .unwrap_or_default();
    if !members {
        for (name, schema) in lifted.drain(..) {
            spec["components"]["schemas"][&name] = schema;
        }
        return spec;
    }
    let mut done = 0;
    loop {
        for (name, schema) in lifted.drain(..) {
            spec["components"]["schemas"][&name] = schema;
            queue.push(name);
        }
        if done == queue.len() {
            break;
        }
        let name = queue[done].clone();
        done += 1;
        let mut schema = spec["components"]["schemas"][&name].take();
        lift_members(&mut schema, &pascal(&name), &mut lifted, &mut claim);
        spec["components"]["schemas"][&name] = schema;
    }
    spec
}

/// `wanted`, or `wanted` with the first number from 2 that makes it a name
/// not in `taken`; taken from then on.
fn unique(wanted: &str, taken: &mut std::collections::BTreeSet<String>) -> String {
    let mut name = wanted.to_owned();
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{wanted}{n}");
        n += 1;
    }
    name
}

/// The types the server generator names after each operation
/// (`<Operation>Request`, ..).
pub(crate) const OPERATION_TYPES: [&str; 6] =
    ["Request", "Response", "Refusal", "Path", "Query", "Headers"];

/// Component schemas renamed where the server generator could not name a
/// type after them, and every reference to them follows:
/// - a name that is not a Rust identifier (`200Result`, `System.Object`,
///   `pet-owner`, `Self`) becomes its Pascal case (`V200Result`,
///   `SystemObject`, `PetOwner`, `Self_`), unique among the names;
/// - a name the generator gives a type of an operation's (AWS's
///   `TagResourceRequest` beside the operation `TagResource`) gains
///   `Schema` (`TagResourceRequestSchema`).
fn rust_schema_names(spec: &mut Value) {
    let generated: std::collections::BTreeSet<String> = operations(spec)
        .iter()
        .filter_map(|(path, method)| spec["paths"][path][method]["operationId"].as_str())
        .flat_map(|id| {
            let id = pascal(id);
            OPERATION_TYPES.map(|suffix| format!("{id}{suffix}"))
        })
        .collect();
    let Some(schemas) = spec["components"]["schemas"].as_object() else {
        return;
    };
    let mut taken: std::collections::BTreeSet<String> = schemas.keys().cloned().collect();
    taken.extend(generated.iter().cloned());
    let mut renames: Vec<(String, String)> = Vec::new();
    for name in schemas.keys() {
        let wanted = if generated.contains(name) {
            format!("{name}Schema")
        } else if syn::parse_str::<syn::Ident>(name).is_err() {
            super::naming::ident(&pascal(name)).to_string()
        } else {
            continue;
        };
        renames.push((name.clone(), unique(&wanted, &mut taken)));
    }
    if renames.is_empty() {
        return;
    }
    // By the name's pointer token (`System.Object`, `a~1b`).
    let renamed: std::collections::HashMap<String, &str> = renames
        .iter()
        .map(|(old, new)| (super::naming::escape(old), new.as_str()))
        .collect();
    fn follow(value: &mut Value, renamed: &std::collections::HashMap<String, &str>) {
        match value {
            Value::Object(object) => {
                if let Some(Value::String(reference)) = object.get_mut("$ref")
                    && let Some(rest) = reference.strip_prefix("#/components/schemas/")
                {
                    let (token, tail) = rest.split_once('/').unwrap_or((rest, ""));
                    if let Some(new) = renamed.get(token) {
                        let tail = if tail.is_empty() {
                            String::new()
                        } else {
                            format!("/{tail}")
                        };
                        *reference = format!("#/components/schemas/{new}{tail}");
                    }
                }
                object.values_mut().for_each(|v| follow(v, renamed));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| follow(v, renamed)),
            _ => {}
        }
    }
    follow(spec, &renamed);
    if let Some(schemas) = spec["components"]["schemas"].as_object_mut() {
        for (old, new) in renames {
            if let Some(schema) = schemas.remove(&old) {
                schemas.insert(new, schema);
            }
        }
    }
}

/// Keywords that describe a schema and constrain nothing.
const ANNOTATIONS: [&str; 7] = [
    "description",
    "title",
    "example",
    "examples",
    "externalDocs",
    "xml",
    "deprecated",
];

/// Whether `key` is one of [`ANNOTATIONS`] or an extension.
fn is_annotation(key: &str) -> bool {
    ANNOTATIONS.contains(&key) || is_extension(key)
}

/// Whether `key` is an extension that constrains nothing (`x-rules`
/// relates members).
fn is_extension(key: &str) -> bool {
    key.starts_with("x-") && !key.starts_with("x-rule")
}

/// Every schema that is the `allOf` of one reference and parts that only
/// annotate it (`allOf: [{$ref: Peer}, {xml: .., description: ..}]`, how
/// AWS's specs document a member) as the `allOf` of that reference alone,
/// for the server: the annotations constrain nothing, and the generator
/// reads a one-part `allOf` as its part. The schema's own keywords stay; a
/// schema with keywords beside `allOf` other than annotations is left as it
/// is.
fn references_beside_annotations(spec: &mut Value) {
    fn walk(value: &mut Value) {
        match value {
            Value::Object(object) => {
                if let Some(reference) = annotated_reference(object) {
                    object.insert("allOf".into(), json!([{ "$ref": reference }]));
                    return;
                }
                for (key, child) in object.iter_mut() {
                    match key.as_str() {
                        // Members are schemas whatever their names.
                        "properties" => child
                            .as_object_mut()
                            .into_iter()
                            .flat_map(|members| members.values_mut())
                            .for_each(walk),
                        // Values, not schemas.
                        "example" | "examples" | "default" | "enum" => {}
                        _ => walk(child),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    for part in ["paths", "components"] {
        if let Some(value) = spec.get_mut(part) {
            walk(value);
        }
    }
}

/// The reference `schema` reads as, if it is the `allOf` of one reference
/// and annotations (see [`references_beside_annotations`]).
fn annotated_reference(schema: &serde_json::Map<String, Value>) -> Option<String> {
    let parts = schema.get("allOf")?.as_array()?;
    if parts.len() < 2 || !schema.keys().all(|k| k == "allOf" || is_annotation(k)) {
        return None;
    }
    let mut reference = None;
    for part in parts {
        let part = part.as_object()?;
        match part.get("$ref").and_then(Value::as_str) {
            Some(r) if reference.is_none() && part.len() == 1 => reference = Some(r.to_owned()),
            Some(_) => return None,
            None if part.keys().all(|k| is_annotation(k)) => {}
            None => return None,
        }
    }
    reference
}

/// A component that is the `allOf` of objects (`Pet` is `NewPet` and an
/// `id`), with or without members of its own, as the one object it
/// describes: every part's members and required members together, a part
/// that is itself such a component read the same way (`Dog` is `Pet` is
/// `NewPet`). One that also relates members, whose parts are not plain
/// objects, or whose parts give one member two different schemas, is left
/// as it is. `discriminator` (which names which of the extending schemas a
/// value is, and validates nothing) is dropped from the parts.
fn flatten_all_of(spec: &mut Value) {
    let names: Vec<String> = spec["components"]["schemas"]
        .as_object()
        .map(|s| s.keys().cloned().collect())
        .unwrap_or_default();
    let mut flattener = Flattener {
        spec: &*spec,
        memo: std::collections::BTreeMap::new(),
        visiting: std::collections::BTreeSet::new(),
    };
    let mut flat = Vec::new();
    for name in names {
        // One part and nothing of its own is another name for that part:
        // the generators read it as that part.
        let schema = &spec["components"]["schemas"][&name];
        let parts = schema
            .get("allOf")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if parts == 0 || parts == 1 && schema.get("properties").is_none() {
            continue;
        }
        if let Some(object) = flattener.component(&name) {
            flat.push((name, object));
        }
    }
    for (name, object) in flat {
        spec["components"]["schemas"][&name] = object;
    }
}

/// The keywords a part of a flattened `allOf` may have.
const PLAIN_OBJECT: [&str; 10] = [
    "type",
    "properties",
    "required",
    "allOf",
    "description",
    "title",
    "example",
    "discriminator",
    "externalDocs",
    "deprecated",
];

/// Components read as plain objects, each once.
struct Flattener<'a> {
    spec: &'a Value,
    /// Each component read so far: its object, or none.
    memo: std::collections::BTreeMap<String, Option<Value>>,
    /// The components being read, to stop at one that extends itself.
    visiting: std::collections::BTreeSet<String>,
}

impl Flattener<'_> {
    /// Component `name` as one plain object, if it is one.
    fn component(&mut self, name: &str) -> Option<Value> {
        if let Some(done) = self.memo.get(name) {
            return done.clone();
        }
        // A schema that extends itself is no plain object.
        if !self.visiting.insert(name.to_owned()) {
            return None;
        }
        let spec = self.spec;
        let flat = self.object(&spec["components"]["schemas"][name]);
        self.visiting.remove(name);
        self.memo.insert(name.to_owned(), flat.clone());
        flat
    }

    /// `schema` as one plain object, if it is one.
    fn object(&mut self, schema: &Value) -> Option<Value> {
        let object = schema.as_object()?;
        let plain = object
            .keys()
            .all(|k| PLAIN_OBJECT.contains(&k.as_str()) || is_extension(k));
        if !plain || object.get("type").is_some_and(|t| t != "object") {
            return None;
        }
        let mut properties = serde_json::Map::new();
        let mut required: Vec<Value> = Vec::new();
        let mut add = |part: &Value| -> Option<()> {
            for (member, schema) in part["properties"].as_object().into_iter().flatten() {
                match properties.get(member) {
                    Some(known) if known != schema => return None,
                    _ => {
                        properties.insert(member.clone(), schema.clone());
                    }
                }
            }
            for member in part["required"].as_array().into_iter().flatten() {
                if !required.contains(member) {
                    required.push(member.clone());
                }
            }
            Some(())
        };
        for part in object
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let part = match part.get("$ref").and_then(Value::as_str) {
                Some(reference) => {
                    let name = reference.strip_prefix("#/components/schemas/")?;
                    self.component(&super::naming::unescape(name))?
                }
                None => self.object(part)?,
            };
            add(&part)?;
        }
        add(schema)?;
        let mut flat = schema.clone();
        let object = flat.as_object_mut().expect("an object");
        object.remove("allOf");
        object.remove("discriminator");
        object.insert("type".into(), "object".into());
        object.insert("properties".into(), Value::Object(properties));
        if !required.is_empty() {
            object.insert("required".into(), Value::Array(required));
        }
        Some(flat)
    }
}

/// A component that is a `oneOf` (or `anyOf`) of string enums with distinct
/// values (how some generators document each value: `{ type: string, enum:
/// [a], description }`) as the one string enum it describes.
fn join_enum_unions(spec: &mut Value) {
    let Some(schemas) = spec["components"]["schemas"].as_object_mut() else {
        return;
    };
    for schema in schemas.values_mut() {
        if schema.get("properties").is_some() {
            continue;
        }
        let Some((keyword, members)) = ["oneOf", "anyOf"]
            .iter()
            .find_map(|k| schema.get(*k).and_then(Value::as_array).map(|m| (*k, m)))
        else {
            continue;
        };
        let mut values: Vec<Value> = Vec::new();
        let plain = members.iter().all(|member| {
            let only_enum = member.as_object().is_some_and(|m| {
                m.keys()
                    .all(|k| matches!(k.as_str(), "type" | "enum" | "description" | "title"))
            });
            only_enum
                && member["type"] == "string"
                && member["enum"].as_array().is_some_and(|e| {
                    e.iter().all(|v| {
                        let fresh = v.is_string() && !values.contains(v);
                        values.push(v.clone());
                        fresh
                    })
                })
        });
        if !plain || values.is_empty() {
            continue;
        }
        let object = schema
            .as_object_mut()
            .expect("a schema with oneOf is an object");
        object.remove(keyword);
        object.insert("type".into(), "string".into());
        object.insert("enum".into(), Value::Array(values));
    }
}

/// A status in a type name: its reason (`Ok`, `NotFound`), `Default`, or
/// the range (`Status4XX`).
fn status_word(status: &str) -> String {
    match status.parse::<u16>() {
        Ok(code) => status_name(code),
        Err(_) if status == "default" => "Default".into(),
        Err(_) => format!("Status{}", status.to_ascii_uppercase()),
    }
}

type Claim<'c> = dyn FnMut(String, Value, &mut Vec<(String, Value)>) -> Value + 'c;

/// Lifts the inline schemas of a body or response's `content`.
fn lift_content(
    holder: &mut Value,
    name: &str,
    role: Role,
    lifted: &mut Vec<(String, Value)>,
    claim: &mut Claim<'_>,
    alike: &mut Alike,
) {
    let Some(content) = holder.get_mut("content").and_then(Value::as_object_mut) else {
        return;
    };
    for (media_type, media) in content.iter_mut() {
        // Bytes and text stay as they are: progenitor sends and returns
        // them as bytes, and the server takes JSON only.
        let essence = media_type.split(';').next().unwrap_or_default().trim();
        if !(essence.ends_with("json")
            || essence.ends_with("form-urlencoded")
            || essence == "multipart/form-data")
        {
            continue;
        }
        let Some(schema) = media.get_mut("schema") else {
            continue;
        };
        if schema.get("$ref").is_some() || !is_type(schema) {
            continue;
        }
        // A merge patch's members are three-state: its schema is a type of
        // its own, even where another body writes it alike. A request's
        // schema is checked where a response's is documentation: each
        // shares only with its own kind, so that what the server cannot
        // check in a request leaves no response out.
        let patch = essence == "application/merge-patch+json";
        let key = format!("{role:?} {patch} {schema}");
        *schema = match alike.get(&key) {
            Some(reference) => reference.clone(),
            None => {
                let reference = claim(name.to_owned(), schema.clone(), lifted);
                alike.insert(key, reference.clone());
                reference
            }
        };
    }
}

/// Whether a body is sent or answered.
#[derive(Debug, Clone, Copy)]
enum Role {
    Request,
    Response,
}

/// The type each inline body schema was lifted as, by its text, its role
/// and whether it is a merge patch: bodies, or responses, written alike, in
/// one operation's media types or across operations (specs with their
/// references resolved repeat a schema at every use), share the first one's
/// type, as OpenAPI Generator's inline model resolver does.
type Alike = std::collections::HashMap<String, Value>;

/// Whether an inline body schema is worth a type of its own: anything but
/// an empty schema.
fn is_type(schema: &Value) -> bool {
    schema.as_object().is_some_and(|s| !s.is_empty())
}

/// Whether an inline member schema is an object with members, which the
/// generator types only under a name.
fn is_object(schema: &Value) -> bool {
    schema.get("$ref").is_none() && schema.get("properties").is_some()
}

/// Lifts the object-valued members, items and map values of `schema`.
fn lift_members(
    schema: &mut Value,
    name: &str,
    lifted: &mut Vec<(String, Value)>,
    claim: &mut Claim<'_>,
) {
    if let Some(items) = schema.get_mut("items")
        && is_object(items)
    {
        *items = claim(format!("{name}Item"), items.take(), lifted);
    }
    if let Some(values) = schema.get_mut("additionalProperties")
        && is_object(values)
    {
        *values = claim(format!("{name}Value"), values.take(), lifted);
    }
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    let names: Vec<String> = properties.keys().cloned().collect();
    for member in names {
        let slot = &mut properties[&member];
        let member_name = format!("{name}{}", pascal(&member));
        if is_object(slot) {
            *slot = claim(member_name, slot.take(), lifted);
            continue;
        }
        // An array of objects, or a map of them, written in place.
        for (key, suffix) in [("items", "Item"), ("additionalProperties", "Value")] {
            if let Some(inner) = slot.get_mut(key)
                && is_object(inner)
            {
                *inner = claim(format!("{member_name}{suffix}"), inner.take(), lifted);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_schemas_are_named_from_where_they_are_written() {
        let spec = json!({
            "openapi": "3.0.3",
            "paths": {
                "/streams": {
                    "post": {
                        "requestBody": { "content": { "application/json": { "schema": {
                            "type": "object",
                            "properties": {
                                "owner": { "type": "object", "properties": { "id": { "type": "string" } } },
                                "tags": { "type": "array", "items": { "type": "object", "properties": { "k": { "type": "string" } } } }
                            }
                        } } } },
                        "responses": {
                            "201": { "description": "", "content": { "application/json": { "schema": { "type": "array", "items": { "type": "string" } } } } },
                            "default": { "description": "", "content": { "application/json": { "schema": { "type": "object", "properties": { "message": { "type": "string" } } } } } }
                        }
                    }
                }
            },
            "components": { "schemas": { "PostStreamsBody": { "type": "string" } } }
        });
        let lifted = lift(&spec);
        let op = &lifted["paths"]["/streams"]["post"];
        assert_eq!(op["operationId"], "postStreams");
        assert_eq!(
            op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/PostStreamsBody2",
            "a taken name gets a suffix"
        );
        assert_eq!(
            op["responses"]["201"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/PostStreamsCreatedBody"
        );
        assert_eq!(
            op["responses"]["default"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/PostStreamsDefaultBody"
        );
        let schemas = &lifted["components"]["schemas"];
        assert_eq!(
            schemas["PostStreamsBody2"]["properties"]["owner"]["$ref"],
            "#/components/schemas/PostStreamsBody2Owner"
        );
        assert_eq!(
            schemas["PostStreamsBody2"]["properties"]["tags"]["items"]["$ref"],
            "#/components/schemas/PostStreamsBody2TagsItem"
        );
        assert_eq!(
            schemas["PostStreamsBody2Owner"]["properties"]["id"]["type"],
            "string"
        );
    }

    #[test]
    fn bodies_written_alike_share_one_type_by_role_and_a_merge_patch_keeps_its_own() {
        let role = json!({ "type": "object", "properties": {
            "name": { "type": "string", "nullable": true },
            "actions": { "type": "object", "properties": { "edit": { "type": "boolean" } } }
        } });
        let body = |media: &str| json!({ "content": { media: { "schema": role.clone() } } });
        let answer = json!({ "200": { "description": "", "content": { "application/json": { "schema": role.clone() } } } });
        let spec = json!({ "paths": {
            "/roles": {
                "get": { "operationId": "getRole", "responses": answer.clone() },
                "post": { "operationId": "postRole", "requestBody": body("application/json"), "responses": answer.clone() },
                "patch": { "operationId": "patchRole", "requestBody": body("application/merge-patch+json"), "responses": answer }
            }
        } });
        let reference = |lifted: &Value, method: &str, at: &str| {
            lifted["paths"]["/roles"][method]
                .pointer(at)
                .and_then(|s| s["$ref"].as_str())
                .unwrap_or_default()
                .to_owned()
        };
        for lifted in [lift(&spec), lift_bodies(&spec)] {
            let ok = "/responses/200/content/application~1json/schema";
            for method in ["get", "post", "patch"] {
                assert_eq!(
                    reference(&lifted, method, ok),
                    "#/components/schemas/GetRoleOkBody"
                );
            }
            // A request shares only with requests.
            assert_eq!(
                reference(
                    &lifted,
                    "post",
                    "/requestBody/content/application~1json/schema"
                ),
                "#/components/schemas/PostRoleBody"
            );
            assert_eq!(
                reference(
                    &lifted,
                    "patch",
                    "/requestBody/content/application~1merge-patch+json/schema"
                ),
                "#/components/schemas/PatchRoleBody"
            );
            let schemas = lifted["components"]["schemas"].as_object().unwrap();
            assert!(!schemas.contains_key("PostRoleOkBody"));
            assert!(!schemas.contains_key("PatchRoleOkBody"));
        }
        // Written differently (one word of a description), two types.
        let mut other = spec.clone();
        other["paths"]["/roles"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
            ["description"] = json!("A role.");
        assert_eq!(
            reference(
                &lift(&other),
                "post",
                "/responses/200/content/application~1json/schema"
            ),
            "#/components/schemas/PostRoleOkBody"
        );
    }

    #[test]
    fn schemas_not_named_as_rust_types_are_renamed_and_followed() {
        let spec = json!({
            "paths": { "/a": { "get": { "operationId": "a", "responses": { "200": {
                "description": "",
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/System.Object" } } },
            } } } } },
            "components": { "schemas": {
                "System.Object": { "type": "object", "properties": {
                    "owner": { "$ref": "#/components/schemas/pet-owner" },
                    "deep": { "$ref": "#/components/schemas/pet-owner/properties/name" },
                    "next": { "$ref": "#/components/schemas/200Result" },
                    "last": { "$ref": "#/components/schemas/AResponse" },
                } },
                // The name of the type the server gives operation `a`'s answers.
                "AResponse": { "type": "string" },
                "pet-owner": { "type": "object", "properties": { "name": { "type": "string" } } },
                "PetOwner": { "type": "string" },
                "200Result": { "type": "string" },
                "Self": { "type": "string" },
            } },
        });
        let lifted = lift(&spec);
        let schemas = &lifted["components"]["schemas"];
        let names: Vec<&String> = schemas.as_object().unwrap().keys().collect();
        assert_eq!(
            names,
            [
                "AResponseSchema",
                "PetOwner",
                "PetOwner2",
                "Self_",
                "SystemObject",
                "V200Result"
            ]
        );
        assert_eq!(
            schemas["SystemObject"]["properties"]["last"]["$ref"],
            "#/components/schemas/AResponseSchema"
        );
        let members = &schemas["SystemObject"]["properties"];
        assert_eq!(members["owner"]["$ref"], "#/components/schemas/PetOwner2");
        assert_eq!(
            members["deep"]["$ref"],
            "#/components/schemas/PetOwner2/properties/name"
        );
        assert_eq!(members["next"]["$ref"], "#/components/schemas/V200Result");
        assert_eq!(
            lifted["paths"]["/a"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
                ["$ref"],
            "#/components/schemas/SystemObject"
        );
        // The client view keeps the spec's names: typify names its types.
        assert!(lift_bodies(&spec)["components"]["schemas"]["System.Object"].is_object());
    }

    #[test]
    fn a_reference_beside_annotations_is_the_reference_for_the_server() {
        let annotated = |extra: Value| {
            let mut note = json!({ "xml": { "name": "peer" }, "description": "The peer." });
            if let (Some(note), Some(extra)) = (note.as_object_mut(), extra.as_object()) {
                note.extend(extra.clone());
            }
            json!({ "allOf": [{ "$ref": "#/components/schemas/Peer" }, note] })
        };
        let spec = json!({ "components": { "schemas": {
            "Peer": { "type": "object", "properties": { "id": { "type": "string" } } },
            "Result": { "type": "object", "properties": {
                "peer": annotated(json!({})),
                "peers": { "type": "array", "items": annotated(json!({ "x-aws": true })) },
                // A part that constrains is no annotation.
                "bounded": annotated(json!({ "maxProperties": 1 })),
                "nullable": annotated(json!({ "nullable": true })),
                // A member's name is no keyword.
                "example": annotated(json!({})),
            } },
            "Alias": annotated(json!({})),
        } } });
        let lifted = lift(&spec);
        let schemas = &lifted["components"]["schemas"];
        let peer = json!([{ "$ref": "#/components/schemas/Peer" }]);
        let parts = |schema: &Value| {
            // A member the server lifts is a component of its own.
            let schema = match schema["$ref"].as_str() {
                Some(r) => &schemas[r.trim_start_matches("#/components/schemas/")],
                None => schema,
            };
            schema["allOf"].clone()
        };
        let member = |name: &str| &schemas["Result"]["properties"][name];
        assert_eq!(parts(member("peer")), peer, "{lifted:#}");
        assert_eq!(parts(member("example")), peer, "{lifted:#}");
        assert_eq!(parts(&member("peers")["items"]), peer, "{lifted:#}");
        for kept in ["bounded", "nullable"] {
            assert_eq!(
                parts(member(kept)).as_array().map(Vec::len),
                Some(2),
                "{kept}: {lifted:#}"
            );
        }
        assert_eq!(schemas["Alias"]["allOf"], peer);
        // The client view reads the document as written.
        let bodies = lift_bodies(&spec);
        assert_eq!(
            bodies["components"]["schemas"]["Result"]["properties"]["peer"],
            annotated(json!({}))
        );
    }

    #[test]
    fn a_spec_with_nothing_inline_is_unchanged_but_for_operation_ids() {
        let spec = json!({
            "paths": { "/a": { "get": { "operationId": "getA", "responses": {
                "200": { "description": "", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/A" } } } }
            } } } },
            "components": { "schemas": { "A": { "type": "object", "properties": { "b": { "$ref": "#/components/schemas/B" } } }, "B": { "type": "string" } } }
        });
        assert_eq!(lift(&spec), spec);
    }

    #[test]
    fn an_all_of_of_objects_is_the_one_object_through_every_level() {
        let object = |props: Value| json!({ "type": "object", "properties": props });
        let spec = json!({
            "paths": {},
            "components": { "schemas": {
                "Base": {
                    "type": "object",
                    "discriminator": { "propertyName": "kind" },
                    "required": ["kind"],
                    "properties": { "kind": { "type": "string" } },
                },
                "Pet": {
                    "allOf": [{ "$ref": "#/components/schemas/Base" }],
                    "required": ["name"],
                    "properties": { "name": { "type": "string" } },
                    "description": "A pet.",
                },
                "Dog": {
                    "allOf": [
                        { "$ref": "#/components/schemas/Pet" },
                        object(json!({ "barks": { "type": "boolean" } })),
                    ],
                },
                // One member with two schemas: both apply, which one object
                // cannot say.
                "Odd": {
                    "allOf": [
                        { "$ref": "#/components/schemas/Pet" },
                        object(json!({ "name": { "type": "integer" } })),
                    ],
                },
                // A part that relates members is not a plain object.
                "Picky": {
                    "allOf": [
                        { "$ref": "#/components/schemas/Pet" },
                        { "anyOf": [{ "required": ["a"] }, { "required": ["b"] }] },
                    ],
                },
                "Loop": { "allOf": [{ "$ref": "#/components/schemas/Loop" }, object(json!({}))] },
                "Alias": { "allOf": [{ "$ref": "#/components/schemas/Pet" }], "description": "Another name." },
            } }
        });
        let lifted = lift(&spec);
        let schemas = &lifted["components"]["schemas"];
        assert_eq!(
            schemas["Dog"],
            json!({
                "type": "object",
                "required": ["kind", "name"],
                "properties": {
                    "kind": { "type": "string" },
                    "name": { "type": "string" },
                    "barks": { "type": "boolean" },
                },
            })
        );
        assert_eq!(schemas["Pet"]["description"], "A pet.");
        assert!(
            schemas["Pet"].get("allOf").is_none() && schemas["Pet"].get("discriminator").is_none()
        );
        for kept in ["Odd", "Picky", "Loop", "Alias", "Base"] {
            assert_eq!(schemas[kept], spec["components"]["schemas"][kept], "{kept}");
        }
    }
}
