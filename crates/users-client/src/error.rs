//! The one error type of the SDK.

use reqwest::StatusCode;

use crate::types::{FieldError, Problem};

/// Why a call failed.
///
/// Every failure is one of these; a documented error response carries the
/// server's problem (RFC 9457) with its stable `code` and field errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with a problem document.
    #[error("{status}: {}", problem_summary(.problem))]
    Api {
        /// The HTTP status.
        status: StatusCode,
        /// The decoded `application/problem+json` body.
        problem: Box<Problem>,
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

fn problem_summary(problem: &Problem) -> String {
    match &problem.detail {
        Some(detail) => format!("{} ({}): {detail}", problem.title, problem.code),
        None => format!("{} ({})", problem.title, problem.code),
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
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Error::Api { problem, .. } => Some(problem),
            _ => None,
        }
    }

    /// The problem's stable code, e.g. `validation-failed` or `concurrency-violation`.
    pub fn code(&self) -> Option<&str> {
        self.problem().map(|p| p.code.as_str())
    }

    /// The problem's detail, e.g. `name.lastName: is required`.
    pub fn detail(&self) -> Option<&str> {
        self.problem().and_then(|p| p.detail.as_deref())
    }

    /// The field errors of a validation problem, in the server's order.
    pub fn field_errors(&self) -> &[FieldError] {
        self.problem().map_or(&[], |p| p.errors.as_slice())
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

    /// Whether this is a 412: the resource changed since the `If-Match` tag.
    pub fn is_precondition_failed(&self) -> bool {
        self.status() == Some(StatusCode::PRECONDITION_FAILED)
    }

    /// Converts what a generated method returned.
    pub(crate) async fn from_progenitor(err: progenitor_client::Error<Problem>) -> Self {
        use progenitor_client::Error as P;
        match err {
            P::ErrorResponse(value) => Error::Api {
                status: value.status(),
                problem: Box::new(value.into_inner()),
            },
            P::UnexpectedResponse(response) => {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                // An undocumented status may still carry a problem document.
                match serde_json::from_str::<Problem>(&body) {
                    Ok(problem) if !status.is_success() => Error::Api {
                        status,
                        problem: Box::new(problem),
                    },
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
