//! `cargo xtask evolve`: the proof that the SDK follows the spec with no hand
//! edits.
//!
//! In a scratch copy of the workspace, the spec gains a second resource
//! (projects): a paginated list, a create, a conditional read and a
//! merge-patch update with `If-Match`. `cargo xtask codegen` runs there, then
//! a program that calls the new operations through the SDK (its builders,
//! pagination stream, conditional read, read-modify-write helper and patch
//! builder) must compile against the regenerated `users-client`, and the
//! regenerated command line must have a `projects` command with the new
//! operations, each an MCP tool of `users mcp`. Nothing in the scratch copy
//! is written by hand but the spec change and that program.

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::codegen;
use crate::spec;
use crate::tools;

/// The program the evolved SDK must compile.
const CALLER: &str = r#"//! Calls the operations the evolved spec added.
use futures::TryStreamExt;
use users_client::{Client, Conditional, Error, patch::ProjectPatch, types};

pub async fn evolved(client: &Client) -> Result<(), Error> {
    let project = client
        .create_project(types::ProjectCreate::new("Operations").description("Runs things"))
        .await?;
    let everyone: Vec<types::Project> = client.list_projects().limit(10).stream().try_collect().await?;
    let first_page = client.list_projects().cursor("abc").await?;
    let _: Option<String> = first_page.next_cursor.as_ref().map(|c| c.to_string());
    match client.get_project(project.id).if_none_match(project.etag()).await? {
        Conditional::NotModified => {}
        Conditional::Modified(fresh) => assert_eq!(fresh.name.as_str(), everyone[0].name.as_str()),
    }
    let patch = ProjectPatch::builder().name("SRE").clear_description();
    let updated = client.update_project(project.id, patch).if_match(project.etag()).await?;
    let _: &users_client::ETag = &updated.headers().etag;
    client
        .update_project_with(project.id, 3, |current| ProjectPatch::builder().name(current.name.as_str()))
        .await?;
    Ok(())
}

fn main() {}
"#;

/// Runs the check: the scratch copy lives in a temporary directory and the
/// build shares this workspace's `target` for its dependencies.
pub(crate) fn run(root: &Path) -> anyhow::Result<()> {
    let scratch = tempfile::tempdir()?;
    copy_workspace(root, scratch.path())?;
    let spec_path = scratch.path().join(spec::SPEC_PATH);
    let mut evolved = spec::load_value(&spec_path)?;
    add_projects(&mut evolved)?;
    std::fs::write(&spec_path, serde_json::to_string_pretty(&evolved)?)?;
    codegen::run(
        scratch.path(),
        codegen::Mode::Write,
        codegen::Strictness::Strict,
    )
    .context("codegen on the evolved spec")?;
    let examples = scratch.path().join("crates/users-client/examples");
    std::fs::create_dir_all(&examples)?;
    std::fs::write(examples.join("evolved.rs"), CALLER)?;
    eprintln!("compiling a caller of the new operations against the regenerated SDK");
    let checked = tools::cargo_in_scratch(
        scratch.path(),
        &root.join("target/evolve"),
        &["check", "-p", "users-client", "--example", "evolved"],
    )?;
    if !checked {
        bail!(
            "the SDK regenerated from the evolved spec does not serve the new operations \
             without hand-written code"
        );
    }
    eprintln!("the regenerated SDK serves the new operations with no hand edits");
    command_line_serves_projects(root, scratch.path())?;
    eprintln!("the regenerated command line and MCP server offer them too");
    Ok(())
}

/// The command line regenerated in `scratch` has a `projects` command with
/// the new operations, and `users mcp` offers each as a tool.
fn command_line_serves_projects(root: &Path, scratch: &Path) -> anyhow::Result<()> {
    let target = root.join("target/evolve");
    let built = tools::cargo_in_scratch(scratch, &target, &["build", "-p", "users-cli"])?;
    if !built {
        bail!("the command line regenerated from the evolved spec does not build");
    }
    let users = target.join("debug/users");
    let run = |args: &[&str]| -> anyhow::Result<String> {
        let output = std::process::Command::new(&users)
            .args(args)
            .env("USERS_CONFIG_DIR", scratch.join("cli-config"))
            .output()
            .with_context(|| format!("running users {}", args.join(" ")))?;
        if !output.status.success() {
            bail!(
                "users {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    };
    let help = run(&["projects", "--help"])?;
    let tools = run(&["mcp", "--list"])?;
    for (command, id) in [
        ("list", "listProjects"),
        ("create", "createProject"),
        ("get", "getProject"),
        ("update", "updateProject"),
    ] {
        if !help
            .lines()
            .any(|line| line.trim_start().starts_with(command))
        {
            bail!("`users projects` has no `{command}` command:\n{help}");
        }
        if !tools.contains(&format!("\"name\":\"{id}\"")) {
            bail!("`users mcp` offers no tool {id}:\n{tools}");
        }
    }
    Ok(())
}

/// Copies the workspace's sources (not `target/` or `.git/`).
pub(crate) fn copy_workspace(from: &Path, to: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let source = entry.path();
        let dest = to.join(&name);
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&dest)?;
            copy_workspace(&source, &dest)?;
        } else if entry.file_type()?.is_file() {
            std::fs::copy(&source, &dest)
                .with_context(|| format!("copying {}", source.display()))?;
        }
    }
    Ok(())
}

/// A second resource, written the way the spec writes users: a paginated
/// list, a create answering `ETag`, a conditional read and a merge-patch
/// update under `If-Match`.
fn add_projects(spec: &mut Value) -> anyhow::Result<()> {
    if let Some(tags) = spec["tags"].as_array_mut() {
        tags.push(
            json!({ "name": "Projects", "description": "Projects the account's users work on." }),
        );
    }
    let errors = json!({
        "400": { "$ref": "#/components/responses/BadRequest" },
        "401": { "$ref": "#/components/responses/Unauthorized" },
        "403": { "$ref": "#/components/responses/Forbidden" },
        "500": { "$ref": "#/components/responses/InternalError" }
    });
    let with_errors = |mut responses: Value| {
        for (status, response) in errors.as_object().unwrap() {
            responses[status] = response.clone();
        }
        responses
    };
    let etag = json!({ "ETag": { "$ref": "#/components/headers/ETag" } });
    let project = json!({ "$ref": "#/components/schemas/Project" });
    let paths = spec["paths"]
        .as_object_mut()
        .context("the spec has no paths")?;
    paths.insert(
        "/v1/projects".into(),
        json!({
            "get": {
                "operationId": "listProjects",
                "tags": ["Projects"],
                "summary": "List projects",
                "security": [{ "bearerAuth": ["users:read"] }],
                "x-pagination": { "cursor": "cursor", "nextCursor": "nextCursor", "items": "items" },
                "parameters": [
                    { "name": "cursor", "in": "query", "schema": { "type": "string", "minLength": 1, "maxLength": 512 } },
                    { "name": "limit", "in": "query", "schema": { "type": "integer", "format": "int32", "minimum": 1, "maximum": 50 } }
                ],
                "responses": with_errors(json!({
                    "200": {
                        "description": "A page of projects.",
                        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ProjectPage" } } }
                    }
                }))
            },
            "post": {
                "operationId": "createProject",
                "tags": ["Projects"],
                "summary": "Create a project",
                "security": [{ "bearerAuth": ["users:write"] }],
                "requestBody": {
                    "required": true,
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ProjectCreate" } } }
                },
                "responses": with_errors(json!({
                    "201": {
                        "description": "Created.",
                        "headers": etag.clone(),
                        "content": { "application/json": { "schema": project.clone() } }
                    }
                }))
            }
        }),
    );
    paths.insert(
        "/v1/projects/{projectId}".into(),
        json!({
            "parameters": [
                { "name": "projectId", "in": "path", "required": true, "schema": { "type": "string", "format": "uuid" } }
            ],
            "get": {
                "operationId": "getProject",
                "tags": ["Projects"],
                "summary": "Get a project",
                "security": [{ "bearerAuth": ["users:read"] }],
                "parameters": [{ "$ref": "#/components/parameters/IfNoneMatch" }],
                "responses": with_errors(json!({
                    "200": {
                        "description": "The project.",
                        "headers": etag.clone(),
                        "content": { "application/json": { "schema": project.clone() } }
                    },
                    "304": { "description": "Not modified.", "headers": etag.clone() },
                    "404": { "$ref": "#/components/responses/NotFound" }
                }))
            },
            "patch": {
                "operationId": "updateProject",
                "tags": ["Projects"],
                "summary": "Update a project partially",
                "security": [{ "bearerAuth": ["users:write"] }],
                "parameters": [{ "$ref": "#/components/parameters/IfMatch" }],
                "requestBody": {
                    "required": true,
                    "content": { "application/merge-patch+json": { "schema": { "$ref": "#/components/schemas/ProjectPatch" } } }
                },
                "responses": with_errors(json!({
                    "200": {
                        "description": "The updated project.",
                        "headers": etag,
                        "content": { "application/json": { "schema": project.clone() } }
                    },
                    "404": { "$ref": "#/components/responses/NotFound" },
                    "412": { "$ref": "#/components/responses/PreconditionFailed" }
                }))
            }
        }),
    );
    let schemas = spec["components"]["schemas"]
        .as_object_mut()
        .context("the spec has no schemas")?;
    let name = json!({ "type": "string", "minLength": 1, "maxLength": 100 });
    let description = json!({ "type": "string", "maxLength": 1000 });
    schemas.insert(
        "Project".into(),
        json!({
            "type": "object",
            "required": ["id", "name"],
            "properties": {
                "id": { "type": "string", "format": "uuid", "readOnly": true },
                "name": name.clone(),
                "description": description.clone()
            }
        }),
    );
    schemas.insert(
        "ProjectCreate".into(),
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["name"],
            "properties": { "name": name.clone(), "description": description.clone() }
        }),
    );
    let mut nullable_description = description;
    nullable_description["nullable"] = json!(true);
    schemas.insert(
        "ProjectPatch".into(),
        json!({
            "type": "object",
            "additionalProperties": false,
            "properties": { "name": name, "description": nullable_description }
        }),
    );
    schemas.insert(
        "ProjectPage".into(),
        json!({
            "type": "object",
            "required": ["items"],
            "properties": {
                "items": { "type": "array", "items": project },
                "nextCursor": { "type": "string", "minLength": 1 }
            }
        }),
    );
    Ok(())
}
