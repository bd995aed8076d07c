//! SCIM 2.0 end to end on both stores, for what identity providers do that
//! `cargo xtask scim` (scim2-tester) does not check: one user seen and
//! changed through both APIs in one version sequence, Entra ID's soft
//! delete (`PATCH active` to `"False"`) and its `userName eq` lookup,
//! Okta's `PUT` of what it read, paging through 1,000 users, groups shared
//! with `/v1/groups`, and every filter operator run in the database.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Db, TestServer};
use crate::on_both;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

struct Scim {
    http: reqwest::Client,
    url: String,
    token: String,
    /// A Users API admin of the same account.
    admin: String,
}

struct Answer {
    status: StatusCode,
    etag: Option<String>,
    media: String,
    body: Value,
}

impl Scim {
    fn new(server: &TestServer) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: server.url.clone(),
            token: server.token("okta", "acme", "scim", &[]),
            admin: server.token("admin-1", "acme", "users:admin", &[]),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let etag = response
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_owned());
        let media = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
        };
        Answer {
            status,
            etag,
            media,
            body,
        }
    }

    async fn scim(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Answer {
        self.send(method, path, &self.token, body, &[]).await
    }

    async fn v1(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.admin);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/merge-patch+json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let etag = response
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = response.text().await.unwrap();
        Answer {
            status,
            etag,
            media: String::new(),
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    async fn create_user(&self, email: &str, given: &str, family: &str) -> Value {
        let created = self
            .scim(
                reqwest::Method::POST,
                "/scim/v2/Users",
                Some(json!({
                    "schemas": [USER],
                    "userName": email,
                    "name": { "givenName": given, "familyName": family },
                })),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        created.body
    }

    /// The userNames a filter selects, sorted.
    async fn names(&self, filter: &str) -> Vec<String> {
        let path = format!(
            "/scim/v2/Users?count=200&filter={}",
            percent_encoding::utf8_percent_encode(filter, percent_encoding::NON_ALPHANUMERIC)
        );
        let page = self.scim(reqwest::Method::GET, &path, None).await;
        assert_eq!(page.status, StatusCode::OK, "{filter}: {}", page.body);
        let mut names: Vec<String> = page.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(page.body["totalResults"], names.len(), "{filter}");
        names.sort();
        names
    }
}

fn patch(operations: Value) -> Option<Value> {
    Some(json!({ "schemas": [PATCH_OP], "Operations": operations }))
}

async fn one_user_through_both_apis(db: Db) {
    let server = TestServer::start(db).await;
    let scim = Scim::new(&server);
    let created = scim.create_user("ann@example.com", "Ann", "Lee").await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["meta"]["version"], "W/\"1\"");
    assert_eq!(created["active"], true);

    // The Users API reads the same user at the same version.
    let read = scim
        .v1(reqwest::Method::GET, &format!("/v1/users/{id}"), None)
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.etag.as_deref(), Some("\"1\""));
    assert_eq!(read.body["email"], "ann@example.com");
    assert_eq!(
        read.body["name"],
        json!({ "firstName": "Ann", "lastName": "Lee" })
    );

    // A change there is version 2 here.
    let changed = scim
        .v1(
            reqwest::Method::PATCH,
            &format!("/v1/users/{id}"),
            Some(json!({ "jobTitle": "Engineer" })),
        )
        .await;
    assert_eq!(changed.etag.as_deref(), Some("\"2\""), "{}", changed.body);
    let got = scim
        .scim(reqwest::Method::GET, &format!("/scim/v2/Users/{id}"), None)
        .await;
    assert_eq!(got.etag.as_deref(), Some("W/\"2\""));
    assert_eq!(got.body["title"], "Engineer");
    assert_eq!(got.media, "application/scim+json");

    // A SCIM change against that version is version 3 there; a stale one
    // is refused and changes nothing.
    let patched = scim
        .send(
            reqwest::Method::PATCH,
            &format!("/scim/v2/Users/{id}"),
            &scim.token,
            patch(json!([{ "op": "replace", "path": "title", "value": "Lead" }])),
            &[("if-match", "W/\"2\"")],
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.etag.as_deref(), Some("W/\"3\""));
    let stale = scim
        .send(
            reqwest::Method::PATCH,
            &format!("/scim/v2/Users/{id}"),
            &scim.token,
            patch(json!([{ "op": "replace", "path": "title", "value": "CEO" }])),
            &[("if-match", "W/\"2\"")],
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        stale.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(stale.body["status"], "412");
    let read = scim
        .v1(reqwest::Method::GET, &format!("/v1/users/{id}"), None)
        .await;
    assert_eq!(read.etag.as_deref(), Some("\"3\""));
    assert_eq!(read.body["jobTitle"], "Lead");

    // Not modified while unchanged.
    let same = scim
        .send(
            reqwest::Method::GET,
            &format!("/scim/v2/Users/{id}"),
            &scim.token,
            None,
            &[("if-none-match", "W/\"3\"")],
        )
        .await;
    assert_eq!(same.status, StatusCode::NOT_MODIFIED);

    // A user made through the Users API is found through SCIM.
    let made = scim
        .http
        .post(format!("{}/v1/users", scim.url))
        .bearer_auth(&scim.admin)
        .json(
            &json!({ "email": "bo@example.com", "name": { "firstName": "Bo", "lastName": "Yu" } }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    assert_eq!(
        scim.names(r#"userName eq "BO@example.com""#).await,
        ["bo@example.com"]
    );

    // Each API's scopes are its own.
    let denied = scim
        .send(
            reqwest::Method::GET,
            "/scim/v2/Users",
            &scim.admin,
            None,
            &[],
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(denied.body["status"], "403");
    let denied = scim
        .send(reqwest::Method::GET, "/v1/users", &scim.token, None, &[])
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    // Deprovisioning deletes the user for both.
    let gone = scim
        .send(
            reqwest::Method::DELETE,
            &format!("/scim/v2/Users/{id}"),
            &scim.token,
            None,
            &[("if-match", "W/\"3\"")],
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let read = scim
        .v1(reqwest::Method::GET, &format!("/v1/users/{id}"), None)
        .await;
    assert_eq!(read.status, StatusCode::NOT_FOUND);
    server.stop().await;
}

on_both!(
    a_user_is_one_user_in_both_apis_with_one_version,
    one_user_through_both_apis
);

async fn entra_soft_delete(db: Db) {
    let server = TestServer::start(db).await;
    let scim = Scim::new(&server);
    let created = scim.create_user("Cy@Example.com", "Cy", "Ro").await;
    let id = created["id"].as_str().unwrap();
    // Entra looks a user up by userName, without regard to case.
    assert_eq!(
        scim.names(r#"userName eq "cy@example.com""#).await,
        ["Cy@Example.com"]
    );
    // Its soft delete: `Replace` (capitalized), `active` as the string "False".
    let patched = scim
        .scim(
            reqwest::Method::PATCH,
            &format!("/scim/v2/Users/{id}"),
            patch(json!([{ "op": "Replace", "path": "active", "value": "False" }])),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["active"], false);
    let read = scim
        .v1(reqwest::Method::GET, &format!("/v1/users/{id}"), None)
        .await;
    assert_eq!(read.body["status"], "deactivated");
    assert!(read.body["deactivatedAt"].is_string());
    assert_eq!(scim.names("active eq false").await, ["Cy@Example.com"]);
    assert!(scim.names("active eq true").await.is_empty());
    // And its updates without a path, with dotted and extension keys.
    let patched = scim
        .scim(
            reqwest::Method::PATCH,
            &format!("/scim/v2/Users/{id}"),
            patch(json!([{ "op": "replace", "value": {
                "active": true,
                "name.familyName": "Rowe",
                "externalId": "entra-42",
                ENTERPRISE: { "employeeNumber": "E-7" }
            } }])),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let read = scim
        .v1(reqwest::Method::GET, &format!("/v1/users/{id}"), None)
        .await;
    assert_eq!(read.body["status"], "active");
    assert_eq!(read.body["name"]["lastName"], "Rowe");
    assert_eq!(read.body["employeeId"], "E-7");
    assert_eq!(
        scim.names(r#"externalId eq "entra-42""#).await,
        ["Cy@Example.com"]
    );
    // externalId compares exactly.
    assert!(scim.names(r#"externalId eq "ENTRA-42""#).await.is_empty());
    server.stop().await;
}

on_both!(
    entra_deactivates_with_a_patch_and_finds_users_by_user_name,
    entra_soft_delete
);

async fn okta_put_round_trip(db: Db) {
    let server = TestServer::start(db).await;
    let scim = Scim::new(&server);
    let created = scim.create_user("di@example.com", "Di", "Ng").await;
    let id = created["id"].as_str().unwrap();
    let patched = scim
        .scim(
            reqwest::Method::PATCH,
            &format!("/scim/v2/Users/{id}"),
            patch(json!([
                { "op": "add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "tel:+1-201-555-0123" },
                { "op": "add", "path": "title", "value": "Analyst" }
            ])),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(
        patched.body["phoneNumbers"],
        json!([{ "value": "+12015550123", "type": "mobile" }])
    );
    // Okta reads the user and puts back what it read: nothing changes.
    let read = scim
        .scim(reqwest::Method::GET, &format!("/scim/v2/Users/{id}"), None)
        .await;
    let put = scim
        .scim(
            reqwest::Method::PUT,
            &format!("/scim/v2/Users/{id}"),
            Some(read.body.clone()),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(put.body, read.body, "a round trip changes nothing");
    assert_eq!(put.etag, read.etag, "and makes no new version");
    // A PUT leaving an attribute out clears it.
    let mut changed = read.body.clone();
    changed.as_object_mut().unwrap().remove("title");
    changed["name"]["givenName"] = json!("Diane");
    let put = scim
        .scim(
            reqwest::Method::PUT,
            &format!("/scim/v2/Users/{id}"),
            Some(changed),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK);
    assert!(put.body.get("title").is_none());
    assert_eq!(put.body["name"]["givenName"], "Diane");
    assert_eq!(put.body["active"], true, "active left out is left alone");
    server.stop().await;
}

on_both!(
    okta_puts_back_what_it_read_and_nothing_changes,
    okta_put_round_trip
);

async fn paging(db: Db) {
    let server = TestServer::start(db).await;
    let scim = Scim::new(&server);
    let admin = server.admin();
    for n in 0..1000 {
        admin
            .create_user(super::seeds::new_user(&format!("page{n:04}@example.com")))
            .await
            .unwrap();
    }
    for count in [100, 200] {
        let mut seen = std::collections::BTreeSet::new();
        let mut start = 1;
        loop {
            let page = scim
                .scim(
                    reqwest::Method::GET,
                    &format!("/scim/v2/Users?startIndex={start}&count={count}&attributes=userName"),
                    None,
                )
                .await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.body);
            assert_eq!(page.body["totalResults"], 1000);
            assert_eq!(page.body["startIndex"], start);
            let resources = page.body["Resources"].as_array().unwrap();
            if resources.is_empty() {
                break;
            }
            for user in resources {
                assert!(user.get("name").is_none(), "only what attributes asks for");
                assert!(seen.insert(user["id"].as_str().unwrap().to_owned()));
            }
            start += resources.len() as i64;
        }
        assert_eq!(seen.len(), 1000, "count={count}");
    }
    // Sorted by userName, descending.
    let page = scim
        .scim(
            reqwest::Method::GET,
            "/scim/v2/Users?count=2&sortBy=userName&sortOrder=descending",
            None,
        )
        .await;
    let names: Vec<&str> = page.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["page0999@example.com", "page0998@example.com"]);
    server.stop().await;
}

on_both!(an_identity_provider_pages_through_a_thousand_users, paging);

async fn groups(db: Db) {
    let server = TestServer::start(db).await;
    let scim = Scim::new(&server);
    let ann = scim.create_user("ann@example.com", "Ann", "Lee").await;
    let bo = scim.create_user("bo@example.com", "Bo", "Yu").await;
    let (ann, bo) = (ann["id"].as_str().unwrap(), bo["id"].as_str().unwrap());
    let created = scim
        .scim(
            reqwest::Method::POST,
            "/scim/v2/Groups",
            Some(json!({ "displayName": "Ops", "members": [{ "value": ann }] })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let group = created.body["id"].as_str().unwrap().to_owned();
    // The Users API's group, and its change, are SCIM's.
    let read = scim
        .v1(reqwest::Method::GET, &format!("/v1/groups/{group}"), None)
        .await;
    assert_eq!(read.body["name"], "Ops");
    assert_eq!(read.body["members"], json!([ann]));
    let changed = scim
        .v1(
            reqwest::Method::PATCH,
            &format!("/v1/groups/{group}"),
            Some(json!({ "addMembers": [bo] })),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let patched = scim
        .send(
            reqwest::Method::PATCH,
            &format!("/scim/v2/Groups/{group}"),
            &scim.token,
            patch(json!([{ "op": "remove", "path": format!("members[value eq \"{ann}\"]") }])),
            &[("if-match", "W/\"2\"")],
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(
        patched.body["members"],
        json!([{ "value": bo, "$ref": format!("/scim/v2/Users/{bo}"), "type": "User" }])
    );
    assert_eq!(patched.etag.as_deref(), Some("W/\"3\""));
    // A user's groups, and the group filters.
    let user = scim
        .scim(reqwest::Method::GET, &format!("/scim/v2/Users/{bo}"), None)
        .await;
    assert_eq!(user.body["groups"][0]["value"], group);
    assert_eq!(user.body["groups"][0]["display"], "Ops");
    for filter in [
        r#"displayName eq "ops""#,
        &format!(r#"members[value eq "{bo}"]"#),
        &format!(r#"members.value eq "{bo}" and displayName sw "O""#),
    ] {
        let path = format!(
            "/scim/v2/Groups?filter={}",
            percent_encoding::utf8_percent_encode(filter, percent_encoding::NON_ALPHANUMERIC)
        );
        let page = scim.scim(reqwest::Method::GET, &path, None).await;
        assert_eq!(page.body["totalResults"], 1, "{filter}: {}", page.body);
    }
    // A listing shows each user's groups, in the order they were made.
    let support = scim
        .scim(
            reqwest::Method::POST,
            "/scim/v2/Groups",
            Some(json!({ "displayName": "Support", "members": [{ "value": bo }] })),
        )
        .await;
    assert_eq!(support.status, StatusCode::CREATED, "{}", support.body);
    let listed = scim
        .scim(reqwest::Method::GET, "/scim/v2/Users?sortBy=userName", None)
        .await;
    let resources = listed.body["Resources"].as_array().unwrap();
    assert_eq!(resources[0]["id"], ann);
    assert!(resources[0].get("groups").is_none(), "{}", resources[0]);
    assert_eq!(resources[1]["id"], bo);
    let names: Vec<&Value> = resources[1]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| &g["display"])
        .collect();
    assert_eq!(names, [&json!("Ops"), &json!("Support")]);
    // A name is unique without regard to case; a member must be a user.
    let taken = scim
        .scim(
            reqwest::Method::POST,
            "/scim/v2/Groups",
            Some(json!({ "displayName": "OPS" })),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(taken.body["scimType"], "uniqueness");
    let stranger = scim
        .scim(
            reqwest::Method::POST,
            "/scim/v2/Groups",
            Some(json!({ "displayName": "Devs", "members": [{ "value": uuid::Uuid::new_v4().to_string() }] })),
        )
        .await;
    assert_eq!(stranger.status, StatusCode::BAD_REQUEST);
    assert_eq!(stranger.body["scimType"], "invalidValue");
    // Deleting a user takes it out of its groups.
    let gone = scim
        .scim(
            reqwest::Method::DELETE,
            &format!("/scim/v2/Users/{bo}"),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let read = scim
        .scim(
            reqwest::Method::GET,
            &format!("/scim/v2/Groups/{group}"),
            None,
        )
        .await;
    assert!(read.body.get("members").is_none(), "{}", read.body);
    server.stop().await;
}

on_both!(groups_are_the_users_apis_groups, groups);

async fn filters(db: Db) {
    let server = TestServer::start(db).await;
    let scim = Scim::new(&server);
    for (email, given, family, title, external, active) in [
        (
            "ann@alpha.example",
            "Ann",
            "Lee",
            Some("Engineer"),
            Some("x-1"),
            true,
        ),
        (
            "bo@beta.example",
            "Bo",
            "Yu",
            Some("Senior Engineer"),
            Some("X-2"),
            true,
        ),
        ("cy@alpha.example", "Cy", "Ro", None, None, false),
        (
            "di@gamma.example",
            "Dí",
            "Ng",
            Some("Manager"),
            Some("x-3"),
            true,
        ),
    ] {
        let mut body = json!({
            "userName": email,
            "name": { "givenName": given, "familyName": family },
            "active": active,
        });
        if let Some(title) = title {
            body["title"] = json!(title);
        }
        if let Some(external) = external {
            body["externalId"] = json!(external);
        }
        let created = scim
            .scim(reqwest::Method::POST, "/scim/v2/Users", Some(body))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    }
    let all = [
        "ann@alpha.example",
        "bo@beta.example",
        "cy@alpha.example",
        "di@gamma.example",
    ];
    let cases: [(&str, &[&str]); 17] = [
        (r#"userName eq "ANN@alpha.example""#, &["ann@alpha.example"]),
        (r#"userName ne "ann@alpha.example""#, &all[1..]),
        (
            r#"userName co "ALPHA""#,
            &["ann@alpha.example", "cy@alpha.example"],
        ),
        (r#"userName sw "b""#, &["bo@beta.example"]),
        (r#"userName ew ".example""#, &all),
        (
            r#"title co "engineer""#,
            &["ann@alpha.example", "bo@beta.example"],
        ),
        (
            "title pr",
            &["ann@alpha.example", "bo@beta.example", "di@gamma.example"],
        ),
        ("not (title pr)", &["cy@alpha.example"]),
        (
            r#"title ne "Manager""#,
            &["ann@alpha.example", "bo@beta.example", "cy@alpha.example"],
        ),
        (
            r#"externalId eq "x-1" or externalId eq "x-3""#,
            &["ann@alpha.example", "di@gamma.example"],
        ),
        (
            r#"name.familyName gt "Ng" and name.familyName lt "Yu""#,
            &["cy@alpha.example"],
        ),
        (
            r#"name.givenName ge "Cy""#,
            &["cy@alpha.example", "di@gamma.example"],
        ),
        ("active eq false", &["cy@alpha.example"]),
        (
            r#"userName co "alpha" and (active eq true or title pr)"#,
            &["ann@alpha.example"],
        ),
        (
            r#"emails[type eq "work" and value co "gamma"]"#,
            &["di@gamma.example"],
        ),
        (r#"emails[type eq "home"]"#, &[]),
        (r#"meta.created gt "2000-01-01T00:00:00Z""#, &all),
    ];
    for (filter, expected) in cases {
        assert_eq!(scim.names(filter).await, expected, "{filter}");
    }
    // What cannot be run is a 400 naming why.
    for (filter, says) in [
        (r#"nickName eq "x""#, "nickName"),
        (r#"userName eq"#, "expected a value"),
        (r#"userName zz "x""#, "not an operator"),
    ] {
        let path = format!(
            "/scim/v2/Users?filter={}",
            percent_encoding::utf8_percent_encode(filter, percent_encoding::NON_ALPHANUMERIC)
        );
        let refused = scim.scim(reqwest::Method::GET, &path, None).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{filter}");
        assert_eq!(refused.body["scimType"], "invalidFilter", "{filter}");
        assert!(
            refused.body["detail"].as_str().unwrap().contains(says),
            "{}",
            refused.body
        );
    }
    server.stop().await;
}

on_both!(every_filter_operator_runs_in_the_database, filters);

async fn refusals(db: Db) {
    let server = TestServer::start(db).await;
    let scim = Scim::new(&server);
    scim.create_user("ann@example.com", "Ann", "Lee").await;
    let taken = scim
        .scim(
            reqwest::Method::POST,
            "/scim/v2/Users",
            Some(json!({ "userName": "ANN@example.com", "name": { "givenName": "A", "familyName": "B" } })),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(taken.body["scimType"], "uniqueness");
    let bad = scim
        .scim(
            reqwest::Method::POST,
            "/scim/v2/Users",
            Some(json!({
                "userName": "not-an-email",
                "name": { "givenName": "", "familyName": "B" },
                "phoneNumbers": [{ "value": "12", "type": "work" }]
            })),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["scimType"], "invalidValue");
    let detail = bad.body["detail"].as_str().unwrap();
    for field in ["userName", "name.givenName", "phoneNumbers"] {
        assert!(detail.contains(field), "{field} in {detail}");
    }
    let missing = scim
        .scim(
            reqwest::Method::POST,
            "/scim/v2/Users",
            Some(json!({ "name": {} })),
        )
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(
        missing.body["detail"]
            .as_str()
            .unwrap()
            .contains("userName")
    );
    let unknown = scim
        .scim(
            reqwest::Method::GET,
            &format!("/scim/v2/Users/{}", uuid::Uuid::new_v4()),
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body["status"], "404");
    let search = scim
        .scim(reqwest::Method::POST, "/scim/v2/.search", Some(json!({})))
        .await;
    assert_eq!(search.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(search.media, "application/scim+json");
    server.stop().await;
}

on_both!(bad_input_is_a_scim_error_naming_the_attribute, refusals);

/// `userName eq` and `externalId eq` are index lookups, not scans of the
/// account's users (SQLite's plan; PostgreSQL's with sequential scans
/// priced out, as a large table would price them).
async fn indexed(db: Db) {
    use sqlx::Row;
    let server = TestServer::start(db).await;
    let plans = match db {
        Db::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&server.database_url)
                .await
                .unwrap();
            let mut plans = Vec::new();
            for member in ["email_key = $2", "json_extract(doc, '$.externalId') = $2"] {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "EXPLAIN QUERY PLAN SELECT seq FROM users WHERE account_id = $1 AND ({member})"
                )))
                .bind("acme")
                .bind("x")
                .fetch_all(&pool)
                .await
                .unwrap();
                plans.push(
                    rows.iter()
                        .map(|r| r.get::<String, _>("detail"))
                        .collect::<Vec<_>>()
                        .join("; "),
                );
            }
            plans
        }
        Db::Postgres => {
            let pool = sqlx::PgPool::connect(&server.database_url).await.unwrap();
            let mut conn = pool.acquire().await.unwrap();
            sqlx::query("SET enable_seqscan = off")
                .execute(&mut *conn)
                .await
                .unwrap();
            let mut plans = Vec::new();
            for member in ["email_key = $2", "doc->>'externalId' = $2"] {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "EXPLAIN SELECT seq FROM users WHERE account_id = $1 AND ({member})"
                )))
                .bind("acme")
                .bind("x")
                .fetch_all(&mut *conn)
                .await
                .unwrap();
                plans.push(
                    rows.iter()
                        .map(|r| r.get::<String, _>(0))
                        .collect::<Vec<_>>()
                        .join("; "),
                );
            }
            plans
        }
    };
    for plan in &plans {
        assert!(plan.contains("INDEX") || plan.contains("Index"), "{plan}");
        assert!(
            !plan.contains("Seq Scan") && !plan.starts_with("SCAN"),
            "{plan}"
        );
    }
    server.stop().await;
}

on_both!(user_name_and_external_id_lookups_use_an_index, indexed);

/// Swagger UI lists the SCIM documents beside the Users API's, and the
/// server serves them: SCIM can be tried there with the `--dev` token.
#[tokio::test]
async fn swagger_ui_lists_the_scim_documents() {
    let server = TestServer::start(Db::Sqlite).await;
    let http = reqwest::Client::new();
    let initializer = http
        .get(format!("{}/docs/swagger-initializer.js", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for url in ["/openapi.yaml", "/scim/openapi.yaml", "/scim/openapi.json"] {
        assert!(
            initializer.contains(&format!("\"url\": \"{url}\"")),
            "{url}"
        );
    }
    let yaml = http
        .get(format!("{}/scim/openapi.yaml", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(yaml, scim_api::SPEC_YAML);
    let json: Value = http
        .get(format!("{}/scim/openapi.json", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json["info"]["title"], "SCIM");
    assert!(json["paths"]["/scim/v2/Users"].is_object());
    server.stop().await;
}

/// The SCIM SDK, generated from `openapi/scim.yaml` by the same generators
/// over the same runtime, against the server: a create, a filter, and a
/// SCIM error read back as the spec's `ScimError`.
async fn sdk(db: Db) {
    use scim_client::types;
    let server = TestServer::start(db).await;
    let client = scim_client::Client::builder(&server.url)
        .bearer_token(server.token("okta", "acme", "scim", &[]))
        .retry_policy(scim_client::RetryPolicy::none())
        .build()
        .unwrap();
    let body: types::ScimUserInput = serde_json::from_value(json!({
        "schemas": [USER],
        "userName": "eve@example.com",
        "name": { "givenName": "Eve", "familyName": "Ho" },
        "externalId": "okta-9",
    }))
    .unwrap();
    let created = client.create_scim_user(body.clone()).await.unwrap();
    assert_eq!(
        serde_json::to_value(&created.user_name).unwrap(),
        "eve@example.com"
    );
    let found = client
        .list_scim_users()
        .filter(r#"externalId eq "okta-9""#)
        .await
        .unwrap();
    assert_eq!(found.total_results, 1);
    assert_eq!(found.resources[0].id, created.id);
    let err = client.create_scim_user(body).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(409));
    assert_eq!(err.problem().and_then(|p| p.status), Some(409));
    let scim_error: types::ScimError = err.document().expect("a SCIM error document");
    assert_eq!(scim_error.scim_type.as_deref(), Some("uniqueness"));
    assert_eq!(scim_error.status, "409");
    server.stop().await;
}

on_both!(the_scim_sdk_provisions_and_reads_scim_errors, sdk);
