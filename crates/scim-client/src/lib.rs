//! The Rust SDK of SCIM 2.0 provisioning (`openapi/scim.yaml`), generated
//! by the same generators as `users-client` (`openapi/codegen.toml`), over
//! the same runtime: bearer tokens, retries with backoff, typed response
//! headers (`ETag`, `Location`) and errors. A SCIM error document is read as
//! [`ProblemDetails`] (its `status` as a number; `scimType` and `schemas`
//! as extensions), and [`Error::body`] reads it as
//! [`types::ScimError`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), scim_client::Error> {
//! use scim_client::{Client, types};
//!
//! let client = Client::builder("http://127.0.0.1:8080")
//!     .bearer_token("eyJhbGciOi...")
//!     .build()?;
//! let found = client
//!     .list_scim_users()
//!     .filter(r#"userName eq "ada@example.com""#)
//!     .await?;
//! println!("{} found", found.total_results);
//! # Ok(()) }
//! ```
#![cfg_attr(not(test), warn(missing_docs))]

#[rustfmt::skip]
#[allow(
    clippy::all,
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    rust_2018_idioms,
    unused_imports,
// progenitor matches a status range before the codes inside it.
    unreachable_patterns
)]
pub mod generated;

/// Typed `httpmock` helpers for every operation, to test code that uses this
/// SDK without a server, written by the SDK emitter (feature `mock`).
#[cfg(feature = "mock")]
#[rustfmt::skip]
#[allow(missing_debug_implementations)]
#[path = "generated_mock.rs"]
pub mod mock;

/// The SDK's surface, generated from the spec by `cargo xtask codegen`: a
/// method per operation on [`Client`], their request builders and typed
/// response headers, and the merge-patch types.
#[rustfmt::skip]
#[path = "generated_sdk.rs"]
mod sdk;
#[path = "generated_samples.rs"]
pub mod samples;

/// `uuid`, re-exported as `users-client` does (the runtime names it).
pub use ::uuid;

/// `serde_json`, for JSON values and for an [`ETag`] saved between runs (it
/// serializes as its string), re-exported like [`uuid`].
pub use ::serde_json;

/// The HTTP status code type [`Error::status`] answers, and the header
/// names and values requests and responses carry.
pub use reqwest::{header, StatusCode};

/// `httpmock`, which the [`mock`] helpers take and answer (`MockServer`,
/// `Method`), at the version they were built for (feature `mock`).
#[cfg(feature = "mock")]
pub use ::httpmock;

// The SDK runtime: the same source as `users-client`'s, compiled into
// this crate, whose generated modules it is written against.
#[path = "../../users-client/src/client.rs"]
mod client;
#[path = "../../users-client/src/error.rs"]
mod error;
#[path = "../../users-client/src/runtime.rs"]
mod runtime;

pub use client::{Client, ClientBuilder};
pub use error::{Error, ProblemDetails};
/// The types of the spec's schemas: progenitor's, and the SDK's open enums
/// (a string the spec marks extensible), which requests and responses share.
pub mod types {
    pub use crate::generated::types::*;
    // Empty for a spec without extensible strings.
    #[allow(unused_imports, unreachable_pub)]
    pub use crate::sdk::open::*;
}
pub use runtime::{
    Body, BoxError, BoxFuture, Conditional, ETag, FromHeaders, HasETag, NoHeaders, Pages, Response,
    RetryPolicy, TokenFuture, TokenProvider,
};
pub use runtime::{ACCEPT, IDEMPOTENCY_KEY, MERGE_PATCH_JSON};
pub use sdk::{answers, build, errors, headers, ops, patch};
