//! The command line's table: a `clap` command per operation, grouped by the
//! operation's first tag, and the code that turns a command's arguments into
//! a call of the SDK's surface.
//!
//! For every operation it writes
//! - `command_<op>()`: the subcommand, named after the operation id without
//!   the words of its group (`listUsers` in `users` is `list`), with a
//!   positional argument per path parameter, a flag per other parameter
//!   (the tenant switch is the CLI's global `--tenant`), a flag per
//!   top-level member of a JSON body, `--body FILE|-` for the whole body,
//!   `--clear MEMBER` for a merge patch, `--all` for a paginated listing and
//!   `--if-none-match` for a conditional read; its help from the spec;
//! - `run_<op>()`: parses each argument into the type the SDK takes (a value
//!   the spec forbids fails before anything is sent, naming the flag), calls
//!   the SDK, and answers the body as JSON. A write taking `If-Match` beside
//!   a read answering an `ETag` is sent through `Client::<op>_with` when no
//!   `--if-match` is given: read, modify, write, retried on `412`;
//! - `OPERATIONS`: each operation's id, group, command, method and path.
//!
//! What it writes knows nothing of any one API: the hand-written part of the
//! CLI (`runtime.rs`, `main.rs`) parses, renders and configures.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::Value;

use super::{Op, Param, Sdk, one_line, outside_path, rmw_read};
use crate::codegen::naming::snake;

/// Flags the CLI itself owns, on every command or globally.
const RESERVED: [&str; 13] = [
    "all",
    "attempts",
    "body",
    "clear",
    "help",
    "if-none-match",
    "output",
    "profile",
    "tenant",
    "token",
    "url",
    "verbose",
    "version",
];

/// Top-level commands the CLI itself owns.
const RESERVED_GROUPS: [&str; 5] = ["auth", "completions", "help", "man", "mcp"];

/// A type's path as the CLI reaches it: `uuid` through the SDK, which
/// re-exports it.
fn reachable(path: String, krate: &str) -> String {
    match path.strip_prefix("uuid::") {
        Some(rest) => format!("{krate}::uuid::{rest}"),
        None => path,
    }
}

/// `listUsers` is `list-users`.
fn kebab(name: &str) -> String {
    snake(name).replace('_', "-")
}

/// The group an operation is filed under: its first tag, kebab-cased, or
/// `api` for an untagged one; never one of the CLI's own commands.
fn group(op: &Op) -> String {
    let name = op.tags.first().map(|t| kebab(t)).unwrap_or_default();
    let name = if name.is_empty() {
        "api".to_owned()
    } else {
        name
    };
    if RESERVED_GROUPS.contains(&name.as_str()) {
        format!("{name}-api")
    } else {
        name
    }
}

/// The operation id without the words of its group (`getUser` in `users`
/// is `get`), or the whole id when nothing would be left.
fn command_name(op: &Op, group: &str) -> String {
    let words: Vec<String> = kebab(&op.id).split('-').map(str::to_owned).collect();
    let group_words: BTreeSet<String> = group
        .split('-')
        .flat_map(|w| {
            let singular = w.strip_suffix('s').unwrap_or(w).to_owned();
            [w.to_owned(), singular]
        })
        .collect();
    let kept: Vec<&str> = words
        .iter()
        .filter(|w| !group_words.contains(*w))
        .map(String::as_str)
        .collect();
    if kept.is_empty() {
        words.join("-")
    } else {
        kept.join("-")
    }
}

/// How the runtime reads a flag's text as JSON (`rt::Kind`), from the
/// schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Number,
    Boolean,
    Text,
    Json,
    /// A flag given once per item, each read as the scalar kind.
    Array(Scalar),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    Integer,
    Number,
    Boolean,
    Text,
}

impl Kind {
    /// `schema`'s kind (its `items` resolved already).
    fn of(schema: &Value) -> Self {
        let scalar = |ty: Option<&str>| match ty {
            Some("integer") => Some(Scalar::Integer),
            Some("number") => Some(Scalar::Number),
            Some("boolean") => Some(Scalar::Boolean),
            Some("string") => Some(Scalar::Text),
            _ => None,
        };
        match schema["type"].as_str() {
            Some("array") => match scalar(schema["items"]["type"].as_str()) {
                Some(item) => Kind::Array(item),
                None => Kind::Json,
            },
            ty => match scalar(ty) {
                Some(Scalar::Integer) => Kind::Integer,
                Some(Scalar::Number) => Kind::Number,
                Some(Scalar::Boolean) => Kind::Boolean,
                Some(Scalar::Text) => Kind::Text,
                // An enum without a type lists strings more often than not.
                None if ty.is_none()
                    && schema["enum"]
                        .as_array()
                        .is_some_and(|values| values.iter().all(Value::is_string)) =>
                {
                    Kind::Text
                }
                None => Kind::Json,
            },
        }
    }

    fn tokens(self) -> TokenStream {
        let scalar = |s: Scalar| match s {
            Scalar::Integer => quote!(rt::Kind::Integer),
            Scalar::Number => quote!(rt::Kind::Number),
            Scalar::Boolean => quote!(rt::Kind::Boolean),
            Scalar::Text => quote!(rt::Kind::Text),
        };
        match self {
            Kind::Integer => scalar(Scalar::Integer),
            Kind::Number => scalar(Scalar::Number),
            Kind::Boolean => scalar(Scalar::Boolean),
            Kind::Text => scalar(Scalar::Text),
            Kind::Json => quote!(rt::Kind::Json),
            Kind::Array(item) => {
                let item = scalar(item);
                quote!(rt::Kind::Array(&#item))
            }
        }
    }
}

/// What a flag's help says: the description's first paragraph, and the
/// values a closed enum takes.
fn help(description: Option<&str>, schema: &Value, fallback: &str) -> String {
    let text = description
        .or_else(|| schema["description"].as_str())
        .map(|d| one_line(d.split("\n\n").next().unwrap_or_default()))
        .unwrap_or_else(|| fallback.to_owned());
    let shape = shape(schema);
    if shape.is_empty() {
        text.trim().to_owned()
    } else {
        format!("{} [{shape}]", text.trim())
    }
}

/// What a value must be, from the schema, in a few words: `text, 1 to 75
/// characters, e.g. Head of Operations`.
fn shape(schema: &Value) -> String {
    let mut parts = Vec::new();
    let bound = |min: &str, max: &str, unit: &str| -> Option<String> {
        let (min, max) = (schema[min].as_f64(), schema[max].as_f64());
        match (min, max) {
            (Some(a), Some(b)) => Some(format!("{a} to {b}{unit}")),
            (Some(a), None) => Some(format!("at least {a}{unit}")),
            (None, Some(b)) => Some(format!("at most {b}{unit}")),
            (None, None) => None,
        }
    };
    match schema["type"].as_str() {
        Some("string") => {
            match schema["format"].as_str() {
                Some(format) => parts.push(format!("text ({format})")),
                None if schema["enum"].is_array() => {}
                None => parts.push("text".to_owned()),
            }
            parts.extend(bound("minLength", "maxLength", " characters"));
        }
        Some("integer") => {
            parts.push("integer".to_owned());
            parts.extend(bound("minimum", "maximum", ""));
        }
        Some("number") => {
            parts.push("number".to_owned());
            parts.extend(bound("minimum", "maximum", ""));
        }
        Some("boolean") => parts.push("true or false".to_owned()),
        Some("array") => {
            let scalar = matches!(
                schema["items"]["type"].as_str(),
                Some("string" | "integer" | "number" | "boolean")
            );
            parts.push(
                if scalar {
                    "given once per item"
                } else {
                    "a JSON or YAML list"
                }
                .to_owned(),
            );
            parts.extend(bound("minItems", "maxItems", " items"));
        }
        Some("object") => parts.push("JSON or YAML".to_owned()),
        _ => {}
    }
    match &schema["example"] {
        Value::String(text) if text.chars().count() <= 40 => parts.push(format!("e.g. {text}")),
        Value::Number(n) => parts.push(format!("e.g. {n}")),
        _ => {}
    }
    parts.join(", ")
}

/// The strings a closed enum lists (the CLI offers them to the shell).
fn choices(schema: &Value) -> Option<Vec<String>> {
    let values = schema["enum"].as_array()?;
    let strings: Vec<String> = values
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    (strings.len() == values.len() && !strings.is_empty()).then_some(strings)
}

/// An OpenAPI 3.0 schema as JSON Schema 2020-12: `nullable` as a `null`
/// type, component references under `$defs` (each named into `defs`),
/// examples and extensions left out.
fn json_schema(schema: &Value, defs: &mut BTreeSet<String>) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .unwrap_or(reference);
        defs.insert(name.to_owned());
        return serde_json::json!({ "$ref": format!("#/$defs/{name}") });
    }
    let mut out = serde_json::Map::new();
    for (key, value) in map {
        let converted = match key.as_str() {
            "nullable" | "example" | "examples" | "xml" | "externalDocs" | "discriminator"
            | "deprecated" => continue,
            k if k.starts_with("x-") => continue,
            "properties" | "patternProperties" => Value::Object(
                value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, member)| (name.clone(), json_schema(member, defs)))
                    .collect(),
            ),
            "items" | "additionalProperties" | "not" => json_schema(value, defs),
            "allOf" | "anyOf" | "oneOf" => Value::Array(
                value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|member| json_schema(member, defs))
                    .collect(),
            ),
            // 3.0's booleans are 2020-12's numbers.
            "exclusiveMinimum" | "exclusiveMaximum" => match value {
                Value::Bool(true) => {
                    let bound = if key == "exclusiveMinimum" {
                        "minimum"
                    } else {
                        "maximum"
                    };
                    match map.get(bound) {
                        Some(limit) => limit.clone(),
                        None => continue,
                    }
                }
                Value::Bool(false) => continue,
                other => other.clone(),
            },
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    // A bound made exclusive is not also inclusive.
    for (exclusive, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if map.get(exclusive) == Some(&Value::Bool(true)) {
            out.remove(bound);
        }
    }
    if map.get("nullable") == Some(&Value::Bool(true)) {
        match out.get("type").cloned() {
            Some(Value::String(ty)) => {
                out.insert("type".into(), serde_json::json!([ty, "null"]));
                if let Some(Value::Array(values)) = out.get_mut("enum")
                    && !values.contains(&Value::Null)
                {
                    values.push(Value::Null);
                }
            }
            _ => {
                return serde_json::json!({ "anyOf": [Value::Object(out), { "type": "null" }] });
            }
        }
    }
    Value::Object(out)
}

/// A JSON body's top-level member, as a flag.
struct Member {
    name: String,
    flag: String,
    kind: TokenStream,
    help: String,
    choices: Option<Vec<String>>,
    /// An array: the flag is given once per item.
    repeated: bool,
}

/// A flag's long name, unique on its command: `taken` is what the command
/// already uses.
fn unique_flag(wanted: String, prefix: &str, taken: &mut BTreeSet<String>) -> String {
    let mut flag = wanted;
    if RESERVED.contains(&flag.as_str()) || taken.contains(&flag) {
        flag = format!("{prefix}-{flag}");
    }
    let base = flag.clone();
    let mut n = 2;
    while taken.contains(&flag) {
        flag = format!("{base}-{n}");
        n += 1;
    }
    taken.insert(flag.clone());
    flag
}

impl Sdk<'_> {
    /// The tokens of the CLI's command table.
    pub(crate) fn cli(&self) -> anyhow::Result<TokenStream> {
        let ops = self.operations()?;
        let krate = format_ident!("{}", self.krate);
        // Each operation's group and command, unique in its group.
        let mut named: Vec<(String, String)> = Vec::new();
        for op in ops {
            let group = group(op);
            let mut name = command_name(op, &group);
            if named.iter().any(|(g, n)| *g == group && *n == name) {
                name = kebab(&op.id);
            }
            let base = name.clone();
            let mut n = 2;
            while named.iter().any(|(g, c)| *g == group && *c == name) {
                name = format!("{base}-{n}");
                n += 1;
            }
            named.push((group, name));
        }
        // A listing is also its noun alone (`lookups list-countries` is
        // `lookups countries`) where no other command of the group is.
        let aliases: Vec<Option<String>> = named
            .iter()
            .map(|(group, name)| {
                let noun = name.strip_prefix("list-")?;
                let taken = named
                    .iter()
                    .zip(ops)
                    .any(|((g, n), o)| g == group && (n == noun || o.id == noun))
                    || named
                        .iter()
                        .filter(|(g, n)| g == group && n != name)
                        .any(|(_, n)| n.strip_prefix("list-") == Some(noun));
                (!taken).then(|| noun.to_owned())
            })
            .collect();
        let mut groups: Vec<(String, Option<String>)> = Vec::new();
        for ((group, _), op) in named.iter().zip(ops) {
            if !groups.iter().any(|(g, _)| g == group) {
                let description = op
                    .tags
                    .first()
                    .and_then(|tag| self.tag_description(tag))
                    .map(|d| one_line(&d));
                groups.push((group.clone(), description));
            }
        }
        let mut table = Vec::new();
        let mut commands = Vec::new();
        let mut runs = Vec::new();
        let mut arms = Vec::new();
        let mut functions = Vec::new();
        for (((group, command), op), alias) in named.iter().zip(ops).zip(&aliases) {
            let fn_id = snake(&op.id);
            let command_fn = format_ident!("command_{}", fn_id);
            let run_fn = format_ident!("run_{}", fn_id);
            let (id, method, path) = (&op.id, op.method.to_uppercase(), &op.path);
            let summary = one_line(&op.summary);
            let description = op.description.as_deref().map(str::trim).unwrap_or_default();
            let schema = serde_json::to_string(&self.tool_schema(op)?)?;
            table.push(quote! {
                rt::Operation {
                    id: #id,
                    group: #group,
                    command: #command,
                    method: #method,
                    path: #path,
                    summary: #summary,
                    description: #description,
                    input_schema: #schema,
                },
            });
            commands.push((group.clone(), quote!(#command_fn())));
            arms.push(quote! {
                (#group, #command) => #run_fn(client, args, options).await,
            });
            let (command_tokens, run_tokens) =
                self.cli_command(op, command, alias.as_deref(), &krate, ops)?;
            functions.push(quote! {
                fn #command_fn() -> ::clap::Command { #command_tokens }
            });
            runs.push(quote! {
                async fn #run_fn<'c>(
                    client: &'c #krate::Client,
                    args: &::clap::ArgMatches,
                    options: &rt::Options,
                ) -> Result<rt::Outcome<'c>, rt::Failure> {
                    #run_tokens
                }
            });
        }
        let group_commands = groups.iter().map(|(group, description)| {
            let about = description
                .clone()
                .unwrap_or_else(|| format!("The `{group}` operations."));
            let subcommands = commands.iter().filter(|(g, _)| g == group).map(|(_, c)| c);
            quote! {
                ::clap::Command::new(#group)
                    .about(#about)
                    .subcommand_required(true)
                    .arg_required_else_help(true)
                    #(.subcommand(#subcommands))*
            }
        });
        Ok(quote! {
            //! The command table: a subcommand per operation of the spec,
            //! grouped by tag, and what each sends through the SDK.
            #![allow(
                unused_imports,
                unused_variables,
                unused_mut,
                clippy::let_and_return,
                clippy::clone_on_copy,
                clippy::redundant_clone
            )]

            use crate::runtime as rt;
            use #krate::types;

            /// Every operation, as the CLI names it.
            pub const OPERATIONS: &[rt::Operation] = &[#(#table)*];

            /// The groups of operations, one subcommand each.
            pub fn groups() -> Vec<::clap::Command> {
                vec![#(#group_commands),*]
            }

            /// Runs the operation `group command` with its parsed `args`.
            pub async fn run<'c>(
                client: &'c #krate::Client,
                group: &str,
                command: &str,
                args: &::clap::ArgMatches,
                options: &rt::Options,
            ) -> Result<rt::Outcome<'c>, rt::Failure> {
                match (group, command) {
                    #(#arms)*
                    _ => Err(rt::Failure::Usage(format!("no command {group} {command}"))),
                }
            }

            #(#functions)*

            #(#runs)*
        })
    }

    fn tag_description(&self, tag: &str) -> Option<String> {
        self.spec["tags"]
            .as_array()?
            .iter()
            .find(|t| t["name"] == tag)?["description"]
            .as_str()
            .map(str::to_owned)
    }

    /// One operation's `clap::Command` and the body of its `run_` function.
    fn cli_command(
        &self,
        op: &Op,
        command: &str,
        alias: Option<&str>,
        krate: &proc_macro2::Ident,
        ops: &[Op],
    ) -> anyhow::Result<(TokenStream, TokenStream)> {
        let krate_name = krate.to_string();
        let mut args = Vec::new();
        let mut taken: BTreeSet<String> = BTreeSet::new();
        // How each parameter is read: its id, type and kind.
        let value_type = |param: &Param| -> TokenStream {
            if param.is_header("If-Match") || param.is_header("If-None-Match") {
                return quote!(#krate::ETag);
            }
            let ty = match &param.integer {
                Some(int) => int.primitive.to_string(),
                None => reachable(outside_path(&param.ty, &krate_name), &krate_name),
            };
            ty.parse().unwrap_or_else(|_| quote!(::serde_json::Value))
        };
        for param in op.params.iter().filter(|p| p.location == "path") {
            let id = &param.name;
            let help = help(
                param.description.as_deref(),
                &self.items_resolved(&param.schema),
                id,
            );
            let value_name = snake(id).to_uppercase();
            args.push(quote! {
                ::clap::Arg::new(#id).required(true).value_name(#value_name).help(#help)
            });
        }
        for param in op
            .params
            .iter()
            .filter(|p| p.location != "path" && !p.tenant)
        {
            let id = &param.name;
            let flag = if param.is_header("If-None-Match") {
                taken.insert("if-none-match".to_owned());
                "if-none-match".to_owned()
            } else {
                unique_flag(kebab(id), "param", &mut taken)
            };
            let help = help(
                param.description.as_deref(),
                &self.items_resolved(&param.schema),
                &format!("`{id}` in the {}.", param.location),
            );
            let value_name = snake(id).to_uppercase();
            let required = param.required;
            let mut arg = quote! {
                ::clap::Arg::new(#id).long(#flag).value_name(#value_name).help(#help).required(#required)
            };
            if matches!(self.kind(&param.schema), Kind::Array(_)) {
                arg = quote!(#arg.action(::clap::ArgAction::Append));
            }
            if let Some(values) = choices(&param.schema).filter(|_| !param.open) {
                arg = quote!(#arg.value_parser([#(#values),*]));
            }
            args.push(arg);
        }
        // The body: its flags, and how the run reads it.
        let mut body_read = quote!();
        let mut body_is_raw = None;
        if let Some((ty, required)) = &op.body {
            let ty_text = reachable(outside_path(ty, &krate_name), &krate_name);
            let body_ty: TokenStream = ty_text
                .parse()
                .unwrap_or_else(|_| quote!(::serde_json::Value));
            let media = op
                .body_schema
                .as_ref()
                .map(|(_, media)| media.clone())
                .unwrap_or_default();
            let schema = op
                .body_schema
                .as_ref()
                .map(|(schema, _)| schema.clone())
                .unwrap_or(Value::Null);
            taken.insert("body".to_owned());
            let raw = ty_text.ends_with("reqwest::Body");
            let body_help = if raw {
                format!("The body ({media}): a file, or - for standard input.")
            } else {
                "The whole body, JSON or YAML: a file, or - for standard input. Flags set members over it.".to_owned()
            };
            args.push(quote! {
                ::clap::Arg::new("__body").long("body").value_name("FILE").help(#body_help)
            });
            if !raw {
                // The body as JSON text, for a caller that is not a person
                // (the MCP server).
                args.push(quote! {
                    ::clap::Arg::new("__body_json").long("body-json").value_name("JSON").hide(true)
                });
                taken.insert("body-json".to_owned());
            } else {
                // The bytes in base64, likewise.
                args.push(quote! {
                    ::clap::Arg::new("__body_base64").long("body-base64").value_name("BASE64").hide(true)
                });
                taken.insert("body-base64".to_owned());
            }
            let members = if raw {
                Vec::new()
            } else {
                self.members(&schema, &mut taken)?
            };
            for member in &members {
                let (id, flag, help) =
                    (format!("body.{}", member.name), &member.flag, &member.help);
                let value_name = snake(&member.name).to_uppercase();
                let mut arg = quote! {
                    ::clap::Arg::new(#id).long(#flag).value_name(#value_name).help(#help)
                };
                if let Some(values) = &member.choices {
                    arg = quote!(#arg.value_parser([#(#values),*]));
                }
                if member.repeated {
                    arg = quote!(#arg.action(::clap::ArgAction::Append));
                }
                args.push(arg);
            }
            let merge = media.split(';').next().unwrap_or_default().trim()
                == "application/merge-patch+json";
            if merge && !members.is_empty() {
                taken.insert("clear".to_owned());
                let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
                args.push(quote! {
                    ::clap::Arg::new("__clear")
                        .long("clear")
                        .value_name("MEMBER")
                        .action(::clap::ArgAction::Append)
                        .value_parser([#(#names),*])
                        .help("Clears a member: sends it as null, which removes it.")
                });
            }
            let member_table = members.iter().map(|m| {
                let (name, kind) = (&m.name, &m.kind);
                let id = format!("body.{name}");
                quote!(rt::Member { id: #id, name: #name, kind: #kind },)
            });
            // The SDK's method takes the body whether the spec requires it
            // or not: an optional one left out is empty (bytes) or an empty
            // object, whose missing members the SDK's type names.
            // Bytes that may go as several media types are read whole, so
            // that the SDK labels them with the type they are; others stream.
            let whole = !op.media_types.is_empty();
            body_read = match (raw, *required) {
                (true, true) => quote! {
                    let body: #body_ty = rt::raw_body(args, #whole).await?.ok_or_else(|| rt::Failure::Usage("--body is required".to_owned()))?;
                },
                (true, false) => quote! {
                    let body: #body_ty = rt::raw_body(args, #whole).await?.unwrap_or_else(|| ::reqwest::Body::from(Vec::<u8>::new()));
                },
                (false, _) => quote! {
                    let body: #body_ty = rt::required_body(args, &[#(#member_table)*])?;
                },
            };
            body_is_raw = Some(raw);
        }
        if op.pagination.is_some() {
            args.push(quote! {
                ::clap::Arg::new("__all")
                    .long("all")
                    .action(::clap::ArgAction::SetTrue)
                    .help("Every item of every page, streamed as it comes.")
            });
        }
        // The run: positional values, the call, optional setters, the answer.
        let mut steps = Vec::new();
        let mut call_args = Vec::new();
        for param in op.positional() {
            let local = format_ident!("p_{}", snake(&param.name));
            let id = &param.name;
            let ty = value_type(param);
            let kind = self.kind(&param.schema).tokens();
            steps.push(quote!(let #local: #ty = rt::required(args, #id, #kind)?;));
            if param.is_header("If-Match") || param.is_header("If-None-Match") {
                call_args.push(quote!(&#local));
            } else {
                call_args.push(quote!(#local));
            }
        }
        steps.push(body_read);
        if body_is_raw.is_some() {
            call_args.push(quote!(body));
        }
        let fn_name = op.fn_name();
        let positional_ids: BTreeSet<&str> =
            op.positional().iter().map(|p| p.name.as_str()).collect();
        let mut setters = Vec::new();
        let mut optional_ids = Vec::new();
        for param in &op.params {
            if param.location == "path"
                || param.tenant
                || positional_ids.contains(param.name.as_str())
                || param.is_header("If-None-Match")
            {
                continue;
            }
            let id = &param.name;
            let ty = value_type(param);
            let kind = self.kind(&param.schema).tokens();
            let setter = param.setter();
            let value = if param.is_header("If-Match") {
                quote!(&value)
            } else {
                quote!(value)
            };
            if !param.is_header("If-Match") {
                optional_ids.push(id.clone());
            }
            setters.push(quote! {
                let call = match rt::optional::<#ty>(args, #id, #kind)? {
                    Some(value) => call.#setter(#value),
                    None => call,
                };
            });
        }
        let streams_bytes = op.value.to_string().contains("ByteStream");
        let respond = if streams_bytes {
            quote!(rt::respond_bytes(call.await).await)
        } else {
            quote!(rt::respond(call.await))
        };
        let mut finish = Vec::new();
        if op.pagination.is_some() {
            finish.push(quote! {
                if args.get_flag("__all") {
                    return Ok(rt::Outcome::items(call.stream()));
                }
            });
        }
        if let Some(param) = op.param("If-None-Match").filter(|p| !p.required) {
            let id = &param.name;
            let conditional = if streams_bytes {
                quote!(rt::conditional_bytes(call.if_none_match(&etag).await).await)
            } else {
                quote!(rt::conditional(call.if_none_match(&etag).await))
            };
            finish.push(quote! {
                if let Some(etag) = rt::optional::<#krate::ETag>(args, #id, rt::Kind::Text)? {
                    return #conditional;
                }
            });
        }
        let send = quote! {
            let call = client.#fn_name(#(#call_args),*);
            #(#setters)*
            #(#finish)*
            #respond
        };
        let run = match (rmw_read(op, ops), op.param("If-Match")) {
            // (A body of bytes cannot be sent twice.)
            (Some(_), Some(if_match)) if !if_match.required && body_is_raw == Some(false) => {
                let with = format_ident!("{}_with", fn_name);
                let if_match_id = &if_match.name;
                let path_args: Vec<TokenStream> = op
                    .positional()
                    .iter()
                    .map(|p| {
                        let local = format_ident!("p_{}", snake(&p.name));
                        quote!(#local.clone())
                    })
                    .collect();
                quote! {
                    #(#steps)*
                    // Without an entity tag and without other options, the
                    // write is a read-modify-write, retried on 412.
                    if !args.contains_id(#if_match_id) && !rt::any_given(args, &[#(#optional_ids),*]) {
                        return rt::respond(
                            client.#with(#(#path_args,)* options.attempts, |_current| body.clone()).await,
                        );
                    }
                    #send
                }
            }
            _ => quote! {
                #(#steps)*
                #send
            },
        };
        let about = one_line(&op.summary);
        let long_about = {
            let mut text = String::new();
            if !op.summary.is_empty() {
                text.push_str(op.summary.trim());
                text.push_str(".\n\n");
            }
            if let Some(description) = &op.description {
                text.push_str(description.trim());
                text.push_str("\n\n");
            }
            text.push_str(&format!(
                "{} {} ({})",
                op.method.to_uppercase(),
                op.path,
                op.id
            ));
            text
        };
        let id = &op.id;
        let noun = alias.map(|noun| quote!(.visible_alias(#noun)));
        let command_tokens = quote! {
            ::clap::Command::new(#command)
                .about(#about)
                .long_about(#long_about)
                #noun
                .visible_alias(#id)
                #(.arg(#args))*
        };
        Ok((command_tokens, run))
    }

    /// The top-level members of a JSON body's schema, as flags.
    fn members(&self, schema: &Value, taken: &mut BTreeSet<String>) -> anyhow::Result<Vec<Member>> {
        let mut out = Vec::new();
        let Some(properties) = schema["properties"].as_object() else {
            return Ok(out);
        };
        let required: BTreeSet<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for (name, property) in properties {
            // `allOf: [$ref]` (a reference with siblings) is its one member.
            let single = match property["allOf"].as_array() {
                Some(all) if all.len() == 1 => &all[0],
                _ => property,
            };
            let resolved = self.resolve(single, "schemas")?;
            let kind = self.kind(resolved);
            if resolved["readOnly"] == true || property["readOnly"] == true {
                continue;
            }
            let flag = unique_flag(kebab(name), "set", taken);
            let mut help = help(
                property["description"].as_str(),
                &self.items_resolved(resolved),
                &format!("`{name}`."),
            );
            if required.contains(name.as_str()) {
                help.push_str(" (required)");
            }
            out.push(Member {
                name: name.clone(),
                flag,
                repeated: matches!(kind, Kind::Array(_)),
                kind: kind.tokens(),
                help,
                choices: choices(resolved).filter(|_| !self.is_open(&single["$ref"])),
            });
        }
        Ok(out)
    }

    /// The JSON Schema (2020-12) of an operation's arguments as one object:
    /// a member per parameter (by its name in the spec; the tenant switch
    /// is a setting) and `body`, the schemas it refers to under `$defs`.
    fn tool_schema(&self, op: &Op) -> anyhow::Result<Value> {
        let mut defs = BTreeSet::new();
        let mut properties = serde_json::Map::new();
        let mut required = Vec::new();
        for param in op.params.iter().filter(|p| !p.tenant) {
            let mut schema = json_schema(&param.schema, &mut defs);
            if let (Some(text), Value::Object(map)) = (&param.description, &mut schema) {
                map.insert("description".into(), Value::String(text.trim().to_owned()));
            }
            properties.insert(param.name.clone(), schema);
            if param.required {
                required.push(Value::String(param.name.clone()));
            }
        }
        if let (Some((_, body_required)), Some((schema, media))) = (&op.body, &op.body_schema) {
            let essence = media.split(';').next().unwrap_or_default().trim();
            let json = essence.ends_with("json")
                || essence.ends_with("form-urlencoded")
                || essence == "multipart/form-data";
            // Bytes travel as base64 text.
            let types = if op.media_types.is_empty() {
                media.clone()
            } else {
                op.media_types.join(", ")
            };
            let mut schema = if json {
                json_schema(schema, &mut defs)
            } else {
                serde_json::json!({
                    "type": "string",
                    "contentEncoding": "base64",
                    "description": format!("The request body ({types}): its bytes in base64."),
                })
            };
            if let Value::Object(map) = &mut schema {
                map.entry("description")
                    .or_insert_with(|| Value::String(format!("The request body ({media}).")));
            }
            // `requestBody` where a parameter is named `body`.
            let key = if properties.contains_key("body") {
                "requestBody"
            } else {
                "body"
            };
            properties.insert(key.into(), schema);
            if *body_required {
                required.push(Value::String(key.into()));
            }
        }
        let mut out = serde_json::json!({
            "type": "object",
            "properties": properties,
            "additionalProperties": false,
        });
        if !required.is_empty() {
            out["required"] = Value::Array(required);
        }
        // Every schema referred to, and those they refer to.
        let mut written = serde_json::Map::new();
        while let Some(name) = defs.iter().find(|d| !written.contains_key(*d)).cloned() {
            let schema = self.spec["components"]["schemas"]
                .get(&name)
                .cloned()
                .unwrap_or(Value::Bool(true));
            written.insert(name, json_schema(&schema, &mut defs));
        }
        if !written.is_empty() {
            out["$defs"] = Value::Object(written);
        }
        Ok(out)
    }

    /// How the runtime reads a flag of `schema`.
    fn kind(&self, schema: &Value) -> Kind {
        Kind::of(&self.items_resolved(schema))
    }

    /// `schema` with its `items` resolved when they are a reference (an
    /// array of a component string is a repeated flag).
    fn items_resolved(&self, schema: &Value) -> Value {
        let mut out = schema.clone();
        if let Some(items) = schema.get("items")
            && let Ok(resolved) = self.resolve(items, "schemas")
        {
            out["items"] = resolved.clone();
        }
        out
    }

    /// Whether `reference` names an open enum (any string goes).
    pub(super) fn is_open(&self, reference: &Value) -> bool {
        reference
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .is_some_and(|name| self.open.contains_key(name))
    }
}
