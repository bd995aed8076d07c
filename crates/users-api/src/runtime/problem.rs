//! The problem document (RFC 9457) every refusal answers with, owned by the
//! runtime: the router, the extractors and the decoders build it without
//! knowing which schemas a spec declares. A spec documents its error bodies
//! as it likes; one whose error schema has these members (as the reference
//! spec's does) describes exactly what the runtime sends.

use serde::{Deserialize, Serialize};

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidField {
    /// A stable code for the kind of error (`required`, `max-length`, ...).
    pub code: String,
    /// The dotted path of the field, e.g. `address.countryCode` or `roles.2`;
    /// empty for the body as a whole.
    pub field: String,
    /// What is wrong, for people.
    pub message: String,
}

/// An `application/problem+json` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProblemDetails {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub type_: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// A stable machine-readable code.
    pub code: String,
    /// What went wrong here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request this problem occurred on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The id the server logged this request under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// One entry per invalid field, in document order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<InvalidField>>,
    /// How many field errors were found beyond those `errors` lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub omitted_errors: Option<usize>,
}
