//! The Users API contract, generated from `openapi/users.yaml`.
//!
//! A backend implements [`UsersApi`] (one method per operation, each
//! returning one of its documented answers, or one of its documented errors
//! built from a [`runtime::Refused`] of that status: an undocumented status
//! does not compile) and
//! [`Authenticator`] (bearer token, or the credentials of the spec's other
//! security schemes, to its own [`Claims`]; [`Caller`] is a ready-made one)
//! and serves [`router`] (generated, as the trait is). Everything HTTP is done here before
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

pub use generated::*;
pub use runtime::{
    AuthError, Authenticator, Caller, Claims, Rejection, RequestContext, RouterOptions,
};
/// The source spec, byte for byte: what the `swagger-ui` feature serves.
/// Nothing reads it to decide how to treat a request.
pub const SPEC_YAML: &str = include_str!("../../../openapi/users.yaml");
