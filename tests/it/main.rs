//! The workspace's integration tests: one binary, one module per area.

mod api_contract;
mod api_server;
mod client;
mod client_contract;
mod client_wire;
mod decode_oracle;
mod scim_contract;
mod seed_mapping;
mod server;
mod spec;
