//! Every SDK method against the spec: the request it puts on the wire has the
//! spec's method, path, query names, headers and `Content-Type`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use httpmock::prelude::*;
use serde_json::{Value, json};
use users_client::patch::{GroupPatch, UserPatch};
use users_client::{Client, ETag, RetryPolicy, types};

const USER_ID: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";

#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: BTreeSet<String>,
    pub(crate) headers: BTreeMap<String, String>,
}

/// What the spec says one operation sends.
#[derive(Debug)]
pub(crate) struct Expected {
    pub(crate) method: String,
    pub(crate) template: String,
    pub(crate) query: BTreeSet<String>,
    pub(crate) headers: BTreeSet<String>,
    /// The media types the body may be sent as (none without a body).
    pub(crate) content_types: BTreeSet<String>,
}

pub(crate) fn expected_operations() -> BTreeMap<String, Expected> {
    let spec = users_tests::spec_value();
    let resolve = |param: &Value| -> Value {
        match param["$ref"].as_str() {
            Some(reference) => spec
                .pointer(reference.trim_start_matches('#'))
                .unwrap()
                .clone(),
            None => param.clone(),
        }
    };
    let mut out = BTreeMap::new();
    for (template, item) in spec["paths"].as_object().unwrap() {
        let shared: Vec<Value> = item["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(resolve)
            .collect();
        for method in ["get", "put", "post", "delete", "patch"] {
            let Some(op) = item.get(method) else { continue };
            let params: Vec<Value> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(resolve)
                .chain(shared.iter().cloned())
                .collect();
            let names = |location: &str| -> BTreeSet<String> {
                params
                    .iter()
                    .filter(|p| p["in"] == location)
                    .map(|p| p["name"].as_str().unwrap().to_lowercase())
                    .collect()
            };
            let query = params
                .iter()
                .filter(|p| p["in"] == "query")
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect();
            let content_types = op["requestBody"]["content"]
                .as_object()
                .map(|content| content.keys().cloned().collect())
                .unwrap_or_default();
            out.insert(
                op["operationId"].as_str().unwrap().to_owned(),
                Expected {
                    method: method.to_uppercase(),
                    template: template.clone(),
                    query,
                    headers: names("header"),
                    content_types,
                },
            );
        }
    }
    out
}

pub(crate) use users_api::runtime::path_matches as matches_template;

/// Calls every SDK method once, with every optional parameter set, against a
/// mock server, and returns what each sent, by operationId.
pub(crate) async fn record_every_method() -> BTreeMap<String, Seen> {
    let server = MockServer::start_async().await;
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let recorder = {
        let seen = seen.clone();
        move |req: &HttpMockRequest| {
            let uri = req.uri();
            seen.lock().unwrap().push(Seen {
                method: req.method().to_string(),
                path: uri.path().to_owned(),
                query: req.query_params().into_iter().map(|(k, _)| k).collect(),
                headers: req
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
                    .collect(),
            });
            true
        }
    };
    let lookups = json!({ "items": [{ "code": "US", "name": "United States of America" }] });
    let spec = users_tests::spec_value();
    let group = spec["components"]["examples"]["Group"]["value"].clone();
    let group_page = json!({ "items": [group] });
    let responses = [
        (POST, "^/v1/users$", 201, Some(users_tests::example_user())),
        (
            GET,
            "^/v1/users$",
            200,
            Some(json!({ "items": [users_tests::example_user()] })),
        ),
        (
            GET,
            "^/v1/users/[^/]+$",
            200,
            Some(users_tests::example_user()),
        ),
        (
            PATCH,
            "^/v1/users/[^/]+$",
            200,
            Some(users_tests::example_user()),
        ),
        (
            PUT,
            "^/v1/users/[^/]+$",
            200,
            Some(users_tests::example_user()),
        ),
        (DELETE, "^/v1/users/[^/]+$", 204, None),
        (PUT, "^/v1/users/[^/]+/password$", 204, None),
        (GET, "^/v1/lookups/", 200, Some(lookups)),
        (POST, "^/v1/groups$", 201, Some(group.clone())),
        (GET, "^/v1/groups$", 200, Some(group_page.clone())),
        (GET, "^/v1/groups/[^/]+$", 200, Some(group.clone())),
        (PATCH, "^/v1/groups/[^/]+$", 200, Some(group.clone())),
        (DELETE, "^/v1/groups/[^/]+$", 204, None),
        (GET, "^/v1/users/[^/]+/groups$", 200, Some(group_page)),
        (GET, "^/v1/users/[^/]+/avatar$", 200, None),
        (PUT, "^/v1/users/[^/]+/avatar$", 204, None),
        (DELETE, "^/v1/users/[^/]+/avatar$", 204, None),
    ];
    for (method, path, status, body) in responses {
        let recorder = recorder.clone();
        server
            .mock_async(|when, then| {
                when.method(method).path_matches(path).is_true(recorder);
                // The headers the spec makes required on these answers.
                let then = then
                    .status(status)
                    .header("etag", "\"7\"")
                    .header("location", format!("/v1/users/{USER_ID}"));
                if let Some(body) = body {
                    then.json_body(body);
                }
            })
            .await;
    }

    let client = Client::builder(server.base_url())
        .bearer_token("t0ken")
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
        .for_tenant("acme-eu");
    let id: uuid::Uuid = USER_ID.parse().unwrap();
    let etag: ETag = "\"7\"".parse().unwrap();
    let create: types::UserCreate = serde_json::from_value(json!({
        "name": { "firstName": "Ada", "lastName": "Lovelace" },
        "email": "ada@example.com"
    }))
    .unwrap();
    let replace: types::UserReplace = serde_json::from_value(json!({
        "name": { "firstName": "Ada", "lastName": "Lovelace" },
        "email": "ada@example.com"
    }))
    .unwrap();
    let password: types::PasswordChange =
        serde_json::from_value(json!({ "newPassword": "staple battery horse" })).unwrap();

    let mut called = BTreeMap::new();
    macro_rules! call {
        ($op:literal, $e:expr) => {{
            let before = seen.lock().unwrap().len();
            $e.await.unwrap();
            let after = seen.lock().unwrap().clone();
            assert_eq!(after.len(), before + 1, "{} sent one request", $op);
            called.insert($op.to_owned(), after[before].clone());
        }};
    }
    call!("createUser", client.create_user(&create));
    call!(
        "listUsers",
        client
            .list_users()
            .limit(10)
            .email("ada@example.com")
            .status(types::UserStatus::Active)
            .q("ada")
            .cursor("c2")
    );
    call!("getUser", client.get_user(id).if_none_match(&etag));
    call!(
        "updateUser",
        client
            .update_user(
                id,
                UserPatch {
                    phone: Some(None),
                    ..UserPatch::default()
                },
            )
            .if_match(&etag)
    );
    call!(
        "replaceUser",
        client.replace_user(id, &replace).if_match(&etag)
    );
    call!("deleteUser", client.delete_user(id).if_match(&etag));
    call!(
        "setUserPassword",
        client.set_user_password(id, &password).if_match(&etag)
    );
    // An image: the SDK labels it with the type its bytes are.
    let image = include_bytes!("../../crates/users-conformance/assets/avatar.png");
    call!(
        "getUserAvatar",
        client.get_user_avatar(id).if_none_match(&etag)
    );
    call!(
        "setUserAvatar",
        client
            .set_user_avatar(id, reqwest::Body::from(image.to_vec()))
            .if_match(&etag)
    );
    call!(
        "deleteUserAvatar",
        client.delete_user_avatar(id).if_match(&etag)
    );
    call!("listCountries", client.list_countries());
    call!("listLanguages", client.list_languages());
    call!("listLocales", client.list_locales());
    call!("listTimeZones", client.list_time_zones());
    let group_create: types::GroupCreate =
        serde_json::from_value(json!({ "name": "Operations", "members": [USER_ID] })).unwrap();
    call!("createGroup", client.create_group(&group_create));
    call!(
        "listGroups",
        client
            .list_groups()
            .limit(10)
            .cursor("c2")
            .member(id)
            .q("ops")
    );
    call!("getGroup", client.get_group(id).if_none_match(&etag));
    call!(
        "updateGroup",
        client
            .update_group(
                id,
                GroupPatch {
                    description: Some(None),
                    ..GroupPatch::default()
                },
            )
            .if_match(&etag)
    );
    call!("deleteGroup", client.delete_group(id).if_match(&etag));
    call!(
        "listUserGroups",
        client.list_user_groups(id).limit(5).cursor("c3")
    );
    called
}

#[tokio::test]
async fn every_method_sends_what_the_spec_describes() {
    let called = record_every_method().await;
    let expected = expected_operations();
    assert_eq!(
        called.keys().collect::<BTreeSet<_>>(),
        expected.keys().collect::<BTreeSet<_>>(),
        "every operation of the spec is called once"
    );
    for (op, seen) in &called {
        let want = &expected[op];
        assert_eq!(seen.method, want.method, "{op}: method");
        assert!(
            matches_template(&want.template, &seen.path),
            "{op}: {} is not {}",
            seen.path,
            want.template
        );
        assert_eq!(seen.query, want.query, "{op}: query parameter names");
        for header in &want.headers {
            assert!(seen.headers.contains_key(header), "{op}: {header} not sent");
        }
        assert_sends_a_declared_media_type(op, seen.headers.get("content-type"), want);
        // Asks for what the operation answers: JSON, or the image types
        // of an image; problems either way.
        let accept = &seen.headers["accept"];
        let answers = if op == "getUserAvatar" {
            "image/jpeg, image/png, image/webp"
        } else {
            "application/json"
        };
        assert!(
            accept.contains(answers) && accept.contains("application/problem+json"),
            "{op}: Accept {accept}"
        );
        assert_eq!(seen.headers["authorization"], "Bearer t0ken", "{op}");
        assert!(
            seen.headers["user-agent"].starts_with("users-client/"),
            "{op}"
        );
    }
    // Of the three image types, the one the bytes are.
    assert_eq!(called["setUserAvatar"].headers["content-type"], "image/png");
}

/// The client sends a body as one of the media types the spec declares for
/// it (a merge patch as `application/merge-patch+json`, though the server
/// also reads it as `application/json`), and nothing without a body.
pub(crate) fn assert_sends_a_declared_media_type(op: &str, sent: Option<&String>, want: &Expected) {
    match sent {
        Some(sent) => assert!(
            want.content_types.contains(sent),
            "{op}: sent {sent}, the spec declares {:?}",
            want.content_types
        ),
        None => assert!(want.content_types.is_empty(), "{op}: no Content-Type"),
    }
    if want.content_types.contains("application/merge-patch+json") {
        assert_eq!(
            sent.map(String::as_str),
            Some("application/merge-patch+json"),
            "{op}"
        );
    }
}
