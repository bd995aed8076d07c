//! What the generated command table calls: reading a flag's text as the type
//! the SDK takes, assembling a body from `--body` and member flags, and
//! turning the SDK's answer into an [`Outcome`] to render.
//!
//! Nothing here knows an operation: the table (`generated.rs`) says which
//! flag goes where, and the SDK's types decide what a value may be.

use std::io::Read;

use futures::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use users_client::{Conditional, Error, Response};

/// An operation as the CLI names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// The spec's `operationId`.
    pub id: &'static str,
    /// The top-level command it is filed under (its first tag).
    pub group: &'static str,
    /// Its subcommand in the group.
    pub command: &'static str,
    /// The HTTP method, upper case.
    pub method: &'static str,
    /// The path template.
    pub path: &'static str,
    /// The spec's summary.
    pub summary: &'static str,
    /// The spec's description.
    pub description: &'static str,
    /// The JSON Schema (2020-12) of its arguments as one object: a member
    /// per parameter, by its name in the spec, and `body`.
    pub input_schema: &'static str,
}

impl Operation {
    /// Whether the operation is safe (reads only): `GET`, `HEAD`, `OPTIONS`.
    pub fn is_safe(&self) -> bool {
        matches!(self.method, "GET" | "HEAD" | "OPTIONS")
    }
}

/// How a flag's text is read as JSON before the SDK's type decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string, taken as given.
    Text,
    /// An integer.
    Integer,
    /// A number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// JSON (or YAML) text: an object, an array, anything.
    Json,
    /// A flag given once per item.
    Array(&'static Kind),
}

/// A top-level member of a JSON body that has a flag of its own.
#[derive(Debug, Clone, Copy)]
pub struct Member {
    /// The flag's argument id.
    pub id: &'static str,
    /// The member's name in the body.
    pub name: &'static str,
    /// How its text is read.
    pub kind: Kind,
}

/// Settings every operation's run reads.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// How many times a read-modify-write is tried on `412`.
    pub attempts: u32,
}

/// Why a command failed; each kind has its own exit code ([`Failure::exit_code`]).
#[derive(Debug)]
pub enum Failure {
    /// The command line is wrong: a value the spec forbids, a missing body.
    Usage(String),
    /// The API answered an error, or could not be reached.
    Api(Error),
    /// A local file or the configuration could not be read or written.
    Local(String),
    /// Whoever read the output stopped reading (`users ... | head`).
    OutputClosed,
}

impl Failure {
    /// The process's exit code: `2` for usage, `3` when the API refused the
    /// request (4xx), `4` when it failed (5xx) or could not be reached, `1`
    /// for a local failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Api(err) => match err.status() {
                Some(status) if status.is_client_error() => 3,
                _ if matches!(err, Error::InvalidRequest(_)) => 2,
                _ => 4,
            },
            Failure::Local(_) => 1,
            // As a process killed by SIGPIPE reports itself to a shell.
            Failure::OutputClosed => 141,
        }
    }
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        match err {
            // The SDK refused a value before sending: a usage error.
            Error::InvalidRequest(message) => Failure::Usage(message),
            other => Failure::Api(other),
        }
    }
}

/// What a command answered, to render.
pub enum Outcome<'c> {
    /// A body (JSON; `null` when there is none) and its status.
    Value {
        /// The HTTP status.
        status: u16,
        /// The body.
        body: Value,
    },
    /// `304 Not Modified` to a conditional read.
    NotModified,
    /// A body that is not JSON, as it arrives.
    Bytes(futures::stream::BoxStream<'static, Result<bytes::Bytes, Failure>>),
    /// Every item of every page, as they arrive.
    Items(futures::stream::BoxStream<'c, Result<Value, Failure>>),
}

impl std::fmt::Debug for Outcome<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Value { status, body } => f
                .debug_struct("Value")
                .field("status", status)
                .field("body", body)
                .finish(),
            Outcome::NotModified => f.write_str("NotModified"),
            Outcome::Bytes(_) => f.write_str("Bytes(..)"),
            Outcome::Items(_) => f.write_str("Items(..)"),
        }
    }
}

impl<'c> Outcome<'c> {
    /// The items of a paginated listing, one at a time.
    pub fn items<T: Serialize + 'c>(pages: users_client::Pages<'c, T>) -> Self {
        Outcome::Items(
            pages
                .map(|item| {
                    let item = item?;
                    serde_json::to_value(item).map_err(|err| Failure::Local(err.to_string()))
                })
                .boxed(),
        )
    }
}

/// The JSON a flag's `text` stands for, as `kind` reads it.
pub fn text_to_json(text: &str, kind: Kind) -> Result<Value, String> {
    match kind {
        Kind::Text => Ok(Value::String(text.to_owned())),
        Kind::Integer | Kind::Number => match serde_json::from_str::<Value>(text.trim()) {
            Ok(number @ Value::Number(_)) => Ok(number),
            _ => Err(format!("{text:?} is not a number")),
        },
        Kind::Boolean => match text.trim() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("{text:?} is not true or false")),
        },
        // JSON is YAML; a plain word is a string.
        Kind::Json | Kind::Array(_) => yaml_serde::from_str::<Value>(text)
            .map_err(|err| format!("{text:?} is not JSON or YAML: {err}")),
    }
}

/// `value` as the type `T`, or a usage failure naming `name` and, inside
/// it, the member at fault.
pub fn from_json<T: DeserializeOwned>(value: Value, name: &str) -> Result<T, Failure> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let at = if path == "." || path.is_empty() {
            if name.is_empty() { "body" } else { name }.to_owned()
        } else if name.is_empty() {
            path
        } else {
            format!("{name}.{path}")
        };
        Failure::Usage(format!("{at}: {}", err.inner()))
    })
}

/// The JSON of argument `id`, when it was given.
fn given(args: &clap::ArgMatches, id: &str, kind: Kind) -> Result<Option<Value>, Failure> {
    let usage = |message: String| Failure::Usage(format!("{id}: {message}"));
    match kind {
        Kind::Array(item) => match args.get_many::<String>(id) {
            None => Ok(None),
            Some(texts) => {
                let mut items = Vec::new();
                for text in texts {
                    items.push(text_to_json(text, *item).map_err(usage)?);
                }
                Ok(Some(Value::Array(items)))
            }
        },
        _ => match args.get_one::<String>(id) {
            None => Ok(None),
            Some(text) => text_to_json(text, kind).map(Some).map_err(usage),
        },
    }
}

/// Argument `id` as `T`, when given.
pub fn optional<T: DeserializeOwned>(
    args: &clap::ArgMatches,
    id: &str,
    kind: Kind,
) -> Result<Option<T>, Failure> {
    match given(args, id, kind)? {
        Some(value) => from_json(value, id).map(Some),
        None => Ok(None),
    }
}

/// Argument `id` as `T` (clap has made sure it was given).
pub fn required<T: DeserializeOwned>(
    args: &clap::ArgMatches,
    id: &str,
    kind: Kind,
) -> Result<T, Failure> {
    optional(args, id, kind)?.ok_or_else(|| Failure::Usage(format!("{id} is required")))
}

/// Whether any of the arguments `ids` was given on the command line.
pub fn any_given(args: &clap::ArgMatches, ids: &[&str]) -> bool {
    ids.iter().any(|id| {
        args.try_get_raw(id)
            .ok()
            .flatten()
            .is_some_and(|mut values| values.next().is_some())
    })
}

/// The text of `--body`: a file, or `-` for standard input.
fn read_source(source: &str) -> Result<Vec<u8>, Failure> {
    if source == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|err| Failure::Local(format!("reading standard input: {err}")))?;
        Ok(bytes)
    } else {
        std::fs::read(source).map_err(|err| Failure::Local(format!("reading {source}: {err}")))
    }
}

/// The body `--body` and the member flags give, as JSON: `None` when
/// neither is given.
fn body_json(args: &clap::ArgMatches, members: &[Member]) -> Result<Option<Value>, Failure> {
    let inline = args.try_get_one::<String>("__body_json").ok().flatten();
    let source = args.try_get_one::<String>("__body").ok().flatten();
    let mut body = match (inline, source) {
        (Some(json), _) => Some(
            serde_json::from_str::<Value>(json)
                .map_err(|err| Failure::Usage(format!("body: not JSON: {err}")))?,
        ),
        (None, Some(source)) => {
            let bytes = read_source(source)?;
            let text = String::from_utf8(bytes)
                .map_err(|_| Failure::Usage("--body: the file is not UTF-8 text".to_owned()))?;
            Some(
                yaml_serde::from_str::<Value>(&text)
                    .map_err(|err| Failure::Usage(format!("--body: not JSON or YAML: {err}")))?,
            )
        }
        (None, None) => None,
    };
    let set = |body: &mut Option<Value>, name: &str, value: Value| -> Result<(), Failure> {
        match body.get_or_insert_with(|| Value::Object(Default::default())) {
            Value::Object(map) => {
                map.insert(name.to_owned(), value);
                Ok(())
            }
            _ => Err(Failure::Usage(format!(
                "--body is not an object, so {name} cannot be set on it"
            ))),
        }
    };
    for member in members {
        if let Some(value) = given(args, member.id, member.kind)? {
            set(&mut body, member.name, value)?;
        }
    }
    for name in args
        .try_get_many::<String>("__clear")
        .ok()
        .flatten()
        .into_iter()
        .flatten()
    {
        set(&mut body, name, Value::Null)?;
    }
    Ok(body)
}

/// The body as `T`, when one is given.
pub fn body<T: DeserializeOwned>(
    args: &clap::ArgMatches,
    members: &[Member],
) -> Result<Option<T>, Failure> {
    match body_json(args, members)? {
        Some(value) => from_json(value, "").map(Some),
        None => Ok(None),
    }
}

/// The body as `T`: what is given, over an empty object (so a missing
/// required member is named).
pub fn required_body<T: DeserializeOwned>(
    args: &clap::ArgMatches,
    members: &[Member],
) -> Result<T, Failure> {
    let value = body_json(args, members)?.unwrap_or_else(|| Value::Object(Default::default()));
    from_json(value, "")
}

/// A body that is not JSON, from `--body`: a file is streamed, unless the
/// operation takes several media types (`whole`: the SDK tells which from
/// the first bytes); standard input is read whole. The MCP server gives it
/// in base64 (`--body-base64`).
pub async fn raw_body(
    args: &clap::ArgMatches,
    whole: bool,
) -> Result<Option<reqwest::Body>, Failure> {
    if let Some(text) = args.try_get_one::<String>("__body_base64").ok().flatten() {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|err| Failure::Usage(format!("the body is not base64: {err}")))?;
        return Ok(Some(reqwest::Body::from(bytes)));
    }
    match args.try_get_one::<String>("__body").ok().flatten() {
        None => Ok(None),
        Some(source) if source == "-" || whole => {
            Ok(Some(reqwest::Body::from(read_source(source)?)))
        }
        Some(path) => {
            let file = tokio::fs::File::open(path)
                .await
                .map_err(|err| Failure::Local(format!("opening {path}: {err}")))?;
            Ok(Some(reqwest::Body::from(file)))
        }
    }
}

/// The SDK's answer as an outcome.
pub fn respond<'c, T: Serialize, H>(
    answer: Result<Response<T, H>, Error>,
) -> Result<Outcome<'c>, Failure> {
    let answer = answer?;
    let status = answer.status().as_u16();
    let body =
        serde_json::to_value(answer.into_inner()).map_err(|err| Failure::Local(err.to_string()))?;
    Ok(Outcome::Value { status, body })
}

/// A conditional read's answer as an outcome.
pub fn conditional<'c, T: Serialize, H>(
    answer: Result<Conditional<Response<T, H>>, Error>,
) -> Result<Outcome<'c>, Failure> {
    match answer? {
        Conditional::NotModified => Ok(Outcome::NotModified),
        Conditional::Modified(response) => respond(Ok(response)),
    }
}

/// A conditional read of a body that is not JSON: streamed as
/// [`respond_bytes`] does, or nothing when it has not changed.
pub async fn conditional_bytes<'c, H>(
    answer: Result<Conditional<Response<progenitor_client::ByteStream, H>>, Error>,
) -> Result<Outcome<'c>, Failure> {
    match answer? {
        Conditional::NotModified => Ok(Outcome::NotModified),
        Conditional::Modified(response) => respond_bytes(Ok(response)).await,
    }
}

/// A body that is not JSON, streamed to the output as it arrives.
pub async fn respond_bytes<'c, H>(
    answer: Result<Response<progenitor_client::ByteStream, H>, Error>,
) -> Result<Outcome<'c>, Failure> {
    let stream = answer?.into_inner().into_inner();
    Ok(Outcome::Bytes(
        stream
            .map(|chunk| chunk.map_err(|err| Failure::Api(Error::Transport(err))))
            .boxed(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_read_by_kind() {
        assert_eq!(text_to_json("20", Kind::Integer).unwrap(), Value::from(20));
        assert_eq!(text_to_json("2.5", Kind::Number).unwrap(), Value::from(2.5));
        assert!(text_to_json("twenty", Kind::Integer).is_err());
        assert_eq!(
            text_to_json("true", Kind::Boolean).unwrap(),
            Value::Bool(true)
        );
        assert!(text_to_json("yes", Kind::Boolean).is_err());
        assert_eq!(text_to_json("007", Kind::Text).unwrap(), Value::from("007"));
        assert_eq!(
            text_to_json(r#"{"a": [1]}"#, Kind::Json).unwrap(),
            serde_json::json!({"a": [1]})
        );
        assert_eq!(
            text_to_json("a: 1", Kind::Json).unwrap(),
            serde_json::json!({"a": 1})
        );
    }

    #[test]
    fn a_bad_member_is_named_with_its_path() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            n: u8,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            inner: Inner,
        }
        let err = from_json::<Outer>(serde_json::json!({"inner": {"n": 300}}), "").unwrap_err();
        let Failure::Usage(message) = err else {
            panic!("{err:?}")
        };
        assert!(message.starts_with("inner.n: "), "{message}");
        let err = from_json::<u8>(Value::from(300), "limit").unwrap_err();
        let Failure::Usage(message) = err else {
            panic!("{err:?}")
        };
        assert!(message.starts_with("limit: "), "{message}");
    }

    #[test]
    fn exit_codes_tell_usage_refusal_and_failure_apart() {
        assert_eq!(Failure::Usage(String::new()).exit_code(), 2);
        assert_eq!(Failure::Local(String::new()).exit_code(), 1);
        let refused = Error::UnexpectedResponse {
            status: users_client::StatusCode::NOT_FOUND,
            body: String::new(),
        };
        assert_eq!(Failure::Api(refused).exit_code(), 3);
        let failed = Error::UnexpectedResponse {
            status: users_client::StatusCode::BAD_GATEWAY,
            body: String::new(),
        };
        assert_eq!(Failure::Api(failed).exit_code(), 4);
        assert_eq!(
            Failure::from(Error::InvalidRequest("limit".into())).exit_code(),
            2
        );
    }
}
