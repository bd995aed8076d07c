//! What the generated client carries and does around every request:
//! authentication, the real media types, idempotency keys, timeouts and
//! retries. It implements progenitor's `ClientHooks` for the generated
//! `Client`, so every generated method goes through it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::header::{self, HeaderValue};

use crate::generated::Client as GeneratedClient;
use crate::Error;

/// The media type of PATCH bodies (RFC 7396).
pub const MERGE_PATCH_JSON: &str = "application/merge-patch+json";
/// What the client accepts: resources and problems (RFC 9457).
pub const ACCEPT: &str = "application/json, application/problem+json";
/// The header that makes a create safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// A boxed error from a token provider.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A future that yields a bearer token.
pub type TokenFuture = Pin<Box<dyn Future<Output = Result<String, BoxError>> + Send>>;

/// Supplies the bearer token for each request attempt, so a token can be
/// refreshed before it expires. Implemented for `Fn() -> Future<Output =
/// Result<String, BoxError>>` closures.
pub trait TokenProvider: Send + Sync + 'static {
    /// The token to send now.
    fn token(&self) -> TokenFuture;
}

impl<F, Fut> TokenProvider for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<String, BoxError>> + Send + 'static,
{
    fn token(&self) -> TokenFuture {
        Box::pin(self())
    }
}

#[derive(Clone)]
pub(crate) enum Auth {
    None,
    Static(HeaderValue),
    Provider(Arc<dyn TokenProvider>),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a token.
        f.write_str(match self {
            Auth::None => "None",
            Auth::Static(_) => "Static(..)",
            Auth::Provider(_) => "Provider(..)",
        })
    }
}

/// A secret the client sends (an API key); its `Debug` shows none of it.
#[derive(Clone)]
pub(crate) struct Secret(pub(crate) String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Where an API key goes.
// Built by the generated tables of a spec that names such schemes.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyLocation {
    Header,
    Query,
    Cookie,
}

/// A security scheme an operation accepts, from the spec.
// Built by the generated tables of a spec that names such schemes.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// `Authorization: Bearer` (HTTP bearer, OAuth 2.0, OpenID Connect).
    Bearer,
    /// `Authorization: Basic`.
    Basic,
    /// The key set for `scheme` (its name in the spec), sent under `name`.
    ApiKey {
        scheme: &'static str,
        location: KeyLocation,
        name: &'static str,
    },
}

/// When and how often a failed request is tried again.
///
/// Connection errors and the statuses 408, 429, 502, 503 and 504 are retried
/// with exponential backoff and full jitter, waiting at least what a
/// `Retry-After` header asks. A POST or PATCH is retried only when it carries an
/// `Idempotency-Key` (creates always do): otherwise a retry could apply it twice.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 turns retries off.
    pub max_attempts: u32,
    /// The backoff before the first retry; it doubles on each retry.
    pub initial_backoff: Duration,
    /// The longest backoff between two attempts.
    pub max_backoff: Duration,
    /// No retry starts once this much time has passed since the first attempt,
    /// and none is planned that would start later.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The backoff before retry number `retry` (1-based), with full jitter.
    fn backoff(&self, retry: u32) -> Duration {
        let exp = self.initial_backoff.saturating_mul(
            1u32.checked_shl(retry.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        let cap = exp.min(self.max_backoff);
        let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(fastrand::u64(0..=nanos))
    }
}

/// Whether a response status is worth retrying.
pub(crate) fn is_retryable_status(status: reqwest::StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 502 | 503 | 504)
}

/// Whether a transport error is worth retrying: the request may not have
/// reached the server, or the connection broke.
pub(crate) fn is_retryable_transport(err: &reqwest::Error) -> bool {
    err.is_connect() || err.is_timeout() || err.is_request()
}

/// The delay a `Retry-After` header asks for: delta-seconds or an HTTP date.
pub(crate) fn retry_after(headers: &header::HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

/// What the runtime must know of an operation that progenitor does not say:
/// generated from the spec (`crate::sdk::operation_traits`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct OperationTraits {
    /// The body's media type when it is not `application/json`.
    pub(crate) body_media_type: Option<&'static str>,
    /// The media types a body of bytes may go as, when there are several
    /// (an image as `image/png`, `image/jpeg` or `image/webp`).
    pub(crate) body_media_types: &'static [&'static str],
    /// The `Accept` of an operation whose success is not JSON (an image);
    /// `None`: [`ACCEPT`].
    pub(crate) accept: Option<&'static str>,
    /// Whether the operation takes an `Idempotency-Key` header.
    pub(crate) idempotency_key: bool,
    /// Its security requirements: any one of them, each every scheme in
    /// it. None: the operation is open, or names only bearer schemes.
    pub(crate) security: &'static [&'static [Scheme]],
}

/// The runtime state the generated client carries (its "inner" value).
#[derive(Debug, Clone)]
pub struct Runtime {
    pub(crate) auth: Auth,
    /// `Authorization: Basic`, when set (marked sensitive).
    pub(crate) basic: Option<HeaderValue>,
    /// The API keys set, by the name of their scheme.
    pub(crate) api_keys: Vec<(String, Secret)>,
    pub(crate) user_agent: HeaderValue,
    /// A per-request timeout replacing the reqwest client's (`Client::with_timeout`).
    pub(crate) timeout: Option<Duration>,
    /// The value of the `x-tenant-switch` parameter, when set.
    pub(crate) tenant: Option<String>,
    pub(crate) retry: RetryPolicy,
}

impl Runtime {
    /// Whether a credential for `scheme` is set.
    fn has(&self, scheme: &Scheme) -> bool {
        match scheme {
            Scheme::Bearer => !matches!(self.auth, Auth::None),
            Scheme::Basic => self.basic.is_some(),
            Scheme::ApiKey { scheme, .. } => self.api_keys.iter().any(|(s, _)| s == scheme),
        }
    }

    /// Puts the credentials of the first of `security`'s requirements
    /// whose every scheme is set on `request`; the bearer token when none
    /// is (an operation that names no other scheme, or an API whose
    /// server will say what it lacks).
    async fn authenticate(
        &self,
        request: &mut reqwest::Request,
        security: &[&[Scheme]],
    ) -> Result<(), String> {
        let chosen = security
            .iter()
            .find(|requirement| requirement.iter().all(|s| self.has(s)));
        let Some(requirement) = chosen else {
            if let Some(value) = self.authorization().await? {
                request.headers_mut().insert(header::AUTHORIZATION, value);
            }
            return Ok(());
        };
        for scheme in requirement.iter() {
            match scheme {
                Scheme::Bearer => {
                    if let Some(value) = self.authorization().await? {
                        request.headers_mut().insert(header::AUTHORIZATION, value);
                    }
                }
                Scheme::Basic => {
                    if let Some(value) = &self.basic {
                        request
                            .headers_mut()
                            .insert(header::AUTHORIZATION, value.clone());
                    }
                }
                Scheme::ApiKey {
                    scheme,
                    location,
                    name,
                } => {
                    let Some((_, key)) = self.api_keys.iter().find(|(s, _)| s == scheme) else {
                        continue;
                    };
                    match location {
                        KeyLocation::Header => {
                            let header = header::HeaderName::from_bytes(name.as_bytes())
                                .map_err(|_| {
                                    format!("the spec's header {name:?} of {scheme} is not a header name")
                                })?;
                            let mut value = HeaderValue::from_str(&key.0).map_err(|_| {
                                format!("the API key of {scheme} is not a valid header value")
                            })?;
                            value.set_sensitive(true);
                            request.headers_mut().insert(header, value);
                        }
                        KeyLocation::Query => {
                            request
                                .url_mut()
                                .query_pairs_mut()
                                .append_pair(name, &key.0);
                        }
                        KeyLocation::Cookie => {
                            let cookie = match request.headers().get(header::COOKIE) {
                                Some(sent) => format!(
                                    "{}; {name}={}",
                                    sent.to_str().unwrap_or_default(),
                                    key.0
                                ),
                                None => format!("{name}={}", key.0),
                            };
                            let mut value = HeaderValue::from_str(&cookie).map_err(|_| {
                                format!("the API key of {scheme} is not a valid cookie value")
                            })?;
                            value.set_sensitive(true);
                            request.headers_mut().insert(header::COOKIE, value);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    async fn authorization(&self) -> Result<Option<HeaderValue>, String> {
        let token = match &self.auth {
            Auth::None => return Ok(None),
            Auth::Static(value) => return Ok(Some(value.clone())),
            Auth::Provider(provider) => provider
                .token()
                .await
                .map_err(|e| format!("the token provider failed: {e}"))?,
        };
        bearer(&token)
            .map(Some)
            .map_err(|_| "the token is not a valid header value".to_owned())
    }
}

/// A bearer `Authorization` value, marked sensitive so it is never logged.
pub(crate) fn bearer(token: &str) -> Result<HeaderValue, header::InvalidHeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}"))?;
    value.set_sensitive(true);
    Ok(value)
}

tokio::task_local! {
    /// The media type a call's caller named for its body
    /// (`ops::SetUserAvatar::content_type`), for [`ClientHooks::pre`].
    static BODY_MEDIA_TYPE: &'static str;
}

/// Runs `call` (a generated request's `send`) with its body going as
/// `media_type`.
// Called by the generated surface only for a spec with a byte body that
// may go as several media types.
#[allow(dead_code)]
pub(crate) async fn sending_as<F: Future>(media_type: &'static str, call: F) -> F::Output {
    BODY_MEDIA_TYPE.scope(media_type, call).await
}

/// Which of `media_types` the request's body is, read from its first
/// bytes (`image/png` for a PNG image); `None` for a stream, or bytes of
/// none of them.
fn sniffed(request: &reqwest::Request, media_types: &[&'static str]) -> Option<&'static str> {
    if media_types.is_empty() {
        return None;
    }
    let bytes = request.body()?.as_bytes()?;
    let found = infer::get(bytes)?.mime_type();
    media_types
        .iter()
        .copied()
        .find(|media| media.eq_ignore_ascii_case(found))
}

/// Whether a request may be sent twice without doing its work twice.
fn is_idempotent(request: &reqwest::Request) -> bool {
    match *request.method() {
        reqwest::Method::POST | reqwest::Method::PATCH => {
            request.headers().contains_key(IDEMPOTENCY_KEY)
        }
        _ => true,
    }
}

impl ClientHooks<Runtime> for GeneratedClient {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        let runtime = self.inner();
        let traits = crate::sdk::operation_traits(info.operation_id);
        let headers = request.headers_mut();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static(traits.accept.unwrap_or(ACCEPT)),
        );
        headers.insert(header::USER_AGENT, runtime.user_agent.clone());
        // progenitor sends every JSON-like body as application/json; the
        // spec's own media type (a merge patch, say) goes on the wire.
        if let (Some(media_type), true) = (traits.body_media_type, request.body().is_some()) {
            request
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
        }
        // A body that may go as one of several media types goes as the
        // one the caller named, else as the one its bytes are; a stream
        // nobody named goes as progenitor labelled it.
        let named = BODY_MEDIA_TYPE
            .try_with(|named| *named)
            .ok()
            .filter(|named| traits.body_media_types.contains(named));
        if let Some(media_type) = named.or_else(|| sniffed(request, traits.body_media_types)) {
            request
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
        }
        // An operation that takes an `Idempotency-Key` gets a fresh one
        // unless the caller chose one; retries of this request reuse it
        // because they resend this very request.
        if traits.idempotency_key && !request.headers().contains_key(IDEMPOTENCY_KEY) {
            let key = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .expect("a UUID is a valid header value");
            request.headers_mut().insert(IDEMPOTENCY_KEY, key);
        }
        if let Some(timeout) = runtime.timeout {
            *request.timeout_mut() = Some(timeout);
        }
        // Asked once per call: retries follow within seconds and reuse it.
        runtime
            .authenticate(request, traits.security)
            .await
            .map_err(progenitor_client::Error::Custom)?;
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        _info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let runtime = self.inner();
        let policy = &runtime.retry;
        let retryable = is_idempotent(&request);
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let this = match request.try_clone() {
                // A streaming body cannot be sent twice: one attempt only.
                None => return self.client().execute(request).await,
                Some(this) => this,
            };
            let result = self.client().execute(this).await;
            let wait = match &result {
                Ok(response) if is_retryable_status(response.status()) => {
                    let backoff = policy.backoff(attempt);
                    Some(retry_after(response.headers()).map_or(backoff, |ra| ra.max(backoff)))
                }
                Err(err) if is_retryable_transport(err) => Some(policy.backoff(attempt)),
                _ => None,
            };
            let Some(wait) = wait else { return result };
            let out_of_time = started.elapsed() + wait > policy.max_elapsed;
            if !retryable || attempt >= policy.max_attempts || out_of_time {
                return result;
            }
            drop(result);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

/// A boxed future, the `IntoFuture` of every request builder.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An entity tag as a server sent it in `ETag` (RFC 9110 §8.8.3), strong
/// (`"7"`) or weak (`W/"7"`). Opaque: send it back as it came, in
/// `If-Match` or `If-None-Match`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ETag(String);

impl ETag {
    /// The tag as it goes on the wire, quotes included.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the tag is weak (`W/"..."`).
    pub fn is_weak(&self) -> bool {
        self.0.starts_with("W/")
    }
}

impl std::fmt::Display for ETag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for ETag {
    type Err = Error;

    /// Reads `"opaque"` or `W/"opaque"`: an `entity-tag` of RFC 9110
    /// §8.8.3, whose opaque part holds any visible byte but `"`.
    fn from_str(text: &str) -> Result<Self, Error> {
        let quoted = text.strip_prefix("W/").unwrap_or(text);
        let valid = quoted.len() >= 2
            && quoted.starts_with('"')
            && quoted.ends_with('"')
            && quoted.as_bytes()[1..quoted.len() - 1]
                .iter()
                .all(|&b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80);
        if valid {
            Ok(ETag(text.to_owned()))
        } else {
            Err(Error::InvalidRequest(format!(
                "{text:?} is not an entity tag (\"...\" or W/\"...\")"
            )))
        }
    }
}

impl serde::Serialize for ETag {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// Reads a tag saved as a string (quotes included), refusing one that is
/// not an entity tag.
impl<'de> serde::Deserialize<'de> for ETag {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A success response: the decoded body, with the status and the response
/// headers the operation declares (typed, in `H`). It dereferences to the
/// body.
#[derive(Debug, Clone, PartialEq)]
pub struct Response<T, H = NoHeaders> {
    status: reqwest::StatusCode,
    headers: H,
    value: T,
}

impl<T, H> Response<T, H> {
    /// The HTTP status.
    pub fn status(&self) -> reqwest::StatusCode {
        self.status
    }

    /// The declared response headers.
    pub fn headers(&self) -> &H {
        &self.headers
    }

    /// The body.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// The body and the headers.
    pub fn into_parts(self) -> (T, H) {
        (self.value, self.headers)
    }
}

impl<T, H> std::ops::Deref for Response<T, H> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T, H: HasETag> Response<T, H> {
    /// The `ETag` the response carries: send it back in `If-Match` or
    /// `If-None-Match`. A `&ETag` where the spec makes the header required,
    /// an `Option<&ETag>` where it may be absent.
    pub fn etag(&self) -> H::Tag<'_> {
        self.headers.etag()
    }
}

/// Response headers that include an `ETag`.
pub trait HasETag {
    /// `&ETag` when the spec makes the header required, else
    /// `Option<&ETag>`.
    type Tag<'a>
    where
        Self: 'a;

    /// The entity tag, as the spec promises it.
    fn etag(&self) -> Self::Tag<'_>;

    /// The entity tag, when the response has one, whatever the spec says.
    fn optional_etag(&self) -> Option<&ETag>;
}

/// Response headers read into a typed struct.
pub trait FromHeaders: Sized {
    /// Reads the headers; a declared header that does not parse is an
    /// [`Error::InvalidResponse`].
    fn from_headers(map: &header::HeaderMap) -> Result<Self, Error>;
}

/// The headers of an operation that declares none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoHeaders;

impl FromHeaders for NoHeaders {
    fn from_headers(_: &header::HeaderMap) -> Result<Self, Error> {
        Ok(NoHeaders)
    }
}

/// The value of the header `name`, when the response has it.
pub(crate) fn header<T>(map: &header::HeaderMap, name: &str) -> Result<Option<T>, Error>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let Some(value) = map.get(name) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| Error::InvalidResponse(format!("the {name} header is not text")))?;
    text.trim()
        .parse()
        .map(Some)
        .map_err(|e| Error::InvalidResponse(format!("the {name} header {text:?}: {e}")))
}

/// The value of the header `name`, which the response must have.
#[allow(dead_code)] // for specs that mark a response header required
pub(crate) fn required_header<T>(
    map: &header::HeaderMap,
    name: &str,
    spelled: &str,
) -> Result<T, Error>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    header(map, name)?.ok_or_else(|| {
        Error::InvalidResponse(format!(
            "the response has no {spelled} header, which the API promises"
        ))
    })
}

/// The answer to a conditional read.
#[derive(Debug, Clone, PartialEq)]
pub enum Conditional<T> {
    /// The resource changed since the tag sent in `If-None-Match`: here it is.
    Modified(T),
    /// The tag sent in `If-None-Match` is still current.
    NotModified,
}

/// A request body: the body type itself, a reference to one (cloned), or a
/// builder that checks what it was given when the request is made.
pub trait Body<T> {
    /// The body, or why it cannot be built.
    fn into_body(self) -> Result<T, Error>;
}

impl<T> Body<T> for T {
    fn into_body(self) -> Result<T, Error> {
        Ok(self)
    }
}

impl<T: Clone> Body<T> for &T {
    fn into_body(self) -> Result<T, Error> {
        Ok(self.clone())
    }
}

/// `value` as the parameter type `P`, or an error naming the parameter and
/// the rule it breaks.
pub(crate) fn convert<P, V>(value: V, name: &str) -> Result<P, Error>
where
    V: TryInto<P>,
    V::Error: std::fmt::Display,
{
    value
        .try_into()
        .map_err(|e| Error::InvalidRequest(format!("{name}: {e}")))
}

/// `value` when it lies within the bounds the spec gives the parameter
/// `name`.
#[allow(dead_code)] // used by generated code when the spec calls for it
pub(crate) fn bounded<V>(
    value: V,
    name: &str,
    min: Option<i128>,
    max: Option<i128>,
) -> Result<V, Error>
where
    V: Copy + Into<i128>,
{
    let n: i128 = value.into();
    if min.is_some_and(|min| n < min) {
        return Err(Error::InvalidRequest(format!(
            "{name}: {n} is less than the minimum {}",
            min.unwrap_or_default()
        )));
    }
    if max.is_some_and(|max| n > max) {
        return Err(Error::InvalidRequest(format!(
            "{name}: {n} is more than the maximum {}",
            max.unwrap_or_default()
        )));
    }
    Ok(value)
}

/// A generated call's success as a [`Response`]: not async, so the body is
/// moved as few times as it can be.
pub(crate) fn respond<T, H: FromHeaders>(
    value: progenitor_client::ResponseValue<T>,
) -> Result<Response<T, H>, Error> {
    Ok(Response {
        status: value.status(),
        headers: H::from_headers(value.headers())?,
        value: value.into_inner(),
    })
}

/// The success of an operation whose success statuses answer different
/// types: the body, read whole, decoded by `decode` according to the status.
#[allow(dead_code)] // used by generated code when the spec calls for it
pub(crate) async fn respond_by_status<T, H: FromHeaders>(
    value: progenitor_client::ResponseValue<progenitor_client::ByteStream>,
    decode: impl FnOnce(reqwest::StatusCode, &[u8]) -> Result<T, Error>,
) -> Result<Response<T, H>, Error> {
    use futures::TryStreamExt;
    let status = value.status();
    let headers = H::from_headers(value.headers())?;
    let bytes: Vec<u8> = value
        .into_inner()
        .into_inner()
        .map_ok(|chunk| chunk.to_vec())
        .try_concat()
        .await
        .map_err(Error::Transport)?;
    Ok(Response {
        status,
        headers,
        value: decode(status, &bytes)?,
    })
}

/// A JSON success body as `T`.
#[allow(dead_code)] // used by generated code when the spec calls for it
pub(crate) fn json<T: serde::de::DeserializeOwned>(
    status: reqwest::StatusCode,
    bytes: &[u8],
) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|err| {
        Error::InvalidResponse(format!(
            "{status}: {err}: {}",
            String::from_utf8_lossy(bytes)
        ))
    })
}

/// A conditional read's failure: `304` is [`Conditional::NotModified`], the
/// rest an [`Error`].
#[allow(dead_code)] // used by generated code when the spec calls for it
pub(crate) async fn not_modified_or<T, E: serde::Serialize>(
    err: progenitor_client::Error<E>,
) -> Result<Conditional<T>, Error> {
    match err {
        progenitor_client::Error::UnexpectedResponse(response)
            if response.status() == reqwest::StatusCode::NOT_MODIFIED =>
        {
            Ok(Conditional::NotModified)
        }
        other => Err(Error::from_progenitor(other).await),
    }
}

/// Every item of every page: `fetch` sends a request and answers its items
/// and the next cursor; `next` sets the cursor on a copy of the first
/// request. (Used by the generated `stream()` of paginated operations; a
/// spec may have none.)
#[allow(dead_code)]
pub(crate) fn pages<'a, B, I, F, Fut, N>(first: Result<B, Error>, fetch: F, next: N) -> Pages<'a, I>
where
    B: Clone + Send + 'a,
    I: Send + 'a,
    F: Fn(B) -> Fut + Send + 'a,
    Fut: Future<Output = Result<(Vec<I>, Option<String>), Error>> + Send + 'a,
    N: Fn(B, String) -> Result<B, Error> + Send + 'a,
{
    use futures::StreamExt;
    use std::collections::VecDeque;
    // State: the next request to send (None after the last page), and the
    // items of the current page.
    struct State<B, I, F, N> {
        request: Option<B>,
        base: B,
        items: VecDeque<I>,
        fetch: F,
        next: N,
    }
    let state = first.map(|base| State {
        request: Some(base.clone()),
        base,
        items: VecDeque::new(),
        fetch,
        next,
    });
    futures::stream::try_unfold(Some(state), |state| async move {
        let mut state = match state {
            None => return Ok(None),
            Some(Err(err)) => return Err(err),
            Some(Ok(state)) => state,
        };
        loop {
            if let Some(item) = state.items.pop_front() {
                return Ok(Some((item, Some(Ok(state)))));
            }
            let Some(request) = state.request.take() else {
                return Ok(None);
            };
            let (items, cursor) = (state.fetch)(request).await?;
            state.items.extend(items);
            if let Some(cursor) = cursor {
                state.request = Some((state.next)(state.base.clone(), cursor)?);
            }
        }
    })
    .boxed()
}

/// The items of every page of a paginated operation, one page fetched at a
/// time: what its `stream()` answers. Boxed, so it is `Unpin` and can be
/// looped over as it is returned:
/// `while let Some(item) = stream.try_next().await? { .. }`.
pub type Pages<'a, T> = futures::stream::BoxStream<'a, Result<T, Error>>;

/// The JSON Schema of a three-state member: `T` or `null` (OpenAPI 3.0
/// `nullable`). Only for `schemars`; the value is an `Option<Option<T>>`.
/// (Used by the generated merge-patch types; a spec may have none.)
#[cfg(feature = "schemars")]
#[allow(dead_code)]
pub(crate) struct Nullable<T>(std::marker::PhantomData<T>);

#[cfg(feature = "schemars")]
impl<T: schemars::JsonSchema> schemars::JsonSchema for Nullable<T> {
    fn schema_name() -> String {
        format!("Nullable_{}", T::schema_name())
    }

    fn is_referenceable() -> bool {
        false
    }

    fn json_schema(generator: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
        use schemars::schema::{Schema, SchemaObject, SubschemaValidation};
        let inner = generator.subschema_for::<T>();
        let mut object = match inner {
            Schema::Object(object) if !object.is_ref() => object,
            other => SchemaObject {
                subschemas: Some(Box::new(SubschemaValidation {
                    all_of: Some(vec![other]),
                    ..SubschemaValidation::default()
                })),
                ..SchemaObject::default()
            },
        };
        object
            .extensions
            .insert("nullable".to_owned(), serde_json::Value::Bool(true));
        Schema::Object(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What an operation with a body on 200 and none on 204 answers.
    #[derive(Debug, PartialEq)]
    enum Answer {
        Ok(Vec<u32>),
        NoContent,
    }

    async fn answer(status: u16, body: &'static str) -> Result<Answer, Error> {
        let response = http::Response::builder().status(status).body(body).unwrap();
        let value = progenitor_client::ResponseValue::stream(reqwest::Response::from(response));
        let decoded: Response<Answer> =
            respond_by_status(value, |status, bytes| match status.as_u16() {
                200 => Ok(Answer::Ok(json(status, bytes)?)),
                204 => Ok(Answer::NoContent),
                _ => Err(Error::UnexpectedResponse {
                    status,
                    body: String::from_utf8_lossy(bytes).into_owned(),
                }),
            })
            .await?;
        Ok(decoded.value)
    }

    #[tokio::test]
    async fn several_success_types_are_decoded_by_status() {
        assert_eq!(answer(200, "[1,2]").await.unwrap(), Answer::Ok(vec![1, 2]));
        assert_eq!(answer(204, "").await.unwrap(), Answer::NoContent);
        assert!(matches!(
            answer(200, "{\"not\": \"a list\"}").await,
            Err(Error::InvalidResponse(message)) if message.contains("not")
        ));
        assert!(matches!(
            answer(202, "later").await,
            Err(Error::UnexpectedResponse { status, .. }) if status.as_u16() == 202
        ));
    }

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(800),
            max_elapsed: Duration::from_secs(60),
        };
        for retry in 1..=10 {
            let limit = Duration::from_millis(100 * (1 << (retry - 1).min(3)));
            for _ in 0..50 {
                assert!(policy.backoff(retry) <= limit, "retry {retry}");
            }
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = header::HeaderMap::new();
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from_str(&httpdate::fmt_http_date(later)).unwrap(),
        );
        let wait = retry_after(&headers).unwrap();
        assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120));
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn entity_tags_are_read_as_rfc_9110_writes_them() {
        let strong: ETag = "\"7\"".parse().unwrap();
        assert_eq!(strong.as_str(), "\"7\"");
        assert!(!strong.is_weak());
        let weak: ETag = "W/\"a-b\"".parse().unwrap();
        assert!(weak.is_weak());
        for bad in ["7", "\"7", "\"a\"b\"", "W/7", "\"\u{1}\"", ""] {
            assert!(bad.parse::<ETag>().is_err(), "{bad:?} is not an entity tag");
        }
    }

    #[test]
    fn parameter_values_are_checked_with_their_name_and_rule() {
        assert_eq!(bounded(5u32, "limit", Some(1), Some(100)).unwrap(), 5);
        let low = bounded(0u32, "limit", Some(1), Some(100)).unwrap_err();
        assert_eq!(
            low.to_string(),
            "invalid request: limit: 0 is less than the minimum 1"
        );
        let high = bounded(101u32, "limit", Some(1), Some(100)).unwrap_err();
        assert!(high
            .to_string()
            .contains("limit: 101 is more than the maximum 100"));
        let converted: Result<std::num::NonZeroU32, _> = convert(0u32, "limit");
        assert!(converted.unwrap_err().to_string().contains("limit: "));
    }

    #[test]
    fn declared_headers_are_read_typed_and_a_bad_one_is_an_error() {
        let mut headers = header::HeaderMap::new();
        headers.insert("etag", HeaderValue::from_static("\"3\""));
        headers.insert("retry-after", HeaderValue::from_static("soon"));
        let tag: Option<ETag> = header(&headers, "etag").unwrap();
        assert_eq!(tag.unwrap().as_str(), "\"3\"");
        assert!(header::<i64>(&headers, "retry-after").is_err());
        assert_eq!(header::<i64>(&headers, "x-absent").unwrap(), None);
        assert!(required_header::<i64>(&headers, "x-absent", "X-Absent").is_err());
    }

    #[test]
    fn retryable_statuses() {
        for code in [408, 429, 502, 503, 504] {
            assert!(is_retryable_status(
                reqwest::StatusCode::from_u16(code).unwrap()
            ));
        }
        for code in [200, 400, 401, 404, 409, 412, 500, 501] {
            assert!(!is_retryable_status(
                reqwest::StatusCode::from_u16(code).unwrap()
            ));
        }
    }
}
