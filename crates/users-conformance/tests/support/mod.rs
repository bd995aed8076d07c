//! The reference server as the kit's tests run it: on a SQLite file of its
//! own, started as `users-server` starts (its cursor key read from the
//! database), with a clock the kit may move.

use users_server::app::AppOptions;
use users_server::auth::JwtVerifier;
use users_server::service::{Clock, CursorKey, Settings};
use users_server::store::SqlStore;

/// The reference app verifying HS256 tokens signed with `secret` (issuer
/// and audience `users-api`), its clock, and the directory holding its
/// database.
pub(crate) async fn reference_app(secret: &[u8]) -> (axum::Router, Clock, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("users.db").display());
    let store = SqlStore::connect(&url).await.unwrap();
    let cursor_key = store.server_key("cursor").await.unwrap();
    let settings = Settings {
        cursor_key: CursorKey::new(cursor_key),
        ..Settings::default()
    };
    let clock = settings.clock.clone();
    let app = users_server::app::app(
        store,
        JwtVerifier::hs256(secret, "users-api", "users-api"),
        AppOptions {
            settings,
            ..AppOptions::default()
        },
    );
    (app, clock, dir)
}
