//! The building blocks of the generated decoders.
//!
//! `cargo xtask codegen` writes, for every request schema and every
//! operation's parameters, straight-line Rust that turns the request's bytes
//! (or parameter text) into the generated types and checks every constraint
//! the spec states on the way. This module holds what that code calls: JSON
//! document read in one pass ([`Json`]) and its primitives, the error collector,
//! field paths that cost nothing until an error names them, and the checks
//! of the `format`s the spec uses. Nothing here knows a schema.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

use super::problem::InvalidField;

/// Where a value sits in the request: built on the stack as the decoder
/// descends, rendered to a dotted path (`address.zipCode`, `roles.0`) only
/// when an error names it.
#[derive(Debug, Clone, Copy)]
pub enum Path<'a> {
    /// The body (or, for a parameter, nothing yet).
    Root,
    /// A member of an object.
    Member(&'a Path<'a>, &'a str),
    /// An item of an array.
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    /// The path of member `name` below this one.
    pub fn member(&'a self, name: &'a str) -> Path<'a> {
        Path::Member(self, name)
    }

    /// The path of item `index` below this one.
    pub fn index(&'a self, index: usize) -> Path<'a> {
        Path::Index(self, index)
    }

    /// The dotted form: members and indexes joined with `.`; the root is
    /// the empty string.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        use std::fmt::Write;
        let parent = match self {
            Path::Root => return,
            Path::Member(parent, _) | Path::Index(parent, _) => parent,
        };
        parent.write(out);
        if !out.is_empty() {
            out.push('.');
        }
        match self {
            Path::Member(_, name) => out.push_str(name),
            Path::Index(_, index) => {
                let _ = write!(out, "{index}");
            }
            Path::Root => {}
        }
    }
}

/// A `pattern` with look-around or back-references, which the `regex`
/// crate does not take: matched with `fancy-regex`, whose backtracking is
/// bounded; a value that exhausts the bound does not match.
#[derive(Debug)]
pub struct LookaroundPattern(fancy_regex::Regex);

impl LookaroundPattern {
    /// Compiles `pattern`, which the generator has checked.
    pub fn new(pattern: &str) -> Self {
        Self(fancy_regex::Regex::new(pattern).expect("checked by the generator"))
    }

    /// Whether `text` matches.
    pub fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text).unwrap_or(false)
    }
}

/// The most field errors one problem lists; the rest are counted
/// ([`Errors::omitted`]), so a body of many small mistakes cannot draw an
/// answer many times its size.
pub const MAX_LISTED_ERRORS: usize = 20;

/// The errors of one request: at most one per field (its first failing
/// constraint), in the order they were found; the first
/// [`MAX_LISTED_ERRORS`] are kept and the rest only counted.
#[derive(Debug, Default)]
pub struct Errors {
    listed: Vec<InvalidField>,
    omitted: usize,
}

impl Errors {
    /// Records that the value at `path` breaks a constraint, unless that
    /// field already has an error.
    pub fn push(&mut self, path: &Path<'_>, code: &str, message: impl Into<String>) {
        if self.listed.len() >= MAX_LISTED_ERRORS {
            self.omitted += 1;
            return;
        }
        let field = path.render();
        if self.listed.iter().any(|e| e.field == field) {
            return;
        }
        self.listed.push(InvalidField {
            field,
            message: message.into(),
            code: code.to_owned(),
        });
    }

    /// How many errors there are, listed or not: a decoder compares it
    /// before and after a value to learn whether the value was sound.
    pub fn len(&self) -> usize {
        self.listed.len() + self.omitted
    }

    /// The listed errors found after the first `start`.
    pub fn since(&self, start: usize) -> &[InvalidField] {
        self.listed.get(start..).unwrap_or_default()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many errors were found past [`MAX_LISTED_ERRORS`] and not listed.
    pub fn omitted(&self) -> usize {
        self.omitted
    }

    /// The listed errors, in the order they were found.
    pub fn into_vec(self) -> Vec<InvalidField> {
        self.listed
    }
}

/// A type the generator can build from JSON, checking every constraint of
/// its schema; errors go to `errors`, and `None` means there was one.
pub trait Decode: Sized {
    /// Decodes `raw`, the JSON of the value at `path`.
    fn decode(raw: &Json<'_>, path: &Path<'_>, errors: &mut Errors) -> Option<Self>;
}

/// Any JSON: a body or member the spec gives no schema.
impl Decode for serde_json::Value {
    fn decode(raw: &Json<'_>, _path: &Path<'_>, _errors: &mut Errors) -> Option<Self> {
        Some(raw.to_value())
    }
}

/// A generated enum of strings, read from its text.
pub trait FromText: Sized {
    /// The variant whose text is `text`.
    fn from_text(text: &str) -> Option<Self>;
    /// The text of this variant.
    fn as_text(&self) -> &'static str;
}

/// Decodes a whole body: syntax first (a 400 `malformed-request` when it is
/// not JSON), then the type's constraints. The errors are in the order the
/// body's members were written, then what the body lacks, then the rules
/// relating members.
pub fn body<T: Decode>(bytes: &[u8]) -> Result<T, BodyError> {
    let json = Json::parse(bytes).map_err(BodyError::Syntax)?;
    let mut errors = Errors::default();
    match T::decode(&json, &Path::Root, &mut errors) {
        Some(value) if errors.is_empty() => Ok(value),
        _ => Err(BodyError::Invalid(errors.into_vec())),
    }
}

/// Decodes `json`, a JSON text, as `T`: for values an implementation builds
/// (a merged patch, ...) and must check as a request would be checked.
pub fn text<T: Decode>(json: &str) -> Result<T, BodyError> {
    body(json.as_bytes())
}

/// Why a body was refused.
#[derive(Debug)]
pub enum BodyError {
    /// It is not JSON.
    Syntax(serde_json::Error),
    /// It is JSON that breaks the schema: one entry per field; an entry with
    /// an empty field is about the body as a whole.
    Invalid(Vec<InvalidField>),
}

/// A slot for one member of an object while its members are read.
#[derive(Debug)]
pub enum Slot<T> {
    /// Not sent.
    Absent,
    /// Sent, and refused (its error is recorded).
    Failed,
    /// Sent and sound.
    Given(T),
}

impl<T> Slot<T> {
    /// Fills the slot with the decoded value of a member; a member sent
    /// twice is an error.
    pub fn fill(
        &mut self,
        path: &Path<'_>,
        errors: &mut Errors,
        decode: impl FnOnce(&mut Errors) -> Option<T>,
    ) {
        if !matches!(self, Slot::Absent) {
            *self = Slot::Failed;
            errors.push(path, "duplicate-member", "is sent more than once");
            return;
        }
        *self = match decode(errors) {
            Some(value) => Slot::Given(value),
            None => Slot::Failed,
        };
    }

    /// Whether it was not sent.
    pub fn is_absent(&self) -> bool {
        matches!(self, Slot::Absent)
    }

    /// Its value, if it was sent and sound.
    pub fn given(&self) -> Option<&T> {
        match self {
            Slot::Given(value) => Some(value),
            _ => None,
        }
    }

    /// Its value, if it was sent and sound.
    pub fn into_option(self) -> Option<T> {
        match self {
            Slot::Given(value) => Some(value),
            _ => None,
        }
    }
}

/// The kind of a JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `null`
    Null,
    /// `true` or `false`
    Boolean,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

/// A JSON document read in one pass: strings borrowed from the request's
/// bytes unless they hold escapes, objects as their members in the order
/// they were written with duplicates kept (so that errors come in document
/// order and a member sent twice is refused, which a map would hide).
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    /// `null`
    Null,
    /// `true` or `false`
    Boolean(bool),
    /// A number.
    Number(serde_json::Number),
    /// A string.
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Json<'a>>),
    /// An object: its members as written.
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// The value as a `serde_json::Value`, for a member the schema leaves
    /// free (an object of any members); a member written twice keeps its
    /// last value, as JSON parsers do.
    pub fn to_value(&self) -> serde_json::Value {
        match self {
            Json::Null => serde_json::Value::Null,
            Json::Boolean(b) => serde_json::Value::Bool(*b),
            Json::Number(n) => serde_json::Value::Number(n.clone()),
            Json::String(s) => serde_json::Value::String(s.as_ref().to_owned()),
            Json::Array(items) => {
                serde_json::Value::Array(items.iter().map(Json::to_value).collect())
            }
            Json::Object(members) => serde_json::Value::Object(
                members
                    .iter()
                    .map(|(name, value)| (name.as_ref().to_owned(), value.to_value()))
                    .collect(),
            ),
        }
    }

    /// Reads a JSON text; anything that is not JSON is an error.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Json::Boolean(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        serde_json::Number::from_f64(v)
            .map(Json::Number)
            .ok_or_else(|| E::custom("a number out of range"))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Owned(v)))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(key) = map.next_key::<Key<'de>>()? {
            members.push((key.0, map.next_value()?));
        }
        Ok(Json::Object(members))
    }
}

/// The kind of `raw`.
pub fn kind(raw: &Json<'_>) -> Kind {
    match raw {
        Json::Null => Kind::Null,
        Json::Boolean(_) => Kind::Boolean,
        Json::Number(_) => Kind::Number,
        Json::String(_) => Kind::String,
        Json::Array(_) => Kind::Array,
        Json::Object(_) => Kind::Object,
    }
}

/// Whether `raw` is `null`.
pub fn is_null(raw: &Json<'_>) -> bool {
    matches!(raw, Json::Null)
}

/// The string `raw` holds.
pub fn string(raw: &Json<'_>) -> Option<String> {
    match raw {
        Json::String(text) => Some(text.as_ref().to_owned()),
        _ => None,
    }
}

/// The string `raw` holds, borrowed: for values read as something else
/// (an enum's variant, ...).
pub fn text_of<'r>(raw: &'r Json<'_>) -> Option<&'r str> {
    match raw {
        Json::String(text) => Some(text),
        _ => None,
    }
}

/// The boolean `raw` holds.
pub fn boolean(raw: &Json<'_>) -> Option<bool> {
    match raw {
        Json::Boolean(flag) => Some(*flag),
        _ => None,
    }
}

/// The number `raw` holds.
pub fn number(raw: &Json<'_>) -> Option<serde_json::Number> {
    match raw {
        Json::Number(number) => Some(number.clone()),
        _ => None,
    }
}

/// The integer `raw` holds: JSON Schema counts `2.0` as an integer too.
pub fn integer(raw: &Json<'_>) -> Option<i64> {
    let Json::Number(number) = raw else {
        return None;
    };
    number.as_i64().or_else(|| {
        let float = number.as_f64()?;
        // The range check keeps the cast exact.
        (float.fract() == 0.0 && float.abs() < 9.0e15).then_some(float as i64)
    })
}

/// The items of the array `raw` holds.
pub fn items<'r, 'a>(raw: &'r Json<'a>) -> Option<&'r [Json<'a>]> {
    match raw {
        Json::Array(items) => Some(items),
        _ => None,
    }
}

/// The members of the object `raw` holds, in the order they were written,
/// duplicates kept.
pub fn members<'r, 'a>(raw: &'r Json<'a>) -> Option<&'r [(Cow<'a, str>, Json<'a>)]> {
    match raw {
        Json::Object(members) => Some(members),
        _ => None,
    }
}

/// A member name, borrowed unless it holds escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Records an unknown member of a closed object: `read-only` when the spec
/// marks a member of that name read-only somewhere, else `unknown-field`.
pub fn unknown_member(path: &Path<'_>, name: &str, read_only: &[&str], errors: &mut Errors) {
    if name.contains('\0') {
        errors.push(path, "nul-character", "must not contain a NUL character");
    } else if read_only.contains(&name) {
        errors.push(path, "read-only", "is read-only");
    } else {
        errors.push(path, "unknown-field", "is not a known field");
    }
}

/// A header whose syntax the `headers` crate knows, parsed from its text;
/// text that is not one is an error at `path`.
pub fn typed_header<H: headers::Header>(
    text: &str,
    path: &Path<'_>,
    errors: &mut Errors,
) -> Option<H> {
    let parsed = http::HeaderValue::from_str(text)
        .ok()
        .and_then(|value| H::decode(&mut std::iter::once(&value)).ok());
    if parsed.is_none() {
        errors.push(
            path,
            "format",
            format!("is not a valid {} header", H::name()),
        );
    }
    parsed
}

/// Whether no two items are equal (`uniqueItems`).
pub fn all_distinct<T: PartialEq>(items: &[T]) -> bool {
    items
        .iter()
        .enumerate()
        .all(|(i, item)| !items[..i].contains(item))
}

/// Whether no two of `items` are equal as JSON Schema compares instances
/// (`uniqueItems` over objects, arrays or numbers): members in any order,
/// numbers by their value (`1` equals `1.0`).
pub fn all_distinct_json(items: &[Json<'_>]) -> bool {
    let values: Vec<serde_json::Value> = items.iter().map(Json::to_value).collect();
    values
        .iter()
        .enumerate()
        .all(|(i, item)| !values[..i].iter().any(|other| json_equal(item, other)))
}

/// JSON Schema's equality of two instances.
fn json_equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(a), Some(b)) => a == b,
            _ => match (a.as_u64(), b.as_u64()) {
                (Some(a), Some(b)) => a == b,
                _ => a.as_f64() == b.as_f64(),
            },
        },
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(name, a)| b.get(name).is_some_and(|b| json_equal(a, b)))
        }
        (a, b) => a == b,
    }
}

/// Whether `value` is a multiple of `by` (`multipleOf`, `by` above 0):
/// the quotient is whole, up to the rounding of decimal fractions
/// (`0.3` is a multiple of `0.1`).
pub fn multiple_of(value: f64, by: f64) -> bool {
    let quotient = value / by;
    (quotient - quotient.round()).abs() <= 1e-9 * quotient.abs().max(1.0)
}

/// The length of `text` in characters, as JSON Schema counts it (code
/// points).
pub fn length(text: &str) -> usize {
    text.chars().count()
}

/// Today, for rules such as `date-not-in-future`.
pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

/// The checks of the `format`s the generator knows.
pub mod format {
    /// `date`: an RFC 3339 full-date, `YYYY-MM-DD`, that exists.
    pub fn date(text: &str) -> bool {
        text.len() == 10
            && text.as_bytes()[4] == b'-'
            && text.as_bytes()[7] == b'-'
            && chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
            && text
                .bytes()
                .enumerate()
                .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit())
    }

    /// `date-time`: an RFC 3339 date-time.
    pub fn date_time(text: &str) -> bool {
        chrono::DateTime::parse_from_rfc3339(text).is_ok()
    }

    /// `uuid`: the hyphenated form, 8-4-4-4-12 hex digits (the only form
    /// of that length the `uuid` crate reads).
    pub fn uuid(text: &str) -> bool {
        text.len() == 36 && uuid::Uuid::try_parse(text).is_ok()
    }

    /// `email`: an RFC 5321 mailbox whose domain is a host name or an
    /// address literal.
    pub fn email(text: &str) -> bool {
        let Ok(address) = email_address::EmailAddress::parse_with_options(
            text,
            email_address::Options::default(),
        ) else {
            return false;
        };
        let domain = address.domain();
        if domain.starts_with('[') {
            return domain.ends_with(']');
        }
        hostname(domain)
    }

    /// A DNS host name: labels of 1 to 63 letters, digits and inner
    /// hyphens, 253 characters at most.
    pub fn hostname(text: &str) -> bool {
        !text.is_empty()
            && text.len() <= 253
            && text.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    }

    /// `uri`: an absolute RFC 3986 URI.
    pub fn uri(text: &str) -> bool {
        fluent_uri::Uri::parse(text).is_ok()
    }

    /// `uri-reference`: an RFC 3986 URI or relative reference.
    pub fn uri_reference(text: &str) -> bool {
        fluent_uri::UriRef::parse(text).is_ok()
    }

    /// `ipv4`: a dotted-quad address (RFC 2673), as the standard library
    /// reads it.
    pub fn ipv4(text: &str) -> bool {
        text.parse::<std::net::Ipv4Addr>().is_ok()
    }

    /// `ipv6`: an RFC 4291 address, as the standard library reads it.
    pub fn ipv6(text: &str) -> bool {
        text.parse::<std::net::Ipv6Addr>().is_ok()
    }

    /// `ip`: either of the two.
    pub fn ip(text: &str) -> bool {
        text.parse::<std::net::IpAddr>().is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_formats() {
        assert!(format::ipv4("192.0.2.1") && !format::ipv4("192.0.2.256"));
        assert!(!format::ipv4("::1") && format::ipv6("2001:db8::1"));
        assert!(!format::ipv6("2001:db8::g"));
        assert!(format::ip("192.0.2.1") && format::ip("::1") && !format::ip("host"));
        assert!(format::hostname("example.org") && !format::hostname("-bad.org"));
    }

    #[test]
    fn paths_render_dotted() {
        let root = Path::Root;
        let address = root.member("address");
        let zip = address.member("zipCode");
        let roles = root.member("roles");
        let first = roles.index(0);
        assert_eq!(root.render(), "");
        assert_eq!(zip.render(), "address.zipCode");
        assert_eq!(first.render(), "roles.0");
    }

    #[test]
    fn unique_items_compare_as_json_schema_does() {
        let items = |text: &'static str| match Json::parse(text.as_bytes()).unwrap() {
            Json::Array(items) => items,
            other => panic!("not an array: {other:?}"),
        };
        assert!(all_distinct_json(&items(
            r#"[{"a":1},{"a":2},[1],[1,2],1,"1"]"#
        )));
        assert!(!all_distinct_json(&items(
            r#"[{"a":1,"b":2},{"b":2,"a":1}]"#
        )));
        assert!(!all_distinct_json(&items(
            "[[1,{\"x\":true}],[1,{\"x\":true}]]"
        )));
        assert!(!all_distinct_json(&items("[1, 1.0]")));
        assert!(all_distinct_json(&items("[-1, 18446744073709551615, 1.5]")));
        assert!(!all_distinct_json(&items(
            "[18446744073709551615, 18446744073709551615]"
        )));
    }

    #[test]
    fn multiples() {
        assert!(multiple_of(10.0, 5.0) && multiple_of(-10.0, 5.0) && multiple_of(0.0, 3.0));
        assert!(!multiple_of(11.0, 5.0) && !multiple_of(0.35, 0.1));
        assert!(multiple_of(0.3, 0.1) && multiple_of(4.5, 1.5));
        assert!(multiple_of(9_007_199_254_740_990.0, 10.0));
    }

    #[test]
    fn one_error_per_field() {
        let mut errors = Errors::default();
        let root = Path::Root;
        let email = root.member("email");
        errors.push(&email, "format", "is not a valid email");
        errors.push(&email, "max-length", "must be at most 254 characters");
        assert_eq!(errors.into_vec().len(), 1);
    }

    #[test]
    fn members_keep_order_and_duplicates() {
        let json = Json::parse(br#"{"b":1,"a\u0041":[2],"b":{"c":3}}"#).unwrap();
        let members = members(&json).unwrap();
        let names: Vec<&str> = members.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(names, ["b", "aA", "b"]);
        assert_eq!(
            members[2].1,
            Json::Object(vec![("c".into(), Json::Number(3.into()))])
        );
    }

    #[test]
    fn primitives() {
        let raw = |text: &'static str| Json::parse(text.as_bytes()).unwrap();
        assert_eq!(integer(&raw("2.0")), Some(2));
        assert_eq!(integer(&raw("2.5")), None);
        assert_eq!(integer(&raw("\"2\"")), None);
        assert_eq!(string(&raw(r#""a\nb""#)).as_deref(), Some("a\nb"));
        assert_eq!(boolean(&raw("null")), None);
        assert!(format::date("2024-02-29"));
        assert!(!format::date("2023-02-29"));
        assert!(!format::date("2023-2-28"));
        assert!(format::uuid("3fa85f64-5717-4562-b3fc-2c963f66afa6"));
        assert!(!format::uuid("3fa85f6457174562b3fc2c963f66afa6"));
        assert!(format::email("john.smith@example.com"));
        assert!(!format::email("john.smith@"));
        assert!(format::uri("https://cdn.example.com/a.png"));
        assert!(!format::uri("/a.png"));
    }
}
