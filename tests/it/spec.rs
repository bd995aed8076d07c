//! The spec itself, read the way progenitor reads it (`openapiv3`).

use std::collections::BTreeSet;

use openapiv3::{OpenAPI, Operation, ReferenceOr, Response, StatusCode};
use users_tests::spec;

fn operations(spec: &OpenAPI) -> Vec<(String, String, &Operation)> {
    spec.paths
        .paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_item()
                .expect("no path items by reference")
                .iter()
                .map(move |(method, op)| (method.to_uppercase(), path.clone(), op))
        })
        .collect()
}

fn resolve<'a>(spec: &'a OpenAPI, response: &'a ReferenceOr<Response>) -> &'a Response {
    match response {
        ReferenceOr::Item(response) => response,
        ReferenceOr::Reference { reference } => {
            let name = reference
                .strip_prefix("#/components/responses/")
                .expect("responses refer to components");
            spec.components.as_ref().unwrap().responses[name]
                .as_item()
                .expect("one level of reference")
        }
    }
}

#[test]
fn the_operation_set_is_complete() {
    let spec = spec();
    assert_eq!(spec.openapi, "3.0.3");
    let found: BTreeSet<(String, String, String)> = operations(&spec)
        .into_iter()
        .map(|(method, path, op)| (op.operation_id.clone().unwrap(), method, path))
        .collect();
    let expected: BTreeSet<(String, String, String)> = [
        ("createUser", "POST", "/v1/users"),
        ("listUsers", "GET", "/v1/users"),
        ("getUser", "GET", "/v1/users/{userId}"),
        ("updateUser", "PATCH", "/v1/users/{userId}"),
        ("replaceUser", "PUT", "/v1/users/{userId}"),
        ("deleteUser", "DELETE", "/v1/users/{userId}"),
        ("setUserPassword", "PUT", "/v1/users/{userId}/password"),
        ("listCountries", "GET", "/v1/lookups/countries"),
        ("listLanguages", "GET", "/v1/lookups/languages"),
        ("listLocales", "GET", "/v1/lookups/locales"),
        ("listTimeZones", "GET", "/v1/lookups/time-zones"),
    ]
    .into_iter()
    .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()))
    .collect();
    assert_eq!(found, expected);
}

#[test]
fn every_operation_is_documented_tagged_and_secured() {
    let spec = spec();
    let scopes = ["users:read", "users:write", "users:admin"];
    for (method, path, op) in operations(&spec) {
        let at = format!("{method} {path}");
        assert_eq!(op.tags.len(), 1, "{at}: one tag");
        assert!(
            op.summary.as_deref().is_some_and(|s| !s.is_empty()),
            "{at}: summary"
        );
        assert!(
            op.description.as_deref().is_some_and(|s| !s.is_empty()),
            "{at}: description"
        );
        let security = op.security.as_ref().expect("operation-level security");
        assert_eq!(security.len(), 1, "{at}: one security requirement");
        let required = &security[0]["bearerAuth"];
        assert_eq!(required.len(), 1, "{at}: one scope");
        assert!(scopes.contains(&required[0].as_str()), "{at}: {required:?}");
    }
}

#[test]
fn every_error_response_is_problem_json() {
    let spec = spec();
    let mut checked = 0;
    for (method, path, op) in operations(&spec) {
        for (status, response) in &op.responses.responses {
            let StatusCode::Code(code) = status else {
                panic!("{method} {path}: status ranges are not used")
            };
            if *code < 400 {
                continue;
            }
            let response = resolve(&spec, response);
            let media: Vec<&String> = response.content.keys().collect();
            assert_eq!(
                media,
                ["application/problem+json"],
                "{method} {path} {code}"
            );
            let schema = response.content["application/problem+json"].schema.as_ref();
            assert!(
                matches!(schema, Some(ReferenceOr::Reference { reference }) if reference == "#/components/schemas/Problem"),
                "{method} {path} {code}: {schema:?}"
            );
            checked += 1;
        }
        assert!(
            op.responses.default.is_none(),
            "{method} {path}: no default"
        );
    }
    assert!(checked > 50, "only {checked} error responses");
}

#[test]
fn patch_is_a_merge_patch_and_other_bodies_are_json() {
    let spec = spec();
    for (method, path, op) in operations(&spec) {
        let Some(body) = &op.request_body else {
            continue;
        };
        let body = body.as_item().unwrap();
        let media: Vec<&String> = body.content.keys().collect();
        let expected = if method == "PATCH" {
            "application/merge-patch+json"
        } else {
            "application/json"
        };
        assert_eq!(media, [expected], "{method} {path}");
        assert!(body.required, "{method} {path}: the body is required");
    }
}

#[test]
fn every_operation_has_examples() {
    let spec = spec();
    for (method, path, op) in operations(&spec) {
        if let Some(body) = &op.request_body {
            for (media, content) in &body.as_item().unwrap().content {
                assert!(
                    !content.examples.is_empty(),
                    "{method} {path}: {media} request examples"
                );
            }
        }
        let mut response_examples = 0;
        for (status, response) in &op.responses.responses {
            for (media, content) in &resolve(&spec, response).content {
                assert!(
                    !content.examples.is_empty(),
                    "{method} {path} {status}: {media} response examples"
                );
                response_examples += content.examples.len();
            }
        }
        assert!(
            response_examples > 0,
            "{method} {path}: no response example"
        );
    }
}

#[test]
fn request_schemas_are_closed_and_refuse_server_fields() {
    let value = users_tests::spec_value();
    let schemas = &value["components"]["schemas"];
    let server_managed: BTreeSet<&str> = schemas["User"]["properties"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, p)| p["readOnly"] == true)
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(server_managed.contains("resourceVersion"));
    assert!(server_managed.contains("createdAt"));
    for name in ["UserCreate", "UserReplace", "UserPatch", "PasswordChange"] {
        let schema = &schemas[name];
        assert_eq!(schema["additionalProperties"], false, "{name} is closed");
        for field in schema["properties"].as_object().unwrap().keys() {
            assert!(
                !server_managed.contains(field.as_str()),
                "{name} accepts the server-managed {field}"
            );
        }
    }
    // The response is open so that new fields do not break old clients.
    assert!(schemas["User"].get("additionalProperties").is_none());
    // PUT never touches what is not profile.
    let replace = schemas["UserReplace"]["properties"].as_object().unwrap();
    for field in [
        "status",
        "roles",
        "isAdmin",
        "apiAccess",
        "ownerOrganization",
        "newPassword",
    ] {
        assert!(!replace.contains_key(field), "UserReplace has {field}");
    }
}

#[test]
fn concurrency_and_idempotency_headers_are_declared() {
    let value = users_tests::spec_value();
    let users = &value["paths"]["/v1/users"];
    let user = &value["paths"]["/v1/users/{userId}"];
    let refs = |op: &serde_json::Value| -> Vec<String> {
        op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["$ref"].as_str().map(str::to_owned))
            .collect()
    };
    assert!(refs(&users["post"]).contains(&"#/components/parameters/IdempotencyKey".to_owned()));
    assert!(refs(&user["get"]).contains(&"#/components/parameters/IfNoneMatch".to_owned()));
    for method in ["patch", "put", "delete"] {
        assert!(refs(&user[method]).contains(&"#/components/parameters/IfMatch".to_owned()));
        assert!(user[method]["responses"]["412"].is_object(), "{method} 412");
        assert!(user[method]["responses"]["428"].is_object(), "{method} 428");
    }
    assert!(user["get"]["responses"]["304"].is_object());
    let created = &users["post"]["responses"]["201"]["headers"];
    assert!(created["Location"].is_object() && created["ETag"].is_object());
    let path_params: Vec<&str> = user["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["$ref"].as_str())
        .collect();
    assert!(path_params.contains(&"#/components/parameters/AccountSwitchKey"));
}
