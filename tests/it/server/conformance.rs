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
