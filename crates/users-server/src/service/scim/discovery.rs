//! What the service tells a SCIM client about itself (RFC 7643 §5–7): the
//! features it supports, its two resource types, and their schemas with
//! exactly the attributes it keeps (an attribute published here is stored
//! and read back; one a client sends that is not published is ignored).

use serde_json::{Value, json};

use super::query::ENTERPRISE;
use super::{GROUP_SCHEMA, MAX_COUNT, USER_SCHEMA};

const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const CONFIG_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

/// An attribute's description; `extra` adds or overrides members.
fn attribute(name: &str, kind: &str, description: &str, extra: Value) -> Value {
    let mut out = json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "description": description,
        "required": false,
        "caseExact": false,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    });
    if let (Some(out), Value::Object(extra)) = (out.as_object_mut(), extra) {
        out.extend(extra);
    }
    out
}

/// A multi-valued attribute of `value` and `type` (and `primary` when it
/// is read-only: a stored user has no place to keep a client's choice).
fn multi_value(name: &str, description: &str, types: &[&str], mutability: &str) -> Value {
    let mut sub = vec![
        attribute(
            "value",
            "string",
            "The value.",
            json!({ "mutability": mutability }),
        ),
        attribute(
            "type",
            "string",
            "Its kind.",
            json!({
                "canonicalValues": types, "mutability": mutability
            }),
        ),
    ];
    if mutability == "readOnly" {
        sub.push(attribute(
            "primary",
            "boolean",
            "Whether it is the primary one.",
            json!({ "mutability": mutability }),
        ));
    }
    attribute(
        name,
        "complex",
        description,
        json!({ "multiValued": true, "mutability": mutability, "subAttributes": sub }),
    )
}

fn members_attribute(name: &str, description: &str, mutability: &str, reference: &str) -> Value {
    attribute(
        name,
        "complex",
        description,
        json!({
            "multiValued": true,
            "mutability": mutability,
            "subAttributes": [
                attribute("value", "string", "The id.", json!({ "mutability": "immutable" })),
                attribute("$ref", "reference", "Its URL.", json!({
                    "mutability": "immutable", "referenceTypes": [reference]
                })),
                attribute("display", "string", "Its name.", json!({ "mutability": "readOnly" })),
                attribute("type", "string", "Its kind.", json!({
                    "mutability": "immutable", "canonicalValues": ["User", "Group", "direct"]
                })),
            ],
        }),
    )
}

fn with_meta(mut document: Value, resource_type: &str, location: &str) -> Value {
    document["meta"] = json!({ "resourceType": resource_type, "location": location });
    document
}

/// The user schema: the attributes a user of `/v1/users` has in SCIM.
pub(super) fn user_schema() -> Value {
    with_meta(
        json!({
            "schemas": [SCHEMA_SCHEMA],
            "id": USER_SCHEMA,
            "name": "User",
            "description": "A user of the directory.",
            "attributes": [
                attribute("userName", "string", "The user's email, unique in the account.", json!({
                    "required": true, "uniqueness": "server"
                })),
                attribute("name", "complex", "The user's name.", json!({
                    "required": true,
                    "subAttributes": [
                        attribute("givenName", "string", "The first name.", json!({ "required": true })),
                        attribute("familyName", "string", "The last name.", json!({ "required": true })),
                    ],
                })),
                attribute("displayName", "string", "The first and last name.", json!({ "mutability": "readOnly" })),
                attribute("title", "string", "The job title.", json!({})),
                attribute("active", "boolean", "Whether the user is active; every user is or is not (a new one is unless this says otherwise).", json!({ "required": true })),
                multi_value(
                    "emails",
                    "The user's emails, read-only: its userName (`work`, primary) and its second email (`home`), which only the Users API sets.",
                    &["work", "home"],
                    "readOnly",
                ),
                multi_value(
                    "phoneNumbers",
                    "The phone (`work`) and mobile (`mobile`) numbers, E.164 (`tel:` URIs are read as such).",
                    &["work", "mobile"],
                    "readWrite",
                ),
                members_attribute("groups", "The groups the user is a member of.", "readOnly", "Group"),
            ],
        }),
        "Schema",
        &format!("/scim/v2/Schemas/{USER_SCHEMA}"),
    )
}

/// The enterprise extension: the one attribute kept of it.
pub(super) fn enterprise_schema() -> Value {
    with_meta(
        json!({
            "schemas": [SCHEMA_SCHEMA],
            "id": ENTERPRISE,
            "name": "EnterpriseUser",
            "description": "The enterprise user extension.",
            "attributes": [
                attribute("employeeNumber", "string", "The employee id.", json!({})),
            ],
        }),
        "Schema",
        &format!("/scim/v2/Schemas/{ENTERPRISE}"),
    )
}

/// The group schema.
pub(super) fn group_schema() -> Value {
    with_meta(
        json!({
            "schemas": [SCHEMA_SCHEMA],
            "id": GROUP_SCHEMA,
            "name": "Group",
            "description": "A group of users.",
            "attributes": [
                attribute("displayName", "string", "The group's name, unique in the account.", json!({
                    "required": true, "uniqueness": "server"
                })),
                members_attribute("members", "The group's members (users).", "readWrite", "User"),
            ],
        }),
        "Schema",
        &format!("/scim/v2/Schemas/{GROUP_SCHEMA}"),
    )
}

/// Every schema.
pub(super) fn schemas() -> Vec<Value> {
    vec![user_schema(), enterprise_schema(), group_schema()]
}

/// The two resource types.
pub(super) fn resource_types() -> Vec<Value> {
    vec![
        with_meta(
            json!({
                "schemas": [RESOURCE_TYPE_SCHEMA],
                "id": "User",
                "name": "User",
                "description": "A user of the directory.",
                "endpoint": "/Users",
                "schema": USER_SCHEMA,
                "schemaExtensions": [{ "schema": ENTERPRISE, "required": false }],
            }),
            "ResourceType",
            "/scim/v2/ResourceTypes/User",
        ),
        with_meta(
            json!({
                "schemas": [RESOURCE_TYPE_SCHEMA],
                "id": "Group",
                "name": "Group",
                "description": "A group of users.",
                "endpoint": "/Groups",
                "schema": GROUP_SCHEMA,
                "schemaExtensions": [],
            }),
            "ResourceType",
            "/scim/v2/ResourceTypes/Group",
        ),
    ]
}

/// The service provider configuration.
pub(super) fn service_provider_config() -> Value {
    with_meta(
        json!({
            "schemas": [CONFIG_SCHEMA],
            "documentationUri": "/docs/",
            "patch": { "supported": true },
            "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
            "filter": { "supported": true, "maxResults": MAX_COUNT },
            "changePassword": { "supported": false },
            "sort": { "supported": true },
            "etag": { "supported": true },
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "A bearer JWT whose scope holds scim.",
                "primary": true,
            }],
        }),
        "ServiceProviderConfig",
        "/scim/v2/ServiceProviderConfig",
    )
}
