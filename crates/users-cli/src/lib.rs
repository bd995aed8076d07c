//! `users`, the Users API's command line, generated from its spec over the
//! SDK (`users-client`).
//!
//! [`generated`] is written by `cargo xtask codegen` from the spec: a
//! subcommand per operation (grouped by tag), its flags and help, and what
//! each sends through the SDK. The rest is written by hand and knows no
//! operation: [`runtime`] reads flags as the SDK's types, [`render`] writes
//! JSON, YAML or tables, [`config`] keeps profiles, [`mcp`] serves the operations as MCP tools,
//! [`app`] ties them up.
#![cfg_attr(not(test), warn(missing_docs))]

pub mod app;
pub mod config;
#[rustfmt::skip]
#[allow(missing_docs)]
pub mod generated;
pub mod mcp;
pub mod render;
pub mod runtime;
