//! The SDK against a local mock HTTP server: what it puts on the wire and how
//! it treats what comes back.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use httpmock::prelude::*;
use serde_json::{Value, json};
use users_client::patch::UserPatch;
use users_client::{Client, Conditional, Error, RetryPolicy, types};
use uuid::Uuid;

const USER_ID: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";

fn user_id() -> Uuid {
    USER_ID.parse().unwrap()
}

fn fast_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        max_elapsed: Duration::from_secs(30),
    }
}

fn client(server: &MockServer) -> Client {
    Client::builder(server.base_url())
        .bearer_token("t0ken")
        .retry_policy(fast_retries(3))
        .build()
        .unwrap()
}

fn create_body() -> types::UserCreate {
    serde_json::from_value(json!({
        "name": { "firstName": "Ada", "lastName": "Lovelace" },
        "email": "ada@example.com"
    }))
    .unwrap()
}

fn problem(status: u16, code: &str, errors: Value) -> Value {
    json!({
        "type": format!("https://example.org/users-api/problems/{code}"),
        "title": "The request is invalid",
        "status": status,
        "code": code,
        "detail": "address.countryCode: is required; email: is not an email address",
        "errors": errors,
    })
}

/// Records one header of every request the mock sees.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Option<String>>>>);

impl Recorder {
    fn matcher(
        &self,
        header: &'static str,
    ) -> impl Fn(&HttpMockRequest) -> bool + Send + Sync + use<> {
        let seen = self.0.clone();
        move |req: &HttpMockRequest| {
            let value = req
                .headers()
                .get(header)
                .map(|v| v.to_str().unwrap().to_owned());
            seen.lock().unwrap().push(value);
            true
        }
    }

    fn values(&self) -> Vec<Option<String>> {
        self.0.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn a_cleared_field_is_sent_as_null_and_an_absent_one_not_at_all() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(PATCH)
                .path(format!("/v1/users/{USER_ID}"))
                .header("content-type", "application/merge-patch+json")
                .header("if-match", "\"7\"")
                .json_body(json!({ "phone": null, "jobTitle": "Head of Operations" }));
            then.status(200)
                .header("etag", "\"8\"")
                .json_body(users_tests::example_user());
        })
        .await;
    let patch = UserPatch {
        phone: Some(None),
        job_title: Some(Some("Head of Operations".parse().unwrap())),
        ..UserPatch::default()
    };
    let user = client(&server)
        .update_user(user_id(), &patch)
        .if_match(&"\"7\"".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(user.id, user_id());
    mock.assert_async().await;
}

#[tokio::test]
async fn retries_stop_at_the_bound() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET).path(format!("/v1/users/{USER_ID}"));
            then.status(503)
                .header("content-type", "application/problem+json")
                .json_body(problem(503, "unavailable", json!([])));
        })
        .await;
    let err = client(&server).get_user(user_id()).await.unwrap_err();
    assert_eq!(mock.calls_async().await, 3, "max_attempts is 3");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert!(err.is_retryable());
}

#[tokio::test]
async fn retries_wait_for_retry_after() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET).path(format!("/v1/users/{USER_ID}"));
            then.status(429)
                .header("retry-after", "1")
                .header("content-type", "application/problem+json")
                .json_body(problem(429, "rate-limited", json!([])));
        })
        .await;
    let started = Instant::now();
    let err = client(&server).get_user(user_id()).await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(mock.calls_async().await, 3);
    // Two waits of at least one second each, although the backoff is 5 ms.
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    assert_eq!(err.code(), Some(types::ProblemCode::RateLimited));
}

#[tokio::test]
async fn a_retry_after_beyond_the_time_budget_is_not_waited_for() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET).path(format!("/v1/users/{USER_ID}"));
            then.status(503).header("retry-after", "3600");
        })
        .await;
    let started = Instant::now();
    let err = client(&server).get_user(user_id()).await.unwrap_err();
    assert_eq!(mock.calls_async().await, 1);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
}

#[tokio::test]
async fn a_patch_without_idempotency_key_is_not_retried() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(PATCH).path(format!("/v1/users/{USER_ID}"));
            then.status(503);
        })
        .await;
    let patch = UserPatch {
        is_admin: Some(true),
        ..UserPatch::default()
    };
    let err = client(&server)
        .update_user(user_id(), &patch)
        .await
        .unwrap_err();
    assert_eq!(mock.calls_async().await, 1);
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
}

#[tokio::test]
async fn one_create_keeps_its_idempotency_key_across_retries_and_another_gets_a_new_one() {
    let server = MockServer::start_async().await;
    let keys = Recorder::default();
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/v1/users")
                .is_true(keys.matcher("idempotency-key"));
            then.status(502);
        })
        .await;
    let client = client(&server);
    client.create_user(create_body()).await.unwrap_err();
    let first: BTreeSet<_> = keys.values().into_iter().collect();
    assert_eq!(
        mock.calls_async().await,
        3,
        "a create with a key is retried"
    );
    assert_eq!(first.len(), 1, "one key across retries: {first:?}");
    let key = first
        .iter()
        .next()
        .unwrap()
        .clone()
        .expect("a key was sent");
    assert!(Uuid::parse_str(&key).is_ok(), "{key}");

    client.create_user(create_body()).await.unwrap_err();
    let all: BTreeSet<_> = keys.values().into_iter().collect();
    assert_eq!(all.len(), 2, "the second create has its own key: {all:?}");
}

#[tokio::test]
async fn a_caller_chosen_idempotency_key_is_sent() {
    let server = MockServer::start_async().await;
    let mut created = users_tests::example_user();
    created["resourceVersion"] = json!(1);
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/v1/users")
                .header("idempotency-key", "my-key-1")
                .header("content-type", "application/json")
                .header("authorization", "Bearer t0ken")
                .json_body(json!({
                    "name": { "firstName": "Ada", "lastName": "Lovelace" },
                    "email": "ada@example.com"
                }));
            then.status(201)
                .header("location", format!("/v1/users/{USER_ID}"))
                .header("etag", "\"1\"")
                .json_body(created);
        })
        .await;
    let user = client(&server)
        .create_user(create_body())
        .idempotency_key("my-key-1")
        .await
        .unwrap();
    assert_eq!(user.etag().as_str(), "\"1\"");
    assert_eq!(user.headers().location, format!("/v1/users/{USER_ID}"));
    mock.assert_async().await;
}

#[tokio::test]
async fn the_concurrency_helper_rereads_and_repatches_after_a_412() {
    let server = MockServer::start_async().await;
    let mut v7 = users_tests::example_user();
    v7["resourceVersion"] = json!(7);
    let mut v8 = users_tests::example_user();
    v8["resourceVersion"] = json!(8);
    v8["jobTitle"] = json!("Changed elsewhere");
    let mut v9 = v8.clone();
    v9["resourceVersion"] = json!(9);
    v9["phone"] = json!("+15550000000");

    // The first read sees version 7, the second version 8.
    let reads = Arc::new(Mutex::new(0));
    let first_read = {
        let reads = reads.clone();
        move |_: &HttpMockRequest| {
            let mut n = reads.lock().unwrap();
            *n += 1;
            *n == 1
        }
    };
    let get7 = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(format!("/v1/users/{USER_ID}"))
                .is_true(first_read);
            then.status(200).header("etag", "\"7\"").json_body(v7);
        })
        .await;
    let get8 = server
        .mock_async(|when, then| {
            when.method(GET).path(format!("/v1/users/{USER_ID}"));
            then.status(200).header("etag", "\"8\"").json_body(v8);
        })
        .await;
    let stale = server
        .mock_async(|when, then| {
            when.method(PATCH)
                .path(format!("/v1/users/{USER_ID}"))
                .header("if-match", "\"7\"");
            then.status(412)
                .header("content-type", "application/problem+json")
                .json_body(problem(412, "concurrency-violation", json!([])));
        })
        .await;
    let fresh = server
        .mock_async(|when, then| {
            when.method(PATCH)
                .path(format!("/v1/users/{USER_ID}"))
                .header("if-match", "\"8\"")
                .json_body(json!({ "phone": "+15550000000" }));
            then.status(200).header("etag", "\"9\"").json_body(v9);
        })
        .await;
    let mut seen_versions = Vec::new();
    let user = client(&server)
        .update_user_with(user_id(), 3, |current| {
            seen_versions.push(current.resource_version.get());
            UserPatch::builder().phone("+15550000000")
        })
        .await
        .unwrap();
    assert_eq!(user.resource_version.get(), 9);
    assert_eq!(seen_versions, [7, 8]);
    assert_eq!(get7.calls_async().await, 1);
    assert_eq!(get8.calls_async().await, 1);
    assert_eq!(stale.calls_async().await, 1);
    assert_eq!(fresh.calls_async().await, 1);
}

#[tokio::test]
async fn the_concurrency_helper_does_not_reapply_after_a_transport_error() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(format!("/v1/users/{USER_ID}"));
            then.status(200)
                .header("etag", "\"1\"")
                .json_body(users_tests::example_user());
        })
        .await;
    let patch = server
        .mock_async(|when, then| {
            when.method(PATCH).path(format!("/v1/users/{USER_ID}"));
            then.status(200)
                .delay(Duration::from_secs(5))
                .json_body(users_tests::example_user());
        })
        .await;
    let client = client(&server).with_timeout(Duration::from_millis(300));
    let mut calls = 0;
    let err = client
        .update_user_with(user_id(), 5, |_| {
            calls += 1;
            UserPatch {
                job_title: Some(Some("X".parse().unwrap())),
                ..UserPatch::default()
            }
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::OutcomeUnknown(_)), "{err:?}");
    assert_eq!(calls, 1, "the change is applied once");
    assert_eq!(patch.calls_async().await, 1, "the PATCH is sent once");
}

#[tokio::test]
async fn the_concurrency_helper_never_guesses_a_missing_etag() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(format!("/v1/users/{USER_ID}"));
            then.status(200).json_body(users_tests::example_user());
        })
        .await;
    let patch = server
        .mock_async(|when, then| {
            when.method(PATCH).path(format!("/v1/users/{USER_ID}"));
            then.status(200).json_body(users_tests::example_user());
        })
        .await;
    let err = client(&server)
        .update_user_with(user_id(), 3, |_| UserPatch::builder().clear_phone())
        .await
        .unwrap_err();
    match err {
        Error::InvalidResponse(message) => assert!(message.contains("ETag"), "{message}"),
        other => panic!("expected InvalidResponse, got {other:?}"),
    }
    assert_eq!(patch.calls_async().await, 0, "no write without a tag");
}

#[tokio::test]
async fn builders_check_values_and_name_the_member() {
    let body = types::UserCreate::new(types::NameInput::new("Ada", "Lovelace"), "ada@example.com")
        .job_title("Engineer")
        .build()
        .unwrap();
    assert_eq!(
        serde_json::to_value(&body).unwrap()["jobTitle"],
        json!("Engineer")
    );
    // A required member that breaks its rule fails the build, naming it.
    let long = "x".repeat(51);
    let err = types::UserCreate::new(types::NameInput::new(long.as_str(), "L"), "a@example.com")
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("firstName"),
        "the error names the member: {err}"
    );
    // So does an optional one, and the call refuses it before sending.
    let err = UserPatch::builder().job_title("").build().unwrap_err();
    assert!(err.to_string().contains("jobTitle"), "{err}");
    let patch = UserPatch::builder()
        .job_title("Head of Operations")
        .clear_phone()
        .build()
        .unwrap();
    assert_eq!(
        serde_json::to_value(&patch).unwrap(),
        json!({ "jobTitle": "Head of Operations", "phone": null })
    );
}

#[tokio::test]
async fn a_problem_becomes_a_typed_error_with_its_field_list() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/v1/users");
            then.status(400)
                .header("content-type", "application/problem+json")
                .json_body(problem(
                    400,
                    "validation-failed",
                    json!([
                        { "field": "address.countryCode", "message": "is required", "code": "required" },
                        { "field": "email", "message": "is not an email address", "code": "format" }
                    ]),
                ));
        })
        .await;
    let err = client(&server)
        .create_user(create_body())
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400));
    assert_eq!(err.code(), Some(types::ProblemCode::ValidationFailed));
    assert_eq!(
        err.detail(),
        Some("address.countryCode: is required; email: is not an email address")
    );
    let problem: types::Problem = err.problem().unwrap().to().unwrap();
    let fields: Vec<(&str, &str)> = problem
        .errors
        .iter()
        .map(|e| (e.field.as_str(), e.code.as_str()))
        .collect();
    assert_eq!(
        fields,
        [("address.countryCode", "required"), ("email", "format")]
    );
    assert!(!err.is_retryable());
    // The same, typed: the status, the field errors, the operation's own enum.
    assert!(err.is_bad_request() && !err.is_conflict());
    let typed: Vec<String> = err.field_errors().into_iter().map(|e| e.field).collect();
    assert_eq!(typed, ["address.countryCode", "email"]);
    assert_eq!(err.problem_document().map(|p| p.status), Some(400));
    match users_client::errors::CreateUser::from(err) {
        users_client::errors::CreateUser::BadRequest(problem) => {
            assert_eq!(problem.code, types::ProblemCode::ValidationFailed);
            assert_eq!(problem.errors.len(), 2);
        }
        other => panic!("a 400 is CreateUser::BadRequest, not {other:?}"),
    }
}

#[tokio::test]
async fn an_undocumented_status_or_body_is_the_other_error() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(format!("/v1/users/{USER_ID}"));
            then.status(418).body("I'm a teapot");
        })
        .await;
    let err = client(&server).get_user(user_id()).await.unwrap_err();
    assert_eq!(err.code(), None);
    assert!(err.field_errors().is_empty());
    let typed = users_client::errors::GetUser::from(err);
    assert_eq!(typed.status(), Some(418));
    assert!(
        matches!(typed, users_client::errors::GetUser::Other(_)),
        "{typed:?}"
    );
}

#[tokio::test]
async fn a_304_is_not_modified_not_an_error() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(format!("/v1/users/{USER_ID}"))
                .header("if-none-match", "\"7\"");
            then.status(304).header("etag", "\"7\"");
        })
        .await;
    let answer = client(&server)
        .get_user(user_id())
        .if_none_match(&"\"7\"".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(answer, Conditional::NotModified);
    mock.assert_async().await;
}

#[tokio::test]
async fn unknown_response_fields_and_enum_values_are_tolerated() {
    let server = MockServer::start_async().await;
    let mut future_user = users_tests::example_user();
    future_user["status"] = json!("suspended");
    future_user["gender"] = json!("nonbinary");
    future_user["contactType"] = json!("legal");
    future_user["favouriteColour"] = json!("teal");
    future_user["address"]["geo"] = json!({ "lat": 1.5, "lon": 2.5 });
    server
        .mock_async(|when, then| {
            when.method(GET).path(format!("/v1/users/{USER_ID}"));
            then.status(200)
                .header("etag", "\"7\"")
                .json_body(future_user);
        })
        .await;
    let user = client(&server).get_user(user_id()).await.unwrap();
    // An open enum keeps a value it does not know, and sends it back as it came.
    assert_eq!(user.status, types::UserStatus::Unknown("suspended".into()));
    assert_eq!(
        user.gender,
        Some(types::Gender::Unknown("nonbinary".into()))
    );
    assert_eq!(
        user.contact_type.as_ref().map(|c| c.as_str()),
        Some("legal")
    );
    assert_eq!(serde_json::to_value(&*user).unwrap()["status"], "suspended");
}

#[test]
fn open_enums_are_one_type_in_both_directions() {
    // The value a filter takes is the value a user reads back.
    let status: types::UserStatus = "deactivated".into();
    assert_eq!(status, types::UserStatus::Deactivated);
    assert_eq!(status, "deactivated");
    assert_eq!(status.to_string(), "deactivated");
    let read: types::UserStatus = serde_json::from_value(json!("archived")).unwrap();
    assert_eq!(read, types::UserStatus::Archived);
    assert_eq!(
        types::UserStatus::KNOWN,
        [
            types::UserStatus::Active,
            types::UserStatus::Deactivated,
            types::UserStatus::Archived
        ]
    );
    let code: types::ProblemCode = serde_json::from_value(json!("a-code-from-next-year")).unwrap();
    assert_eq!(code.as_str(), "a-code-from-next-year");
}

#[tokio::test]
async fn pagination_yields_every_item_across_pages_exactly_once() {
    let server = MockServer::start_async().await;
    let page = |ids: std::ops::Range<u32>, next: Option<&str>| {
        let items: Vec<Value> = ids
            .map(|i| {
                let mut user = users_tests::example_user();
                user["id"] = json!(format!("00000000-0000-4000-8000-{i:012}"));
                user
            })
            .collect();
        match next {
            Some(cursor) => json!({ "items": items, "nextCursor": cursor }),
            None => json!({ "items": items }),
        }
    };
    let first = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v1/users")
                .query_param("limit", "2")
                .query_param("status", "active")
                .query_param_missing("cursor");
            then.status(200).json_body(page(0..2, Some("c2")));
        })
        .await;
    let second = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v1/users")
                .query_param("cursor", "c2");
            then.status(200).json_body(page(2..4, Some("c4")));
        })
        .await;
    let third = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v1/users")
                .query_param("cursor", "c4");
            then.status(200).json_body(page(4..5, None));
        })
        .await;
    let client = client(&server);
    let users: Vec<types::User> = client
        .list_users()
        .limit(2)
        .status(types::UserStatus::Active)
        .stream()
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<String> = users.iter().map(|u| u.id.to_string()).collect();
    let expected: Vec<String> = (0..5)
        .map(|i| format!("00000000-0000-4000-8000-{i:012}"))
        .collect();
    assert_eq!(ids, expected);
    for mock in [first, second, third] {
        assert_eq!(mock.calls_async().await, 1);
    }
}

#[tokio::test]
async fn a_token_provider_is_asked_for_every_call() {
    let server = MockServer::start_async().await;
    let tokens = Recorder::default();
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v1/lookups/countries")
                .is_true(tokens.matcher("authorization"));
            then.status(200).json_body(
                json!({ "items": [{ "code": "US", "name": "United States of America" }] }),
            );
        })
        .await;
    let counter = Arc::new(Mutex::new(0));
    let provider = {
        let counter = counter.clone();
        move || {
            let counter = counter.clone();
            async move {
                let mut n = counter.lock().unwrap();
                *n += 1;
                Ok::<_, users_client::BoxError>(format!("token-{n}"))
            }
        }
    };
    let client = Client::builder(server.base_url())
        .token_provider(provider)
        .build()
        .unwrap();
    client.list_countries().await.unwrap();
    let countries = client.list_countries().await.unwrap();
    assert_eq!(countries.items[0].code, "US");
    assert_eq!(
        tokens.values(),
        [
            Some("Bearer token-1".to_owned()),
            Some("Bearer token-2".to_owned())
        ]
    );
}

#[tokio::test]
async fn the_account_switch_key_goes_on_every_call_of_a_switched_client() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(DELETE)
                .path(format!("/v1/users/{USER_ID}"))
                .query_param("accountSwitchKey", "acme-eu")
                .header("if-match", "\"3\"");
            then.status(204);
        })
        .await;
    client(&server)
        .for_tenant("acme-eu")
        .delete_user(user_id())
        .if_match(&"\"3\"".parse().unwrap())
        .await
        .unwrap();
    mock.assert_async().await;
}

#[test]
fn the_sdk_refuses_invalid_values_locally() {
    // Constraints of the spec are checked when the value is built (patterns
    // with the `patterns` feature, which these tests turn on).
    assert!("not-an-e164".parse::<types::Phone>().is_err());
    assert!("x".repeat(76).parse::<types::JobTitle>().is_err());
    let too_long_name: Result<types::NameInput, _> = types::NameInput::builder()
        .first_name("A".repeat(51))
        .last_name("B")
        .try_into();
    assert!(too_long_name.is_err());
    // Closed request schemas refuse unknown members.
    let extra = serde_json::from_value::<types::UserCreate>(json!({
        "name": { "firstName": "A", "lastName": "B" },
        "email": "a@example.com",
        "resourceVersion": 3
    }));
    assert!(extra.is_err());
    let extra_patch = serde_json::from_value::<UserPatch>(json!({ "id": USER_ID }));
    assert!(extra_patch.is_err());
}

/// The generated, typed httpmock helpers (feature `mock`) stand in for the
/// server in an integrator's tests.
#[test]
fn the_typed_mock_helpers_stand_in_for_the_server() {
    use users_client::mock::{MockServerExt, fixtures};
    let server = MockServer::start();
    // Fixtures come from the spec's examples; a test changes what it needs.
    let mut user = fixtures::user();
    user.job_title = Some("Engineer".into());
    let etag: users_client::ETag = "\"7\"".parse().unwrap();
    let missing_id = Uuid::nil();
    // Matchers take what the client takes: ids, &str, typed values.
    let found = server.get_user(|when, then| {
        when.user_id(user.id).no_if_none_match();
        then.ok(&user, &etag);
    });
    let missing = server.get_user(|when, then| {
        when.user_id(missing_id);
        then.not_found(&fixtures::problem());
    });
    let created = server.create_user(|when, then| {
        when.idempotency_key("k-1").body(types::UserCreate::new(
            types::NameInput::new("Ada", "Lovelace"),
            "ada@example.com",
        ));
        then.created(&user, &etag, &format!("/v1/users/{}", user.id));
    });
    let listed = server.list_users(|when, then| {
        when.status(types::UserStatus::Active)
            .email("ada@example.com");
        then.ok(&types::UserPage {
            items: vec![user.clone()],
            next_cursor: None,
        });
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = client(&server);
    let got = runtime.block_on(client.get_user(user.id).send()).unwrap();
    assert_eq!(*got, user);
    // The answer carries the ETag the spec makes required.
    assert_eq!(got.etag(), &etag);
    let err = runtime
        .block_on(client.get_user(missing_id).send())
        .unwrap_err();
    // A mocked error is a problem document, typed like the server's.
    assert!(err.is_not_found());
    assert_eq!(err.code(), fixtures::problem().code.into());
    let made = runtime
        .block_on(
            client
                .create_user(types::UserCreate::new(
                    types::NameInput::new("Ada", "Lovelace"),
                    "ada@example.com",
                ))
                .idempotency_key("k-1")
                .send(),
        )
        .unwrap();
    assert_eq!(made.headers().location, format!("/v1/users/{}", user.id));
    let page = runtime
        .block_on(
            client
                .list_users()
                .status(types::UserStatus::Active)
                .email("ada@example.com")
                .send(),
        )
        .unwrap();
    assert_eq!(page.items, [user.clone()]);
    found.assert();
    missing.assert();
    created.assert();
    listed.assert();
}

#[tokio::test]
async fn bad_settings_and_arguments_fail_at_the_call_never_panic() {
    let server = MockServer::start_async().await;
    // A token read from a file: its trailing newline is trimmed.
    let users = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v1/users")
                .header("authorization", "Bearer t0ken");
            then.status(200).json_body(json!({ "items": [] }));
        })
        .await;
    let from_file = Client::builder(server.base_url())
        .bearer_token("t0ken\n")
        .build()
        .unwrap();
    from_file.list_users().await.unwrap();
    assert_eq!(users.calls_async().await, 1);

    // Any other control character, or an invalid user agent: refused at build.
    for builder in [
        Client::builder(server.base_url()).bearer_token("t0\u{7}ken"),
        Client::builder(server.base_url()).bearer_token("t0\nken"),
        Client::builder(server.base_url()).user_agent("agent\r\nx-injected: 1"),
    ] {
        match builder.build() {
            Err(Error::InvalidRequest(message)) => assert!(!message.is_empty()),
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
    }

    // A page size out of the spec's range, or a cursor breaking its
    // pattern, is refused before anything is sent, naming the parameter
    // and the rule.
    match from_file.list_users().limit(0).await {
        Err(Error::InvalidRequest(message)) => {
            assert_eq!(message, "limit: 0 is less than the minimum 1")
        }
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
    match from_file.list_users().limit(101).await {
        Err(Error::InvalidRequest(message)) => {
            assert_eq!(message, "limit: 101 is more than the maximum 100")
        }
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
    match from_file.list_users().cursor("not a cursor").await {
        Err(Error::InvalidRequest(message)) => {
            assert!(message.starts_with("cursor: "), "{message}");
            assert!(message.contains("pattern"), "{message}");
        }
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
    assert_eq!(users.calls_async().await, 1);
}

/// A profile image goes as the media type its caller names, or else as the
/// one its bytes are; a stream, which has no first bytes to read, goes as
/// bytes of no named type.
#[tokio::test]
async fn an_image_goes_as_the_type_named_or_the_type_its_bytes_are() {
    let server = MockServer::start_async().await;
    let id = Uuid::parse_str("3fa85f64-5717-4562-b3fc-2c963f66afa6").unwrap();
    let path = format!("/v1/users/{id}/avatar");
    let mut mocks = Vec::new();
    for media in ["image/webp", "image/png", "application/octet-stream"] {
        mocks.push(
            server
                .mock_async(|when, then| {
                    when.method(PUT).path(&path).header("content-type", media);
                    then.status(204).header("etag", "\"2\"");
                })
                .await,
        );
    }
    let client = Client::builder(server.base_url())
        .bearer_token("t0ken")
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let png = include_bytes!("../../crates/users-conformance/assets/avatar.png");
    let stream = || {
        reqwest::Body::wrap_stream(futures::stream::iter([Ok::<_, std::io::Error>(
            bytes::Bytes::from_static(png),
        )]))
    };
    client
        .set_user_avatar(id, stream())
        .content_type(users_client::ops::SetUserAvatarMedia::ImageWebp)
        .await
        .unwrap();
    client
        .set_user_avatar(id, reqwest::Body::from(png.to_vec()))
        .await
        .unwrap();
    client.set_user_avatar(id, stream()).await.unwrap();
    for mock in &mocks {
        assert_eq!(mock.calls_async().await, 1);
    }
}
