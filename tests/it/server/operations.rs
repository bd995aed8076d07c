//! What operators see: the probes, the metrics per operation on the admin
//! listener (never on the public one), and the request's span.

use serde_json::{Value, json};
use users_server::app::AppOptions;
use users_server::service::Settings;

use super::seeds::{new_user, raw};
use super::{Db, TestServer};
use crate::on_both;

async fn get(url: &str) -> (u16, String, Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    let media = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, media, body)
}

async fn scrape(server: &TestServer) -> String {
    let response = reqwest::get(format!("{}/metrics", server.admin_url))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    response.text().await.unwrap()
}

/// The value of the sample `series` (name and labels, exactly as written).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        line.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .map(|value| value.trim().parse().unwrap())
    })
}

fn expect_sample(metrics: &str, series: &str, value: f64) {
    assert_eq!(
        sample(metrics, series),
        Some(value),
        "{series} in\n{metrics}"
    );
}

/// Liveness and readiness answer on the API port outside `/v1`, without a
/// token; the metrics do not.
async fn probes(db: Db) {
    let server = TestServer::start(db).await;
    let (status, _, body) = get(&format!("{}/healthz", server.url)).await;
    assert_eq!((status, body), (200, json!({ "status": "ok" })));
    let (status, _, body) = get(&format!("{}/readyz", server.url)).await;
    assert_eq!((status, body), (200, json!({ "status": "ready" })));
    let (status, media, body) = get(&format!("{}/metrics", server.url)).await;
    assert_eq!(status, 404, "metrics on the public listener");
    assert_eq!(media, "application/problem+json");
    assert_eq!(body["code"], "not-found");
    // The admin listener has the probes too.
    let (status, _, _) = get(&format!("{}/readyz", server.admin_url)).await;
    assert_eq!(status, 200);
    server.stop().await;
}
on_both!(probes_answer_outside_the_api, probes);

/// Readiness is a 503 problem while the database is unreachable and while
/// the server drains; liveness stays 200 (a restart would not help).
async fn readiness_follows_the_database_and_draining(db: Db) {
    let server = TestServer::start(db).await;
    server.readiness.start_draining();
    let (status, media, body) = get(&format!("{}/readyz", server.url)).await;
    assert_eq!((status, media.as_str()), (503, "application/problem+json"));
    assert_eq!(body["code"], "not-ready");
    assert_eq!(body["detail"], "the server is shutting down");

    let server = TestServer::start(db).await;
    server.store.close().await;
    let (status, _, body) = get(&format!("{}/readyz", server.url)).await;
    assert_eq!(status, 503, "{body}");
    // The database's own error is logged, not sent.
    assert_eq!(body["detail"], "the database does not answer");
    let (status, _, _) = get(&format!("{}/healthz", server.url)).await;
    assert_eq!(status, 200);
    server.stop().await;
}
on_both!(
    readiness_fails_without_the_database_or_while_draining,
    readiness_follows_the_database_and_draining
);

/// Requests are counted under their operationId and status, with latency
/// histograms, refusals by field code, 412s, idempotent replays and the
/// pools' state.
async fn metrics_per_operation(db: Db) {
    let server = TestServer::start(db).await;
    let admin = server.admin();
    let token = server.token("admin-1", "acme", "users:admin", &[]);
    let user = admin
        .create_user(new_user("metrics@example.com"))
        .await
        .unwrap();
    admin.get_user(user.id).await.unwrap();
    admin.get_user(uuid::Uuid::new_v4()).await.unwrap_err();
    // Two field errors: a name too long and an unknown member.
    let (status, _) = raw(
        &server,
        "POST",
        "/v1/users",
        &token,
        "application/json",
        json!({ "name": { "firstName": "x".repeat(300), "lastName": "Smith" }, "email": "bad@example.com", "shoeSize": 9 }),
    )
    .await;
    assert_eq!(status, 400);
    // A stale If-Match.
    let response = reqwest::Client::new()
        .patch(format!("{}/v1/users/{}", server.url, user.id))
        .bearer_auth(&token)
        .header("content-type", "application/merge-patch+json")
        .header("if-match", "\"99\"")
        .body(r#"{"jobTitle":"Analyst"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 412);
    // The same create twice under one key: the second is a replay.
    for _ in 0..2 {
        let response = reqwest::Client::new()
            .post(format!("{}/v1/users", server.url))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .header("idempotency-key", "metrics-key-1")
            .body(serde_json::to_string(&new_user("replayed@example.com")).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201);
    }

    let metrics = scrape(&server).await;
    expect_sample(
        &metrics,
        r#"users_http_requests_total{operation="createUser",status="201"}"#,
        3.0,
    );
    expect_sample(
        &metrics,
        r#"users_http_requests_total{operation="getUser",status="200"}"#,
        1.0,
    );
    expect_sample(
        &metrics,
        r#"users_http_requests_total{operation="getUser",status="404"}"#,
        1.0,
    );
    expect_sample(
        &metrics,
        r#"users_http_requests_total{operation="createUser",status="400"}"#,
        1.0,
    );
    expect_sample(
        &metrics,
        r#"users_http_requests_total{operation="updateUser",status="412"}"#,
        1.0,
    );
    expect_sample(
        &metrics,
        r#"users_http_request_duration_seconds_count{operation="getUser"}"#,
        2.0,
    );
    expect_sample(
        &metrics,
        r#"users_http_request_duration_seconds_count{operation="createUser"}"#,
        4.0,
    );
    expect_sample(
        &metrics,
        r#"users_validation_refusals_total{code="max-length"}"#,
        1.0,
    );
    expect_sample(
        &metrics,
        r#"users_validation_refusals_total{code="unknown-field"}"#,
        1.0,
    );
    expect_sample(&metrics, "users_http_precondition_failed_total", 1.0);
    expect_sample(&metrics, "users_http_precondition_required_total", 0.0);
    expect_sample(&metrics, "users_http_rate_limited_total", 0.0);
    expect_sample(&metrics, "users_idempotency_replays_total", 1.0);
    let pools: &[&str] = match db {
        Db::Sqlite => &["writer", "reader"],
        Db::Postgres => &["main"],
    };
    for pool in pools {
        let acquires = sample(
            &metrics,
            &format!(r#"users_db_pool_acquires_total{{pool="{pool}"}}"#),
        )
        .unwrap_or_else(|| panic!("no acquires of {pool} in\n{metrics}"));
        assert!(acquires >= 1.0, "{pool}: {acquires}");
        assert!(
            sample(
                &metrics,
                &format!(r#"users_db_pool_connections{{pool="{pool}",state="idle"}}"#)
            )
            .is_some(),
            "{metrics}"
        );
        assert!(
            sample(
                &metrics,
                &format!(r#"users_db_pool_max_connections{{pool="{pool}"}}"#)
            )
            .is_some_and(|max| max >= 1.0),
            "{metrics}"
        );
    }
    server.stop().await;
}
on_both!(requests_show_up_in_the_metrics, metrics_per_operation);

/// 428 and 429 are counted too; a 429 comes from the rate limit before any
/// operation, so it counts under `operation="none"`.
async fn throttling_and_required_preconditions(db: Db) {
    let server = TestServer::start_with(
        db,
        AppOptions {
            rate_limit: 1,
            rate_burst: 3,
            settings: Settings {
                require_if_match: true,
                ..Settings::default()
            },
            ..AppOptions::default()
        },
    )
    .await;
    let token = server.token("admin-1", "acme", "users:admin", &[]);
    let user = server
        .admin()
        .create_user(new_user("required@example.com"))
        .await
        .unwrap();
    let (status, _) = raw(
        &server,
        "PATCH",
        &format!("/v1/users/{}", user.id),
        &token,
        "application/merge-patch+json",
        json!({ "jobTitle": "Analyst" }),
    )
    .await;
    assert_eq!(status, 428);
    let mut limited = 0;
    for _ in 0..10 {
        let response = reqwest::Client::new()
            .get(format!("{}/v1/lookups/countries", server.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        if response.status().as_u16() == 429 {
            limited += 1;
        }
    }
    assert!(limited > 0, "the rate limit never answered 429");
    let metrics = scrape(&server).await;
    expect_sample(&metrics, "users_http_precondition_required_total", 1.0);
    expect_sample(
        &metrics,
        "users_http_rate_limited_total",
        f64::from(limited),
    );
    expect_sample(
        &metrics,
        r#"users_http_requests_total{operation="none",status="429"}"#,
        f64::from(limited),
    );
    server.stop().await;
}
on_both!(
    throttling_and_required_preconditions_are_counted,
    throttling_and_required_preconditions
);

/// With metrics off nothing is recorded and the admin listener serves only
/// the probes.
#[tokio::test]
async fn metrics_off_serves_no_metrics() {
    let server = TestServer::start_with(
        Db::Sqlite,
        AppOptions {
            metrics: false,
            ..AppOptions::default()
        },
    )
    .await;
    let (status, _, _) = get(&format!("{}/metrics", server.admin_url)).await;
    assert_eq!(status, 404);
    let (status, _, _) = get(&format!("{}/healthz", server.admin_url)).await;
    assert_eq!(status, 200);
    server.stop().await;
}

/// A request's OpenTelemetry span is named after its operationId and
/// carries the request id, also when the client sent none. On PostgreSQL
/// the database's statements are events of that span; SQLite's driver runs
/// its statements on a worker thread of its own, outside any request span.
mod spans_carry_the_operation_and_the_request_id {
    #[tokio::test(flavor = "current_thread")]
    async fn sqlite() {
        super::request_spans(super::Db::Sqlite).await;
    }

    #[tokio::test(flavor = "current_thread")]
    #[cfg_attr(
        not(postgres_tests),
        ignore = "set USERS_TEST_POSTGRES_URL to run on PostgreSQL"
    )]
    async fn postgres() {
        super::request_spans(super::Db::Postgres).await;
    }
}

async fn request_spans(db: Db) {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt;

    let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new(
            "users_server=trace,sqlx=trace",
        ))
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    // This thread's subscriber: the server runs on this same thread.
    let _guard = tracing::subscriber::set_default(subscriber);
    // With a single scoped dispatcher registered, tracing-core computes a
    // callsite's interest from whichever thread hits it first, so another
    // test's thread (no subscriber) would cache "never" for the server's
    // callsites. A second live dispatcher makes it ask every dispatcher.
    let _second = tracing::Dispatch::new(tracing_subscriber::registry());

    let server = TestServer::start(db).await;
    let admin = server.admin();
    let user = admin
        .create_user(new_user("spans@example.com"))
        .await
        .unwrap();
    let response = reqwest::Client::new()
        .get(format!("{}/v1/users/{}", server.url, user.id))
        .bearer_auth(server.token("admin-1", "acme", "users:admin", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    server.stop().await;
    provider.force_flush().unwrap();

    let spans = exporter.get_finished_spans().unwrap();
    let attribute = |span: &opentelemetry_sdk::trace::SpanData, key: &str| {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.as_str().into_owned())
    };
    let get_span = spans
        .iter()
        .find(|span| attribute(span, "request_id").as_deref() == Some(request_id.as_str()))
        .unwrap_or_else(|| panic!("no span with request id {request_id}: {spans:#?}"));
    assert_eq!(get_span.name, "getUser");
    assert_eq!(
        attribute(get_span, "operation_id").as_deref(),
        Some("getUser")
    );
    assert_eq!(get_span.span_kind, opentelemetry::trace::SpanKind::Server);
    assert!(
        spans.iter().any(|span| span.name == "createUser"),
        "{spans:#?}"
    );
    let sqlx_events = get_span
        .events
        .iter()
        .filter(|event| {
            event
                .attributes
                .iter()
                .any(|kv| kv.key.as_str() == "target" && kv.value.as_str().starts_with("sqlx"))
        })
        .count();
    if db == Db::Postgres {
        assert!(
            sqlx_events > 0,
            "the database calls are outside the request span: {get_span:#?}"
        );
    }
}

/// Every problem carries the request's id as `requestId`, the id the
/// response's `x-request-id` names: made up when the client sent none, the
/// client's own otherwise; refusals from outside the API (the rate limit,
/// the readiness probe) included.
async fn problems_carry_the_request_id(db: Db) {
    let server = TestServer::start_with(
        db,
        AppOptions {
            rate_limit: 1,
            rate_burst: 1,
            ..AppOptions::default()
        },
    )
    .await;
    let token = server.token("admin-1", "acme", "users:admin", &[]);
    let client = reqwest::Client::new();
    let missing = format!("{}/v1/users/{}", server.url, uuid::Uuid::new_v4());
    let mut throttled = None;
    for sent in [None, Some("client-id-1"), None, None] {
        let mut request = client.get(&missing).bearer_auth(&token);
        if let Some(id) = sent {
            request = request.header("x-request-id", id);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let header = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let body: Value = response.json().await.unwrap();
        assert!(matches!(status, 404 | 429), "{status} {body}");
        assert_eq!(body["requestId"], header, "{body}");
        if let Some(id) = sent {
            assert_eq!(header, id);
        }
        if status == 429 {
            throttled = Some(body);
        }
    }
    assert!(throttled.is_some(), "the rate limit never answered");
    server.readiness.start_draining();
    let response = client
        .get(format!("{}/readyz", server.url))
        .send()
        .await
        .unwrap();
    let header = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["requestId"], header, "{body}");
    server.stop().await;
}
on_both!(
    every_problem_carries_its_request_id,
    problems_carry_the_request_id
);

/// Only throttling is a 429: a limiter that cannot key the request (served
/// without the client's address) is the server's fault, a 500 problem.
#[tokio::test]
async fn a_failing_rate_limiter_is_a_500_not_a_429() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("users.db").display());
    let store = users_server::store::SqlStore::connect(&url).await.unwrap();
    let app = users_server::app::app(
        store,
        users_server::auth::JwtVerifier::hs256(super::SECRET, super::ISSUER, super::AUDIENCE),
        AppOptions {
            rate_limit: 100,
            rate_burst: 100,
            ..AppOptions::default()
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    // No `into_make_service_with_connect_info`: the limiter finds no address.
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (status, media, body) = get(&format!("http://{address}/v1/lookups/countries")).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(media, "application/problem+json");
    assert_eq!(body["code"], "internal");
    task.abort();
}

/// A test that panics on PostgreSQL leaves no database behind: the guard
/// drops it while the panic unwinds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "set USERS_TEST_POSTGRES_URL to run on PostgreSQL"
)]
async fn a_panicking_test_leaves_no_database_behind() {
    let name = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let seen = name.clone();
    let outcome = tokio::spawn(async move {
        let server = TestServer::start(Db::Postgres).await;
        *seen.lock().unwrap() = server.postgres_database().unwrap().to_owned();
        panic!("a test failing halfway");
    })
    .await;
    assert!(outcome.unwrap_err().is_panic());
    let name = name.lock().unwrap().clone();
    assert!(name.starts_with("users_test_"), "{name}");
    let admin = std::env::var("USERS_TEST_POSTGRES_URL").unwrap();
    assert!(
        !super::postgres_database_exists(&admin, &name).await,
        "{name} was left behind"
    );
}

/// Past `max_concurrent_requests` the server sheds load: a 503 problem with
/// `Retry-After` at once, not a queue; a freed slot serves again.
#[tokio::test]
async fn overload_is_shed_with_a_503() {
    use users_server::store::{IdempotencyScope, Store};

    let server = TestServer::start_with(
        Db::Sqlite,
        AppOptions {
            max_concurrent_requests: 1,
            settings: users_server::service::Settings {
                idempotency_wait: std::time::Duration::from_secs(3),
                ..Default::default()
            },
            ..AppOptions::default()
        },
    )
    .await;
    let token = server.token("admin-1", "acme", "users:admin", &[]);
    // Hold the only slot: a create that waits for its Idempotency-Key,
    // which another request holds (claimed here, in the store).
    let user = super::seeds::new_user("held@example.com");
    let body: users_api::types::UserCreate =
        serde_json::from_value(serde_json::to_value(&user).unwrap()).unwrap();
    let hash = users_server::service::idempotency_hash(&serde_json::to_value(&body).unwrap());
    let scope = IdempotencyScope {
        caller: "admin-1".into(),
        account_id: "acme".into(),
        operation: "createUser".into(),
        key: "held-key".into(),
    };
    server
        .store
        .claim_idempotency_key(&scope, &hash, chrono::Utc::now())
        .await
        .unwrap();
    let held = tokio::spawn(
        reqwest::Client::new()
            .post(format!("{}/v1/users", server.url))
            .bearer_auth(&token)
            .header("idempotency-key", "held-key")
            .json(&user)
            .send(),
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let response = reqwest::Client::new()
        .get(format!("{}/v1/lookups/countries", server.url))
        .bearer_auth(&token)
        .timeout(std::time::Duration::from_secs(2))
        .send()
        .await
        .expect("shed at once, not queued");
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "overloaded");

    // The held create gives up after its wait (409), and frees the slot.
    let held = held.await.unwrap().unwrap();
    assert_eq!(held.status().as_u16(), 409);
    let (status, _) = raw(
        &server,
        "GET",
        "/v1/lookups/countries",
        &token,
        "application/json",
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    server.stop().await;
}

/// A client's request id goes into every log line, so one that could forge
/// or break them (spaces, quotes, over 128 characters) is replaced by a new
/// id; a sane one is kept.
#[tokio::test]
async fn unsafe_request_ids_are_replaced() {
    let server = TestServer::start(Db::Sqlite).await;
    for (sent, kept) in [
        ("req-1.a:b_c", true),
        ("forged\" status=200 x=\"", false),
        ("has space", false),
        (&*"x".repeat(129), false),
    ] {
        let response = reqwest::Client::new()
            .get(format!("{}/v1/users", server.url))
            .header("x-request-id", sent)
            .send()
            .await
            .unwrap();
        let answered = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["requestId"], answered.as_str(), "{body}");
        if kept {
            assert_eq!(answered, sent);
        } else {
            assert_ne!(answered, sent);
            uuid::Uuid::parse_str(&answered).expect("a new UUID");
        }
    }
    server.stop().await;
}
