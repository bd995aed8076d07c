//! `users mcp` driven by an MCP client (rmcp's), as an agent's host runs
//! it: a child process on standard input and output, against the
//! reference server.

use std::collections::BTreeSet;

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::transport::TokioChildProcess;
use serde_json::{Map, Value, json};

mod common;

use common::Server;

fn spec_operations() -> Vec<(String, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/users.yaml");
    let spec: Value = yaml_serde::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for item in spec["paths"].as_object().unwrap().values() {
        for (method, op) in item.as_object().unwrap() {
            if let Some(id) = op["operationId"].as_str() {
                out.push((id.to_owned(), method.to_uppercase()));
            }
        }
    }
    out
}

fn command(server: &Server, token: &str, config: &std::path::Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_users"));
    command
        .arg("mcp")
        .env("USERS_URL", &server.url)
        .env("USERS_TOKEN", token)
        .env("USERS_CONFIG_DIR", config)
        .env_remove("USERS_PROFILE");
    command
}

fn arguments(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn answer(result: &CallToolResult) -> &Value {
    assert_ne!(result.is_error, Some(true), "{result:?}");
    result
        .structured_content
        .as_ref()
        .expect("a structured result")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_lists_every_operation_and_creates_reads_and_patches_a_user() {
    let server = tokio::task::spawn_blocking(Server::start).await.unwrap();
    let token = server.token("users:read users:write users:admin");
    let config = tempfile::tempdir().unwrap();
    let client =
        ().serve(TokioChildProcess::new(command(&server, &token, config.path())).unwrap())
            .await
            .unwrap();

    // A tool per operation of the spec, annotated from its method, each
    // with an input schema that is valid JSON Schema.
    let tools = client.list_all_tools().await.unwrap();
    let names: BTreeSet<String> = tools.iter().map(|t| t.name.to_string()).collect();
    let spec = spec_operations();
    let ids: BTreeSet<String> = spec.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(names, ids);
    for tool in &tools {
        let schema = Value::Object((*tool.input_schema).clone());
        if let Err(err) = jsonschema::meta::validate(&schema) {
            panic!("{}: {err}\n{schema:#}", tool.name);
        }
        jsonschema::validator_for(&schema).unwrap_or_else(|err| panic!("{}: {err}", tool.name));
        let method = &spec.iter().find(|(id, _)| *id == tool.name).unwrap().1;
        let annotations = tool.annotations.as_ref().expect("annotations");
        assert_eq!(
            annotations.read_only_hint,
            Some(method == "GET"),
            "{}",
            tool.name
        );
        assert_eq!(
            annotations.destructive_hint,
            Some(method == "DELETE" || method == "PUT"),
            "{}",
            tool.name
        );
    }
    let create_schema = Value::Object(
        (*tools
            .iter()
            .find(|t| t.name == "createUser")
            .unwrap()
            .input_schema)
            .clone(),
    );
    let create = json!({
        "body": {
            "name": {"firstName": "Grace", "lastName": "Hopper"},
            "email": "grace@example.com",
            "phone": "+12025550123"
        }
    });
    assert!(jsonschema::is_valid(&create_schema, &create));
    assert!(!jsonschema::is_valid(
        &create_schema,
        &json!({"body": {"email": 7}})
    ));

    // Create, get, patch.
    let created = client
        .call_tool(CallToolRequestParams::new("createUser").with_arguments(arguments(create)))
        .await
        .unwrap();
    let created = answer(&created);
    assert_eq!(created["status"], 201, "{created}");
    let id = created["body"]["id"].as_str().unwrap().to_owned();
    let got = client
        .call_tool(
            CallToolRequestParams::new("getUser").with_arguments(arguments(json!({"userId": id}))),
        )
        .await
        .unwrap();
    assert_eq!(answer(&got)["body"]["email"], "grace@example.com");
    let patched = client
        .call_tool(
            CallToolRequestParams::new("updateUser").with_arguments(arguments(json!({
                "userId": id,
                "body": {"jobTitle": "Rear Admiral", "phone": null}
            }))),
        )
        .await
        .unwrap();
    let patched = answer(&patched);
    assert_eq!(patched["body"]["jobTitle"], "Rear Admiral");
    assert!(patched["body"].get("phone").is_none(), "{patched}");
    assert_eq!(patched["body"]["resourceVersion"], 2);

    // A refusal is an error result holding the problem document.
    let refused = client
        .call_tool(
            CallToolRequestParams::new("createUser").with_arguments(arguments(json!({
                "body": {"name": {"firstName": "A", "lastName": "B"}, "email": "grace@example.com"}
            }))),
        )
        .await
        .unwrap();
    assert_eq!(refused.is_error, Some(true));
    let problem = refused.structured_content.as_ref().unwrap();
    assert_eq!(problem["status"], 409, "{problem}");
    // A value the spec forbids is refused before it is sent.
    let invalid = client
        .call_tool(
            CallToolRequestParams::new("listUsers").with_arguments(arguments(json!({"limit": 0}))),
        )
        .await
        .unwrap();
    assert_eq!(invalid.is_error, Some(true));
    let invalid = invalid.structured_content.as_ref().unwrap();
    assert!(
        invalid["error"].as_str().unwrap().contains("limit"),
        "{invalid}"
    );

    // A profile image: given in base64, read back as image content.
    use base64::Engine as _;
    let png = include_bytes!("../../users-conformance/assets/avatar.png");
    let encoded = base64::engine::general_purpose::STANDARD.encode(png);
    let stored = client
        .call_tool(
            CallToolRequestParams::new("setUserAvatar").with_arguments(arguments(json!({
                "userId": id,
                "body": encoded
            }))),
        )
        .await
        .unwrap();
    assert_eq!(answer(&stored)["status"], 204, "{stored:?}");
    let image = client
        .call_tool(
            CallToolRequestParams::new("getUserAvatar")
                .with_arguments(arguments(json!({"userId": id}))),
        )
        .await
        .unwrap();
    assert_ne!(image.is_error, Some(true), "{image:?}");
    let shown = serde_json::to_value(&image.content).unwrap();
    assert_eq!(shown[0]["type"], "image", "{shown}");
    assert_eq!(shown[0]["mimeType"], "image/png", "{shown}");
    assert_eq!(shown[0]["data"], encoded.as_str());
    let not_base64 = client
        .call_tool(
            CallToolRequestParams::new("setUserAvatar").with_arguments(arguments(json!({
                "userId": id,
                "body": "not base64!"
            }))),
        )
        .await
        .unwrap();
    assert_eq!(not_base64.is_error, Some(true), "{not_base64:?}");

    client.cancel().await.unwrap();
    // The server's runtime ends outside this one.
    tokio::task::spawn_blocking(move || drop(server))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_server_offers_only_safe_operations() {
    let server = tokio::task::spawn_blocking(Server::start).await.unwrap();
    let token = server.token("users:read users:write");
    let config = tempfile::tempdir().unwrap();
    let mut command = command(&server, &token, config.path());
    command.arg("--read-only");
    let client = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();
    let tools = client.list_all_tools().await.unwrap();
    let names: BTreeSet<String> = tools.iter().map(|t| t.name.to_string()).collect();
    let safe: BTreeSet<String> = spec_operations()
        .into_iter()
        .filter(|(_, method)| method == "GET")
        .map(|(id, _)| id)
        .collect();
    assert_eq!(names, safe);
    let write = client
        .call_tool(
            CallToolRequestParams::new("deleteUser").with_arguments(arguments(json!({
                "userId": "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
            }))),
        )
        .await;
    assert!(write.is_err(), "{write:?}");
    client.cancel().await.unwrap();
    tokio::task::spawn_blocking(move || drop(server))
        .await
        .unwrap();
}
