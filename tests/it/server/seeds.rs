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

/// BioT: partial update; a nested object's starred children are required
/// once the object is sent.
async fn biot(db: Db) {
    let server = TestServer::start(db).await;
    let admin = server.admin();
    let token = server.token("admin-1", "acme", "users:admin", &[]);
    let user = admin
        .create_user(&new_user("john@example.com"))
        .await
        .unwrap();
    let path = format!("/v1/users/{}", user.id);

    let (status, problem) = raw(
        &server,
        "PATCH",
        &path,
        &token,
        "application/merge-patch+json",
        json!({ "address": { "city": "Cambridge" } }),
    )
    .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(fields(&problem), ["address.countryCode"]);
    let (status, problem) = raw(
        &server,
        "PATCH",
        &path,
        &token,
        "application/merge-patch+json",
        json!({ "name": { "firstName": "A" } }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(fields(&problem), ["name.lastName"]);
    assert_eq!(problem["detail"], "name.lastName: is required");
    // The SDK refuses the same input before sending it.
    assert!(
        serde_json::from_value::<UserPatch>(json!({ "address": { "city": "Cambridge" } })).is_err()
    );
    assert!(serde_json::from_value::<UserPatch>(json!({ "name": { "firstName": "A" } })).is_err());

    // A field sent is updated, an absent one is left alone.
    let patch = UserPatch {
        job_title: Some(Some("CTO".parse().unwrap())),
        ..UserPatch::default()
    };
    let updated = admin.update_user(user.id, &patch, None).await.unwrap();
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
on_both!(biot_partial_update, biot);

/// Akamai: PUT replaces the whole profile; accountSwitchKey acts on another
/// account the token lists.
async fn akamai(db: Db) {
    let server = TestServer::start(db).await;
    let admin = server.admin();
    let user = admin
        .create_user(&new_user("jane@example.com"))
        .await
        .unwrap();
    let replace: types::UserReplace = serde_json::from_value(json!({
        "name": { "firstName": "Jane", "lastName": "Smith" },
        "email": "jane@example.com",
        "timeZone": "America/Toronto"
    }))
    .unwrap();
    let replaced = admin
        .replace_user(user.id, &replace, Some(&users_client::etag(&user)))
        .await
        .unwrap();
    assert_eq!(
        replaced.job_title, None,
        "omitted optional fields are cleared"
    );
    assert_eq!(replaced.phone, None);
    assert_eq!(replaced.address, None);
    assert_eq!(replaced.time_zone.as_deref(), Some("America/Toronto"));
    assert_eq!(replaced.status, "active", "PUT leaves the status alone");

    let eu = admin.for_account("acme-eu");
    let there = eu.create_user(&new_user("eu@example.com")).await.unwrap();
    assert_eq!(there.account_id, "acme-eu");
    assert_eq!(eu.get_user(there.id).await.unwrap().id, there.id);
    let err = admin.get_user(there.id).await.unwrap_err();
    assert_eq!(
        err.status().map(|s| s.as_u16()),
        Some(404),
        "another account's user is not found"
    );
    let err = admin
        .for_account("globex")
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
        .create_user(&new_user("max@example.com"))
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
        .update_user(user.id, &patch, Some(&users_client::etag(&user)))
        .await
        .unwrap();
    assert_eq!(updated.resource_version.get(), 2);
    assert_eq!(updated.updated_by, "admin-1");
    assert!(updated.updated_at >= user.updated_at);

    // The creator may update; a stale version is a 412 and changes nothing.
    let stale = creator
        .update_user(user.id, &patch, Some(&users_client::etag(&user)))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Some("concurrency-violation"));
    assert_eq!(stale.status().map(|s| s.as_u16()), Some(412));
    let by_creator = creator
        .update_user(
            user.id,
            &UserPatch {
                title: Some(Some("Dr.".parse().unwrap())),
                ..UserPatch::default()
            },
            Some(&users_client::etag(&updated)),
        )
        .await
        .unwrap();
    assert_eq!(by_creator.updated_by, "creator-7");
    assert_eq!(by_creator.resource_version.get(), 3);

    // Someone else without users:admin may not.
    let other = server.client(&server.token("other-9", "acme", "users:write", &[]));
    let err = other.update_user(user.id, &patch, None).await.unwrap_err();
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
        .create_user(&new_user("ana@example.com"))
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
    assert_eq!(body["roles"], json!(["editor", "billing-admin"]));
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
    assert_eq!(
        problem["detail"],
        "email: is not a valid email; removeTags: names a tag that addTags adds; roles: cannot be sent together with addRoles or removeRoles"
    );
    assert_eq!(fields(&problem), ["email", "removeTags", "roles"]);
    server.stop().await;
}
on_both!(nexudus_relations_and_error_list, nexudus);
