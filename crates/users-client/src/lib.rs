//! The Rust SDK of the Users API, generated from the spec.
//!
//! [`generated`] is progenitor's output for `openapi/users.yaml`; the SDK's
//! surface over it ([`Client`]'s methods, [`ops`], [`headers`], [`build`],
//! [`patch`]) is written by the SDK emitter of `cargo xtask codegen`. Neither
//! is edited by hand. The hand-written part is what a production client needs
//! around them:
//!
//! - [`Client::builder`]: bearer token (static or a [`TokenProvider`]), user
//!   agent, timeouts, `accountSwitchKey`, [`RetryPolicy`];
//! - the real media types on the wire (`application/merge-patch+json` for
//!   merge patches) and `application/problem+json` decoded into [`Error`];
//! - retries with backoff and jitter that honour `Retry-After`, and an
//!   `Idempotency-Key` on every create, reused across its retries;
//! - [`Response`], [`ETag`], [`Conditional`] and the paging and
//!   read-modify-write helpers the generated surface calls.
//!
//! ```no_run
//! # async fn demo() -> Result<(), users_client::Error> {
//! use futures::TryStreamExt;
//! use users_client::{Client, Conditional, patch::UserPatch, types};
//!
//! let client = Client::builder("http://127.0.0.1:8080")
//!     .bearer_token("eyJhbGciOi...")
//!     .build()?;
//! let user = client
//!     .create_user(types::UserCreate::new(
//!         types::NameInput::new("Ada", "Lovelace"),
//!         "ada@example.com",
//!     ))
//!     .await?;
//! // Read-modify-write: re-reads and retries on 412, at most 3 times.
//! let user = client
//!     .update_user_with(user.id, 3, |_current| UserPatch::builder().clear_phone())
//!     .await?;
//! // A conditional read: 304 is not an error.
//! match client.get_user(user.id).if_none_match(user.etag()).await? {
//!     Conditional::NotModified => {}
//!     Conditional::Modified(newer) => println!("changed: {}", newer.resource_version),
//! }
//! // Every active user, page after page, looped over as it comes.
//! let mut active = client
//!     .list_users()
//!     .status(types::UserStatus::Active)
//!     .stream();
//! while let Some(user) = active.try_next().await? {
//!     println!("{}", user.email);
//! }
//! // Or all at once.
//! let all: Vec<types::User> = client.list_users().stream().try_collect().await?;
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

/// `uuid`, whose `Uuid` types ids (`User::id`), re-exported so that a
/// caller needs no dependency of its own (nor a matching version) to name it.
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

mod client;
mod error;
mod runtime;

pub use client::{Client, ClientBuilder};
pub use error::{Error, ProblemDetails};
/// The types of the spec's schemas: progenitor's, and the SDK's open enums
/// (a string the spec marks extensible, e.g. [`types::UserStatus`]), which
/// requests and responses share.
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

/// The README's example is compiled as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
