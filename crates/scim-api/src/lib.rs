//! The SCIM 2.0 provisioning contract, generated from `openapi/scim.yaml`
//! by the same generators as the Users API's (`openapi/codegen.toml` names
//! the spec, this crate and its error type).
//!
//! A backend implements [`ScimApi`] and serves [`router`]. Every error is a
//! SCIM error document ([`types::ScimError`], `application/scim+json`):
//! the runtime's problems (a body that does not decode, a missing token, an
//! unknown route) are turned into one by the `From` below, and an
//! implementation's documented errors are [`runtime::Refused`] of their
//! status, whose code becomes the `scimType`.

#[rustfmt::skip]
pub mod generated;

pub use generated::*;
/// The runtime the generated code is written against (the Users API
/// contract's).
pub use users_api::runtime;
pub use users_api::{AuthError, Authenticator, Caller, Claims, RequestContext, RouterOptions};

/// The SCIM error schema URN.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The `scimType`s RFC 7644 §3.12 names: a problem whose code is one of
/// these carries it; any other code (the runtime's own, `validation-failed`
/// say) is mapped to the nearest one, or none.
pub const SCIM_TYPES: [&str; 10] = [
    "invalidFilter",
    "tooMany",
    "uniqueness",
    "mutability",
    "invalidSyntax",
    "invalidPath",
    "noTarget",
    "invalidValue",
    "invalidVers",
    "sensitive",
];

/// The source spec, byte for byte.
pub const SPEC_YAML: &str = include_str!("../../../openapi/scim.yaml");

impl From<runtime::ProblemDetails> for types::ScimError {
    fn from(problem: runtime::ProblemDetails) -> Self {
        let scim_type = if SCIM_TYPES.contains(&problem.code.as_str()) {
            Some(problem.code.clone())
        } else {
            match problem.code.as_str() {
                "validation-failed" => Some("invalidValue".to_owned()),
                "malformed-json" | "unsupported-media-type" => Some("invalidSyntax".to_owned()),
                _ => None,
            }
        };
        Self {
            schemas: vec![ERROR_SCHEMA.to_owned()],
            status: problem.status.to_string(),
            scim_type,
            detail: problem.detail.or(Some(problem.title)),
        }
    }
}
