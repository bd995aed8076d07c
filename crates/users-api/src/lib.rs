//! The Users API contract, generated from `openapi/users.yaml`.
//!
//! A backend implements [`UsersApi`] (one method per operation, each
//! returning one of its documented answers, or one of its documented errors
//! built from a [`runtime::Refused`] of that status: an undocumented status
//! does not compile) and
//! [`Authenticator`] (bearer token to its own [`Claims`]; [`Caller`] is a
//! ready-made one) and serves [`router`]. Everything HTTP is done here before
//! a method is called: routing, authentication and the operation's scope,
//! the tenant switch (`accountSwitchKey`), the body limit and media type, and
//! decoding every parameter and the body into the generated types with the
//! generated decoders (the spec's schemas and `x-rules`, compiled). Every
//! failure, unknown routes and methods included, is
//! `application/problem+json`.
//!
//! [`generated`] is written by `cargo xtask codegen` and never edited by hand:
//! the types (with `serde`, `utoipa::ToSchema` and a decoder for each type a
//! request uses), a request struct, a response enum and a refusal enum per
//! operation, the
//! handlers with their `#[utoipa::path]` annotations, the trait and
//! [`ApiDoc`]. [`ApiDoc`] is built from those annotations alone; a contract
//! test proves it says what the spec says. Nothing reads the spec at run
//! time: [`SPEC_YAML`] is only what the `swagger-ui` feature serves, byte for
//! byte.

#[rustfmt::skip]
pub mod generated;
pub mod runtime;

#[cfg(feature = "swagger-ui")]
pub mod docs;

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};

pub use generated::*;
pub use runtime::{
    AuthError, Authenticator, Caller, Claims, Rejection, RequestContext, RouterOptions,
};
/// The source spec, byte for byte: what the `swagger-ui` feature serves.
/// Nothing reads it to decide how to treat a request.
pub const SPEC_YAML: &str = include_str!("../../../openapi/users.yaml");

/// The API over `api`, with the default [`RouterOptions`].
pub fn router<A: UsersApi>(api: Arc<A>) -> axum::Router {
    router_with(api, RouterOptions::default())
}

/// The API over `api`: every operation's route, problem+json for unknown
/// routes (404) and methods (405 with `Allow`), an `x-request-id` on every
/// request and response.
pub fn router_with<A: UsersApi>(api: Arc<A>, options: RouterOptions) -> axum::Router {
    routes(api, options)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(runtime::RequestIdLayer)
}

async fn not_found(uri: http::Uri) -> Response {
    Rejection::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        format!("no route for {}", uri.path()),
    )
    .into_response()
}

async fn method_not_allowed(method: http::Method, uri: http::Uri) -> Response {
    let allowed: Vec<&str> = operation_specs::ALL
        .iter()
        .filter(|op| path_matches(op.path, uri.path()))
        .map(|op| op.method)
        .collect();
    Rejection::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        format!("{} is not allowed on {}", method, uri.path()),
    )
    .with_header(header::ALLOW, allowed.join(", "))
    .into_response()
}

fn path_matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && !p.is_empty()) || t == p)
}
