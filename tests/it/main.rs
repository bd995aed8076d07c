//! The workspace's integration tests: one binary, one module per area.

mod client;
mod seed_mapping;
mod spec;
