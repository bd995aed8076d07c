//! Shared helpers for the integration tests in `it/`.
