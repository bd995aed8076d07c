//! The server's semantics, each on both databases.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::TryStreamExt;
use serde_json::{Value, json};
use users_client::patch::UserPatch;
use users_client::{Conditional, types};
use users_server::app::AppOptions;
use users_server::service::Settings;

use super::seeds::{new_user, raw};
use super::{Db, TestServer};
use crate::on_both;

const MERGE: &str = "application/merge-patch+json";

/// For every member of `UserPatch` in the spec: absent leaves the stored
/// value alone, `null` removes it (where the spec allows null), and a value
/// is merged as RFC 7396 says.
async fn merge_patch_table(db: Db) {
    let spec = users_tests::spec_value();
    let server = TestServer::start(db).await;
    let token = server.token("admin-1", "acme", "users:admin", &[]);
    let full = json!({
        "name": { "firstName": "John", "lastName": "Smith" },
        "email": "table@example.com",
        "externalId": "1-ABCDE", "secondaryEmail": "j.smith@example.net", "phone": "+12345678901",
        "mobilePhone": "+12345678902", "jobTitle": "Head of Operations", "title": "Dr.",
        "position": "Operations", "description": "Runs the office.", "dateOfBirth": "1980-12-20",
        "gender": "male", "locale": "en-us", "preferredLanguage": "en", "timeZone": "America/New_York",
        "contactType": "technical", "sessionTimeout": 3600, "employeeId": "E-1",
        "avatarUrl": "https://cdn.example.com/a.png",
        "address": { "address1": "1 Main St.", "city": "Boston", "state": "MA", "zipCode": "02101", "countryCode": "US" },
        "mfa": { "enabled": true, "expirationInMinutes": 5 },
        "ownerOrganization": { "id": "3fa85f64-5717-4562-b3fc-2c963f66afa6" },
        "customAttributes": { "costCenter": "CC-12", "seniority": 3 },
        "notifications": { "onNewEmail": true, "onPurchases": false },
        "teams": ["ops"], "tags": ["boston"], "roles": ["viewer"]
    });
    let (status, created) = raw(
        &server,
        "POST",
        "/v1/users",
        &token,
        "application/json",
        full,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id: uuid::Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let path = format!("/v1/users/{id}");
    let patch_schema = &spec["components"]["schemas"]["UserPatch"]["properties"];
    let mut checked = 0;
    for (member, schema) in patch_schema.as_object().unwrap() {
        if member.starts_with("add") || member.starts_with("remove") {
            continue; // lists of changes, not members of the user
        }
        let before = server.stored("acme", id).await.unwrap().doc;
        // Absent: another member changes, this one stays.
        let other = if member == "description" {
            "position"
        } else {
            "description"
        };
        let nudge = json!({ other: format!("nudge {checked}") });
        let (status, body) = raw(&server, "PATCH", &path, &token, MERGE, nudge).await;
        assert_eq!(status, 200, "{member} absent: {body}");
        let after = server.stored("acme", id).await.unwrap().doc;
        assert_eq!(after.get(member), before.get(member), "{member} absent");

        // A value: merged into what is stored (RFC 7396).
        let value = users_tests::valid_instance(&spec, schema);
        let mut expected = after.clone();
        json_patch_merge(&mut expected, &json!({ member: value }));
        let (status, body) = raw(
            &server,
            "PATCH",
            &path,
            &token,
            MERGE,
            json!({ member: value }),
        )
        .await;
        assert_eq!(status, 200, "{member} value: {body}");
        let stored = server.stored("acme", id).await.unwrap().doc;
        assert_eq!(stored.get(member), expected.get(member), "{member} value");

        // Null: removed, where the spec lets the member be cleared.
        let nullable = schema["nullable"] == true
            || schema["$ref"]
                .as_str()
                .is_some_and(|r| spec.pointer(&r[1..]).unwrap()["nullable"] == true);
        let (status, body) = raw(
            &server,
            "PATCH",
            &path,
            &token,
            MERGE,
            json!({ member: null }),
        )
        .await;
        if nullable {
            assert_eq!(status, 200, "{member} null: {body}");
            assert!(
                server
                    .stored("acme", id)
                    .await
                    .unwrap()
                    .doc
                    .get(member)
                    .is_none(),
                "{member} null"
            );
        } else {
            assert_eq!(status, 400, "{member} cannot be null: {body}");
            assert_eq!(body["errors"][0]["field"], member.as_str());
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} members");
    server.stop().await;
}
on_both!(merge_patch_follows_rfc_7396, merge_patch_table);

/// RFC 7396's algorithm, for the expected values.
fn json_patch_merge(target: &mut Value, patch: &Value) {
    if let Value::Object(patch) = patch {
        if !target.is_object() {
            *target = json!({});
        }
        let object = target.as_object_mut().unwrap();
        for (key, value) in patch {
            if value.is_null() {
                object.remove(key);
            } else {
                json_patch_merge(object.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    } else {
        *target = patch.clone();
    }
}

async fn idempotency(db: Db) {
    let server = TestServer::start(db).await;
    let admin = server.admin();
    let first = admin
        .create_user(new_user("idem@example.com"))
        .idempotency_key("key-1")
        .await
        .unwrap();
    let replay = admin
        .create_user(new_user("idem@example.com"))
        .idempotency_key("key-1")
        .await
        .unwrap();
    assert_eq!(first, replay, "a replay returns the same response");
    let err = admin
        .create_user(new_user("other@example.com"))
        .idempotency_key("key-1")
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(422));
    assert_eq!(err.code(), Some("idempotency-key-reused"));
    // The key is the caller's: another caller's same key is a new create.
    let other = server.client(&server.token("admin-2", "acme", "users:admin", &[]));
    let theirs = other
        .create_user(new_user("theirs@example.com"))
        .idempotency_key("key-1")
        .await
        .unwrap();
    assert_ne!(theirs.id, first.id);

    // Concurrent duplicates: one user at most; the others replay or get 409.
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let admin = admin.clone();
            tokio::spawn(async move {
                admin
                    .create_user(new_user("race@example.com"))
                    .idempotency_key("key-race")
                    .await
            })
        })
        .collect();
    let mut ids = BTreeSet::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(user) => {
                ids.insert(user.id);
            }
            Err(err) => assert_eq!(err.status().map(|s| s.as_u16()), Some(409), "{err}"),
        }
    }
    assert_eq!(ids.len(), 1, "one user for one key");
    let all: Vec<types::User> = admin
        .list_users()
        .email("race@example.com")
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    server.stop().await;
}
on_both!(idempotency_keys, idempotency);

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
    let tag = user.etag().unwrap().clone();
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
    assert_eq!(err.code(), Some("precondition-required"));
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
        .if_match(updated.etag().unwrap())
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
        .if_match(updated.etag().unwrap())
        .await
        .unwrap();
    assert!(server.stored("acme", user.id).await.is_none());
    server.stop().await;
}
on_both!(conditional_requests, conditional_and_required_if_match);

async fn status_timestamps(db: Db) {
    let server = TestServer::start(db).await;
    let admin = server.admin();
    let user = admin
        .create_user(new_user("status@example.com"))
        .await
        .unwrap();
    assert!(user.activated_at.is_some() && user.deactivated_at.is_none());
    let deactivate = UserPatch {
        status: Some(types::UserStatus::Deactivated),
        ..UserPatch::default()
    };
    let off = admin.update_user(user.id, &deactivate).await.unwrap();
    assert_eq!(off.status, "deactivated");
    assert!(off.deactivated_at.is_some());
    let archive = UserPatch {
        status: Some(types::UserStatus::Archived),
        ..UserPatch::default()
    };
    let archived = admin.update_user(user.id, &archive).await.unwrap();
    assert!(archived.archived_at.is_some());
    assert_eq!(archived.deactivated_at, off.deactivated_at);
    server.stop().await;
}
on_both!(status_changes_are_stamped, status_timestamps);

async fn privileged_and_tenants(db: Db) {
    let server = TestServer::start(db).await;
    let admin = server.admin();
    let user = admin
        .create_user(new_user("priv@example.com"))
        .await
        .unwrap();
    let writer_token = server.token(&user.id.to_string(), "acme", "users:write", &[]);
    let path = format!("/v1/users/{}", user.id);
    let before = server.stored("acme", user.id).await.unwrap();
    for (field, value) in [
        ("status", json!("archived")),
        ("roles", json!(["admin"])),
        ("addRoles", json!(["admin"])),
        ("removeRoles", json!(["viewer"])),
        ("isAdmin", json!(true)),
        ("apiAccess", json!(true)),
        ("mustResetPassword", json!(true)),
    ] {
        let (status, problem) = raw(
            &server,
            "PATCH",
            &path,
            &writer_token,
            MERGE,
            json!({ field: value, "jobTitle": "Changed" }),
        )
        .await;
        assert_eq!(status, 403, "{field}: {problem}");
        assert_eq!(problem["code"], "privileged-field");
        assert_eq!(problem["errors"][0]["field"], field);
        assert_eq!(
            server.stored("acme", user.id).await.unwrap(),
            before,
            "{field}: nothing changed"
        );
    }
    // The user themself may change their own profile.
    let (status, body) = raw(
        &server,
        "PATCH",
        &path,
        &writer_token,
        MERGE,
        json!({ "jobTitle": "Changed" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Another account sees nothing.
    let stranger = server.token("admin-x", "globex", "users:admin", &[]);
    for (method, media, body) in [
        ("GET", "application/json", Value::Null),
        ("PATCH", MERGE, json!({ "jobTitle": "x" })),
        (
            "PUT",
            "application/json",
            json!({ "name": { "firstName": "A", "lastName": "B" }, "email": "a@example.com" }),
        ),
        ("DELETE", "application/json", Value::Null),
    ] {
        let body = if body.is_null() { json!({}) } else { body };
        let response = reqwest::Client::new()
            .request(method.parse().unwrap(), format!("{}{path}", server.url))
            .bearer_auth(&stranger)
            .header("content-type", media)
            .body(if method == "GET" || method == "DELETE" {
                String::new()
            } else {
                body.to_string()
            })
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 404, "{method}");
    }
    assert!(server.stored("acme", user.id).await.is_some());
    server.stop().await;
}
on_both!(privileged_fields_and_tenants, privileged_and_tenants);

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
    assert_eq!(err.field_errors()[0].field, "currentPassword");
    let right: types::PasswordChange = serde_json::from_value(
        json!({ "currentPassword": "correct horse battery", "newPassword": "staple battery horse" }),
    )
    .unwrap();
    own.set_user_password(user.id, &right).await.unwrap();
    server.stop().await;
}
on_both!(passwords_are_argon2id, passwords);

async fn cursor_stability(db: Db) {
    let server = TestServer::start(db).await;
    let admin = server.admin();
    let mut existing = BTreeSet::new();
    for i in 0..25 {
        existing.insert(
            admin
                .create_user(new_user(&format!("page{i}@example.com")))
                .await
                .unwrap()
                .id,
        );
    }
    let writer = {
        let admin = admin.clone();
        tokio::spawn(async move {
            for i in 0..25 {
                admin
                    .create_user(new_user(&format!("late{i}@example.com")))
                    .await
                    .unwrap();
            }
        })
    };
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = admin.list_users().limit(4);
        if let Some(cursor) = &cursor {
            request = request.cursor(cursor.as_str());
        }
        let page = request.await.unwrap().into_inner();
        seen.extend(page.items.iter().map(|u| u.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    writer.await.unwrap();
    let unique: BTreeSet<_> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no user twice");
    assert!(existing.is_subset(&unique), "no existing user skipped");
    server.stop().await;
}
on_both!(cursors_neither_skip_nor_repeat, cursor_stability);

async fn lost_updates(db: Db) {
    let server = TestServer::start(db).await;
    let admin = Arc::new(server.admin());
    let user = admin
        .create_user(new_user("race8@example.com"))
        .await
        .unwrap();
    let mut tag = user.etag().unwrap().clone();
    let mut expected = serde_json::Map::new();
    for round in 0u32..200 {
        let tasks: Vec<_> = (0..8)
            .map(|task| {
                let admin = admin.clone();
                let tag = tag.clone();
                let id = user.id;
                tokio::spawn(async move {
                    let attributes = std::collections::HashMap::from([(
                        format!("t{task}"),
                        serde_json::from_value(json!(f64::from(round))).unwrap(),
                    )]);
                    let patch = UserPatch {
                        custom_attributes: Some(Some(attributes)),
                        ..UserPatch::default()
                    };
                    admin.update_user(id, &patch).if_match(&tag).await
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(user) => winners.push(user),
                Err(err) => assert_eq!(
                    err.status().map(|s| s.as_u16()),
                    Some(412),
                    "round {round}: {err}"
                ),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one success");
        let current = winners.pop().unwrap();
        tag = current.etag().unwrap().clone();
        assert_eq!(current.resource_version.get(), u64::from(round) + 2);
        // The winner's key now holds this round; every earlier key survives.
        let attributes = current.custom_attributes.clone();
        let winner = attributes
            .iter()
            .find(|(_, v)| v.as_f64() == Some(f64::from(round)))
            .map(|(k, _)| k.clone())
            .expect("the winner's attribute");
        expected.insert(winner, json!(f64::from(round)));
        assert_eq!(attributes, expected, "round {round}");
    }
    let stored = server.stored("acme", user.id).await.unwrap();
    assert_eq!(stored.resource_version, 201);
    assert_eq!(
        stored.doc["customAttributes"],
        Value::Object(expected),
        "no update lost"
    );
    assert_eq!(admin.get_user(user.id).await.unwrap().etag(), Some(&tag));
    server.stop().await;
}
on_both!(concurrent_if_match_patches_lose_nothing, lost_updates);

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

/// Case is folded by the server (Unicode lowercase, not a database's
/// collation), so both databases agree on uniqueness and on text search.
/// (`format: email` admits ASCII addresses only; names carry the non-ASCII.)
async fn case_folding(db: Db) {
    let server = TestServer::start(db).await;
    let admin = server.admin();
    let mut first = new_user("Ada.Lovelace@Example.com");
    first.name =
        serde_json::from_value(json!({ "firstName": "Ängström", "lastName": "Øre" })).unwrap();
    admin.create_user(&first).await.unwrap();
    let err = admin
        .create_user(new_user("ada.lovelace@example.COM"))
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(409));
    assert_eq!(err.code(), Some("duplication-violation"));
    assert_eq!(err.field_errors()[0].field, "email");
    let by_email: Vec<types::User> = admin
        .list_users()
        .email("ADA.LOVELACE@example.com")
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(by_email.len(), 1);
    for text in ["ängström", "ÄNGSTRÖM", "øre", "ØRE"] {
        let found: Vec<types::User> = admin
            .list_users()
            .q(text)
            .stream()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "{text}");
    }
    server.stop().await;
}
on_both!(case_is_folded_alike_on_both_databases, case_folding);

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
    assert!(
        !logs.contains(&hash) && !logs.contains("$argon2id$"),
        "the hash was logged"
    );
    assert!(
        logs.lines().count() > 5,
        "TRACE logging captured little: {logs}"
    );
}

/// Without `If-Match` the caller asked for no precondition: concurrent
/// PATCHes all succeed, each merged into what the others wrote.
async fn unconditional_patches(db: Db) {
    let server = TestServer::start(db).await;
    let admin = Arc::new(server.admin());
    let user = admin
        .create_user(new_user("free@example.com"))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let admin = admin.clone();
            let id = user.id;
            tokio::spawn(async move {
                let attributes = std::collections::HashMap::from([(
                    format!("t{task}"),
                    serde_json::from_value(json!(true)).unwrap(),
                )]);
                let patch = UserPatch {
                    custom_attributes: Some(Some(attributes)),
                    ..UserPatch::default()
                };
                admin.update_user(id, &patch).await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let stored = server.stored("acme", user.id).await.unwrap();
    assert_eq!(stored.resource_version, 9);
    assert_eq!(stored.doc["customAttributes"].as_object().unwrap().len(), 8);
    server.stop().await;
}
on_both!(unconditional_patches_all_apply, unconditional_patches);

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

/// Gap-free cursors: four writers insert while a client pages through with
/// small pages. Every user committed before the walk started is seen once,
/// no user is seen twice, and no user whose insert was acknowledged before
/// the walk's last page was requested is skipped. (On PostgreSQL a sequence
/// alone is not enough: inserts can commit out of sequence order, and a
/// walk past a later number would skip the earlier one.)
async fn gap_free_cursors(db: Db) {
    use std::time::Instant;

    let server = TestServer::start(db).await;
    let admin = Arc::new(server.admin());
    let mut before = BTreeSet::new();
    for i in 0..10 {
        before.insert(
            admin
                .create_user(new_user(&format!("before{i}@example.com")))
                .await
                .unwrap()
                .id,
        );
    }
    let acked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (admin, acked) = (admin.clone(), acked.clone());
            tokio::spawn(async move {
                for i in 0..30 {
                    let user = admin
                        .create_user(new_user(&format!("w{w}-{i}@example.com")))
                        .await
                        .unwrap();
                    acked.lock().unwrap().push((user.id, Instant::now()));
                }
            })
        })
        .collect();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut last_request;
    loop {
        last_request = Instant::now();
        let mut request = admin.list_users().limit(2);
        if let Some(cursor) = &cursor {
            request = request.cursor(cursor.as_str());
        }
        let page = request.await.unwrap().into_inner();
        seen.extend(page.items.iter().map(|u| u.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let unique: BTreeSet<_> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "a user was seen twice");
    assert!(
        before.is_subset(&unique),
        "a user from before the walk was skipped"
    );
    let skipped: Vec<_> = acked
        .lock()
        .unwrap()
        .iter()
        .filter(|(id, at)| *at < last_request && !unique.contains(id))
        .map(|(id, _)| *id)
        .collect();
    assert!(
        skipped.is_empty(),
        "{} users acknowledged before the last page was requested were skipped: {skipped:?}",
        skipped.len()
    );
    server.stop().await;
}
on_both!(
    cursors_are_gap_free_under_concurrent_inserts,
    gap_free_cursors
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
