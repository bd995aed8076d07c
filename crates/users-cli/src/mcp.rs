//! `users mcp`: a Model Context Protocol server over standard input and
//! output, with a tool per operation of the spec.
//!
//! Each tool is named by its operation id; its input schema is the one the
//! generator wrote from the spec (a member per parameter and `body`); its
//! annotations follow from the HTTP method. A call goes through the same
//! path as the command line: the arguments become the operation's command
//! line, parsed by its generated `clap` command and run through the SDK, so
//! a value the spec forbids is refused before anything is sent. The result
//! is the status and the JSON body; a refusal is an error result holding
//! the problem document. Bytes travel as base64: a body that is not JSON
//! is given so, and an answer that is not JSON comes back as MCP image
//! content when it is an image, else in base64.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Map, Value, json};
use users_client::Client;

use crate::generated;
use crate::runtime::{Failure, Operation, Options, Outcome};

/// The MCP server: the client it calls the API with, and which operations
/// it offers.
#[derive(Debug, Clone)]
pub struct Server {
    client: Client,
    options: Options,
    read_only: bool,
}

impl Server {
    /// A server calling the API through `client`; with `read_only`, only the
    /// safe operations (`GET`, `HEAD`, `OPTIONS`) are tools.
    pub fn new(client: Client, options: Options, read_only: bool) -> Self {
        Self {
            client,
            options,
            read_only,
        }
    }

    fn offered(&self) -> impl Iterator<Item = &'static Operation> + '_ {
        generated::OPERATIONS
            .iter()
            .filter(|op| !self.read_only || op.is_safe())
    }

    /// Serves MCP on standard input and output until the client leaves.
    pub async fn serve_stdio(self) -> Result<(), Failure> {
        let running = self
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|err| Failure::Local(format!("starting MCP: {err}")))?;
        running
            .waiting()
            .await
            .map(|_| ())
            .map_err(|err| Failure::Local(format!("MCP: {err}")))
    }

    /// Calls the operation `op` with `arguments`.
    pub async fn call(&self, op: &Operation, arguments: Map<String, Value>) -> CallToolResult {
        match self.run(op, arguments).await {
            Ok(result) => result,
            Err(failure) => CallToolResult::structured_error(describe(&failure)),
        }
    }

    async fn run(
        &self,
        op: &Operation,
        arguments: Map<String, Value>,
    ) -> Result<CallToolResult, Failure> {
        let command = crate::app::command();
        let sub = command
            .find_subcommand(op.group)
            .and_then(|group| group.find_subcommand(op.command))
            .ok_or_else(|| Failure::Usage(format!("no command for {}", op.id)))?;
        let argv = command_line(sub, arguments)?;
        let matches = sub
            .clone()
            .no_binary_name(true)
            .try_get_matches_from(argv)
            .map_err(|err| Failure::Usage(err.render().to_string()))?;
        let outcome =
            generated::run(&self.client, op.group, op.command, &matches, &self.options).await?;
        let answer = match outcome {
            Outcome::Value { status, body } => json!({ "status": status, "body": body }),
            Outcome::NotModified => json!({ "status": 304 }),
            Outcome::Bytes(chunks) => return bytes_result(chunks).await,
            Outcome::Items(_) => {
                return Err(Failure::Usage(format!(
                    "{} answers a body this server does not pass on",
                    op.id
                )));
            }
        };
        Ok(CallToolResult::structured(answer))
    }
}

/// The most of a body that is not JSON the server passes on.
const BYTES_LIMIT: usize = 16 * 1024 * 1024;

/// A body that is not JSON, for the agent: an image as MCP image content
/// (its type read from its bytes), anything else as base64 beside its
/// size; past [`BYTES_LIMIT`] an error.
async fn bytes_result(
    mut chunks: futures::stream::BoxStream<'static, Result<bytes::Bytes, Failure>>,
) -> Result<CallToolResult, Failure> {
    use base64::Engine as _;
    use futures::StreamExt as _;
    let mut held = Vec::new();
    while let Some(chunk) = chunks.next().await {
        held.extend_from_slice(&chunk?);
        if held.len() > BYTES_LIMIT {
            return Err(Failure::Local(format!(
                "the answer is larger than the {BYTES_LIMIT} bytes this server passes on"
            )));
        }
    }
    let data = base64::engine::general_purpose::STANDARD.encode(&held);
    match infer::get(&held).filter(|kind| kind.matcher_type() == infer::MatcherType::Image) {
        Some(kind) => Ok(CallToolResult::success(vec![ContentBlock::image(
            data,
            kind.mime_type(),
        )])),
        None => Ok(CallToolResult::structured(
            json!({ "status": 200, "size": held.len(), "base64": data }),
        )),
    }
}

/// What a failure says to the agent: the problem document as JSON when the
/// API answered one.
fn describe(failure: &Failure) -> Value {
    match failure {
        Failure::Api(err) => match err.problem() {
            Some(problem) => json!({
                "status": err.status().map(|s| s.as_u16()),
                "problem": problem,
            }),
            None => json!({ "error": err.to_string() }),
        },
        Failure::Usage(message) => json!({ "error": message, "kind": "invalid arguments" }),
        Failure::Local(message) => json!({ "error": message }),
        Failure::OutputClosed => json!({ "error": "the output was closed" }),
    }
}

/// The command line of `command` that `arguments` stand for: a path
/// parameter positionally, another as its flag, `body` as JSON.
fn command_line(
    command: &clap::Command,
    arguments: Map<String, Value>,
) -> Result<Vec<String>, Failure> {
    let mut positional: Vec<(usize, String)> = Vec::new();
    let mut flags = Vec::new();
    for (name, value) in arguments {
        let found = command
            .get_arguments()
            .find(|a| a.get_id() == name.as_str() && !a.is_hide_set());
        let arg = match found {
            Some(arg) => arg,
            // The body: `body`, or `requestBody` beside a parameter named
            // `body`; bytes in base64 text, anything else JSON.
            None if name == "body" || name == "requestBody" => {
                let bytes = command
                    .get_arguments()
                    .any(|a| a.get_id() == "__body_base64");
                if bytes {
                    flags.push("--body-base64".to_owned());
                    flags.push(text(&value));
                } else {
                    flags.push("--body-json".to_owned());
                    flags.push(value.to_string());
                }
                continue;
            }
            None => return Err(Failure::Usage(format!("unknown argument {name}"))),
        };
        let texts: Vec<String> = match value {
            Value::Null => continue,
            Value::Array(items) if arg.get_action().takes_values() && is_append(arg) => {
                items.iter().map(text).collect()
            }
            other => vec![text(&other)],
        };
        match arg.get_long() {
            Some(long) => {
                for text in texts {
                    flags.push(format!("--{long}"));
                    flags.push(text);
                }
            }
            None => {
                let index = arg.get_index().unwrap_or(usize::MAX);
                positional.extend(texts.into_iter().map(|t| (index, t)));
            }
        }
    }
    positional.sort_by_key(|(index, _)| *index);
    // Positional values after `--`, so one starting with `-` stays a value.
    let mut argv = flags;
    argv.push("--".to_owned());
    argv.extend(positional.into_iter().map(|(_, text)| text));
    Ok(argv)
}

fn is_append(arg: &clap::Arg) -> bool {
    matches!(arg.get_action(), clap::ArgAction::Append)
}

/// A JSON value as a flag's text: a string as it is, anything else as JSON.
fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The MCP tool of `op`.
pub fn tool(op: &Operation) -> Tool {
    let schema: Map<String, Value> =
        serde_json::from_str(op.input_schema).expect("the generated input schema is an object");
    let mut description = op.summary.to_owned();
    if !op.description.is_empty() {
        description.push_str(".\n\n");
        description.push_str(op.description);
    }
    description.push_str(&format!("\n\n{} {}", op.method, op.path));
    let annotations = ToolAnnotations::with_title(op.summary)
        .read_only(op.is_safe())
        .destructive(matches!(op.method, "DELETE" | "PUT"))
        .idempotent(matches!(
            op.method,
            "GET" | "HEAD" | "OPTIONS" | "PUT" | "DELETE"
        ))
        .open_world(false);
    Tool::new(op.id, description, Arc::new(schema)).with_annotations(annotations)
}

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
        info.server_info = rmcp::model::Implementation::new("users", env!("CARGO_PKG_VERSION"));
        info.with_instructions(
            "Each tool is one operation of the Users API. Arguments: the operation's \
             parameters by name and `body`. A result holds the HTTP status and the body.",
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(
            self.offered().map(tool).collect(),
        ))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.offered().find(|op| op.id == name).map(tool)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let op = self
            .offered()
            .find(|op| op.id == request.name)
            .ok_or_else(|| ErrorData::invalid_params(format!("no tool {}", request.name), None))?;
        Ok(self
            .call(op, request.arguments.unwrap_or_default())
            .await
            .into())
    }
}
