//! The typed model of an API: what its operations take and answer, read
//! from the document once.
//!
//! Every generator reads operations from here rather than walking the
//! document: parameters with their location, bodies and responses with the
//! kind of each media type, statuses, response headers, security
//! requirements with their schemes, and the Rust names an operation is
//! given. The model represents what OpenAPI 3.0 can say about an operation
//! (after [`super::lift`] and, for 3.1, [`super::lower`]); what it cannot
//! represent (a reference that does not resolve, a parameter without `in`,
//! a status that is not one, an undeclared security scheme, two operations
//! that would get one Rust name) is refused here, once, with its JSON
//! Pointer. What a generator cannot serve of a represented operation is that
//! generator's refusal (a cookie parameter for the server, say).
//!
//! Schemas stay JSON here: the generators type them (typify for the SDK,
//! `server.rs` for the contract).

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use proc_macro2::Ident;
use serde_json::Value;

use super::Refusal;
use super::naming::{const_ident, escape, field_ident, pascal};

/// The extension marking the parameter that names the tenant an operation
/// acts in.
pub(crate) const TENANT_SWITCH: &str = "x-tenant-switch";

/// The name of the trait an implementation of the document's API
/// implements: its title in Pascal case, ending in `Api` (`Users API` is
/// `UsersApi`, `Swagger Petstore` is `SwaggerPetstoreApi`).
pub(crate) fn trait_name(spec: &Value) -> Ident {
    let title = spec["info"]["title"].as_str().unwrap_or_default();
    let mut name = pascal(title);
    if !name.ends_with("Api") {
        name.push_str("Api");
    }
    super::naming::ident(&name)
}

/// The operations of a document, and what was refused of them.
#[derive(Debug, Default)]
pub(crate) struct Api {
    pub(crate) operations: Vec<Operation>,
    pub(crate) refusals: Vec<Refusal>,
}

/// One operation.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub(crate) id: String,
    pub(crate) names: Names,
    /// Its JSON Pointer, `/paths/~1v1~1users/get`.
    pub(crate) at: String,
    /// Lower case, as the document keys it.
    pub(crate) method: String,
    pub(crate) path: String,
    /// Its tags, in order (none is fine).
    pub(crate) tags: Vec<String>,
    pub(crate) summary: Option<String>,
    pub(crate) description: Option<String>,
    /// The path item's parameters and its own, an operation's replacing the
    /// path item's of the same name and location.
    pub(crate) params: Vec<Parameter>,
    pub(crate) body: Option<RequestBody>,
    /// In the document's order.
    pub(crate) responses: Vec<Response>,
    pub(crate) security: Security,
    /// The operation's `x-` members.
    pub(crate) extensions: BTreeMap<String, Value>,
}

/// The Rust names of an operation, checked unique across the document.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    /// Functions and methods: `get_user` (`move_` for `move`).
    pub(crate) function: Ident,
    /// Types: `GetUser`, to which suffixes are added (`GetUserRequest`).
    pub(crate) pascal: String,
    /// Constants: `GET_USER`.
    pub(crate) constant: Ident,
}

/// Where a parameter is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Location {
    Path,
    Query,
    Header,
    Cookie,
}

impl Location {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "path" => Self::Path,
            "query" => Self::Query,
            "header" => Self::Header,
            "cookie" => Self::Cookie,
            _ => return None,
        })
    }

    /// As the document spells it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::Query => "query",
            Self::Header => "header",
            Self::Cookie => "cookie",
        }
    }
}

/// One parameter, its reference resolved.
#[derive(Debug, Clone)]
pub(crate) struct Parameter {
    pub(crate) name: String,
    pub(crate) location: Location,
    /// Always true in the path.
    pub(crate) required: bool,
    pub(crate) description: Option<String>,
    pub(crate) style: Option<String>,
    pub(crate) explode: Option<bool>,
    /// `None` when the parameter is described by `content`.
    pub(crate) schema: Option<Value>,
    /// Marked `x-tenant-switch`: it names the account the call acts in.
    pub(crate) tenant_switch: bool,
    /// The parameter object as written (after resolving), for what only a
    /// generator reads (`example`, `deprecated`).
    pub(crate) raw: Value,
}

/// How a media type's content is read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MediaKind {
    /// `application/json`, `application/*+json`, with any parameters.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `multipart/*`.
    Multipart,
    /// `text/*`.
    Text,
    /// `*/*`: whatever comes.
    Any,
    /// Anything else: bytes (`application/octet-stream`, `image/png`).
    Binary,
}

impl MediaKind {
    /// The kind of the media type `media` (its essence decides).
    pub(crate) fn of(media: &str) -> Self {
        let essence = media
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        // `text/json` is an old name of JSON (ASP.NET writes it).
        if essence == "application/json" || essence.ends_with("+json") || essence == "text/json" {
            Self::Json
        } else if essence == "application/x-www-form-urlencoded" {
            Self::Form
        } else if essence.starts_with("multipart/") {
            Self::Multipart
        } else if essence.starts_with("text/") {
            Self::Text
        } else if essence == "*/*" {
            Self::Any
        } else {
            Self::Binary
        }
    }
}

/// One media type of a body or response.
#[derive(Debug, Clone)]
pub(crate) struct Content {
    /// As the document spells it, parameters included.
    pub(crate) media: String,
    pub(crate) kind: MediaKind,
    /// As written: a `$ref` is not resolved, its name is the type's.
    pub(crate) schema: Option<Value>,
    /// The media type object as written (`example`, `examples`, `encoding`).
    pub(crate) raw: Value,
}

impl Content {
    /// The component schema the content names (`#/components/schemas/X`).
    pub(crate) fn component(&self) -> Option<&str> {
        self.schema
            .as_ref()?
            .get("$ref")?
            .as_str()?
            .strip_prefix("#/components/schemas/")
    }
}

/// A request body, its reference resolved.
#[derive(Debug, Clone)]
pub(crate) struct RequestBody {
    pub(crate) required: bool,
    pub(crate) description: Option<String>,
    /// In the document's order; never empty.
    pub(crate) content: Vec<Content>,
}

/// A documented status: a number, a range (`4XX`) or `default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Code(u16),
    /// The class digit: `4` for `4XX`.
    Range(u16),
    Default,
}

impl Status {
    pub(crate) fn parse(status: &str) -> anyhow::Result<Self> {
        if status == "default" {
            return Ok(Status::Default);
        }
        if let Some(class) = status
            .strip_suffix("XX")
            .and_then(|c| c.parse::<u16>().ok())
            .filter(|c| (1..=5).contains(c))
        {
            return Ok(Status::Range(class));
        }
        match status.parse::<u16>() {
            Ok(code) if (100..=599).contains(&code) => Ok(Status::Code(code)),
            _ => bail!("status {status:?} is neither a code, a range nor `default`"),
        }
    }

    /// Whether it is an error: 400 and above, a `4XX` or `5XX` range, or
    /// `default` (what no other response of the operation documents).
    pub(crate) fn is_error(self) -> bool {
        match self {
            Status::Code(code) => code >= 400,
            Status::Range(class) => class >= 4,
            Status::Default => true,
        }
    }
}

/// One documented response, its reference resolved.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) status: Status,
    /// As the document keys it (`200`, `4XX`, `default`).
    pub(crate) key: String,
    /// Trimmed.
    pub(crate) description: String,
    /// In the document's order; empty when the response has no body.
    pub(crate) content: Vec<Content>,
    pub(crate) headers: Vec<Header>,
}

impl Response {
    /// Its first JSON content, if any.
    pub(crate) fn json(&self) -> Option<&Content> {
        self.content.iter().find(|c| c.kind == MediaKind::Json)
    }
}

/// A response header, its reference resolved.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub(crate) name: String,
    /// Resolved when it is a reference.
    pub(crate) schema: Value,
    pub(crate) required: bool,
    pub(crate) description: Option<String>,
}

/// Who may call an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Security {
    /// Anyone: no requirement applies, or one of them is empty (`{}`).
    Open,
    /// Any one of these requirements, each met when all its schemes are.
    OneOf(Vec<Requirement>),
}

/// One security requirement: every scheme in it, each with its scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Requirement(pub(crate) Vec<SchemeUse>);

/// A scheme a requirement names, with the scopes it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SchemeUse {
    /// Its name under `components/securitySchemes`.
    pub(crate) name: String,
    pub(crate) scheme: Scheme,
    pub(crate) scopes: Vec<String>,
}

/// A security scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// HTTP `bearer`.
    Bearer,
    /// HTTP `basic`.
    Basic,
    /// Another HTTP scheme (`digest`, ...), lower case.
    Http(String),
    /// A key sent in a header, query parameter or cookie under `name`.
    ApiKey {
        location: Location,
        name: String,
    },
    OAuth2,
    OpenIdConnect,
    MutualTls,
}

impl Scheme {
    /// The document's word for it.
    pub(crate) fn kind(&self) -> &str {
        match self {
            Self::Bearer | Self::Basic | Self::Http(_) => "http",
            Self::ApiKey { .. } => "apiKey",
            Self::OAuth2 => "oauth2",
            Self::OpenIdConnect => "openIdConnect",
            Self::MutualTls => "mutualTLS",
        }
    }

    fn parse(definition: &Value) -> anyhow::Result<Self> {
        Ok(match definition["type"].as_str() {
            Some("http") => {
                let scheme = definition["scheme"]
                    .as_str()
                    .context("an http scheme without `scheme`")?
                    .to_ascii_lowercase();
                match scheme.as_str() {
                    "bearer" => Self::Bearer,
                    "basic" => Self::Basic,
                    _ => Self::Http(scheme),
                }
            }
            Some("apiKey") => Self::ApiKey {
                location: definition["in"]
                    .as_str()
                    .and_then(Location::parse)
                    .filter(|l| *l != Location::Path)
                    .context("an apiKey scheme not in a header, query or cookie")?,
                name: definition["name"]
                    .as_str()
                    .context("an apiKey scheme without `name`")?
                    .to_owned(),
            },
            Some("oauth2") => Self::OAuth2,
            Some("openIdConnect") => Self::OpenIdConnect,
            Some("mutualTLS") => Self::MutualTls,
            other => bail!("scheme type {other:?}"),
        })
    }
}

impl Api {
    /// The model of `spec`, a lifted 3.0 document. Only a document with no
    /// `paths` object fails whole; anything else wrong is one operation's
    /// refusal.
    pub(crate) fn new(spec: &Value) -> anyhow::Result<Self> {
        let paths = spec["paths"]
            .as_object()
            .context("the document has no `paths` object")?;
        let mut operations: Vec<Operation> = Vec::new();
        let mut refusals = Vec::new();
        // The Rust names taken, each with the operation that took it.
        let mut taken: std::collections::HashMap<String, usize> = Default::default();
        for (path, item) in paths {
            for method in super::lift::METHODS {
                let Some(op) = item.get(method) else { continue };
                let at = format!("/paths/{}/{method}", escape(path));
                let built = operation(spec, path, method, item, op, &at).and_then(|built| {
                    let function = built.names.function.to_string();
                    let clash = [&function, &built.names.pascal]
                        .into_iter()
                        .find_map(|name| taken.get(name));
                    match clash.map(|i| &operations[*i]) {
                        Some(other) => bail!(
                            "operationId {:?} gets the Rust names of {:?} ({}, {})",
                            built.id,
                            other.id,
                            other.names.function,
                            other.names.pascal
                        ),
                        None => Ok((function, built)),
                    }
                });
                match built {
                    Ok((function, built)) => {
                        taken.insert(function, operations.len());
                        taken.insert(built.names.pascal.clone(), operations.len());
                        operations.push(built);
                    }
                    Err(err) => refusals.push(Refusal {
                        pointer: at,
                        reason: format!("{err:#}"),
                    }),
                }
            }
        }
        Ok(Self {
            operations,
            refusals,
        })
    }
}

/// What `value` refers to (`$ref`), or `value` itself.
fn resolved(spec: &Value, value: &Value) -> anyhow::Result<Value> {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => spec
            .pointer(reference.trim_start_matches('#'))
            .cloned()
            .with_context(|| format!("{reference} does not resolve")),
        None => Ok(value.clone()),
    }
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn contents(holder: &Value) -> Vec<Content> {
    holder
        .get("content")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(media, raw)| Content {
            media: media.clone(),
            kind: MediaKind::of(media),
            schema: raw.get("schema").cloned(),
            raw: raw.clone(),
        })
        .collect()
}

fn operation(
    spec: &Value,
    path: &str,
    method: &str,
    item: &Value,
    op: &Value,
    at: &str,
) -> anyhow::Result<Operation> {
    let id = op["operationId"]
        .as_str()
        .context("no operationId")?
        .to_owned();
    let mut params: Vec<Parameter> = Vec::new();
    for param in crate::spec::declared_parameters(item, op) {
        let raw = resolved(spec, param)?;
        let name = raw["name"]
            .as_str()
            .context("a parameter without a name")?
            .to_owned();
        let location = raw["in"]
            .as_str()
            .and_then(Location::parse)
            .with_context(|| {
                format!("parameter {name}: `in` is not path, query, header or cookie")
            })?;
        params.retain(|p| !(p.name == name && p.location == location));
        params.push(Parameter {
            required: location == Location::Path || raw["required"] == Value::Bool(true),
            description: text(&raw, "description"),
            style: text(&raw, "style"),
            explode: raw.get("explode").and_then(Value::as_bool),
            schema: raw.get("schema").cloned(),
            tenant_switch: raw[TENANT_SWITCH] == Value::Bool(true),
            name,
            location,
            raw,
        });
    }
    let body = match op.get("requestBody") {
        Some(body) => {
            let body = resolved(spec, body)?;
            let content = contents(&body);
            if content.is_empty() {
                bail!("a request body with no media type");
            }
            Some(RequestBody {
                required: body["required"] == Value::Bool(true),
                description: text(&body, "description"),
                content,
            })
        }
        None => None,
    };
    let mut responses = Vec::new();
    for (key, response) in op["responses"].as_object().context("no responses")? {
        let response = resolved(spec, response)?;
        let mut headers = Vec::new();
        for (name, header) in response
            .get("headers")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let header = resolved(spec, header)?;
            headers.push(Header {
                name: name.clone(),
                schema: resolved(spec, &header["schema"])?,
                required: header["required"] == Value::Bool(true),
                description: text(&header, "description"),
            });
        }
        responses.push(Response {
            status: Status::parse(key)?,
            key: key.clone(),
            description: response["description"]
                .as_str()
                .unwrap_or_default()
                .trim()
                .to_owned(),
            content: contents(&response),
            headers,
        });
    }
    Ok(Operation {
        names: Names {
            function: field_ident(&id),
            pascal: pascal(&id),
            constant: const_ident(&id),
        },
        at: at.to_owned(),
        method: method.to_owned(),
        path: path.to_owned(),
        tags: op["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        summary: text(op, "summary"),
        description: text(op, "description"),
        params,
        body,
        responses,
        security: security(spec, op)?,
        extensions: op
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(key, _)| key.starts_with("x-"))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
        id,
    })
}

/// The operation's security requirements (or the document's).
fn security(spec: &Value, op: &Value) -> anyhow::Result<Security> {
    let Some(alternatives) = op
        .get("security")
        .or_else(|| spec.get("security"))
        .and_then(Value::as_array)
    else {
        return Ok(Security::Open);
    };
    if alternatives.is_empty()
        || alternatives
            .iter()
            .any(|a| a.as_object().is_some_and(|a| a.is_empty()))
    {
        return Ok(Security::Open);
    }
    let mut requirements = Vec::new();
    for requirement in alternatives {
        let requirement = requirement
            .as_object()
            .context("security: a requirement that is not an object")?;
        let mut uses = Vec::new();
        for (name, scopes) in requirement {
            let definition = resolved(
                spec,
                spec["components"]["securitySchemes"]
                    .get(name)
                    .with_context(|| format!("security scheme {name} is not declared"))?,
            )?;
            uses.push(SchemeUse {
                scheme: Scheme::parse(&definition)
                    .with_context(|| format!("security scheme {name}"))?,
                name: name.clone(),
                scopes: scopes
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
            });
        }
        requirements.push(Requirement(uses));
    }
    Ok(Security::OneOf(requirements))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_media_type_is_of_the_kind_its_essence_says() {
        for json in [
            "application/json",
            "application/problem+json; charset=utf-8",
            "text/json",
            "TEXT/JSON",
        ] {
            assert_eq!(MediaKind::of(json), MediaKind::Json, "{json}");
        }
        assert_eq!(MediaKind::of("text/plain"), MediaKind::Text);
        assert_eq!(MediaKind::of("multipart/form-data"), MediaKind::Multipart);
        assert_eq!(
            MediaKind::of("application/x-www-form-urlencoded"),
            MediaKind::Form
        );
        assert_eq!(MediaKind::of("*/*"), MediaKind::Any);
        assert_eq!(MediaKind::of("image/png"), MediaKind::Binary);
    }

    fn api(paths: Value, components: Value) -> Api {
        Api::new(&json!({
            "openapi": "3.0.3",
            "info": { "title": "T", "version": "1" },
            "paths": paths,
            "components": components,
        }))
        .unwrap()
    }

    #[test]
    fn the_trait_is_named_after_the_title() {
        for (title, name) in [
            ("Users API", "UsersApi"),
            ("Swagger Petstore", "SwaggerPetstoreApi"),
            ("2fa service", "V2faServiceApi"),
            ("", "VApi"),
        ] {
            let spec = json!({ "info": { "title": title } });
            assert_eq!(trait_name(&spec).to_string(), name, "{title}");
        }
    }

    #[test]
    fn operations_are_read_with_their_references_resolved() {
        let api = api(
            json!({
                "/things/{id}": {
                    "parameters": [
                        { "$ref": "#/components/parameters/Id" },
                        { "name": "v", "in": "query", "schema": { "type": "string" } },
                    ],
                    "put": {
                        "operationId": "putThing",
                        "parameters": [
                            { "name": "v", "in": "query", "required": true, "schema": { "type": "integer" } },
                            { "name": "v", "in": "header", "schema": { "type": "string" } },
                        ],
                        "requestBody": { "$ref": "#/components/requestBodies/Thing" },
                        "responses": {
                            "200": {
                                "description": " Done. ",
                                "headers": { "ETag": { "$ref": "#/components/headers/ETag" } },
                                "content": { "application/json; charset=utf-8": { "schema": { "$ref": "#/components/schemas/Thing" } } },
                            },
                            "4XX": { "$ref": "#/components/responses/Problem" },
                            "default": { "description": "Else." },
                        },
                        "x-pagination": { "cursor": "c" },
                    },
                },
            }),
            json!({
                "parameters": { "Id": { "name": "id", "in": "path", "schema": { "type": "string" } } },
                "requestBodies": { "Thing": { "required": true, "content": {
                    "application/merge-patch+json": { "schema": { "$ref": "#/components/schemas/Thing" } },
                    "image/png": {},
                    "multipart/form-data": {},
                    "application/x-www-form-urlencoded": {},
                    "text/plain": {},
                    "*/*": {},
                } } },
                "headers": { "ETag": { "required": true, "schema": { "type": "string" } } },
                "responses": { "Problem": { "description": "No.", "content": { "application/problem+json": {} } } },
                "schemas": { "Thing": { "type": "object" } },
            }),
        );
        assert!(api.refusals.is_empty(), "{:?}", api.refusals);
        let [op] = api.operations.as_slice() else {
            panic!("one operation")
        };
        assert_eq!(op.names.function.to_string(), "put_thing");
        assert_eq!(op.names.pascal, "PutThing");
        assert_eq!(op.names.constant.to_string(), "PUT_THING");
        assert_eq!(op.at, "/paths/~1things~1{id}/put");
        let params: Vec<(&str, Location, bool)> = op
            .params
            .iter()
            .map(|p| (p.name.as_str(), p.location, p.required))
            .collect();
        assert_eq!(
            params,
            [
                ("id", Location::Path, true),
                ("v", Location::Query, true),
                ("v", Location::Header, false)
            ]
        );
        assert_eq!(op.params[1].schema, Some(json!({ "type": "integer" })));
        let body = op.body.as_ref().unwrap();
        assert!(body.required);
        let kinds: Vec<MediaKind> = body.content.iter().map(|c| c.kind).collect();
        // serde_json keeps keys sorted.
        assert_eq!(
            kinds,
            [
                MediaKind::Any,
                MediaKind::Json,
                MediaKind::Form,
                MediaKind::Binary,
                MediaKind::Multipart,
                MediaKind::Text
            ]
        );
        assert_eq!(body.content[1].component(), Some("Thing"));
        let statuses: Vec<Status> = op.responses.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [Status::Code(200), Status::Range(4), Status::Default]
        );
        assert_eq!(op.responses[0].description, "Done.");
        assert_eq!(op.responses[0].json().unwrap().component(), Some("Thing"));
        assert_eq!(
            op.responses[0].headers[0].schema,
            json!({ "type": "string" })
        );
        assert!(op.responses[0].headers[0].required);
        assert_eq!(op.responses[1].content[0].kind, MediaKind::Json);
        assert!(op.responses[2].content.is_empty());
        assert_eq!(op.extensions["x-pagination"], json!({ "cursor": "c" }));
        assert_eq!(op.security, Security::Open);
    }

    #[test]
    fn security_requirements_name_their_schemes() {
        let components = json!({ "securitySchemes": {
            "token": { "type": "http", "scheme": "Bearer" },
            "basic": { "type": "http", "scheme": "basic" },
            "key": { "type": "apiKey", "in": "header", "name": "X-Key" },
            "cookie": { "type": "apiKey", "in": "cookie", "name": "sid" },
            "oauth": { "type": "oauth2", "flows": {} },
        } });
        let op = |id: &str, security: Value| json!({ "get": { "operationId": id, "security": security, "responses": { "204": { "description": "" } } } });
        let api = api(
            json!({
                "/a": op("a", json!([{ "key": [] }, { "basic": [], "cookie": [] }])),
                "/b": op("b", json!([{ "oauth": ["read"] }, {}])),
                "/c": op("c", json!([{ "token": ["x"] }])),
                "/d": op("d", json!([{ "nobody": [] }])),
                "/e": op("e", json!([])),
            }),
            components,
        );
        let security: Vec<&Security> = api.operations.iter().map(|o| &o.security).collect();
        let uses = |name: &str, scheme: Scheme, scopes: &[&str]| SchemeUse {
            name: name.into(),
            scheme,
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(
            security,
            [
                &Security::OneOf(vec![
                    Requirement(vec![uses(
                        "key",
                        Scheme::ApiKey {
                            location: Location::Header,
                            name: "X-Key".into()
                        },
                        &[]
                    )]),
                    Requirement(vec![
                        uses("basic", Scheme::Basic, &[]),
                        uses(
                            "cookie",
                            Scheme::ApiKey {
                                location: Location::Cookie,
                                name: "sid".into()
                            },
                            &[]
                        )
                    ]),
                ]),
                &Security::Open,
                &Security::OneOf(vec![Requirement(vec![uses(
                    "token",
                    Scheme::Bearer,
                    &["x"]
                )])]),
                &Security::Open,
            ]
        );
        assert_eq!(
            api.refusals,
            [Refusal {
                pointer: "/paths/~1d/get".into(),
                reason: "security scheme nobody is not declared".into()
            }]
        );
    }

    #[test]
    fn what_cannot_be_represented_is_refused_with_its_pointer() {
        let responses = json!({ "200": { "description": "" } });
        let api = api(
            json!({
                "/a": { "get": { "operationId": "getThing", "responses": responses } },
                "/b": { "get": { "operationId": "get_thing", "responses": responses } },
                "/c": { "get": { "operationId": "c", "parameters": [{ "$ref": "#/components/parameters/Gone" }], "responses": responses } },
                "/d": { "get": { "operationId": "d", "parameters": [{ "name": "x", "in": "body" }], "responses": responses } },
                "/e": { "get": { "operationId": "e", "responses": { "2X0": { "description": "" } } } },
                "/f": { "post": { "operationId": "f", "requestBody": { "content": {} }, "responses": responses } },
                "/g": { "get": { "operationId": "move", "responses": responses } },
            }),
            json!({}),
        );
        let refusals: Vec<String> = api
            .refusals
            .iter()
            .map(|r| format!("{}: {}", r.pointer, r.reason))
            .collect();
        assert_eq!(
            refusals,
            [
                "/paths/~1b/get: operationId \"get_thing\" gets the Rust names of \"getThing\" (get_thing, GetThing)",
                "/paths/~1c/get: #/components/parameters/Gone does not resolve",
                "/paths/~1d/get: parameter x: `in` is not path, query, header or cookie",
                "/paths/~1e/get: status \"2X0\" is neither a code, a range nor `default`",
                "/paths/~1f/post: a request body with no media type",
            ]
        );
        let names: Vec<String> = api
            .operations
            .iter()
            .map(|o| o.names.function.to_string())
            .collect();
        assert_eq!(names, ["get_thing", "move_"]);
    }
}
