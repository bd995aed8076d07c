//! The server's own semantics, each on both databases: what depends on
//! its settings, its storage or its logs. The promises any implementation
//! must keep are the conformance kit's (`users-conformance`), run against
//! this server in `conformance.rs`.

use std::sync::Arc;

use serde_json::{Value, json};
use users_client::patch::{GroupPatch, UserPatch};
use users_client::{Conditional, types};
use users_server::app::AppOptions;
use users_server::service::Settings;

use super::seeds::new_user;
use super::{Db, TestServer};
use crate::on_both;

async fn conditional_and_required_if_match(db: Db) {
    let options = AppOptions {
        settings: Settings {
            require_if_match: true,
            ..Settings::default()
        },
        ..AppOptions::default()
    };
    let server = TestServer::start_with(db, options).await;
    let admin = server.admin();
    let user = admin
        .create_user(new_user("cond@example.com"))
        .await
        .unwrap();
    let tag = user.etag().clone();
    assert_eq!(
        admin.get_user(user.id).if_none_match(&tag).await.unwrap(),
        Conditional::NotModified
    );
    let patch = UserPatch {
        title: Some(Some("Dr.".parse().unwrap())),
        ..UserPatch::default()
    };
    let err = admin.update_user(user.id, &patch).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(428));
    assert_eq!(err.code(), Some(types::ProblemCode::PreconditionRequired));
    let updated = admin
        .update_user(user.id, &patch)
        .if_match(&tag)
        .await
        .unwrap();
    match admin.get_user(user.id).if_none_match(&tag).await.unwrap() {
        Conditional::Modified(now) => assert_eq!(*now, *updated),
        Conditional::NotModified => panic!("the user changed"),
    }
    // A no-op patch leaves the version alone.
    let again = admin
        .update_user(user.id, &patch)
        .if_match(updated.etag())
        .await
        .unwrap();
    assert_eq!(again.resource_version, updated.resource_version);
    // 404 is decided before 412.
    let missing = admin
        .update_user(uuid::Uuid::new_v4(), &patch)
        .if_match(&"\"1\"".parse().unwrap())
        .await
        .unwrap_err();
    assert_eq!(missing.status().map(|s| s.as_u16()), Some(404));
    let err = admin.delete_user(user.id).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(428));
    admin
        .delete_user(user.id)
        .if_match(updated.etag())
        .await
        .unwrap();
    assert!(server.stored("acme", user.id).await.is_none());
    // Groups: the same requirement, the same answers.
    let group: types::GroupCreate = serde_json::from_value(json!({ "name": "Required" })).unwrap();
    let group = admin.create_group(&group).await.unwrap();
    let rename = GroupPatch {
        description: Some(Some("Renamed".parse().unwrap())),
        ..GroupPatch::default()
    };
    let err = admin.update_group(group.id, &rename).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(428));
    let renamed = admin
        .update_group(group.id, &rename)
        .if_match(group.etag())
        .await
        .unwrap();
    assert_eq!(renamed.resource_version, 2);
    let stale = admin
        .delete_group(group.id)
        .if_match(group.etag())
        .await
        .unwrap_err();
    assert_eq!(stale.status().map(|s| s.as_u16()), Some(412));
    let err = admin.delete_group(group.id).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(428));
    admin
        .delete_group(group.id)
        .if_match(renamed.etag())
        .await
        .unwrap();
    server.stop().await;
}
on_both!(conditional_requests, conditional_and_required_if_match);

async fn passwords(db: Db) {
    let server = TestServer::start(db).await;
    let admin = server.admin();
    let user = admin.create_user(new_user("pw@example.com")).await.unwrap();
    let change: types::PasswordChange =
        serde_json::from_value(json!({ "newPassword": "correct horse battery" })).unwrap();
    admin.set_user_password(user.id, &change).await.unwrap();
    let stored = server.stored("acme", user.id).await.unwrap();
    let hash = stored.password_hash.unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    let shown = admin.get_user(user.id).await.unwrap();
    assert!(shown.has_password && shown.password_updated_at.is_some());
    assert!(!serde_json::to_string(&*shown).unwrap().contains("argon2"));

    // The user changing their own password must know the current one.
    let own = server.client(&server.token(&user.id.to_string(), "acme", "users:write", &[]));
    let wrong: types::PasswordChange = serde_json::from_value(
        json!({ "currentPassword": "wrong", "newPassword": "staple battery horse" }),
    )
    .unwrap();
    let err = own.set_user_password(user.id, &wrong).await.unwrap_err();
    let problem: types::Problem = err.problem().unwrap().to().unwrap();
    assert_eq!(problem.errors[0].field, "currentPassword");
    let right: types::PasswordChange = serde_json::from_value(
        json!({ "currentPassword": "correct horse battery", "newPassword": "staple battery horse" }),
    )
    .unwrap();
    own.set_user_password(user.id, &right).await.unwrap();
    server.stop().await;
}
on_both!(passwords_are_argon2id, passwords);

async fn rate_limited(db: Db) {
    let options = AppOptions {
        rate_limit: 1,
        rate_burst: 2,
        ..AppOptions::default()
    };
    let server = TestServer::start_with(db, options).await;
    let token = server.token("admin-1", "acme", "users:admin", &[]);
    let mut limited = None;
    for _ in 0..5 {
        let response = reqwest::Client::new()
            .get(format!("{}/v1/lookups/countries", server.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        if response.status().as_u16() == 429 {
            limited = Some(response);
            break;
        }
    }
    let response = limited.expect("the limit answers 429");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "rate-limited");
    server.stop().await;
}
on_both!(rate_limit_answers_problem_429, rate_limited);

/// Everything the server logs at TRACE level (its own crates and sqlx's
/// statements) while a password is set: each line of the request names its
/// id, and no line holds the password or its hash. The capture is the
/// process's global subscriber, so no other test's subscriber can hide it.
#[tokio::test]
async fn logs_carry_the_request_id_and_never_a_password() {
    #[derive(Clone, Default)]
    struct Capture(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    static CAPTURE: std::sync::OnceLock<Capture> = std::sync::OnceLock::new();
    let capture = CAPTURE
        .get_or_init(|| {
            let capture = Capture::default();
            let writer = capture.clone();
            tracing_subscriber::fmt()
                .with_env_filter("users_server=trace,users_api=trace,sqlx=trace")
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .try_init()
                .expect("no other global subscriber in the test binary");
            capture
        })
        .clone();

    let server = TestServer::start(Db::Sqlite).await;
    let admin = server.admin();
    let user = admin
        .create_user(new_user("logs@example.com"))
        .await
        .unwrap();
    let password = "a very secret passphrase";
    let response = reqwest::Client::new()
        .put(format!("{}/v1/users/{}/password", server.url, user.id))
        .bearer_auth(server.token("admin-1", "acme", "users:admin", &[]))
        .header("content-type", "application/json")
        .header("x-request-id", "req-logged-1")
        .body(json!({ "newPassword": password }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(response.headers()["x-request-id"], "req-logged-1");
    // A client that sends no id: the server makes one up, and its log
    // lines carry the id it answers with.
    let response = reqwest::Client::new()
        .get(format!("{}/v1/users/{}", server.url, user.id))
        .bearer_auth(server.token("admin-1", "acme", "users:admin", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let made_up = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let hash = server
        .stored("acme", user.id)
        .await
        .unwrap()
        .password_hash
        .unwrap();
    server.stop().await;

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let ours: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("req-logged-1"))
        .collect();
    assert!(
        ours.iter()
            .any(|l| l.contains("request served") && l.contains("status=204")),
        "{logs}"
    );
    assert!(
        logs.lines().any(|l| l.contains(&made_up)
            && l.contains("request served")
            && l.contains("status=200")),
        "no log line carries the made-up id {made_up}: {logs}"
    );
    assert!(!logs.contains(password), "the password was logged");
    // Every test of this binary logs here once the subscriber is set: no
    // bearer token (a JWT's header always starts `eyJ`), no signing secret.
    assert!(!logs.contains("eyJ"), "a token was logged");
    assert!(
        !logs.contains(std::str::from_utf8(super::SECRET).unwrap()),
        "the JWT secret was logged"
    );
    assert!(
        !logs.contains(&hash) && !logs.contains("$argon2id$"),
        "the hash was logged"
    );
    assert!(
        logs.lines().count() > 5,
        "TRACE logging captured little: {logs}"
    );
}

/// Idempotency keys last the spec's 24 hours, then the key is free again;
/// a key left `pending` (its request died) is taken over after a minute
/// instead of answering 409 forever. Time moves by the service's clock.
async fn idempotency_keys_expire(db: Db) {
    use users_server::service::Clock;
    use users_server::store::{IdempotencyScope, Store};

    let clock = Clock::default();
    let server = TestServer::start_with(
        db,
        AppOptions {
            settings: Settings {
                clock: clock.clone(),
                // A key still pending is waited for this long, then 409.
                idempotency_wait: std::time::Duration::from_millis(300),
                ..Settings::default()
            },
            ..AppOptions::default()
        },
    )
    .await;
    let token = server.token("admin-1", "acme", "users:admin", &[]);
    let create = |key: &'static str, email: &'static str| {
        let token = token.clone();
        let url = format!("{}/v1/users", server.url);
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .header("idempotency-key", key)
                .body(serde_json::to_string(&new_user(email)).unwrap())
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (status, body)
        }
    };
    let hour = std::time::Duration::from_secs(3600);

    let (status, first) = create("day-key", "first@example.com").await;
    assert_eq!(status, 201, "{first}");
    clock.advance(23 * hour);
    let (status, body) = create("day-key", "second@example.com").await;
    assert_eq!(
        status, 422,
        "within 24 hours the key is still taken: {body}"
    );
    clock.advance(2 * hour);
    let (status, second) = create("day-key", "second@example.com").await;
    assert_eq!(status, 201, "after 24 hours the key is free: {second}");
    assert_ne!(first["id"], second["id"]);
    let (status, replay) = create("day-key", "second@example.com").await;
    assert_eq!(status, 201);
    assert_eq!(replay["id"], second["id"], "the fresh claim replays again");

    // A request that claimed a key and died: pending, then taken over.
    let scope = IdempotencyScope {
        caller: "admin-1".into(),
        account_id: "acme".into(),
        operation: "createUser".into(),
        key: "crashed-key".into(),
    };
    // The body as the server reads it (its own type), hashed as it hashes.
    let body: users_api::types::UserCreate =
        serde_json::from_value(serde_json::to_value(new_user("third@example.com")).unwrap())
            .unwrap();
    let hash = users_server::service::idempotency_hash(&serde_json::to_value(&body).unwrap());
    server
        .store
        .claim_idempotency_key(&scope, &hash, clock.now())
        .await
        .unwrap();
    let (status, body) = create("crashed-key", "third@example.com").await;
    assert_eq!(status, 409, "{body}");
    clock.advance(std::time::Duration::from_secs(61));
    let (status, body) = create("crashed-key", "third@example.com").await;
    assert_eq!(status, 201, "the abandoned key is taken over: {body}");

    // The hourly purge deletes what expired and keeps the rest.
    clock.advance(25 * hour);
    let purged = server
        .store
        .purge_idempotency_keys(clock.now() - chrono::Duration::hours(24))
        .await
        .unwrap();
    assert_eq!(purged, 2);
    server.stop().await;
}
on_both!(
    idempotency_keys_expire_and_abandoned_ones_are_taken_over,
    idempotency_keys_expire
);

/// A token issuer that follows the spec names the other accounts a token may
/// act on in `switchableAccounts` (the security scheme's word); the server
/// honours that claim, and no other spelling of it.
async fn switchable_accounts_claim(db: Db) {
    let server = TestServer::start(db).await;
    let mint = |claim: &str| {
        let mut claims = json!({
            "sub": "issuer-follows-spec", "account": "acme", "scope": "users:read",
            "iss": super::ISSUER, "aud": super::AUDIENCE,
            "exp": chrono::Utc::now().timestamp() + 600,
        });
        claims[claim] = json!(["acme-eu"]);
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(super::SECRET),
        )
        .unwrap()
    };
    let list = |token: String| {
        let url = format!("{}/v1/users?accountSwitchKey=acme-eu", server.url);
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(list(mint("switchableAccounts")).await, 200);
    assert_eq!(list(mint("switchable_accounts")).await, 403);
    server.stop().await;
}
on_both!(
    the_switchable_accounts_claim_is_the_specs,
    switchable_accounts_claim
);
