//! One scenario per reference page: the behaviours each seed documents,
//! replayed against the reference server.

use serde_json::{Value, json};
use users_client::patch::UserPatch;
use users_client::types;

use super::{Db, TestServer};
use crate::on_both;

pub(super) fn new_user(email: &str) -> types::UserCreate {
    serde_json::from_value(json!({
        "name": { "firstName": "John", "lastName": "Smith" },
        "email": email,
        "jobTitle": "Head of Operations",
        "phone": "+12345678901",
        "address": { "address1": "1 Main St.", "city": "Boston", "state": "MA", "zipCode": "02101", "countryCode": "US" }
    }))
    .unwrap()
}

pub(super) async fn raw(
    server: &TestServer,
    method: &str,
    path: &str,
    token: &str,
    media: &str,
    body: Value,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .request(method.parse().unwrap(), format!("{}{path}", server.url))
        .bearer_auth(token)
        .header("content-type", media)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

fn fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["field"].as_str().unwrap())
        .collect()
}

/// BioT: partial update. "If a field is specified in the request it will be
/// updated": a nested object merges member by member, and rules relating
/// its members are judged on the merged result. An object replaced whole
/// (`name`) still needs its required children.
async fn biot(db: Db) {
    let server = TestServer::start(db).await;
    let admin = server.admin();
    let token = server.token("admin-1", "acme", "users:admin", &[]);
    let user = admin
        .create_user(new_user("john@example.com"))
        .await
        .unwrap();
    let path = format!("/v1/users/{}", user.id);
    let patch = |body: Value| {
        raw(
            &server,
            "PATCH",
            &path,
            &token,
            "application/merge-patch+json",
            body,
        )
    };

    // The stored US address has a state: a patch need not repeat it.
    let (status, updated) =
        patch(json!({ "address": { "countryCode": "US", "city": "Cambridge" } })).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["address"]["city"], "Cambridge");
    assert_eq!(updated["address"]["state"], "MA");
    assert_eq!(updated["address"]["address1"], "1 Main St.");
    let (status, updated) = patch(json!({ "address": { "zipCode": "02139" } })).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["address"]["zipCode"], "02139");
    assert_eq!(updated["address"]["countryCode"], "US");

    // The merged address must still satisfy the rules, named by field.
    let (status, problem) = patch(json!({ "address": { "state": null } })).await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(
        problem["detail"],
        "address.state: is required in the US and Canada"
    );
    let (status, problem) = patch(json!({ "address": { "zipCode": "2139" } })).await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(
        problem["detail"],
        "address.zipCode: is not a five-digit US ZIP code"
    );
    let (status, problem) = patch(json!({ "mfa": { "expirationInMinutes": 5 } })).await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(fields(&problem), ["mfa.enabled"]);
    let (status, updated) = patch(json!({ "mfa": { "enabled": true } })).await;
    assert_eq!(status, 200, "{updated}");
    let (status, updated) = patch(json!({ "mfa": { "expirationInMinutes": 5 } })).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        updated["mfa"],
        json!({ "enabled": true, "expirationInMinutes": 5 })
    );
    // Nothing of a refused patch was written.
    let stored = server.stored("acme", user.id).await.unwrap();
    assert_eq!(stored.resource_version, 5);

    let (status, problem) = patch(json!({ "name": { "firstName": "A" } })).await;
    assert_eq!(status, 400);
    assert_eq!(fields(&problem), ["name.lastName"]);
    assert_eq!(problem["detail"], "name.lastName: is required");
    // The SDK refuses the same input before sending it.
    assert!(serde_json::from_value::<UserPatch>(json!({ "name": { "firstName": "A" } })).is_err());

    // A user without an address: a partial one is judged as it merges.
    let bare = admin
        .create_user(
            serde_json::from_value::<types::UserCreate>(json!({
                "name": { "firstName": "B", "lastName": "C" }, "email": "b@example.com"
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let (status, problem) = raw(
        &server,
        "PATCH",
        &format!("/v1/users/{}", bare.id),
        &token,
        "application/merge-patch+json",
        json!({ "address": { "city": "Cambridge" } }),
    )
    .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(fields(&problem), ["address.countryCode"]);
    server.stop().await;
}
on_both!(biot_partial_update, biot);

/// Still BioT: a field sent is updated, an absent one left alone.
async fn biot_fields(db: Db) {
    let server = TestServer::start(db).await;
    let admin = server.admin();
    let user = admin
        .create_user(new_user("john@example.com"))
        .await
        .unwrap();

    // A field sent is updated, an absent one is left alone.
    let patch = UserPatch {
        job_title: Some(Some("CTO".parse().unwrap())),
        ..UserPatch::default()
    };
    let updated = admin.update_user(user.id, &patch).await.unwrap();
    assert_eq!(updated.job_title.as_deref(), Some("CTO"));
    assert_eq!(updated.phone, user.phone);
    assert_eq!(updated.address, user.address);
    assert_eq!(
        server
            .stored("acme", user.id)
            .await
            .unwrap()
            .resource_version,
        2
    );
    server.stop().await;
}
on_both!(biot_fields_sent_are_updated, biot_fields);

/// Akamai: PUT replaces the whole profile; accountSwitchKey acts on another
/// account the token lists.
async fn akamai(db: Db) {
    let server = TestServer::start(db).await;
    let admin = server.admin();
    let user = admin
        .create_user(new_user("jane@example.com"))
        .await
        .unwrap();
    let replace: types::UserReplace = serde_json::from_value(json!({
        "name": { "firstName": "Jane", "lastName": "Smith" },
        "email": "jane@example.com",
        "timeZone": "America/Toronto"
    }))
    .unwrap();
    let replaced = admin
        .replace_user(user.id, &replace)
        .if_match(user.etag())
        .await
        .unwrap();
    assert_eq!(
        replaced.job_title, None,
        "omitted optional fields are cleared"
    );
    assert_eq!(replaced.phone, None);
    assert_eq!(replaced.address, None);
    assert_eq!(replaced.time_zone.as_deref(), Some("America/Toronto"));
    assert_eq!(
        replaced.status,
        types::UserStatus::Active,
        "PUT leaves the status alone"
    );

    let eu = admin.for_tenant("acme-eu");
    let there = eu.create_user(new_user("eu@example.com")).await.unwrap();
    assert_eq!(there.account_id, "acme-eu");
    assert_eq!(eu.get_user(there.id).await.unwrap().id, there.id);
    let err = admin.get_user(there.id).await.unwrap_err();
    assert_eq!(
        err.status().map(|s| s.as_u16()),
        Some(404),
        "another account's user is not found"
    );
    let err = admin
        .for_tenant("globex")
        .get_user(there.id)
        .await
        .unwrap_err();
    assert_eq!(
        err.status().map(|s| s.as_u16()),
        Some(403),
        "an account the token does not list"
    );
    server.stop().await;
}
on_both!(akamai_full_replace_and_account_switch, akamai);

/// awork: resourceVersion and updatedBy change on every update; a stale
/// version is refused.
async fn awork(db: Db) {
    let server = TestServer::start(db).await;
    let creator_token = server.token("creator-7", "acme", "users:write", &[]);
    let creator = server.client(&creator_token);
    let user = creator
        .create_user(new_user("max@example.com"))
        .await
        .unwrap();
    assert_eq!(user.created_by, "creator-7");
    assert_eq!(user.resource_version.get(), 1);

    let admin = server.admin();
    let patch = UserPatch {
        position: Some(Some("Operations".parse().unwrap())),
        ..UserPatch::default()
    };
    let updated = admin
        .update_user(user.id, &patch)
        .if_match(user.etag())
        .await
        .unwrap();
    assert_eq!(updated.resource_version.get(), 2);
    assert_eq!(updated.updated_by, "admin-1");
    assert!(updated.updated_at >= user.updated_at);

    // The creator may update; a stale version is a 412 and changes nothing.
    let stale = creator
        .update_user(user.id, &patch)
        .if_match(user.etag())
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Some(types::ProblemCode::ConcurrencyViolation));
    assert_eq!(stale.status().map(|s| s.as_u16()), Some(412));
    let by_creator = creator
        .update_user(
            user.id,
            &UserPatch {
                title: Some(Some("Dr.".parse().unwrap())),
                ..UserPatch::default()
            },
        )
        .if_match(updated.etag())
        .await
        .unwrap();
    assert_eq!(by_creator.updated_by, "creator-7");
    assert_eq!(by_creator.resource_version.get(), 3);

    // Someone else without users:admin may not.
    let other = server.client(&server.token("other-9", "acme", "users:write", &[]));
    let err = other.update_user(user.id, &patch).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(403));
    server.stop().await;
}
on_both!(awork_versions_and_audit, awork);

/// Nexudus: relation lists with added and removed members; every error
/// listed as `field: message`.
async fn nexudus(db: Db) {
    let server = TestServer::start(db).await;
    let admin = server.admin();
    let token = server.token("admin-1", "acme", "users:admin", &[]);
    let user = admin
        .create_user(new_user("ana@example.com"))
        .await
        .unwrap();
    let path = format!("/v1/users/{}", user.id);
    let (status, body) = raw(
        &server,
        "PATCH",
        &path,
        &token,
        "application/merge-patch+json",
        json!({ "roles": ["viewer", "editor"], "teams": ["boston"] }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = raw(
        &server,
        "PATCH",
        &path,
        &token,
        "application/merge-patch+json",
        json!({ "addRoles": ["billing-admin"], "removeRoles": ["viewer"], "addTeams": ["remote"] }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Relations are sets (`uniqueItems`), answered sorted however they
    // were changed.
    assert_eq!(body["roles"], json!(["billing-admin", "editor"]));
    assert_eq!(body["teams"], json!(["boston", "remote"]));

    let (status, problem) = raw(
        &server,
        "PATCH",
        &path,
        &token,
        "application/merge-patch+json",
        json!({ "email": "nope", "roles": ["x"], "addRoles": ["y"], "addTags": ["t"], "removeTags": ["t"] }),
    )
    .await;
    assert_eq!(status, 400);
    // Document order: the members' own errors as they were sent, then the
    // rules relating members, in the order the schema states them.
    assert_eq!(
        problem["detail"],
        "email: is not a valid email; roles: cannot be sent together with addRoles or removeRoles; removeTags: names a tag that addTags adds"
    );
    assert_eq!(fields(&problem), ["email", "roles", "removeTags"]);
    server.stop().await;
}
on_both!(nexudus_relations_and_error_list, nexudus);

/// Clients of the reference APIs send partial updates as
/// `application/json`: read as the same merge patch. `{}` is a valid merge
/// patch (RFC 7396) that changes nothing, and no problem names an empty
/// field path, whatever the body.
async fn merge_patch_bodies(db: Db) {
    let server = TestServer::start(db).await;
    let admin = server.admin();
    let token = server.token("admin-1", "acme", "users:admin", &[]);
    let user = admin
        .create_user(new_user("john@example.com"))
        .await
        .unwrap();
    let path = format!("/v1/users/{}", user.id);

    let (status, updated) = raw(
        &server,
        "PATCH",
        &path,
        &token,
        "application/json; charset=utf-8",
        json!({ "jobTitle": "CTO" }),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["jobTitle"], "CTO");
    assert_eq!(updated["resourceVersion"], 2);
    let (status, problem) = raw(&server, "PATCH", &path, &token, "text/plain", json!({})).await;
    assert_eq!(status, 415, "{problem}");
    assert_eq!(
        problem["detail"],
        "send the body as application/json or application/merge-patch+json"
    );

    let (status, same) = raw(
        &server,
        "PATCH",
        &path,
        &token,
        "application/merge-patch+json",
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{same}");
    assert_eq!(same, updated, "{{}} changes nothing, not even the version");

    for (method, path, media) in [
        ("PATCH", path.as_str(), "application/merge-patch+json"),
        ("PUT", path.as_str(), "application/json"),
        ("POST", "/v1/users", "application/json"),
    ] {
        for body in [json!([]), json!("x"), json!(1), json!(null), json!([{}])] {
            let (status, problem) = raw(&server, method, path, &token, media, body.clone()).await;
            assert_eq!(status, 400, "{method} {body}: {problem}");
            assert_eq!(problem["code"], "malformed-request", "{problem}");
            assert!(
                problem["errors"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .all(|e| e["field"] != ""),
                "{method} {body}: {problem}"
            );
            assert!(
                !problem["detail"].as_str().unwrap().starts_with(':'),
                "{problem}"
            );
        }
    }
    let (status, problem) = raw(
        &server,
        "POST",
        "/v1/users",
        &token,
        "application/json",
        json!({ "email": 3 }),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("email: must be a string"),
        "{problem}"
    );
    server.stop().await;
}
on_both!(merge_patch_bodies_and_the_empty_patch, merge_patch_bodies);
