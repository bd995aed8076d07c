//! The conformance kit run against the reference server, on both databases:
//! the behavioural contract a backend team runs, kept by our own server.

use users_conformance::{Target, TokenIssuer};

use super::{AUDIENCE, Db, ISSUER, SECRET, TestServer};
use crate::on_both;

async fn every_check(db: Db) {
    let server = TestServer::start(db).await;
    let target = Target::new(
        &server.url,
        TokenIssuer::Hs256 {
            secret: SECRET.to_vec(),
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
        },
    );
    let report = users_conformance::run(&target, "").await.unwrap();
    assert_eq!(report.outcomes.len(), users_conformance::checks().len());
    println!("{}", report.text());
    assert!(report.passed(), "{}", report.text());
    server.stop().await;
}
on_both!(the_reference_server_keeps_every_promise, every_check);

/// A rate limit is the server's right: the kit waits as `Retry-After` asks
/// and still judges the promises.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kit_waits_out_a_rate_limit() {
    let options = users_server::app::AppOptions {
        rate_limit: 5,
        rate_burst: 3,
        ..users_server::app::AppOptions::default()
    };
    let server = TestServer::start_with(Db::Sqlite, options).await;
    let target = Target::new(
        &server.url,
        TokenIssuer::Hs256 {
            secret: SECRET.to_vec(),
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
        },
    );
    let report = users_conformance::run(&target, "conditional.")
        .await
        .unwrap();
    let conditional = users_conformance::checks()
        .iter()
        .filter(|c| c.id.starts_with("conditional."))
        .count();
    assert_eq!(report.outcomes.len(), conditional);
    assert!(conditional >= 4);
    assert!(report.passed(), "{}", report.text());
    server.stop().await;
}
