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
        ("getUserAvatar", "GET", "/v1/users/{userId}/avatar"),
        ("setUserAvatar", "PUT", "/v1/users/{userId}/avatar"),
        ("deleteUserAvatar", "DELETE", "/v1/users/{userId}/avatar"),
        ("listCountries", "GET", "/v1/lookups/countries"),
        ("listLanguages", "GET", "/v1/lookups/languages"),
        ("listLocales", "GET", "/v1/lookups/locales"),
        ("listTimeZones", "GET", "/v1/lookups/time-zones"),
        ("createGroup", "POST", "/v1/groups"),
        ("listGroups", "GET", "/v1/groups"),
        ("getGroup", "GET", "/v1/groups/{groupId}"),
        ("updateGroup", "PATCH", "/v1/groups/{groupId}"),
        ("deleteGroup", "DELETE", "/v1/groups/{groupId}"),
        ("listUserGroups", "GET", "/v1/users/{userId}/groups"),
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

/// The image types the profile image takes and answers, in the spec's
/// order.
const IMAGES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];

#[test]
fn patch_is_a_merge_patch_and_other_bodies_are_json() {
    let spec = spec();
    for (method, path, op) in operations(&spec) {
        let Some(body) = &op.request_body else {
            continue;
        };
        let body = body.as_item().unwrap();
        let media: Vec<&String> = body.content.keys().collect();
        // Clients of the reference APIs send partial updates as
        // `application/json`: the same merge patch.
        // A profile image is its bytes, in one of three image types.
        let expected: &[&str] = if method == "PATCH" {
            &["application/json", "application/merge-patch+json"]
        } else if path.ends_with("/avatar") {
            &IMAGES
        } else {
            &["application/json"]
        };
        assert_eq!(media, expected, "{method} {path}");
        let schemas: BTreeSet<_> = body
            .content
            .values()
            .map(|m| format!("{:?}", m.schema))
            .collect();
        assert_eq!(
            schemas.len(),
            1,
            "{method} {path}: one schema for every media type"
        );
        assert!(body.required, "{method} {path}: the body is required");
    }
}

#[test]
fn every_operation_has_examples() {
    let spec = spec();
    for (method, path, op) in operations(&spec) {
        // An image's bytes are no example a document can hold; every
        // JSON body has one.
        if let Some(body) = &op.request_body {
            for (media, content) in &body.as_item().unwrap().content {
                if IMAGES.contains(&media.as_str()) {
                    continue;
                }
                assert!(
                    !content.examples.is_empty(),
                    "{method} {path}: {media} request examples"
                );
            }
        }
        let mut response_examples = 0;
        for (status, response) in &op.responses.responses {
            for (media, content) in &resolve(&spec, response).content {
                if IMAGES.contains(&media.as_str()) {
                    continue;
                }
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

/// The lookup lists are stated in the spec as `enum`s, so every tool sees
/// the values the server accepts; they are exactly the lists the lookup
/// operations serve (from the crates that track the standards). When a
/// crate update changes a list, this fails and prints the spec's new list.
#[test]
fn the_spec_enums_are_the_lookup_lists() {
    use users_server::lookups::Lookup;
    let spec = users_tests::spec_value();
    for (component, lookup, nullable) in [
        ("CountryCode", Lookup::Countries, false),
        ("LanguageCode", Lookup::Languages, true),
        ("Locale", Lookup::Locales, true),
        ("TimeZone", Lookup::TimeZones, true),
    ] {
        let schema = &spec["components"]["schemas"][component];
        let stated: Vec<&str> = schema["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{component} has an enum"))
            .iter()
            .filter_map(serde_json::Value::as_str)
            .collect();
        let served: Vec<&str> = lookup.entries().iter().map(|e| e.code.as_str()).collect();
        if stated != served {
            let mut yaml = served.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>();
            if nullable {
                yaml.push("null".to_owned());
            }
            panic!(
                "components/schemas/{component}/enum differs from the {lookup:?} list; it should be:\n[{}]",
                yaml.join(", ")
            );
        }
        assert_eq!(
            schema["nullable"] == true,
            nullable,
            "{component}: nullable, with null in its enum, where a patch clears it"
        );
        if nullable {
            assert!(
                schema["enum"]
                    .as_array()
                    .unwrap()
                    .contains(&serde_json::Value::Null)
            );
        }
        // OpenAPI Generator's own names for the values, where its naming
        // would collide (`Etc/GMT+1`, `Etc/GMT-1`): one distinct name each.
        if let Some(names) = schema["x-enum-varnames"].as_array() {
            let distinct: BTreeSet<&str> = names.iter().filter_map(|n| n.as_str()).collect();
            assert_eq!(names.len(), served.len(), "{component}: a name per value");
            assert_eq!(distinct.len(), names.len(), "{component}: distinct names");
        }
    }
}

/// A validator of one component schema by JSON Schema alone, as other
/// tools read the spec: `x-rules` mean nothing to it; OpenAPI 3.0's
/// `nullable` becomes JSON Schema's `type: [T, "null"]`.
fn plain_validator(component: &str) -> jsonschema::Validator {
    let mut root = users_tests::spec_as_json_schema();
    root["$ref"] = format!("#/components/schemas/{component}").into();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap()
}

/// Every rule JSON Schema can state is in the spec's JSON Schema, so that
/// schemathesis, Prism and generated clients refuse what the server
/// refuses: lookups, US and Canadian states, US ZIP codes, a relation sent
/// whole together with its add or remove list.
#[test]
fn other_tools_see_the_rules_json_schema_can_state() {
    use serde_json::json;
    let user = |extra: serde_json::Value| {
        let mut body =
            json!({ "name": { "firstName": "A", "lastName": "B" }, "email": "a@example.com" });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let create = plain_validator("UserCreate");
    assert!(create.is_valid(&user(json!({}))));
    for (what, extra) in [
        (
            "a time zone that is not IANA's",
            json!({ "timeZone": "Mars/Base" }),
        ),
        ("an unknown locale", json!({ "locale": "xx-yy" })),
        ("an unknown language", json!({ "preferredLanguage": "qq" })),
        (
            "an unknown country",
            json!({ "address": { "countryCode": "QQ", "state": "X" } }),
        ),
        (
            "a US address without a state",
            json!({ "address": { "countryCode": "US" } }),
        ),
        (
            "a Canadian address without a state",
            json!({ "address": { "countryCode": "CA" } }),
        ),
        (
            "a US ZIP code of four digits",
            json!({ "address": { "countryCode": "US", "state": "MA", "zipCode": "1234" } }),
        ),
    ] {
        assert!(!create.is_valid(&user(extra.clone())), "{what}: {extra}");
    }
    for fine in [
        json!({ "timeZone": "America/New_York", "locale": "en-us", "preferredLanguage": "en" }),
        json!({ "address": { "countryCode": "DE", "zipCode": "1234" } }),
        json!({ "address": { "countryCode": "CA", "state": "ON", "zipCode": "K1A 0B1" } }),
    ] {
        assert!(create.is_valid(&user(fine.clone())), "{fine}");
    }

    let patch = plain_validator("UserPatch");
    assert!(patch.is_valid(&json!({})), "RFC 7396: {{}} changes nothing");
    assert!(patch.is_valid(&json!({ "timeZone": null, "locale": null })));
    assert!(
        patch.is_valid(&json!({ "address": { "city": "Cambridge" } })),
        "a partial address is judged on the merged result"
    );
    for relation in ["roles", "teams", "tags"] {
        let title = format!("{}{}", relation[..1].to_uppercase(), &relation[1..]);
        for list in [format!("add{title}"), format!("remove{title}")] {
            let body = json!({ relation: ["a"], list.as_str(): ["b"] });
            assert!(!patch.is_valid(&body), "{body}");
        }
        let body = json!({ format!("add{title}"): ["a"], format!("remove{title}"): ["b"] });
        assert!(patch.is_valid(&body), "{body}");
    }
}

/// The spec leaves in `x-rules` only kinds JSON Schema cannot state.
#[test]
fn x_rules_keep_only_what_json_schema_cannot_state() {
    fn kinds(value: &serde_json::Value, out: &mut BTreeSet<String>) {
        match value {
            serde_json::Value::Object(object) => {
                for rule in object
                    .get("x-rules")
                    .and_then(|r| r.as_array())
                    .into_iter()
                    .flatten()
                {
                    out.insert(rule["kind"].as_str().unwrap().to_owned());
                }
                object.values().for_each(|v| kinds(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| kinds(v, out)),
            _ => {}
        }
    }
    let mut found = BTreeSet::new();
    kinds(&users_tests::spec_value(), &mut found);
    assert_eq!(
        found,
        [
            "date-not-in-future",
            "disjoint",
            "message",
            "property-names"
        ]
        .map(str::to_owned)
        .into()
    );
}

/// OpenAPI Generator's clients pick the one `oneOf` member that matches; a
/// nullable member next to others matches `null` with all of them. Unions
/// whose members may overlap are `anyOf`.
#[test]
fn no_one_of_has_a_nullable_member() {
    fn walk(pointer: &str, value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(object) => {
                if let Some(members) = object.get("oneOf").and_then(|m| m.as_array())
                    && members.iter().any(|m| m["nullable"] == true)
                {
                    out.push(pointer.to_owned());
                }
                for (key, child) in object {
                    walk(&format!("{pointer}/{key}"), child, out);
                }
            }
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(&format!("{pointer}/{i}"), item, out);
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk("", &users_tests::spec_value(), &mut found);
    assert!(found.is_empty(), "{found:?}");
}

/// Every example in the spec (the document Swagger UI shows) is valid
/// against its schema, as other tools' JSON Schema reads it: request and
/// response examples per media type, parameter and header examples, and
/// each schema's own `example`. An error response's examples are problems of
/// its own status, so no status shows another's example.
#[test]
fn every_example_validates_and_speaks_for_its_status() {
    use serde_json::Value;
    let root = users_tests::spec_as_json_schema();
    let validate = |pointer: &str, example: &Value, at: &str, failures: &mut Vec<String>| {
        let mut schema = root.clone();
        let fragment = pointer
            .replace('%', "%25")
            .replace('{', "%7B")
            .replace('}', "%7D");
        schema["$ref"] = Value::String(format!("#{fragment}"));
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("{pointer}: {e}"));
        for error in validator.iter_errors(example) {
            failures.push(format!("{at}: {error} (at {})", error.instance_path()));
        }
    };
    let escape = |key: &str| key.replace('~', "~0").replace('/', "~1");
    // `#/components/...` refs followed to what they name, with its pointer.
    let follow = |pointer: String, value: &Value| -> (String, Value) {
        match value.get("$ref").and_then(Value::as_str) {
            Some(target) => {
                let target = target.trim_start_matches('#').to_owned();
                (target.clone(), root.pointer(&target).unwrap().clone())
            }
            None => (pointer, value.clone()),
        }
    };
    let mut failures = Vec::new();
    let mut checked = 0;
    // Each media type's examples against its schema.
    let mut media = |pointer: &str,
                     content: &Value,
                     status: Option<&str>,
                     failures: &mut Vec<String>| {
        for (name, media) in content.as_object().into_iter().flatten() {
            let at = format!("{pointer}/{}", escape(name));
            let schema = format!("{at}/schema");
            for (example_name, example) in media["examples"].as_object().into_iter().flatten() {
                let (_, example) = follow(String::new(), example);
                let value = &example["value"];
                validate(
                    &schema,
                    value,
                    &format!("{at} example {example_name}"),
                    failures,
                );
                checked += 1;
                if let Some(status) = status.filter(|s| s.starts_with('4') || s.starts_with('5'))
                    && value["status"].as_u64().map(|n| n.to_string()).as_deref() != Some(status)
                {
                    failures.push(format!(
                        "{at} example {example_name} says status {} under {status}",
                        value["status"]
                    ));
                }
            }
            if let Some(example) = media.get("example") {
                validate(&schema, example, &at, failures);
                checked += 1;
            }
        }
    };
    for (path, item) in root["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let base = format!("/paths/{}/{method}", escape(path));
            if let Some(body) = operation.get("requestBody") {
                media(
                    &format!("{base}/requestBody/content"),
                    &body["content"],
                    None,
                    &mut failures,
                );
            }
            for (status, response) in operation["responses"].as_object().into_iter().flatten() {
                let (pointer, response) = follow(format!("{base}/responses/{status}"), response);
                if let Some(content) = response.get("content") {
                    media(
                        &format!("{pointer}/content"),
                        content,
                        Some(status),
                        &mut failures,
                    );
                }
            }
        }
    }
    // Parameters, headers and schemas with an `example` of their own.
    fn walk(pointer: String, value: &Value, found: &mut Vec<(String, Value)>) {
        match value {
            Value::Object(object) => {
                if let Some(example) = object.get("example")
                    && (object.contains_key("type") || object.contains_key("schema"))
                {
                    found.push((pointer.clone(), example.clone()));
                }
                for (key, member) in object {
                    if key != "example" && key != "examples" {
                        let key = key.replace('~', "~0").replace('/', "~1");
                        walk(format!("{pointer}/{key}"), member, found);
                    }
                }
            }
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    walk(format!("{pointer}/{index}"), item, found);
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(String::new(), &root, &mut found);
    for (pointer, example) in found {
        // A parameter's or header's example is checked against its schema.
        let schema = match root.pointer(&pointer).and_then(|v| v.get("schema")) {
            Some(_) => format!("{pointer}/schema"),
            None => pointer.clone(),
        };
        validate(&schema, &example, &pointer, &mut failures);
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "{} invalid examples:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 100, "only {checked} examples found");
}
