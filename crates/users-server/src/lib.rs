//! The reference server of the Users API: [`service::Service`] implements
//! `users_api::UsersApi` on a [`store::Store`] (SQLite or PostgreSQL through
//! sqlx); [`auth`] verifies bearer JWTs; [`app`] assembles the router with
//! Swagger UI, request logging and rate limiting.

pub mod app;
pub mod auth;
pub mod lookups;
pub mod observe;
pub mod serve;
pub mod service;
pub mod store;
pub mod telemetry;
