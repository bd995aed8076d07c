//! The kit against the reference server, in process, on a SQLite file:
//! started as `users-server` starts (its cursor key read from the
//! database), its clock moved by the kit, so that every check runs. This is
//! the test `cargo xtask mutants` runs against each mutant of the server.

mod support;

use std::sync::Arc;

use users_conformance::{ClockControl, TokenIssuer};

const SECRET: &[u8] = b"reference-test-secret-32-bytes!!";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_server_keeps_every_promise() {
    let (app, clock, _dir) = support::reference_app(SECRET).await;
    let report = users_conformance::run_router_with_clock(
        app,
        TokenIssuer::Hs256 {
            secret: SECRET.to_vec(),
            issuer: "users-api".into(),
            audience: "users-api".into(),
        },
        ClockControl::Hook(Arc::new(move |by| clock.advance(by))),
        "",
    )
    .await
    .unwrap();
    assert_eq!(report.outcomes.len(), users_conformance::checks().len());
    assert!(report.passed(), "{}", report.text());
    assert_eq!(report.not_run().count(), 0, "{}", report.text());
}
