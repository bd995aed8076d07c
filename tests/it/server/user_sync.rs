//! The SDK's user-sync example, run whole against the reference server: every
//! step an integrator meets answers as the example expects.

use super::{Db, TestServer};
use crate::on_both;

#[path = "../../../crates/users-client/examples/user_sync.rs"]
#[allow(dead_code, unreachable_pub)]
mod program;

async fn user_sync(db: Db) {
    let server = TestServer::start(db).await;
    let log = program::sync(&server.admin(), "ada.sync@example.com")
        .await
        .unwrap();
    let expected = [
        "created ",
        "duplicate refused on email",
        "listed among the active users: true",
        "patched to version 2",
        "stale tag refused: concurrency-violation",
        "job title now Some(\"Head of Operations (Boston)\")",
        "unchanged since the last write",
        "works 37.5 hours",
        "refused customAttributes.1st: is not a valid attribute name",
    ];
    assert_eq!(log.len(), expected.len(), "{log:#?}");
    for (line, start) in log.iter().zip(expected) {
        assert!(
            line.starts_with(start),
            "{line:?} should start with {start:?}\n{log:#?}"
        );
    }
    server.stop().await;
}

on_both!(the_user_sync_example_runs_against_the_server, user_sync);
