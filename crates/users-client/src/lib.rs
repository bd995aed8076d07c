//! Users API SDK.

#[rustfmt::skip]
#[allow(clippy::all, missing_docs, unreachable_pub, missing_debug_implementations, rust_2018_idioms)]
mod generated;

pub mod patch {
    //! placeholder
    #[derive(
        Debug, Clone, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema, PartialEq,
    )]
    pub struct UserPatch {}
}

pub use generated::*;
