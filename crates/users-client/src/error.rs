//! The one error type of the SDK.

use reqwest::StatusCode;
use serde::Deserialize;

/// A problem document (RFC 9457) as the client reads any JSON error body:
/// the standard members typed, every other member kept as an extension.
/// [`ProblemDetails::to`] reads the whole document as a type of the spec
/// (the spec's own error schema); [`ProblemDetails::extension`] reads one
/// member.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProblemDetails {
    /// A URI naming the kind of problem.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// A short summary of the kind of problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The HTTP status the server stated in the body (a number, or the
    /// text of one as SCIM's error documents state it).
    #[serde(
        default,
        deserialize_with = "status_number_or_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<u16>,
    /// What went wrong here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The occurrence of the problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Every other member of the body, by name.
    #[serde(flatten)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
    /// The body as it came, for [`ProblemDetails::to`]: its members as the
    /// server wrote them (a `status` of `"409"` stays text).
    #[serde(skip)]
    document: Option<serde_json::Value>,
}

/// A status as a number or as its text (`"404"`).
fn status_number_or_text<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u16>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Status {
        Number(u16),
        Text(String),
    }
    Ok(match Option::<Status>::deserialize(deserializer)? {
        None => None,
        Some(Status::Number(n)) => Some(n),
        Some(Status::Text(text)) => Some(
            text.trim()
                .parse()
                .map_err(|_| serde::de::Error::custom(format!("{text:?} is not an HTTP status")))?,
        ),
    })
}

impl ProblemDetails {
    /// The member `name` beyond the standard ones, as `T`; `None` when it is
    /// absent or not a `T`.
    pub fn extension<T: serde::de::DeserializeOwned>(&self, name: &str) -> Option<T> {
        T::deserialize(self.extensions.get(name)?).ok()
    }

    /// The whole document as `T`, a type of the spec.
    pub fn to<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        match &self.document {
            Some(document) => T::deserialize(document),
            None => serde_json::to_value(self).and_then(T::deserialize),
        }
    }

    /// Reads a problem from a JSON body, keeping the body as it came.
    fn read(body: &serde_json::Value) -> Result<Self, serde_json::Error> {
        let mut problem = Self::deserialize(body)?;
        problem.document = Some(body.clone());
        Ok(problem)
    }

    fn summary(&self) -> String {
        let mut out = self.title.clone().unwrap_or_else(|| "error".to_owned());
        if let Some(code) = self.extensions.get("code").and_then(|c| c.as_str()) {
            out.push_str(&format!(" ({code})"));
        }
        if let Some(detail) = &self.detail {
            out.push_str(&format!(": {detail}"));
        }
        out
    }
}

/// Why a call failed.
///
/// Every failure is one of these; a documented error response carries the
/// server's problem (RFC 9457) with its stable `code` and field errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with a problem document.
    #[error("{status}: {}", .problem.summary())]
    Api {
        /// The HTTP status.
        status: StatusCode,
        /// The decoded `application/problem+json` body.
        problem: Box<ProblemDetails>,
    },
    /// The server answered with a status or body the API does not describe.
    #[error("unexpected response {status}: {body}")]
    UnexpectedResponse {
        /// The HTTP status.
        status: StatusCode,
        /// The body, as text.
        body: String,
    },
    /// The request never got a complete answer (connection, timeout, body).
    #[error("transport error: {0}")]
    Transport(#[source] reqwest::Error),
    /// A success response whose body does not decode.
    #[error("invalid response body: {0}")]
    InvalidResponse(String),
    /// The request was refused locally, before anything was sent: a value
    /// breaks a constraint of the spec, or the token provider failed.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A change was sent but no answer came back: it may or may not have been
    /// applied. Re-read the resource before deciding what to do.
    #[error("outcome unknown: {0}")]
    OutcomeUnknown(#[source] Box<Error>),
    /// The optimistic-concurrency helper met a newer version on every try.
    #[error("gave up after {attempts} conflicting updates")]
    TooManyConflicts {
        /// PATCH attempts made, all answered 412.
        attempts: u32,
    },
}

/// A value that breaks a rule of the spec, refused by a type's `try_from`
/// (`types::Email::try_from("not an email")?`): an
/// [`Error::InvalidRequest`], as a builder would refuse it.
impl From<crate::generated::types::error::ConversionError> for Error {
    fn from(err: crate::generated::types::error::ConversionError) -> Self {
        Error::InvalidRequest(err.to_string())
    }
}

impl Error {
    /// The HTTP status of the response, when there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api { status, .. } | Error::UnexpectedResponse { status, .. } => Some(*status),
            Error::Transport(err) => err.status(),
            Error::OutcomeUnknown(inner) => inner.status(),
            Error::InvalidResponse(_)
            | Error::InvalidRequest(_)
            | Error::TooManyConflicts { .. } => None,
        }
    }

    /// The problem document, for errors the server described.
    pub fn problem(&self) -> Option<&ProblemDetails> {
        match self {
            Error::Api { problem, .. } => Some(problem),
            _ => None,
        }
    }

    /// The error body as `T`, a type of the spec: the problem document, or
    /// a JSON body that is not one; `None` when there was no body or it is
    /// not a `T`.
    pub fn document<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        match self {
            Error::Api { problem, .. } => problem.to().ok(),
            Error::UnexpectedResponse { body, .. } => serde_json::from_str(body).ok(),
            Error::OutcomeUnknown(inner) => inner.document(),
            _ => None,
        }
    }

    /// The problem's detail, e.g. `name.lastName: is required`.
    pub fn detail(&self) -> Option<&str> {
        self.problem().and_then(|p| p.detail.as_deref())
    }

    /// Whether trying the same call again later may succeed: connection
    /// failures, timeouts, 408, 429, 502, 503 and 504. (The client already
    /// retried these within its [`RetryPolicy`](crate::RetryPolicy).)
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport(err) => crate::runtime::is_retryable_transport(err),
            Error::Api { status, .. } | Error::UnexpectedResponse { status, .. } => {
                crate::runtime::is_retryable_status(*status)
            }
            Error::OutcomeUnknown(_)
            | Error::InvalidResponse(_)
            | Error::InvalidRequest(_)
            | Error::TooManyConflicts { .. } => false,
        }
    }

    /// Converts what a generated method returned.
    pub(crate) async fn from_progenitor<E: serde::Serialize>(
        err: progenitor_client::Error<E>,
    ) -> Self {
        use progenitor_client::Error as P;
        match err {
            P::ErrorResponse(value) => {
                let status = value.status();
                let body = serde_json::to_value(value.into_inner());
                match body.as_ref().map(|b| (b, ProblemDetails::read(b))) {
                    Ok((serde_json::Value::Object(_), Ok(problem))) => Error::Api {
                        status,
                        problem: Box::new(problem),
                    },
                    _ => Error::UnexpectedResponse {
                        status,
                        body: body.map(|b| b.to_string()).unwrap_or_default(),
                    },
                }
            }
            P::UnexpectedResponse(response) => {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                // An undocumented status may still carry a problem document.
                let read = serde_json::from_str::<serde_json::Value>(&body)
                    .and_then(|value| ProblemDetails::read(&value));
                match read {
                    Ok(problem) if !status.is_success() && body.trim_start().starts_with('{') => {
                        Error::Api {
                            status,
                            problem: Box::new(problem),
                        }
                    }
                    _ => Error::UnexpectedResponse { status, body },
                }
            }
            P::CommunicationError(err) | P::InvalidUpgrade(err) | P::ResponseBodyError(err) => {
                Error::Transport(err)
            }
            P::InvalidResponsePayload(bytes, err) => {
                Error::InvalidResponse(format!("{err}: {}", String::from_utf8_lossy(&bytes)))
            }
            P::InvalidRequest(message) | P::Custom(message) => Error::InvalidRequest(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_stated_as_text_is_read_and_the_document_kept_as_written() {
        let body = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": "409",
            "scimType": "uniqueness",
            "detail": "userName is taken"
        });
        let problem = ProblemDetails::read(&body).unwrap();
        assert_eq!(problem.status, Some(409));
        assert_eq!(
            problem.extension::<String>("scimType").as_deref(),
            Some("uniqueness")
        );
        assert_eq!(problem.to::<serde_json::Value>().unwrap(), body);
        let numeric = ProblemDetails::read(&serde_json::json!({ "status": 404 })).unwrap();
        assert_eq!(numeric.status, Some(404));
        assert!(ProblemDetails::read(&serde_json::json!({ "status": "teapot" })).is_err());
    }
}
